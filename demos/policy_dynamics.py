"""Watch a policy learn from its siblings: a small, honest GRPO run the browser can animate.

One prompt q with K candidate answers, a verifiable reward per answer, a softmax policy over K logits
(pi_theta = softmax(theta)) and a frozen reference (the initial logits). Each step follows Algorithm 1 of
DeepSeekMath (arXiv 2402.03300) for one question: pi_old <- pi_theta, sample G answers with a seeded
``numpy.random.Generator``, compute their advantages, then take ``mu`` gradient steps on the GRPO loss of
``grpo_core`` (so from the second update on the ratio moves away from 1 and the clip can fire).
Each answer is a one-token completion (T = 1); the gradient w.r.t. the logits comes from ``grad_logp`` by
the chain rule: d log pi(a) / d theta_k = 1[a = k] - pi_k.

Baselines, for comparison: "group" (GRPO), "leave_one_out" (RLOO), "none" (REINFORCE: A = r) and
"critic" (a learned-critic stand-in: one scalar value V(q) trained by SGD on (r - V)^2, A = r - V).

Browser-friendly design: ``init_state(config)`` and ``step(state, config) -> (new_state, record)`` are pure;
the state holds the generator's state explicitly (as strings, so it survives JSON), so stepping one by one
equals ``run(config, n_steps)``. States, records and results are plain lists / floats / ints / strings.
Under Pyodide (numpy 2.0.2, wasm) a run draws the same samples as under CPython; floats agree to ~1e-13
(different libm), checked by running both.
Imports numpy and the standard library only.
"""

from __future__ import annotations

import math

import numpy as np

try:  # as a package (tests, build) or as flat files next to each other (Pyodide)
    from . import grpo_core as core
except ImportError:  # pragma: no cover
    import grpo_core as core

BASELINES = ("group", "leave_one_out", "none", "critic")

DEFAULT_CONFIG = {
    "question": "What is 7 \u00d7 8?",
    "answers": ["56", "54", "48", "63", "58", "64"],
    "rewards": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    "init_logits": [0.0, 1.2, 0.6, 0.9, 0.8, 0.4],
    "G": 8,
    "mu": 2,
    "lr": 1.0,
    "beta": 0.04,
    "eps_low": 0.2,
    "eps_high": None,
    "baseline": "group",
    "scale": "group",
    "loss_type": "grpo",
    "critic_lr": 0.2,
    "seed": 0,
}


# --------------------------------------------------------------------------- config and state


