"""The demos' JSON API (each demos/<name>/demo.py, loaded by demos.registry) and their build-time side, under CPython.

The browser's worker calls the same functions, so what is checked here is what readers get; the browser
tests (test_demos_browser.py) check that the page shows exactly these numbers."""
from __future__ import annotations

import json
import math
import re
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demos import grpo_core, limits, memory, policy_dynamics, registry

GA = registry.load("group-advantage")
MEM = registry.load("gpu-memory")
PD = registry.load("policy-dynamics")

rewards_lists = st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=16)


def call(fn, payload) -> dict:
    return json.loads(fn(json.dumps(payload)))


# --------------------------------------------------------------------------- group-advantage advantages


@settings(max_examples=60, deadline=None)
@given(rewards_lists, st.booleans(), st.sampled_from([0, 1]), st.sampled_from(["mean", "leave_one_out"]))
def test_advantages_json_is_the_core_function(rewards, normalise, ddof, baseline):
    out = call(GA.advantages, {"rewards": rewards, "normalise": normalise, "ddof": ddof, "baseline": baseline})
    expected = grpo_core.group_advantages(np.array([rewards]), scale="group" if normalise else "none",
                                          baseline=baseline, ddof=ddof)[0]
    assert out["advantages"] == expected.tolist()          # bit-identical through JSON
    assert out["mean"] == pytest.approx(np.mean(rewards))
    assert out["std"] == pytest.approx(np.std(rewards, ddof=ddof), abs=1e-12)
    assert abs(out["sum"]) < 1e-9 * max(1.0, max(map(abs, out["advantages"])) * len(rewards))
    assert out["all_equal"] == (len(set(rewards)) == 1)


def test_worked_example_sample_vs_population_std():
    # grpo-math reference: [1, 0, 0, 0] -> [1.5, -0.5, ...] (sample std), [1.732, -0.577, ...] (population)
    sample = call(GA.advantages, {"rewards": [1, 0, 0, 0], "ddof": 1})["advantages"]
    population = call(GA.advantages, {"rewards": [1, 0, 0, 0], "ddof": 0})["advantages"]
    assert sample == pytest.approx([1.5, -0.5, -0.5, -0.5], abs=1e-3)
    assert population == pytest.approx([math.sqrt(3), -1 / math.sqrt(3), -1 / math.sqrt(3), -1 / math.sqrt(3)], abs=1e-3)


def test_all_equal_rewards_give_zero_advantages():
    out = call(GA.advantages, {"rewards": [0.7] * 8})
    assert out["advantages"] == [0.0] * 8 and out["all_equal"] and out["std"] == 0.0


@pytest.mark.parametrize("payload, message", [
    ({"rewards": [1, "x"]}, r"rewards\[2\]"),
    ({"rewards": [1]}, "list of 2"),
    ({"rewards": [1, 1.5]}, r"rewards\[2\] must be between 0 and 1"),
    ({}, "rewards must be a list"),
    ({"rewards": [1, 0], "ddof": 2}, "ddof"),
    ({"rewards": [1, 0], "baseline": "median"}, "baseline"),
    ({"rewards": [1, 0], "normalise": "yes"}, "normalise"),
    ({"rewards": [1, 0, True]}, r"rewards\[3\]"),
])
def test_advantages_json_rejects_bad_input_clearly(payload, message):
    with pytest.raises(ValueError, match=message):
        GA.advantages(json.dumps(payload))


@pytest.mark.parametrize("text", ["", "[1, 0]", "{", "null"])
def test_payload_must_be_a_json_object(text):
    with pytest.raises(ValueError, match="JSON"):
        GA.advantages(text)


def test_nan_reward_is_rejected():
    with pytest.raises(ValueError, match="finite"):
        GA.advantages('{"rewards": [NaN, 0]}')


# --------------------------------------------------------------------------- gpu-memory breakdown


