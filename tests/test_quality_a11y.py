"""Accessibility of the built site, measured with axe-core in headless Chromium.

Every page, at every depth (?depth=intuition|math|implementation), light and dark (the header's theme toggle,
with the matching prefers-color-scheme emulated), with every demo live, gets no axe violation of WCAG 2.0/2.1
A+AA or axe's best practices. A keyboard-only reader reaches every demo control with Tab, sees where the
focus is, moves sliders with the arrow keys (WAI-ARIA slider pattern: a native range input with a label and
an aria-valuetext), and hears the changing numbers through an aria-live region.

axe is served from the site's own origin through a route (`/__axe__/axe.min.js`), so the page's CSP
(`script-src 'self'`) stays as strict as for readers: no bypass_csp, no inline script."""
from __future__ import annotations

from pathlib import Path

import pytest

from support import ROOT, chapters_with_demos, poll, set_theme, wait_live, watch

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("site")]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
DEPTHS = ["intuition", "math", "implementation"]


def page_ids() -> list[str]:
    """The pages of the site as the build names them, known at collection time from content/."""
    import yaml
    out = ["", "404.html"]
    for p in sorted((ROOT / "content").glob("*.md")):
        if p.name != "README.md":
            out.append(yaml.safe_load(p.read_text(encoding="utf-8").split("---")[1])["slug"] + "/")
    return out


def serve_axe(page, origin: str) -> None:
    body = AXE.read_bytes()
    page.route(f"{origin}__axe__/axe.min.js",
               lambda r: r.fulfill(status=200, body=body, headers={"content-type": "text/javascript"}))


def run_axe(page, origin: str, context: str | None = None) -> list[dict]:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(url=f"{origin}__axe__/axe.min.js")
    return page.evaluate("""async ([tags, context]) => {
        const r = await axe.run(context ? document.querySelectorAll(context) : document,
                                {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
        return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => ({target: n.target.join(' '), summary: (n.failureSummary || '').split('\\n').slice(0, 3).join(' ')}))}));
    }""", [AXE_TAGS, context])


def describe(violations: list[dict], where: str) -> str:
    lines = [f"{len(violations)} axe violation(s) on {where}:"]
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({len(v['nodes'])} node(s))")
        for n in v["nodes"][:6]:
            lines.append(f"      {n['target']}  -- {n['summary'][:220]}")
    return "\n".join(lines)


def screenshot_on_failure(page, name: str, violations: list[dict]) -> str:
    if not violations:
        return ""
    out = Path(ROOT / "test-results")
    out.mkdir(exist_ok=True)
    path = out / f"a11y-{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return f"\n(screenshot: {path})"


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("rel", page_ids())
def test_axe_finds_no_violation(served_site, browser, rel, depth):
    """Every page x depth, light and dark, demos live: no violation."""
    assert (served_site.root / (rel + "index.html" if rel.endswith("/") or not rel else rel)).is_file(), rel
    w = watch(browser, served_site.url, color_scheme="light", viewport={"width": 1280, "height": 900})
    try:
        page = w.page
        serve_axe(page, w.origin)
        page.goto(f"{served_site.url}{rel}?depth={depth}")
        assert page.evaluate("document.documentElement.dataset.depth") == depth
        if page.locator("figure.demo[data-demo]").count():
            wait_live(page)
        page.evaluate("window.scrollTo(0, 0)")
        problems = []
        schemes = [("light", "light"), ("dark", "dark")] + ([("dark", "auto")] if depth == "implementation" else [])
        for scheme, theme in schemes:
            page.emulate_media(color_scheme=scheme)
            set_theme(page, theme)
            page.wait_for_timeout(250)          # let colour transitions settle before contrast is measured
            found = run_axe(page, w.origin)
            name = f"{rel.strip('/').replace('/', '_') or 'index'}-{depth}-{theme}-{scheme}"
            if found:
                problems.append(describe(found, f"{rel or 'index'} ?depth={depth} theme={theme} "
                                                 f"prefers-color-scheme={scheme}") + screenshot_on_failure(page, name, found))
        assert not problems, "\n".join(problems)
    finally:
        w.close()


