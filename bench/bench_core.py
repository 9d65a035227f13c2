"""Benchmarks of the numpy core, the dynamics demo and the memory model.

``main()`` returns rows (name, value, unit, target) for bench/run.py; run directly it prints them:
    .venv/bin/python bench/bench_core.py
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from demos import grpo_core, memory, policy_dynamics  # noqa: E402

N, T = 256, 1024


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _batch(seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(T // 4, T + 1, N)
    mask = np.arange(T)[None, :] < lengths[:, None]
    old = -rng.uniform(0.01, 5.0, (N, T))
    logp = old + rng.normal(0, 0.2, (N, T))
    ref = old + rng.normal(0, 0.2, (N, T))
    adv = grpo_core.group_advantages(rng.integers(0, 2, (N // 16, 16)).astype(float)).reshape(-1)
    return logp, old, ref, adv, mask


def loop_reference(logp, old, ref, adv, mask, eps=0.2, beta=0.04):
    """The GRPO loss ("grpo" aggregation) and its gradient, one token at a time in plain Python."""
    logp, old, ref, mask, adv = logp.tolist(), old.tolist(), ref.tolist(), mask.tolist(), adv.tolist()
    n = len(logp)
    loss = 0.0
    grad = [[0.0] * len(row) for row in logp]
    for i in range(n):
        length = sum(1 for m in mask[i] if m)
        w = 1.0 / (n * length)
        a = adv[i]
        for t in range(len(logp[i])):
            if not mask[i][t]:
                continue
            ratio = math.exp(logp[i][t] - old[i][t])
            clipped = min(max(ratio, 1 - eps), 1 + eps)
            surrogate = min(ratio * a, clipped * a)
            d = ref[i][t] - logp[i][t]
            kl = math.exp(d) - d - 1
            loss += w * (-surrogate + beta * kl)
            fires = (a > 0 and ratio > 1 + eps) or (a < 0 and ratio < 1 - eps)
            grad[i][t] = w * ((0.0 if fires else -ratio * a) + beta * (1 - math.exp(d)))
    return loss, np.array(grad)


def main() -> list[tuple]:
    rows = []
    batch = _batch()
    vec = _median_seconds(lambda: grpo_core.grpo_loss(*batch), repeats=7)
    rows.append((f"grpo_loss N={N} T={T} (median of 7)", vec * 1e3, "ms", None))

    ref_loss, ref_grad = loop_reference(*batch)
    res = grpo_core.grpo_loss(*batch)
    if not (math.isclose(ref_loss, res.loss, rel_tol=1e-9) and np.allclose(ref_grad, res.grad_logp, rtol=1e-9, atol=1e-15)):
        raise SystemExit("loop reference and grpo_loss disagree")
    loop = _median_seconds(lambda: loop_reference(*batch), repeats=3)
    rows.append(("per-token Python loop reference (median of 3)", loop * 1e3, "ms", None))
    rows.append(("speed-up of grpo_loss over the loop", loop / vec, "x", None))

    cfg = policy_dynamics.make_config({})
    n_steps = 200

    def run_steps():
        state = policy_dynamics.init_state(cfg)
        for _ in range(n_steps):
            state, _ = policy_dynamics.step(state, cfg)

    per_step = _median_seconds(run_steps, repeats=3) / n_steps
    rows.append((f"policy_dynamics.step (K={len(cfg['rewards'])}, G={cfg['G']}, mu={cfg['mu']})", per_step * 1e3, "ms", "<= 4"))
    per_step_mu4 = _median_seconds(lambda: policy_dynamics.run({"mu": 4, "G": 16}, 100), repeats=3) / 100
    rows.append(("policy_dynamics.step (G=16, mu=4)", per_step_mu4 * 1e3, "ms", "<= 4"))
    compare = _median_seconds(lambda: memory.compare("Qwen2.5-7B"), repeats=5)
    rows.append(("memory.compare (incl. 2 GPU-count searches)", compare * 1e3, "ms", None))

    plain = dict(zero_stage=0, n_gpus=1)
    for name in memory.PRESETS:
        half = memory.compare(name, reward="verifier", ppo_reward="model", **plain)["model_state_ratio"]
        same = memory.model_state_ratio(name, reward="verifier", **plain)
        totals = memory.compare(name)  # defaults: ZeRO-3 on 8 GPUs, G=8, 32 prompts, 256+1024 tokens
        rows.append((f"{name}: model states GRPO(verifier)/PPO(reward model)", half, "ratio", None))
        rows.append((f"{name}: model states GRPO/PPO, both with a verifier", same, "ratio", None))
        rows.append((f"{name}: total per GPU GRPO/PPO (defaults)", totals["ratio"], "ratio", None))
    return rows


def _print(rows) -> None:
    width = max(len(r[0]) for r in rows)
    for name, value, unit, target in rows:
        shown = f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
        print(f"{name:<{width}}  {shown:>10} {unit:<5} {'target ' + target if target else ''}")


if __name__ == "__main__":
    _print(main())
