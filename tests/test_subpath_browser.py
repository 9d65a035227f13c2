"""The site under a deep path prefix, as on https://USER.github.io/REPO/ but three levels deep: built with
`--pyodide local --base-url http://127.0.0.1:PORT/a/b/c/` and served only under /a/b/c/ (anything outside it is
a 404). In Chromium, every page loads with no failed request, no request outside the prefix and no console error;
every demo goes live (the self-hosted Pyodide is found under the prefix); search finds the GRPO chapter; and the
404 page, served for a missing address at any depth, links to pages that exist."""
from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlparse

import pytest

from support import build_site, chapters_with_demos, poll, serve_site, site_pages, wait_live, watch

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("subpath")]

PREFIX = "/a/b/c/"


@pytest.fixture(scope="module")
def sub_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("subpath") / "site"
    server = serve_site(root, prefix=PREFIX)          # first: the build needs the port for --base-url
    try:
        build_site(root, "--pyodide", "local", "--base-url", server.url)
        yield server
    finally:
        server.stop()


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def open_page(browser, site, path: str):
    """A watched page on `path` (relative to the site root) that also records every HTTP error response."""
    w = watch(browser, site.url, viewport={"width": 1280, "height": 900})
    w.http_errors = []
    w.context.on("response", lambda r: w.http_errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    w.page.goto(site.url + path)
    return w


def outside_prefix(w, site) -> list[str]:
    return [u for u in w.requests if urlparse(u).scheme not in ("data", "blob") and not u.startswith(site.url)]


def test_the_server_serves_only_under_the_prefix(sub_site):
    assert sub_site.url.endswith(PREFIX)
    assert status(sub_site.url) == 200 and status(sub_site.url + "grpo/") == 200
    assert status(sub_site.origin) == 404 and status(sub_site.origin + "grpo/") == 404


def test_every_page_loads_under_the_prefix(browser, sub_site):
    pages = site_pages(sub_site.root)
    assert "" in pages and "grpo/" in pages and "404.html" in pages
    problems = []
    for path in pages:
        w = open_page(browser, sub_site, path)
        try:
            w.page.wait_for_load_state("load")
            for fig in w.page.locator("img").all():            # lazy images too
                fig.scroll_into_view_if_needed()
            poll(w.page, "() => [...document.images].every((i) => i.complete)", message=f"{path}: images")
            broken = w.page.evaluate("() => [...document.images].filter((i) => !i.naturalWidth).map((i) => i.src)")
            problems += [f"{path}: {p}" for p in w.http_errors + w.failed + outside_prefix(w, sub_site) + w.console
                         + [f"broken image {b}" for b in broken] + w.csp_violations()]
        finally:
            w.close()
    assert not problems, "\n".join(problems)


def test_every_demo_goes_live_under_the_prefix(browser, sub_site):
    chapters = chapters_with_demos(sub_site.root)
    assert "grpo/" in chapters
    for path in chapters:
        w = open_page(browser, sub_site, path)
        try:
            assert w.page.locator("figure.demo[data-demo]").count() > 0
            wait_live(w.page)
            pyodide = [u for u in w.requests if "/pyodide/" in u]
            assert pyodide and all(u.startswith(sub_site.url + "pyodide/") for u in pyodide), pyodide
            problems = w.http_errors + w.failed + outside_prefix(w, sub_site) + w.console + w.csp_violations()
            assert not problems, f"{path}:\n" + "\n".join(problems)
        finally:
            w.close()


def test_search_finds_the_grpo_chapter_under_the_prefix(browser, sub_site):
    w = open_page(browser, sub_site, "ppo/")
    try:
        w.page.fill("#search-input", "group relative policy optimization")
        hrefs = poll(w.page, """() => {
            const links = [...document.querySelectorAll('#search-results [role="option"]')].map((a) => a.href);
            return links.length ? links : null;
        }""", message="search results")
        assert sub_site.url + "grpo/" in [h.split("#")[0] for h in hrefs], hrefs
        assert all(h.startswith(sub_site.url) for h in hrefs), hrefs
        assert not (w.http_errors + w.failed + outside_prefix(w, sub_site) + w.console)
    finally:
        w.close()


def test_404_page_at_any_depth_links_to_pages_that_exist(browser, sub_site):
    w = watch(browser, sub_site.url)
    w.http_errors = []
    w.context.on("response", lambda r: w.http_errors.append(f"{r.status} {r.url}")
                 if r.status >= 400 and r.request.resource_type != "document" else None)
    try:
        response = w.page.goto(sub_site.url + "no/such/chapter/here/")
        assert response.status == 404
        assert w.page.locator("#nf-title").count() == 1, "the server did not answer with the site's 404 page"
        links = w.page.eval_on_selector_all("main a[href], .chapter-nav a[href], .site-title",
                                            "els => els.map((a) => a.href)")
        assert len(links) >= 3
        for link in links:
            assert link.startswith(sub_site.url), link
            assert status(link) == 200, link
        w.page.locator("main a.chapter-link").first.click()
        w.page.wait_for_load_state("load")
        assert w.page.url.startswith(sub_site.url) and w.page.locator("h1").count() == 1
        # Chromium logs the 404 of the document itself; any other 404 is a subresource and is in http_errors
        console = [m for m in w.console if "status of 404" not in m]
        assert w.console.count("console.error: Failed to load resource: the server responded with a status of 404 "
                               "(File not found)") <= 1
        assert not (w.http_errors + w.failed + outside_prefix(w, sub_site) + console)
    finally:
        w.close()


def test_the_prefix_without_its_slash_redirects(sub_site):
    assert status(sub_site.url.rstrip("/")) == 200          # urllib follows the 301 to /a/b/c/
