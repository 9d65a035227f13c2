"""The tiny-gpt demo live in headless Chromium (self-hosted Pyodide, every off-origin request aborted): its
first steps equal CPython's, every control changes the run, an edit in the Python tab runs."""
from __future__ import annotations

import json

import pytest

from demos import registry
from support import chapters_with_demos, poll, wait_live, watch

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("demos_browser")]
FIG = 'figure[data-demo="tiny-gpt"]'


@pytest.fixture(scope="module")
def live(browser, served_site):
    w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
    chapter = next(c for c in chapters_with_demos(served_site.root)
                   if 'data-demo="tiny-gpt"' in (served_site.root / c / "index.html").read_text(encoding="utf-8"))
    w.page.goto(served_site.url + chapter + "#demo-tiny-gpt")
    wait_live(w.page)
    fig = w.page.locator(FIG)
    poll(w.page, lambda _: int(fig.get_attribute("data-renders") or 0) >= 1, timeout_ms=60_000, message="the first run")
    yield w
    w.close()


def cpython_records(config: dict, steps: int):
    demo = registry.load("tiny-gpt")
    started = json.loads(demo.start(json.dumps({"config": config})))
    res = json.loads(demo.step(json.dumps({"run": started["runs"][0]["run"], "steps": steps})))
    return res["records"], res["accuracy"]


def step_n(fig, n):
    start = int(fig.get_attribute("data-step"))
    for i in range(n):
        fig.locator(".tg-stepbtn").click()
        poll(fig.page, lambda _, target=start + i + 1: int(fig.get_attribute("data-step")) == target, timeout_ms=60_000,
             message=lambda: f"step {start + i + 1} (error box: {fig.locator('.demo-error').text_content()!r})")  # noqa: B023


def reset(fig, settings: dict):
    for name, value in settings.items():
        fig.locator(f'.tg-controls [name="{name}"]').fill(str(value)) if name not in ("loss_type", "std_scale") \
            else fig.locator(f'.tg-controls [name="{name}"]').select_option(str(value).lower())
        fig.locator(f'.tg-controls [name="{name}"]').dispatch_event("change")
    renders = int(fig.get_attribute("data-renders") or 0)
    fig.locator(".tg-reset").click()
    # every start the changes and the click asked for has been answered (data-busy), so no late start follows
    poll(fig.page, lambda _: int(fig.get_attribute("data-renders") or 0) > renders and fig.get_attribute("data-busy") == "false"
         and fig.get_attribute("data-step") == "0", timeout_ms=60_000, message="the new run")


def test_first_10_steps_equal_cpythons(live):
    fig = live.page.locator(FIG)
    reset(fig, {})
    rewards, kls = [], []
    for _ in range(10):
        step_n(fig, 1)
        rewards.append(float(fig.get_attribute("data-reward")))
        kls.append(float(fig.get_attribute("data-kl")))
    records, accuracy = cpython_records({}, 10)
    assert rewards == pytest.approx([r["reward_mean"] for r in records], abs=1e-6)
    assert kls == pytest.approx([r["kl"] for r in records], abs=1e-6)
    assert float(fig.get_attribute("data-accuracy")) == pytest.approx(accuracy[-1][1], abs=1e-6)
    assert not live.console, live.console


def test_step_clicks_while_a_run_starts_are_all_taken(live):
    """Reset then Step, Step at once: the clicks that come while the new run starts wait for it (none is lost)."""
    fig = live.page.locator(FIG)
    reset(fig, {})
    # one task: both Step clicks surely come before Python has answered the start
    fig.evaluate("(f) => { f.querySelector('.tg-reset').click(); for (const i of [1, 2]) f.querySelector('.tg-stepbtn').click(); }")
    poll(live.page, lambda _: fig.get_attribute("data-busy") == "false" and fig.get_attribute("data-step") == "2",
         timeout_ms=60_000, message=lambda: f"step 2 (at {fig.get_attribute('data-step')})")
    records, _ = cpython_records({}, 2)
    assert float(fig.get_attribute("data-reward")) == pytest.approx(records[-1]["reward_mean"], abs=1e-6)
    assert not live.console, live.console


CONTROLS = [("G", 4), ("beta", 0.5), ("lr", 0.003), ("mu", 2), ("loss_type", "dr_grpo"), ("std_scale", "false"),
            ("temperature", 0.5), ("seed", 3)]


def test_every_control_changes_the_run(live):
    fig = live.page.locator(FIG)
    def after_3(settings):
        reset(fig, settings)
        step_n(fig, 3)
        return fig.get_attribute("data-reward"), fig.get_attribute("data-kl")
    defaults = registry.load("tiny-gpt").LIMITS
    base = after_3({})
    for name, value in CONTROLS:
        assert after_3({name: value}) != base, name
        after_3({name: defaults[name]["default"]})
    # the clip range only acts from mu = 2 on (with mu = 1 every ratio is 1)
    with_mu = after_3({"mu": 2})
    for name in ("eps_low", "eps_high"):
        assert after_3({"mu": 2, name: 0.01}) != with_mu, name
        after_3({name: 0.2})
    after_3({"mu": 1})


def test_an_edit_in_the_python_tab_runs(live):
    page = live.page
    fig = page.locator(FIG)
    fig.get_by_role("tab", name="Python").click()
    editor = fig.locator("textarea.demo-code-editor").first
    source = editor.input_value()
    assert "def grpo_step" in source
    edited = source.replace('"reward_mean": float(rewards.mean()),', '"reward_mean": 42.0,', 1)
    assert edited != source
    editor.fill(edited)
    fig.locator(".demo-run").click()
    poll(page, lambda _: fig.locator(".demo-code-output").text_content().startswith("Ran your code"), timeout_ms=60_000,
         message=lambda: f"the edited code to run ({fig.locator('.demo-code-output').text_content()!r})")
    fig.get_by_role("tab", name="Demo").click()
    assert fig.get_attribute("data-step") == "0"
    step_n(fig, 1)
    assert float(fig.get_attribute("data-reward")) == 42.0
    fig.get_by_role("tab", name="Python").click()
    fig.locator(".demo-reset").click()
    poll(page, lambda _: editor.input_value() == source, timeout_ms=60_000, message="the original code back")
    fig.get_by_role("tab", name="Demo").click()
