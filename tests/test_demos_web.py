"""The demos' JSON API (demos/web.py) and build-time side (demos/figures.py), under CPython.

The browser's worker calls the same functions, so what is checked here is what readers get; the browser
tests (test_demos_browser.py) check that the page shows exactly these numbers."""
from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demos import figures, grpo_core, memory, policy_dynamics, web

rewards_lists = st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=16)


def call(fn, payload) -> dict:
    return json.loads(fn(json.dumps(payload)))


# --------------------------------------------------------------------------- advantages_json


@settings(max_examples=60, deadline=None)
@given(rewards_lists, st.booleans(), st.sampled_from([0, 1]), st.sampled_from(["mean", "leave_one_out"]))
def test_advantages_json_is_the_core_function(rewards, normalise, ddof, baseline):
    out = call(web.advantages_json, {"rewards": rewards, "normalise": normalise, "ddof": ddof, "baseline": baseline})
    expected = grpo_core.group_advantages(np.array([rewards]), scale="group" if normalise else "none",
                                          baseline=baseline, ddof=ddof)[0]
    assert out["advantages"] == expected.tolist()          # bit-identical through JSON
    assert out["mean"] == pytest.approx(np.mean(rewards))
    assert out["std"] == pytest.approx(np.std(rewards, ddof=ddof), abs=1e-12)
    assert abs(out["sum"]) < 1e-9 * max(1.0, max(map(abs, out["advantages"])) * len(rewards))
    assert out["all_equal"] == (len(set(rewards)) == 1)


def test_worked_example_sample_vs_population_std():
    # grpo-math reference: [1, 0, 0, 0] -> [1.5, -0.5, ...] (sample std), [1.732, -0.577, ...] (population)
    sample = call(web.advantages_json, {"rewards": [1, 0, 0, 0], "ddof": 1})["advantages"]
    population = call(web.advantages_json, {"rewards": [1, 0, 0, 0], "ddof": 0})["advantages"]
    assert sample == pytest.approx([1.5, -0.5, -0.5, -0.5], abs=1e-3)
    assert population == pytest.approx([math.sqrt(3), -1 / math.sqrt(3), -1 / math.sqrt(3), -1 / math.sqrt(3)], abs=1e-3)


def test_all_equal_rewards_give_zero_advantages():
    out = call(web.advantages_json, {"rewards": [0.7] * 8})
    assert out["advantages"] == [0.0] * 8 and out["all_equal"] and out["std"] == 0.0


@pytest.mark.parametrize("payload, message", [
    ({"rewards": [1, "x"]}, "reward 2"),
    ({"rewards": [1]}, "list of 2"),
    ({"rewards": [1, 0], "ddof": 2}, "ddof"),
    ({"rewards": [1, 0], "baseline": "median"}, "baseline"),
    ({"rewards": [1, 0], "normalise": "yes"}, "normalise"),
    ({"rewards": [1, 0, True]}, "reward 3"),
])
def test_advantages_json_rejects_bad_input_clearly(payload, message):
    with pytest.raises(ValueError, match=message):
        web.advantages_json(json.dumps(payload))


@pytest.mark.parametrize("text", ["", "[1, 0]", "{", "null"])
def test_payload_must_be_a_json_object(text):
    with pytest.raises(ValueError, match="JSON"):
        web.advantages_json(text)


def test_nan_reward_is_rejected():
    with pytest.raises(ValueError, match="finite"):
        web.advantages_json('{"rewards": [NaN, 0]}')


# --------------------------------------------------------------------------- memory_json


@pytest.mark.parametrize("model", ["Llama-2-7B", "Llama-2-13B", "Llama-2-70B"])
def test_memory_json_totals_are_the_breakdown(model):
    out = call(web.memory_json, {"model": model, "n_gpus": 16, "reward": "verifier", "zero_stage": 2})
    opts = {k: v for k, v in web.MEMORY_DEFAULTS.items() if k not in ("model", "ppo_rollout")}
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
    ({"bogus": 1}, "unknown memory options"),
])
def test_memory_json_rejects_bad_options(payload, message):
    with pytest.raises(ValueError, match=message):
        web.memory_json(json.dumps(payload))


# --------------------------------------------------------------------------- dynamics_json


def test_dynamics_in_chunks_through_json_equals_one_run():
    cfg = {"G": 6, "beta": 0.1, "eps": 0.15, "lr": 0.7, "mu": 3, "seed": 11}
    state, probs = None, None
    for chunk in (1, 4, 15):   # state goes through JSON text each time, as between worker and page
        out = call(web.dynamics_json, {"config": cfg, "state": state, "steps": chunk})
        state, probs = out["state"], out["probs"]
    ref = policy_dynamics.run(policy_dynamics.make_config(G=6, beta=0.1, eps_low=0.15, lr=0.7, mu=3, seed=11), 20)
    assert state["step"] == 20
    assert probs == pytest.approx(ref["probs"][-1], abs=1e-12)
    assert out["records"][-1]["probs"] == ref["records"][-1]["probs"]


