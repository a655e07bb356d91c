"""Theory at extreme snr, p and ridge against an independent high-precision route (issue 16).

The reference evaluates the closed forms of Definitions 1-3 ({prf:ref}`def-kappa`,
{prf:ref}`def-predicted-risk`, {prf:ref}`def-hmm-risk`), Theorem 1
({prf:ref}`thm-under`) and the ridge deterministic equivalent
({prf:ref}`def-ridge-risk`) for the two-point spectrum of the orthogonal
embedding in ``mpmath`` with 60 significant digits: ``kappa`` by bisection on
the defining equation (no quadratic formula, no shared code), then the sums as
written.  Nothing overflows there (mpmath exponents are unbounded), so the
reference is right where double precision fails.

The tests at ordinary values show that the reference agrees with
:mod:`hmmrisk.theory`; the extreme ones failed (25 instead of 75, ``inf``,
``NaN``) before the theory functions were rewritten in scaled forms (ratios in
[0, 1], no squares of eigenvalues or ``kappa``).  No numpy ``RuntimeWarning``
may escape any of them (the module turns it into an error).  The documented
domain stops where ``Sigma_x`` itself overflows: ``snr max(p, d)/d <= 1e300``
(:data:`hmmrisk._resources.MAX_SIGNAL`, as for :func:`hmmrisk.make_model`) and a
finite ``tr Sigma_x``; beyond it a ``ValueError`` names ``snr``.
"""

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import json

from hmmrisk import cli, make_model
from hmmrisk.population import population
from hmmrisk.theory import (definition2, definition3, definition3_proportional, large_p_limit,
                            optimal_ridge, predicted_risk, ridge_orthogonal, theorem1)

mp = mpmath.mp
mp.dps = 60
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def _two_point(p, d, noise, snr):
    """Lemma 2's spectrum in high precision: (s1, r, b1, tr Sigma_r)."""
    p, d, noise, snr = (mpmath.mpf(x) for x in (p, d, noise, snr))
    r = min(p, d)
    signal = snr * max(p, d) / d        # s1 - 1, kept apart: 1 + 1e-300 is 1 in 60 digits
    s1 = 1 + signal
    b1 = signal * (1 - noise) / s1**2
    tr = (1 - noise) * (d - r + r / s1) + d * noise
    return s1, r, b1, tr


def _root(g, lo, hi):
    """Root of a decreasing ``g`` on ``[lo, hi]`` by bisection in the log (hi/lo may be 1e600)."""
    lo, hi = mpmath.mpf(lo), mpmath.mpf(hi)
    assert g(lo) > 0 > g(hi)
    for _ in range(2000):
        mid = mpmath.sqrt(lo * hi) if hi / lo > 4 else (lo + hi) / 2
        if g(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= hi * mpmath.mpf(10) ** (-50):
            break
    return (lo + hi) / 2


def ref_definition3(n, p, d, noise, snr):
    """Excess risk (bias, variance) of Definition 3 for the orthogonal embedding, ``p > n``."""
    s1, r, b1, tr = _two_point(p, d, noise, snr)
    n, p = mpmath.mpf(n), mpmath.mpf(p)
    kappa = _root(lambda k: r * s1 / (s1 + k) + (p - r) / (1 + k) - n,
                  mpmath.mpf(10) ** -30, s1 * p)
    d2 = (r * s1**2 / (s1 + kappa) ** 2 + (p - r) / (1 + kappa) ** 2) / n
    bias = kappa**2 * r * s1 * b1 / (s1 + kappa) ** 2 / (1 - d2)
    variance = tr * d2 / (1 - d2)
    return bias, variance


def ref_theorem1(n, p, d, noise, snr):
    _, _, _, tr = _two_point(p, d, noise, snr)
    n, p = mpmath.mpf(n), mpmath.mpf(p)
    return tr * p / (n - p - 1)


def ref_ridge(n, p, d, noise, snr, lam):
    """(bias, variance) of the ridge deterministic equivalent, two-point spectrum."""
    s1, r, b1, tr = _two_point(p, d, noise, snr)
    n, p, lam = mpmath.mpf(n), mpmath.mpf(p), mpmath.mpf(lam)
    # kappa = lam + delta with 0 < delta <= tr Sigma_x / n; solving for delta keeps
    # the equation's small terms when lam is so large that lam + delta == lam in
    # 60 digits (n lam/kappa - n = -n delta/kappa, no absorption).
    g = lambda e: (r * s1 / (s1 + lam + e) + (p - r) / (1 + lam + e)   # noqa: E731
                   - n * e / (lam + e))
    df0 = r * s1 / (s1 + lam) + (p - r) / (1 + lam)          # g(0) > 0
    kappa = lam + _root(g, lam * min(1, df0 / n) * mpmath.mpf(10) ** -10,
                        (r * s1 + p - r) / n + 1)
    w1, w0 = r * s1 / (s1 + kappa) ** 2, (p - r) / (1 + kappa) ** 2
    one_minus_d2 = 1 - (w1 * s1 + w0) / n
    bias = kappa**2 * w1 * b1 / one_minus_d2
    variance = tr * (w1 * s1 + w0) / n / one_minus_d2
    return bias, variance


def close(got, want, rtol=1e-9):
    want = float(want)
    return np.isfinite(got) and abs(got - want) <= rtol * abs(want) + 1e-300


# ---------------------------------------------------------------------------
# the reference agrees with the theory at ordinary values (these pass today)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n, p, d, noise, snr", [
    (100, 150, 50, 0.5, 1.0), (100, 150, 50, 0.5, 1e6), (100, 400, 50, 0.2, 0.3),
    (100, 120, 200, 0.8, 2.0), (10, 1e6, 5, 0.5, 1.0),
])
def test_reference_matches_definition3(n, p, d, noise, snr):
    pred = definition3(n, p, d, noise, snr)
    bias, variance = ref_definition3(n, p, d, noise, snr)
    assert close(pred.bias, bias) and close(pred.variance, variance)


