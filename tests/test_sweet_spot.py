"""Tests of hmmrisk.sweet_spot: the best model size for the total next-token risk.

Independent routes: finite differences and grid searches of Definition 3
itself (``theory.definition3`` on dense p grids), scipy's brentq on the
large-p limit for the boundary, and Monte Carlo of the head's total risk.
"""

import numpy as np
import pytest
from scipy.optimize import brentq

import hmmrisk as hr
from hmmrisk import sweet_spot as ss
from hmmrisk import theory as th


def random_cases(k, seed):
    rng = np.random.default_rng(seed)
    for _ in range(k):
        n = int(rng.integers(5, 400))
        d = int(rng.integers(1, 300))
        yield n, d, float(rng.uniform(0, 1)), float(10 ** rng.uniform(-2, 2.5))


# ---------------------------------------------------------------------------
# p = 0, small p, p = inf
# ---------------------------------------------------------------------------


def test_total_risk_at_zero_is_d_and_continuous():
    for n, d, s2, rho in random_cases(30, 1):
        t = ss.total_risk_curve(n, d, s2, rho, [0.0, 1e-9, 1.0])
        assert t[0] == d                                    # predict 0: E||z||^2 = d
        assert abs(t[1] - d) < 1e-6 * d                     # T(p) -> d as p -> 0
        # at p = 1 the small-p branch is Definition 3 itself
        assert t[2] == pytest.approx(th.definition3(n, 1.0, d, s2, rho).total, rel=1e-12)
        # and the corollary's formula (d - alpha p)(n-1)/(n-1-p) at p = 1 - 1e-9
        assert ss.total_risk_curve(n, d, s2, rho, 1 - 1e-9) == pytest.approx(t[2], rel=1e-7)


def test_large_p_limit_consistency():
    for n, d, s2, rho in random_cases(20, 2):
        lim = ss.total_risk_curve(n, d, s2, rho, np.inf)
        assert lim == pytest.approx(th.large_p_limit(n, d, s2, rho).total, rel=1e-14)
        far = ss.total_risk_curve(n, d, s2, rho, 1e12 * max(n, d))
        assert far == pytest.approx(lim, rel=1e-6)
        opt = ss.optimal_model_size(n, d, s2, rho)
        assert opt.total_inf == pytest.approx(lim, rel=1e-12)


# ---------------------------------------------------------------------------
# Monotonicity below d (cor-total-small) and the optimum below n - 1
# ---------------------------------------------------------------------------


def test_sign_rule_below_d_against_finite_differences():
    seen = {True: 0, False: 0}
    for n, d, s2, rho in random_cases(200, 3):
        top = min(d, n - 2)
        if top <= 1.5:
            continue
        alpha = rho * (1 - s2) / (1 + rho)
        slope = d - alpha * (n - 1)
        if abs(slope) < 1e-6 * d:
            continue
        p = np.linspace(0.0, top, 300)
        t = ss.total_risk_curve(n, d, s2, rho, p)
        diffs = np.diff(t)
        rising = slope > 0
        seen[rising] += 1
        assert np.all(diffs > 0) if rising else np.all(diffs < 0)
    assert seen[True] > 10 and seen[False] > 10          # both signs exercised


def test_under_optimum_against_grid_search():
    kinds = set()
    cases = list(random_cases(60, 4)) + [(1000, 50, 0.1, 5.0), (300, 20, 0.0, 3.0), (100, 50, 0.5, 1.0)]
    for n, d, s2, rho in cases:
        p_u, t_u = ss.under_optimum(n, d, s2, rho)
        grid = np.r_[0.0, np.linspace(1.0, n - 1 - 1e-6, 10001)]
        t = ss.total_risk_curve(n, d, s2, rho, grid)
        i = int(np.argmin(t))
        # the closed-form minimum is <= every grid value, and matches the grid minimum
        assert t_u <= t.min() * (1 + 1e-12)
        # ... and is within one grid step's change of the grid minimum (the minimum may sit
        # at the kink p = d, where T is not differentiable)
        local = np.max(np.abs(np.diff(t[max(i - 2, 1):i + 3])))
        assert t[i] - t_u <= local + 1e-12 * t_u
        step = grid[2] - grid[1]
        if p_u > 0:
            assert abs(grid[i] - p_u) <= 2 * step or abs(t[i] - t_u) < 1e-9 * t_u
            assert t_u == pytest.approx(th.definition3(n, p_u, d, s2, rho).total, rel=1e-12)
        kinds.add("zero" if p_u == 0 else ("kink" if p_u == d else "interior"))
    assert kinds == {"zero", "kink", "interior"}


def test_under_optimum_broadcasts():
    s2 = np.array([0.0, 0.1, 0.5, 1.0])
    p_u, t_u = ss.under_optimum(1000, 50, s2, 5.0)
    for k, v in enumerate(s2):
        assert (p_u[k], t_u[k]) == pytest.approx(ss.under_optimum(1000, 50, float(v), 5.0))
    assert p_u[-1] == 0.0 and t_u[-1] == 50.0              # sigma^2 = 1: nothing to learn


# ---------------------------------------------------------------------------
# The boundary of the p* = 0 region
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n,d", [(100, 50), (1000, 50), (30, 5), (100, 200)])
def test_boundary_against_brentq_on_the_limit(n, d):
    for rho in (0.01, 0.3, 1.0, 7.0, 300.0):
        s0 = brentq(lambda s: th.large_p_limit(n, d, s, rho).total - d, 0.0, 1.0, xtol=1e-14)
        assert ss.zero_sweet_spot_boundary(n, d, rho) == pytest.approx(s0, abs=1e-10)
        # the boundary lies above the small-model curve (alpha (n - 1) < d there)
        assert ss.zero_sweet_spot_boundary(n, d, rho) > ss.small_model_boundary(n, d, rho)


