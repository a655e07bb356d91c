"""The linear-Gaussian HMM and its frozen encoder (:ref:`ch-model`).

Latent tokens follow a stationary Gaussian Markov chain

    z_1 ~ N(0, I_d),   z_{t+1} = A z_t + eps_t,   eps_t ~ N(0, sigma^2 I_d),

with ``A = sqrt(1 - sigma^2) Q`` and ``Q`` Haar-orthogonal, so that
``A A^T + Sigma_eps = I_d`` and every ``z_t ~ N(0, I_d)``.  A frozen
"pre-trained" encoder of model size ``p`` maps a token to

    x_t = W z_t + u_t,   u_t ~ N(0, I_p),

and the downstream task predicts ``y_t = z_{t+1}`` from ``x_t`` with a linear
head.  Two encoders (``embedding``):

* ``"orthogonal"``: ``W = sqrt(snr p / d) U`` with ``U`` having orthonormal
  columns (``p >= d``), or ``W = sqrt(snr) U`` with orthonormal rows
  (``p < d``);
* ``"gaussian"``: i.i.d. entries ``N(0, snr / d)``.

Either way each feature carries signal variance ``snr`` on average.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _resources
from ._blas import blas_single_thread
from . import _validate as check
from ._validate import NOISE, RNG, SNR, Integer, Options, validate

#: The encoders of :func:`make_model`, orthogonal (Definition 3) or Gaussian weights.
EMBEDDINGS = ("orthogonal", "gaussian")


@validate(d=Integer(), rng=RNG)
def haar_orthogonal(d: int, rng=None) -> np.ndarray:
    """A ``d x d`` orthogonal matrix drawn from the Haar measure.

    QR of a standard Gaussian matrix, with the signs of ``R``'s diagonal
    moved into ``Q`` (Mezzadri 2007) so that the law is exactly Haar.
    """
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@validate(p=Integer(), d=Integer(), snr=SNR, embedding=Options(EMBEDDINGS), rng=RNG)
def encoder_weights(p: int, d: int, snr: float = 1.0, embedding: str = "orthogonal",
                    rng=None) -> np.ndarray:
    """The encoder's ``p x d`` weight matrix ``W`` (:ref:`ch-model`).

    ``"orthogonal"``: ``W = sqrt(snr p/d) U``, ``U^T U = I_d`` for ``p >= d``;
    ``W = sqrt(snr) U``, ``U U^T = I_p`` for ``p < d``.
    ``"gaussian"``: ``W_ij ~ N(0, snr/d)`` i.i.d.
    """
    if embedding == "gaussian":
        return rng.standard_normal((p, d)) * np.sqrt(snr / d)
    if p >= d:
        u, _ = np.linalg.qr(rng.standard_normal((p, d)))        # p x d, U^T U = I_d
        return np.sqrt(snr * p / d) * u
    u, _ = np.linalg.qr(rng.standard_normal((d, p)))            # d x p, orthonormal columns
    return np.sqrt(snr) * u.T                                    # p x d, U U^T = I_p


def _sizes(n, reps):
    """``(n, reps)`` of a draw: integers in ``[1, 2**53]`` (``reps`` may be ``None``)."""
    return (check.integer("n", n, maximum=check.MAX_INT),
            None if reps is None else check.integer("reps", reps, maximum=check.MAX_INT))


@dataclass(frozen=True, eq=False)
class HeadTuningModel:
    """A linear-Gaussian HMM ``(A, sigma^2)`` together with a frozen encoder ``W``.

    Build one with :func:`make_model`; the fields are read-only arrays.

    Attributes
    ----------
    A : (d, d) array
        Transition matrix, ``A A^T = (1 - noise) I_d``.
    W : (p, d) array
        Encoder weights; the encoder noise covariance is ``Sigma_u = I_p``.
    noise : float
        ``sigma^2``, the variance of each coordinate of the transition noise.
    """

    A: np.ndarray
    W: np.ndarray
    noise: float

    def __post_init__(self):
        A = check.finite_array("A", self.A, ndim=2)
        W = check.finite_array("W", self.W, ndim=2)
        noise = check.NOISE.clean("noise", self.noise)
        d = A.shape[0]
        if d == 0:
            raise ValueError(f"A must be a non-empty d x d matrix (d >= 1), got shape {A.shape}")
        if A.shape != (d, d):
            raise ValueError(f"A must be square, got shape {A.shape}")
        if W.shape[1] != d:
            raise ValueError(f"W must have d = {d} columns to match A, got shape {W.shape}")
        if W.shape[0] == 0:
            raise ValueError(f"W must have at least one row (model size p >= 1), got shape {W.shape}")
        gap = np.abs(A @ A.T - (1.0 - noise) * np.eye(d)).max()
        if gap > 1e-8:
            raise ValueError(f"A A^T must equal (1 - noise) I for a stationary chain; "
                             f"max deviation {gap:.3g} with noise={noise!r}")
        A.setflags(write=False)
        W.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "noise", noise)

    @property
    def p(self) -> int:
        """The model size, the dimension of the representation ``x``."""
        return self.W.shape[0]

    @property
    def d(self) -> int:
        """Dimension of the latent token ``z``."""
        return self.W.shape[1]

    def sample_tokens(self, n: int, rng=None, reps: int | None = None):
        """Draw ``n`` i.i.d. stationary token pairs ``(z_t, z_{t+1})``.

        Returns ``(Z, Z_next)`` of shape ``(n, d)``, or ``(reps, n, d)``.
        """
        return self._tokens(*_sizes(n, reps), check.rng(rng))

    def _tokens(self, n, reps, rng):
        shape = (n, self.d) if reps is None else (reps, n, self.d)
        z = rng.standard_normal(shape)
        eps = rng.standard_normal(shape) * np.sqrt(self.noise)
        return z, z @ self.A.T + eps

    def sample(self, n: int, rng=None, reps: int | None = None):
        """Draw ``n`` i.i.d. head-tuning pairs ``(x_t, y_t = z_{t+1})``.

        Parameters
        ----------
        n : int
            Number of training pairs, ``n >= 1``.
        rng : int, Generator or None
            Source of randomness.
        reps : int, optional
            If given, draw ``reps`` independent training sets at once.

        Returns
        -------
        X : (n, p) or (reps, n, p) array
        Y : (n, d) or (reps, n, d) array
        """
        return self._sample(*_sizes(n, reps), check.rng(rng))

    def _sample(self, n, reps, rng):
        """:meth:`sample` with checked ``n``, ``reps`` and a Generator."""
        z, y = self._tokens(n, reps, rng)
        x = z @ self.W.T + rng.standard_normal(z.shape[:-1] + (self.p,))
        return x, y


@validate(p=Integer(), d=Integer(), noise=NOISE, snr=SNR, embedding=Options(EMBEDDINGS),
          rng=RNG)
def make_model(p: int, d: int, noise: float, snr: float = 1.0,
               embedding: str = "orthogonal", rng=None) -> HeadTuningModel:
    """Draw the HMM of :ref:`ch-model` and its frozen encoder.

    ``A = sqrt(1 - noise) Q`` with ``Q`` Haar-orthogonal, ``W`` from
    :func:`encoder_weights`; ``rng`` is an int seed or a Generator.

    Examples
    --------
    >>> import hmmrisk as hr
    >>> model = hr.make_model(p=20, d=5, noise=0.5, rng=0)
    >>> model.W.shape, model.A.shape
    ((20, 5), (5, 5))
    """
    _resources.check_model(p, d, snr)
    with blas_single_thread():        # QR bits independent of BLAS threads
        A = np.sqrt(1.0 - noise) * haar_orthogonal(d, rng)
        W = encoder_weights(p, d, snr, embedding, rng)
    return HeadTuningModel(A=A, W=W, noise=noise)
