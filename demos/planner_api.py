"""The planner's entry for the gpu-memory demo folder: reader inputs as data (``PLAN_LIMITS``, in the
``demos.limits`` format) and one JSON-in / JSON-out function, ``plan``. demos/gpu-memory/demo.py can expose
``plan`` as is; the view reads every number from its answer (sizes in bytes; the page shows GiB).
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields

from demos import limits, memory
from demos import plan_code as code
from demos import planner as P
from demos import planner_calibration as calibration

_D = P.Plan()
# a model that is not a preset: the numbers of its config.json (memory.custom_config checks that they agree)
CUSTOM_MODEL_LIMITS = {
    "num_hidden_layers": {"default": 32, "min": 1, "max": 512, "step": 1, "integer": True, "required": True},
    "hidden_size": {"default": 4096, "min": 8, "max": 65536, "step": 1, "integer": True, "required": True},
    "num_attention_heads": {"default": 32, "min": 1, "max": 1024, "step": 1, "integer": True, "required": True},
    "num_key_value_heads": {"default": 8, "min": 1, "max": 1024, "step": 1, "integer": True},
    "intermediate_size": {"default": 14336, "min": 8, "max": 1048576, "step": 1, "integer": True, "required": True},
    "vocab_size": {"default": 128256, "min": 2, "max": 4194304, "step": 1, "integer": True, "required": True},
    "tie_word_embeddings": {"default": False, "choices": [True, False]},
    "qkv_bias": {"default": False, "choices": [True, False]},
}
PLAN_LIMITS = {
    "model": {"default": _D.model, "choices": list(memory.PRESETS), "object": CUSTOM_MODEL_LIMITS},
    "gpu_gb": {"default": _D.gpu_gb, "min": 1, "max": 4096, "step": 1},  # the page offers P.GPU_SIZES_GB and custom
    "n_gpus": {"default": _D.n_gpus, "min": 1, "max": 4096, "step": 1, "integer": True},
    "group_size": {"default": _D.group_size, "min": 1, "max": 1024, "step": 1, "integer": True},
    "prompt_len": {"default": _D.prompt_len, "min": 1, "max": 131072, "step": 1, "integer": True},
    "completion_len": {"default": _D.completion_len, "min": 1, "max": 131072, "step": 1, "integer": True},
    "prompts_per_step": {"default": _D.prompts_per_step, "min": 1, "max": 4096, "step": 1, "integer": True},
    "micro_batch": {"default": _D.micro_batch, "min": 1, "max": 256, "step": 1, "integer": True},
    "beta": {"default": _D.beta, "min": 0.0, "max": 1.0, "step": 0.001},
    "lora_rank": {"default": _D.lora_rank, "choices": [0, 8, 16, 32, 64, 128]},
    "grad_checkpointing": {"default": _D.grad_checkpointing, "choices": [True, False]},
    "zero_stage": {"default": _D.zero_stage, "choices": [0, 1, 2, 3]},
    "offload_optimizer": {"default": _D.offload_optimizer, "choices": [True, False]},
    "offload_params": {"default": _D.offload_params, "choices": [True, False]},
    "engine": {"default": _D.engine, "choices": list(P.ENGINES)},
    "vllm_util": {"default": _D.vllm_util, "min": 0.05, "max": 0.95, "step": 0.05},
    "vllm_tp": {"default": _D.vllm_tp, "choices": [1, 2, 4, 8]},
    "vllm_gpus": {"default": _D.vllm_gpus, "min": 1, "max": 4095, "step": 1, "integer": True},
    "engine_sleeps": {"default": _D.engine_sleeps, "choices": [True, False]},
    "precision": {"default": _D.precision, "choices": list(memory.PRECISIONS)},
    "reward": {"default": _D.reward, "choices": list(memory.REWARDS)},
}
assert set(PLAN_LIMITS) == {f.name for f in fields(P.Plan)}


def gib(x: float) -> str:
    return f"{x / P.GiB:.1f} GiB"


def verdict_text(v: dict, plan: P.Plan, band: float) -> str:
    """One sentence: fits / does not fit on n x size GB, headroom or shortfall per GPU, the error band."""
    where = f"{P.plural(plan.n_gpus, 'GPU')} of {plan.gpu_gb:g} GB"
    if v["problem"]:
        return f"Does not fit on {where}: {v['problem']}."
    if v["fits"]:
        return f"Fits on {where}: {gib(v['peak'])} per GPU, {gib(v['headroom'])} to spare (model error ±{band * 100:.0f} %)."
    return f"Does not fit on {where}: {gib(v['peak'])} per GPU, {gib(-v['headroom'])} short (model error ±{band * 100:.0f} %)."


def algorithm_result(plan: P.Plan, algorithm: str, band: float) -> dict:
    v = P.verdict(plan, algorithm)
    change = P.cheapest_change(plan, algorithm)
    n = P.gpus_needed(plan, algorithm)
    return {
        "fits": v["fits"],
        "peak": v["peak"],
        "capacity": v["capacity"],
        "headroom": v["headroom"],
        "problem": v["problem"],
        "components": v["phases"]["components"],
        "resident": v["phases"]["resident"],
        "train_transient": v["phases"]["train_transient"],
        "engine_kept": v["phases"]["engine_kept"],
        "context": v["phases"]["context"],
        "text": verdict_text(v, plan, band),
        "change": None if change is None else {
            "steps": change["steps"], "diff": change["diff"], "peak": change["peak"], "headroom": change["headroom"],
            "plan": None if change["plan"] is None else asdict(change["plan"]),
        },
        "gpus_needed": n,
        "gpus_needed_text": (f"or {P.plural(n, 'GPU')} of {plan.gpu_gb:g} GB" if n else
                             f"no number of {plan.gpu_gb:g} GB GPUs is enough with these settings"),
    }


def plan_result(options: dict) -> dict:
    """Validated options (keys of PLAN_LIMITS) -> verdicts for GRPO and PPO, the code, the error band."""
    plan = P.check_plan(P.Plan(**options))
    band = calibration.error_band()
    return {
        "options": asdict(plan),
        "model": {**asdict(memory.resolve_model(plan.model)), "params": memory.param_count(plan.model)},
        "labels": {**memory.COMPONENT_LABELS, "logits": "Logits (bf16 + fp32 copies)", "engine": "Generation engine"},
        "error_band": band,
        "grpo": algorithm_result(plan, "grpo", band),
        "ppo": algorithm_result(plan, "ppo", band),
        "code": {
            "grpo_config": code.grpo_config_code(plan),
            "accelerate": code.accelerate_config_code(plan),
            "launch": code.launch_commands(plan),
            "verl_grpo": code.verl_command(plan, "grpo"),
            "verl_ppo": code.verl_command(plan, "ppo"),
        },
    }


def plan(payload_json: str) -> str:
    """JSON {any subset of PLAN_LIMITS} -> JSON ``plan_result`` (bytes per GPU). ValueError names the input."""
    return json.dumps(plan_result(limits.check(PLAN_LIMITS, limits.load_json(payload_json))))
