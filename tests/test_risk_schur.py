"""The Schur-complement route of the Monte Carlo (p - r near n, r < n).

Three independent checks of :func:`hmmrisk.montecarlo._over_terms_schur`:

* algebra: on the very same draw, written out as dense ``X1`` and ``G = X X^T``,
  it equals :func:`_over_terms_dense`'s inversion of ``G``;
* stability: at ``p - r = n`` over many draws it agrees with the dense
  inversion to 1e-8 (the Woodbury route there loses every digit in about one
  draw in a thousand, see ``tests/test_risk.py``);
* law: its canonical form of ``(X1, X2)`` is only equal in distribution to a
  Gaussian design, so the mean, bias and variance it gives are compared, by
  z-scores from the standard errors, with fitting the head on data drawn from
  the HMM (``method="fit"``) at ``p - r = n`` and ``n +- 5``.
"""

import numpy as np
import pytest

import hmmrisk as hr
from hmmrisk.montecarlo import _isotropic_beta, _over_terms_dense, _over_terms_schur, _schur_draw

from conftest import mc_mean


def _dense(lam, b, T, N1t, N2, a, c):
    """The same draw as dense matrices: X1 = [T; 0], X = [[T, N1, N2], [0, B, 0]]."""
    reps, r, _ = T.shape
    m = a.shape[0]
    B = np.zeros((reps, m, m))
    i = np.arange(m)
    B[:, i, i] = a.T
    B[:, i[1:], i[:-1]] = c[1:].T
    top = np.concatenate([T, np.moveaxis(N1t, 0, 1).swapaxes(-1, -2), N2], axis=-1)
    bottom = np.concatenate([np.zeros((reps, m, r)), B, np.zeros((reps, m, N2.shape[-1]))], axis=-1)
    X = np.concatenate([top, bottom], axis=-2)
    X1 = np.concatenate([T, np.zeros((reps, m, r))], axis=-2)
    return _over_terms_dense(lam, b, X1, X @ X.swapaxes(-1, -2) - X1 @ X1.swapaxes(-1, -2))


@pytest.mark.parametrize("n, r, dof", [(12, 4, 9), (12, 4, 12), (20, 6, 30), (9, 8, 2)])
def test_schur_terms_equal_the_dense_inverse_on_the_same_draw(n, r, dof):
    rng = np.random.default_rng(n + r + dof)
    lam = np.linspace(1.2, 4.0, r)
    b = rng.standard_normal((r, 3))
    draw = _schur_draw(rng, lam, n, dof, 7)
    fast = np.array(_over_terms_schur(lam, b, *draw[:3], *draw[3]))
    dense = np.array(_dense(lam, b, *draw[:3], *draw[3]))
    np.testing.assert_allclose(fast, dense, rtol=1e-9)


def test_schur_route_is_stable_at_p_minus_r_equal_to_n():
    rng = np.random.default_rng(3)
    n, r, reps = 60, 20, 1500
    lam = np.full(r, 3.0)
    b = rng.standard_normal((r, 4))
    draw = _schur_draw(rng, lam, n, n, reps)
    fast = np.array(_over_terms_schur(lam, b, *draw[:3], *draw[3]))
    dense = np.array(_dense(lam, b, *draw[:3], *draw[3]))
    assert np.max(np.abs(fast / dense - 1)) < 1e-8


@pytest.mark.parametrize("p", [45, 50, 55])
def test_schur_route_has_the_law_of_fitting_the_head(p):
    """n = 40, r = 10: p - r = n - 5, n, n + 5 all take the Schur route (the Gaussian
    embedding: unequal signal eigenvalues, so not the isotropic route)."""
    n, d = 40, 10
    m = hr.make_model(p, d, 0.4, embedding="gaussian", rng=p)
    pop = hr.population(m)
    assert pop.eigvals.size == d and _isotropic_beta(pop.eigvals, pop.eigvecs.T @ pop.B_star) is None
    fast = hr.simulate_risk(m, n, reps=4000, rng=1)
    plain = hr.simulate_risk(m, n, reps=4000, rng=2, method="fit")
    for part in ("risks", "biases", "variances"):
        (mf, sf), (mp, sp) = mc_mean(getattr(fast, part)), mc_mean(getattr(plain, part))
        z = (mf - mp) / np.hypot(sf, sp)
        assert abs(z) < 4, (part, mf, mp, z)
