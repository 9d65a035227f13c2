"""Golden-file tests of the renderer, in markdown-it-py's fixture format: title / . / input / . / expected / ."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it.utils import read_fixture_file

from support import ROOT
from sitegen.diagnostics import BuildFailed
from sitegen.pipeline import render_fragment

FIXTURES = Path(__file__).parent / "fixtures" / "render"
REFS = {k: {"title": k, "authors": ["A"], "year": 2000, "venue": "V", "url": "https://example.org"}
        for k in ("ppo", "reinforce")}


def read_fixtures(path: Path) -> list:
    """markdown-it-py's own fixture reader: [line, title, input, expected] per case, as pytest params."""
    return [pytest.param(source, expected, id=f"{path.stem}:{line}:{title[:40]}")
            for line, title, source, expected in read_fixture_file(path)]


CASES = [c for f in sorted(FIXTURES.glob("*.md")) for c in read_fixtures(f)]


@pytest.mark.parametrize("source, expected", CASES)
def test_golden(source: str, expected: str):
    html = render_fragment(source, project=ROOT, references=REFS, chapter_files={"ppo": "ppo"},
                           demo_names={"group-advantage"})
    assert html == expected


def test_fixture_files_were_found():
    assert len(CASES) >= 10


def test_display_math_is_rendered_at_build_time_with_number_and_tex():
    html = render_fragment("$$\n\\adv_{i,t} = \\frac{r_i - \\mean(\\mathbf{r})}{\\std(\\mathbf{r})}\n$$ (adv)\n",
                           project=ROOT)
    assert html.startswith('<div class="math-display" id="eq-adv" tabindex="0" data-scroll-focus data-tex="\\adv_{i,t} = ')
    assert '<span class="eq-no">(1)</span>' in html
    assert "<math" in html and 'class="katex-html"' in html       # MathML for readers + HTML for layout
    assert "\\adv" not in re.sub(r'data-tex="[^"]*"|<annotation.*?</annotation>', "", html, flags=re.S)  # no raw TeX shown
    assert "style=" not in html                                  # CSP: KaTeX's inline styles became classes
    assert re.search(r'class="[^"]*ks-\d+', html)


def test_macros_come_from_math_conventions():
    html = render_fragment("$\\piref$", project=ROOT)
    assert "<mtext>ref</mtext>" in html and "π" in html


def test_include_symbol_shows_the_tested_source():
    src = (ROOT / "sitegen" / "sources.py").read_text()
    html = render_fragment("```python include=sitegen/sources.py symbol=read_text\n```\n", project=ROOT)
    assert '<p class="code-source">sitegen/sources.py</p>' in html
    assert "read_text" in html and "load_chapter" not in html
    assert "def read_text" in src


def test_include_of_a_missing_symbol_fails():
    with pytest.raises(BuildFailed) as e:
        render_fragment("```python include=sitegen/sources.py symbol=nope\n```\n", project=ROOT)
    assert "[include] 'sitegen/sources.py' has no top-level function or class 'nope'" in str(e.value)


def test_raw_html_with_inline_style_is_refused():
    with pytest.raises(BuildFailed) as e:
        render_fragment('<div style="color:red">x</div>\n', project=ROOT)
    assert "fragment.md:1: [html-unsafe] raw HTML contains a style= attribute" in str(e.value)


def test_inline_math_next_to_digits_and_in_admonition_titles_is_typeset():
    html = render_fragment("With $G=64$ samples, std 1\n\n::: note Why $G$ matters\nx\n:::\n", project=ROOT)
    assert html.count('<span class="katex">') == 2
    assert "$" not in re.sub(r"<annotation.*?</annotation>", "", html, flags=re.S)


def test_a_stray_dollar_is_reported_and_an_escaped_one_is_text():
    assert "costs $5" in render_fragment("It costs \\$5.\n", project=ROOT)
    with pytest.raises(BuildFailed) as e:
        render_fragment("line one\nit costs $ 5 and $x\n", project=ROOT)
    assert "fragment.md:2: [tex-delimiter] a '$' here opens no math" in str(e.value)
