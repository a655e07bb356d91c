"""How the book prints a number: the one formatter behind every glued number.

A chapter computes a number, formats it here and glues the result as Markdown;
the text shows it with ``{glue:md}`key```.  The rules are those a reader writes
by hand:

* integers (and floats below 10⁵ that are integers, such as a model size
  ``p = 100.0``) print as integers, with a thin space every three digits from
  10 000 on;
* other numbers keep ``digits`` significant digits (or ``decimals`` decimals),
  without trailing zeros when the value is exact (0.5, not 0.500);
* numbers too small or too large for that (below 10⁻³ or from 10⁵ on in
  absolute value, unless ``decimals`` is given) print as :math:`a \\times 10^{n}`,
  typeset by MathJax;
* a negative number carries a true minus sign (U+2212), never a hyphen;
* zero is ``0``, never ``0.0e+00``.

Examples
--------
>>> str(number(3.5e-29))
'$3.5 \\\\times 10^{-29}$'
>>> str(number(19100.0))
'19\\u202f100'
>>> str(number(-0.01234))
'−0.0123'
>>> str(number(0.4567, decimals=2))
'0.46'
>>> str(percent(0.02461))
'2.46\\u202f%'
"""

from __future__ import annotations

import math
import numbers as _numbers

__all__ = ["Number", "number", "percent"]

MINUS = "\u2212"
THIN = "\u202f"          # narrow no-break space: digit groups, before %
SMALL, LARGE = 1e-3, 1e5  # outside [SMALL, LARGE): a × 10ⁿ


class Number(str):
    """A formatted number: a ``str`` that Jupyter and myst-nb render as Markdown.

    Glued with ``myst_nb.glue(key, number(x), display=False)`` it is stored
    with a ``text/markdown`` representation, which ``{glue:md}`key``` inserts
    into the text (math included).
    """

    def _repr_markdown_(self) -> str:
        return str(self)


def _group(digits: str) -> str:
    """``'19100'`` → ``'19 100'`` (thin spaces) from five digits on."""
    if len(digits) < 5:
        return digits
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)]
    return THIN.join(parts)


def _check(x, name="x") -> float:
    if isinstance(x, bool) or not isinstance(x, _numbers.Real):
        raise TypeError(f"{name} must be a real number, got {x!r}")
    return float(x)


def number(x, digits: int = 3, *, decimals: int | None = None) -> Number:
    """Format ``x`` as a reader writes it (see the module docstring).

    Parameters
    ----------
    x : real number
        The value (a Python or NumPy integer or float).
    digits : int
        Significant digits of a non-integer (default 3).
    decimals : int, optional
        Fixed number of decimals instead of significant digits (a table
        column of equal precision); no scientific form then.

    Returns
    -------
    Number
        The text, Markdown (a power of ten is inline math ``$a \\times 10^{n}$``).
    """
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be an integer >= 1, got {digits!r}")
    if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, int)
                                 or decimals < 0):
        raise ValueError(f"decimals must be an integer >= 0, got {decimals!r}")
    if isinstance(x, _numbers.Integral) and not isinstance(x, bool):
        sign = MINUS if x < 0 else ""
        return Number(sign + _group(str(abs(int(x)))))
    value = _check(x)
    if math.isnan(value):
        raise ValueError(f"x must not be NaN, got {x!r}")
    if math.isinf(value):
        return Number("$\\infty$" if value > 0 else "$-\\infty$")
    sign = MINUS if value < 0 else ""
    mag = abs(value)
    if decimals is not None:
        text = f"{mag:.{decimals}f}"
        if float(text) == 0:
            sign = ""
        whole, _, frac = text.partition(".")
        return Number(sign + _group(whole) + ("." + frac if frac else ""))
    if mag == 0:
        return Number("0")
    if mag.is_integer() and mag < LARGE:
        return Number(sign + _group(str(int(mag))))
    if SMALL <= mag < LARGE:
        exponent = math.floor(math.log10(mag))
        places = max(digits - 1 - exponent, 0)
        text = f"{mag:.{places}f}"
        if float(text) >= LARGE:
            return _scientific(sign, mag, digits)
        if "." in text and float(text.rstrip("0").rstrip(".")) == mag:
            text = text.rstrip("0").rstrip(".")   # an exact 0.5 is 0.5, not 0.500
        whole, _, frac = text.partition(".")
        return Number(sign + _group(whole) + ("." + frac if frac else ""))
    return _scientific(sign, mag, digits)


def _scientific(sign: str, mag: float, digits: int) -> Number:
    mantissa, exponent = f"{mag:.{digits - 1}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    math_sign = "-" if sign else ""   # inside math MathJax draws a true minus
    return Number(f"${math_sign}{mantissa} \\times 10^{{{int(exponent)}}}$")


def percent(x, digits: int = 3, *, decimals: int | None = None) -> Number:
    """``x`` as a percentage: ``percent(0.0246)`` → ``'2.46 %'`` (thin space)."""
    value = _check(x)
    return Number(number(100 * value, digits, decimals=decimals) + THIN + "%")
