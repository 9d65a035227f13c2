"""Tiny-GPT demo: GRPO trains a small transformer (demos/tinygpt.py) to add two-digit numbers, live.

The math is ``demos.tinygpt`` (which calls ``grpo_core`` for every GRPO equation); this file holds the reader's
knobs (``LIMITS``) and the JSON entry the page calls. A run's parameters and Adam moments (~80 000 floats) are
too big to travel as JSON on every chunk of steps, so the worker keeps the runs it started in ``RUNS`` (run id ->
run state, see ``tinygpt.new_run``), explicit module data that a code edit or a reset clears; every call names
its run, and an unknown run id is a clear error the view answers with a fresh ``start``.

API (JSON text in, JSON text out): ``start`` -> a run and its step-0 frame, ``step`` -> n more steps,
``evaluate`` -> pass@k and maj@k on held-out prompts for the reference and the current policy.
"""

from __future__ import annotations

import json
import math

import numpy as np

from demos import limits
from demos import tinygpt as g

LIMITS = {
    "G": {"default": 8, "min": 2, "max": 32, "step": 1, "integer": True},
    "beta": {"default": 0.04, "min": 0.0, "max": 1.0, "step": 0.01},
    "eps_low": {"default": 0.2, "min": 0.01, "max": 1.0, "step": 0.01},
    "eps_high": {"default": 0.2, "min": 0.01, "max": 1.0, "step": 0.01},
    "lr": {"default": g.DEFAULTS["lr"], "min": 1e-5, "max": 0.01, "step": 1e-5},
    "mu": {"default": 1, "min": 1, "max": 4, "step": 1, "integer": True},
    "loss_type": {"default": "grpo", "choices": list(g.core.LOSS_TYPES)},
    "std_scale": {"default": True, "choices": [True, False]},
    "temperature": {"default": 1.0, "min": 0.1, "max": 2.0, "step": 0.1},
    "seed": {"default": 0, "min": 0, "max": 2**31 - 1, "step": 1, "integer": True},
}
PROMPTS = [   # "predict, then try": one click sets the demo to this state (the text a shared link carries)
    {"ask": "Lower the sampling temperature to 0.3. The policy samples its favourite answers more often: "
            "will it learn faster?",
     "state": "temperature:0.3;compare:none;speed:60",
     "look": "Slower, not faster: most groups come back all right or all wrong, so their advantages are 0 "
             "(watch the zero-advantage curve climb towards 80 %) and only a few groups carry any signal. "
             "This is what DAPO's dynamic sampling filters out."},
    {"ask": "With μ = 1 the clipped-tokens curve stays at 0. Raise μ to 2: does the clip start to work?",
     "state": "mu:2;compare:none;speed:60",
     "look": "Yes: the second update of each batch is taken from a policy that has already moved, so ratios "
             "leave [1 − ε, 1 + ε] and some tokens are clipped. With μ = 1 every ratio is exactly 1."},
    {"ask": "Run GRPO and Dr. GRPO (no std division, constant normaliser) from the same seed. "
            "Which learns faster here?",
     "state": "compare:dr_grpo;speed:60",
     "look": "Compare the two accuracy curves: both start from the same reference and samples, so any "
             "difference is the loss. With 0/1 rewards, dividing by the std weights prompts the policy is "
             "almost sure about more heavily."},
]
COMPARE = {   # the second run of the compare view: the reader's settings with these changed
    "none": {},
    "dr_grpo": {"loss_type": "dr_grpo", "std_scale": False},
    "beta0": {"beta": 0.0},
    "clip_higher": {"eps_high": 0.28},
    "cold": {"temperature": 0.3},
}
CODE = [("demos/tinygpt.py", "grpo_step"), ("demos/grpo_core.py", "grpo_loss")]
DATA = ["demos/tinygpt_ref.npz"]
SPEEDS = [1, 5, 20, 60]          # steps per second the view asks for (60: as fast as the worker goes)
EVAL_EVERY = 10                  # held-out greedy accuracy every this many steps
MAX_STEPS_PER_CALL = 50
PASS_K = 16                      # pass@k and maj@k for k = 1..PASS_K
PASS_PROMPTS = 100               # held-out prompts used for pass@k / maj@k

