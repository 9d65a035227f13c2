"""Helpers shared by the quality tests (test_quality_*.py) and bench/bench_quality.py.

A `Watched` page records what a reader's browser would complain about: console errors and warnings,
uncaught exceptions, Content-Security-Policy violations (a `securitypolicyviolation` listener installed
before any page script runs) and every request it makes, including the Pyodide worker's."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

LIVE_TIMEOUT_MS = 120_000      # Pyodide + numpy on a loaded 2-core machine; the runtime's own limit is 120 s

CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def site_pages(root: Path) -> list[str]:
    """Relative URLs of every HTML page of a built site (chapters as `slug/`), Pagefind's files excluded."""
    out = []
    for p in sorted(root.rglob("*.html")):
        rel = p.relative_to(root).as_posix()
        if rel.startswith("pagefind/") or rel.startswith("pyodide/"):
            continue
        out.append(rel[: -len("index.html")] if rel.endswith("index.html") else rel)
    return out


def chapters_with_demos(root: Path) -> list[str]:
    return [u for u in site_pages(root) if u.endswith("/")
            and 'class="demo' in (root / u / "index.html").read_text(encoding="utf-8")]


@dataclass
class Watched:
    context: object
    page: object
    origin: str
    console: list[str] = field(default_factory=list)      # console errors/warnings + uncaught exceptions
    requests: list[str] = field(default_factory=list)     # every URL requested (page and workers)
    failed: list[str] = field(default_factory=list)       # requests that failed (url + reason)

    def csp_violations(self) -> list[str]:
        try:
            return list(self.page.evaluate("window.__cspViolations || []"))
        except Exception:    # page navigated away mid-call: nothing recorded on the new document yet
            return []

    def offsite(self) -> list[str]:
        return [u for u in self.requests if urlparse(u).scheme not in ("data", "blob")
                and not u.startswith(self.origin)]

    def close(self) -> None:
        self.context.close()


def watch(browser, base_url: str, *, offline: bool = True, console_levels=("error", "warning"), **context_args) -> Watched:
    """A new context + page on `base_url`'s origin. offline=True aborts every request off that origin
    (and still records it), so a test never reaches the internet. offline=False only records requests and
    does not intercept them: Playwright's request interception turns the HTTP cache off, so cache
    measurements need offline=False (on a self-hosted site, which never leaves the origin)."""
    origin = base_url.split("/", 3)
    origin = "/".join(origin[:3]) + "/"
    context = browser.new_context(**context_args)
    page = context.new_page()
    w = Watched(context, page, origin)
    context.add_init_script(CSP_LISTENER)

    def route(r):
        url = r.request.url
        w.requests.append(url)
        if offline and not url.startswith(origin) and urlparse(url).scheme not in ("data", "blob"):
            r.abort("blockedbyclient")
        else:
            r.fallback()

    if offline:
        context.route("**/*", route)
    else:
        context.on("request", lambda req: w.requests.append(req.url))
    page.on("console", lambda m: w.console.append(f"console.{m.type}: {m.text}") if m.type in console_levels else None)
    page.on("pageerror", lambda e: w.console.append(f"uncaught: {e}"))
    page.on("requestfailed", lambda r: w.failed.append(f"{r.url} ({r.failure})"))
    return w


def demo_states(page) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('figure.demo[data-demo]')]
        .map((f) => [f.dataset.demo, f.dataset.state]))""")


def wake_demos(page) -> None:
    """Scroll every demo into view once (the runtime starts when the first one comes near the viewport)."""
    for fig in page.locator("figure.demo[data-demo]").all():
        fig.scroll_into_view_if_needed()


def wait_live(page, timeout_ms: int = LIVE_TIMEOUT_MS) -> float:
    """Bring every demo to data-state=live; returns the seconds waited. Fails fast, with the figure's status
    line, if a demo lands in data-state=error."""
    t0 = time.perf_counter()
    wake_demos(page)
    page.wait_for_function("""() => {
        const figs = [...document.querySelectorAll('figure.demo[data-demo]')];
        return figs.length > 0 && figs.every((f) => f.dataset.state === 'live' || f.dataset.state === 'error');
    }""", timeout=timeout_ms, polling=100)
    states = demo_states(page)
    bad = {k: v for k, v in states.items() if v != "live"}
    if bad:
        status = page.evaluate("""() => [...document.querySelectorAll('figure.demo')].map((f) =>
            f.dataset.demo + ': ' + (f.querySelector('.demo-status')?.textContent || '').trim()).join('\\n')""")
        raise AssertionError(f"demos did not go live: {bad}\n{status}")
    return time.perf_counter() - t0


def set_theme(page, theme: str) -> None:
    """Press the header's theme toggle until html[data-theme] is `theme` (auto | light | dark)."""
    for _ in range(4):
        if page.evaluate("document.documentElement.dataset.theme") == theme:
            return
        page.click("#theme-btn")
    raise AssertionError(f"the theme toggle never reached {theme!r}")
