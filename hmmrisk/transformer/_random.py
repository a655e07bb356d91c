"""Random-number conventions shared by the modules of :mod:`hmmrisk.transformer` (chapter :ref:`ch-transformer`)."""

from __future__ import annotations

import numbers

import numpy as np


def rng(value, name: str = "rng") -> np.random.Generator:
    """``value`` (None, a non-negative int or a Generator) as a ``numpy.random.Generator``.

    The convention of scientific-python SPEC 7: an int seeds a fresh
    ``numpy.random.default_rng``; a Generator is used as it is.
    """
    if isinstance(value, np.random.Generator):
        return value
    if value is None:
        return np.random.default_rng()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer or a numpy Generator, got {value!r}")
    return np.random.default_rng(int(value))


def seed(value, name: str = "seed") -> int:
    """A non-negative int seed (the seeds of a protocol)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)
