"""A tiny GPT in numpy, trained by GRPO to add two-digit numbers: forward and backward written by hand.

The network is a decoder-only transformer named like nanoGPT's ``model.py``: token and position embeddings
(``wte``, ``wpe``), ``n_layer`` blocks of pre-norm causal multi-head self-attention (``ln_1``, ``attn.c_attn``,
``attn.c_proj``) and a GELU MLP (``ln_2``, ``mlp.c_fc``, ``mlp.c_proj``), a final LayerNorm (``ln_f``) and a
softmax head (``lm_head``, no bias). Weights are stored (in, out): a layer computes ``x @ W + b``.

The task: the prompt ``q`` is ``a+b=`` with two-digit operands (tokens ``"4" "7" "+" "1" "5" "="``); the
policy writes the sum digit by digit, closed by the end token ``"$"`` (``"6" "2" "$"``). The reward is 1 for an
exact match, else 0 (verifiable). Tokens after the end token are padding, outside the completion mask.

GRPO (arXiv 2402.03300, Eq. 3) comes from ``grpo_core``: ``grpo_loss`` gives d loss / d logp per completion
token; ``grad_logprobs`` chains it through the network; Adam updates the parameters. Everything is a pure
function: parameters (a dict of arrays), optimiser state and random generators go in, new values come out.

Shapes: N sequences, T tokens, C = d_model, H heads, D = C / H, V = len(VOCAB), B prompts, G completions each.
Imports numpy and the standard library only (runs under CPython 3.11 and Pyodide's Python 3.12).
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # tiny matrices: BLAS threads only contend (if numpy not yet imported)
import numpy as np  # noqa: E402

try:  # a package import (tests, CLI) or a flat one (the browser worker puts demos/ on sys.path)
    from demos import grpo_core as core
except ImportError:  # pragma: no cover
    import grpo_core as core

# --------------------------------------------------------------------------- the task

VOCAB = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "+", "=", "$"]
STOI = {s: i for i, s in enumerate(VOCAB)}
END = STOI["$"]
PROMPT_LEN = 6          # "a1 a0 + b1 b0 ="
MAX_NEW = 4             # up to three digits (99 + 99 = 198) and the end token
BLOCK_SIZE = PROMPT_LEN + MAX_NEW
LOW, HIGH = 10, 99      # operands
CONFIG = {"n_layer": 1, "n_head": 4, "n_embd": 32, "mlp_ratio": 4}
N_HELD_OUT = 200
SPLIT_SEED = 20261130
REF_PATH = Path(__file__).resolve().parent / "tinygpt_ref.npz"


def encode(text: str) -> list[int]:
    """Token ids of a string of VOCAB characters ("47+15=" -> [4, 7, 10, 1, 5, 11])."""
    bad = sorted({c for c in text if c not in STOI})
    if bad:
        raise ValueError(f"characters {bad} are not in VOCAB {VOCAB}")
    return [STOI[c] for c in text]


def decode(ids) -> str:
    """The string of token ids (inverse of ``encode``)."""
    return "".join(VOCAB[int(i)] for i in ids)


def prompt_tokens(pairs: np.ndarray) -> np.ndarray:
    """Prompts ``a+b=`` for operand pairs (M, 2) -> token ids (M, PROMPT_LEN)."""
    a, b = pairs[:, 0], pairs[:, 1]
    return np.stack([a // 10, a % 10, np.full_like(a, STOI["+"]), b // 10, b % 10, np.full_like(a, STOI["="])], 1)


def answer_tokens(pairs: np.ndarray) -> np.ndarray:
    """The correct completions (M, MAX_NEW): the digits of a + b, the end token, then end-token padding."""
    s = pairs[:, 0] + pairs[:, 1]
    out = np.full((len(pairs), MAX_NEW), END)
    three = s >= 100
    out[:, 0] = np.where(three, s // 100, s // 10)
    out[:, 1] = np.where(three, (s // 10) % 10, s % 10)
    out[:, 2] = np.where(three, s % 10, END)
    return out


def all_pairs() -> np.ndarray:
    """Every operand pair (8100, 2), in a fixed order."""
    r = np.arange(LOW, HIGH + 1)
    return np.stack(np.meshgrid(r, r, indexing="ij"), -1).reshape(-1, 2)


def split_pairs() -> tuple[np.ndarray, np.ndarray]:
    """(train pairs, held-out pairs): a fixed random N_HELD_OUT pairs are never trained on."""
    pairs = all_pairs()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(pairs))
    return pairs[order[N_HELD_OUT:]], pairs[order[:N_HELD_OUT]]


def completion_mask(completions: np.ndarray) -> np.ndarray:
    """1 up to and including the first end token, 0 after it. (N, MAX_NEW) ints -> (N, MAX_NEW) floats."""
    is_end = completions == END
    before_or_at = np.cumsum(is_end, axis=1) - is_end == 0
    return before_or_at.astype(float)


def rewards_of(completions: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Exact-match reward: 1.0 if the completion equals the answer up to its end token, else 0. (N,)."""
    target = answer_tokens(pairs)
    m = completion_mask(target).astype(bool)
    return np.all(np.where(m, completions == target, True), axis=1).astype(float)


