"""What the tests and the benchmarks share (bench/ imports this module too; never conftest.py):

* the site: built in a subprocess (`run_build`, `build_site`) and served like a static host, optionally under a
  path prefix (`serve_site`, on sitegen/httpd.py);
* Chromium: where it is and how it is launched (`chromium_path`, `CHROMIUM_ARGS`, `launch_chromium`);
* a watched page (`watch`): a `Watched` page records what a reader's browser would complain about: console
  errors and warnings, uncaught exceptions, Content-Security-Policy violations (a `securitypolicyviolation`
  listener installed before any page script runs) and every request it makes, including the Pyodide worker's;
* waiting without `wait_for_function` (`poll`): Playwright's `wait_for_function` runs its predicate through
  `globalThis.eval` in the page on every re-check (its `waitForFunctionExpression`), which the site's CSP
  (no 'unsafe-eval') forbids, so such a wait passes only when its first check is already true. `poll`
  evaluates the same function from Python (`page.evaluate`, not subject to the CSP) until it is truthy.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sitegen import httpd

ROOT = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------------------- building

class BuildError(RuntimeError):
    """build.py exited non-zero (the message carries its stderr)."""


def run_build(*args: str, project: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python build.py ARGS` in a subprocess (fresh imports, like a user's command); `project` builds another
    project folder (tests' fixture projects), `env` replaces the environment. Never raises on a failed build:
    look at returncode/stderr."""
    extra = ["--project", str(project)] if project is not None else []
    return subprocess.run([sys.executable, str(ROOT / "build.py"), *extra, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)


def build_site(out: Path, *args: str, project: Path | None = None) -> Path:
    """Build into `out` (e.g. `build_site(out, "--pyodide", "local")`); raises BuildError with the diagnostics."""
    r = run_build("--out", str(out), *args, project=project)
    if r.returncode != 0:
        raise BuildError(f"the site does not build (build.py {' '.join(args)}):\n{r.stderr[-4000:]}")
    return out


# ----------------------------------------------------------------------------- serving

@dataclass
class Served:
    root: Path
    url: str          # http://127.0.0.1:PORT<prefix>, ends with /
    server: Any = None

    @property
    def origin(self) -> str:
        return "/".join(self.url.split("/", 3)[:3]) + "/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_site(root: Path, prefix: str = "/", handler: type[httpd.StaticHandler] = httpd.StaticHandler) -> Served:
    """Serve `root` on 127.0.0.1 (a free port) under `prefix`, as a static host would: text/javascript for .js/.mjs,
    application/wasm, the site's 404.html for a missing path, quiet logs, no traceback when the browser drops a
    connection. `root` may be built after the server started (the port is known first). Call .stop() at the end."""
    server, url = httpd.start(root, prefix=prefix, handler=handler)
    return Served(root, url, server)


@contextmanager
def served(root: Path, prefix: str = "/") -> Iterator[Served]:
    s = serve_site(root, prefix)
    try:
        yield s
    finally:
        s.stop()


# ----------------------------------------------------------------------------- Chromium

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    """Debian's Chromium (Playwright's own browser download does not work here); $CHROMIUM overrides."""
    for p in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
              shutil.which("chromium-browser")):
        if p and Path(p).exists():
            return p
    raise RuntimeError("Chromium is not installed: run scripts/setup.sh --test (make test does)")


def launch_chromium(playwright, **kwargs):
    """Headless Chromium from a `sync_playwright()` instance."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, **kwargs)


# ----------------------------------------------------------------------------- waiting

def poll(page, js: str | Callable[[Any], Any], arg: Any = None, *, timeout_ms: float = 30_000,
         interval_ms: float = 100, message: str | Callable[[], str] = "") -> Any:
    """Evaluate the JS function `js` (with `arg`) in the page, or call the Python function `js(page)`, until it
    returns something truthy; return that. The CSP-safe `wait_for_function` (see the module docstring).
    Raises AssertionError after `timeout_ms`, naming `message` (a callable is asked then: the state at the end)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = js(page) if callable(js) else page.evaluate(js, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            what = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout_ms / 1000:.0f} s waiting for {what or getattr(js, '__name__', js)}")
        page.wait_for_timeout(interval_ms)


# ----------------------------------------------------------------------------- watched pages

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
    poll(page, """() => {
        const figs = [...document.querySelectorAll('figure.demo[data-demo]')];
        return figs.length > 0 && figs.every((f) => f.dataset.state === 'live' || f.dataset.state === 'error');
    }""", timeout_ms=timeout_ms)
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
