"""The build: gather and validate everything (phase 1), then write (phase 2) into a temporary directory that
replaces the output directory only on success. A failed build raises BuildFailed and leaves the last good site."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jinja2
from pygments.formatters import HtmlFormatter

from . import markdown as mdown
from .diagnostics import BuildFailed, Diagnostics
from .graph import graph_svg, load_connections, load_references, reference_html
from .mathtex import KatexUnavailable, StyleClasses, load_macros, render_batch
from .sources import load_chapter

MARKER = ".grpo-explainer-build.json"
CDN_ORIGIN = "https://cdn.jsdelivr.net"


@dataclass
class Options:
    project: Path
    out: Path
    pyodide: str = "cdn"                         # "cdn" | "local"
    base_url: str | None = None                  # absolute URL the site is published at; None: no absolute URLs
    search: bool = True                          # run Pagefind
    site_title: str = "RL for Language Models, explained"
    tagline: str = "Interactive chapters with real numpy in your browser"
    log: Any = print


@dataclass
class Page:
    path: str                 # relative output path, e.g. "grpo/index.html"
    html: str
    slug: str | None = None


@dataclass
class Result:
    out: Path
    pages: list[str]
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)


def _hash_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def csp(mode: str) -> str:
    cdn = f" {CDN_ORIGIN}" if mode == "cdn" else ""
    return ("default-src 'self'; "
            f"script-src 'self' 'wasm-unsafe-eval'{cdn}; "
            "style-src 'self'; img-src 'self' data:; font-src 'self'; "
            f"connect-src 'self'{cdn}; worker-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'")


def _template_location(exc: BaseException, templates: Path) -> tuple[Path, int]:
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.filename:
        return Path(exc.filename), exc.lineno or 1
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".html") and Path(frame.filename).resolve().is_relative_to(templates.resolve()):
            return Path(frame.filename), frame.lineno or 1
    return templates / "base.html", 1


def _demo_figures(project: Path, names: list[str], diags: Diagnostics, cache: Path) -> dict[str, dict]:
    """Static figure (SVG) and initial state of each demo, made by CPython from demos/figures.py.
    Runs in a subprocess (fresh imports on every rebuild) and is cached on the hash of demos/*.py."""
    if not names:
        return {}
    demos = project / "demos"
    fig = demos / "figures.py"
    if not fig.exists():
        diags.add(fig, 1, "figure", "demos/figures.py is missing: it draws each demo's build-time figure")
        return {}
    key = _hash_files(list(demos.glob("*.py"))) + "-" + "-".join(sorted(names))
    cached = cache / f"figures-{key}.json"
    if cached.exists():
        return json.loads(cached.read_text(encoding="utf-8"))
    code = ("import json, sys\nfrom demos import figures\n"
            "code = getattr(figures, 'code_files', lambda n: [])\n"
            "out = {n: {'svg': figures.static_figure(n), 'state': figures.initial_state(n), 'code': list(code(n))}\n"
            "       for n in sys.argv[1:]}\n"
            "sys.stdout.write(json.dumps(out))\n")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
           "PYTHONPATH": str(project)}
    proc = subprocess.run([sys.executable, "-c", code, *sorted(set(names))], cwd=project, capture_output=True,
                          text=True, encoding="utf-8", env=env, check=False)
    if proc.returncode != 0:
        tb = proc.stderr.strip().splitlines()
        line, where = 1, fig
        for ln in tb:   # innermost frame inside demos/
            if 'File "' in ln and "/demos/" in ln or (ln.strip().startswith('File "') and str(demos) in ln):
                try:
                    where = Path(ln.split('"')[1])
                    line = int(ln.split("line ")[1].split(",")[0])
                except (IndexError, ValueError):
                    pass
        diags.add(where if where.is_absolute() else demos / where, line, "figure",
                  f"building the demo figures failed: {tb[-1] if tb else 'no output'}")
        return {}
    data = json.loads(proc.stdout)
    cache.mkdir(parents=True, exist_ok=True)
    cached.write_text(proc.stdout, encoding="utf-8")
    return data


def _pyodide_config(mode: str, diags: Diagnostics, project: Path) -> dict:
    """index_url is relative to the site root, as every URL handed to demos.js (which resolves it against the
    figure's data-root): relative to the page it would count the page's depth twice under a sub-path."""
    try:
        from . import pyodide_assets
    except ImportError as e:   # pragma: no cover - only while the module is missing
        diags.add(project / "sitegen/pyodide_assets.py", 1, "pyodide", f"cannot import the Pyodide settings: {e}")
        return {"mode": mode, "index_url": "", "integrity": {}}
    return pyodide_assets.runtime_config(mode, "")


def gather(opts: Options) -> tuple[list[Page], dict[str, Any]]:
    """Phase 1: read, validate and render everything in memory. Raises BuildFailed with all problems."""
    project = opts.project
    diags = Diagnostics(project)
    content = project / "content"
    templates = project / "templates"
    cache = project / ".cache"

    macros = load_macros(project / "MATH_CONVENTIONS.md", diags)
    references = load_references(content / "references.yaml", diags)
    demo_names = {p.stem for p in (templates / "demos").glob("*.html") if not p.name.startswith("_")}

    sources = []
    for path in sorted(content.glob("*.md")):
        if path.name == "README.md":
            continue
        src = load_chapter(path, diags)
        if src is not None:
            mdown.lint_source(src.body, src.body_line, path, diags)
            sources.append(src)
    seen: dict[str, Path] = {}
    unique = []
    for src in sources:
        slug = src.meta["slug"]
        if slug in seen:
            diags.add(src.path, src.meta_doc.line_of("slug"), "duplicate-slug",
                      f"slug '{slug}' is already used by {diags.rel(seen[slug])}")
            continue
        seen[slug] = src.path
        unique.append(src)
    sources = sorted(unique, key=lambda s: (s.meta["order"], s.meta["slug"]))
    chapter_files = {s.path.stem: s.meta["slug"] for s in sources}
    slugs = {s.meta["slug"]: s.meta["order"] for s in sources}
    conn = load_connections(project / "connections.yaml", slugs, diags)

    # parse + resolve
    state = {"math": {}}
    styles = StyleClasses()

    def render_math(tex: str, display: bool, env: dict) -> str:
        res = state["math"].get((tex, display))
        return res if res is not None else '<span class="math-error">?</span>'

    md = mdown.make_parser(render_math)
    docs: list[mdown.ChapterDoc] = []
    for src in sources:
        tokens = md.parse(src.body, {})
        doc = mdown.ChapterDoc(slug=src.meta["slug"], path=src.path, tokens=tokens, body_line=src.body_line,
                               env={"root": "../"})
        mdown.resolve(doc, project=project, chapter_files=chapter_files, references=references,
                      demo_names=demo_names, diags=diags)
        docs.append(doc)

    # math: one KaTeX run for the whole site
    items = [m for d in docs for m in d.math]
    unique_items = list({(m.tex, m.display): m for m in items}.values())
    try:
        results = render_batch(unique_items, macros, project / "node_modules")
    except KatexUnavailable as e:
        diags.add(project / "package.json", 1, "katex", str(e))
        results = [{"error": None}] * len(unique_items)
    for item, res in zip(unique_items, results):
        if "html" in res:
            state["math"][(item.tex, item.display)] = styles.rewrite(res["html"])
    failed = {(m.tex, m.display): r["error"] for m, r in zip(unique_items, results) if r.get("error")}
    for m in items:
        if (m.tex, m.display) in failed:
            msg = failed[(m.tex, m.display)]
            code = "tex-macro" if "Undefined control sequence" in msg else "tex"
            hint = " (define macros in MATH_CONVENTIONS.md)" if code == "tex-macro" else ""
            diags.add(m.path, m.line, code, f"KaTeX cannot render ${m.tex.strip()[:60]}$: {msg}{hint}")

    # demo figures (CPython + matplotlib, from demos/)
    used_demos = sorted({n for d in docs for n in d.demos})
    figures = _demo_figures(project, used_demos, diags, cache)

    # templates
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), undefined=jinja2.StrictUndefined,
                             autoescape=jinja2.select_autoescape(["html", "xml"]), trim_blocks=True, lstrip_blocks=True)
    assets = [p for p in (templates / "assets").rglob("*") if p.is_file()]
    # the bundle also carries the generated KaTeX classes: a content change must change the version too
    asset_version = hashlib.sha256(((_hash_files(assets) if assets else "0") + styles.stylesheet()).encode()).hexdigest()[:12]
    nav = [{"slug": s.meta["slug"], "title": s.meta["title"], "short_title": s.meta.get("short_title") or s.meta["title"],
            "url": f"{s.meta['slug']}/", "tldr": s.meta["tldr"], "order": s.meta["order"]} for s in sources]
    by_slug = {n["slug"]: n for n in nav}
    base = None if not opts.base_url else opts.base_url if opts.base_url.endswith("/") else opts.base_url + "/"
    site = {"title": opts.site_title, "tagline": opts.tagline, "base_url": base}

    def common(root: str, kind: str, title: str, description: str, url_path: str, slug: str | None,
               has_math: bool) -> dict:
        return {"site": site, "root": root, "asset_version": asset_version, "csp": csp(opts.pyodide), "nav": nav,
                "page": {"kind": kind, "title": title, "description": description,
                         "canonical_url": base + url_path if base else None, "slug": slug},
                "pyodide": _pyodide_config(opts.pyodide, diags, project),
                "katex_css": f"{root}assets/katex/katex.min.css?v={asset_version}" if has_math else None,
                "build_error": None}

    pages: list[Page] = []

    def render_template(name: str, ctx: dict) -> str | None:
        try:
            return env.get_template(name).render(**ctx)
        except jinja2.TemplateError as e:
            where, line = _template_location(e, templates)
            diags.add(where, line, "template", f"{type(e).__name__}: {e.message or e}")
        except Exception as e:  # a filter or test raising
            where, line = _template_location(e, templates)
            diags.add(where, line, "template", f"{type(e).__name__}: {e}")
        return None

    def card(edge) -> dict:
        n = by_slug[edge.slug]
        return {"slug": n["slug"], "title": n["title"], "url": n["url"], "tldr": n["tldr"],
                "relationship": edge.relationship, "note": edge.note}

    demo_code = {p.name: p.read_text(encoding="utf-8") for p in sorted((project / "demos").glob("*.py"))}
    for i, (src, doc) in enumerate(zip(sources, docs)):
        slug = doc.slug
        body = mdown.render(md, doc)

        def render_demo(name: str, caption: str) -> str:
            if name not in demo_names:   # reported by resolve()
                return ""
            fig = figures.get(name, {"svg": "", "state": {}, "code": []})
            files = fig.get("code") or []
            code = {Path(f).name: demo_code[Path(f).name] for f in files if Path(f).name in demo_code}
            ctx = {"root": "../", "asset_version": asset_version, "pyodide": _pyodide_config(opts.pyodide, diags, project),
                   "demo": {"name": name, "caption_html": caption, "figure_url": f"assets/figures/{name}.svg",
                            "state": fig["state"], "state_json": json.dumps(fig["state"]), "code": code}}
            return render_template(f"demos/{name}.html", ctx) or ""

        body = mdown.replace_demos(body, render_demo)
        ctx = common("../", "chapter", src.meta["title"], src.meta.get("description") or src.meta["tldr"],
                     f"{slug}/", slug, has_math=bool(doc.math))
        nav_entry = by_slug[slug]
        ctx["chapter"] = {
            **{k: nav_entry[k] for k in ("slug", "title", "short_title", "tldr", "order")},
            "paper": {"arxiv": None, **src.meta["paper"]},
            "html": body, "toc": mdown.render_toc(md, doc), "demos": doc.demos,
            "prev": nav[i - 1] if i > 0 else None,
            "next": nav[i + 1] if i + 1 < len(nav) else None,
            "prerequisites": [card(e) for e in conn.builds_on.get(slug, [])],
            "builds_on": [card(e) for e in conn.builds_on.get(slug, [])],
            "used_by": [card(e) for e in conn.referenced_by.get(slug, [])],
            "references": [{"n": n, "key": k, "id": f"ref-{k}", "html": reference_html(references[k])}
                           for n, k in enumerate(doc.citations, 1)],
        }
        html_text = render_template("chapter.html", ctx)
        if html_text is not None:
            pages.append(Page(f"{slug}/index.html", html_text, slug))

    index_ctx = common("", "index", opts.site_title, opts.tagline, "", None, has_math=False)
    index_ctx["graph_svg"] = graph_svg(nav, conn) if nav else ""
    nf_root = (urlparse(base).path or "/") if base else "/"   # the 404 page is served at any depth: root-absolute links
    nf_ctx = common(nf_root, "404", "Page not found", "This page does not exist.", "404.html", None, has_math=False)
    for name, ctx, out in (("index.html", index_ctx, "index.html"), ("404.html", nf_ctx, "404.html")):
        text = render_template(name, ctx)
        if text is not None:
            pages.append(Page(out, text))

    # anchors: every #fragment a chapter links to must exist on the target page
    page_ids = {p.slug: set(re.findall(r'\sid="([^"]+)"', p.html)) for p in pages if p.slug}
    # an id the chapter claims must not also be one the page template uses (e.g. a heading "References")
    for page in pages:
        doc = next((d for d in docs if d.slug == page.slug), None)
        if doc is None:
            continue
        for hid, n in Counter(re.findall(r'\sid="([^"]+)"', page.html)).items():
            if n > 1 and hid in doc.env.get("ids", {}):
                diags.add(doc.path, doc.env["ids"][hid], "duplicate-id",
                          f"id '{hid}' is also used by the page template; give this heading another id with {{#...}}")
    for doc in docs:
        for line, target, anchor in doc.anchor_checks:
            if target in page_ids and anchor and anchor not in page_ids[target]:
                diags.add(doc.path, line, "anchor", f"broken anchor '#{anchor}' on page '{target}'")

    diags.raise_if_any()
    return pages, {"styles": styles, "figures": figures, "demos": used_demos, "asset_version": asset_version,
                   "nav": nav, "base": base, "n_math": len(unique_items)}


def write(opts: Options, pages: list[Page], info: dict[str, Any]) -> Path:
    """Phase 2: write the whole site into a temporary sibling of the output, then swap it in."""
    project, out = opts.project, opts.out.resolve()
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise BuildFailed([_refuse(out)])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}-tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        for page in pages:
            dest = tmp / page.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(page.html, encoding="utf-8")
        _write_assets(opts, tmp, info)
        _write_sitemap(tmp, info)
        if opts.search:
            proc = subprocess.run([sys.executable, "-m", "pagefind", "--site", str(tmp), "--quiet"],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                from .diagnostics import Diagnostic
                raise BuildFailed([Diagnostic("pagefind", 1, "search", proc.stderr.strip()[:400] or "pagefind failed")])
        (tmp / MARKER).write_text(json.dumps({"built": time.strftime("%Y-%m-%dT%H:%M:%S"), "pyodide": opts.pyodide,
                                              "pages": [p.path for p in pages]}, indent=1), encoding="utf-8")
        old = None
        if out.exists():
            old = out.parent / f".{out.name}-old-{uuid.uuid4().hex[:8]}"
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _refuse(out: Path):
    from .diagnostics import Diagnostic
    return Diagnostic(str(out), 1, "output", "refusing to replace a directory that was not built by this project "
                      f"(no {MARKER}); choose another --out or empty it yourself")


def _write_assets(opts: Options, dest: Path, info: dict[str, Any]) -> None:
    project = opts.project
    shutil.copytree(project / "templates" / "assets", dest / "assets", dirs_exist_ok=True)
    katex_dist = project / "node_modules" / "katex" / "dist"
    (dest / "assets" / "katex").mkdir(parents=True, exist_ok=True)
    shutil.copy2(katex_dist / "katex.min.css", dest / "assets" / "katex" / "katex.min.css")
    fonts = dest / "assets" / "katex" / "fonts"
    fonts.mkdir(exist_ok=True)
    for f in (katex_dist / "fonts").glob("*.woff2"):   # every browser we support reads woff2
        shutil.copy2(f, fonts / f.name)
    css = (dest / "assets" / "katex" / "katex.min.css").read_text(encoding="utf-8")
    # keep only the woff2 sources, so no browser asks for a file we did not ship
    css = re.sub(r'src:url\((fonts/[^)]+\.woff2)\) format\("woff2"\)(,url\([^)]+\) format\("[^"]+"\))*',
                 r'src:url(\1) format("woff2")', css)
    css = css.replace("@font-face{", "@font-face{font-display:swap;")   # text first, KaTeX glyphs when loaded
    (dest / "assets" / "katex" / "katex.min.css").write_text(css + "\n" + info["styles"].stylesheet(), encoding="utf-8")
    light = HtmlFormatter(style="default").get_style_defs(".highlight")
    dark = HtmlFormatter(style="github-dark" if "github-dark" in _styles() else "monokai").get_style_defs(
        '[data-theme="dark"] .highlight')
    dark = f"@media screen {{\n{dark}\n}}"   # print stays light: dark code on white paper
    auto_dark = HtmlFormatter(style="github-dark" if "github-dark" in _styles() else "monokai").get_style_defs(
        ':root:not([data-theme="light"]) .highlight')
    (dest / "assets" / "pygments.css").write_text(
        f"/* generated by the build (Pygments) */\n{light}\n{dark}\n@media screen and (prefers-color-scheme: dark) {{\n{auto_dark}\n}}\n",
        encoding="utf-8")
    _write_css_bundle(dest / "assets")
    figs = dest / "assets" / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    for name, fig in info["figures"].items():
        (figs / f"{name}.svg").write_text(fig["svg"], encoding="utf-8")
    (dest / "demos").mkdir(exist_ok=True)
    for p in sorted((project / "demos").glob("*.py")):   # the worker's code, and the files chapters link to
        shutil.copy2(p, dest / "demos" / p.name)
    if info["demos"] and opts.pyodide == "local":
        from . import pyodide_assets
        try:
            cache = pyodide_assets.ensure_cache(log=lambda *a: None)
            pyodide_assets.copy_to_site(cache, dest)
        except pyodide_assets.PyodideAssetError as e:
            from .diagnostics import Diagnostic
            raise BuildFailed([Diagnostic("sitegen/pyodide_assets.py", 1, "pyodide", str(e))]) from e


