"""Warm start from a Pyodide memory snapshot and numpy's installed files (templates/assets/demos/worker.mjs), in
headless Chromium against the real site with self-hosted Pyodide on http://127.0.0.1 (a secure context, so the
origin private file system exists).

The first visit loads plainly and, once live, a short-lived second worker stores a snapshot of the bare
interpreter and numpy's files, installed and compiled, in the origin private file system (OPFS: one directory,
one file per entry, the payload followed by its 8-byte checksum, tests/entry_checksum.py); a reload restores both.
A missing snapshot and a corrupt one (garbage bytes, with or without a matching checksum) must both end in a plain
load; so must corrupt package files. Every path ends live with CPython's numbers and without a console error."""
from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest

from demos import grpo_core
from entry_checksum import checksum as entry_checksum
from support import chapters_with_demos, wait_live, watch

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("demos_browser")]

STORE_DIR = "pyodide-demos"         # the worker's OPFS directory; entries are named "<kind>-<version>-<id>.v2":
SNAPSHOT = "snapshot"               # the memory snapshot,
PACKAGES = "packages"               # numpy's installed, compiled files
OLD_CACHES = ["pyodide-snapshot", "pyodide-packages"]     # where earlier builds kept them (Cache Storage)
WAIT_S = 60.0


def open_chapter(w, served) -> None:
    w.page.goto(served.url + chapters_with_demos(served.root)[0])


def marks(page) -> set[str]:
    return set(page.evaluate("() => performance.getEntriesByType('mark').map((m) => m.name)"))


