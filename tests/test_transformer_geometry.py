"""The study's measuring tools: geometry, the belief-state probe, early stopping, paired changes."""

import numpy as np
import pytest
import scipy.stats

import hmmrisk.transformer as f3


def test_participation_ratio_and_effective_rank_of_known_spectra():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20000, 10))                 # isotropic: both close to p
    assert f3.participation_ratio(x) == pytest.approx(10, rel=0.02)
    assert f3.effective_rank(x) == pytest.approx(10, rel=0.01)
    one = rng.standard_normal((500, 1)) * np.arange(1, 6)  # five copies of one direction
    assert f3.participation_ratio(one) == pytest.approx(1.0, abs=1e-9)
    assert f3.effective_rank(one) == pytest.approx(1.0, abs=1e-6)


def test_probe_r2_is_one_for_a_linear_target_and_near_zero_for_noise():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2000, 6))
    t = x @ rng.standard_normal((6, 3)) + 2.0
    assert f3.probe_r2(x[:1000], t[:1000], x[1000:], t[1000:]) == pytest.approx(1.0, abs=1e-3)
    noise = rng.standard_normal((2000, 3))
    # held-out R^2 of a probe on independent noise: 0 up to ~ p / n_train (here 0.006)
    assert abs(f3.probe_r2(x[:1000], noise[:1000], x[1000:], noise[1000:])) < 0.03


def test_belief_states_give_the_filter_s_next_token_law():
    hmm = f3.random_sparse_hmm(5, 8, rng=3)
    tokens = f3.hmm.sample(hmm, 50, 7, rng=4)
    belief = f3.hmm.belief_states(hmm, tokens)
    np.testing.assert_allclose(belief.sum(axis=1), 1.0, rtol=1e-12)
    law = f3.hmm.forward_filter(hmm, tokens)[:, -1]
    np.testing.assert_allclose(belief @ hmm.transition @ hmm.emission, law, rtol=1e-10)


def test_early_stopping_learns_an_informative_problem():
    rng = np.random.default_rng(5)
    v, p = 4, 3
    w = rng.standard_normal((p, v)) * 3

    def draw(m):
        x = rng.standard_normal((m, p))
        y = np.array([rng.choice(v, p=np.exp(s) / np.exp(s).sum()) for s in x @ w])
        return x, y

    (xtr, ytr), (xva, yva), (xte, yte) = draw(60), draw(200), draw(2000)
    test, val, step = f3.early_stopped_head(xtr[None], ytr[None], xva, yva, xte, yte, v, steps=300)
    assert step[0] > 0 and val[0] < np.log(v) and test[0] < np.log(v) - 0.3


def test_paired_matches_the_paired_t_test():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal(10), rng.standard_normal(10) + 0.5
    r = f3.paired(a, b)
    ref = scipy.stats.ttest_rel(b, a)
    assert r.t == pytest.approx(ref.statistic, rel=1e-12)
    ci = ref.confidence_interval(0.95)
    assert (r.lo, r.hi) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert r.up + r.down == 10
    with pytest.raises(ValueError, match="same length"):
        f3.paired([1.0], [2.0])
