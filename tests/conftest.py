"""Shared helpers for the tests: markers, Monte Carlo z-scores and the book build.

Markers are assigned here, by file and by fixture, so a new test file needs no
marker of its own:

* ``notebook``: a chapter executed by nbmake (``pytest --nbmake chapters``);
* ``book``: needs the book build (uses the ``book`` fixture);
* ``browser``: opens the built site in headless Chromium (``test_browser.py``);
* ``unit``: everything else: the unit and property tests;
* ``slow``: those unit tests that take more than a few seconds (``SLOW``).

``make check`` is ``-m "unit and not slow"`` (the edit-test loop),
``-m unit`` all unit tests, ``-m "not browser"`` skips Chromium, and so on.

The book is built once per test session, in a background process started as
soon as collection has finished (if any selected test needs it).  In such a
session the chapters' second execution (nbmake) runs in a second background
process (:class:`_SecondRun`), so the build, the second execution and the
unit tests share the two cores; the tests that need the build run last
(``pytest_collection_modifyitems``) and wait for it.  It is reused by ``test_book.py`` (clean build, statements and
figures rendered, figure data equal to the second execution's) and
``test_browser.py`` (every page in headless Chromium).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hmmrisk import figure_data

ROOT = Path(__file__).resolve().parents[1]
#: Where the ``book`` fixture builds: the reader's own ``_build``, so that after
#: ``make test`` ``_build/html`` is the very site the tests checked and the
#: browser's screenshots lie next to it in ``_build/screenshots``.
BUILD = ROOT / "_build"
JB_FLAGS = ["-n", "-W", "--keep-going"]
#: Chapters that the book build executes but nbmake does not execute a second
#: time (too costly to run twice per ``make test``), each with the test that
#: covers the reproducibility of its figures instead.
EXECUTED_ONCE = {
    "chapters/transformer.ipynb":
        "tests/test_transformer_experiment.py::test_reduced_protocol_is_bitwise_reproducible "
        "(a reduced Figure 3 protocol run twice) and tests/test_figure3_repro.py (the same "
        "in one process and on 2 worker processes, with identical data)",
}
#: Unit tests that take more than a few seconds (marker ``slow``): a file name,
#: or ``file::test`` (every parametrisation of it).  ``make test`` runs them,
#: ``make check`` leaves them out.
SLOW = {"test_figure3_repro.py", "test_transformer_experiment.py::test_tiny_protocol_end_to_end",
        "test_transformer_experiment.py::test_reduced_protocol_is_bitwise_reproducible",
        "test_transformer_experiment.py::test_a_pool_left_open_is_released_at_exit",
        "test_risk.py::test_woodbury_route_is_stable_where_it_is_used",
        "test_risk.py::test_conditional_route_agrees_with_fitting_the_head",
        "test_risk_schur.py::test_schur_route_has_the_law_of_fitting_the_head",
        "test_sweep.py::test_serial_processes_and_dask_are_bitwise_identical",
        "test_cli.py::test_figure_3_writes_a_png_with_a_tiny_protocol",
        "test_properties.py::test_kappa_solves_definition1_and_definition2_is_nonnegative"}

MARKERS = {
    "notebook": "a chapter executed by nbmake (pytest --nbmake chapters)",
    "book": "needs the clean -n -W book build (the session's `book` fixture)",
    "browser": "opens the built site in headless Chromium",
    "slow": "a unit test that takes more than a few seconds (conftest.SLOW)",
    "unit": "unit and property tests: no notebook, no build, no browser (make check)",
}


def pytest_configure(config):
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def _path(item) -> Path:
    return Path(str(item.path))


def _marks_for(item) -> list[str]:
    path = _path(item)
    fixtures = set(getattr(item, "fixturenames", ()))
    if path.suffix == ".ipynb":
        return ["notebook"]
    marks = []
    if "book" in fixtures or path.name == "test_book.py":
        marks.append("book")
    if "browser" in fixtures or path.name == "test_browser.py":
        marks.append("browser")
    if not marks:
        marks.append("unit")
        name = getattr(item, "originalname", None) or item.name
        if path.name in SLOW or f"{path.name}::{name}" in SLOW:
            marks.append("slow")
    return marks


def pytest_collection_modifyitems(session, config, items):
    """Mark every item (see the module docstring), leave the chapters of
    ``EXECUTED_ONCE`` to the build, and run the items needing the book last
    (the browser's after the build's own checks)."""
    once = {(ROOT / nb).resolve() for nb in EXECUTED_ONCE}
    skipped = [item for item in items if _path(item).resolve() in once
               and not session.isinitpath(_path(item))]
    if skipped:             # left to the book build, unless named on the command line
        config.hook.pytest_deselected(items=skipped)
        items[:] = [item for item in items if item not in skipped]
    order = {}
    for item in items:
        marks = _marks_for(item)
        for name in marks:
            item.add_marker(name)
        order[item] = 2 if "browser" in marks else 1 if "book" in marks else 0
    items.sort(key=order.__getitem__)   # stable: file order kept within each group


def mc_mean(samples, axis=0):
    """Mean and its standard error along ``axis``."""
    samples = np.asarray(samples, dtype=float)
    k = samples.shape[axis]
    return samples.mean(axis=axis), samples.std(axis=axis, ddof=1) / np.sqrt(k)


class Timeline:
    """When the session's background work ran, in seconds since the session began.

    ``make test`` overlaps the book build, the unit tests, the chapters'
    second execution and the browser's pages; at the end of a session that
    built the book, :func:`pytest_terminal_summary` prints when each started
    and ended (and the slowest chapters of the build), so a slow run shows
    where its time went without a profiler.
    """

    t0 = time.monotonic()
    spans: dict[str, list[float | None]] = {}

    @classmethod
    def start(cls, name: str) -> None:
        cls.spans[name] = [time.monotonic() - cls.t0, None]

    @classmethod
    def end(cls, name: str) -> None:
        if name in cls.spans and cls.spans[name][1] is None:
            cls.spans[name][1] = time.monotonic() - cls.t0

    @classmethod
    def end_with(cls, name: str, proc: subprocess.Popen) -> None:
        """Mark ``name`` ended when ``proc`` exits (a daemon thread waits for it)."""
        threading.Thread(target=lambda: (proc.wait(), cls.end(name)), daemon=True).start()


def timeline_lines(spans: dict, total: float, build_log: str = "", top: int = 3) -> list[str]:
    """The lines :func:`pytest_terminal_summary` prints: one per span, then
    the ``top`` slowest chapters of the build (from its log)."""
    lines = []
    for name, (begin, end) in sorted(spans.items(), key=lambda kv: kv[1][0]):
        took = f"{end - begin:6.1f} s" if end is not None else "  (running)"
        lines.append(f"{name:<22} {begin:6.1f} -> {'' if end is None else f'{end:.1f}':>6}  {took}")
    lines.append(f"{'session':<22} {0.0:6.1f} -> {total:6.1f}  {total:6.1f} s")
    runs = re.findall(r"(\S+\.ipynb): Executed notebook in ([\d.]+) seconds", build_log)
    slowest = sorted(((float(t), Path(nb).stem) for nb, t in runs), reverse=True)[:top]
    if slowest:
        lines.append("slowest chapters in the build: "
                     + ", ".join(f"{name} {t:.0f} s" for t, name in slowest))
    return lines


def pytest_terminal_summary(terminalreporter):
    if "book build" not in Timeline.spans:
        return
    log = _Build.log.read_text(errors="replace") if _Build.log.exists() else ""
    terminalreporter.write_sep("-", "timeline of this session (seconds since it began)")
    for line in timeline_lines(Timeline.spans, time.monotonic() - Timeline.t0, log):
        terminalreporter.write_line(line)


@dataclass(frozen=True)
class BookBuild:
    """A finished ``jupyter-book build``: where it went and what it said."""

    root: Path          # the build folder (``_build``)
    html: Path          # ``_build/html``
    screenshots: Path   # ``_build/screenshots`` (written by test_browser.py)
    figure_data: Path   # digests written by the chapters during this build
    returncode: int
    log: str

    def reports(self, tail: int = 3000) -> str:
        """The execution reports of failing notebooks (``html/reports``), tails included."""
        logs = sorted((self.html / "reports").rglob("*.log")) if self.html.exists() else []
        return "\n".join(f"--- {p}:\n{p.read_text(errors='replace')[-tail:]}" for p in logs)


def _clean(build: Path, keep: Path | None) -> None:
    """Empty ``build`` except the folder ``keep`` (and the folders holding it)."""
    if not build.exists():
        return
    keep = keep.resolve() if keep else None
    for child in build.iterdir():
        child_r = child.resolve()
        if keep is not None and (child_r == keep or child_r in keep.parents):
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


class _Build:
    """The session's one ``jupyter-book build``, running in the background."""

    proc: subprocess.Popen | None = None
    log: Path = BUILD / "jupyter-book.log"
    digests: Path = BUILD / "figure-data" / "book"

    @classmethod
    def start(cls) -> None:
        """Clean ``_build`` (except the nbmake digests) and start the build.

        Every notebook is executed (``execute_notebooks: force``) with
        ``HMMRISK_FIGURE_DATA`` pointing at ``_build/figure-data/book``, so
        each figure cell leaves the digest of its arrays there.  The folder
        that nbmake writes to (``HMMRISK_FIGURE_DATA`` of this process, set
        by ``make test``) is left in place; everything else in ``_build`` is
        removed first, since only a clean build re-emits every warning.
        """
        if cls.proc is not None:
            return
        jb = Path(sys.executable).with_name("jupyter-book")
        if not jb.exists():
            raise RuntimeError(f"jupyter-book not installed next to {sys.executable}")
        nbmake_digests = os.environ.get(figure_data.ENV)
        _clean(BUILD, Path(nbmake_digests) if nbmake_digests else None)
        shutil.rmtree(cls.digests, ignore_errors=True)
        BUILD.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, **{figure_data.ENV: str(cls.digests),
                                  "IPYTHONDIR": str(_priority_profile(BUILD / ".ipython"))})
        with open(cls.log, "w") as out:
            # a session of its own, so that Sphinx's own work (reading, writing)
            # gets the priority of the build's kernels too (_priority_profile);
            # pytest_sessionfinish ends it if the session is interrupted
            cls.proc = subprocess.Popen([str(jb), "build", str(ROOT), *JB_FLAGS],
                                        stdout=out, stderr=subprocess.STDOUT, text=True,
                                        cwd=ROOT, env=env, start_new_session=True)
        _lower_niceness(cls.proc.pid)
        Timeline.start("book build")
        Timeline.end_with("book build", cls.proc)

    @classmethod
    def wait(cls) -> BookBuild:
        cls.start()
        returncode = cls.proc.wait()
        shutil.rmtree(BUILD / ".jupyter_cache", ignore_errors=True)
        return BookBuild(root=BUILD, html=BUILD / "html", screenshots=BUILD / "screenshots",
                         figure_data=cls.digests, returncode=returncode,
                         log=cls.log.read_text(errors="replace"))

    @classmethod
    def stop(cls) -> None:
        _terminate(cls.proc)


