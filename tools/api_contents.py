"""Local Sphinx extension: the API page's "contents" sidebar lists its sections only.

Sphinx 7.4 adds every documented object (each function, class, method and
attribute of ``chapters/api.md``'s ``automodule`` directives) to the page's
table of contents (``toc_object_entries``): about 630 entries, which made
the sidebar a list that overflowed the window.  autodoc 7.4 has no
``:no-contents-entry:`` option of its own, so this extension sets that flag
on every object description of the page before the table of contents is
collected; the page's contents are then its sections, one per module, and
each module's summary table (autosummary) lists its objects.  Index entries
and cross-reference targets are unchanged.
"""

from __future__ import annotations

from sphinx import addnodes

#: The documents whose object descriptions stay out of the contents.
PAGES = {"chapters/api"}


def drop_object_entries(app, doctree):
    if app.env.docname not in PAGES:
        return
    for desc in doctree.findall(addnodes.desc):
        desc["no-contents-entry"] = desc["nocontentsentry"] = True


def setup(app):
    # before the table-of-contents collector (default priority 500)
    app.connect("doctree-read", drop_object_entries, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
