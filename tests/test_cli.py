"""The command line: JSON shape, agreement with the library, one-line errors with status 2."""

import json
import subprocess
import sys

import pytest

import hmmrisk as hr


def run(*args):
    return subprocess.run([sys.executable, "-m", "hmmrisk", *args], capture_output=True, text=True)


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
def test_bad_arguments_exit_2_with_one_line(args, name):
    argv = list(BASE)
    for flag, value in zip(args[::2], args[1::2]):
        if value is None:
            argv.append(flag)
        elif flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    proc = run(*argv)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_theory_under_is_the_inverse_wishart_mean():
    """Without --simulate, p < n - 1 prints Theorem 1: tr Sigma_r p / (n - p - 1), no bias."""
    out = json.loads(run(*BASE, "--p", "20", "--json").stdout)
    assert out["source"] == "theorem1-exact" and out["bias"] == 0
    assert out["risk"] == pytest.approx(out["irreducible"] * 20 / (40 - 20 - 1), rel=1e-12)
    assert out["total"] == pytest.approx(out["risk"] + out["irreducible"])
    assert "stderr" not in out and "reps" not in out


def test_theory_over_is_close_to_simulation():
    """p > n prints Definition 2; at n = 40, p = 3n it is within a few per cent of the
    simulated risk (Theorem 2 is asymptotic: its error is not a Monte Carlo error)."""
    theory = json.loads(run(*BASE, "--p", "120", "--json").stdout)
    sim = json.loads(run(*BASE, "--p", "120", "--simulate", "--reps", "2000", "--json").stdout)
    assert theory["source"] == "definition2" and theory["bias"] > 0
    assert theory["irreducible"] == sim["irreducible"]
    assert abs(theory["risk"] - sim["risk"]) < 0.05 * sim["risk"]


def test_threshold_prints_null():
    proc = run(*BASE, "--p", "40", "--json")
    assert proc.returncode == 0
    out = json.loads(proc.stdout)
    assert out["risk"] is None and out["source"] == "threshold"


def test_plain_output_names_every_field():
    proc = run(*BASE, "--p", "20")
    assert proc.returncode == 0
    keys = {line.split()[0] for line in proc.stdout.splitlines()}
    assert {"bias", "variance", "risk", "irreducible", "total", "source"} <= keys


def test_no_command_is_an_error():
    proc = run()
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