def _write_css_bundle(assets: Path) -> None:
    """One render-blocking stylesheet instead of four (site, code colours, KaTeX, demos): on a slow mobile
    link every extra blocking request delays the first paint by a round trip."""
    parts = [("site.css", (assets / "site.css").read_text(encoding="utf-8")),
             ("pygments.css", (assets / "pygments.css").read_text(encoding="utf-8")),
             ("katex/katex.min.css", (assets / "katex" / "katex.min.css").read_text(encoding="utf-8")
              .replace("url(fonts/", "url(katex/fonts/"))]
    if (assets / "demos" / "demos.css").exists():
        parts.append(("demos/demos.css", (assets / "demos" / "demos.css").read_text(encoding="utf-8")))
    # @import / @charset must come first in a stylesheet; none of the parts may carry them
    for name, css in parts:
        if "@import" in css or "@charset" in css:
            raise BuildFailed([_diag(f"templates/assets/{name}", "css", "@import/@charset cannot be bundled")])
    (assets / "bundle.css").write_text("".join(f"/* ---- {n} ---- */\n{c}\n" for n, c in parts), encoding="utf-8")


def _diag(path: str, code: str, message: str):
    from .diagnostics import Diagnostic
    return Diagnostic(path, 1, code, message)


def _styles() -> set[str]:
    from pygments.styles import get_all_styles
    return set(get_all_styles())


