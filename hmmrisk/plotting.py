"""Figures of the theory chapters: risk against model size (:ref:`ch-double-descent`).

:func:`risk_figure` draws one or more :class:`~hmmrisk.curves.RiskCurve`:
theory as continuous lines, simulation as markers with ±1 standard-error
bars, a dashed vertical line at the interpolation threshold ``p = n``, the
excluded band ``|p - n| <= band`` shaded (those points are not simulated, see
:mod:`hmmrisk.curves`), a log y-axis and an opaque white background.  The left
panel shows the excess risk, the right panel the total next-token risk
(excess + ``tr Sigma_r``).  :func:`figure1` and :func:`figure2` are the two
figures of the paper.

For the orthogonal embedding the lines are
:prf:ref:`Definition 3 <def-hmm-risk>` (i.e. Definition 2 in closed form) for ``p > n`` and
:prf:ref:`Theorem 1 <thm-under>` for ``p < n`` -- the exact finite-``n``
mean ``tr Sigma_r p / (n - p - 1)`` by default, the asymptotic
``gamma / (1 - gamma)`` with ``under="asymptotic"`` -- on a grid four times
finer than the simulated one.  For the Gaussian embedding the lines join the
theory at the simulated ``p`` (each ``p`` has its own random spectrum).

The one style of every figure in the book is the style file
``hmmrisk/hmmrisk.mplstyle`` (:data:`STYLE_FILE`, shipped with the package;
palette :data:`COLORS`, fonts, sizes, white background, light grid, 200 dpi),
applied by the context manager :func:`style`: the functions here draw inside it, the
Transformer chapter's figures (``hmmrisk.transformer.plots``) too, and a
chapter that draws its own figure wraps the drawing in
``with hr.plotting.style():``.  Figures are at most :data:`WIDTH` inches wide;
the book's content column at a 1280 px window is 672 CSS px wide, so a
figure is shown at its natural size (96 CSS px per inch): 9-point
text (the smallest in the style and in the functions here) is then at least
9 CSS points (12 px) on screen.  The chapters emit each figure twice, as SVG
(the web page shows it: sharp at any zoom) and as a 200-dpi PNG (the PDF's);
on a phone the page keeps a figure at 3/4 of its natural width or more, so
that text stays at 9 px or more (``_static/figures.js``;
``tests/test_browser.py`` measures both widths).  Nothing here changes
matplotlib's global state at import time.
""" 

from __future__ import annotations

from contextlib import contextmanager
from importlib import resources

import numpy as np
from matplotlib.figure import Figure  # noqa: F401  (return type)
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import _validate as check
from ._validate import Integer, Options, validate
from .curves import RiskCurve
from .theory import definition3

UNDER = ("exact", "asymptotic")

__all__ = ["COLORS", "STYLE", "STYLE_FILE", "WIDTH", "figure1", "figure2", "new_figure", "phase_figure", "risk_figure",
           "style", "theory_line"]

#: The book's matplotlib style file (package data), the one style of every figure; see :func:`style`.
#:
#: :meta hide-value:
STYLE_FILE = resources.files(__package__).joinpath("hmmrisk.mplstyle")


def _read_style() -> dict:
    import matplotlib as mpl

    with resources.as_file(STYLE_FILE) as path:
        return dict(mpl.rc_params_from_file(path, use_default_template=False))


#: The rcParams of :data:`STYLE_FILE` (validated), read once; :func:`style` applies them.
STYLE = _read_style()

#: The colour cycle of :data:`STYLE_FILE`, a colour-blind-safe palette (Okabe & Ito).
COLORS = tuple(STYLE["axes.prop_cycle"].by_key()["color"])

#: Width of the widest figure in inches, which fits the book's 672 px content column at a 1280 px window.
WIDTH = 6.4


@contextmanager
def style(**overrides):
    """Context manager applying the style file :data:`STYLE_FILE` (plus ``overrides``) to figures drawn inside it.

    matplotlib's global ``rcParams`` are restored on exit, so nothing leaks
    into other figures.  Keyword names use ``_`` for ``.``, e.g.
    ``style(axes_grid=False)``.

    Examples
    --------
    >>> import hmmrisk as hr
    >>> with hr.plotting.style():
    ...     fig = hr.plotting.new_figure(figsize=(4, 3))
    ...     ax = fig.subplots()
    >>> ax.get_facecolor() == (1.0, 1.0, 1.0, 1.0)
    True
    """
    import matplotlib as mpl

    # only the file's parameters (and the overrides) change, on top of the current ones:
    # rc_context(fname=...) would first reset everything else to matplotlib's defaults
    params = dict(STYLE)
    params.update({k.replace("_", "."): v for k, v in overrides.items()})
    with mpl.rc_context(params):
        yield


