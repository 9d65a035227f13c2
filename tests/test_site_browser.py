"""End-to-end tests of the built site in headless Chromium (reader features of the theme).

The site is built once per test process with ``build.py --out DIR --pyodide local`` (self-hosted: no request
may leave 127.0.0.1) and served on 127.0.0.1 by the shared fixtures of tests/conftest.py.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from support import ROOT, poll

playwright_api = pytest.importorskip("playwright.sync_api")

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
LAYERS = ("intuition", "math", "implementation")

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("site-browser")]


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def site_dir(real_site: Path) -> Path:
    """The project's site, built once per test process by the shared fixture (tests/conftest.py)."""
    return real_site


@pytest.fixture(scope="session")
def base_url(served_site) -> str:
    return served_site.url


# `browser` is the shared session fixture of tests/conftest.py: one Playwright per process (two sync
# Playwright instances in one process fail with "Sync API inside the asyncio loop").


class Tab:
    """A page plus what went wrong on it: console errors, page errors, requests that left 127.0.0.1."""

    def __init__(self, browser, base: str, **ctx_args):
        self.base = base
        self.ctx = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **ctx_args})
        self.errors: list[str] = []
        self.external: list[str] = []
        self.ctx.route("**/*", self._route)
        self.page = self.ctx.new_page()
        self.page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def _route(self, route):
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def goto(self, path: str):
        resp = self.page.goto(urljoin(self.base, path), wait_until="load")
        return resp

    def close(self):
        self.ctx.close()


@pytest.fixture
def tab(browser, base_url):
    t = Tab(browser, base_url)
    yield t
    t.close()


@pytest.fixture
def open_tab(browser, base_url):
    """Factory for tabs with other context options (viewport, colour scheme, JS off...)."""
    tabs: list[Tab] = []

    def make(**kw) -> Tab:
        t = Tab(browser, base_url, **kw)
        tabs.append(t)
        return t
    yield make
    for t in tabs:
        t.close()


# ---------------------------------------------------------------- crawling (no browser)

class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) and tag in ("a", "link", "script", "img", "source", "iframe"):
                self.links.append(a[key])


