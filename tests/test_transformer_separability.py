"""Tests for hmmrisk.transformer.separability and .features: cases with known answers."""

import numpy as np
import pytest

import hmmrisk.transformer as tf
from hmmrisk.transformer import features as ft


# ----------------------------------------------------------------------------- separability

def test_separable_by_construction():
    """Labels that are the argmax of a linear score (with bias) are separable."""
    rng = np.random.default_rng(0)
    for n, p, k in [(60, 3, 4), (200, 5, 6), (40, 1, 2)]:
        x = rng.standard_normal((n, p))
        y = np.argmax(x @ rng.standard_normal((p, k)) + rng.standard_normal(k), axis=1)
        assert tf.is_separable(x, y)


def test_not_separable_by_construction():
    x = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert not tf.is_separable(x, np.array([0, 0, 1, 1]))          # XOR
    assert tf.is_separable(x, np.array([0, 1, 0, 0]))              # one corner cut off
    # the same point with two labels can never be separated
    x = np.r_[np.random.default_rng(1).standard_normal((10, 3)), np.zeros((2, 3))]
    y = np.r_[np.arange(10) % 3, [0, 1]]
    assert not tf.is_separable(x, y)
    # 1-d, three classes in the order 0 < 2 < 1 along the line: separable (with bias)
    x = np.array([[0.0], [0.1], [2.0], [2.1], [1.0], [1.1]])
    assert tf.is_separable(x, np.array([0, 0, 1, 1, 2, 2]))
    # ... but not if one class sits on both sides of another
    assert not tf.is_separable(x, np.array([0, 1, 1, 1, 0, 0]))


def test_bias_matters():
    """Without a bias, points on a ray through the origin keep their order only up to sign."""
    x = np.array([[1.0], [2.0], [3.0]])
    y = np.array([0, 1, 0])
    assert not tf.is_separable(x, y)
    y = np.array([0, 0, 1])
    assert tf.is_separable(x, y, bias=True)
    x0 = np.array([[1.0], [2.0]])
    assert not tf.is_separable(x0, np.array([0, 1]), bias=False)   # same sign of x: no split at 0...
    assert tf.is_separable(x0, np.array([0, 1]), bias=True)


def test_cover_probability_formula():
    assert tf.cover_probability(20, 9) == 0.5                      # n = 2 (p + 1)
    assert tf.cover_probability(5, 4) == 1.0                       # n <= p + 1: always separable
    assert tf.cover_probability(3, 0) == pytest.approx(2 / 8)      # bias only: constant labels


@pytest.mark.parametrize("n, p", [(20, 9), (24, 7)])
def test_cover_theorem_by_monte_carlo(n, p):
    """Random binary labels of Gaussian points: P(separable) = Cover's formula, within 4 SE."""
    rng = np.random.default_rng(n * 100 + p)
    reps = 400
    hits = sum(bool(tf.is_separable(rng.standard_normal((n, p)), rng.integers(0, 2, n)))
               for _ in range(reps))
    prob = tf.cover_probability(n, p)
    se = np.sqrt(prob * (1 - prob) / reps)
    assert abs(hits / reps - prob) < 4 * se


def test_batched_and_threshold():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 30, 40))
    y = rng.integers(0, 4, (3, 30))
    batch = tf.is_separable(x[:, :, :5], y)
    assert batch.shape == (3,)
    assert list(batch) == [tf.is_separable(x[b, :, :5], y[b]) for b in range(3)]
    p_sep = tf.separability_threshold(x[0], y[0])
    assert 1 <= p_sep <= 29                                        # rank n is reached at p = 29
    assert tf.is_separable(x[0, :, :p_sep], y[0])
    assert not tf.is_separable(x[0, :, :p_sep - 1], y[0])
    # not separable even with every column: P + 1
    assert tf.separability_threshold(np.zeros((4, 3)), np.array([0, 1, 0, 1])) == 4


@pytest.mark.parametrize("call, match", [
    (lambda: tf.is_separable(np.ones(3), [0, 1, 0]), "features"),
    (lambda: tf.is_separable(np.ones((3, 2)), [0, 1]), "labels"),
    (lambda: tf.is_separable(np.ones((3, 2)), [0.0, 1.0, 0.0]), "labels"),
    (lambda: tf.is_separable(np.ones((3, 2)), [0, -1, 0]), "labels"),
    (lambda: tf.is_separable(np.ones((3, 2)), [0, 1, 0], bias=1), "bias"),
    (lambda: tf.is_separable([[np.nan]], [0]), "features"),
    (lambda: tf.cover_probability(0, 2), "n"),
    (lambda: tf.cover_probability(4, -1), "p"),
])
def test_separability_rejects_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- feature families

