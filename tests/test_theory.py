"""Tests of hmmrisk.theory: Theorem 1, Definitions 1-3 and the claims of Theorem 3.

Every branch is checked against an independent route: closed forms (the
isotropic case, the inverse-Wishart mean), a dense-matrix evaluation of
Definition 2, scipy's brentq for Definition 1, the population code for
Definition 3, and Monte Carlo with tolerances from the standard error.
"""

import dataclasses
import itertools

import numpy as np
import pytest
from scipy.optimize import brentq

import hmmrisk as hr
from hmmrisk import theory as th

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def pop_of(p, d, noise=0.5, snr=1.0, embedding="orthogonal", seed=0):
    return hr.population(hr.make_model(p, d, noise, snr, embedding, rng=seed))


def kappa_brentq(s, n):
    """Definition 1 by plain bracketing on a materialised spectrum."""
    s = np.asarray(s, float)
    hi = s.max() * (s.size - n) / n * 2 + 1.0
    return brentq(lambda k: np.sum(s / (s + k)) - n, 1e-300, hi, xtol=1e-300, rtol=1e-15, maxiter=500)


def dense_definition2(pop, n):
    """Definition 2 with dense p x p matrices: no eigenvector weights, no unit block."""
    S = pop.sigma_x_dense()
    ev = np.linalg.eigvalsh(S)
    k = kappa_brentq(ev, n)
    R = np.linalg.inv(S + k * np.eye(pop.p))
    SR = S @ R
    d2 = np.trace(SR @ SR) / n
    bias = k**2 * np.trace(pop.B_star.T @ S @ R @ R @ pop.B_star) / (1 - d2)
    variance = pop.irreducible * d2 / (1 - d2)
    return bias, variance, k


# ---------------------------------------------------------------------------
# Prediction
# ---------------------------------------------------------------------------


def test_prediction_properties():
    pr = th.Prediction(bias=1.5, variance=2.0, irreducible=3.0, formula="definition2")
    assert pr.risk == 3.5 and pr.total == 6.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        pr.bias = 0.0                                            # frozen
    inf = th.Prediction(0.0, float("inf"), 3.0, "threshold")
    assert np.isinf(inf.risk) and np.isinf(inf.total)


def test_predictions_indexing():
    pred = th.definition3(100, np.array([50.0, 99.0, 150.0]), 50, 0.5)
    assert len(pred) == 3
    assert [pred[i].formula for i in range(3)] == ["theorem1-exact", "threshold", "definition2"]
    assert pred[2].risk == pytest.approx(pred.risk[2], rel=1e-15)
    np.testing.assert_allclose(pred.total, pred.risk + pred.irreducible)


# ---------------------------------------------------------------------------
# Theorem 1
# ---------------------------------------------------------------------------


