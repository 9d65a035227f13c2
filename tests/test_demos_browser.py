"""The live demos in headless Chromium against the real site built with self-hosted Pyodide; every request
off the site's origin is aborted. The numbers in the page must be CPython's, to 1e-9."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from demos import grpo_core, limits, policy_dynamics, registry
from support import LIVE_TIMEOUT_MS, chapters_with_demos, demo_states, poll, wait_live, watch

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("demos_browser")]


def open_chapter(w, served, fragment: str = "") -> None:
    url = served.url + chapters_with_demos(served.root)[0] + fragment
    w.page.goto(url)
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


def wait_advantages_match(page, timeout_s: float = 30.0):
    """Poll until the shown advantages are CPython's for the shown rewards; return them."""
    def match(_):
        rewards, shown, valuetext = dom_rewards_and_advantages(page)
        expected = grpo_core.group_advantages(np.array([rewards]))[0]
        return np.allclose(shown, expected, rtol=0, atol=1e-9) and (rewards, shown, valuetext)
    def mismatch():
        rewards, shown, _ = dom_rewards_and_advantages(page)
        return f"CPython's advantages; shown {shown} for rewards {rewards}"
    return poll(page, match, timeout_ms=timeout_s * 1000, interval_ms=50, message=mismatch)


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
    poll(page, lambda p: "demo-group-advantage=" in p.url)       # shareable state (written at most every 150 ms)


PLANNER = registry.load("gpu-memory")
PLANNER_CONFIGS = [
    {"model": "Qwen2.5-1.5B", "gpu_gb": 24, "n_gpus": 1, "engine": "hf", "micro_batch": 1, "completion_len": 1024},
    {"model": "Llama-2-13B", "gpu_gb": 100, "n_gpus": 8, "beta": 0.04, "lora_rank": 16, "zero_stage": 2,
     "offload_optimizer": True, "engine": "vllm_server", "vllm_gpus": 2, "vllm_util": 0.85, "reward": "model"},
    {"model": "Qwen2.5-7B", "gpu_gb": 141, "n_gpus": 2, "group_size": 8, "offload_params": True,
     "engine": "vllm_colocate", "vllm_util": 0.4, "engine_sleeps": True, "precision": "fp16", "grad_checkpointing": False},
]


def set_planner(fig, config: dict) -> dict:
    """Set every control of the planner to defaults + config, as a reader would (select, type, tick); return
    the full options. Order: controls that show others first (GPU type, ZeRO stage, engine)."""
    o = {**limits.defaults(PLANNER.LIMITS), **config}
    sizes = PLANNER.initial_state()["gpu_sizes"]
    field = lambda k: fig.locator(f'.pl-options [name="{k}"]')
    field("gpu_type").select_option(str(o["gpu_gb"]) if o["gpu_gb"] in sizes else "custom")
    if o["gpu_gb"] not in sizes:
        field("gpu_gb").fill(str(o["gpu_gb"]))
    for k in ("model", "precision", "reward", "lora_rank", "zero_stage"):
        field(k).select_option(str(o[k]))
    for k in ("n_gpus", "group_size", "prompts_per_step", "prompt_len", "completion_len", "micro_batch", "beta"):
        field(k).fill(str(o[k]))
    for k in ("grad_checkpointing", "offload_optimizer") + (("offload_params",) if o["zero_stage"] == 3 else ()):
        field(k).set_checked(o[k])
    field("engine").select_option("vllm_server")
    field("vllm_util").fill(str(o["vllm_util"]))
    field("vllm_tp").select_option(str(o["vllm_tp"]))
    field("vllm_gpus").fill(str(o["vllm_gpus"]))
    field("engine").select_option("vllm_colocate")
    field("engine_sleeps").set_checked(o["engine_sleeps"])
    field("engine").select_option(o["engine"])
    return o


