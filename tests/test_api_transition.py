"""The safe transitions of the uniform API: no old call may get another number silently.

* ``theorem1`` moved from ``(tr_sigma_r, p, n)`` to ``(n, p, *, tr_sigma_r)``:
  three positional values can only be the old order and are mapped with a
  ``FutureWarning`` (same numbers as before); an old call mixing positions and
  keywords is a ``TypeError``, never a reinterpretation.
* ``risk_curve``, ``sweep`` and ``measured_gap`` take ``rng=`` (SPEC 7); an int
  gives the bits of the former ``seed=`` int, which remains as a deprecated alias.
"""

import warnings

import numpy as np
import pytest

from hmmrisk import curves, finite_n, sweep as sw, theory


def _old_theorem1(tr, p, n, exact=True):
    """Theorem 1 written out independently: tr * p / (n - p - 1) or tr * g / (1 - g)."""
    return tr * p / (n - p - 1) if exact else tr * (p / n) / (1 - p / n)


@pytest.mark.parametrize("exact", [True, False])
def test_theorem1_new_order(exact):
    assert theory.theorem1(31, 10, tr_sigma_r=2.0, exact=exact) == pytest.approx(
        _old_theorem1(2.0, 10, 31, exact), rel=1e-15)
    assert theory.theorem1(n=31, p=10, tr_sigma_r=2.0, exact=exact) == pytest.approx(
        _old_theorem1(2.0, 10, 31, exact), rel=1e-15)


@pytest.mark.parametrize("args, kwargs", [((2.0, 10, 31), {}), ((2.0, 10, 31), dict(exact=False)),
                                          ((2.0, 10, 31, False), {}), ((0.5, 3, 200), {})])
def test_theorem1_old_positional_order_is_mapped_with_a_warning(args, kwargs):
    with pytest.warns(FutureWarning, match=r"theorem1\(n, p, tr_sigma_r=\.\.\.\)"):
        got = theory.theorem1(*args, **kwargs)
    exact = args[3] if len(args) > 3 else kwargs.get("exact", True)
    assert got == pytest.approx(_old_theorem1(*args[:3], exact), rel=1e-15)


@pytest.mark.parametrize("call", [
    lambda: theory.theorem1(2.0, 10, n=31),            # old order, n by keyword
    lambda: theory.theorem1(2.0, p=10, n=31),
    lambda: theory.theorem1(2.0, 10, 31, exact=True, n=31),
    lambda: theory.theorem1(2.0, 10, 31, True, False),
    lambda: theory.theorem1(31, 10),                    # tr_sigma_r missing
])
def test_theorem1_ambiguous_calls_are_refused(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # and never silently mapped
        with pytest.raises(TypeError):
            call()


def test_theorem1_all_keywords_means_the_same_in_both_orders():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert theory.theorem1(tr_sigma_r=2.0, p=10, n=31) == pytest.approx(1.0, rel=1e-15)


# ---------------------------------------------------------------------------
# rng= (SPEC 7) on the seeded runners; seed= is a deprecated alias
# ---------------------------------------------------------------------------

GRID = dict(n=20, p=(6, 40), d=3, noise=0.5)
RUNNERS = {
    "risk_curve": lambda **kw: curves.risk_curve(20, 3, 0.5, [6, 40], reps=4, **kw),
    "sweep": lambda **kw: sw.sweep(GRID, simulate=True, reps=4, progress=False, **kw),
    "measured_gap": lambda **kw: finite_n.measured_gap([20, 30], 2.0, 0.25, 0.5, reps=4, **kw),
}


def _numbers(result):
    """The simulated numbers of a runner's result, as one float array."""
    if isinstance(result, sw.SweepResult):
        return np.r_[result.column("sim_risk"), result.column("sim_bias")]
    return np.r_[result.sim_risk, result.sim_bias]


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_int_rng_gives_the_bits_of_the_old_int_seed(name):
    with pytest.warns(PendingDeprecationWarning, match="rng="):
        old = _numbers(RUNNERS[name](seed=7))
    new = _numbers(RUNNERS[name](rng=7))
    positional_default = _numbers(RUNNERS[name]())            # default: 0, as before
    with pytest.warns(PendingDeprecationWarning):
        old_default = _numbers(RUNNERS[name](seed=0))
    assert np.array_equal(old, new) and np.all(np.isfinite(new))
    assert np.array_equal(positional_default, old_default)
    assert not np.array_equal(new, positional_default)


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_generator_rng_spawns_reproducible_children(name):
    a = _numbers(RUNNERS[name](rng=np.random.default_rng(3)))
    b = _numbers(RUNNERS[name](rng=np.random.default_rng(3)))
    c = _numbers(RUNNERS[name](rng=np.random.default_rng(4)))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # spawning advances the generator: two calls on one Generator draw different numbers
    g = np.random.default_rng(3)
    assert not np.array_equal(_numbers(RUNNERS[name](rng=g)), _numbers(RUNNERS[name](rng=g)))


def test_generator_children_are_the_spawned_seed_sequences():
    """Point i of a Generator-seeded curve is run_point with the i-th spawned child."""
    curve = curves.risk_curve(20, 3, 0.5, [6, 40], reps=4, rng=np.random.default_rng(5))
    kids = np.random.default_rng(5).spawn(2)
    for i, p in enumerate((6, 40)):
        run = sw.run_point(20, p, 3, 0.5, seed=kids[i].bit_generator.seed_seq, reps=4)
        assert run.estimate.risk == curve.sim_risk[i]
    assert curve.seed is None


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_rng_and_its_alias_together_are_refused(name):
    with pytest.raises(ValueError, match="rng"):
        RUNNERS[name](rng=1, seed=1)


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_legacy_generator_is_refused(name):
    with pytest.raises(ValueError, match="rng"):
        RUNNERS[name](rng=np.random.RandomState(0))


def test_generator_sweep_does_not_depend_on_the_executor():
    from concurrent.futures import ThreadPoolExecutor

    serial = sw.sweep(GRID, simulate=True, reps=4, progress=False, rng=np.random.default_rng(8))
    with ThreadPoolExecutor(max_workers=2) as ex:
        pooled = sw.sweep(GRID, simulate=True, reps=4, progress=False, rng=np.random.default_rng(8),
                          executor=ex)
    assert np.array_equal(_numbers(serial), _numbers(pooled))
