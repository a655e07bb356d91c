"""Local Sphinx extension of the book: workarounds for the pinned stack, and
the site's own rules that no extension provides.

* **Inline scripts once.**  Sphinx 7.4 registers an inline script added with
  ``app.add_js_file(None, body=...)`` twice: once when the extension adds it
  (filename ``None``) and again when ``prepare_writing`` replays the registry
  (filename ``""``), and the two do not compare equal.  sphinx-thebe adds such
  a script (``const THEBE_JS_URL = ...``), so every page declared that
  ``const`` twice and the browser raised "Identifier 'THEBE_JS_URL' has
  already been declared" (found by ``tests/test_browser.py``).  The repeated
  inline scripts are dropped from each page's context.
* **Alt text of figures.**  myst-nb's ``{glue:figure}`` (and a cell output's
  image) makes an image node without ``alt``; docutils' HTML writer then
  writes the file path as the alt text (``../_images/e879....svg``), which is
  what a screen reader reads and a search engine indexes.  Every image of a
  figure that has no alt text of its own gets the first sentence of the
  figure's caption, with its TeX turned into plain text (``\\sigma^2`` ->
  ``σ^2``).  An ``:alt:`` given in the source is kept.
* **Notebooks with their outputs.**  The theme's download button offers the
  page's source from ``_sources/``; for a chapter that is the notebook as
  committed, without outputs (the book stores none: ``tools/execute.py``
  writes them to ``_build`` only).  When the build finishes, each chapter's
  ``_sources/<chapter>.ipynb`` is replaced by the executed notebook of the
  execution cache (the outputs the page shows).  A chapter with no executed
  copy in the cache is a warning (a failure under ``-W``), not a silent
  download without outputs.
* **Search snippets as text.**  The search page's snippets are cut from the
  pages' HTML, where formulas are still TeX (MathJax typesets them in the
  browser); ``_static/search_text.js`` turns each into plain text first, by
  the rules of ``tex_to_text`` below, which every page hands it as
  ``window.HMMRISK_TEX``.
* **Edit this page.**  Besides the "Suggest edit" entry of the repository
  menu in the header, every page built from a source file ends with an "Edit
  on GitHub" link (pydata-sphinx-theme's ``edit-this-page`` component as the
  article footer), to the file on the repository of ``_config.yml``
  (``repository: url, branch, path_to_book``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)


# -- inline scripts once ---------------------------------------------------------

def _script_key(script):
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return filename, tuple(sorted((k, str(v)) for k, v in attributes.items()))


def dedupe_inline_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


# -- alt text of figures -------------------------------------------------------

#: TeX commands of the book's captions, as a reader would say them in text
TEX_WORDS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "omega": "ω", "Omega": "Ω", "phi": "φ",
    "pi": "π", "psi": "ψ", "rho": "ρ", "sigma": "σ", "Sigma": "Σ", "tau": "τ", "theta": "θ",
    "Theta": "Θ", "xi": "ξ", "zeta": "ζ", "eta": "η", "chi": "χ", "Delta": "Δ", "Gamma": "Γ",
    "Lambda": "Λ", "Pi": "Π", "Phi": "Φ", "Psi": "Ψ",
    "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠", "approx": "≈",
    "times": "×", "cdot": "·", "pm": "±", "infty": "∞", "to": "→", "propto": "∝", "in": "∈",
    "ll": "≪", "gg": "≫", "sim": "~", "top": "ᵀ", "star": "*", "ast": "*", "dots": "…",
    "ldots": "…", "cdots": "…", "tr": "tr", "log": "log", "exp": "exp", "min": "min",
    "max": "max", "E": "E", "R": "R", "Bst": "B*", "Bhat": "B̂", "Sx": "Σ_x", "Sr": "Σ_r",
    "Shat": "Σ̂",
}
_TEX_WRAPPERS = re.compile(r"\\(?:mathrm|mathbf|mathbb|mathcal|mathit|text|textrm|operatorname|"
                           r"boldsymbol|widehat|hat|bar|tilde|overline|mathfrak|left|right|big|"
                           r"Big|bigg|Bigg)\b\s*")
_TEX_COMMAND = re.compile(r"\\([A-Za-z]+)(\s*)")
_TEX_SPACING = re.compile(r"\\[,;:! ]|~")
_TEX_FRAC = re.compile(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")


def tex_to_text(tex: str) -> str:
    """A formula of a caption as plain text: ``\\sigma^2 = 0.5`` -> ``σ^2 = 0.5``."""
    text = _TEX_SPACING.sub(" ", tex)
    text = _TEX_WRAPPERS.sub("", text)
    text = _TEX_FRAC.sub(r"(\1)/(\2)", text)
    text = _TEX_COMMAND.sub(lambda m: TEX_WORDS.get(m.group(1), m.group(1)) + (" " if m.group(2) else ""),
                            text)
    text = text.replace("{", "").replace("}", "").replace("\\", "")
    return re.sub(r"\s+", " ", text).strip()


def _plain(node: nodes.Node) -> str:
    """The text of a caption, its math as plain text."""
    if isinstance(node, nodes.Text):
        return str(node)
    if isinstance(node, (nodes.math, nodes.math_block)):
        return tex_to_text(node.astext())
    return "".join(_plain(child) for child in node.children)


#: the end of a caption's first sentence: ". " before a capital, a digit or "(" (not "Fig. 3", "e.g. ")
_SENTENCE_END = re.compile(r"(?<!\bFig)(?<!\be\.g)(?<!\bi\.e)(?<!\bcf)(?<!\bvs)\.\s+(?=[A-Z(])")
ALT_MAX = 250
ALT_MIN_WORDS = 5


def caption_alt(caption: str) -> str:
    """The alt text of a figure from its caption: the first sentence, at most ``ALT_MAX`` characters."""
    text = re.sub(r"\s+", " ", caption).strip()
    # the first sentence, or the first few if it is a mere title ("Pre-training.")
    for end in _SENTENCE_END.finditer(text):
        if len(text[:end.start()].split()) >= ALT_MIN_WORDS:
            text = text[:end.start() + 1]
            break
    if len(text) > ALT_MAX:
        text = text[:ALT_MAX].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return text


def figure_alt_from_caption(app, doctree, docname):
    for figure in doctree.findall(nodes.figure):
        captions = [c for c in figure.children if isinstance(c, nodes.caption)]
        if not captions:
            continue
        alt = caption_alt(_plain(captions[0]))
        if not alt:
            continue
        for image in figure.findall(nodes.image):
            if not image.get("alt"):
                image["alt"] = alt


# -- notebooks with their outputs -----------------------------------------------

def executed_sources(app, exception):
    """Replace each chapter's ``_sources/<doc>.ipynb`` with its executed notebook."""
    if exception is not None or app.builder.format != "html" or not app.config.html_copy_source:
        return
    import nbformat
    from jupyter_cache import get_cache

    cache_path = getattr(app.config, "nb_execution_cache_path", "") or ""
    sources = Path(app.outdir) / "_sources"
    chapters = [d for d in sorted(app.env.found_docs) if Path(app.env.doc2path(d)).suffix == ".ipynb"]
    if not chapters:
        return
    cache = get_cache(cache_path) if cache_path and Path(cache_path).exists() else None
    suffix = app.config.html_sourcelink_suffix or ""
    for docname in chapters:
        target = sources / f"{docname}.ipynb{suffix if suffix != '.ipynb' else ''}"
        if not target.exists():
            continue
        notebook = nbformat.read(app.env.doc2path(docname), as_version=4)
        merged = None
        if cache is not None:
            try:
                _, merged = cache.merge_match_into_notebook(notebook)
            except KeyError:
                merged = None
        if merged is None:
            LOGGER.warning(f"{docname}: no executed copy in the execution cache: its download "
                           f"(_sources/{docname}.ipynb) would have no outputs",
                           type="hmmrisk", subtype="download")
            continue
        nbformat.write(merged, target)


# -- edit this page ------------------------------------------------------------

def edit_link_in_article_footer(app):
    options = getattr(app.builder, "theme_options", None)
    if options is None or app.builder.format != "html":
        return
    for mapping in (options, app.config.html_theme_options):
        if not mapping.get("article_footer_items"):
            mapping["article_footer_items"] = ["edit-this-page"]


def search_text_rules(app):
    """``window.HMMRISK_TEX``: the rules of :func:`tex_to_text` for ``_static/search_text.js``."""
    rules = {"words": TEX_WORDS, "spacing": _TEX_SPACING.pattern, "wrappers": _TEX_WRAPPERS.pattern,
             "command": _TEX_COMMAND.pattern, "frac": _TEX_FRAC.pattern}
    app.add_js_file(None, body="window.HMMRISK_TEX = " + json.dumps(rules, ensure_ascii=False) + ";")
    app.add_js_file("search_text.js")


def setup(app):
    app.connect("builder-inited", search_text_rules)
    app.connect("builder-inited", edit_link_in_article_footer)
    app.connect("html-page-context", dedupe_inline_scripts)
    app.connect("doctree-resolved", figure_alt_from_caption)
    app.connect("build-finished", executed_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
