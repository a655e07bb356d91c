"""Fingerprints of the data behind each figure, for reproducibility checks.

Every cell that draws a figure of the book also passes the arrays it plots to
:func:`record`.  The digest is a SHA-256 over the names, dtypes, shapes and
bytes of those arrays, so two executions that plot the same numbers give the
same digest and any change of a single bit gives another one.

If the environment variable ``HMMRISK_FIGURE_DATA`` names a folder,
:func:`record` also writes ``<folder>/<name>.sha256``.  ``make test`` sets it
for the two independent executions of every chapter (nbmake, then the
``-n -W`` book build) and compares the two folders file by file
(``tests/test_book.py``): a figure whose data differ between two clean runs
with the same seeds fails the test suite.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

__all__ = ["ENV", "digest", "record"]

#: Environment variable naming the folder :func:`record` writes to.
ENV = "HMMRISK_FIGURE_DATA"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def digest(**arrays) -> str:
    """SHA-256 (hex) of the named arrays, independent of keyword order.

    Each array is hashed with its name, dtype and shape, so ``a=[1, 2]`` and
    ``a=[[1, 2]]`` differ, and so do ``a=x`` and ``b=x``.
    """
    if not arrays:
        raise ValueError("digest needs at least one named array, got none")
    h = hashlib.sha256()
    for key in sorted(arrays):
        arr = np.ascontiguousarray(np.asarray(arrays[key]))
        if arr.dtype == object:
            raise ValueError(f"array {key!r} has dtype object; pass numbers or strings")
        h.update(f"{key}|{arr.dtype.str}|{arr.shape}|".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def record(name: str, **arrays) -> str:
    """Digest the arrays behind figure ``name`` and write it if ``HMMRISK_FIGURE_DATA`` is set.

    Parameters
    ----------
    name : str
        The figure's label (e.g. ``"fig-ridge"``): letters, digits, ``_.-``.
    **arrays
        Everything the figure plots.

    Returns
    -------
    str
        The hex digest (see :func:`digest`).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must be a figure label of letters, digits, '_', '.', '-', got {name!r}")
    value = digest(**arrays)
    folder = os.environ.get(ENV)
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{name}.sha256").write_text(value + "\n")
    return value