def test_noise_family_has_the_stated_law():
    """standardise(x) + sigma u: the residual is N(0, sigma^2 I), independent across rows."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4000, 3)) @ np.diag([5.0, 0.1, 2.0]) + 7.0
    z = ft.standardise(x)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(0), 1.0, rtol=1e-12)
    noisy = ft.add_isotropic_noise(x, 0.5, rng=1)
    u = noisy - z
    m = u.shape[0]
    np.testing.assert_allclose(u.mean(0), 0.0, atol=4 * 0.5 / np.sqrt(m))
    cov = np.cov(u.T)
    # var of a sample variance of N(0, s^2): 2 s^4 / (m - 1)
    np.testing.assert_allclose(np.diag(cov), 0.25, atol=4 * np.sqrt(2 / (m - 1)) * 0.25)
    off = cov[np.triu_indices(3, 1)]
    assert np.all(np.abs(off) < 4 * 0.25 / np.sqrt(m))
    # sigma = 0 gives the standardised features; the reference sets the statistics
    np.testing.assert_array_equal(ft.add_isotropic_noise(x, 0.0, rng=0), z)
    np.testing.assert_allclose(ft.add_isotropic_noise(x[:10], 0.0, reference=x, rng=0), z[:10])
    # seeded
    np.testing.assert_array_equal(ft.add_isotropic_noise(x, 0.5, rng=1), noisy)


def test_synthetic_families_are_nested_and_have_the_stated_covariance():
    rng_z = np.random.default_rng(5)
    z = ft.standardise(rng_z.standard_normal((3000, 4)))
    wide, narrow = ft.latent_features(z, 12, 1.0, rng=2), ft.latent_features(z, 5, 1.0, rng=2)
    np.testing.assert_array_equal(wide[:, :5], narrow)              # nested in width
    np.testing.assert_array_equal(ft.isotropic_features(50, 9, rng=3)[:, :4],
                                  ft.isotropic_features(50, 4, rng=3))
    # with z standardised and W ~ N(0, 1/k): E x_j^2 = E ||w_j||^2 + sigma^2 = 1 + 1, over columns
    var = ft.latent_features(z, 400, 1.0, rng=4).var(axis=0)
    assert var.mean() == pytest.approx(2.0, abs=4 * np.sqrt(2 / 4) / np.sqrt(400) * 1.5)


@pytest.mark.parametrize("call, match", [
    (lambda: ft.add_isotropic_noise(np.ones((3, 2)), -1.0), "sigma"),
    (lambda: ft.add_isotropic_noise(np.ones((3, 2)), 1.0, rng=-1), "rng"),
    (lambda: ft.standardise(np.ones((3, 2)), np.ones((3, 3))), "reference"),
    (lambda: ft.latent_features(np.ones(3), 4, 1.0), "latent"),
    (lambda: ft.latent_features(np.ones((3, 2)), 0, 1.0), "width"),
    (lambda: ft.isotropic_features(0, 4), "n_rows"),
])
def test_features_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_tail_share_known_answers():
    rng = np.random.default_rng(6)
    # exactly rank-2 features (after centring): nothing outside the top 2 components
    x = rng.standard_normal((500, 2)) @ rng.standard_normal((2, 10))
    assert tf.tail_share(x, 2) == pytest.approx(0.0, abs=1e-12)
    # isotropic features: the share outside the top k of p is about (p - k) / p
    x = rng.standard_normal((20000, 10))
    assert tf.tail_share(x, 3) == pytest.approx(0.7, abs=0.02)
    assert tf.tail_share(x[:, :3], 7) == 0.0


# ----------------------------------------------------------------------------- heads, known answers

def test_squared_head_interpolates_above_n_and_is_ols_below():
    """Min-norm LS head: OLS when p + 1 <= n (residual orthogonal to the design); zero training loss when p + 1 >= n."""
    rng = np.random.default_rng(7)
    n, v = 30, 4
    y = rng.integers(0, v, n)
    for p, interpolates in [(5, False), (29, True), (60, True)]:
        x = rng.standard_normal((n, p))
        sc = tf.fit_heads(x[None], y[None], x[None, :5], y[:5], v)
        if interpolates:
            assert sc.sq_train_loss[0] == pytest.approx(0.0, abs=1e-20)
        else:
            xa = np.c_[x, np.ones(n)]
            ols = np.linalg.lstsq(xa, np.eye(v)[y], rcond=None)[0]
            ref = np.mean(np.sum((np.eye(v)[y] - xa @ ols) ** 2, axis=1))
            assert sc.sq_train_loss[0] == pytest.approx(ref, rel=1e-10)


def test_softmax_head_without_features_learns_the_smoothed_frequencies():
    """Bias-only head at a tiny ridge: softmax(b) -> the empirical class frequencies."""
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    fit = tf.fit_softmax_head(np.ones((100, 1)), y, 3, ridge=1e-9, gtol=1e-12)
    logits = fit.weights[0]
    prob = np.exp(logits - logits.max())
    prob /= prob.sum()
    np.testing.assert_allclose(prob, [0.5, 0.3, 0.2], atol=1e-6)


def test_softmax_head_test_ce_blows_up_on_separable_noise():
    """Features independent of the labels, p above p_sep: a near-unregularised head is confidently wrong.

    Known answer: on separable training data the tiny-ridge head fits every
    training label, and on independent test data its cross-entropy exceeds the
    entropy of the labels (what a head with no features achieves).
    """
    rng = np.random.default_rng(8)
    n, v = 40, 3
    y = rng.integers(0, v, n)
    x = rng.standard_normal((n, 30))
    assert tf.is_separable(x, y)
    xt, yt = rng.standard_normal((2000, 30)), rng.integers(0, v, 2000)
    sc = tf.fit_heads(x[None], y[None], xt, yt, v, ridges=(1e-6,))
    assert sc.train_acc[0, 0] == 1.0 and sc.converged.all()
    assert sc.test_ce[0, 0] > 2 * np.log(v)


def test_separability_threshold_does_not_depend_on_the_guess():
    """The bracketing search finds the same exact threshold from any start (full scan as reference)."""
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((30, 40)), rng.integers(0, 4, 30)
    scan = next(p for p in range(1, 41) if tf.is_separable(x[:, :p], y))
    for guess in (None, 0, 1, scan - 1, scan, scan + 1, 40, 1000):
        assert tf.separability_threshold(x, y, guess=guess) == scan, guess


def test_head_margin_certifies_separability():
    """A positive training margin of the softmax head happens only on separable sets."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, (6, 30))
    x = rng.standard_normal((6, 30, 12))
    sc = tf.fit_heads(x, y, x[:, :5], y[:, :5], 4, ridges=(1e-6,))
    exact = tf.is_separable(x, y)
    certified = sc.train_margin[0] > 1e-9
    assert certified.any() and not exact.all()          # both cases occur
    assert np.all(exact[certified])


