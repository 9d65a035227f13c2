"""Shared fixtures: a small project to build (the real templates, demos and macros; fixture chapters)."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import ROOT, build_site, launch_chromium, run_build, served

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Project:
    root: Path

    @property
    def site(self) -> Path:
        return self.root / "site"

    def build(self, *args: str) -> subprocess.CompletedProcess:
        return run_build("--no-search", *args, project=self.root)

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

@pytest.fixture(scope="session")
def real_site(tmp_path_factory) -> Path:
    """The project's own site, built once per test process with self-hosted Pyodide and the search index."""
    return build_site(tmp_path_factory.mktemp("real") / "site", "--pyodide", "local")


@pytest.fixture(scope="session")
def served_site(real_site: Path):
    """The real site served on 127.0.0.1 (a plain static server, like any static host): `.url`, `.root`."""
    with served(real_site) as s:
        yield s


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (one per test process: two sync Playwright instances in
    one process fail with "Sync API inside the asyncio loop")."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


# Property tests must not fail because a loaded 2-core machine ran one example slowly: no per-example deadline.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("project", deadline=None)
_hypothesis_settings.load_profile("project")
