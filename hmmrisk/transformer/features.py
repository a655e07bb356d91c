"""Feature families scored by the heads of Figure 3 besides the Transformer's own (chapter :ref:`ch-transformer`).

* :func:`add_isotropic_noise`: pre-trained features, standardised, plus the
  paper's isotropic representation noise ``u ~ N(0, sigma_u^2 I_p)`` — the
  "pre-trained + noise" family;
* :func:`isotropic_features`: ``x = u`` alone (features that carry no
  information about the label; the cleanest case of the theory panel);
* :func:`latent_features`: the paper's model ``x = W z + u`` with ``z`` a
  fixed low-dimensional summary of the context (here the Bayes filter's
  next-token law, standardised), ``W`` a random ``p x dim(z)`` map with
  ``N(0, 1/dim(z))`` entries and ``u ~ N(0, sigma_u^2 I_p)``.

Every function draws its columns so that the first ``p`` columns of a wide draw
*are* the draw at width ``p`` (nested features): the model of size ``p`` is the
model of size ``p - 1`` with one coordinate added, which makes separability
monotone in ``p`` and lets one draw serve every width.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as _v
from ._random import rng as _rng

__all__ = ["standardise", "add_isotropic_noise", "isotropic_features", "latent_features"]


def standardise(features, reference=None):
    """``(x - mean) / sd`` column by column, with mean and sd of ``reference`` (default: ``features``).

    A constant column of ``reference`` is only centred. Chapter of origin:
    :ref:`ch-transformer`.

    Parameters
    ----------
    features : array, shape (..., m, p)
    reference : array, shape (..., n, p), optional

    Returns
    -------
    numpy.ndarray, shape of ``features``
    """
    x = _v.finite_array("features", features)
    ref = x if reference is None else _v.finite_array("reference", reference)
    if x.ndim < 2 or ref.ndim != x.ndim or ref.shape[-1] != x.shape[-1] or ref.shape[:-2] != x.shape[:-2]:
        raise ValueError(f"reference must have shape (..., n, {x.shape[-1]}) matching features "
                         f"{x.shape}, got {ref.shape}")
    mean = ref.mean(axis=-2, keepdims=True)
    sd = ref.std(axis=-2, keepdims=True)
    sd = np.where(sd > 1e-12 * np.maximum(1.0, np.abs(mean)), sd, 1.0)
    return (x - mean) / sd


def add_isotropic_noise(features, sigma: float, *, reference=None, rng=None) -> np.ndarray:
    """Standardise ``features`` (with the statistics of ``reference``) and add ``N(0, sigma^2 I_p)`` noise.

    ``x' = standardise(x) + sigma * u``, ``u ~ N(0, I_p)`` independently for
    every row: the paper's representation noise added to a pre-trained
    Transformer's features, the "pre-trained + noise" family of Figure 3
    (:numref:`fig-transformer`). Chapter of origin: :ref:`ch-transformer`.

    Parameters
    ----------
    features : array, shape (..., m, p)
    sigma : float
        ``sigma_u >= 0``.
    reference : array, optional
        Rows whose mean and sd standardise ``features`` (default: ``features``).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    numpy.ndarray, shape of ``features``
    """
    sigma = _v.real("sigma", sigma, low=0.0)
    z = standardise(features, reference)
    gen = _rng(rng)
    return z + sigma * gen.standard_normal(z.shape)


def isotropic_features(n_rows: int, width: int, *, rng=None) -> np.ndarray:
    """``n_rows`` independent rows ``x ~ N(0, I_p)``, ``p = width`` (nested in ``width``).

    Chapter of origin: :ref:`ch-transformer` (the theory panel,
    :numref:`fig-transformer-theory`).
    """
    n = _v.integer("n_rows", n_rows)
    p = _v.integer("width", width)
    return _rng(rng).standard_normal((p, n)).T   # column by column: nested in width


def latent_features(latent, width: int, sigma: float, *, rng=None) -> np.ndarray:
    """The paper's representation model ``x = W z + sigma u`` (nested in ``width``).

    ``W`` has independent ``N(0, 1/k)`` entries (``k = dim z``), drawn row by
    row so that the first ``p`` coordinates do not depend on ``width``;
    ``u ~ N(0, I_p)`` independently for every row of ``latent``. With a
    standardised ``z`` each coordinate of ``W z`` has variance about 1, the
    same as the noise at ``sigma = 1``. Chapter of origin:
    :ref:`ch-transformer` (the theory panel, :numref:`fig-transformer-theory`).

    Parameters
    ----------
    latent : array, shape (m, k)
        The summaries ``z`` of the rows.
    width : int
        ``p >= 1``.
    sigma : float
        ``sigma_u >= 0``.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    numpy.ndarray, shape (m, p)
    """
    z = _v.finite_array("latent", latent, ndim=2)
    p = _v.integer("width", width)
    sigma = _v.real("sigma", sigma, low=0.0)
    gen_w, gen_u = _rng(rng).spawn(2)          # two streams, each drawn coordinate by coordinate
    k = z.shape[1]
    w = gen_w.standard_normal((p, k)) / np.sqrt(k)
    u = gen_u.standard_normal((p, z.shape[0])).T
    return z @ w.T + sigma * u