def test_reference_matches_theorem1_and_ridge():
    assert close(definition3(100, 50, 50, 0.5, 2.0).variance, ref_theorem1(100, 50, 50, 0.5, 2.0))
    for p, lam in ((150, 0.1), (50, 1.0), (300, 1e3)):
        pred = ridge_orthogonal(100, p, 50, 0.5, 1.0, ridge=lam)
        bias, variance = ref_ridge(100, p, 50, 0.5, 1.0, lam)
        assert close(pred.bias, bias, 1e-8) and close(pred.variance, variance, 1e-8)


def test_reference_risk_of_issue_example():
    """n = 100, p = 150, d = 50, sigma^2 = 0.5: the excess risk tends to 75 as snr grows."""
    for snr in (1e13, 1e154, 1e300):
        bias, variance = ref_definition3(100, 150, 50, 0.5, snr)
        assert 74.9 < float(bias + variance) < 75.1


# ---------------------------------------------------------------------------
# extreme values: wrong, infinite or NaN before the scaled forms
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("snr", [1e154, 1e200, 3e299])
def test_definition3_huge_snr(snr):
    """Printed 25 instead of 75 for snr >= 1e154 (a square overflowed)."""
    pred = definition3(100, 150, 50, 0.5, snr)
    bias, variance = ref_definition3(100, 150, 50, 0.5, snr)
    assert close(pred.risk, bias + variance, 1e-8), (pred, float(bias + variance))


@pytest.mark.parametrize("snr", [1e154, 1e200, 3e299])
def test_predicted_risk_huge_snr(snr):
    """Definition 2 on a drawn model: 25 instead of 75 from snr 1e154 (inf or NaN beyond)."""
    pop = population(make_model(150, 50, 0.5, snr=snr, rng=0))
    pred = predicted_risk(pop, 100)
    bias, variance = ref_definition3(100, 150, 50, 0.5, snr)
    assert pred.formula == "definition2"
    assert close(pred.risk, bias + variance, 1e-6), (pred, float(bias + variance))


@pytest.mark.parametrize("snr", [1e154, 3e299])
def test_definition2_huge_eigenvalues(snr):
    s1, r, b1, tr = _two_point(150, 50, 0.5, snr)
    pred = definition2(np.full(50, float(s1)), np.full(50, float(b1)), 100, float(tr), n_unit=100)
    bias, variance = ref_definition3(100, 150, 50, 0.5, snr)
    assert close(pred.bias, bias, 1e-8) and close(pred.variance, variance, 1e-8), pred


def test_definition3_huge_p():
    """definition3(p=1e300) returned NaN."""
    pred = definition3(100, 1e300, 50, 0.5, 1.0)
    bias, variance = ref_definition3(100, 1e300, 50, 0.5, 1.0)
    assert close(pred.bias, bias, 1e-8) and close(pred.variance, variance, 1e-8), pred


