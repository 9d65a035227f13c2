"""Fuzzing the content pipeline: whatever the Markdown, front matter or YAML, the build answers with a page or
with ``path:line: [code] message`` diagnostics, never a traceback."""
from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import ROOT
from sitegen.diagnostics import BuildFailed, Diagnostics
from sitegen.graph import load_connections, load_references
from sitegen.pipeline import render_fragment
from sitegen.sources import load_chapter

DIAG = re.compile(r"^[^:\n]+:\d+: \[[a-z0-9-]+\] .+$")

pieces = st.sampled_from([
    "::: intuition\n", "::: math\n", ":::\n", "::::\n", "::: intution\n", "::: demo group-advantage\n",
    "::: warning Title\n", "$x$", "$$\n\\adv\n$$\n", "$$ x $$ (lbl)\n", "$\\frac{$", "$\\undefinedmacro$",
    "[@key]", "[@nope]", "[link](ppo.md)", "[x](#nowhere)", "[y](missing.md)", "## Heading\n", "## H {#id}\n",
    "```python\n", "```\n", "```python include=demos/nope.py\n```\n", "<div>\n", '<b style="x">', "| a | b |\n|---|---|\n",
    "\n", "text ", "*em* ", "`code` ", "- item\n", "> quote\n", "\\", "$", "[", "]", "{#", "\t", "\u00e9", "\x00",
])
markdown = st.lists(st.one_of(pieces, st.text(max_size=12)), max_size=25).map("".join)


def check_diagnostics(e: BuildFailed) -> None:
    assert e.diagnostics
    for d in e.diagnostics:
        assert DIAG.match(str(d)), str(d)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdown)
def test_random_markdown_renders_or_reports(text: str):
    refs = {"key": {"title": "T", "authors": ["A"], "year": 2000, "venue": "V", "url": "https://example.org"}}
    try:
        html = render_fragment(text, project=ROOT, references=refs, chapter_files={"ppo": "ppo"},
                               demo_names={"group-advantage"})
    except BuildFailed as e:
        check_diagnostics(e)
    else:
        assert isinstance(html, str)
        assert "style=" not in html.replace('"x"', "")


yaml_text = st.lists(st.sampled_from([
    "slug: a\n", "title: T\n", "order: 1\n", "order: x\n", "tldr: t\n", "paper:\n", "  title: P\n", "  authors: [A]\n",
    "  year: 2000\n", "  year: '2000'\n", "  venue: V\n", "  url: u\n", "  arxiv: '1234.5678'\n", "  arxiv: 1234.5678\n",
    "bad: [\n", ": :\n", "- x\n", "&a\n", "*b\n", "%YAML\n", "\t\n", "key: {a: 1}\n", "slug: Not A Slug\n",
]), max_size=14).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(front=yaml_text, body=markdown)
def test_random_front_matter_is_loaded_or_reported(tmp_path_factory, front: str, body: str):
    path = tmp_path_factory.mktemp("fm") / "a.md"
    path.write_text(f"---\n{front}---\n{body}", encoding="utf-8")
    diags = Diagnostics(path.parent)
    src = load_chapter(path, diags)
    assert (src is None) == bool(diags.items) or src is not None
    for d in diags.items:
        assert DIAG.match(str(d)), str(d)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=yaml_text)
def test_random_references_and_connections_are_loaded_or_reported(tmp_path_factory, text: str):
    d = tmp_path_factory.mktemp("y")
    (d / "references.yaml").write_text(text, encoding="utf-8")
    (d / "connections.yaml").write_text("chapters:\n  a:\n" + "".join("    " + ln + "\n" for ln in text.splitlines()),
                                        encoding="utf-8")
    diags = Diagnostics(d)
    refs = load_references(d / "references.yaml", diags)
    assert isinstance(refs, dict)
    load_connections(d / "connections.yaml", {"a": 1, "b": 2}, diags)
    for x in diags.items:
        assert DIAG.match(str(x)), str(x)
