"""The tiny GPT (demos/tinygpt.py): gradients against finite differences and PyTorch, the task, GRPO training."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from demos import grpo_core as core
from demos import tinygpt as g

ROOT = Path(__file__).resolve().parents[1]
CFG2 = {"n_layer": 2, "n_head": 4, "n_embd": 16, "mlp_ratio": 2}   # small, two blocks: every path of backward


def _batch(n=5, seed=0):
    rng = np.random.default_rng(seed)
    pairs = rng.integers(g.LOW, g.HIGH + 1, (n, 2))
    tokens = np.concatenate([g.prompt_tokens(pairs), rng.integers(0, len(g.VOCAB), (n, g.MAX_NEW))], 1)
    return tokens, rng.normal(size=(n, g.BLOCK_SIZE - 1))


def _random_params(seed, cfg):
    """init_params with every array perturbed, so LayerNorm gains and biases are not at their trivial values."""
    rng = np.random.default_rng(seed + 100)
    return {k: v + rng.normal(0, 0.3, v.shape) for k, v in g.init_params(seed, cfg).items()}


# --------------------------------------------------------------------------- the task


def test_encode_decode_and_answers():
    pairs = np.array([[47, 15], [99, 99], [10, 10], [50, 50]])
    assert [g.decode(p) for p in g.prompt_tokens(pairs)] == ["47+15=", "99+99=", "10+10=", "50+50="]
    assert [g.decode(a) for a in g.answer_tokens(pairs)] == ["62$$", "198$", "20$$", "100$"]
    with pytest.raises(ValueError, match=r"\['x'\] are not in VOCAB"):
        g.encode("1x")


def test_completion_mask_counts_up_to_the_first_end_token():
    c = np.array([g.encode("62$$"), g.encode("198$"), g.encode("$123"), g.encode("1234")])
    np.testing.assert_array_equal(g.completion_mask(c), [[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 1, 1]])


def test_reward_is_exact_match_and_ignores_padding():
    pairs = np.array([[47, 15]] * 5)
    c = np.array([g.encode(s) for s in ["62$$", "62$1", "52$$", "620$", "6$$$"]])
    np.testing.assert_array_equal(g.rewards_of(c, pairs), [1, 1, 0, 0, 0])


def test_held_out_split_is_disjoint_and_fixed():
    train, held = g.split_pairs()
    assert len(held) == g.N_HELD_OUT and len(train) + len(held) == 90 * 90
    assert not set(map(tuple, held)) & set(map(tuple, train))
    np.testing.assert_array_equal(held, g.split_pairs()[1])


def test_teacher_forgets_only_carries():
    pairs = np.array([[47, 15], [41, 15]] * 200)
    answers = [g.decode(a) for a in g.teacher_answers(pairs, np.random.default_rng(0), 0.75)]
    carry, plain = answers[0::2], answers[1::2]
    assert set(plain) == {"56$$"} and set(carry) == {"62$$", "52$$"}
    assert 0.65 < carry.count("52$$") / len(carry) < 0.85


# --------------------------------------------------------------------------- gradients


def test_logprobs_are_normalised_next_token_log_probabilities():
    params = _random_params(0, CFG2)
    tokens, _ = _batch(3)
    lp = g.logprobs(params, tokens)
    assert lp.shape == (3, g.BLOCK_SIZE - 1) and np.all(lp < 0)
    # summing exp(log p) over every possible last token gives 1
    alts = np.repeat(tokens[:1], len(g.VOCAB), 0)
    alts[:, -1] = np.arange(len(g.VOCAB))
    assert np.exp(g.logprobs(params, alts)[:, -1]).sum() == pytest.approx(1.0, abs=1e-12)


def test_logprobs_are_causal():
    params = _random_params(1, CFG2)
    tokens, _ = _batch(2)
    changed = tokens.copy()
    changed[:, -1] = (changed[:, -1] + 1) % len(g.VOCAB)
    a, b = g.logprobs(params, tokens), g.logprobs(params, changed)
    np.testing.assert_allclose(a[:, :-1], b[:, :-1], atol=1e-14)   # earlier positions cannot see the last token
    assert np.all(a[:, -1] != b[:, -1])


def test_grad_logprobs_matches_central_finite_differences():
    params = _random_params(2, CFG2)
    tokens, upstream = _batch(4, seed=3)
    grads = g.grad_logprobs(params, tokens, upstream)
    assert set(grads) == set(params) and all(grads[k].shape == params[k].shape for k in params)
    f = lambda p: float((upstream * g.logprobs(p, tokens)).sum())  # noqa: E731
    rng = np.random.default_rng(4)
    h = 1e-6
    for name in params:
        for _ in range(4):
            idx = tuple(int(rng.integers(0, s)) for s in params[name].shape)
            plus = {**params, name: params[name].copy()}
            plus[name][idx] += h
            minus = {**params, name: params[name].copy()}
            minus[name][idx] -= h
            fd = (f(plus) - f(minus)) / (2 * h)
            assert grads[name][idx] == pytest.approx(fd, rel=1e-6, abs=1e-8), (name, idx)


def _torch_logprobs(torch, params, tokens, cfg):
    """The same network written with torch ops, for autograd."""
    F = torch.nn.functional
    tok = torch.tensor(tokens)
    N, T = tok.shape
    C, H = cfg["n_embd"], cfg["n_head"]
    x = params["wte"][tok] + params["wpe"][:T]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(cfg["n_layer"]):
        p = lambda k: params[f"h.{l}.{k}"]  # noqa: E731
        a = F.layer_norm(x, (C,), p("ln_1.weight"), p("ln_1.bias"), eps=1e-5)
        q, k, v = (a @ p("attn.c_attn.weight") + p("attn.c_attn.bias")).split(C, dim=-1)
        q, k, v = (t.view(N, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        s = (q @ k.transpose(-1, -2)) / (C // H) ** 0.5
        y = torch.softmax(s.masked_fill(~causal, float("-inf")), -1) @ v
        x = x + y.transpose(1, 2).reshape(N, T, C) @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        m = F.layer_norm(x, (C,), p("ln_2.weight"), p("ln_2.bias"), eps=1e-5)
        m = F.gelu(m @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"), approximate="tanh")
        x = x + m @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    x = F.layer_norm(x, (C,), params["ln_f.weight"], params["ln_f.bias"], eps=1e-5)
    lp = torch.log_softmax(x @ params["lm_head.weight"], -1)[:, :-1]
    return lp.gather(-1, tok[:, 1:, None])[..., 0]


@pytest.mark.torch
@pytest.mark.parametrize("cfg", [CFG2, g.CONFIG], ids=["2-layer", "demo"])
def test_logprobs_and_gradient_match_pytorch_autograd(cfg):
    torch = pytest.importorskip("torch")
    params = _random_params(5, cfg)
    tokens, upstream = _batch(6, seed=6)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    lp_t = _torch_logprobs(torch, tp, tokens, cfg)
    (torch.tensor(upstream) * lp_t).sum().backward()
    np.testing.assert_allclose(g.logprobs(params, tokens), lp_t.detach().numpy(), rtol=0, atol=1e-10)
    grads = g.grad_logprobs(params, tokens, upstream)
    for k in params:
        np.testing.assert_allclose(grads[k], tp[k].grad.numpy(), rtol=0, atol=1e-8, err_msg=k)


def test_bad_inputs_give_clear_errors():
    params = g.init_params(0)
    tokens, upstream = _batch(2)
    with pytest.raises(ValueError, match="upstream must have shape"):
        g.grad_logprobs(params, tokens, upstream[:, :3])
    with pytest.raises(ValueError, match="tokens must have shape"):
        g.logprobs(params, tokens[0])
    with pytest.raises(ValueError, match="integer ids"):
        g.logprobs(params, tokens + 50)
    with pytest.raises(ValueError, match="temperature"):
        g.sample(params, tokens[:, :6], np.random.default_rng(0), -1.0)
    with pytest.raises(ValueError, match="G must be at least 2"):
        g.check_settings({"G": 1})
    with pytest.raises(ValueError, match="unknown settings"):
        g.check_settings({"gamma": 1})
    with pytest.raises(ValueError, match="loss_type must be one of"):
        g.check_settings({"loss_type": "ppo"})


# --------------------------------------------------------------------------- sampling and the GRPO step


def test_sampling_is_seeded_and_greedy_is_argmax():
    params = g.load_reference()
    prompts = g.prompt_tokens(g.split_pairs()[1][:16])
    a = g.sample(params, prompts, np.random.default_rng(3))
    np.testing.assert_array_equal(a, g.sample(params, prompts, np.random.default_rng(3)))
    greedy = g.sample(params, prompts, None, 0.0)
    full = np.concatenate([prompts, greedy], 1)
    logits, _ = g.forward(params, full)
    chosen = logits[:, g.PROMPT_LEN - 1:-1].argmax(-1)
    m = g.completion_mask(greedy).astype(bool)
    np.testing.assert_array_equal(chosen[m], greedy[m])


def test_grpo_step_chains_grpo_core_into_the_network():
    """The first update's parameter gradient is grad_logprobs of grpo_loss's grad_logp (mu = 1, no clipping)."""
    ref = g.load_reference()
    train, _ = g.split_pairs()
    settings = {"max_grad_norm": 0.0, "lr": 1e-3}
    _, opt, rec = g.grpo_step(ref, ref, g.adam_init(ref), np.random.default_rng(7), train, settings)
    pairs_n = np.repeat(rec["pairs"], 8, 0)
    tokens = np.concatenate([g.prompt_tokens(pairs_n), rec["completions"]], 1)
    lp = g.logprobs(ref, tokens)[:, g.PROMPT_LEN - 1:]
    res = core.grpo_loss(lp, lp, lp, rec["advantages"], rec["mask"], beta=0.04)
    up = np.zeros((len(tokens), g.BLOCK_SIZE - 1))
    up[:, g.PROMPT_LEN - 1:] = res.grad_logp
    expected = g.grad_logprobs(ref, tokens, up)
    for k in ref:   # Adam's first moment after one step is (1 - beta1) * grad
        np.testing.assert_allclose(opt["m"][k], 0.1 * expected[k], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(rec["advantages"], core.group_advantages(rec["rewards"]).ravel())
    assert rec["zero_adv_frac"] == np.mean(rec["rewards"].max(1) == rec["rewards"].min(1))


def test_adam_step_is_pure():
    p = {"w": np.array([1.0, -2.0])}
    st = g.adam_init(p)
    p2, st2 = g.adam_step(p, {"w": np.array([0.5, -0.5])}, st, lr=0.1)
    np.testing.assert_allclose(p2["w"], [0.9, -1.9])                  # first step moves lr * sign(grad)
    assert st["t"] == 0 and p["w"][0] == 1.0 and st2["t"] == 1


# --------------------------------------------------------------------------- the reference and training




def test_reference_weights_are_small_and_partially_competent():
    path = g.REF_PATH
    assert path.stat().st_size <= 300_000
    acc = g.greedy_accuracy(g.load_reference(), g.split_pairs()[1])
    assert 0.3 <= acc <= 0.6
    chapter = (ROOT / "content" / "grpo.md").read_text(encoding="utf-8")
    assert f"{round(100 * acc)} %" in chapter, f"the chapter should state the reference's accuracy, {acc:.3f}"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_training_reaches_90_percent(seed):
    lines = list(g.train(seed))
    assert lines[0]["accuracy"] < 0.6
    assert lines[-1]["step"] == g.TRAIN_STEPS
    assert max(l["accuracy"] for l in lines) >= 0.90
    assert lines[-1]["accuracy"] >= 0.85


def test_cli_train_json_and_errors(tmp_path):
    cmd = [sys.executable, "-m", "demos.tinygpt", "train", "--steps", "20", "--seed", "1", "--json",
           "--loss-type", "dr_grpo", "--plot", str(tmp_path / "curves.png")]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    lines = [json.loads(l) for l in out.stdout.splitlines()]
    assert [l["step"] for l in lines] == [0, 10, 20]
    for key in ("reward_mean", "accuracy", "kl", "clip_frac", "zero_adv_frac", "length_mean"):
        assert key in lines[-1]
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = subprocess.run([sys.executable, "-m", "demos.tinygpt", "train", "--loss-type", "ppo"], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice: 'ppo'" in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "demos.tinygpt", "train", "--steps", "0"], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--steps must be >= 1" in bad.stderr
