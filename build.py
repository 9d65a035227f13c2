#!/usr/bin/env python3
"""Build the site: content/ + templates/ + demos/ -> site/.

    python build.py                       build into site/ (Pyodide from the pinned CDN)
    python build.py --pyodide local       self-hosted Pyodide in site/pyodide/ (works with no network)
    python build.py --out DIR             build somewhere else
    python build.py --base-url URL        the address the site is published at (canonical URLs, sitemap)
    python build.py serve [--port 8000]   build, serve on 127.0.0.1, rebuild on change

Load -> validate -> render happen in memory; every problem of the run is printed as
``path:line: [code] message`` and the build exits 1 without touching the last good site.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

from sitegen.diagnostics import BuildFailed
from sitegen.pipeline import Options, build

PROJECT = Path(__file__).resolve().parent


def options(args: argparse.Namespace) -> Options:
    project = Path(args.project).resolve()
    out = Path(args.out).resolve() if args.out else project / "site"
    return Options(project=project, out=out, pyodide=args.pyodide,
                   base_url=args.base_url, search=not args.no_search)


def base_url(value: str) -> str:
    """--base-url: an absolute http(s) URL with a host and no query or fragment; returned ending in '/'."""
    u = urlsplit(value)
    if u.scheme not in ("http", "https") or not u.netloc or u.query or u.fragment:
        raise argparse.ArgumentTypeError(f"{value!r} is not an absolute http(s) URL such as https://USER.github.io/REPO/")
    return value if value.endswith("/") else value + "/"


def run_build(opts: Options) -> int:
    try:
        result = build(opts)
    except BuildFailed as e:
        for d in e.diagnostics:
            print(d, file=sys.stderr)
        n = len(e.diagnostics)
        print(f"build failed: {n} problem{'s' if n != 1 else ''}; {opts.out} was left as it was", file=sys.stderr)
        return 1
    print(f"built {len(result.pages)} pages, {result.stats['math']} formulas, demos: "
          f"{', '.join(result.stats['demos']) or 'none'} -> {opts.out} in {result.seconds:.1f} s (pyodide: {opts.pyodide})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=["build", "serve"], default="build")
    parser.add_argument("--out", default=None, help="output directory (default: site/ of the project)")
    parser.add_argument("--project", default=str(PROJECT), help=argparse.SUPPRESS)  # tests build fixture projects
    parser.add_argument("--pyodide", choices=["cdn", "local"], default=None,
                        help="where the browser loads Pyodide from (default: cdn for build, local for serve)")
    parser.add_argument("--base-url", default=None, type=base_url,
                        help="absolute URL the site is published at, e.g. https://USER.github.io/REPO/: makes the "
                             "canonical and Open Graph URLs, sitemap.xml and the 404 page's links (default: none of "
                             "those URLs, a 404 page for a site at the root of its host)")
    parser.add_argument("--no-search", action="store_true", help="skip the Pagefind search index")
    parser.add_argument("--port", type=int, default=8000, help="port for serve (127.0.0.1 only)")
    args = parser.parse_args(argv)
    if args.command == "serve":
        args.pyodide = args.pyodide or "local"
        from sitegen.serve import serve
        return serve(options(args), port=args.port)
    args.pyodide = args.pyodide or "cdn"
    return run_build(options(args))


if __name__ == "__main__":
    sys.exit(main())
