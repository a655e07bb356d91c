"""Local Sphinx extension: link the PDF edition from the site, when there is one.

``make pdf`` writes ``_build/latex/hmmrisk.pdf``.  When the environment
variable ``HMMRISK_PDF`` names that file (or any copy of it) during an HTML
build, this extension copies it to the site's root as ``hmmrisk.pdf`` and adds
"PDF edition" to the icon links of the left sidebar on every page, with the
relative path each page needs.  Without the variable (``make book``,
``make test``) it does nothing: no link is drawn that could point nowhere.
The LaTeX build ignores it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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


def setup(app):
    app.connect("html-page-context", _link)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
