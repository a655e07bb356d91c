"""``hmmrisk features``: the theory on the user's own feature files ({ref}`ch-own-features`).

The printed numbers are checked against the library called directly (the CLI
is a thin layer over :func:`hmmrisk.population_from_data`, whose numbers
``tests/test_empirical.py`` checks against independent routes); each bad
input of issue 25 must give exit status 2, one line naming the file or
argument, and no file written.
"""

import csv
import io
import json
import os
import pickle

import numpy as np
import pytest

import hmmrisk as hr
from hmmrisk import cli, empirical

from conftest import call

N, P, D = 600, 30, 2


@pytest.fixture(autouse=True)
def _no_caps_from_environment(monkeypatch):
    monkeypatch.delenv(cli.ENV_MEMORY, raising=False)
    monkeypatch.delenv(cli.ENV_WORK, raising=False)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, P)) * np.arange(1, P + 1) ** -0.5
    return X, X[:, :D] + rng.standard_normal((N, D))


@pytest.fixture
def files(tmp_path, data):
    X, Y = data
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "Y.npy", Y)
    np.savez(tmp_path / "XY.npz", feats=X, targets=Y)
    np.savez(tmp_path / "only.npz", X)
    header = ",".join(f"f{i}" for i in range(P))
    np.savetxt(tmp_path / "X.csv", X, delimiter=",", header=header, comments="", fmt="%.17g")
    np.savetxt(tmp_path / "Y.csv", Y, delimiter=",", fmt="%.17g")
    return tmp_path


def test_one_n_json_is_the_library_s_prediction(files, data, capsys):
    code, out, err = call("features", "--x", files / "X.npy", "--y", files / "Y.npy", "--n", 100,
                          "--json", capsys=capsys)
    assert code == 0, err
    got = json.loads(out)
    want = hr.population_from_data(*data).predict(100)
    assert {k: got[k] for k in ("bias", "variance", "risk", "irreducible", "total", "formula")} == {
        "bias": want.bias, "variance": want.variance, "risk": want.risk,
        "irreducible": want.irreducible, "total": want.total, "formula": "theorem1-exact"}
    assert got["risk"] == got["bias"] + got["variance"]
    assert (got["n"], got["p"], got["rank"]) == (100, P, P)


def test_every_file_format_gives_the_same_numbers(files, capsys):
    outs = []
    for x, y, keys in ((files / "X.npy", files / "Y.npy", []),
                       (files / "XY.npz", files / "XY.npz", ["--x-key", "feats", "--y-key", "targets"]),
                       (files / "only.npz", files / "Y.npy", []),
                       (files / "X.csv", files / "Y.csv", [])):
        code, out, err = call("features", "--x", x, "--y", y, *keys, "--n", 20, "--json", capsys=capsys)
        assert code == 0, err
        outs.append(json.loads(out))
    assert outs[0]["formula"] == "definition2"
    numbers = lambda o: {k: v for k, v in o.items() if k != "formula"}     # noqa: E731
    for other in outs[1:]:
        assert other["formula"] == "definition2"
        assert numbers(other) == pytest.approx(numbers(outs[0]), rel=1e-10)   # CSV: 17 digits


def test_a_range_of_n_with_simulation_writes_a_csv_atomically(files, data, capsys):
    out_file = files / "curve.csv"
    code, out, err = call("features", "--x", files / "X.npy", "--y", files / "Y.npy",
                          "--n", "10:50:20,200", "--simulate", "--reps", 20, "--seed", 4,
                          "--ridge", 0.01, "--out", out_file, capsys=capsys)
    assert code == 0, err
    assert "4 rows written" in err and out == ""
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert [int(r["n"]) for r in rows] == [10, 30, 50, 200]
    assert list(rows[0])[:10] == list(cli._FEATURE_COLUMNS) and "sim_stderr" in rows[0]
    pop = hr.population_from_data(*data)
    for r in rows:
        n = int(r["n"])
        assert float(r["theory_risk"]) == pop.predict(n, ridge=0.01).risk and r["formula"] == "ridge"
        est = pop.simulate(n, 20, rng=np.random.default_rng([4, n]), ridge=0.01)   # the seed of n alone
        assert float(r["sim_risk"]) == est.risk and int(r["sim_reps"]) == 20
    assert not [f for f in os.listdir(files) if f.endswith(".tmp")]


def test_one_n_prints_text_and_a_list_prints_csv(files, capsys):
    code, out, _ = call("features", "--x", files / "X.npy", "--y", files / "Y.npy", "--n", 30,
                        capsys=capsys)
    assert code == 0 and "formula  threshold" in out and "risk  inf" in out   # p = n = 30
    code, out, _ = call("features", "--x", files / "X.npy", "--y", files / "Y.npy", "--n", "29,30,31,32",
                        capsys=capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["formula"] for r in rows] == ["definition2", "threshold", "threshold",
                                                              "theorem1-exact"]
    assert rows[1]["theory_risk"] == rows[2]["theory_risk"] == "inf"       # n - 1 <= rank <= n
    code, out, _ = call("features", "--x", files / "X.npy", "--y", files / "Y.npy", "--n", "30,100",
                        "--json", capsys=capsys)
    got = json.loads(out)
    assert code == 0 and got[0]["risk"] is None and got[1]["formula"] == "theorem1-exact"