def make_config(config: dict | None = None, **overrides) -> dict:
    """DEFAULT_CONFIG updated by ``config`` and ``overrides``, checked. ValueError names a bad field."""
    cfg = {**DEFAULT_CONFIG, **(config or {}), **overrides}
    unknown = set(cfg) - set(DEFAULT_CONFIG)
    if unknown:
        raise ValueError(f"unknown config fields {sorted(unknown)}; known: {sorted(DEFAULT_CONFIG)}")
    K = len(cfg["rewards"])
    if K < 2:
        raise ValueError("need at least 2 candidate answers (rewards has fewer than 2 entries)")
    for name in ("init_logits", "answers"):
        if len(cfg[name]) != K:
            raise ValueError(f"{name} has {len(cfg[name])} entries but rewards has {K}")
    core._finite(cfg["rewards"], "rewards")
    core._finite(cfg["init_logits"], "init_logits")
    for name in ("G", "mu"):
        v = cfg[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
        cfg[name] = int(v)
    for name in ("lr", "beta", "critic_lr"):
        v = cfg[name]
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    for name in ("eps_low", "eps_high"):
        v = cfg[name]
        if v is not None and (not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0):
            raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    if cfg["eps_low"] is None:
        raise ValueError("eps_low must be a finite number > 0, got None")
    core._choice(cfg["baseline"], BASELINES, "baseline")
    core._choice(cfg["scale"], core.SCALES, "scale")
    core._choice(cfg["loss_type"], core.LOSS_TYPES, "loss_type")
    if cfg["baseline"] == "leave_one_out" and cfg["G"] < 2:
        raise ValueError("baseline 'leave_one_out' needs G >= 2")
    if isinstance(cfg["seed"], bool) or not isinstance(cfg["seed"], int) or cfg["seed"] < 0:
        raise ValueError(f"seed must be an integer >= 0, got {cfg['seed']!r}")
    return cfg


def _rng_to_state(rng: np.random.Generator) -> dict:
    s = rng.bit_generator.state
    return {"state": str(s["state"]["state"]), "inc": str(s["state"]["inc"]),
            "has_uint32": int(s["has_uint32"]), "uinteger": int(s["uinteger"])}


def _rng_from_state(d: dict) -> np.random.Generator:
    bg = np.random.PCG64(0)  # seeded: an unseeded PCG64 reads OS entropy (slow under Pyodide); state set next
    bg.state = {"bit_generator": "PCG64", "state": {"state": int(d["state"]), "inc": int(d["inc"])},
                "has_uint32": int(d["has_uint32"]), "uinteger": int(d["uinteger"])}
    return np.random.Generator(bg)


def init_state(config: dict | None = None) -> dict:
    """Step 0: theta = init_logits, reference = init_logits, critic value 0, generator seeded with ``seed``."""
    cfg = make_config(config)
    logits = [float(x) for x in cfg["init_logits"]]
    return {"step": 0, "logits": logits, "ref_logits": list(logits), "value": 0.0,
            "rng": _rng_to_state(np.random.default_rng(cfg["seed"]))}


# --------------------------------------------------------------------------- the math of one step


def log_softmax(logits) -> np.ndarray:
    """log pi_k = theta_k - logsumexp(theta). (K,) -> (K,)."""
    z = np.asarray(logits, dtype=float)
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def sample_group(probs: np.ndarray, G: int, rng: np.random.Generator) -> np.ndarray:
    """G answers drawn from ``probs`` (K,) by inverse CDF on ``rng.random(G)``. Returns int array (G,)."""
    cdf = np.cumsum(probs)
    return np.minimum(np.searchsorted(cdf, rng.random(G) * cdf[-1], side="right"), len(probs) - 1)


def advantages_for(rewards: np.ndarray, baseline: str, *, value: float = 0.0, scale: str = "group") -> np.ndarray:
    """Advantages of one or more groups, rewards (..., G) -> same shape.
    "group": GRPO (group_advantages with ``scale``); "leave_one_out": RLOO; "none": A = r; "critic": A = r - V."""
    r = np.asarray(rewards, dtype=float)
    if baseline == "group":
        return core.group_advantages(r, scale=scale)
    if baseline == "leave_one_out":
        return core.rloo_advantages(r)
    if baseline == "critic":
        return r - value
    return r.copy()


def critic_update(value: float, rewards: np.ndarray, critic_lr: float) -> float:
    """One SGD step on (1/2) mean (r - V)^2:  V <- V + critic_lr * mean(r - V)."""
    return float(value + critic_lr * np.mean(np.asarray(rewards) - value))


def logit_gradient(probs: np.ndarray, samples: np.ndarray, grad_logp: np.ndarray) -> np.ndarray:
    """Chain rule from per-sample d loss / d log pi(a_i) (shape (..., G)) to d loss / d theta (shape (..., K)):
    sum_i g_i (1[a_i = k] - pi_k). samples (..., G) ints, probs (K,)."""
    g = np.asarray(grad_logp, dtype=float)
    onehot = np.asarray(samples)[..., None] == np.arange(len(probs))
    return (g[..., None] * (onehot - probs)).sum(axis=-2)


def exact_kl(probs: np.ndarray, ref_probs: np.ndarray) -> float:
    """KL(pi_theta || pi_ref) = sum_k pi_k log(pi_k / pi_ref_k), exact over the K answers."""
    p = np.asarray(probs)
    nz = p > 0
    return float(np.sum(p[nz] * (np.log(p[nz]) - np.log(np.asarray(ref_probs)[nz]))))


def _loss_at(logits, samples, old_logp, ref_logp, advantages, cfg) -> core.GRPOLoss:
    logp = log_softmax(logits)[samples]
    G = len(samples)
    return core.grpo_loss(
        logp[:, None], old_logp[:, None], ref_logp[:, None], advantages, np.ones((G, 1)),
        eps_low=cfg["eps_low"], eps_high=cfg["eps_high"], beta=cfg["beta"], loss_type=cfg["loss_type"],
    )


class Diverged(ValueError):
    """The logits left the float range: too large a step (lr) taken too many times (mu) per batch."""

    def __init__(self, step: int, update: int, cfg: dict):
        super().__init__(f"the run diverged at step {step} (update {update + 1} of \u03bc = {cfg['mu']}): with learning rate "
                         f"{cfg['lr']:g} the logits grew until the KL penalty's exp(log \u03c0_ref \u2212 log \u03c0) "
                         f"overflowed; lower the learning rate or \u03bc")
        self.step = step


def step(state: dict, config: dict | None = None) -> tuple[dict, dict]:
    """One GRPO step: sample G answers from pi_old = pi_theta, score them, compute advantages, take ``mu``
    gradient steps of size ``lr`` on the loss. Pure: returns (new_state, record); ``state`` is not changed.

    record: step, probs_before, probs (after), samples, answers, rewards, advantages, loss (first update),
    losses / clip_fractions / mean_ratios (one per update), clip_fraction (mean over updates), kl (exact
    KL(pi_theta || pi_ref) after the step), kl_estimate (mean k3 of the sampled tokens before the step),
    expected_reward (sum_k pi_k r_k after), grad_norm (first update), value (critic's V before the step).
    """
    cfg = make_config(config)
    rng = _rng_from_state(state["rng"])
    theta = np.array(state["logits"], dtype=float)
    ref_log = log_softmax(state["ref_logits"])
    r_table = np.asarray(cfg["rewards"], dtype=float)

    old_log = log_softmax(theta)
    probs_before = np.exp(old_log)
    samples = sample_group(probs_before, cfg["G"], rng)
    rewards = r_table[samples]
    value = float(state["value"])
    adv = advantages_for(rewards, cfg["baseline"], value=value, scale=cfg["scale"])

    losses, clips, ratios, grad_norm, kl_estimate = [], [], [], 0.0, 0.0
    for update in range(cfg["mu"]):
        if not np.all(np.isfinite(theta)):
            raise Diverged(int(state["step"]) + 1, update, cfg)
        with np.errstate(over="ignore", invalid="ignore"):     # an overflow is reported as Diverged, not warned
            res = _loss_at(theta, samples, old_log[samples], ref_log[samples], adv, cfg)
            grad = logit_gradient(np.exp(log_softmax(theta)), samples, res.grad_logp[:, 0])
        if not np.all(np.isfinite(grad)):
            raise Diverged(int(state["step"]) + 1, update, cfg)
        if update == 0:
            grad_norm, kl_estimate = float(np.linalg.norm(grad)), res.stats["mean_kl"]
        losses.append(res.loss)
        clips.append(res.stats["clip_fraction"])
        ratios.append(res.stats["mean_ratio"])
        theta = theta - cfg["lr"] * grad

    probs = np.exp(log_softmax(theta))
    new_value = critic_update(value, rewards, cfg["critic_lr"]) if cfg["baseline"] == "critic" else value
    record = {
        "step": int(state["step"]) + 1,
        "probs_before": probs_before.tolist(),
        "probs": probs.tolist(),
        "samples": samples.tolist(),
        "answers": [cfg["answers"][i] for i in samples.tolist()],
        "rewards": rewards.tolist(),
        "advantages": np.asarray(adv, dtype=float).tolist(),
        "loss": losses[0],
        "losses": losses,
        "clip_fractions": clips,
        "clip_fraction": float(np.mean(clips)),
        "mean_ratios": ratios,
        "kl": exact_kl(probs, np.exp(ref_log)),
        "kl_estimate": kl_estimate,
        "expected_reward": float(probs @ r_table),
        "grad_norm": grad_norm,
        "value": value,
    }
    new_state = {"step": record["step"], "logits": theta.tolist(), "ref_logits": list(state["ref_logits"]),
                 "value": new_value, "rng": _rng_to_state(rng)}
    return new_state, record


def run(config: dict | None = None, n_steps: int = 50) -> dict:
    """The whole trajectory: {"config", "records" (one per step), "probs" (n_steps + 1 lists: before step 1,
    after each step), "expected_reward" (n_steps + 1), "final_state"}."""
    cfg = make_config(config)
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0, got {n_steps!r}")
    state = init_state(cfg)
    p0 = np.exp(log_softmax(state["logits"]))
    probs, expected, records = [p0.tolist()], [float(p0 @ np.asarray(cfg["rewards"], dtype=float))], []
    for _ in range(n_steps):
        state, rec = step(state, cfg)
        records.append(rec)
        probs.append(rec["probs"])
        expected.append(rec["expected_reward"])
    return {"config": cfg, "records": records, "probs": probs, "expected_reward": expected, "final_state": state}


# --------------------------------------------------------------------------- variance of the gradient


def true_gradient(logits, rewards) -> np.ndarray:
    """d J / d theta for J = sum_k pi_k r_k: pi_k (r_k - J). (K,) -> (K,)."""
    p = np.exp(log_softmax(logits))
    r = np.asarray(rewards, dtype=float)
    return p * (r - p @ r)


def gradient_variance(config: dict | None = None, *, n_groups: int = 512, baselines=BASELINES, value=None) -> dict:
    """How noisy is each baseline's gradient? At the config's initial policy (old = current, reference =
    current, so ratio 1 and no KL gradient), draw ``n_groups`` independent groups of G answers -- the
    same draws for every baseline, from the config's seed -- and compute each group's gradient ascent
    direction -d loss / d theta (K,).

    value: the critic's V(q) for "critic"; default the exact expected reward (a perfect critic).
    Returns {baseline: {"mean": [K], "variance": E||g - mean||^2, "relative_variance": variance / ||mean||^2,
    "cosine": mean cosine between g and the true gradient of E[r] (0 for a zero g), "zero_fraction":
    share of groups with a zero gradient}} plus "true_gradient": [K].
    """
    cfg = make_config(config)
    n = int(n_groups)
    if n < 2:
        raise ValueError(f"n_groups must be at least 2, got {n_groups!r}")
    theta = np.asarray(cfg["init_logits"], dtype=float)
    logp_all = log_softmax(theta)
    probs = np.exp(logp_all)
    r_table = np.asarray(cfg["rewards"], dtype=float)
    rng = np.random.default_rng(cfg["seed"])
    samples = sample_group(probs, n * cfg["G"], rng).reshape(n, cfg["G"])
    rewards = r_table[samples]
    v = float(probs @ r_table) if value is None else float(value)
    truth = true_gradient(theta, r_table)
    out = {"true_gradient": truth.tolist()}
    logp = logp_all[samples].reshape(-1, 1)
    for b in baselines:
        core._choice(b, BASELINES, "baseline")
        adv = advantages_for(rewards, b, value=v, scale=cfg["scale"]).reshape(-1)
        res = core.grpo_loss(logp, logp, logp, adv, np.ones_like(logp), eps_low=cfg["eps_low"],
                             eps_high=cfg["eps_high"], beta=cfg["beta"], loss_type=cfg["loss_type"])
        per_group = -n * res.grad_logp.reshape(n, cfg["G"])  # the loss averages over the n groups
        g = logit_gradient(probs, samples, per_group)  # (n, K)
        mean = g.mean(axis=0)
        variance = float(np.mean(np.sum((g - mean) ** 2, axis=1)))
        norms = np.linalg.norm(g, axis=1)
        cos = np.divide(g @ truth, norms * np.linalg.norm(truth), out=np.zeros(n), where=norms > 0)
        out[b] = {
            "mean": mean.tolist(),
            "variance": variance,
            "relative_variance": variance / float(mean @ mean) if mean @ mean > 0 else math.inf,
            "cosine": float(cos.mean()),
            "zero_fraction": float(np.mean(norms == 0)),
        }
    return out


def to_json(obj):
    """Plain Python (lists, floats, ints, str, bool, None) from numpy arrays/scalars, recursively."""
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_json(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