@pytest.mark.parametrize("model", ["Llama-2-7B", "Llama-2-13B", "Llama-2-70B"])
def test_memory_json_totals_are_the_breakdown(model):
    out = call(MEM.breakdown, {"model": model, "n_gpus": 16, "reward": "verifier", "zero_stage": 2})
    opts = {k: v for k, v in limits.defaults(MEM.LIMITS).items() if k not in ("model", "ppo_rollout")}
    opts.update(n_gpus=16, reward="verifier", zero_stage=2)
    opts["ppo_samples_per_prompt"] = opts["group_size"]   # default: PPO generates as many completions as GRPO
    for alg in ("ppo", "grpo"):
        parts = memory.breakdown(model, algorithm=alg, **opts)
        assert out[alg]["breakdown"] == parts
        assert out[alg]["total"] == memory.total(parts)
        assert out[alg]["gpus_needed_80gb"] == memory.gpus_needed_80gb(model, algorithm=alg, **opts)
    assert out["grpo"]["breakdown"]["critic"] == 0 < out["ppo"]["breakdown"]["critic"]


@pytest.mark.parametrize("payload, message", [
    ({"model": "GPT-5"}, "model"),
    ({"n_gpus": 0}, "n_gpus"),
    ({"zero_stage": 4}, "zero_stage"),
    ({"lora_rank": 7}, "lora_rank"),
    ({"group_size": 2.5}, "whole number"),
    ({"bogus": 1}, "unknown option bogus"),
])
def test_memory_json_rejects_bad_options(payload, message):
    with pytest.raises(ValueError, match=message):
        MEM.breakdown(json.dumps(payload))


# --------------------------------------------------------------------------- policy-dynamics run


def test_dynamics_in_chunks_through_json_equals_one_run():
    cfg = {"G": 6, "beta": 0.1, "eps": 0.15, "lr": 0.7, "mu": 3, "seed": 11}
    state, probs = None, None
    for chunk in (1, 4, 15):   # state goes through JSON text each time, as between worker and page
        out = call(PD.run, {"config": cfg, "state": state, "steps": chunk})
        state, probs = out["state"], out["probs"]
    ref = policy_dynamics.run(policy_dynamics.make_config(G=6, beta=0.1, eps_low=0.15, lr=0.7, mu=3, seed=11), 20)
    assert state["step"] == 20
    assert probs == pytest.approx(ref["probs"][-1], abs=1e-12)
    assert out["records"][-1]["probs"] == ref["records"][-1]["probs"]


def test_dynamics_steps_zero_is_the_initial_policy():
    out = call(PD.run, {"config": {}, "state": None, "steps": 0})
    p0 = np.exp(policy_dynamics.log_softmax(policy_dynamics.DEFAULT_CONFIG["init_logits"]))
    assert out["records"] == [] and out["probs"] == pytest.approx(p0.tolist())


@pytest.mark.parametrize("cfg, message", [({"G": 1}, "G"), ({"eps": 0}, "eps"), ({"mu": 9}, "mu"),
                                          ({"seed": -1}, "seed"), ({"temperature": 1}, "unknown")])
def test_dynamics_rejects_bad_knobs(cfg, message):
    with pytest.raises(ValueError, match=message):
        PD.run(json.dumps({"config": cfg, "state": None, "steps": 1}))


# --------------------------------------------------------------------------- initial states (the first frames)


def test_group_presets_show_the_relative_discovery():
    """The same 0.7 completion is positive in a weak group and negative in a strong one."""
    state = GA.initial_state()
    shared = [i for i, r in enumerate(state["groups"]["weak"]["rewards"]) if r == 0.7]
    assert shared, "the weak group has no 0.7 completion"
    i = shared[0]
    assert state["groups"]["strong"]["rewards"][i] == 0.7
    assert state["groups"]["weak"]["completions"][i] == state["groups"]["strong"]["completions"][i]
    adv = {k: call(GA.advantages, {"rewards": state["groups"][k]["rewards"]})["advantages"][i] for k in ("weak", "strong")}
    assert adv["weak"] > 0 > adv["strong"]
    assert all(len(g["completions"]) == len(g["rewards"]) == 8 for g in state["groups"].values())


