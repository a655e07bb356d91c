"""Issue 16: never a traceback, never a lost file, resource guards, interrupts, BLAS threads.

Each test reproduces one case of the issue and checks the documented
behaviour: exit status 2 and one line naming the argument (checked before any
computation), atomic output files, status 130 on SIGINT with any number of
workers, and output bits that do not depend on ``OPENBLAS_NUM_THREADS``.
"""

import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import hmmrisk.sweep as sw
from hmmrisk import _resources, cli, make_model, simulate_risk
from hmmrisk._io import atomic_write, check_writable

from conftest import call

ENV = {k: v for k, v in os.environ.items() if not k.startswith("HMMRISK_")}


def one_line_error(code, out, err, *names):
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for name in names:
        assert name in lines[0], err
    assert "Traceback" not in err


@pytest.fixture(autouse=True)
def _no_caps_from_environment(monkeypatch):
    monkeypatch.delenv(cli.ENV_MEMORY, raising=False)
    monkeypatch.delenv(cli.ENV_WORK, raising=False)


@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if a command starts computing (its checks must come first)."""
    def boom(*a, **k):
        raise AssertionError("computation started before the checks")
    monkeypatch.setattr(sw, "_run", boom)
    import hmmrisk.curves as curves
    monkeypatch.setattr(curves, "figure1_curves", boom)
    monkeypatch.setattr(curves, "figure2_curves", boom)


RISK = ["risk", "--n", "100", "--d", "50", "--noise", "0.5"]
SWEEP = ["sweep", "--n", "40", "--p", "20,60", "--d", "5", "--noise", "0.5", "--no-progress"]


# ---------------------------------------------------------------------------
# 1. unwritable outputs: exit 2, one line, before any computation
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("out", ["/proc/x.csv", "", "/dev/full", "DIR", "/nonexistent/x.csv"])
def test_sweep_unwritable_out_refused_before_computing(out, tmp_path, capsys, no_compute):
    out = str(tmp_path) if out == "DIR" else out
    one_line_error(*call(*SWEEP, "--out", out, capsys=capsys), "--out")


@pytest.mark.parametrize("out", ["/proc/x.png", "/dev/full", "DIR", ".png"])
def test_figure_unwritable_out_refused_before_computing(out, tmp_path, capsys, no_compute, monkeypatch):
    monkeypatch.chdir("/proc" if out == ".png" else tmp_path)
    out = str(tmp_path) + "/" if out == "DIR" else out
    code, o, err = call("figure", "1", "--out", out, capsys=capsys)
    one_line_error(code, o, err, "--out")


def test_check_writable_names_parameter(tmp_path):
    for bad in ("", " ", "a\x00b", str(tmp_path), "/proc/x.csv", 3):
        with pytest.raises(TypeError if bad == 3 else ValueError, match="out"):
            check_writable(bad, "out")
    assert check_writable(tmp_path / "ok.csv", "out") == str(tmp_path / "ok.csv")
    assert os.listdir(tmp_path) == []          # the probe file is gone


def test_full_disk_while_writing_keeps_old_file(tmp_path, monkeypatch):
    """ENOSPC in the middle of the write: a ValueError naming the path, the old file intact."""
    target = tmp_path / "old.csv"
    target.write_text("old content\n")
    real_fsync = os.fsync

    def full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    res = sw.sweep(dict(n=40, p=20, d=5, noise=0.5), progress=False)
    with pytest.raises(ValueError, match="No space left"):
        res.to_csv(target)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert target.read_text() == "old content\n"
    assert sorted(os.listdir(tmp_path)) == ["old.csv"]


# ---------------------------------------------------------------------------
# 1-2. resource guards: refused up front, naming the argument and the estimate
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv, names", [
    (RISK + ["--p", "1000000000", "--embedding", "gaussian"], ["--p", "GiB", "--max-memory"]),
    (RISK + ["--p", "10000000", "--embedding", "gaussian"], ["--p", "GiB"]),
    (RISK + ["--p", "150", "--simulate", "--reps", str(10**12)], ["--reps", "GiB"]),
    (RISK + ["--p", "150", "--simulate", "--reps", str(10**7)], ["--reps", "--max-work"]),
    (["risk", "--n", "100", "--p", "150", "--d", "100000", "--noise", "0.5", "--embedding", "gaussian"],
     ["--d", "GiB"]),
    (["sweep", "--n", "2:1000000", "--p", "1:1000000", "--d", "5", "--noise", "0.5"],
     ["points", "--max-memory"]),
    (["figure", "1", "--out", "OUT.png", "--dpi", "100000"], ["--dpi", "GiB"]),
    (["figure", "1", "--out", "OUT.png", "--reps", str(10**6)], ["--reps", "--max-work"]),
    (["figure", "1", "--out", "OUT.png", "--reps", str(10**9)], ["--reps", "--max-memory"]),
])
def test_too_large_refused_up_front(argv, names, tmp_path, capsys, no_compute):
    argv = [str(tmp_path / "f.png") if a == "OUT.png" else a for a in argv]
    one_line_error(*call(*argv, capsys=capsys), *names)


def test_caps_can_be_raised_and_lowered(capsys, monkeypatch):
    small = RISK[:2] + ["40", "--d", "6", "--noise", "0.5", "--p", "60", "--embedding", "gaussian"]
    assert call(*small, capsys=capsys)[0] == 0
    one_line_error(*call(*small, "--max-memory", "1K", capsys=capsys), "--p", "1 KiB")
    one_line_error(*call(*small, "--simulate", "--max-work", "1e3", capsys=capsys), "--reps", "--max-work")
    monkeypatch.setenv(cli.ENV_MEMORY, "1K")
    one_line_error(*call(*small, capsys=capsys), "--p", "1 KiB")
    assert call(*small, "--max-memory", "none", capsys=capsys)[0] == 0   # the flag wins
    monkeypatch.setenv(cli.ENV_MEMORY, "lots")
    one_line_error(*call(*small, capsys=capsys), "HMMRISK_MAX_MEMORY")
    assert os.environ[cli.ENV_MEMORY] == "lots"                   # the CLI only reads it
    monkeypatch.delenv(cli.ENV_MEMORY)
    for bad in ("-1", "12Q", "nan", "１G"):
        one_line_error(*call(*small, "--max-memory", bad, capsys=capsys), "--max-memory")
    one_line_error(*call(*small, "--max-work", "5G", capsys=capsys), "--max-work")


def test_parse_amount():
    assert _resources.parse_amount("x", "16G", sizes=True) == 16 * 2**30
    assert _resources.parse_amount("x", "512MiB", sizes=True) == 512 * 2**20
    assert _resources.parse_amount("x", "1e13", sizes=False) == 1e13
    assert _resources.parse_amount("x", "none", sizes=False) == float("inf")


def test_api_guards_name_the_parameter(monkeypatch):
    with pytest.raises(ValueError, match=r"p = 1e\+300"):
        make_model(1e300, 5, 0.5)
    with pytest.raises(ValueError, match=r"p = 1000000000.*GiB"):
        make_model(10**9, 50, 0.5)
    model = make_model(60, 6, 0.5, rng=0)
    with pytest.raises(ValueError, match=r"reps = 1000000000000 needs about .* TiB"):
        simulate_risk(model, 40, reps=10**12, rng=0)
    with pytest.raises(ValueError, match="points"):
        sw.grid_points(dict(n=range(2, 10**6), p=range(1, 10**6), d=5, noise=0.5))
    with _resources.limits(work=1e6), pytest.raises(ValueError, match="sweep of 2 points"):
        sw.sweep(dict(n=40, p=(20, 60), d=5, noise=0.5), simulate=True, reps=10**4, progress=False)


def test_fit_simulation_runs_in_chunks_with_bounded_memory(monkeypatch):
    """p = 20000 >> n: the fit route's working arrays stay within a chunk, and stay right."""
    import tracemalloc

    from hmmrisk.population import population
    from hmmrisk.theory import predicted_risk

    model = make_model(20000, 3, 0.5, rng=1)
    n, reps = 20, 40
    per_set, _ = _resources._per_set(n, 20000, 3, "fit", 0.0)
    monkeypatch.setattr(_resources, "CHUNK_BYTES", 4 * per_set)   # 4 sets a chunk: 10 chunks
    assert _resources.sim_chunk(n, 20000, 3, "fit") == 4
    tracemalloc.start()
    est = simulate_risk(model, n, reps=reps, rng=2, method="fit")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    unchunked = reps * per_set
    assert peak < 0.5 * unchunked, (peak, unchunked)
    assert peak < 8 * per_set
    pred = predicted_risk(population(model), n)
    assert abs(est.risk - pred.risk) < 4 * est.stderr + 0.05 * pred.risk


