"""The risk explorer (chapters/explorer.ipynb, _static/explorer.js) in headless Chromium.

The page evaluates Definition 3 and the ridge deterministic equivalent in
JavaScript, a second implementation of :mod:`hmmrisk.theory`.  These tests
open the built page (the build of ``make book``, served on 127.0.0.1) and check

* the page's formulas against :mod:`hmmrisk` on a grid of
  ``(n, p, d, sigma^2, rho, lambda)`` that includes the edges near ``p = n``,
  and at 600 random points, to a relative 1e-12;
* its number formatter against :func:`hmmrisk.numbers.number`;
* that moving each control redraws the curves, that the drawn curves (the
  data the SVG paths were drawn from) match hmmrisk, that every readout and
  ``aria-valuetext`` is exact, and that the best-p marker lies inside the frame;
* the layout: axis labels and a legend, the plots above the fold at
  1280 x 800, no sideways scroll at 390 x 844;
* that the page loads with no console error and requests nothing off the site.
"""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest
from local_site import CHROMIUM, CHROMIUM_ARGS, require_chromium, serving

from hmmrisk import theory
from hmmrisk.numbers import number

PAGE = "chapters/explorer.html"
RTOL = 1e-12


@pytest.fixture(scope="module")
def page(book):
    """The explorer page, loaded in Chromium; yields (page, console errors, foreign requests)."""
    if not (book.html / PAGE).exists():
        pytest.fail(f"the book build has no {PAGE}:\n{book.log[-4000:]}")
    require_chromium()
    from playwright.sync_api import sync_playwright

    with serving(book.html) as base, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pg = chromium.new_page(viewport={"width": 1280, "height": 800})
            errors, foreign = [], []
            pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.on("request", lambda r: None if r.url.startswith((base, "data:"))
                  else foreign.append(r.url))
            pg.goto(base + PAGE, wait_until="domcontentloaded")
            pg.wait_for_function("() => document.querySelector('.hmm-explorer')"
                                 ".dataset.curve !== undefined")
            yield pg, errors, foreign, chromium, base
        finally:
            chromium.close()


def _hmmrisk(n, p, d, noise, snr, ridge):
    """(bias, variance, irreducible) of hmmrisk at one point."""
    if ridge > 0:
        q = theory.ridge_orthogonal(int(n), float(p), int(d), noise, snr, ridge=ridge)
    else:
        q = theory.definition3(int(n), float(p), int(d), noise, snr)
    return np.array([q.bias, q.variance, q.irreducible])


def _assert_close(got, want, what):
    """Each part to a relative RTOL; infinite and zero parts exactly."""
    got, want = np.asarray(got, float), np.asarray(want, float)
    exact = np.isinf(want) | (want == 0)
    assert np.array_equal(got[exact], want[exact]), f"{what}: {got} != {want}"
    err = np.abs(got[~exact] / want[~exact] - 1)
    assert err.max(initial=0.0) <= RTOL, f"{what}: relative error {err.max():.2e}"


def _js_risk(pg, rows):
    got = pg.evaluate("""rows => rows.map(([n, p, d, s2, rho, lam]) => {
        const q = window.hmmExplorer.risk(n, p, d, s2, rho, lam);
        return [q.bias, q.variance, q.irreducible].map(x => isFinite(x) ? x : "inf"); })""", rows)
    return np.array([[np.inf if x == "inf" else x for x in row] for row in got], dtype=float)


def test_formulas_match_hmmrisk_on_a_grid_with_the_threshold_edges(page):
    pg, errors, *_ = page
    rows = []
    for n, d, noise, snr, ridge in itertools.product(
            (2, 3, 10, 100, 1995, 10_000), (1, 7, 50, 2000), (0.0, 0.3, 1.0),
            (0.01, 1.0, 100.0), (0.0, 1e-4, 1.0, 1e3)):
        # far from the threshold, at it, and just either side of it
        for p in (1.0, n / 2, n - 2, n - 1, n - 0.5, n - 1e-9 * n, n, n * (1 + 1e-9), n + 1e-6,
                  n + 1, 2 * n, 100 * n, 1e6):
            if p >= 1:
                rows.append([n, float(p), d, noise, snr, ridge])
    got = _js_risk(pg, rows)
    worst = 0.0
    for row, g in zip(rows, got):
        want = _hmmrisk(*row)
        _assert_close(g, want, f"point (n, p, d, sigma2, rho, lambda) = {row}")
        fin = np.isfinite(want) & (want != 0)
        worst = max(worst, float(np.max(np.abs(g[fin] / want[fin] - 1), initial=0.0)))
    assert len(rows) > 8000
    print(f"largest relative difference over {len(rows)} points: {worst:.1e}")
    assert not errors, errors


