"""Lemma 2: the structured O(p d^2) population code against dense references and data."""

import numpy as np
import pytest

import hmmrisk as hr

CASES = [(4, 9, "orthogonal"), (9, 9, "orthogonal"), (23, 6, "orthogonal"),
         (4, 9, "gaussian"), (23, 6, "gaussian")]


def dense_reference(m):
    """Lemma 2 by the textbook Gaussian-conditioning route, dense and slow."""
    p, d = m.p, m.d
    sigma_x = m.W @ m.W.T + np.eye(p)
    cov_xy = m.W @ m.A.T                         # E[x y^T]
    b_star = np.linalg.solve(sigma_x, cov_xy)
    sigma_r = np.eye(d) - cov_xy.T @ b_star      # Cov(y) - Cov(y,x) Sigma_x^{-1} Cov(x,y)
    return sigma_x, b_star, sigma_r


@pytest.mark.parametrize("p, d, embedding", CASES)
def test_population_matches_dense_reference(p, d, embedding):
    m = hr.make_model(p, d, 0.35, snr=1.3, embedding=embedding, rng=p + d)
    pop = hr.population(m)
    sigma_x, b_star, sigma_r = dense_reference(m)
    assert np.allclose(pop.sigma_x_dense(), sigma_x)
    assert np.allclose(pop.B_star, b_star, atol=1e-12)
    assert np.allclose(pop.Sigma_r, sigma_r, atol=1e-12)
    # Lemma 2's closed form for Sigma_r, written out densely
    closed = m.A @ np.linalg.inv(np.eye(d) + m.W.T @ m.W) @ m.A.T + m.noise * np.eye(d)
    assert np.allclose(pop.Sigma_r, closed, atol=1e-12)


@pytest.mark.parametrize("p, d, embedding", CASES)
def test_spectrum_matches_dense_eigendecomposition(p, d, embedding):
    m = hr.make_model(p, d, 0.5, snr=0.8, embedding=embedding, rng=2 * p + d)
    pop = hr.population(m)
    sigma_x, b_star, _ = dense_reference(m)
    s, b = pop.spectrum()
    assert np.allclose(np.sort(s), np.linalg.eigvalsh(sigma_x))
    # the weights ||B*^T v_i||^2 form a spectral measure; eigenvalues repeat,
    # so compare its moments tr(B*^T Sigma_x^k B*) instead of single eigenvectors
    for k in range(4):
        dense = np.trace(b_star.T @ np.linalg.matrix_power(sigma_x, k) @ b_star)
        assert np.isclose(np.sum(b * s**k), dense, rtol=1e-10)
    assert np.allclose(pop.eigvecs.T @ pop.eigvecs, np.eye(pop.eigvals.size), atol=1e-12)
    assert np.allclose(sigma_x @ pop.eigvecs, pop.eigvecs * pop.eigvals, atol=1e-10)


def test_orthogonal_spectrum_has_two_levels():
    n_feat, d, rho = 40, 8, 1.5
    pop = hr.population(hr.make_model(n_feat, d, 0.2, snr=rho, rng=0))
    assert np.allclose(pop.eigvals, 1 + rho * n_feat / d)
    assert pop.n_unit == n_feat - d


def test_excess_risk_matches_dense_quadratic_form():
    m = hr.make_model(15, 4, 0.5, rng=1)
    pop = hr.population(m)
    B = np.random.default_rng(2).standard_normal((3, 15, 4))
    dense = [np.trace((b - pop.B_star).T @ pop.sigma_x_dense() @ (b - pop.B_star)) for b in B]
    assert np.allclose(pop.excess_risk(B), dense)
    assert pop.excess_risk(pop.B_star) == 0.0


@pytest.mark.parametrize("embedding", ["orthogonal", "gaussian"])
def test_lemma2_against_large_sample_regression(embedding):
    """Regress y on x over many draws: the OLS head tends to B*, residuals to Sigma_r."""
    p, d, n = 7, 3, 200_000
    m = hr.make_model(p, d, 0.4, snr=1.2, embedding=embedding, rng=11)
    pop = hr.population(m)
    X, Y = m.sample(n, rng=12)
    B_hat, *_ = np.linalg.lstsq(X, Y, rcond=None)
    resid = Y - X @ B_hat
    # OLS standard errors: Var(B_hat_ij) = Sigma_r,jj [ (X^T X)^{-1} ]_ii
    se_B = np.sqrt(np.outer(np.diag(np.linalg.inv(X.T @ X)), np.diag(pop.Sigma_r)))
    assert np.all(np.abs(B_hat - pop.B_star) < 5 * se_B)
    cov_r = resid.T @ resid / n
    diag = np.diag(pop.Sigma_r)
    se_r = np.sqrt((np.outer(diag, diag) + pop.Sigma_r**2) / n)
    assert np.all(np.abs(cov_r - pop.Sigma_r) < 5 * se_r)
    # residuals uncorrelated with x (that is what makes the head well specified)
    assert np.abs(X.T @ resid / n).max() < 5 * np.sqrt(diag.max() * pop.eigvals.max() / n)


def test_irreducible_error_falls_with_p():
    tr = [hr.population(hr.make_model(p, 10, 0.5, rng=0)).irreducible for p in (2, 10, 50, 400)]
    assert np.all(np.diff(tr) < 0)
    # limits: tr Sigma_r -> d sigma^2 as p -> inf; = d (sigma^2 + (1 - sigma^2)/(1 + rho p/d)) for p >= d
    assert np.isclose(tr[-1], 10 * (0.5 + 0.5 / (1 + 400 / 10)))
