"""The one style file: every parameter of ``hmmrisk/hmmrisk.mplstyle`` is applied by
``plotting.style()``, nothing else changes, and nothing leaks out of the context."""

import re

import matplotlib as mpl
import pytest

from hmmrisk import plotting


def _file_lines():
    """``key -> raw value`` of the style file, parsed here without matplotlib."""
    out = {}
    for line in plotting.STYLE_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            key, value = (part.strip() for part in line.split(":", 1))
            out[key] = value
    return out


def test_the_style_file_is_the_style():
    raw = _file_lines()
    assert raw and set(raw) == set(plotting.STYLE)
    before = dict(mpl.rcParams)
    with plotting.style():
        inside = dict(mpl.rcParams)
    assert dict(mpl.rcParams) == before                     # restored on exit
    changed = {k for k in before if before[k] != inside[k]}
    assert changed <= set(raw)                              # only the file's keys change
    for key, value in raw.items():
        if key == "axes.prop_cycle":
            colors = re.findall(r"'([0-9A-Fa-f]{6})'", value)
            assert [c.lstrip("#").upper() for c in inside[key].by_key()["color"]] == colors
            assert [c.lstrip("#").upper() for c in plotting.COLORS] == colors
        elif isinstance(inside[key], bool):
            assert inside[key] == (value == "True"), key
        elif isinstance(inside[key], float):
            assert inside[key] == pytest.approx(float(value)), key
        else:
            assert str(inside[key]) == value, key


def test_overrides_apply_on_top_of_the_file():
    with plotting.style(axes_grid=False, font_size=7.0):
        assert mpl.rcParams["axes.grid"] is False and mpl.rcParams["font.size"] == 7.0
        assert mpl.rcParams["figure.dpi"] == plotting.STYLE["figure.dpi"] == 200.0