#: Autogroup niceness of the build's kernels in ``make test`` (see :func:`_priority_profile`).
BUILD_KERNEL_NICE = -10


def _priority_profile(folder: Path) -> Path:
    """An IPython folder whose startup file gives each kernel of the build CPU priority.

    The build is the session's critical path: Sphinx executes the chapters one
    after the other, and the tests of the build wait for it.  Linux shares the
    CPU between sessions first (autogroup scheduling), and every Jupyter kernel
    is a session of its own (as are the unit tests' and the second execution's),
    so the build's kernels would get an equal share at best.  The startup file
    sets the niceness of the kernel's own session (the kernel and the worker
    processes it spawns, nothing else) to ``BUILD_KERNEL_NICE``, as
    :func:`_lower_niceness` does for the Sphinx process; lowering it needs root
    (CI runs as root), and elsewhere nothing changes.  Outputs are unaffected:
    the file prints nothing.
    """
    startup = folder / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-build-priority.py").write_text(
        "# written by tests/conftest.py for the book build of `make test`\n"
        "try:\n"
        "    with open('/proc/self/autogroup', 'w') as _f:\n"
        f"        _f.write('{BUILD_KERNEL_NICE}')\n"
        "except OSError:\n"
        "    pass\n")
    return folder


def _terminate(proc: subprocess.Popen | None) -> None:
    """End a background process that is still running (SIGTERM, then SIGKILL after 30 s)."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _reuse() -> bool:
    """``HMMRISK_REUSE_BUILD=1``: an author's loop checks the last ``make book``
    again without rebuilding (never set by ``make test``, which always builds
    from scratch)."""
    return os.environ.get("HMMRISK_REUSE_BUILD") == "1" and (BUILD / "html" / "index.html").exists()


def pytest_collection_finish(session):
    """Start the build now if a selected test needs it (not for --collect-only),
    and set the selected chapters aside for their second execution."""
    if session.config.option.collectonly or _reuse():
        return
    if any("book" in getattr(item, "fixturenames", ()) for item in session.items):
        # the chapters' second execution runs beside the build, in its own
        # process (after -m/-k filtering, so only what was selected); it starts when
        # the unit tests are done (_run_order).  Only the chapters that draw a
        # figure run again: the build executes every chapter, and the second
        # execution is there to compare figure data (test_book.py fails if a
        # figure of the build has no digest from it)
        chapters = [item for item in session.items if _path(item).suffix == ".ipynb"]
        if chapters and os.environ.get(_SecondRun.ENV) != "inline":
            _SecondRun.notebooks = [str(_path(item).relative_to(ROOT)) for item in chapters
                                    if _records_figure_data(_path(item))]
            session.config.hook.pytest_deselected(items=chapters)
            session.items[:] = [item for item in session.items if item not in chapters]
        _Build.start()


def _lower_niceness(pid: int) -> None:
    """Set the autogroup niceness of ``pid``'s session to ``BUILD_KERNEL_NICE``
    (refused without root, or without autogroup scheduling: then nothing changes)."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(BUILD_KERNEL_NICE))
    except OSError:
        pass


