"""The build: gather and validate everything (phase 1), then write (phase 2) into a temporary directory that
replaces the output directory only on success. A failed build raises BuildFailed and leaves the last good site."""
from __future__ import annotations

import hashlib
import json
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
from pygments.styles import get_all_styles

from . import demos as demofolders
from . import markdown as mdown
from . import pyodide_assets
from .diagnostics import BuildFailed, Diagnostic, Diagnostics
from .graph import graph_svg, load_connections, load_references, reference_html
from .mathtex import KatexUnavailable, StyleClasses, for_search, load_macros, render_batch
from .sources import ChapterSource, load_chapter

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


def _template_location(exc: BaseException, roots: list[Path]) -> tuple[Path, int]:
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.filename:
        return Path(exc.filename), exc.lineno or 1
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        p = Path(frame.filename).resolve()
        if frame.filename.endswith(".html") and any(p.is_relative_to(r.resolve()) for r in roots):
            return p, frame.lineno or 1
    return roots[0] / "base.html", 1


# --------------------------------------------------------------------------- phase 1, stage by stage

@dataclass
class Chapter:
    """One chapter page: its source, its parsed document, and its place on the site (it owns its URL)."""
    source: ChapterSource
    doc: mdown.ChapterDoc

    @property
    def slug(self) -> str:
        return self.source.meta["slug"]

    @property
    def url(self) -> str:          # relative to the site root
        return f"{self.slug}/"

    @property
    def out_path(self) -> str:
        return f"{self.slug}/index.html"

    root = "../"                   # relative path from the page to the site root


@dataclass
class Site:
    """Everything phase 2 writes: the rendered pages and the assets they need."""
    pages: list[Page]
    styles: StyleClasses
    folders: dict[str, Path]       # every complete demo folder
    demos: dict[str, demofolders.Demo]   # the demos the chapters use
    asset_version: str
    nav: list[dict]
    base: str | None               # --base-url, ending in /; None: no canonical URLs, no sitemap
    n_math: int


class Renderer:
    """Jinja over templates/ and the demo folders (demos/<name>/demo.html); a failing template is a diagnostic."""

    def __init__(self, project: Path, diags: Diagnostics):
        self.roots = [project / "templates", project]
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(r) for r in self.roots]),
                                      undefined=jinja2.StrictUndefined, autoescape=jinja2.select_autoescape(["html", "xml"]),
                                      trim_blocks=True, lstrip_blocks=True)
        self.diags = diags

    def __call__(self, name: str, ctx: dict) -> str | None:
        try:
            return self.env.get_template(name).render(**ctx)
        except jinja2.TemplateError as e:
            where, line = _template_location(e, self.roots)
            self.diags.add(where, line, "template", f"{type(e).__name__}: {e.message or e}")
        except Exception as e:  # a filter or test raising
            where, line = _template_location(e, self.roots)
            self.diags.add(where, line, "template", f"{type(e).__name__}: {e}")
        return None


def load_sources(content: Path, diags: Diagnostics) -> list[ChapterSource]:
    """Every chapter of content/ (README.md excepted), linted, one per slug, in reading order."""
    seen: dict[str, Path] = {}
    sources = []
    for path in sorted(content.glob("*.md")):
        if path.name == "README.md":
            continue
        src = load_chapter(path, diags)
        if src is None:
            continue
        mdown.lint_source(src.body, src.body_line, path, diags)
        slug = src.meta["slug"]
        if slug in seen:
            diags.add(src.path, src.meta_doc.line_of("slug"), "duplicate-slug",
                      f"slug '{slug}' is already used by {diags.rel(seen[slug])}")
            continue
        seen[slug] = src.path
        sources.append(src)
    return sorted(sources, key=lambda s: (s.meta["order"], s.meta["slug"]))