# --------------------------------------------------------------------------- parameters


def param_shapes(config: dict = CONFIG) -> dict:
    """Name -> shape of every parameter (nanoGPT names; weights (in, out))."""
    C, V, L, F = config["n_embd"], len(VOCAB), config["n_layer"], config["mlp_ratio"] * config["n_embd"]
    shapes = {"wte": (V, C), "wpe": (BLOCK_SIZE, C)}
    for l in range(L):
        p = f"h.{l}."
        shapes.update({
            p + "ln_1.weight": (C,), p + "ln_1.bias": (C,),
            p + "attn.c_attn.weight": (C, 3 * C), p + "attn.c_attn.bias": (3 * C,),
            p + "attn.c_proj.weight": (C, C), p + "attn.c_proj.bias": (C,),
            p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
            p + "mlp.c_fc.weight": (C, F), p + "mlp.c_fc.bias": (F,),
            p + "mlp.c_proj.weight": (F, C), p + "mlp.c_proj.bias": (C,),
        })
    shapes.update({"ln_f.weight": (C,), "ln_f.bias": (C,), "lm_head.weight": (C, V)})
    return shapes


def init_params(seed: int, config: dict = CONFIG, dtype=np.float64) -> dict:
    """nanoGPT's initialisation: N(0, 0.02) weights, zero biases, unit LayerNorm gains, residual projections
    scaled by 1/sqrt(2 n_layer). Deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in param_shapes(config).items():
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            w = np.ones(shape)
        elif name.endswith(".bias"):
            w = np.zeros(shape)
        else:
            std = 0.02 / math.sqrt(2 * config["n_layer"]) if name.endswith("c_proj.weight") else 0.02
            w = rng.normal(0.0, std, shape)
        params[name] = w.astype(dtype)
    return params


def config_of(params: dict) -> dict:
    """n_layer, n_head, n_embd, mlp_ratio read back from the parameter shapes (n_head is fixed by CONFIG)."""
    C = params["wte"].shape[1]
    L = sum(1 for k in params if k.endswith("ln_1.weight"))
    return {"n_layer": L, "n_head": CONFIG["n_head"], "n_embd": C, "mlp_ratio": params["h.0.mlp.c_fc.weight"].shape[1] // C}


def load_reference(path=REF_PATH, dtype=np.float64) -> dict:
    """The committed reference policy (supervised fine-tuned; ``python -m demos.tinygpt sft`` remakes it)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no reference weights; run `python -m demos.tinygpt sft`")
    with np.load(path) as z:
        return {k: z[k].astype(dtype) for k in z.files}


# --------------------------------------------------------------------------- layers (forward, backward)


def layer_norm(x, w, b, eps=1e-5):
    """y = (x - mean) / sqrt(var + eps) * w + b over the last axis. x (..., C) -> (y, cache)."""
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    rstd = 1.0 / np.sqrt((xc * xc).mean(-1, keepdims=True) + eps)
    xhat = xc * rstd
    return xhat * w + b, (xhat, rstd, w)


def layer_norm_backward(dy, cache):
    """Gradients (dx, dw, db) of layer_norm; dy (..., C)."""
    xhat, rstd, w = cache
    dxhat = dy * w
    dx = rstd * (dxhat - dxhat.mean(-1, keepdims=True) - xhat * (dxhat * xhat).mean(-1, keepdims=True))
    axes = tuple(range(dy.ndim - 1))
    return dx, (dy * xhat).sum(axes), dy.sum(axes)


