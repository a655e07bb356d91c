"""The book as ``make book`` built it (``make book-tests``).

``make book`` executes every chapter and builds with warnings as errors
(``-n -W --keep-going``), so a failing cell, a broken reference, a missing
glue key or a bad citation fails it before these tests run.  They check what
the build produced: every statement and computed figure rendered, and the
digest of the data behind every figure equal to the one written by the second
execution of the chapters (``make second-execution``, nbmake; every chapter
that draws a figure except those of ``conftest.EXECUTED_ONCE``): two clean
runs with the same seeds plot the same numbers.
"""

import re
from pathlib import Path

from conftest import EXECUTED_ONCE

FIGURE_ID = re.compile(r'<figure\b[^>]*\bid="(fig-[^"]+)"')


def test_statements_and_figures_are_rendered(book):
    html = book.html
    assert (html / "index.html").exists()
    # every chapter rendered its statements, numbered as in the paper, and its
    # computed figures (an <img> each; a figure that failed shows as text)
    pages = {"head_tuning": (["Lemma 1"], 1), "model": (["Lemma 2"], 1),
             "theorem1": (["Theorem 1"], 0),
             "overparameterised": (["Definition 1", "Definition 2", "Theorem 2"], 0),
             "double_descent": (["Definition 3", "Theorem 3"], 2), "transformer": ([], 4)}
    for page, (statements, figures) in pages.items():
        text = (html / "chapters" / f"{page}.html").read_text()
        assert text.count("<img") >= figures, page
        assert "&lt;Figure size" not in text, page
        for statement in statements:
            assert f'caption-number">{statement} <' in text, (page, statement)


def test_book_serves_mathjax_itself(book):
    """No page loads MathJax (or any script) from a CDN: the site works offline."""
    assert (book.html / "_static" / "mathjax" / "tex-chtml.js").exists()
    for page in sorted(book.html.rglob("*.html")):
        text = page.read_text()
        remote = re.findall(r'<script[^>]*\bsrc="((?:https?:)?//[^"]+)"', text)
        assert not remote, (page.relative_to(book.html), remote)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name.removesuffix(".sha256"): p.read_text().strip()
            for p in sorted(folder.glob("*.sha256"))}


def _figures_by_page(html: Path) -> dict[str, set[str]]:
    """``{page: figure ids}`` for every page of the site with a numbered figure."""
    figures = {}
    for page in sorted(html.rglob("*.html")):
        ids = set(FIGURE_ID.findall(page.read_text()))
        if ids:
            figures[str(page.relative_to(html))] = ids
    return figures


def test_two_clean_executions_give_identical_figure_data(book):
    """nbmake and the book build plot bit-identical arrays in every figure.

    Each figure cell writes the SHA-256 of its arrays
    (``hmmrisk.figure_data.record``) to the folder that ``HMMRISK_FIGURE_DATA``
    names: ``_build/figure-data/book`` in the build, ``_build/figure-data/nbmake``
    in the second execution.  Only the
    figures of the chapters in ``conftest.EXECUTED_ONCE``, which nbmake does
    not execute, may be missing from nbmake's folder: their reproducibility
    is the business of the tests named there.
    """
    first, second = _digests(book.second_run), _digests(book.figure_data)
    assert first, (f"the second execution wrote no figure digest to {book.second_run}: "
                   "run `make second-execution` first (`make test` does)")
    assert second, f"the book build wrote no figure digest to {book.figure_data}"
    once_pages = {str(Path(nb).with_suffix(".html")) for nb in EXECUTED_ONCE}
    executed_once = set().union(*[ids for page, ids in _figures_by_page(book.html).items()
                                  if page in once_pages])
    only_nbmake = sorted(set(first) - set(second))
    only_book = sorted(set(second) - set(first) - executed_once)
    assert not only_nbmake and not only_book, (
        f"figures recorded by one run only: nbmake {only_nbmake}, book build {only_book}")
    differ = sorted(name for name in set(first) & set(second) if first[name] != second[name])
    assert not differ, f"figure data differ between two clean executions: {differ}"


def test_every_figure_page_records_its_data(book):
    """Each digest is named after a figure of the book, and each page that
    shows a numbered figure records the data of at least one of them."""
    second = _digests(book.figure_data)
    figures = _figures_by_page(book.html)
    all_ids = set().union(*figures.values())
    unknown = sorted(set(second) - all_ids)
    assert not unknown, f"digests named after no figure of the book: {unknown}"
    missing = sorted(page for page, ids in figures.items() if not ids & set(second))
    assert not missing, f"pages with figures but no figure-data digest: {missing}"


IMG = re.compile(r'<img\b[^>]*>')
IMG_SRC = re.compile(r'\bsrc="([^"]+)"')
IMG_ALT = re.compile(r'\balt="([^"]*)"')


def _figure_images(html: Path) -> dict[str, list[tuple[str, str]]]:
    """``{page: [(src, alt)]}`` for the computed figures (images of ``_images/``) of each page."""
    found = {}
    for page in sorted((html / "chapters").glob("*.html")):
        imgs = []
        for tag in IMG.findall(page.read_text()):
            src = IMG_SRC.search(tag)
            if src and "_images/" in src.group(1):
                alt = IMG_ALT.search(tag)
                imgs.append((src.group(1), alt.group(1) if alt else ""))
        if imgs:
            found[str(page.relative_to(html))] = imgs
    return found


def test_web_figures_are_svg_with_an_alt_text_from_their_caption(book):
    """The page shows each computed figure as SVG (every notebook's first cell asks
    for SVG and PNG), with an alt text that is not its file name (tools/sphinx_fixes.py)."""
    pages = _figure_images(book.html)
    assert pages, "no computed figure in the site"
    not_svg = {page: [s.rsplit("/", 1)[-1] for s, _ in imgs if not s.endswith(".svg")]
               for page, imgs in pages.items()}
    not_svg = {page: names for page, names in not_svg.items() if names}
    assert not not_svg, f"figures shown as PNG, not SVG (first cell without the SVG format?): {not_svg}"
    bad_alt = {page: [a for s, a in imgs if not a or "_images/" in a or a.endswith((".svg", ".png"))]
               for page, imgs in pages.items()}
    bad_alt = {page: alts for page, alts in bad_alt.items() if alts}
    assert not bad_alt, f"figures whose alt text is empty or a file name: {bad_alt}"


def test_each_builder_takes_its_own_figure_format():
    """myst-nb shows the SVG of a figure in HTML and its PNG in LaTeX (the PDF):
    the premise of emitting both (``%config InlineBackend.figure_formats``)."""
    from myst_nb.core.render import base_render_priority

    priority = base_render_priority()
    html, latex = priority["html"], priority["latex"]
    assert html["image/svg+xml"] < html["image/png"]
    assert "image/svg+xml" not in latex and "image/png" in latex


def test_notebook_downloads_carry_outputs(book):
    """The download button's .ipynb (``_sources/``) is the executed notebook, with the
    outputs the page shows (tools/sphinx_fixes.py), not the committed one without."""
    import nbformat

    sources = sorted((book.html / "_sources" / "chapters").glob("*.ipynb"))
    assert sources, "no notebook in _sources: the download button offers none"
    empty = []
    for path in sources:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        if code and not any(c.get("outputs") for c in code):
            empty.append(path.name)
    assert not empty, f"notebook downloads without outputs: {empty}"