def test_boundary_n2d_rho1_closed_form():
    # n = 2d, rho = 1: tau = 2 - sqrt 2, sigma0^2 = 1 - tau / (2 (2 - tau)) = 1 - (sqrt 2 - 1)/2
    assert ss.zero_sweet_spot_boundary(100, 50, 1.0) == pytest.approx(1 - (np.sqrt(2) - 1) / 2, rel=1e-14)


@pytest.mark.parametrize("n,d", [(100, 50), (1000, 50)])
def test_phase_diagram_against_dense_search(n, d):
    noises = np.linspace(0, 1, 9)
    snrs = np.geomspace(0.05, 50, 7)
    g = ss.phase_diagram(n, d, noises, snrs, n_grid=200)
    p_dense = np.r_[np.linspace(1, n - 1.001, 3000), n + np.geomspace(0.3, 1e7, 3000)]
    for i, s2 in enumerate(noises):
        for j, rho in enumerate(snrs):
            t = th.definition3(n, p_dense, d, s2, rho).total
            lim = th.large_p_limit(n, d, s2, rho).total
            best_finite = t.min()
            brute_zero = d <= min(best_finite, lim)
            assert (g.kind[i, j] == 0) == brute_zero
            assert (g.kind[i, j] == 0) == (s2 >= g.boundary[j])
            # no finite model beats both p = 0 and p = inf on this grid
            assert g.kind[i, j] != 1 and best_finite >= min(d, lim)
            assert g.total[i, j] == pytest.approx(min(d, lim), rel=1e-12)
            # the affine-in-sigma^2 shortcut gives Definition 3 at the chosen p
            assert g.total_over[i, j] == pytest.approx(
                th.definition3(n, g.p_over[i, j], d, s2, rho).total, rel=1e-10)


def test_optimal_model_size_cases():
    zero = ss.optimal_model_size(100, 50, 0.9, 1.0)
    assert zero.kind == "zero" and zero.p == 0.0 and zero.total == 50.0
    big = ss.optimal_model_size(100, 50, 0.2, 1.0)
    assert big.kind == "infinite" and np.isinf(big.p)
    assert big.total == pytest.approx(th.large_p_limit(100, 50, 0.2).total)
    # p_max restricts only the finite search: the best finite size is the largest one
    capped = ss.optimal_model_size(100, 50, 0.2, 1.0, p_max=1000)
    assert capped.p_over == pytest.approx(1000.0)
    assert capped.total_over == pytest.approx(th.definition3(100, 1000.0, 50, 0.2).total)


# ---------------------------------------------------------------------------
# What a user would measure
# ---------------------------------------------------------------------------


def test_total_risk_matches_simulation():
    n, d, s2, rho = 100, 50, 0.1, 5.0
    for p, seed in ((25, 11), (300, 12)):
        model = hr.make_model(p, d, s2, rho, rng=np.random.default_rng([seed, 1]))
        est = hr.simulate_risk(model, n, reps=200, rng=np.random.default_rng([seed, 2]))
        theory = ss.total_risk_curve(n, d, s2, rho, p)
        if p < n:      # exact mean: a z-test
            assert abs(est.total - theory) < 5 * est.stderr
        else:          # deterministic equivalent: within a few per cent at p - n = 200
            assert abs(est.total / theory - 1) < 0.03
    # at p = 25 the total risk is already below p = 0 (alpha (n - 1) > d)
    assert ss.total_risk_curve(n, d, s2, rho, 25) < d


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("call,name", [
    (lambda: ss.total_risk_curve(2, 5, 0.5, 1.0, [1.0]), "n"),
    (lambda: ss.total_risk_curve(100, 0, 0.5, 1.0, [1.0]), "d"),
    (lambda: ss.total_risk_curve(100, 5, 1.5, 1.0, [1.0]), "noise"),
    (lambda: ss.total_risk_curve(100, 5, 0.5, 0.0, [1.0]), "snr"),
    (lambda: ss.total_risk_curve(100, 5, 0.5, 1.0, [-1.0]), "ps"),
    (lambda: ss.total_risk_curve(100, 5, 0.5, 1.0, []), "ps"),
    (lambda: ss.total_risk_curve(100, 5, 0.5, 1.0, [np.nan]), "ps"),
    (lambda: ss.total_risk_curve(100, 5, 0.5, 1.0, "a"), "ps"),
    (lambda: ss.zero_sweet_spot_boundary(100, 5, [1.0, -1.0]), "snr"),
    (lambda: ss.small_model_boundary(100, 5, 0.0), "snr"),
    (lambda: ss.under_optimum(100, 5, [0.5, 2.0], 1.0), "noise"),
    (lambda: ss.under_optimum(100, 5, 0.5, np.inf), "snr"),
    (lambda: ss.optimal_model_size(100, 5, 0.5, 1.0, p_max=100), "p_max"),
    (lambda: ss.optimal_model_size(100, 5, 0.5, 1.0, n_grid=1), "n_grid"),
    (lambda: ss.phase_diagram(100, 5, [[0.5]], [1.0]), "noises"),
    (lambda: ss.phase_diagram(100, 5, [0.5], [0.0]), "snrs"),
    (lambda: ss.phase_diagram(100, 5, [0.5], [1.0]).fraction("none"), "kind"),
    (lambda: hr.plotting.phase_figure([]), "diagrams"),
])
def test_value_errors(call, name):
    with pytest.raises(ValueError, match=name):
        call()
