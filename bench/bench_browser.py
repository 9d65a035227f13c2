"""Live demos in headless Chromium: slider latency, dynamics frame rate, cold time-to-live vs bare Pyodide.

    .venv/bin/python bench/bench_browser.py

Builds the real site with self-hosted Pyodide into a temporary directory, serves it on 127.0.0.1 (every
request off that origin is aborted) and prints one row per figure: name, value, unit, target.
  * slider input -> chart updated: from the `input` event to the first animation frame after the new
    advantages are in the DOM (the Python call in the worker, the message round trip and the SVG redraw);
  * dynamics: animation steps drawn per second while playing at the fastest speed, and the page's frame rate
    meanwhile (requestAnimationFrame callbacks per second: is the main thread ever blocked?);
  * cold time-to-live of the first demo (navigation start -> data-state=live, fresh browser context, no cache)
    against a bare page that only loads Pyodide + numpy in a module worker, same server, same run, alternated.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import (build_site, chapters_with_demos, launch_chromium, poll, serve_site,  # noqa: E402
                           wait_live, watch)

COLD_RUNS = 3
SLIDER_MOVES = 80

BARE_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bare</title>
<script type="module" src="bare.js"></script></head><body><p id="out">loading</p></body></html>"""
BARE_JS = """const w = new Worker(new URL("./bare-worker.mjs", import.meta.url), { type: "module" });
w.onmessage = (e) => { document.body.dataset.ms = String(performance.now()); document.getElementById("out").textContent = e.data; };
w.postMessage(new URL("../pyodide/", location.href).href);"""
BARE_WORKER = """self.onmessage = async (e) => {
  const { loadPyodide } = await import(e.data + "pyodide.mjs");
  const py = await loadPyodide({ indexURL: e.data });
  await py.loadPackage("numpy", { messageCallback: () => {} });
  py.runPython("import numpy");
  self.postMessage("ready");
};"""

SLIDER_JS = """async (n) => {
  const f = document.querySelector('figure[data-demo="group-advantage"]');
  const sliders = f.querySelectorAll('.ga-slider');
  const target = f.querySelectorAll('[data-advantage]')[2];
  const out = [], py = [], draw = [];
  const last = (name) => performance.getEntriesByName(name).at(-1)?.duration ?? NaN;
  for (let i = 0; i < n; i++) {
    const s = sliders[i % sliders.length];
    const v = ((Math.round(Number(s.value) * 20) + 7) % 21) / 20;
    await new Promise((r) => requestAnimationFrame(() => r()));
    const done = new Promise((resolve) => {
      const mo = new MutationObserver(() => { mo.disconnect(); requestAnimationFrame(() => resolve(performance.now())); });
      mo.observe(target, { attributes: true, attributeFilter: ['data-advantage'] });
    });
    const t0 = performance.now();
    s.value = String(v);
    s.dispatchEvent(new Event('input', { bubbles: true }));
    out.push((await done) - t0);
    py.push(last('demo-python'));
    draw.push(last('demo-render'));
  }
  return { total: out, py, draw };
}"""

PLAY_JS = """async (seconds) => {
  const f = document.querySelector('figure[data-demo="policy-dynamics"]');
  const speed = f.querySelector('.pd-speed');
  speed.value = String(Math.max(...[...speed.options].map((o) => Number(o.value))));
  speed.dispatchEvent(new Event('change'));
  f.querySelector('.pd-reset').click();
  await new Promise((r) => setTimeout(r, 300));
  let frames = 0, longest = 0, last = performance.now(), running = true;
  const tick = (t) => { frames++; longest = Math.max(longest, t - last); last = t; if (running) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const s0 = Number(f.dataset.step), t0 = performance.now();
  f.querySelector('.pd-play').click();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  f.querySelector('.pd-play').click();
  running = false;
  const dt = (performance.now() - t0) / 1000;
  return { steps: (Number(f.dataset.step) - s0) / dt, fps: frames / dt, longest };
}"""


