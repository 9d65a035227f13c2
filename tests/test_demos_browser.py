"""The live demos in headless Chromium against the real site built with self-hosted Pyodide; every request
off the site's origin is aborted. The numbers in the page must be CPython's, to 1e-9."""
from __future__ import annotations

import json

import numpy as np
import pytest

from demos import grpo_core, limits, memory, policy_dynamics, registry
from support import LIVE_TIMEOUT_MS, chapters_with_demos, poll, wait_live, watch

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("demos_browser")]


def open_chapter(w, served, fragment: str = "") -> None:
    url = served.url + chapters_with_demos(served.root)[0] + fragment
    w.page.goto(url)
    # Until chapter.html links the demo assets itself (requested from the theme helper), add them the same way.
    if not w.page.locator('script[src*="assets/demos/demos.js"]').count():
        w.page.add_style_tag(url=served.url + "assets/demos/demos.css")
        w.page.add_script_tag(url=served.url + "assets/demos/demos.js", type="module")
    w.page.wait_for_selector("figure.demo .demo-stages", state="attached")


@pytest.fixture(scope="module")
def live(browser, served_site):
    """One page with every demo live (booting Pyodide is the slow part: share it)."""
    w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
    open_chapter(w, served_site)
    wait_live(w.page)
    yield w
    w.close()


def dom_rewards_and_advantages(page):
    return page.evaluate("""() => {
        const f = document.querySelector('figure[data-demo="group-advantage"]');
        return [[...f.querySelectorAll('.ga-slider')].map((s) => Number(s.value)),
                [...f.querySelectorAll('[data-advantage]')].map((e) => Number(e.dataset.advantage)),
                f.querySelector('.ga-slider').getAttribute('aria-valuetext')];
    }""")


def wait_advantages_match(page, timeout_s: float = 10.0):
    """Poll until the shown advantages are CPython's for the shown rewards; return them."""
    import time
    deadline = time.time() + timeout_s
    while True:
        rewards, shown, valuetext = dom_rewards_and_advantages(page)
        expected = grpo_core.group_advantages(np.array([rewards]))[0]
        if np.allclose(shown, expected, rtol=0, atol=1e-9):
            return rewards, shown, valuetext
        if time.time() > deadline:
            raise AssertionError(f"advantages {shown} != CPython {expected.tolist()} for rewards {rewards}")
        page.wait_for_timeout(50)


def test_slider_by_keyboard_gives_cpythons_advantages(live):
    page = live.page
    before, _, _ = dom_rewards_and_advantages(page)
    slider = page.locator('figure[data-demo="group-advantage"] .ga-slider').nth(1)
    slider.focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowRight", "ArrowUp"):
        page.keyboard.press(key)
    rewards, shown, _ = wait_advantages_match(page)
    assert rewards[1] == pytest.approx(before[1] + 0.2) and rewards != before
    third = page.locator('figure[data-demo="group-advantage"] .ga-slider').nth(0)
    third.focus()
    page.keyboard.press("Home")
    rewards, shown, valuetext = wait_advantages_match(page)
    assert rewards[0] == 0.0
    assert valuetext == f"reward 0.00, advantage {shown[0]:+.2f}"
    assert abs(sum(shown)) < 1e-9


def test_slider_by_mouse_gives_cpythons_advantages(live):
    page = live.page
    slider = page.locator('figure[data-demo="group-advantage"] .ga-slider').nth(4)
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.93, box["y"] + box["height"] / 2)
    rewards, _, _ = wait_advantages_match(page)
    assert rewards[4] >= 0.85
    # drag: press near the left end, move right
    page.mouse.move(box["x"] + 4, box["y"] + box["height"] / 2)
    page.mouse.down()
    for frac in (0.2, 0.4, 0.6):
        page.mouse.move(box["x"] + box["width"] * frac, box["y"] + box["height"] / 2)
    page.mouse.up()
    rewards, _, _ = wait_advantages_match(page)
    assert 0.45 <= rewards[4] <= 0.75


