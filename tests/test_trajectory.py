"""One trajectory instead of i.i.d. pairs: sampler, exact covariances, inflation factor."""

import numpy as np
import pytest

import hmmrisk as hr
from hmmrisk import theory
from hmmrisk import trajectory as tj

from conftest import mc_mean


def cross_cov_z(a, b):
    """Monte Carlo E[a b^T] over axis 0 (zero-mean data) and the entrywise standard errors."""
    prod = a[:, :, None] * b[:, None, :]
    return mc_mean(prod)


@pytest.mark.parametrize("noise, aligned", [(0.3, False), (0.3, True), (1.0, False)])
def test_sampler_stationarity_and_lagged_covariances(noise, aligned):
    """Every lag-0/1/2 covariance of Proposition prop-trajectory-covariances against simulation."""
    d, p, reps = 3, 4, 40_000
    m = hr.make_model(p, d, noise, snr=1.3, rng=7)
    if aligned:
        m = tj.aligned_model(m)
    pop = hr.population(m)
    X, Y = tj.sample_trajectory(m, 4, rng=11, reps=reps)
    assert X.shape == (reps, 4, p) and Y.shape == (reps, 4, d)
    R = Y - X @ pop.B_star
    checks = []
    for t in (0, 3):                                       # stationarity: first and last pair
        checks += [(Y[:, t], Y[:, t], np.eye(d)), (X[:, t], X[:, t], pop.sigma_x_dense()),
                   (R[:, t], R[:, t], pop.Sigma_r), (R[:, t], X[:, t], np.zeros((d, p)))]
    for k in (1, 2):
        lag = tj.lagged_covariances(m, k)
        checks += [(Y[:, k], Y[:, 0], lag.zz), (X[:, k], X[:, 0], lag.xx),
                   (R[:, 0], X[:, k], lag.res_future), (R[:, k], X[:, 0], lag.res_past),
                   (R[:, k], R[:, 0], lag.res_res)]
    for a, b, expected in checks:
        mean, se = cross_cov_z(a, b)
        assert np.all(np.abs(mean - expected) < 5 * se + 1e-12)
    lag0 = tj.lagged_covariances(m, 0)
    assert np.allclose(lag0.xx, pop.sigma_x_dense()) and np.allclose(lag0.res_res, pop.Sigma_r)
    assert np.all(lag0.res_future == 0) and np.all(lag0.res_past == 0)


def test_residual_is_correlated_with_both_neighbours():
    """The noise of pair t is seen by the next row (Sigma_r W^T) and, through the noisy encoder, by the previous one."""
    m = hr.make_model(6, 4, 0.4, rng=3)
    lag = tj.lagged_covariances(m, 1)
    pop = hr.population(m)
    assert np.allclose(lag.res_future, pop.Sigma_r @ m.W.T)
    assert np.linalg.norm(lag.res_past) > 0.1
    # no transition (sigma^2 = 1): only the future row is correlated
    m1 = hr.make_model(6, 4, 1.0, rng=3)
    lag1 = tj.lagged_covariances(m1, 1)
    assert np.allclose(lag1.res_future, m1.W.T) and np.allclose(lag1.res_past, 0)


@pytest.mark.parametrize("aligned", [False, True])
def test_variance_inflation_against_oracle_monte_carlo(aligned):
    """f * p tr(Sigma_r) / n is E||Sigma_x^{-1/2} X^T R / n||_F^2, estimated by simulation."""
    n, d, p, reps = 8, 4, 6, 40_000
    m = hr.make_model(p, d, 0.25, rng=5)
    if aligned:
        m = tj.aligned_model(m)
    pop = hr.population(m)
    X, Y = tj.sample_trajectory(m, n, rng=6, reps=reps)
    R = Y - X @ pop.B_star
    L = np.linalg.cholesky(np.linalg.inv(pop.sigma_x_dense()))
    oracle = np.sum((L.T @ (np.swapaxes(X, -1, -2) @ R / n)) ** 2, axis=(-2, -1))
    mean, se = mc_mean(oracle)
    expected = tj.variance_inflation(m, n) * p * pop.irreducible / n
    assert abs(mean - expected) < 5 * se
    if aligned:   # the correction is large here, so the test would see a wrong f
        assert tj.variance_inflation(m, n) > 1.5


def test_variance_inflation_closed_form_and_limits():
    n, d = 60, 10
    for p in (10, 25, 80):
        for noise in (0.1, 0.6):
            m = tj.aligned_model(hr.make_model(p, d, noise, snr=0.7, rng=p))
            assert np.isclose(tj.variance_inflation(m, n),
                              tj.variance_inflation_aligned(n, p, d, noise, snr=0.7), rtol=1e-10)
    ps = np.array([10.0, 25.0, 80.0])
    assert np.allclose(tj.variance_inflation_aligned(n, ps, d, 0.3),
                       [tj.variance_inflation_aligned(n, float(q), d, 0.3) for q in ps])
    # no transition: the oracle variance is exactly the i.i.d. one
    assert tj.variance_inflation(hr.make_model(30, 10, 1.0, rng=1), n) == 1.0
    assert tj.effective_sample_size(hr.make_model(30, 10, 1.0, rng=1), n) == n
    # a rotating chain hides its memory: far smaller inflation than the aligned one
    m = hr.make_model(30, 10, 0.1, rng=2)
    assert tj.variance_inflation(m, n) - 1 < 0.1 * (tj.variance_inflation(tj.aligned_model(m), n) - 1)