RUNS: dict = {}                  # run id -> tinygpt run state (see the module docstring)
_REF: dict = {}                  # the reference weights, loaded once


def reference() -> dict:
    if "params" not in _REF:
        _REF["params"] = g.load_reference()
        _REF["accuracy"] = g.greedy_accuracy(_REF["params"], g.split_pairs()[1])
    return _REF


def settings_of(knobs: dict) -> dict:
    """The reader's knobs (validated by LIMITS) -> tinygpt settings (and the seed)."""
    k = limits.check(LIMITS, knobs)
    s = {key: k[key] for key in ("G", "beta", "eps_low", "eps_high", "lr", "mu", "loss_type", "std_scale", "temperature")}
    return {**s, "seed": k["seed"]}


def _frame(run_id: str, run: dict, accuracy: float) -> dict:
    return {"run": run_id, "step": run["step"], "accuracy": accuracy, "config": run["knobs"]}


def start(payload_json: str) -> str:
    """{"config": knobs, "compare": one of COMPARE} -> {"runs": [frame, frame?], "ref_accuracy", "group": null}.
    Drops every earlier run (one reader, one page)."""
    payload = limits.load_json(payload_json)
    unknown = sorted(set(payload) - {"config", "compare"})
    if unknown:
        raise ValueError(f"unknown keys {unknown}; expected config, compare")
    knobs = payload.get("config", {})
    if not isinstance(knobs, dict):
        raise ValueError("config must be an object")
    compare = limits.check_choice("compare", payload.get("compare", "none"), list(COMPARE))
    ref = reference()
    RUNS.clear()
    configs = [limits.check(LIMITS, knobs)]
    if compare != "none":
        configs.append({**configs[0], **COMPARE[compare]})
    frames = []
    for i, cfg in enumerate(configs):
        s = settings_of(cfg)
        run = g.new_run(s.pop("seed"), s, ref["params"])
        run["knobs"] = cfg
        RUNS[f"r{i}"] = run
        frames.append(_frame(f"r{i}", run, ref["accuracy"]))
    return json.dumps({"runs": frames, "compare": compare, "ref_accuracy": ref["accuracy"]})


def group_view(rec: dict, b: int = 0) -> dict:
    """Group b of a step record as tokens: for each completion its tokens (up to the end token), reward,
    advantage, and per token the ratio, the share A x rho of the objective and whether the clip removed it."""
    G = rec["rewards"].shape[1]
    rows = []
    for i in range(b * G, (b + 1) * G):
        n = int(rec["mask"][i].sum())
        A = float(rec["advantages"][i])
        rows.append({
            "tokens": [g.VOCAB[int(t)] for t in rec["completions"][i, :n]],
            "reward": float(rec["rewards"].ravel()[i]),
            "advantage": A,
            "ratio": [float(r) for r in rec["ratio"][i, :n]],
            "share": [A * float(r) for r in rec["ratio"][i, :n]],
            "clipped": [bool(c) for c in rec["clipped"][i, :n]],
        })
    a, c = (int(x) for x in rec["pairs"][b])
    return {"prompt": f"{a}+{c}=", "answer": str(a + c), "rows": rows}


