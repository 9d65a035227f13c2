"""The demos' static markup in the built site: what a reader sees before (or without) the live runtime."""
from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import pytest

from demos import limits, registry


class Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def page(real_site):
    pages = [p for p in real_site.rglob("index.html") if 'class="demo ' in p.read_text(encoding="utf-8")]
    assert pages, "no chapter of the real site uses a demo"
    text = "".join(p.read_text(encoding="utf-8") for p in pages)
    c = Collect()
    c.feed(text)
    return text, c.tags


def figure(tags, name):
    return next(a for t, a in tags if t == "figure" and a.get("data-demo") == name)


def used_demos(tags) -> list[str]:
    return [a["data-demo"] for t, a in tags if t == "figure" and "data-demo" in a]


def test_every_demo_figure_starts_static_with_its_first_frame_inline(page, real_site):
    """The first frame is the view's own SVG, inline (no image file, no second drawing); its view and the
    worker's files are where the manifest says."""
    text, tags = page
    manifest = json.loads((real_site / "demos" / "manifest.json").read_text())
    names = used_demos(tags)
    assert set(names) <= set(manifest["demos"]) and len(names) >= 3
    for name in names:
        f = figure(tags, name)
        assert f["data-state"] == "static"
        assert f["data-view"] == manifest["demos"][name]["view"] and (real_site / f["data-view"]).is_file()
        chart = re.search(rf'<figure class="demo demo-{name}".*?<div class="demo-chart[^"]*">(.*?)</div>', text, re.S).group(1)
        assert chart.startswith(("<svg", "<div")) and "<svg" in chart, name      # SVG, or HTML around SVG panels
        assert 'role="img"' in chart and 'aria-label="' in chart, name
    for rel in manifest["files"]:
        assert (real_site / rel).is_file(), rel
    assert not (real_site / "assets" / "figures").exists()


def test_group_advantage_sliders_are_labelled_and_carry_the_build_time_advantages(page):
    text, tags = page
    state = registry.load("group-advantage").initial_state()
    sliders = [a for t, a in tags if t == "input" and "ga-slider" in a.get("class", "")]
    labels = {a["for"] for t, a in tags if t == "label" and "for" in a}
    assert len(sliders) == 8
    for i, s in enumerate(sliders[:8]):
        assert s["type"] == "range" and s["id"] in labels
        assert float(s["value"]) == state["rewards"][i]
        assert re.fullmatch(r"reward \d\.\d\d, advantage [+-]\d\.\d\d", s["aria-valuetext"])
    adv = [float(a["data-advantage"]) for t, a in tags if "data-advantage" in a][:8]
    assert adv == state["result"]["advantages"]


def test_memory_and_dynamics_roots_carry_their_numbers(page):
    text, tags = page
    mem = figure(tags, "gpu-memory")
    demo = registry.load("gpu-memory")
    result = json.loads(demo.plan(json.dumps(limits.defaults(demo.LIMITS))))
    assert float(mem["data-grpo-peak"]) == result["grpo"]["peak"]
    assert float(mem["data-ppo-peak"]) == result["ppo"]["peak"]
    dyn = figure(tags, "policy-dynamics")
    assert dyn["data-step"] == "0"
    assert json.loads(html.unescape(dyn["data-probs"])) == registry.load("policy-dynamics").initial_state()["probs"]


def test_demo_markup_obeys_the_csp(page):
    """No inline style, no on* handlers, no executable inline scripts inside the demos."""
    text, tags = page
    for fig in re.findall(r'<figure class="demo.*?</figure>', text, re.S):
        assert not re.search(r"\sstyle=", fig)
        assert not re.search(r"\son[a-z]+=", fig)
        for attrs in re.findall(r"<script([^>]*)>", fig):
            assert 'type="application/json"' in attrs


def test_input_bounds_in_the_page_are_the_demos_limits(page):
    """Each bound is written once, in LIMITS: the number fields of the page carry exactly those."""
    text, tags = page
    checked = 0
    for name in used_demos(tags):
        lim = registry.load(name).LIMITS
        fig = re.search(rf'<figure class="demo demo-{name}".*?</figure>', text, re.S).group(0)
        for m in re.finditer(r'<input type="number" name="(\w+)" min="([^"]+)" max="([^"]+)" step="([^"]+)"', fig):
            key, lo, hi, step = m.groups()
            assert (float(lo), float(hi), float(step)) == (lim[key]["min"], lim[key]["max"], lim[key]["step"]), (name, key)
            checked += 1
    assert checked >= 10


def test_planner_shows_verdicts_and_the_plan_as_copyable_code(page):
    """The build-time verdicts are demo.plan's sentences; each piece of the plan as code sits in a .codeblock
    <pre><code> (where site.js adds its copy button) with exactly the text the API emits."""
    text, tags = page
    demo = registry.load("gpu-memory")
    result = demo.initial_state()["result"]
    fig = re.search(r'<figure class="demo demo-gpu-memory".*?</figure>', text, re.S).group(0)
    for alg in ("grpo", "ppo"):
        box = re.search(rf'<section class="pl-verdict [^"]*" data-alg="{alg}".*?</section>', fig, re.S).group(0)
        assert result[alg]["text"] in html.unescape(box)
        assert result[alg]["headline"] in html.unescape(box)
    blocks = re.findall(r'<div class="codeblock pl-codeblock"[^>]*>.*?<pre[^>]*><code class="pl-code" data-code="(\w+)">(.*?)</code></pre>', fig, re.S)
    assert [k for k, _ in blocks] == ["grpo_config", "accelerate", "launch", "verl_grpo", "verl_ppo"]
    for key, code in blocks:
        assert html.unescape(code) == result["code"][key]
    assert "GRPOConfig(" in result["code"]["grpo_config"]
