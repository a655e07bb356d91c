"""Tests of hmmrisk.empirical: the theory from a sample of features ({ref}`ch-own-features`).

The reference distribution is *not* the HMM: Gaussian rows ``x = Sigma^{1/2} g``
with a power-law spectrum ``lambda_k = 1/k`` (``p = 100``) in a random
orthonormal basis, a known coefficient ``B`` and targets ``y = B^T x + e``,
``e ~ N(0, sigma^2 I_2)``.  Three independent routes are compared with the
theory computed from ``N = 40000`` rows of it:

* the same theory functions evaluated on the *true* ``(Sigma, B, tr Sigma_r)``;
* a plain Monte Carlo on fresh draws from the true distribution, with the
  head fitted by ``numpy.linalg.pinv`` and its risk ``(B_hat - B)^T Sigma
  (B_hat - B)`` evaluated with the true ``Sigma``;
* numpy's ``lstsq``/``eigvalsh`` for the population quantities themselves.

Sample sizes are ``n = 300`` (``p/n = 1/3``, Theorem 1) and ``n = 25``
(``p/n = 4``, Definition 2), both far from the threshold ``p = n``.
"""

import numpy as np
import pytest

import hmmrisk as hr
from hmmrisk import _resources
from hmmrisk import theory as th

from conftest import mc_mean

P, D, N, NOISE = 100, 2, 40_000, 0.5
N_UNDER, N_OVER = 300, 25
LAM = np.arange(1, P + 1) ** -1.0
_g = np.random.default_rng(1)
Q = np.linalg.qr(_g.standard_normal((P, P)))[0]
ROOT = (Q * np.sqrt(LAM)) @ Q.T                 # Sigma^{1/2}
SIGMA = (Q * LAM) @ Q.T
B = 2.0 * _g.standard_normal((P, D)) / np.sqrt(P)
SIGNAL = np.sum((Q.T @ B) ** 2, axis=1)         # ||B^T v_k||^2 on the true eigenvectors
TR = NOISE * D


def draw(m, rng):
    X = rng.standard_normal((m, P)) @ ROOT
    return X, X @ B + np.sqrt(NOISE) * rng.standard_normal((m, D))


def truth(n, ridge=0.0):
    """The package's theory on the true distribution (the first independent route)."""
    if ridge > 0:
        return th.ridge_risk(LAM, SIGNAL, n, TR, ridge=ridge).risk
    if P < n - 1:
        return th.theorem1(n, P, irreducible=TR)
    return th.definition2(LAM, SIGNAL, n, TR).risk


def pinv_monte_carlo(n, reps, rng):
    """Mean and standard error of the excess risk of pinv heads on fresh true draws."""
    X, Y = draw(n * reps, rng)
    delta = np.linalg.pinv(X.reshape(reps, n, P)) @ Y.reshape(reps, n, D) - B
    return mc_mean(np.einsum("kij,il,klj->k", delta, SIGMA, delta))


@pytest.fixture(scope="module")
def samples():
    """Six independent samples of N rows and their populations."""
    return [hr.population_from_data(*draw(N, np.random.default_rng(100 + k))) for k in range(6)]


@pytest.mark.parametrize("n, ridge", [(N_UNDER, 0.0), (N_OVER, 0.0), (N_OVER, 1e-2)])
def test_theory_from_the_sample_matches_the_theory_from_the_truth(samples, n, ridge):
    """Plug-in theory vs true theory, within the sampling error of the plug-in.

    The sampling error is measured, not assumed: the spread of the plug-in
    over six independent samples gives the standard error of their mean.
    Tolerance: 4 standard errors (a t-statistic with 5 degrees of freedom,
    two-sided p ~ 0.01) plus ``2 p/N = 0.5%`` of the value for the known
    O(p/N) bias of plug-in estimates (e.g. the residual trace of least squares on
    N rows has mean ``(1 - p/N) tr Sigma_r``).
    """
    est = np.array([pop.predict(n, ridge=ridge).risk for pop in samples])
    mean, se = mc_mean(est)
    want = truth(n, ridge)
    assert abs(mean - want) <= 4 * se + 2 * P / N * want, (mean, se, want)
    assert se < 0.02 * want                     # the plug-in is itself precise at N = 40000