def test_options_and_presets_change_the_numbers_like_cpython(live):
    page = live.page
    fig = page.locator('figure[data-demo="group-advantage"]')
    fig.locator('[data-group="weak"]').click()
    fig.locator('input[value="leave_one_out"]').check()
    fig.locator('input[value="0"][name$="-ddof"]').check()
    expected_rewards = [0.0, 0.0, 0.7, 0.2, 0.1, 0.0, 0.1, 0.0]

    def shown():
        return page.evaluate("""() => [...document.querySelectorAll('figure[data-demo="group-advantage"] [data-advantage]')]
            .map((e) => Number(e.dataset.advantage))""")
    expected = grpo_core.group_advantages(np.array([expected_rewards]), baseline="leave_one_out", ddof=0)[0]
    poll(page, """(exp) => {
        const got = [...document.querySelectorAll('figure[data-demo="group-advantage"] [data-advantage]')].map((e) => Number(e.dataset.advantage));
        return got.every((g, i) => Math.abs(g - exp[i]) < 1e-9);
    }""", expected.tolist())
    assert shown()[2] > 0                                        # 0.7 in a weak group: positive
    fig.locator('[data-group="strong"]').click()
    strong = [1.0, 1.0, 0.7, 0.9, 1.0, 1.0, 0.9, 1.0]
    expected = grpo_core.group_advantages(np.array([strong]), baseline="leave_one_out", ddof=0)[0]
    poll(page, """(exp) => {
        const got = [...document.querySelectorAll('figure[data-demo="group-advantage"] [data-advantage]')].map((e) => Number(e.dataset.advantage));
        return got.every((g, i) => Math.abs(g - exp[i]) < 1e-9);
    }""", expected.tolist())
    assert shown()[2] < 0                                        # the same 0.7 in a strong group: negative
    assert "demo-group-advantage=" in page.url                   # shareable state


def test_memory_70b_bytes_are_cpythons_breakdown(live):
    page = live.page
    fig = page.locator('figure[data-demo="gpu-memory"]')
    fig.locator('[data-model="Llama-2-70B"]').click()
    poll(page, """() => document.querySelector('figure[data-demo="gpu-memory"] .mem-model').textContent === 'Llama-2-70B'""")
    opts = {k: v for k, v in limits.defaults(registry.load("gpu-memory").LIMITS).items() if k not in ("model", "ppo_rollout")}
    opts["ppo_samples_per_prompt"] = opts["group_size"]   # default: PPO generates as many completions as GRPO
    for alg in ("ppo", "grpo"):
        expected = memory.total(memory.breakdown("Llama-2-70B", algorithm=alg, **opts))
        assert float(fig.get_attribute(f"data-{alg}-bytes")) == pytest.approx(expected, rel=1e-12)
    n = memory.gpus_needed_80gb("Llama-2-70B", algorithm="grpo", **opts)
    assert f"fits on {n} × 80 GB" in fig.locator(".mem-grpo-fit").inner_text()


def test_dynamics_20_steps_equal_cpythons_trajectory(live):
    page = live.page
    fig = page.locator('figure[data-demo="policy-dynamics"]')
    fig.locator(".pd-reset").click()
    poll(page, """() => document.querySelector('figure[data-demo="policy-dynamics"]').dataset.step === '0'""")
    for i in range(20):
        fig.locator(".pd-step").click()
        poll(page, "(n) => document.querySelector('figure[data-demo=\"policy-dynamics\"]').dataset.step === String(n)", i + 1)
    probs = json.loads(fig.get_attribute("data-probs"))
    pd = registry.load("policy-dynamics")
    ref = policy_dynamics.run(pd.make_config(limits.defaults(pd.LIMITS)), 20)
    np.testing.assert_allclose(probs, ref["probs"][-1], rtol=0, atol=1e-9)
    # play: steps advance on their own, pause stops them
    fig.locator(".pd-play").click()
    poll(page, "() => Number(document.querySelector('figure[data-demo=\"policy-dynamics\"]').dataset.step) >= 23")
    fig.locator(".pd-play").click()
    step = int(fig.get_attribute("data-step"))
    page.wait_for_timeout(600)
    assert int(fig.get_attribute("data-step")) <= step + 1


