"""The JSON API the browser's Pyodide worker calls (and the build and tests call under CPython).

Each function takes one JSON text and returns one JSON text, so nothing but strings crosses the
JS/Python boundary. Input is validated here (a bad slider value or URL state becomes a clear
``ValueError`` that the page shows); the math lives in ``grpo_core``, ``memory`` and
``policy_dynamics``. Imports only numpy and the standard library.
"""

from __future__ import annotations

import json
import math

import numpy as np

from demos import grpo_core, memory, policy_dynamics

MAX_GROUP = 64


def _load(payload_json: str) -> dict:
    try:
        payload = json.loads(payload_json)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"payload is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ValueError("payload must be a JSON object")
    return payload


def _choice(payload: dict, key: str, allowed: tuple, default):
    value = payload.get(key, default)
    if value not in allowed:
        raise ValueError(f"{key} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def _number(payload: dict, key: str, default, lo, hi, *, integer=False):
    value = payload.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key} must be a finite number, got {value!r}")
    if integer and value != int(value):
        raise ValueError(f"{key} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{key} must be between {lo} and {hi}, got {value!r}")
    return int(value) if integer else float(value)


def parse_group(payload: dict) -> dict:
    """Validated options of the group-advantage demo: rewards (G,), normalise, ddof, baseline."""
    rewards = payload.get("rewards")
    if not isinstance(rewards, list) or not 2 <= len(rewards) <= MAX_GROUP:
        raise ValueError(f"rewards must be a list of 2 to {MAX_GROUP} numbers")
    values = []
    for i, r in enumerate(rewards):
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r):
            raise ValueError(f"reward {i + 1} must be a finite number, got {r!r}")
        values.append(float(r))
    return {
        "rewards": values,
        "normalise": _choice(payload, "normalise", (True, False), True),
        "ddof": _choice(payload, "ddof", (0, 1), 1),
        "baseline": _choice(payload, "baseline", ("mean", "leave_one_out"), "mean"),
    }


def group_result(options: dict) -> dict:
    """Advantages of one group and the statistics the chart draws (mean, std with the chosen ddof)."""
    rewards = np.asarray(options["rewards"], dtype=np.float64)[None, :]  # (1, G)
    adv = grpo_core.group_advantages(
        rewards,
        scale="group" if options["normalise"] else "none",
        baseline=options["baseline"],
        ddof=options["ddof"],
    )[0]
    return {
        "advantages": adv.tolist(),
        "mean": float(rewards.mean()),
        "std": float(grpo_core.reward_std(rewards, ddof=options["ddof"])[0, 0]),
        "sum": float(adv.sum()),
        "all_equal": bool(np.all(rewards == rewards[0, 0])),
    }


def advantages_json(payload_json: str) -> str:
    """{"rewards": [G floats], "normalise": bool, "ddof": 0|1, "baseline": "mean"|"leave_one_out"}
    -> {"advantages": [G], "mean", "std", "sum", "all_equal"}."""
    return json.dumps(group_result(parse_group(_load(payload_json))))


# --------------------------------------------------------------------------- memory demo

PPO_ROLLOUTS = ("completions", "prompts")
MEMORY_DEFAULTS = {
    "model": "Llama-2-7B",
    "group_size": 8,
    "prompt_len": 256,
    "completion_len": 1024,
    "prompts_per_step": 32,
    "micro_batch": 4,
    "zero_stage": 3,
    "n_gpus": 8,
    "reward": "model",
    "grad_checkpointing": True,
    "lora_rank": 0,
    "ppo_rollout": "completions",
}
LORA_RANKS = (0, 8, 16, 32, 64, 128)


