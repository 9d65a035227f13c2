"""Tests of demos/grpo_core.py: hand-computed cases, properties, gradients, degenerate input."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from demos import grpo_core as core

LOSS_TYPES = core.LOSS_TYPES


# --------------------------------------------------------------------------- hand-computed advantages


def test_worked_example_sample_std():
    # [1,0,0,0]: mean 1/4, sample std = sqrt((9/16 + 3/16) / 3) = 1/2 -> (r - 1/4) / (1/2)
    adv = core.group_advantages([[1, 0, 0, 0]], eps=0)
    np.testing.assert_allclose(adv, [[1.5, -0.5, -0.5, -0.5]], rtol=1e-12)


def test_worked_example_default_eps_is_trl():
    # TRL divides by (std + 1e-4)
    adv = core.group_advantages([[1, 0, 0, 0]])
    np.testing.assert_allclose(adv, [[0.75 / 0.5001, -0.25 / 0.5001, -0.25 / 0.5001, -0.25 / 0.5001]], rtol=1e-12)


def test_worked_example_population_std():
    # population std = sqrt(3/16) = 0.4330 -> 0.75 / 0.4330 = sqrt(3) = 1.732, -0.25 / 0.4330 = -0.577
    adv = core.group_advantages([1, 0, 0, 0], ddof=0, eps=0)
    np.testing.assert_allclose(adv, [math.sqrt(3), -1 / math.sqrt(3), -1 / math.sqrt(3), -1 / math.sqrt(3)])
    assert adv.shape == (4,)


def test_batch_scale_uses_group_mean_and_batch_std():
    # group means 0.5 and 1; std of all four rewards [1,0,1,1] (sample) = 0.5
    adv = core.group_advantages([[1, 0], [1, 1]], scale="batch", eps=0)
    np.testing.assert_allclose(adv, [[1, -1], [0, 0]])


def test_scale_none_is_dr_grpo_centring():
    adv = core.group_advantages([[3, 1, 2]], scale="none")
    np.testing.assert_allclose(adv, [[1, -1, 0]])


def test_leave_one_out_hand_computed():
    # baseline of o_1 = mean(0,0,0) = 0, of the others = mean(1,0,0) = 1/3
    np.testing.assert_allclose(core.rloo_advantages([1, 0, 0, 0]), [1, -1 / 3, -1 / 3, -1 / 3])


def test_groups_are_normalised_independently():
    adv = core.group_advantages([[1, 0, 0, 0], [10, 10, 10, 20]], eps=0)
    np.testing.assert_allclose(adv[0], [1.5, -0.5, -0.5, -0.5])
    np.testing.assert_allclose(adv[1], [-0.5, -0.5, -0.5, 1.5])


def test_all_equal_rewards_give_zero_advantage_even_without_eps():
    for eps in (0.0, 1e-4):
        np.testing.assert_array_equal(core.group_advantages([[2, 2, 2], [1, 0, 1]], eps=eps)[0], [0, 0, 0])


@pytest.mark.parametrize("value", [0.0225, 0.7, 0.1, 1 / 3, 2.25e-7])
def test_equal_rewards_whose_float_mean_is_not_them_still_give_exactly_zero(value):
    """0.0225 three times averages to 0.022500000000000003 in floating point: centred on that mean, each reward is
    a noise of 1e-18 and so is the group's std, and with eps = 0 the advantage was noise / noise = -0.82 (found by
    hypothesis in CI). Equal rewards give exactly 0, whatever the scale, baseline, ddof or eps, and so does the
    std and the standardised value."""
    rewards = np.array([[value] * 3, [3 * value] * 3])      # two groups, each of equal rewards
    for scale in core.SCALES:
        for baseline in core.BASELINES:
            for ddof in (0, 1):
                for eps in (0.0, 1e-4):
                    adv = core.group_advantages(rewards, scale=scale, baseline=baseline, ddof=ddof, eps=eps)
                    np.testing.assert_array_equal(adv, np.zeros_like(rewards))
    np.testing.assert_array_equal(core.reward_std(rewards), [[0.0], [0.0]])
    np.testing.assert_array_equal(core.group_baseline(rewards), rewards)
    np.testing.assert_array_equal(core.standardise(rewards, axis=1, eps=0), np.zeros_like(rewards))
    np.testing.assert_array_equal(core.standardise(rewards[0], eps=0), [0.0, 0.0, 0.0])
    mixed = np.array([[value] * 3, [0.0, 1.0, 2.0]])          # one equal group beside a spread one
    np.testing.assert_array_equal(core.group_advantages(mixed, scale="batch", eps=0)[0], [0.0, 0.0, 0.0])


def test_group_of_one_gives_zero_advantage():
    np.testing.assert_array_equal(core.group_advantages([[3.0], [5.0]]), [[0.0], [0.0]])
    np.testing.assert_array_equal(core.group_advantages([[3.0], [5.0]], ddof=0, eps=0), [[0.0], [0.0]])


# --------------------------------------------------------------------------- process supervision


def test_process_advantages_hand_computed():
    # R = [1, 0, 0.5]: mean 0.5, sample std 0.5 -> normalised [1, -1, 0]
    adv = core.process_advantages([[1.0, 0.0], [0.5]], [[1, 3], [2]], 5, eps=0)
    # o_1: tokens 0-1 see both steps (1 - 1 = 0), tokens 2-3 only the step ending at 3 (-1), token 4 none
    np.testing.assert_allclose(adv, [[0, 0, -1, -1, 0], [0, 0, 0, 0, 0]], atol=1e-12)


def test_process_advantages_one_step_per_output_equals_outcome():
    rewards = [0.0, 1.0, 1.0, 0.0, 1.0]
    ends = [[3]] * 5
    adv = core.process_advantages([[r] for r in rewards], ends, 4)
    np.testing.assert_allclose(adv, np.repeat(core.group_advantages(rewards)[:, None], 4, axis=1))


@pytest.mark.parametrize(
    "rewards, ends, T, message",
    [
        ([[1.0, 0.0]], [[3, 2]], 5, "strictly increasing"),
        ([[1.0]], [[5]], 5, r"\[0, 5\)"),
        ([[1.0, 2.0]], [[1]], 5, "as many"),
        ([[]], [[]], 5, "at least one step"),
        ([[float("nan")]], [[1]], 5, "NaN"),
        ([[1.0]], [[1.5]], 5, "integer"),
    ],
)
def test_process_advantages_rejects_bad_input(rewards, ends, T, message):
    with pytest.raises(ValueError, match=message):
        core.process_advantages(rewards, ends, T)


# --------------------------------------------------------------------------- properties of advantages

reward_groups = hnp.arrays(
    float,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=9),
    elements=st.integers(-20, 20).map(lambda k: k / 4),
)


@given(reward_groups, st.sampled_from(core.SCALES), st.sampled_from(core.BASELINES), st.sampled_from([0, 1]))
def test_advantages_sum_to_zero_per_group(r, scale, baseline, ddof):
    adv = core.group_advantages(r, scale=scale, baseline=baseline, ddof=ddof)
    np.testing.assert_allclose(adv.sum(axis=1), 0, atol=1e-9)


@given(reward_groups, st.integers(-400, 400).map(lambda k: k / 8), st.sampled_from(core.SCALES))
def test_advantages_invariant_to_shift(r, c, scale):
    np.testing.assert_allclose(core.group_advantages(r + c, scale=scale), core.group_advantages(r, scale=scale), atol=1e-9)


@given(reward_groups, st.floats(0.01, 100), st.sampled_from(["group", "batch"]))
@example(np.array([[0.0, 0.0, 0.0], [2.25, 2.25, 2.25]]), 0.01, "group")     # failed in CI: -0.82 for 0
def test_advantages_invariant_to_positive_scaling_when_std_normalised(r, k, scale):
    np.testing.assert_allclose(
        core.group_advantages(k * r, scale=scale, eps=0), core.group_advantages(r, scale=scale, eps=0), atol=1e-9
    )


@given(reward_groups)
def test_mean_centring_is_rloo_times_constant(r):
    G = r.shape[1]
    np.testing.assert_allclose(
        core.group_advantages(r, scale="none"), (G - 1) / G * core.rloo_advantages(r), atol=1e-12
    )


# --------------------------------------------------------------------------- KL estimators


def test_k_estimators_hand_computed():
    logp, ref = math.log(0.5), math.log(0.25)  # pi_ref / pi_theta = 1/2
    assert core.kl_penalty(logp, ref, "k1") == pytest.approx(math.log(2))
    assert core.kl_penalty(logp, ref, "k2") == pytest.approx(0.5 * math.log(2) ** 2)
    assert core.kl_penalty(logp, ref, "k3") == pytest.approx(0.5 + math.log(2) - 1)
    assert core.kl_penalty_grad(logp, ref, "k3") == pytest.approx(1 - 0.5)


def test_k3_is_unbiased_for_kl_value():
    # E_{x ~ p}[k3] = KL(p || q) exactly, for a small discrete distribution
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.2, 0.6])
    kl = float(np.sum(p * np.log(p / q)))
    assert float(np.sum(p * core.kl_penalty(np.log(p), np.log(q), "k3"))) == pytest.approx(kl)
    assert float(np.sum(p * core.kl_penalty(np.log(p), np.log(q), "k1"))) == pytest.approx(kl)


@given(hnp.arrays(float, (2, 5), elements=st.floats(-50, 0)), hnp.arrays(float, (2, 5), elements=st.floats(-50, 0)))
def test_k3_is_non_negative(logp, ref):
    assert np.all(core.kl_penalty(logp, ref, "k3") >= 0)


@pytest.mark.parametrize("kind", core.KL_KINDS)
def test_kl_grad_matches_finite_differences(kind):
    rng = np.random.default_rng(0)
    logp, ref = -rng.uniform(0.1, 3, 6), -rng.uniform(0.1, 3, 6)
    h = 1e-6
    fd = (core.kl_penalty(logp + h, ref, kind) - core.kl_penalty(logp - h, ref, kind)) / (2 * h)
    np.testing.assert_allclose(core.kl_penalty_grad(logp, ref, kind), fd, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- the loss: hand-computed


def _case():
    # two completions, lengths 2 and 1; token (0,0) has ratio 1.5 with A = 2 > 0 -> clipped at 1.2
    mask = np.array([[1, 1], [1, 0]])
    old = np.log(np.array([[0.4, 0.5], [0.3, 0.9]]))
    logp = old + np.array([[math.log(1.5), 0.0], [0.0, 0.0]])
    return logp, old, mask


def test_loss_hand_computed_each_loss_type():
    logp, old, mask = _case()
    A = np.array([2.0, 0.0])
    # surrogate per token: row 0 [min(3, 2.4), 2] = [2.4, 2]; row 1 [0]
    expected = {"grpo": -(4.4 / 2 + 0) / 2, "bnpo": -4.4 / 3, "dapo": -4.4 / 3, "dr_grpo": -4.4 / (2 * 2)}
    for loss_type, value in expected.items():
        res = core.grpo_loss(logp, old, old, A, mask, beta=0.0, loss_type=loss_type)
        assert res.loss == pytest.approx(value), loss_type
    res = core.grpo_loss(logp, old, old, A, mask, beta=0.0, loss_type="dr_grpo", max_completion_length=4)
    assert res.loss == pytest.approx(-4.4 / (2 * 4))


def test_clipped_token_has_zero_gradient_and_is_counted():
    logp, old, mask = _case()
    res = core.grpo_loss(logp, old, old, [2.0, 0.0], mask, beta=0.0)
    # grpo weights: 1 / (N |o_i|) = 1/4 for row 0; unclipped token (0,1): -w * rho * A = -(1/4) * 1 * 2
    np.testing.assert_allclose(res.grad_logp, [[0.0, -0.5], [0.0, 0.0]])
    assert res.stats["clip_fraction"] == pytest.approx(1 / 3)
    assert res.stats["clip_high_fraction"] == pytest.approx(1 / 3)
    assert res.stats["clip_low_fraction"] == 0.0
    assert res.stats["mean_ratio"] == pytest.approx((1.5 + 1 + 1) / 3)


def test_clip_higher_lets_the_token_through():
    logp, old, mask = _case()
    res = core.grpo_loss(logp, old, old, [2.0, 0.0], mask, beta=0.0, eps_high=0.6)  # DAPO-style clip-higher
    assert res.stats["clip_fraction"] == 0.0
    assert res.grad_logp[0, 0] == pytest.approx(-0.25 * 1.5 * 2)


def test_negative_advantage_clipped_below():
    old = np.log(np.array([[0.5]]))
    logp = old + math.log(0.5)  # ratio 0.5 < 0.8
    res = core.grpo_loss(logp, old, old, [-1.0], [[1]], beta=0.0)
    assert res.loss == pytest.approx(0.8)  # -min(-0.5, -0.8)
    assert res.grad_logp[0, 0] == 0.0
    assert res.stats["clip_low_fraction"] == 1.0


def test_masked_padding_is_ignored():
    logp, old, mask = _case()
    a = core.grpo_loss(logp, old, old, [2.0, 1.0], mask)
    junk = logp.copy()
    junk[1, 1] = np.nan
    b = core.grpo_loss(junk, old, old, [2.0, 1.0], mask)
    assert a.loss == b.loss
    np.testing.assert_array_equal(a.grad_logp, b.grad_logp)
    assert b.grad_logp[1, 1] == 0.0


# --------------------------------------------------------------------------- gradients


def _random_batch(rng, N=6, T=5, clip_active=True, process=False):
    lengths = rng.integers(1, T + 1, N)
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(float)
    old = -rng.uniform(0.05, 4.0, (N, T))
    ref = -rng.uniform(0.05, 4.0, (N, T))
    # offsets stay away from the clip kinks at log(0.8) = -0.223 and log(1.2) = 0.182
    choices = [-0.6, -0.05, 0.05, 0.6] if clip_active else [-0.1, -0.03, 0.03, 0.1]
    logp = old + rng.choice(choices, (N, T))
    A = rng.normal(size=(N, T)) if process else rng.normal(size=N)
    return logp, old, ref, A, mask


def _finite_difference(f, x, h=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
@pytest.mark.parametrize("clip_active", [True, False])
@pytest.mark.parametrize("process", [False, True])
def test_grad_logp_matches_central_finite_differences(loss_type, clip_active, process):
    rng = np.random.default_rng([LOSS_TYPES.index(loss_type), int(clip_active), int(process)])
    logp, old, ref, A, mask = _random_batch(rng, clip_active=clip_active, process=process)
    kw = dict(beta=0.04, loss_type=loss_type, max_completion_length=7 if loss_type == "dr_grpo" else None)
    res = core.grpo_loss(logp, old, ref, A, mask, **kw)
    if clip_active:
        assert res.stats["clip_fraction"] > 0
    else:
        assert res.stats["clip_fraction"] == 0
    fd = _finite_difference(lambda x: core.grpo_loss(x, old, ref, A, mask, **kw).loss, logp)
    np.testing.assert_allclose(res.grad_logp, fd, rtol=1e-5, atol=1e-9)
    assert np.all(res.grad_logp[mask == 0] == 0)


@pytest.mark.parametrize("beta", [0.0, 0.04, 0.5])
def test_gradient_is_paper_coefficient_when_old_equals_current(beta):
    # Appendix A.1.6: with pi_old = pi_theta the coefficient of grad log pi_theta is A + beta (pi_ref/pi_theta - 1);
    # the loss is -J, so grad_logp = -w * coefficient, w = 1 / (N |o_i|) for the paper's aggregation.
    rng = np.random.default_rng(1)
    logp, _, ref, A, mask = _random_batch(rng)
    res = core.grpo_loss(logp, logp, ref, A, mask, beta=beta)
    w = mask / (mask.shape[0] * mask.sum(1, keepdims=True))
    coefficient = A[:, None] + beta * (np.exp(ref - logp) - 1)
    np.testing.assert_allclose(res.grad_logp, -w * coefficient, rtol=1e-12, atol=1e-15)
    assert res.stats["clip_fraction"] == 0 and res.stats["mean_ratio"] == 1.0
    assert res.stats["policy_loss"] == pytest.approx(-np.mean(A), abs=1e-12)


finite_logps = st.floats(-50, 0, allow_subnormal=False)


@settings(max_examples=60, deadline=None)
@given(
    st.data(),
    st.integers(1, 6),
    st.integers(1, 6),
    st.sampled_from(LOSS_TYPES),
    st.floats(0.01, 1.0),
    st.floats(0.0, 2.0),
)
def test_loss_and_gradient_finite_for_finite_input(data, N, T, loss_type, eps_low, beta):
    logp = data.draw(hnp.arrays(float, (N, T), elements=finite_logps))
    old = data.draw(hnp.arrays(float, (N, T), elements=finite_logps))
    ref = data.draw(hnp.arrays(float, (N, T), elements=finite_logps))
    A = data.draw(hnp.arrays(float, (N,), elements=st.floats(-1e3, 1e3, allow_subnormal=False)))
    mask = data.draw(hnp.arrays(bool, (N, T)))
    mask[:, 0] = True
    res = core.grpo_loss(logp, old, ref, A, mask, eps_low=eps_low, beta=beta, loss_type=loss_type)
    assert math.isfinite(res.loss)
    assert np.all(np.isfinite(res.grad_logp))
    assert 0 <= res.stats["clip_fraction"] <= 1


# --------------------------------------------------------------------------- degenerate input


@pytest.mark.parametrize(
    "rewards, kwargs, message",
    [
        ([[1.0, float("nan")]], {}, "NaN or inf"),
        ([[1.0, float("inf")]], {}, "NaN or inf"),
        ([[[1.0, 0.0]]], {}, "shape"),
        ([[1.0, 0.0]], {"eps": -1e-4}, "eps"),
        ([[1.0, 0.0]], {"ddof": 2}, "ddof"),
        ([[1.0, 0.0]], {"scale": "global"}, "scale"),
        ([[1.0, 0.0]], {"baseline": "median"}, "baseline"),
        ([[1.0], [0.0]], {"baseline": "leave_one_out"}, "G >= 2"),
    ],
)
def test_group_advantages_rejects_bad_input(rewards, kwargs, message):
    with pytest.raises(ValueError, match=message):
        core.group_advantages(rewards, **kwargs)


def _good():
    lp = np.log(np.full((2, 3), 0.5))
    return dict(logp=lp, old_logp=lp, ref_logp=lp, advantages=np.array([1.0, -1.0]), mask=np.ones((2, 3)))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"old_logp": np.zeros((2, 2))}, "old_logp has shape"),
        ({"mask": np.ones((3, 3))}, "mask has shape"),
        ({"advantages": np.ones(3)}, "advantages must have shape"),
        ({"mask": np.array([[1, 1, 1], [0, 0, 0]])}, r"mask rows \[1\] are empty"),
        ({"mask": np.full((2, 3), 0.5)}, "0/1"),
        ({"logp": np.full((2, 3), np.nan)}, "logp contains NaN"),
        ({"advantages": np.array([1.0, np.inf])}, "advantages contains NaN"),
        ({"eps_low": 0.0}, "eps_low"),
        ({"eps_low": -0.1}, "eps_low"),
        ({"eps_high": 0.0}, "eps_high"),
        ({"beta": -0.1}, "beta"),
        ({"loss_type": "token_mean"}, "loss_type"),
        ({"loss_type": "dr_grpo", "max_completion_length": 2}, "max_completion_length"),
        ({"logp": np.zeros((0, 3)), "old_logp": np.zeros((0, 3)), "ref_logp": np.zeros((0, 3)),
          "mask": np.zeros((0, 3))}, "N, T >= 1"),
    ],
)
def test_grpo_loss_rejects_bad_input(change, message):
    kw = _good()
    kw.update(change)
    with pytest.raises(ValueError, match=message):
        core.grpo_loss(**kw)


def test_result_is_frozen():
    res = core.grpo_loss(**_good())
    with pytest.raises(AttributeError):
        res.loss = 0.0
    assert res.grad_logp.shape == (2, 3)
    assert {"clip_fraction", "mean_kl", "mean_ratio"} <= set(res.stats)
