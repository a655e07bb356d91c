"""Shared helpers for the tests: Monte Carlo z-scores and the book build.

The book is built once per test session by the ``book`` fixture and reused by
``test_book.py`` (the build is clean, the statements and figures rendered, the
figure data equal to nbmake's) and ``test_browser.py`` (every page in headless
Chromium).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def mc_mean(samples, axis=0):
    """Mean and its standard error along ``axis``."""
    samples = np.asarray(samples, dtype=float)
    k = samples.shape[axis]
    return samples.mean(axis=axis), samples.std(axis=axis, ddof=1) / np.sqrt(k)


@dataclass(frozen=True)
class BookBuild:
    """A finished ``jupyter-book build``: where it went and what it said."""

    root: Path          # the build folder (``_build``)
    html: Path          # ``_build/html``
    screenshots: Path   # ``_build/screenshots`` (written by test_browser.py)
    figure_data: Path   # digests written by the chapters during this build
    returncode: int
    log: str


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


@pytest.fixture(scope="session")
def book() -> BookBuild:
    """Build the whole book once, from a clean ``_build``, with warnings as errors.

    Every notebook is executed again (``execute_notebooks: force``) with
    ``HMMRISK_FIGURE_DATA`` pointing at ``_build/figure-data/book``, so each
    figure cell leaves the digest of its arrays there.  The folder that the
    nbmake run of the same session wrote to (``HMMRISK_FIGURE_DATA`` of this
    process, set by ``make test``) is left in place; everything else in
    ``_build`` is removed first, since only a clean build re-emits every
    warning.
    """
    if os.environ.get("HMMRISK_REUSE_BUILD") == "1" and (BUILD / "html" / "index.html").exists():
        # an author's loop: check the last `make book` again without rebuilding
        # (never set by `make test`, which always builds from scratch)
        return BookBuild(root=BUILD, html=BUILD / "html", screenshots=BUILD / "screenshots",
                         figure_data=BUILD / "figure-data" / "book", returncode=0,
                         log="reused the existing _build (HMMRISK_REUSE_BUILD=1)")
    jb = Path(sys.executable).with_name("jupyter-book")
    assert jb.exists(), f"jupyter-book not installed next to {sys.executable}"
    nbmake_digests = os.environ.get(figure_data.ENV)
    _clean(BUILD, Path(nbmake_digests) if nbmake_digests else None)
    digests = BUILD / "figure-data" / "book"
    shutil.rmtree(digests, ignore_errors=True)
    env = dict(os.environ, **{figure_data.ENV: str(digests)})
    proc = subprocess.run([str(jb), "build", str(ROOT), *JB_FLAGS],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    shutil.rmtree(BUILD / ".jupyter_cache", ignore_errors=True)
    return BookBuild(root=BUILD, html=BUILD / "html", screenshots=BUILD / "screenshots",
                     figure_data=digests, returncode=proc.returncode,
                     log=proc.stdout + proc.stderr)
