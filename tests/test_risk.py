"""Lemma 1 and the Monte Carlo risk, each against an independent route."""

import numpy as np
import pytest

import hmmrisk as hr
from hmmrisk.montecarlo import (MARGIN as _MARGIN, _over_terms, _over_terms_dense, _trace_inv_bidiagonal,
                          _unit_gram, _wishart_bidiagonal)

from conftest import mc_mean


def lemma1_dense(pop, X):
    """Lemma 1 exactly as written: pseudo-inverse, projector, dense Sigma_x."""
    n, p = X.shape
    sigma_hat = X.T @ X / n
    sigma_hat_pinv = np.linalg.pinv(sigma_hat)
    proj = np.eye(p) - sigma_hat_pinv @ sigma_hat
    sigma_x = pop.sigma_x_dense()
    bias = np.trace(pop.B_star.T @ proj @ sigma_x @ proj @ pop.B_star)
    variance = pop.irreducible / n * np.trace(sigma_hat_pinv @ sigma_x)
    return bias, variance


@pytest.mark.parametrize("n, p, embedding", [(25, 10, "orthogonal"), (12, 30, "orthogonal"),
                                             (12, 30, "gaussian"), (10, 4, "gaussian")])
def test_conditional_risk_matches_lemma_as_written(n, p, embedding):
    m = hr.make_model(p, 6, 0.4, snr=1.1, embedding=embedding, rng=p)
    pop = hr.population(m)
    X, _ = m.sample(n, rng=n, reps=3)
    bias, variance = hr.conditional_risk(pop, X)
    for k in range(3):
        b, v = lemma1_dense(pop, X[k])
        assert np.isclose(bias[k], b, rtol=1e-9, atol=1e-12)
        assert np.isclose(variance[k], v, rtol=1e-9)


@pytest.mark.parametrize("p, ridge", [(8, 0.0), (40, 0.0), (40, 0.5), (8, 2.0)])
def test_lemma1_against_noise_monte_carlo(p, ridge):
    """Fix X; draw the noise many times; refit; average the realised excess risk."""
    n, d, draws = 20, 5, 6000
    m = hr.make_model(p, d, 0.5, rng=p + 1)
    pop = hr.population(m)
    rng = np.random.default_rng(p + 2)
    X, _ = m.sample(n, rng)
    R = rng.standard_normal((draws, n, d)) @ np.linalg.cholesky(pop.Sigma_r).T
    Y = X @ pop.B_star + R
    if ridge == 0:
        B_hat = np.linalg.pinv(X) @ Y                        # independent of fit_head
    else:
        B_hat = np.linalg.solve(X.T @ X / n + ridge * np.eye(p), X.T @ Y / n)
    mean, se = mc_mean(pop.excess_risk(B_hat))
    bias, variance = hr.conditional_risk(pop, X, ridge=ridge)
    assert abs(mean - (bias + variance)) < 4 * se
    # without noise the realised risk is the bias alone, exactly
    B_clean = np.linalg.pinv(X) @ X @ pop.B_star if ridge == 0 else \
        np.linalg.solve(X.T @ X / n + ridge * np.eye(p), X.T @ X @ pop.B_star / n)
    assert np.isclose(pop.excess_risk(B_clean), bias, rtol=1e-8, atol=1e-12)


def _dense_bidiagonal(a, c):
    """The (reps, dim, dim) lower-bidiagonal matrices L of the (dim, reps) arrays a, c."""
    dim, reps = a.shape
    L = np.zeros((reps, dim, dim))
    i = np.arange(dim)
    L[:, i, i] = a.T
    L[:, i[1:], i[:-1]] = c[1:].T
    return L


