"""A reader's bad day, in headless Chromium against the built site: the network drops while Pyodide loads,
the window is resized to a phone and back, the tab is hidden and shown again, and the history buttons are
used. Each time the page keeps working: static figures with a retry that works, no horizontal overflow, a
paused and resumed animation, the demo state restored from the URL, and no console error.

(Hypothesis fuzzing of the content pipeline is tests/test_fuzz_content.py; of the demo state parsers, the
demos' own tests.)"""
from __future__ import annotations

import pytest

from support import ROOT, demo_states, poll, wait_live, wake_demos, watch

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("site")]

FAIL_FAST_MS = 45_000     # a failed download must show the error + retry well before the runtime's 120 s limit

# What the browser does to a background tab, for a headless browser that cannot hide one: visibilityState and
# the visibilitychange event, and requestAnimationFrame callbacks held until the tab is visible again.
VISIBILITY_SHIM = """
(() => {
  let hidden = false;
  const held = [];
  const raf = window.requestAnimationFrame.bind(window);
  Object.defineProperty(Document.prototype, 'visibilityState', {configurable: true, get() { return hidden ? 'hidden' : 'visible'; }});
  Object.defineProperty(Document.prototype, 'hidden', {configurable: true, get() { return hidden; }});
  window.requestAnimationFrame = (cb) => { if (hidden) { held.push(cb); return 0; } return raf(cb); };
  window.__setHidden = (h) => {
    hidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
    if (!h) held.splice(0).forEach((cb) => raf(cb));
  };
})();
"""


def shot(page, name: str) -> None:
    out = ROOT / "test-results"
    out.mkdir(exist_ok=True)
    page.screenshot(path=str(out / f"robust-{name}.png"))


# ----------------------------------------------------------------------------- network lost mid-load

@pytest.mark.parametrize("let_through", [0, 2, 4], ids=["blocked-from-start", "after-2-files", "after-4-files"])
def test_network_lost_while_pyodide_loads_then_retry(served_site, browser, let_through):
    """The page has loaded; then the network drops after `let_through` Pyodide files. Every figure stays static
    with its build-time chart, says so, offers Retry; with the network back, Retry makes them live."""
    w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
    try:
        page = w.page
        page.goto(served_site.url + "grpo/", wait_until="load")
        passed: list[str] = []

        def network(route):
            if len(passed) < let_through:
                passed.append(route.request.url)
                route.fallback()
            else:
                route.abort("internetdisconnected")

        page.route("**/pyodide/**", network)
        wake_demos(page)
        try:
            poll(page, "() => [...document.querySelectorAll('figure.demo[data-demo]')].every((f) => "
                       "['live', 'error'].includes(f.dataset.state))", timeout_ms=FAIL_FAST_MS)
        except Exception:
            shot(page, f"offline-{let_through}")
            pytest.fail(f"after losing the network ({let_through} files through) the demos were still loading after "
                        f"{FAIL_FAST_MS / 1000:.0f} s: {demo_states(page)}")
        states = demo_states(page)
        assert set(states.values()) == {"error"}, states
        for fig in page.locator("figure.demo[data-demo]").all():
            name = fig.get_attribute("data-demo")
            assert fig.locator(".demo-status").inner_text().strip(), name
            assert "could not load" in fig.locator(".demo-status").inner_text().lower(), name
            assert fig.locator(".demo-retry").is_visible(), f"{name}: no Retry"
            static = fig.locator("img.demo-static, svg")
            assert static.count() and static.first.is_visible(), f"{name}: the static figure is gone"
            assert static.first.bounding_box()["height"] > 50, name
        assert not w.console, "\n".join(w.console)

        page.unroute("**/pyodide/**")
        page.locator("figure.demo .demo-retry").first.click()
        wait_live(page)
        assert set(demo_states(page).values()) == {"live"}
        assert not w.console, "\n".join(w.console)
    finally:
        w.close()


# ----------------------------------------------------------------------------- resize

