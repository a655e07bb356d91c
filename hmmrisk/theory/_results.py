"""Result types of :mod:`hmmrisk.theory` (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FORMULAS", "RIDGE_FORMULA", "Prediction", "Predictions", "RidgePredictions"]

#: Names of the formulas a :class:`Prediction` may come from.
FORMULAS = ("theorem1-exact", "theorem1-asymptotic", "threshold", "definition2")

#: ``formula`` of every :class:`Prediction` made by the ridge functions.
RIDGE_FORMULA = "ridge"


@dataclass(frozen=True)
class Prediction:
    """Predicted excess risk of the least-squares head at one ``(n, p)``.

    Attributes
    ----------
    bias, variance : float
        The two parts of :prf:ref:`Lemma 1 <lem-bias-variance>` as predicted
        by the theory; ``variance`` is ``inf`` at the interpolation threshold.
    irreducible : float
        ``tr Sigma_r``, the next-token error no head can remove.
    formula : str
        Which statement was used: ``"theorem1-exact"``,
        ``"theorem1-asymptotic"``, ``"threshold"``, ``"definition2"`` or
        ``"ridge"``.
    """

    bias: float
    variance: float
    irreducible: float
    formula: str

    @property
    def risk(self) -> float:
        """Excess risk, ``bias + variance``."""
        return self.bias + self.variance

    @property
    def total(self) -> float:
        """Total next-token risk, ``risk + irreducible``."""
        return self.risk + self.irreducible


@dataclass(frozen=True, eq=False)
class Predictions:
    """:class:`Prediction` over a grid of model sizes (arrays of equal length).

    ``formula`` holds one name per point; ``pred[i]`` is the ``i``-th
    :class:`Prediction`.
    """

    p: np.ndarray
    bias: np.ndarray
    variance: np.ndarray
    irreducible: np.ndarray
    formula: np.ndarray

    @property
    def risk(self) -> np.ndarray:
        """Excess risk, ``bias + variance``."""
        return self.bias + self.variance

    @property
    def total(self) -> np.ndarray:
        """Total next-token risk, ``risk + irreducible``."""
        return self.risk + self.irreducible

    def __len__(self) -> int:
        return self.p.size

    def __getitem__(self, i) -> Prediction:
        return Prediction(float(self.bias[i]), float(self.variance[i]),
                          float(self.irreducible[i]), str(self.formula[i]))


@dataclass(frozen=True, eq=False)
class RidgePredictions(Predictions):
    """:class:`Predictions` of the ridge head, with the penalty and ``kappa``.

    All arrays share one shape (the broadcast shape of the model sizes and
    penalties asked for); ``formula`` is ``"ridge"`` everywhere (or
    ``"definition2"`` where :func:`~hmmrisk.theory.optimal_ridge` chose
    ``lam = 0``).

    Attributes
    ----------
    ridge : array
        The penalty ``lam >= 0`` of each point.
    kappa : array
        The root ``kappa > lam`` of the ridge ``kappa``-equation
        (:prf:ref:`def-ridge-risk`).
    """

    ridge: np.ndarray
    kappa: np.ndarray
