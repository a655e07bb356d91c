"""Local Sphinx extension of the book: chapter numbers that run on across parts.

The table of contents (``_toc.yml``) groups the chapters in parts, each part a
numbered toctree.  Sphinx numbers every toctree from 1, so the first chapter
of each part would be "1" again (a known limitation of Jupyter Book 1 with
parts).  After Sphinx has numbered the sections (``env-get-updated``), this
extension shifts each chapter's numbers so that they continue through the
parts in table-of-contents order: 1 (first chapter of the first part), 2, 3...

Figures and the statements of sphinx-proof keep one running count over the
whole book (``numfig_secnum_depth: 0`` in ``_config.yml``), so the paper's
Lemma 1-2, Theorem 1-3 and Definition 1-3 keep their numbers.
"""

from __future__ import annotations


def _chapters_in_order(env) -> list[str]:
    """Documents of the root's toctrees, depth first, in table-of-contents order."""
    order, seen = [], set()

    def walk(doc):
        for child in env.toctree_includes.get(doc, []):
            if child not in seen:
                seen.add(child)
                order.append(child)
                walk(child)

    walk(env.config.root_doc)
    return order


def continue_chapter_numbers(app, env):
    """Shift each numbered chapter's section numbers to one running count."""
    changed = []
    counter = 0
    for doc in _chapters_in_order(env):
        numbers = env.toc_secnumbers.get(doc)
        if not numbers:
            continue
        own = numbers.get("")
        if not own or len(own) != 1:       # a section of a chapter (none in this book)
            continue
        counter += 1
        shift = counter - own[0]
        if shift:
            env.toc_secnumbers[doc] = {anchor: (num[0] + shift, *num[1:]) if num else num
                                       for anchor, num in numbers.items()}
            changed.append(doc)
    return changed


def setup(app):
    # after sphinx.environment.collectors.toctree (priority 500) has numbered
    app.connect("env-get-updated", continue_chapter_numbers, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