_GELU_C = math.sqrt(2.0 / math.pi)


def gelu(x):
    """GELU, tanh approximation (nanoGPT's, torch's approximate="tanh"). Returns (y, cache)."""
    t = np.tanh(_GELU_C * (x + 0.044715 * (x * x * x)))
    return 0.5 * x * (1.0 + t), (x, t)


def gelu_backward(dy, cache):
    x, t = cache
    return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * x * x))


def causal_attention(x, w_attn, b_attn, w_proj, b_proj, n_head):
    """Causal multi-head self-attention. x (N, T, C) -> (y (N, T, C), cache)."""
    N, T, C = x.shape
    D = C // n_head
    qkv = x @ w_attn + b_attn                                              # (N, T, 3C)
    q, k, v = (qkv[..., i * C:(i + 1) * C].reshape(N, T, n_head, D).transpose(0, 2, 1, 3) for i in range(3))
    s = (q @ k.transpose(0, 1, 3, 2)) * (1.0 / math.sqrt(D))              # (N, H, T, T)
    s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    a = (p @ v).transpose(0, 2, 1, 3).reshape(N, T, C)                    # heads side by side
    return a @ w_proj + b_proj, (x, q, k, v, p, a, w_attn, w_proj)


def causal_attention_backward(dy, cache):
    """Gradients (dx, dw_attn, db_attn, dw_proj, db_proj) of causal_attention; dy (N, T, C)."""
    x, q, k, v, p, a, w_attn, w_proj = cache
    N, H, T, D = q.shape
    C = H * D
    dw_proj = a.reshape(-1, C).T @ dy.reshape(-1, C)
    db_proj = dy.sum((0, 1))
    da = (dy @ w_proj.T).reshape(N, T, H, D).transpose(0, 2, 1, 3)       # (N, H, T, D)
    dp = da @ v.transpose(0, 1, 3, 2)
    dv = p.transpose(0, 1, 3, 2) @ da
    ds = p * (dp - (dp * p).sum(-1, keepdims=True)) * (1.0 / math.sqrt(D))  # masked entries: p = 0
    dq = ds @ k
    dk = ds.transpose(0, 1, 3, 2) @ q
    dqkv = np.concatenate([g.transpose(0, 2, 1, 3).reshape(N, T, C) for g in (dq, dk, dv)], -1)
    dw_attn = x.reshape(-1, C).T @ dqkv.reshape(-1, 3 * C)
    return dqkv @ w_attn.T, dw_attn, dqkv.sum((0, 1)), dw_proj, db_proj


def mlp(x, w_fc, b_fc, w_proj, b_proj):
    """c_proj(gelu(c_fc(x))). x (N, T, C) -> (y, cache)."""
    hdn, gcache = gelu(x @ w_fc + b_fc)
    return hdn @ w_proj + b_proj, (x, hdn, gcache, w_fc, w_proj)


def mlp_backward(dy, cache):
    """Gradients (dx, dw_fc, db_fc, dw_proj, db_proj) of mlp."""
    x, hdn, gcache, w_fc, w_proj = cache
    C, F = w_fc.shape
    dw_proj = hdn.reshape(-1, F).T @ dy.reshape(-1, C)
    dpre = gelu_backward(dy @ w_proj.T, gcache)
    return dpre @ w_fc.T, x.reshape(-1, C).T @ dpre.reshape(-1, F), dpre.sum((0, 1)), dw_proj, dy.sum((0, 1))


# --------------------------------------------------------------------------- the network


