"""Shared fixtures: a small project to build (the real templates, demos and macros; fixture chapters)."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Project:
    root: Path

    @property
    def site(self) -> Path:
        return self.root / "site"

    def build(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "build.py"), "--project", str(self.root),
                               "--no-search", *args], capture_output=True, text=True, check=False)

    def edit(self, rel: str, old: str, new: str) -> None:
        p = self.root / rel
        text = p.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {rel}"
        p.write_text(text.replace(old, new, 1), encoding="utf-8")

    def line_of(self, rel: str, needle: str) -> int:
        for i, line in enumerate((self.root / rel).read_text(encoding="utf-8").split("\n"), 1):
            if needle in line:
                return i
        raise AssertionError(f"{needle!r} not in {rel}")

    def snapshot(self) -> dict[str, str]:
        return {p.relative_to(self.site).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(self.site.rglob("*")) if p.is_file()}


def make_project(tmp: Path) -> Project:
    """A copy of the mini fixture site with the real templates (copied: tests may break them) and
    links to the real demos/, node_modules/ and the macros."""
    shutil.copytree(FIXTURES / "mini", tmp, dirs_exist_ok=True)
    shutil.copytree(ROOT / "templates", tmp / "templates")
    shutil.copy2(ROOT / "MATH_CONVENTIONS.md", tmp / "MATH_CONVENTIONS.md")
    for name in ("demos", "node_modules"):
        os.symlink(ROOT / name, tmp / name)
    return Project(tmp)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj")


@pytest.fixture
def built(project: Project) -> Project:
    r = project.build()
    assert r.returncode == 0, r.stderr
    return project


# ---------------------------------------------------------------------------- the real site, built once

def _build_real_site(out: Path) -> Path:
    r = subprocess.run([sys.executable, str(ROOT / "build.py"), "--out", str(out), "--pyodide", "local"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, f"the real site does not build:\n{r.stderr}"
    return out


@pytest.fixture(scope="session")
def real_site(tmp_path_factory) -> Path:
    """The project's own site, built once per test process with self-hosted Pyodide and the search index."""
    return _build_real_site(tmp_path_factory.mktemp("real") / "site")


@dataclass
class Served:
    root: Path
    url: str          # http://127.0.0.1:PORT/


@pytest.fixture(scope="session")
def served_site(real_site: Path):
    """The real site served on 127.0.0.1 (a plain static server, like any static host)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Handler(SimpleHTTPRequestHandler):
        extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                          ".js": "text/javascript", ".wasm": "application/wasm"}

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(real_site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Served(real_site, f"http://127.0.0.1:{server.server_address[1]}/")
    server.shutdown()


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    for p in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
              shutil.which("chromium-browser")):
        if p and Path(p).exists():
            return p
    pytest.fail("Chromium is not installed: run scripts/setup.sh --test (make test does)")


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (its own browser download does not work here)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


# Property tests must not fail because a loaded 2-core machine ran one example slowly: no per-example deadline.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("project", deadline=None)
_hypothesis_settings.load_profile("project")