def test_formulas_match_hmmrisk_at_random_points(page):
    pg, errors, *_ = page
    rng = np.random.default_rng(20261201)
    m = 600
    pts = dict(n=rng.integers(2, 10_001, m), d=rng.integers(1, 2_001, m),
               noise=rng.uniform(0, 1, m), snr=10 ** rng.uniform(-2, 2, m),
               ridge=np.where(rng.random(m) < 0.5, 0.0, 10 ** rng.uniform(-4, 3, m)))
    # model sizes around the threshold as well as far from it (non-integer p allowed)
    far = 10 ** rng.uniform(0, 6, m)
    near = pts["n"] * (1 + rng.choice([-1, 1], m) * 10 ** rng.uniform(-6, -0.5, m))
    pts["p"] = np.maximum(1.0, np.where(rng.random(m) < 0.3, near, far))
    rows = [[int(pts["n"][i]), float(pts["p"][i]), int(pts["d"][i]), float(pts["noise"][i]),
             float(pts["snr"][i]), float(pts["ridge"][i])] for i in range(m)]
    got = _js_risk(pg, rows)
    n_inf = 0
    for row, g in zip(rows, got):
        want = _hmmrisk(*row)
        n_inf += int(np.isinf(want).any())
        _assert_close(g, want, f"point (n, p, d, sigma2, rho, lambda) = {row}")
    assert 0 < n_inf < m // 4        # the threshold band was hit, but not only it
    assert not errors, errors


def _as_text(md: str) -> str:
    """hmmrisk.numbers' Markdown as the page prints it: a x 10^{n} in Unicode."""
    sup = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")
    m = re.fullmatch(r"\$(-?)([0-9.]+) \\times 10\^\{(-?\d+)\}\$", md)
    if m:
        return ("\u2212" if m[1] else "") + m[2] + " \u00d7 10" + m[3].translate(sup)
    return md.replace("$\\infty$", "\u221e")


def test_numbers_are_printed_by_hmmrisk_numbers_rules(page):
    pg, errors, *_ = page
    values = [0.0, 0.5, 1.0, 2.0, 0.1, 0.01, 0.001, 0.00099, 1.9952623149688795, 3.16227766,
              12.3456, 99.96, 999.6, 1995.0, 10_000.0, 19_100.0, 99_999.0, 99_999.4, 100_000.0,
              123_456.7, 3.5e-29, 2.5e300, -0.04, -1.3, -1995.0, 1e-4, 0.0316, 251.18864315,
              35.7, 0.508, float("inf")]
    for digits in (2, 3, 4):
        got = pg.evaluate("([xs, k]) => xs.map(x => window.hmmExplorer.formatNumber(x, k))",
                          [[v if np.isfinite(v) else 1e999 for v in values], digits])
        want = [_as_text(str(number(v, digits))) for v in values]
        assert got == want, [(v, g, w) for v, g, w in zip(values, got, want) if g != w]
    ints = [1, 50, 1995, 9999, 10_000, 123_456, 1_000_000]
    got = pg.evaluate("xs => xs.map(x => window.hmmExplorer.formatNumber(x, 3, {integer: true}))", ints)
    assert got == [str(number(i)) for i in ints]
    assert not errors, errors


def _curve(pg):
    data = json.loads(pg.eval_on_selector(".hmm-explorer", "s => s.dataset.curve"))
    paths = pg.eval_on_selector_all(".hmm-explorer svg[data-panel] path.curve", "ps => ps.map(p => p.getAttribute('d'))")
    return data, paths


