"""`python build.py serve`: serves on 127.0.0.1, rebuilds on change, and on a broken edit keeps serving the last
good build with the diagnostics shown in the page."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

from conftest import Project
from support import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def wait_for(predicate, timeout=90.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_serve_rebuilds_and_shows_errors_without_losing_the_site(project: Project):
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "serve", "--project", str(project.root),
                             "--port", str(port), "--pyodide", "cdn", "--no-search"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: get(base + "beta/")[0] == 200)
        status, page = get(base + "beta/")
        assert "The clip is a heuristic." in page and "build-error" not in page
        generation = get(base + "__build__")[1]

        # a good edit shows up after the automatic rebuild
        project.edit("content/beta.md", "The clip is a heuristic.", "The clip is only a heuristic.")
        wait_for(lambda: "only a heuristic" in get(base + "beta/")[1])
        # the counter moves once the rebuild returns, a moment after the new site is in place
        wait_for(lambda: get(base + "__build__")[1] != generation)

        # a broken edit: the last good page stays, with the diagnostics on top
        project.edit("content/beta.md", "::: warning", "::: warnin")
        line = project.line_of("content/beta.md", "::: warnin")
        def banner():
            text = get(base + "beta/")[1]
            return text if "build-error" in text else None
        page = wait_for(banner)
        assert "only a heuristic" in page
        assert f"content/beta.md:{line}: [container-unknown] unknown container &#x27;warnin&#x27;" in page

        # fixed again: the banner goes away
        project.edit("content/beta.md", "::: warnin", "::: warning")
        wait_for(lambda: "build-error" not in get(base + "beta/")[1])
        assert get(base + "nope/")[0] == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)