def wait_planner(page, fig, expected: dict, timeout_s: float = 30.0) -> None:
    """Poll until the figure shows the peaks of `expected` (a plan_result), to 1e-12 relative: Python 3.12's
    sum() of floats is compensated (3.11's is not), so the last bit may differ."""
    want = [expected["grpo"]["peak"], expected["ppo"]["peak"]]
    def shown():
        return [float(fig.get_attribute(f"data-{alg}-peak")) for alg in ("grpo", "ppo")]
    poll(page, lambda _: shown() == pytest.approx(want, rel=1e-12, abs=0), timeout_ms=timeout_s * 1000, interval_ms=50,
         message=lambda: f"peaks {want} (shown {shown()}; note: {fig.locator('.demo-note').inner_text()!r})")


@pytest.mark.parametrize("config", PLANNER_CONFIGS, ids=["1x24GB-hf", "8x100GB-server-lora", "2x141GB-colocate-fp16"])
def test_planner_numbers_are_cpythons(live, config):
    page = live.page
    fig = page.locator('figure[data-demo="gpu-memory"]')
    fig.get_by_role("tab", name="Demo").click()
    options = set_planner(fig, config)
    expected = PLANNER.plan_result(limits.check(PLANNER.LIMITS, options))
    wait_planner(page, fig, expected)
    for alg in ("grpo", "ppo"):
        box = fig.locator(f'.pl-verdict[data-alg="{alg}"]')
        assert box.locator(".pl-head").inner_text() == expected[alg]["headline"]
        assert box.locator(".pl-text").inner_text() == expected[alg]["text"]
        change = box.locator(".pl-change")
        assert change.is_visible() == bool(expected[alg]["change_text"])
        if expected[alg]["change_text"]:
            assert change.inner_text() == expected[alg]["change_text"]
    for key, code in expected["code"].items():
        assert fig.locator(f'.pl-code[data-code="{key}"]').text_content() == code
    if options["n_gpus"] == 1:
        assert "on 1 GPU of" in expected["grpo"]["text"]
    poll(page, lambda p: "demo-gpu-memory=" in p.url)


LLAMA_2_7B_CONFIG_JSON = {   # meta-llama/Llama-2-7b-hf config.json (the fields that matter, plus some that do not)
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008,
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32, "vocab_size": 32000,
    "tie_word_embeddings": False, "rms_norm_eps": 1e-05, "torch_dtype": "float16",
}


def test_planner_takes_a_pasted_config_json_and_keeps_it_in_the_link(live):
    """A reader's own model: pasting Llama-2-7B's config.json gives the preset's numbers (CPython's), the link
    carries the model, and a broken paste says so in the figure and changes nothing."""
    import json as _json
    page = live.page
    fig = page.locator('figure[data-demo="gpu-memory"]')
    fig.get_by_role("tab", name="Demo").click()
    options = set_planner(fig, {"model": "Llama-2-7B", "n_gpus": 2})
    wait_planner(page, fig, PLANNER.plan_result(limits.check(PLANNER.LIMITS, options)))
    preset_peaks = [fig.get_attribute(f"data-{a}-peak") for a in ("grpo", "ppo")]
    fig.locator('.pl-options [name="model"]').select_option("custom")
    paste = fig.locator('[name="config_json"]')
    assert paste.is_visible()
    paste.fill("{not json")
    assert "could not be read" in fig.locator(".demo-note").inner_text()
    paste.fill(_json.dumps(LLAMA_2_7B_CONFIG_JSON))
    custom = {k: LLAMA_2_7B_CONFIG_JSON[k] for k in ("num_hidden_layers", "hidden_size", "num_attention_heads",
                                                    "num_key_value_heads", "intermediate_size", "vocab_size",
                                                    "tie_word_embeddings")}
    expected = PLANNER.plan_result(limits.check(PLANNER.LIMITS, {**options, "model": {**custom, "qkv_bias": False}}))
    wait_planner(page, fig, expected)
    assert [fig.get_attribute(f"data-{a}-peak") for a in ("grpo", "ppo")] == preset_peaks
    # the link is written at most every 150 ms (hash-state.js): wait for it rather than read it at once
    poll(page, lambda p: "model:custom" in p.url and "cm:32,4096,32,32,11008,32000,0,0" in p.url)
    # a model whose numbers disagree: Python's message shows in the figure
    fig.locator('[data-model-field="num_key_value_heads"]').fill("5")
    fig.locator(".demo-error").wait_for(state="visible", timeout=15000)
    assert "num_key_value_heads" in fig.locator(".demo-error").inner_text()
    fig.locator('[data-model-field="num_key_value_heads"]').fill("32")
    fig.locator(".demo-error").wait_for(state="hidden", timeout=15000)
    fig.locator('.pl-options [name="model"]').select_option("Qwen2.5-7B")
    assert not fig.locator(".pl-model-custom").is_visible()


