"""hmmrisk.sweep: grid order, seeds, executors (serial, processes, Dask), CSV, theory and checks."""

import io
import math
import struct
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import hmmrisk as hr
import hmmrisk.sweep as sw
from hmmrisk.theory import predicted_risk

# tiny: n = 20, 30 and p on both sides of each, with one point in each threshold band
GRID = dict(n=(20, 30), p=(8, 21, 29, 45), d=4, noise=(0.3, 0.7), embedding=("orthogonal", "gaussian"))
KW = dict(simulate=True, reps=60, rng=11, progress=False)


@pytest.fixture(scope="module")
def serial():
    return sw.sweep(GRID, **KW)


def same_bits(a, b):
    """Two rows are bitwise equal (NaN equal to NaN)."""
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], float):
            assert struct.pack("<d", a[k]) == struct.pack("<d", b[k]), (k, a[k], b[k])
        else:
            assert a[k] == b[k], (k, a[k], b[k])


def test_rows_follow_the_cartesian_product_in_grid_order(serial):
    assert len(serial) == 2 * 4 * 1 * 2 * 1 * 2
    pts = [tuple(r[a] for a in sw.AXES) for r in serial.rows]
    assert pts == sw.grid_points(GRID)
    assert pts[0] == (20, 8, 4, 0.3, 1.0, "orthogonal") and pts[1][-1] == "gaussian"
    assert list(serial.rows[0]) == list(sw.COLUMNS)


def test_csv_round_trip_is_bitwise(serial, tmp_path):
    path = tmp_path / "sweep.csv"
    serial.to_csv(path)
    back = sw.SweepResult.from_csv(path)
    assert len(back) == len(serial)
    for a, b in zip(serial.rows, back.rows):
        same_bits(a, b)
    # the same text through a file object and as a string; inf and nan survive
    buf = io.StringIO()
    serial.to_csv(buf)
    assert buf.getvalue() == serial.to_csv() == path.read_text()
    assert "inf" in buf.getvalue() and "nan" in buf.getvalue()
    assert np.isinf(back.column("theory_risk")).any() and np.isnan(back.column("sim_risk")).any()


def test_from_csv_rejects_another_file(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="path"):
        sw.SweepResult.from_csv(path)


def test_serial_processes_and_dask_are_bitwise_identical(serial):
    from distributed import Client, LocalCluster

    with ProcessPoolExecutor(max_workers=2) as ex:
        procs = sw.sweep(GRID, executor=ex, **KW)
    with ThreadPoolExecutor(max_workers=2) as ex:
        threads = sw.sweep(GRID, executor=ex, **KW)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=50) as cluster, Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        dask = sw.sweep(GRID, executor=client, **KW)
    assert serial.to_csv() == procs.to_csv() == threads.to_csv() == dask.to_csv()


def test_a_point_does_not_depend_on_the_grid_or_its_order(serial):
    other = dict(n=(30, 20), p=(45, 8, 13), d=(4, 5), noise=(0.7, 0.3), embedding=("gaussian", "orthogonal"))
    again = {tuple(r[a] for a in sw.AXES): r for r in sw.sweep(other, **KW).rows}
    shared = 0
    for row in serial.rows:
        key = tuple(row[a] for a in sw.AXES)
        if key in again:
            same_bits(row, again[key])
            shared += 1
    assert shared == 2 * 2 * 2 * 2
    # ... but it does depend on the seed
    moved = sw.sweep(GRID, **{**KW, "rng": 12})
    assert np.all(moved.column("sim_risk")[~np.isnan(moved.column("sim_risk"))]
                  != serial.column("sim_risk")[~np.isnan(serial.column("sim_risk"))])


def test_theory_columns_equal_predicted_risk_of_the_points_model(serial):
    """Every row's theory is predicted_risk on the population of the model drawn from the
    point's documented seed (Definition 3 in closed form for the orthogonal encoder)."""
    for row in serial.rows:
        point = tuple(row[a] for a in sw.AXES)
        ss = np.random.SeedSequence([11, row["n"], row["p"], row["d"],
                                     struct.unpack("<Q", struct.pack("<d", row["noise"]))[0],
                                     struct.unpack("<Q", struct.pack("<d", row["snr"]))[0],
                                     hr.hmm.EMBEDDINGS.index(row["embedding"])])
        assert sw.point_seed(11, point).entropy == ss.entropy
        model_ss, _ = ss.spawn(2)
        model = hr.make_model(row["p"], row["d"], row["noise"], row["snr"], row["embedding"],
                              rng=np.random.default_rng(model_ss))
        pred = predicted_risk(hr.population(model), row["n"])
        assert row["formula"] == pred.formula
        for col, want in (("theory_bias", pred.bias), ("theory_variance", pred.variance),
                          ("theory_risk", pred.risk), ("irreducible", pred.irreducible),
                          ("theory_total", pred.total)):
            if math.isinf(want):
                assert row[col] == want
            else:
                assert row[col] == pytest.approx(want, rel=1e-10, abs=1e-12), col