def parse_chapters(sources: list[ChapterSource], md, project: Path, references: dict, demo_names: set[str],
                   diags: Diagnostics) -> list[Chapter]:
    chapter_files = {s.path.stem: s.meta["slug"] for s in sources}
    chapters = []
    for src in sources:
        doc = mdown.ChapterDoc(slug=src.meta["slug"], path=src.path, tokens=md.parse(src.body, {}),
                               body_line=src.body_line, env={"root": Chapter.root})
        mdown.resolve(doc, project=project, chapter_files=chapter_files, references=references,
                      demo_names=demo_names, diags=diags)
        chapters.append(Chapter(src, doc))
    return chapters


def typeset(chapters: list[Chapter], macros: dict, project: Path, styles: StyleClasses,
            diags: Diagnostics) -> dict[tuple[str, bool], str]:
    """All formulas of the site in one KaTeX run: {(tex, display): html}; a failing formula is a diagnostic."""
    items = [m for c in chapters for m in c.doc.math]
    unique = list({(m.tex, m.display): m for m in items}.values())
    try:
        results = render_batch(unique, macros, project / "node_modules")
    except KatexUnavailable as e:
        diags.add(project / "package.json", 1, "katex", str(e))
        results = [{"error": None}] * len(unique)
    math = {(m.tex, m.display): for_search(styles.rewrite(r["html"])) for m, r in zip(unique, results) if "html" in r}
    failed = {(m.tex, m.display): r["error"] for m, r in zip(unique, results) if r.get("error")}
    for m in items:
        if (m.tex, m.display) in failed:
            msg = failed[(m.tex, m.display)]
            code = "tex-macro" if "Undefined control sequence" in msg else "tex"
            hint = " (define macros in MATH_CONVENTIONS.md)" if code == "tex-macro" else ""
            diags.add(m.path, m.line, code, f"KaTeX cannot render ${m.tex.strip()[:60]}$: {msg}{hint}")
    return math


def asset_version(project: Path, styles: StyleClasses) -> str:
    """Changes whenever a shipped asset does (templates/assets, the demos' views and styles, the KaTeX classes)."""
    files = [p for p in (project / "templates" / "assets").rglob("*") if p.is_file()]
    files += [p for p in (project / "demos").glob("*/*") if p.suffix in (".mjs", ".css")]
    return hashlib.sha256(((_hash_files(files) if files else "0") + styles.stylesheet()).encode()).hexdigest()[:12]


def render_demo(render: Renderer, demo: demofolders.Demo, caption_html: str, root: str, pyodide: dict) -> str:
    ctx = {"root": root, "pyodide": pyodide,
           "demo": {"name": demo.name, "caption_html": caption_html, "state": demo.state,
                    "limits": demo.state.get("limits", {}), "state_json": json.dumps(demo.state),
                    "first_frame": demo.first_frame, "view_url": demo.view_url, "prompts": demo.prompts,
                    "code": [{"path": c.path, "function": c.function, "line": c.line, "source": c.source}
                             for c in demo.code],
                    "after_run": "the demo above re-runs with your version."}}
    return render(demo.template, ctx) or ""


def demo_runtime(root: str, pyodide: dict) -> dict:
    """What demos.js needs to start the page's one Python runtime, read from the page's <head> (so it can start
    before the body is parsed): the site root relative to the page, and, relative to that root, where Pyodide
    and the demos' manifest are; the pinned runtime files' SRI."""
    return {"root": root or "./", "mode": pyodide["mode"], "index": pyodide["index_url"], "manifest": "demos/manifest.json",
            "integrity": pyodide["integrity"]}


def check_anchors(pages: list[Page], chapters: list[Chapter], diags: Diagnostics) -> None:
    """Every #fragment a chapter links to exists on its target; a chapter id never collides with the template's."""
    page_ids = {p.slug: set(re.findall(r'\sid="([^"]+)"', p.html)) for p in pages if p.slug}
    docs = {c.slug: c.doc for c in chapters}
    for page in pages:
        doc = docs.get(page.slug)
        if doc is None:
            continue
        for hid, n in Counter(re.findall(r'\sid="([^"]+)"', page.html)).items():
            if n > 1 and hid in doc.env.get("ids", {}):
                diags.add(doc.path, doc.env["ids"][hid], "duplicate-id",
                          f"id '{hid}' is also used by the page template; give this heading another id with {{#...}}")
    for c in chapters:
        for line, target, anchor in c.doc.anchor_checks:
            if target in page_ids and anchor and anchor not in page_ids[target]:
                diags.add(c.doc.path, line, "anchor", f"broken anchor '#{anchor}' on page '{target}'")