def test_chunking_keeps_small_runs_bitwise():
    """reps within one chunk: exactly the draws of an unchunked run (the conditional sampler alone)."""
    from hmmrisk.population import population
    from hmmrisk.montecarlo import _conditional_draws

    model = make_model(60, 6, 0.5, rng=0)
    est = simulate_risk(model, 40, reps=300, rng=5)
    bias, var = _conditional_draws(population(model), 40, 300, np.random.default_rng(5))
    np.testing.assert_array_equal(est.risks, bias + var)


# ---------------------------------------------------------------------------
# 3. simulator at huge snr: refused naming snr (it is accurate below the range)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("snr", ["1e13", "1e200", "1e300"])
def test_simulation_refuses_snr_outside_range(snr, capsys):
    one_line_error(*call(*RISK, "--p", "150", "--snr", snr, "--simulate", "--reps", "50",
                         capsys=capsys), "snr")


def test_snr_overflow_blames_snr_not_W(capsys):
    code, out, err = call(*RISK, "--p", "150", "--snr", "1e308", capsys=capsys)
    one_line_error(code, out, err, "snr")
    assert err.startswith("hmmrisk risk: error: snr must"), err
    with pytest.raises(ValueError, match="snr"):
        make_model(150, 50, 0.5, snr=1e308)