def wait_mark(page, name: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.time() + timeout_s
    while name not in marks(page):
        if time.time() > deadline:
            raise AssertionError(f"no performance mark {name!r}; marks: {sorted(marks(page))}")
        page.wait_for_timeout(100)


READ_ENTRIES = """async ([dirName, kind]) => {
    let dir;
    try {
        dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(dirName);
    } catch {
        return [];
    }
    const out = [];
    for await (const [name, handle] of dir.entries()) {
        if (!name.startsWith(kind + '-')) continue;
        const bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
        const sum = [...bytes.subarray(bytes.length - 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
        out.push({ name, size: bytes.length - 8, checksum: sum });
    }
    return out;
}"""


def cache_entries(page, kind: str = SNAPSHOT) -> list[dict]:
    """The worker's stored entries of one kind as the page sees them (same origin): [{name, size, checksum}], size
    of the payload and the checksum stored after it (hex)."""
    return page.evaluate(READ_ENTRIES, [STORE_DIR, kind])


def overwrite_entry(page, name: str, garbage: bytes, checksum: str) -> None:
    """Replace an entry's file with `garbage` followed by the checksum `checksum` (hex)."""
    page.evaluate("""async ([dirName, name, bytes]) => {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(dirName);
        const out = await (await dir.getFileHandle(name)).createWritable();
        await out.write(new Uint8Array(bytes));
        await out.close();
    }""", [STORE_DIR, name, list(garbage + bytes.fromhex(checksum))])


def runtime_label(page) -> str:
    return page.evaluate("""() => document.querySelector('figure.demo .demo-stages [data-stage="runtime"]').textContent""")


def moved_slider_matches_cpython(page) -> list[float]:
    """Move one reward slider and wait until the figure shows CPython's advantages for the shown rewards
    (an answer to an earlier input may land first: the newest input's answer follows)."""
    fig = 'figure[data-demo="group-advantage"]'
    before = page.evaluate(f"() => [...document.querySelectorAll('{fig} [data-advantage]')].map((e) => Number(e.dataset.advantage))")
    page.evaluate(f"""() => {{
        const s = document.querySelectorAll('{fig} .ga-slider')[3];
        s.value = String(Number(s.value) > 0.5 ? 0.15 : 0.85);
        s.dispatchEvent(new Event('input', {{ bubbles: true }}));
    }}""")
    deadline = time.time() + 20
    while True:
        rewards, shown = page.evaluate(f"""() => [
            [...document.querySelectorAll('{fig} .ga-slider')].map((s) => Number(s.value)),
            [...document.querySelectorAll('{fig} [data-advantage]')].map((e) => Number(e.dataset.advantage))]""")
        expected = grpo_core.group_advantages(np.array([rewards]))[0]
        if np.allclose(shown, expected, rtol=0, atol=1e-9):
            break
        assert time.time() < deadline, f"advantages {shown} != CPython's {expected.tolist()} for rewards {rewards}"
        page.wait_for_timeout(50)
    assert not np.allclose(shown, before)                # Python answered the move: the numbers changed
    return rewards


@pytest.fixture
def fresh(browser, served_site):
    """A fresh browser context (empty Cache Storage) on the chapter with demos."""
    w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
    yield w
    w.close()


def first_visit(w, served) -> dict:
    """Missing snapshot: a plain load, then the snapshot worker stores one. Returns the stored entry."""
    open_chapter(w, served)
    wait_live(w.page)
    seen = marks(w.page)
    assert {"demo-snapshot-wanted", "demo-packages-wanted"} <= seen
    assert not {"demo-snapshot-restored", "demo-packages-restored"} & seen
    assert runtime_label(w.page) == "Python runtime"
    moved_slider_matches_cpython(w.page)
    wait_mark(w.page, "demo-snapshot-stored")
    wait_mark(w.page, "demo-packages-stored")
    [entry] = cache_entries(w.page)
    assert entry["name"].startswith("snapshot-0.27.") and entry["name"].endswith(".v2")
    assert entry["size"] > 1_000_000                    # a whole interpreter heap (about 21 MB), not a stub
    return entry


def test_missing_snapshot_then_hit(fresh, served_site):
    entry = first_visit(fresh, served_site)
    fresh.page.reload()
    if not fresh.page.locator('script[src*="assets/demos/demos.js"]').count():
        open_chapter(fresh, served_site)
    wait_live(fresh.page)
    seen = marks(fresh.page)
    assert {"demo-snapshot-restored", "demo-packages-restored"} <= seen
    assert not {"demo-snapshot-dropped", "demo-snapshot-wanted", "demo-packages-dropped", "demo-packages-wanted"} & seen
    assert runtime_label(fresh.page) == "Python runtime (from cache)"
    moved_slider_matches_cpython(fresh.page)
    assert cache_entries(fresh.page) == [entry]         # restored, not rewritten
    assert fresh.console == [] and fresh.csp_violations() == []


def test_the_entries_of_earlier_builds_are_deleted(fresh, served_site):
    """Earlier builds kept the snapshot and numpy's files (about 38 MB) in Cache Storage, then in OPFS files named
    without the format (and a SHA-256 after the payload): the helper that stores the new entries deletes the caches,
    so a returning reader's browser does not keep two copies, and a worker deletes an old-format file of its own
    build without reading it (not "dropped" as corrupt: the new entries are restored beside it)."""
    open_chapter(fresh, served_site)
    fresh.page.evaluate("""async (names) => {
        for (const name of names) await (await caches.open(name)).put('/old-entry', new Response(new Uint8Array(4096)));
    }""", OLD_CACHES)
    assert set(OLD_CACHES) <= set(fresh.page.evaluate("() => caches.keys()"))
    first_visit(fresh, served_site)
    assert not set(OLD_CACHES) & set(fresh.page.evaluate("() => caches.keys()"))
    new = {e["name"] for kind in (SNAPSHOT, PACKAGES) for e in cache_entries(fresh.page, kind)}
    old = {name.removesuffix(".v2") for name in new}
    assert len(old) == 2 and not old & new
    fresh.page.evaluate("""async ([dirName, names]) => {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(dirName);
        for (const name of names) {
            const out = await (await dir.getFileHandle(name, { create: true })).createWritable();
            await out.write(new Uint8Array(4096 + 32));
            await out.close();
        }
    }""", [STORE_DIR, sorted(old)])
    assert {e["name"] for kind in (SNAPSHOT, PACKAGES) for e in cache_entries(fresh.page, kind)} == old | new
    fresh.page.reload()
    wait_live(fresh.page)
    seen = marks(fresh.page)
    assert {"demo-snapshot-restored", "demo-packages-restored"} <= seen
    assert not {"demo-snapshot-dropped", "demo-packages-dropped"} & seen
    assert {e["name"] for kind in (SNAPSHOT, PACKAGES) for e in cache_entries(fresh.page, kind)} == new
    assert fresh.console == [] and fresh.csp_violations() == []


@pytest.mark.parametrize("checksum", ["stale", "matching"])
def test_corrupt_snapshot_falls_back_to_a_plain_load(fresh, served_site, checksum):
    """Garbage with a stale checksum is caught before Pyodide sees it: dropped, a plain load, a good snapshot
    stored again. Garbage whose checksum matches reaches Pyodide's restore, which fails: dropped, and the runtime
    restarts in a fresh worker that neither reads nor makes one (the next visit makes it). Both end live."""
    entry = first_visit(fresh, served_site)
    garbage = bytes(range(256)) * 4096 + b"tail"          # 1 MiB that is not a heap; not whole 8-byte blocks
    stored = entry_checksum(garbage).hex() if checksum == "matching" else entry["checksum"]
    overwrite_entry(fresh.page, entry["name"], garbage, stored)
    fresh.page.reload()
    if not fresh.page.locator('script[src*="assets/demos/demos.js"]').count():
        open_chapter(fresh, served_site)
    wait_live(fresh.page)
    seen = marks(fresh.page)
    assert "demo-snapshot-dropped" in seen and "demo-snapshot-restored" not in seen
    assert runtime_label(fresh.page) == "Python runtime"
    # caught by the checksum, the same worker goes on and restores numpy's files; caught by Pyodide, a fresh worker
    # reads neither entry (so the worker's checksum and tests/entry_checksum.py agree on the matching garbage)
    assert ("demo-packages-restored" in seen) == (checksum == "stale")
    moved_slider_matches_cpython(fresh.page)
    if checksum == "stale":
        wait_mark(fresh.page, "demo-snapshot-stored")    # the snapshot worker made a good one again
        [again] = cache_entries(fresh.page)
        assert again["size"] == entry["size"] and again["checksum"] != entry_checksum(garbage).hex()
    else:
        assert cache_entries(fresh.page) == []
    assert fresh.console == [] and fresh.csp_violations() == []


READ_PACKAGES = """async ([dirName, kind]) => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(dirName);
    let name = null;
    for await (const key of dir.keys()) if (key.startsWith(kind + '-')) name = key;
    const file = new Uint8Array(await (await (await dir.getFileHandle(name)).getFile()).arrayBuffer());
    const blob = file.subarray(0, file.length - 8);
    const n = new DataView(blob.buffer).getUint32(0, true);
    const index = JSON.parse(new TextDecoder().decode(blob.subarray(4, 4 + n)));
    let at = 4 + n;
    const out = {};
    for (const [path, size] of index) {
        const data = blob.subarray(at, at + size);
        at += size;
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
        out[path] = { size, sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join(''),
                      head: [...data.subarray(0, 16)] };
    }
    return { name, files: out, total: blob.length, end: at };
}"""


def test_stored_packages_are_the_wheel_installed_and_compiled(fresh, served_site):
    """What the helper stores for numpy is exactly the wheel's files, each as the wheel has it, plus one compiled
    module per .py: an unchecked-hash .pyc (flags 1: a later visit rewrites the sources, so their mtimes never
    match) for Pyodide's Python (the magic of 3.12, not of this CPython)."""
    import importlib.util
    import zipfile
    first_visit(fresh, served_site)
    got = fresh.page.evaluate(READ_PACKAGES, [STORE_DIR, PACKAGES])
    assert got["end"] == got["total"] and got["name"].startswith("packages-0.27.")
    [wheel] = (served_site.root / "pyodide").glob("numpy-*.whl")
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() in got["name"]    # keyed by the wheel it came from
    site = "/lib/python3.12/site-packages/"
    with zipfile.ZipFile(wheel) as z:
        wheel_files = {site + i.filename: hashlib.sha256(z.read(i)).hexdigest() for i in z.infolist() if not i.is_dir()}
    stored = got["files"]
    assert {p: stored[p]["sha256"] for p in wheel_files if p in stored} == wheel_files   # every file, same bytes
    compiled = {p for p in stored if p.endswith(".pyc")}
    assert set(stored) == set(wheel_files) | compiled                                  # and nothing else
    sources = [p for p in wheel_files if p.endswith(".py")]
    assert len(sources) > 100 and len(compiled) == len(sources)
    magic_312 = (3531).to_bytes(2, "little") + b"\r\n"                               # CPython 3.12's pyc magic
    assert importlib.util.MAGIC_NUMBER != magic_312                                    # (this is not 3.12)
    for src in sources:
        d, name = src.rsplit("/", 1)
        head = bytes(stored[f"{d}/__pycache__/{name[:-3]}.cpython-312.pyc"]["head"])
        assert head[:4] == magic_312 and int.from_bytes(head[4:8], "little") == 1, src


@pytest.mark.parametrize("checksum", ["stale", "matching"])
def test_corrupt_packages_fall_back_to_the_wheel(fresh, served_site, checksum):
    """Garbage in place of numpy's stored files, with a stale checksum (caught by the checksum) or a matching one
    (caught by the blob's own index): dropped, numpy installed from its wheel, live with CPython's numbers; the
    snapshot is still restored. The helper stores good files again."""
    first_visit(fresh, served_site)
    [entry] = cache_entries(fresh.page, PACKAGES)
    garbage = bytes(range(256)) * 64
    stored = entry_checksum(garbage).hex() if checksum == "matching" else entry["checksum"]
    overwrite_entry(fresh.page, entry["name"], garbage, stored)
    fresh.page.reload()
    wait_live(fresh.page)
    seen = marks(fresh.page)
    assert {"demo-packages-dropped", "demo-snapshot-restored"} <= seen and "demo-packages-restored" not in seen
    moved_slider_matches_cpython(fresh.page)
    wait_mark(fresh.page, "demo-packages-stored")
    [again] = cache_entries(fresh.page, PACKAGES)
    assert again["size"] > 1_000_000 and again["checksum"] != entry_checksum(garbage).hex()
    assert fresh.console == [] and fresh.csp_violations() == []


def test_insecure_context_has_no_cache_storage_and_loads_plainly(browser, served_site):
    """On an insecure http:// origin (not 127.0.0.1 or localhost) there is no origin private file system (and no
    crypto.subtle): no snapshot, no error, still live."""
    from support import CHROMIUM_ARGS, chromium_path
    port = served_site.url.rsplit(":", 1)[1].strip("/")
    url = f"http://insecure.test:{port}/"
    other = browser.browser_type.launch(executable_path=chromium_path(),
                                        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP insecure.test 127.0.0.1"])
    try:
        w = watch(other, url, viewport={"width": 1280, "height": 900})
        w.page.goto(url + chapters_with_demos(served_site.root)[0])
        assert w.page.evaluate("() => [window.isSecureContext, typeof navigator.storage]") == [False, "undefined"]
        wait_live(w.page)
        w.page.wait_for_timeout(6000)                    # past the moment a snapshot worker would start
        assert not {f"demo-{k}-{e}" for k in ("snapshot", "packages")
                    for e in ("wanted", "stored", "restored", "dropped")} & marks(w.page)
        moved_slider_matches_cpython(w.page)
        assert w.console == [] and w.csp_violations() == []
    finally:
        other.close()