def test_rank_deficient_files_use_the_rank(files, data, capsys):
    X, Y = data
    np.save(files / "wide.npy", np.column_stack([X, X[:, :3], np.ones(N)]))
    code, out, err = call("features", "--x", files / "wide.npy", "--y", files / "Y.npy", "--n", 100,
                          "--json", capsys=capsys)
    assert code == 0, err
    got = json.loads(out)
    assert (got["p"], got["rank"]) == (P + 4, P) and got["formula"] == "theorem1-exact"


def _bad_files(d, data):
    X, Y = data
    np.save(d / "obj.npy", np.array([[1.0, "a"]] * N, dtype=object), allow_pickle=True)
    np.save(d / "one_d.npy", X[:, 0])
    np.save(d / "three_d.npy", X.reshape(N, 3, 10))
    bad = X.copy()
    bad[7, 2] = np.inf
    np.save(d / "inf.npy", bad)
    np.save(d / "short.npy", Y[:50])
    np.save(d / "text.npy", np.array([["a", "b"]] * N))
    with open(d / "pickled.npy", "wb") as fh:
        pickle.dump(X, fh)
    (d / "garbage.npy").write_bytes(b"not an array at all")
    (d / "garbage.npz").write_bytes(b"PK not a zip")
    (d / "words.csv").write_text("a,b\n1,x\n")
    (d / "ragged.csv").write_text("1,2,3\n4,5\n")
    (d / "nan.csv").write_text("1,2\nnan,3\n")
    (d / "X.txt").write_text("1,2\n")
    (d / "folder.npy").mkdir()


BAD = [
    (["--x", "missing.npy"], "--x", "no such file"),
    (["--x", "folder.npy"], "--x", "not a regular file"),
    (["--x", "X.txt"], "--x", "must end in .npy, .npz or .csv"),
    (["--x", "garbage.npy"], "--x", "not a NumPy array file"),
    (["--x", "pickled.npy"], "--x", "pickle"),
    (["--x", "obj.npy"], "--x", "object array"),
    (["--x", "text.npy"], "--x", "not real numbers"),
    (["--x", "one_d.npy"], "--x", "2-d array"),
    (["--x", "three_d.npy"], "--x", "2-d array"),
    (["--x", "inf.npy"], "--x", "non-finite entry (inf) at row 7, column 2"),
    (["--y", "short.npy"], "--y", "same number of rows"),
    (["--x", "garbage.npz"], "--x", "not an .npz archive"),
    (["--x", "XY.npz"], "--x", "choose one with --x-key"),
    (["--x", "XY.npz", "--x-key", "nope"], "--x-key", "no array 'nope'"),
    (["--x", "words.csv"], "--x", "not a CSV of numbers"),
    (["--x", "ragged.csv"], "--x", "not a CSV of numbers"),
    (["--y", "nan.csv"], "--y", "non-finite"),
    (["--n", "1"], "--n", ">= 2"),
    (["--n", "10,601"], "--n 601", "rows"),
    (["--n", "ten"], "--n", "not an integer"),
    (["--ridge", "-1"], "--ridge", ">= 0"),
    (["--reps", "5"], "--reps", "needs --simulate"),
    (["--simulate", "--reps", "1"], "--reps", ">= 2"),
    (["--seed", "-3", "--simulate"], "--seed", "non-negative"),
    (["--json", "--out", "x.csv"], "--json", "--out"),
    (["--out", "nofolder/x.csv"], "--out", "does not exist"),
    (["--max-memory", "100K"], "--x", "memory"),
    (["--simulate", "--reps", "1000000", "--max-work", "1e9"], "--reps 1000000", "floating-point"),
]


@pytest.mark.parametrize("argv, name, text", BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_bad_input_is_one_line_naming_it_with_exit_2_and_nothing_written(
        argv, name, text, files, data, capsys, monkeypatch):
    _bad_files(files, data)
    monkeypatch.chdir(files)
    base = {"--x": "X.npy", "--y": "Y.npy", "--n": "10"}
    for flag in base:
        if flag not in argv:
            argv = [flag, base[flag], *argv]
    before = sorted(os.listdir(files))
    code, out, err = call("features", *argv, capsys=capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and text in lines[0], err
    assert "Traceback" not in err and out == ""
    assert sorted(os.listdir(files)) == before                  # nothing written


def test_an_unreadable_file_is_named(files, capsys, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(empirical, "open", refuse, raising=False)
    code, _, err = call("features", "--x", files / "X.npy", "--y", files / "Y.npy", "--n", 10,
                        capsys=capsys)
    assert code == 2 and "--x: cannot read" in err and "Permission denied" in err


def test_the_memory_estimate_comes_before_reading_the_data(files, capsys, monkeypatch):
    """A header claiming a huge array is refused from the header alone."""
    with open(files / "huge.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10**7, 10**4)})
    monkeypatch.setattr(empirical, "load_matrix", None)           # never reached
    code, _, err = call("features", "--x", files / "huge.npy", "--y", files / "Y.npy", "--n", 10,
                        capsys=capsys)
    assert code == 2 and "needs about" in err and "--x" in err and "memory" in err
