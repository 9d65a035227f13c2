"""The tiny GPT's GRPO training speed: CPython, Pyodide under Node, and the live demo in headless Chromium.

    .venv/bin/python bench/bench_tinygpt.py

Rows: default GRPO steps per second (B x G = 32 completions, demos/tinygpt.py DEFAULTS) in CPython and in Pyodide
0.27.7 under Node (the same numpy wheel the site ships, no BLAS), and in Chromium: steps per second while the
demo plays at its fastest speed, and the wall time from pressing Play to 90 % held-out accuracy.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STEPS = 60
TARGET = ">= 20"

NODE_JS = """
const [indexURL, demos, steps] = process.argv.slice(2);
const { loadPyodide } = await import(process.cwd() + "/node_modules/pyodide/pyodide.mjs");
const fs = await import("fs");
const py = await loadPyodide({ indexURL });
await py.loadPackage("numpy", { messageCallback: () => {} });
py.FS.mkdir("/demos");
for (const f of ["grpo_core.py", "tinygpt.py", "tinygpt_ref.npz"]) py.FS.writeFile("/demos/" + f, fs.readFileSync(demos + "/" + f));
py.runPython("import sys; sys.path.insert(0, '/')");
console.log(py.runPython(`
import json, time, numpy as np
from demos import tinygpt as g
print(json.dumps(dict(g.bench_steps(${steps}))))
`) ?? "");
"""


def cpython_steps_per_s(steps: int = STEPS) -> float:
    from demos import tinygpt as g
    return g.bench_steps(steps)["steps_per_s"]


def pyodide_steps_per_s(steps: int = STEPS) -> float | None:
    index = ROOT / ".cache" / "pyodide-0.27.7"
    if not (index / "pyodide.asm.wasm").exists() or not (ROOT / "node_modules" / "pyodide").exists():
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".mjs", dir=ROOT, delete=False) as f:
        f.write(NODE_JS)
    try:
        out = subprocess.run(["node", f.name, str(index) + "/", str(ROOT / "demos"), str(steps)], cwd=ROOT,
                             capture_output=True, text=True, check=True, timeout=600).stdout
    finally:
        os.unlink(f.name)
    return json.loads([l for l in out.splitlines() if l.startswith("{")][-1])["steps_per_s"]


PLAY_JS = """async (seconds) => {
  const f = document.querySelector('figure[data-demo="tiny-gpt"]');
  const t0 = performance.now(), s0 = Number(f.dataset.step);
  f.querySelector('.tg-play').click();
  let reached = null;
  while (performance.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 50));
    if (reached === null && Number(f.dataset.accuracy) >= 0.9) reached = performance.now() - t0;
  }
  f.querySelector('.tg-play').click();
  return { steps: (Number(f.dataset.step) - s0) / seconds, reached, step: Number(f.dataset.step) };
}"""


def chromium_rows() -> list[tuple]:
    from playwright.sync_api import sync_playwright

    from tests.support import build_site, chapters_with_demos, launch_chromium, serve_site, wait_live

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        site = build_site(Path(tmp) / "site", "--pyodide", "local", "--no-search")
        served = serve_site(site)
        url = served.url
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            chapter = next(c for c in chapters_with_demos(site) if "tiny-gpt" in (site / c / "index.html").read_text())
            page.goto(url + chapter + "#demo-tiny-gpt")
            wait_live(page)
            fig = page.locator('figure[data-demo="tiny-gpt"]')
            while int(fig.get_attribute("data-renders") or 0) < 1:     # the first run has started
                time.sleep(0.1)
            got = page.evaluate(PLAY_JS, 40)
        finally:
            browser.close()
            served.stop()
    return [("Chromium: GRPO steps/s while playing (fastest)", round(got["steps"], 1), "steps/s", TARGET,
             got["steps"] >= 20),
            ("Chromium: Play -> 90 % held-out accuracy", None if got["reached"] is None else round(got["reached"] / 1000, 1),
             "s", "<= 30", got["reached"] is not None and got["reached"] <= 30_000)]


def main(quiet: bool = False) -> list[tuple]:
    rows = [("CPython: GRPO steps/s (B x G = 32)", round(cpython_steps_per_s(), 1), "steps/s", "—", None)]
    py = pyodide_steps_per_s()
    if py is not None:
        rows.append(("Pyodide 0.27.7 in Node: GRPO steps/s (B x G = 32)", round(py, 1), "steps/s", TARGET, py >= 20))
    try:
        rows += chromium_rows()
    except (StopIteration, SystemExit) as exc:   # the demo is not in a chapter yet / the build failed
        rows.append(("Chromium: tiny-gpt demo", f"not measured ({type(exc).__name__})", "", TARGET, None))
    rows.append(("machine load average (1 min) at the end", round(os.getloadavg()[0], 2), "", f"{os.cpu_count()} CPUs", None))
    if not quiet:
        for name, value, unit, target, ok in rows:
            print(f"{name:<52} {value!s:>10} {unit:<8} target {target}")
    return rows


if __name__ == "__main__":
    main()
