"""Reader inputs as data, and the one validator every demo's Python entry uses.

A demo declares each input once, in its ``LIMITS``::

    {"G": {"default": 8, "min": 2, "max": 64, "step": 1, "integer": True},
     "baseline": {"default": "mean", "choices": ["mean", "leave_one_out"]}}

The build hands ``LIMITS`` to the page (the template's ``min``/``max``/``step``, the view's URL-hash parser) and
:func:`check` applies the same bounds in Python, so a bound is written once. Imports only the standard library.
"""

from __future__ import annotations

import json
import math


def load_json(payload_json: str) -> dict:
    """The JSON object a view sent; ValueError with a clear message otherwise."""
    try:
        payload = json.loads(payload_json)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"payload is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ValueError("payload must be a JSON object")
    return payload


def check_choice(key: str, value, allowed) -> object:
    """``value`` if it is one of ``allowed`` (True/1 and False/0 are told apart), else ValueError."""
    if not any(value == a and isinstance(value, bool) == isinstance(a, bool) for a in allowed):
        raise ValueError(f"{key} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def check_number(key: str, value, lo: float, hi: float, *, integer: bool = False) -> float | int:
    """A finite number in [lo, hi] (a whole one if ``integer``), else ValueError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key} must be a finite number, got {value!r}")
    if integer and value != int(value):
        raise ValueError(f"{key} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{key} must be between {lo:g} and {hi:g}, got {value!r}")
    return int(value) if integer else float(value)


def check_object(key: str, value, fields: dict) -> dict:
    """An object of named inputs, each checked against its spec in ``fields``; specs with ``"required": True``
    must be present, the others may be left out (and are then left out of the result)."""
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be an object")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ValueError(f"{key}: unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                         f"expected {', '.join(fields)}")
    missing = [k for k, spec in fields.items() if spec.get("required") and k not in value]
    if missing:
        raise ValueError(f"{key}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing")
    return {k: check_value(f"{key}.{k}", v, fields[k]) for k, v in value.items()}


def check_value(key: str, value, spec: dict):
    """One input against its spec: ``choices`` (or, with ``object``, an object of named inputs instead), or
    ``min``/``max`` (``integer``), or ``items``: a list of such specs."""
    if "object" in spec and isinstance(value, dict):
        return check_object(key, value, spec["object"])
    if "choices" in spec:
        return check_choice(key, value, spec["choices"])
    if "items" in spec:   # a list of numbers, e.g. a group's rewards: {"items": {min, max}, "min_len", "max_len"}
        if not isinstance(value, list) or not spec["min_len"] <= len(value) <= spec["max_len"]:
            raise ValueError(f"{key} must be a list of {spec['min_len']} to {spec['max_len']} numbers")
        return [check_value(f"{key}[{i + 1}]", v, spec["items"]) for i, v in enumerate(value)]
    return check_number(key, value, spec["min"], spec["max"], integer=spec.get("integer", False))


def defaults(limits: dict) -> dict:
    """{input: default} for every input of ``limits``."""
    return {k: spec["default"] for k, spec in limits.items()}


def check(limits: dict, payload: dict, *, partial: bool = True) -> dict:
    """Validated inputs: every key of ``limits``, missing ones at their default (``partial``); an unknown key or
    a value out of its limits is a ValueError whose message names the input."""
    unknown = sorted(set(payload) - set(limits))
    if unknown:
        raise ValueError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                         f"expected {', '.join(limits)}")
    out = {}
    for key, spec in limits.items():
        if key not in payload and not partial:
            raise ValueError(f"{key} is missing")
        out[key] = check_value(key, payload.get(key, spec["default"]), spec)
    return out
