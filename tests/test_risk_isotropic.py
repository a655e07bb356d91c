"""The isotropic route of the Monte Carlo (equal signal eigenvalues, ``b b^T = beta I``).

For the orthogonal embedding every quantity of Lemma 1 is a trace, and
:func:`hmmrisk.montecarlo._isotropic_draw` draws a smaller canonical form than the
general Schur route.  Checks, each against an independent computation:

* algebra: on the very same draw, written out as dense ``X1`` and ``G = X X^T``,
  :func:`_over_terms_isotropic` equals :func:`_over_terms_dense`'s inversion of
  ``G`` (also at ``p - r = n``, over many draws: the route is stable there);
* the reversed Bartlett factor: ``R R^T`` has the moments of ``Wishart_r(n)``;
* law: the canonical form is only equal in distribution to a Gaussian design,
  so the first and second moments of the risk, bias and variance are
  compared by z-scores with the general Schur route (a different canonical
  form and algebra) and with fitting the head on data drawn from the HMM
  (``method="fit"``), at ``p - r = n`` and ``n +- 5``.
"""

import numpy as np
import pytest

import hmmrisk as hr
from hmmrisk.montecarlo import (_conditional_draws, _isotropic_beta, _isotropic_draw, _over_terms_dense,
                          _over_terms_isotropic, _over_terms_schur, _schur_draw)

from conftest import mc_mean


def _dense(lam, beta, R, C, N1t, a, c, rng):
    """The same draw as dense matrices: X1 = [T; 0], X = [[T, N1, C], [0, B, 0]], T T^T = lam R R^T,
    and a b with b b^T = beta I (a scaled random rotation)."""
    reps, r, _ = R.shape
    m = a.shape[0]
    aC, cC = C
    i, j = np.arange(r), np.arange(m)
    Cm = np.zeros((reps, r, r))
    Cm[:, i, i] = aC.T
    Cm[:, i[1:], i[:-1]] = cC[1:].T
    B = np.zeros((reps, m, m))
    B[:, j, j] = a.T
    B[:, j[1:], j[:-1]] = c[1:].T
    T = np.sqrt(lam) * R
    top = np.concatenate([T, np.moveaxis(N1t, 0, 1).swapaxes(-1, -2), Cm], axis=-1)
    bottom = np.concatenate([np.zeros((reps, m, r)), B, np.zeros((reps, m, r))], axis=-1)
    X = np.concatenate([top, bottom], axis=-2)
    X1 = np.concatenate([T, np.zeros((reps, m, r))], axis=-2)
    b = np.sqrt(beta) * np.linalg.qr(rng.standard_normal((r, r)))[0]
    return _over_terms_dense(np.full(r, lam), b, X1, X @ X.swapaxes(-1, -2) - X1 @ X1.swapaxes(-1, -2))


@pytest.mark.parametrize("r, n, dof", [(4, 12, 11), (4, 12, 26), (6, 20, 16), (5, 9, 6), (8, 9, 2),
                                       (20, 40, 40)])
def test_isotropic_terms_equal_the_dense_inverse_on_the_same_draw(r, n, dof):
    """p - n = dof - n + r columns of N2: fewer than r (C padded), equal, more."""
    rng = np.random.default_rng(r + n + dof)
    draw = _isotropic_draw(rng, r, n, dof, 7)
    for lam in (1.0, 3.0, 250.0):
        fast = np.array(_over_terms_isotropic(lam, 0.7, *draw[:3], *draw[3]))
        dense = np.array(_dense(lam, 0.7, *draw[:3], *draw[3], rng))
        np.testing.assert_allclose(fast, dense, rtol=1e-9)


def test_isotropic_route_is_stable_at_p_minus_r_equal_to_n():
    rng = np.random.default_rng(4)
    n, r, reps = 60, 20, 1500
    draw = _isotropic_draw(rng, r, n, n, reps)
    fast = np.array(_over_terms_isotropic(3.0, 0.4, *draw[:3], *draw[3]))
    dense = np.array(_dense(3.0, 0.4, *draw[:3], *draw[3], rng))
    assert np.max(np.abs(fast / dense - 1)) < 1e-8


