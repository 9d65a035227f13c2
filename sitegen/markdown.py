"""Chapter Markdown -> HTML: layers, admonitions, demos, math, citations, links, headings, included code.

Four steps, so that a whole build's problems are found before anything is written:
  1. :func:`lint_source`  - container fences (unknown names, unclosed), unsafe raw HTML;
  2. :func:`parse`        - markdown-it tokens;
  3. :func:`resolve`      - walk the tokens: heading ids, links, citations, includes, demo names; collects math;
  4. :func:`render`       - HTML, once the math of every chapter has been typeset.
"""
from __future__ import annotations

import ast
import difflib
import html
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from .diagnostics import Diagnostics
from .mathtex import MathItem

LAYERS = {"intuition": "Intuition", "math": "Math", "implementation": "Implementation"}
ADMONITIONS = {"note": "Note", "tip": "Tip", "warning": "Warning", "question": "Discussion question",
               "misconception": "Common misunderstanding"}
CONTAINERS = {*LAYERS, *ADMONITIONS, "demo"}

FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CONTAINER_RE = re.compile(r"^ {0,3}(:{3,})[ \t]*(.*?)[ \t]*$")
UNSAFE_HTML = [(re.compile(r"<script\b", re.I), "<script> (put scripts in templates/assets/)"),
               (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler (on...=)"),
               (re.compile(r"\sstyle\s*=", re.I), "a style= attribute (use a class; CSP forbids inline styles)"),
               (re.compile(r"javascript:", re.I), "a javascript: URL")]
CITE_RE = re.compile(r"\[@([A-Za-z0-9_:.-]+)((?:\s*;\s*@[A-Za-z0-9_:.-]+)*)\]")
# Boxes that may scroll sideways are keyboard-focusable (WCAG 2.1.1); site.js drops the ones that turn out
# not to overflow, as they come near the viewport.
SCROLL_FOCUS = 'tabindex="0" data-scroll-focus'
EXPLICIT_ID = re.compile(r"\s*\{#([A-Za-z][\w:.-]*)\}\s*$")


# ---------------------------------------------------------------------------- lint

def lint_source(body: str, body_line: int, path: Path, diags: Diagnostics) -> None:
    """Container fences and raw HTML, checked on the source lines (markdown-it would silently accept
    ``::: intution`` as a paragraph and close an unclosed ``:::`` at the end of the file)."""
    stack: list[tuple[int, str, int]] = []   # (marker length, name, line)
    fence: tuple[str, int] | None = None
    for i, line in enumerate(body.split("\n")):
        lineno = body_line + i
        m = FENCE_RE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= fence[1] and not line.strip(" `~"):
                fence = None
            continue
        if m:
            fence = (m.group(1)[0], len(m.group(1)))
            continue
        for pattern, what in UNSAFE_HTML:
            if "<" in line and pattern.search(line):
                diags.add(path, lineno, "html-unsafe", f"raw HTML contains {what}")
        m = CONTAINER_RE.match(line)
        if not m:
            continue
        marker, params = m.group(1), m.group(2)
        if params:
            name = params.split()[0]
            if name not in CONTAINERS:
                close = difflib.get_close_matches(name, sorted(CONTAINERS), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(sorted(CONTAINERS))})"
                diags.add(path, lineno, "container-unknown", f"unknown container '{name}'{hint}")
            stack.append((len(marker), name, lineno))
        elif stack and len(marker) >= stack[-1][0]:
            stack.pop()
        else:
            diags.add(path, lineno, "container-unclosed", f"'{marker}' closes no open container")
    if fence:
        diags.add(path, body_line + len(body.split("\n")) - 1, "code-unclosed", "a code fence is not closed")
    for marker_len, name, lineno in stack:
        diags.add(path, lineno, "container-unclosed",
                  f"container '{name}' opened here is never closed (add a line with {':' * marker_len})")


# ---------------------------------------------------------------------------- parser