def forward(params: dict, tokens: np.ndarray):
    """Logits of the next token at every position. tokens (N, T) ints, T <= BLOCK_SIZE -> (logits (N, T, V), cache)."""
    tokens = np.asarray(tokens)
    N, T = tokens.shape
    cfg = config_of(params)
    x = params["wte"][tokens] + params["wpe"][:T]
    blocks = []
    for l in range(cfg["n_layer"]):
        p = f"h.{l}."
        a_in, ln1 = layer_norm(x, params[p + "ln_1.weight"], params[p + "ln_1.bias"])
        a_out, att = causal_attention(a_in, params[p + "attn.c_attn.weight"], params[p + "attn.c_attn.bias"],
                                      params[p + "attn.c_proj.weight"], params[p + "attn.c_proj.bias"], cfg["n_head"])
        x = x + a_out
        m_in, ln2 = layer_norm(x, params[p + "ln_2.weight"], params[p + "ln_2.bias"])
        m_out, mlpc = mlp(m_in, params[p + "mlp.c_fc.weight"], params[p + "mlp.c_fc.bias"],
                          params[p + "mlp.c_proj.weight"], params[p + "mlp.c_proj.bias"])
        x = x + m_out
        blocks.append((ln1, att, ln2, mlpc))
    xf, lnf = layer_norm(x, params["ln_f.weight"], params["ln_f.bias"])
    return xf @ params["lm_head.weight"], (tokens, blocks, xf, lnf)


def log_softmax(logits):
    """log softmax over the last axis."""
    z = logits - logits.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _logprobs_from_logits(logits, tokens):
    lp = log_softmax(logits[:, :-1])
    return np.take_along_axis(lp, tokens[:, 1:, None], -1)[..., 0], lp


def logprobs(params: dict, tokens) -> np.ndarray:
    """log pi(tokens[:, t+1] | tokens[:, :t+1]) for t = 0..T-2. tokens (N, T) -> (N, T-1)."""
    tokens = _check_tokens(tokens)
    logits, _ = forward(params, tokens)
    return _logprobs_from_logits(logits, tokens)[0]


def _backward(params: dict, cache, dlogits) -> dict:
    """Gradients of sum(dlogits * logits) w.r.t. every parameter, given forward's cache."""
    tokens, blocks, xf, lnf = cache
    C, V = params["lm_head.weight"].shape
    grads = {"lm_head.weight": xf.reshape(-1, C).T @ dlogits.reshape(-1, V)}
    dx, grads["ln_f.weight"], grads["ln_f.bias"] = layer_norm_backward(dlogits @ params["lm_head.weight"].T, lnf)
    for l in reversed(range(len(blocks))):
        p = f"h.{l}."
        ln1, att, ln2, mlpc = blocks[l]
        dm, *g = mlp_backward(dx, mlpc)
        grads.update(zip([p + "mlp.c_fc.weight", p + "mlp.c_fc.bias", p + "mlp.c_proj.weight", p + "mlp.c_proj.bias"], g))
        dm, grads[p + "ln_2.weight"], grads[p + "ln_2.bias"] = layer_norm_backward(dm, ln2)
        dx = dx + dm
        da, *g = causal_attention_backward(dx, att)
        grads.update(zip([p + "attn.c_attn.weight", p + "attn.c_attn.bias", p + "attn.c_proj.weight",
                          p + "attn.c_proj.bias"], g))
        da, grads[p + "ln_1.weight"], grads[p + "ln_1.bias"] = layer_norm_backward(da, ln1)
        dx = dx + da
    T = tokens.shape[1]
    dwte = np.zeros_like(params["wte"])
    np.add.at(dwte, tokens.ravel(), dx.reshape(-1, C))
    dwpe = np.zeros_like(params["wpe"])
    dwpe[:T] = dx.sum(0)
    grads["wte"], grads["wpe"] = dwte, dwpe
    return {k: grads[k] for k in params}


def grad_logprobs(params: dict, tokens, upstream) -> dict:
    """Gradient of sum(upstream * logprobs(params, tokens)) w.r.t. params: a dict shaped like params.

    tokens (N, T) ints; upstream (N, T-1), e.g. -grad_logp of a loss to descend along.
    """
    tokens = _check_tokens(tokens)
    upstream = np.asarray(upstream, dtype=params["wte"].dtype)
    if upstream.shape != (tokens.shape[0], tokens.shape[1] - 1):
        raise ValueError(f"upstream must have shape {(tokens.shape[0], tokens.shape[1] - 1)}, got {upstream.shape}")
    return _loss_grads(params, tokens, lambda lp: (None, lp, upstream))[2]


