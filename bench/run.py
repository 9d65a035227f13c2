#!/usr/bin/env python3
"""Every figure of the project in one table: `python bench/run.py` (or `make bench`).

Each bench module has `main(quiet=False) -> list[Row]`; a row is (name, value, unit, target, ok[, load]) where target
is a human-readable goal ("<= 4 ms"), ok is True/False/None (None: informational) and load the machine's 1-minute
load average when the figure was measured (else the load when the module finished): timings on a loaded machine
are not the code's. Results are also written to bench/results/latest.json with the date and machine, for the
README's Quality section."""
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


def host_speed() -> float:
    """ms for a fixed pure-Python loop (median of 3). A virtual machine's CPU can be slower from one hour to the
    next (other guests on the host), which the load average does not show: this figure, taken before and after
    the benches, says how fast the machine was while they ran."""
    def once() -> float:
        t0 = time.perf_counter()
        s = 0
        for i in range(3_000_000):
            s += i
        return (time.perf_counter() - t0) * 1000
    return round(sorted(once() for _ in range(3))[1], 1)


def main() -> int:
    rows, failed = [], []
    before = host_speed()
    for name in MODULES:
        if not (HERE / f"{name}.py").exists():
            continue
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(name)
            got = mod.main(quiet=True) if "quiet" in mod.main.__code__.co_varnames else mod.main()
            load = round(os.getloadavg()[0], 2)
            for r in got:
                r = (*tuple(r)[:6], *([None] * (6 - len(tuple(r)))))       # ok and load may be absent
                rows.append((name, *r[:5], r[5] if r[5] is not None else load))
        except Exception as e:  # one broken bench must not hide the others' figures
            failed.append(f"{name}: {type(e).__name__}: {e}")
        print(f"# {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    load = round(os.getloadavg()[0], 2)
    rows.append(("machine", "host speed: a fixed Python loop, before / after the benches", f"{before} / {host_speed()}",
                 "ms", None, None, load))
    w = max((len(str(r[1])) for r in rows), default=10)
    print(f"# {os.cpu_count()} cores; load average now {', '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
    print(f"{'bench':<14} {'figure':<{w}} {'value':>12} {'unit':<8} {'target':<14} {'ok':<4} load")
    for bench, name, value, unit, target, ok, load in rows:
        v = f"{value:.4g}" if isinstance(value, float) else str(value)
        mark = {True: "yes", False: "NO", None: "-"}[ok]
        print(f"{bench:<14} {name:<{w}} {v:>12} {unit:<8} {target or '':<14} {mark:<4} {load}")
    for f in failed:
        print(f"FAILED {f}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(),
                                                 "rows": rows, "failed": failed}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