def _citation_rule(state, silent: bool) -> bool:
    if not state.src.startswith("[@", state.pos):
        return False
    m = CITE_RE.match(state.src, state.pos)
    if not m:
        return False
    if not silent:
        keys = [m.group(1)] + re.findall(r"@([A-Za-z0-9_:.-]+)", m.group(2))
        token = state.push("citation", "", 0)
        token.meta = {"keys": keys}
        token.content = m.group(0)
    state.pos = m.end()
    return True


def make_parser(render_math: Callable[[str, bool, dict], str]) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "typographer": True})
    md.enable(["table", "strikethrough", "replacements", "smartquotes"])
    dollarmath_plugin(md, allow_labels=True, allow_space=False, allow_digits=True, double_inline=True)
    md.core.ruler.after("block", "admonition_title", _admonition_titles)
    md.core.ruler.after("inline", "admonition_kind", _admonition_kinds)
    footnote_plugin(md)
    deflist_plugin(md)
    md.inline.ruler.before("link", "citation", _citation_rule)
    for name in CONTAINERS:
        container_plugin(md, name, render=_render_container)

    def math_inline(self, tokens, idx, options, env):
        return render_math(tokens[idx].content, False, env)

    def math_block(self, tokens, idx, options, env):
        tok = tokens[idx]
        label = tok.info if tok.type == "math_block_label" else None
        body = render_math(tok.content, True, env)
        tex_attr = html.escape(tok.content.strip(), quote=True)
        if label:
            n = env["eq_numbers"][label]
            return (f'<div class="math-display" id="eq-{html.escape(label)}" {SCROLL_FOCUS} data-tex="{tex_attr}">{body}'
                    f'<span class="eq-no">({n})</span></div>\n')
        return f'<div class="math-display" {SCROLL_FOCUS} data-tex="{tex_attr}">{body}</div>\n'

    md.add_render_rule("math_inline", math_inline)
    md.add_render_rule("math_inline_double", lambda s, t, i, o, e: render_math(t[i].content, True, e))
    md.add_render_rule("math_block", math_block)
    md.add_render_rule("math_block_label", math_block)
    md.add_render_rule("citation", _render_citation)
    md.add_render_rule("heading_open", _render_heading_open)
    md.add_render_rule("heading_close", _render_heading_close)
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("table_open", lambda s, t, i, o, e: f'<div class="table-wrap" {SCROLL_FOCUS}><table>\n')
    md.add_render_rule("table_close", lambda s, t, i, o, e: "</table></div>\n")
    return md


# ---------------------------------------------------------------------------- render rules

def _render_container(self, tokens, idx, options, env):
    tok = tokens[idx]
    name = tok.type[len("container_"):].rsplit("_", 1)[0]
    opening = tok.nesting == 1
    if name in LAYERS:
        if opening:
            return f'<div class="layer" data-layer="{name}"><p class="layer-label">{LAYERS[name]}</p>\n'
        return "</div>\n"
    if name == "demo":
        if opening:
            return f"<!--demo-start:{tok.meta['demo']}-->"
        return "<!--demo-end-->\n"
    if opening:
        hid = tok.meta.get("id") if tok.meta else None
        id_attr = f' id="{html.escape(hid)}"' if hid else ""
        return f'<div class="admonition {name}"{id_attr} role="note">'
    return "</div>\n"


def _admonition_titles(state) -> None:
    """Give each admonition a title paragraph (inline-parsed: math and citations work in titles)."""
    out = []
    for tok in state.tokens:
        out.append(tok)
        name = tok.type[len("container_"):-len("_open")] if tok.type.startswith("container_") else ""
        if tok.type.endswith("_open") and name in ADMONITIONS:
            title = tok.info.strip()[len(name):].strip() or ADMONITIONS[name]
            p_open = Token("paragraph_open", "p", 1, attrs={"class": "admonition-title"}, map=tok.map,
                           block=True, level=tok.level + 1)
            inline = Token("inline", "", 0, content=title, map=tok.map, block=True, level=tok.level + 2, children=[],
                           meta={"admonition": name})
            p_close = Token("paragraph_close", "p", -1, block=True, level=tok.level + 1)
            out += [p_open, inline, p_close]
    state.tokens = out