def _check_tokens(tokens) -> np.ndarray:
    t = np.asarray(tokens)
    if t.ndim != 2 or t.shape[1] < 2 or t.shape[1] > BLOCK_SIZE or t.shape[0] == 0:
        raise ValueError(f"tokens must have shape (N, T) with N >= 1 and 2 <= T <= {BLOCK_SIZE}, got {t.shape}")
    if not np.issubdtype(t.dtype, np.integer) or t.min() < 0 or t.max() >= len(VOCAB):
        raise ValueError(f"tokens must be integer ids in [0, {len(VOCAB)})")
    return t


# --------------------------------------------------------------------------- sampling


def sample(params: dict, prompts, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
    """Complete prompts (N, PROMPT_LEN) with MAX_NEW tokens -> completions (N, MAX_NEW).

    Each token is drawn from softmax(logits / temperature) with ``rng`` (one uniform per sequence and token);
    temperature 0 is greedy (argmax). After the end token a sequence is padded with end tokens.
    """
    if not (temperature >= 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    seq = np.asarray(prompts)
    N = seq.shape[0]
    done = np.zeros(N, dtype=bool)
    for _ in range(MAX_NEW):
        logits, _ = forward(params, seq)
        last = logits[:, -1].astype(np.float64)
        if temperature == 0:
            nxt = last.argmax(-1)
        else:
            p = np.exp(log_softmax(last / temperature))
            u = rng.random(N)
            nxt = np.minimum((np.cumsum(p, -1) < u[:, None] * p.sum(-1, keepdims=True)).sum(-1), len(VOCAB) - 1)
        nxt = np.where(done, END, nxt)
        done |= nxt == END
        seq = np.concatenate([seq, nxt[:, None]], 1)
    return seq[:, PROMPT_LEN:]


def greedy_accuracy(params: dict, pairs: np.ndarray) -> float:
    """Fraction of pairs whose greedy completion is exactly right."""
    return float(rewards_of(sample(params, prompt_tokens(pairs), None, 0.0), pairs).mean())


# --------------------------------------------------------------------------- optimiser


def adam_init(params: dict) -> dict:
    """Adam state: first and second moments (zeros shaped like params) and the step count t."""
    return {"m": {k: np.zeros_like(v) for k, v in params.items()}, "v": {k: np.zeros_like(v) for k, v in params.items()},
            "t": 0}


def clip_grad_norm(grads: dict, max_norm: float) -> tuple[dict, float]:
    """Scale grads so their global L2 norm is at most max_norm (max_norm <= 0: no clipping). -> (grads, norm)."""
    norm = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values()))
    if max_norm <= 0 or norm <= max_norm:
        return grads, norm
    s = max_norm / (norm + 1e-6)
    return {k: g * s for k, g in grads.items()}, norm


def adam_step(params: dict, grads: dict, state: dict, lr: float, betas=(0.9, 0.99), eps: float = 1e-8):
    """One Adam step descending ``grads`` (bias-corrected). Returns (new params, new state); inputs unchanged."""
    b1, b2 = betas
    t = state["t"] + 1
    m = {k: b1 * state["m"][k] + (1 - b1) * grads[k] for k in params}
    v = {k: b2 * state["v"][k] + (1 - b2) * grads[k] ** 2 for k in params}
    c1, c2 = 1 - b1**t, 1 - b2**t
    new = {k: (params[k] - lr * (m[k] / c1) / (np.sqrt(v[k] / c2) + eps)).astype(params[k].dtype) for k in params}
    return new, {"m": m, "v": v, "t": t}


# --------------------------------------------------------------------------- GRPO


DEFAULTS = {"B": 4, "G": 8, "beta": 0.04, "eps_low": 0.2, "eps_high": 0.2, "lr": 7e-4, "mu": 1,
            "loss_type": "grpo", "std_scale": True, "temperature": 1.0, "max_grad_norm": 1.0}


