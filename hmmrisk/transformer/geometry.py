"""The geometry of frozen features: how many directions they use, and what they encode.

Chapter of origin: :ref:`ch-transformer`. All quantities are computed on the
features standardised column by column
(:func:`~hmmrisk.transformer.features.standardise`), as the heads see them,
from the eigenvalues ``lambda_1 >= ... >= lambda_p`` of their covariance.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as _v
from . import features as ft

__all__ = ["spectrum", "tail_share", "participation_ratio", "effective_rank", "probe_r2"]


def spectrum(features) -> np.ndarray:
    """Eigenvalues (descending) of the covariance of the standardised ``features`` (``m x p``)."""
    x = ft.standardise(_v.finite_array("features", features, ndim=2))
    x = x - x.mean(axis=0)
    return np.linalg.svd(x, compute_uv=False) ** 2 / x.shape[0]


def tail_share(features, k: int) -> float:
    """Share of the variance outside the top ``k`` principal components.

    ``1 - (lambda_1 + ... + lambda_k) / (lambda_1 + ... + lambda_p)``; 0 when
    ``p <= k``. With ``k = K - 1`` it measures how much of a representation
    lies outside the ``K - 1`` dimensions of an HMM's belief state.

    Parameters
    ----------
    features : array, shape (m, p)
    k : int
        ``>= 1``.
    """
    s2 = spectrum(features)
    k = _v.integer("k", k)
    return float(max(0.0, 1.0 - s2[:k].sum() / s2.sum())) if s2.sum() > 0 else 0.0


def participation_ratio(features) -> float:
    """``(sum_j lambda_j)^2 / sum_j lambda_j^2``: between 1 (one direction) and ``p`` (isotropic)."""
    s2 = spectrum(features)
    return float(s2.sum() ** 2 / (s2 ** 2).sum()) if s2.sum() > 0 else 0.0


def effective_rank(features) -> float:
    """``exp(-sum_j q_j log q_j)`` with ``q_j = lambda_j / sum_i lambda_i`` (Roy & Vetterli 2007)."""
    s2 = spectrum(features)
    if s2.sum() <= 0:
        return 0.0
    q = s2[s2 > 0] / s2.sum()
    return float(np.exp(-(q * np.log(q)).sum()))


def probe_r2(train_features, train_target, test_features, test_target, *, ridge: float = 1e-3) -> float:
    """Held-out ``R^2`` of a linear probe from features to a vector target.

    The probe is least squares with an intercept on the features standardised
    with training statistics, with a small ``ridge`` (relative to the trace of
    the training Gram matrix) for rank-deficient features:
    ``R^2 = 1 - sum ||t_i - hat t_i||^2 / sum ||t_i - mean(t_train)||^2``
    over the test rows. Applied to the HMM's belief state
    (:func:`~hmmrisk.transformer.hmm.belief_states`) it says whether the
    features carry it linearly.

    Parameters
    ----------
    train_features : array, shape (n, p)
    train_target : array, shape (n, k)
    test_features : array, shape (m, p)
    test_target : array, shape (m, k)
    """
    xtr = _v.finite_array("train_features", train_features, ndim=2)
    xte = _v.finite_array("test_features", test_features, ndim=2)
    ttr = _v.finite_array("train_target", train_target, ndim=2)
    tte = _v.finite_array("test_target", test_target, ndim=2)
    if xte.shape[1] != xtr.shape[1] or ttr.shape != (xtr.shape[0], tte.shape[1]) or tte.shape[0] != xte.shape[0]:
        raise ValueError(f"shapes do not match: features {xtr.shape} / {xte.shape}, "
                         f"targets {ttr.shape} / {tte.shape}")
    ridge = _v.real("ridge", ridge, low=0.0)
    ztr, zte = ft.standardise(xtr), ft.standardise(xte, xtr)
    mean = ttr.mean(axis=0)
    gram = ztr.T @ ztr
    lam = ridge * max(np.trace(gram), 1e-300)
    coef = np.linalg.solve(gram + lam * np.eye(gram.shape[0]), ztr.T @ (ttr - mean))
    resid = tte - mean - zte @ coef
    total = ((tte - mean) ** 2).sum()
    return float(1.0 - (resid ** 2).sum() / total) if total > 0 else 0.0
