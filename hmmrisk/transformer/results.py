"""Typed results of the Figure 3 experiments (chapter :ref:`ch-transformer`).

Every array field names its axes in the class's ``AXES`` mapping (and in its
docstring), so ``result.test_ce`` comes with ``result.AXES["test_ce"] ==
("seed", "family", "ridge", "width", "draw")`` instead of a comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np
import scipy.stats

from .. import _validate as _v
from .protocol import FAMILIES, Protocol, SyntheticProtocol

__all__ = ["TransformerResult", "FamilySummary", "Summary", "SyntheticResult", "RidgePath",
           "summarize", "Paired", "paired"]


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
    val_ce: np.ndarray
    sq_test_loss: np.ndarray
    sq_train_loss: np.ndarray
    rank: np.ndarray
    eff_rank: np.ndarray
    tuned_ce: np.ndarray
    tuned_ridge: np.ndarray
    es_ce: np.ndarray
    es_step: np.ndarray
    pca_ce: np.ndarray
    pca_sq: np.ndarray
    separable: np.ndarray
    tail_share: np.ndarray
    participation: np.ndarray
    effective_rank: np.ndarray
    probe_r2: np.ndarray
    theory_sq: np.ndarray
    resampled_sq: np.ndarray
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
                              "grad_norm", "n_iter", "converged", "residual", "val_ce")},
        **{k: _SQ for k in ("sq_test_loss", "sq_train_loss", "rank", "eff_rank", "tuned_ce",
                            "tuned_ridge", "es_ce", "es_step", "pca_ce", "pca_sq")},
        "separable": ("seed", "family", "width", "sep_draw"),
        **{k: ("seed", "family", "width") for k in ("tail_share", "participation",
                                                    "effective_rank", "probe_r2", "theory_sq",
                                                    "resampled_sq")},
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

    def summary(self, ridge_index: int = 0) -> Summary:
        """The numbers the chapter quotes, per family (see :class:`Summary`)."""
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


class RidgePath(NamedTuple):
    """The softmax head of one width refitted along a path of ridges (chapter :ref:`ch-transformer`).

    ``ridges`` sorted decreasing; arrays have axes ``(family, ridge, draw)``.
    """

    ridges: np.ndarray
    width: int
    test_ce: np.ndarray
    train_acc: np.ndarray
    weight_norm: np.ndarray
    converged: np.ndarray


def _first_width(widths, frac, level):
    hit = np.nonzero(frac >= level)[0]
    return int(widths[hit[0]]) if hit.size else None


def summarize(result: TransformerResult, *, ridge_index: int = 0) -> Summary:
    """The numbers Figure 3's chapter quotes (:numref:`fig-transformer`), per family.

    Per seed a quantity is first averaged over the training sets; ``mean`` is
    the average of the per-seed values, ``lo``/``hi`` their range over seeds.
    ``sep_width`` is the first width at which at least half of the tested
    training sets are exactly separable. Chapter of origin: :ref:`ch-transformer`.
    """
    if not isinstance(result, TransformerResult):
        raise TypeError(f"result must be a TransformerResult, got {type(result).__name__}")
    ridge_index = _v.integer("ridge_index", ridge_index, minimum=0)
    if ridge_index >= len(result.protocol.ridges):
        raise ValueError(f"ridge_index must be < {len(result.protocol.ridges)}, got {ridge_index!r}")
    widths = result.widths
    fams = {}
    for j, name in enumerate(FAMILIES):
        per_seed = result.test_ce[:, j, ridge_index].mean(axis=-1)          # (S, W)
        mean = per_seed.mean(axis=0)
        k = int(np.argmax(mean))
        sep = (result.separable[:, j].mean(axis=(0, 2)) if result.separable.shape[-1]
               else np.full(widths.size, np.nan))
        sq_seed = result.sq_test_loss[:, j].mean(axis=-1)
        sq_mean = sq_seed.mean(axis=0)
        fams[name] = FamilySummary(
            ce_mean=mean, ce_lo=per_seed.min(axis=0), ce_hi=per_seed.max(axis=0),
            peak_width=int(widths[k]), peak_ce=float(mean[k]),
            seed_peak_widths=widths[np.argmax(per_seed, axis=1)],
            ce_first=float(mean[0]), ce_last=float(mean[-1]),
            min_ce=float(mean.min()), min_ce_width=int(widths[np.argmin(mean)]),
            separable_frac=sep, sep_width=_first_width(widths, sep, 0.5),
            sq_mean=sq_mean, sq_lo=sq_seed.min(axis=0), sq_hi=sq_seed.max(axis=0),
            sq_peak_width=int(widths[np.argmax(sq_mean)]),
            sq_seed_peak_widths=widths[np.argmax(sq_seed, axis=1)],
            test_acc=result.test_acc[:, j, ridge_index].mean(axis=(0, 2)),
            train_acc=result.train_acc[:, j, ridge_index].mean(axis=(0, 2)),
            weight_norm=result.weight_norm[:, j, ridge_index].mean(axis=(0, 2)),
            eff_rank=result.eff_rank[:, j].mean(axis=(0, 2)),
            tail_share=result.tail_share[:, j].mean(axis=0))
    lm = result.lm_test_loss
    return Summary(widths=widths, n=result.protocol.n_train,
                   marginal=float(np.mean(result.marginal)), bayes=float(np.mean(result.bayes)),
                   bayes_lm=float(np.mean(result.bayes_lm)), entropy=float(np.mean(result.entropy)),
                   bias_only=float(np.mean(result.bias_only_test_ce[:, ridge_index])),
                   lm_mean=lm.mean(axis=0), lm_lo=lm.min(axis=0), lm_hi=lm.max(axis=0),
                   all_converged=bool(np.all(result.converged)),
                   max_grad_norm=float(np.max(result.grad_norm)),
                   max_residual=float(np.max(result.residual)),
                   max_newton_steps=int(np.max(result.n_iter)), families=fams)



class Paired(NamedTuple):
    """A paired comparison over seeds: ``b - a`` per seed (chapter :ref:`ch-transformer`).

    ``mean``, its standard error ``se``, ``t = mean / se``, the two-sided 95 %
    Student-t interval ``lo``-``hi`` (``S - 1`` degrees of freedom), and
    ``up`` / ``down``: how many seeds rose / fell.
    """

    mean: float
    se: float
    t: float
    lo: float
    hi: float
    up: int
    down: int
    seeds: int


def paired(a, b) -> Paired:
    """The change from ``a`` to ``b`` (arrays of one value per seed, same seeds), seed by seed.

    ``d_s = b_s - a_s``; ``mean = avg d``, ``se = sd(d) / sqrt(S)``; the
    interval is ``mean +- t_{0.975, S-1} se``. A rise or fall the chapter
    claims must have an interval that excludes 0.
    """
    a, b = (_v.finite_array(name, x, ndim=1) for name, x in (("a", a), ("b", b)))
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"a and b must have the same length >= 2, got {a.size} and {b.size}")
    d = b - a
    mean, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))
    q = float(scipy.stats.t.ppf(0.975, d.size - 1))
    return Paired(mean=mean, se=se, t=mean / se if se > 0 else np.copysign(np.inf, mean),
                  lo=mean - q * se, hi=mean + q * se, up=int((d > 0).sum()),
                  down=int((d < 0).sum()), seeds=int(d.size))
