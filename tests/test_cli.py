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
    (["--p", "10", "--snr", "0"], "snr"), (["--p", "10", "--snr", "nan"], "snr"),
    (["--p", "10", "--embedding", "fourier"], "--embedding"),
    (["--p", "10", "--reps", "100"], "--reps"),
    (["--p", "10", "--simulate", "--reps", "1"], "reps"),
])
def test_bad_arguments_exit_2_with_one_line(args, name):
    argv = list(BASE)
    for flag, value in zip(args[::2], args[1::2]):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    if "--simulate" in args:
        argv.append("--simulate")
    proc = run(*argv)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_no_command_is_an_error():
    proc = run()
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
