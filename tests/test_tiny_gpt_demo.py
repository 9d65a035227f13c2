"""The tiny-gpt demo's Python API (demos/tiny-gpt/demo.py) under CPython, and its view's render() in Node."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from demos import registry
from demos import tinygpt as g

ROOT = Path(__file__).resolve().parents[1]
demo = registry.load("tiny-gpt")


def call(fn, payload):
    return json.loads(getattr(demo, fn)(json.dumps(payload)))


def run_of(config=None, compare="none", steps=4):
    started = call("start", {"config": config or {}, "compare": compare})
    out = [call("step", {"run": r["run"], "steps": steps}) for r in started["runs"]]
    return started, out


def test_start_then_step_advances_and_reports_the_group():
    started, (res,) = run_of(steps=3)
    assert started["ref_accuracy"] == pytest.approx(g.greedy_accuracy(g.load_reference(), g.split_pairs()[1]))
    assert [r["step"] for r in res["records"]] == [1, 2, 3] and res["step"] == 3
    assert set(res["records"][0]) == {"step", *g.LOG_KEYS}
    grp = res["group"]
    assert len(grp["rows"]) == demo.LIMITS["G"]["default"]
    a, b = (int(x) for x in grp["prompt"][:-1].split("+"))
    assert grp["answer"] == str(a + b)
    for row in grp["rows"]:
        assert row["reward"] == float("".join(row["tokens"]) == grp["answer"] + "$")
        np.testing.assert_allclose(row["share"], np.array(row["ratio"]) * row["advantage"])
    rewards = [r["reward"] for r in grp["rows"]]
    if len(set(rewards)) == 1:
        assert all(r["advantage"] == 0 for r in grp["rows"])
    more = call("step", {"run": res["run"], "steps": 7})
    assert more["step"] == 10 and more["accuracy"][0][0] == 10


def test_same_seed_same_run_and_a_fresh_start_forgets_old_runs():
    _, (a,) = run_of(steps=3)
    _, (b,) = run_of(steps=3)
    assert a["records"] == b["records"]
    with pytest.raises(ValueError, match="unknown run 'r7'"):
        call("step", {"run": "r7"})


@pytest.mark.parametrize("knob, value, base", [
    ("G", 4, {}), ("beta", 0.5, {}), ("lr", 0.003, {}), ("mu", 2, {}), ("loss_type", "dr_grpo", {}),
    ("std_scale", False, {}), ("temperature", 0.5, {}), ("seed", 3, {}),
    # with mu = 1 every ratio is exactly 1 and the clip never fires: the clip range matters from mu = 2 on
    ("eps_low", 0.05, {"mu": 2}), ("eps_high", 0.05, {"mu": 2})])
def test_every_control_changes_the_run(knob, value, base):
    _, (ref,) = run_of(base, steps=5)
    _, (other,) = run_of({**base, knob: value}, steps=5)
    assert ref["records"] != other["records"]


def test_with_mu_1_nothing_is_clipped():
    _, (res,) = run_of({"eps_low": 0.01, "eps_high": 0.01}, steps=5)
    assert all(r["clip_frac"] == 0 for r in res["records"])
    _, (res,) = run_of({"eps_low": 0.01, "eps_high": 0.01, "mu": 2}, steps=5)
    assert any(r["clip_frac"] > 0 for r in res["records"])


def test_compare_runs_a_second_configuration_from_the_same_seed():
    started, (a, b) = run_of(compare="dr_grpo", steps=3)
    assert [r["config"]["loss_type"] for r in started["runs"]] == ["grpo", "dr_grpo"]
    assert started["runs"][1]["config"]["std_scale"] is False
    assert a["records"][0]["reward_mean"] == b["records"][0]["reward_mean"]   # same seed: same first batch
    assert a["records"] != b["records"]


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match="G must be between 2 and 32"):
        call("start", {"config": {"G": 1}})
    with pytest.raises(ValueError, match="loss_type must be one of"):
        call("start", {"config": {"loss_type": "ppo"}})
    with pytest.raises(ValueError, match="compare must be one of"):
        call("start", {"compare": "everything"})
    started = call("start", {})
    with pytest.raises(ValueError, match="steps must be between 1 and 50"):
        call("step", {"run": started["runs"][0]["run"], "steps": 500})


def test_pass_and_maj_at_k():
    started = call("start", {})
    res = call("evaluate", {"run": started["runs"][0]["run"]})
    for side in ("reference", "policy"):
        p, m = np.array(res[side]["pass"]), np.array(res[side]["maj"])
        assert res[side]["k"] == list(range(1, 17))
        assert np.all(np.diff(p) >= -1e-12) and p[-1] <= 1
        assert m[0] == pytest.approx(p[0])      # one sample: majority = that sample = pass@1
    assert res["policy"] == res["reference"]    # step 0: the policy is the reference, same seeded draws


def test_majority_vote_ties_go_to_the_first_seen():
    assert demo.majority_correct(["52$", "62$", "62$"], [0, 1, 1])
    assert not demo.majority_correct(["52$", "62$"], [0, 1])
    assert not demo.majority_correct(["52$", "62$", "52$", "71$"], [0, 1, 0, 0])


def test_pass_at_k_estimator_on_known_cases():
    """n = 4 samples, c correct: pass@k = 1 - C(n-c, k) / C(n, k)."""
    assert demo.pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert demo.pass_at_k(4, 0, 4) == 0.0 and demo.pass_at_k(4, 4, 1) == 1.0
    assert demo.pass_at_k(16, 3, 1) == pytest.approx(3 / 16)


def test_initial_state_is_step_zero_of_the_default_run():
    s = demo.initial_state()
    started = call("start", {})
    assert s["ref_accuracy"] == started["ref_accuracy"]
    assert s["runs"] == [{"records": [], "accuracy": [[0, started["ref_accuracy"]]]}]
    assert s["config"] == started["runs"][0]["config"]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_render_is_pure_and_draws_every_part(tmp_path):
    """render(state) in Node: deterministic, five curve panels, the group's tokens with share classes."""
    _, (res,) = run_of(steps=10)
    state = {"runs": [{"records": res["records"], "accuracy": [[0, 0.5]] + res["accuracy"]}], "compare": "none",
             "group": res["group"], "passk": None}
    for f in ("svg.js", "shell.js", "runtime.js", "hash-state.js"):
        shutil.copy(ROOT / "templates" / "assets" / "demos" / f, tmp_path / f)
    shutil.copy(ROOT / "demos" / "tiny-gpt" / "view.mjs", tmp_path / "tiny-gpt.mjs")
    (tmp_path / "state.json").write_text(json.dumps(state))
    script = ("import { render } from './tiny-gpt.mjs'; import fs from 'fs';"
              "const s = JSON.parse(fs.readFileSync('state.json')); const a = render(s), b = render(s);"
              "console.log(JSON.stringify({same: a === b, html: a}));")
    (tmp_path / "run.mjs").write_text(script)
    out = json.loads(subprocess.run(["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout)
    html = out["html"]
    assert out["same"]
    assert html.count('class="tg-panel') == 5
    assert html.count("<li class=\"tg-right") + html.count("<li class=\"tg-wrong") == len(res["group"]["rows"])
    n_tokens = sum(len(r["tokens"]) for r in res["group"]["rows"])
    assert html.count('class="tg-tok') == n_tokens
    assert html.count("tg-clipped") == sum(sum(r["clipped"]) for r in res["group"]["rows"])