def _fetch(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = r.read()
            return r.status, r.headers.get_content_type(), body.decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, "", ""


@pytest.fixture(scope="session")
def crawl(base_url):
    """Every HTML page reachable from the home page (and 404.html): {url: (status, ids, links)}."""
    pages: dict[str, tuple[int, set[str], list[str]]] = {}
    todo = [base_url, urljoin(base_url, "404.html")]
    while todo:
        url = todo.pop()
        if url in pages:
            continue
        status, ctype, body = _fetch(url)
        parser = _Links()
        if ctype == "text/html":
            parser.feed(body)
        pages[url] = (status, parser.ids, [urljoin(url, l) for l in parser.links])
        for link in pages[url][2]:
            target = link.split("#")[0]
            if target.startswith(base_url) and (target.endswith("/") or target.endswith(".html")) and target not in pages:
                todo.append(target)
    return pages


@pytest.fixture(scope="session")
def html_pages(crawl, base_url) -> list[str]:
    return sorted(u[len(base_url):] for u, (status, _, _) in crawl.items() if status == 200)


@pytest.fixture(scope="session")
def chapter_pages(html_pages) -> list[str]:
    return [p for p in html_pages if re.fullmatch(r"[a-z0-9-]+/", p)]


# ---------------------------------------------------------------- helpers

VISIBLE_LAYERS = """() => {
  const out = {intuition: 0, math: 0, implementation: 0};
  for (const el of document.querySelectorAll('[data-layer]'))
    if (el.getClientRects().length > 0) out[el.getAttribute('data-layer')] += 1;
  return out;
}"""


def visible_layers(page) -> dict[str, int]:
    return page.evaluate(VISIBLE_LAYERS)


def layer_totals(page) -> dict[str, int]:
    return page.evaluate("""() => { const o = {intuition: 0, math: 0, implementation: 0};
      for (const el of document.querySelectorAll('[data-layer]')) o[el.getAttribute('data-layer')] += 1; return o; }""")


# ---------------------------------------------------------------- depth

def test_depth_control_hides_and_shows_layers(tab):
    tab.goto("grpo/")
    page = tab.page
    totals = layer_totals(page)
    assert all(totals[k] > 0 for k in LAYERS), f"the GRPO chapter should have every layer: {totals}"
    assert visible_layers(page) == totals  # default depth shows everything

    page.click('label[for="depth-intuition"]')
    assert page.evaluate("document.documentElement.dataset.depth") == "intuition"
    assert visible_layers(page) == {"intuition": totals["intuition"], "math": 0, "implementation": 0}
    assert "depth=intuition" in page.url
    assert page.evaluate("localStorage.getItem('depth')") == "intuition"

    page.click('label[for="depth-math"]')
    assert visible_layers(page) == {"intuition": totals["intuition"], "math": totals["math"], "implementation": 0}

    page.click('label[for="depth-implementation"]')
    assert visible_layers(page) == totals

    page.click('label[for="depth-math"]')
    tab.goto("grpo/")  # remembered without the query string
    assert page.is_checked("#depth-math")
    assert visible_layers(page)["implementation"] == 0


def test_depth_from_url(tab):
    tab.goto("grpo/?depth=math")
    page = tab.page
    totals = layer_totals(page)
    assert page.is_checked("#depth-math")
    assert visible_layers(page) == {"intuition": totals["intuition"], "math": totals["math"], "implementation": 0}
    assert page.is_hidden("#depth-note")
    assert tab.errors == []


def test_invalid_depth_falls_back_with_visible_note(tab):
    tab.goto("grpo/?depth=everything")
    page = tab.page
    note = page.locator("#depth-note")
    assert note.is_visible()
    assert "everything" in note.inner_text()
    assert visible_layers(page) == layer_totals(page)  # the default: all layers
    assert page.is_checked("#depth-implementation")
    assert tab.errors == []


def test_without_javascript_every_layer_shows_and_print_keeps_the_depth(open_tab):
    t = open_tab(java_script_enabled=False)
    t.goto("grpo/?depth=intuition")
    assert visible_layers(t.page) == layer_totals(t.page)
    assert t.page.locator(".depth-control").is_hidden()  # a control that cannot work is not shown

    p = open_tab()
    p.goto("grpo/?depth=intuition")
    assert visible_layers(p.page)["math"] == 0
    p.page.emulate_media(media="print")
    assert visible_layers(p.page)["math"] == 0 and visible_layers(p.page)["intuition"] > 0   # prints the chosen depth
    assert p.page.locator(".site-header").is_hidden()
    assert p.page.locator(".copy-btn").first.is_hidden()


def test_link_into_a_hidden_layer_reveals_it(tab):
    tab.goto("grpo/")
    target = tab.page.evaluate("""() => { const el = document.querySelector('[data-layer="math"] [id]');
                                          return el ? el.id : null; }""")
    if target is None:
        pytest.skip("no element with an id inside a math layer")
    tab.goto(f"grpo/?depth=intuition#{target}")
    assert tab.page.evaluate("document.documentElement.dataset.depth") in ("math", "implementation")
    assert tab.page.locator(f"#{target}").is_visible()
    assert tab.page.locator(".depth-note-inline").is_visible()      # the notice is where the reader lands


# ---------------------------------------------------------------- palette

def _bg_luminance(page) -> float:
    rgb = page.evaluate("getComputedStyle(document.body).backgroundColor")
    r, g, b = (int(x) for x in re.findall(r"\d+", rgb)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_theme_toggle_is_remembered_across_reload(open_tab):
    t = open_tab(color_scheme="light")
    t.goto("grpo/")
    page = t.page
    assert page.evaluate("document.documentElement.dataset.theme") == "auto"
    assert _bg_luminance(page) > 200
    for _ in range(3):
        if page.evaluate("document.documentElement.dataset.theme") == "dark":
            break
        page.click("#theme-btn")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert _bg_luminance(page) < 60
    assert "dark" in page.get_attribute("#theme-btn", "aria-label")
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert _bg_luminance(page) < 60
    assert page.get_attribute('meta[name="theme-color"]', "content") == "#111418"


def test_auto_theme_follows_the_system(open_tab):
    t = open_tab(color_scheme="dark")
    t.goto("")
    assert t.page.evaluate("document.documentElement.dataset.theme") == "auto"
    assert _bg_luminance(t.page) < 60


# ---------------------------------------------------------------- search

def test_search_advantage_finds_grpo_chapter(tab):
    tab.goto("")
    page = tab.page
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search-input"
    page.keyboard.type("advantage")
    page.wait_for_selector('#search-results [role="option"]', timeout=60_000)
    hrefs = page.eval_on_selector_all('#search-results [role="option"]', "els => els.map(e => e.href)")
    assert any(urlsplit(h).path.endswith("/grpo/") for h in hrefs), hrefs
    assert page.get_attribute("#search-input", "aria-expanded") == "true"
    page.keyboard.press("ArrowDown")
    first = page.locator('#search-results [role="option"]').first
    assert first.get_attribute("aria-selected") == "true"
    assert page.get_attribute("#search-input", "aria-activedescendant") == first.get_attribute("id")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.split("#")[0] == hrefs[0].split("#")[0]
    assert tab.errors == []


def test_search_on_a_phone(open_tab):
    t = open_tab(viewport={"width": 375, "height": 740}, has_touch=True, is_mobile=True)
    t.goto("grpo/")
    page = t.page
    assert page.locator("#search-input").is_hidden()
    page.click(".search-btn")
    assert page.locator("#search-input").is_visible()
    page.fill("#search-input", "advantage")
    page.wait_for_selector('#search-results [role="option"]', timeout=60_000)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375


# ---------------------------------------------------------------- links, requests, console

def test_every_internal_link_resolves(crawl, base_url):
    problems = []
    for page_url, (status, _ids, links) in crawl.items():
        if status != 200 and not page_url.endswith("404.html"):
            problems.append(f"{page_url}: HTTP {status}")
        for link in links:
            if not link.startswith(base_url):
                continue
            target, _, anchor = link.partition("#")
            if target in crawl:
                t_status, t_ids, _ = crawl[target]
            else:
                t_status, _, _ = _fetch(target)
                t_ids = set()
            if t_status != 200:
                problems.append(f"{page_url}: {link} -> HTTP {t_status}")
            elif anchor and target in crawl and anchor not in t_ids:
                problems.append(f"{page_url}: {link} -> no element with id '{anchor}'")
    assert len(crawl) >= 3
    assert problems == []


def test_no_console_errors_and_no_request_leaves_localhost(tab, html_pages):
    seen = {}
    for path in html_pages:
        resp = tab.goto(path)
        tab.page.wait_for_timeout(300)
        seen[path] = resp.status if resp else None
    assert tab.errors == []
    assert tab.external == []
    assert all(s == 200 for p, s in seen.items()), seen


def test_head_meta_on_every_page(crawl, base_url):
    for url, (status, _, _) in crawl.items():
        if status != 200:
            continue
        html = _fetch(url)[2]
        # canonical and og:url only with --base-url (tests/test_site_static.py); this site is built without
        for needle in ('property="og:title"', 'property="og:description"', 'name="description"',
                       'http-equiv="Content-Security-Policy"',
                       'rel="icon"', 'name="theme-color"'):
            assert needle in html, f"{url}: {needle} missing"
        csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1)
        assert "unsafe-inline" not in csp and "'unsafe-eval'" not in csp
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", html), \
            f"{url}: inline script"
        assert not re.search(r"\son[a-z]+=\"", html), f"{url}: inline event handler"
        assert not re.search(r"<(?!svg|path)[a-z]+[^>]*\sstyle=\"", html), f"{url}: style attribute"
        if url.rstrip("/").endswith("grpo"):
            assert 'property="og:type" content="article"' in html


# ---------------------------------------------------------------- chapter features

def test_copy_buttons(open_tab):
    t = open_tab()
    t.ctx.grant_permissions(["clipboard-read", "clipboard-write"])
    t.goto("grpo/")
    page = t.page
    n_code = page.locator(".codeblock").count()
    n_math = page.locator(".math-display[data-tex]").count()
    assert n_code > 0 and n_math > 0
    assert page.locator(".codeblock > .copy-btn").count() == n_code
    assert page.locator(".math-block > .copy-btn").count() == n_math

    eq = page.locator(".math-block").first
    eq.scroll_into_view_if_needed()
    eq.hover()
    eq.locator(".copy-btn").click()
    tex = eq.locator(".math-display").get_attribute("data-tex")
    assert page.evaluate("navigator.clipboard.readText()") == tex
    poll(page, "() => document.getElementById('live').textContent.includes('copied')")

    cb = page.locator(".codeblock").first
    cb.scroll_into_view_if_needed()
    cb.locator(".copy-btn").click()
    code = cb.locator("pre").inner_text()
    assert page.evaluate("navigator.clipboard.readText()").strip() == code.strip()


def test_citation_card_on_focus(tab):
    tab.goto("grpo/")
    page = tab.page
    cite = page.locator("a.cite").first
    ref_id = cite.get_attribute("href").lstrip("#")
    ref_text = page.locator(f"#{ref_id}").inner_text().strip()
    cite.focus()
    card = page.locator("#cite-card")
    assert card.is_visible()
    assert ref_text[:40] in card.inner_text()
    assert cite.get_attribute("aria-describedby") == "cite-card"
    page.keyboard.press("Escape")
    assert card.is_hidden()


def test_toc_scroll_spy_and_current_chapter(tab):
    tab.goto("grpo/")
    page = tab.page
    assert page.get_attribute('.chapter-nav a[aria-current="page"]', "href").endswith("grpo/")
    links = page.locator("#toc a")
    assert links.count() >= 3
    target = links.nth(2).get_attribute("href")
    page.evaluate("id => document.getElementById(id).scrollIntoView({block: 'start'})", target[1:])
    poll(page, "id => document.querySelector('#toc a.active')?.getAttribute('href') === id", target)
    assert page.locator('#toc a[aria-current="location"]').count() == 1


def test_phone_layout_has_no_horizontal_scroll_and_a_drawer(open_tab, html_pages):
    t = open_tab(viewport={"width": 375, "height": 740}, has_touch=True, is_mobile=True)
    page = t.page
    for path in html_pages:
        for depth in LAYERS:
            t.goto(f"{path}?depth={depth}")
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= 375, f"{path} at depth {depth}: page is {width}px wide"
    t.goto("grpo/")
    assert page.locator(".chapter-nav").is_hidden()
    page.click(".menu-btn")
    assert page.get_attribute(".menu-btn", "aria-expanded") == "true"
    page.wait_for_selector(".chapter-nav a[aria-current=page]", state="visible")
    box = page.locator(".menu-btn").bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44
    page.keyboard.press("Escape")
    assert page.get_attribute(".menu-btn", "aria-expanded") == "false"


# ---------------------------------------------------------------- accessibility

@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_reports_no_violations(open_tab, html_pages, scheme):
    if not AXE.exists():
        pytest.fail("node_modules/axe-core is missing (scripts/setup.sh installs it)")
    t = open_tab(color_scheme=scheme, bypass_csp=True)   # bypass only to inject axe itself
    found = {}
    for path in html_pages:
        for depth in LAYERS:
            t.goto(f"{path}?depth={depth}")
            t.page.add_script_tag(path=str(AXE))
            violations = t.page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
                .violations.map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))""")
            if violations:
                found[f"{path}?depth={depth}"] = violations
    assert found == {}, json.dumps(found, indent=1)