def test_ridge_orthogonal_huge_ridge():
    """ridge_orthogonal(ridge=1e300) returned NaN; the limit is bias ||B*||^2_Sigma_x, variance 0."""
    pred = ridge_orthogonal(100, 150, 50, 0.5, 1.0, ridge=1e300)
    bias, variance = ref_ridge(100, 150, 50, 0.5, 1.0, 1e300)
    assert close(pred.bias, bias, 1e-8) and close(pred.variance, variance, 1e-6), pred


def test_ridge_orthogonal_huge_p():
    """ridge_orthogonal(p=1e300) returned NaN."""
    pred = ridge_orthogonal(100, 1e300, 50, 0.5, 1.0, ridge=1.0)
    bias, variance = ref_ridge(100, 1e300, 50, 0.5, 1.0, 1.0)
    assert close(pred.bias, bias, 1e-8) and close(pred.variance, variance, 1e-8), pred


@pytest.mark.parametrize("p", [50, 150, 400])
def test_ridge_orthogonal_tiny_ridge(p):
    """lam = 1e-300: kappa ~ lam n/(n - p) for p < n (no underflow to 0), Definition 2 for p > n."""
    pred = ridge_orthogonal(100, p, 50, 0.5, 1.0, ridge=1e-300)
    bias, variance = ref_ridge(100, p, 50, 0.5, 1.0, 1e-300)
    assert close(pred.bias, bias, 1e-8) and close(pred.variance, variance, 1e-8), pred
    if p < 100:
        assert pred.formula == "ridge" and 0 < pred.risk < np.inf


@pytest.mark.parametrize("n, p", [(1e200, 3e200), (1e200, 1.0000001e200), (1e200, 5e199),
                                  (1e300, 1e300 * 0.7)])
def test_definition3_huge_n(n, p):
    """n and p near the top of the float range: the ratio p/n is all that matters."""
    pred = definition3(n, p, 50, 0.5, 1.0)
    if p > n:
        bias, variance = ref_definition3(n, p, 50, 0.5, 1.0)
        assert pred.formula == "definition2"
        assert close(pred.bias, bias, 1e-8) and close(pred.variance, variance, 1e-8), pred
    else:
        assert pred.formula == "theorem1-exact"
        assert close(pred.variance, ref_theorem1(n, p, 50, 0.5, 1.0), 1e-12), pred


@pytest.mark.parametrize("p, snr", [(1e300, 1e-300), (1e300, 1e-10), (150, 1e-300), (2e299, 1.0)])
def test_definition3_huge_p_and_tiny_snr(p, snr):
    pred = definition3(100, p, 50, 0.5, snr)
    bias, variance = ref_definition3(100, p, 50, 0.5, snr)
    assert close(pred.bias, bias, 1e-8) and close(pred.variance, variance, 1e-8), pred


def test_ridge_orthogonal_huge_n():
    pred = ridge_orthogonal(1e200, 3e200, 50, 0.5, 1.0, ridge=[1e-300, 1.0, 1e300])
    for i, lam in enumerate((1e-300, 1.0, 1e300)):
        bias, variance = ref_ridge(1e200, 3e200, 50, 0.5, 1.0, lam)
        assert close(pred.bias[i], bias, 1e-8) and close(pred.variance[i], variance, 1e-8), (lam, pred)


@pytest.mark.parametrize("n, snr", [(100, 1e-100), (100, 1.0), (100, 1e200), (10**200, 1.0)])
def test_large_p_limit_extreme(n, snr):
    """The p -> infinity limit against Definition 3 in high precision at p = 1e250 (error O(n/p))."""
    pred = large_p_limit(n, 50, 0.5, snr)
    bias, variance = ref_definition3(n, mpmath.mpf(10) ** 250 * n, 50, 0.5, snr)
    assert close(pred.risk, bias + variance, 1e-9) and close(pred.variance, variance, 1e-9), pred


def test_proportional_and_theorem1_extreme():
    """Per coordinate: d times definition3_proportional is definition3 (asymptotic) at huge n."""
    n, d = 1e200, 50
    for p in (3e200, 0.5e200):
        fin = definition3(n, p, d, 0.5, 1e100, under="asymptotic")
        prop = definition3_proportional(p / n, d / p, 0.5, 1e100)
        assert close(d * prop.risk[0], fin.risk, 1e-12), (fin, prop)
    assert close(theorem1(1e300 + 2e290, 1e300, irreducible=2.0), 2.0 * mpmath.mpf(1e300) / (mpmath.mpf(1e300 + 2e290) - 1 - mpmath.mpf(1e300)))