def test_bidiagonal_wishart_has_the_wishart_spectrum():
    """L L^T against dense Wishart draws: the mean and variance of tr K and tr K^2 (exact
    moments of W_dim(dof, I)), and the inverse-Wishart mean E tr K^{-1} = dim/(dof - dim - 1)."""
    rng = np.random.default_rng(0)
    dim, dof, reps = 6, 11, 200_000
    a, c = _wishart_bidiagonal(rng, dim, dof, reps)
    L = _dense_bidiagonal(a, c)
    K = L @ np.swapaxes(L, -1, -2)
    tr1 = np.trace(K, axis1=-2, axis2=-1)
    tr2 = np.sum(K * K, axis=(-2, -1))
    for sample, exact in [(tr1, dim * dof), (tr2, dim * dof * (dim + dof + 1)),
                          (tr1**2, dim * dof * (dim * dof + 2))]:
        mean, se = mc_mean(sample)
        assert abs(mean - exact) < 4 * se, (mean, exact, se)
    gram = _unit_gram(np.random.default_rng(0), dim, dof, reps)     # same draws, tridiagonal form
    assert np.allclose(gram, K)
    tr_inv = _trace_inv_bidiagonal(a, c)
    assert np.allclose(tr_inv[:100], np.trace(np.linalg.inv(K[:100]), axis1=-2, axis2=-1))
    mean, se = mc_mean(tr_inv)
    assert abs(mean - dim / (dof - dim - 1)) < 4 * se


def test_woodbury_route_is_stable_where_it_is_used():
    """At the smallest p - r that takes the Woodbury route (n + _MARGIN), it agrees
    with the dense inverse on every one of many identical draws; at p - r = n it
    would not (K nearly singular in about one draw in a thousand)."""
    rng = np.random.default_rng(2)
    n, r, d, reps = 150, 50, 3, 2000
    lam = np.full(r, 3.0)
    b = rng.standard_normal((r, d))
    X1 = rng.standard_normal((n, reps, r)) * np.sqrt(lam)
    a, c = _wishart_bidiagonal(rng, n, n + _MARGIN, reps)
    L = _dense_bidiagonal(a, c)
    fast = np.array(_over_terms(lam, b, X1, a, c))
    dense = np.array(_over_terms_dense(lam, b, np.moveaxis(X1, 0, 1), L @ np.swapaxes(L, -1, -2)))
    assert np.max(np.abs(fast / dense - 1)) < 1e-6


def test_woodbury_terms_match_the_dense_inverse():
    """Same X1 and the same K = L L^T: the r x r Woodbury route equals inverting G = X1 X1^T + K."""
    rng = np.random.default_rng(1)
    n, r, d, reps = 12, 4, 3, 5
    lam = np.array([4.0, 2.5, 1.5, 1.0])
    b = rng.standard_normal((r, d))
    X1 = rng.standard_normal((n, reps, r)) * np.sqrt(lam)
    a, c = _wishart_bidiagonal(rng, n, 15, reps)
    L = _dense_bidiagonal(a, c)
    fast = _over_terms(lam, b, X1, a, c)
    dense = _over_terms_dense(lam, b, np.moveaxis(X1, 0, 1), L @ np.swapaxes(L, -1, -2))
    assert np.allclose(fast, dense, rtol=1e-9)


@pytest.mark.parametrize("p, embedding", [(10, "orthogonal"), (29, "gaussian"), (60, "orthogonal"),
                                          (45, "gaussian"), (200, "orthogonal"), (4, "orthogonal"),
                                          (35, "orthogonal")])
def test_conditional_route_agrees_with_fitting_the_head(p, embedding):
    """The fast eigenbasis sampler and the plain fit-and-evaluate route agree.

    n = 30, r = 8: p <= 30 uses the inverse-Wishart trace, p = 35 and 45 the
    dense inverse (p - r < n + 10), p >= 60 the bidiagonal Woodbury route."""
    n, d = 30, 8
    m = hr.make_model(p, d, 0.3, snr=0.9, embedding=embedding, rng=p)
    fast = hr.simulate_risk(m, n, reps=3000, rng=1)
    plain = hr.simulate_risk(m, n, reps=3000, rng=2, method="fit")
    z = (fast.risk - plain.risk) / np.hypot(fast.stderr, plain.stderr)
    assert abs(z) < 4, (fast.risk, plain.risk, z)
    for part in ("biases", "variances"):
        a, b = getattr(fast, part), getattr(plain, part)
        se = np.hypot(*(x.std(ddof=1) / np.sqrt(x.size) for x in (a, b)))
        assert abs(a.mean() - b.mean()) <= 4 * se + 1e-12