@pytest.mark.parametrize("name", registry.names())
def test_describe_gives_json_state_with_limits_and_code_lines(name):
    d = registry.describe(name)
    assert json.loads(json.dumps(d["state"])) == d["state"]
    assert d["state"]["limits"] is registry.load(name).LIMITS
    for path, function, line in d["code"]:
        lines = (registry.PROJECT_DIR / path).read_text().splitlines()
        assert function is None or lines[line - 1].lstrip().startswith((f"def {function}(", f"class {function}"))


@pytest.mark.parametrize("name", registry.names())
def test_limits_defaults_are_within_their_limits(name):
    lim = registry.load(name).LIMITS
    for key, spec in lim.items():
        if spec["default"] is not None:
            assert limits.check_value(key, spec["default"], spec) == spec["default"]


def test_initial_numbers_come_from_the_api():
    ga = GA.initial_state()
    assert ga["result"] == call(GA.advantages, dict(ga["options"], rewards=ga["rewards"]))
    mem = MEM.initial_state()
    assert mem["result"] == call(MEM.breakdown, mem["options"])
    dyn = PD.initial_state()
    start = call(PD.run, {"config": dyn["config"], "state": None, "steps": 0})
    assert dyn["probs"] == start["probs"] and dyn["history"] == [start["probs"][0]]


def test_demo_python_imports_only_numpy_stdlib_and_demos():
    for name in registry.names():
        text = (registry.DEMOS_DIR / name / "demo.py").read_text()
        imports = re.findall(r"^\s*(?:import|from)\s+([\w.]+)", text, re.M)
        assert {i.split(".")[0] for i in imports} <= {"__future__", "json", "math", "numpy", "demos"}, name


def test_unknown_demo_or_function_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown demo 'group-advantages'"):
        registry.load("group-advantages")
    with pytest.raises(ValueError, match="not a demo name"):
        registry.load("../etc")
    with pytest.raises(ValueError, match="has no function '_parse'"):
        registry.call("group-advantage", "_parse", "{}")
    with pytest.raises(ValueError, match="has no function 'nothing'"):
        registry.call("group-advantage", "nothing", "{}")


def test_registry_reports_a_broken_demo_as_data(tmp_path, monkeypatch, capsys):
    """describe's command line returns per-demo errors with file and line; the other demos still describe."""
    monkeypatch.setattr(registry, "PROJECT_DIR", tmp_path)
    monkeypatch.setattr(registry, "DEMOS_DIR", tmp_path / "demos")
    for name, body in (("zz-good", "return {'x': 1}"), ("zz-broken", "return 1 / 0")):
        (tmp_path / "demos" / name).mkdir(parents=True)
        (tmp_path / "demos" / name / "demo.py").write_text(f"LIMITS = {{}}\nCODE = []\n\ndef initial_state():\n    {body}\n")
    try:
        assert registry.main(["describe", "zz-broken", "zz-good"]) == 0
        data = json.loads(capsys.readouterr().out)
    finally:
        for name in ("zz-good", "zz-broken"):
            sys.modules.pop(registry.module_name(name), None)
    assert data["zz-good"] == {"ok": True, "state": {"x": 1, "limits": {}}, "code": [], "data": []}
    assert data["zz-broken"] == {"ok": False, "error": {"file": "demos/zz-broken/demo.py", "line": 5,
                                                        "message": "ZeroDivisionError: division by zero"}}


def test_memory_ppo_rollout_one_per_prompt_shrinks_only_ppos_kv_cache():
    same = call(MEM.breakdown, {"model": "Llama-2-7B"})
    fewer = call(MEM.breakdown, {"model": "Llama-2-7B", "ppo_rollout": "prompts"})
    G = MEM.LIMITS["group_size"]["default"]
    assert same["ppo"]["breakdown"]["kv_cache"] == same["grpo"]["breakdown"]["kv_cache"]
    assert fewer["ppo"]["breakdown"]["kv_cache"] == pytest.approx(same["ppo"]["breakdown"]["kv_cache"] / G)
    assert fewer["grpo"] == same["grpo"]
    assert same["ratio"] < 1 < fewer["ratio"]          # Llama-2-7B has no GQA: its KV cache is large
    with pytest.raises(ValueError, match="ppo_rollout"):
        MEM.breakdown('{"ppo_rollout": "both"}')
