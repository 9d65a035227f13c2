"""The GRPO objective in numpy: one pure function per equation.

Source: DeepSeekMath, arXiv 2402.03300, Section 4.1 (Eq. 3 objective, Eq. 4 KL estimator,
outcome and process supervision) and Appendix A.1.6 (gradient coefficient). Trainer semantics
(epsilon in the std, sample std, loss aggregation names) follow Hugging Face TRL's GRPOTrainer.

Names match the chapter's symbols (kept in the project's notation file, MATH_CONVENTIONS.md):
``logp`` = log pi_theta, ``old_logp`` = log pi_old,
``ref_logp`` = log pi_ref, ``ratio`` = rho, ``advantages`` = A-hat, ``eps_low``/``eps_high`` = epsilon,
``beta`` = beta. Shapes: B prompts, G completions per prompt, N = B*G completions, T tokens
(padded width). Everything is vectorised: no Python loop over completions or tokens.

Imports numpy and the standard library only (runs under CPython and Pyodide).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SCALES = ("group", "batch", "none")
BASELINES = ("mean", "leave_one_out")
KL_KINDS = ("k1", "k2", "k3")
LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")

__all__ = [
    "GRPOLoss",
    "group_advantages",
    "rloo_advantages",
    "group_baseline",
    "reward_std",
    "standardise",
    "process_advantages",
    "kl_penalty",
    "kl_penalty_grad",
    "importance_ratio",
    "clipped_surrogate",
    "clipped_tokens",
    "surrogate_grad",
    "per_token_loss",
    "aggregation_weights",
    "aggregate",
    "grpo_loss",
]


# --------------------------------------------------------------------------- input checks


def _finite(x, name: str) -> np.ndarray:
    """``x`` as a float array; ValueError naming ``name`` if it holds NaN or inf."""
    a = np.asarray(x, dtype=float)
    bad = ~np.isfinite(a)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} contains NaN or inf (first at index {where})")
    return a


def _choice(value, allowed: tuple, name: str):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def _check_ddof_eps(ddof, eps) -> None:
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 (population std) or 1 (sample std), got {ddof!r}")
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, defined as 0 where den == 0 (only happens when num == 0 too: a zero-spread set)."""
    den = np.broadcast_to(den, num.shape)
    out = np.zeros(num.shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


# --------------------------------------------------------------------------- advantages


def _first(x: np.ndarray, axis) -> np.ndarray:
    """The first entry along ``axis`` (None: of all entries), keeping dims. Means and stds are shift-invariant;
    subtracting it first makes a set of equal values exactly 0, whose float mean need not equal them (0.0225
    three times averages to 0.022500000000000003: then (r - mean) / std is noise / noise, e.g. -0.82)."""
    return x.reshape(-1)[:1].reshape((1,) * x.ndim) if axis is None else np.take(x, [0], axis=axis)


def standardise(values: np.ndarray, *, axis=None, ddof: int = 1, eps: float = 1e-4) -> np.ndarray:
    """(x - mean(x)) / (std(x) + eps) along ``axis`` (None: over all entries). Shape: like ``values``.

    A set with a single entry has no spread: its standardised value is 0 (std taken as 0), whatever ddof; so is
    every entry of a set of equal values, exactly.
    """
    x = np.asarray(values, dtype=float)
    n = x.size if axis is None else x.shape[axis]
    d = x - _first(x, axis)
    centred = d - d.mean(axis=axis, keepdims=True)
    var = (centred**2).sum(axis=axis, keepdims=True) / max(n - ddof, 1)
    return _safe_divide(centred, np.sqrt(var) + eps)


def group_baseline(rewards: np.ndarray, baseline: str = "mean") -> np.ndarray:
    """Baseline b_i subtracted from each reward. rewards (B, G) -> (B, G).

    "mean": b_i = mean_j r_j (GRPO).  "leave_one_out": b_i = mean_{j != i} r_j (RLOO, arXiv 2402.14740);
    needs G >= 2.
    """
    r = np.asarray(rewards, dtype=float)
    G = r.shape[-1]
    r0 = _first(r, -1)                      # summed relative to it: a group of equal rewards has b_i = r_i exactly
    d = r - r0
    total = d.sum(axis=-1, keepdims=True)
    if baseline == "mean":
        return np.broadcast_to(r0 + total / G, r.shape)
    if G < 2:
        raise ValueError("baseline='leave_one_out' needs at least 2 completions per group (G >= 2), got G = 1")
    return r0 + (total - d) / (G - 1)


def reward_std(rewards: np.ndarray, *, scale: str = "group", ddof: int = 1) -> np.ndarray:
    """std(r) that divides the centred rewards. rewards (B, G) -> (B, 1) for "group", (1, 1) for "batch".

    ddof=1: sample std (TRL, verl, OpenRLHF); ddof=0: population std. A set of one reward has std 0.
    """
    r = np.asarray(rewards, dtype=float)
    axis = -1 if scale == "group" else None
    n = r.shape[-1] if scale == "group" else r.size
    d = r - _first(r, axis)                 # a set of equal rewards has std exactly 0
    centred = d - d.mean(axis=axis, keepdims=True)
    var = (centred**2).sum(axis=axis, keepdims=True) / max(n - ddof, 1)
    return np.sqrt(var).reshape((-1, 1) if scale == "group" else (1, 1))


def group_advantages(rewards, *, scale: str = "group", baseline: str = "mean", ddof: int = 1, eps: float = 1e-4):
    """Outcome-supervision advantages  A_i = (r_i - b_i) / (std + eps).

    rewards: (B, G) -- B prompts, G completions each -- or (G,) for one group. Returns float array, same shape.

    scale: "group" divides by each group's std (TRL ``scale_rewards="group"``, the paper's Â),
           "batch" by the std of all rewards of the batch (baseline still per group),
           "none" does not divide (Dr. GRPO, arXiv 2503.20783).
    baseline: "mean" (GRPO) or "leave_one_out" (RLOO).
    ddof: 1 = sample std (every trainer), 0 = population std. eps: added to the std (TRL: 1e-4;
    eps = 0 gives the paper's formula exactly).

    The defaults reproduce TRL's advantages: rewards [1, 0, 0, 0] -> [1.5, -0.5, -0.5, -0.5].

    Degenerate input, with a defined answer:
      * all rewards of a group equal -> advantage 0 for every completion of that group;
      * G = 1 with baseline "mean" -> advantage 0 (r - mean(r) = 0). Trainers differ here: TRL refuses
        num_generations < 2 for training (ValueError, since v0.17) and, for evaluation with
        num_generations_eval = 1 (from v0.27), sets the std to 0, so the advantage is 0 as here; verl gives a group
        of one mean 0 and std 1, so its advantage is r / (1 + 1e-6), about r, not 0.
        G = 1 with "leave_one_out" -> ValueError (no other sample).
    ValueError for NaN/inf rewards, an array that is not 1-D or 2-D, an empty group, an unknown
    scale/baseline, ddof not in {0, 1}, or eps < 0.
    """
    _choice(scale, SCALES, "scale")
    _choice(baseline, BASELINES, "baseline")
    _check_ddof_eps(ddof, eps)
    r = _finite(rewards, "rewards")
    if r.ndim not in (1, 2) or r.shape[-1] == 0 or r.size == 0:
        raise ValueError(f"rewards must have shape (B, G) or (G,) with G >= 1, got shape {r.shape}")
    r2 = r.reshape(-1, r.shape[-1])
    centred = r2 - group_baseline(r2, baseline)
    if scale == "none":
        adv = centred
    else:
        adv = _safe_divide(centred, reward_std(r2, scale=scale, ddof=ddof) + eps)
    return adv.reshape(r.shape)


def rloo_advantages(rewards, *, scale: str = "none"):
    """RLOO (arXiv 2402.14740): A_i = r_i - mean_{j != i} r_j. rewards (B, G) or (G,), G >= 2 -> same shape.

    Equal to ``group_advantages(rewards, baseline="leave_one_out", scale=scale)``. Identity:
    r_i - mean(r) = ((G - 1) / G) * (r_i - mean_{j != i} r_j).
    """
    return group_advantages(rewards, scale=scale, baseline="leave_one_out")


def process_advantages(step_rewards, step_ends, T: int, *, ddof: int = 1, eps: float = 1e-4) -> np.ndarray:
    """Process-supervision advantages (arXiv 2402.03300, Sec. 4.1.3). Returns (G, T).

    step_rewards: G sequences; ``step_rewards[i][j]`` is the reward of step j of output o_i.
    step_ends: same structure; ``step_ends[i][j]`` is index(j), the (0-based) token index where step j of
               o_i ends. Strictly increasing within an output, each in [0, T).
    T: padded completion length (columns of the result).

    The step rewards of all steps of all G outputs are normalised together,
    r~ = (r - mean(R)) / (std(R) + eps), and a token's advantage is the sum of the normalised rewards of
    the steps ending at or after it:  A_{i,t} = sum_{index(j) >= t} r~_i^{index(j)}.
    Tokens after an output's last step get 0. An output may have no steps (its row is 0).
    ValueError: different numbers of rewards and ends in an output, NaN/inf, ends not strictly increasing
    or outside [0, T), no step at all, T < 1.
    """
    _check_ddof_eps(ddof, eps)
    if int(T) != T or T < 1:
        raise ValueError(f"T must be a positive integer, got {T!r}")
    T = int(T)
    if len(step_rewards) != len(step_ends):
        raise ValueError(f"step_rewards has {len(step_rewards)} outputs but step_ends has {len(step_ends)}")
    counts = np.array([len(row) for row in step_rewards], dtype=int)
    if not np.array_equal(counts, [len(row) for row in step_ends]):
        raise ValueError("each output needs as many step ends as step rewards")
    if counts.sum() == 0:
        raise ValueError("process_advantages needs at least one step")
    G = len(step_rewards)
    rows = np.repeat(np.arange(G), counts)
    R = _finite(np.concatenate([np.asarray(x, dtype=float).ravel() for x in step_rewards]), "step_rewards")
    ends_f = _finite(np.concatenate([np.asarray(x, dtype=float).ravel() for x in step_ends]), "step_ends")
    ends = ends_f.astype(int)
    if not np.array_equal(ends, ends_f) or ends.min() < 0 or ends.max() >= T:
        raise ValueError(f"step_ends must be integer token indices in [0, {T}), got {ends_f.tolist()}")
    same_row = rows[1:] == rows[:-1]
    if np.any(same_row & (np.diff(ends) <= 0)):
        raise ValueError("step_ends must be strictly increasing within each output")
    normalised = standardise(R, ddof=ddof, eps=eps)
    at_end = np.zeros((G, T))
    np.add.at(at_end, (rows, ends), normalised)
    # sum over steps ending at or after t = reversed cumulative sum along the token axis
    return np.cumsum(at_end[:, ::-1], axis=1)[:, ::-1]


# --------------------------------------------------------------------------- KL


def kl_penalty(logp, ref_logp, kind: str = "k3") -> np.ndarray:
    """Per-token estimate of KL(pi_theta || pi_ref) from tokens sampled from pi_theta. (N, T) -> (N, T).

    k1 = log(pi_theta/pi_ref);  k2 = (1/2) log(pi_theta/pi_ref)^2;
    k3 = pi_ref/pi_theta - log(pi_ref/pi_theta) - 1  (the paper's Eq. 4; always >= 0; TRL does not clamp).
    """
    _choice(kind, KL_KINDS, "kind")
    d = np.asarray(ref_logp, dtype=float) - np.asarray(logp, dtype=float)  # log(pi_ref / pi_theta)
    if kind == "k1":
        return -d
    if kind == "k2":
        return 0.5 * d**2
    return np.expm1(d) - d  # exp(d) - d - 1, accurate for small d


def kl_penalty_grad(logp, ref_logp, kind: str = "k3") -> np.ndarray:
    """d kl_penalty / d logp, per token. (N, T) -> (N, T). k1: 1; k2: logp - ref_logp; k3: 1 - pi_ref/pi_theta."""
    _choice(kind, KL_KINDS, "kind")
    d = np.asarray(ref_logp, dtype=float) - np.asarray(logp, dtype=float)
    if kind == "k1":
        return np.ones_like(d)
    if kind == "k2":
        return -d
    return -np.expm1(d)


# --------------------------------------------------------------------------- clipped surrogate


def importance_ratio(logp, old_logp) -> np.ndarray:
    """rho_{i,t} = pi_theta(o_{i,t}) / pi_old(o_{i,t}) = exp(logp - old_logp). (N, T) -> (N, T)."""
    return np.exp(np.asarray(logp, dtype=float) - np.asarray(old_logp, dtype=float))


def clipped_surrogate(ratio, advantages, eps_low: float = 0.2, eps_high: float | None = None) -> np.ndarray:
    """min(rho * A, clip(rho, 1 - eps_low, 1 + eps_high) * A), per token, to maximise.

    ratio: (N, T); advantages: (N, T) or broadcastable, e.g. (N, 1). Returns (N, T).
    """
    eps_high = eps_low if eps_high is None else eps_high
    return np.minimum(ratio * advantages, np.clip(ratio, 1 - eps_low, 1 + eps_high) * advantages)


def clipped_tokens(ratio, advantages, eps_low: float = 0.2, eps_high: float | None = None) -> np.ndarray:
    """Boolean (N, T): tokens where the clipped term is the strict minimum, so the surrogate is flat in rho
    and the token's gradient is 0: A > 0 and rho > 1 + eps_high, or A < 0 and rho < 1 - eps_low."""
    eps_high = eps_low if eps_high is None else eps_high
    A = np.broadcast_to(advantages, np.shape(ratio))
    return ((A > 0) & (ratio > 1 + eps_high)) | ((A < 0) & (ratio < 1 - eps_low))


def surrogate_grad(ratio, advantages, eps_low: float = 0.2, eps_high: float | None = None) -> np.ndarray:
    """d clipped_surrogate / d logp = rho * A where not clipped, 0 where clipped (d rho / d logp = rho). (N, T)."""
    return np.where(clipped_tokens(ratio, advantages, eps_low, eps_high), 0.0, ratio * advantages)


def per_token_loss(logp, old_logp, ref_logp, advantages, *, eps_low=0.2, eps_high=None, beta=0.04) -> np.ndarray:
    """l_{i,t} = -min(rho A, clip(rho) A) + beta * k3, the quantity a trainer minimises per token. (N, T)."""
    ratio = importance_ratio(logp, old_logp)
    return -clipped_surrogate(ratio, advantages, eps_low, eps_high) + beta * kl_penalty(logp, ref_logp, "k3")


# --------------------------------------------------------------------------- aggregation


def aggregation_weights(mask, loss_type: str = "grpo", max_completion_length: int | None = None) -> np.ndarray:
    """Weights w (N, T) with loss = sum_{i,t} w_{i,t} * l_{i,t}; the aggregation is linear in l.

    "grpo"   : (1/N) sum_i (1/|o_i|) sum_t  -- the paper's Eq. 3: token mean per sequence, then mean.
    "bnpo"   : sum / (number of unmasked tokens).
    "dr_grpo": sum / (N * max_completion_length)   (max_completion_length defaults to T).
    "dapo"   : sum / (unmasked tokens of the whole generation batch); on one process the same as "bnpo".
    mask: (N, T) of 0/1; every row needs at least one token.
    """
    _choice(loss_type, LOSS_TYPES, "loss_type")
    m = np.asarray(mask, dtype=float)
    N, T = m.shape
    lengths = m.sum(axis=1)  # |o_i|
    if loss_type == "grpo":
        return m / (N * lengths[:, None])
    if loss_type in ("bnpo", "dapo"):
        return m / lengths.sum()
    L = T if max_completion_length is None else max_completion_length
    return m / (N * L)


def aggregate(per_token, mask, loss_type: str = "grpo", max_completion_length: int | None = None) -> float:
    """Scalar loss from per-token values (N, T) over the mask (N, T), as ``loss_type`` says."""
    w = aggregation_weights(mask, loss_type, max_completion_length)
    return float(np.sum(w * np.where(w != 0, per_token, 0.0)))


# --------------------------------------------------------------------------- the loss


@dataclass(frozen=True)
class GRPOLoss:
    """Result of ``grpo_loss``.

    loss: the scalar a trainer minimises (-J). grad_logp: d loss / d logp, shape (N, T), 0 on masked tokens.
    stats: floats -- clip_fraction (tokens whose gradient the clip removed), clip_low_fraction,
    clip_high_fraction, mean_kl (token mean of k3), mean_ratio (token mean of rho), policy_loss
    (aggregated -surrogate), kl_loss (aggregated beta * k3), n_tokens.
    """

    loss: float
    grad_logp: np.ndarray
    stats: dict = field(default_factory=dict)


def _check_loss_inputs(logp, old_logp, ref_logp, advantages, mask, eps_low, eps_high, beta, loss_type, max_len):
    _choice(loss_type, LOSS_TYPES, "loss_type")
    for name, e in (("eps_low", eps_low), ("eps_high", eps_high)):
        if not np.isfinite(e) or e <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {e!r}")
    if not np.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
    shape = np.shape(logp)
    if len(shape) != 2 or 0 in shape:
        raise ValueError(f"logp must have shape (N, T) with N, T >= 1, got {shape}")
    for name, x in (("old_logp", old_logp), ("ref_logp", ref_logp), ("mask", mask)):
        if np.shape(x) != shape:
            raise ValueError(f"{name} has shape {np.shape(x)} but logp has shape {shape}")
    m = np.asarray(mask)
    if not np.all((m == 0) | (m == 1)):
        raise ValueError("mask must contain only 0/1 (or False/True)")
    m = m.astype(bool)
    empty = np.flatnonzero(~m.any(axis=1))
    if empty.size:
        raise ValueError(f"mask rows {empty.tolist()} are empty: every completion needs at least one token")
    A = np.asarray(advantages, dtype=float)
    if A.shape not in ((shape[0],), shape):
        raise ValueError(f"advantages must have shape ({shape[0]},) or {shape}, got {A.shape}")
    A = A[:, None] if A.ndim == 1 else A
    A = np.where(m, A, 0.0)
    if max_len is not None:
        if int(max_len) != max_len or max_len < m.sum(axis=1).max():
            raise ValueError(
                f"max_completion_length must be an integer >= the longest completion ({int(m.sum(1).max())}), "
                f"got {max_len!r}"
            )
    arrays = []
    for name, x in (("logp", logp), ("old_logp", old_logp), ("ref_logp", ref_logp), ("advantages", A)):
        x = np.where(m, np.asarray(x, dtype=float), 0.0)  # padding may hold anything
        arrays.append(_finite(x, name))
    return (*arrays, m)


def grpo_loss(
    logp,
    old_logp,
    ref_logp,
    advantages,
    mask,
    *,
    eps_low: float = 0.2,
    eps_high: float | None = None,
    beta: float = 0.04,
    loss_type: str = "grpo",
    max_completion_length: int | None = None,
) -> GRPOLoss:
    """The GRPO loss -J (arXiv 2402.03300, Eq. 3 with the k3 KL of Eq. 4) and its gradient w.r.t. ``logp``.

    logp, old_logp, ref_logp, mask: (N, T), N = B*G completions, T padded tokens; log-probabilities of
    the sampled tokens under pi_theta, pi_old and pi_ref. advantages: (N,) outcome supervision (every
    token of o_i gets A_i) or (N, T) process supervision. Masked-out entries are ignored (may hold anything).

    Per token  l = -min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A) + beta * k3,  rho = exp(logp - old_logp),
    aggregated by ``loss_type`` (see ``aggregation_weights``). eps_high defaults to eps_low.
    grad_logp = w * (-(rho A) [not clipped] + beta (1 - pi_ref/pi_theta)), old and reference held fixed.
    When old_logp == logp (one update per batch) this is -w * (A + beta (pi_ref/pi_theta - 1)): the paper's
    gradient coefficient (Appendix A.1.6) times the aggregation weight.

    Log-probabilities of real tokens are <= 0; for differences |logp - old_logp| above ~700 exp overflows.
    ValueError: mismatched shapes, empty mask rows, NaN/inf on unmasked tokens, eps <= 0, beta < 0,
    unknown loss_type, max_completion_length shorter than a completion.
    """
    eps_high = eps_low if eps_high is None else eps_high
    logp, old_logp, ref_logp, A, m = _check_loss_inputs(
        logp, old_logp, ref_logp, advantages, mask, eps_low, eps_high, beta, loss_type, max_completion_length
    )
    ratio = importance_ratio(logp, old_logp)
    surrogate = clipped_surrogate(ratio, A, eps_low, eps_high)
    kl = kl_penalty(logp, ref_logp, "k3")
    w = aggregation_weights(m, loss_type, max_completion_length)
    policy_loss = float(np.sum(w * -surrogate))
    kl_loss = float(np.sum(w * beta * kl))
    grad = w * (-surrogate_grad(ratio, A, eps_low, eps_high) + beta * kl_penalty_grad(logp, ref_logp, "k3"))
    n_tokens = int(m.sum())
    low = m & (A < 0) & (ratio < 1 - eps_low)
    high = m & (A > 0) & (ratio > 1 + eps_high)
    stats = {
        "clip_fraction": float((low | high).sum() / n_tokens),
        "clip_low_fraction": float(low.sum() / n_tokens),
        "clip_high_fraction": float(high.sum() / n_tokens),
        "mean_kl": float(kl[m].mean()),
        "mean_ratio": float(ratio[m].mean()),
        "policy_loss": policy_loss,
        "kl_loss": kl_loss,
        "n_tokens": n_tokens,
    }
    return GRPOLoss(loss=policy_loss + kl_loss, grad_logp=grad, stats=stats)
