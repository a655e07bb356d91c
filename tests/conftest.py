"""Shared helpers for the tests: z-scores with Monte Carlo standard errors."""

import numpy as np


def mc_mean(samples, axis=0):
    """Mean and its standard error along ``axis``."""
    samples = np.asarray(samples, dtype=float)
    k = samples.shape[axis]
    return samples.mean(axis=axis), samples.std(axis=axis, ddof=1) / np.sqrt(k)