def test_axe_demo_panels_python_tab_and_error_state(served_site, browser):
    """The demos' other faces: the Python tab (editable code) live, and the error state with retry."""
    pages = chapters_with_demos(served_site.root)
    assert pages, "no chapter has a demo"
    problems = []
    for rel in pages:
        w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
        try:
            page = w.page
            serve_axe(page, w.origin)
            page.goto(served_site.url + rel)
            wait_live(page)
            tabs = page.locator('figure.demo [role="tab"]')
            assert tabs.count() >= 2 * page.locator("figure.demo[data-demo]").count(), "each demo has Demo/Python tabs"
            for tab in page.locator('figure.demo [role="tab"]:text-is("Python")').all():
                tab.click()
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)
                set_theme(page, scheme)
                found = run_axe(page, w.origin, "figure.demo")
                if found:
                    problems.append(describe(found, f"{rel} Python tabs, {scheme}")
                                    + screenshot_on_failure(page, f"python-tab-{scheme}", found))
        finally:
            w.close()
        # the error state: Pyodide blocked -> static figure, one line, a retry button
        w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
        try:
            page = w.page
            serve_axe(page, w.origin)
            page.route("**/pyodide/**", lambda r: r.abort("internetdisconnected"))
            page.goto(served_site.url + rel)
            for fig in page.locator("figure.demo[data-demo]").all():
                fig.scroll_into_view_if_needed()
            poll(page, "() => [...document.querySelectorAll('figure.demo[data-demo]')].every((f) => f.dataset.state === 'error')", timeout_ms=60_000)
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)
                set_theme(page, scheme)
                found = run_axe(page, w.origin, "figure.demo")
                if found:
                    problems.append(describe(found, f"{rel} error state, {scheme}")
                                    + screenshot_on_failure(page, f"error-state-{scheme}", found))
        finally:
            w.close()
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ keyboard-only reader

FOCUS_STYLE = """(el) => {
    const visible = (s) => (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || (s.boxShadow && s.boxShadow !== 'none');
    const cands = [el, ...(el.labels ? [...el.labels] : []), el.parentElement];
    return cands.some((c) => c && visible(getComputedStyle(c)));
}"""

TABBABLE = """(fig) => {
    const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
    const all = [...fig.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
        .filter((e) => !e.disabled && e.tabIndex >= 0 && shown(e));
    // a number per element, kept across calls, tells apart the same-looking (e.g. two "Copy" buttons)
    all.forEach((e) => { if (!e.dataset.tabStop) e.dataset.tabStop = String(window.__tabStops = (window.__tabStops || 0) + 1); });
    const seen = new Set();
    return all.filter((e) => {            // a radio group is one tab stop: its checked radio
        if (e.type !== 'radio') return true;
        if (seen.has(e.name)) return false;
        const group = all.filter((r) => r.type === 'radio' && r.name === e.name);
        const stop = group.find((r) => r.checked) || group[0];
        if (stop !== e) return false;
        seen.add(e.name);
        return true;
    }).map(DESCRIBE);
}""".replace("DESCRIBE", "((e) => DESCRIBE_BODY)")

# how an element is named in both lists: what does not change when it takes focus (a citation link gains
# aria-describedby on focus, so its outerHTML does)
DESCRIBE_BODY = ("e.id || [e.dataset.tabStop || '', e.tagName, e.getAttribute('name') || '', e.getAttribute('href') || '', "
                 "e.getAttribute('class') || '', e.getAttribute('value') || '', (e.textContent || '').trim().slice(0, 40)].join(' | ')")
TABBABLE = TABBABLE.replace("DESCRIBE_BODY", DESCRIBE_BODY)
ACTIVE = "() => { const e = document.activeElement; return e ? ((e) => DESCRIBE_BODY)(e) : null; }".replace("DESCRIBE_BODY", DESCRIBE_BODY)


def tab_walk(page, figure_selector: str) -> list[tuple[str, bool]]:
    """Start just before the figure, press Tab until focus leaves it: [(element, focus visible?)]."""
    page.evaluate("(sel) => { const f = document.querySelector(sel); f.tabIndex = -1; f.focus(); f.removeAttribute('tabindex'); }",
                  figure_selector)
    out = []
    for _ in range(200):
        page.keyboard.press("Tab")
        inside = page.evaluate("(sel) => document.querySelector(sel).contains(document.activeElement)", figure_selector)
        if not inside:
            break
        out.append((page.evaluate(ACTIVE), page.evaluate(f"({FOCUS_STYLE})(document.activeElement)")))
    return out


def test_keyboard_reaches_every_demo_control_with_visible_focus(served_site, browser):
    rels = chapters_with_demos(served_site.root)
    w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
    try:
        page = w.page
        problems = []
        for rel in rels:
            page.goto(served_site.url + rel)
            wait_live(page)
            for name in page.eval_on_selector_all("figure.demo[data-demo]", "fs => fs.map(f => f.dataset.demo)"):
                sel = f'figure.demo[data-demo="{name}"]'
                for panel in ("Demo", "Python"):
                    page.locator(f'{sel} [role="tab"]:text-is("{panel}")').click()
                    before = page.eval_on_selector(sel, TABBABLE)
                    walked = tab_walk(page, sel)
                    # site.js un-marks scroll boxes that turn out not to scroll (tabindex removed when idle): only
                    # what is a tab stop both before and after the walk must be reached
                    after = set(page.eval_on_selector(sel, TABBABLE))
                    expected = [e for e in before if e in after]
                    reached = [e for e, _ in walked]
                    missing = [e for e in expected if e not in reached]
                    if missing:
                        problems.append(f"{rel} {name} [{panel}]: Tab never reaches {missing}")
                    if len(reached) != len(set(reached)):
                        problems.append(f"{rel} {name} [{panel}]: focus loops {reached}")
                    invisible = [e for e, ok in walked if not ok]
                    if invisible:
                        problems.append(f"{rel} {name} [{panel}]: no visible focus indicator on {invisible}")
                    if panel == "Demo" and not page.locator(f'{sel} input[type="range"]').count() \
                            and not page.locator(f"{sel} select, {sel} input").count():
                        problems.append(f"{rel} {name}: no controls at all")
                page.locator(f'{sel} [role="tab"]:text-is("Demo")').click()
        assert not problems, "\n".join(problems)
        assert not w.console, w.console
    finally:
        w.close()