@pytest.mark.parametrize("n, reps, rel", [(N_UNDER, 200, 0.02), (N_OVER, 2000, 0.05)])
def test_theory_from_the_sample_matches_a_pinv_monte_carlo_on_fresh_draws(samples, n, reps, rel):
    """Theory from one sample vs the plain Monte Carlo on the true distribution.

    Tolerance: ``rel`` of the value plus 3 Monte Carlo standard errors.
    At ``p/n = 1/3`` Theorem 1's ``p/(n - p - 1)`` is the exact Gaussian
    mean, so only the plug-in error (well under 1%, previous test) remains:
    ``rel = 2%``.  At ``p/n = 4`` Definition 2 is a deterministic equivalent
    with a finite-n error of order 1/n; at n = 25 it is about 2% here (the
    mean of 2000 sets is 0.782 +- 0.004 against 0.772), so ``rel = 5%``.
    """
    mean, se = pinv_monte_carlo(n, reps, np.random.default_rng(7))
    pred = samples[0].predict(n)
    assert pred.formula == ("theorem1-exact" if n == N_UNDER else "definition2")
    assert abs(pred.risk - mean) <= rel * mean + 3 * se, (pred.risk, mean, se)


@pytest.mark.parametrize("n, reps", [(N_UNDER, 100), (N_OVER, 1000)])
def test_simulation_from_the_sample_matches_fresh_draws(samples, n, reps):
    """Training sets drawn without replacement from the sample vs fresh true draws.

    Both are Monte Carlo means of the same risk (the sample's population is
    within ``p/N`` of the truth and ``n/N <= 1%`` of the rows are drawn at
    once): tolerance 3 combined standard errors plus ``2 p/N`` of the value.
    """
    sim = samples[0].simulate(n, reps, rng=3)
    mean, se = pinv_monte_carlo(n, reps, np.random.default_rng(8))
    assert abs(sim.risk - mean) <= 3 * np.hypot(sim.stderr, se) + 2 * P / N * mean
    assert sim.reps == reps and sim.irreducible == samples[0].irreducible
    # the per-set bias and variance add up to the risk up to a cross term of mean ~0
    cross = sim.risks - sim.biases - sim.variances
    assert abs(cross.mean()) <= 4 * cross.std(ddof=1) / np.sqrt(reps) + 1e-12
    if n > P:
        assert np.all(sim.biases < 1e-20)           # n > rank: the noiseless fit is exact


def test_population_quantities_match_numpy():
    """Sigma_x's spectrum, ||B*||_F^2 and tr Sigma_r against eigvalsh and lstsq."""
    X, Y = draw(2000, np.random.default_rng(5))
    pop = hr.population_from_data(X, Y)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    coef, *_ = np.linalg.lstsq(Xc, Yc, rcond=None)
    np.testing.assert_allclose(pop.eigvals, np.linalg.eigvalsh(Xc.T @ Xc / 2000)[::-1], rtol=1e-10)
    np.testing.assert_allclose(pop.signal.sum(), np.sum(coef**2), rtol=1e-9)
    np.testing.assert_allclose(pop.irreducible, np.sum((Yc - Xc @ coef) ** 2) / 2000, rtol=1e-9)
    assert (pop.p, pop.rank, pop.d, pop.rows) == (P, P, D, 2000)
    raw = hr.population_from_data(X, Y, center=False)   # raw second moments
    np.testing.assert_allclose(raw.eigvals, np.linalg.eigvalsh(X.T @ X / 2000)[::-1], rtol=1e-10)


def test_predict_curve_is_predict_at_each_n(samples):
    ns = [25, 60, 98, 99, 100, 101, 102, 300, 1000]
    curve = samples[0].predict_curve(ns)
    for i, n in enumerate(ns):
        one = samples[0].predict(n)
        assert (curve[i].bias, curve[i].variance, curve[i].formula) == (one.bias, one.variance,
                                                                         one.formula)
    assert list(curve.formula) == ["definition2"] * 4 + ["threshold"] * 2 + ["theorem1-exact"] * 3
    ridge = samples[0].predict_curve(ns, ridge=0.1)
    assert np.all(np.isfinite(ridge.risk)) and set(ridge.formula) == {"ridge"}