def test_wheel_over_a_focused_number_field_does_not_change_it(live):
    page = live.page
    fig = page.locator('figure[data-demo="gpu-memory"]')
    fig.get_by_role("tab", name="Demo").click()
    for name in ("n_gpus", "completion_len"):
        f = fig.locator(f'.pl-options [name="{name}"]')
        f.scroll_into_view_if_needed()
        before = f.input_value()
        f.focus()
        box = f.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for _ in range(3):
            page.mouse.wheel(0, -120)
        page.wait_for_timeout(200)
        assert f.input_value() == before
        assert not f.evaluate("(e) => e === document.activeElement")   # the wheel blurred it: the page scrolls


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


def test_dynamics_clicks_during_a_step_are_neither_lost_nor_mixed_up(live):
    """Clicks that come while Python computes a step (one task, so surely before its answer): two Step clicks
    are both taken; a Reset after a Step click wins over that step's answer."""
    page = live.page
    fig = page.locator('figure[data-demo="policy-dynamics"]')
    pd = registry.load("policy-dynamics")
    ref = policy_dynamics.run(pd.make_config(limits.defaults(pd.LIMITS)), 3)
    def settled_at(step):
        poll(page, lambda _: fig.get_attribute("data-step") == str(step), timeout_ms=60_000, interval_ms=50,
             message=lambda: f"step {step} (at {fig.get_attribute('data-step')})")
    fig.locator(".pd-reset").click()
    settled_at(0)
    fig.evaluate("(f) => { for (const i of [1, 2, 3]) f.querySelector('.pd-step').click(); }")
    settled_at(3)
    np.testing.assert_allclose(json.loads(fig.get_attribute("data-probs")), ref["probs"][-1], rtol=0, atol=1e-9)
    fig.evaluate("(f) => { f.querySelector('.pd-step').click(); f.querySelector('.pd-reset').click(); }")
    settled_at(0)
    np.testing.assert_allclose(json.loads(fig.get_attribute("data-probs")), ref["probs"][0], rtol=0, atol=1e-9)
    assert not live.console, live.console


def test_a_diverging_run_stops_with_a_note_not_an_error(live):
    """lr 2 with mu 8 (inside the limits) overflows after some steps: playing stops on the last finite step with a
    note saying why; no error box, no console message; the defaults run again after."""
    page = live.page
    fig = page.locator('figure[data-demo="policy-dynamics"]')
    def set_knobs(values):
        for name, value in values.items():
            fig.locator(f'.pd-controls [name="{name}"]').fill(str(value))
            fig.locator(f'.pd-controls [name="{name}"]').dispatch_event("change")
    set_knobs({"mu": 8, "lr": 2})
    poll(page, lambda _: fig.get_attribute("data-step") == "0", timeout_ms=60_000, message="a fresh run")
    fig.locator(".pd-speed").select_option("60")
    fig.locator(".pd-play").click()
    note = fig.locator(".demo-note")
    poll(page, lambda _: note.is_visible() and "diverged" in note.inner_text(), timeout_ms=60_000,
         message=lambda: f"the divergence note (step {fig.get_attribute('data-step')})")
    assert re.search(r"Stopped: the run diverged at step (\d+) .*lower the learning rate or \u03bc", note.inner_text())
    assert fig.locator(".pd-play").get_attribute("aria-pressed") == "false"
    assert fig.locator(".demo-error").is_hidden()
    assert all(np.isfinite(json.loads(fig.get_attribute("data-probs"))))
    pd = registry.load("policy-dynamics")
    set_knobs({"mu": pd.LIMITS["mu"]["default"], "lr": pd.LIMITS["lr"]["default"]})
    poll(page, lambda _: fig.get_attribute("data-step") == "0" and note.is_hidden(), timeout_ms=60_000, message="defaults again")
    assert not live.console, live.console


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
    # what went wrong first, then where, in the files as the Python tab names them
    text = error.inner_text()
    assert text.startswith("Python raised an error:\nRuntimeError: reader broke it"), text
    assert re.search(r'where \(innermost last\):\n\s*File "demos/[\w/-]+\.py", line \d+', text), text
    assert "/home/pyodide" not in text and "^^^" not in text
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
    options = set_planner(fig, {"model": "Llama-2-13B"})
    wait_planner(page, fig, PLANNER.plan_result(limits.check(PLANNER.LIMITS, options)))


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


