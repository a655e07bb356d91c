"""Local Sphinx extension of the book: read the slowest notebook first.

Sphinx reads (and so, with ``execute_notebooks: force``, executes) the
documents in alphabetical order, which puts the Transformer chapter, by far the
costliest (it runs its own worker processes), last.  In ``make test`` the build
runs beside the unit tests and the second execution of the cheap chapters, on
a 2-core machine: with the costliest chapter last, the build ends with a long
stretch of work that nothing else overlaps.  Read first, the chapter's
parallel phase overlaps the start of the tests, and the build ends with the
cheap single-process chapters, which share the cores with the tests.

``hmmrisk_read_first`` (``_config.yml`` → ``sphinx: config:``) lists the
documents to move to the front, in order; the rest keep Sphinx's order.  Only
the order changes: every document is still read, and numbering follows the
table of contents, not the reading order.
"""

from __future__ import annotations


def read_first(app, env, docnames: list[str]) -> None:
    """Move the documents of ``hmmrisk_read_first`` to the front of ``docnames`` (in place)."""
    first = [doc for doc in app.config.hmmrisk_read_first if doc in docnames]
    rest = [doc for doc in docnames if doc not in first]
    docnames[:] = first + rest


def setup(app):
    app.add_config_value("hmmrisk_read_first", [], "env", types=[list])
    app.connect("env-before-read-docs", read_first)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