# Words read before a title whose kind is shown only by its icon: screen readers and the search index get them.
KIND_WORDS = {"misconception": "Misconception: "}


def _admonition_kinds(state) -> None:
    """Prefix a misconception's title (the claim itself, e.g. "GRPO doesn't use clipping.") with a visually
    hidden "Misconception:" (the ✗ icon is CSS)."""
    for tok in state.tokens:
        word = KIND_WORDS.get((tok.meta or {}).get("admonition", "")) if tok.type == "inline" else None
        if word:
            tok.children.insert(0, Token("html_inline", "", 0, content=f'<span class="visually-hidden">{word}</span>'))


def _render_citation(self, tokens, idx, options, env):
    out = []
    for key in tokens[idx].meta["keys"]:
        n = env["citations"].get(key)
        if n is None:      # unknown key: reported by resolve(); render something harmless
            out.append(f"[?{html.escape(key)}]")
            continue
        out.append(f'<a class="cite" href="#ref-{html.escape(key)}" data-ref="ref-{html.escape(key)}">[{n}]</a>')
    return "".join(out)


def _render_heading_open(self, tokens, idx, options, env):
    tok = tokens[idx]
    return f'<{tok.tag} id="{html.escape(tok.meta["id"])}">'


def _render_heading_close(self, tokens, idx, options, env):
    tok = tokens[idx]
    open_tok = tokens[idx - 2]
    hid = html.escape(open_tok.meta["id"])
    label = html.escape(open_tok.meta["text"], quote=True)
    return f' <a class="headerlink" href="#{hid}" aria-label="Permalink: {label}" data-pagefind-ignore>#</a></{tok.tag}>\n'


_FORMATTER = HtmlFormatter(cssclass="highlight")


_PRE_BODY = re.compile(r"(<pre[^>]*>(?:<span></span>)?)(.*?)(</pre>)", re.S)


def _line_blocks(code_html: str) -> str:
    """Each line of Pygments' <pre> in its own <span class="cl">line</span> followed by its newline, so CSS can
    wrap a long line with a hanging indent (an inline-block: the text, what Copy copies and what a selection
    copies are unchanged). Pygments closes its token spans at
    every line end, so splitting on newlines keeps the markup balanced."""
    def lines(m: re.Match) -> str:
        body = m.group(2)
        parts = body.split("\n")
        if parts and parts[-1] == "":
            parts.pop()
        return m.group(1) + "".join(f'<span class="cl">{p}</span>\n' for p in parts) + m.group(3)
    return _PRE_BODY.sub(lines, code_html, count=1)


def _render_fence(self, tokens, idx, options, env):
    tok = tokens[idx]
    lang = tok.meta.get("lang", "")
    try:
        lexer = get_lexer_by_name(lang) if lang else get_lexer_by_name("text")
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    code = _line_blocks(highlight(tok.content, lexer, _FORMATTER).replace("<pre>", f"<pre {SCROLL_FOCUS}>", 1))
    source = tok.meta.get("source")
    head = ""
    if source:
        label = html.escape(source)
        if source.startswith("demos/"):
            label = f'<a href="{env["root"]}{html.escape(source)}">{label}</a>'
        head = f'<p class="code-source">{label}</p>'
    return f'<div class="codeblock" data-lang="{html.escape(lang or "text")}">{head}{code}</div>\n'


# ---------------------------------------------------------------------------- resolve

def slugify(text: str) -> str:
    text = re.sub(r"[^\w\s-]", "", text.lower(), flags=re.UNICODE)
    return re.sub(r"[\s_-]+", "-", text).strip("-") or "section"


def _inline_text(tok: Token) -> str:
    parts = []
    for c in tok.children or []:
        if c.type in ("text", "code_inline"):
            parts.append(c.content)
        elif c.type.startswith("math_inline"):
            parts.append(c.content)
    return "".join(parts).strip()


