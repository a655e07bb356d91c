"""The session timeline that ``make test`` prints (``conftest.timeline_lines``)."""

from conftest import timeline_lines

LOG = """\
/x/chapters/transformer.ipynb: Executed notebook in 113.97 seconds [mystnb]
/x/chapters/closing.ipynb: Executed notebook in 2.60 seconds [mystnb]
/x/chapters/double_descent.ipynb: Executed notebook in 8.71 seconds [mystnb]
/x/chapters/ridge.ipynb: Executed notebook in 6.75 seconds [mystnb]
"""


def test_spans_in_order_of_start_with_durations_and_the_slowest_chapters():
    spans = {"second execution": [110.5, 177.6], "book build": [5.0, 202.25],
             "unit tests": [0.0, 110.4], "browser pages": [202.4, None]}
    lines = timeline_lines(spans, 270.0, LOG, top=2)
    assert [line.split()[0] for line in lines[:4]] == ["unit", "book", "second", "browser"]
    assert lines[1].split()[-2:] == ["197.2", "s"]            # 202.25 - 5.0, one decimal
    assert lines[3].endswith("(running)")                     # not ended: no made-up end
    assert lines[4].split()[0] == "session" and lines[4].endswith("270.0 s")
    assert lines[5] == "slowest chapters in the build: transformer 114 s, double_descent 9 s"


def test_no_build_log_no_chapter_line():
    assert len(timeline_lines({"book build": [1.0, 2.0]}, 3.0)) == 2
