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

from demos import grpo_core

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


def advantages(payload_json: str) -> str:
    """{"rewards": [G floats], "normalise": bool, "ddof": 0|1, "baseline": "mean"|"leave_one_out"}
    -> {"advantages": [G], "mean", "std", "sum", "all_equal"}."""
    return json.dumps(group_result(parse_group(_load(payload_json))))