def test_sliders_follow_the_wai_aria_slider_pattern(served_site, browser):
    rels = chapters_with_demos(served_site.root)
    w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
    try:
        page = w.page
        problems, count = [], 0
        for rel in rels:
            page.goto(served_site.url + rel)
            wait_live(page)
            sliders = page.locator('figure.demo input[type="range"]')
            for i in range(sliders.count()):
                s = sliders.nth(i)
                if not s.is_visible():
                    continue
                count += 1
                info = s.evaluate("""(e) => ({id: e.id, name: (e.labels && e.labels.length ? [...e.labels].map(l => l.textContent.trim()).join(' ')
                                          : e.getAttribute('aria-label') || (e.getAttribute('aria-labelledby') ? 'labelledby' : '')),
                                          role: e.getAttribute('role'), valuetext: e.getAttribute('aria-valuetext'),
                                          value: e.value, min: e.min, max: e.max, step: e.step,
                                          live: !!e.closest('figure').querySelector('[aria-live], [role=status]')})""")
                where = f"{rel} slider #{info['id'] or i}"
                if not info["name"]:
                    problems.append(f"{where}: no label")
                if info["role"] not in (None, "slider"):
                    problems.append(f"{where}: role={info['role']} overrides the native slider role")
                if not info["valuetext"]:
                    problems.append(f"{where}: no aria-valuetext")
                if not info["live"]:
                    problems.append(f"{where}: its figure has no aria-live/status region for the changing numbers")
                key = "ArrowLeft" if float(info["value"]) >= float(info["max"]) else "ArrowRight"
                s.focus()
                page.keyboard.press(key)
                after = s.evaluate("e => e.value")
                if after == info["value"]:
                    problems.append(f"{where}: {key} did not change the value ({info['value']})")
                    continue
                try:       # the valuetext follows the new value once Python has answered
                    poll(page, "([el, old]) => el.getAttribute('aria-valuetext') !== old", [s.element_handle(), info["valuetext"]])
                except Exception:
                    problems.append(f"{where}: aria-valuetext stayed {info['valuetext']!r} after {key}")
                vt = s.get_attribute("aria-valuetext") or ""
                shown = f"{float(after):.2f}"
                if shown not in vt:
                    problems.append(f"{where}: aria-valuetext {vt!r} does not say the new value {shown}")
        assert count > 0, "no visible slider in any demo"
        assert not problems, "\n".join(problems)
        assert not w.console, w.console
    finally:
        w.close()


def test_changing_numbers_are_announced_politely(served_site, browser):
    """After a slider move, the demo's polite live region says the new numbers."""
    rels = chapters_with_demos(served_site.root)
    w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
    try:
        page = w.page
        checked = 0
        for rel in rels:
            page.goto(served_site.url + rel)
            wait_live(page)
            for fig in page.locator("figure.demo[data-demo]").all():
                slider = fig.locator('input[type="range"]').first
                if not slider.count():
                    continue
                regions = fig.locator('[aria-live="polite"], [role="status"]')
                assert regions.count() >= 1
                before = regions.evaluate_all("rs => rs.map(r => r.textContent)")
                slider.focus()
                page.keyboard.press("ArrowLeft" if float(slider.input_value()) > float(slider.get_attribute("min")) else "ArrowRight")
                poll(page, "([rs, before]) => rs.some((r, i) => r.textContent && r.textContent !== before[i])", [regions.element_handles(), before])
                live = fig.locator('[aria-live="polite"]')
                assert live.count() and any(t.strip() for t in live.all_text_contents()), "no polite live region got the numbers"
                assert not fig.locator('[aria-live="assertive"]').count(), "slider numbers must not interrupt (assertive)"
                checked += 1
        assert checked, "no demo with a slider"
    finally:
        w.close()


def test_site_controls_show_focus(served_site, browser):
    """Tab through the header, navigation and first links of a chapter: every stop has a visible focus ring."""
    w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
    try:
        page = w.page
        page.goto(served_site.url + "grpo/")
        invisible, stops = [], []
        for _ in range(40):
            page.keyboard.press("Tab")
            e = page.evaluate(ACTIVE)
            if e is None or e in stops[-1:]:
                continue
            stops.append(e)
            if not page.evaluate(f"({FOCUS_STYLE})(document.activeElement)"):
                invisible.append(e)
        assert len(stops) >= 10, stops
        assert "Skip to content" in page.evaluate("document.querySelector('.skip-link').textContent")
        assert not invisible, "no visible focus on:\n" + "\n".join(invisible)
    finally:
        w.close()
