#!/usr/bin/env python3
"""Every figure of the project in one table: `python bench/run.py` (or `make bench`).

Each bench module has `main(quiet=False) -> list[Row]`; a row is (name, value, unit, target, ok) where target is a
human-readable goal ("<= 4 ms") and ok is True/False/None (None: informational). Results are also written to
bench/results/latest.json with the date and machine, for the README's Quality section."""
from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "demos")]
MODULES = ["bench_core", "bench_build", "bench_browser", "bench_quality", "bench_tinygpt"]


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> int:
    rows, failed = [], []
    for name in MODULES:
        if not (HERE / f"{name}.py").exists():
            continue
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(name)
            got = mod.main(quiet=True) if "quiet" in mod.main.__code__.co_varnames else mod.main()
            rows += [(name, *tuple(r)[:5], *([None] * (5 - len(tuple(r))))) for r in got]   # ok may be absent
        except Exception as e:  # one broken bench must not hide the others' figures
            failed.append(f"{name}: {type(e).__name__}: {e}")
        print(f"# {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    w = max((len(str(r[1])) for r in rows), default=10)
    print(f"{'bench':<14} {'figure':<{w}} {'value':>12} {'unit':<8} {'target':<14} ok")
    for bench, name, value, unit, target, ok in rows:
        v = f"{value:.4g}" if isinstance(value, float) else str(value)
        mark = {True: "yes", False: "NO", None: "-"}[ok]
        print(f"{bench:<14} {name:<{w}} {v:>12} {unit:<8} {target or '':<14} {mark}")
    for f in failed:
        print(f"FAILED {f}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(),
                                                 "rows": rows, "failed": failed}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
