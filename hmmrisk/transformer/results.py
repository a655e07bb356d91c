"""Typed results of the Figure 3 experiments (chapter :ref:`ch-transformer`).

Every array field names its axes in the class's ``AXES`` mapping (and in its
docstring), so ``result.test_ce`` comes with ``result.AXES["test_ce"] ==
("seed", "family", "ridge", "width", "draw")`` instead of a comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from .protocol import FAMILIES, SYNTHETIC_FAMILIES, Protocol, SyntheticProtocol

__all__ = ["TransformerResult", "FamilySummary", "Summary", "SyntheticResult", "RidgePath"]


def _index(name, options, value):
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
    return options.index(value)


_HEAD = ("seed", "family", "ridge", "width", "draw")
_SQ = ("seed", "family", "width", "draw")


@dataclass(frozen=True, eq=False)
class TransformerResult:
    """Everything :func:`~hmmrisk.transformer.experiment.run` measured (Figure 3, :numref:`fig-transformer`).

    Chapter of origin: :ref:`ch-transformer`. Axes of each array are listed in
    ``AXES``: ``seed`` (``protocol.seeds``), ``family``
    (:data:`~hmmrisk.transformer.protocol.FAMILIES`), ``network``
    (:data:`~hmmrisk.transformer.protocol.NETWORKS`), ``ridge``
    (``protocol.ridges``), ``width`` (``protocol.widths``), ``draw`` (training
    sets), ``sep_draw`` (the first ``protocol.sep_draws`` of them), ``step``
    (pre-training steps).
    """

    protocol: Protocol
    test_ce: np.ndarray
    train_ce: np.ndarray
    test_acc: np.ndarray
    train_acc: np.ndarray
    weight_norm: np.ndarray
    grad_norm: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    residual: np.ndarray
    sq_test_loss: np.ndarray
    sq_train_loss: np.ndarray
    rank: np.ndarray
    eff_rank: np.ndarray
    separable: np.ndarray
    tail_share: np.ndarray
    lm_test_loss: np.ndarray
    pretrain_loss: np.ndarray
    pretrain_seconds: np.ndarray
    head_seconds: np.ndarray
    seconds: np.ndarray
    marginal: np.ndarray
    bayes: np.ndarray
    bayes_lm: np.ndarray
    entropy: np.ndarray
    bias_only_test_ce: np.ndarray
    wall_seconds: float = 0.0

    AXES: ClassVar[dict] = {
        **{k: _HEAD for k in ("test_ce", "train_ce", "test_acc", "train_acc", "weight_norm",
                              "grad_norm", "n_iter", "converged", "residual")},
        **{k: _SQ for k in ("sq_test_loss", "sq_train_loss", "rank", "eff_rank")},
        "separable": ("seed", "family", "width", "sep_draw"),
        "tail_share": ("seed", "family", "width"),
        "lm_test_loss": ("seed", "network", "width"),
        "pretrain_loss": ("seed", "width", "step"),
        "pretrain_seconds": ("seed", "width"), "head_seconds": ("seed", "width"),
        "seconds": ("seed", "width"),
        "marginal": ("seed",), "bayes": ("seed",), "bayes_lm": ("seed",), "entropy": ("seed",),
        "bias_only_test_ce": ("seed", "ridge", "draw"),
    }

    @property
    def widths(self) -> np.ndarray:
        return np.asarray(self.protocol.widths)

    @property
    def seeds(self) -> tuple:
        return self.protocol.seeds

    def arrays(self) -> dict:
        """The arrays, by name (for digests and saving)."""
        return {k: getattr(self, k) for k in self.AXES}

    def summary(self, ridge_index: int = 0) -> "Summary":
        """The numbers the chapter quotes, per family (see :class:`Summary`)."""
        from .experiment import summarize

        return summarize(self, ridge_index=ridge_index)


class FamilySummary(NamedTuple):
    """One feature family of Figure 3 reduced to curves over width (chapter :ref:`ch-transformer`).

    A quantity is first averaged over the training sets of a seed; ``*_mean``
    is the mean of these per-seed values, ``*_lo``/``*_hi`` their minimum and
    maximum (the spread over seeds). Width-indexed arrays have shape ``(width,)``.
    """

    ce_mean: np.ndarray
    ce_lo: np.ndarray
    ce_hi: np.ndarray
    peak_width: int
    peak_ce: float
    seed_peak_widths: np.ndarray
    ce_first: float
    ce_last: float
    min_ce: float
    min_ce_width: int
    separable_frac: np.ndarray
    sep_width: int | None
    sq_mean: np.ndarray
    sq_lo: np.ndarray
    sq_hi: np.ndarray
    sq_peak_width: int
    sq_seed_peak_widths: np.ndarray
    test_acc: np.ndarray
    train_acc: np.ndarray
    weight_norm: np.ndarray
    eff_rank: np.ndarray
    tail_share: np.ndarray


@dataclass(frozen=True, eq=False)
class Summary:
    """Figure 3's headline numbers (chapter :ref:`ch-transformer`).

    ``families`` maps each name of
    :data:`~hmmrisk.transformer.protocol.FAMILIES` to its
    :class:`FamilySummary` (also reachable as ``summary.family(name)``).

    ``lm_mean``/``lm_lo``/``lm_hi`` have axes ``(network, width)``.
    """

    widths: np.ndarray
    n: int
    marginal: float
    bayes: float
    bayes_lm: float
    entropy: float
    bias_only: float
    lm_mean: np.ndarray
    lm_lo: np.ndarray
    lm_hi: np.ndarray
    all_converged: bool
    max_grad_norm: float
    max_residual: float
    max_newton_steps: int
    families: dict

    def family(self, name: str) -> FamilySummary:
        _index("family", FAMILIES, name)
        return self.families[name]


@dataclass(frozen=True, eq=False)
class SyntheticResult:
    """The theory panel's measurements (:numref:`fig-transformer-theory`, chapter :ref:`ch-transformer`).

    Axes in ``AXES``: ``family``
    (:data:`~hmmrisk.transformer.protocol.SYNTHETIC_FAMILIES`), ``n``
    (``protocol.ns``), ``ratio`` (``protocol.ratios``; the width is
    ``widths[n, ratio]``), ``draw``.
    """

    protocol: SyntheticProtocol
    widths: np.ndarray
    test_ce: np.ndarray
    train_acc: np.ndarray
    sq_test_loss: np.ndarray
    converged: np.ndarray
    p_sep: np.ndarray
    marginal: float
    bayes: float
    wall_seconds: float = 0.0

    AXES: ClassVar[dict] = {
        "widths": ("n", "ratio"),
        "test_ce": ("family", "n", "ratio", "draw"),
        "train_acc": ("family", "n", "ratio", "draw"),
        "sq_test_loss": ("family", "n", "ratio", "draw"),
        "converged": ("family", "n", "ratio", "draw"),
        "p_sep": ("family", "n", "draw"),
    }

    def arrays(self) -> dict:
        return {k: getattr(self, k) for k in self.AXES}

    def family_index(self, family: str) -> int:
        return _index("family", SYNTHETIC_FAMILIES, family)


class RidgePath(NamedTuple):
    """The softmax head of one width refitted along a path of ridges (chapter :ref:`ch-transformer`).

    ``ridges`` sorted decreasing; arrays have axes ``(family, ridge, draw)``.
    """

    ridges: np.ndarray
    width: int
    seed: int
    test_ce: np.ndarray
    train_acc: np.ndarray
    weight_norm: np.ndarray
    converged: np.ndarray
