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