def test_code_that_raises_shows_the_error_in_the_figure(live):
    page = live.page
    fig = page.locator('figure[data-demo="group-advantage"]')
    fig.get_by_role("tab", name="Python").click()
    editor = fig.locator("textarea.demo-code-editor").first
    source = editor.input_value()
    editor.fill(source.replace('    _choice(scale, SCALES, "scale")', '    raise RuntimeError("reader broke it")', 1))
    fig.locator(".demo-run").click()
    error = fig.locator(".demo-error")
    error.wait_for(state="visible", timeout=60_000)
    assert "RuntimeError: reader broke it" in error.inner_text()
    assert fig.get_attribute("data-state") == "live"             # the page is not frozen; the runtime answers
    fig.locator(".demo-reset").click()
    poll(page, """() => document.querySelector('figure[data-demo="group-advantage"] .demo-error').hidden""")
    assert editor.input_value() == source
    assert not live.console, live.console


def test_code_that_never_returns_restarts_the_runtime(live):
    page = live.page
    fig = page.locator('figure[data-demo="gpu-memory"]')
    fig.get_by_role("tab", name="Python").click()
    editor = fig.locator("textarea.demo-code-editor").first
    source = editor.input_value()
    editor.fill(source + "\nwhile True:\n    pass\n")
    fig.locator(".demo-run").click()
    fig.locator(".demo-error").wait_for(state="visible", timeout=30000)
    assert "restarted" in fig.locator(".demo-error").inner_text()
    wait_live(page)                                                # back to live with the original code
    fig.get_by_role("tab", name="Demo").click()
    fig.locator('[data-model="Llama-2-13B"]').click()
    poll(page, """() => document.querySelector('figure[data-demo="gpu-memory"] .mem-model').textContent === 'Llama-2-13B'""")


def test_blocked_pyodide_leaves_static_figures_and_no_console_error(browser, served_site):
    w = watch(browser, served_site.url)
    try:
        w.context.route("**/pyodide/**", lambda r: r.abort("blockedbyclient"))
        open_chapter(w, served_site)
        w.page.locator("figure.demo").first.scroll_into_view_if_needed()
        poll(w.page, """() => [...document.querySelectorAll('figure.demo[data-demo]')].every((f) => f.dataset.state === 'error')""", timeout_ms=LIVE_TIMEOUT_MS)
        for fig in w.page.locator("figure.demo[data-demo]").all():
            assert "could not load" in fig.locator(".demo-status-text").inner_text()
            assert fig.locator(".demo-retry").is_visible()
            assert fig.locator(".demo-chart svg").first.is_visible()   # the build-time figure stays
        assert w.console == []
        assert w.csp_violations() == []
    finally:
        w.close()


def test_bad_hash_gives_defaults_and_a_note(browser, served_site):
    w = watch(browser, served_site.url)
    try:
        w.context.route("**/pyodide/**", lambda r: r.abort("blockedbyclient"))
        open_chapter(w, served_site, "#demo-group-advantage=r:1,2,banana&demo-gpu-memory=m:GPT-9&demo-policy-dynamics=G:1000")
        for name in ("group-advantage", "gpu-memory", "policy-dynamics"):
            note = w.page.locator(f'figure[data-demo="{name}"] .demo-note')
            assert note.is_visible() and "showing the defaults" in note.inner_text()
        values = w.page.evaluate("""() => [...document.querySelectorAll('figure[data-demo="group-advantage"] .ga-slider')].map((s) => Number(s.value))""")
        assert values == registry.load("group-advantage").initial_state()["rewards"]
        assert w.page.locator('figure[data-demo="gpu-memory"] [data-model="Llama-2-7B"]').get_attribute("aria-pressed") == "true"
        assert w.page.locator('figure[data-demo="policy-dynamics"] [name="G"]').input_value() == "8"
        assert w.console == []
    finally:
        w.close()


def test_good_hash_restores_a_shared_configuration(browser, served_site):
    w = watch(browser, served_site.url)
    try:
        w.context.route("**/pyodide/**", lambda r: r.abort("blockedbyclient"))
        open_chapter(w, served_site, "#demo-group-advantage=g:strong;r:1,1,0.7,0.9,1,1,0.9,1;n:0;d:1;b:mean")
        fig = w.page.locator('figure[data-demo="group-advantage"]')
        assert fig.locator(".ga-slider").nth(3).input_value() == "0.9"
        assert fig.locator('[data-group="strong"]').get_attribute("aria-pressed") == "true"
        assert fig.locator('input[value="off"]').is_checked()
        assert not fig.locator(".demo-note").is_visible()
    finally:
        w.close()
