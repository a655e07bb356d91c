"""`hmmrisk figure 3` as a user starts it: bounded options, its defaults, its signals."""

import contextlib
import os
import re
import resource
import signal
import subprocess
import sys
import time

import pytest

import hmmrisk.transformer as f3
from hmmrisk import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _help() -> str:
    parser = cli._Parser(prog="hmmrisk")
    sub = parser.add_subparsers(parser_class=cli._Parser)
    return cli._figure_parser(sub).format_help()


def test_book_defaults_in_the_help_are_the_protocol_s():
    text = " ".join(_help().split())
    pr = f3.Protocol()
    seeds = f"{pr.seeds[0]}:{pr.seeds[-1]}" if pr.seeds == tuple(range(pr.seeds[0], pr.seeds[-1] + 1)) \
        else ",".join(map(str, pr.seeds))
    expect = {"--widths": ",".join(map(str, pr.widths)), "--seeds": seeds, "--steps": pr.steps,
              "--warmup": pr.warmup, "--n-train": pr.n_train, "--n-draws": pr.n_draws,
              "--n-test": pr.n_test, "--n-lm-test": pr.n_lm_test, "--workers": pr.n_workers}
    for flag, value in expect.items():
        m = re.search(re.escape(flag) + r" [A-Z_]+ .*?\(book: ([^;)]+)", text)
        assert m and m.group(1) == str(value), (flag, m and m.group(1), value)
    assert cli._ints(seeds) == list(pr.seeds)


def _start(*args, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "hmmrisk", "figure", "3", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.parametrize("args, name", [
    (("--widths", "100000000"), "widths"), (("--steps", "100000000"), "steps"),
    (("--n-test", "100000000"), "n_test"), (("--set", "length=1000000"), "length"),
    (("--widths", "4096", "--seeds", "0:999"), "figure 3"),
])
def test_absurd_sizes_exit_2_with_one_line_at_once(tmp_path, args, name):
    """Refused before any work: the child's CPU time is that of importing torch (a few seconds;
    CPU, not wall-clock time, so that a loaded machine does not fail the test)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = _start("--out", str(tmp_path / "f.png"), *args)
    out, err = proc.communicate(timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and name in err, err
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) < 20


def _children(pid):
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except FileNotFoundError:
        pytest.skip("pgrep is not available")
    return [int(x) for x in out.split()]


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_process_group_ends_figure_3_with_one_line(tmp_path, sig, code):
    """Ctrl-C (to the whole group, as a terminal sends it) or SIGTERM during the workers' run:
    one line, the conventional status, no worker left alive."""
    def restore_sigint():                  # a background job inherits SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = _start("--out", str(tmp_path / "f.png"), "--widths", "32,64", "--seeds", "0,1",
                  "--steps", "400", "--workers", "2", start_new_session=True,
                  preexec_fn=restore_sigint)
    deadline = time.time() + 300
    while time.time() < deadline and len(_children(proc.pid)) < 2:
        time.sleep(0.5)
    time.sleep(8)                           # the workers are computing
    kids = _children(proc.pid)
    os.killpg(proc.pid, sig) if sig == signal.SIGINT else proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    lines = [line for line in err.splitlines() if not line.startswith("figure 3: about")]
    assert len(lines) == 1, err
    time.sleep(1)
    alive = [k for k in kids if os.path.exists(f"/proc/{k}") and
             open(f"/proc/{k}/stat").read().split()[2] != "Z"]
    assert not alive, alive
    assert not (tmp_path / "f.png").exists()


@pytest.mark.slow
def test_a_killed_resource_tracker_leaves_the_run_quiet_and_whole(tmp_path):
    """SIGKILL to multiprocessing's resource tracker (a helper process of the run) while the
    workers compute: the run completes, writes its figure, and prints only its estimate line
    (it used to print the relaunch warning and a KeyError traceback per semaphore)."""
    out = tmp_path / "f.png"
    proc = _start("--out", str(out), "--widths", "8,16", "--seeds", "0,1", "--steps", "300",
                  "--workers", "2", start_new_session=True)
    tracker, deadline = None, time.time() + 300
    while tracker is None and time.time() < deadline:
        for kid in _children(proc.pid):
            with contextlib.suppress(FileNotFoundError):
                if b"resource_tracker" in open(f"/proc/{kid}/cmdline", "rb").read():
                    tracker = kid
        time.sleep(0.2)
    assert tracker is not None, proc.communicate()
    os.kill(tracker, signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert [line for line in err.splitlines() if not line.startswith("figure 3: about")] == [], err
    assert out.stat().st_size > 0


@pytest.mark.slow
def test_workers_start_with_the_signals_held_and_ctrl_c_then_gives_one_line(tmp_path):
    """A spawned worker is interruptible from its start until its initializer sets SIGINT
    ignored; a Ctrl-C to the group in that window (it imports torch for seconds) printed the
    worker's KeyboardInterrupt traceback. The workers are now started with SIGINT and SIGTERM
    blocked (a blocked signal stays blocked across fork and exec): read from the kernel's
    SigBlk of a worker still starting. Then Ctrl-C to the group: one line, 130."""
    def restore_sigint():                  # a background job inherits SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    def starting(pid):
        """SigBlk of a spawned worker with 0.1 s of CPU (importing; before its initializer)."""
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            if b"spawn_main" in open(f"/proc/{pid}/cmdline", "rb").read():
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                if (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") >= 0.1:
                    status = open(f"/proc/{pid}/status").read()
                    return int(re.search(r"^SigBlk:\s*([0-9a-f]+)", status, re.M).group(1), 16)
        return None

    proc = _start("--out", str(tmp_path / "f.png"), "--widths", "8,16", "--seeds", "0,1",
                  "--steps", "300", "--workers", "2", start_new_session=True,
                  preexec_fn=restore_sigint)
    blocked, deadline = None, time.time() + 300
    while blocked is None and time.time() < deadline:
        blocked = next((b for b in map(starting, _children(proc.pid)) if b is not None), None)
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert blocked is not None, err
    for sig in (signal.SIGINT, signal.SIGTERM):
        assert blocked >> (sig - 1) & 1, f"a starting worker does not hold {sig.name}: {blocked:#x}"
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if not line.startswith("figure 3: about")]
    assert lines == ["hmmrisk figure: interrupted"], err
