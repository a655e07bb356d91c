"""Population quantities of :prf:ref:`Lemma 2 <lem-well-specified>`.

``(x, y)`` is jointly Gaussian, so ``y = B*^T x + r`` with ``r`` independent
of ``x``::

    Sigma_x = W W^T + I_p
    B*      = Sigma_x^{-1} W A^T = W (I_d + W^T W)^{-1} A^T
    Sigma_r = A (I_d + W^T W)^{-1} A^T + sigma^2 I_d.

Everything is computed from the thin SVD ``W = sum_i omega_i v_i h_i^T``
(``d_p = min(p, d)`` singular values ``omega_i``) in ``O(p d^2)`` work and
``O(p d)`` memory: ``Sigma_x`` has eigenvalues ``s_i = 1 + omega_i^2`` on the
``v_i`` and ``1`` (multiplicity ``p - r``) on their complement, and ``B*``
lives in the span of the ``v_i`` (notation of :ref:`ch-model`).  No
``p x p`` matrix is formed unless :meth:`Population.sigma_x_dense` is asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as check
from .hmm import HeadTuningModel


@dataclass(frozen=True, eq=False)
class Population:
    """Lemma 2 for one :class:`~hmmrisk.hmm.HeadTuningModel`.

    Attributes
    ----------
    W : (p, d) array
        Encoder weights, so that ``Sigma_x M = M + W (W^T M)``.
    eigvals : (r,) array
        The eigenvalues ``s_i = 1 + omega_i^2`` of ``Sigma_x`` that exceed 1 (or
        equal it when ``omega_i = 0``), in decreasing order; the other ``p - r`` are 1.
    eigvecs : (p, r) array
        The matching orthonormal eigenvectors ``v_i``.
    signal : (r,) array
        ``||B*^T v_i||^2``; ``B*`` has no component on the unit eigenspace.
    B_star : (p, d) array
        The population head ``B*``.
    Sigma_r : (d, d) array
        Covariance of the irreducible next-token error ``r``.
    """

    W: np.ndarray
    eigvals: np.ndarray
    eigvecs: np.ndarray
    signal: np.ndarray
    B_star: np.ndarray
    Sigma_r: np.ndarray

    def __post_init__(self):
        W = check.finite_array("W", self.W, ndim=2)
        p, d = W.shape
        if p == 0 or d == 0:
            raise ValueError(f"W must be a non-empty p x d matrix, got shape {W.shape}")
        eigvals = check.finite_array("eigvals", self.eigvals, ndim=1)
        r = eigvals.size
        if r > min(p, d) or np.any(eigvals < 1.0):
            raise ValueError(f"eigvals must hold at most min(p, d) = {min(p, d)} eigenvalues of "
                             f"Sigma_x = W W^T + I, all >= 1, got {eigvals!r}")
        shapes = {"eigvecs": (p, r), "signal": (r,), "B_star": (p, d), "Sigma_r": (d, d)}
        arrays = {"W": W, "eigvals": eigvals}
        for name, shape in shapes.items():
            arr = check.finite_array(name, getattr(self, name), ndim=len(shape))
            if arr.shape != shape:
                raise ValueError(f"{name} must have shape {shape} to match W {W.shape} and "
                                 f"eigvals ({r},), got {arr.shape}")
            arrays[name] = arr
        if np.any(arrays["signal"] < 0):
            raise ValueError(f"signal must be >= 0 (squared norms), got {arrays['signal']!r}")
        for name, arr in arrays.items():
            object.__setattr__(self, name, arr)

    @property
    def p(self) -> int:
        return self.W.shape[0]

    @property
    def d(self) -> int:
        return self.W.shape[1]

    @property
    def n_unit(self) -> int:
        """Multiplicity of the eigenvalue 1 carried by the encoder noise alone."""
        return self.p - self.eigvals.size

    @property
    def irreducible(self) -> float:
        """The irreducible next-token risk ``tr Sigma_r``, which falls as p grows.

        The same quantity as ``Prediction.irreducible`` and the
        ``irreducible`` arguments of :mod:`hmmrisk.theory`.
        """
        return float(np.trace(self.Sigma_r))

    @property
    def norm_B_star_sq(self) -> float:
        """``||B*||_F^2``."""
        return float(self.signal.sum())

    def spectrum(self):
        """All ``p`` eigenvalues of ``Sigma_x`` and the matching ``||B*^T v_i||^2``.

        Returns ``(s, b)``, each of length ``p``; the unit block is appended
        explicitly (``O(p)`` memory), for code that wants the plain list.
        """
        s = np.concatenate([self.eigvals, np.ones(self.n_unit)])
        b = np.concatenate([self.signal, np.zeros(self.n_unit)])
        return s, b

    def sigma_x_dense(self) -> np.ndarray:
        """The dense ``p x p`` matrix ``Sigma_x = W W^T + I_p`` (small p only)."""
        return self.W @ self.W.T + np.eye(self.p)

    def excess_risk(self, B_hat: np.ndarray) -> np.ndarray:
        """Excess risk of a head: ``tr((B_hat - B*)^T Sigma_x (B_hat - B*))``.

        ``B_hat`` has shape ``(p, d)`` or ``(reps, p, d)``; this is
        ``E ||B_hat^T x_0 - B*^T x_0||^2`` for a fresh ``x_0`` independent of
        the data that produced ``B_hat`` (:prf:ref:`lem-bias-variance`).
        """
        B_hat = check.finite_array("B_hat", B_hat)
        if B_hat.ndim < 2 or B_hat.shape[-2:] != (self.p, self.d):
            raise ValueError(f"B_hat must have shape (..., {self.p}, {self.d}), got {B_hat.shape}")
        with check.finite_result("B_hat", B_hat) as out:
            out.append(self._excess_risk(B_hat))
        return out[0]

    def _excess_risk(self, B_hat):
        """:meth:`excess_risk` of a checked ``B_hat``."""
        delta = B_hat - self.B_star
        return np.sum(delta * delta, axis=(-2, -1)) + np.sum((self.W.T @ delta) ** 2, axis=(-2, -1))


def population(model: HeadTuningModel) -> Population:
    """:prf:ref:`Lemma 2 <lem-well-specified>` for ``model``, in ``O(p d^2)``.

    With ``W = sum_i omega_i v_i h_i^T`` (thin SVD, singular values ``omega_i``):

    * ``Sigma_x`` has eigenpairs ``(1 + omega_i^2, v_i)`` and ``(1, v_perp)``;
    * ``B* = sum_i omega_i / (1 + omega_i^2) v_i (A h_i)^T``, so
      ``||B*^T v_i||^2 = omega_i^2 / (1 + omega_i^2)^2 ||A h_i||^2``;
    * ``(I + W^T W)^{-1} = sum_i h_i h_i^T / (1 + omega_i^2) + (I - sum_i h_i h_i^T)``,
      ``Sigma_r = A (I + W^T W)^{-1} A^T + sigma^2 I``.

    Examples
    --------
    >>> import hmmrisk as hr
    >>> pop = hr.population(hr.make_model(20, 5, 0.5, rng=0))
    >>> pop.p, pop.n_unit                     # p - d eigenvalues 1 (the unit block)
    (20, 15)
    >>> round(pop.irreducible, 12)             # (1 - sigma^2) d / s1 + d sigma^2, s1 = 1 + p/d
    3.0
    """
    if not isinstance(model, HeadTuningModel):
        raise TypeError(f"model must be a HeadTuningModel (see hmmrisk.make_model), got {type(model).__name__}")
    W, A = model.W, model.A
    U, s, Vt = np.linalg.svd(W, full_matrices=False)       # U: p x r, Vt: r x d
    shrink = s / (1.0 + s**2)
    AV = A @ Vt.T                                           # d x r, columns A v_i
    B_star = (U * shrink) @ AV.T                            # p x d
    signal = shrink**2 * np.sum(AV**2, axis=0)
    # (I + W^T W)^{-1} = I - V diag(s^2/(1+s^2)) V^T
    inv_IWW = np.eye(model.d) - (Vt.T * (s**2 / (1.0 + s**2))) @ Vt
    Sigma_r = A @ inv_IWW @ A.T + model.noise * np.eye(model.d)
    return Population(W=W, eigvals=1.0 + s**2, eigvecs=U, signal=signal,
                      B_star=B_star, Sigma_r=Sigma_r)
