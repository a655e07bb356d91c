"""The figures of the Transformer chapter (chapter :ref:`ch-transformer`).

Drawing only: every number comes from a typed result of
:mod:`~hmmrisk.transformer.experiment`. All figures are drawn inside the
book's one style, :func:`hmmrisk.plotting.style` (:func:`figure3_style` is that
style), at most :data:`hmmrisk.plotting.WIDTH` inches wide; each feature family
keeps one colour of the book's palette :data:`hmmrisk.plotting.COLORS` and one
marker (:data:`FAMILY_STYLE`). Nothing here changes matplotlib's global state.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .. import _validate as _v
from ..plotting import COLORS, WIDTH, style as _book_style
from .protocol import FAMILIES, NETWORKS, SYNTHETIC_FAMILIES
from .results import RidgePath, SyntheticResult, TransformerResult

__all__ = ["figure3_style", "FAMILY_STYLE", "plot_figure3", "plot_theory", "plot_pretraining",
           "plot_ridge_path", "plot_robustness", "plot_geometry"]

#: The heads of the robustness study (:func:`plot_robustness`), each as (result field, label, style).
HEADS = (("test_ce", r"ridge $10^{-6}$ (headline)", dict(color=COLORS[0], marker="o")),
         ("tuned_ce", "ridge tuned on validation", dict(color=COLORS[2], marker="D")),
         ("es_ce", "early-stopped gradient descent", dict(color=COLORS[3], marker="^")),
         ("pca_ce", "top $K-1$ PCs, tuned ridge", dict(color=COLORS[4], marker="v")))

#: Marker and colour (from the book's palette) of each feature family (and network).
FAMILY_STYLE = {
    "pretrained": dict(color=COLORS[0], marker="o", label="pre-trained"),
    "pretrained+noise": dict(color=COLORS[2], marker="D", label=r"pre-trained + noise $u$"),
    "untrained": dict(color=COLORS[1], marker="s", mfc="white", label="untrained (random init)"),
    "isotropic": dict(color=COLORS[4], marker="^", label=r"isotropic $x = u$"),
    "latent": dict(color=COLORS[5], marker="v", label=r"$x = Wz + u$"),
}
_THRESHOLD = "0.2"          # the line p = n, as in every figure of the book
_MARKERS = ("o", "s", "^", "D", "v")


@contextlib.contextmanager
def figure3_style():
    """``with figure3_style(): ...`` draws with the book's one style, :func:`hmmrisk.plotting.style`.

    Thinner lines and smaller markers than the default of the style: these
    figures carry many overlapping curves with error bars.
    """
    with _book_style(lines_linewidth=1.1, lines_markersize=4.5, errorbar_capsize=2.5):
        yield


def _log_ticks(ax):
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _no_minor_labels(*axes):
    """Label only the decades of log axes (minor labels crowd a short range)."""
    from matplotlib.ticker import NullFormatter

    for ax in axes:
        if ax.get_xscale() == "log":
            ax.xaxis.set_minor_formatter(NullFormatter())
        if ax.get_yscale() == "log":
            ax.yaxis.set_minor_formatter(NullFormatter())


def _band(ax, x, mean, lo, hi, style, offset=1.0):
    ax.errorbar(np.asarray(x) * offset, mean, yerr=[mean - lo, hi - mean], linestyle="-", **style)


def _check(result, cls, name):
    if not isinstance(result, cls):
        raise ValueError(f"{name} must be a {cls.__name__}, got {type(result).__name__}")
    return result


def plot_figure3(result: TransformerResult, *, ridge_index: int = 0):
    """Figure 3 (:numref:`fig-transformer`): four panels against model size, three feature families.

    (a) Test cross-entropy of the softmax head against ``p / n`` (log-log),
    mean over seeds with the range over seeds as error bars; the marginal
    predictor and the Bayes filter as horizontal lines; ``p = n`` dashed; the
    grey band spans the widths at which the families' training sets become
    exactly separable (first width with at least half of them separable, over
    families; a dotted line if it is the same width for all). (b) The minimum-norm squared-loss head on the same features.
    (c) Share of the variance of the standardised features outside their top
    ``K - 1`` principal components, against ``p`` (log-log; not drawn where it
    is 0 up to rounding, as for ``p <= K - 1``). (d) Fraction of
    training sets that are exactly linearly separable. Chapter of origin:
    :ref:`ch-transformer`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    result = _check(result, TransformerResult, "result")
    summ = result.summary(ridge_index=ridge_index)
    n = summ.n
    w = summ.widths
    x = w / n
    seps = [summ.family(f).sep_width for f in FAMILIES if summ.family(f).sep_width is not None]
    with figure3_style():
        fig, axes = plt.subplots(2, 2, figsize=(WIDTH, 6.8))
        a, b, c, d = axes.ravel()
        for i, f in enumerate(FAMILIES):
            s, st = summ.family(f), FAMILY_STYLE[f]
            off = 1.0 + 0.04 * (i - 1)
            _band(a, x, s.ce_mean, s.ce_lo, s.ce_hi, st, off)
            _band(b, x, s.sq_mean, s.sq_lo, s.sq_hi, st, off)
            c.plot(w, np.where(s.tail_share > 1e-12, s.tail_share, np.nan), linestyle="-", **st)
            d.plot(x, s.separable_frac, linestyle="-", **st)
        a.axhline(summ.marginal, color="0.35", linestyle="-.", label=f"marginal predictor ({summ.marginal:.2f})")
        a.axhline(summ.bayes, color="k", linestyle="--", label=f"Bayes filter ({summ.bayes:.2f})")
        for ax in (a, b, d):
            ax.axvline(1.0, color=_THRESHOLD, linestyle="--", linewidth=1.0, label=f"$p = n$ = {n}")
            if seps and max(seps) > min(seps):
                ax.axvspan(min(seps) / n, max(seps) / n, color="0.6", alpha=0.25, linewidth=0,
                           label=r"$p_{\mathrm{sep}}$ band")
            elif seps:                    # every family at the same width: a line, not a band
                ax.axvline(seps[0] / n, color="0.5", linestyle=":", linewidth=1.5,
                           label=r"$p_{\mathrm{sep}}$")
            ax.set_xscale("log")
            ax.set_xlabel("$p / n$")
        for ax in (a, b, c):
            ax.set_yscale("log")
        _no_minor_labels(a, b, c, d)
        _log_ticks(a)
        a.set_ylabel("test cross-entropy (nats)")
        a.set_title("(a) softmax head")
        b.set_ylabel("test squared loss")
        b.set_title("(b) min-norm squared-loss head")
        c.set_xscale("log", base=2)
        c.set_xlabel("model size $p$")
        c.set_ylabel(f"variance outside top {result.protocol.n_states - 1} PCs")
        c.set_title("(c) directions beyond the belief state")
        d.set_ylabel("fraction separable")
        d.set_ylim(-0.03, 1.03)
        d.set_title("(d) exact separability (LP)")
        handles, labels = a.get_legend_handles_labels()
        # below the panels, off the data
        fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.0))
        fig.tight_layout(rect=(0, 0.13, 1, 1))
    return fig


