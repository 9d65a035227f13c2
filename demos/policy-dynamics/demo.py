"""Policy-dynamics demo: GRPO steps on one prompt whose policy is a softmax over a few answers.

The simulation is ``demos.policy_dynamics`` (which calls ``grpo_core`` for every equation); this file holds the
reader's knobs (``LIMITS``) and the JSON entry the page calls: advance a run by a few steps at a time, the run's
state travelling as JSON between calls (no hidden state in the worker).
"""

from __future__ import annotations

import json

import numpy as np

from demos import limits, policy_dynamics

LIMITS = {
    "G": {"default": 8, "min": 2, "max": 64, "step": 1, "integer": True},
    "beta": {"default": 0.04, "min": 0.0, "max": 1.0, "step": 0.01},
    "eps": {"default": 0.2, "min": 0.01, "max": 1.0, "step": 0.01},
    "lr": {"default": 0.5, "min": 0.0, "max": 10.0, "step": 0.1},
    "mu": {"default": 2, "min": 1, "max": 8, "step": 1, "integer": True},
    "seed": {"default": 0, "min": 0, "max": 2**31 - 1, "step": 1, "integer": True},
}
CODE = [("demos/policy_dynamics.py", "step"), ("demos/grpo_core.py", "grpo_loss")]
SPEEDS = [1, 2, 5, 10, 30, 60]          # steps per second the view may play at
# "Predict, then try" (shown by the shared frame; "state" is this demo's URL-hash format, as "Copy link" writes it)
PROMPTS = [
    {"ask": "With only G = 2 answers per group, will learning be smoother or noisier than with G = 8? "
            "Set it, then press Play.",
     "state": "G:2;beta:0.04;eps:0.2;lr:0.5;mu:2;seed:0;speed:5",
     "look": "Slower and in jumps: a pair is often both wrong or both right, and then both advantages are 0 "
             "and the step changes nothing (17 of the first 20 steps at seed 0). After 20 steps \u03c0(correct) "
             "is 0.21, against 0.92 with G = 8."},
    {"ask": "Take \u03bc = 8 updates per group and learning rate 1. Does clipping fire?",
     "state": "G:8;beta:0.04;eps:0.2;lr:1;mu:8;seed:0;speed:5",
     "look": "Yes: after the first updates the ratio leaves [1 \u2212 \u03b5, 1 + \u03b5] and the "
             "\u201cclipped tokens\u201d readout reaches 40\u201385% in the first steps (at seed 0); the clip caps how far "
             "one group can move the policy."},
    {"ask": "Raise \u03b2 (the KL weight) to 0.5. Where does the policy end up?",
     "state": "G:8;beta:0.5;eps:0.2;lr:0.5;mu:2;seed:0;speed:5",
     "look": "Held back: after 200 steps \u03c0(correct) is 0.77 (0.99 with \u03b2 = 0.04), and the bars "
             "stay closer to the reference ticks."},
]
MAX_STEPS_PER_CALL = 200
RECORD_FIELDS = ("step", "probs", "samples", "rewards", "advantages", "kl", "clip_fraction", "expected_reward", "loss")


def make_config(knobs: dict) -> dict:
    """The reader's knobs (validated by LIMITS) -> a policy_dynamics config."""
    k = limits.check(LIMITS, knobs)
    return policy_dynamics.make_config(G=k["G"], beta=k["beta"], eps_low=k["eps"], lr=k["lr"], mu=k["mu"], seed=k["seed"])


def advance(payload: dict) -> dict:
    """Advance the run ``steps`` steps from ``state`` (None: step 0 of the seed).
    -> {"state", "probs" (current), "ref_probs", "answers", "rewards", "question", "records": [RECORD_FIELDS],
    "diverged": null | why the run stopped (the steps before it are returned; the state is the last finite one)}."""
    knobs = payload.get("config", {})
    if not isinstance(knobs, dict):
        raise ValueError("config must be an object")
    cfg = make_config(knobs)
    steps = limits.check_number("steps", payload.get("steps", 1), 0, MAX_STEPS_PER_CALL, integer=True)
    state = payload.get("state")
    if state is None:
        state = policy_dynamics.init_state(cfg)
    elif not isinstance(state, dict):
        raise ValueError("state must be an object or null")
    records, diverged = [], None
    for _ in range(steps):
        try:
            state, rec = policy_dynamics.step(state, cfg)
        except policy_dynamics.Diverged as err:
            diverged = str(err)
            break
        records.append({k: rec[k] for k in RECORD_FIELDS})
    return {
        "diverged": diverged,
        "state": state,
        "probs": np.exp(policy_dynamics.log_softmax(state["logits"])).tolist(),
        "ref_probs": np.exp(policy_dynamics.log_softmax(state["ref_logits"])).tolist(),
        "answers": cfg["answers"],
        "rewards": cfg["rewards"],
        "question": cfg["question"],
        "records": records,
    }


def run(payload_json: str) -> str:
    """{"config": {G, beta, eps, lr, mu, seed}, "state": state | null, "steps": n} -> advance(...) as JSON."""
    return json.dumps(advance(limits.load_json(payload_json)))


def initial_state() -> dict:
    """Step 0 of the default run: what the chart shows before the reader presses Play."""
    start = advance({"config": {}, "state": None, "steps": 0})
    return {"config": limits.defaults(LIMITS), "question": start["question"], "answers": start["answers"],
            "rewards": start["rewards"], "probs": start["probs"], "ref_probs": start["ref_probs"],
            "history": [start["probs"][0]], "speeds": SPEEDS, "speed": 5}
