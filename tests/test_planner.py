"""The planner: verdicts flip where the arithmetic says, beta = 0 drops the reference, the cheapest change
fits, and the emitted TRL / verl code carries the reader's choices (the GRPOConfig is built with TRL)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from demos import memory
from demos import plan_code as code
from demos import planner as P

GiB = 2**30
QWEN7 = "Qwen2.5-7B"
# HF generate, ZeRO-3, no offload: every term is a closed formula of demos.memory's primitives.
HF = P.Plan(model=QWEN7, engine="hf", zero_stage=3, beta=0.04, group_size=8, prompts_per_step=16,
            prompt_len=256, completion_len=1024, micro_batch=2, gpu_gb=40)


def expected_peak(plan: P.Plan, n: int) -> float:
    """The peak written out again from the primitives, for plan.engine == "hf", ZeRO-3, no offload, no LoRA."""
    psi = memory.param_count(plan.model)
    seq = plan.prompt_len + plan.completion_len
    states = 16 * psi / n + (2 * psi / n if plan.beta > 0 else 0)
    train = memory.activation_bytes(plan.model, seq_len=seq, micro_batch=plan.micro_batch) + (
        10 * plan.completion_len * plan.micro_batch * memory.resolve_model(plan.model).vocab_size)
    kv = memory.kv_cache_bytes(plan.model, tokens=seq, sequences=math.ceil(plan.prompts_per_step * plan.group_size / n))
    return P.CUDA_CONTEXT_BYTES + states + max(train, kv)


def test_gpu_count_sweep_flips_exactly_where_the_arithmetic_says():
    flips = []
    for n in range(1, 33):
        v = P.verdict(replace(HF, n_gpus=n))
        assert v["peak"] == pytest.approx(expected_peak(HF, n), rel=1e-12)
        assert v["fits"] == (v["peak"] <= 40 * GiB)
        flips.append(v["fits"])
    first = flips.index(True)
    assert first > 1 and all(flips[first:]) and not any(flips[:first])
    assert P.gpus_needed(HF) == first + 1


@pytest.mark.parametrize("n_gpus", [1, 2, 4, 8])
def test_gpu_type_sweep_flips_exactly_at_the_peak(n_gpus):
    plan = replace(HF, n_gpus=n_gpus)
    peak = P.verdict(plan)["peak"]  # HF generate: the peak does not depend on the GPU's size
    for size in (*P.GPU_SIZES_GB, 200, 1000):
        v = P.verdict(replace(plan, gpu_gb=size))
        assert v["peak"] == peak
        assert v["fits"] == (peak <= size * GiB)
        assert v["headroom"] == size * GiB - peak
    just = peak / GiB
    assert P.fits(replace(plan, gpu_gb=math.nextafter(just, math.inf)))
    assert not P.fits(replace(plan, gpu_gb=math.nextafter(just, 0)))


def test_beta_zero_removes_the_reference_model():
    psi = memory.param_count(QWEN7)
    on = P.phases(replace(HF, n_gpus=4, beta=0.04))["components"]
    off = P.phases(replace(HF, n_gpus=4, beta=0.0))["components"]
    assert on["reference"] == 2 * psi / 4
    assert off["reference"] == 0
    assert P.verdict(replace(HF, n_gpus=4, beta=0.04))["peak"] - P.verdict(replace(HF, n_gpus=4, beta=0.0))["peak"] == pytest.approx(2 * psi / 4)
    # LoRA: the base with the adapter disabled is the reference, whatever beta is
    assert P.phases(replace(HF, n_gpus=4, beta=0.04, lora_rank=16))["components"]["reference"] == 0


def test_ppo_adds_a_trained_critic_of_the_policys_size():
    plan = replace(HF, n_gpus=4)
    grpo, ppo = P.phases(plan, "grpo"), P.phases(plan, "ppo")
    assert grpo["components"]["critic"] == 0
    assert ppo["components"]["critic"] == pytest.approx(16 * memory.param_count(QWEN7) / 4)
    assert ppo["peak"] - grpo["peak"] == pytest.approx(ppo["components"]["critic"])


def test_colocated_vllm_keeps_its_share_unless_it_sleeps():
    plan = replace(HF, n_gpus=4, engine="vllm_colocate", vllm_util=0.3, gpu_gb=80)
    awake, asleep = P.phases(plan), P.phases(replace(plan, engine_sleeps=True))
    share = 0.3 * 80 * GiB
    assert awake["peak"] == pytest.approx(P.CUDA_CONTEXT_BYTES + awake["resident"] + awake["train_transient"] + share)
    assert asleep["peak"] == pytest.approx(P.CUDA_CONTEXT_BYTES + asleep["resident"] + max(asleep["train_transient"], share))


def test_vllm_share_too_small_for_the_weights_does_not_fit():
    plan = replace(HF, n_gpus=8, engine="vllm_colocate", vllm_util=0.1, gpu_gb=80)  # 8 GiB < 15.2 GB of weights
    v = P.verdict(plan)
    assert not v["fits"] and "smaller than its weights" in v["problem"]


def test_server_mode_trains_on_the_other_gpus():
    plan = replace(HF, n_gpus=4, engine="vllm_server", vllm_gpus=1, vllm_util=0.9, gpu_gb=80)
    assert P.training_gpus(plan) == 3
    ph = P.phases(plan)
    assert ph["components"]["policy_weights"] == pytest.approx(2 * memory.param_count(QWEN7) / 3)
    assert ph["server_peak"] == P.CUDA_CONTEXT_BYTES + 0.9 * 80 * GiB
    with pytest.raises(ValueError, match="vllm_gpus"):
        P.verdict(replace(plan, vllm_gpus=4))


def test_offloads_take_states_off_the_gpu():
    base = replace(HF, n_gpus=2)
    opt = P.phases(replace(base, offload_optimizer=True))["components"]
    assert opt["optimizer"] == 0
    par = P.phases(replace(base, offload_optimizer=True, offload_params=True))["components"]
    unit = 2 * P.largest_unit_params(QWEN7)
    assert par["policy_weights"] == unit and par["policy_grads"] == unit and par["reference"] == unit
    with pytest.raises(ValueError, match="zero_stage 3"):
        P.verdict(replace(base, zero_stage=2, offload_params=True))


def test_verl_qwen2_7b_on_two_h800_fits_only_with_its_offloads():
    # verl examples/tuning/7b/qwen2-7b_grpo_2_h800_fsdp_vllm.sh (Qwen2-7B has Qwen2.5-7B's architecture)
    verl = P.Plan(model=QWEN7, gpu_gb=80, n_gpus=2, group_size=5, prompt_len=1024, completion_len=1024,
                  prompts_per_step=1024, micro_batch=16, beta=0.001, zero_stage=3, offload_optimizer=True,
                  offload_params=True, engine="vllm_colocate", vllm_util=0.6, vllm_tp=2, engine_sleeps=True)
    assert P.fits(verl)
    assert not P.fits(replace(verl, offload_optimizer=False, offload_params=False))


def test_cheapest_change_is_the_first_in_order_that_fits():
    plan = replace(HF, n_gpus=2, gpu_gb=80, grad_checkpointing=False, micro_batch=8)
    assert not P.fits(plan)
    best = P.cheapest_change(plan)
    assert best["plan"] is not None and P.fits(best["plan"])
    first = [label for label, _ in P.CHANGES].index(best["steps"][0])
    if len(best["steps"]) == 1:
        for label, change in P.CHANGES[:first]:
            p = change(plan)
            assert p is None or not P.fits(p), label
    assert P.cheapest_change(replace(plan, n_gpus=64, grad_checkpointing=True, micro_batch=1)) is None


def test_micro_batch_change_stops_at_the_largest_that_fits():
    plan = replace(HF, n_gpus=8, gpu_gb=40, micro_batch=64, grad_checkpointing=True)
    best = P.cheapest_change(plan)
    b = best["plan"].micro_batch
    assert best["steps"] == [f"micro-batch 64 \u2192 {b}"]
    assert b < 64 and P.fits(best["plan"]) and not P.fits(replace(plan, micro_batch=2 * b))
    # a run of changes keeps the largest micro-batch that still fits with the later changes
    run = P.cheapest_change(replace(plan, n_gpus=4, gpu_gb=24))
    assert len(run["steps"]) > 1 and P.fits(run["plan"])
    assert not P.fits(replace(run["plan"], micro_batch=2 * run["plan"].micro_batch))


def test_fewer_prompts_per_step_when_generation_is_what_does_not_fit():
    """Hugging Face generate keeps the KV cache of prompts_per_step * G / GPUs sequences at once: with Llama-2-7B
    (no grouped-query attention) and 128 prompts x 16 on 8 x 80 GB that is 192 GiB per GPU, which no offload or
    adapter changes; a quarter of the prompts fits (and half does not)."""
    plan = P.Plan(model="Llama-2-7B", gpu_gb=80, n_gpus=8, group_size=16, prompts_per_step=128, completion_len=1024,
                  engine="hf")
    assert not P.fits(plan)
    best = P.cheapest_change(plan)
    assert best["steps"] == ["prompts per step 128 \u2192 32"]
    assert best["diff"] == ["prompts_per_step: 128 -> 32"]
    assert P.fits(best["plan"]) and not P.fits(replace(best["plan"], prompts_per_step=64))
    # it comes after every change that costs only speed, and only for the engine whose memory follows the batch
    labels = [label for label, _ in P.CHANGES]
    assert labels.index(P.PROMPTS_LABEL) > labels.index("offload parameters to CPU")
    for engine in ("vllm_colocate", "vllm_server"):
        assert P.CHANGES[labels.index(P.PROMPTS_LABEL)][1](replace(plan, engine=engine)) is None


def test_no_step_for_a_halving_that_later_changes_made_unneeded():
    """A run of changes halves the micro-batch on the way, then doubles it back while the plan still fits: if it
    ends where it began, it is not a step ('micro-batch 16 -> 16' was shown before)."""
    plan = P.Plan(model="Llama-2-7B", gpu_gb=80, n_gpus=8, group_size=16, completion_len=4096, prompts_per_step=16,
                  micro_batch=16, grad_checkpointing=False, engine="hf")
    best = P.cheapest_change(plan)
    assert best["steps"] == ["turn on gradient checkpointing", "offload optimizer states to CPU"]
    assert best["plan"].micro_batch == 16 and P.fits(best["plan"])


def test_plurals():
    assert P.plural(1, "GPU") == "1 GPU"
    assert P.plural(2, "GPU") == "2 GPUs"
    assert P.plural(0, "GPU") == "0 GPUs"


@pytest.mark.parametrize("field, value, message", [
    ("gpu_gb", 0, "gpu_gb"), ("n_gpus", 0, "n_gpus"), ("beta", -0.1, "beta"), ("engine", "tgi", "engine"),
    ("vllm_util", 1.5, "vllm_util"), ("zero_stage", 4, "zero_stage"), ("micro_batch", 2.5, "micro_batch"),
])
def test_bad_plans_are_clear_errors(field, value, message):
    with pytest.raises(ValueError, match=message):
        P.verdict(replace(HF, **{field: value}))


# --------------------------------------------------------------------------- the plan as code


def build_grpo_config(text: str):
    """exec the emitted snippet with the pinned TRL. This machine has no GPU; transformers refuses bf16
    without one, so the bf16 capability probe answers as a GPU machine would."""
    pytest.importorskip("trl", reason="TRL is not installed: pip install trl==1.16.0 (the pinned version)")
    from unittest import mock

    import transformers.training_args as ta

    ns: dict = {}
    with mock.patch.object(ta, "is_torch_bf16_gpu_available", lambda: True):
        exec(compile(text, "<GRPOConfig snippet>", "exec"), ns)
    return ns


PLANS = [
    P.Plan(),
    replace(HF, n_gpus=4, beta=0.04, grad_checkpointing=False, micro_batch=4),
    replace(HF, n_gpus=8, engine="vllm_server", vllm_gpus=2, beta=0.0),
    P.Plan(engine="vllm_colocate", vllm_util=0.45, engine_sleeps=True, vllm_tp=2, group_size=8, completion_len=2048),
]


@pytest.mark.parametrize("plan", PLANS, ids=["default", "hf", "server", "colocate-sleep"])
def test_emitted_grpo_config_constructs_with_trl_and_carries_the_choices(plan):
    import trl

    assert trl.__version__ == code.TRL_VERSION
    config = build_grpo_config(code.grpo_config_code(plan))["config"]
    assert config.num_generations == plan.group_size
    assert config.per_device_train_batch_size == plan.micro_batch
    assert config.generation_batch_size == plan.prompts_per_step * plan.group_size
    assert config.max_completion_length == plan.completion_len
    assert config.beta == plan.beta
    assert config.gradient_checkpointing == plan.grad_checkpointing
    assert config.bf16 == (plan.precision == "bf16")
    assert config.use_vllm == (plan.engine != "hf")
    if plan.engine == "vllm_colocate":
        assert config.vllm_mode == "colocate"
        assert config.vllm_gpu_memory_utilization == plan.vllm_util
        assert config.vllm_tensor_parallel_size == plan.vllm_tp
        assert config.vllm_enable_sleep_mode == plan.engine_sleeps
    if plan.engine == "vllm_server":
        assert config.vllm_mode == "server"


def test_emitted_lora_config_constructs_with_peft():
    pytest.importorskip("peft", reason="peft is not installed (needed only for the LoRA snippet)")
    ns = build_grpo_config(code.grpo_config_code(replace(HF, lora_rank=32)))
    assert ns["peft_config"].r == 32


def test_grpo_config_kwargs_are_fields_of_trl_grpoconfig():
    pytest.importorskip("trl", reason="TRL is not installed: pip install trl==1.16.0 (the pinned version)")
    from dataclasses import fields

    from trl import GRPOConfig

    names = {f.name for f in fields(GRPOConfig)}
    for plan in PLANS:
        assert set(code.grpo_config_kwargs(plan)) <= names


def test_accelerate_config_carries_zero_and_offload():
    text = code.accelerate_config_code(replace(HF, n_gpus=4, zero_stage=3, offload_optimizer=True, offload_params=True))
    assert "zero_stage: 3" in text and "offload_optimizer_device: cpu" in text and "offload_param_device: cpu" in text
    assert "num_processes: 4" in text
    assert "num_processes: 3" in code.accelerate_config_code(replace(HF, n_gpus=4, engine="vllm_server", vllm_gpus=1))
    assert "zero_stage: 2" in code.accelerate_config_code(replace(HF, n_gpus=4, zero_stage=2))


def test_verl_command_carries_the_choices():
    plan = replace(HF, n_gpus=2, beta=0.001, offload_optimizer=True, offload_params=True, engine="vllm_colocate",
                   vllm_util=0.6, vllm_tp=2, micro_batch=16, group_size=5, lora_rank=0)
    grpo = code.verl_command(plan, "grpo")
    for line in ("algorithm.adv_estimator=grpo", "actor_rollout_ref.actor.use_kl_loss=True",
                 "actor_rollout_ref.actor.kl_loss_coef=0.001", "actor_rollout_ref.actor.fsdp_config.param_offload=True",
                 "actor_rollout_ref.actor.fsdp_config.optimizer_offload=True",
                 "actor_rollout_ref.rollout.gpu_memory_utilization=0.6", "actor_rollout_ref.rollout.n=5",
                 "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=16", "algorithm.use_kl_in_reward=False",
                 "trainer.n_gpus_per_node=2"):
        assert line in grpo, line
    ppo = code.verl_command(plan, "ppo")
    assert "algorithm.adv_estimator=gae" in ppo and "critic.model.fsdp_config.optimizer_offload=True" in ppo
    assert "use_kl_loss" not in code.verl_command(replace(plan, beta=0.0), "grpo").replace("use_kl_loss=False", "")


# --------------------------------------------------------------------------- calibration


def test_calibration_errors_are_computed_from_the_rows():
    from demos import planner_calibration as cal

    rows = cal.table()
    assert len(rows) == len(cal.ROWS)
    for row, source in zip(rows, cal.ROWS):
        predicted = P.verdict(source["plan"])["peak"]
        assert row["predicted"] == predicted
        if row["kind"] == "run":
            assert row["error"] == (predicted - source["measured"]) / source["measured"]
        else:
            assert row["ok"] == (predicted <= source["measured"])
    runs = [abs(r["error"]) for r in rows if r["kind"] == "run"]
    assert cal.error_band() == max(runs) > 0
    for row in cal.component_table():
        assert row["predicted"] == P.logit_bytes_per_element("bf16") * row["elements"]


def test_chapter_table_and_figures_are_what_the_code_computes():
    from pathlib import Path

    from demos import planner_calibration as cal

    text = (Path(__file__).resolve().parents[1] / "content" / "grpo.md").read_text(encoding="utf-8")
    header = cal.markdown_table().splitlines()[0]
    assert header in text, "the calibration table is missing from content/grpo.md"
    start = text.index(header)
    end = text.index("\n\n", start)
    assert text[start:end] == cal.markdown_table()
    text = " ".join(text.split())  # prose lines wrap anywhere
    assert f"±{cal.error_band() * 100:.0f} %" in text
    qwen17 = next(r for r in cal.table() if r["model"] == "Qwen3-1.7B")
    assert f"the planner says {qwen17['predicted'] / GiB:.1f} GiB" in text
    verl = next(r for r in cal.ROWS if r["kind"] == "bound")["plan"]
    no_offload = P.verdict(replace(verl, offload_optimizer=False, offload_params=False))["peak"]
    assert f"about {no_offload / GiB:.0f} GiB per GPU" in text
    assert f"is {16 * memory.param_count(QWEN7) / 2 / 1e9:.0f} GB" in text


# --------------------------------------------------------------------------- the demo's JSON entry


def test_plan_json_matches_the_planner_and_says_gpus_right():
    import json

    from demos import planner_api as api

    for payload in ({}, {"n_gpus": 1, "gpu_gb": 24, "model": "Qwen2.5-1.5B"},
                    {"engine": "vllm_server", "vllm_gpus": 1, "n_gpus": 2, "beta": 0.04}):
        out = json.loads(api.plan(json.dumps(payload)))
        plan = P.Plan(**{**api.limits.defaults(api.PLAN_LIMITS), **payload})
        for alg in ("grpo", "ppo"):
            v = P.verdict(plan, alg)
            assert out[alg]["peak"] == v["peak"] and out[alg]["fits"] == v["fits"]
            assert out[alg]["gpus_needed"] == P.gpus_needed(plan, alg)
            text = out[alg]["text"]
            assert (f"{plan.n_gpus} GPU of" in text) == (plan.n_gpus == 1)
            assert "GPUs of" in text or plan.n_gpus == 1
            assert ("Fits" in text) == v["fits"]
        assert out["code"]["grpo_config"] == code.grpo_config_code(plan)


def test_plan_limits_cover_every_field_and_reject_bad_input():
    import json

    from demos import planner_api as api

    assert set(api.PLAN_LIMITS) == set(P.Plan.__dataclass_fields__)
    for bad, name in (({"gpu_gb": 0}, "gpu_gb"), ({"engine": "tgi"}, "engine"), ({"foo": 1}, "foo"),
                      ({"vllm_util": 0.99}, "vllm_util")):
        with pytest.raises(ValueError, match=name):
            api.plan(json.dumps(bad))
