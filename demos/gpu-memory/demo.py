"""GPU-memory demo: bytes per GPU by component for PPO and GRPO, for a model preset and a training setup.

The arithmetic is ``demos.memory`` (each formula with its source there); this file holds the reader's inputs
(``LIMITS``) and the JSON entry the page calls.
"""

from __future__ import annotations

import json

from demos import limits, memory

PROMINENT_MODELS = ("Llama-2-7B", "Llama-2-13B", "Llama-2-70B")
LIMITS = {
    "model": {"default": "Llama-2-7B", "choices": list(memory.PRESETS)},
    "group_size": {"default": 8, "min": 1, "max": 1024, "step": 1, "integer": True},
    "prompt_len": {"default": 256, "min": 1, "max": 131072, "step": 1, "integer": True},
    "completion_len": {"default": 1024, "min": 1, "max": 131072, "step": 1, "integer": True},
    "prompts_per_step": {"default": 32, "min": 1, "max": 4096, "step": 1, "integer": True},
    "micro_batch": {"default": 4, "min": 1, "max": 256, "step": 1, "integer": True},
    "zero_stage": {"default": 3, "choices": [0, 1, 2, 3]},
    "n_gpus": {"default": 8, "min": 1, "max": 4096, "step": 1, "integer": True},
    "reward": {"default": "model", "choices": list(memory.REWARDS)},
    "grad_checkpointing": {"default": True, "choices": [True, False]},
    "lora_rank": {"default": 0, "choices": [0, 8, 16, 32, 64, 128]},
    # "completions": PPO generates as many completions per step as GRPO (G x the prompts, one sample each;
    # same KV cache), so the comparison isolates the critic. "prompts": one sample per prompt, so GRPO also
    # generates G x more data per step.
    "ppo_rollout": {"default": "completions", "choices": ["completions", "prompts"]},
}
CODE = [("demos/memory.py", "compare")]


def memory_result(options: dict) -> dict:
    """memory.compare for validated options: per-GPU bytes by component for PPO and GRPO, totals, GPU counts."""
    opts = dict(options)
    rollout = opts.pop("ppo_rollout")
    opts["ppo_samples_per_prompt"] = opts["group_size"] if rollout == "completions" else 1
    return memory.compare(opts.pop("model"), **opts)


def breakdown(payload_json: str) -> str:
    """{model, group_size, prompt_len, completion_len, prompts_per_step, micro_batch, zero_stage, n_gpus, reward,
    grad_checkpointing, lora_rank, ppo_rollout} (any subset) -> memory.compare(...) as JSON (bytes per GPU)."""
    return json.dumps(memory_result(limits.check(LIMITS, limits.load_json(payload_json))))


def initial_state() -> dict:
    options = limits.defaults(LIMITS)
    return {
        "models": [{"name": n, "params": memory.param_count(c), "hf_id": c.hf_id} for n, c in memory.PRESETS.items()],
        "prominent": list(PROMINENT_MODELS),
        "options": options,
        "result": memory_result(options),
    }
