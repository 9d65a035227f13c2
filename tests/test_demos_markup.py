"""The demos' static markup in the built site: what a reader sees before (or without) the live runtime."""
from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import pytest

from demos import figures, web


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


def test_every_demo_figure_starts_static_with_its_build_time_image(page, real_site):
    text, tags = page
    for name in figures.DEMOS:
        f = figure(tags, name)
        assert f["data-state"] == "static"
        assert (real_site / "assets/figures" / f"{name}.svg").read_text() == figures.static_figure(name)
    imgs = [a for t, a in tags if t == "img" and "demo-static" in a.get("class", "")]
    assert all(a.get("alt") for a in imgs) and len(imgs) >= len(figures.DEMOS)


def test_group_advantage_sliders_are_labelled_and_carry_the_build_time_advantages(page):
    text, tags = page
    state = figures.initial_state("group-advantage")
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
    mem = figure(tags, "memory")
    result = json.loads(web.memory_json(json.dumps(web.MEMORY_DEFAULTS)))
    assert float(mem["data-ppo-bytes"]) == result["ppo"]["total"]
    assert float(mem["data-grpo-bytes"]) == result["grpo"]["total"]
    dyn = figure(tags, "policy-dynamics")
    assert dyn["data-step"] == "0"
    assert json.loads(html.unescape(dyn["data-probs"])) == figures.initial_state("policy-dynamics")["probs"]


def test_demo_markup_obeys_the_csp(page):
    """No inline style, no on* handlers, no executable inline scripts inside the demos."""
    text, tags = page
    for fig in re.findall(r'<figure class="demo.*?</figure>', text, re.S):
        assert not re.search(r"\sstyle=", fig)
        assert not re.search(r"\son[a-z]+=", fig)
        for attrs in re.findall(r"<script([^>]*)>", fig):
            assert 'type="application/json"' in attrs
