"""Checks on the built site's files (no browser): pages, links and anchors, CSP hygiene, search index, sitemap."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
import yaml

from support import ROOT

pytestmark = pytest.mark.xdist_group("site")


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str]] = []    # (attr, url)
        self.inline_scripts = 0
        self.style_attrs: list[str] = []
        self.handlers: list[str] = []
        self.meta: dict[str, str] = {}
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for k in ("href", "src"):
            if a.get(k) and tag != "link" or (tag == "link" and k == "href" and a.get("rel") in ("stylesheet", "icon")):
                if a.get(k):
                    self.refs.append((k, a[k]))
        if tag == "script" and not a.get("src") and a.get("type") not in ("application/json", "application/ld+json"):
            self._in_script = True
        if "style" in a:
            self.style_attrs.append(f"<{tag} style={a['style']!r}>")
        self.handlers += [f"<{tag} {k}>" for k in a if k.startswith("on")]
        if tag == "meta":
            key = a.get("http-equiv") or a.get("property") or a.get("name")
            if key:
                self.meta[key.lower()] = a.get("content", "")

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def parse(path: Path) -> Page:
    p = Page()
    p.feed(path.read_text(encoding="utf-8"))
    return p


@pytest.fixture(scope="module")
def pages(real_site: Path) -> dict[Path, Page]:
    return {p: parse(p) for p in sorted(real_site.rglob("*.html")) if "pagefind" not in p.parts}


def chapter_slugs() -> list[str]:
    out = []
    for p in sorted((ROOT / "content").glob("*.md")):
        if p.name != "README.md":
            meta = yaml.safe_load(p.read_text(encoding="utf-8").split("---")[1])
            out.append(meta["slug"])
    return out


def test_every_chapter_has_a_page(real_site: Path):
    slugs = chapter_slugs()
    assert "grpo" in slugs
    for slug in slugs:
        assert (real_site / slug / "index.html").is_file(), slug
    assert (real_site / "index.html").is_file() and (real_site / "404.html").is_file()


def test_every_internal_link_and_anchor_resolves(real_site: Path, pages: dict[Path, Page]):
    problems = []
    checked = 0
    for path, page in pages.items():
        base = "http://site/" + path.relative_to(real_site).as_posix()
        if path.name == "404.html":   # served at any depth: its links are root-relative by design
            continue
        for attr, ref in page.refs:
            url = urlparse(urljoin(base, ref))
            if url.scheme in ("http", "https") and url.netloc != "site" or url.scheme in ("mailto", "data"):
                continue
            target = real_site / unquote(url.path.lstrip("/"))
            if url.path.endswith("/"):
                target = target / "index.html"
            checked += 1
            if not target.exists():
                problems.append(f"{path.relative_to(real_site)}: {attr}={ref} -> missing {target.relative_to(real_site)}")
            elif url.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if unquote(url.fragment) not in ids:
                    problems.append(f"{path.relative_to(real_site)}: {ref} -> no id '{url.fragment}'")
    assert checked > 50, "the link checker found suspiciously few links"
    assert not problems, "\n".join(problems)


def test_pages_obey_the_content_security_policy(pages: dict[Path, Page]):
    for path, page in pages.items():
        csp = page.meta.get("content-security-policy", "")
        assert "script-src 'self' 'wasm-unsafe-eval'" in csp, path
        assert "unsafe-inline" not in csp and "'unsafe-eval'" not in csp, path
        assert page.inline_scripts == 0, f"{path}: inline <script>"
        assert not page.style_attrs, f"{path}: style attributes {page.style_attrs[:3]}"
        assert not page.handlers, f"{path}: inline event handlers {page.handlers[:3]}"


def test_chapter_pages_have_layers_and_open_graph(real_site: Path, pages: dict[Path, Page]):
    grpo = (real_site / "grpo" / "index.html").read_text(encoding="utf-8")
    for layer in ("intuition", "math", "implementation"):
        assert grpo.count(f'data-layer="{layer}"') >= 7, layer
    page = pages[real_site / "grpo" / "index.html"]
    assert page.meta.get("og:title") and page.meta.get("og:description") and page.meta.get("og:type")
    assert "$" not in re.sub(r"<(code|pre|annotation|script|textarea)[\s\S]*?</\1>|data-tex=\"[^\"]*\"", "", grpo).replace("$$", ""), \
        "raw TeX delimiters left in the page"


def test_search_index(real_site: Path):
    assert (real_site / "pagefind" / "pagefind.js").is_file()
    assert list((real_site / "pagefind").glob("*.pf_meta")) or list((real_site / "pagefind").rglob("*.pf_index"))


def test_a_build_without_base_url_writes_no_absolute_url_of_its_own(real_site: Path):
    """Without --base-url the build cannot know where the site lives: no canonical/og:url, no sitemap (it needs
    absolute URLs), robots.txt without a Sitemap line, and no placeholder domain anywhere (the old default)."""
    files = [p for p in real_site.rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        assert b"grpo-explainer.example" not in path.read_bytes(), path.relative_to(real_site)
    for path in real_site.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        assert 'rel="canonical"' not in html and 'property="og:url"' not in html, path
    assert not (real_site / "sitemap.xml").exists()
    assert (real_site / "robots.txt").read_text() == "User-agent: *\nAllow: /\n"


def test_every_relative_url_stays_under_a_deep_sub_path(pages: dict[Path, Page], real_site: Path):
    """Served at http://host/a/b/c/, every relative href/src of every page resolves inside /a/b/c/ and to a file
    of the site: a URL that climbs one level too many works at the host root (browsers stop at /) and nowhere else."""
    base = "http://host/a/b/c/"
    problems = []
    for path, page in pages.items():
        rel = path.relative_to(real_site).as_posix()
        if rel == "404.html":
            continue      # served at any depth: its links are root-absolute (see the --base-url test)
        for _attr, ref in page.refs:
            if urlparse(ref).scheme or ref.startswith(("#", "//", "mailto:")):
                continue
            target = urljoin(base + rel, ref)
            target_path = urlparse(target).path
            if not target_path.startswith("/a/b/c/"):
                problems.append(f"{rel}: {ref} -> {target_path}")
                continue
            local = real_site / unquote(target_path[len("/a/b/c/"):])
            if local.is_dir():
                local = local / "index.html"
            if not local.exists():
                problems.append(f"{rel}: {ref} -> {target_path} (no such file)")
    assert not problems, "\n".join(problems[:20])


def test_base_url_makes_canonical_open_graph_sitemap_robots_and_404_links(project):
    base = "https://reader.example.net/a/b/c/"
    r = project.build("--base-url", base.rstrip("/"))        # the trailing slash is added
    assert r.returncode == 0, r.stderr
    site = project.site
    chapters = sorted(p.parent.name for p in site.glob("*/index.html"))
    assert chapters
    for rel, url in [("index.html", base)] + [(f"{c}/index.html", f"{base}{c}/") for c in chapters]:
        page = parse(site / rel)
        html = (site / rel).read_text(encoding="utf-8")
        assert f'<link rel="canonical" href="{url}">' in html, rel
        assert page.meta["og:url"] == url, rel
    sitemap = (site / "sitemap.xml").read_text()
    assert re.findall(r"<loc>([^<]+)</loc>", sitemap) == [base] + [f"{base}{c}/" for c in
                                                                  [p for p in _nav_order(site) if p in chapters]]
    assert f"Sitemap: {base}sitemap.xml" in (site / "robots.txt").read_text()
    nf = parse(site / "404.html")
    links = [ref for attr, ref in nf.refs if attr == "href" and not ref.startswith("#")]
    assert links and all(ref.startswith("/a/b/c/") for ref in links), links


def _nav_order(site: Path) -> list[str]:
    """Chapter slugs in the order of the home page's sidebar."""
    return [ref.strip("/") for attr, ref in parse(site / "index.html").refs if attr == "href"
            and re.fullmatch(r"[a-z0-9-]+/", ref)][: len(list(site.glob("*/index.html")))]


def test_base_url_must_be_an_absolute_http_url(project):
    for bad in ("grpo.example/", "/repo/", "ftp://host/", "https://host/?q=1"):
        r = project.build("--base-url", bad)
        assert r.returncode == 2 and "absolute http(s) URL" in r.stderr, (bad, r.stderr)


def test_self_hosted_pyodide_is_complete(real_site: Path):
    names = {p.name for p in (real_site / "pyodide").iterdir()}
    assert {"pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"} <= names
    assert any(n.startswith("numpy-") and n.endswith(".whl") for n in names)
    assert not any(n.startswith("matplotlib") for n in names), "only what the demos need is copied"
