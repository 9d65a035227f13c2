"""``python build.py serve``: build, serve on 127.0.0.1, rebuild on change.

A broken edit keeps the last good site online; every HTML page then shows the build's diagnostics in a banner
(injected by the server, so the site itself stays CSP-clean), and pages reload themselves after each rebuild.
Each rebuild runs ``build.py`` in a fresh process: an edit to the generator itself (sitegen/) takes effect at
the next save, and the diagnostics come back as the process's output, not by capturing this process's stderr."""
from __future__ import annotations

import html
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

from .httpd import QuietServer, StaticHandler
from .pipeline import Options

WATCHED = ("content", "templates", "demos", "sitegen", "connections.yaml", "MATH_CONVENTIONS.md")

# the only script added in serve mode: polls the build counter and reloads after a rebuild
RELOAD_JS = """(function(){var v=null;function tick(){fetch('/__build__',{cache:'no-store'}).then(function(r){return r.text()})
.then(function(t){if(v!==null&&t!==v){location.reload()}v=t}).catch(function(){}).finally(function(){setTimeout(tick,1000)})}tick()})();"""


class State:
    def __init__(self) -> None:
        self.generation = 0
        self.error: str | None = None
        self.lock = threading.Lock()


def make_handler(root: Path, state: State):
    class Handler(StaticHandler):     # the static host's types, quiet logs; adds live reload and the banner
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def end_headers(self):
            self.send_header("Cache-Control", "no-cache")
            super().end_headers()

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/__build__":
                return self._send(str(state.generation).encode(), "text/plain")
            if path == "/__reload.js":
                return self._send(RELOAD_JS.encode(), "text/javascript")
            target = Path(self.translate_path(path))
            if target.is_dir():
                target = target / "index.html"
            if target.suffix == ".html" and target.is_file():
                return self._send(self._inject(target.read_text(encoding="utf-8")).encode(), "text/html; charset=utf-8")
            if not target.exists() and not path.startswith("/__"):
                nf = root / "404.html"
                if nf.exists():
                    return self._send(self._inject(nf.read_text(encoding="utf-8")).encode(),
                                      "text/html; charset=utf-8", 404)
            return super().do_GET()

        def _inject(self, page: str) -> str:
            extra = '<script src="/__reload.js"></script>'
            if state.error:
                extra += ('<div class="build-error" role="alert"><p><strong>Build failed</strong> — still serving the '
                          'last good build. Fix the problems below and save.</p><pre>'
                          f"{html.escape(state.error)}</pre></div>")
            return page.replace("</body>", extra + "</body>", 1) if "</body>" in page else page + extra

        def _send(self, body: bytes, ctype: str, code: int = 200):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def build_command(opts: Options) -> list[str]:
    """The command line that builds ``opts`` (a fresh interpreter: current sitegen/, demos/ and templates/)."""
    cmd = [sys.executable, str(Path(__file__).resolve().parent.parent / "build.py"), "--project", str(opts.project),
           "--out", str(opts.out), "--pyodide", opts.pyodide]
    if opts.base_url:
        cmd += ["--base-url", opts.base_url]
    return cmd if opts.search else cmd + ["--no-search"]


def rebuild_once(opts: Options) -> tuple[int, str, str]:
    """Build in a subprocess: (exit code, its report line, the diagnostics it printed)."""
    proc = subprocess.run(build_command(opts), capture_output=True, text=True, encoding="utf-8", check=False)
    return proc.returncode, proc.stdout.strip(), proc.stderr.strip()


def serve(opts: Options, *, port: int) -> int:
    state = State()

    def rebuild() -> None:
        code, report, diagnostics = rebuild_once(opts)
        with state.lock:
            state.error = diagnostics if code else None
            state.generation += 1
        if report:
            print(report)
        if code:
            print(diagnostics, file=sys.stderr)

    started = time.time()
    rebuild()
    if not opts.out.exists():
        print("nothing to serve yet: the first build failed; fix the problems above (watching for changes)")
        opts.out.mkdir(parents=True, exist_ok=True)
    paths = [opts.project / p for p in WATCHED if (opts.project / p).exists()]
    ready, stop = threading.Event(), threading.Event()

    def watcher() -> None:
        from watchfiles import watch
        # yield_on_timeout: the first (empty) yield tells us the watcher is running
        for changes in watch(*[str(p) for p in paths], watch_filter=partial(_relevant, opts.project),
                             yield_on_timeout=True, rust_timeout=300, stop_event=stop):
            ready.set()
            if changes:
                names = sorted({Path(c[1]).name for c in changes})
                print(f"changed: {', '.join(names)} -> rebuilding")
                rebuild()

    threading.Thread(target=watcher, daemon=True).start()
    ready.wait(timeout=30)
    if _newest_mtime(paths) > started:   # edited while the first build ran and the watcher started
        rebuild()
    server = QuietServer(("127.0.0.1", port), make_handler(opts.out, state))
    print(f"serving {opts.out} at http://127.0.0.1:{port}/  (Ctrl-C to stop; rebuilding on change)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
    return 0


def _newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for p in paths:
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
        newest = max([newest] + [f.stat().st_mtime for f in files])
    return newest


def _relevant(project: Path, change, path: str) -> bool:
    p = Path(path)
    return not (p.name.startswith(".") or p.suffix in (".pyc", ".swp", ".tmp") or "__pycache__" in p.parts)