def _line_of(inline: Token, needle: str, start_line: int) -> int:
    """Line of ``needle`` inside a block (inline tokens carry no positions of their own)."""
    if inline.map is None:
        return start_line
    pos = inline.content.find(needle)
    return start_line + inline.map[0] + (inline.content[:pos].count("\n") if pos >= 0 else 0)


@dataclass
class ChapterDoc:
    """A parsed chapter and everything resolve() learned about it."""

    slug: str
    path: Path
    tokens: list[Token]
    body_line: int
    env: dict[str, Any] = field(default_factory=dict)
    math: list[MathItem] = field(default_factory=list)
    toc: list[dict] = field(default_factory=list)
    demos: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)           # keys in order of first use
    anchor_checks: list[tuple[int, str, str]] = field(default_factory=list)  # (line, slug, anchor)
    callouts: list[dict] = field(default_factory=list)  # misconceptions and discussion questions: {id, kind, text, section}


def _parse_include(info: str, project: Path, path: Path, line: int, diags: Diagnostics):
    try:
        words = shlex.split(info)
    except ValueError as e:
        diags.add(path, line, "include", f"cannot read code block options {info!r}: {e}")
        return None, ""
    lang = words[0] if words and "=" not in words[0] else ""
    opts = dict(w.split("=", 1) for w in words if "=" in w)
    unknown = set(opts) - {"include", "symbol", "lines"}
    if unknown:
        diags.add(path, line, "include", f"unknown code block option(s) {', '.join(sorted(unknown))}")
    if "include" not in opts:
        return None, lang
    rel = opts["include"]
    target = (project / rel).resolve()
    if project.resolve() not in target.parents or not target.is_file():
        diags.add(path, line, "include", f"included file '{rel}' does not exist in the project")
        return None, lang
    text = target.read_text(encoding="utf-8")
    if "symbol" in opts:
        try:
            tree = ast.parse(text)
        except SyntaxError as e:
            diags.add(path, line, "include", f"'{rel}' is not valid Python: {e}")
            return None, lang
        nodes = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                 and n.name == opts["symbol"]]
        if not nodes:
            diags.add(path, line, "include", f"'{rel}' has no top-level function or class '{opts['symbol']}'")
            return None, lang
        n = nodes[0]
        first = min([n.lineno] + [d.lineno for d in n.decorator_list])
        text = "\n".join(text.split("\n")[first - 1:n.end_lineno]) + "\n"
    elif "lines" in opts:
        m = re.fullmatch(r"(\d+)-(\d+)", opts["lines"])
        all_lines = text.split("\n")
        if not m or not (1 <= int(m.group(1)) <= int(m.group(2)) <= len(all_lines)):
            diags.add(path, line, "include", f"lines={opts['lines']} is not a range within 1-{len(all_lines)} of '{rel}'")
            return None, lang
        text = "\n".join(all_lines[int(m.group(1)) - 1:int(m.group(2))]) + "\n"
    return (rel, text), lang


