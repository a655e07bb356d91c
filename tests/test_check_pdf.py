"""The leak check of tools/check_pdf.py (``make pdf``) on text that pdftotext
gives for leaked and for rendered source: it must fail on the first and pass
on the second.  The lines are copied from real PDFs of this book: the
Markdown tables that printed as text before myst-nb parsed Markdown outputs
as MyST, and the code cells that build those tables."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"


@pytest.fixture(scope="module")
def check_pdf():
    sys.path.insert(0, str(TOOLS))          # check_pdf imports tools/toc.py
    try:
        spec = importlib.util.spec_from_file_location("check_pdf", TOOLS / "check_pdf.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(TOOLS))
    return module


# pdftotext of a Markdown output rendered as a CommonMark paragraph: the rule
# row's hyphens turned into en and em dashes by Sphinx's smart quotes
LEAKED = {
    "a Markdown table rule": [
        "| setting | value | |\u2014|\u2014| | n_states | 8 | | n_tokens | 16 |",
        "| p | bias | variance | z | |\u2013:|\u2013:|\u2013:|\u2013:| | 60 | 0.0000 |",
        "| package | version | |:\u2013|:\u2013| | Python | 3.11.7 |",
        "|---|---|",
    ],
    "a Markdown table row": ["| sphinxcontrib-bibtex | 2.7.0 |", "| a | b | c |"],
    "an RST role": ["see :func:`hmmrisk.risk` for", "the :prf:ref:\u2018thm-under\u2019"],
    "an HTML tag": ["<table class=\u201ctable\u201d>", "before</td> after", "<br/>"],
}
RAW = ["{glue:text}`w-range`", "{glue}`key`", "{numref}`fig-x`", "{prf:ref}`thm-under`",
       ":::{note}", "```{code-cell}", "$$ x $$", "<div class=x>"]
# what the rendered book puts in the text: typeset absolute values, code
# cells that hold table syntax or HTML in strings, a Python comment naming a role
CLEAN = [
    "|1 \u2212 \U0001d6fe|",
    "|p - n| <= 1 and its estimator has infinite variance for |p - n| <= 3",
    "||B*^T v_i||^2; B* has no component on the unit eigenspace.",
    'Markdown("| setting | value |\\n|---|---|\\n" + "\\n".join(',
    'Markdown("| package | version |\\n|:--|:--|\\n" + "\\n".join(f"| {name} | {version} |"',
    "# NumPy scalars become Python ones so that `{glue:text}` can format them",
    'html = "<table>"',
    "If HMMRISK_FIGURE_DATA names a folder, record() also writes <folder>/<name>.npz",
    "setting value",
    "n_states 8",
]


@pytest.mark.parametrize("what, line", [(what, line) for what, lines in LEAKED.items()
                                        for line in lines])
def test_leaked_markdown_and_html_fail(check_pdf, what, line):
    problems = check_pdf.leaks("\n".join(CLEAN + [line]))
    assert len(problems) == 1 and what in problems[0], problems


@pytest.mark.parametrize("line", RAW)
def test_raw_myst_fails(check_pdf, line):
    assert check_pdf.leaks("\n".join(CLEAN + [line])), line


def test_rendered_text_passes(check_pdf):
    assert check_pdf.leaks("\n".join(CLEAN)) == []
