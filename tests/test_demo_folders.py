"""A demo is one folder: the build discovers it, a missing piece is one diagnostic naming the folder, the first
frame is the view's own render() (the same markup live), and nothing outside the folder names a demo."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, Project, make_project
from demos import registry
from support import ROOT, poll, run_build, serve_site, wait_live, watch

PIECES = ("demo.py", "demo.html", "view.mjs", "style.css")


def project_with_own_demos(tmp: Path) -> Project:
    """The mini project with a *copy* of demos/ (tests add and remove demo folders) and the hello demo."""
    proj = make_project(tmp)
    os.unlink(proj.root / "demos")
    shutil.copytree(ROOT / "demos", proj.root / "demos", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(FIXTURES / "hello-demo", proj.root / "demos" / "hello-demo")
    proj.edit("content/alpha.md", "## Baselines\n", "## Baselines\n\n::: demo hello-demo\nSquares, live.\n:::\n")
    return proj


@pytest.fixture
def hello(tmp_path) -> Project:
    return project_with_own_demos(tmp_path / "proj")


def test_a_new_demo_folder_builds_with_no_other_file_touched(hello):
    r = hello.build()
    assert r.returncode == 0, r.stderr
    page = (hello.site / "alpha" / "index.html").read_text()
    fig = re.search(r'<figure class="demo demo-hello-demo".*?</figure>', page, re.S).group(0)
    assert 'data-view="assets/demos/hello-demo.mjs"' in fig
    assert "3² = 9</text></svg>" in fig                        # first frame: the view's render in Node
    assert (hello.site / "assets/demos/hello-demo.mjs").read_text() == (hello.root / "demos/hello-demo/view.mjs").read_text()
    manifest = (hello.site / "demos/manifest.json").read_text()
    assert '"demos/hello-demo/demo.py"' in manifest
    assert ".hello-label" in (hello.site / "assets/bundle.css").read_text()


@pytest.mark.parametrize("piece", PIECES)
def test_a_missing_piece_is_one_diagnostic_naming_the_folder(hello, piece):
    assert hello.build().returncode == 0
    before = hello.snapshot()
    (hello.root / "demos" / "hello-demo" / piece).unlink()
    r = hello.build()
    assert r.returncode == 1
    problems = [line for line in r.stderr.splitlines() if ": [" in line]
    assert problems == [f"demos/hello-demo:1: [demo-folder] demo 'hello-demo' is missing {piece} "
                        "(a demo folder holds demo.py, demo.html, view.mjs, style.css; see demos/README.md)"]
    assert hello.snapshot() == before


def test_a_broken_demo_names_only_itself_and_its_line(hello):
    hello.edit("demos/hello-demo/demo.py", "    return {\"n\": 3, \"square\": 9}", "    return {\"n\": 3, \"square\": 9 / 0}")
    r = hello.build()
    problems = [line for line in r.stderr.splitlines() if ": [" in line]
    line = hello.line_of("demos/hello-demo/demo.py", "9 / 0")
    assert problems == [f"demos/hello-demo/demo.py:{line}: [demo] demo 'hello-demo': ZeroDivisionError: division by zero"]


def test_a_view_that_throws_is_a_diagnostic_at_its_line(hello):
    hello.edit("demos/hello-demo/view.mjs", "export function render({ n, square }) {\n",
               "export function render({ n, square }) {\n  if (n === 3) throw new Error(\"no threes\");\n")
    r = hello.build()
    problems = [line for line in r.stderr.splitlines() if ": [" in line]
    assert problems == ["demos/hello-demo/view.mjs:5: [demo] demo 'hello-demo': no threes"]


def test_no_file_of_the_build_or_the_templates_names_a_particular_demo():
    names = registry.names()
    assert len(names) >= 3
    files = [ROOT / "build.py", *(ROOT / "sitegen").rglob("*.py"), *(ROOT / "sitegen").rglob("*.*js"),
             *[p for p in (ROOT / "templates").rglob("*") if p.is_file()]]
    for f in files:
        text = f.read_text(encoding="utf-8")
        for name in names:
            assert not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), f"{f.relative_to(ROOT)} names {name}"


def test_the_site_builds_without_matplotlib(tmp_path):
    blocker = tmp_path / "block"
    (blocker / "matplotlib").mkdir(parents=True)
    (blocker / "matplotlib" / "__init__.py").write_text("raise ImportError('matplotlib is not importable here')\n")
    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{ROOT}"}
    r = run_build("--out", str(tmp_path / "site"), "--no-search", env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "site" / "grpo" / "index.html").exists()


# --------------------------------------------------------------------------- in Chromium

@pytest.mark.browser
def test_the_new_demo_goes_live_in_chromium(browser, hello):
    r = hello.build("--pyodide", "local")
    assert r.returncode == 0, r.stderr
    server = serve_site(hello.site)
    url = server.url
    w = watch(browser, url)
    try:
        w.page.goto(url + "alpha/")
        wait_live(w.page)
        fig = w.page.locator('figure[data-demo="hello-demo"]')
        fig.locator('[name="n"]').fill("7")
        poll(w.page, lambda p: "7² = 49" in fig.locator(".hello-chart").inner_text(), timeout_ms=60_000)
        assert w.console == []
    finally:
        w.close()
        server.stop()


def charts(page) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('figure.demo[data-demo]')]
        .map((f) => [f.dataset.demo, f.querySelector('.demo-chart').innerHTML]))""")