def parse_memory(payload: dict) -> dict:
    """Validated options of the memory demo (keys of MEMORY_DEFAULTS; missing keys take the defaults)."""
    unknown = set(payload) - set(MEMORY_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown memory options {sorted(unknown)}")
    d = MEMORY_DEFAULTS
    return {
        "model": _choice(payload, "model", tuple(memory.PRESETS), MEMORY_DEFAULTS["model"]),
        "group_size": _number(payload, "group_size", d["group_size"], 1, 1024, integer=True),
        "prompt_len": _number(payload, "prompt_len", d["prompt_len"], 1, 131072, integer=True),
        "completion_len": _number(payload, "completion_len", d["completion_len"], 1, 131072, integer=True),
        "prompts_per_step": _number(payload, "prompts_per_step", d["prompts_per_step"], 1, 4096, integer=True),
        "micro_batch": _number(payload, "micro_batch", d["micro_batch"], 1, 256, integer=True),
        "zero_stage": _choice(payload, "zero_stage", (0, 1, 2, 3), d["zero_stage"]),
        "n_gpus": _number(payload, "n_gpus", d["n_gpus"], 1, 4096, integer=True),
        "reward": _choice(payload, "reward", memory.REWARDS, d["reward"]),
        "grad_checkpointing": _choice(payload, "grad_checkpointing", (True, False), d["grad_checkpointing"]),
        "lora_rank": _choice(payload, "lora_rank", LORA_RANKS, d["lora_rank"]),
        "ppo_rollout": _choice(payload, "ppo_rollout", PPO_ROLLOUTS, d["ppo_rollout"]),
    }


def memory_result(options: dict) -> dict:
    """memory.compare for the options: per-GPU bytes by component for PPO and GRPO, totals, 80 GB GPU counts.

    ppo_rollout "completions": PPO generates as many completions per step as GRPO (G x the prompts, one
    sample each; same KV cache), so the comparison isolates the critic. "prompts": PPO takes the same prompts
    with one sample each, so GRPO also generates G x more data per step."""
    opts = dict(options)
    rollout = opts.pop("ppo_rollout", "completions")
    opts["ppo_samples_per_prompt"] = opts["group_size"] if rollout == "completions" else 1
    return memory.compare(opts.pop("model"), **opts)


def memory_json(payload_json: str) -> str:
    """{model, group_size, prompt_len, completion_len, prompts_per_step, micro_batch, zero_stage, n_gpus,
    reward, grad_checkpointing, lora_rank} -> memory.compare(...) as JSON (bytes per GPU)."""
    return json.dumps(memory_result(parse_memory(_load(payload_json))))


# --------------------------------------------------------------------------- policy-dynamics demo

DYNAMICS_DEFAULTS = {"G": 8, "beta": 0.04, "eps": 0.2, "lr": 0.5, "mu": 2, "seed": 0}
MAX_STEPS_PER_CALL = 200


def parse_dynamics(payload: dict) -> dict:
    """Validated reader-facing knobs of the dynamics demo -> a policy_dynamics config."""
    cfg = payload.get("config", {})
    if not isinstance(cfg, dict):
        raise ValueError("config must be an object")
    unknown = set(cfg) - set(DYNAMICS_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown dynamics options {sorted(unknown)}")
    return policy_dynamics.make_config(
        G=_number(cfg, "G", DYNAMICS_DEFAULTS["G"], 2, 64, integer=True),
        beta=_number(cfg, "beta", DYNAMICS_DEFAULTS["beta"], 0.0, 1.0),
        eps_low=_number(cfg, "eps", DYNAMICS_DEFAULTS["eps"], 0.01, 1.0),
        lr=_number(cfg, "lr", DYNAMICS_DEFAULTS["lr"], 0.0, 10.0),
        mu=_number(cfg, "mu", DYNAMICS_DEFAULTS["mu"], 1, 8, integer=True),
        seed=_number(cfg, "seed", DYNAMICS_DEFAULTS["seed"], 0, 2**31 - 1, integer=True),
    )


RECORD_FIELDS = ("step", "probs", "samples", "rewards", "advantages", "kl", "clip_fraction", "expected_reward", "loss")


def dynamics_result(payload: dict) -> dict:
    """Advance the run ``steps`` steps from ``state`` (None: step 0 of the seed).
    -> {"state", "probs" (current), "ref_probs", "records": [per step: RECORD_FIELDS]}."""
    cfg = parse_dynamics(payload)
    steps = _number(payload, "steps", 1, 0, MAX_STEPS_PER_CALL, integer=True)
    state = payload.get("state")
    if state is None:
        state = policy_dynamics.init_state(cfg)
    elif not isinstance(state, dict):
        raise ValueError("state must be an object or null")
    records = []
    for _ in range(steps):
        state, rec = policy_dynamics.step(state, cfg)
        records.append({k: rec[k] for k in RECORD_FIELDS})
    return {
        "state": state,
        "probs": np.exp(policy_dynamics.log_softmax(state["logits"])).tolist(),
        "ref_probs": np.exp(policy_dynamics.log_softmax(state["ref_logits"])).tolist(),
        "answers": cfg["answers"],
        "rewards": cfg["rewards"],
        "question": cfg["question"],
        "records": records,
    }


def dynamics_json(payload_json: str) -> str:
    """{"config": {G, beta, eps, lr, mu, seed}, "state": state | null, "steps": n} -> dynamics_result as JSON."""
    return json.dumps(dynamics_result(_load(payload_json)))