def test_softmax_certificate_agrees_with_the_linear_programme(monkeypatch):
    """The whitened-head certificate only ever says "separable" where HiGHS alone says so.

    Random sets around the threshold, some with columns of tiny variance (as
    pre-trained features have), decided once with every route and once with
    the certificates switched off (the programme decides everything).
    """
    from hmmrisk.transformer import separability as sepm

    rng = np.random.default_rng(11)
    cases = []
    for p in (6, 9, 12, 16, 24):
        x = rng.standard_normal((40, p)) * np.r_[np.ones(3), 1e-3 * np.ones(p - 3)]
        cases.append((x, rng.integers(0, 4, 40)))
    monkeypatch.setattr(sepm, "_CERTIFY_MIN_VARIABLES", 0)        # the certificate at every size
    fired = []
    orig = sepm._softmax_certificate
    monkeypatch.setattr(sepm, "_softmax_certificate", lambda *a: fired.append(orig(*a)) or fired[-1])
    with_cert = [bool(tf.is_separable(x, y)) for x, y in cases]
    monkeypatch.setattr(sepm, "_softmax_certificate", lambda *a: False)
    monkeypatch.setattr(sepm, "_strictly_ranked", lambda *a: False)
    lp_only = [bool(tf.is_separable(x, y)) for x, y in cases]
    assert with_cert == lp_only
    assert any(fired) and not all(lp_only) and any(lp_only)   # every case occurs