def build(out: Path) -> Path:
    build_site(out, "--pyodide", "local", "--no-search")
    bench = out / "bench-bare"
    bench.mkdir()
    (bench / "index.html").write_text(BARE_HTML)
    (bench / "bare.js").write_text(BARE_JS)
    (bench / "bare-worker.mjs").write_text(BARE_WORKER)
    return out


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def open_demo_page(browser, site: Path, url: str):
    w = watch(browser, url, viewport={"width": 1280, "height": 900})
    w.page.goto(url + chapters_with_demos(site)[0] + "#demo-group-advantage")
    if not w.page.locator('script[src*="assets/demos/demos.js"]').count():   # until chapter.html links it
        w.page.add_style_tag(url=url + "assets/demos/demos.css")
        w.page.add_script_tag(url=url + "assets/demos/demos.js", type="module")
    return w


def cold_pair(browser, site: Path, url: str) -> tuple[float, float]:
    """(bare Pyodide + numpy, first demo live), in ms from navigation start, each in a fresh context."""
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(url + "bench-bare/")
    poll(page, "() => document.body.dataset.ms", timeout_ms=180_000)
    bare = float(page.evaluate("() => document.body.dataset.ms"))
    ctx.close()
    w = open_demo_page(browser, site, url)
    poll(w.page, "() => document.querySelector('figure.demo[data-demo]').dataset.state === 'live'", timeout_ms=180_000)
    live = w.page.evaluate("() => performance.getEntriesByName('demo-runtime-live')[0].startTime")
    start = w.page.evaluate("() => performance.getEntriesByName('demo-runtime-start')[0].startTime")
    w.close()
    return bare, live, start


def main() -> list[tuple]:
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        site = build(Path(tmp) / "site")
        server = serve_site(site)
        url = server.url
        browser = launch_chromium(p)
        try:
            bares, lives, starts = [], [], []
            for _ in range(COLD_RUNS):
                b, l, s = cold_pair(browser, site, url)
                bares.append(b), lives.append(l), starts.append(s)
            bare, live = statistics.median(bares), statistics.median(lives)
            rows += [
                ("cold: bare Pyodide + numpy in a worker (median)", round(bare), "ms", "reference"),
                ("cold: first demo live from navigation (median)", round(live), "ms", "—"),
                ("cold: runtime start after navigation (median)", round(statistics.median(starts)), "ms", "—"),
                ("cold: time-to-live / bare load", round(live / bare, 3), "ratio", "<= 1.15"),
            ]

            w = open_demo_page(browser, site, url)
            wait_live(w.page)
            w.page.evaluate(SLIDER_JS, 10)                      # warm-up
            lat = w.page.evaluate(SLIDER_JS, SLIDER_MOVES)
            rows += [
                ("slider input -> chart updated, p50", round(percentile(lat["total"], 0.5), 1), "ms", "—"),
                ("slider input -> chart updated, p95", round(percentile(lat["total"], 0.95), 1), "ms", "<= 16"),
                ("  of which Python in the worker, p50", round(percentile(lat["py"], 0.5), 2), "ms", "—"),
                ("  of which redraw on the main thread, p50", round(percentile(lat["draw"], 0.5), 2), "ms", "—"),
            ]
            w.page.locator('figure[data-demo="policy-dynamics"]').scroll_into_view_if_needed()
            play = w.page.evaluate(PLAY_JS, 5)
            rows += [
                ("dynamics: steps drawn per second while playing", round(play["steps"], 1), "fps", ">= 30"),
                ("dynamics: page frame rate while playing", round(play["fps"], 1), "fps", ">= 30"),
                ("dynamics: longest frame while playing", round(play["longest"], 1), "ms", "—"),
            ]
            w.close()
        finally:
            browser.close()
            server.stop()
    import os
    rows.append(("machine load average (1 min) at the end", round(os.getloadavg()[0], 2), "", f"{os.cpu_count()} CPUs"))
    width = max(len(r[0]) for r in rows)
    for name, value, unit, target in rows:
        print(f"{name:<{width}}  {value:>10} {unit:<6} target {target}")
    return rows


if __name__ == "__main__":
    main()