def resolve(doc: ChapterDoc, *, project: Path, chapter_files: dict[str, str], references: dict[str, Any],
            demo_names: set[str], diags: Diagnostics) -> None:
    """Walk the tokens once: ids, links, citations, includes, demos; collect math for KaTeX."""
    path, base = doc.path, doc.body_line
    ids: dict[str, int] = {}
    eq_numbers: dict[str, int] = {}
    citations: dict[str, int] = {}

    def claim_id(hid: str, line: int) -> None:
        if hid in ids:
            diags.add(path, line, "duplicate-id", f"id '{hid}' is already used on line {ids[hid]}")
        ids[hid] = line

    def walk_inline(inline: Token, start_line: int) -> None:
        children = inline.children or []
        n_math = sum(2 if c.type == "math_inline" else 4 for c in children if c.type.startswith("math_inline"))
        source = re.sub(r"(`+).*?\1", "", inline.content.replace("\\$", ""), flags=re.S)
        if source.count("$") > n_math:
            diags.add(path, _line_of(inline, "$", start_line), "tex-delimiter",
                      "a '$' here opens no math (no closing '$', or a space after the opening one); "
                      "write \\$ for a literal dollar sign")
        for child in children:
            if child.type.startswith("math_inline"):
                doc.math.append(MathItem(child.content, child.type == "math_inline_double", path,
                                         _line_of(inline, child.content, start_line)))
            elif child.type == "citation":
                for key in child.meta["keys"]:
                    if key not in references:
                        close = difflib.get_close_matches(key, list(references), n=1)
                        hint = f" (did you mean '{close[0]}'?)" if close else ""
                        diags.add(path, _line_of(inline, child.content, start_line), "citation",
                                  f"unknown citation key '{key}'{hint}; define it in content/references.yaml")
                    elif key not in citations:
                        citations[key] = len(citations) + 1
            elif child.type == "link_open":
                href = child.attrGet("href") or ""
                line = _line_of(inline, href, start_line)
                child.attrSet("href", _resolve_href(href, line))
                if href.startswith(("http://", "https://")):
                    child.attrSet("rel", "noopener")

    def _resolve_href(href: str, line: int) -> str:
        if re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I):
            if not href.startswith(("http://", "https://", "mailto:")):
                diags.add(path, line, "link", f"link scheme not allowed: {href!r}")
            return href
        target, _, anchor = href.partition("#")
        if not target:
            doc.anchor_checks.append((line, doc.slug, anchor))
            return href
        name = target.split("/")[-1]
        if not name.endswith(".md") or name[:-3] not in chapter_files or "/" in target.strip("./"):
            diags.add(path, line, "link", f"broken link '{href}': link to a chapter as 'slug.md' or 'slug.md#anchor' "
                      f"(chapters: {', '.join(sorted(chapter_files))})")
            return href
        slug = chapter_files[name[:-3]]
        if anchor:
            doc.anchor_checks.append((line, slug, anchor))
        return f"{doc.env['root']}{slug}/" + (f"#{anchor}" if anchor else "")

    tokens = doc.tokens
    for i, tok in enumerate(tokens):
        line = base + (tok.map[0] if tok.map else 0)
        if tok.type == "heading_open":
            inline = tokens[i + 1]
            m = EXPLICIT_ID.search(inline.content)
            if m and inline.children and inline.children[-1].type == "text":
                last = inline.children[-1]
                last.content = EXPLICIT_ID.sub("", last.content)
                inline.content = EXPLICIT_ID.sub("", inline.content)
            text = _inline_text(inline)
            hid = m.group(1) if m else slugify(text)
            if not m and hid in ids:
                k = 2
                while f"{hid}-{k}" in ids:
                    k += 1
                hid = f"{hid}-{k}"
            claim_id(hid, line)
            tok.meta = {"id": hid, "text": text}
            level = int(tok.tag[1])
            if level in (2, 3):
                entry = {"id": hid, "inline": inline, "level": level, "children": []}
                if level == 2 or not doc.toc:
                    doc.toc.append(entry)
                else:
                    doc.toc[-1]["children"].append(entry)
        elif tok.type == "inline":
            walk_inline(tok, base)
        elif tok.type in ("math_block", "math_block_label"):
            doc.math.append(MathItem(tok.content, True, path, line))
            if tok.type == "math_block_label":
                label = tok.info
                if not re.fullmatch(r"[A-Za-z][\w-]*", label):
                    diags.add(path, line, "math-label", f"equation label '{label}' must be letters, digits and '-'")
                eq_numbers[label] = len(eq_numbers) + 1
                claim_id(f"eq-{label}", line)
        elif tok.type == "fence":
            inc, lang = _parse_include(tok.info, project, path, line, diags)
            tok.meta = {"lang": lang}
            if inc:
                if tok.content.strip():
                    diags.add(path, line, "include", "a code block with include= must be empty")
                tok.meta["source"], tok.content = inc
        elif tok.type == "container_demo_open":
            parts = tok.info.split()
            name = parts[1] if len(parts) > 1 else ""
            if name not in demo_names:
                close = difflib.get_close_matches(name, sorted(demo_names), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (demos: {', '.join(sorted(demo_names))})"
                diags.add(path, line, "demo-unknown", f"unknown demo '{name}'{hint}")
            else:
                claim_id(f"demo-{name}", line)
                doc.demos.append(name)
            tok.meta = {"demo": name}
        elif tok.type in ("container_misconception_open", "container_question_open"):
            kind = tok.type[len("container_"):-len("_open")]
            text = tok.info.strip()[len(kind):].strip().strip('"\u201c\u201d') or ADMONITIONS[kind]
            hid = f"{kind}-{slugify(text)}"[:72].rstrip("-")
            if hid in ids:
                k = 2
                while f"{hid}-{k}" in ids:
                    k += 1
                hid = f"{hid}-{k}"
            claim_id(hid, line)
            tok.meta = {"id": hid}
            doc.callouts.append({"id": hid, "kind": kind, "text": text,
                                 "section": doc.toc[-1]["id"] if doc.toc else None})
        elif tok.type == "html_block":
            for hid in re.findall(r'\sid="([^"]+)"', tok.content):
                claim_id(hid, line)
    doc.env.update(eq_numbers=eq_numbers, citations=citations)
    doc.citations = list(citations)
    doc.env["ids"] = ids


def render(md: MarkdownIt, doc: ChapterDoc) -> str:
    return md.renderer.render(doc.tokens, md.options, doc.env)


def render_toc(md: MarkdownIt, doc: ChapterDoc) -> list[dict]:
    """The headings (h2 with nested h3); each discussion question nested under its section; and the
    misconceptions gathered in one entry of their own, placed before the discussion questions' section."""
    def one(e):
        title = md.renderer.render(e["inline"].children, md.options, doc.env)
        return {"id": e["id"], "title_html": title, "level": e["level"], "children": [one(c) for c in e["children"]]}

    def callout(c, prefix=""):
        return {"id": c["id"], "title_html": prefix + html.escape(c["text"]), "level": 3, "children": []}

    toc = [one(e) for e in doc.toc]
    for c in doc.callouts:
        if c["kind"] == "question":
            for e in toc:
                if e["id"] == c["section"]:
                    e["children"].append(callout(c))
    wrong = [callout(c, "\u2717 ") for c in doc.callouts if c["kind"] == "misconception"]
    if wrong:
        group = {"id": wrong[0]["id"], "title_html": f"Misconceptions ({len(wrong)})", "level": 2, "children": wrong}
        at = next((i for i, e in enumerate(toc) if any(c["section"] == e["id"] and c["kind"] == "question"
                                                       for c in doc.callouts)), len(toc))
        toc.insert(at, group)
    return toc


WORDS_PER_MINUTE = 200      # technical prose
DISPLAY_MATH_WORDS = 25     # reading one display equation counts as this many words


def reading_minutes(doc: ChapterDoc) -> dict[str, int]:
    """Minutes to read the chapter at each depth: the words outside layers plus those of every layer up to
    that depth (code counted as words, each display equation as DISPLAY_MATH_WORDS), at WORDS_PER_MINUTE."""
    words = {"": 0, **{name: 0 for name in LAYERS}}
    layer = ""
    for tok in doc.tokens:
        name = tok.type[len("container_"):].rsplit("_", 1)[0] if tok.type.startswith("container_") else ""
        if name in LAYERS:
            layer = name if tok.nesting == 1 else ""
        elif tok.type in ("math_block", "math_block_label"):
            words[layer] += DISPLAY_MATH_WORDS
        elif tok.type in ("inline", "fence"):
            words[layer] += len(re.findall(r"[A-Za-z0-9]+", tok.content))
    out, total = {}, words[""]
    for name in LAYERS:
        total += words[name]
        out[name] = max(1, round(total / WORDS_PER_MINUTE))
    return out


DEMO_BLOCK = re.compile(r"<!--demo-start:([\w-]*)-->(.*?)<!--demo-end-->", re.S)


def replace_demos(body: str, render_demo: Callable[[str, str], str]) -> str:
    return DEMO_BLOCK.sub(lambda m: render_demo(m.group(1), m.group(2).strip()), body)
