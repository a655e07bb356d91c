"""Property tests (Hypothesis): invariants that must hold for every valid input.

* Definition 3 ({prf:ref}`def-hmm-risk`): bias, variance >= 0 and finite away
  from the threshold, ``total >= irreducible``, ``tr Sigma_r in [d sigma^2, d]``;
  continuous in ``p`` on ``p > n``, also across ``p = d`` where the spectrum
  changes form.
* Theorem 1 and Definitions 1-2 on general spectra: ``kappa`` solves its
  equation, the risks are >= 0.
* Simulation: the same seed gives bitwise identical output, different seeds
  different output; a point of a risk curve does not depend on the grid.
* Lemma 2: ``Sigma_r`` is positive semi-definite with ``tr Sigma_r <= d``, and
  ``B*`` equals the dense ``Sigma_x^{-1} W A^T``.

Every run is reproducible: ``derandomize=True`` and no example database.
"""

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import hmmrisk as hr
from hmmrisk import curves, theory


def fast(n):
    """Deterministic settings with ``n`` examples (CI sees the same examples every run)."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


noises = st.floats(0.0, 1.0)
snrs = st.floats(0.05, 20.0)


@st.composite
def hmm_params(draw, n_max=300, d_max=200):
    """``(n, d, noise, snr)`` and model sizes ``p`` with ``|p - n| > 1``, non-integer allowed."""
    n = draw(st.integers(2, n_max))
    d = draw(st.integers(1, d_max))
    ps = draw(st.lists(st.floats(1.0, 4.0 * n + 10.0), min_size=1, max_size=8))
    ps = [p for p in ps if abs(p - n) > 1.0]
    assume(ps)
    return n, d, draw(noises), draw(snrs), np.array(ps)


# ---------------------------------------------------------------------------
# Definition 3: signs, finiteness, ordering
# ---------------------------------------------------------------------------

@fast(150)
@given(hmm_params(), st.sampled_from(["exact", "asymptotic"]))
def test_definition3_risks_nonnegative_finite_and_ordered(params, under):
    n, d, noise, snr, ps = params
    pred = theory.definition3(n, ps, d, noise, snr, under=under)
    for part in (pred.bias, pred.variance, pred.irreducible, pred.total):
        assert np.all(np.isfinite(part)) and np.all(part >= 0.0)
    assert np.all(pred.bias[ps < n] == 0.0)                       # Theorem 1: no bias below n
    assert np.all(pred.total >= pred.irreducible)
    tol = 1e-12 * d
    assert np.all(pred.irreducible >= d * noise - tol)
    assert np.all(pred.irreducible <= d + tol)


# ---------------------------------------------------------------------------
# Definition 2 is continuous in p on p > n (including across p = d)
# ---------------------------------------------------------------------------

def _parts(n, p, d, noise, snr):
    pred = theory.definition3(n, np.asarray(p, dtype=float), d, noise, snr)
    return np.stack([pred.bias, pred.variance, pred.total])


def _check_continuous(n, p, d, noise, snr, h=1e-6, delta=1e-3):
    """|R(p +- h) - R(p)| is tiny relative to R and below a Lipschitz bound from one-sided slopes."""
    vals = _parts(n, [p - delta, p - h, p, p + h, p + delta], d, noise, snr)
    base = vals[:, 2]
    slope = np.maximum(np.abs(vals[:, 4] - base), np.abs(vals[:, 0] - base)) / delta
    scale = np.maximum(vals[:, 2:3], 1e-300)
    for k in (1, 3):
        diff = np.abs(vals[:, k] - base)
        assert np.all(diff <= 3.0 * slope * h + 1e-11 * base), (p, diff, slope)
        assert np.all(diff <= 1e-4 * scale[:, 0] + 1e-300)


@fast(120)
@given(st.integers(2, 300), st.integers(1, 300), noises, snrs, st.floats(1.5, 1000.0))
def test_definition2_continuous_in_p(n, d, noise, snr, gap):
    _check_continuous(n, n + gap, d, noise, snr)


@fast(80)
@given(st.integers(2, 200), st.integers(2, 300), noises, snrs)
def test_definition2_continuous_across_p_equals_d(n, extra, noise, snr):
    d = n + 1 + extra                # p = d lies in the over-parameterised regime
    _check_continuous(n, float(d), d, noise, snr)
    # the two forms (p < d: orthonormal rows; p > d: orthonormal columns) meet at p = d
    left, right = _parts(n, [d - 1e-9, d + 1e-9], d, noise, snr).T
    np.testing.assert_allclose(left, right, rtol=1e-6)


# ---------------------------------------------------------------------------
# Theorem 1 and Definitions 1-2 on general spectra
# ---------------------------------------------------------------------------

@st.composite
def spectra(draw):
    """A spectrum (some zeros allowed), a unit-block multiplicity and ``n < rank``."""
    eig = draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1e3)), min_size=1, max_size=30))
    s = np.array(eig)
    n_unit = draw(st.integers(0, 200))
    rank = int((s > 0).sum()) + n_unit
    assume(rank >= 3)
    n = draw(st.integers(2, rank - 1))
    b = np.array(draw(st.lists(st.floats(0.0, 10.0), min_size=s.size, max_size=s.size)))
    return s, b, n_unit, n


@fast(200)
@given(spectra(), st.floats(0.0, 100.0))
def test_kappa_solves_definition1_and_definition2_is_nonnegative(spec, tr):
    s, b, n_unit, n = spec
    kappa = theory.solve_kappa(s, n, n_unit)
    assert np.isfinite(kappa) and kappa > 0
    terms = np.r_[s / (s + kappa), n_unit / (1.0 + kappa)]
    # |g(kappa)| relative to n, with g the (exactly summed) left side minus n
    assert abs(np.sum(terms) - n) <= 1e-10 * n
    pred = theory.definition2(s, b, n, tr, n_unit=n_unit)
    assert np.isfinite(pred.bias) and pred.bias >= 0
    assert np.isfinite(pred.variance) and pred.variance >= 0
    assert pred.total >= pred.irreducible == tr


@fast(100)
@given(st.integers(3, 500), st.floats(0.0, 100.0), st.data())
def test_theorem1_nonnegative_and_finite_below_threshold(n, tr, data):
    p = data.draw(st.floats(1.0, n - 1.0, exclude_max=True))
    for exact in (True, False):
        v = theory.theorem1(n, p, irreducible=tr, exact=exact)
        assert np.isfinite(v) and v >= 0


# ---------------------------------------------------------------------------
# Simulation: seeds
# ---------------------------------------------------------------------------

small_models = st.tuples(st.integers(1, 30), st.integers(1, 10), noises, snrs,
                         st.sampled_from(["orthogonal", "gaussian"]))


def _bits(*arrays):
    return b"".join(np.ascontiguousarray(a, dtype=float).tobytes() for a in arrays)


@fast(40)
@given(small_models, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_make_model_same_seed_same_bits(spec, s1, s2):
    p, d, noise, snr, emb = spec
    m1, m2 = (hr.make_model(p, d, noise, snr, emb, rng=s1) for _ in range(2))
    assert _bits(m1.A, m1.W) == _bits(m2.A, m2.W)
    # p = d = 1 with the orthogonal encoder has W = sqrt(rho) whatever the seed
    if s1 != s2 and (p * d > 1 or emb == "gaussian"):
        m3 = hr.make_model(p, d, noise, snr, emb, rng=s2)
        assert not np.array_equal(m1.W, m3.W)


@fast(40)
@given(small_models, st.integers(2, 30), st.sampled_from(["conditional", "fit"]),
       st.sampled_from([0.0, 0.1]), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_simulate_risk_same_seed_same_bits(spec, n, method, ridge, s1, s2):
    p, d, noise, snr, emb = spec
    model = hr.make_model(p, d, noise, snr, emb, rng=0)

    def run(seed):
        est = hr.simulate_risk(model, n, reps=6, rng=seed, method=method, ridge=ridge)
        return _bits(est.risks, est.biases, est.variances, [est.irreducible])

    assert run(s1) == run(s1)
    if s1 != s2:
        assert run(s1) != run(s2)


@fast(15)
@given(st.integers(5, 30), st.integers(1, 8), noises, st.integers(0, 1000),
       st.lists(st.integers(1, 70), min_size=1, max_size=4, unique=True), st.data())
def test_risk_curve_point_does_not_depend_on_the_grid(n, d, noise, seed, subset, data):
    extra = data.draw(st.lists(st.integers(1, 70), max_size=8, unique=True))
    grid = sorted(set(subset) | set(extra))
    full = curves.risk_curve(n, d, noise, grid, reps=3, rng=seed)
    part = curves.risk_curve(n, d, noise, subset, reps=3, rng=seed)
    i = [grid.index(p) for p in subset]
    for name in ("sim_risk", "sim_stderr", "sim_bias", "sim_variance", "excluded"):
        assert _bits(getattr(full, name)[i]) == _bits(getattr(part, name)), name
    for name in ("bias", "variance", "irreducible"):
        np.testing.assert_allclose(getattr(full.theory, name)[i], getattr(part.theory, name),
                                   rtol=1e-13, atol=0)


# ---------------------------------------------------------------------------
# Lemma 2 on small random models
# ---------------------------------------------------------------------------

@fast(80)
@given(small_models, st.integers(0, 2**32 - 1))
def test_population_psd_trace_and_dense_B_star(spec, seed):
    p, d, noise, snr, emb = spec
    model = hr.make_model(p, d, noise, snr, emb, rng=seed)
    pop = hr.population(model)
    W, A = model.W, model.A
    # Sigma_r is symmetric positive semi-definite, tr Sigma_r <= d (y = z_{t+1} has covariance I_d)
    assert np.allclose(pop.Sigma_r, pop.Sigma_r.T, atol=1e-12)
    assert np.linalg.eigvalsh(pop.Sigma_r).min() >= -1e-12
    assert pop.irreducible <= d * (1 + 1e-12)
    assert pop.irreducible >= d * noise * (1 - 1e-12)
    # B* = Sigma_x^{-1} W A^T by a dense solve (independent of the SVD route)
    sigma_x = W @ W.T + np.eye(p)
    B_dense = np.linalg.solve(sigma_x, W @ A.T)
    np.testing.assert_allclose(pop.B_star, B_dense, rtol=1e-9, atol=1e-11)
    # and Sigma_r = Cov(y) - Cov(y, x) Sigma_x^{-1} Cov(x, y) with Cov(y) = I, Cov(x, y) = W A^T
    Sr = np.eye(d) - (W @ A.T).T @ B_dense
    np.testing.assert_allclose(pop.Sigma_r, Sr, rtol=1e-9, atol=1e-11)
