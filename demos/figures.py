"""Build-time side of the live demos (CPython only; may import matplotlib).

For each demo name:
  * ``initial_state(name) -> dict``: the numbers the page starts from (computed by the same
    ``demos.web`` functions the browser's worker calls, so the static page and the live page agree);
  * ``static_figure(name) -> str``: an SVG drawn by matplotlib from those numbers, shown before
    (or instead of) the live figure;
  * ``code_files(name) -> list[str]``: the files shown, editable, in the demo's "Python" tab.
"""

from __future__ import annotations

import io
import json

from demos import web

DEMOS = ("group-advantage", "memory", "policy-dynamics")

# --------------------------------------------------------------------------- group-advantage data

PROBLEM = "A train leaves at 2:45 pm and the trip takes 1 h 50 min. At what time does it arrive?"
RUBRIC = ("Reward-model score in [0, 1]: 1 = right time with working, partial credit for a right "
          "method with a slip or a bare answer.")
# The same completion 3 ("It arrives at 4:35.", score 0.70) appears in all three groups: only its siblings change.
GROUPS = {
    "mixed": [
        ("2:45 pm + 1 h = 3:45 pm; + 50 min = 4:35 pm.", 1.0),
        ("2:45 + 1:50 = 3:95, so 3:95 pm.", 0.0),
        ("It arrives at 4:35.", 0.7),
        ("2:45 + 2 h = 4:45, minus 10 min: 4:35 pm.", 1.0),
        ("2:45 + 50 min = 3:35, + 1 h = 4:35 am.", 0.3),
        ("1 h 50 min = 110 min; 2:45 + 110 min = 4:55 pm.", 0.1),
        ("165 min after noon + 110 min = 275 min = 4:35 pm.", 0.9),
        ("The trip is long, so about 5:00 pm.", 0.0),
    ],
    "weak": [
        ("2:45 + 1:50 = 3:95 pm.", 0.0),
        ("2 + 1 = 3 and 45 + 50 = 95, so 3:95.", 0.0),
        ("It arrives at 4:35.", 0.7),
        ("2:45 + 1 h 50 min = 4:25 pm.", 0.2),
        ("About 4 pm.", 0.1),
        ("3:35 pm.", 0.0),
        ("2:45 + 110 = 2:155, so 3:55 pm.", 0.1),
        ("1:50 after 2:45 is 12:55.", 0.0),
    ],
    "strong": [
        ("2:45 pm + 1 h = 3:45 pm; + 50 min = 4:35 pm.", 1.0),
        ("110 min after 2:45 pm: 3:45 pm, then 4:35 pm.", 1.0),
        ("It arrives at 4:35.", 0.7),
        ("2:45 + 1:50 = 3:95 = 4:35 pm.", 0.9),
        ("Add 2 h, subtract 10 min: 4:35 pm.", 1.0),
        ("15 min to 3:00, 95 min left: 4:35 pm.", 1.0),
        ("4:35 pm (2:45 + 1:50).", 0.9),
        ("2:45 pm + 1:50 = 4:35 pm.", 1.0),
    ],
}
GROUP_LABELS = {"mixed": "Mixed group", "weak": "Weak group", "strong": "Strong group"}
DEFAULT_OPTIONS = {"normalise": True, "ddof": 1, "baseline": "mean"}


def _group_state() -> dict:
    groups = {}
    for key, items in GROUPS.items():
        rewards = [r for _, r in items]
        groups[key] = {
            "label": GROUP_LABELS[key],
            "completions": [t for t, _ in items],
            "rewards": rewards,
        }
    options = dict(DEFAULT_OPTIONS, rewards=groups["mixed"]["rewards"])
    result = json.loads(web.advantages_json(json.dumps(options)))
    return {
        "problem": PROBLEM,
        "rubric": RUBRIC,
        "groups": groups,
        "group": "mixed",
        "options": DEFAULT_OPTIONS,
        "rewards": groups["mixed"]["rewards"],
        "result": result,
        "slider": {"min": 0.0, "max": 1.0, "step": 0.05},
    }


# --------------------------------------------------------------------------- memory and dynamics


PROMINENT_MODELS = ("Llama-2-7B", "Llama-2-13B", "Llama-2-70B")


def _memory_state() -> dict:
    from demos import memory

    options = dict(web.MEMORY_DEFAULTS)
    return {
        "models": [{"name": n, "params": memory.param_count(c), "hf_id": c.hf_id} for n, c in memory.PRESETS.items()],
        "prominent": list(PROMINENT_MODELS),
        "options": options,
        "lora_ranks": list(web.LORA_RANKS),
        "result": web.memory_result(options),
    }


STATIC_STEPS = 40


def _dynamics_state() -> dict:
    payload = {"config": dict(web.DYNAMICS_DEFAULTS), "state": None, "steps": 0}
    start = web.dynamics_result(payload)
    preview = web.dynamics_result(dict(payload, steps=STATIC_STEPS))
    return {
        "config": dict(web.DYNAMICS_DEFAULTS),
        "question": start["question"],
        "answers": start["answers"],
        "rewards": start["rewards"],
        "probs": start["probs"],
        "ref_probs": start["ref_probs"],
        "preview": [start["probs"]] + [r["probs"] for r in preview["records"]],
        "speeds": [1, 2, 5, 10, 30, 60],
        "speed": 5,
    }


# --------------------------------------------------------------------------- public API


def initial_state(name: str) -> dict:
    """The build-time state of demo ``name`` (JSON-serialisable)."""
    if name == "group-advantage":
        return _group_state()
    if name == "memory":
        return _memory_state()
    if name == "policy-dynamics":
        return _dynamics_state()
    raise ValueError(f"unknown demo {name!r}; expected one of {', '.join(DEMOS)}")


