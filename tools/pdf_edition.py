"""Local Sphinx extension: the PDF edition's shape, and its link from the site.

``make pdf`` writes ``_build/latex/hmmrisk.pdf``.  When the environment
variable ``HMMRISK_PDF`` names that file (or any copy of it) during an HTML
build, this extension copies it to the site's root as ``hmmrisk.pdf`` and adds
"PDF edition" to the icon links of the left sidebar on every page, with the
relative path each page needs.  Without the variable (``make book``,
``make test``) it does nothing: no link is drawn that could point nowhere.

For the LaTeX build it gives the book the shape of the site
(``_latex_front_and_parts``).  Sphinx's LaTeX writer turns the root
document's title into the title page and its ``##`` sections ("Results at a
glance", "Reading paths") into chapters 1 and 2; its opening text lands
between the contents and chapter 1 under the running head "Contents"; the
parts of ``_toc.yml`` vanish and the back matter is numbered on.  So, in the
assembled document only: the opening text and the root's sections become one
unnumbered chapter, "Preface", with its sections; the caption of each part
heads its chapters in the PDF's contents (and bookmarks); only the chapters of
numbered parts are numbered, so "Chapter 1" is the same chapter in the PDF as
on the site; the References chapter is the bibliography
(``_bibliography_in_place``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.builders.latex.nodes import thebibliography
from sphinx.util.texescape import escape

ENV = "HMMRISK_PDF"
NAME = "hmmrisk.pdf"


def _pdf(app) -> Path | None:
    path = os.environ.get(ENV)
    if not path or app.builder.format != "html":
        return None
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{ENV}={path} is not a file (run `make pdf` first)")
    return path


def _link(app, pagename, templatename, context, doctree):
    if _pdf(app) is None:
        return
    links = list(context.get("theme_icon_links") or [])
    links.append({"name": "PDF edition of the whole book", "url": context["pathto"](NAME, 1),
                  "icon": "fa-solid fa-file-pdf", "type": "fontawesome"})
    context["theme_icon_links"] = links


def _copy(app, exception):
    pdf = _pdf(app)
    if exception is None and pdf is not None:
        shutil.copyfile(pdf, Path(app.outdir) / NAME)


PREFACE = "Preface"
# LaTeX's own counter, saved before the unnumbered preface and restored for
# the numbered parts (section depth -1: chapters and sections unnumbered)
_SAVE = (r"\newcounter{hmmrisksecnumdepth}"
         r"\setcounter{hmmrisksecnumdepth}{\value{secnumdepth}}")
_UNNUMBERED = r"\setcounter{secnumdepth}{-1}"
_NUMBERED = r"\setcounter{secnumdepth}{\value{hmmrisksecnumdepth}}"


def _raw(tex: str) -> nodes.raw:
    return nodes.raw("", tex + "\n", format="latex")


def _part(caption: str) -> nodes.raw:
    # a heading of the contents and a PDF bookmark, on the page of the part's
    # first chapter (no page of its own: six more leaves for six words)
    title = escape(caption)
    return _raw(rf"\cleardoublepage\phantomsection\addcontentsline{{toc}}{{part}}{{{title}}}")


def _bibliography_in_place(env, doctree):
    """The chapter that holds ``{bibliography}`` (References) becomes the
    bibliography, under that chapter's title.

    Sphinx's LaTeX builder moves every citation to one bibliography at the
    end of the document, which left the chapter empty (a title and one
    sentence) and the list itself under "Bibliography", after the last
    chapter.
    """
    bib = next(iter(doctree.findall(thebibliography)), None)
    if bib is None:
        return
    where = {citation.get("docname") for citation in bib.findall(nodes.citation)}
    if len(where) != 1:
        return
    doc = where.pop()
    sof = next((node for node in doctree.findall(addnodes.start_of_file)
                if node["docname"] == doc), None)
    if sof is None or any(sof.findall(addnodes.start_of_file, include_self=False)):
        return
    bib.parent.remove(bib)
    title = escape(env.titles[doc].astext())
    sof.children = []
    sof += [_raw(rf"\renewcommand{{\bibname}}{{{title}}}"), bib]


def _latex_front_and_parts(app, doctree, docname):
    """Preface, parts and numbering of the assembled LaTeX document (see above)."""
    env = app.env
    if app.builder.name != "latex" or docname != env.config.root_doc:
        return
    root = doctree.next_node(nodes.section)
    if root is None:
        return
    body = root.children[1:]        # the title went to the title page
    cut = next((i for i, child in enumerate(body)
                if next(iter(child.findall(addnodes.start_of_file)), None) is not None),
               len(body))
    front, rest = body[:cut], body[cut:]
    # the root's own labels (ch-preface) now name the preface
    preface = nodes.section("", nodes.title("", PREFACE), *front, ids=list(root["ids"]))
    root["ids"] = []
    root.children = root.children[:1]
    root += [_raw(_SAVE + _UNNUMBERED), preface, *rest]
    # the captions of the root's toctrees: the parts, by their first document
    captions = {}
    for toctree in env.get_doctree(env.config.root_doc).findall(addnodes.toctree):
        if toctree.get("caption") and toctree["includefiles"]:
            captions[toctree["includefiles"][0]] = toctree["caption"]
    _bibliography_in_place(env, doctree)
    numbered = False
    for sof in list(root.findall(addnodes.start_of_file)):
        doc = sof["docname"]
        if doc in captions:
            sof.parent.insert(sof.parent.index(sof), _part(captions[doc]))
        now = bool(env.toc_secnumbers.get(doc))
        if now != numbered and sof.parent is not None:
            sof.parent.insert(sof.parent.index(sof), _raw(_NUMBERED if now else _UNNUMBERED))
            numbered = now


def setup(app):
    app.connect("doctree-resolved", _latex_front_and_parts)
    app.connect("html-page-context", _link)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