NO_OBSERVER = "delete window.IntersectionObserver;"   # no figure ever "comes into view" by itself


def all_mounted(page) -> bool:
    return page.locator("figure.demo[data-demo].js").count() == 4


def assert_runtime_start(w, started: bool) -> None:
    """With NO_OBSERVER: the page goes live after exactly one runtime start, or (started False) nothing starts the
    runtime and every figure stays static. No console message either way."""
    poll(w.page, all_mounted, timeout_ms=60_000, message="every figure mounted")
    if started:
        wait_live(w.page)
        assert w.page.evaluate("() => performance.getEntriesByName('demo-runtime-start').length") == 1
    else:
        w.page.wait_for_timeout(500)    # (what must not happen: a start has no trigger here but a bug)
        assert w.page.evaluate("() => performance.getEntriesByName('demo-runtime-start').length") == 0
        assert set(demo_states(w.page).values()) == {"static"}
    assert w.console == []


@pytest.mark.parametrize("fragment, starts", [("#demo-tiny-gpt", True), ("#demo-policy-dynamics=G:4", True),
                                              ("#references", False), ("", False)])
def test_a_link_to_a_demo_starts_python_without_waiting_for_the_figure(browser, served_site, fragment, starts):
    """Opened at a demo (#demo-NAME[=setup]), the page starts the runtime at once, not when a figure comes into view;
    any other page load waits for the reader (here: never, as nothing can come into view)."""
    w = watch(browser, served_site.url)
    try:
        w.context.add_init_script(NO_OBSERVER)
        open_chapter(w, served_site, fragment)
        assert_runtime_start(w, starts)
    finally:
        w.close()


@pytest.mark.parametrize("fragment, early", [("#demo-group-advantage", True), ("", False)])
def test_a_demo_link_starts_the_worker_before_the_page_modules_load(browser, served_site, fragment, early):
    """start.js, a classic script in <head>, starts the worker for a reader who came for a demo by itself, before the
    page's modules (which load as a graph, later) have run: with demos.js withheld, the worker still boots (what it
    says waits for the page's Runtime) and fetches the runtime. A plain visit starts nothing there."""
    w = watch(browser, served_site.url)
    try:
        w.context.route("**/assets/demos/demos.js*", lambda r: r.abort("blockedbyclient"))
        w.page.goto(served_site.url + chapters_with_demos(served_site.root)[0] + fragment)
        poll(w.page, "() => window.demoStart !== undefined", timeout_ms=30_000)
        if early:
            poll(w.page, "() => window.demoStart.early.messages.some((m) => m.type === 'stage' && m.stage === 'numpy')",
                 timeout_ms=120_000, message="the early worker's numpy stage")
            assert any(u.endswith("pyodide.asm.wasm") for u in w.requests)
        else:
            w.page.wait_for_timeout(1000)      # (what must not happen: nothing here starts a worker)
            assert w.page.evaluate("() => [window.demoStart.startNow, window.demoStart.early]") == [False, None]
            assert not any("pyodide" in u for u in w.requests)
        assert w.page.evaluate("() => document.querySelectorAll('figure.demo.js').length") == 0   # not mounted
    finally:
        w.close()