def test_reversed_bartlett_factor_has_the_wishart_moments():
    """R R^T against the exact moments of W_r(n): E tr K = r n, E tr K^2 = r n (r + n + 1),
    E (tr K)^2 = r n (r n + 2), and each diagonal entry chi^2_n (mean n, variance 2 n),
    the first and the last alike (the law is invariant under conjugation)."""
    r, n, reps = 5, 9, 200_000
    R = _isotropic_draw(np.random.default_rng(0), r, n, n, reps)[0]
    assert np.all(R[:, np.tril_indices(r, -1)[0], np.tril_indices(r, -1)[1]] == 0)
    K = R @ R.swapaxes(-1, -2)
    tr1 = np.trace(K, axis1=-2, axis2=-1)
    checks = [(tr1, r * n), (np.sum(K * K, axis=(-2, -1)), r * n * (r + n + 1)),
              (tr1**2, r * n * (r * n + 2))]
    for i in (0, r - 1):
        checks += [(K[:, i, i], n), ((K[:, i, i] - n) ** 2, 2 * n)]
    for sample, exact in checks:
        mean, se = mc_mean(sample)
        assert abs(mean - exact) < 4 * se, (mean, exact, se)


def test_isotropic_route_is_taken_exactly_for_equal_eigenvalues():
    ortho = hr.population(hr.make_model(30, 6, 0.4, rng=1))
    gauss = hr.population(hr.make_model(30, 6, 0.4, embedding="gaussian", rng=1))
    beta = _isotropic_beta(ortho.eigvals, ortho.eigvecs.T @ ortho.B_star)
    assert beta is not None and np.isclose(beta, np.sum(ortho.B_star**2) / 6)
    assert _isotropic_beta(gauss.eigvals, gauss.eigvecs.T @ gauss.B_star) is None
    # the default route for the orthogonal embedding with r < n < p is the isotropic one
    n, reps = 20, 5
    bias, variance = _conditional_draws(ortho, n, reps, np.random.default_rng(3))
    draw = _isotropic_draw(np.random.default_rng(3), 6, n, ortho.n_unit, reps)
    b, v = _over_terms_isotropic(float(ortho.eigvals[0]), beta, *draw[:3], *draw[3])
    np.testing.assert_array_equal(bias, b)
    np.testing.assert_array_equal(variance, ortho.irreducible * v)


def _moments(bias, variance):
    """The per-set quantities whose means are compared: the first moments, and the first two
    of the logarithms (the shape of the law; all their moments are finite even where the
    variance of V_X is not, |p - n| <= 3)."""
    out = {"risk": bias + variance, "bias": bias, "variance": variance}
    for key, x in (("bias", bias), ("variance", variance)):
        out[f"log {key}"] = np.log(x)
        out[f"log^2 {key}"] = np.log(x) ** 2
    return out


@pytest.mark.parametrize("p", [45, 50, 55])
def test_isotropic_route_has_the_law_of_the_general_schur_route(p):
    """n = 40, r = 10: the same (B_X, V_X) law from two canonical forms (z-scores of the
    moments of :func:`_moments`; 10000 draws each)."""
    n, d, reps = 40, 10, 10_000
    pop = hr.population(hr.make_model(p, d, 0.4, rng=p))
    lam, b = pop.eigvals, pop.eigvecs.T @ pop.B_star
    iso = _isotropic_draw(np.random.default_rng(1), d, n, pop.n_unit, reps)
    fast = _over_terms_isotropic(float(lam[0]), _isotropic_beta(lam, b), *iso[:3], *iso[3])
    gen = _schur_draw(np.random.default_rng(2), lam, n, pop.n_unit, reps)
    general = _over_terms_schur(lam, b, *gen[:3], *gen[3])
    a, g = _moments(*fast), _moments(*general)
    for key in a:
        (ma, sa), (mg, sg) = mc_mean(a[key]), mc_mean(g[key])
        z = (ma - mg) / np.hypot(sa, sg)
        assert abs(z) < 4, (key, ma, mg, z)


def test_isotropic_route_has_the_law_of_fitting_the_head():
    """n = 40, r = 10, orthogonal embedding, p - r = n, against method="fit" (p - r = n +- 5
    through the general Schur route above, itself tested against method="fit" in
    tests/test_risk_schur.py)."""
    n, d, p = 40, 10, 50
    m = hr.make_model(p, d, 0.4, rng=p)
    fast = hr.simulate_risk(m, n, reps=4000, rng=1)
    plain = hr.simulate_risk(m, n, reps=4000, rng=2, method="fit")
    a, f = _moments(fast.biases, fast.variances), _moments(plain.biases, plain.variances)
    a["risk"], f["risk"] = fast.risks, plain.risks          # the fit route's realised risk
    for key in a:
        (ma, sa), (mf, sf) = mc_mean(a[key]), mc_mean(f[key])
        z = (ma - mf) / np.hypot(sa, sf)
        assert abs(z) < 4, (key, ma, mf, z)
