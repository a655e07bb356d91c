"""The number formatter behind every glued number (hmmrisk.numbers)."""

import re

import numpy as np
import pytest

from hmmrisk.numbers import MINUS, THIN, Number, number, percent


@pytest.mark.parametrize("x, text", [
    (3.5e-29, r"$3.5 \times 10^{-29}$"),          # e-notation becomes a power of ten
    (1.91e4, "19" + THIN + "100"),                # below 10^5: plain, grouped
    (2.5e6, r"$2.5 \times 10^{6}$"),               # a large float is not spelled out
    (-4e-7, r"$-4 \times 10^{-7}$"),
    (0.0, "0"),                                   # never 0.0e+00
    (-0.0, "0"),
    (100.0, "100"),                               # an integral float prints as an integer
    (np.float64(64.0), "64"),
    (np.int64(40000), "40" + THIN + "000"),
    (7, "7"),
    (-12, MINUS + "12"),                          # a true minus sign
    (-0.01234, MINUS + "0.0123"),
    (0.4567, "0.457"),
    (0.5, "0.5"),                                 # exact: no trailing zeros
    (0.49996, "0.500"),                           # rounded: the zeros are significant
    (0.000999, r"$9.99 \times 10^{-4}$"),
    (99999.9, r"$1 \times 10^{5}$"),              # rounding up crosses the threshold
    (float("inf"), r"$\infty$"),
])
def test_number_is_written_as_a_reader_writes_it(x, text):
    assert number(x) == text


def test_digits_and_decimals():
    assert number(np.pi, 5) == "3.1416"
    assert number(np.pi, decimals=2) == "3.14"
    assert number(2.0, decimals=2) == "2.00"        # a table column keeps its decimals
    assert number(-0.001, decimals=2) == "0.00"     # no minus sign on a rounded zero
    assert number(1234567.0, decimals=1) == "1" + THIN + "234" + THIN + "567.0"
    assert percent(0.02461) == "2.46" + THIN + "%"
    assert percent(-0.1, decimals=1) == MINUS + "10.0" + THIN + "%"


def test_no_e_notation_ever():
    rng = np.random.default_rng(0)
    for x in np.concatenate([10.0 ** rng.uniform(-40, 40, 500), -10.0 ** rng.uniform(-40, 40, 500)]):
        text = number(x)
        assert not re.search(r"\d[eE][+-]?\d", text) and not text.startswith("-"), text


def test_glued_as_markdown():
    n = number(3.5e-29)
    assert isinstance(n, Number) and n._repr_markdown_() == str(n)


@pytest.mark.parametrize("bad", [float("nan"), "1.0", None, True, 1 + 2j])
def test_bad_value_raises(bad):
    with pytest.raises(ValueError if isinstance(bad, float) else TypeError, match="x"):
        number(bad)


@pytest.mark.parametrize("kw", [dict(digits=0), dict(digits=2.5), dict(decimals=-1), dict(decimals=True)])
def test_bad_precision_raises(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        number(1.5, **kw)
