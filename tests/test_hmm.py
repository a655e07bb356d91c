"""The HMM and its encoder: the model of the model chapter, checked by simulation."""

import numpy as np
import pytest

import hmmrisk as hr
from hmmrisk.hmm import encoder_weights, haar_orthogonal


def test_haar_orthogonal_is_orthogonal_with_haar_moments():
    rng = np.random.default_rng(0)
    d, k = 4, 20000
    qs = np.stack([haar_orthogonal(d, rng) for _ in range(k)])
    assert np.allclose(qs[0] @ qs[0].T, np.eye(d), atol=1e-12)
    # Under Haar measure every entry has mean 0 and variance 1/d, and
    # det = +1 and -1 equally often; a QR without the sign fix fails the first.
    entry = qs[:, 0, 0]
    assert abs(entry.mean()) < 4 * entry.std() / np.sqrt(k)
    assert abs((entry**2).mean() - 1 / d) < 4 * (entry**2).std() / np.sqrt(k)
    dets = np.sign(np.linalg.det(qs))
    assert abs(dets.mean()) < 4 / np.sqrt(k)


@pytest.mark.parametrize("p, d", [(30, 10), (10, 10), (6, 10)])
def test_orthogonal_embedding_structure(p, d):
    rho = 0.7
    W = encoder_weights(p, d, rho, "orthogonal", rng=1)
    assert W.shape == (p, d)
    if p >= d:
        assert np.allclose(W.T @ W, rho * p / d * np.eye(d))
    else:
        assert np.allclose(W @ W.T, rho * np.eye(p))
    # every feature carries signal variance rho on average
    assert np.isclose(np.sum(W**2) / p, rho)


def test_gaussian_embedding_variance():
    p, d, rho = 400, 50, 2.0
    W = encoder_weights(p, d, rho, "gaussian", rng=2)
    entries = W.ravel()
    se = entries.var() * np.sqrt(2 / entries.size)
    assert abs(entries.var() - rho / d) < 4 * se


def test_model_is_stationary_and_seeded():
    m = hr.make_model(12, 5, 0.3, rng=3)
    assert np.allclose(m.A @ m.A.T, 0.7 * np.eye(5))
    assert np.array_equal(hr.make_model(12, 5, 0.3, rng=3).W, m.W)
    X1, Y1 = m.sample(7, rng=4)
    X2, Y2 = m.sample(7, rng=4)
    assert np.array_equal(X1, X2) and np.array_equal(Y1, Y2)
    X3, _ = m.sample(7, rng=5)
    assert not np.array_equal(X1, X3)
    with pytest.raises(ValueError):
        m.W[0, 0] = 1.0  # read-only


@pytest.mark.parametrize("embedding", ["orthogonal", "gaussian"])
def test_sample_moments_match_the_model(embedding):
    """Empirical second moments of (x, y) against Sigma_x, W A^T and I_d."""
    p, d, n = 6, 3, 200_000
    m = hr.make_model(p, d, 0.4, snr=1.5, embedding=embedding, rng=5)
    X, Y = m.sample(n, rng=6)
    joint = np.hstack([X, Y])
    cov_true = np.block([[m.W @ m.W.T + np.eye(p), m.W @ m.A.T],
                         [m.A @ m.W.T, np.eye(d)]])
    cov_hat = joint.T @ joint / n
    # Var of a second-moment entry of a centred Gaussian: (S_ii S_jj + S_ij^2)/n
    diag = np.diag(cov_true)
    se = np.sqrt((np.outer(diag, diag) + cov_true**2) / n)
    assert np.all(np.abs(cov_hat - cov_true) < 5 * se)


def test_latent_chain_is_stationary():
    m = hr.make_model(4, 3, 0.6, rng=7)
    z, z_next = m.sample_tokens(100_000, rng=8)
    for block in (z_next.T @ z_next / z.shape[0], z.T @ z / z.shape[0]):
        assert np.allclose(block, np.eye(3), atol=5 * np.sqrt(2 / z.shape[0]))
    lag = z_next.T @ z / z.shape[0]          # E[z_{t+1} z_t^T] = A
    assert np.allclose(lag, m.A, atol=5 * np.sqrt(2 / z.shape[0]))


def test_batched_sampling_shapes():
    m = hr.make_model(9, 4, 0.5, rng=9)
    X, Y = m.sample(11, rng=1, reps=3)
    assert X.shape == (3, 11, 9) and Y.shape == (3, 11, 4)


def test_noise_limits():
    # sigma^2 = 1: tokens are i.i.d., nothing to predict; sigma^2 = 0: deterministic chain
    assert np.allclose(hr.make_model(5, 3, 1.0, rng=0).A, 0)
    m0 = hr.make_model(5, 3, 0.0, rng=0)
    z, z_next = m0.sample_tokens(4, rng=1)
    assert np.allclose(z_next, z @ m0.A.T)