def _records_figure_data(notebook: Path) -> bool:
    """Whether a chapter records the data of a figure (calls ``figure_data.record``)."""
    return "figure_data.record(" in notebook.read_text(errors="replace")


def pytest_sessionfinish(session, exitstatus):
    _Build.stop()       # an interrupted or failed-early session leaves no build behind
    _SecondRun.stop()


def _needs_build(item) -> bool:
    return item.get_closest_marker("book") is not None or item.get_closest_marker("browser") is not None


def _run_order(items):
    """The session's items, with the build's tests moved up to the first file
    boundary after the build has finished (else they come last, as listed);
    those comparing with the chapters' second execution come last in any case.

    Decided one item ahead (pytest needs the next item to tear fixtures down).
    """
    rest = [item for item in items if not _needs_build(item)]
    # the comparisons with the second execution wait for it: they stay last
    last = [item for item in items if _needs_build(item) and "second_run" in item.fixturenames]
    waiting = [item for item in items if _needs_build(item) and item not in last]
    previous = None
    for item in rest:
        if (waiting and previous is not None and _path(item) != _path(previous)
                and _Build.proc is not None and _Build.proc.poll() is not None):
            yield from waiting
            waiting = []
        yield item
        previous = item
    # the unit tests are done: the second execution takes their core.  (Started
    # with the session instead, beside the prioritised build, it left the unit
    # tests too little CPU: they ended the session alone on one core.)
    Timeline.end("unit tests")
    _SecondRun.start()
    yield from waiting
    yield from last