def grpo_step(params: dict, ref_params: dict, opt: dict, rng: np.random.Generator, train_pairs: np.ndarray,
              settings: dict) -> tuple[dict, dict, dict]:
    """One GRPO step: sample B prompts, G completions each, reward them, mu Adam updates on the GRPO loss.

    settings: DEFAULTS' keys. ``temperature`` shapes the sampling only; the loss uses the policy's
    log-probabilities at temperature 1 (TRL divides the logits by the temperature there too; here a low
    temperature is a knob to make groups agree, not a change of the policy).
    Returns (new params, new Adam state, record). The record holds the batch
    (pairs (B, 2), completions (N, MAX_NEW), mask, rewards (B, G), advantages (N,), and the per-token
    ratio and clip flags of the last update) and the scalar statistics.
    """
    s = {**DEFAULTS, **settings}
    B, G = s["B"], s["G"]
    pairs = train_pairs[rng.integers(0, len(train_pairs), B)]
    pairs_n = np.repeat(pairs, G, axis=0)                                  # (N, 2): group b is rows b*G..b*G+G-1
    completions = sample(params, prompt_tokens(pairs_n), rng, s["temperature"])
    tokens = np.concatenate([prompt_tokens(pairs_n), completions], 1)      # (N, BLOCK_SIZE)
    mask = completion_mask(completions)                                    # (N, MAX_NEW)
    rewards = rewards_of(completions, pairs_n).reshape(B, G)
    advantages = core.group_advantages(rewards, scale="group" if s["std_scale"] else "none").reshape(-1)
    cols = slice(PROMPT_LEN - 1, None)                                     # logprobs of the completion tokens
    ref_logp = logprobs(ref_params, tokens)[:, cols]
    old_logp = None
    for _ in range(s["mu"]):
        def chain(logp_all):
            nonlocal old_logp
            logp = logp_all[:, cols]
            if old_logp is None:
                old_logp = logp.copy()
            res = core.grpo_loss(logp, old_logp, ref_logp, advantages, mask, eps_low=s["eps_low"],
                                 eps_high=s["eps_high"], beta=s["beta"], loss_type=s["loss_type"],
                                 max_completion_length=MAX_NEW if s["loss_type"] == "dr_grpo" else None)
            upstream = np.zeros(logp_all.shape)
            upstream[:, cols] = res.grad_logp                              # d loss / d logp
            return res, logp, upstream
        res, logp, grads = _loss_grads(params, tokens, chain)
        grads, gnorm = clip_grad_norm(grads, s["max_grad_norm"])
        params, opt = adam_step(params, grads, opt, s["lr"])
    ratio = np.exp(logp - old_logp)
    record = {
        "pairs": pairs, "completions": completions, "mask": mask, "rewards": rewards, "advantages": advantages,
        "ratio": ratio, "clipped": core.clipped_tokens(ratio, advantages[:, None], s["eps_low"], s["eps_high"]) & (mask > 0),
        "reward_mean": float(rewards.mean()), "kl": res.stats["mean_kl"], "clip_frac": res.stats["clip_fraction"],
        "zero_adv_frac": float(np.mean(rewards.max(1) == rewards.min(1))), "length_mean": float(mask.sum(1).mean()),
        "loss": res.loss, "grad_norm": gnorm,
    }
    return params, opt, record


def _loss_grads(params, tokens, chain):
    """Forward once, let ``chain`` turn log-probs into (result, logp, d loss / d logprobs), backward once.
    Returns (result, logp, gradient of the loss w.r.t. params)."""
    logits, cache = forward(params, tokens)
    lp_tok, lp = _logprobs_from_logits(logits, tokens)
    res, logp, dloss = chain(lp_tok)
    onehot = np.zeros_like(lp)
    np.put_along_axis(onehot, tokens[:, 1:, None], 1.0, -1)
    dlogits = np.zeros_like(logits)
    dlogits[:, :-1] = dloss[..., None] * (onehot - np.exp(lp))
    return res, logp, _backward(params, cache, dlogits)


# --------------------------------------------------------------------------- supervised fine-tuning (the reference)

SFT = {"seed": 0, "steps": 2500, "batch": 64, "lr": 3e-3, "slip": 0.75}


def teacher_answers(pairs: np.ndarray, rng: np.random.Generator, slip: float) -> np.ndarray:
    """The SFT data's completions (M, MAX_NEW): a sloppy teacher who, when the ones digits carry
    (a0 + b0 >= 10), forgets the carry with probability ``slip`` and writes a + b - 10 (47+15= -> 52)."""
    carry = pairs[:, 0] % 10 + pairs[:, 1] % 10 >= 10
    forgets = carry & (rng.random(len(pairs)) < slip)
    return answer_tokens(pairs - np.stack([forgets * 10, np.zeros_like(forgets)], 1))