def plot_theory(result: SyntheticResult):
    """The theory panel (:numref:`fig-transformer-theory`): synthetic features, same heads.

    One row per synthetic family. Left: test cross-entropy of the softmax head
    against ``p / p_sep`` (``p_sep`` the median exact separability threshold
    of that ``n``), one curve per ``n`` (mean over training sets, error bars
    one standard error over them). Right: the minimum-norm squared-loss head
    against ``p / n``. Log-log axes; the
    marginal predictor dash-dotted; the vertical line at 1. Chapter of origin:
    :ref:`ch-transformer`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    res = _check(result, SyntheticResult, "result")
    ns = res.protocol.ns
    markers = _MARKERS
    with figure3_style():
        fig, axes = plt.subplots(len(SYNTHETIC_FAMILIES), 2, figsize=(WIDTH, 0.5 + 2.9 * len(SYNTHETIC_FAMILIES)),
                                 squeeze=False)
        for f, fam in enumerate(SYNTHETIC_FAMILIES):
            a, b = axes[f]
            for i, n in enumerate(ns):
                p = res.widths[i]
                psep = float(np.median(res.p_sep[f, i]))
                st = dict(color=COLORS[i % len(COLORS)], marker=markers[i % len(markers)], label=f"$n$ = {n}")
                for ax, xx, arr in ((a, p / psep, res.test_ce[f, i]), (b, p / n, res.sq_test_loss[f, i])):
                    se = arr.std(axis=-1, ddof=1) / np.sqrt(arr.shape[-1]) if arr.shape[-1] > 1 else None
                    ax.errorbar(xx, arr.mean(axis=-1), yerr=se, linestyle="-", **st)
            a.axhline(res.marginal, color="0.35", linestyle="-.", label="marginal predictor")
            a.axvline(1.0, color="0.3", linestyle=":", linewidth=1.2)
            b.axvline(1.0, color=_THRESHOLD, linestyle="--", linewidth=1.0)
            for ax in (a, b):
                ax.set_xscale("log")
                ax.set_yscale("log")
            _no_minor_labels(a, b)
            _log_ticks(a)
            a.set_xlabel(r"$p / p_{\mathrm{sep}}$")
            b.set_xlabel("$p / n$")
            a.set_ylabel("test cross-entropy (nats)")
            b.set_ylabel("test squared loss")
            a.set_title(f"{FAMILY_STYLE[fam]['label']}: softmax head")
            b.set_title(f"{FAMILY_STYLE[fam]['label']}: min-norm squared loss")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(handles), frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
        fig.tight_layout(rect=(0, 0.45 / (0.5 + 2.9 * len(SYNTHETIC_FAMILIES)), 1, 1))
    return fig


def plot_pretraining(result: TransformerResult, *, seed_index: int = 0):
    """Did pre-training work? Language-model test loss per width, and training curves.

    Left: next-token test cross-entropy of each pre-trained width (mean and
    range over seeds) and of the untrained network, with the Bayes filter and
    the marginal entropy. Right: the pre-training loss per step (10-step
    running mean) of each width for one seed. Companion of Figure 3
    (:numref:`fig-transformer-pretraining`). Chapter of origin: :ref:`ch-transformer`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    result = _check(result, TransformerResult, "result")
    summ = result.summary()
    seed_index = _v.integer("seed_index", seed_index, minimum=0)
    if seed_index >= len(result.seeds):
        raise ValueError(f"seed_index must be < {len(result.seeds)}, got {seed_index!r}")
    w = summ.widths
    with figure3_style():
        fig, (a0, a1) = plt.subplots(1, 2, figsize=(WIDTH, 4.6))
        for j, m in enumerate(NETWORKS):
            _band(a0, w, summ.lm_mean[j], summ.lm_lo[j], summ.lm_hi[j], FAMILY_STYLE[m])
        a0.axhline(summ.entropy, color="0.35", linestyle="-.", label="marginal entropy")
        a0.axhline(summ.bayes_lm, color="k", linestyle="--", label="Bayes filter")
        a0.set_xscale("log", base=2)
        a0.set_xticks(w)
        # label the powers of 2 and the widest: neighbours such as 24 and 32 collide at this size
        a0.set_xticklabels([str(v) if v & (v - 1) == 0 or v == w[-1] else "" for v in w], fontsize=9)
        a0.minorticks_off()
        a0.set_xlabel("model size $p$")
        a0.set_ylabel("LM test cross-entropy (nats)")
        a0.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=9)   # off the data
        curves = result.pretrain_loss[seed_index]
        cmap = plt.get_cmap("viridis")
        kernel = np.ones(10) / 10
        for i, width in enumerate(w):
            sm = np.convolve(curves[i], kernel, mode="valid")
            a1.plot(np.arange(sm.size) + 10, sm, color=cmap(i / max(1, len(w) - 1)), label=f"p={width}")
        a1.axhline(summ.bayes_lm, color="k", linestyle="--")
        a1.set_xlabel("pre-training step")
        a1.set_ylabel("training loss (10-step mean)")
        a1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=9)
        fig.tight_layout()
    return fig


