"""Tests of hmmrisk.finite_n: exact finite-n means against the asymptotic predictions.

Routes: the closed forms of the chapter typed here by hand, a plain dense
Monte Carlo of Lemma 1 (Gaussian X, pseudo-inverse; no hmmrisk code), the
limit n -> infinity at fixed gamma, and hmmrisk.simulate_risk through
measured_gap.  Monte Carlo tolerances are |z| < 4.5 with z from the standard
error of the mean.
"""

import numpy as np
import pytest

import hmmrisk as hr
from hmmrisk import finite_n as fn
from hmmrisk import theory

Z = 4.5


# ---------------------------------------------------------------------------
# closed forms
# ---------------------------------------------------------------------------


def test_under_threshold_gap_is_one_over_n_minus_p_minus_1():
    n = np.array([10, 50, 50, 300, 1000])
    p = np.array([3, 1, 40, 100, 997])
    res = fn.isotropic(n, p, signal=7.0, irreducible=2.5)
    gap = 1.0 / (n - p - 1)
    np.testing.assert_allclose(res.relative_gap, gap, rtol=1e-12)
    np.testing.assert_allclose(fn.isotropic_gap(n, p, 7.0, 2.5), gap, rtol=1e-12)
    np.testing.assert_allclose(res.exact_variance, 2.5 * p / (n - p - 1), rtol=1e-12)
    np.testing.assert_allclose(res.asymptotic_variance, 2.5 * p / (n - p), rtol=1e-12)
    assert np.all(res.exact_bias == 0) and np.all(res.asymptotic_bias == 0)


