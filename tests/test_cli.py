"""The command line: JSON shape, agreement with the library, one-line errors with status 2."""

import io
import json
import subprocess
import sys

import pytest

import hmmrisk.sweep as sw
from hmmrisk import cli

from conftest import call


def run(*args):
    """``python -m hmmrisk args`` in a fresh process."""
    return subprocess.run([sys.executable, "-m", "hmmrisk", *args], capture_output=True, text=True)


def one_line_error(code, out, err, name):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], err
    assert "Traceback" not in err and out == ""


BASE = ["risk", "--n", "40", "--d", "6", "--noise", "0.5"]


def test_simulate_json_keys_and_values():
    proc = run(*BASE, "--p", "60", "--simulate", "--reps", "300", "--seed", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"bias", "variance", "risk", "irreducible", "stderr", "reps"} <= out.keys()
    assert out["reps"] == 300
    assert out["risk"] == pytest.approx(out["bias"] + out["variance"])
    assert out["stderr"] > 0 and out["bias"] > 0     # p > n: the bias is on


def test_same_seed_same_output_and_library_agrees():
    a = run(*BASE, "--p", "20", "--simulate", "--reps", "200", "--json")
    b = run(*BASE, "--p", "20", "--simulate", "--reps", "200", "--json")
    assert a.stdout == b.stdout
    out = json.loads(a.stdout)
    # p < n - 1: inverse-Wishart mean, within 4 standard errors
    assert abs(out["risk"] - out["irreducible"] * 20 / (40 - 20 - 1)) < 4 * out["stderr"]
    assert out["bias"] == 0


@pytest.mark.parametrize("args, name", [
    (["--p", "0"], "p"), (["--p", "-3"], "p"), (["--p", "x"], "--p"),
    (["--p", "10", "--n", "1"], "n"), (["--p", "10", "--noise", "1.5"], "noise"),
    (["--p", "10", "--noise", "-0.1"], "noise"), (["--p", "10", "--d", "0"], "d"),
    (["--p", "10", "--snr", "0"], "snr"), (["--p", "10", "--snr", "nan"], "snr"),
    (["--p", "10", "--embedding", "fourier"], "--embedding"),
    (["--p", "10", "--reps", "100"], "--reps"),
    (["--p", "10", "--simulate", None, "--reps", "1"], "reps"),
    (["--p", "10", "--seed", "-1"], "seed"),
])
def test_bad_arguments_exit_2_with_one_line(args, name, capsys):
    argv = list(BASE)
    for flag, value in zip(args[::2], args[1::2]):
        if value is None:
            argv.append(flag)
        elif flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    one_line_error(*call(*argv, capsys=capsys), name)


def test_theory_under_is_the_inverse_wishart_mean():
    """Without --simulate, p < n - 1 prints Theorem 1: tr Sigma_r p / (n - p - 1), no bias."""
    out = json.loads(run(*BASE, "--p", "20", "--json").stdout)
    assert out["formula"] == "theorem1-exact" and out["bias"] == 0
    assert out["risk"] == pytest.approx(out["irreducible"] * 20 / (40 - 20 - 1), rel=1e-12)
    assert out["total"] == pytest.approx(out["risk"] + out["irreducible"])
    assert "stderr" not in out and "reps" not in out


def test_theory_over_is_close_to_simulation():
    """p > n prints Definition 2; at n = 40, p = 3n it is within a few per cent of the
    simulated risk (Theorem 2 is asymptotic: its error is not a Monte Carlo error)."""
    theory = json.loads(run(*BASE, "--p", "120", "--json").stdout)
    sim = json.loads(run(*BASE, "--p", "120", "--simulate", "--reps", "2000", "--json").stdout)
    assert theory["formula"] == "definition2" and theory["bias"] > 0
    # tr Sigma_r by two routes: the closed form of Definition 3 and the drawn model's matrices
    # (whose last bits depend on the CPU's BLAS kernels: they differed by one ulp on one machine)
    assert theory["irreducible"] == pytest.approx(sim["irreducible"], rel=1e-12)
    assert abs(theory["risk"] - sim["risk"]) < 0.05 * sim["risk"]


def test_threshold_prints_null():
    proc = run(*BASE, "--p", "40", "--json")
    assert proc.returncode == 0
    out = json.loads(proc.stdout)
    assert out["risk"] is None and out["formula"] == "threshold"