def test_simulation_accurate_at_top_of_range():
    """At the largest accepted snr the Monte Carlo keeps its digits (n=100, p=150, d=50).

    The excess risk converges as snr -> infinity (corrections O(1/snr)), so with the
    same draws the estimate at the top of the range must match the one at snr = 1e6
    to 1e-4 (at snr = 1e13, outside the range, it came out 126-288 instead of 77),
    and the plain fit route (an independent estimator) within its standard errors.
    """
    top = _resources.MAX_SIGNAL_EIGENVALUE * 50 / 150 * 0.99
    inside = simulate_risk(make_model(150, 50, 0.5, snr=1e6, rng=0), 100, reps=400, rng=1)
    model = make_model(150, 50, 0.5, snr=top, rng=0)
    est = simulate_risk(model, 100, reps=400, rng=1)
    assert abs(est.risk - inside.risk) < 1e-4 * inside.risk, (est.risk, inside.risk)
    fit = simulate_risk(model, 100, reps=100, rng=2, method="fit")
    assert abs(est.risk - fit.risk) < 4 * np.hypot(est.stderr, fit.stderr), (est.risk, fit.risk)
    with pytest.raises(ValueError, match="snr"):
        simulate_risk(make_model(150, 50, 0.5, snr=top * 1.1, rng=0), 100, reps=10, rng=1)


# ---------------------------------------------------------------------------
# 7. smaller items
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv, name", [
    (RISK + ["--p", "１００"], "--p"),
    (RISK + ["--p", "1_000"], "--p"),
    (["risk", "--n", "100", "--p", "150", "--d", "50", "--noise", "０.5"], "--noise"),
    (SWEEP[:3] + ["１00"] + SWEEP[4:], "--p"),
    (SWEEP + ["--snr", "1:２"], "--snr"),
])
def test_full_width_digits_rejected(argv, name, capsys):
    one_line_error(*call(*argv, capsys=capsys), name)


def _csv(tmp_path, text, binary=False):
    path = tmp_path / "x.csv"
    (path.write_bytes if binary else path.write_text)(text)
    return path


def test_from_csv_names_row_and_column(tmp_path):
    res = sw.sweep(dict(n=40, p=(20, 60), d=5, noise=0.5), progress=False)
    lines = res.to_csv().splitlines()
    short = "\n".join(lines[:2] + [",".join(lines[2].split(",")[:5])]) + "\n"
    with pytest.raises(ValueError, match=r"row 3 has 5 cells"):
        sw.SweepResult.from_csv(_csv(tmp_path, short))
    cells = lines[2].split(",")
    cells[sw.COLUMNS.index("theory_risk")] = "abc"
    with pytest.raises(ValueError, match=r"row 3, column 'theory_risk' must be a number, got 'abc'"):
        sw.SweepResult.from_csv(_csv(tmp_path, "\n".join(lines[:2] + [",".join(cells)]) + "\n"))
    cells = lines[1].split(",")
    cells[sw.COLUMNS.index("p")] = "2.5"
    with pytest.raises(ValueError, match=r"row 2, column 'p' must be an integer"):
        sw.SweepResult.from_csv(io.StringIO("\n".join([lines[0], ",".join(cells)]) + "\n"))
    for blob in (b"\x89PNG\r\n\x1a\n\x00\x00\x00", bytes(range(256))):
        with pytest.raises(ValueError, match="path"):
            sw.SweepResult.from_csv(_csv(tmp_path, blob, binary=True))
    with pytest.raises(ValueError, match="path"):
        sw.SweepResult.from_csv(tmp_path / "missing.csv")
    assert sw.SweepResult.from_csv(io.StringIO(res.to_csv())).rows[1]["p"] == 60