def _prefetch(session, build: BookBuild) -> None:
    """Let the selected tests' modules start slow work on the finished build in
    the background: a module's ``prefetch(session, html, screenshots)``
    (``test_browser.py`` loads its pages while the build's other tests run)."""
    modules = {item.module for item in session.items
               if _needs_build(item) and getattr(item, "module", None) is not None}
    for module in modules:
        if hasattr(module, "prefetch"):
            module.prefetch(session, build.html, build.screenshots)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    """Like pytest's own loop, but the tests of the book run as soon as the
    build is done (at a file boundary), so that the browser's pages share
    the cores with the remaining unit tests instead of running after them."""
    if (session.testsfailed and not session.config.option.continue_on_collection_errors) \
            or session.config.option.collectonly or _Build.proc is None:
        return None                                  # pytest's own loop
    Timeline.start("unit tests")
    order = _run_order(session.items)
    item = next(order, None)
    while item is not None:
        nextitem = next(order, None)
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        item = nextitem
    return True


class _SecondRun:
    """The chapters' second execution (nbmake), in a background ``pytest`` process.

    In a session that also builds the book (``make test``), the notebook items
    are taken out of this session at collection and run by a second
    ``pytest --nbmake`` process, started when this session's unit tests are
    done (:func:`_run_order`): the unit tests share the cores with the
    Transformer chapter, which the build executes first, and the second
    execution with the rest of the build, instead of the unit tests and the
    second execution running one after the other while the build waits.
    Its digests go to this session's ``HMMRISK_FIGURE_DATA``, its report to
    ``_build/second-run.log``; ``tests/test_book.py`` waits for it and fails
    with that report if any chapter failed.  ``HMMRISK_SECOND_RUN=inline``
    keeps the chapters in this session (the child process runs with it).
    """

    ENV = "HMMRISK_SECOND_RUN"
    notebooks: list[str] = []
    proc: subprocess.Popen | None = None
    log: Path = BUILD / "second-run.log"

    @classmethod
    def start(cls) -> None:
        if cls.proc is not None or not cls.notebooks:
            return
        BUILD.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, **{cls.ENV: "inline"})
        with open(cls.log, "w") as out:
            cls.proc = subprocess.Popen(
                [sys.executable, "-m", "pytest", "--nbmake", "--nbmake-timeout=900", "-q",
                 "-p", "no:cacheprovider", "--durations=5", *cls.notebooks],
                stdout=out, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
        Timeline.start("second execution")
        Timeline.end_with("second execution", cls.proc)

    @classmethod
    def wait(cls) -> tuple[int, str]:
        """``(returncode, report)``; ``(0, "")`` when the chapters ran in this session."""
        cls.start()                     # normally started already, after the unit tests
        if cls.proc is None:
            return 0, ""
        returncode = cls.proc.wait()
        return returncode, cls.log.read_text(errors="replace")

    @classmethod
    def stop(cls) -> None:
        _terminate(cls.proc)


@pytest.fixture(scope="session")
def second_run() -> tuple[int, str]:
    """Wait for the chapters' second execution (see :class:`_SecondRun`)."""
    return _SecondRun.wait()


@pytest.fixture(scope="session")
def book(request) -> BookBuild:
    """The whole book, built once from a clean ``_build`` with warnings as errors."""
    if _reuse():
        build = BookBuild(root=BUILD, html=BUILD / "html", screenshots=BUILD / "screenshots",
                          figure_data=BUILD / "figure-data" / "book", returncode=0,
                          log="reused the existing _build (HMMRISK_REUSE_BUILD=1)")
    else:
        build = _Build.wait()
    _prefetch(request.session, build)
    return build
