"""The set-up schematic (hmmrisk.schematic): it draws, in the book's style, and every
mathematical label on it is a symbol of the notation page."""

import re
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyBboxPatch

from hmmrisk import plotting, schematic

NOTATION = Path(__file__).resolve().parents[1] / "chapters" / "notation.md"


def _texts(fig):
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")) if t.get_text()]


def test_it_draws_the_pipeline_closed_in_pyplot():
    before = plt.get_fignums()
    fig = schematic.setup_figure()
    assert plt.get_fignums() == before                      # not shown a second time by the notebook
    assert fig.get_figwidth() <= plotting.WIDTH
    fig.canvas.draw()                                       # every label renders (mathtext parses)
    (ax,) = fig.axes
    assert sum(isinstance(p, Circle) for p in ax.patches) == 2            # z_t and z_{t+1}
    assert sum(isinstance(p, FancyBboxPatch) for p in ax.patches) >= 2    # encoder and head
    text = " ".join(_texts(fig))
    for word in ("frozen encoder", "head", "hidden Markov chain", "size $p$"):
        assert word in text


def test_every_symbol_is_drawn():
    text = " ".join(_texts(schematic.setup_figure()))
    missing = [s for s in schematic.SYMBOLS if s not in text]
    assert not missing


def test_every_math_label_uses_only_symbols_of_the_notation_page():
    page = NOTATION.read_text()
    for sym in schematic.SYMBOLS:
        assert sym in page, f"{sym!r} is not on the notation page"
    # what is left of each label once operators, punctuation, the sample index i and the
    # symbols (longest first) are taken out must be empty: no letter off the page
    commands = (r"\mathbb{R}", r"^{\top}", r"\cdots")
    glue = ("_i", "(", ")", ",", "=", "+", "^", " ")
    math = [m for t in _texts(schematic.setup_figure()) for m in re.findall(r"\$([^$]+)\$", t)]
    assert math
    for m in math:
        rest = m
        for piece in [*commands, *sorted(schematic.SYMBOLS, key=len, reverse=True), *glue]:
            rest = rest.replace(piece, "")
        rest = rest.replace("x", "").replace("y", "")       # x_i, y_i once "_i" is gone
        assert rest == "", (m, rest)


def test_text_is_at_least_nine_points():
    fig = schematic.setup_figure()
    sizes = [t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
             if t.get_text()]
    assert sizes and min(sizes) >= 9.0