@pytest.mark.parametrize("column, cell, what", [
    ("n", "-5", "an integer >= 2"), ("p", "0", "an integer >= 1"), ("sim_reps", "-1", "an integer >= 0"),
    ("embedding", "<script>", "one of"), ("formula", "<b>x</b>", "one of"),
    ("noise", "1.5", r"a number in \[0, 1\]"), ("noise", "nan", r"a number in \[0, 1\]"),
    ("snr", "inf", "a finite number > 0"), ("snr", "-1", "a finite number > 0"),
])
def test_from_csv_refuses_invalid_values(column, cell, what):
    """Values no sweep can write are refused naming the row and the column (issue 28)."""
    lines = sw.sweep(dict(n=40, p=(20, 60), d=5, noise=0.5), progress=False).to_csv().splitlines()
    cells = lines[2].split(",")
    cells[sw.COLUMNS.index(column)] = cell
    text = "\n".join(lines[:2] + [",".join(cells)]) + "\n"
    with pytest.raises(ValueError, match=rf"row 3, column '{column}' must be {what}.*got '"):
        sw.SweepResult.from_csv(io.StringIO(text))


def test_from_csv_bom_long_cells_size_and_fifo(tmp_path):
    """A byte-order mark is skipped; long cells are cut in the message; big files and FIFOs refused."""
    import threading

    res = sw.sweep(dict(n=40, p=(20, 60), d=5, noise=0.5), progress=False)
    text = res.to_csv()
    bom = _csv(tmp_path, b"\xef\xbb\xbf" + text.encode(), binary=True)
    assert sw.SweepResult.from_csv(bom).to_csv() == text
    assert sw.SweepResult.from_csv(io.StringIO("\ufeff" + text)).to_csv() == text
    lines = text.splitlines()
    for column in ("n", "theory_risk", "embedding"):
        cells = lines[1].split(",")
        cells[sw.COLUMNS.index(column)] = "9" * 5000
        with pytest.raises(ValueError, match=f"row 2, column '{column}'") as info:
            sw.SweepResult.from_csv(io.StringIO("\n".join([lines[0], ",".join(cells)]) + "\n"))
        assert "(5000 characters)" in str(info.value) and len(str(info.value)) < 300, info.value
    with pytest.raises(ValueError, match="header") as info:
        sw.SweepResult.from_csv(io.StringIO("x" * 100000 + "\n"))
    assert len(str(info.value)) < 1000
    big = tmp_path / "big.csv"
    with open(big, "wb") as fh:                  # sparse: nothing is written, nothing to read
        fh.write(text.encode())
        fh.truncate(sw.MAX_CSV_BYTES + 1)
    with pytest.raises(ValueError, match="larger than"):
        sw.SweepResult.from_csv(big)
    with pytest.raises(ValueError, match="larger than"):
        sw.SweepResult.from_csv(io.StringIO(text + "\n" * sw.MAX_CSV_BYTES))
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    errors = []

    def read():
        try:
            sw.SweepResult.from_csv(fifo)
        except ValueError as exc:
            errors.append(str(exc))
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():                        # blocked on open: a writer releases it
        with open(fifo, "w"):
            pass
        reader.join(10)
        pytest.fail("from_csv blocked on a FIFO")
    assert len(errors) == 1 and "not a regular file" in errors[0], errors


def _run_cli(*argv):
    return subprocess.run([sys.executable, "-m", "hmmrisk", *map(str, argv)], capture_output=True,
                          text=True, env=ENV, timeout=300)


