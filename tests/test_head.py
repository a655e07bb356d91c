"""The least-squares head against numpy's pinv and the ridge normal equations."""

import numpy as np
import pytest

from hmmrisk import fit_head


@pytest.mark.parametrize("n, p", [(30, 10), (10, 30), (12, 12)])
def test_min_norm_head_equals_pinv(n, p):
    rng = np.random.default_rng(n * p)
    X, Y = rng.standard_normal((n, p)), rng.standard_normal((n, 3))
    assert np.allclose(fit_head(X, Y), np.linalg.pinv(X) @ Y)


def test_overparameterised_head_interpolates_with_least_norm():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((10, 40)), rng.standard_normal((10, 2))
    B = fit_head(X, Y)
    assert np.allclose(X @ B, Y)
    # any other interpolator B + N (N in the null space of X) has a larger norm
    null = np.linalg.svd(X)[2][10:].T
    other = B + null @ rng.standard_normal((30, 2))
    assert np.linalg.norm(other) > np.linalg.norm(B)


def test_rank_deficient_design_matches_pinv():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 3)) @ rng.standard_normal((3, 8))   # rank 3
    Y = rng.standard_normal((20, 2))
    assert np.allclose(fit_head(X, Y), np.linalg.pinv(X) @ Y)


@pytest.mark.parametrize("n, p", [(30, 10), (10, 30)])
def test_ridge_head_solves_normal_equations(n, p):
    rng = np.random.default_rng(2)
    X, Y, lam = rng.standard_normal((n, p)), rng.standard_normal((n, 4)), 0.3
    expected = np.linalg.solve(X.T @ X / n + lam * np.eye(p), X.T @ Y / n)
    assert np.allclose(fit_head(X, Y, ridge=lam), expected)


def test_ridge_limits():
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((8, 20)), rng.standard_normal((8, 2))
    assert np.allclose(fit_head(X, Y, ridge=1e-10), fit_head(X, Y), atol=1e-6)
    big = 1e8
    assert np.allclose(fit_head(X, Y, ridge=big) * big, X.T @ Y / 8, rtol=1e-6)


def test_batched_equals_loop():
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((5, 9, 14)), rng.standard_normal((5, 9, 3))
    batched = fit_head(X, Y)
    assert np.allclose(batched, np.stack([np.linalg.pinv(x) @ y for x, y in zip(X, Y)]))