def step(payload_json: str) -> str:
    """{"run": id, "steps": n} -> {"run", "step", "records": [{step, reward_mean, kl, clip_frac, zero_adv_frac,
    length_mean}], "accuracy": [[step, held-out accuracy], ...] (every EVAL_EVERY steps), "group"}."""
    payload = limits.load_json(payload_json)
    run_id = payload.get("run")
    if run_id not in RUNS:
        raise ValueError(f"unknown run {run_id!r}: start a run first (the worker forgets runs on a code edit)")
    n = limits.check_number("steps", payload.get("steps", 1), 1, MAX_STEPS_PER_CALL, integer=True)
    run = RUNS[run_id]
    _, held_out = g.split_pairs()
    records, accuracy, last = [], [], None
    for _ in range(n):
        run, (last,) = g.run_steps(run, 1)
        records.append({"step": run["step"], **{k: last[k] for k in g.LOG_KEYS}})
        if run["step"] % EVAL_EVERY == 0:
            accuracy.append([run["step"], g.greedy_accuracy(run["params"], held_out)])
    RUNS[run_id] = run
    return json.dumps({"run": run_id, "step": run["step"], "records": records, "accuracy": accuracy,
                       "group": group_view(last)})


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct: 1 - C(n - c, k) / C(n, k)."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_correct(answers, correct) -> bool:
    """Is the most frequent of ``answers`` (ties: the one seen first) a correct one? answers, correct: (k,)."""
    votes: dict = {}
    for a in answers:
        votes[a] = votes.get(a, 0) + 1
    best = max(votes, key=lambda a: votes[a])            # dicts keep insertion order: first seen wins ties
    return bool(correct[list(answers).index(best)])


def pass_maj_at_k(params: dict, pairs: np.ndarray, rng: np.random.Generator, n: int = PASS_K) -> dict:
    """pass@k (unbiased estimator, Chen et al. 2021, arXiv 2107.03374) and maj@k (majority vote over k samples,
    averaged over the n // k disjoint runs of k samples; ties go to the answer seen first) for k = 1..n, from n
    samples at temperature 1 per prompt. maj@1 equals pass@1."""
    M = len(pairs)
    comps = g.sample(params, g.prompt_tokens(np.repeat(pairs, n, 0)), rng, 1.0)
    correct = g.rewards_of(comps, np.repeat(pairs, n, 0)).reshape(M, n)
    answers = ["".join(g.VOCAB[t] for t in row[: int(m.sum())]) for row, m in zip(comps, g.completion_mask(comps))]
    answers = np.array(answers).reshape(M, n)
    c = correct.sum(1)
    pass_k = [float(np.mean([pass_at_k(n, int(ci), k) for ci in c])) for k in range(1, n + 1)]
    maj_k = [float(np.mean([majority_correct(answers[m, j:j + k], correct[m, j:j + k])
                            for m in range(M) for j in range(0, n - k + 1, k)])) for k in range(1, n + 1)]
    return {"k": list(range(1, n + 1)), "pass": pass_k, "maj": maj_k}


def evaluate(payload_json: str) -> str:
    """{"run": id} -> {"step", "reference": {k, pass, maj}, "policy": {k, pass, maj}} on PASS_PROMPTS held-out
    prompts, PASS_K samples each (the same seeded draws for both policies)."""
    payload = limits.load_json(payload_json)
    run_id = payload.get("run")
    if run_id not in RUNS:
        raise ValueError(f"unknown run {run_id!r}: start a run first")
    run = RUNS[run_id]
    pairs = g.split_pairs()[1][:PASS_PROMPTS]
    ref = reference()
    if "pass" not in _REF:
        _REF["pass"] = pass_maj_at_k(ref["params"], pairs, np.random.default_rng(12345))
    return json.dumps({"step": run["step"], "reference": _REF["pass"],
                       "policy": pass_maj_at_k(run["params"], pairs, np.random.default_rng(12345))})


def initial_state() -> dict:
    """Step 0 of the default run: what the page shows before the reader presses Play."""
    ref = reference()
    return {"config": limits.defaults(LIMITS), "compare": "none", "compares": list(COMPARE), "speeds": SPEEDS,
            "speed": 60, "B": g.DEFAULTS["B"],
            "n_params": int(sum(v.size for v in ref["params"].values())),
            "ref_accuracy": ref["accuracy"], "runs": [{"records": [], "accuracy": [[0, ref["accuracy"]]]}],
            "group": None, "passk": None}