def test_theory_under_is_theorem1_and_threshold_is_inf(serial):
    for row in serial.rows:
        n, p = row["n"], row["p"]
        if p < n - 1:
            assert row["theory_bias"] == 0
            assert row["theory_risk"] == pytest.approx(row["irreducible"] * p / (n - p - 1), rel=1e-12)
        elif p <= n:
            assert row["formula"] == "threshold" and math.isinf(row["theory_risk"])
        else:
            assert row["formula"] == "definition2" and row["theory_bias"] > 0


def test_simulation_matches_theorem1_and_skips_the_band(serial):
    z = []
    for row in serial.rows:
        if abs(row["p"] - row["n"]) <= 3:
            assert row["sim_reps"] == 0 and math.isnan(row["sim_risk"]) and math.isnan(row["sim_stderr"])
            continue
        assert row["sim_reps"] == 60
        assert row["sim_risk"] == pytest.approx(row["sim_bias"] + row["sim_variance"])
        assert row["sim_total"] == pytest.approx(row["sim_risk"] + row["irreducible"])
        if row["p"] < row["n"] - 4:          # exact mean, finite variance of the estimator
            z.append((row["sim_risk"] - row["theory_risk"]) / row["sim_stderr"])
    assert len(z) == 12 and np.max(np.abs(z)) < 4.5


def test_simulation_only_and_theory_only():
    grid = dict(n=20, p=(10, 21, 40), d=3, noise=0.5)
    sim = sw.sweep(grid, theory=False, simulate=True, reps=20, rng=1, progress=False)
    th = sw.sweep(grid, progress=False)
    assert np.all(np.isnan(sim.column("theory_risk"))) and set(sim.column("formula")) == {""}
    assert np.all(np.isnan(th.column("sim_risk"))) and np.all(th.column("sim_reps") == 0)
    # tr Sigma_r is reported either way, also for the unsimulated threshold point
    np.testing.assert_allclose(sim.column("irreducible"), th.column("irreducible"), rtol=1e-12)


def test_progress_bar_goes_to_stderr(capsys):
    sw.sweep(dict(n=20, p=(5, 30), d=2, noise=0.5), progress=True)
    out = capsys.readouterr()
    assert out.out == "" and "2/2" in out.err
    sw.sweep(dict(n=20, p=(5, 30), d=2, noise=0.5), progress=False)
    assert capsys.readouterr().err == ""


class _NoSubmit:
    pass


@pytest.mark.parametrize("grid, kw, name", [
    ([("n", 10)], {}, "grid"),
    (dict(n=20, p=5, d=2), {}, "noise"),
    (dict(n=20, p=5, d=2, noise=0.5, q=1), {}, "unknown"),
    (dict(n=20, p=(), d=2, noise=0.5), {}, "p"),
    (dict(n=20, p=(5, 5), d=2, noise=0.5), {}, "p"),
    (dict(n=1, p=5, d=2, noise=0.5), {}, "n"),
    (dict(n=20, p=0, d=2, noise=0.5), {}, "p"),
    (dict(n=20, p=5.5, d=2, noise=0.5), {}, "p"),
    (dict(n=20, p=5, d=0, noise=0.5), {}, "d"),
    (dict(n=20, p=5, d=2, noise=1.5), {}, "noise"),
    (dict(n=20, p=5, d=2, noise=0.5, snr=-1), {}, "snr"),
    (dict(n=20, p=5, d=2, noise=0.5, embedding="fourier"), {}, "embedding"),
    (dict(n=20, p=5, d=2, noise=0.5), dict(theory=False), "nothing to compute"),
    (dict(n=20, p=5, d=2, noise=0.5), dict(theory="yes"), "theory"),
    (dict(n=20, p=5, d=2, noise=0.5), dict(simulate=True, reps=1), "reps"),
    (dict(n=20, p=5, d=2, noise=0.5), dict(rng=-1), "rng"),
    (dict(n=20, p=5, d=2, noise=0.5), dict(rng=1.5), "rng"),
    (dict(n=20, p=5, d=2, noise=0.5), dict(band=0), "band"),
    (dict(n=20, p=5, d=2, noise=0.5), dict(method="exact"), "method"),
    (dict(n=20, p=5, d=2, noise=0.5), dict(executor=_NoSubmit()), "executor"),
    (dict(n=20, p=5, d=2, noise=0.5), dict(progress="yes"), "progress"),
])
def test_bad_arguments_raise_value_error_naming_them(grid, kw, name):
    wrong_type = name in ("grid", "theory", "executor", "progress")
    with pytest.raises(TypeError if wrong_type else ValueError, match=name):
        sw.sweep(grid, **kw)
