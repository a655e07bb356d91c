"""The search page of the built book, in headless Chromium: its snippets are text, not TeX.

Sphinx cuts each hit's snippet from the page's HTML, where the formulas are
still TeX for MathJax; ``_static/search_text.js`` turns them into plain text
(by ``tools/sphinx_fixes.tex_to_text``'s rules).  The query "variance"
matches prose full of formulas (Lemma 1, Theorem 1, the ridge chapter).
"""

from __future__ import annotations

import re

from local_site import CHROMIUM, CHROMIUM_ARGS, require_chromium, serving

#: what TeX looks like in text: a MathJax delimiter or a backslash command
TEX = re.compile(r"\\[()\[\]]|\\[A-Za-z]+|\$")


def test_search_snippets_show_formulas_as_text(book):
    require_chromium()
    from playwright.sync_api import sync_playwright

    with serving(book.html) as base, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pg = chromium.new_page(viewport={"width": 1280, "height": 800})
            errors = []
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.goto(base + "search.html?q=variance", wait_until="domcontentloaded")
            # the snippets arrive one by one (each fetches its page); wait for ten
            pg.wait_for_function("() => document.querySelectorAll('#search-results p.context').length >= 10",
                                 timeout=60_000)
            snippets = pg.eval_on_selector_all("#search-results p.context", "ps => ps.map(p => p.textContent)")
        finally:
            chromium.close()
    assert not errors, errors
    tex = [s for s in snippets if TEX.search(s)]
    assert not tex, f"{len(tex)} of {len(snippets)} snippets show TeX, e.g. {tex[0][:300]!r}"
    # the formulas are there, as text (sigma, Sigma, the trace) in some snippet
    assert any(ch in "".join(snippets) for ch in "σΣ"), snippets[:3]