def test_theorem1_closed_forms():
    assert th.theorem1(100, 10, irreducible=2.0, exact=True) == pytest.approx(2.0 * 10 / 89, rel=1e-15)
    assert th.theorem1(100, 10, irreducible=2.0, exact=False) == pytest.approx(2.0 * 0.1 / 0.9, rel=1e-15)
    out = th.theorem1(100, np.array([1, 50, 97]), irreducible=np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(out, [1 / 98, 2 * 50 / 49, 3 * 97 / 2], rtol=1e-15)
    # exact > asymptotic, and their ratio is (n - p)/(n - p - 1)
    p = np.arange(1, 98)
    ratio = th.theorem1(100, p, irreducible=1.0) / th.theorem1(100, p, irreducible=1.0, exact=False)
    np.testing.assert_allclose(ratio, (100 - p) / (99 - p), rtol=1e-14)


def test_theorem1_threshold_is_inf():
    n = 50
    assert np.all(np.isinf(th.theorem1(n, [49, 49.5, 50], irreducible=1.0, exact=True)))
    assert np.isfinite(th.theorem1(n, 48.9, irreducible=1.0, exact=True))
    assert np.isinf(th.theorem1(n, 50, irreducible=1.0, exact=False))
    assert np.isfinite(th.theorem1(n, 49.5, irreducible=1.0, exact=False))
    # no noise, no variance, even at the threshold
    assert th.theorem1(n, 50, irreducible=0.0) == 0.0


@pytest.mark.parametrize("kwargs, name", [
    (dict(irreducible=1.0, p=101, n=100), "p <= n"),
    (dict(irreducible=1.0, p=0.5, n=100), "p"),
    (dict(irreducible=-1.0, p=10, n=100), "irreducible"),
    (dict(irreducible=np.nan, p=10, n=100), "irreducible"),
    (dict(irreducible=1.0, p=10, n=1), "n"),
    (dict(irreducible=1.0, p=np.inf, n=100), "p"),
])
def test_theorem1_rejects(kwargs, name):
    with pytest.raises(ValueError, match=name):
        th.theorem1(**kwargs)


def test_predicted_risk_under_is_theorem1_exact():
    for emb, p in itertools.product(("orthogonal", "gaussian"), (5, 30, 60, 97)):
        pop = pop_of(p, 40, 0.3, 1.5, emb, seed=p)
        pr = th.predicted_risk(pop, 100)
        assert pr.formula == "theorem1-exact" and pr.bias == 0.0
        assert pr.variance == pytest.approx(pop.irreducible * p / (100 - p - 1), rel=1e-14)
        assert pr.irreducible == pytest.approx(pop.irreducible, rel=1e-15)


@pytest.mark.parametrize("p", [99, 100])
def test_predicted_risk_threshold(p):
    pr = th.predicted_risk(pop_of(p, 50), 100)
    assert pr.formula == "threshold" and pr.bias == 0.0 and np.isinf(pr.variance)


# ---------------------------------------------------------------------------
# Definition 1: the kappa equation
# ---------------------------------------------------------------------------


def residual(s, k, n, n_unit=0):
    return (np.sum(s / (s + k)) + n_unit / (1 + k) - n) / n


@pytest.mark.parametrize("seed", range(5))
def test_kappa_matches_brentq_on_random_spectra(seed):
    rng = np.random.default_rng(seed)
    p = int(rng.integers(20, 400))
    n = int(rng.integers(2, p))
    s = np.exp(rng.normal(0, 2, p))                 # condition numbers up to ~1e6
    k = th.solve_kappa(s, n)
    assert k == pytest.approx(kappa_brentq(s, n), rel=1e-12)
    assert abs(residual(s, k, n)) < 1e-14


def test_kappa_isotropic_closed_form():
    for c, p, n in [(1.0, 150, 100), (3.0, 101, 100), (0.5, 10**6, 7)]:
        assert th.solve_kappa(np.full(p, c), n) == pytest.approx(c * (p - n) / n, rel=1e-14)
        assert th.solve_kappa(np.array([c]), n, n_unit=p - 1) > 0


def test_kappa_unit_block_equals_materialised():
    s = np.array([40.0, 12.0, 3.0, 1.5])
    for n_unit, n in [(97, 100), (300, 100), (10**6, 100)]:
        k1 = th.solve_kappa(s, n, n_unit=n_unit)
        if n_unit <= 300:
            k2 = th.solve_kappa(np.r_[s, np.ones(n_unit)], n)
            assert k1 == pytest.approx(k2, rel=1e-13)
        assert abs(residual(s, k1, n, n_unit)) < 1e-14


def test_kappa_near_threshold():
    """p = n + 1: kappa -> 0 like (p - n) / sum(1/s); full relative accuracy."""
    rng = np.random.default_rng(3)
    n = 200
    s = np.exp(rng.normal(0, 1, n + 1))
    k = th.solve_kappa(s, n)
    assert k == pytest.approx(kappa_brentq(s, n), rel=1e-11)
    approx = 1 / np.sum(1 / s)                      # first order in kappa
    assert k == pytest.approx(approx, rel=0.05)
    # orthogonal embedding closed form at p = n + 1 and the solver agree
    k_closed = th.kappa_orthogonal(n, n + 1, 50)
    s1 = 1 + (n + 1) / 50
    assert k_closed == pytest.approx(th.solve_kappa(np.full(50, s1), n, n_unit=n + 1 - 50), rel=1e-12)


def test_kappa_far_overparameterised():
    """p >> n: kappa ~ p/n; huge unit block and huge spread of eigenvalues."""
    n = 10
    s = np.array([1e8] * 5 + [1e-6] * 5)
    for n_unit in (10**3, 10**7, 10**12):
        k = th.solve_kappa(s, n, n_unit=n_unit)
        assert np.isfinite(k) and k > 0
        assert abs(residual(s, k, n, n_unit)) < 1e-13
    # pure unit block: kappa = (p - n)/n exactly
    assert th.solve_kappa(np.ones(1), n, n_unit=10**9 - 1) == pytest.approx((10**9 - n) / n, rel=1e-13)


def test_kappa_batch_and_zero_padding():
    rng = np.random.default_rng(7)
    spectra = [np.exp(rng.normal(0, 1, r)) for r in (30, 50, 80)]
    nu = np.array([100, 0, 5])
    n = np.array([60, 20, 70])
    batch = np.zeros((3, 80))
    for i, s in enumerate(spectra):
        batch[i, :s.size] = s
    kb = th.solve_kappa(batch, n, n_unit=nu)
    for i, s in enumerate(spectra):
        assert kb[i] == pytest.approx(th.solve_kappa(s, int(n[i]), int(nu[i])), rel=1e-14)


@pytest.mark.parametrize("args, name", [
    ((np.ones(50), 50), "p > n"),
    ((np.ones(10), 5, 0), None),
    ((np.r_[np.ones(10), -1.0], 5), "eigvals"),
    ((np.r_[np.ones(10), np.nan], 5), "eigvals"),
    ((np.ones(10), 1), "n"),
    ((np.ones(10), 5, -1), "n_unit"),
    ((np.ones(10), 5, 1.5), "n_unit"),
    ((np.ones((2, 2, 2)), 1), "eigvals"),
    ((np.r_[np.zeros(40), np.ones(10)], 20), "p > n"),
])
def test_kappa_rejects(args, name):
    if name is None:
        assert th.solve_kappa(*args) == pytest.approx(1.0, rel=1e-15)
        return
    with pytest.raises(ValueError, match=name):
        th.solve_kappa(*args)


# ---------------------------------------------------------------------------
# Definition 2
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("emb, p, d, n, noise, snr", [
    ("gaussian", 70, 20, 30, 0.4, 1.5),
    ("orthogonal", 70, 20, 30, 0.4, 1.5),
    ("gaussian", 40, 60, 25, 0.1, 3.0),              # p < d: no unit block
    ("orthogonal", 41, 10, 40, 0.9, 0.3),            # p = n + 1
    ("gaussian", 120, 8, 15, 0.0, 1.0),              # sigma^2 = 0
])
def test_definition2_equals_dense_route(emb, p, d, n, noise, snr):
    pop = pop_of(p, d, noise, snr, emb, seed=p + d)
    bias, variance, k = dense_definition2(pop, n)
    pr = th.predicted_risk(pop, n)
    assert pr.formula == "definition2"
    assert pr.bias == pytest.approx(bias, rel=1e-9)
    assert pr.variance == pytest.approx(variance, rel=1e-9)
    assert th.solve_kappa(pop.eigvals, n, pop.n_unit) == pytest.approx(k, rel=1e-11)


def test_definition2_unit_block_equals_materialised():
    pop = pop_of(300, 30, 0.5, 1.0, "gaussian", seed=1)
    s, b = pop.spectrum()
    full = th.definition2(s, b, 100, pop.irreducible)
    short = th.definition2(pop.eigvals, pop.signal, 100, pop.irreducible, n_unit=pop.n_unit)
    assert short.bias == pytest.approx(full.bias, rel=1e-12)
    assert short.variance == pytest.approx(full.variance, rel=1e-12)


def test_definition2_textbook_form():
    """The stable forms equal the formulas of theory.md written naively."""
    rng = np.random.default_rng(11)
    s, b = np.exp(rng.normal(0, 1, 90)), rng.random(90)
    n, tr = 40, 3.7
    k = kappa_brentq(s, n)
    d2 = np.sum(s**2 / (s + k) ** 2) / n
    pr = th.definition2(s, b, n, tr)
    assert pr.bias == pytest.approx(k**2 * np.sum(s * b / (s + k) ** 2) / (1 - d2), rel=1e-11)
    assert pr.variance == pytest.approx(tr * d2 / (1 - d2), rel=1e-11)


def test_definition2_batch_equals_single():
    pops = [pop_of(p, 30, 0.5, 1.0, "gaussian", seed=p) for p in (20, 59, 60, 61, 90, 400)]
    curve = th.predicted_curve(pops, 60)
    assert list(curve.formula) == ["theorem1-exact", "threshold", "threshold", "definition2",
                                   "definition2", "definition2"]
    for i, pop in enumerate(pops):
        single = th.predicted_risk(pop, 60)
        assert curve[i].formula == single.formula
        np.testing.assert_allclose([curve.bias[i], curve.variance[i], curve.irreducible[i]],
                                   [single.bias, single.variance, single.irreducible], rtol=1e-13)


def test_isotropic_case_closed_forms():
    """Sigma_x = c I (orthogonal embedding with n < p < d): Definition 2 in closed form."""
    n, d, noise, rho = 40, 120, 0.3, 2.0
    for p in (41, 60, 80, 119):
        pop = pop_of(p, d, noise, rho, seed=p)
        c = 1 + rho
        np.testing.assert_allclose(pop.eigvals, c, rtol=1e-12)
        pr = th.predicted_risk(pop, n)
        assert th.solve_kappa(pop.eigvals, n) == pytest.approx(c * (p - n) / n, rel=1e-12)
        assert pr.bias == pytest.approx(c * pop.norm_B_star_sq * (1 - n / p), rel=1e-12)
        assert pr.variance == pytest.approx(pop.irreducible * n / (p - n), rel=1e-12)


def test_isotropic_exact_finite_n_mean_by_simulation():
    """Isotropic case, finite n: E B_X = c||B*||^2 (1 - n/p), E V_X = tr(Sigma_r) n/(p - n - 1).

    The exact means, not the deterministic equivalent, so the tolerance is
    4 standard errors and no allowance.
    """
    n, d, p, noise, rho = 40, 120, 80, 0.3, 2.0
    model = hr.make_model(p, d, noise, rho, rng=1)
    pop = hr.population(model)
    est = hr.simulate_risk(model, n, reps=2000, rng=3)
    c = 1 + rho
    exact = c * pop.norm_B_star_sq * (1 - n / p) + pop.irreducible * n / (p - n - 1)
    assert abs(est.risk - exact) <= 4 * est.stderr
    # ... and Definition 2 is off by exactly the factor (p - n - 1)/(p - n) on the variance
    pr = th.predicted_risk(pop, n)
    assert pr.variance * (p - n) / (p - n - 1) + pr.bias == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("kwargs, name", [
    (dict(eigvals=np.ones(10), signal=np.ones(9), n=5, irreducible=1.0), "signal"),
    (dict(eigvals=np.ones(10), signal=-np.ones(10), n=5, irreducible=1.0), "signal"),
    (dict(eigvals=np.ones(10), signal=np.ones(10), n=5, irreducible=-1.0), "irreducible"),
    (dict(eigvals=np.ones(10), signal=np.ones(10), n=10, irreducible=1.0), "p > n"),
    (dict(eigvals=np.ones(10), signal=np.ones(10), n=5, irreducible=np.inf), "irreducible"),
])
def test_definition2_rejects(kwargs, name):
    with pytest.raises(ValueError, match=name):
        th.definition2(**kwargs)


def test_predicted_risk_rejects():
    with pytest.raises(TypeError, match="pop"):
        th.predicted_risk("not a population", 10)
    with pytest.raises(ValueError, match="n"):
        th.predicted_risk(pop_of(20, 5), 1)
    with pytest.raises(ValueError, match="n"):
        th.predicted_risk(pop_of(20, 5), 10.5)
    with pytest.raises(ValueError, match="pops"):
        th.predicted_curve([], 10)


# ---------------------------------------------------------------------------
# Definition 3
# ---------------------------------------------------------------------------

DEF3_CASES = [  # (n, d, noise, snr)
    (100, 50, 0.5, 1.0), (100, 50, 0.2, 1.0), (37, 5, 0.0, 4.0), (60, 90, 1.0, 0.3),
    (200, 10, 0.8, 10.0),
]


@pytest.mark.parametrize("n, d, noise, snr", DEF3_CASES)
def test_definition3_equals_definition2_on_population(n, d, noise, snr):
    ps = sorted({1, 2, d - 1 if d > 1 else 1, d, d + 1, n - 5, n - 2, n - 1, n, n + 1, n + 2,
                 n + 7, 2 * n, 5 * n + 3, 40 * n})
    ps = [p for p in ps if p >= 1]
    pred = th.definition3(n, np.array(ps, float), d, noise, snr)
    for i, p in enumerate(ps):
        ref = th.predicted_risk(pop_of(p, d, noise, snr, seed=p), n)
        assert pred[i].formula == ref.formula
        assert pred.irreducible[i] == pytest.approx(ref.irreducible, rel=1e-10)
        if np.isinf(ref.variance):
            assert np.isinf(pred.variance[i])
            continue
        assert pred.bias[i] == pytest.approx(ref.bias, rel=1e-10, abs=1e-13)
        assert pred.variance[i] == pytest.approx(ref.variance, rel=1e-10)


def test_definition3_scalar_and_large_p():
    n, d = 100, 50
    one = th.definition3(n, 20_000, d, 0.5)
    assert isinstance(one, th.Prediction) and one.formula == "definition2"
    ref = th.predicted_risk(pop_of(20_000, d, 0.5, seed=1), n)
    assert one.risk == pytest.approx(ref.risk, rel=1e-10)


def test_kappa_orthogonal_equals_solver():
    for n, p, d, snr in [(100, 101, 50, 1.0), (100, 150, 50, 1.0), (30, 40, 60, 2.0),
                         (10, 10**7, 3, 0.1), (100, 150, 150, 1.0), (100, 150, 149, 1.0)]:
        r, s1 = min(p, d), 1 + snr * max(p, d) / d
        k = th.kappa_orthogonal(n, p, d, snr)
        assert k == pytest.approx(th.solve_kappa(np.full(r, s1), n, n_unit=p - r), rel=1e-12)
    with pytest.raises(ValueError, match="p > n"):
        th.kappa_orthogonal(100, 100, 50)


@pytest.mark.parametrize("n, d, noise, snr", DEF3_CASES)
def test_definition3_proportional_identity(n, d, noise, snr):
    """Finite-size Definition 3 (asymptotic Theorem 1 below n) = d x proportional version."""
    p = np.r_[np.arange(1, n), np.arange(n + 1, 4 * n, 3), 50.0 * n].astype(float)
    fin = th.definition3(n, p, d, noise, snr, under="asymptotic")
    prop = th.definition3_proportional(p / n, d / p, noise, snr)
    np.testing.assert_allclose(fin.bias, d * prop.bias, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(fin.variance, d * prop.variance, rtol=1e-12)
    np.testing.assert_allclose(fin.irreducible, d * prop.irreducible, rtol=1e-12)
    assert list(fin.formula) == list(prop.formula)


def test_definition3_threshold_branches():
    n, d = 100, 50
    ex = th.definition3(n, np.array([98.9, 99.0, 99.5, 100.0, 100.5]), d, 0.5)
    assert np.isfinite(ex.variance[0]) and np.all(np.isinf(ex.variance[1:4]))
    assert np.isfinite(ex.variance[4])
    asy = th.definition3(n, np.array([99.0, 99.5, 100.0]), d, 0.5, under="asymptotic")
    assert np.all(np.isfinite(asy.variance[:2])) and np.isinf(asy.variance[2])
    assert th.definition3_proportional(1.0, 0.5, 0.5).formula[0] == "threshold"


def test_definition3_limiting_noise():
    n, d = 80, 20
    p = np.array([10.0, 50.0, 120.0, 1000.0])
    quiet = th.definition3(n, p, d, 1.0)                 # sigma^2 = 1: A = 0, B* = 0
    np.testing.assert_allclose(quiet.bias, 0.0, atol=1e-300)
    np.testing.assert_allclose(quiet.irreducible, d, rtol=1e-15)
    clean = th.definition3(n, p, d, 0.0, 2.0)            # sigma^2 = 0: tr Sigma_r = d/s1 or d - r + r/s1
    s1 = 1 + 2.0 * np.maximum(p, d) / d
    r = np.minimum(p, d)
    np.testing.assert_allclose(clean.irreducible, d - r + r / s1, rtol=1e-14)


@pytest.mark.parametrize("fn, kwargs, name", [
    (th.definition3, dict(n=1, p=10, d=5, noise=0.5), "n"),
    (th.definition3, dict(n=10, p=0, d=5, noise=0.5), "p"),
    (th.definition3, dict(n=10, p=5, d=0, noise=0.5), "d"),
    (th.definition3, dict(n=10, p=5, d=5, noise=1.5), "noise"),
    (th.definition3, dict(n=10, p=5, d=5, noise=0.5, snr=0.0), "snr"),
    (th.definition3, dict(n=10, p=np.nan, d=5, noise=0.5), "p"),
    (th.definition3, dict(n=10, p=5, d=5, noise=0.5, under="other"), "under"),
    (th.definition3_proportional, dict(gamma=0.0, psi=0.5, noise=0.5), "gamma"),
    (th.definition3_proportional, dict(gamma=2.0, psi=-1.0, noise=0.5), "psi"),
    (th.definition3_proportional, dict(gamma=2.0, psi=0.5, noise=-0.1), "noise"),
    (th.large_p_limit, dict(n=10, d=0, noise=0.5), "d"),
    (th.large_p_limit, dict(n=10, d=3, noise=0.5, snr=-1), "snr"),
    (th.orthogonal_spectrum, dict(p=0.5, d=3, noise=0.5), "p"),
])
def test_definition3_rejects(fn, kwargs, name):
    with pytest.raises(ValueError, match=name):
        fn(**kwargs)


# ---------------------------------------------------------------------------
# Theorem 3: shape of the curve
# ---------------------------------------------------------------------------

SHAPE_GRID = list(itertools.product([20, 100, 1000], [5, 50, 500], [0.0, 0.2, 0.5, 0.8, 1.0],
                                    [0.1, 1.0, 10.0]))


def test_large_p_limit_formula():
    for n, d, noise, snr in SHAPE_GRID[::7]:
        lim = th.large_p_limit(n, d, noise, snr)
        far = th.definition3(n, 1e12 * max(n, d), d, noise, snr)
        assert far.bias == pytest.approx(lim.bias, rel=1e-6, abs=1e-9)
        assert far.variance == pytest.approx(lim.variance, rel=1e-6, abs=1e-9)
        assert far.irreducible == pytest.approx(lim.irreducible, rel=1e-6, abs=1e-9)
        # independent route: kappa/p -> c with d rho/(rho + c d) + 1/c = n
        c = brentq(lambda c: d * snr / (snr + c * d) + 1 / c - n, 1e-12, 1e12, rtol=1e-15, xtol=1e-300)
        tau = snr / (snr + c * d)
        q = d * tau**2 / n
        assert lim.bias == pytest.approx(d * (1 - noise) * (1 - tau) ** 2 / (1 - q), rel=1e-10, abs=1e-12)


def test_theorem3_increasing_below_n():
    """(a) p in [d, n - 1): strictly increasing for every parameter; p < d when alpha <= 1/2."""
    for n, d, noise, snr in SHAPE_GRID:
        if n - 1 <= 1:
            continue
        p = np.linspace(1, n - 1.01, 400)
        r = th.definition3(n, p, d, noise, snr).risk
        alpha = snr * (1 - noise) / (1 + snr)
        above = p >= d
        if np.count_nonzero(above) > 1:
            assert np.all(np.diff(r[above]) > 0), (n, d, noise, snr)
        if alpha <= 0.5 or d >= n - 1:
            assert np.all(np.diff(r) > 0), (n, d, noise, snr)


def test_theorem3_below_d_counterexample():
    """With alpha = rho(1 - sigma^2)/(1 + rho) > 1/2 and n - 1 > alpha d/(2 alpha - 1) it falls before p = d."""
    n, d, noise, snr = 1001, 50, 0.05, 20.0
    alpha = snr * (1 - noise) / (1 + snr)
    assert alpha > 0.5 and (n - 1) * (2 * alpha - 1) > alpha * d
    p = np.arange(1, d + 1, dtype=float)
    r = th.definition3(n, p, d, noise, snr).risk
    m = n - 1
    p_star = m - np.sqrt(m * m - d * m / alpha)     # where the derivative changes sign
    assert np.all(np.diff(r[p > p_star + 1]) < 0)
    assert np.all(np.diff(r[p < p_star - 1]) > 0)


def test_theorem3_divergence_at_threshold():
    """(b) both sides diverge like tr(Sigma_r) n / |p - n|."""
    for n, d, noise, snr in [(100, 50, 0.5, 1.0), (1000, 5, 0.2, 10.0), (20, 500, 0.8, 0.1)]:
        bias = []
        for eps in (1e-3, 1e-6):
            above = th.definition3(n, n + eps, d, noise, snr)
            below = th.definition3(n, n - eps, d, noise, snr, under="asymptotic")
            for pr in (above, below):
                # relative error O(eps / n) plus rounding of p - n
                assert pr.variance * eps / (pr.irreducible * n) == pytest.approx(1.0, rel=eps + 1e-7)
            bias.append(above.bias)
        # ... while the bias vanishes linearly in p - n (kappa -> 0)
        assert bias[1] == pytest.approx(1e-3 * bias[0], rel=1e-2)
        exact_below = th.definition3(n, n - 1 - 1e-6, d, noise, snr)
        assert exact_below.variance == pytest.approx(exact_below.irreducible * (n - 1) / 1e-6, rel=1e-6)


def test_theorem3_over_parameterised_shape_on_grid():
    """p > n: variance falls, bias rises, total risk falls (checked, not proved)."""
    for n, d, noise, snr in SHAPE_GRID:
        p = np.unique(np.r_[np.arange(n + 1, n + 400), np.geomspace(n + 1, 1e7 * max(n, d), 400)])
        pr = th.definition3(n, p, d, noise, snr)
        tol = 1e-12
        assert np.all(np.diff(pr.variance) <= tol * pr.variance[1:]), (n, d, noise, snr)
        assert np.all(np.diff(pr.bias) >= -tol * pr.bias[1:]), (n, d, noise, snr)
        assert np.all(np.diff(pr.total) <= tol * pr.total[1:]), (n, d, noise, snr)


def test_theorem3_excess_risk_monotone_in_paper_settings_only():
    """The excess risk falls for p > n in the figures' settings, but not for every sigma^2."""
    for n, noise in [(100, 0.2), (100, 0.5), (100, 0.8), (150, 0.5), (200, 0.5)]:
        p = np.unique(np.r_[np.arange(n + 1, n + 3000), np.geomspace(n + 1, 1e9, 400)])
        r = th.definition3(n, p, 50, noise).risk
        assert np.all(np.diff(r) <= 1e-12 * r[1:])
    p = np.arange(101, 5000, dtype=float)
    r = th.definition3(100, p, 50, 0.0).risk                 # sigma^2 = 0: a minimum at finite p
    i = int(np.argmin(r))
    assert 0 < i < p.size - 1 and r[-1] > r[i] * 1.01


# ---------------------------------------------------------------------------
# Theory against simulation (points other than the figures')
# ---------------------------------------------------------------------------
#
# Theorem 1 is an exact finite-n mean: tolerance 4 standard errors.
# Definition 2 is a deterministic equivalent: at finite n the mean of R_X
# exceeds it.  In the isotropic case the gap is exactly tr(Sigma_r) n/((p-n)(p-n-1)),
# a relative 1/(p - n - 1) on the variance and 0 on the bias
# (test_isotropic_exact_finite_n_mean_by_simulation).  Measured with 2000
# training sets at n in {40, 100}, p - n in {10, ..., 200}, both embeddings,
# sigma^2 in {0.2, 0.5, 0.8}: variance gap 1.00-1.10 x 1/(p - n - 1), bias gap
# 1.3-5.6 % (at most 2.3/n).  The one-sided allowance below,
# 1.5 V/(p - n - 1) + 3 B/n, covers those with margin.

SIM_OVER = [  # (n, d, noise, snr, embedding, p)
    (60, 20, 0.3, 2.0, "orthogonal", 90),
    (60, 20, 0.7, 0.5, "gaussian", 120),
    (50, 80, 0.5, 1.0, "orthogonal", 70),       # p < d: isotropic Sigma_x
    (40, 10, 0.1, 4.0, "gaussian", 200),
    (80, 30, 0.0, 1.0, "orthogonal", 95),
    (50, 30, 1.0, 1.0, "gaussian", 75),         # sigma^2 = 1: B* = 0, pure variance
]
SIM_UNDER = [
    (60, 20, 0.3, 2.0, "orthogonal", 40),
    (80, 30, 0.6, 1.0, "gaussian", 25),
    (50, 80, 0.5, 1.0, "orthogonal", 30),       # p < d
    (100, 10, 0.0, 3.0, "gaussian", 85),
]


@pytest.mark.parametrize("n, d, noise, snr, emb, p", SIM_OVER)
def test_definition2_against_simulation(n, d, noise, snr, emb, p):
    model = hr.make_model(p, d, noise, snr, emb, rng=np.random.default_rng([n, p, 1]))
    pop = hr.population(model)
    pr = th.predicted_risk(pop, n)
    est = hr.simulate_risk(model, n, reps=400, rng=np.random.default_rng([n, p, 2]))
    allowance = 1.5 * pr.variance / (p - n - 1) + 3 * pr.bias / n
    assert pr.risk - 4 * est.stderr <= est.risk <= pr.risk + allowance + 4 * est.stderr
    # the parts separately (their standard errors from the per-replicate arrays)
    se_b = est.biases.std(ddof=1) / np.sqrt(est.reps)
    se_v = est.variances.std(ddof=1) / np.sqrt(est.reps)
    assert pr.bias - 4 * se_b - 1e-12 <= est.bias <= pr.bias * (1 + 3 / n) + 4 * se_b + 1e-12
    assert pr.variance - 4 * se_v <= est.variance <= pr.variance * (1 + 1.5 / (p - n - 1)) + 4 * se_v


@pytest.mark.parametrize("n, d, noise, snr, emb, p", SIM_UNDER)
def test_theorem1_exact_against_simulation(n, d, noise, snr, emb, p):
    model = hr.make_model(p, d, noise, snr, emb, rng=np.random.default_rng([n, p, 3]))
    pr = th.predicted_risk(hr.population(model), n)
    est = hr.simulate_risk(model, n, reps=1000, rng=np.random.default_rng([n, p, 4]))
    assert pr.formula == "theorem1-exact"
    assert abs(est.risk - pr.risk) <= 4 * est.stderr
    assert np.all(est.biases == 0)


def test_theorem1_exact_against_fitted_heads():
    """The plain route: fit heads on HMM data (method='fit'), no Wishart shortcut."""
    n, d, p = 40, 12, 20
    model = hr.make_model(p, d, 0.4, 1.0, "gaussian", rng=5)
    pr = th.predicted_risk(hr.population(model), n)
    est = hr.simulate_risk(model, n, reps=3000, rng=6, method="fit")
    assert abs(est.risk - pr.risk) <= 4 * est.stderr


# ---------------------------------------------------------------------------
# The subpackage's one kernel: the fast path agrees with the general solver
# ---------------------------------------------------------------------------

def test_two_point_fast_path_matches_the_newton_solver():
    # kappa_orthogonal (closed-form quadratic) against solve_kappa (safeguarded
    # Newton on the explicit spectrum): two independent routes to Definition 1.
    for n, p, d, snr in [(40, 41, 20, 1.0), (40, 75, 20, 0.3), (100, 400, 50, 4.0), (30, 31, 60, 1.0)]:
        s1, r, _, _ = th.orthogonal_spectrum(p, d, 0.0, snr)
        eig = np.r_[np.full(int(r), s1)]
        k_newton = th.solve_kappa(eig, n, n_unit=p - int(r))
        assert th.kappa_orthogonal(n, p, d, snr) == pytest.approx(k_newton, rel=1e-13)


def test_definition3_accepts_a_real_n_continuously():
    # a real n interpolates: n -> 100 from both sides gives the integer-n curve
    ps = np.array([20.0, 60.0, 150.0, 400.0])
    ref = th.definition3(100, ps, 50, 0.5).risk
    for eps in (1e-7, -1e-7):
        assert np.allclose(th.definition3(100 + eps, ps, 50, 0.5).risk, ref, rtol=1e-5)
    with pytest.raises(ValueError, match="n"):
        th.definition3(1.0, ps, 50, 0.5)


def test_large_p_tau_is_the_root_in_the_unit_interval():
    n, d, rho = 100, 50, np.array([0.1, 1.0, 10.0])
    tau = th.large_p_tau(n, d, rho)
    assert np.all((tau > 0) & (tau < 1))
    assert np.allclose(d * rho * tau**2 - (d * rho + d + n * rho) * tau + n * rho, 0.0, atol=1e-9)
    # and it is the limit of s1 / (s1 + kappa) along Definition 1
    p = 1e9
    s1 = 1 + p / d
    assert s1 / (s1 + th.kappa_orthogonal(n, p, d, 1.0)) == pytest.approx(th.large_p_tau(n, d, 1.0), rel=1e-6)
