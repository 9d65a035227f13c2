"""The build's side of the reader's path: reading time per depth, misconceptions and discussion questions in
"On this page", the demos' PROMPTS, the runtime download size, and what the search index may not see."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import ROOT
from demos import registry
from sitegen import markdown as mdown
from sitegen import pyodide_assets as pa
from sitegen.diagnostics import Diagnostics
from sitegen.mathtex import for_search

WORD = "alpha "


def parse(text: str) -> tuple[mdown.ChapterDoc, object]:
    md = mdown.make_parser(lambda tex, display, env: "<span>m</span>")
    doc = mdown.ChapterDoc(slug="t", path=ROOT / "content" / "t.md", tokens=md.parse(text, {}), body_line=1,
                           env={"root": "../"})
    diags = Diagnostics(ROOT)
    mdown.resolve(doc, project=ROOT, chapter_files={}, references={}, demo_names=set(), diags=diags)
    assert not diags.items, diags.items
    return doc, md


def test_reading_minutes_add_up_layer_by_layer():
    body = (WORD * 400 + "\n\n::: intuition\n" + WORD * 200 + "\n:::\n\n::: math\n" + WORD * 400
            + "\n\n$$\nx = 1\n$$\n:::\n\n::: implementation\n```python\n" + "x = 1\n" * 100 + "```\n:::\n")
    doc, _ = parse(body)
    # words: 400 outside the layers, 200 intuition, 400 + one equation (25) math, 200 code words (x, 1) implementation
    assert mdown.reading_minutes(doc) == {"intuition": round(600 / 200), "math": round(1025 / 200),
                                          "implementation": round(1225 / 200)}


def test_misconceptions_grouped_and_questions_nested_in_the_toc():
    body = ('## One\n\n::: misconception "Wrong A."\nNo.\n:::\n\n## Two\n\n::: misconception "Wrong B."\nNo.\n:::\n\n'
            "## Discussion questions\n\n::: question Why $x$?\nThink.\n:::\n")
    doc, md = parse(body)
    toc = mdown.render_toc(md, doc)
    assert [e["title_html"] for e in toc] == ["One", "Two", "Misconceptions (2)", "Discussion questions"]
    group = toc[2]
    assert [c["id"] for c in group["children"]] == ["misconception-wrong-a", "misconception-wrong-b"]
    assert group["id"] == "misconception-wrong-a"
    assert [c["id"] for c in toc[3]["children"]] == ["question-why-x"]
    html = mdown.render(md, doc)
    assert '<div class="admonition misconception" id="misconception-wrong-a" role="note">' in html
    assert '<span class="visually-hidden">Misconception: </span>' in html


def test_prompts_are_validated_and_reach_the_build():
    for name in ("group-advantage", "policy-dynamics"):
        prompts = registry.describe(name)["prompts"]
        assert 2 <= len(prompts) <= 3
        assert all(p["ask"].rstrip().endswith(("?", ".")) for p in prompts)
    bad = SimpleNamespace(PROMPTS=[{"ask": "Why?", "state": "", "look": "x"}])
    with pytest.raises(ValueError, match=r"PROMPTS\[0\] must be a dict with the non-empty strings ask, state, look"):
        registry.prompts(bad)
    assert registry.prompts(SimpleNamespace()) == []


def test_group_advantage_prompt_numbers_are_cpythons():
    """The numbers the prompts quote are what the demo computes for the state each prompt sets."""
    import json
    m = registry.load("group-advantage")
    by_state = {p["state"]: p["look"] for p in m.PROMPTS}

    def result(state: str) -> dict:
        fields = dict(kv.split(":") for kv in state.split(";"))
        payload = {"rewards": [float(r) for r in fields["r"].split(",")], "normalise": fields["n"] == "1",
                   "ddof": int(fields["d"]), "baseline": fields["b"]}
        return json.loads(m.advantages(json.dumps(payload)))

    strong, equal, drgrpo = m.PROMPTS
    assert f"\u2212{abs(result(strong['state'])['advantages'][2]):.2f}" in strong["look"]
    weak = [r for _, r in m.GROUPS["weak"][1]]
    assert f"+{json.loads(m.advantages(json.dumps({'rewards': weak})))['advantages'][2]:.2f}" in strong["look"]
    assert result(equal["state"])["advantages"] == [0.0] * 8
    res = result(drgrpo["state"])
    assert f"+{res['advantages'][0]:.2f}" in drgrpo["look"] and f"{res['std']:.3f}" in drgrpo["look"]
    assert len(by_state) == 3


def test_download_size_matches_the_pinned_files():
    cache = pa.DEFAULT_CACHE_DIR
    if not (cache / "pyodide.asm.wasm").exists():
        pytest.skip("no Pyodide cache here (scripts/setup.sh --test fills it)")
    for name, size in pa.DOWNLOAD_BYTES.items():
        assert (cache / name).stat().st_size == size, name
    assert pa.runtime_config("local")["download_bytes"] == sum(pa.DOWNLOAD_BYTES.values())


def test_search_index_never_sees_tex():
    markup = ('<span class="katex"><span class="katex-mathml"><math><semantics><mi>x</mi>'
              '<annotation encoding="application/x-tex">\\alpha</annotation></semantics></math></span>'
              '<span class="katex-html" aria-hidden="true"><span>x</span></span></span>')
    out = for_search(markup)
    assert '<annotation encoding="application/x-tex" data-pagefind-ignore>' in out
    assert '<span class="katex-html" aria-hidden="true" data-pagefind-ignore>' in out
    assert "<mi>x</mi>" in out and out.count("data-pagefind-ignore") == 2


def test_built_page_marks_math_and_demo_code_for_the_index(real_site: Path):
    html = (real_site / "grpo" / "index.html").read_text(encoding="utf-8")
    assert '<annotation encoding="application/x-tex">' not in html
    assert html.count('class="demo-code" data-pagefind-ignore') == html.count('class="demo-code"')
    assert re.search(r'class="reading-times".*?about \d+ min.*?about \d+ min.*?about \d+ min', html, re.S)
    assert html.count('class="demo-prompt"') >= 6