def plot_ridge_path(path: RidgePath, *, marginal: float | None = None, headline: float | None = None):
    """Test cross-entropy, training accuracy and head norm against the ridge, at one width.

    Mean over the training draws with their range as error bars, for every
    family; the marginal predictor and the ridge of the headline fit, if
    given. Companion of Figure 3 (:numref:`fig-transformer-ridge`). Chapter of
    origin: :ref:`ch-transformer`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    path = _check(path, RidgePath, "path")
    lam = path.ridges
    with figure3_style():
        fig, axes = plt.subplots(1, 3, figsize=(WIDTH, 4.0))
        for j, f in enumerate(FAMILIES):
            for ax, val in zip(axes, (path.test_ce[j], path.train_acc[j], path.weight_norm[j])):
                mean = val.mean(axis=1)
                _band(ax, lam, mean, val.min(axis=1), val.max(axis=1), FAMILY_STYLE[f])
        if marginal is not None:
            axes[0].axhline(_v.real("marginal", marginal), color="0.35", linestyle="-.",
                            label="marginal predictor")
        for ax in axes:
            if headline is not None:
                ax.axvline(_v.real("headline", headline, low=0.0, low_open=True), color=_THRESHOLD,
                           linestyle=":", linewidth=1.2, label="ridge of the headline fit")
            ax.set_xscale("log")
            ax.set_xlabel(r"ridge $\lambda$")
            ax.invert_xaxis()
        axes[0].set_yscale("log")
        _log_ticks(axes[0])
        axes[2].set_yscale("log")
        axes[0].set_ylabel("test cross-entropy (nats)")
        axes[1].set_ylabel("training accuracy")
        axes[2].set_ylabel(r"head norm $\|W_a\|_F$")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.0))
        fig.suptitle(f"one width, p = {path.width}")
        fig.tight_layout(rect=(0, 0.15, 1, 1))
    return fig


def _per_seed(result, key, family):
    """``(seed, width)`` values of one family (the headline ridge for ``test_ce``), draws averaged."""
    j = FAMILIES.index(family)
    arr = getattr(result, key)[:, j]
    if key == "test_ce":
        arr = arr[:, 0]
    return arr.mean(axis=-1) if arr.ndim == 3 else arr


def _mean_se(ax, x, per_seed, style, **kw):
    se = per_seed.std(axis=0, ddof=1) / np.sqrt(per_seed.shape[0]) if per_seed.shape[0] > 1 else None
    ax.errorbar(x, per_seed.mean(axis=0), yerr=se, linestyle="-", **style, **kw)


def plot_robustness(result: TransformerResult):
    """The robustness study (:numref:`fig-transformer-robust`): every head, and the theory on the features.

    Top row, one panel per family: test cross-entropy against ``p / n`` of the
    near-unregularised softmax head, the head with the ridge tuned on the
    validation pairs, the early-stopped gradient-descent head and the tuned
    head on the top ``K - 1`` principal components (mean over seeds, error
    bars one standard error over seeds); marginal predictor dash-dotted, Bayes
    filter dashed. Bottom row: the minimum-norm squared-loss head's measured
    test loss, the same head on training sets drawn from the rows the theory
    takes as its population, and Theorem 1 / Definition 2 evaluated on that
    population's covariance (line). Chapter of origin: :ref:`ch-transformer`.
    """
    import matplotlib.pyplot as plt

    res = _check(result, TransformerResult, "result")
    n = res.protocol.n_train
    x = res.widths / n
    with figure3_style():
        fig, axes = plt.subplots(2, len(FAMILIES), figsize=(WIDTH, 7.4), sharex=True)
        for j, fam in enumerate(FAMILIES):
            a, b = axes[0, j], axes[1, j]
            for key, label, st in HEADS:
                _mean_se(a, x, _per_seed(res, key, fam), st, label=label)
            a.axhline(float(np.mean(res.marginal)), color="0.35", linestyle="-.", label="marginal predictor")
            a.axhline(float(np.mean(res.bayes)), color="k", linestyle="--", label="Bayes filter")
            _mean_se(b, x, _per_seed(res, "sq_test_loss", fam), dict(color=COLORS[0], marker="o"),
                     label="measured (min-norm head)")
            if np.all(np.isfinite(res.resampled_sq)):
                _mean_se(b, x, _per_seed(res, "resampled_sq", fam),
                         dict(color=COLORS[3], marker="^", mfc="white"),
                         label="same head, sets drawn from the theory's rows")
            th = _per_seed(res, "theory_sq", fam)
            b.plot(x, np.exp(np.log(th).mean(axis=0)), color="k", linestyle="-", marker="",
                   label="theory on the features' covariance")
            for ax in (a, b):
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.axvline(1.0, color=_THRESHOLD, linestyle="--", linewidth=1.0)
            _no_minor_labels(a, b)
            a.set_title(FAMILY_STYLE[fam]["label"])
            b.set_xlabel("$p / n$")
        axes[0, 0].set_ylabel("test cross-entropy (nats)")
        axes[1, 0].set_ylabel("test squared loss")
        h1, l1 = axes[0, 0].get_legend_handles_labels()
        h2, l2 = axes[1, 0].get_legend_handles_labels()
        fig.legend(h1 + h2, l1 + l2, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.0))
        fig.tight_layout(rect=(0, 0.2, 1, 1))
    return fig


def plot_geometry(result: TransformerResult):
    """The geometry of the frozen features (:numref:`fig-transformer-geometry`), against ``p``.

    Participation ratio and effective rank of the standardised test features,
    and the held-out ``R^2`` of a linear probe of the HMM belief state; mean
    over seeds, error bars one standard error. Chapter of origin:
    :ref:`ch-transformer`.
    """
    import matplotlib.pyplot as plt

    res = _check(result, TransformerResult, "result")
    w = res.widths
    k = res.protocol.n_states - 1
    with figure3_style():
        fig, axes = plt.subplots(1, 3, figsize=(WIDTH, 3.9))
        for fam in FAMILIES:
            st = FAMILY_STYLE[fam]
            for ax, key in zip(axes, ("participation", "effective_rank", "probe_r2")):
                _mean_se(ax, w, _per_seed(res, key, fam), st)
        for ax, title in zip(axes, ("participation ratio", "effective rank", "belief-state probe $R^2$")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("model size $p$")
            ax.set_title(title)
        for ax in axes[:2]:
            ax.set_yscale("log")
            ax.axhline(k, color="0.5", linestyle=":", label=f"$K - 1$ = {k}")
        axes[2].set_ylim(None, 1.02)
        _no_minor_labels(*axes)
        names = [FAMILY_STYLE[f]["label"] for f in FAMILIES]
        handles, labels = axes[0].get_legend_handles_labels()
        extra = [(h, lab) for h, lab in zip(handles, labels) if lab not in names]   # the K - 1 line
        fams = [plt.Line2D([], [], linestyle="-", **FAMILY_STYLE[f]) for f in FAMILIES]
        fig.legend(fams + [h for h, _ in extra], names + [lab for _, lab in extra],
                   loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.0))
        fig.tight_layout(rect=(0, 0.15, 1, 1))
    return fig
