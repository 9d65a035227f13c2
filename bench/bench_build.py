"""Build time of the site, cold and warm.

    .venv/bin/python bench/bench_build.py

The project (content/, templates/, demos/, examples/, connections.yaml, MATH_CONVENTIONS.md) is copied into a temporary
directory, so "cold" really starts without the build's figure cache (.cache/figures-*.json) and without an
output directory; the verified Pyodide cache (.cache/pyodide-0.27.7, assembled once per machine) is shared.
  * cold: the first `python build.py` (cdn mode, with the Pagefind index), a fresh process;
  * warm: the same command again (figures cached, output swapped atomically), as `serve` does on every save;
  * local: `--pyodide local` warm (copies the 17 MB self-hosted runtime into the site).
Each is a fresh Python process, as a reader of the README would run it; the median of WARM_RUNS is reported.
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import run_build  # noqa: E402

COPY = ["content", "templates", "demos", "examples", "connections.yaml", "MATH_CONVENTIONS.md"]   # examples: chapters include them
WARM_RUNS = 3


def make_copy(dest: Path) -> Path:
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    os.symlink(ROOT / "node_modules", dest / "node_modules")
    return dest


def build(project: Path, *args: str) -> float:
    t0 = time.perf_counter()
    r = run_build(*args, project=project)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"build failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return dt


def main(quiet: bool = False) -> list[tuple]:
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        project = make_copy(Path(tmp) / "proj")
        out = Path(tmp) / "site"
        cold = build(project, "--out", str(out))
        warm = statistics.median(build(project, "--out", str(out)) for _ in range(WARM_RUNS))
        local = statistics.median(build(project, "--out", str(Path(tmp) / "site-local"), "--pyodide", "local")
                                  for _ in range(2))
        pages = len([p for p in out.rglob("*.html") if "pagefind" not in p.parts])
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    rows = [
        ("build cold (cdn + search, fresh project copy)", round(cold, 2), "s", "<= 30 s", cold <= 30),
        ("build warm (same command again)", round(warm, 2), "s", "<= 10 s", warm <= 10),
        ("build warm --pyodide local", round(local, 2), "s", "<= 15 s", local <= 15),
        ("pages built", pages, "pages", None, None),
        ("site size (cdn mode, with search index)", round(size / 1e6, 2), "MB", None, None),
    ]
    if not quiet:
        for r in rows:
            print(f"{r[0]:<50} {r[1]:>8} {r[2]:<6} {r[3] or '':<10} {'' if r[4] is None else ('ok' if r[4] else 'MISSED')}")
    return rows


if __name__ == "__main__":
    main()