def _check_curve(data):
    v = data["params"]
    p = np.asarray(data["p"])
    idx = np.linspace(0, p.size - 1, 25).astype(int)
    for i in idx:
        want = _hmmrisk(v["n"], p[i], v["d"], v["noise"], v["snr"], v["ridge"])
        for key, val in (("excess", want[0] + want[1]), ("total", want.sum())):
            got = data[key][i]
            if np.isinf(val):
                assert got is None, (key, p[i])
            else:
                assert abs(got - val) <= RTOL * val, (key, p[i], got, val)
    # the red dot is the smallest risk of hmmrisk on the drawn grid
    grid = np.array([_hmmrisk(v["n"], pi, v["d"], v["noise"], v["snr"], v["ridge"]) for pi in p])
    assert data["bestExcess"] == p[np.argmin(grid[:, 0] + grid[:, 1])]
    assert data["bestTotal"] == p[np.argmin(grid.sum(axis=1))]
    return (grid[:, 0] + grid[:, 1]).min(), grid.sum(axis=1).min()


def _check_sentence(pg, data, best):
    """The sentence under the plots gives the smallest risks and their p exactly."""
    text = pg.text_content(".hmm-explorer .explorer-best")
    for value, at in zip(best, (data["bestExcess"], data["bestTotal"])):
        phrase = f"{_as_text(str(number(float(value))))} at p = {number(int(at))}"
        assert phrase in text, (phrase, text)


# control, new slider position, the value it must give
MOVES = [("noise", "0.1", ("noise", 0.1)), ("n", "2.5", ("n", 316)), ("d", "1", ("d", 10)),
         ("snr", "1", ("snr", 10.0)), ("ridge", "-1", ("ridge", 0.1)),
         ("pmax", "5", ("pmax", 100_000))]


def _readouts(pg):
    """Each slider's output text and aria-valuetext."""
    return pg.eval_on_selector_all(".hmm-explorer input[type=range]", """ins => ins.map(i => [i.name,
        document.querySelector('output[for="' + i.id + '"]').textContent, i.getAttribute('aria-valuetext')])""")


def _check_readouts(pg, params):
    exact = {"n": number(int(params["n"])), "d": number(int(params["d"])),
             "pmax": number(int(params["pmax"])), "noise": number(float(params["noise"])),
             "snr": _as_text(str(number(float(params["snr"])))),
             "ridge": ("0 (least squares)" if params["ridge"] == 0
                       else _as_text(str(number(float(params["ridge"])))))}
    for name, out, aria in _readouts(pg):
        assert out == exact[name], (name, out, exact[name])
        assert aria and aria.endswith("= " + out.replace("\u202f", "")), (name, aria)


def _check_marker_inside(pg):
    boxes = pg.eval_on_selector_all(".hmm-explorer svg[data-panel]", """svgs => svgs.map(s => {
        const f = s.querySelector('rect[fill="none"]'), c = s.querySelector('circle.best');
        const t = s.querySelector('text.best-label');
        return [+f.getAttribute('x'), +f.getAttribute('y'), +f.getAttribute('width'), +f.getAttribute('height'),
                +c.getAttribute('cx'), +c.getAttribute('cy'), t.getBBox().x, t.getBBox().y,
                t.getBBox().width, t.getBBox().height]; })""")
    assert len(boxes) == 2
    for x, y, w, h, cx, cy, tx, ty, tw, th in boxes:
        # strictly inside the frame: not on its edges (the axis limits)
        assert x + 2 < cx < x + w - 2 and y + 2 < cy < y + h - 2, (cx, cy, x, y, w, h)
        assert x <= tx and tx + tw <= x + w and y <= ty and ty + th <= y + h, "best-p label off the plot"


