"""The risk explorer (chapters/explorer.md, _static/explorer.js) in headless Chromium.

The page evaluates Definition 3 and the ridge deterministic equivalent in
JavaScript.  These tests open the built page (the build of ``make book``,
served on 127.0.0.1) and check

* the page's formulas against :mod:`hmmrisk` at 600 random points of
  ``(n, p, d, sigma^2, rho, lambda)``, to a relative 1e-9;
* that moving each control redraws the curves, and that the drawn curves (the
  data the SVG paths were drawn from, and the path itself) match hmmrisk;
* that the page loads with no console error and requests nothing off the site.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from local_site import CHROMIUM, CHROMIUM_ARGS, require_chromium, serving

from hmmrisk import theory

PAGE = "chapters/explorer.html"
RTOL = 1e-9


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
            pg = chromium.new_page()
            errors, foreign = [], []
            pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.on("request", lambda r: None if r.url.startswith((base, "data:"))
                  else foreign.append(r.url))
            pg.goto(base + PAGE, wait_until="domcontentloaded")
            pg.wait_for_function("() => document.querySelector('.hmm-explorer svg')"
                                 ".dataset.curve !== undefined")
            yield pg, errors, foreign
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


def test_formulas_match_hmmrisk_at_random_points(page):
    pg, errors, _ = page
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
    got = pg.evaluate("""rows => rows.map(([n, p, d, s2, rho, lam]) => {
        const q = window.hmmExplorer.risk(n, p, d, s2, rho, lam);
        return [q.bias, q.variance, q.irreducible].map(x => isFinite(x) ? x : "inf"); })""", rows)
    got = np.array([[np.inf if x == "inf" else x for x in row] for row in got], dtype=float)
    n_inf = 0
    for row, g in zip(rows, got):
        want = _hmmrisk(*row)
        n_inf += int(np.isinf(want).any())
        _assert_close(g, want, f"point (n, p, d, sigma2, rho, lambda) = {row}")
    assert 0 < n_inf < m // 4        # the threshold band was hit, but not only it
    assert not errors, errors


def _curve(pg):
    data = json.loads(pg.eval_on_selector(".hmm-explorer svg", "s => s.dataset.curve"))
    paths = pg.eval_on_selector_all(".hmm-explorer svg path.curve", "ps => ps.map(p => p.getAttribute('d'))")
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


# control, new slider position, the value it must give
MOVES = [("noise", "0.1", ("noise", 0.1)), ("n", "2.5", ("n", 316)), ("d", "1", ("d", 10)),
         ("snr", "1", ("snr", 10.0)), ("ridge", "-1", ("ridge", 0.1)),
         ("pmax", "5", ("pmax", 100_000))]


def test_each_control_redraws_a_curve_that_matches_hmmrisk(page):
    pg, errors, foreign = page
    pg.click(".hmm-explorer button")                    # the defaults: Figure 1, sigma^2 = 0.5
    data, paths = _curve(pg)
    assert data["params"] == dict(n=100, d=50, noise=0.5, snr=1, ridge=0, pmax=10_000)
    assert len(paths) == 2 and all(paths)
    _check_curve(data)
    assert pg.locator(".hmm-explorer line.threshold").count() == 2
    for name, position, (key, value) in MOVES:
        pg.eval_on_selector(f'.hmm-explorer input[name="{name}"]',
                            "(el, x) => { el.value = x; el.dispatchEvent(new Event('input', "
                            "{bubbles: true})); }", position)
        new, new_paths = _curve(pg)
        assert new["params"][key] == pytest.approx(value, rel=1e-12), name
        assert new_paths != paths, f"moving {name} did not redraw the curves"
        _check_curve(new)
        data, paths = new, new_paths
    # with lambda > 0 the least-squares curves stay in grey for comparison
    assert pg.locator(".hmm-explorer path.least-squares").count() == 2
    assert not errors, errors
    assert not foreign, f"the explorer requested pages off the site: {foreign}"
