"""The bad-input catalogue: each broken input fails the build with the exact ``path:line: [code] message``,
exit code 1, and the last good site/ byte-for-byte unchanged."""
from __future__ import annotations

import pytest

from conftest import Project


def expect_failure(p: Project, *expected: str) -> str:
    before = p.snapshot()
    r = p.build()
    assert r.returncode == 1, f"build should fail\nstdout: {r.stdout}\nstderr: {r.stderr}"
    lines = r.stderr.strip().splitlines()
    for e in expected:
        assert e in lines, f"expected line {e!r} in:\n{r.stderr}"
    assert lines[-1].startswith("build failed:")
    assert p.snapshot() == before, "a failed build must leave the last good site untouched"
    assert not list(p.root.glob(".site-tmp-*")), "temporary output must be removed"
    return r.stderr


def test_unknown_layer_name(built: Project):
    built.edit("content/alpha.md", "::: math", "::: mahts")
    line = built.line_of("content/alpha.md", "::: mahts")
    expect_failure(built, f"content/alpha.md:{line}: [container-unknown] unknown container 'mahts' (did you mean 'math'?)")


def test_misspelt_intuition(built: Project):
    built.edit("content/alpha.md", "::: intuition", "::: intution")
    line = built.line_of("content/alpha.md", "::: intution")
    expect_failure(built, f"content/alpha.md:{line}: [container-unknown] unknown container 'intution' "
                          "(did you mean 'intuition'?)")


def test_unclosed_container(built: Project):
    p = built.root / "content/beta.md"
    p.write_text(p.read_text().rstrip().removesuffix(":::") + "\n", encoding="utf-8")
    line = built.line_of("content/beta.md", "::: warning")
    expect_failure(built, f"content/beta.md:{line}: [container-unclosed] container 'warning' opened here is never "
                          "closed (add a line with :::)")


def test_missing_front_matter_field(built: Project):
    built.edit("content/beta.md", 'tldr: "The second chapter of the test site."\n', "")
    expect_failure(built, "content/beta.md:1: [front-matter] missing required field 'tldr' (a string)")


def test_wrong_front_matter_type(built: Project):
    built.edit("content/beta.md", "order: 20", "order: twenty")
    expect_failure(built, "content/beta.md:4: [front-matter] field 'order' must be an integer, got str 'twenty'")


def test_wrong_nested_type(built: Project):
    built.edit("content/beta.md", "year: 2017", 'year: "2017"')
    line = built.line_of("content/beta.md", "year:")
    expect_failure(built, f"content/beta.md:{line}: [front-matter] field 'paper.year' must be an integer, got str '2017'")


def test_duplicate_slug(built: Project):
    text = (built.root / "content/beta.md").read_text()
    (built.root / "content/gamma.md").write_text(text, encoding="utf-8")
    expect_failure(built, "content/gamma.md:2: [duplicate-slug] slug 'beta' is already used by content/beta.md")


def test_unknown_demo(built: Project):
    built.edit("content/beta.md", "::: warning", "::: demo group-advantages\nCaption.\n:::\n\n::: warning")
    line = built.line_of("content/beta.md", "::: demo")
    out = expect_failure(built)
    assert f"content/beta.md:{line}: [demo-unknown] unknown demo 'group-advantages'" in out


def test_tex_parse_error(built: Project):
    built.edit("content/beta.md", r"$[1-\eps, 1+\eps]$", r"$\frac{1}{$")
    line = built.line_of("content/beta.md", r"\frac{1}{")
    out = expect_failure(built)
    assert f"content/beta.md:{line}: [tex] KaTeX cannot render $\\frac{{1}}{{$: " in out


def test_undefined_macro(built: Project):
    built.edit("content/beta.md", r"$\ratio$", r"$\rhoo$")
    line = built.line_of("content/beta.md", r"\rhoo")
    out = expect_failure(built)
    assert (f"content/beta.md:{line}: [tex-macro] KaTeX cannot render $\\rhoo$: Undefined control sequence: \\rhoo"
            in out)
    assert "(define macros in MATH_CONVENTIONS.md)" in out


def test_undefined_macro_in_display_math_reports_its_line(built: Project):
    built.edit("content/alpha.md", r"\nabla_\theta \J", r"\nabla_\theta \Jgrpo")
    line = built.line_of("content/alpha.md", "$$") # the display block starts at its opening $$
    out = expect_failure(built)
    assert f"content/alpha.md:{line}: [tex-macro]" in out and "Undefined control sequence: \\Jgrpo" in out


def test_unknown_citation(built: Project):
    built.edit("content/beta.md", "[@schulman2017ppo]", "[@schulman2017ppo; @schulman2017pp]")
    line = built.line_of("content/beta.md", "@schulman2017pp]")
    expect_failure(built, f"content/beta.md:{line}: [citation] unknown citation key 'schulman2017pp' "
                          "(did you mean 'schulman2017ppo'?); define it in content/references.yaml")


