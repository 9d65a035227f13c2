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

from demos import grpo_core, limits, planner, planner_api, policy_dynamics, registry

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


# --------------------------------------------------------------------------- gpu-memory: the run planner

PLANS = [
    {},                                                                              # the defaults
    {"model": "Llama-2-70B", "n_gpus": 16, "gpu_gb": 141, "beta": 0.04, "reward": "model", "zero_stage": 3},
    {"model": "Qwen2.5-1.5B", "n_gpus": 1, "gpu_gb": 24, "engine": "hf", "micro_batch": 1, "completion_len": 1024},
    {"model": "Qwen2.5-7B", "n_gpus": 8, "engine": "vllm_server", "vllm_gpus": 2, "lora_rank": 16, "beta": 0.1},
    {"model": "Llama-2-13B", "n_gpus": 2, "gpu_gb": 48, "offload_optimizer": True, "offload_params": True,
     "grad_checkpointing": False, "engine_sleeps": True, "precision": "fp16"},
]


@pytest.mark.parametrize("payload", PLANS)
def test_planner_json_is_the_planners_verdict(payload):
    """demo.plan is planner_api.plan_result (the numbers, the texts, the code) plus the chart's stack, whose
    parts add up to the training GPUs' peak C + R + max(T + E, S) of planner.phases."""
    out = call(MEM.plan, payload)
    options = limits.check(MEM.LIMITS, payload)
    base = planner_api.plan_result(options)
    plan = planner.Plan(**options)
    for alg in ("grpo", "ppo"):
        v = planner.verdict(plan, alg)
        assert out[alg]["peak"] == v["peak"] and out[alg]["fits"] == v["fits"]
        assert {k: out[alg][k] for k in base[alg]} == json.loads(json.dumps(base[alg]))
        stack = out[alg]["stack"]
        assert stack["total"] == pytest.approx(v["phases"]["peak"], rel=1e-12)
        assert all(b > 0 for _, b in stack["parts"])
        assert ("critic" in dict(stack["parts"])) == (alg == "ppo")
        assert out[alg]["headline"] == f"{alg.upper()}: {'fits' if v['fits'] else 'does not fit'}"
        assert bool(out[alg]["change_text"]) == (not v["fits"])
    assert out["code"] == base["code"]
    assert MEM.LIMITS is planner_api.PLAN_LIMITS


def test_planner_stack_shows_the_larger_phase():
    """HF generate with a long generation batch on one GPU peaks while sampling (KV cache), a colocated vLLM
    that stays awake while training adds its share to the training phase."""
    gen = call(MEM.plan, {"engine": "hf", "n_gpus": 1, "micro_batch": 1, "prompts_per_step": 256})["grpo"]["stack"]
    assert gen["phase"] == "generation" and [k for k, _ in gen["parts"]][-1] == "engine"
    assert "activations" not in dict(gen["parts"])
    awake = call(MEM.plan, {"engine": "vllm_colocate", "engine_sleeps": False})["grpo"]
    asleep = call(MEM.plan, {"engine": "vllm_colocate", "engine_sleeps": True})["grpo"]
    assert awake["stack"]["phase"] == "training" and dict(awake["stack"]["parts"])["engine"] == awake["engine_kept"] > 0
    assert asleep["peak"] < awake["peak"]


def test_planner_beta_zero_loads_no_reference_model():
    with_ref = call(MEM.plan, {"beta": 0.04})
    without = call(MEM.plan, {"beta": 0.0})
    for alg in ("grpo", "ppo"):
        assert dict(with_ref[alg]["stack"]["parts"])["reference"] > 0
        assert "reference" not in dict(without[alg]["stack"]["parts"])
        assert with_ref[alg]["peak"] - without[alg]["peak"] == pytest.approx(with_ref[alg]["components"]["reference"])


@pytest.mark.parametrize("payload, message", [
    ({"model": "GPT-5"}, "model"),
    ({"n_gpus": 0}, "n_gpus"),
    ({"zero_stage": 4}, "zero_stage"),
    ({"lora_rank": 7}, "lora_rank"),
    ({"group_size": 2.5}, "whole number"),
    ({"bogus": 1}, "unknown option bogus"),
    ({"engine": "sglang"}, "engine"),
    ({"offload_params": True, "zero_stage": 2}, "offload_params needs zero_stage 3"),
    ({"engine": "vllm_server", "n_gpus": 2, "vllm_gpus": 2}, "vllm_gpus"),
])
def test_planner_json_rejects_bad_options(payload, message):
    with pytest.raises(ValueError, match=message):
        MEM.plan(json.dumps(payload))


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
    assert mem["result"] == call(MEM.plan, mem["options"])
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
    assert data["zz-good"] == {"ok": True, "state": {"x": 1, "limits": {}}, "code": [], "data": [],
                                "prompts": []}
    assert data["zz-broken"] == {"ok": False, "error": {"file": "demos/zz-broken/demo.py", "line": 5,
                                                        "message": "ZeroDivisionError: division by zero"}}


def test_planner_takes_a_custom_model_and_checks_it():
    """model is a preset name or the numbers of a config.json: the preset's own numbers give its peaks; bad or
    inconsistent numbers are a ValueError naming the field."""
    cfg = {"num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 32,
           "intermediate_size": 11008, "vocab_size": 32000}
    custom = call(MEM.plan, {"model": cfg})
    preset = call(MEM.plan, {"model": "Llama-2-7B"})
    for alg in ("grpo", "ppo"):
        assert custom[alg]["peak"] == preset[alg]["peak"]
    assert "your-org/your-model" in custom["code"]["verl_grpo"]
    for bad, message in (({"hidden_size": 4096}, "num_hidden_layers, num_attention_heads, intermediate_size, "
                                                 "vocab_size are missing"),
                         ({**cfg, "rope_theta": 1e4}, "unknown field rope_theta"),
                         ({**cfg, "hidden_size": 0}, r"model\.hidden_size must be between 8 and 65536"),
                         ({**cfg, "num_key_value_heads": 5}, "num_key_value_heads"),
                         ({**cfg, "qkv_bias": "yes"}, "qkv_bias must be one of")):
        with pytest.raises(ValueError, match=message):
            MEM.plan(json.dumps({"model": bad}))