def sft_step(params: dict, opt: dict, rng: np.random.Generator, train_pairs: np.ndarray, batch: int, lr: float,
             slip: float):
    """One Adam step on the cross-entropy of the teacher's completions (mean over completion tokens).
    Returns (params, opt, loss)."""
    pairs = train_pairs[rng.integers(0, len(train_pairs), batch)]
    answers = teacher_answers(pairs, rng, slip)
    tokens = np.concatenate([prompt_tokens(pairs), answers], 1)
    weights = np.zeros((batch, BLOCK_SIZE - 1))
    weights[:, PROMPT_LEN - 1:] = completion_mask(answers) / completion_mask(answers).sum()
    res, _, grads = _loss_grads(params, tokens, lambda lp: (float(-(weights * lp).sum()), lp, -weights))
    params, opt = adam_step(params, grads, opt, lr)
    return params, opt, res


def sft(seed: int = SFT["seed"], steps: int = SFT["steps"], batch: int = SFT["batch"], lr: float = SFT["lr"],
        slip: float = SFT["slip"], log=None) -> dict:
    """Supervised fine-tuning from init_params(seed) for ``steps`` Adam steps on the sloppy teacher's answers
    (``teacher_answers``) at a constant learning rate: the model learns to add but, where the ones carry,
    prefers forgetting the carry. Deterministic. Returns params.

    (Trained further, with the learning rate decayed to 0, the reference became sure of the wrong carry on many
    prompts and GRPO from it stalled near 65 % held-out accuracy: groups with one reward give no signal.)"""
    rng = np.random.default_rng(seed)
    train, held_out = split_pairs()
    params = init_params(seed)
    opt = adam_init(params)
    for step in range(1, steps + 1):
        params, opt, loss = sft_step(params, opt, rng, train, batch, lr, slip)
        if log and (step % 100 == 0 or step == steps):
            log(step, loss, greedy_accuracy(params, held_out))
    return params


# --------------------------------------------------------------------------- a training run


def new_run(seed: int, settings: dict | None = None, ref_params: dict | None = None) -> dict:
    """The state of a GRPO run from the reference: params, Adam state, the seeded Generator, step 0.
    settings: any of DEFAULTS' keys (checked by ``check_settings``)."""
    ref = load_reference() if ref_params is None else ref_params
    return {"params": ref, "ref": ref, "opt": adam_init(ref), "rng": np.random.default_rng(seed), "step": 0,
            "settings": check_settings(settings or {}), "seed": seed}


def check_settings(settings: dict) -> dict:
    """DEFAULTS updated by ``settings``; ValueError naming the first bad key or value."""
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown settings {unknown}; known: {sorted(DEFAULTS)}")
    s = {**DEFAULTS, **settings}
    for k in ("B", "G", "mu"):
        if int(s[k]) != s[k] or s[k] < 1:
            raise ValueError(f"{k} must be a positive integer, got {s[k]!r}")
    if s["G"] < 2:
        raise ValueError(f"G must be at least 2 (a group needs two completions to compare), got {s['G']}")
    for k in ("lr", "eps_low", "eps_high"):
        if not (isinstance(s[k], (int, float)) and math.isfinite(s[k]) and s[k] > 0):
            raise ValueError(f"{k} must be a finite number > 0, got {s[k]!r}")
    if not (isinstance(s["beta"], (int, float)) and math.isfinite(s["beta"]) and s["beta"] >= 0):
        raise ValueError(f"beta must be a finite number >= 0, got {s['beta']!r}")
    if not (isinstance(s["temperature"], (int, float)) and 0 < s["temperature"] <= 10):
        raise ValueError(f"temperature must be in (0, 10], got {s['temperature']!r}")
    if s["loss_type"] not in core.LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {core.LOSS_TYPES}, got {s['loss_type']!r}")
    if s["std_scale"] not in (True, False):
        raise ValueError(f"std_scale must be true or false, got {s['std_scale']!r}")
    return s


def run_steps(run: dict, n: int) -> tuple[dict, list]:
    """n GRPO steps of ``run``. Returns (the new run state, the n step records)."""
    train, _ = split_pairs()
    params, opt, records = run["params"], run["opt"], []
    for _ in range(n):
        params, opt, rec = grpo_step(params, run["ref"], opt, run["rng"], train, run["settings"])
        records.append(rec)
    return {**run, "params": params, "opt": opt, "step": run["step"] + n}, records