def gather(opts: Options) -> Site:
    """Phase 1: read, validate and render everything in memory. Raises BuildFailed with all problems."""
    project = opts.project
    diags = Diagnostics(project)
    macros = load_macros(project / "MATH_CONVENTIONS.md", diags)
    references = load_references(project / "content" / "references.yaml", diags)
    folders = demofolders.discover(project, diags)
    sources = load_sources(project / "content", diags)
    conn = load_connections(project / "connections.yaml", {s.meta["slug"]: s.meta["order"] for s in sources}, diags)

    math: dict[tuple[str, bool], str] = {}
    md = mdown.make_parser(lambda tex, display, env: math.get((tex, display), '<span class="math-error">?</span>'))
    # a name whose folder is incomplete is known (its folder already has a diagnostic), not "unknown"
    known = set(folders) | {p.name for p in (project / "demos").glob("*/") if (p / "demo.html").exists()
                            or (p / "demo.py").exists() or (p / "view.mjs").exists()}
    chapters = parse_chapters(sources, md, project, references, known, diags)
    styles = StyleClasses()
    math.update(typeset(chapters, macros, project, styles, diags))

    used = sorted({n for c in chapters for n in c.doc.demos if n in folders})
    demos = demofolders.describe(project, folders, used, diags, project / ".cache")
    demofolders.first_frames(project, folders, demos, diags)

    render = Renderer(project, diags)
    version = asset_version(project, styles)
    nav = [{"slug": s.meta["slug"], "title": s.meta["title"], "short_title": s.meta.get("short_title") or s.meta["title"],
            "url": f"{s.meta['slug']}/", "tldr": s.meta["tldr"], "order": s.meta["order"]} for s in sources]
    by_slug = {n["slug"]: n for n in nav}
    base = None if not opts.base_url else opts.base_url if opts.base_url.endswith("/") else opts.base_url + "/"
    site = {"title": opts.site_title, "tagline": opts.tagline, "base_url": base}

    def page_context(root: str, kind: str, title: str, description: str, url_path: str, slug: str | None) -> dict:
        return {"site": site, "root": root, "asset_version": version, "csp": csp(opts.pyodide), "nav": nav,
                "page": {"kind": kind, "title": title, "description": description,
                         "canonical_url": base + url_path if base else None, "slug": slug}}

    def card(edge) -> dict:
        n = by_slug[edge.slug]
        return {"slug": n["slug"], "title": n["title"], "url": n["url"], "tldr": n["tldr"],
                "relationship": edge.relationship, "note": edge.note}

    pages: list[Page] = []
    # index_url relative to the site root, as every URL handed to demos.js (which resolves it against the figure's
    # data-root): relative to the page it would count the page's depth twice, which only works at the host root
    pyodide = pyodide_assets.runtime_config(opts.pyodide, "")
    for i, chapter in enumerate(chapters):
        def demo_html(name: str, caption: str, root: str = chapter.root) -> str:
            return render_demo(render, demos[name], caption, root, pyodide) if name in demos else ""

        body = mdown.replace_demos(mdown.render(md, chapter.doc), demo_html)
        ctx = page_context(chapter.root, "chapter", chapter.source.meta["title"],
                           chapter.source.meta.get("description") or chapter.source.meta["tldr"], chapter.url, chapter.slug)
        nav_entry = by_slug[chapter.slug]
        ctx["chapter"] = {
            **{k: nav_entry[k] for k in ("slug", "title", "short_title", "tldr", "order")},
            "paper": {"arxiv": None, **chapter.source.meta["paper"]},
            "html": body, "toc": mdown.render_toc(md, chapter.doc), "demos": chapter.doc.demos,
            "demo_runtime": demo_runtime(chapter.root, pyodide) if chapter.doc.demos else None,
            "reading_minutes": mdown.reading_minutes(chapter.doc),
            "prev": nav[i - 1] if i > 0 else None,
            "next": nav[i + 1] if i + 1 < len(nav) else None,
            "builds_on": [card(e) for e in conn.builds_on.get(chapter.slug, [])],
            "used_by": [card(e) for e in conn.referenced_by.get(chapter.slug, [])],
            "references": [{"n": n, "key": k, "id": f"ref-{k}", "html": reference_html(references[k])}
                           for n, k in enumerate(chapter.doc.citations, 1)],
        }
        html_text = render("chapter.html", ctx)
        if html_text is not None:
            pages.append(Page(chapter.out_path, html_text, chapter.slug))

    index_ctx = page_context("", "index", opts.site_title, opts.tagline, "", None)
    index_ctx["graph_svg"] = graph_svg(nav, conn) if nav else ""
    nf_root = (urlparse(base).path or "/") if base else "/"   # the 404 page is served at any depth: root-absolute links
    nf_ctx = page_context(nf_root, "404", "Page not found", "This page does not exist.", "404.html", None)
    for name, ctx in (("index.html", index_ctx), ("404.html", nf_ctx)):
        text = render(name, ctx)
        if text is not None:
            pages.append(Page(name, text))

    check_anchors(pages, chapters, diags)
    diags.raise_if_any()
    return Site(pages, styles, folders, demos, version, nav, base, len({(m.tex, m.display) for c in chapters for m in c.doc.math}))