def test_plain_output_names_every_field():
    proc = run(*BASE, "--p", "20")
    assert proc.returncode == 0
    keys = {line.split()[0] for line in proc.stdout.splitlines()}
    assert {"bias", "variance", "risk", "irreducible", "total", "formula"} <= keys


def test_no_command_is_an_error():
    proc = run()
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------------
# --help of every command (in this process: argparse exits through SystemExit)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("command, words", [
    ([], ["risk", "figure", "sweep", "examples:"]),
    (["risk"], ["--n", "--p", "--simulate", "--json", "Theorem 1", "examples:"]),
    (["figure"], ["--out", "--reps", "--ps", "--noises", "--ns", "--widths", "--seeds", "--steps",
                  "--set", "--dpi", "Transformer", "examples:"]),
    (["sweep"], ["--n", "--p", "--noise", "--snr", "--simulate", "--no-theory", "--workers", "--out",
                 "--no-progress", "start:stop", "CSV", "examples:"]),
])
def test_help_of_every_command(command, words, capsys):
    code, out, err = call(*command, "--help", capsys=capsys)
    assert code == 0 and err == ""
    for word in words:
        assert word in out, word


def test_help_through_python_m():
    proc = run("sweep", "--help")
    assert proc.returncode == 0 and "--workers" in proc.stdout


# ---------------------------------------------------------------------------
# sweep
# ---------------------------------------------------------------------------

SWEEP = ["sweep", "--n", "20,30", "--p", "10:40:15,50", "--d", "3", "--noise", "0.5",
         "--snr", "0.5:1.5:1", "--simulate", "--reps", "20", "--seed", "4", "--no-progress"]


def test_sweep_csv_is_the_library_sweep_and_does_not_depend_on_workers(tmp_path):
    one = run(*SWEEP)
    two = run(*SWEEP, "--workers", "2")
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    assert one.stdout == two.stdout and one.stderr == ""
    # ranges are inclusive: p = 10, 25, 40 and 50; snr = 0.5, 1.5
    lib = sw.sweep(dict(n=(20, 30), p=(10, 25, 40, 50), d=3, noise=0.5, snr=(0.5, 1.5)),
                   simulate=True, reps=20, rng=4, progress=False)
    assert one.stdout == lib.to_csv()
    out = tmp_path / "s.csv"
    proc = run(*SWEEP, "--out", str(out))
    assert proc.returncode == 0 and proc.stdout == "" and "16 rows" in proc.stderr
    assert out.read_text() == one.stdout


def test_sweep_theory_only_prints_theorem1():
    proc = run("sweep", "--n", "40", "--p", "20", "--d", "6", "--noise", "0.5", "--no-progress")
    res = sw.SweepResult.from_csv(io.StringIO(proc.stdout))
    (row,) = res.rows
    assert row["formula"] == "theorem1-exact" and row["sim_reps"] == 0
    assert row["theory_risk"] == pytest.approx(row["irreducible"] * 20 / (40 - 20 - 1), rel=1e-12)


@pytest.mark.parametrize("text, kind, want", [
    ("50:150:50", int, [50, 100, 150]), ("5", int, [5]), ("1:3,10", int, [1, 2, 3, 10]),
    ("0.1:0.5:0.2", float, [0.1, 0.3, 0.5]), ("0.2,0.8", float, [0.2, 0.8]),
    ("0:1:0.25", float, [0.0, 0.25, 0.5, 0.75, 1.0]),
])
def test_lists_and_inclusive_ranges(text, kind, want):
    assert cli._values(text, kind) == want


SWEEP_BASE = ["sweep", "--n", "20", "--p", "10", "--d", "3", "--noise", "0.5", "--no-progress"]


@pytest.mark.parametrize("extra, name", [
    (["--p", "10:x"], "--p"), (["--p", "30:10"], "--p"), (["--p", "10:20:0"], "--p"),
    (["--noise", "0.5,"], "--noise"), (["--p", "1:2:3:4"], "--p"),
    (["--n", "1"], "n"), (["--p", "0"], "p"), (["--p", "10,10"], "p"), (["--d", "0"], "d"),
    (["--noise", "2"], "noise"), (["--snr", "0"], "snr"), (["--embedding", "fourier"], "embedding"),
    (["--reps", "10"], "--reps"), (["--simulate", "--reps", "1"], "reps"), (["--seed", "-1"], "seed"),
    (["--band", "0"], "band"), (["--workers", "0"], "workers"), (["--no-theory"], "--no-theory"),
    (["--out", "/nonexistent-folder/x.csv"], "--out"), (["--bogus"], "--bogus"),
])
def test_sweep_bad_arguments_exit_2_with_one_line(extra, name, capsys):
    argv = list(SWEEP_BASE)
    extra = list(extra)
    for i, a in enumerate(extra):
        if a in argv and i + 1 < len(extra) and not extra[i + 1].startswith("--"):
            argv[argv.index(a) + 1] = extra[i + 1]
            extra[i + 1] = None
        elif a is not None:
            argv.append(a)
    one_line_error(*call(*argv, capsys=capsys), name)


