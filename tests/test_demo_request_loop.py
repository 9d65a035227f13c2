"""The demos' request loop (templates/assets/demos/shell.js update/flush) and the URL-hash writes
(hash-state.js) in headless Chromium against the real site with self-hosted Pyodide.

A burst of slider inputs costs a few Python calls, not one per input (the newest input wins), ends with CPython's
numbers for the last input, and writes the URL once (history.replaceState costs milliseconds and Chromium
throttles it), with the last state."""
from __future__ import annotations

import time
from urllib.parse import unquote

import numpy as np
import pytest

from demos import grpo_core
from support import chapters_with_demos, wait_live, watch

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("demos_browser")]

FIG = 'figure[data-demo="group-advantage"]'
BURST = 40


@pytest.fixture(scope="module")
def live(browser, served_site):
    w = watch(browser, served_site.url, viewport={"width": 1280, "height": 900})
    w.context.add_init_script("""
        window.__replaceState = 0;
        const original = history.replaceState.bind(history);
        history.replaceState = (...args) => { window.__replaceState++; return original(...args); };
    """)
    w.page.goto(served_site.url + chapters_with_demos(served_site.root)[0])
    wait_live(w.page)
    yield w
    w.close()


def shown(page):
    return page.evaluate(f"""() => [
        [...document.querySelectorAll('{FIG} .ga-slider')].map((s) => Number(s.value)),
        [...document.querySelectorAll('{FIG} [data-advantage]')].map((e) => Number(e.dataset.advantage)),
        Number(document.querySelector('{FIG}').dataset.renders || 0)]""")


def settle(page, timeout_s: float = 20.0):
    """Wait until the figure shows CPython's advantages for the shown rewards and no call is pending."""
    deadline = time.time() + timeout_s
    while True:
        rewards, advantages, renders = shown(page)
        if np.allclose(advantages, grpo_core.group_advantages(np.array([rewards]))[0], rtol=0, atol=1e-9):
            page.wait_for_timeout(300)
            if shown(page)[2] == renders:
                return rewards, renders
        assert time.time() < deadline, f"advantages {advantages} never matched CPython's for {rewards}"
        page.wait_for_timeout(50)


def test_a_burst_of_inputs_costs_few_calls_and_ends_on_the_newest(live):
    page = live.page
    _, renders_before = settle(page)
    writes_before = page.evaluate("window.__replaceState")
    page.evaluate(f"""(n) => {{
        const s = document.querySelectorAll('{FIG} .ga-slider')[5];
        for (let i = 0; i < n; i++) {{
            s.value = String((i % 21) / 20);
            s.dispatchEvent(new Event('input', {{ bubbles: true }}));
        }}
    }}""", BURST)
    rewards, renders_after = settle(page)
    assert rewards[5] == ((BURST - 1) % 21) / 20             # the last input's value is what Python computed
    assert renders_after - renders_before == 2               # the first input's answer, then the newest one
    assert page.evaluate("window.__replaceState") - writes_before == 1
    state = unquote(page.url.split("#demo-group-advantage=", 1)[1])
    assert f"r:{','.join(format(r, 'g') for r in rewards)};" in state   # JS prints 1, 0.35 as %g does
    assert live.console == []