def test_optimal_ridge_huge_snr():
    """lam* = tr Sigma_r/(n b1) for p <= d (prop-ridge-optimal), here about 1e200."""
    lam, pred = optimal_ridge(100, 50, 50, 0.5, snr=1e200, bounds=(1e-8, 1e300))
    s1, r, b1, tr = _two_point(50, 50, 0.5, 1e200)
    assert close(lam, tr / (100 * b1), 1e-6), lam
    bias, variance = ref_ridge(100, 50, 50, 0.5, 1e200, lam)
    assert close(pred.risk, bias + variance, 1e-8)


@pytest.mark.parametrize("call", [
    lambda: definition3(100, 150, 50, 0.5, snr=1e308),
    lambda: definition3(100, 150, 50, 0.5, snr=1e300),
    lambda: ridge_orthogonal(100, 150, 50, 0.5, snr=1e308, ridge=1.0),
    lambda: definition3_proportional(3.0, 1e-300, 0.5, snr=1e200),
])
def test_beyond_domain_names_snr(call):
    """Beyond snr max(p, d)/d <= 1e300 the eigenvalues of Sigma_x overflow: a ValueError naming snr."""
    with pytest.raises(ValueError, match="snr"):
        call()


@pytest.mark.parametrize("snr", ["1e152", "1e154", "1e200", "3e299"])
def test_cli_huge_snr_is_definition2_and_right(snr, capsys):
    """risk --snr up to the top of the range: source definition2, risk 75 (not 25, inf or null)."""
    code = cli.main(["risk", "--n", "100", "--p", "150", "--d", "50", "--noise", "0.5",
                     "--snr", snr, "--json"])
    out = capsys.readouterr()
    assert code == 0 and "Warning" not in out.err, out.err
    result = json.loads(out.out)
    bias, variance = ref_definition3(100, 150, 50, 0.5, float(snr))
    assert result["formula"] == "definition2"
    assert close(result["risk"], bias + variance, 1e-6), result


@settings(max_examples=60, deadline=None, derandomize=True)
@given(log_n=st.floats(0.5, 250), log_ratio=st.floats(-3, 40), log_snr=st.floats(-250, 250),
       d=st.integers(1, 10**6), noise=st.floats(0, 1))
def test_definition3_whole_domain(log_n, log_ratio, log_snr, d, noise):
    """Anywhere in the documented domain: finite, the right formula, 1e-7 of the 60-digit reference."""
    n, snr = 10.0**log_n, 10.0**log_snr
    p = n * (1 + 10.0**log_ratio)
    assume(p < 1e300 and snr * max(p, d) / d <= 1e300 and p + min(p, d) * snr * max(p, d) / d < 1e300)
    pred = definition3(n, p, d, noise, snr)
    assert pred.formula == "definition2" and np.isfinite(pred.risk), pred
    bias, variance = ref_definition3(n, p, d, noise, snr)
    assert close(pred.bias, bias, 1e-7) and close(pred.variance, variance, 1e-7), (pred, bias, variance)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(log_n=st.floats(0.5, 250), log_ratio=st.floats(-6, 40), log_snr=st.floats(-250, 250),
       log_lam=st.floats(-300, 300), d=st.integers(1, 10**6), noise=st.floats(0, 1))
def test_ridge_orthogonal_whole_domain(log_n, log_ratio, log_snr, log_lam, d, noise):
    """Any p (below, at or above n) and lam in [1e-300, 1e300]: 1e-7 of the reference."""
    n, snr, lam = 10.0**log_n, 10.0**log_snr, 10.0**log_lam
    p = max(1.0, n * 10.0**log_ratio) if log_ratio < 0 else n * (1 + 10.0**log_ratio)
    n = float(round(n)) if n < 1e15 else n
    assume(n >= 2 and p < 1e300 and snr * max(p, d) / d <= 1e300
           and p + min(p, d) * snr * max(p, d) / d < 1e300)
    pred = ridge_orthogonal(n, p, d, noise, snr, ridge=lam)
    assert np.isfinite(pred.risk), pred
    bias, variance = ref_ridge(n, p, d, noise, snr, lam)
    assert close(pred.bias, bias, 1e-7) and close(pred.variance, variance, 1e-7), (pred, bias, variance)
