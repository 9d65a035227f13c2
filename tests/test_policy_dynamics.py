"""Tests of demos/policy_dynamics.py: determinism, learning, the chain rule, baselines' variance."""

import copy
import json

import numpy as np
import pytest

from demos import grpo_core as core
from demos import policy_dynamics as pdyn


def test_run_is_deterministic_for_a_seed():
    a = pdyn.run({"seed": 3}, 25)
    b = pdyn.run({"seed": 3}, 25)
    assert a == b
    c = pdyn.run({"seed": 4}, 25)
    assert [r["samples"] for r in a["records"]] != [r["samples"] for r in c["records"]]


def test_stepping_one_by_one_through_json_equals_run():
    cfg = {"seed": 11, "mu": 3, "baseline": "critic"}
    whole = pdyn.run(cfg, 15)
    state = pdyn.init_state(cfg)
    records = []
    for _ in range(15):
        state = json.loads(json.dumps(state))  # what a browser round trip does to the state
        state, rec = pdyn.step(state, cfg)
        records.append(rec)
    assert records == whole["records"]
    assert json.loads(json.dumps(state)) == json.loads(json.dumps(whole["final_state"]))


def test_step_does_not_change_its_input():
    state = pdyn.init_state({})
    before = copy.deepcopy(state)
    pdyn.step(state, {})
    assert state == before


@pytest.mark.parametrize("baseline", pdyn.BASELINES)
def test_the_policy_learns_the_correct_answer(baseline):
    out = pdyn.run({"baseline": baseline, "seed": 1}, 40)
    p_correct = [p[0] for p in out["probs"]]
    assert p_correct[0] < 0.1
    assert p_correct[-1] > 0.8
    assert out["expected_reward"][-1] > out["expected_reward"][0] + 0.7


def test_records_are_consistent_with_the_core():
    out = pdyn.run({"seed": 5, "G": 6}, 10)
    rewards_table = out["config"]["rewards"]
    for rec in out["records"]:
        assert len(rec["samples"]) == 6
        assert rec["rewards"] == [rewards_table[a] for a in rec["samples"]]
        np.testing.assert_allclose(rec["advantages"], core.group_advantages(rec["rewards"]))
        assert rec["mean_ratios"][0] == 1.0  # first update: pi_theta == pi_old
        assert rec["clip_fractions"][0] == 0.0
        assert sum(rec["probs"]) == pytest.approx(1.0)
    assert out["records"][0]["probs_before"] == out["probs"][0]
    assert out["records"][0]["kl_estimate"] == pytest.approx(0.0, abs=1e-15)  # reference = initial policy


def test_clipping_fires_only_with_several_updates():
    one = pdyn.run({"mu": 1, "seed": 2}, 30)
    four = pdyn.run({"mu": 4, "seed": 2}, 30)
    assert all(r["clip_fraction"] == 0 for r in one["records"])
    assert any(r["clip_fraction"] > 0 for r in four["records"])


