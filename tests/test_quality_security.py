"""Security of the built site in headless Chromium: the Content-Security-Policy is present and enforced,
self-hosted mode never leaves the origin, CDN mode only reaches the pinned Pyodide release and refuses any byte
that does not match its Subresource Integrity, code the reader edits runs only in the worker, and bad URL state
gives defaults with a visible note.

(tests/test_site_static.py already checks the built files for inline scripts, style attributes and handlers;
these tests check what the browser does.)"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from playwright.sync_api import expect

from support import build_site, chapters_with_demos, demo_states, poll, served, site_pages, wait_live, wake_demos, watch

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("site")]

CDN_PREFIX = "https://cdn.jsdelivr.net/pyodide/v0.27.7/full/"
TAMPER_DETECT_MS = 45_000
SRI_FILES = ["pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"]
EVAL_FAMILY = re.compile(r"\beval\s*\(|\bnew\s+Function\b|(?<![\w.$])Function\s*\(|"
                         r"\bset(?:Timeout|Interval)\s*\(\s*['\"`]|\bexecScript\b")


# ----------------------------------------------------------------------------- helpers

class Head(HTMLParser):
    """The order of elements in <head> and every script/link of the page."""
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.head: list[tuple[str, dict]] = []
        self.scripts: list[dict] = []
        self.in_head = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "head":
            self.in_head = True
        elif self.in_head:
            self.head.append((tag, a))
        if tag == "script":
            self.scripts.append(a)

    def handle_endtag(self, tag):
        if tag == "head":
            self.in_head = False


def parse_head(path: Path) -> Head:
    h = Head()
    h.feed(path.read_text(encoding="utf-8"))
    return h


def csp_of(head: Head) -> dict[str, list[str]]:
    metas = [a for t, a in head.head if t == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy"]
    assert len(metas) == 1, f"{len(metas)} CSP meta elements"
    out = {}
    for part in metas[0]["content"].split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@pytest.fixture(scope="module")
def cdn_site(tmp_path_factory):
    """The real site built with --pyodide cdn (the default for publishing), served on 127.0.0.1."""
    out = build_site(tmp_path_factory.mktemp("cdn") / "site", "--pyodide", "cdn", "--no-search")
    with served(out) as s:
        yield out, s.url


def fake_cdn(w, files: Path, tamper: str | None = None, log: list | None = None) -> None:
    """Answer the pinned jsDelivr URLs from the self-hosted copy (same bytes), with the CORS header the real CDN
    sends. `tamper` flips one byte of that file, as a compromised CDN would."""
    def handle(route):
        w.requests.append(route.request.url)      # this route runs before watch()'s recorder
        name = route.request.url[len(CDN_PREFIX):].split("?")[0]
        if log is not None:
            log.append(name)
        path = files / name
        if not path.is_file():
            return route.fulfill(status=404, body="not found", headers={"access-control-allow-origin": "*"})
        body = bytearray(path.read_bytes())
        if name == tamper:
            body[len(body) // 2] ^= 0x01
        ctype = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
                 ".json": "application/json"}.get(path.suffix, "application/octet-stream")
        route.fulfill(status=200, body=bytes(body), headers={"content-type": ctype, "access-control-allow-origin": "*",
                                                             "cache-control": "public, max-age=31536000, immutable"})
    w.context.route(CDN_PREFIX + "**", handle)


# ----------------------------------------------------------------------------- the policy itself

def test_csp_comes_first_and_allows_only_self_and_wasm(real_site: Path):
    pages = site_pages(real_site)
    assert len(pages) >= 3
    for rel in pages:
        path = real_site / (rel + "index.html" if rel.endswith("/") or not rel else rel)
        head = parse_head(path)
        tags = [t for t, _ in head.head]
        first_active = next(i for i, (t, a) in enumerate(head.head) if t in ("script", "link", "style"))
        csp_at = next(i for i, (t, a) in enumerate(head.head) if (a.get("http-equiv") or "").lower() == "content-security-policy")
        assert csp_at < first_active, f"{rel}: the CSP meta must come before any script/style ({tags[:6]})"
        csp = csp_of(head)
        for directive in ("default-src", "script-src", "style-src", "connect-src", "worker-src", "object-src", "base-uri"):
            assert directive in csp, f"{rel}: no {directive}"
        for directive, values in csp.items():
            assert "'unsafe-inline'" not in values and "'unsafe-eval'" not in values, f"{rel}: {directive} {values}"
            assert "*" not in values and "data:" not in values or directive == "img-src", f"{rel}: {directive} {values}"
            assert not any(v.startswith("http") for v in values), f"{rel}: self-hosted page allows {directive} {values}"
        assert csp["script-src"] == ["'self'", "'wasm-unsafe-eval'"], csp["script-src"]
        assert csp["object-src"] == ["'none'"]


def test_cdn_build_allows_only_the_pinned_cdn_with_sri(cdn_site, real_site):
    out, _ = cdn_site
    pages = site_pages(out)
    for rel in pages:
        path = out / (rel + "index.html" if rel.endswith("/") or not rel else rel)
        head = parse_head(path)
        csp = csp_of(head)
        for directive, values in csp.items():
            assert "'unsafe-inline'" not in values and "'unsafe-eval'" not in values, f"{rel}: {directive}"
            for v in values:
                if v.startswith("http"):
                    assert (v.rstrip("/") == "https://cdn.jsdelivr.net" or v.startswith(CDN_PREFIX)) \
                        and directive in ("script-src", "connect-src"), f"{rel}: {directive} allows {v}"
        base = "http://site/" + path.relative_to(out).as_posix()
        for s in head.scripts:
            if s.get("src") and urlparse(urljoin(base, s["src"])).netloc != "site":
                assert s.get("integrity", "").startswith(("sha384-", "sha512-")) and "crossorigin" in s, \
                    f"{rel}: cross-origin <script src={s['src']}> without SRI"
        html = path.read_text(encoding="utf-8")
        runtime = re.findall(r'<script type="application/json" id="demo-runtime">(.*?)</script>', html, re.S)
        assert len(runtime) == ('class="demo ' in html), f"{rel}: {len(runtime)} runtime settings in <head>"
        for m in runtime:
            integrity = json.loads(m)["integrity"]
            for name in SRI_FILES:
                assert name in integrity, f"{rel}: no SRI for {name}"
                assert integrity[name] == sri((real_site / "pyodide" / name).read_bytes()), \
                    f"{rel}: the SRI of {name} does not match the pinned release's bytes"
        if 'class="demo' in html:
            assert CDN_PREFIX in html, f"{rel}: the demos do not point at the pinned CDN release"


PROBE = b"""
const s = document.createElement('script');
s.textContent = 'window.__inlineRan = true';
document.head.append(s);
try { (0, eval)('window.__evalRan = true'); } catch (e) { window.__evalError = e.name; }
try { new Function('window.__functionRan = true')(); } catch (e) { window.__functionError = e.name; }
window.__probeDone = true;
"""


def test_browser_enforces_the_csp(served_site, browser):
    """A same-origin page script (allowed) that injects an inline script, calls eval and new Function: all three
    are refused and reported as CSP violations, on a real page."""
    w = watch(browser, served_site.url)
    try:
        page = w.page
        page.route(f"{w.origin}__probe__/csp.js",
                   lambda r: r.fulfill(status=200, body=PROBE, headers={"content-type": "text/javascript"}))
        page.goto(served_site.url + "grpo/")
        page.evaluate("(src) => { const s = document.createElement('script'); s.src = src; document.head.append(s); }",
                      f"{w.origin}__probe__/csp.js")
        poll(page, "() => window.__probeDone === true", message="the probe script to finish")
        got = page.evaluate("({inline: !!window.__inlineRan, eval: !!window.__evalRan, fn: !!window.__functionRan,"
                            " evalError: window.__evalError, functionError: window.__functionError})")
        assert not got["inline"], "an injected inline script ran: the CSP is not enforced"
        assert not got["eval"] and got["evalError"] == "EvalError", got
        assert not got["fn"] and got["functionError"] == "EvalError", got
        page.wait_for_timeout(200)
        violations = w.csp_violations()
        assert any("script-src" in v and "inline" in v for v in violations), violations
        assert any("script-src" in v and "eval" in v for v in violations), violations
    finally:
        w.close()


# ----------------------------------------------------------------------------- where requests go

def test_self_hosted_pages_never_leave_the_origin(served_site, browser):
    """Every page loaded, demos live: every request (page and workers) stays on 127.0.0.1, no CSP violation,
    no console error."""
    w = watch(browser, served_site.url)
    try:
        page = w.page
        problems = []
        for rel in site_pages(served_site.root):
            page.goto(served_site.url + rel)
            if page.locator("figure.demo[data-demo]").count():
                wait_live(page)
            page.wait_for_load_state("networkidle")
            if v := w.csp_violations():
                problems.append(f"{rel}: CSP violations {v}")
        assert not w.offsite(), "requests off 127.0.0.1:\n" + "\n".join(w.offsite())
        assert any("/pyodide/pyodide.asm.wasm" in u for u in w.requests), "the worker's requests were not observed"
        assert not problems, "\n".join(problems)
        assert not w.console, "\n".join(w.console)
    finally:
        w.close()


def test_cdn_mode_reaches_only_the_pinned_release_and_goes_live(cdn_site, real_site, browser):
    out, url = cdn_site
    w = watch(browser, url)
    try:
        fetched: list[str] = []
        fake_cdn(w, real_site / "pyodide", log=fetched)
        page = w.page
        rels = chapters_with_demos(out)
        assert rels, "no chapter with a demo in the cdn build"
        page.goto(url + rels[0])
        wait_live(page)
        offsite = w.offsite()
        assert offsite, "the demos did not use the CDN in cdn mode"
        assert all(u.startswith(CDN_PREFIX) for u in offsite), "off-origin requests outside the pinned release:\n" + \
            "\n".join(u for u in offsite if not u.startswith(CDN_PREFIX))
        assert {"pyodide.mjs", "pyodide.asm.wasm", "python_stdlib.zip"} <= set(fetched), fetched
        assert not w.csp_violations()
        assert not w.console, "\n".join(w.console)
    finally:
        w.close()


def test_cdn_mode_warm_reload_restores_the_snapshot_and_numpy(cdn_site, real_site, browser):
    """The default deploy (cdn mode) keeps its warm start too: after the first visit the helper stores the snapshot
    and numpy's installed files (named by the pinned hashes, in this origin's private file system), and a reload
    restores both; no request leaves the pinned release, no console message."""
    out, url = cdn_site
    w = watch(browser, url)
    marks = lambda p: set(p.evaluate("() => performance.getEntriesByType('mark').map((m) => m.name)"))  # noqa: E731
    try:
        fake_cdn(w, real_site / "pyodide")
        w.page.goto(url + chapters_with_demos(out)[0])
        wait_live(w.page)
        poll(w.page, lambda p: {"demo-snapshot-stored", "demo-packages-stored"} <= marks(p), timeout_ms=90_000,
             message=lambda p: f"caches not stored; marks: {sorted(marks(p))}")
        w.page.reload()
        wait_live(w.page)
        assert {"demo-snapshot-restored", "demo-packages-restored"} <= marks(w.page)
        assert all(u.startswith(CDN_PREFIX) for u in w.offsite())
        assert not w.csp_violations()
        assert not w.console, "\n".join(w.console)
    finally:
        w.close()


@pytest.mark.parametrize("tampered", SRI_FILES + ["numpy"])
def test_cdn_mode_refuses_tampered_bytes(cdn_site, real_site, browser, tampered):
    """A CDN serving one flipped byte in any runtime file (or the numpy wheel) never gets to run: the demo stays
    static with its error line."""
    out, url = cdn_site
    name = tampered if tampered != "numpy" else next(p.name for p in (real_site / "pyodide").glob("numpy-*.whl"))
    w = watch(browser, url, console_levels=())
    try:
        fake_cdn(w, real_site / "pyodide", tamper=name)
        page = w.page
        page.goto(url + "grpo/")
        wake_demos(page)
        try:      # a refused file must end the loading at once, not after the runtime's 120 s boot timeout
            poll(page, "() => [...document.querySelectorAll('figure.demo[data-demo]')].every((f) => "
                       "['live', 'error'].includes(f.dataset.state))", timeout_ms=TAMPER_DETECT_MS)
        except Exception:
            pytest.fail(f"tampered {name}: the demos were still loading after {TAMPER_DETECT_MS / 1000:.0f} s "
                        f"({demo_states(page)}); the refusal must surface as an error with retry")
        states = demo_states(page)
        assert set(states.values()) == {"error"}, f"tampered {name}: {states}"
        assert page.locator("figure.demo .demo-retry").first.is_visible()
    finally:
        w.close()


# ----------------------------------------------------------------------------- reader code stays in the worker

def test_shipped_main_thread_js_never_evaluates_strings(real_site: Path):
    files = [p for p in (real_site / "assets").rglob("*.js")] + list((real_site / "pagefind").glob("*.js"))
    assert any(p.name == "demos.js" for p in files) and any(p.name == "site.js" for p in files)
    offenders = []
    for p in files:
        text = p.read_text(encoding="utf-8", errors="replace")
        for m in EVAL_FAMILY.finditer(text):
            offenders.append(f"{p.relative_to(real_site)}: …{text[max(0, m.start() - 40): m.end() + 40]}…")
    assert not offenders, "\n".join(offenders)
    worker = (real_site / "assets" / "demos" / "worker.mjs").read_text(encoding="utf-8")
    assert "integrity" in worker and "new Worker" not in worker


def test_code_the_reader_edits_runs_in_the_worker_not_the_page(served_site, browser):
    w = watch(browser, served_site.url)
    try:
        page = w.page
        page.goto(served_site.url + "grpo/")
        wait_live(page)
        fig = page.locator('figure.demo[data-demo="group-advantage"]')
        fig.locator('[role="tab"]:text-is("Python")').click()
        editor = fig.locator("textarea.demo-code-editor").first
        title = page.title()
        editor.fill(editor.input_value() + "\n\nimport js\njs.document.title = 'changed by the reader'\n")
        fig.locator(".demo-run").click()
        poll(page, "(f) => !f.querySelector('.demo-error').hidden", fig.element_handle())
        error = fig.locator(".demo-error").inner_text()
        assert "document" in error, error      # the worker's global scope has no document
        assert page.title() == title
        # the worker's global is a WorkerGlobalScope, and the page is still live and answering
        editor.fill(editor.input_value().replace("js.document.title = 'changed by the reader'",
                                                 "assert type(js.self).__name__ != 'Window' and not hasattr(js, 'document')"))
        fig.locator(".demo-run").click()
        poll(page, "(f) => f.querySelector('.demo-error').hidden", fig.element_handle())
        assert fig.get_attribute("data-state") == "live"
        assert not w.console, "\n".join(w.console)
    finally:
        w.close()


# ----------------------------------------------------------------------------- URL state is validated

BAD_DEPTHS = ["", "MATH", "math ", "deep", "<img src=x onerror=window.__xss=1>", "x" * 5000, "%E0%A4%A"]


@pytest.mark.parametrize("bad", BAD_DEPTHS, ids=["empty", "upper", "space", "unknown", "html", "long", "undecodable"])
def test_malformed_depth_gives_default_and_note(served_site, browser, bad):
    w = watch(browser, served_site.url)
    try:
        page = w.page
        from urllib.parse import quote
        q = bad if bad.startswith("%") else quote(bad)
        page.goto(f"{served_site.url}grpo/?depth={q}")
        assert page.evaluate("document.documentElement.dataset.depth") == "implementation"
        assert page.locator('input[name="depth"]:checked').get_attribute("value") == "implementation"
        note = page.locator("#depth-note")
        assert note.is_visible(), f"no visible note for ?depth={bad[:40]!r}"
        assert "depth" in note.inner_text().lower()
        assert not page.evaluate("window.__xss === 1") and not note.locator("img").count()
        assert not w.console, "\n".join(w.console)
        # a good value after a bad one: the note goes away once the reader chooses
        page.click('label[for="depth-math"]')
        assert page.evaluate("document.documentElement.dataset.depth") == "math"
    finally:
        w.close()


def initial_demo_state(page, name: str) -> dict:
    return json.loads(page.locator(f'figure.demo[data-demo="{name}"] script.demo-initial').text_content())


BAD_HASHES = {
    "garbage": "garbage",
    "out-of-range": "g:mixed;r:9,9,9,9,9,9,9,9;n:1;d:1;b:mean",
    "nan": "g:mixed;r:NaN,0,0,0,0,0,0,0;n:1;d:1;b:mean",
    "too-few": "g:mixed;r:1,0;n:1;d:1;b:mean",
    "bad-ddof": "g:mixed;r:1,0,1,1,0,0,1,0;n:1;d:7;b:mean",
    "bad-baseline": "g:mixed;r:1,0,1,1,0,0,1,0;n:1;d:1;b:median",
    "html": "%3Cimg%20src%3Dx%20onerror%3Dwindow.__xss%3D1%3E",
    "undecodable": "%E0%A4%A",
    "long": "r:" + ",".join(["0.5"] * 4000),
}


@pytest.mark.parametrize("case", list(BAD_HASHES))
def test_malformed_demo_hash_gives_defaults_and_note(served_site, browser, case):
    w = watch(browser, served_site.url)
    try:
        page = w.page
        page.goto(f"{served_site.url}grpo/#demo-group-advantage={BAD_HASHES[case]}")
        fig = page.locator('figure.demo[data-demo="group-advantage"]')
        init = initial_demo_state(page, "group-advantage")
        note = fig.locator(".demo-note")
        # the view module is imported after the page loads: wait for the note (Playwright's expect, no eval)
        expect(note, f"no visible note for hash {case}").to_be_visible(timeout=30_000)
        assert "default" in note.inner_text().lower()
        values = [float(v) for v in fig.locator(".ga-slider").evaluate_all("ss => ss.map(s => s.value)")]
        assert values == [float(r) for r in init["rewards"]]
        assert not page.evaluate("window.__xss === 1") and not note.locator("img").count()
        wait_live(page)
        adv = [float(a) for a in fig.locator("[data-advantage]").evaluate_all("es => es.map(e => e.dataset.advantage)")]
        assert adv == pytest.approx(init["result"]["advantages"], abs=1e-9)
        assert not w.console, "\n".join(w.console)
    finally:
        w.close()


def test_valid_demo_hash_is_applied(served_site, browser):
    """The positive control of the test above: a well-formed hash sets the sliders and no note shows."""
    rewards = [0.7, 1.0, 1.0, 0.9, 1.0, 0.8, 1.0, 0.9]
    w = watch(browser, served_site.url)
    try:
        page = w.page
        page.goto(f"{served_site.url}grpo/#demo-group-advantage=g:strong;r:{','.join(map(str, rewards))};n:1;d:1;b:mean")
        fig = page.locator('figure.demo[data-demo="group-advantage"]')
        # once the view has applied the hash (sliders moved), no note may show
        poll(page, "([f, want]) => [...f.querySelectorAll('.ga-slider')].every((s, i) => Number(s.value) === want[i])",
             [fig.element_handle(), rewards], message="the sliders to take the hash")
        assert not fig.locator(".demo-note").is_visible()
        wait_live(page)
        from demos import grpo_core  # CPython's numpy on the same rewards
        expected = grpo_core.group_advantages([rewards], scale="group", baseline="mean", ddof=1)[0]
        poll(page, "(f) => !f.classList.contains('is-pending')", fig.element_handle())
        adv = [float(a) for a in fig.locator("[data-advantage]").evaluate_all("es => es.map(e => e.dataset.advantage)")]
        assert adv == pytest.approx(list(expected), abs=1e-9)
        assert not w.console, "\n".join(w.console)
    finally:
        w.close()