def test_over_threshold_closed_forms_and_definition2_agree():
    n = np.array([10, 10, 100, 100, 400])
    p = np.array([12, 50, 103, 1000, 800])
    S = np.array([0.0, 3.0, 1.0, 20.0, 5.0])
    T = np.array([1.0, 0.5, 2.0, 1.0, 5.0])
    res = fn.isotropic(n, p, S, T)
    # Definition 2 (evaluated by hmmrisk.theory) against prop-isotropic's closed forms
    np.testing.assert_allclose(res.asymptotic_bias, S * (1 - n / p), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(res.asymptotic_variance, T * n / (p - n), rtol=1e-10)
    np.testing.assert_allclose(res.exact_bias, S * (1 - n / p), rtol=1e-12)
    np.testing.assert_allclose(res.exact_variance, T * n / (p - n - 1), rtol=1e-12)
    v = (T * n / (p - n)) / (T * n / (p - n) + S * (1 - n / p))
    np.testing.assert_allclose(res.relative_gap, v / (p - n - 1), rtol=1e-9)
    np.testing.assert_allclose(fn.isotropic_gap(n, p, S, T), v / (p - n - 1), rtol=1e-12)
    assert res.relative_gap.shape == (5,)


def test_shapes_broadcast_and_scalars():
    res = fn.isotropic(np.array([[20], [40]]), np.array([5, 60]), 1.0, 1.0)
    assert res.relative_gap.shape == (2, 2)
    assert isinstance(fn.isotropic_gap(20, 30), float)
    assert isinstance(fn.leading_order(2.0), float)
    assert fn.isotropic_gap(20.5, 41.0) == pytest.approx(1.0 / (20.5 - 1.0))


@pytest.mark.parametrize("n", [10, 100])
def test_threshold_edges_are_infinite(n):
    p = np.array([n - 1, n, n + 1])
    res = fn.isotropic(n, p, 1.0, 1.0)
    assert np.all(np.isinf(res.exact_risk))
    assert np.all(np.isinf(res.relative_gap))
    assert np.isfinite(res.asymptotic_risk[0]) and np.isfinite(res.asymptotic_risk[2])
    assert np.isinf(res.asymptotic_risk[1])
    assert np.all(np.isinf(fn.isotropic_gap(n, p, 1.0, 1.0)))
    # just outside the edges the gap is finite and as large as it gets: v / 1
    assert fn.isotropic_gap(n, n - 2) == pytest.approx(1.0)
    assert fn.isotropic(n, n + 2, 0.0, 1.0).relative_gap == pytest.approx(1.0)
    assert fn.leading_order(1.0) == np.inf


# ---------------------------------------------------------------------------
# the limit n -> infinity at fixed gamma
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("gamma, S, T", [(0.5, 1.0, 1.0), (0.9, 0.0, 2.0), (2.0, 0.0, 1.0),
                                         (2.0, 3.0, 1.0), (4.0, 1.0, 0.25)])
def test_gap_vanishes_like_C_over_n(gamma, S, T):
    # C by hand: 1/(1 - gamma) below; v/(gamma - 1) above with v from Definition 2's
    # isotropic values B = S (gamma - 1)/gamma, V = T/(gamma - 1).
    if gamma < 1:
        C = 1.0 / (1.0 - gamma)
    else:
        V, B = T / (gamma - 1), S * (gamma - 1) / gamma
        C = V / (V + B) / (gamma - 1)
    assert fn.leading_order(gamma, S, T) == pytest.approx(C, rel=1e-12)
    ns = np.array([10**3, 10**4, 10**5])
    ps = np.rint(gamma * ns).astype(int)
    gap = fn.isotropic(ns, ps, S, T).relative_gap       # definition2 / theorem1 route
    ngap = ns * gap
    err = np.abs(ngap - C)
    assert np.all(np.diff(err) < 0)                      # monotone approach
    # next order: n gap - C = C / (|1 - gamma| n) + O(1/n^2)
    assert err[-1] * ns[-1] == pytest.approx(C / abs(1 - gamma), rel=2e-3)
    assert gap[-1] * ns[-1] == pytest.approx(C, rel=2 / (abs(1 - gamma) * ns[-1]))


def test_distance_for_gap():
    assert fn.distance_for_gap(0.01) == 101
    assert fn.distance_for_gap(0.1) == 11
    for eps in (0.01, 0.1, 0.037):
        k = fn.distance_for_gap(eps)
        for n in (200, 5000):                            # below the threshold, any n
            assert fn.isotropic_gap(n, n - k) <= eps * (1 + 1e-12)
            assert fn.isotropic_gap(n, n - k + 1) > eps
            # above it, a pure-variance isotropic risk (S = 0) has the same gap
            assert fn.isotropic(n, n + k, 0.0, 1.0).relative_gap <= eps * (1 + 1e-9)
            assert fn.isotropic(n, n + k - 1, 0.0, 1.0).relative_gap > eps
    for eps, share in [(0.05, 0.3), (0.2, 0.9), (0.013, 0.77)]:
        k = fn.distance_for_gap(eps, share)
        assert share / (k - 1) <= eps < share / (k - 2)


# ---------------------------------------------------------------------------
# against simulation
# ---------------------------------------------------------------------------


def _dense_isotropic_mc(n, p, c, reps, seed):
    """Lemma 1 by brute force: Gaussian X with Sigma_x = c I, B* random, noise integrated."""
    rng = np.random.default_rng(seed)
    d = 3
    B = rng.standard_normal((p, d)) * 0.3 / np.sqrt(p)   # S of the order of T/10: the variance matters
    Sr = np.diag([0.5, 1.0, 1.5])
    X = np.sqrt(c) * rng.standard_normal((reps, n, p))
    Xp = np.linalg.pinv(X)                               # (reps, p, n)
    P = Xp @ X                                           # projector on the row space
    Pi = np.eye(p) - P
    bias = c * np.einsum("pd,rpq,qd->r", B, Pi, B)
    variance = np.trace(Sr) * c * np.einsum("rpn,rpn->r", Xp, Xp)   # tr Sr tr(X^+ X^+T Sigma_x)
    return bias + variance, c * np.sum(B**2), np.trace(Sr)


@pytest.mark.parametrize("n, p", [(20, 8), (20, 40), (12, 30)])
def test_exact_mean_against_dense_simulation(n, p):
    reps = 3000
    risks, S, T = _dense_isotropic_mc(n, p, c=2.5, reps=reps, seed=[11, n, p])
    res = fn.isotropic(n, p, S, T)
    mean, se = risks.mean(), risks.std(ddof=1) / np.sqrt(reps)
    assert abs(mean - res.exact_risk) / se < Z
    # the asymptotic value is far off, and the simulation sees it
    assert abs(mean - res.asymptotic_risk) / se > 2 * Z


def test_measured_gap_matches_exact_below_and_isotropic_above():
    under = fn.measured_gap((16, 32), 0.5, 0.25, 0.5, reps=3000, rng=5)
    iso = fn.measured_gap((16, 32), 2.0, 1.0, 0.3, snr=2.0, reps=1500, rng=6)
    for g in (under, iso):
        assert np.all(np.isfinite(g.exact))
        assert np.all(np.abs(g.sim_risk - g.exact) / g.sim_stderr < Z)
        # the exact gap is the closed-form isotropic gap, and the simulation resolves it
        np.testing.assert_allclose(g.exact_gap, g.isotropic_formula, rtol=1e-9)
        assert np.all(g.relative_gap / g.gap_stderr > 3)
    np.testing.assert_array_equal(under.p, [8, 16])
    np.testing.assert_array_equal(iso.d, iso.p)
    # isotropic HMM (p <= d): B_X = alpha (p - n) for every training set
    alpha = 2.0 * (1 - 0.3) / 3.0
    np.testing.assert_allclose(iso.sim_bias, alpha * (iso.p - iso.n), rtol=1e-9)
    assert np.all(iso.bias_stderr < 1e-9 * iso.sim_bias)
    np.testing.assert_allclose(iso.asymptotic.bias, alpha * (iso.p - iso.n), rtol=1e-9)


def test_measured_gap_anisotropic_has_no_exact_and_is_reproducible():
    a = fn.measured_gap((20, 40), 2.0, 0.25, 0.5, reps=200, rng=9)
    b = fn.measured_gap((40,), 2.0, 0.25, 0.5, reps=200, rng=9)
    assert np.all(np.isnan(a.exact))
    assert a.sim_risk[1] == b.sim_risk[0]                 # a point does not depend on the rest
    np.testing.assert_array_equal(a.d, [10, 20])
    ref = theory.definition3(40, 80.0, 20, 0.5)
    assert a.asymptotic.risk[1] == pytest.approx(ref.risk, rel=1e-12)
    model = hr.make_model(80, 20, 0.5, rng=np.random.default_rng(np.random.SeedSequence([9, 40]).spawn(2)[0]))
    assert hr.population(model).irreducible == pytest.approx(a.asymptotic.irreducible[1], rel=1e-10)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("call, name", [
    (lambda: fn.isotropic(1, 5), "n"),
    (lambda: fn.isotropic(10, 0), "p"),
    (lambda: fn.isotropic(10, 2.5), "p"),
    (lambda: fn.isotropic(10, 20, signal=-1.0), "signal"),
    (lambda: fn.isotropic(10, 20, irreducible=0.0), "irreducible"),
    (lambda: fn.isotropic(10, 20, irreducible=np.nan), "irreducible"),
    (lambda: fn.isotropic_gap(0.0, 20), "n"),
    (lambda: fn.isotropic_gap(10, -1.0), "p"),
    (lambda: fn.isotropic_gap(10, 20, signal="a"), "signal"),
    (lambda: fn.leading_order(0.0), "gamma"),
    (lambda: fn.leading_order(2.0, irreducible=-1.0), "irreducible"),
    (lambda: fn.distance_for_gap(0.0), "eps"),
    (lambda: fn.distance_for_gap(0.1, share=1.5), "share"),
    (lambda: fn.measured_gap([], 2.0, 0.25, 0.5), "ns"),
    (lambda: fn.measured_gap([20, 20], 2.0, 0.25, 0.5), "ns"),
    (lambda: fn.measured_gap([1], 2.0, 0.25, 0.5), "ns"),
    (lambda: fn.measured_gap([20], 1.1, 0.25, 0.5), "gamma"),
    (lambda: fn.measured_gap([20], 0.0, 0.25, 0.5), "gamma"),
    (lambda: fn.measured_gap([20], 2.0, 0.0, 0.5), "psi"),
    (lambda: fn.measured_gap([20], 2.0, 0.25, 1.5), "noise"),
    (lambda: fn.measured_gap([20], 2.0, 0.25, 0.5, snr=0.0), "snr"),
    (lambda: fn.measured_gap([20], 2.0, 0.25, 0.5, reps=1), "reps"),
    (lambda: fn.measured_gap([20, 40], 2.0, 0.25, 0.5, reps=[10, 10, 10]), "reps"),
    (lambda: fn.measured_gap([20], 2.0, 0.25, 0.5, rng=-1), "rng"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises((TypeError, ValueError), match=name):
        call()