def test_logit_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    theta, ref = rng.normal(size=5), rng.normal(size=5)
    theta_old = theta + 0.3 * rng.normal(size=5)  # ratios away from 1: clipping active for some samples
    samples = np.array([0, 2, 2, 4, 1, 0])
    adv = np.array([1.2, -0.4, -0.4, 0.9, -1.1, 1.2])
    old, refl = pdyn.log_softmax(theta_old)[samples], pdyn.log_softmax(ref)[samples]

    def loss(t):
        lp = pdyn.log_softmax(t)[samples][:, None]
        return core.grpo_loss(lp, old[:, None], refl[:, None], adv, np.ones((6, 1)), beta=0.1)

    res = loss(theta)
    assert res.stats["clip_fraction"] > 0
    grad = pdyn.logit_gradient(np.exp(pdyn.log_softmax(theta)), samples, res.grad_logp[:, 0])
    h = 1e-6
    fd = np.array([(loss(theta + h * e).loss - loss(theta - h * e).loss) / (2 * h) for e in np.eye(5)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-10)


def test_sampling_follows_the_probabilities():
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    draws = pdyn.sample_group(probs, 40000, np.random.default_rng(0))
    freq = np.bincount(draws, minlength=4) / 40000
    np.testing.assert_allclose(freq, probs, atol=4 * np.sqrt(0.25 / 40000))


def test_critic_update_is_sgd_on_squared_error():
    assert pdyn.critic_update(0.0, np.array([1.0, 0.0, 0.0, 1.0]), 0.5) == 0.25
    out = pdyn.run({"baseline": "critic", "critic_lr": 0.2, "seed": 0}, 60)
    # the value tracks the recent mean reward, which rises as the policy learns
    assert out["final_state"]["value"] > 0.5


def test_exact_kl_hand_computed():
    assert pdyn.exact_kl([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.5 * np.log(2) + 0.5 * np.log(2 / 3))


def test_unbiased_baselines_match_the_true_gradient_on_average():
    cfg = {"seed": 0, "G": 4}
    out = pdyn.gradient_variance(cfg, n_groups=20000, baselines=("none", "leave_one_out", "critic"))
    truth = np.array(out["true_gradient"])
    for b in ("none", "leave_one_out", "critic"):
        # each group's estimate averages G samples of grad log pi * A, so E[g] = grad J exactly
        stderr = np.sqrt(out[b]["variance"] / 20000)
        assert np.linalg.norm(np.array(out[b]["mean"]) - truth) < 5 * stderr, b


def test_a_baseline_reduces_variance_when_rewards_are_offset():
    # every answer gets at least 1: REINFORCE without a baseline pushes every sampled answer up
    cfg = {"rewards": [2.0, 1.0, 1.0, 1.0, 1.0, 1.0], "seed": 0}
    out = pdyn.gradient_variance(cfg, n_groups=4000)
    assert out["none"]["variance"] > 3 * out["leave_one_out"]["variance"]
    assert out["none"]["variance"] > 3 * out["critic"]["variance"]
    assert out["critic"]["cosine"] > out["none"]["cosine"]
    # a group where every answer is wrong teaches GRPO nothing
    assert out["group"]["zero_fraction"] > 0 and out["critic"]["zero_fraction"] == 0


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"G": 0}, "G must be"),
        ({"mu": 1.5}, "mu must be"),
        ({"lr": -1}, "lr must be"),
        ({"eps_low": 0}, "eps_low"),
        ({"baseline": "ppo"}, "baseline"),
        ({"rewards": [1, 0]}, "init_logits has 6 entries"),
        ({"rewards": [1, 0, 0, 0, 0, float("nan")]}, "NaN"),
        ({"colour": "red"}, "unknown config fields"),
        ({"G": 1, "baseline": "leave_one_out"}, "G >= 2"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_config_is_a_clear_error(bad, message):
    with pytest.raises(ValueError, match=message):
        pdyn.make_config(bad)


def test_results_are_plain_json():
    out = pdyn.run({}, 5)
    assert json.loads(json.dumps(out)) == out
    assert pdyn.to_json({"a": np.arange(3), "b": np.float32(1.5), "c": (np.int64(2),)}) == {"a": [0, 1, 2], "b": 1.5, "c": [2]}


def test_a_diverging_run_stops_with_a_clear_error_not_nan_or_warnings():
    """Too large a step taken too often (lr = 2, mu = 8, within the demo's limits) overflows the k3 KL term: the
    step raises Diverged naming the step and the knobs, instead of returning NaN logits (or printing warnings)."""
    import warnings

    from demos import limits, registry
    demo = registry.load("policy-dynamics")
    cfg = demo.make_config({**limits.defaults(demo.LIMITS), "mu": 8, "lr": 2.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(pdyn.Diverged, match=r"diverged at step \d+ .*\u03bc = 8.*learning rate 2 ") as err:
            pdyn.run(cfg, 200)
        good = pdyn.run({**cfg, "mu": 1}, err.value.step)   # the same lr with one update per batch stays finite
    assert np.all(np.isfinite(good["probs"]))
    # the page's JSON entry returns the steps before it, a finite state, and why it stopped (the view's note)
    res = json.loads(demo.run(json.dumps({"config": {**limits.defaults(demo.LIMITS), "mu": 8, "lr": 2.0}, "state": None,
                                          "steps": 200})))
    assert res["diverged"] == str(err.value)
    assert len(res["records"]) == err.value.step - 1 == res["state"]["step"]
    assert np.all(np.isfinite(res["state"]["logits"])) and np.all(np.isfinite(res["probs"]))
    fine = json.loads(demo.run(json.dumps({"config": limits.defaults(demo.LIMITS), "state": None, "steps": 5})))
    assert fine["diverged"] is None and len(fine["records"]) == 5
