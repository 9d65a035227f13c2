"""The PyTorch GRPO loss (demos/grpo_torch.py, autograd) against the numpy core (hand-written gradient)."""


import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from demos import grpo_core as core
from demos import grpo_torch


def _t(x):
    return torch.tensor(np.asarray(x, dtype=float), dtype=torch.float64)


def test_advantages_match():
    rng = np.random.default_rng(0)
    rewards = rng.integers(0, 3, (5, 8)).astype(float)
    rewards[0] = 1.0  # an all-equal group
    np.testing.assert_allclose(grpo_torch.group_advantages(_t(rewards)).numpy(), core.group_advantages(rewards), atol=1e-12)


def _batch(seed, clip_active, process, old_is_current=False):
    rng = np.random.default_rng(seed)
    N, T = 8, 6
    lengths = rng.integers(1, T + 1, N)
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(float)
    old = -rng.uniform(0.05, 4.0, (N, T))
    ref = -rng.uniform(0.05, 4.0, (N, T))
    offsets = [-0.6, -0.05, 0.05, 0.6] if clip_active else [-0.1, -0.03, 0.03, 0.1]
    logp = old if old_is_current else old + rng.choice(offsets, (N, T))
    A = rng.normal(size=(N, T)) if process else rng.normal(size=N)
    return logp, old, ref, A, mask


@pytest.mark.parametrize("loss_type", core.LOSS_TYPES)
@pytest.mark.parametrize("case", ["clip_active", "clip_inactive", "process", "old_is_current"])
@pytest.mark.parametrize("eps_high", [None, 0.28])
def test_loss_and_autograd_gradient_match(loss_type, case, eps_high):
    seed = core.LOSS_TYPES.index(loss_type) * 10 + ["clip_active", "clip_inactive", "process", "old_is_current"].index(case)
    logp, old, ref, A, mask = _batch(seed, clip_active=case != "clip_inactive", process=case == "process",
                                     old_is_current=case == "old_is_current")
    kw = dict(eps_low=0.2, eps_high=eps_high, beta=0.04, loss_type=loss_type,
              max_completion_length=9 if loss_type == "dr_grpo" else None)
    res = core.grpo_loss(logp, old, ref, A, mask, **kw)
    if case in ("clip_active", "process"):
        assert res.stats["clip_fraction"] > 0

    logp_t = _t(logp).requires_grad_(True)
    loss_t = grpo_torch.grpo_loss(logp_t, _t(old), _t(ref), _t(A), _t(mask), **kw)
    loss_t.backward()
    assert loss_t.item() == pytest.approx(res.loss, rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(logp_t.grad.numpy(), res.grad_logp, rtol=1e-10, atol=1e-15)


def test_unknown_loss_type_raises():
    logp, old, ref, A, mask = _batch(0, True, False)
    with pytest.raises(ValueError, match="loss_type"):
        grpo_torch.grpo_loss(_t(logp), _t(old), _t(ref), _t(A), _t(mask), loss_type="token_mean")
