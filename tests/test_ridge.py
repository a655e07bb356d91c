"""Tests of the ridge section of hmmrisk.theory ({ref}`ch-ridge`).

Every formula is checked against an independent route: scipy's brentq on a
materialised spectrum and dense p x p matrices for the deterministic
equivalent, np.roots for the cubic of the two-point spectrum, the population
code for the orthogonal fast path, Definition 2 / Theorem 1 / ||B*||^2_Sigma_x
for the limits lam -> 0 and lam -> inf, the closed-form optimum of the
isotropic case, and Monte Carlo with tolerances from the standard error.
"""

import numpy as np
import pytest
from scipy.optimize import brentq

import hmmrisk as hr
from hmmrisk import theory as th

from conftest import mc_mean


def pop_of(p, d, noise=0.5, snr=1.0, embedding="orthogonal", seed=0):
    return hr.population(hr.make_model(p, d, noise, snr, embedding, rng=seed))


def kappa_brentq(s, n, lam):
    """The ridge kappa-equation by plain bracketing on a materialised spectrum."""
    s = np.asarray(s, float)
    f = lambda k: np.sum(s / (s + k)) + n * lam / k - n          # noqa: E731
    return brentq(f, lam * (1 - 1e-12), lam + s.sum() / n * 2 + 1, xtol=1e-300, rtol=1e-15,
                  maxiter=500)


def dense_ridge(pop, n, lam):
    """The deterministic equivalent with dense matrices: no eigenvector weights, no unit block."""
    S = pop.sigma_x_dense()
    ev = np.linalg.eigvalsh(S)
    k = kappa_brentq(ev, n, lam)
    R = np.linalg.inv(S + k * np.eye(pop.p))
    SR = S @ R
    d2 = np.trace(SR @ SR) / n
    bias = k**2 * np.trace(pop.B_star.T @ S @ R @ R @ pop.B_star) / (1 - d2)
    return bias, pop.irreducible * d2 / (1 - d2), k


# ---------------------------------------------------------------------------
# kappa and the deterministic equivalent on a general spectrum
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("p", [5, 40, 60, 61, 90, 300])
@pytest.mark.parametrize("lam", [1e-9, 1e-3, 0.5, 40.0, 1e7])
def test_ridge_kappa_matches_brentq(p, lam):
    n = 60
    s = np.random.default_rng(p).gamma(2.0, 1.0, size=p) + 0.05
    k = th.ridge_kappa(s, n, lam)
    ref = kappa_brentq(s, n, lam)
    assert k == pytest.approx(ref, rel=1e-12)
    assert lam < k <= lam + s.sum() / n


def test_ridge_kappa_unit_block_and_batches():
    n = 50
    s = np.array([4.0, 3.0, 2.5])
    full = np.r_[s, np.ones(77)]
    lams = np.array([1e-4, 0.1, 10.0])
    k = th.ridge_kappa(s, n, lams, n_unit=77)                   # one spectrum, a sweep of lam
    assert k.shape == (3,)
    for i, lam in enumerate(lams):
        assert k[i] == pytest.approx(kappa_brentq(full, n, lam), rel=1e-12)
    # a zero-padded batch of spectra, one lam per spectrum, n per spectrum
    batch = np.array([[4.0, 3.0, 2.5], [2.0, 0.0, 0.0]])
    kb = th.ridge_kappa(batch, [50, 20], [0.1, 0.3], n_unit=[77, 10])
    assert kb[0] == pytest.approx(kappa_brentq(full, 50, 0.1), rel=1e-12)
    assert kb[1] == pytest.approx(kappa_brentq(np.r_[2.0, np.ones(10)], 20, 0.3), rel=1e-12)


@pytest.mark.parametrize("p", [30, 100, 101, 170])
@pytest.mark.parametrize("lam", [1e-3, 0.2, 5.0])
def test_ridge_risk_matches_dense_matrices(p, lam):
    n, d = 100, 40
    pop = pop_of(p, d, embedding="gaussian", seed=p)
    pred = th.ridge_risk(pop.eigvals, pop.signal, n, pop.irreducible, lam, n_unit=pop.n_unit)
    bias, variance, _ = dense_ridge(pop, n, lam)
    assert pred.formula == "ridge"
    assert pred.bias == pytest.approx(bias, rel=1e-9, abs=1e-12)
    assert pred.variance == pytest.approx(variance, rel=1e-9)
    assert pred.irreducible == pytest.approx(pop.irreducible)


