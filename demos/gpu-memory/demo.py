"""Run planner ("Will my run fit?"): per-GPU peak memory for GRPO and PPO on the reader's GPUs, the verdict,
the cheapest change that makes it fit and the plan as code.

The arithmetic is ``demos.planner`` (each formula with its source there); the inputs and the JSON answer are
``demos.planner_api`` (``PLAN_LIMITS``, ``plan_result``). This file adds only what the chart needs: the parts
of the peak, in the order they are stacked.
"""

from __future__ import annotations

import json

from demos import limits, memory, planner, planner_api

LIMITS = planner_api.PLAN_LIMITS
CODE = [("demos/planner.py", "phases")]
MODEL_STATES = memory.MODEL_STATE_COMPONENTS


def peak_parts(r: dict) -> dict:
    """The parts of one training GPU's peak C + R + max(T + E, S) (planner.phases), as stacked in the chart:
    the CUDA context, the resident model states, then the larger phase: training (activations + logits +
    the engine memory kept, E) or generation (the engine's memory while sampling, S).
    r: one algorithm's entry of ``planner_api.plan_result``. Returns {"phase", "parts": [[name, bytes]],
    "total"}; zero parts are left out; total is the training GPUs' peak (r["peak"] also counts vLLM's own
    GPUs in server mode)."""
    c = r["components"]
    training = r["train_transient"] + r["engine_kept"] >= c["engine"]
    phase = ([["activations", c["activations"]], ["logits", c["logits"]], ["engine", r["engine_kept"]]]
             if training else [["engine", c["engine"]]])
    parts = [["context", r["context"]]] + [[k, c[k]] for k in MODEL_STATES] + phase
    parts = [p for p in parts if p[1] > 0]
    return {"phase": "training" if training else "generation", "parts": parts, "total": sum(v for _, v in parts)}


def change_text(r: dict) -> str:
    """The cheapest change as one sentence ('' when the plan fits)."""
    ch = r["change"]
    if ch is None:
        return ""
    if not ch["steps"]:
        return f"Nothing in the planner's list of changes is enough ({r['gpus_needed_text']})."
    return (f"Cheapest change: {' + '.join(ch['steps'])} ({planner_api.gib(ch['peak'])} per GPU, "
            f"{planner_api.gib(ch['headroom'])} to spare); {r['gpus_needed_text']}.")


def plan_result(options: dict) -> dict:
    """planner_api.plan_result for validated options, with each algorithm's ``peak_parts``, a headline and
    the cheapest change as text (the page shows these strings as they are)."""
    res = planner_api.plan_result(options)
    res["labels"].update(context="CUDA context", optimizer="Optimizer (Adam, fp32 master)")
    for alg in ("grpo", "ppo"):
        r = res[alg]
        r["stack"] = peak_parts(r)
        r["headline"] = f"{alg.upper()}: {'fits' if r['fits'] else 'does not fit'}"
        r["change_text"] = change_text(r)
    return res


def plan(payload_json: str) -> str:
    """JSON {any subset of LIMITS} -> JSON ``plan_result`` (bytes per GPU). ValueError names the input."""
    return json.dumps(plan_result(limits.check(LIMITS, limits.load_json(payload_json))))


def initial_state() -> dict:
    options = limits.defaults(LIMITS)
    return {
        "gpu_sizes": list(planner.GPU_SIZES_GB),
        "engines": planner.ENGINE_LABELS,
        "options": options,
        "result": plan_result(options),
    }


def _prompt(ask: str, state: dict, look) -> dict:
    """A "predict, then try" prompt whose answer quotes the planner's own numbers for that state.
    state: inputs (the rest at their defaults); look(result, defaults_result) -> the text to look for."""
    options = limits.check(LIMITS, state)
    hash_text = ";".join(f"{k}:{int(v) if isinstance(v, bool) else v}" for k, v in state.items())
    return {"ask": ask, "state": hash_text, "look": look(plan_result(options), plan_result(limits.defaults(LIMITS)))}


def _gib(b: float) -> str:
    return planner_api.gib(b)


PROMPTS = [
    _prompt("PPO's critic is a second trained model. How much more than GRPO does PPO need on each GPU here?",
            {"model": LIMITS["model"]["default"]},
            lambda r, d: (f"GRPO peaks at {_gib(r['grpo']['peak'])} per GPU, PPO at {_gib(r['ppo']['peak'])}: the "
                          f"difference, {_gib(r['ppo']['peak'] - r['grpo']['peak'])}, is the critic's weights, gradients "
                          "and optimizer states (ZeRO-3 shards them over the GPUs).")),
    _prompt("TRL's default \u03b2 is 0, which loads no reference model. Set \u03b2 = 0.04: what does the KL term cost?",
            {"beta": 0.04},
            lambda r, d: (f"GRPO's peak goes from {_gib(d['grpo']['peak'])} to {_gib(r['grpo']['peak'])} per GPU: "
                          "a frozen bf16 copy of the policy, the reference, now has to be kept.")),
    _prompt("Give vLLM a GPU of its own (server mode, 1 of the 4). Does training get more room or less?",
            {"engine": "vllm_server", "vllm_gpus": 1},
            lambda r, d: (f"GRPO's training GPUs peak at {_gib(r['grpo']['peak'])} instead of {_gib(d['grpo']['peak'])}: "
                          "no engine shares them, but only 3 GPUs now share the ZeRO shards. "
                          f"Verdict: {r['grpo']['headline'].split(': ')[1]}.")),
]