# ---------------------------------------------------------------------------
# figure
# ---------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n"


def test_figure_1_writes_a_png(tmp_path):
    out = tmp_path / "fig1.png"
    proc = run("figure", "1", "--out", str(out), "--dpi", "40", "--reps", "8",
               "--ps", "60,90,110,140", "--noises", "0.2,0.8")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == PNG and out.stat().st_size > 5000
    assert str(out) in proc.stdout


def test_figure_2_writes_a_png(tmp_path, capsys):
    out = tmp_path / "fig2.svg"
    code, stdout, _ = call("figure", "2", "--out", str(out), "--reps", "8", "--ps", "60,140,300",
                           "--ns", "100,200", capsys=capsys)
    assert code == 0 and str(out) in stdout
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and len(text) > 5000


def test_figure_3_writes_a_png_with_a_tiny_protocol(tmp_path):
    """The Figure 3 path of the command (Protocol overrides -> transformer.run -> plot_figure3),
    in this process so that torch is imported once."""
    pytest.importorskip("torch")
    out = tmp_path / "fig3.png"
    code = cli.main(["figure", "3", "--out", str(out), "--dpi", "40", "--widths", "4,8", "--seeds", "0",
                     "--steps", "4", "--n-train", "10", "--n-draws", "1", "--n-test", "40",
                     "--n-lm-test", "16", "--workers", "1", "--set", "length=8", "--set", "batch_size=8"])
    assert code == 0
    assert out.read_bytes()[:8] == PNG and out.stat().st_size > 5000


def test_figure_3_protocol_overrides():
    from hmmrisk import transformer as f3

    parser = cli._Parser(prog="t")
    sub = parser.add_subparsers(dest="command", parser_class=cli._Parser)
    cli._figure_parser(sub)
    ns = parser.parse_args(["figure", "3", "--out", "x.png", "--widths", "4:16:4", "--steps", "50",
                            "--set", "ridges=1e-6,1e-3", "--set", "lr=0.01"])
    pr = cli._protocol(ns)
    assert isinstance(pr, f3.Protocol)
    assert pr.widths == (4, 8, 12, 16) and pr.steps == 50 and pr.warmup == 5
    assert pr.ridges == (1e-6, 1e-3) and pr.lr == 0.01
    assert pr.n_train == f3.Protocol().n_train          # untouched fields keep the book's value


@pytest.mark.parametrize("extra, name", [
    (["1", "--widths", "4"], "--widths"), (["3", "--noises", "0.5"], "--noises"),
    (["2", "--noises", "0.5"], "--noises"), (["1", "--ns", "100"], "--ns"),
    (["3", "--reps", "5"], "--reps"), (["4"], "number"),
    (["1", "--reps", "1"], "reps"), (["1", "--seed", "-1"], "seed"), (["1", "--ps", "0,5"], "p"),
    (["1", "--noises", "1.5"], "noise"), (["2", "--ns", "100,100"], "ns"), (["1", "--dpi", "0"], "dpi"),
    (["3", "--widths", "8,4"], "widths"), (["3", "--steps", "5", "--warmup", "9"], "warmup"),
    (["3", "--set", "foo=1"], "--set"), (["3", "--set", "steps=x"], "--set"),
    (["1", "--out", "fig.xyz"], "--out"), (["1", "--out", "/nonexistent-folder/f.png"], "--out"),
])
def test_figure_bad_arguments_exit_2_with_one_line(extra, name, tmp_path, capsys):
    rest = extra[1:]
    if "--out" not in rest:
        rest = ["--out", str(tmp_path / "f.png"), *rest]
    one_line_error(*call("figure", extra[0], *rest, capsys=capsys), name)
    assert not (tmp_path / "f.png").exists()
