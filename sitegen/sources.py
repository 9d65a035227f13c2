"""Reading source files: strict UTF-8, YAML with line numbers, chapter front matter and its schema."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .diagnostics import Diagnostics

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ARXIV_RE = re.compile(r"^\d{4}\.\d{4,5}$")


def read_text(path: Path, diags: Diagnostics) -> str | None:
    """The file's text, or None (with a diagnostic at the line of the first bad byte) if it is not UTF-8."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        diags.add(path, line, "utf8", f"not valid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}); save the file as UTF-8")
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class YamlDoc:
    """A parsed YAML document with the line of every mapping key (1-based, in the file)."""

    data: Any
    lines: dict[tuple, int]

    def line_of(self, *keys: Any, default: int = 1) -> int:
        for n in range(len(keys), 0, -1):
            if keys[:n] in self.lines:
                return self.lines[keys[:n]]
        return default


def _key_lines(node: yaml.Node, prefix: tuple, offset: int, out: dict[tuple, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = (*prefix, k.value)
            out[key] = k.start_mark.line + 1 + offset
            _key_lines(v, key, offset, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            key = (*prefix, i)
            out[key] = v.start_mark.line + 1 + offset
            _key_lines(v, key, offset, out)


def parse_yaml(text: str, path: Path, diags: Diagnostics, *, line_offset: int = 0) -> YamlDoc | None:
    """Parse YAML safely; a syntax error becomes ``path:line: [yaml] ...`` and None."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = (mark.line + 1 if mark else 1) + line_offset
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        diags.add(path, line, "yaml", f"invalid YAML: {problem}")
        return None
    lines: dict[tuple, int] = {}
    if node is not None:
        _key_lines(node, (), line_offset, lines)
    return YamlDoc(data, lines)


@dataclass
class ChapterSource:
    path: Path
    text: str               # the whole file
    body: str               # the Markdown after the front matter
    body_line: int          # 1-based line in the file where ``body`` starts
    meta: dict[str, Any]
    meta_doc: YamlDoc


# field -> (type, required)
PAPER_FIELDS = {"title": (str, True), "authors": (list, True), "venue": (str, True), "year": (int, True),
                "arxiv": (str, False), "url": (str, True)}
FRONT_MATTER = {"slug": (str, True), "title": (str, True), "short_title": (str, False), "order": (int, True),
                "tldr": (str, True), "description": (str, False), "paper": (dict, True)}


def _type_name(t: type) -> str:
    return {str: "a string", int: "an integer", list: "a list", dict: "a mapping"}[t]


def _check_fields(data: dict, schema: dict, where: tuple, doc: YamlDoc, path: Path, diags: Diagnostics,
                  header_line: int) -> bool:
    ok = True
    label = ".".join(where) + "." if where else ""
    for name, (typ, required) in schema.items():
        if name not in data or data[name] is None:
            if required:
                diags.add(path, doc.line_of(*where, default=header_line), "front-matter",
                          f"missing required field '{label}{name}' ({_type_name(typ)})")
                ok = False
            continue
        value = data[name]
        if typ is int and isinstance(value, bool) or not isinstance(value, typ):
            diags.add(path, doc.line_of(*where, name), "front-matter",
                      f"field '{label}{name}' must be {_type_name(typ)}, got {type(value).__name__} {value!r}")
            ok = False
    for name in data:
        if name not in schema:
            diags.add(path, doc.line_of(*where, name), "front-matter",
                      f"unknown field '{label}{name}' (known: {', '.join(schema)})")
            ok = False
    return ok


def load_chapter(path: Path, diags: Diagnostics) -> ChapterSource | None:
    """Read ``content/<name>.md``: front matter (checked against the schema) and body."""
    text = read_text(path, diags)
    if text is None:
        return None
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        diags.add(path, 1, "front-matter", "a chapter starts with YAML front matter between '---' lines")
        return None
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        diags.add(path, 1, "front-matter", "front matter is not closed: add a '---' line after it")
        return None
    doc = parse_yaml("\n".join(lines[1:end]), path, diags, line_offset=1)
    if doc is None:
        return None
    meta = doc.data
    if not isinstance(meta, dict):
        diags.add(path, 2, "front-matter", "front matter must be a YAML mapping (key: value lines)")
        return None
    ok = _check_fields(meta, FRONT_MATTER, (), doc, path, diags, 1)
    if isinstance(meta.get("slug"), str) and not SLUG_RE.match(meta["slug"]):
        diags.add(path, doc.line_of("slug"), "front-matter",
                  f"slug {meta['slug']!r} must be lower-case letters, digits and '-'")
        ok = False
    paper = meta.get("paper")
    if isinstance(paper, dict):
        ok &= _check_fields(paper, PAPER_FIELDS, ("paper",), doc, path, diags, doc.line_of("paper"))
        if isinstance(paper.get("authors"), list) and not all(isinstance(a, str) for a in paper["authors"]):
            diags.add(path, doc.line_of("paper", "authors"), "front-matter", "paper.authors must be a list of strings")
            ok = False
        if isinstance(paper.get("arxiv"), str) and not ARXIV_RE.match(paper["arxiv"]):
            diags.add(path, doc.line_of("paper", "arxiv"), "front-matter",
                      f"paper.arxiv {paper['arxiv']!r} is not an arXiv id like 2402.03300")
            ok = False
    if not ok:
        return None
    return ChapterSource(path=path, text=text, body="\n".join(lines[end + 1:]), body_line=end + 2,
                         meta=meta, meta_doc=doc)
