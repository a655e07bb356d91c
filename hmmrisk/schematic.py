"""The schematic of the book's set-up (:ref:`ch-model`, figure ``fig-setup``).

:func:`setup_figure` draws, in the book's style (:func:`hmmrisk.plotting.style`),
the pipeline every chapter studies: the latent chain of the HMM
(``z_t -> z_{t+1}`` through ``A``, innovation ``epsilon_t`` of variance
``sigma^2``), the frozen encoder that turns the current token into a
representation of size ``p`` (``x_t = W z_t + u_t``), the head ``B_hat``
fitted by least squares on ``n`` pairs, and its next-token prediction
``B_hat^T x_t`` of the target ``y_t = z_{t+1}``, scored by the excess risk
``R_X`` and the total risk ``R_X + tr Sigma_r``.

Every mathematical label on the figure is one of :data:`SYMBOLS`, each a
symbol of the book's notation page (``chapters/notation.md``); the test
``tests/test_schematic.py`` checks both.  The module draws only: it is not
imported by ``import hmmrisk`` (not part of the package's computing API).
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle

from .plotting import COLORS, WIDTH, new_figure, style

__all__ = ["SYMBOLS", "setup_figure"]

#: The notation symbols written on the figure (TeX, without dollars), each listed on the notation page.
SYMBOLS = (
    r"z_t", r"z_{t+1}", r"A", r"\varepsilon_t", r"\sigma^2", r"d",
    r"W", r"u_t", r"x_t", r"p", r"\widehat B", r"n", r"y_t", r"R_X", r"\operatorname{tr}\Sigma_r",
)

_INK = "0.15"
_FROZEN = COLORS[0]      # blue: the frozen, pre-trained part
_TRAINED = COLORS[1]     # vermilion: the part that is fitted
_LATENT = COLORS[2]      # green: the latent chain


def _arrow(ax, a, b, color=_INK, style="-|>", ls="-", lw=1.4, rad=0.0):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=11, color=color,
                                 lw=lw, ls=ls, shrinkA=0, shrinkB=0,
                                 connectionstyle=f"arc3,rad={rad}"))


def _box(ax, x, y, w, h, color, title, lines):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                fc="white", ec=color, lw=1.6))
    ax.text(x + w / 2, y + h - 0.2, title, ha="center", va="top", color=color,
            fontsize=9.5, fontweight="bold")
    for k, line in enumerate(lines):
        ax.text(x + w / 2, y + h - 0.62 - 0.4 * k, line, ha="center", va="top", color=_INK, fontsize=9.5)


def setup_figure(figsize: tuple[float, float] = (WIDTH, 3.6)) -> Figure:
    """Draw the set-up: HMM chain -> tokens -> frozen encoder (size ``p``) -> head -> prediction.

    Parameters
    ----------
    figsize : (float, float)
        Width and height in inches; the default is the book's widest figure.

    Returns
    -------
    matplotlib.figure.Figure
        A figure already closed in pyplot (display it with ``myst_nb.glue``),
        whose text labels use exactly the symbols of :data:`SYMBOLS`.

    Examples
    --------
    >>> from hmmrisk.schematic import setup_figure
    >>> fig = setup_figure()
    >>> len(fig.axes)
    1
    """
    with style(axes_grid=False):
        fig = new_figure(figsize=figsize)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 10.4)
        ax.set_ylim(0, 5.85)
        ax.set_aspect("equal")
        ax.axis("off")

        # 1. the latent chain (the HMM): z_t -> z_{t+1}
        ax.add_patch(Rectangle((0.1, 4.05), 10.2, 1.7, fc=_LATENT, alpha=0.08, ec="none"))
        ax.text(0.25, 5.6, "hidden Markov chain of latent tokens", color=_LATENT, fontsize=9.5,
                fontweight="bold", va="top")
        for x, label in ((1.6, r"$z_t$"), (7.6, r"$z_{t+1}$")):
            ax.add_patch(Circle((x, 4.75), 0.42, fc="white", ec=_LATENT, lw=1.6))
            ax.text(x, 4.75, label, ha="center", va="center", fontsize=10.5)
        ax.text(0.25, 4.75, r"$\cdots$", ha="left", va="center", fontsize=10.5)
        ax.text(8.4, 4.75, r"$\cdots$", ha="left", va="center", fontsize=10.5)
        _arrow(ax, (2.05, 4.75), (7.15, 4.75), color=_LATENT)
        ax.text(4.6, 4.88, r"$z_{t+1} = A z_t + \varepsilon_t$", ha="center", va="bottom", fontsize=10)
        ax.text(4.6, 4.62, r"noise $\varepsilon_t$ of variance $\sigma^2$, tokens in $\mathbb{R}^d$",
                ha="center", va="top", fontsize=9)

        # 2. the frozen encoder reads the current token
        _arrow(ax, (1.6, 4.3), (1.6, 3.45))
        _box(ax, 0.2, 1.55, 2.8, 1.85, _FROZEN, "frozen encoder",
             [r"$x_t = W z_t + u_t$", r"weights $W$, noise $u_t$"])
        ax.text(1.6, 1.42, "pre-trained, not tuned", ha="center", va="top", color=_FROZEN, fontsize=9)

        # 3. the representation: p features
        _arrow(ax, (3.05, 2.45), (3.65, 2.45))
        for k in range(7):
            ax.add_patch(Rectangle((3.75, 1.55 + 0.27 * k), 0.32, 0.24, fc=_FROZEN, alpha=0.35 + 0.08 * k,
                                   ec="white", lw=0.6))
        ax.text(3.91, 3.55, r"$x_t$", ha="center", va="bottom", fontsize=10.5)
        ax.text(3.91, 1.42, r"size $p$", ha="center", va="top", fontsize=9.5)

        # 4. the head, the only part that is fitted
        _arrow(ax, (4.15, 2.45), (4.75, 2.45))
        _box(ax, 4.8, 1.55, 2.75, 1.85, _TRAINED, r"head $\widehat B$",
             [r"least squares on", r"$n$ pairs $(x_i, y_i)$"])
        ax.text(6.17, 1.42, "the only part fitted", ha="center", va="top", color=_TRAINED, fontsize=9)

        # 5. the prediction and its target
        _arrow(ax, (7.6, 2.45), (8.15, 2.45))
        ax.text(8.2, 2.45, r"$\widehat B^{\top} x_t$", ha="left", va="center", fontsize=10.5)
        _arrow(ax, (7.6, 4.3), (8.65, 2.8), color=_LATENT, ls="--", lw=1.2)
        ax.text(8.75, 3.6, r"target" "\n" r"$y_t = z_{t+1}$", ha="left", va="center", fontsize=9.5)
        ax.text(8.2, 2.05, "next-token\nprediction", ha="left", va="top", fontsize=9)

        # 6. how it is scored
        ax.text(5.2, 0.62, r"scored by the excess risk $R_X$ and the total risk $R_X + \operatorname{tr}\Sigma_r$",
                ha="center", va="center", fontsize=9.5, color=_INK)
        ax.add_patch(FancyBboxPatch((0.35, 0.32), 9.7, 0.6, boxstyle="round,pad=0.0,rounding_size=0.1",
                                    fc="0.96", ec="0.75", lw=0.8))
    return fig
