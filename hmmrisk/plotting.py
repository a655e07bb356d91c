"""Figures of the theory chapters: risk against model size ({ref}`ch-double-descent`).

:func:`risk_figure` draws one or more :class:`~hmmrisk.curves.RiskCurve`:
theory as continuous lines, simulation as markers with +-1 standard-error
bars, a dashed vertical line at the interpolation threshold ``p = n``, the
excluded band ``|p - n| <= band`` shaded (those points are not simulated, see
:mod:`hmmrisk.curves`), a log y-axis and an opaque white background.  The left
panel shows the excess risk, the right panel the total next-token risk
(excess + ``tr Sigma_r``).  :func:`figure1` and :func:`figure2` are the two
figures of the paper.

For the orthogonal embedding the lines are Definition 3
({prf:ref}`def-hmm-risk`, i.e. Definition 2 in closed form) for ``p > n`` and
Theorem 1 ({prf:ref}`thm-under`) for ``p < n`` -- the exact finite-``n``
mean ``tr Sigma_r p / (n - p - 1)`` by default, the asymptotic
``gamma / (1 - gamma)`` with ``under="asymptotic"`` -- on a grid four times
finer than the simulated one.  For the Gaussian embedding the lines join the
theory at the simulated ``p`` (each ``p`` has its own random spectrum).

Nothing here changes matplotlib's global state: every style choice is an
explicit argument.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure  # noqa: F401  (return type)
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import _validate as check
from .curves import RiskCurve
from .theory import definition3

UNDER = ("exact", "asymptotic")

__all__ = ["COLORS", "figure1", "figure2", "risk_figure", "theory_line"]

#: Colour-blind-safe palette (Okabe & Ito).
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


def theory_line(curve, under: str = "exact", refine: int = 4):
    """``(p, excess, total)`` of the theory line for one :class:`~hmmrisk.curves.RiskCurve`.

    Orthogonal embedding: :func:`hmmrisk.theory.definition3` on a grid
    ``refine`` times finer than ``curve.p`` (Theorem 1 for ``p < n``,
    ``under`` choosing its exact or asymptotic form; ``inf`` at the threshold,
    which leaves a gap in the line), with extra points crowding both sides of
    the singularity so that the divergence is drawn smoothly.  Gaussian embedding: the curve's own
    theory at its simulated ``p``.
    """
    if not isinstance(curve, RiskCurve):
        raise ValueError(f"curve must be a RiskCurve (see hmmrisk.curves.risk_curve), "
                         f"got {type(curve).__name__}")
    check.choice("under", under, UNDER)
    refine = check.integer("refine", refine)
    if curve.embedding != "orthogonal":
        th = curve.theory
        return curve.p.astype(float), th.risk, th.total
    lo, hi = float(curve.p.min()), float(curve.p.max())
    steps = max(int(round((hi - lo) * refine / max(np.median(np.diff(curve.p)), 1))), 2)
    # plus points crowding the singularities (p -> n - 1 or n from below, p -> n from above)
    edge = curve.n - (1.0 if under == "exact" else 0.0)
    near = np.r_[edge - np.geomspace(1e-3, 5.0, 40), curve.n + np.geomspace(1e-3, 5.0, 40)]
    p = np.unique(np.r_[np.linspace(lo, hi, steps + 1), curve.p.astype(float), near])
    p = p[(p >= lo) & (p <= hi)]
    pred = definition3(curve.n, p, curve.d, curve.noise, curve.snr, under=under)
    return p, pred.risk, pred.total


def _draw(ax, curves, labels, total, under):
    """Draw theory lines, simulated points, threshold lines and the excluded band."""
    values = []
    bands_drawn = set()
    for k, (key, curve) in enumerate(curves.items()):
        color = COLORS[k % len(COLORS)]
        p_line, excess, tot = theory_line(curve, under=under)
        y_line = tot if total else excess
        ax.plot(p_line, np.where(np.isfinite(y_line), y_line, np.nan), color=color, lw=1.6, zorder=2)
        keep = ~curve.excluded
        y_sim = (curve.sim_total if total else curve.sim_risk)[keep]
        ax.errorbar(curve.p[keep], y_sim, yerr=curve.sim_stderr[keep], fmt="o", ms=3.2,
                    mfc="white", mec=color, mew=1.0, ecolor=color, elinewidth=1.0,
                    capsize=1.8, color=color, zorder=3, label=labels[key])
        values.append(y_sim)
        if curve.n not in bands_drawn:
            bands_drawn.add(curve.n)
            ax.axvline(curve.n, color="0.2" if _one_n(curves) else color, ls="--", lw=1.0, zorder=1)
            ax.axvspan(curve.n - curve.band - 0.5, curve.n + curve.band + 0.5, color="0.9",
                       lw=0, zorder=0)
    vals = np.concatenate(values)
    vals = vals[np.isfinite(vals) & (vals > 0)]
    if vals.size:
        ax.set_ylim(vals.min() / 1.6, vals.max() * 2.5)
    ax.set_yscale("log")
    ax.set_xlim(min(c.p.min() for c in curves.values()) - 2, max(c.p.max() for c in curves.values()) + 2)
    ax.set_xlabel("model size $p$")
    ax.set_ylabel("total next-token risk" if total else "excess risk")
    ax.grid(True, which="major", color="0.9", lw=0.6)
    ax.set_facecolor("white")


def _check_curves(curves) -> dict:
    """``curves`` must be a non-empty dict of :class:`~hmmrisk.curves.RiskCurve`."""
    if not isinstance(curves, dict):
        raise ValueError(f"curves must be a dict {{key: RiskCurve}}, got {type(curves).__name__}")
    if not curves:
        raise ValueError("curves must hold at least one RiskCurve, got an empty dict")
    bad = [k for k, c in curves.items() if not isinstance(c, RiskCurve)]
    if bad:
        raise ValueError(f"curves must map keys to RiskCurve objects, got "
                         f"{type(curves[bad[0]]).__name__} at key {bad[0]!r}")
    return curves


def _one_n(curves):
    return len({c.n for c in curves.values()}) == 1


def risk_figure(curves: dict, labels: dict | None = None, title: str | None = None,
                under: str = "exact", figsize=(11.0, 4.4)) -> Figure:
    """Excess (left) and total (right) risk against ``p`` for several curves.

    Parameters
    ----------
    curves : dict
        ``{key: RiskCurve}``; one colour per key, in order.
    labels : dict, optional
        ``{key: legend text}``; defaults to ``str(key)``.
    title : str, optional
        Figure title.
    under : {"exact", "asymptotic"}
        Form of Theorem 1 for the lines at ``p < n``.

    Returns
    -------
    matplotlib.figure.Figure
        Already closed in pyplot (nothing is shown twice); display it with
        ``myst_nb.glue`` or ``IPython.display``.
    """
    curves = _check_curves(curves)
    labels = {k: str(k) for k in curves} if labels is None else labels
    if not isinstance(labels, dict) or any(k not in labels for k in curves):
        raise ValueError(f"labels must be a dict with a legend text for every key of curves "
                         f"{list(curves)}, got {labels!r}")
    check.choice("under", under, UNDER)
    try:
        w, h = (check.real("figsize", v, low=0.0, low_open=True) for v in figsize)
    except (TypeError, ValueError):
        raise ValueError(f"figsize must be a pair (width, height) of positive inches, "
                         f"got {figsize!r}") from None
    figsize = (w, h)
    import matplotlib.pyplot as plt       # loads the active backend (inline in Jupyter)

    fig = plt.figure(figsize=figsize, facecolor="white")
    plt.close(fig)                        # not left in pyplot's registry: no duplicate display
    axes = fig.subplots(1, 2)
    for ax, total in zip(axes, (False, True)):
        _draw(ax, curves, labels, total, under)
    axes[0].set_title("(a) excess risk $R_X$", fontsize=11)
    axes[1].set_title(r"(b) total risk $R_X + \mathrm{tr}\,\Sigma_r$", fontsize=11)
    band = next(iter(curves.values())).band
    handles, texts = axes[0].get_legend_handles_labels()
    handles += [Line2D([], [], color="0.2", lw=1.6),
                Line2D([], [], color="0.2", ls="--", lw=1.0),
                Patch(color="0.9")]
    texts += ["theory (Thm 1 / Def 2)", "$p = n$", f"$|p-n| \\leq {band}$: not simulated"]
    fig.legend(handles, texts, loc="lower center", ncol=min(len(handles), 6), fontsize=9,
               frameon=False, bbox_to_anchor=(0.5, 0.0))
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0.08, 1, 0.97 if title else 1))
    return fig


def figure1(curves: dict) -> Figure:
    """Figure 1 of the paper: ``{sigma^2: RiskCurve}`` at ``n = 100, d = 50``."""
    c = next(iter(_check_curves(curves).values()))
    c = next(iter(curves.values()))
    labels = {k: fr"$\sigma^2 = {k:g}$ (simulation)" for k in curves}
    return risk_figure(curves, labels,
                       title=fr"Risk of the head vs model size ($n = {c.n}$, $d = {c.d}$, "
                             fr"$\rho = {c.snr:g}$, {c.reps} training sets per point)")


def figure2(curves: dict) -> Figure:
    """Figure 2 of the paper: ``{n: RiskCurve}`` at ``sigma^2 = 0.5, d = 50``."""
    c = next(iter(_check_curves(curves).values()))
    c = next(iter(curves.values()))
    labels = {k: fr"$n = {k}$ (simulation)" for k in curves}
    return risk_figure(curves, labels,
                       title=fr"Risk of the head vs model size ($\sigma^2 = {c.noise:g}$, $d = {c.d}$, "
                             fr"$\rho = {c.snr:g}$, {c.reps} training sets per point)")