@pytest.mark.parametrize("n, p", [(40, 10), (60, 50)])
def test_underparameterised_mean_is_inverse_wishart(n, p):
    """p < n - 1: E R_X = tr Sigma_r * p / (n - p - 1) (inverse-Wishart mean)."""
    m = hr.make_model(p, 7, 0.5, rng=3)
    est = hr.simulate_risk(m, n, reps=4000, rng=4)
    exact = est.irreducible * p / (n - p - 1)
    assert est.bias == 0.0
    assert abs(est.risk - exact) < 4 * est.stderr


def test_ridge_simulation_routes_agree():
    m = hr.make_model(50, 6, 0.5, rng=5)
    a = hr.simulate_risk(m, 30, reps=2000, rng=6, ridge=0.4)
    b = hr.simulate_risk(m, 30, reps=2000, rng=7, ridge=0.4, method="fit")
    assert abs(a.risk - b.risk) < 4 * np.hypot(a.stderr, b.stderr)


def test_isotropic_overparameterised_variance():
    """Sigma_x -> I (rho -> 0): E V_X = tr Sigma_r n/(p - n - 1), the exact finite-n mean."""
    n, p = 20, 50
    m = hr.make_model(p, 5, 0.5, snr=1e-9, rng=0)
    est = hr.simulate_risk(m, n, reps=4000, rng=1)
    pop = hr.population(m)
    v_exact = pop.irreducible * n / (p - n - 1)
    se_v = est.variances.std(ddof=1) / np.sqrt(est.reps)
    assert abs(est.variance - v_exact) < 4 * se_v


def test_estimate_fields_and_determinism():
    m = hr.make_model(70, 10, 0.5, rng=1)
    a = hr.simulate_risk(m, 40, reps=50, rng=9)
    b = hr.simulate_risk(m, 40, reps=50, rng=9)
    c = hr.simulate_risk(m, 40, reps=50, rng=10)
    assert np.array_equal(a.risks, b.risks) and not np.array_equal(a.risks, c.risks)
    assert a.reps == 50
    assert np.isclose(a.risk, a.bias + a.variance)
    assert np.isclose(a.total, a.risk + a.irreducible)
    assert a.stderr > 0


def test_fitted_risk_is_the_fitted_heads_risk_and_lemma1_terms_from_one_svd():
    """hmmrisk.fitted_risk against independent routes: the head from
    ``np.linalg.pinv`` (minimum norm) or the normal equations (ridge), its
    excess risk through the dense Sigma_x, and conditional_risk's own SVD."""
    model = hr.make_model(12, 4, 0.5, embedding="gaussian", rng=3)
    pop = hr.population(model)
    X, Y = model.sample(9, np.random.default_rng(4), 5)          # p > n: interpolating heads
    sigma_x = pop.W @ pop.W.T + np.eye(pop.p)
    for ridge in (0.0, 0.3):
        est = hr.fitted_risk(pop, X, Y, ridge)
        if ridge == 0:
            heads = np.linalg.pinv(X) @ Y
        else:
            n = X.shape[-2]
            gram = np.swapaxes(X, -1, -2) @ X / n + ridge * np.eye(pop.p)
            heads = np.linalg.solve(gram, np.swapaxes(X, -1, -2) @ Y / n)
        delta = heads - pop.B_star
        want = np.einsum("kpd,pq,kqd->k", delta, sigma_x, delta)
        np.testing.assert_allclose(est.risks, want, rtol=1e-9)
        bias, variance = hr.conditional_risk(pop, X, ridge)
        np.testing.assert_allclose(est.biases, bias, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(est.variances, variance, rtol=1e-10)
    skipped = hr.fitted_risk(pop, X, Y, lemma1=False)
    assert np.isnan(skipped.biases).all() and np.isnan(skipped.variances).all()
    np.testing.assert_allclose(skipped.risks, hr.fitted_risk(pop, X, Y).risks, rtol=0, atol=0)
