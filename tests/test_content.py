"""Content checks: the GRPO chapter's quality checklist, as far as a test can show it, and its exactness fixes.

Each test reads the chapter sources (content/*.md) with the build's own reader and parser (sitegen.sources,
sitegen.markdown, sitegen.mathtex), so headings, containers, math and links are seen exactly as the site
sees them; no KaTeX run and no site build are needed (except for the one KaTeX test, skipped without node).
"""
from __future__ import annotations

import ast
import functools
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from demos import registry
from sitegen import markdown as mdown
from sitegen.diagnostics import Diagnostics
from sitegen.mathtex import load_macros as build_load_macros
from sitegen.sources import load_chapter

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
CHAPTERS = sorted(p for p in CONTENT.glob("*.md") if p.name != "README.md")
SLUGS = [p.stem for p in CHAPTERS]

GRPO_SECTIONS = [  # (number, heading id) in the chapter's order
    (1, "the-critic-problem"),
    (2, "group-relative-advantages"),
    (3, "the-full-algorithm"),
    (4, "grpo-vs-ppo"),
    (5, "implementation-details"),
    (6, "why-grpo-became-dominant"),
    (7, "limitations-and-extensions"),
]
LAYERS = ("intuition", "math", "implementation")


# ---------------------------------------------------------------- the build's reading of a chapter

@dataclass
class Container:
    name: str      # intuition, math, implementation, note, misconception, question, demo, ...
    title: str     # the rest of the opening line (a demo's name, an admonition's title)
    content: str   # the source lines inside it, code blocks blanked
    line: int      # 0-based body line of the opening fence


@dataclass
class Chapter:
    path: Path
    meta: dict
    body: str
    doc: mdown.ChapterDoc          # tokens after resolve(): heading ids, equation numbers, ids, math
    fences: list[tuple[str, str]]  # (info, content) of every code block as written (before includes)
    diagnostics: list[str]
    prose_lines: list[str]         # the body's lines with code blocks blanked (line numbers kept)

    @property
    def headings(self) -> list[tuple[int, str, str, int]]:
        """(level, id, text, 0-based body line) of every heading, ids as the build assigns them."""
        toks = self.doc.tokens
        return [(int(t.tag[1]), t.meta["id"], t.meta["text"], t.map[0])
                for t in toks if t.type == "heading_open"]

    @property
    def containers(self) -> list[Container]:
        out = []
        for tok in self.doc.tokens:
            if tok.type.startswith("container_") and tok.type.endswith("_open"):
                name = tok.type[len("container_"):-len("_open")]
                title = tok.info.strip()[len(name):].strip()
                start, end = tok.map   # end: the line of the closing fence
                out.append(Container(name, title, "\n".join(self.prose_lines[start + 1:end]), start))
        return out

    def sections(self) -> dict[str, tuple[int, int]]:
        """h2 id -> (first, last + 1) body lines of that section."""
        h2 = [(hid, line) for level, hid, _, line in self.headings if level == 2]
        ends = [line for _, line in h2[1:]] + [len(self.prose_lines)]
        return {hid: (line, end) for (hid, line), end in zip(h2, ends)}

    def section_text(self, sid: str) -> str:
        a, b = self.sections()[sid]
        return "\n".join(self.prose_lines[a:b])

    def containers_in(self, sid: str) -> list[Container]:
        a, b = self.sections()[sid]
        return [c for c in self.containers if a <= c.line < b]

    @property
    def math(self) -> list[str]:
        return [m.tex for m in self.doc.math]

    @property
    def display_equations(self) -> dict[str, str]:
        """label -> TeX of every labelled display equation."""
        return {t.info: t.content for t in self.doc.tokens if t.type == "math_block_label"}

    @property
    def prose(self) -> str:
        """Reader-facing text (code blocks blanked), as one string."""
        return "\n".join(self.prose_lines)

    def inline_children(self):
        for tok in self.doc.tokens:
            if tok.type == "inline":
                yield from tok.children or []


