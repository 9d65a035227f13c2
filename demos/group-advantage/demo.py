"""Group-advantage demo: one group of G completions, a reward slider each, and their advantages.

Reader inputs (``LIMITS``): the rewards r_i, whether to divide by the group's std (GRPO) or not (Dr. GRPO), the
std's ddof, and the baseline (group mean or leave-one-out). The math is ``grpo_core.group_advantages``.
"""

from __future__ import annotations

import json

import numpy as np

from demos import grpo_core, limits

MAX_GROUP = 64
LIMITS = {
    "rewards": {"default": None, "items": {"min": 0.0, "max": 1.0, "step": 0.05}, "min_len": 2, "max_len": MAX_GROUP},
    "normalise": {"default": True, "choices": [True, False]},
    "ddof": {"default": 1, "choices": [1, 0]},
    "baseline": {"default": "mean", "choices": ["mean", "leave_one_out"]},
}
CODE = [("demos/grpo_core.py", "group_advantages")]
# "Predict, then try" (the shared frame shows them beside the controls; "state" is this demo's URL-hash format,
# the text its "Copy link to this setup" writes; the numbers in "look" are checked in tests/test_reader_path.py).
PROMPTS = [
    {"ask": "Answer #3 (\u201cIt arrives at 4:35.\u201d, reward 0.70) is in every group. Among strong siblings, "
            "will GRPO push it up or down?",
     "state": "g:strong;r:1,1,0.7,0.9,1,1,0.9,1;n:1;d:1;b:mean",
     "look": "Down: its advantage is \u22122.24, because its siblings did better. In the weak group the same "
             "0.70 gets +2.36. Good is relative to the group."},
    {"ask": "Give all eight answers the same reward, 0.50. What does this group teach the policy?",
     "state": "g:mixed;r:0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5;n:1;d:1;b:mean",
     "look": "Nothing: every advantage is 0 whatever the common reward is (TRL adds 10\u207b\u2074 to the std, "
             "so nothing divides by zero)."},
    {"ask": "Stop dividing by the std (Dr. GRPO). Which bars change, and does their order?",
     "state": "g:mixed;r:1,0,0.7,1,0.3,0.1,0.9,0;n:0;d:1;b:mean",
     "look": "Every advantage shrinks by the same factor, the std (0.447): +1.12 becomes +0.50. Order and "
             "signs stay the same."},
]

PROBLEM = "A train leaves at 2:45 pm and the trip takes 1 h 50 min. At what time does it arrive?"
RUBRIC = ("Reward-model score in [0, 1]: 1 = right time with working, partial credit for a right "
          "method with a slip or a bare answer.")
# The same completion 3 ("It arrives at 4:35.", score 0.70) appears in all three groups: only its siblings change.
GROUPS = {
    "mixed": ("Mixed group", [
        ("2:45 pm + 1 h = 3:45 pm; + 50 min = 4:35 pm.", 1.0),
        ("2:45 + 1:50 = 3:95, so 3:95 pm.", 0.0),
        ("It arrives at 4:35.", 0.7),
        ("2:45 + 2 h = 4:45, minus 10 min: 4:35 pm.", 1.0),
        ("2:45 + 50 min = 3:35, + 1 h = 4:35 am.", 0.3),
        ("1 h 50 min = 110 min; 2:45 + 110 min = 4:55 pm.", 0.1),
        ("165 min after noon + 110 min = 275 min = 4:35 pm.", 0.9),
        ("The trip is long, so about 5:00 pm.", 0.0),
    ]),
    "weak": ("Weak group", [
        ("2:45 + 1:50 = 3:95 pm.", 0.0),
        ("2 + 1 = 3 and 45 + 50 = 95, so 3:95.", 0.0),
        ("It arrives at 4:35.", 0.7),
        ("2:45 + 1 h 50 min = 4:25 pm.", 0.2),
        ("About 4 pm.", 0.1),
        ("3:35 pm.", 0.0),
        ("2:45 + 110 = 2:155, so 3:55 pm.", 0.1),
        ("1:50 after 2:45 is 12:55.", 0.0),
    ]),
    "strong": ("Strong group", [
        ("2:45 pm + 1 h = 3:45 pm; + 50 min = 4:35 pm.", 1.0),
        ("110 min after 2:45 pm: 3:45 pm, then 4:35 pm.", 1.0),
        ("It arrives at 4:35.", 0.7),
        ("2:45 + 1:50 = 3:95 = 4:35 pm.", 0.9),
        ("Add 2 h, subtract 10 min: 4:35 pm.", 1.0),
        ("15 min to 3:00, 95 min left: 4:35 pm.", 1.0),
        ("4:35 pm (2:45 + 1:50).", 0.9),
        ("2:45 pm + 1:50 = 4:35 pm.", 1.0),
    ]),
}


def group_result(options: dict) -> dict:
    """Advantages of one group (G,) and what the chart draws: mean, std (the chosen ddof), sum, all_equal, and
    the rewards they belong to (the view draws an answer with its own rewards, even if sliders moved since)."""
    rewards = np.asarray(options["rewards"], dtype=np.float64)[None, :]  # (1, G)
    adv = grpo_core.group_advantages(
        rewards,
        scale="group" if options["normalise"] else "none",
        baseline=options["baseline"],
        ddof=options["ddof"],
    )[0]
    return {
        "rewards": rewards[0].tolist(),
        "advantages": adv.tolist(),
        "mean": float(rewards.mean()),
        "std": float(grpo_core.reward_std(rewards, ddof=options["ddof"])[0, 0]),
        "sum": float(adv.sum()),
        "all_equal": bool(np.all(rewards == rewards[0, 0])),
    }


def parse(payload: dict) -> dict:
    """Validated inputs; the rewards are required."""
    if payload.get("rewards") is None:
        raise ValueError(f"rewards must be a list of 2 to {MAX_GROUP} numbers")
    return limits.check(LIMITS, payload)


def advantages(payload_json: str) -> str:
    """{"rewards": [G floats in 0..1], "normalise": bool, "ddof": 0|1, "baseline": "mean"|"leave_one_out"}
    -> {"rewards": [G], "advantages": [G], "mean", "std", "sum", "all_equal"}."""
    return json.dumps(group_result(parse(limits.load_json(payload_json))))


def initial_state() -> dict:
    """The mixed group with GRPO's defaults, and the three preset groups."""
    groups = {key: {"label": label, "completions": [t for t, _ in items], "rewards": [r for _, r in items]}
              for key, (label, items) in GROUPS.items()}
    options = {k: LIMITS[k]["default"] for k in ("normalise", "ddof", "baseline")}
    rewards = groups["mixed"]["rewards"]
    return {"problem": PROBLEM, "rubric": RUBRIC, "groups": groups, "group": "mixed", "options": options,
            "rewards": rewards, "result": group_result(parse(dict(options, rewards=rewards)))}