def test_dynamics_steps_zero_is_the_initial_policy():
    out = call(web.dynamics_json, {"config": {}, "state": None, "steps": 0})
    p0 = np.exp(policy_dynamics.log_softmax(policy_dynamics.DEFAULT_CONFIG["init_logits"]))
    assert out["records"] == [] and out["probs"] == pytest.approx(p0.tolist())


@pytest.mark.parametrize("cfg, message", [({"G": 1}, "G"), ({"eps": 0}, "eps"), ({"mu": 9}, "mu"),
                                          ({"seed": -1}, "seed"), ({"temperature": 1}, "unknown")])
def test_dynamics_rejects_bad_knobs(cfg, message):
    with pytest.raises(ValueError, match=message):
        web.dynamics_json(json.dumps({"config": cfg, "state": None, "steps": 1}))


# --------------------------------------------------------------------------- figures.py


def test_group_presets_show_the_relative_discovery():
    """The brief's discovery: the same 0.7 completion is positive in a weak group, negative in a strong one."""
    state = figures.initial_state("group-advantage")
    shared = [i for i, r in enumerate(state["groups"]["weak"]["rewards"]) if r == 0.7]
    assert shared, "the weak group has no 0.7 completion"
    i = shared[0]
    assert state["groups"]["strong"]["rewards"][i] == 0.7
    assert state["groups"]["weak"]["completions"][i] == state["groups"]["strong"]["completions"][i]
    adv = {k: call(web.advantages_json, {"rewards": state["groups"][k]["rewards"]})["advantages"][i] for k in ("weak", "strong")}
    assert adv["weak"] > 0 > adv["strong"]
    assert all(len(g["completions"]) == len(g["rewards"]) == 8 for g in state["groups"].values())


@pytest.mark.parametrize("name", figures.DEMOS)
def test_initial_state_is_json_and_static_figure_is_deterministic_svg(name):
    state = figures.initial_state(name)
    assert json.loads(json.dumps(state)) == state
    svg = figures.static_figure(name)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert svg == figures.static_figure(name)     # reproducible builds: no dates, fixed ids
    assert "<dc:date>" not in svg


def test_initial_numbers_come_from_the_api():
    ga = figures.initial_state("group-advantage")
    assert ga["result"] == call(web.advantages_json, dict(ga["options"], rewards=ga["rewards"]))
    mem = figures.initial_state("memory")
    assert mem["result"] == call(web.memory_json, mem["options"])
    dyn = figures.initial_state("policy-dynamics")
    run = policy_dynamics.run(web.parse_dynamics({"config": dyn["config"]}), len(dyn["preview"]) - 1)
    np.testing.assert_allclose(dyn["preview"], run["probs"], rtol=0, atol=1e-12)


def test_code_files_exist_and_import_only_numpy_and_stdlib():
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    for name in figures.DEMOS:
        for f in figures.code_files(name):
            assert (root / f).is_file(), f
    imports = re.findall(r"^\s*(?:import|from)\s+([\w.]+)", (root / "demos/web.py").read_text(), re.M)
    assert {i.split(".")[0] for i in imports} <= {"__future__", "json", "math", "numpy", "demos"}


def test_unknown_demo_is_a_clear_error():
    for fn in (figures.initial_state, figures.static_figure, figures.code_files):
        with pytest.raises(ValueError, match="unknown demo"):
            fn("group-advantages")


def test_memory_ppo_rollout_one_per_prompt_shrinks_only_ppos_kv_cache():
    same = call(web.memory_json, {"model": "Llama-2-7B"})
    fewer = call(web.memory_json, {"model": "Llama-2-7B", "ppo_rollout": "prompts"})
    G = web.MEMORY_DEFAULTS["group_size"]
    assert same["ppo"]["breakdown"]["kv_cache"] == same["grpo"]["breakdown"]["kv_cache"]
    assert fewer["ppo"]["breakdown"]["kv_cache"] == pytest.approx(same["ppo"]["breakdown"]["kv_cache"] / G)
    assert fewer["grpo"] == same["grpo"]
    assert same["ratio"] < 1 < fewer["ratio"]          # Llama-2-7B has no GQA: its KV cache is large
    with pytest.raises(ValueError, match="ppo_rollout"):
        web.memory_json('{"ppo_rollout": "both"}')