def _write_sitemap(dest: Path, info: dict[str, Any]) -> None:
    """sitemap.xml and robots.txt. A sitemap lists absolute URLs, so it is written only with --base-url."""
    base = info["base"]
    if base is None:
        (dest / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
        return
    urls = [base] + [base + n["url"] for n in info["nav"]]
    today = time.strftime("%Y-%m-%d")
    body = "".join(f"<url><loc>{u}</loc><lastmod>{today}</lastmod></url>" for u in urls)
    (dest / "sitemap.xml").write_text('<?xml version="1.0" encoding="UTF-8"?>\n'
                                      f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>\n',
                                      encoding="utf-8")
    (dest / "robots.txt").write_text(f"User-agent: *\nAllow: /\nSitemap: {base}sitemap.xml\n", encoding="utf-8")


def build(opts: Options) -> Result:
    t0 = time.perf_counter()
    pages, info = gather(opts)
    write(opts, pages, info)
    return Result(opts.out, [p.path for p in pages], time.perf_counter() - t0,
                  {"math": info["n_math"], "demos": info["demos"]})


def render_fragment(text: str, *, project: Path, references: dict[str, Any] | None = None,
                    chapter_files: dict[str, str] | None = None, demo_names: set[str] | None = None) -> str:
    """Render one Markdown fragment exactly as a chapter body is rendered (used by the golden tests).
    Demo blocks are left as their placeholder comments. Raises BuildFailed on any problem."""
    diags = Diagnostics(project)
    path = project / "content" / "fragment.md"
    mdown.lint_source(text, 1, path, diags)
    macros = load_macros(project / "MATH_CONVENTIONS.md", diags)
    cache: dict = {}
    styles = StyleClasses()
    md = mdown.make_parser(lambda tex, display, env: cache.get((tex, display), "?"))
    doc = mdown.ChapterDoc(slug="fragment", path=path, tokens=md.parse(text, {}), body_line=1, env={"root": "../"})
    mdown.resolve(doc, project=project, chapter_files={"fragment": "fragment", **(chapter_files or {})},
                  references=references or {}, demo_names=demo_names or set(), diags=diags)
    items = list({(m.tex, m.display): m for m in doc.math}.values())
    for item, res in zip(items, render_batch(items, macros, project / "node_modules")):
        if "html" in res:
            cache[(item.tex, item.display)] = styles.rewrite(res["html"])
        else:
            diags.add(path, item.line, "tex", res["error"])
    diags.raise_if_any()
    return mdown.render(md, doc)
