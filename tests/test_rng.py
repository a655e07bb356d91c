"""``rng=`` on the seeded runners: an int seed or a Generator (one child spawned per point)."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hmmrisk import curves, finite_n
from hmmrisk import sweep as sw

GRID = {"n": 20, "p": (6, 40), "d": 3, "noise": 0.5}
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
def test_int_rng_is_reproducible_and_defaults_to_zero(name):
    a, b = _numbers(RUNNERS[name](rng=7)), _numbers(RUNNERS[name](rng=7))
    assert np.array_equal(a, b) and np.all(np.isfinite(a))
    assert np.array_equal(_numbers(RUNNERS[name]()), _numbers(RUNNERS[name](rng=0)))
    assert not np.array_equal(a, _numbers(RUNNERS[name](rng=0)))


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
        run = sw.run_point(20, p, 3, 0.5, rng=kids[i].bit_generator.seed_seq, reps=4)
        assert run.estimate.risk == curve.sim_risk[i]
    assert curve.seed is None


@pytest.mark.parametrize("name", sorted(RUNNERS))
@pytest.mark.parametrize("bad", [np.random.RandomState(0), -1, 1.5, "a"])
def test_other_rngs_are_refused(name, bad):
    with pytest.raises((TypeError, ValueError), match="rng"):
        RUNNERS[name](rng=bad)


def test_generator_sweep_does_not_depend_on_the_executor():
    serial = sw.sweep(GRID, simulate=True, reps=4, progress=False, rng=np.random.default_rng(8))
    with ThreadPoolExecutor(max_workers=2) as ex:
        pooled = sw.sweep(GRID, simulate=True, reps=4, progress=False, rng=np.random.default_rng(8),
                          executor=ex)
    assert np.array_equal(_numbers(serial), _numbers(pooled))
