"""The reader's path (issue 14), in headless Chromium against the real site (self-hosted Pyodide): figure text
never overlaps or leaves its SVG, a shared link lands on its demo with its numbers, an equation link from the
Intuition depth puts the equation in view, no two numbers disagree while Python loads, search finds sections
without TeX and says when nothing matches, and printing follows the depth. Polls run from Python (the page's
CSP forbids eval)."""
from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from demos import registry
from support import LIVE_TIMEOUT_MS, chapters_with_demos, poll, wake_demos, watch

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("reader_path")]

PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
SIZES = {"375": PHONE, "1280": DESKTOP}


def chapter_url(served) -> str:
    return served.url + chapters_with_demos(served.root)[0]


def states(page) -> dict:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('figure.demo[data-demo]')]
        .map((f) => [f.dataset.demo, f.dataset.state]))""")


def wait_all_live(page) -> None:
    wake_demos(page)
    poll(page, lambda _: (s := states(page)) and all(v in ("live", "error") for v in s.values()), timeout_ms=LIVE_TIMEOUT_MS, interval_ms=200, message="every demo live")
    assert set(states(page).values()) == {"live"}, states(page)


# ---------------------------------------------------------------------------- figure text

# every text of every demo chart: pairs whose boxes intersect by more than 1 px both ways, and texts whose
# box leaves its <svg> by more than 1 px
TEXT_PROBLEMS = """(fig) => {
    const out = [];
    for (const svg of fig.querySelectorAll('.demo-chart svg')) {
        const sb = svg.getBoundingClientRect();
        const texts = [...svg.querySelectorAll('text')].filter((t) => t.textContent.trim() && t.getClientRects().length)
            .map((t) => [t.textContent.trim(), t.getBoundingClientRect()]);
        for (const [s, b] of texts) {
            if (b.left < sb.left - 1 || b.right > sb.right + 1 || b.top < sb.top - 1 || b.bottom > sb.bottom + 1) {
                out.push(`"${s}" leaves the SVG`);
            }
        }
        for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
            const [s, a] = texts[i], [t, b] = texts[j];
            const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
            const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
            if (w > 1 && h > 1) out.push(`"${s}" overlaps "${t}"`);
        }
    }
    return out;
}"""


def presets(fig) -> list:
    """What sets a demo to a named state: its preset chips (aria-pressed buttons among the controls) and its
    "Predict, then try" prompts."""
    return fig.locator(".demo-controls button[aria-pressed], .demo-prompt-try").all()


def settle(page, fig) -> None:
    # every state sent has been answered and drawn (the shell marks data-busy until then)
    poll(page, lambda _: fig.get_attribute("data-busy") != "true" and not fig.evaluate("(f) => f.classList.contains('is-pending')"),
         timeout_ms=30_000, interval_ms=50, message="the demo's answer")


@pytest.fixture(scope="module", params=["375-dark", "1280-light"])
def live_page(request, browser, served_site):
    size, scheme = request.param.split("-")
    w = watch(browser, served_site.url, color_scheme=scheme, **SIZES[size])
    w.page.goto(chapter_url(served_site))
    wait_all_live(w.page)
    yield w.page, size, scheme
    w.close()


def set_scheme(page, theme: str) -> None:
    page.evaluate("(t) => document.documentElement.setAttribute('data-theme', t)", theme)


@pytest.mark.parametrize("name", registry.names())
def test_no_figure_text_overlaps_or_leaves_its_svg_in_any_preset(live_page, name):
    page, size, scheme = live_page
    figs = page.locator(f'figure.demo[data-demo="{name}"]').all()
    if not figs:
        pytest.skip(f"no chapter uses {name}")
    problems = []
    for theme in ("light", "dark"):
        set_scheme(page, theme)
        for fig in figs:
            problems += [f"{size} {theme} {name} default: {p}" for p in fig.evaluate(TEXT_PROBLEMS)]
            for k, button in enumerate(presets(fig)):
                button.scroll_into_view_if_needed()
                button.click()
                settle(page, fig)
                label = button.inner_text().strip() if "demo-prompt-try" not in (button.get_attribute("class") or "") else f"prompt {k}"
                problems += [f"{size} {theme} {name} {label}: {p}" for p in fig.evaluate(TEXT_PROBLEMS)]
    assert not problems, "\n".join(problems)


def test_prompts_set_the_state_their_text_describes(live_page):
    """The group-advantage prompts: one click sets the state, and the numbers the prompt quotes appear."""
    page, _, _ = live_page
    fig = page.locator('figure[data-demo="group-advantage"]')
    prompts = registry.describe("group-advantage")["prompts"]
    assert 2 <= len(prompts) <= 3
    fig.locator(".demo-prompt-try").nth(0).click()
    # the answer arrives when Python has run: wait for the quoted number (a fixed settle time races a loaded CPU)
    poll(page, lambda _: fig.locator(".ga-adv-value").nth(2).inner_text() == "\u22122.24", timeout_ms=30_000, interval_ms=50, message="the prompt's numbers")
    assert fig.locator('[data-group="strong"]').get_attribute("aria-pressed") == "true"
    assert fig.locator(".demo-prompt-look").nth(0).is_visible()
    assert "\u22122.24" in prompts[0]["look"] and "+2.36" in prompts[0]["look"]
    fig.locator(".demo-prompt-try").nth(2).click()
    poll(page, lambda _: fig.locator(".ga-adv-value").nth(0).inner_text() == "+0.50", timeout_ms=30_000, interval_ms=50, message="the prompt's numbers")
    poll(page, lambda _: "demo-group-advantage=" in page.url and "n:0" in page.url, timeout_ms=30_000, interval_ms=50, message="the state in the link")


def test_python_tab_is_monospace_opens_at_the_function_and_run_is_above_the_code(live_page):
    page, _, _ = live_page
    fig = page.locator('figure[data-demo="group-advantage"]')
    fig.locator('[role="tab"]', has_text="Python").click()
    editor = fig.locator(".demo-code-editor").first
    info = editor.evaluate("(t) => ({font: getComputedStyle(t).fontFamily, top: t.scrollTop, line: Number(t.dataset.line)})")
    assert re.search(r"mono|Menlo|Consolas|Courier", info["font"], re.I), info["font"]
    assert info["line"] > 20 and info["top"] > 0        # scrolled to the function the demo calls
    run = fig.locator(".demo-run").bounding_box()
    assert run["y"] + run["height"] <= editor.bounding_box()["y"]
    fig.locator('[role="tab"]', has_text="Demo").click()


def test_phone_chart_stays_in_view_while_the_last_slider_is_used(live_page):
    page, size, _ = live_page
    if size != "375":
        pytest.skip("the sticky chart is a phone layout")
    fig = page.locator('figure[data-demo="group-advantage"]')
    slider = fig.locator(".ga-slider").nth(7)
    slider.scroll_into_view_if_needed()
    slider.focus()
    page.keyboard.press("ArrowLeft")
    chart = fig.locator(".ga-chart").bounding_box()
    assert chart["y"] >= 0 and chart["y"] + chart["height"] <= 812, chart
    assert slider.bounding_box()["y"] >= chart["y"] + chart["height"] - 1     # the slider is not under the chart


def test_depth_control_stays_reachable_with_one_name(live_page):
    page, _, _ = live_page
    page.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
    page.wait_for_timeout(100)
    label = page.locator('label[for="depth-implementation"]')
    box = label.bounding_box()
    assert box and 0 <= box["y"] < 200
    assert label.inner_text().replace("\xa0", " ").strip() == "+ Implementation"


# ---------------------------------------------------------------------------- shared links

SHARED = "g:weak;r:0,0,0.7,0.2,0.1,0,0.1,0;n:1;d:1;b:mean"


@pytest.mark.parametrize("size", ["375", "1280"])
def test_shared_link_lands_on_its_demo_pending_then_with_the_shared_numbers(browser, served_site, size):
    w = watch(browser, served_site.url, **SIZES[size])
    try:
        page = w.page
        page.goto(f"{chapter_url(served_site)}?depth=intuition#demo-group-advantage={SHARED}")
        fig = page.locator('figure[data-demo="group-advantage"]')
        vh = SIZES[size]["viewport"]["height"]

        def in_view():
            b = fig.bounding_box()
            return b and 0 <= b["y"] < vh * 0.5
        poll(page, lambda _: in_view(), timeout_ms=30_000, interval_ms=50, message="the shared demo in the viewport")
        # before Python answers: the shared controls, and derived numbers visibly pending (never the defaults)
        if fig.get_attribute("data-state") != "live":
            hidden = fig.evaluate("""(f) => [...f.querySelectorAll('[data-derived]')].every((e) =>
                getComputedStyle(e).color.replace(/\\s/g, '').endsWith(',0)'))""")
            assert hidden, "derived numbers shown before the shared state is computed"
        # the view mounts (a module import) and sets the shared controls
        poll(page, lambda _: fig.locator('[data-group="weak"]').get_attribute("aria-pressed") == "true", timeout_ms=30_000, interval_ms=50, message="weak group")
        poll(page, lambda _: fig.get_attribute("data-state") == "live" and not fig.evaluate("(f) => f.classList.contains('is-pending')"), timeout_ms=LIVE_TIMEOUT_MS, interval_ms=200, message="live")
        assert fig.locator(".ga-adv-value").nth(2).inner_text() == "+2.36"
        assert fig.locator(".ga-mean").inner_text() == "0.137"      # mean 0.1375 (float: 0.13749...)
        assert in_view()                 # going live did not move the reader
        # "Copy link to this setup" gives the same link back (clipboard or the fallback field)
        fig.locator(".demo-copy-link").click()
        url = fig.locator(".demo-copy-link").get_attribute("data-url")
        assert url.endswith(f"#demo-group-advantage={SHARED}"), url
    finally:
        w.close()


@pytest.mark.parametrize("size", ["375", "1280"])
def test_a_link_far_down_lands_exactly_and_scrolling_back_up_does_not_jump(browser, served_site, size):
    """The chapter's blocks skip layout until they come near the viewport (content-visibility: auto) and are not
    all laid out on arrival: the target is still where the reader lands, and when the blocks above it get their
    real heights as the reader scrolls back up, what is on screen moves by exactly the distance scrolled."""
    w = watch(browser, served_site.url, **SIZES[size])
    try:
        page = w.page
        page.goto(f"{chapter_url(served_site)}#demo-tiny-gpt")
        top = lambda: page.evaluate("document.getElementById('demo-tiny-gpt').getBoundingClientRect().top")  # noqa: E731
        poll(page, lambda _: 0 <= top() < 200, timeout_ms=30_000, interval_ms=50, message="the linked demo at the top")
        page.wait_for_timeout(500)
        landed = top()
        assert 0 <= landed < 200, landed
        assert page.evaluate("scrollY") > 10 * SIZES[size]["viewport"]["height"]     # far down the chapter
        for step in range(1, 4):
            page.evaluate("window.scrollBy(0, -900)")
            page.wait_for_timeout(300)
            assert abs(top() - (landed + 900 * step)) <= 2, (step, landed, top())
    finally:
        w.close()


# ---------------------------------------------------------------------------- cross-references

@pytest.mark.parametrize("size", ["375", "1280"])
def test_equation_link_from_intuition_depth_puts_the_equation_in_view(browser, served_site, size):
    w = watch(browser, served_site.url, **SIZES[size])
    try:
        page = w.page
        page.goto(f"{chapter_url(served_site)}?depth=intuition")
        link = page.locator('.admonition.misconception a[href="#eq-process-advantage"]').first
        link.scroll_into_view_if_needed()
        link.click()
        vh = SIZES[size]["viewport"]["height"]

        def eq_in_view():
            b = page.locator("#eq-process-advantage").bounding_box()
            return b and b["y"] >= 0 and b["y"] + min(b["height"], 60) <= vh
        poll(page, lambda _: eq_in_view(), timeout_ms=30_000, interval_ms=50, message="Eq. (11) in the viewport")
        page.wait_for_timeout(400)       # and it stays there once the page has laid out
        assert eq_in_view()
        assert page.evaluate("document.documentElement.dataset.depth") == "math"
        note = page.locator(".depth-note-inline")
        b = note.bounding_box()
        assert b and 0 <= b["y"] < vh, "the depth notice is where the reader lands"
        assert "depth=math" in page.url
    finally:
        w.close()


# ---------------------------------------------------------------------------- loading

WASM = "**/pyodide.asm.wasm*"


def test_while_loading_no_two_numbers_disagree_and_bytes_are_shown(browser, served_site):
    w = watch(browser, served_site.url, **DESKTOP)
    held = []
    try:
        page = w.page
        page.route(WASM, lambda route: held.append(route))      # the runtime never finishes loading
        page.goto(chapter_url(served_site))
        fig = page.locator('figure[data-demo="group-advantage"]')
        slider = fig.locator(".ga-slider").nth(2)
        slider.scroll_into_view_if_needed()
        poll(page, lambda _: fig.get_attribute("data-state") == "loading", timeout_ms=30_000, interval_ms=50, message="loading")
        before = fig.locator(".ga-adv-value").nth(2).inner_text()
        slider.focus()
        for _ in range(6):
            page.keyboard.press("ArrowLeft")                     # 0.70 -> 0.40
        assert fig.locator(".ga-reward").nth(2).inner_text() == "0.40"
        assert fig.evaluate("(f) => f.classList.contains('is-pending')")
        shown = fig.evaluate("""(f) => [...f.querySelectorAll('[data-derived]')].filter((e) =>
            !getComputedStyle(e).color.replace(/\\s/g, '').endsWith(',0)')).map((e) => e.textContent)""")
        assert shown == [], f"stale derived numbers visible: {shown} (advantage was {before})"
        opacity = fig.evaluate("(f) => Number(getComputedStyle(f.querySelector('.demo-chart svg')).opacity)")
        assert opacity <= 0.2
        assert fig.locator(".ga-equal").evaluate("(e) => e.hidden || getComputedStyle(e).visibility === 'hidden'")
        status = poll(page, lambda _: re.search(r"\d+\.\d MB of about (\d+\.\d) MB downloaded", fig.locator(".demo-status").inner_text()), timeout_ms=30_000, interval_ms=100, message="bytes in the status line")
        assert float(status.group(1)) > 5
    finally:
        for r in held:
            try:
                r.abort()
            except Exception:
                pass
        w.close()


SAVE_DATA = """Object.defineProperty(Navigator.prototype, 'connection',
    {configurable: true, get: () => ({saveData: true, effectiveType: '4g', type: 'wifi'})});"""


def test_save_data_waits_for_the_reader_and_states_the_size(browser, served_site):
    w = watch(browser, served_site.url, **PHONE)
    try:
        page = w.page
        page.context.add_init_script(SAVE_DATA)
        page.goto(chapter_url(served_site))
        fig = page.locator('figure[data-demo="group-advantage"]')
        fig.scroll_into_view_if_needed()
        fig.locator(".ga-slider").nth(0).focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(1500)
        assert not [u for u in w.requests if "/pyodide/" in u], "the runtime download started by itself"
        assert fig.get_attribute("data-state") == "static"
        start = fig.locator(".demo-start")
        assert re.search(r"Load live Python \(\d+\.\d MB download\)", start.inner_text())
        start.click()
        poll(page, lambda _: [u for u in w.requests if "/pyodide/" in u], timeout_ms=30_000, interval_ms=50, message="the download after the reader chose it")
    finally:
        w.close()


# ---------------------------------------------------------------------------- search

def search(page, q: str):
    page.fill("#search-input", q)
    return poll(page, lambda _: (t := page.inner_text("#search-status")) and f"\u201c{q}\u201d" in t and t, timeout_ms=30_000, interval_ms=100, message=f"search {q!r}")


def test_search_finds_sections_without_tex_and_says_no_results(browser, served_site):
    w = watch(browser, served_site.url, **DESKTOP)
    try:
        page = w.page
        page.goto(chapter_url(served_site))
        assert "result" in search(page, "misconception")
        first = page.locator("#search-results a").first
        assert "#" in first.get_attribute("href")
        texts = page.locator("#search-results a").all_inner_texts()
        assert texts and not any(re.search(r"\\[a-zA-Z]+|[_^]\{", t) for t in texts), texts
        assert any("Misconception" in t for t in texts)
        assert search(page, "zzqx").startswith("No results")
        assert page.locator("#search-results a").count() == 0
    finally:
        w.close()


# ---------------------------------------------------------------------------- reading code and print

def test_code_fits_the_column_and_table_identifiers_stay_whole(browser, served_site):
    w = watch(browser, served_site.url, **DESKTOP)
    try:
        page = w.page
        page.goto(chapter_url(served_site) + "?depth=implementation")
        # lay every block out (they skip layout far from the viewport: content-visibility: auto) to measure them all
        page.evaluate("""() => document.querySelectorAll('.chapter-body > *, .references, .connections')
            .forEach((e) => { e.style.contentVisibility = 'visible'; })""")
        over = page.evaluate("""() => [...document.querySelectorAll('.chapter-body .highlight pre')]
            .filter((p) => p.scrollWidth > p.clientWidth + 1).length""")
        assert over == 0
        broken = page.evaluate("""() => [...document.querySelectorAll('td > code, th > code')]
            .filter((c) => c.getClientRects().length > 1).map((c) => c.textContent)""")
        assert broken == []
    finally:
        w.close()


def pdf_pages(page, depth: str, url: str) -> int:
    page.goto(f"{url}?depth={depth}")
    page.emulate_media(media="print")
    data = page.pdf(format="A4")
    return len(re.findall(rb"/Type\s*/Page(?![a-z])", data))


def test_printing_follows_the_depth(browser, served_site):
    w = watch(browser, served_site.url, **DESKTOP)
    try:
        url = chapter_url(served_site)
        intuition, full = pdf_pages(w.page, "intuition", url), pdf_pages(w.page, "implementation", url)
        assert intuition < 0.6 * full, (intuition, full)
        shown = w.page.evaluate("""() => ['.demo-status', '.demo-tabs', '.demo-copy-link', '.demo-code']
            .map((s) => document.querySelector(s)).filter((e) => e && e.getClientRects().length > 0).length""")
        assert shown == 0, "runtime chrome prints"
    finally:
        w.close()


def hash_state(url: str, name: str) -> str:
    """The value of #...demo-NAME=VALUE&... in a page URL ('' if absent)."""
    fragment = unquote(url.split("#", 1)[1]) if "#" in url else ""
    return next((part.split("=", 1)[1] for part in fragment.split("&") if part.startswith(f"demo-{name}=")), "")


