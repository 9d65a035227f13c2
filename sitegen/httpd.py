"""A static file server like any static host: the right types for modules and wasm, the site's 404.html for a
missing path, the site optionally under a path prefix (``/repo/`` as on GitHub Pages), and quiet logs.

Used by ``python build.py serve`` (which adds live reload on top) and by the tests and benchmarks
(tests/support.py)."""
from __future__ import annotations

import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm", ".woff2": "font/woff2"}


def normalize_prefix(prefix: str) -> str:
    """``"a/b"`` -> ``"/a/b/"``; ``""`` and ``"/"`` -> ``"/"``."""
    parts = [p for p in prefix.split("/") if p]
    return "/" + "".join(p + "/" for p in parts)


class StaticHandler(SimpleHTTPRequestHandler):
    """Serves ``directory`` under ``prefix``. A request outside the prefix, or for a missing file, gets 404 (with
    the site's 404.html as the body, if there is one). A reader who closes the tab mid-response is not an error."""
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}
    prefix = "/"

    def __init__(self, *args, prefix: str = "/", **kwargs):
        self.prefix = normalize_prefix(prefix)
        super().__init__(*args, **kwargs)

    def log_message(self, *args) -> None:
        pass

    def site_path(self, url_path: str) -> str | None:
        """The request's path relative to the site root ("/" + rest), or None if it is outside the prefix."""
        path = urlsplit(url_path).path
        if self.prefix == "/":
            return path
        if path + "/" == self.prefix:
            return None   # "/repo" -> redirected to "/repo/" by send_head below
        return "/" + path[len(self.prefix):] if path.startswith(self.prefix) else None

    def translate_path(self, path: str) -> str:
        rest = self.site_path(path)
        if rest is None:
            return str(Path(self.directory) / ".outside-the-prefix")   # never exists
        return super().translate_path(rest)

    def send_head(self):
        path = urlsplit(self.path).path
        if self.prefix != "/" and path + "/" == self.prefix:
            self.send_response(301)
            self.send_header("Location", self.prefix)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return super().send_head()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404, message)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print a traceback when a browser closes a connection mid-response."""
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            super().handle_error(request, client_address)


def start(directory: Path, *, prefix: str = "/", handler: type[StaticHandler] = StaticHandler,
          port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``directory`` at ``http://127.0.0.1:PORT<prefix>`` from a daemon thread. Returns (server, url of the
    site root, ending in /); stop with ``server.shutdown(); server.server_close()``."""
    prefix = normalize_prefix(prefix)
    server = QuietServer(("127.0.0.1", port), partial(handler, directory=str(directory), prefix=prefix))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}{prefix}"