LAYOUT = """() => {
  const doc = document.documentElement;
  const figs = [...document.querySelectorAll('figure.demo[data-demo]')].map((f) => {
    const fr = f.getBoundingClientRect();
    const chart = f.querySelector('.demo-chart svg, .demo-chart img, svg.demo-svg');
    const cr = chart ? chart.getBoundingClientRect() : null;
    const sticking = [...f.querySelectorAll('input, select, button, svg, img, table')].filter((e) => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && (r.right > fr.right + 1 || r.left < fr.left - 1);
    }).map((e) => e.className.baseVal ?? e.className ?? e.tagName);
    return {name: f.dataset.demo, width: fr.width, chart: cr ? cr.width : 0, chartTag: chart ? chart.tagName : null,
            sticking: sticking.slice(0, 5)};
  });
  return {overflow: doc.scrollWidth - doc.clientWidth, viewport: doc.clientWidth, figs};
}"""


def test_resize_desktop_phone_desktop(served_site, browser):
    w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
    try:
        page = w.page
        page.goto(served_site.url + "grpo/")
        wait_live(page)
        seen = {}
        for width in (1280, 375, 1280):
            page.set_viewport_size({"width": width, "height": 800 if width > 400 else 740})
            page.wait_for_timeout(400)
            lay = page.evaluate(LAYOUT)
            assert lay["overflow"] <= 0, f"{width}px: the page scrolls sideways by {lay['overflow']}px"
            for f in lay["figs"]:
                assert f["chart"] > 0, f"{width}px: {f['name']} has no chart"
                assert f["chart"] <= f["width"] + 1, f"{width}px: {f['name']} chart {f['chart']}px is wider than its figure"
                assert not f["sticking"], f"{width}px: {f['name']} controls stick out of the figure: {f['sticking']}"
                assert f["chartTag"] == "svg", f"{width}px: {f['name']} shows the static image while live"
            seen.setdefault(width, []).append({f["name"]: f["chart"] for f in lay["figs"]})
            if width == 375:
                page.locator('figure.demo[data-demo="group-advantage"]').scroll_into_view_if_needed()
                shot(page, "group-advantage-375")
        phone, desktop = seen[375][0], seen[1280][-1]
        for name in desktop:
            assert phone[name] < desktop[name], f"{name}: the chart did not follow the width ({phone[name]} vs {desktop[name]})"
        assert seen[1280][0] == seen[1280][1], "back at 1280 px the charts have another size than before"
        # still working after the resizes
        fig = page.locator('figure.demo[data-demo="group-advantage"]')
        before = fig.locator("[data-advantage]").first.get_attribute("data-advantage")
        slider = fig.locator(".ga-slider").first
        slider.focus()
        page.keyboard.press("ArrowLeft" if float(slider.input_value()) > 0 else "ArrowRight")
        poll(page, "([el, b]) => el.dataset.advantage !== b", [fig.locator("[data-advantage]").first.element_handle(), before])
        assert not w.console, "\n".join(w.console)
    finally:
        w.close()


# ----------------------------------------------------------------------------- tab switch