def test_each_control_redraws_a_curve_that_matches_hmmrisk(page):
    pg, errors, foreign, *_ = page
    pg.click(".hmm-explorer button")                    # the defaults: Figure 1, sigma^2 = 0.5
    data, paths = _curve(pg)
    assert data["params"] == dict(n=100, d=50, noise=0.5, snr=1, ridge=0, pmax=10_000)
    assert len(paths) == 2 and all(paths)
    _check_sentence(pg, data, _check_curve(data))
    _check_readouts(pg, data["params"])
    _check_marker_inside(pg)
    assert pg.locator(".hmm-explorer svg[data-panel] line.threshold").count() == 2
    for name, position, (key, value) in MOVES:
        pg.eval_on_selector(f'.hmm-explorer input[name="{name}"]',
                            "(el, x) => { el.value = x; el.dispatchEvent(new Event('input', "
                            "{bubbles: true})); }", position)
        new, new_paths = _curve(pg)
        assert new["params"][key] == pytest.approx(value, rel=1e-12), name
        assert new_paths != paths, f"moving {name} did not redraw the curves"
        _check_sentence(pg, new, _check_curve(new))
        _check_readouts(pg, new["params"])
        _check_marker_inside(pg)
        data, paths = new, new_paths
    # with lambda > 0 the least-squares curves stay in grey for comparison
    assert pg.locator(".hmm-explorer svg[data-panel] path.least-squares").count() == 2
    assert pg.locator(".hmm-explorer .hx-legend li.hx-if-ridge").is_visible()
    assert not errors, errors
    assert not foreign, f"the explorer requested pages off the site: {foreign}"


def test_n_reads_1995_not_2000(page):
    pg, errors, *_ = page
    pg.click(".hmm-explorer button")
    pg.eval_on_selector('.hmm-explorer input[name="n"]',
                        "el => { el.value = '3.3'; el.dispatchEvent(new Event('input', {bubbles: true})); }")
    data, _ = _curve(pg)
    assert data["params"]["n"] == 1995
    assert pg.text_content('.hmm-explorer output[for="hx-n"]') == "1995"
    pg.click(".hmm-explorer button")
    assert not errors, errors


def test_axes_are_labelled_and_there_is_a_legend(page):
    pg, *_ = page
    for panel in ("excess", "total"):
        svg = f'.hmm-explorer svg[data-panel="{panel}"]'
        assert "model size p" in pg.text_content(f"{svg} text.hx-xlabel")
        assert "risk" in pg.text_content(f"{svg} text.hx-ylabel")
        assert pg.locator(f"{svg} text.hx-tick").count() >= 6          # both axes labelled
    legend = pg.text_content(".hmm-explorer .hx-legend")
    for item in ("prediction", "threshold p = n", "smallest risk"):
        assert item in legend
    labels = pg.eval_on_selector_all(".hmm-explorer label", "ls => ls.map(l => l.textContent)")
    assert any("token dimension" in x for x in labels)
    assert not any("hidden" in x for x in labels)


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)])
def test_layout_plots_above_the_fold_and_no_sideways_scroll(page, width, height):
    _, _, _, chromium, base = page
    pg = chromium.new_page(viewport={"width": width, "height": height})
    try:
        pg.goto(base + PAGE, wait_until="load")
        pg.wait_for_function("() => document.querySelector('.hmm-explorer').dataset.curve !== undefined")
        m = pg.evaluate("""() => ({sw: document.documentElement.scrollWidth,
            cw: document.documentElement.clientWidth,
            panels: [...document.querySelectorAll('.hmm-explorer svg[data-panel]')].map(s => {
                const r = s.getBoundingClientRect(); return [r.left, r.right, r.top + scrollY, r.bottom + scrollY]; }),
            form: (() => { const r = document.querySelector('.hmm-explorer form').getBoundingClientRect();
                           return [r.left, r.right]; })()})""")
        assert m["sw"] <= m["cw"], f"the page scrolls sideways at {width} px: {m}"
        for left, right, _top, _bottom in m["panels"]:
            assert left >= 0 and right <= width + 0.5, m
            assert right - left >= 300, f"a panel is squeezed to {right - left:.0f} px"
        assert m["form"][0] >= 0 and m["form"][1] <= width + 0.5, m
        if width == 1280:
            assert max(b for *_, b in m["panels"]) <= height, f"plots below the fold: {m['panels']}"
        pg.screenshot(path=str(_shots() / f"explorer-{width}.png"))
    finally:
        pg.close()


def _shots():
    from conftest import BUILD

    out = BUILD / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out
