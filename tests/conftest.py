"""Fixtures and markers of the test suite.

Markers are assigned here, by file and by fixture, so a new test file needs no
marker of its own:

* ``book``: checks the built site (uses the ``book`` fixture);
* ``browser``: opens the built site in headless Chromium;
* ``unit``: everything else: the unit and property tests;
* ``slow``: those unit tests that take more than a few seconds (``SLOW``).

The Makefile runs each group as its own step (``make unit-tests``,
``make book-tests``, ``make browser-check``; ``make check`` is
``-m "unit and not slow"``).  The tests of the book check the build that
``make book`` left in ``_build``; they never build it themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
#: Chapters that the book build executes but the second execution does not
#: (too costly to run twice per ``make test``), each with the tests that cover
#: the reproducibility of its figures instead.
EXECUTED_ONCE = {
    "chapters/transformer.ipynb":
        "tests/test_transformer_experiment.py::test_reduced_protocol_is_bitwise_reproducible "
        "(a reduced Figure 3 protocol run twice) and tests/test_figure3_repro.py (the same "
        "in one process and on 2 worker processes, with identical data)",
}
#: Unit tests that take more than a few seconds, or start many interpreters (the
#: signal and figure-3 command-line tests) (marker ``slow``): a file name,
#: or ``file::test`` (every parametrisation of it).  ``make test`` runs them,
#: ``make check`` leaves them out.
SLOW = {"test_figure3_repro.py", "test_transformer_cli.py", "test_interrupts.py",
        "test_transformer_experiment.py::test_tiny_protocol_end_to_end",
        "test_transformer_experiment.py::test_reduced_protocol_is_bitwise_reproducible",
        "test_transformer_experiment.py::test_a_pool_left_open_is_released_at_exit",
        "test_risk.py::test_woodbury_route_is_stable_where_it_is_used",
        "test_risk.py::test_conditional_route_agrees_with_fitting_the_head",
        "test_risk_schur.py::test_schur_route_has_the_law_of_fitting_the_head",
        "test_sweep.py::test_serial_processes_and_dask_are_bitwise_identical",
        "test_cli.py::test_figure_3_writes_a_png_with_a_tiny_protocol",
        "test_properties.py::test_kappa_solves_definition1_and_definition2_is_nonnegative"}

MARKERS = {
    "book": "checks the book build in _build (make book-tests)",
    "browser": "opens the built site in headless Chromium (make browser-check)",
    "slow": "a unit test that takes more than a few seconds (conftest.SLOW)",
    "unit": "unit and property tests: no notebook, no build, no browser (make unit-tests)",
}
BROWSER_FILES = {"test_browser.py", "test_explorer.py", "test_search.py"}


def pytest_configure(config):
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def _marks_for(item) -> list[str]:
    path = Path(str(item.path))
    if path.suffix == ".ipynb":
        return []                       # a chapter run by nbmake
    fixtures = set(getattr(item, "fixturenames", ()))
    if path.name in BROWSER_FILES:
        return ["browser"]
    if "book" in fixtures or path.name == "test_book.py":
        return ["book"]
    name = getattr(item, "originalname", None) or item.name
    slow = path.name in SLOW or f"{path.name}::{name}" in SLOW
    return ["unit", "slow"] if slow else ["unit"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        for name in _marks_for(item):
            item.add_marker(name)


def call(*argv, capsys):
    """``hmmrisk.cli.main(argv)`` in this process: (exit status, stdout, stderr)."""
    from hmmrisk import cli

    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def mc_mean(samples, axis=0):
    """Mean and its standard error along ``axis``."""
    samples = np.asarray(samples, dtype=float)
    k = samples.shape[axis]
    return samples.mean(axis=axis), samples.std(axis=axis, ddof=1) / np.sqrt(k)


@dataclass(frozen=True)
class BookBuild:
    """A finished ``make book``: where it went and what it said."""

    root: Path          # the build folder (``_build``)
    html: Path          # ``_build/html``
    screenshots: Path   # ``_build/screenshots`` (written by test_browser.py)
    figure_data: Path   # digests written by the chapters during the build
    second_run: Path    # digests written by the second execution (nbmake)
    log: str            # the output of ``jupyter-book build``


@pytest.fixture(scope="session")
def book() -> BookBuild:
    """The build of ``make book`` (``_build/.book-ok`` marks one that passed)."""
    if not (BUILD / ".book-ok").exists():
        pytest.fail("no passing book build in _build: run `make book` first "
                    "(`make test` does)")
    log = BUILD / "jupyter-book.log"
    return BookBuild(root=BUILD, html=BUILD / "html", screenshots=BUILD / "screenshots",
                     figure_data=BUILD / "figure-data" / "book",
                     second_run=BUILD / "figure-data" / "nbmake",
                     log=log.read_text(errors="replace") if log.exists() else "")