def test_hidden_tab_pauses_the_dynamics_and_resumes(served_site, browser):
    w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
    try:
        w.context.add_init_script(VISIBILITY_SHIM)
        page = w.page
        page.goto(served_site.url + "grpo/")
        fig = page.locator('figure.demo[data-demo="policy-dynamics"]')
        assert fig.count() == 1, "the chapter has no policy-dynamics demo"
        wait_live(page)
        fig.scroll_into_view_if_needed()

        def step() -> int:
            return int(fig.get_attribute("data-step") or 0)

        play = fig.locator(".pd-play")
        play.click()
        poll(page, "(f) => Number(f.dataset.step) >= 3", fig.element_handle())
        page.evaluate("window.__setHidden(true)")
        page.wait_for_timeout(500)                 # a step already in flight may still land
        hidden_at = step()
        page.wait_for_timeout(2000)
        assert step() == hidden_at, f"the animation kept stepping in a hidden tab ({hidden_at} -> {step()})"
        page.evaluate("window.__setHidden(false)")
        shown_at = step()
        poll(page, "([f, s]) => Number(f.dataset.step) > s", [fig.element_handle(), shown_at])
        assert play.get_attribute("aria-pressed") == "true", "shown again but the Play button says paused"
        page.wait_for_timeout(1000)
        speed = float(fig.locator(".pd-speed").input_value())
        burst = step() - shown_at
        assert burst <= speed * 1.5 + 3, f"{burst} steps in ~1 s after the tab came back at {speed} steps/s (catch-up burst)"
        play.click()
        page.wait_for_timeout(500)
        paused_at = step()
        page.wait_for_timeout(1000)
        assert step() == paused_at and play.get_attribute("aria-pressed") == "false"
        assert fig.get_attribute("data-state") == "live" and fig.locator(".demo-error").is_hidden()
        assert not w.console, "\n".join(w.console)
    finally:
        w.close()


# ----------------------------------------------------------------------------- back and forward

def test_back_and_forward_restore_a_working_page(served_site, browser):
    w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
    try:
        page = w.page
        page.add_init_script("window.addEventListener('pageshow', (e) => { window.__persisted = e.persisted; });")
        page.goto(served_site.url + "grpo/")
        wait_live(page)
        fig = page.locator('figure.demo[data-demo="group-advantage"]')
        slider = fig.locator(".ga-slider").nth(2)
        slider.focus()
        first = fig.locator("[data-advantage]").nth(2).get_attribute("data-advantage")
        for _ in range(3):
            page.keyboard.press("ArrowLeft")
        poll(page, "([el, b]) => el.dataset.advantage !== b", [fig.locator("[data-advantage]").nth(2).element_handle(), first])
        poll(page, lambda p: "#demo-group-advantage=" in p.url, message="the demo state in the URL (written every 150 ms)")
        values = fig.locator(".ga-slider").evaluate_all("ss => ss.map(s => s.value)")
        advantages = [float(a) for a in fig.locator("[data-advantage]").evaluate_all("es => es.map(e => e.dataset.advantage)")]
        url_with_state = page.url

        other = page.locator('.chapter-nav a:not([aria-current="page"])').first
        other_href = other.get_attribute("href")
        other.click()
        page.wait_for_load_state("load")
        assert page.url != url_with_state and "/grpo/" not in page.url

        for round_ in range(2):
            page.go_back()
            page.wait_for_load_state("load")
            assert page.url == url_with_state, f"back went to {page.url}"
            fig = page.locator('figure.demo[data-demo="group-advantage"]')
            assert fig.locator(".ga-slider").evaluate_all("ss => ss.map(s => s.value)") == values, \
                f"round {round_}: slider values not restored from the URL"
            wait_live(page)
            poll(page, "(f) => !f.classList.contains('is-pending')", fig.element_handle())
            got = [float(a) for a in fig.locator("[data-advantage]").evaluate_all("es => es.map(e => e.dataset.advantage)")]
            assert got == pytest.approx(advantages, abs=1e-9), f"round {round_}: advantages differ after back"
            # and the page still answers
            s = fig.locator(".ga-slider").nth(2)
            s.focus()
            before = fig.locator("[data-advantage]").nth(2).get_attribute("data-advantage")
            page.keyboard.press("ArrowRight")
            poll(page, "([el, b]) => el.dataset.advantage !== b", [fig.locator("[data-advantage]").nth(2).element_handle(), before])
            page.keyboard.press("ArrowLeft")      # back to the state in the history entry
            page.wait_for_timeout(300)
            page.go_forward()
            page.wait_for_load_state("load")
            assert other_href.strip("./").split("/")[0] in page.url
            assert page.locator("main h1").count() == 1
        assert not w.console, "\n".join(w.console)
    finally:
        w.close()