@pytest.mark.parametrize("in_view", [True, False])
def test_a_reload_with_a_demo_in_view_starts_python_at_once(browser, served_site, in_view):
    """A reload (or a return through the history) of a page left with a demo near the viewport starts the runtime
    at once, as a demo link does: the browser restores the scroll position only once the page is laid out. Left
    at the top, the reloaded page waits for the reader (here: never, as nothing can come into view)."""
    w = watch(browser, served_site.url)
    try:
        w.context.add_init_script(NO_OBSERVER)
        open_chapter(w, served_site)
        assert_runtime_start(w, False)
        if in_view:
            w.page.locator('figure[data-demo="group-advantage"]').scroll_into_view_if_needed()
        w.page.reload()
        assert_runtime_start(w, in_view)
    finally:
        w.close()


def test_bad_hash_gives_defaults_and_a_note(browser, served_site):
    w = watch(browser, served_site.url)
    try:
        w.context.route("**/pyodide/**", lambda r: r.abort("blockedbyclient"))
        open_chapter(w, served_site, "#demo-group-advantage=r:1,2,banana&demo-gpu-memory=model:GPT-9&demo-policy-dynamics=G:1000")
        for name in ("group-advantage", "gpu-memory", "policy-dynamics"):
            note = w.page.locator(f'figure[data-demo="{name}"] .demo-note')
            assert note.is_visible() and "showing the defaults" in note.inner_text()
        values = w.page.evaluate("""() => [...document.querySelectorAll('figure[data-demo="group-advantage"] .ga-slider')].map((s) => Number(s.value))""")
        assert values == registry.load("group-advantage").initial_state()["rewards"]
        mem = w.page.locator('figure[data-demo="gpu-memory"]')
        assert mem.locator('[name="model"]').input_value() == PLANNER.LIMITS["model"]["default"]
        assert mem.locator('[name="n_gpus"]').input_value() == str(PLANNER.LIMITS["n_gpus"]["default"])
        assert w.page.locator('figure[data-demo="policy-dynamics"] [name="G"]').input_value() == "8"
        assert w.console == []
    finally:
        w.close()


def test_good_hash_restores_a_shared_configuration(browser, served_site):
    w = watch(browser, served_site.url)
    try:
        w.context.route("**/pyodide/**", lambda r: r.abort("blockedbyclient"))
        open_chapter(w, served_site, "#demo-group-advantage=g:strong;r:1,1,0.7,0.9,1,1,0.9,1;n:0;d:1;b:mean"
                                     "&demo-gpu-memory=model:Llama-2-13B;gpu_gb:100;n_gpus:1;engine:hf;offload_optimizer:1")
        fig = w.page.locator('figure[data-demo="group-advantage"]')
        assert fig.locator(".ga-slider").nth(3).input_value() == "0.9"
        assert fig.locator('[data-group="strong"]').get_attribute("aria-pressed") == "true"
        assert fig.locator('input[value="off"]').is_checked()
        assert not fig.locator(".demo-note").is_visible()
        mem = w.page.locator('figure[data-demo="gpu-memory"]')
        assert mem.locator('[name="model"]').input_value() == "Llama-2-13B"
        assert mem.locator('[name="gpu_type"]').input_value() == "custom"
        assert mem.locator('[name="gpu_gb"]').input_value() == "100" and mem.locator('[name="gpu_gb"]').is_visible()
        assert mem.locator('[name="n_gpus"]').input_value() == "1"
        assert mem.locator('[name="offload_optimizer"]').is_checked()
        assert not mem.locator('[name="vllm_util"]').is_visible()          # HF generate: no vLLM options
        assert not mem.locator(".demo-note").is_visible()
    finally:
        w.close()
