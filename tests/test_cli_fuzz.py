"""Property-based fuzz test of the command line (issue 16).

Hypothesis builds argument lists from the documented options of ``risk``,
``sweep`` and ``figure`` with values drawn from plausible, extreme and
garbage strings (full-width digits, ``nan``, ``1e308``, empty strings,
unwritable paths), plus wholly random argument lists.  Every run must exit
with status 0 or 2, print no traceback, and print at most one line on stderr
when it fails.  Runs are in-process (``cli.main``) and bounded in time by a
small work cap (``HMMRISK_MAX_WORK``), which the CLI checks before computing;
Figure 3's Transformer training (minutes of torch) is replaced by a stub that
returns nothing, so its argument handling is fuzzed up to the training.
"""

import contextlib
import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hmmrisk import cli

WORK_CAP = "3e8"          # ~0.2 s of one core: anything bigger is refused before it starts
GARBAGE = ["", " ", "-", "--", "x", "nan", "inf", "-inf", "1e308", "1e300", "-1", "0", "2.5",
           "１００", "０.５", "1_000", "10**12", "1000000000", "0x10", "\u00a0", "é", "1:", ":",
           "1:2:0", "3:1", "1,,2", "--help-me", "1e-400"]
SMALL_INT = st.integers(-3, 120).map(str)
FLOAT = st.one_of(st.floats(-0.5, 1.5, allow_nan=False).map(repr),
                  st.sampled_from(["0", "0.5", "1", "1e-300", "1e13"]))
NUM = st.one_of(SMALL_INT, st.sampled_from(GARBAGE), st.text(max_size=6))


def _list(elem):
    item = st.one_of(elem, st.builds(lambda a, b: f"{a}:{b}", SMALL_INT, SMALL_INT),
                     st.builds(lambda a, b, c: f"{a}:{b}:{c}", SMALL_INT, SMALL_INT, SMALL_INT))
    return st.lists(item, min_size=1, max_size=3).map(",".join)


def _out(exts):
    return st.sampled_from([f"OUT.{e}" for e in exts] + ["", "/proc/x.csv", "/dev/full", "DIR",
                                                          "/nonexistent/x.csv", "OUT.txtx"])


FLAGS = {
    "risk": {"--n": SMALL_INT, "--p": NUM, "--d": SMALL_INT, "--noise": FLOAT, "--snr": FLOAT,
             "--embedding": st.sampled_from(["orthogonal", "gaussian", "fourier", ""]),
             "--simulate": None, "--reps": NUM, "--seed": NUM, "--json": None,
             "--max-memory": st.sampled_from(["1K", "none", "16G", "x", "-1"]),
             "--max-work": st.sampled_from(["1e3", "none", "5G", "x"])},
    "sweep": {"--n": _list(SMALL_INT), "--p": _list(NUM), "--d": _list(SMALL_INT),
              "--noise": _list(FLOAT), "--snr": _list(FLOAT),
              "--embedding": st.sampled_from(["orthogonal", "gaussian", "orthogonal,gaussian",
                                              "fourier", ""]),
              "--theory": None, "--no-theory": None, "--simulate": None, "--reps": NUM,
              "--seed": NUM, "--band": NUM, "--workers": st.sampled_from(["1", "0", "-1", "x"]),
              "--out": _out(["csv"]), "--no-progress": None,
              "--max-memory": st.sampled_from(["1K", "none", "x"])},
    "figure": {"--out": _out(["png", "svg", "pdf"]), "--dpi": st.sampled_from(["1", "20", "0",
                                                                               "100000", "x"]),
               "--reps": NUM, "--seed": NUM, "--ps": _list(SMALL_INT), "--noises": _list(FLOAT),
               "--ns": _list(SMALL_INT), "--widths": _list(SMALL_INT), "--seeds": _list(SMALL_INT),
               "--steps": NUM, "--warmup": NUM, "--n-train": NUM, "--n-draws": NUM,
               "--n-test": NUM, "--n-lm-test": NUM, "--workers": SMALL_INT,
               "--set": st.sampled_from(["length=8", "batch_size=x", "nope=1", "noequals", "lr=0.1"])},
}


@st.composite
def argv(draw):
    if draw(st.integers(0, 9)) == 0:                    # pure garbage
        return draw(st.lists(st.one_of(st.sampled_from(GARBAGE), st.text(max_size=8)), max_size=6))
    command = draw(st.sampled_from(sorted(FLAGS)))
    args = [command]
    if command == "figure":
        args.append(draw(st.sampled_from(["1", "2", "3", "4", "x"])))
    options = FLAGS[command]
    for flag in draw(st.lists(st.sampled_from(sorted(options)), max_size=8)):
        args.append(flag)
        if options[flag] is not None:
            args.append(draw(options[flag]))
    if draw(st.booleans()):
        args.insert(draw(st.integers(1, len(args))), draw(st.sampled_from(GARBAGE)))
    return args


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    import hmmrisk.transformer as f3

    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "DIR").mkdir()
    mp = pytest.MonkeyPatch()
    mp.chdir(folder)
    mp.setenv(cli.ENV_WORK, WORK_CAP)
    mp.delenv(cli.ENV_MEMORY, raising=False)

    def no_training(*a, **k):
        raise ValueError("fuzz stub: figure 3's Transformer training is not run here")
    mp.setattr(f3, "run", no_training)
    yield folder
    mp.undo()


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(args=argv())
def test_cli_exits_0_or_2_without_traceback(args, sandbox):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(args)
        except SystemExit as exc:                       # argparse: --help, usage errors
            code = exc.code
    err = err.getvalue()
    assert code in (0, 2), (args, code, err)
    assert "Traceback" not in err, (args, err)
    if code == 2:
        assert len(err.strip().splitlines()) <= 2, (args, err)   # argparse: usage + error line
        assert "error" in err, (args, err)
    assert os.environ[cli.ENV_WORK] == WORK_CAP           # the CLI only reads the environment