def test_ridge_risk_batch_equals_single_calls():
    pop = pop_of(80, 20, embedding="gaussian", seed=3)
    lams = np.array([0.01, 0.1, 1.0])
    sweep = th.ridge_risk(pop.eigvals, pop.signal, 50, pop.irreducible, lams, n_unit=pop.n_unit)
    assert isinstance(sweep, th.RidgePredictions) and len(sweep) == 3
    np.testing.assert_array_equal(sweep.ridge, lams)
    assert np.all(sweep.p == 80)
    for i, lam in enumerate(lams):
        one = th.ridge_risk(pop.eigvals, pop.signal, 50, pop.irreducible, float(lam), n_unit=pop.n_unit)
        assert one.bias == pytest.approx(sweep.bias[i], rel=1e-14)
        assert one.variance == pytest.approx(sweep.variance[i], rel=1e-14)


# ---------------------------------------------------------------------------
# The orthogonal embedding: fast path and its cubic
# ---------------------------------------------------------------------------


def test_two_point_fast_path_matches_general_spectrum():
    n, d, noise = 100, 50, 0.3
    ps = np.array([1, 20, 50, 99, 100, 101, 150, 400])
    lams = np.array([1e-6, 0.05, 2.0, 300.0])
    grid = th.ridge_orthogonal(n, ps[:, None].astype(float), d, noise, ridge=lams[None, :])
    assert grid.bias.shape == (ps.size, lams.size)
    for i, p in enumerate(ps):
        pop = pop_of(int(p), d, noise, seed=int(p))
        ref = th.ridge_risk(pop.eigvals, pop.signal, n, pop.irreducible, lams, n_unit=pop.n_unit)
        np.testing.assert_allclose(grid.bias[i], ref.bias, rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(grid.variance[i], ref.variance, rtol=1e-9)
        np.testing.assert_allclose(grid.irreducible[i], pop.irreducible, rtol=1e-12)
        np.testing.assert_allclose(grid.kappa[i], ref.kappa, rtol=1e-12)


@pytest.mark.parametrize("p", [10.0, 50.0, 100.0, 137.5, 900.0])
@pytest.mark.parametrize("lam", [1e-4, 0.3, 30.0])
def test_two_point_kappa_is_the_positive_root_of_the_cubic(p, lam):
    n, d, snr = 100, 50, 1.5
    s1, r, _, _ = th.orthogonal_spectrum(p, d, 0.5, snr)
    coeffs = [1.0, 1 + s1 - lam - (r * s1 + p - r) / n, s1 - lam * (1 + s1) - s1 * p / n, -lam * s1]
    roots = np.roots(coeffs)
    positive = roots[(np.abs(roots.imag) < 1e-9 * np.abs(roots)) & (roots.real > 0)].real
    assert positive.size == 1
    k = th.ridge_orthogonal(n, np.array([p]), d, 0.5, snr, ridge=lam).kappa[0]
    assert k == pytest.approx(positive[0], rel=1e-8)


# ---------------------------------------------------------------------------
# Limits (Proposition prop-ridge-limits)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("p", [101, 150, 1000])
def test_small_ridge_tends_to_definition2_above_threshold(p):
    n, d = 100, 50
    pop = pop_of(p, d, embedding="gaussian", seed=p)
    ref = th.definition2(pop.eigvals, pop.signal, n, pop.irreducible, n_unit=pop.n_unit)
    k0 = th.solve_kappa(pop.eigvals, n, n_unit=pop.n_unit)
    gaps = []
    for lam in (1e-4, 1e-6, 1e-8):
        pred = th.ridge_risk(pop.eigvals, pop.signal, n, pop.irreducible, lam, n_unit=pop.n_unit)
        gaps.append(abs(pred.risk / ref.risk - 1))
        assert th.ridge_kappa(pop.eigvals, n, lam, n_unit=pop.n_unit) > k0
    # converges, at the rate O(lam) (slowly just above the threshold, where kappa_0 is small)
    assert gaps[-1] < (1e-3 if p == 101 else 1e-6)
    assert 50 < gaps[1] / gaps[2] < 200


@pytest.mark.parametrize("p", [10, 50, 80, 95])
def test_small_ridge_tends_to_theorem1_limit_below_threshold(p):
    n, d = 100, 50
    pop = pop_of(p, d, seed=p)
    ref = th.theorem1(n, p, irreducible=pop.irreducible, exact=False)
    lam = 1e-9
    pred = th.ridge_risk(pop.eigvals, pop.signal, n, pop.irreducible, lam, n_unit=pop.n_unit)
    assert pred.variance == pytest.approx(ref, rel=1e-6)
    assert pred.bias < 1e-12
    k = th.ridge_kappa(pop.eigvals, n, lam, n_unit=pop.n_unit)
    assert k / lam == pytest.approx(n / (n - p), rel=1e-6)


def test_large_ridge_tends_to_null_head():
    n, p, d = 80, 120, 30
    pop = pop_of(p, d, embedding="gaussian", seed=7)
    S, B = pop.sigma_x_dense(), pop.B_star
    null_risk = np.trace(B.T @ S @ B)                               # ||B*||^2_{Sigma_x}
    prev = 0.0
    for lam in (1e2, 1e4, 1e6):
        pred = th.ridge_risk(pop.eigvals, pop.signal, n, pop.irreducible, lam, n_unit=pop.n_unit)
        assert prev < pred.bias < null_risk
        prev = pred.bias
    # bias = ||B*||^2_{Sigma_x} - 2 tr(B*^T Sigma_x^2 B*) / lam + O(1/lam^2)
    assert (null_risk - pred.bias) * 1e6 == pytest.approx(2 * np.trace(B.T @ S @ S @ B), rel=1e-4)
    s, _ = pop.spectrum()
    # variance ~ tr Sigma_r tr(Sigma_x^2) / (n lam^2)
    assert pred.variance == pytest.approx(pop.irreducible * np.sum(s**2) / (n * 1e12), rel=1e-4)


def test_threshold_variance_diverges_like_inverse_sqrt_ridge():
    n, d, noise = 100, 50, 0.5
    s1, r, _, tr = th.orthogonal_spectrum(100.0, d, noise)
    inv_sum = r / s1 + (n - r)                                       # sum_i 1/s_i at p = n
    for lam, tol in ((1e-6, 2e-3), (1e-10, 2e-5)):
        pred = th.ridge_orthogonal(n, 100.0, d, noise, ridge=lam)
        lead = tr / 2 * np.sqrt(n / (lam * inv_sum))
        assert pred.variance == pytest.approx(lead, rel=tol)
        assert pred.bias < 10 * np.sqrt(lam)


# ---------------------------------------------------------------------------
# The optimal penalty (Proposition prop-ridge-optimal)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("noise, snr", [(0.5, 1.0), (0.2, 3.0), (0.9, 0.5)])
def test_optimal_ridge_closed_form_when_isotropic(noise, snr):
    n, d = 100, 50
    ps = np.array([1.0, 10.0, 35.0, 50.0])                           # p <= d: Sigma_x = (1 + rho) I
    lam, pred = th.optimal_ridge(n, ps, d, noise, snr)
    _, _, b1, tr = th.orthogonal_spectrum(ps, d, noise, snr)
    closed = tr / (n * b1)
    np.testing.assert_allclose(lam, closed, rtol=1e-6)
    at_closed = th.ridge_orthogonal(n, ps, d, noise, snr, ridge=closed)
    np.testing.assert_allclose(at_closed.risk, tr * (at_closed.kappa / closed - 1), rtol=1e-9)
    np.testing.assert_allclose(pred.risk, at_closed.risk, rtol=1e-12)


def test_closed_form_optimum_for_equal_weights_on_any_spectrum():
    n, tr = 40, 3.0
    s = np.random.default_rng(0).gamma(1.5, 1.0, size=70) + 0.1
    beta = 0.02
    lam_star = tr / (n * beta)
    lams = lam_star * np.array([1.0, 0.9, 1.1, 0.99, 1.01])
    risk = th.ridge_risk(s, np.full_like(s, beta), n, tr, lams).risk
    assert np.all(risk[1:] > risk[0])


@pytest.mark.parametrize("p", [51.0, 100.0, 180.0, 500.0])
def test_optimal_ridge_is_a_minimum(p):
    n, d, noise = 100, 50, 0.5
    lam, pred = th.optimal_ridge(n, p, d, noise)
    assert lam > 0 and pred.formula == "ridge"
    for delta in (1e-3, 1e-1):
        for side in (1 - delta, 1 + delta):
            assert th.ridge_orthogonal(n, p, d, noise, ridge=lam * side).risk >= pred.risk * (1 - 1e-13)


def test_optimal_ridge_can_be_zero():
    n, d = 100, 50
    lam, pred = th.optimal_ridge(n, np.array([80.0, 2000.0]), d, 0.0)
    assert lam[0] > 0 and lam[1] == 0.0
    assert list(pred.formula) == ["ridge", "definition2"]
    ref = th.definition3(n, 2000.0, d, 0.0)
    assert pred.risk[1] == pytest.approx(ref.risk, rel=1e-12)
    small = th.ridge_orthogonal(n, 2000.0, d, 0.0, ridge=np.array([1e-6, 1e-3, 1e-1])).risk
    assert np.all(small > ref.risk) and np.all(np.diff(small) > 0)


# ---------------------------------------------------------------------------
# Against simulation
# ---------------------------------------------------------------------------


def test_ridge_matches_simulation():
    """MC z-scores at p < n, p = n and p > n; ridge heads fitted on HMM samples.

    A deterministic equivalent is exact only as n -> infinity: its relative
    error is O(1/n) (in the isotropic min-norm case exactly 1/(p - n - 1)), so
    the tolerance is 4 standard errors plus 1/n of the prediction.  The naive
    plug-in kappa = lam (no self-consistency) fails the same test.
    """
    n, d, noise, reps = 60, 30, 0.5, 100
    for p, lam in ((20, 0.3), (60, 1.0), (100, 3.0)):
        model = hr.make_model(p, d, noise, rng=p)
        est = hr.simulate_risk(model, n, reps=reps, rng=np.random.default_rng([11, p]), ridge=lam)
        mean, se = mc_mean(est.risks)
        pred = th.ridge_orthogonal(n, p, d, noise, ridge=lam)
        assert abs(mean - pred.risk) < 4 * se + pred.risk / n, (p, lam, mean, se, pred.risk)
        # the same criterion has the power to reject a wrong formula
        s1, r, b1, tr = th.orthogonal_spectrum(float(p), d, noise)
        s, m, b = np.array([s1, 1.0]), np.array([r, p - r]), np.array([b1, 0.0])
        naive = np.sum(m * b * s * lam**2 / (s + lam) ** 2) + tr * np.sum(m * s**2 / (s + lam) ** 2) / n
        assert abs(mean - naive) > 4 * se + naive / n


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("ridge", [0.0, -1.0, np.nan, np.inf, [0.1, 0.0], True, "1", None])
def test_bad_ridge_raises(ridge):
    kind = TypeError if ridge is None or isinstance(ridge, (bool, str)) else ValueError
    with pytest.raises(kind, match="ridge"):
        th.ridge_orthogonal(100, 50.0, 50, 0.5, ridge=ridge)
    with pytest.raises(kind, match="ridge"):
        th.ridge_risk([2.0, 1.0], [0.1, 0.0], 10, 1.0, ridge)
    with pytest.raises(kind, match="ridge"):
        th.ridge_kappa([2.0, 1.0], 10, ridge)


def test_bad_spectrum_raises():
    with pytest.raises(ValueError, match="eigvals"):
        th.ridge_risk([[[1.0]]], [[[1.0]]], 10, 1.0, 0.1)
    with pytest.raises(ValueError, match="eigvals"):
        th.ridge_risk([-1.0, 2.0], [0.0, 0.0], 10, 1.0, 0.1)
    with pytest.raises(ValueError, match="eigvals"):
        th.ridge_risk([0.0, 0.0], [0.0, 0.0], 10, 1.0, 0.1)
    with pytest.raises(ValueError, match="signal"):
        th.ridge_risk([1.0, 2.0], [0.0], 10, 1.0, 0.1)
    with pytest.raises(ValueError, match="irreducible"):
        th.ridge_risk([1.0, 2.0], [0.0, 0.0], 10, -1.0, 0.1)
    with pytest.raises(ValueError, match="n_unit"):
        th.ridge_risk([[1.0], [2.0]], [[0.0], [0.0]], 10, 1.0, 0.1, n_unit=[1, 2, 3])
    with pytest.raises(ValueError, match="n must"):
        th.ridge_kappa([1.0, 2.0], 1, 0.1)
    with pytest.raises(ValueError, match="broadcast"):
        th.ridge_risk([[1.0], [2.0]], [[0.0], [0.0]], 10, 1.0, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="broadcast"):
        th.ridge_orthogonal(100, np.array([50.0, 60.0]), 50, 0.5, ridge=np.array([0.1, 0.2, 0.3]))


def test_bad_orthogonal_and_optimal_arguments_raise():
    with pytest.raises(ValueError, match="p must"):
        th.ridge_orthogonal(100, 0.5, 50, 0.5, ridge=1.0)
    with pytest.raises(ValueError, match="noise"):
        th.ridge_orthogonal(100, 50.0, 50, 1.5, ridge=1.0)
    with pytest.raises(ValueError, match="snr"):
        th.ridge_orthogonal(100, 50.0, 50, 0.5, snr=0.0, ridge=1.0)
    with pytest.raises(ValueError, match="noise"):
        th.optimal_ridge(100, 50.0, 50, 1.0)                         # B* = 0: lam* = inf
    with pytest.raises(ValueError, match="bounds"):
        th.optimal_ridge(100, 50.0, 50, 0.5, bounds=(1.0, 0.5))
    with pytest.raises(ValueError, match="bounds"):
        th.optimal_ridge(100, 50.0, 50, 0.5, bounds=(0.0, 1.0))
    with pytest.raises(ValueError, match="bounds"):
        th.optimal_ridge(100, 50.0, 50, 0.5, bounds=3.0)
    with pytest.raises(ValueError, match="upper end"):
        th.optimal_ridge(100, 50.0, 50, 0.5, bounds=(1e-3, 1.0))     # lam* = 3
    with pytest.raises(ValueError, match="lower end"):
        th.optimal_ridge(100, 50.0, 50, 0.5, bounds=(10.0, 1e3))
    with pytest.raises(ValueError, match="grid"):
        th.optimal_ridge(100, 50.0, 50, 0.5, grid=3)