def code_files(name: str) -> list[str]:
    """Repository paths of the Python files the demo runs (shown and editable in its Python tab)."""
    files = {
        "group-advantage": ["demos/grpo_core.py"],
        "memory": ["demos/memory.py"],
        "policy-dynamics": ["demos/policy_dynamics.py", "demos/grpo_core.py"],
    }
    if name not in files:
        raise ValueError(f"unknown demo {name!r}; expected one of {', '.join(DEMOS)}")
    return files[name]


def static_figure(name: str) -> str:
    """SVG text of demo ``name``'s build-time figure (matplotlib, deterministic output)."""
    state = initial_state(name)
    draw = {"group-advantage": _draw_group, "memory": _draw_memory, "policy-dynamics": _draw_dynamics}[name]
    return _to_svg(draw, state)


# --------------------------------------------------------------------------- drawing (matplotlib)

POS, NEG, INK, GRID, MUTED = "#2563eb", "#dc6a1f", "#1f2328", "#d0d7de", "#57606a"


def _to_svg(draw, state) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context({
        "svg.fonttype": "none", "svg.hashsalt": "grpo-demos", "font.size": 10,
        "font.family": "sans-serif", "axes.edgecolor": GRID, "axes.labelcolor": INK,
        "xtick.color": MUTED, "ytick.color": MUTED, "axes.spines.top": False, "axes.spines.right": False,
    }):
        fig = draw(plt, state)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
        plt.close(fig)
    return buf.getvalue()


def _draw_group(plt, state):
    rewards, res = state["rewards"], state["result"]
    adv, mean, std = res["advantages"], res["mean"], res["std"]
    x = list(range(1, len(rewards) + 1))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 4.2), sharex=True, gridspec_kw={"hspace": 0.35})
    top.bar(x, rewards, color=MUTED, width=0.6)
    top.axhline(mean, color=INK, lw=1.5)
    for s in (-1, 1):
        top.axhline(mean + s * std, color=INK, lw=1, ls="--")
    top.text(len(x) + 0.75, mean, "mean", va="center", color=INK, fontsize=9)
    top.text(len(x) + 0.75, mean + std, "+std", va="center", color=INK, fontsize=9)
    top.text(len(x) + 0.75, mean - std, "\u2212std", va="center", color=INK, fontsize=9)
    top.set_ylim(0, 1.05)
    top.set_ylabel("reward $r_i$")
    bottom.bar(x, adv, color=[POS if a >= 0 else NEG for a in adv], width=0.6)
    bottom.axhline(0, color=INK, lw=1)
    lim = max(2.0, max(abs(a) for a in adv) * 1.15)
    bottom.set_ylim(-lim, lim)
    bottom.set_ylabel("advantage $\\hat{A}_i$")
    bottom.set_xticks(x, [f"#{i}" for i in x])
    bottom.set_xlabel("completion")
    return fig


COMPONENT_COLOURS = ("#1d5fd1", "#5b8def", "#9db9f4", "#b4531a", "#d98b3a", "#e8bf7f", "#2f8f5b", "#7cc49a", "#8c959f")


def _draw_memory(plt, state):
    res = state["result"]
    comps, labels = res["components"], res["labels"]
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    rows = [("PPO", res["ppo"]), ("GRPO", res["grpo"])]
    labelled = set()
    for y, (name, r) in enumerate(rows):
        left = 0.0
        for comp, colour in zip(comps, COMPONENT_COLOURS):
            gb = r["breakdown"][comp] / 1e9
            if gb > 0:
                ax.barh(y, gb, left=left, color=colour, height=0.55, label=None if comp in labelled else labels[comp])
                labelled.add(comp)
            left += gb
        n = r["gpus_needed_80gb"]
        fits = f"fits on {n} \u00d7 80 GB" if n else "does not fit on 80 GB GPUs"
        ax.text(left, y, f"  {left:.0f} GB/GPU, {fits}", va="center", color=INK, fontsize=9)
    ax.axvline(80, color=INK, lw=1, ls="--")
    ax.text(80, 1.45, " 80 GB", color=INK, fontsize=9, va="center")
    ax.set_yticks([0, 1], [name for name, _ in rows])
    ax.set_ylim(-0.6, 1.7)
    ax.set_xlim(0, max(r["total"] for _, r in rows) / 1e9 * 1.6)
    ax.set_xlabel(f"GB per GPU ({state['options']['model']}, {state['options']['n_gpus']} GPUs, ZeRO-{state['options']['zero_stage']})")
    handles, names = ax.get_legend_handles_labels()
    ax.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3, fontsize=8, frameon=False)
    return fig


def _draw_dynamics(plt, state):
    import numpy as np

    probs = np.asarray(state["preview"])  # (steps + 1, K)
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    for k, answer in enumerate(state["answers"]):
        correct = state["rewards"][k] > 0
        ax.plot(probs[:, k], color=POS if correct else MUTED, lw=2.2 if correct else 1.1,
                label=f"{answer} (reward {state['rewards'][k]:g})")
    ax.set_ylim(0, 1)
    ax.set_xlim(0, len(probs) - 1)
    ax.set_xlabel(f"GRPO step (G = {state['config']['G']}, seed {state['config']['seed']})")
    ax.set_ylabel("\u03c0(answer)")
    ax.set_title(state["question"], fontsize=10, color=INK)
    ax.legend(loc="center right", fontsize=8, frameon=False)
    return fig