def _references() -> dict:
    return yaml.safe_load((CONTENT / "references.yaml").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def chapter(path: Path) -> Chapter:
    diags = Diagnostics(ROOT)
    src = load_chapter(path, diags)
    assert src is not None, "\n".join(map(str, diags.items))
    mdown.lint_source(src.body, src.body_line, path, diags)
    md = mdown.make_parser(lambda tex, display, env: "")
    tokens = md.parse(src.body, {})
    fences = [(t.info.strip(), t.content) for t in tokens if t.type == "fence"]
    prose_lines = src.body.split("\n")
    for t in tokens:
        if t.type == "fence":
            for i in range(t.map[0], t.map[1]):
                prose_lines[i] = ""
    doc = mdown.ChapterDoc(slug=src.meta["slug"], path=path, tokens=tokens, body_line=src.body_line,
                           env={"root": "../"})
    mdown.resolve(doc, project=ROOT, chapter_files={p.stem: p.stem for p in CHAPTERS}, references=_references(),
                  demo_names=set(registry.names()), diags=diags)
    return Chapter(path, src.meta, src.body, doc, fences, [str(d) for d in diags.items], prose_lines)


def load_macros() -> dict[str, str]:
    diags = Diagnostics(ROOT)
    macros = build_load_macros(ROOT / "MATH_CONVENTIONS.md", diags)
    assert macros and not diags, diags.items
    return macros


@pytest.fixture(scope="module")
def grpo() -> Chapter:
    return chapter(CONTENT / "grpo.md")


@pytest.mark.parametrize("path", CHAPTERS, ids=SLUGS)
def test_chapter_reads_without_build_diagnostics(path):
    assert chapter(path).diagnostics == []


# ---------------------------------------------------------------- the GRPO chapter

def test_grpo_front_matter_matches_the_paper(grpo):
    meta = grpo.meta
    assert meta["slug"] == "grpo" and meta["order"] == 50
    tldr = meta["tldr"].lower()
    assert "no critic" in tldr and "group" in tldr and "normalis" in tldr
    assert meta["paper"]["arxiv"] == "2402.03300"
    assert meta["paper"]["authors"][0] == "Zhihong Shao" and meta["paper"]["authors"][-1] == "Daya Guo"
    assert meta["paper"]["year"] == 2024


def test_grpo_has_the_seven_sections_in_order(grpo):
    ids = list(grpo.sections())
    positions = [ids.index(sid) for _, sid in GRPO_SECTIONS]  # ValueError names a missing section
    assert positions == sorted(positions), f"sections out of order: {ids}"
    numbers = [m.group(1) for level, _, text, _ in grpo.headings if level == 2 and (m := re.match(r"(\d)\. ", text))]
    assert numbers == [str(n) for n, _ in GRPO_SECTIONS]


@pytest.mark.parametrize("number,sid", GRPO_SECTIONS)
def test_each_grpo_section_has_all_three_layers(grpo, number, sid):
    found = {c.name: c.content for c in grpo.containers_in(sid)}
    for layer in LAYERS:
        assert layer in found, f"section {number} ({sid}) lacks a ::: {layer} layer"
        words = len(re.findall(r"[A-Za-z]{2,}", found[layer]))
        assert words >= 60, f"section {number} {layer} layer is only {words} words"


@pytest.mark.parametrize("sid,demo", [
    ("the-critic-problem", "gpu-memory"),
    ("group-relative-advantages", "group-advantage"),
    ("implementation-details", "policy-dynamics"),
    ("why-grpo-became-dominant", "tiny-gpt"),
])
def test_demos_embedded_with_captions(grpo, sid, demo):
    demos = [c for c in grpo.containers_in(sid) if c.name == "demo"]
    assert [c.title for c in demos] == [demo], f"section {sid} should embed exactly the {demo} demo"
    caption = demos[0].content
    assert len(caption.split()) >= 30, "a demo caption says what to try and what to discover"
    assert re.search(r"discover|see|watch", caption, flags=re.I)


def test_demo_names_exist_as_demo_folders():
    names = set(registry.names())
    assert names, "demos/ has no demo folders"
    for path in CHAPTERS:
        for c in chapter(path).containers:
            if c.name == "demo":
                assert c.title in names, f"{path.name}: unknown demo {c.title!r}"


MISCONCEPTIONS = [r"clipping", r"less compute", r"only works for math", r"per completion"]
QUESTIONS = [r"state|prompt", r"G = 2.*G = 64|bias.variance", r"critic.*process", r"across the (entire )?batch"]


def test_four_misconceptions(grpo):
    found = [c for c in grpo.containers if c.name == "misconception"]
    assert len(found) == 4
    for pattern in MISCONCEPTIONS:
        hits = [c.title for c in found if re.search(pattern, c.title, flags=re.I)]
        assert len(hits) == 1, f"misconception matching {pattern!r}: {hits}"
    for c in found:
        assert len(c.content.split()) >= 40, f"misconception {c.title!r} needs a real correction"


def test_four_discussion_questions(grpo):
    found = [c.title + "\n" + c.content for c in grpo.containers if c.name == "question"]
    assert len(found) == 4
    for pattern in QUESTIONS:
        assert any(re.search(pattern, q, flags=re.I | re.S) for q in found), f"no question on {pattern!r}"


@pytest.mark.parametrize("number", ["46.8", "51.7", "82.9", "88.2", "15.6", "71.0", "86.7"])
def test_key_numbers_appear(grpo, number):
    assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", grpo.prose), number


def test_common_claims_are_corrected(grpo):
    """The '~50%' is shown as 36Ψ vs 18Ψ arithmetic; the paper's G=64 and TRL's G=8 are both stated."""
    body = grpo.body
    assert "$36\\Psi$" in body and "$18\\Psi$" in body and "$20\\Psi$" in body
    assert re.search(r"gives no percentage", body)
    assert re.search(r"paper used \$G = 64\$", body) and re.search(r"TRL's default is \$G = 8\$", body)
    assert re.search(r"cuts RL training costs in half\"\s+is\s+not\s+a\s+claim\s+DeepSeekMath\s+makes", body)
    assert not re.search(r"GRPO is an unbiased estimator", body)


def test_required_equations_are_labelled(grpo):
    display = grpo.display_equations
    for label in ["grpo-objective", "ratio", "k3", "k3-gradient", "group-advantage",
                  "process-advantage", "grpo-gradient", "loo-identity", "pg-baseline"]:
        assert label in display, label
    objective = re.sub(r"\s+", " ", display["grpo-objective"])
    assert r"\frac{1}{G} \sum_{i=1}^{G} \frac{1}{\abs{o_i}} \sum_{t=1}^{\abs{o_i}}" in objective
    assert r"\clip(\ratio_{i,t},\, 1-\eps,\, 1+\eps)" in objective and r"\beta\, \KL{\policy}{\piref}" in objective
    gradient = re.sub(r"\s+", " ", display["grpo-gradient"])
    assert r"\adv_{i,t} + \beta\left(" in gradient and "- 1 \\right)" in gradient
    assert r"\grad\, \KL{\piref}{\policy}" in display["k3-gradient"]


def test_svg_diagrams_are_accessible_and_csp_safe(grpo):
    body = grpo.body
    svgs = re.findall(r"<svg\b.*?</svg>", body, flags=re.S)
    assert len(svgs) == 2, "PPO and GRPO architecture diagrams"
    ids = re.findall(r'\bid="([^"]+)"', body)
    assert len(ids) == len(set(ids)), "element ids must be unique on the page"
    for svg in svgs:
        assert 'role="img"' in svg
        label_ids = re.search(r'aria-labelledby="([^"]+)"', svg).group(1).split()
        for lid in label_ids:
            assert re.search(rf'<(title|desc) id="{lid}"', svg), lid
        assert not re.search(r"\sstyle=|<script|\son\w+=", svg)
        assert "currentColor" in svg
        assert "\n\n" not in svg, "a blank line would end the raw HTML block"
    assert "Value model" in svgs[0] and "Value model" not in svgs[1]


def _example_calls() -> dict[str, dict[str, object]]:
    """Keyword arguments of the dict(...) in paper_config and of the GRPOTrainer(...) call in examples/trl_grpo.py."""
    tree = ast.parse((ROOT / "examples" / "trl_grpo.py").read_text(encoding="utf-8"))
    calls = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("dict", "GRPOTrainer"):
            calls[node.func.id] = {k.arg: k.value for k in node.keywords}
    return calls


def test_trl_example_is_included_from_its_tested_file(grpo):
    assert not [c for info, c in grpo.fences if "GRPOConfig(" in c], "the TRL example lives in examples/trl_grpo.py"
    assert ("python include=examples/trl_grpo.py", "") in grpo.fences


def test_trl_example_uses_real_parameter_names_and_paper_settings():
    calls = _example_calls()
    config = {k: ast.literal_eval(v) for k, v in calls["dict"].items()}
    # Field names of trl.GRPOConfig / transformers.TrainingArguments (checked in trl/trainer/grpo_config.py).
    known = {"output_dir", "learning_rate", "beta", "num_generations", "max_completion_length",
             "num_iterations", "epsilon", "epsilon_high", "loss_type", "scale_rewards", "temperature",
             "per_device_train_batch_size", "gradient_accumulation_steps", "mask_truncated_completions",
             "importance_sampling_level", "bf16", "logging_steps"}
    assert set(config) <= known, set(config) - known
    paper = {"beta": 0.04, "num_generations": 64, "learning_rate": 1e-6, "max_completion_length": 1024,
             "num_iterations": 1, "loss_type": "grpo", "scale_rewards": "group"}
    assert {k: config[k] for k in paper} == paper
    assert {"model", "reward_funcs", "args", "train_dataset"} <= set(calls["GRPOTrainer"])
    assert 8 * config["per_device_train_batch_size"] * config["gradient_accumulation_steps"] == 1024


def test_trl_version_is_stated_where_the_example_is(grpo):
    from examples.versions import TRL_VERSION
    impl = grpo.section_text("implementation-details")
    assert f"TRL {TRL_VERSION}" in impl and f"trl=={TRL_VERSION}" in impl
    assert f"trl=={TRL_VERSION}" in (ROOT / "examples" / "trl_grpo.py").read_text(encoding="utf-8")


def test_trl_defaults_table_by_version(grpo):
    """The table of GRPOConfig defaults by TRL release (read from each release's grpo_config.py)."""
    impl = grpo.section_text("implementation-details")
    rows = {m.group(1): [c.strip() for c in m.group(2).split("|")]
            for m in re.finditer(r"^\| (\d+\.\d+(?:–\d+\.\d+)?) \|(.*)\|\s*$", impl, flags=re.M)}
    assert list(rows) == ["0.14–0.15", "0.16", "0.17", "0.18", "0.19–0.21", "0.22–1.9", "1.10–1.16"]
    beta = {v: r[0] for v, r in rows.items()}
    assert beta["0.18"] == "0.04" and beta["0.19–0.21"] == "0.0"
    assert '"dapo"' in rows["0.22–1.9"][1] and '"bnpo"' in rows["0.19–0.21"][1]
    assert [r[3] for r in rows.values()] == ["256"] * 6 + ["512"]


def test_pseudocode_present_and_std_made_explicit(grpo):
    sketch = [c for info, c in grpo.fences if info == "python" and "def grpo_step" in c]
    assert len(sketch) == 1
    assert "sample std" in sketch[0] and "1e-8" not in sketch[0]
    assert "torch.exp(ref_logp - logp) - (ref_logp - logp) - 1" in sketch[0]


# ---------------------------------------------------------------- wording that was wrong once (issue 12)

READER_TEXT_FORBIDDEN = [
    (r"\bthe brief\b|\bbrief's\b", "readers cannot see 'the brief': say 'a common simplification ...'"),
    (r"token 200 corrupts", "GAE's dependence on a critic error is local (weights (γλ)^l), not at distance 190"),
    (r"critic is usually (another )?a? ?copy of the", "InstructGPT initialised its value function from the RM"),
    (r"gradient of a \*\*different objective\*\*|weights each prompt by \$1/\\sigma", "σ(q) depends on θ: a reweighting, not a gradient"),
    (r"formal side of", "maj@k vs pass@k is a heuristic argument, DeepSeekMath's finding is empirical"),
    (r"impossible to flatter|cannot be flattered", "verifiers can be gamed (lenient parsers, weak tests)"),
    (r"first convergence analysis", "Vojnovic & Yun (2502.18548) analysed GRPO's stationary policies first"),
    (r"both\s+are unbiased; they differ in variance", "GRPO's std division biases the gradient"),
    (r"reverse-direction\*\* KL", "KL(π_ref‖π_θ) is the forward (mass-covering) KL in the RLHF convention"),
    (r"TRL's current `GRPOConfig`", "name the TRL version"),
    (r"the scale across prompts\s+is not identified", "a per-prompt shift leaves the offset, not the scale, unidentified"),
]


@pytest.mark.parametrize("path", CHAPTERS, ids=SLUGS)
def test_fixed_wordings_do_not_come_back(path):
    text = chapter(path).prose
    problems = [f"{path.name}: /{pat}/ — {why}" for pat, why in READER_TEXT_FORBIDDEN
                if re.search(pat, text, flags=re.I)]
    assert not problems, "\n".join(problems)


def test_verl_aggregation_and_group_of_one_are_stated(grpo):
    impl = grpo.section_text("implementation-details")
    assert "seq-mean-token-mean" in impl and '"token-mean"' in impl
    rendered = (ROOT / "demos" / "grpo_core.py").read_text(encoding="utf-8")
    doc = ast.get_docstring(next(n for n in ast.parse(rendered).body
                                 if isinstance(n, ast.FunctionDef) and n.name == "group_advantages"))
    assert "verl gets 0" not in doc and "r / (1 + 1e-6)" in doc


def test_memory_caption_claims_hold_at_the_planner_defaults(grpo):
    """The planner caption's default setting and its claims are what demos/gpu-memory computes at its defaults:
    neither algorithm fits, GRPO misses by a few GiB and PPO by more than the critic's share minus that,
    the logits outweigh the activations several times over."""
    from demos import limits
    demo = registry.load("gpu-memory")
    d = limits.defaults(demo.LIMITS)
    caption = " ".join(next(c.content for c in grpo.containers_in("the-critic-problem") if c.name == "demo").split())
    setting = f"{d['model']}, {d['n_gpus']} × {d['gpu_gb']:g} GB, $G = {d['group_size']}$, {d['completion_len']:,} completion tokens"
    assert setting in caption
    res = demo.plan_result(d)
    assert "neither fits" in caption and not res["grpo"]["fits"] and not res["ppo"]["fits"]
    assert 0 < -res["grpo"]["headroom"] < 5 * 2**30                           # "a few GiB"
    assert -res["ppo"]["headroom"] > res["ppo"]["components"]["critic"] - 5 * 2**30
    assert res["grpo"]["components"]["logits"] > 3 * res["grpo"]["components"]["activations"]
    assert d["beta"] == 0 and res["grpo"]["components"]["reference"] == 0


# ---------------------------------------------------------------- every chapter

@pytest.mark.parametrize("path", CHAPTERS, ids=SLUGS)
def test_front_matter(path):
    meta = chapter(path).meta
    assert meta["slug"] == path.stem
    for key in ("title", "order", "tldr", "paper"):
        assert meta.get(key), key
    assert isinstance(meta["order"], int)
    assert {"title", "authors", "venue", "year", "url"} <= set(meta["paper"])


def test_chapter_orders():
    orders = {p.stem: chapter(p).meta["order"] for p in CHAPTERS}
    assert orders == {"policy-gradients": 10, "ppo": 20, "rlhf": 30, "grpo": 50, "llm-reasoning": 60}


@pytest.mark.parametrize("slug", ["policy-gradients", "ppo", "rlhf", "llm-reasoning"])
def test_neighbour_chapters_are_real(slug):
    ch = chapter(CONTENT / f"{slug}.md")
    layered = [sid for sid in ch.sections() if {c.name for c in ch.containers_in(sid)} >= set(LAYERS)]
    assert len(layered) >= 3, f"{slug}: only {layered} have all three layers"
    assert len(ch.display_equations) >= 3, "key equations, labelled"
    assert any(info.startswith("python") for info, _ in ch.fences), "pseudocode"
    assert len(set(ch.doc.citations)) >= 3, "sources"
    assert len(ch.body.split()) >= 900


# ---------------------------------------------------------------- connections

def test_connections_cover_every_chapter_and_are_bidirectional():
    data = yaml.safe_load((ROOT / "connections.yaml").read_text(encoding="utf-8"))
    graph = data["chapters"]
    assert set(graph) == set(SLUGS)
    edges_out, edges_in = set(), set()
    for slug, entry in graph.items():
        for e in entry.get("builds_on") or []:
            assert e["slug"] in graph and e["slug"] != slug and e["note"]
            edges_out.add((slug, e["slug"], e["relationship"]))
        for e in entry.get("referenced_by") or []:
            assert e["slug"] in graph and e["slug"] != slug and e["note"]
            edges_in.add((e["slug"], slug, e["relationship"]))
    assert edges_out == edges_in, f"one-way: {edges_out ^ edges_in}"
    grpo = graph["grpo"]
    assert {(e["slug"], e["relationship"]) for e in grpo["builds_on"]} == {
        ("policy-gradients", "extends"), ("ppo", "extends"), ("rlhf", "extends")}
    assert {(e["slug"], e["relationship"]) for e in grpo["referenced_by"]} == {
        ("llm-reasoning", "extends"), ("rlhf", "extends")}


# ---------------------------------------------------------------- notation

RAW_FORMS = [
    (r"\\pi_", "use \\policy, \\piold, \\piref"),
    (r"\\pi\^", "use \\pisft or \\pistar"),
    (r"\\hat\s*\{?\s*A", "use \\adv"),
    (r"\\rho", "use \\ratio"),
    (r"\\mathbb\{[ED1]\}", "use \\E, \\KL, \\ind"),
    (r"D_\{?\\(text|mathrm)\{KL", "use \\KL"),
    (r"\\nabla_", "use \\grad"),
    (r"\\varepsilon", "use \\eps"),
    (r"\\operatorname\{(clip|mean|std)\}", "use \\clip, \\mean, \\std"),
    (r"\\theta_\{?\\(text|mathrm)\{old", "use \\piold"),
]
TEX_BUILTINS = set("""
cases hat
frac sum log exp min max sqrt text left right big Big bigg Bigg quad qquad cdot cdots dots ldots le ge ne approx
in notin infty partial arcsin mid binom over alpha beta gamma delta epsilon lambda mu sigma tau theta phi psi Psi ell
tilde bar hat mathbf mathcal mathrm boldsymbol operatorname begin end aligned array to leftarrow rightarrow times
prod int lim sup inf Pr sim star neq geq leq mathbb ne neg lor land forall exists subset subseteq cup cap top bot pm mp equiv propto colon
""".split())


def test_math_uses_only_convention_macros_and_no_raw_forms():
    macros = {k.lstrip("\\") for k in load_macros()}
    problems = []
    for path in CHAPTERS:
        for tex in chapter(path).math:
            for pattern, hint in RAW_FORMS:
                if re.search(pattern, tex):
                    problems.append(f"{path.name}: ${tex.strip()[:60]}$ — {hint}")
            for cmd in re.findall(r"\\([A-Za-z]+)", tex):
                if cmd not in macros and cmd not in TEX_BUILTINS:
                    problems.append(f"{path.name}: \\{cmd} is neither a MATH_CONVENTIONS macro nor basic TeX")
    assert not problems, "\n".join(problems)


def test_every_macro_is_documented_in_the_notation_table():
    text = (ROOT / "MATH_CONVENTIONS.md").read_text(encoding="utf-8")
    table = text.split("## Macros")[0]
    for name in load_macros():
        assert f"`{name}" in table, f"{name} is defined but not in the notation table"


def _conventions_math() -> list[str]:
    """The math of MATH_CONVENTIONS.md, parsed by the build's parser."""
    md = mdown.make_parser(lambda tex, display, env: "")
    out = []
    for tok in md.parse((ROOT / "MATH_CONVENTIONS.md").read_text(encoding="utf-8"), {}):
        if tok.type in ("math_block", "math_block_label"):
            out.append(tok.content)
        for child in tok.children or []:
            if child.type.startswith("math_inline"):
                out.append(child.content)
    return out


def test_all_math_renders_with_katex():
    node = shutil.which("node")
    katex = ROOT / "node_modules" / "katex"
    if not node or not katex.exists():
        pytest.skip("node or node_modules/katex not installed")
    formulas = [(p.name, tex) for p in CHAPTERS for tex in chapter(p).math]
    formulas += [("MATH_CONVENTIONS.md", tex) for tex in _conventions_math()]
    script = (
        "const k=require(process.argv[1]);const d=JSON.parse(require('fs').readFileSync(0,'utf8'));"
        "const bad=[];for(const [f,t] of d.formulas){try{k.renderToString(t,{throwOnError:true,macros:{...d.macros}})}"
        "catch(e){bad.push(f+': '+e.message.split('\\n')[0])}}console.log(JSON.stringify(bad));"
    )
    out = subprocess.run([node, "-e", script, str(katex)], input=json.dumps(
        {"formulas": formulas, "macros": load_macros()}), capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
    assert len(formulas) > 300


# ---------------------------------------------------------------- code listings

def included_blocks():
    for path in CHAPTERS:
        for info, content in chapter(path).fences:
            if "include=" in info:
                opts = dict(re.findall(r"(\w+)=(\S+)", info))
                yield path.name, opts, content


def test_grpo_includes_the_tested_implementations():
    got = {(c, o["include"], o.get("symbol")) for c, o, _ in included_blocks()}
    assert ("grpo.md", "demos/grpo_torch.py", None) in got
    assert ("grpo.md", "examples/trl_grpo.py", None) in got
    for symbol in ("group_advantages", "kl_penalty", "grpo_loss", "process_advantages"):
        assert ("grpo.md", "demos/grpo_core.py", symbol) in got


@pytest.mark.parametrize("chapter_name,opts,content", list(included_blocks()),
                         ids=[f"{c}:{o['include']}:{o.get('symbol', '')}" for c, o, _ in included_blocks()])
def test_included_code_exists_and_is_tested(chapter_name, opts, content):
    assert content.strip() == "", "an include block has an empty body"
    path = ROOT / opts["include"]
    assert path.is_file(), f"{chapter_name} includes missing file {opts['include']}"
    module = path.stem
    tests = [p for p in (ROOT / "tests").glob("test_*.py") if p.name != "test_content.py"]
    assert any(re.search(rf"\b(import|from)\s+((demos|examples)\.)?{module}\b|\b(demos|examples)\.{module}\b"
                         rf"|[\"']{module}[\"']", p.read_text(encoding="utf-8")) for p in tests), f"no test imports {module}"
    if "symbol" in opts:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert opts["symbol"] in names, f"{opts['symbol']} is not a top-level definition in {path.name}"


# ---------------------------------------------------------------- citations

@pytest.fixture(scope="module")
def references():
    return _references()


def cited_keys(path: Path) -> list[str]:
    return [k for c in chapter(path).inline_children() if c.type == "citation" for k in c.meta["keys"]]


def test_every_citation_key_exists(references):
    missing = [f"{p.name}: {k}" for p in CHAPTERS for k in cited_keys(p) if k not in references]
    assert not missing, missing


def test_reference_entries_are_complete_and_arxiv_ids_well_formed(references):
    for key, ref in references.items():
        assert ref["title"] and ref["url"].startswith(("http://", "https://")), key
        assert isinstance(ref["authors"], list) and ref["authors"], key
        assert isinstance(ref["year"], int) and 1950 <= ref["year"] <= 2026, key
        if "arxiv" in ref:
            m = re.fullmatch(r"(\d{2})(\d{2})\.(\d{4,5})", str(ref["arxiv"]))
            assert m, f"{key}: malformed arXiv id {ref['arxiv']!r}"
            yy, mm = int(m.group(1)), int(m.group(2))
            assert 1 <= mm <= 12, key
            assert len(m.group(3)) == (5 if (yy, mm) >= (15, 1) else 4), f"{key}: digits after the dot"
            # the year is the arXiv year, or the next one for a paper dated by its venue
            assert ref["year"] - (2000 + yy) in (0, 1), f"{key}: arXiv id {ref['arxiv']} vs year {ref['year']}"
            assert ref["arxiv"] in ref["url"], key


def test_paper_ids_the_chapter_relies_on(references):
    ids = {ref.get("arxiv") for ref in references.values()}
    for arxiv in ["2402.03300", "2501.12948", "2503.20783", "2503.14476", "2402.14740", "2507.18071",
                  "2506.09477", "2505.17508", "2510.08191", "2503.06639", "1707.06347", "2502.18548"]:
        assert arxiv in ids, arxiv


def test_every_reference_is_cited_somewhere(references):
    cited = {k for p in CHAPTERS for k in cited_keys(p)}
    assert set(references) - cited == set()


# ---------------------------------------------------------------- links

def test_internal_links_resolve():
    """Every chapter link and #anchor points at an id the build gives the target page."""
    ids = {chapter(p).meta["slug"]: set(chapter(p).doc.env["ids"]) for p in CHAPTERS}
    broken = []
    for path in CHAPTERS:
        ch = chapter(path)
        broken += [d for d in ch.diagnostics if "[link]" in d]
        for line, slug, anchor in ch.doc.anchor_checks:
            if anchor not in ids[slug]:
                broken.append(f"{path.name}:{line}: #{anchor} is not an id of {slug}")
    assert not broken, broken
    assert any(ch.doc.anchor_checks for ch in map(chapter, CHAPTERS)), "no anchored link found at all"


def test_equation_references_carry_the_right_number():
    """'[Eq. (n)](#eq-label)' must name the number the build gives: labelled display equations in page order."""
    for path in CHAPTERS:
        ch = chapter(path)
        numbers = ch.doc.env["eq_numbers"]
        for n, label in re.findall(r"\[Eq\.\s*\((\d+)\)\]\(#eq-([\w-]+)\)", ch.prose):
            assert numbers.get(label) == int(n), f"{path.name}: Eq. ({n}) links to eq-{label} = ({numbers.get(label)})"
        assert not re.search(r"\[Eq\.\]\(", ch.prose), f"{path.name}: write [Eq. (n)](#eq-label)"