def test_broken_chapter_link(built: Project):
    built.edit("content/beta.md", "[Alpha](alpha.md)", "[Alpha](alhpa.md)")
    line = built.line_of("content/beta.md", "alhpa.md")
    out = expect_failure(built)
    assert f"content/beta.md:{line}: [link] broken link 'alhpa.md'" in out


def test_broken_anchor_in_other_chapter(built: Project):
    built.edit("content/alpha.md", "beta.md#clipping", "beta.md#clippping")
    line = built.line_of("content/alpha.md", "#clippping")
    expect_failure(built, f"content/alpha.md:{line}: [anchor] broken anchor '#clippping' on page 'beta'")


def test_broken_anchor_in_same_chapter(built: Project):
    built.edit("content/alpha.md", "(#eq-pg)", "(#eq-pgg)")
    line = built.line_of("content/alpha.md", "#eq-pgg")
    expect_failure(built, f"content/alpha.md:{line}: [anchor] broken anchor '#eq-pgg' on page 'alpha'")


def test_connections_unknown_chapter(built: Project):
    built.edit("connections.yaml", "{slug: alpha, relationship", "{slug: alfa, relationship")
    line = built.line_of("connections.yaml", "slug: alfa")
    out = expect_failure(built, f"connections.yaml:{line}: [connections] 'beta.builds_on' names unknown chapter 'alfa'")
    assert "[connections-one-way]" in out   # alpha's referenced_by now has no partner


def test_connections_one_way(built: Project):
    built.edit("connections.yaml", "  alpha:\n    referenced_by:\n      - {slug: beta, relationship: extends, "
               'note: "adds clipping"}\n', "  alpha: {}\n")
    line = built.line_of("connections.yaml", "slug: alpha")
    expect_failure(built, f"connections.yaml:{line}: [connections-one-way] 'beta' builds on 'alpha' but "
                          "'alpha.referenced_by' does not list 'beta'")


@pytest.mark.parametrize("rel, old, new, line_needle", [
    ("content/alpha.md", "order: 10", "order: [10", "order: [10"),
    ("content/references.yaml", "  year: 1992", "  year: 1992\n  bad: [", "bad: ["),
    ("connections.yaml", "  beta:", "  beta: [", "beta: ["),
])
def test_invalid_yaml(built: Project, rel, old, new, line_needle):
    built.edit(rel, old, new)
    out = expect_failure(built)
    start = built.line_of(rel, line_needle)
    reported = [ln for ln in out.splitlines() if ln.startswith(f"{rel}:") and "[yaml] invalid YAML" in ln]
    assert reported, out
    line = int(reported[0].split(":")[1])
    assert start <= line <= start + 2, f"YAML error reported at line {line}, the broken line is {start}"


def test_template_undefined_variable(built: Project):
    built.edit("templates/chapter.html", "{{ chapter.title }}", "{{ chapter.titel }}")
    line = built.line_of("templates/chapter.html", "chapter.titel")
    out = expect_failure(built)
    assert f"templates/chapter.html:{line}: [template] UndefinedError:" in out
    assert "titel" in out


def test_non_utf8_file(built: Project):
    p = built.root / "content/beta.md"
    data = p.read_bytes().replace(b"heuristic", "heuristic \xe9t\xe9".encode("latin-1"))
    p.write_bytes(data)
    line = built.line_of("content/beta.md", "heuristic") if False else data[: data.index(b"\xe9")].count(b"\n") + 1
    out = expect_failure(built)
    assert f"content/beta.md:{line}: [utf8] not valid UTF-8 (byte 0xe9" in out


def test_all_problems_of_a_run_are_reported(built: Project):
    built.edit("content/alpha.md", "::: intuition", "::: intution")
    built.edit("content/beta.md", "[@schulman2017ppo]", "[@nope]")
    out = expect_failure(built)
    assert "[container-unknown]" in out and "[citation]" in out


def test_refuses_to_replace_a_foreign_directory(project: Project, tmp_path):
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    r = project.build("--out", str(foreign))
    assert r.returncode == 1
    assert "refusing to replace a directory that was not built by this project" in r.stderr
    assert (foreign / "keep.txt").read_text() == "mine"


def test_heading_id_that_the_template_also_uses(built: Project):
    built.edit("content/beta.md", "## Clipping", "## Clipping\n\n## References")
    line = built.line_of("content/beta.md", "## References")
    expect_failure(built, f"content/beta.md:{line}: [duplicate-id] id 'references' is also used by the page "
                          "template; give this heading another id with {#...}")