def test_rank_deficient_features_use_the_effective_dimension():
    """Constant and duplicated columns: the rank is the dimension, nothing fails.

    For ``n > r + 1`` the least-squares predictions depend only on the span of
    the columns, so the theory and each simulated risk are those of the
    deduplicated features (same draws, same rng), to rounding.
    """
    X, Y = draw(3000, np.random.default_rng(6))
    X = X[:, :20]
    wide = np.column_stack([X, X[:, :5], 3.0 * X[:, 7], np.ones(3000)])
    pop, ref = hr.population_from_data(wide, Y), hr.population_from_data(X, Y)
    assert (pop.p, pop.rank, ref.rank) == (27, 20, 20)
    for n in (40, 200):
        a, b = pop.predict(n), ref.predict(n)
        assert a.formula == b.formula == "theorem1-exact"
        assert a.variance == pytest.approx(b.variance, rel=1e-9)
        np.testing.assert_allclose(pop.simulate(n, 5, rng=0).risks, ref.simulate(n, 5, rng=0).risks,
                                   rtol=1e-6)
    # Definition 2 on the rank: 20 non-zero eigenvalues, n = 10
    assert pop.predict(10).formula == "definition2"
    # more columns than rows: rank N - 1 after centring, Definition 2 below it
    few = hr.population_from_data(wide[:15], Y[:15])
    assert few.rank == 14 and few.predict(10).formula == "definition2"
    assert np.isfinite(few.simulate(10, 3, rng=0).risk)


def test_the_population_is_invariant_under_a_rotation_of_the_features():
    X, Y = draw(500, np.random.default_rng(9))
    R = np.linalg.qr(np.random.default_rng(10).standard_normal((P, P)))[0]
    a, b = hr.population_from_data(X, Y), hr.population_from_data(X @ R, Y)
    np.testing.assert_allclose(a.eigvals, b.eigvals, rtol=1e-9)
    np.testing.assert_allclose(a.signal, b.signal, rtol=1e-6, atol=1e-12)
    assert a.irreducible == pytest.approx(b.irreducible, rel=1e-9)


def test_simulate_is_reproducible_from_its_seed(samples):
    a, b = samples[0].simulate(30, 4, rng=11), samples[0].simulate(30, 4, rng=np.random.default_rng(11))
    np.testing.assert_array_equal(a.risks, b.risks)


X_OK, Y_OK = np.random.default_rng(0).standard_normal((10, 3)), np.ones((10, 1))


@pytest.mark.parametrize("X, Y, err, match", [
    (np.ones(10), Y_OK, ValueError, "X must be a 2-d"),
    (X_OK, np.ones(10), ValueError, "Y must be a 2-d"),
    (np.ones((10, 3, 2)), Y_OK, ValueError, "X must be a 2-d"),
    (X_OK, np.ones((9, 1)), ValueError, "same number of rows"),
    (np.where(np.eye(10, 3) > 0, np.nan, X_OK), Y_OK, ValueError, "X must contain only finite"),
    (X_OK, np.full((10, 1), np.inf), ValueError, "Y must contain only finite"),
    (X_OK.astype(object), Y_OK, TypeError, "X must be an array of real numbers"),
    (X_OK.astype(complex), Y_OK, TypeError, "X must be an array of real numbers"),
    ([["a"] * 3] * 10, Y_OK, TypeError, "X must be an array of real numbers"),
    (X_OK[:1], Y_OK[:1], ValueError, "X must have at least 2 rows"),
    (np.ones((10, 3)), Y_OK, ValueError, "at least one column that varies"),
    ([[1.0, 2.0], [3.0]], Y_OK[:2], ValueError, "X must be a rectangular"),
])
def test_bad_data_raise_naming_the_argument(X, Y, err, match):
    with pytest.raises(err, match=match):
        hr.population_from_data(X, Y)


def test_bad_arguments_raise_naming_the_argument(monkeypatch):
    pop = hr.population_from_data(X_OK, X_OK[:, :1])
    for call, err, match in [
        (lambda: pop.predict(1), ValueError, "n must be an integer >= 2"),
        (lambda: pop.predict(11), ValueError, "n must be at most the number of rows N = 10"),
        (lambda: pop.predict(5.0), TypeError, "n must be an integer"),
        (lambda: pop.predict(5, ridge=-1.0), ValueError, "ridge must be"),
        (lambda: pop.predict(5, ridge="0"), TypeError, "ridge must be"),
        (lambda: pop.predict_curve([]), ValueError, "ns must hold"),
        (lambda: pop.predict_curve([[5]]), ValueError, "ns must be"),
        (lambda: pop.simulate(5, 1), ValueError, "reps must be"),
        (lambda: pop.simulate(5, 3, rng=-1), ValueError, "rng must be"),
        (lambda: hr.population_from_data(X_OK, Y_OK, center=1), TypeError, "center must be"),
    ]:
        with pytest.raises(err, match=match):
            call()
    with _resources.limits(memory=1024), \
            pytest.raises(ValueError, match=r"X of shape \(10, 3\).*memory"):   # before any work
        hr.population_from_data(X_OK, Y_OK)