def test_out_symlink_is_written_through(tmp_path):
    """--out a symbolic link: its target gets the new CSV (atomically), the link stays (issue 28)."""
    (tmp_path / "data").mkdir()
    target = tmp_path / "data" / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(os.path.join("data", "real.csv"))
    proc = _run_cli(*SWEEP, "--out", link)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == os.path.join("data", "real.csv")
    assert sw.SweepResult.from_csv(target).column("p").tolist() == [20, 60]
    assert sorted(os.listdir(tmp_path)) == ["data", "latest.csv"]
    assert os.listdir(tmp_path / "data") == ["real.csv"]
    loop = tmp_path / "loop.csv"
    loop.symlink_to("loop.csv")
    proc = _run_cli(*SWEEP, "--out", loop)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "--out" in proc.stderr and "symbolic link" in proc.stderr, proc.stderr


@pytest.mark.parametrize("length", [249, 255])
def test_out_long_legal_file_name(length, tmp_path):
    """A file name of 249 (or the maximum 255) bytes: its temporary file's name still fits."""
    out = tmp_path / ("é" * 20 + "x" * (length - 44) + ".csv")
    assert len(os.fsencode(out.name)) == length
    proc = _run_cli(*SWEEP, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert sw.SweepResult.from_csv(out).column("p").tolist() == [20, 60]
    assert os.listdir(tmp_path) == [out.name]


def test_point_seed_bad_point():
    with pytest.raises(ValueError, match=r"embedding must be one of .*'fourier'"):
        sw.point_seed(0, (100, 150, 50, 0.5, 1.0, "fourier"))
    with pytest.raises(ValueError, match=r"point must be a tuple"):
        sw.point_seed(0, (100, 150))


# ---------------------------------------------------------------------------
# 5. atomic writes: a write killed mid-way leaves the old content
# ---------------------------------------------------------------------------

KILLED_WRITER = textwrap.dedent("""
    import sys, time
    import hmmrisk.sweep as sw
    from hmmrisk import _io

    path, what = sys.argv[1], sys.argv[2]
    if what == "csv":
        res = sw.SweepResult([dict(zip(sw.COLUMNS, [40, 20, 5, 0.5, 1.0, "orthogonal", "x"]
                                       + [1.0] * 10 + [0]))] * 50000)
        real = sw.SweepResult._write_csv

        def slow(self, fh):             # write half, report, then hang until killed
            half = sw.SweepResult(self.rows[:25000])
            real(half, fh)
            fh.flush()
            print("half", flush=True)
            time.sleep(60)
        sw.SweepResult._write_csv = slow
        res.to_csv(path)
    else:
        with _io.atomic_write(path, "wb", name="--out") as fh:
            fh.write(b"\\x89PNG partial" * 1000)
            fh.flush()
            print("half", flush=True)
            time.sleep(60)
""")


@pytest.mark.parametrize("what", ["csv", "figure"])
def test_killed_write_keeps_old_file(what, tmp_path):
    target = tmp_path / ("out.csv" if what == "csv" else "out.png")
    target.write_bytes(b"the previous content\n")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target), what],
                            stdout=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout.readline().strip() == "half"
    partial = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert len(partial) == 1 and os.path.getsize(tmp_path / partial[0]) > 1000
    proc.kill()
    proc.wait()
    assert target.read_bytes() == b"the previous content\n"