@pytest.mark.browser
@pytest.mark.xdist_group("demos_browser")
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_first_frame_is_the_live_first_render(browser, served_site, scheme):
    """For every demo: the build-time SVG and the live first render of the default state are the same markup,
    in light and dark alike (colours are CSS variables; no filter on the chart)."""
    w = watch(browser, served_site.url, color_scheme=scheme)
    try:
        w.page.goto(served_site.url + "grpo/")
        static = charts(w.page)
        assert len(static) >= 3 and all(v.startswith(("<svg", "<div")) for v in static.values())   # README: SVG or HTML markup
        wait_live(w.page)
        poll(w.page, lambda p: p.evaluate("""() => [...document.querySelectorAll('figure.demo[data-demo]')]
            .every((f) => Number(f.dataset.renders || 0) >= 1)"""))
        assert charts(w.page) == static
        assert w.page.evaluate("""() => [...document.querySelectorAll('.demo-chart svg')]
            .every((s) => getComputedStyle(s).filter === 'none')""")
        assert w.console == []
    finally:
        w.close()


@pytest.mark.browser
@pytest.mark.xdist_group("demos_browser")
def test_one_interpreter_edits_and_resets_reach_every_demo_of_the_file(browser, served_site):
    """grpo_core.py is shown by two demos; they share one Python. An edit run in one demo shows in the other's
    tab and changes both; Reset in the other restores the file for both."""
    w = watch(browser, served_site.url)
    try:
        page = w.page
        page.goto(served_site.url + "grpo/")
        wait_live(page)
        ga = page.locator('figure[data-demo="group-advantage"]')
        pd = page.locator('figure[data-demo="policy-dynamics"]')
        shown = lambda: [float(x) for x in ga.locator("[data-advantage]").evaluate_all("els => els.map((e) => e.dataset.advantage)")]
        original = shown()
        ga.get_by_role("tab", name="Python").click()
        ga_editor = ga.locator('textarea[data-file="demos/grpo_core.py"]')
        source = ga_editor.input_value()
        edited = source.replace("    return adv.reshape(r.shape)\n", "    return 2 * adv.reshape(r.shape)\n", 1)
        assert edited != source
        ga_editor.fill(edited)
        ga.locator(".demo-run").click()
        poll(page, lambda p: shown() != original)
        assert shown() == pytest.approx([2 * a for a in original], abs=1e-12)
        pd_editor = pd.locator('textarea[data-file="demos/grpo_core.py"]')
        assert pd_editor.input_value() == edited
        assert "changed in another demo" in pd.locator(".demo-code-output").inner_text()
        pd.get_by_role("tab", name="Python").click()
        pd.locator(".demo-reset").click()
        poll(page, lambda p: shown() == original)
        assert ga_editor.input_value() == source and pd_editor.input_value() == source
        assert w.console == []
    finally:
        w.close()