def new_figure(**kwargs) -> Figure:
    """A new figure, already closed in pyplot (nothing is shown twice).

    ``kwargs`` go to :func:`matplotlib.pyplot.figure`.  Display the figure
    with ``myst_nb.glue`` or ``IPython.display``; call it inside :func:`style`.
    """
    import matplotlib.pyplot as plt       # loads the active backend (inline in Jupyter)

    fig = plt.figure(**kwargs)
    plt.close(fig)                        # not left in pyplot's registry: no duplicate display
    return fig


@validate(under=Options(UNDER), refine=Integer())
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
        raise TypeError(f"curve must be a RiskCurve (see hmmrisk.curves.risk_curve), "
                         f"got {type(curve).__name__}")
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


def _check_curves(curves) -> dict:
    """``curves`` must be a non-empty dict of :class:`~hmmrisk.curves.RiskCurve`."""
    if not isinstance(curves, dict):
        raise TypeError(f"curves must be a dict {{key: RiskCurve}}, got {type(curves).__name__}")
    if not curves:
        raise ValueError("curves must hold at least one RiskCurve, got an empty dict")
    bad = [k for k, c in curves.items() if not isinstance(c, RiskCurve)]
    if bad:
        raise ValueError(f"curves must map keys to RiskCurve objects, got "
                         f"{type(curves[bad[0]]).__name__} at key {bad[0]!r}")
    return curves


def _one_n(curves):
    return len({c.n for c in curves.values()}) == 1


@validate(under=Options(UNDER))
def risk_figure(curves: dict, labels: dict | None = None, title: str | None = None,
                under: str = "exact", figsize=(WIDTH, 4.6)) -> Figure:
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
    try:
        w, h = (check.real("figsize", v, low=0.0, low_open=True) for v in figsize)
    except (TypeError, ValueError):
        raise ValueError(f"figsize must be a pair (width, height) of positive inches, "
                         f"got {figsize!r}") from None
    with style():
        return _risk_figure(curves, labels, title, under, (w, h))