def test_atomic_write_replaces_on_success_only(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as fh:
            fh.write("new")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]
    with atomic_write(target, "w") as fh:
        fh.write("new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["a.txt"]


def test_figure_written_atomically_and_cli_sweep_file(tmp_path, capsys):
    out = tmp_path / "s.csv"
    out.write_text("old")
    code, _, err = call(*SWEEP, "--out", out, capsys=capsys)
    assert code == 0, err
    assert sw.SweepResult.from_csv(out).column("p").tolist() == [20, 60]
    assert os.listdir(tmp_path) == ["s.csv"]


# ---------------------------------------------------------------------------
# 6. bitwise reproducibility whatever OPENBLAS_NUM_THREADS is
# ---------------------------------------------------------------------------

BLAS_SCRIPT = textwrap.dedent("""
    import numpy as np
    import hmmrisk
    import hmmrisk.sweep as sw
    m = hmmrisk.make_model(300, 40, 0.5, rng=0)
    parts = [hmmrisk.simulate_risk(m, 200, reps=30, rng=1, method="fit").risks,
             hmmrisk.simulate_risk(m, 200, reps=30, rng=1, ridge=0.1).risks,
             hmmrisk.simulate_risk(m, 120, reps=300, rng=1).risks,
             np.asarray(m.W)]
    res = sw.sweep(dict(n=100, p=(60, 150, 300), d=50, noise=0.5), simulate=True, reps=50,
                   progress=False)
    print(np.concatenate([a.ravel() for a in parts]).tobytes().hex())
    print(res.to_csv())
""")


def test_same_bits_for_any_blas_thread_count():
    outs = []
    for threads in ("1", "2"):
        env = dict(ENV, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads,
                   MKL_NUM_THREADS=threads)
        proc = subprocess.run([sys.executable, "-c", BLAS_SCRIPT], capture_output=True, text=True,
                              env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    assert outs[0] == outs[1]
    cli_outs = []
    for threads in ("1", "2"):
        env = dict(ENV, OPENBLAS_NUM_THREADS=threads)
        proc = subprocess.run([sys.executable, "-m", "hmmrisk", "risk", "--n", "100", "--p", "150",
                               "--d", "50", "--noise", "0.5", "--simulate", "--reps", "300",
                               "--json"], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        cli_outs.append(proc.stdout)
    assert cli_outs[0] == cli_outs[1]


# ---------------------------------------------------------------------------
# 4. Ctrl-C with workers: status 130, one line, no worker left
# ---------------------------------------------------------------------------

#: Runs ``python ARGS...`` with SIGINT and SIGTERM at their defaults, whatever this test run
#: inherited (a background job of a shell, ``nohup`` and CI runners start it with SIGINT
#: ignored, and a program keeps an ignored signal ignored): the child gets the
#: disposition the test relies on.  ``exec`` keeps the process id.
DEFAULT_SIGNALS = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                   "signal.signal(signal.SIGTERM, signal.SIG_DFL); "
                   "os.execv(sys.executable, [sys.executable] + sys.argv[1:])")


def _children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def _cpu_seconds(pid):
    """User + system CPU seconds of a running process (``/proc/PID/stat``)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except FileNotFoundError:       # ended meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _import_cpu_seconds():
    """CPU seconds a fresh interpreter spends importing the CLI and the sweep runner."""
    before = os.times()
    subprocess.run([sys.executable, "-c", "import hmmrisk.cli, hmmrisk.sweep"], check=True, env=ENV)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigint_stops_sweep_promptly(workers, tmp_path):
    """SIGINT in the middle of a sweep: exit 130 with one line, the old file kept, no worker left.

    The signal is sent once the sweep is computing (not while Python is still
    importing), which is decided on CPU time, not wall time, so a loaded
    machine only makes the test slower: the process has spent more CPU than an
    interpreter importing the CLI (measured just before) plus one second.  The
    whole sweep (251 points of 2,000 training sets) takes minutes, so status
    130 within the timeout shows that it stopped rather than finished.
    """
    out = tmp_path / "sim.csv"
    out.write_text("old\n")
    started = _import_cpu_seconds() + 1.0
    cmd = [sys.executable, "-c", DEFAULT_SIGNALS, "-m", "hmmrisk", "sweep", "--n", "100",
           "--p", "150:400", "--d", "50", "--noise", "0.5", "--simulate", "--reps", "2000",
           "--workers", workers, "--no-progress", "--out", str(out)]
    # its own session: a Ctrl-C typed at the terminal running the tests does not reach it
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)
    pool = min(int(workers), len(os.sched_getaffinity(0)))     # the CLI's worker processes
    kids = []
    try:
        while proc.poll() is None:                   # wait until the work has started
            kids = _children(proc.pid)
            busy = sum(_cpu_seconds(k) for k in kids)
            if _cpu_seconds(proc.pid) + busy > started and len(kids) >= (pool if pool > 1 else 0):
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    # or -SIGINT (a shell shows 130 for both): CPython ends the process by SIGINT after a
    # KeyboardInterrupt raised inside some C-level code (SciPy's lazy Cython imports)
    assert proc.returncode in (130, -signal.SIGINT), err
    assert err.strip().splitlines() == ["hmmrisk sweep: interrupted"], err
    assert out.read_text() == "old\n"
    time.sleep(0.5)
    alive = [k for k in kids if os.path.exists(f"/proc/{k}")
             and "Z" not in open(f"/proc/{k}/stat").read().split()[2]]
    assert alive == [], alive