LOG_KEYS = ("reward_mean", "kl", "clip_frac", "zero_adv_frac", "length_mean")


def log_line(step: int, records: list, accuracy: float) -> dict:
    """One logged point: the step, the held-out greedy accuracy and the mean of each LOG_KEYS over records."""
    line = {"step": step, "accuracy": accuracy}
    for k in LOG_KEYS:
        line[k] = float(np.mean([r[k] for r in records])) if records else None
    return line


def train(seed: int = 0, steps: int | None = None, settings: dict | None = None, eval_every: int = 10,
          ref_params: dict | None = None):
    """Train from the reference; yields a log_line every ``eval_every`` steps (and at step 0)."""
    steps = TRAIN_STEPS if steps is None else steps
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    run = new_run(seed, settings, ref_params)
    _, held_out = split_pairs()
    yield log_line(0, [], greedy_accuracy(run["params"], held_out))
    while run["step"] < steps:
        run, recs = run_steps(run, min(eval_every, steps - run["step"]))
        yield log_line(run["step"], recs, greedy_accuracy(run["params"], held_out))


TRAIN_STEPS = 600


def bench_steps(steps: int, seed: int = 0) -> dict:
    """Wall time of ``steps`` default GRPO steps from the reference (for bench/; the same code in CPython and
    Pyodide). -> {"steps", "seconds", "steps_per_s"}."""
    import time

    run = new_run(seed)
    run, _ = run_steps(run, 2)                        # warm-up
    t0 = time.perf_counter()
    run_steps(run, steps)
    dt = time.perf_counter() - t0
    return {"steps": steps, "seconds": dt, "steps_per_s": steps / dt}


# --------------------------------------------------------------------------- command line


def _plot(lines: list, path: Path, title: str) -> None:
    import matplotlib  # only the command line draws with matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(11, 6), sharex=True)
    keys = ("accuracy",) + LOG_KEYS
    for ax, k in zip(axes.ravel(), keys):
        pts = [(l["step"], l[k]) for l in lines if l[k] is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts])
        ax.set_title(k)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("step")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m demos.tinygpt", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sft", help="remake the reference weights (deterministic)")
    s.add_argument("--out", type=Path, default=REF_PATH)
    t = sub.add_parser("train", help="GRPO from the reference with the demo's default settings")
    t.add_argument("--steps", type=int, default=TRAIN_STEPS)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--loss-type", choices=core.LOSS_TYPES, default=DEFAULTS["loss_type"])
    t.add_argument("--json", action="store_true", help="one JSON object per logged step on stdout")
    t.add_argument("--plot", type=Path, default=None, help="figure path (default tinygpt-train-seed<S>.png)")
    args = ap.parse_args(argv)
    if args.cmd == "sft":
        params = sft(log=lambda step, loss, acc: print(f"sft step {step}: loss {loss:.4f}, held-out {acc:.3f}",
                                                       file=sys.stderr))
        np.savez_compressed(args.out, **{k: v.astype(np.float32) for k, v in params.items()})
        print(f"wrote {args.out} ({args.out.stat().st_size} bytes)", file=sys.stderr)
        return 0
    if args.steps < 1:
        ap.error(f"--steps must be >= 1, got {args.steps}")
    lines, bar = [], sys.stderr.isatty() and not args.json
    for line in train(args.seed, args.steps, {"loss_type": args.loss_type}):
        lines.append(line)
        if args.json:
            print(json.dumps(line), flush=True)
        elif bar:
            done = line["step"] / args.steps
            print(f"\r[{'#' * int(30 * done):<30}] step {line['step']}/{args.steps}  accuracy {line['accuracy']:.3f}",
                  end="", file=sys.stderr, flush=True)
    if bar:
        print(file=sys.stderr)
    if not args.json and not bar:
        print(f"accuracy {lines[0]['accuracy']:.3f} -> {lines[-1]['accuracy']:.3f} in {args.steps} steps")
    path = args.plot or Path(f"tinygpt-train-seed{args.seed}.png")
    _plot(lines, path, f"GRPO on a+b=, seed {args.seed}, loss {args.loss_type}")
    print(f"figure: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
