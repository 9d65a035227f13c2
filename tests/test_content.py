"""Content checks: the GRPO brief's quality checklist, as far as a test can show it.

Each test reads the chapter sources (content/*.md), connections.yaml, content/references.yaml and
MATH_CONVENTIONS.md directly, so it runs without a build.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
CHAPTERS = sorted(p for p in CONTENT.glob("*.md") if p.name != "README.md")
SLUGS = [p.stem for p in CHAPTERS]

GRPO_SECTIONS = [  # (number, heading id) in the brief's order
    (1, "the-critic-problem"),
    (2, "group-relative-advantages"),
    (3, "the-full-algorithm"),
    (4, "grpo-vs-ppo"),
    (5, "implementation-details"),
    (6, "why-grpo-became-dominant"),
    (7, "limitations-and-extensions"),
]
LAYERS = ("intuition", "math", "implementation")
FENCE = re.compile(r"^(```|~~~)")
OPENER = re.compile(r"^(:{3,})\s*([A-Za-z][\w-]*)\s*(.*?)\s*$")
CLOSER = re.compile(r"^:{3,}\s*$")


# ---------------------------------------------------------------- parsing helpers

def split_front_matter(text: str) -> tuple[dict, str, int]:
    assert text.startswith("---\n"), "a chapter must start with YAML front matter"
    end = text.index("\n---\n", 4)
    meta = yaml.safe_load(text[4:end])
    body = text[end + 5:]
    return meta, body, text[: end + 5].count("\n")


def blank_code(body: str) -> str:
    """The body with fenced code blocks replaced by empty lines (line numbers kept)."""
    out, in_fence, marker = [], False, ""
    for line in body.split("\n"):
        m = FENCE.match(line)
        if not in_fence and m:
            in_fence, marker = True, m.group(1)
            out.append("")
        elif in_fence:
            if line.strip() == marker:
                in_fence = False
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def fenced_blocks(body: str) -> list[tuple[str, str]]:
    """(info string, content) of every fenced code block."""
    blocks, lines, i = [], body.split("\n"), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            info, marker, j = lines[i][3:].strip(), m.group(1), i + 1
            while j < len(lines) and lines[j].strip() != marker:
                j += 1
            blocks.append((info, "\n".join(lines[i + 1:j])))
            i = j + 1
        else:
            i += 1
    return blocks


def sections(body: str) -> dict[str, str]:
    """Heading id -> text of that h2 section (code blanked). Ids: explicit {#id} or slugified text."""
    text = blank_code(body)
    result, current, buf = {}, None, []
    for line in text.split("\n"):
        m = re.match(r"^## (.+?)\s*$", line)
        if m:
            if current:
                result[current] = "\n".join(buf)
            current, buf = heading_id(m.group(1)), []
        elif current:
            buf.append(line)
    if current:
        result[current] = "\n".join(buf)
    return result


def heading_id(title: str) -> str:
    m = re.search(r"\{#([\w-]+)\}\s*$", title)
    if m:
        return m.group(1)
    return re.sub(r"[^\w\s-]", "", title).strip().lower().replace(" ", "-")


def containers(text: str) -> list[tuple[str, str, str]]:
    """(name, title, content) of every ::: container, outermost and nested alike."""
    found, stack = [], []
    for line in text.split("\n"):
        if CLOSER.match(line):
            if stack:
                name, title, buf = stack.pop()
                found.append((name, title, "\n".join(buf)))
                if stack:
                    stack[-1][2].extend(buf)
            continue
        m = OPENER.match(line)
        if m:
            stack.append((m.group(2), m.group(3), []))
        elif stack:
            stack[-1][2].append(line)
    assert not stack, f"unclosed container(s): {[s[0] for s in stack]}"
    return found


def math_spans(body: str) -> list[str]:
    text = blank_code(body)
    text = re.sub(r"`[^`\n]*`", " ", text)
    spans = re.findall(r"\$\$(.+?)\$\$", text, flags=re.S)
    text = re.sub(r"\$\$(.+?)\$\$", " ", text, flags=re.S)
    spans += re.findall(r"\$([^$\n]+?)\$", text)
    return spans


def load_macros() -> dict[str, str]:
    text = (ROOT / "MATH_CONVENTIONS.md").read_text(encoding="utf-8")
    m = re.search(r"```yaml macros\n(.*?)\n```", text, flags=re.S)
    assert m, "MATH_CONVENTIONS.md needs a ```yaml macros block"
    macros = yaml.safe_load(m.group(1))
    assert isinstance(macros, dict) and macros
    return macros


@pytest.fixture(scope="module")
def grpo():
    meta, body, _ = split_front_matter((CONTENT / "grpo.md").read_text(encoding="utf-8"))
    return meta, body


# ---------------------------------------------------------------- the GRPO chapter

def test_grpo_front_matter_matches_the_paper(grpo):
    meta, _ = grpo
    assert meta["slug"] == "grpo" and meta["order"] == 50
    tldr = meta["tldr"].lower()
    assert "no critic" in tldr and "group" in tldr and "normalis" in tldr
    assert meta["paper"]["arxiv"] == "2402.03300"
    assert meta["paper"]["authors"][0] == "Zhihong Shao" and meta["paper"]["authors"][-1] == "Daya Guo"
    assert meta["paper"]["year"] == 2024


def test_grpo_has_the_seven_sections_in_order(grpo):
    _, body = grpo
    ids = list(sections(body))
    positions = [ids.index(sid) for _, sid in GRPO_SECTIONS]  # ValueError names a missing section
    assert positions == sorted(positions), f"sections out of order: {ids}"
    headings = re.findall(r"^## (\d)\. ", blank_code(body), flags=re.M)
    assert headings == [str(n) for n, _ in GRPO_SECTIONS]


@pytest.mark.parametrize("number,sid", GRPO_SECTIONS)
def test_each_grpo_section_has_all_three_layers(grpo, number, sid):
    _, body = grpo
    found = {name: content for name, _, content in containers(sections(body)[sid])}
    for layer in LAYERS:
        assert layer in found, f"section {number} ({sid}) lacks a ::: {layer} layer"
        words = len(re.findall(r"[A-Za-z]{2,}", found[layer]))
        assert words >= 60, f"section {number} {layer} layer is only {words} words"


@pytest.mark.parametrize("sid,demo", [
    ("the-critic-problem", "memory"),
    ("group-relative-advantages", "group-advantage"),
    ("implementation-details", "policy-dynamics"),
    ("why-grpo-became-dominant", "tiny-gpt"),
])
def test_demos_embedded_with_captions(grpo, sid, demo):
    _, body = grpo
    demos = [(t, c) for n, t, c in containers(sections(body)[sid]) if n == "demo"]
    assert [t for t, _ in demos] == [demo], f"section {sid} should embed exactly the {demo} demo"
    caption = demos[0][1]
    assert len(caption.split()) >= 30, "a demo caption says what to try and what to discover"
    assert re.search(r"discover|see|watch", caption, flags=re.I)


def test_demo_names_exist_as_templates_when_templates_exist():
    demo_dir = ROOT / "templates" / "demos"
    names = {p.stem for p in demo_dir.glob("*.html")}
    if not names:
        pytest.skip("templates/demos/ has no demo templates yet")
    for chapter in CHAPTERS:
        for name, title, _ in containers(blank_code(split_front_matter(chapter.read_text())[1])):
            if name == "demo":
                assert title in names, f"{chapter.name}: unknown demo {title!r}"


MISCONCEPTIONS = [r"clipping", r"less compute", r"only works for math", r"per completion"]
QUESTIONS = [r"state|prompt", r"G = 2.*G = 64|bias.variance", r"critic.*process", r"across the (entire )?batch"]


def test_four_misconceptions_from_the_brief(grpo):
    _, body = grpo
    found = [(t, c) for n, t, c in containers(blank_code(body)) if n == "misconception"]
    assert len(found) == 4
    for pattern in MISCONCEPTIONS:
        hits = [t for t, _ in found if re.search(pattern, t, flags=re.I)]
        assert len(hits) == 1, f"misconception matching {pattern!r}: {hits}"
    for title, content in found:
        assert len(content.split()) >= 40, f"misconception {title!r} needs a real correction"


def test_four_discussion_questions_from_the_brief(grpo):
    _, body = grpo
    found = [t + "\n" + c for n, t, c in containers(blank_code(body)) if n == "question"]
    assert len(found) == 4
    for pattern in QUESTIONS:
        assert any(re.search(pattern, q, flags=re.I | re.S) for q in found), f"no question on {pattern!r}"


@pytest.mark.parametrize("number", ["46.8", "51.7", "82.9", "88.2", "15.6", "71.0", "86.7"])
def test_key_numbers_appear(grpo, number):
    _, body = grpo
    assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", body), number


def test_brief_claims_are_corrected(grpo):
    """The '~50%' is shown as 36Ψ vs 18Ψ arithmetic; the paper's G=64 and TRL's G=8 are both stated."""
    _, body = grpo
    assert "$36\\Psi$" in body and "$18\\Psi$" in body and "$20\\Psi$" in body
    assert re.search(r"gives no percentage", body)
    assert re.search(r"paper used \$G = 64\$", body) and re.search(r"TRL's default is \$G = 8\$", body)
    assert re.search(r"cuts RL training costs in half\"\s+is\s+not\s+a\s+claim\s+DeepSeekMath\s+makes", body)
    assert not re.search(r"GRPO is an unbiased estimator", body)


def test_required_equations_are_labelled(grpo):
    _, body = grpo
    labels = set(re.findall(r"\$\$\s*\(([\w-]+)\)", body))
    for label in ["grpo-objective", "ratio", "k3", "k3-gradient", "group-advantage",
                  "process-advantage", "grpo-gradient", "loo-identity", "pg-baseline"]:
        assert label in labels, label
    display = dict(re.findall(r"\$\$(.+?)\$\$\s*\(([\w-]+)\)", body, flags=re.S)[i][::-1]
                   for i in range(len(re.findall(r"\$\$(.+?)\$\$\s*\(([\w-]+)\)", body, flags=re.S))))
    objective = re.sub(r"\s+", " ", display["grpo-objective"])
    assert r"\frac{1}{G} \sum_{i=1}^{G} \frac{1}{\abs{o_i}} \sum_{t=1}^{\abs{o_i}}" in objective
    assert r"\clip(\ratio_{i,t},\, 1-\eps,\, 1+\eps)" in objective and r"\beta\, \KL{\policy}{\piref}" in objective
    gradient = re.sub(r"\s+", " ", display["grpo-gradient"])
    assert r"\adv_{i,t} + \beta\left(" in gradient and "- 1 \\right)" in gradient
    assert r"\grad\, \KL{\piref}{\policy}" in display["k3-gradient"]


def test_svg_diagrams_are_accessible_and_csp_safe(grpo):
    _, body = grpo
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


def test_trl_example_uses_real_parameter_names_and_paper_settings(grpo):
    _, body = grpo
    code = [c for info, c in fenced_blocks(body) if "GRPOConfig(" in c]
    assert len(code) == 1
    tree = ast.parse(code[0])
    calls = {n.func.id: n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    config = {k.arg: ast.literal_eval(k.value) for k in calls["GRPOConfig"].keywords}
    # Field names of trl.GRPOConfig / transformers.TrainingArguments (checked in trl/trainer/grpo_config.py).
    known = {"output_dir", "learning_rate", "beta", "num_generations", "max_completion_length",
             "num_iterations", "epsilon", "epsilon_high", "loss_type", "scale_rewards", "temperature",
             "per_device_train_batch_size", "gradient_accumulation_steps", "mask_truncated_completions",
             "importance_sampling_level", "bf16", "logging_steps"}
    assert set(config) <= known, set(config) - known
    paper = {"beta": 0.04, "num_generations": 64, "learning_rate": 1e-6, "max_completion_length": 1024,
             "num_iterations": 1, "loss_type": "grpo", "scale_rewards": "group"}
    assert {k: config[k] for k in paper} == paper
    trainer = {k.arg for k in calls["GRPOTrainer"].keywords}
    assert {"model", "reward_funcs", "args", "train_dataset"} <= trainer
    assert 8 * config["per_device_train_batch_size"] * config["gradient_accumulation_steps"] == 1024


def test_pseudocode_present_and_std_made_explicit(grpo):
    _, body = grpo
    sketch = [c for info, c in fenced_blocks(body) if info == "python" and "def grpo_step" in c]
    assert len(sketch) == 1
    assert "sample std" in sketch[0] and "1e-8" not in sketch[0]
    assert "torch.exp(ref_logp - logp) - (ref_logp - logp) - 1" in sketch[0]


# ---------------------------------------------------------------- every chapter

@pytest.mark.parametrize("chapter", CHAPTERS, ids=SLUGS)
def test_front_matter(chapter):
    meta, _, _ = split_front_matter(chapter.read_text(encoding="utf-8"))
    assert meta["slug"] == chapter.stem
    for key in ("title", "order", "tldr", "paper"):
        assert meta.get(key), key
    assert isinstance(meta["order"], int)
    assert {"title", "authors", "venue", "year", "url"} <= set(meta["paper"])


def test_chapter_orders():
    orders = {p.stem: split_front_matter(p.read_text())[0]["order"] for p in CHAPTERS}
    assert orders == {"policy-gradients": 10, "ppo": 20, "rlhf": 30, "grpo": 50, "llm-reasoning": 60}


@pytest.mark.parametrize("slug", ["policy-gradients", "ppo", "rlhf", "llm-reasoning"])
def test_neighbour_chapters_are_real(slug):
    _, body, _ = split_front_matter((CONTENT / f"{slug}.md").read_text(encoding="utf-8"))
    secs = {sid: text for sid, text in sections(body).items()}
    layered = [sid for sid, text in secs.items()
               if {n for n, _, _ in containers(text)} >= set(LAYERS)]
    assert len(layered) >= 3, f"{slug}: only {layered} have all three layers"
    assert len(re.findall(r"\$\$\s*\([\w-]+\)", body)) >= 3, "key equations, labelled"
    assert any(info.startswith("python") for info, _ in fenced_blocks(body)), "pseudocode"
    assert len(set(re.findall(r"@([\w-]+)", body))) >= 3, "sources"
    assert len(body.split()) >= 900


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
in notin infty partial mid binom over alpha beta gamma delta epsilon lambda mu sigma tau theta phi psi Psi ell
tilde bar hat mathbf mathcal mathrm boldsymbol operatorname begin end aligned array to leftarrow rightarrow times
prod int lim sup inf Pr sim star neq geq leq mathbb ne neg lor land forall exists subset subseteq cup cap top bot pm mp equiv propto colon
""".split())


def test_math_uses_only_convention_macros_and_no_raw_forms():
    macros = {k.lstrip("\\") for k in load_macros()}
    problems = []
    for chapter in CHAPTERS:
        _, body, _ = split_front_matter(chapter.read_text(encoding="utf-8"))
        for tex in math_spans(body):
            for pattern, hint in RAW_FORMS:
                if re.search(pattern, tex):
                    problems.append(f"{chapter.name}: ${tex.strip()[:60]}$ — {hint}")
            for cmd in re.findall(r"\\([A-Za-z]+)", tex):
                if cmd not in macros and cmd not in TEX_BUILTINS:
                    problems.append(f"{chapter.name}: \\{cmd} is neither a MATH_CONVENTIONS macro nor basic TeX")
    assert not problems, "\n".join(problems)


def test_every_macro_is_documented_in_the_notation_table():
    text = (ROOT / "MATH_CONVENTIONS.md").read_text(encoding="utf-8")
    table = text.split("## Macros")[0]
    for name in load_macros():
        assert f"`{name}" in table, f"{name} is defined but not in the notation table"


def test_all_math_renders_with_katex():
    node = shutil.which("node")
    katex = ROOT / "node_modules" / "katex"
    if not node or not katex.exists():
        pytest.skip("node or node_modules/katex not installed")
    formulas = []
    for chapter in CHAPTERS + [ROOT / "MATH_CONVENTIONS.md"]:
        text = chapter.read_text(encoding="utf-8")
        body = split_front_matter(text)[1] if text.startswith("---\n") else text
        formulas += [(chapter.name, f) for f in math_spans(body)]
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
    for chapter in CHAPTERS:
        for info, content in fenced_blocks(split_front_matter(chapter.read_text())[1]):
            if "include=" in info:
                opts = dict(re.findall(r"(\w+)=(\S+)", info))
                yield chapter.name, opts, content


def test_grpo_includes_the_tested_implementations():
    got = {(c, o["include"], o.get("symbol")) for c, o, _ in included_blocks()}
    assert ("grpo.md", "demos/grpo_torch.py", None) in got
    for symbol in ("group_advantages", "kl_penalty", "grpo_loss", "process_advantages"):
        assert ("grpo.md", "demos/grpo_core.py", symbol) in got


@pytest.mark.parametrize("chapter,opts,content", list(included_blocks()),
                         ids=[f"{c}:{o['include']}:{o.get('symbol', '')}" for c, o, _ in included_blocks()])
def test_included_code_exists_and_is_tested(chapter, opts, content):
    assert content.strip() == "", "an include block has an empty body"
    path = ROOT / opts["include"]
    assert path.is_file(), f"{chapter} includes missing file {opts['include']}"
    module = path.stem
    tests = [p for p in (ROOT / "tests").glob("test_*.py") if p.name != "test_content.py"]
    assert any(re.search(rf"\b(import|from)\s+(demos\.)?{module}\b|\bdemos\.{module}\b|[\"']{module}[\"']",
                         p.read_text(encoding="utf-8")) for p in tests), f"no test imports {module}"
    if "symbol" in opts:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert opts["symbol"] in names, f"{opts['symbol']} is not a top-level definition in {path.name}"


# ---------------------------------------------------------------- citations

@pytest.fixture(scope="module")
def references():
    return yaml.safe_load((CONTENT / "references.yaml").read_text(encoding="utf-8"))


def test_every_citation_key_exists(references):
    missing = []
    for chapter in CHAPTERS:
        body = blank_code(split_front_matter(chapter.read_text())[1])
        for group in re.findall(r"\[(@[^\]]+)\]", body):
            for key in re.findall(r"@([\w-]+)", group):
                if key not in references:
                    missing.append(f"{chapter.name}: {key}")
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
                  "2506.09477", "2505.17508", "2510.08191", "2503.06639", "1707.06347"]:
        assert arxiv in ids, arxiv


def test_every_reference_is_cited_somewhere(references):
    cited = set()
    for chapter in CHAPTERS:
        cited |= set(re.findall(r"@([\w-]+)", blank_code(split_front_matter(chapter.read_text())[1])))
    assert set(references) - cited == set()


# ---------------------------------------------------------------- links

def anchors_of(path: Path) -> set[str]:
    _, body, _ = split_front_matter(path.read_text(encoding="utf-8"))
    ids = set(sections(body)) | {heading_id(h) for h in re.findall(r"^###+ (.+?)\s*$", blank_code(body), re.M)}
    ids |= {f"eq-{label}" for label in re.findall(r"\$\$\s*\(([\w-]+)\)", body)}
    return ids


def test_internal_links_resolve():
    broken = []
    for chapter in CHAPTERS:
        body = blank_code(split_front_matter(chapter.read_text())[1])
        for target in re.findall(r"\]\(([^)\s]+)\)", body):
            if target.startswith(("http://", "https://")):
                continue
            file, _, anchor = target.partition("#")
            dest = CONTENT / file if file else chapter
            if not dest.is_file():
                broken.append(f"{chapter.name}: {target} (no such chapter)")
            elif anchor and anchor not in anchors_of(dest):
                broken.append(f"{chapter.name}: {target} (no such anchor)")
    assert not broken, broken


def test_equation_references_carry_the_right_number():
    """'[Eq. (n)](#eq-label)' must name the number the build gives: labelled display equations in page order."""
    for chapter in CHAPTERS:
        body = split_front_matter(chapter.read_text(encoding="utf-8"))[1]
        numbers = {label: i + 1 for i, label in enumerate(re.findall(r"\$\$\s*\(([\w-]+)\)", body))}
        for n, label in re.findall(r"\[Eq\.\s*\((\d+)\)\]\(#eq-([\w-]+)\)", body):
            assert numbers.get(label) == int(n), f"{chapter.name}: Eq. ({n}) links to eq-{label} = ({numbers.get(label)})"
        assert not re.search(r"\[Eq\.\]\(", body), f"{chapter.name}: write [Eq. (n)](#eq-label)"