def write(opts: Options, site: Site) -> Path:
    """Phase 2: write the whole site into a temporary sibling of the output, then swap it in."""
    out = opts.out.resolve()
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise BuildFailed([_refuse(out)])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}-tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        for page in site.pages:
            dest = tmp / page.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(page.html, encoding="utf-8")
        _write_assets(opts, tmp, site)
        _write_sitemap(tmp, site)
        if opts.search:
            proc = subprocess.run([sys.executable, "-m", "pagefind", "--site", str(tmp), "--quiet"],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise BuildFailed([Diagnostic("pagefind", 1, "search", proc.stderr.strip()[:400] or "pagefind failed")])
        (tmp / MARKER).write_text(json.dumps({"built": time.strftime("%Y-%m-%dT%H:%M:%S"), "pyodide": opts.pyodide,
                                              "pages": [p.path for p in site.pages]}, indent=1), encoding="utf-8")
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


def _refuse(out: Path) -> Diagnostic:
    return Diagnostic(str(out), 1, "output", "refusing to replace a directory that was not built by this project "
                      f"(no {MARKER}); choose another --out or empty it yourself")


def _write_katex(project: Path, assets: Path, styles: StyleClasses) -> None:
    katex_dist = project / "node_modules" / "katex" / "dist"
    fonts = assets / "katex" / "fonts"
    fonts.mkdir(parents=True, exist_ok=True)
    for f in (katex_dist / "fonts").glob("*.woff2"):   # every browser we support reads woff2
        shutil.copy2(f, fonts / f.name)
    css = (katex_dist / "katex.min.css").read_text(encoding="utf-8")
    # keep only the woff2 sources, so no browser asks for a file we did not ship
    css = re.sub(r'src:url\((fonts/[^)]+\.woff2)\) format\("woff2"\)(,url\([^)]+\) format\("[^"]+"\))*',
                 r'src:url(\1) format("woff2")', css)
    css = css.replace("@font-face{", "@font-face{font-display:swap;")   # text first, KaTeX glyphs when loaded
    (assets / "katex" / "katex.min.css").write_text(css + "\n" + styles.stylesheet(), encoding="utf-8")


def _pygments_css() -> str:
    dark_style = "github-dark" if "github-dark" in set(get_all_styles()) else "monokai"
    light = HtmlFormatter(style="default").get_style_defs(".highlight")
    dark = HtmlFormatter(style=dark_style).get_style_defs('[data-theme="dark"] .highlight')
    auto_dark = HtmlFormatter(style=dark_style).get_style_defs(':root:not([data-theme="light"]) .highlight')
    # print stays light: dark code on white paper
    return (f"/* generated by the build (Pygments) */\n{light}\n@media screen {{\n{dark}\n}}\n"
            f"@media screen and (prefers-color-scheme: dark) {{\n{auto_dark}\n}}\n")


def _write_assets(opts: Options, dest: Path, site: Site) -> None:
    project = opts.project
    assets = dest / "assets"
    shutil.copytree(project / "templates" / "assets", assets, dirs_exist_ok=True)
    _write_katex(project, assets, site.styles)
    (assets / "pygments.css").write_text(_pygments_css(), encoding="utf-8")
    _write_css_bundle(assets, demofolders.stylesheets(site.folders))
    (dest / "demos").mkdir(exist_ok=True)
    for p in sorted((project / "demos").glob("*.py")):   # the files chapters link to (and the worker loads)
        shutil.copy2(p, dest / "demos" / p.name)
    demofolders.write(project, dest, site.folders, site.demos, site.asset_version)
    if site.demos and opts.pyodide == "local":
        try:
            cache = pyodide_assets.ensure_cache(log=lambda *a: None)
            pyodide_assets.copy_to_site(cache, dest)
        except pyodide_assets.PyodideAssetError as e:
            raise BuildFailed([Diagnostic("sitegen/pyodide_assets.py", 1, "pyodide", str(e))]) from e


def _write_css_bundle(assets: Path, demo_styles: list[tuple[str, str]]) -> None:
    """One render-blocking stylesheet instead of many (site, code colours, KaTeX, demos): on a slow mobile
    link every extra blocking request delays the first paint by a round trip."""
    parts = [("site.css", (assets / "site.css").read_text(encoding="utf-8")),
             ("pygments.css", (assets / "pygments.css").read_text(encoding="utf-8")),
             ("katex/katex.min.css", (assets / "katex" / "katex.min.css").read_text(encoding="utf-8")
              .replace("url(fonts/", "url(katex/fonts/"))]
    if (assets / "demos" / "demos.css").exists():
        parts.append(("demos/demos.css", (assets / "demos" / "demos.css").read_text(encoding="utf-8")))
    parts += demo_styles
    # @import / @charset must come first in a stylesheet; none of the parts may carry them
    for name, css in parts:
        if "@import" in css or "@charset" in css:
            where = name if name.startswith("demos/") and name.endswith("style.css") else f"templates/assets/{name}"
            raise BuildFailed([Diagnostic(where, 1, "css", "@import/@charset cannot be bundled")])
    (assets / "bundle.css").write_text("".join(f"/* ---- {n} ---- */\n{c}\n" for n, c in parts), encoding="utf-8")


def _write_sitemap(dest: Path, site: Site) -> None:
    """sitemap.xml and robots.txt. A sitemap lists absolute URLs, so it is written only with --base-url."""
    if site.base is None:
        (dest / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
        return
    urls = [site.base] + [site.base + n["url"] for n in site.nav]
    today = time.strftime("%Y-%m-%d")
    body = "".join(f"<url><loc>{u}</loc><lastmod>{today}</lastmod></url>" for u in urls)
    (dest / "sitemap.xml").write_text('<?xml version="1.0" encoding="UTF-8"?>\n'
                                      f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>\n',
                                      encoding="utf-8")
    (dest / "robots.txt").write_text(f"User-agent: *\nAllow: /\nSitemap: {site.base}sitemap.xml\n", encoding="utf-8")


def build(opts: Options) -> Result:
    t0 = time.perf_counter()
    site = gather(opts)
    write(opts, site)
    return Result(opts.out, [p.path for p in site.pages], time.perf_counter() - t0,
                  {"math": site.n_math, "demos": sorted(site.demos)})


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
