"""Tests of hmmrisk.curves (risk-vs-p sweeps) and hmmrisk.plotting (the figures)."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest

import hmmrisk as hr
from hmmrisk import curves, plotting
from hmmrisk import theory as th

N, D = 30, 10
PS = [8, 20, 26, 27, 29, 30, 31, 33, 34, 45, 60]


@pytest.fixture(scope="module")
def curve():
    return curves.risk_curve(N, D, 0.5, PS, reps=200, rng=11)


def test_curve_shapes_and_mask(curve):
    assert curve.p.tolist() == PS
    np.testing.assert_array_equal(curve.excluded, np.abs(np.array(PS) - N) <= 3)
    for arr in (curve.sim_risk, curve.sim_stderr, curve.sim_bias, curve.sim_variance):
        assert arr.shape == (len(PS),)
        assert np.all(np.isnan(arr[curve.excluded]))
        assert np.all(np.isfinite(arr[~curve.excluded]))
    assert np.all(np.isnan(curve.relative_deviation[curve.excluded]))
    assert curve.reps == 200 and curve.band == 3


def test_curve_theory_is_predicted_risk_of_the_same_model(curve):
    for i, p in enumerate(PS):
        model_ss, _ = np.random.SeedSequence([11, p]).spawn(2)
        model = hr.make_model(p, D, 0.5, 1.0, "orthogonal", rng=np.random.default_rng(model_ss))
        ref = th.predicted_risk(hr.population(model), N)
        assert curve.theory[i].formula == ref.formula
        assert curve.theory.irreducible[i] == pytest.approx(ref.irreducible, rel=1e-14)
        if np.isfinite(ref.risk):
            assert curve.theory.risk[i] == pytest.approx(ref.risk, rel=1e-13)
        else:
            assert np.isinf(curve.theory.risk[i])
    # and, for the orthogonal embedding, Definition 3 on the same grid
    d3 = th.definition3(N, np.array(PS, float), D, 0.5)
    finite = np.isfinite(d3.risk)
    np.testing.assert_allclose(curve.theory.risk[finite], d3.risk[finite], rtol=1e-10)


def test_curve_simulation_is_simulate_risk(curve):
    i = PS.index(45)
    model_ss, sim_ss = np.random.SeedSequence([11, 45]).spawn(2)
    model = hr.make_model(45, D, 0.5, 1.0, "orthogonal", rng=np.random.default_rng(model_ss))
    est = hr.simulate_risk(model, N, reps=200, rng=np.random.default_rng(sim_ss))
    assert curve.sim_risk[i] == est.risk and curve.sim_stderr[i] == est.stderr
    assert curve.sim_bias[i] == est.bias and curve.sim_variance[i] == est.variance
    np.testing.assert_allclose(curve.sim_total[i], est.total, rtol=1e-14)


def test_curve_seeding(curve):
    again = curves.risk_curve(N, D, 0.5, [60, 8], reps=200, rng=11)   # other grid, other order
    assert again.sim_risk[0] == curve.sim_risk[PS.index(60)]
    assert again.sim_risk[1] == curve.sim_risk[PS.index(8)]
    other = curves.risk_curve(N, D, 0.5, [60, 8], reps=200, rng=12)
    assert other.sim_risk[0] != again.sim_risk[0]


def test_curve_agrees_with_theory_under_n(curve):
    """Below n - 3 the theory (Theorem 1) is an exact mean: z-scores are O(1)."""
    below = (curve.p < N - 3) & ~curve.excluded
    assert np.all(np.abs(curve.z[below]) < 4)


def test_max_relative_deviation(curve):
    dev = curve.relative_deviation
    keep = (np.abs(curve.p - N) >= 10) & ~curve.excluded
    assert curve.max_relative_deviation(10) == pytest.approx(np.max(np.abs(dev[keep])))
    total_dev = np.abs(curve.sim_total / curve.theory.total - 1)[keep]
    assert curve.max_relative_deviation(10, total=True) == pytest.approx(total_dev.max())
    assert np.isnan(curve.max_relative_deviation(1000))


def test_gaussian_embedding_curve():
    c = curves.risk_curve(25, 8, 0.3, [10, 40], snr=2.0, embedding="gaussian", reps=100, rng=1)
    assert c.embedding == "gaussian" and list(c.theory.formula) == ["theorem1-exact", "definition2"]
    assert np.all(np.isfinite(c.sim_risk))


@pytest.mark.parametrize("kwargs, name", [
    (dict(n=1, d=5, noise=0.5, ps=[3]), "n"),
    (dict(n=10, d=0, noise=0.5, ps=[3]), "d"),
    (dict(n=10, d=5, noise=2.0, ps=[3]), "noise"),
    (dict(n=10, d=5, noise=0.5, ps=[3], snr=0), "snr"),
    (dict(n=10, d=5, noise=0.5, ps=[3, 3]), "ps"),
    (dict(n=10, d=5, noise=0.5, ps=[]), "ps"),
    (dict(n=10, d=5, noise=0.5, ps=[0]), "p"),
    (dict(n=10, d=5, noise=0.5, ps=[2.5]), "p"),
    (dict(n=10, d=5, noise=0.5, ps=[3], reps=1), "reps"),
    (dict(n=10, d=5, noise=0.5, ps=[3], band=0), "band"),
    (dict(n=10, d=5, noise=0.5, ps=[3], rng=-1), "rng"),
    (dict(n=10, d=5, noise=0.5, ps=[3], embedding="random"), "embedding"),
])
def test_risk_curve_rejects(kwargs, name):
    with pytest.raises(ValueError, match=name):
        curves.risk_curve(**kwargs)


def test_figure_parameters_follow_the_paper():
    f1, f2 = curves.FIGURE1, curves.FIGURE2
    assert (f1["n"], f1["d"], min(f1["ps"]), max(f1["ps"])) == (100, 50, 50, 150)
    assert (f2["noise"], f2["d"], min(f2["ps"]), max(f2["ps"])) == (0.5, 50, 50, 350)
    assert f1["reps"] >= 200 and f2["reps"] >= 200
    assert len(f1["noises"]) >= 3 and len(f2["ns"]) >= 3
    assert len(f1["ps"]) >= 40 and len(f2["ps"]) >= 30


def test_figure_curves_small_run():
    out = curves.figure2_curves(reps=20, ps=[60, 300])
    assert sorted(out) == [100, 150, 200]
    assert all(c.reps == 20 and c.noise == 0.5 for c in out.values())


# ---------------------------------------------------------------------------
# plotting
# ---------------------------------------------------------------------------


def test_plotting_import_leaves_rcparams_alone():
    code = ("import matplotlib as mpl; before = dict(mpl.rcParams); "
            "import hmmrisk.plotting; assert dict(mpl.rcParams) == before")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_risk_figure(curve):
    before = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    fig = plotting.risk_figure({0.5: curve}, title="t")
    after = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    assert before == after
    axes = fig.axes
    assert len(axes) == 2
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    for ax, total in zip(axes, (False, True)):
        assert ax.get_yscale() == "log"
        assert ax.get_facecolor()[:3] == (1.0, 1.0, 1.0)
        # one errorbar container holding exactly the simulated points
        (eb,) = ax.containers
        x, y = eb.lines[0].get_data()
        np.testing.assert_array_equal(x, curve.p[~curve.excluded])
        expect = (curve.sim_total if total else curve.sim_risk)[~curve.excluded]
        np.testing.assert_allclose(y, expect)
        # the dashed threshold line at p = n
        dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert any(np.allclose(ln.get_xdata(), N) for ln in dashed)
        # the theory line: Definition 3 / Theorem 1 on a finer grid
        line = ax.get_lines()[0]
        xs, ys = line.get_data()
        assert xs.size > curve.p.size
        ref = th.definition3(N, xs, D, 0.5)
        np.testing.assert_allclose(ys, np.where(np.isfinite(ref.risk), ref.total if total else ref.risk,
                                                np.nan))


def test_theory_line_asymptotic(curve):
    p, exc, _ = plotting.theory_line(curve, under="asymptotic")
    ref = th.definition3(N, p, D, 0.5, under="asymptotic")
    np.testing.assert_allclose(exc, ref.risk)
    below = p < N - 1
    assert np.all(exc[below] < plotting.theory_line(curve)[1][below])   # exact > asymptotic


def test_figure1_and_figure2(curve):
    fig = plotting.figure1({0.2: curve, 0.5: curve})
    assert "n = 30" in fig._suptitle.get_text()
    fig = plotting.figure2({N: curve})
    assert "sigma^2 = 0.5" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="curves"):
        plotting.risk_figure({})


def test_figure_curves_take_other_noises_and_sample_sizes():
    # the override gives exactly the risk_curve of the figure's settings at that value
    f1 = curves.figure1_curves(reps=3, ps=[60, 140], noises=[0.3])
    cfg = curves.FIGURE1
    ref = curves.risk_curve(cfg["n"], cfg["d"], 0.3, [60, 140], snr=cfg["snr"], reps=3, rng=cfg["seed"])
    assert list(f1) == [0.3]
    np.testing.assert_array_equal(f1[0.3].sim_risk, ref.sim_risk)
    f2 = curves.figure2_curves(reps=3, ps=[60, 300], ns=[120, 250])
    assert list(f2) == [120, 250]
    assert f2[250].n == 250 and f2[120].noise == curves.FIGURE2["noise"]


@pytest.mark.parametrize("kwargs, name", [(dict(noises=[]), "noises"), (dict(noises=[0.2, 0.2]), "noises"),
                                          (dict(noises=[1.5]), "noise")])
def test_figure1_curves_rejects_bad_noises(kwargs, name):
    with pytest.raises(ValueError, match=name):
        curves.figure1_curves(reps=3, ps=[60], **kwargs)


@pytest.mark.parametrize("ns", [[], [100, 100], [1]])
def test_figure2_curves_rejects_bad_sample_sizes(ns):
    with pytest.raises(ValueError, match="n"):
        curves.figure2_curves(reps=3, ps=[60], ns=ns)


# ---------------------------------------------------------------------------
# The one seeded runner (hmmrisk.sweep.run_point) behind curves, finite_n,
# the ridge chapter and the sweep
# ---------------------------------------------------------------------------

def test_run_point_is_the_documented_seed_scheme():
    from hmmrisk.sweep import run_point
    # written out by hand: SeedSequence(entropy).spawn(2) -> model, training sets
    model_ss, sim_ss = np.random.SeedSequence([7, 30]).spawn(2)
    model = hr.make_model(30, 10, 0.5, rng=np.random.default_rng(model_ss))
    ref = hr.simulate_risk(model, 50, reps=20, rng=np.random.default_rng(sim_ss), ridge=0.1)
    run = run_point(50, 30, 10, 0.5, rng=np.random.SeedSequence([7, 30]), reps=20, ridge=0.1)
    assert np.array_equal(run.model.W, model.W) and np.array_equal(run.model.A, model.A)
    assert run.estimate.risk == ref.risk and run.estimate.stderr == ref.stderr


def test_run_point_common_random_numbers_share_training_sets():
    from hmmrisk.sweep import run_point
    lams = [0.1, 0.1]
    crn = run_point(50, 30, 10, 0.5, rng=1, reps=10, ridge=lams).estimate
    ind = run_point(50, 30, 10, 0.5, rng=1, reps=10, ridge=lams, common_random_numbers=False).estimate
    # the same penalty twice: identical with common random numbers, two draws without
    assert crn[0].risk == crn[1].risk
    assert ind[0].risk == crn[0].risk and ind[1].risk != ind[0].risk
    assert run_point(50, 30, 10, 0.5, rng=1, simulate=False).estimate is None
    with pytest.raises(TypeError, match="rng"):
        run_point(50, 30, 10, 0.5, rng="x")