@pytest.mark.parametrize("name", registry.names())
def test_every_prompt_sets_its_state_and_reveals_what_to_look_for(live_page, name):
    """Each demo has 2-3 prompts; "Try it" puts the prompt's state in the link and shows the answer. For the
    planner, whose answers quote its own numbers, the quoted GRPO peak is the one the figure then shows."""
    page, _, _ = live_page
    prompts = registry.describe(name)["prompts"]
    assert 2 <= len(prompts) <= 3, name
    fig = page.locator(f'figure.demo[data-demo="{name}"]')
    if not fig.count():
        pytest.skip(f"no chapter uses {name}")
    for k, prompt in enumerate(prompts):
        item = fig.locator(".demo-prompt").nth(k)
        item.locator(".demo-prompt-try").scroll_into_view_if_needed()
        item.locator(".demo-prompt-try").click()
        poll(page, lambda _, item=item: item.locator(".demo-prompt-look").is_visible(), timeout_ms=30_000, interval_ms=50, message="the prompt's answer")
        assert item.locator(".demo-prompt-look").inner_text() == prompt["look"]
        # the view writes its whole state; every setting the prompt names is in it
        wanted = set(prompt["state"].split(";"))
        poll(page, lambda _: wanted <= set(hash_state(page.url, name).split(";")), timeout_ms=30_000, interval_ms=50, message="the prompt's state in the link")  # noqa: B023
        if name == "gpu-memory":   # the figure comes to show the GRPO peak the answer quotes
            poll(page, lambda _, look=prompt["look"]: f"{float(fig.get_attribute('data-grpo-peak')) / 2**30:.1f} GiB" in look, timeout_ms=30_000, interval_ms=50, message="the quoted peak in the figure")
