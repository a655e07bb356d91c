"""Signals of the command line: SIGINT and SIGTERM end a run with one line, at any moment.

Three phases, each with its own handlers:

* **start-up** (:func:`guard_startup`, called first thing by the package when
  the process *is* the command line: ``python -m hmmrisk`` or the ``hmmrisk``
  script): while Python imports NumPy and the package nothing has been written
  and nothing started, so a signal prints ``hmmrisk CMD: interrupted`` (or
  ``terminated``) and exits at once with status 130 (SIGINT) or 143 (SIGTERM);
* **run** (:func:`handling`, around :func:`hmmrisk.cli.main`): SIGINT raises
  :class:`KeyboardInterrupt` and SIGTERM :class:`Terminated` (a subclass), so
  the same clean-up runs for both (worker pools ended, temporary files
  removed) before ``main`` prints its one line and returns 130 / 143;
* **workers** (:func:`worker_started`, the pool's initializer): SIGINT is
  ignored (the parent ends the workers; a terminal sends Ctrl-C to the whole
  process group) and SIGTERM ends the process at once.  The parent starts them
  inside :func:`held` (the sweep's forked workers and Figure 3's spawned ones:
  a blocked signal stays blocked across fork and exec), so no worker can see
  a signal before its handlers are set.

A signal the process inherited as ignored (``nohup``, a background job of a
non-interactive shell) stays ignored in every phase, as POSIX programs do.
Imports only the standard library: it runs before NumPy is imported.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading

__all__ = ["Terminated", "WorkerLost", "guard_startup", "handling", "held", "status",
           "worker_started"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_WORDS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


class Terminated(KeyboardInterrupt):
    """SIGTERM during a run: handled like Ctrl-C's ``KeyboardInterrupt`` (exit status 143)."""


class WorkerLost(RuntimeError):
    """A worker process of a pool died (killed by a signal, or it exited): the run cannot finish."""

    def __init__(self, procs):
        codes = sorted((p.exitcode for p in procs if p.exitcode not in (None, 0)),
                       key=lambda c: c == -signal.SIGTERM)   # the pool SIGTERMs the others itself
        if not codes:
            how = ""
        elif codes[0] < 0:
            try:
                how = f" (killed by signal {signal.Signals(-codes[0]).name})"
            except ValueError:
                how = f" (killed by signal {-codes[0]})"
        else:
            how = f" (exit status {codes[0]})"
        super().__init__(f"a worker process died{how}; nothing was written")


def status(exc: KeyboardInterrupt) -> tuple[str, int]:
    """``(word, exit status)`` of an interrupt: ``("terminated", 143)`` or ``("interrupted", 130)``."""
    return ("terminated", 143) if isinstance(exc, Terminated) else ("interrupted", 130)


def _prog() -> str:
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    return "hmmrisk " + cmd if cmd.isascii() and cmd.isalpha() else "hmmrisk"


def _exit_now(signum, frame):
    os.write(2, f"{_prog()}: {_WORDS[signum]}\n".encode())
    os._exit(128 + signum)


#: Seconds a command has, after SIGTERM, to unwind and exit on its own.
GRACE = 10.0


def _overdue(signum, frame):
    os.write(2, f"{_prog()}: terminated (cleanup took over {GRACE:g} s)\n".encode())
    os._exit(143)


def _terminate(signum, frame):
    # The exception unwinds the command (pools ended, temporary files removed).
    # Raised where Python swallows exceptions (a __del__, a weakref callback) it
    # would be lost, so an alarm ends the process anyway after GRACE seconds.
    signal.signal(signal.SIGALRM, _overdue)
    signal.setitimer(signal.ITIMER_REAL, GRACE)
    raise Terminated()


def _starting_cli() -> bool:
    """Is this process starting the command line (rather than importing the library)?"""
    if sys.argv[:1] == ["-m"]:          # ``python -m X``: argv[0] is "-m" while X is located
        argv = list(getattr(sys, "orig_argv", ()))
        for i, arg in enumerate(argv[1:], start=1):
            if arg == "-m":
                return argv[i + 1:i + 2] == ["hmmrisk"]
            if arg.startswith("-m"):
                return arg == "-mhmmrisk"
        return False
    main = sys.modules.get("__main__")
    return (bool(sys.argv) and os.path.basename(sys.argv[0]) == "hmmrisk"
            and getattr(main, "__file__", None) == sys.argv[0])    # the installed script


def guard_startup() -> None:
    """If this process is the command line: a signal during the imports exits at once, one line."""
    if not _starting_cli():
        return
    for sig in _SIGNALS:
        if signal.getsignal(sig) in (signal.default_int_handler, signal.SIG_DFL):
            signal.signal(sig, _exit_now)


@contextlib.contextmanager
def handling():
    """During a command: SIGINT raises ``KeyboardInterrupt``, SIGTERM :class:`Terminated`.

    Handlers other than Python's defaults and the start-up guard (an ignored
    signal, a caller's own handler) are kept; the previous ones come back on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    if old[signal.SIGINT] is _exit_now:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if old[signal.SIGTERM] in (signal.SIG_DFL, _exit_now):
        signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        for sig, handler in old.items():
            if handler is not None:
                signal.signal(sig, handler)


def cli(main):
    """Decorator of ``main``: :func:`handling` around it, and one line for an interrupt it lets out."""
    @functools.wraps(main)
    def wrapper(argv=None):
        try:
            with handling():
                return main(argv)
        except KeyboardInterrupt as exc:          # e.g. while parsing the arguments
            word, code = status(exc)
            print(f"hmmrisk: {word}", file=sys.stderr)
            return code
    return wrapper


@contextlib.contextmanager
def held():
    """Block SIGINT and SIGTERM in this thread (a signal waits until the block ends)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def worker_started() -> None:
    """A worker process: SIGINT ignored, SIGTERM ends it at once, then stop holding them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
