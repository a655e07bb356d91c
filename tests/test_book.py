"""The whole book builds from scratch with warnings as errors (-n -W --keep-going).

The ``book`` fixture (``conftest.py``) executes every chapter inside Jupyter
Book: this build is the execution test of every chapter, and fails on a
failing cell, a broken reference, a missing glue key or a bad citation (the
execution reports of failing notebooks are printed).  The same build records
the digest of the data behind every figure; nbmake executes every chapter
that draws a figure a second time, except those of ``conftest.EXECUTED_ONCE``
(the Transformer), and the two sets of digests must be equal (two clean runs with the same seeds plot
the same numbers).
"""

import os
import re
from pathlib import Path

import pytest
import yaml

from hmmrisk import figure_data

from conftest import EXECUTED_ONCE, ROOT

FIGURE_ID = re.compile(r'<figure\b[^>]*\bid="(fig-[^"]+)"')


def test_book_builds_clean_with_warnings_as_errors(book):
    assert book.returncode == 0, (f"{book.log[-6000:]}\n\nExecution reports of failing "
                                  f"notebooks ({book.html / 'reports'}):\n{book.reports()}")
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


def test_second_execution_of_the_chapters_passes(book, second_run):
    """Every chapter that draws a figure, but those of ``conftest.EXECUTED_ONCE``,
    executes a second time without error (nbmake; in ``make test`` beside the
    build, in its own process: ``conftest._SecondRun``)."""
    returncode, report = second_run
    assert returncode == 0, f"the second execution of the chapters failed:\n{report[-6000:]}"


def test_two_clean_executions_give_identical_figure_data(book, second_run):
    """nbmake and the book build plot bit-identical arrays in every figure.

    ``make test`` runs nbmake with ``HMMRISK_FIGURE_DATA`` naming one folder
    and the ``book`` fixture builds with another; each figure cell writes the
    SHA-256 of its arrays (``hmmrisk.figure_data.record``) to both.  Only the
    figures of the chapters in ``conftest.EXECUTED_ONCE``, which nbmake does
    not execute, may be missing from nbmake's folder: their reproducibility
    is the business of the tests named there.
    """
    nbmake_folder = os.environ.get(figure_data.ENV)
    if not nbmake_folder:
        pytest.skip(f"{figure_data.ENV} is not set: `make test` sets it for the nbmake "
                    "run of the chapters that this test compares with the book build")
    nbmake = Path(nbmake_folder).resolve()
    assert nbmake != book.figure_data.resolve()
    assert book.returncode == 0, "the book build failed; see test_book_builds_clean..."
    first, second = _digests(nbmake), _digests(book.figure_data)
    assert first, (f"nbmake wrote no figure digest to {nbmake}: run the chapters "
                   f"(pytest chapters tests --nbmake) in the same session, as `make test` does")
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
    assert book.returncode == 0, "the book build failed; see test_book_builds_clean..."
    second = _digests(book.figure_data)
    figures = _figures_by_page(book.html)
    all_ids = set().union(*figures.values())
    unknown = sorted(set(second) - all_ids)
    assert not unknown, f"digests named after no figure of the book: {unknown}"
    missing = sorted(page for page, ids in figures.items() if not ids & set(second))
    assert not missing, f"pages with figures but no figure-data digest: {missing}"


def test_slowest_chapter_is_read_first(book):
    """tools/read_order.py: the documents of ``hmmrisk_read_first`` are read
    (executed) before all others, so that in ``make test`` the costliest
    chapter overlaps the unit tests instead of ending the build alone."""
    if "reused the existing _build" in book.log:
        pytest.skip("HMMRISK_REUSE_BUILD=1: no build log of this session")
    first = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]["hmmrisk_read_first"]
    plain = re.sub(r"\x1b\[[0-9;]*m", "", book.log)
    read = re.findall(r"reading sources\.\.\. \[\s*\d+%\] (\S+)", plain)
    assert read, "no 'reading sources' line in the build log"
    assert read[:len(first)] == first, read[:5]