def test_aligned_model_keeps_the_iid_population():
    m = hr.make_model(20, 8, 0.3, rng=4)
    ma = tj.aligned_model(m)
    p0, p1 = hr.population(m), hr.population(ma)
    assert np.allclose(ma.A, np.sqrt(0.7) * np.eye(8)) and ma.W is m.W
    assert np.isclose(p0.irreducible, p1.irreducible)
    assert np.allclose(p0.B_star @ p0.B_star.T, p1.B_star @ p1.B_star.T)
    assert np.allclose(p0.signal, p1.signal)


def test_no_transition_keeps_the_law_of_X():
    """sigma^2 = 1: the rows of X are i.i.d., so Lemma 1's terms (functions of X) have the i.i.d. law."""
    m = hr.make_model(12, 4, 1.0, rng=8)
    tr = tj.simulate_trajectory_risk(m, 20, reps=4000, rng=9)
    iid = hr.simulate_risk(m, 20, reps=4000, rng=10, method="conditional")
    lemma = tr.biases + tr.variances
    a, sa = mc_mean(lemma)
    assert abs(a - iid.risk) < 5 * np.hypot(sa, iid.stderr)
    # the realised risk is a different statistic, so it is also checked to be finite and positive
    assert np.all(tr.risks > 0) and np.isfinite(tr.risk)


def test_simulate_trajectory_risk_shapes_ridge_and_lemma1_flag():
    m = hr.make_model(15, 5, 0.5, rng=1)
    est = tj.simulate_trajectory_risk(m, 10, reps=5, rng=2, ridge=0.3)
    assert est.risks.shape == (5,) and np.isclose(est.irreducible, hr.population(m).irreducible)
    # same seed, same draws: the risk does not depend on whether Lemma 1 is evaluated
    a = tj.simulate_trajectory_risk(m, 10, reps=5, rng=3)
    b = tj.simulate_trajectory_risk(m, 10, reps=5, rng=3, lemma1=False)
    assert np.array_equal(a.risks, b.risks) and np.all(np.isnan(b.biases))
    # head fitted by an independent route (pinv) on the same trajectories
    X, Y = tj.sample_trajectory(m, 10, rng=3, reps=5)
    pop = hr.population(m)
    assert np.allclose(a.risks, pop.excess_risk(np.linalg.pinv(X) @ Y))


def test_predicted_risk_neff_reduces_to_definition3():
    ps = np.array([10.0, 60.0, 98.5, 99.5, 101.0, 150.0, 400.0])
    for noise in (0.1, 0.7):
        assert np.allclose(tj.predicted_risk_neff(100, ps, 50, noise),
                           theory.definition3(100, ps, 50, noise).risk)
    # a smaller n_eff moves the threshold
    r = tj.predicted_risk_neff(np.array([80.0, 80.0]), np.array([79.5, 80.5]), 50, 0.5)
    assert np.isinf(r[0]) and np.isfinite(r[1])


def test_value_errors():
    m = hr.make_model(6, 3, 0.5, rng=0)
    with pytest.raises(TypeError, match="model"):
        tj.sample_trajectory("model", 5)
    with pytest.raises(ValueError, match="n"):
        tj.sample_trajectory(m, 0)
    with pytest.raises(ValueError, match="reps"):
        tj.sample_trajectory(m, 5, reps=0)
    with pytest.raises(ValueError, match="rng"):
        tj.sample_trajectory(m, 5, rng=-1)
    with pytest.raises(ValueError, match="n"):
        tj.simulate_trajectory_risk(m, 1)
    with pytest.raises(ValueError, match="reps"):
        tj.simulate_trajectory_risk(m, 5, reps=1)
    with pytest.raises(ValueError, match="ridge"):
        tj.simulate_trajectory_risk(m, 5, ridge=-1.0)
    with pytest.raises(TypeError, match="lemma1"):
        tj.simulate_trajectory_risk(m, 5, lemma1="yes")
    with pytest.raises(ValueError, match="k"):
        tj.lagged_covariances(m, -1)
    with pytest.raises(TypeError, match="model"):
        tj.variance_inflation(None, 5)
    with pytest.raises(ValueError, match="n"):
        tj.variance_inflation(m, 1)
    with pytest.raises(ValueError, match="p"):
        tj.variance_inflation_aligned(10, 2, 3, 0.5)
    with pytest.raises(ValueError, match="noise"):
        tj.variance_inflation_aligned(10, 5, 3, 1.5)
    with pytest.raises(ValueError, match="n_eff"):
        tj.predicted_risk_neff(1.0, 5, 3, 0.5)
    with pytest.raises(ValueError, match="n_eff"):
        tj.predicted_risk_neff(np.array([50.0, 60.0, 70.0]), np.array([5.0, 6.0]), 3, 0.5)
    with pytest.raises(TypeError, match="model"):
        tj.aligned_model(3)