def _risk_figure(curves, labels, title, under, figsize):
    fig = new_figure(figsize=figsize)
    axes = fig.subplots(1, 2)
    for ax, total in zip(axes, (False, True)):
        _draw(ax, curves, labels, total, under)
    axes[0].set_title("(a) excess risk $R_X$")
    axes[1].set_title(r"(b) total risk $R_X + \mathrm{tr}\,\Sigma_r$")
    band = next(iter(curves.values())).band
    handles, texts = axes[0].get_legend_handles_labels()
    handles += [Line2D([], [], color="0.2", lw=1.6),
                Line2D([], [], color="0.2", ls="--", lw=1.0),
                Patch(color="0.9")]
    texts += ["theory (Thm 1 / Def 2)", "$p = n$", f"$|p-n| \\leq {band}$: not simulated"]
    fig.legend(handles, texts, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.0))
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.055 * ((len(handles) + 1) // 2), 1, 0.95 if title else 1))
    return fig


def figure1(curves: dict) -> Figure:
    """Figure 1 of the paper: ``{sigma^2: RiskCurve}`` at ``n = 100, d = 50``."""
    return _paper_figure(curves, r"$\sigma^2 = {k:g}$", r"$n = {c.n}$, $d = {c.d}$")


def figure2(curves: dict) -> Figure:
    """Figure 2 of the paper: ``{n: RiskCurve}`` at ``sigma^2 = 0.5, d = 50``."""
    return _paper_figure(curves, r"$n = {k}$", r"$\sigma^2 = {c.noise:g}$, $d = {c.d}$")


def _paper_figure(curves, label, setting):
    """:func:`risk_figure` with the legend and title of the paper's figures."""
    c = next(iter(_check_curves(curves).values()))
    labels = {k: label.format(k=k) + " (simulation)" for k in curves}
    return risk_figure(curves, labels,
                       title=f"{setting.format(c=c)}, "
                             fr"$\rho = {c.snr:g}$, {c.reps} training sets per point")


# ---------------------------------------------------------------------------
# The phase diagram of the sweet spot (moved from hmmrisk.sweet_spot)
# ---------------------------------------------------------------------------

def phase_figure(diagrams, titles=None, figsize=None):
    """Heat maps of :func:`hmmrisk.sweet_spot.phase_diagram` results, one panel each (:ref:`ch-sweet-spot`).

    Colour: ``T(p*)/d``, the total risk of the best model relative to no model
    (1 where ``p* = 0``), with thin labelled contours at 0.25, 0.5, 0.75.
    Hatched: ``p* = 0``.  Solid line: the boundary
    ``sigma0^2(snr)``; dashed: ``sigma_u^2(snr)`` (below it small models beat
    ``p = 0``); crosses: cells where a finite ``p*`` wins (if any).  ``snr``
    on a log axis.  Returns a closed figure (display it with ``myst_nb.glue``).
    """
    from .sweet_spot import PhaseDiagram

    diagrams = list(diagrams)
    if not diagrams:
        raise ValueError("diagrams must hold at least one PhaseDiagram, got none")
    bad = [type(g).__name__ for g in diagrams if not isinstance(g, PhaseDiagram)]
    if bad:
        raise ValueError(f"diagrams must hold PhaseDiagram objects (hmmrisk.sweet_spot.phase_diagram), "
                         f"got {bad[0]}")
    titles = [f"$n = {g.n}$, $d = {g.d}$" for g in diagrams] if titles is None else list(titles)
    with style(axes_grid=False):
        return _phase_figure(diagrams, titles, figsize)


def _phase_figure(diagrams, titles, figsize):
    from matplotlib.colors import Normalize

    k = len(diagrams)
    fig = new_figure(figsize=figsize or (WIDTH, 4.8))
    axes = np.atleast_1d(fig.subplots(1, k, sharey=True))
    norm = Normalize(vmin=0.0, vmax=1.0)
    for ax, g, title in zip(axes, diagrams, titles):
        ratio = g.total / g.d
        # the cells as an image inside the SVG (thousands of vector quads made a 5 MB file)
        mesh = ax.pcolormesh(g.snrs, g.noises, ratio, norm=norm, cmap="viridis", shading="nearest",
                             rasterized=True)
        zero = (g.kind == 0).astype(float)
        ax.contourf(g.snrs, g.noises, zero, levels=[0.5, 1.5], colors="none", hatches=["//"])
        cs = ax.contour(g.snrs, g.noises, ratio, levels=[0.25, 0.5, 0.75], colors="0.25",
                        linewidths=0.6)
        ax.clabel(cs, fontsize=9, fmt="%.2f")
        ax.plot(g.snrs, g.boundary, color="white", lw=3.2)
        ax.plot(g.snrs, g.boundary, color=COLORS[1], lw=1.8)
        sb = np.where((g.small_boundary >= 0) & (g.small_boundary <= 1), g.small_boundary, np.nan)
        ax.plot(g.snrs, sb, color="white", lw=1.6, ls="--")
        fin = g.kind == 1
        if np.any(fin):
            rr, ss = np.meshgrid(g.snrs, g.noises)
            ax.plot(rr[fin], ss[fin], "x", color=COLORS[3], ms=4)
        ax.set_xscale("log")
        ax.set_xlim(g.snrs.min(), g.snrs.max())
        ax.set_ylim(g.noises.min(), g.noises.max())
        ax.set_xlabel(r"signal strength $\rho$")
        ax.set_title(title)
    axes[0].set_ylabel(r"noise $\sigma^2$")
    fig.subplots_adjust(bottom=0.26, left=0.1, right=0.86, top=0.93, wspace=0.16)
    cbar = fig.colorbar(mesh, ax=list(axes), fraction=0.04, pad=0.02)
    cbar.set_label(r"$T(p^*)/d$ (best total risk / no model)")
    handles = [Patch(facecolor="none", edgecolor="0.2", hatch="//"),
               Line2D([], [], color=COLORS[1], lw=1.8),
               Line2D([], [], color="0.3", lw=1.6, ls="--")]
    texts = [r"$p^* = 0$ (no head is best)", r"$\sigma_0^2(\rho)$: $T_\infty = d$",
             r"$\sigma_u^2(\rho)$: $\alpha(n-1) = d$"]
    if any(np.any(g.kind == 1) for g in diagrams):
        handles.append(Line2D([], [], color=COLORS[3], marker="x", ls=""))
        texts.append("finite $p^*$")
    fig.legend(handles, texts, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.45, 0.0))
    return fig
