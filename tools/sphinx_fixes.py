"""Local Sphinx extension of the book: one workaround for the pinned stack.

Sphinx 7.4 registers an inline script added with ``app.add_js_file(None,
body=...)`` twice: once when the extension adds it (filename ``None``) and
again when ``prepare_writing`` replays the registry (filename ``""``), and the
two do not compare equal.  sphinx-thebe adds such a script
(``const THEBE_JS_URL = ...``), so every page declared that ``const`` twice and
the browser raised "Identifier 'THEBE_JS_URL' has already been declared"
(found by ``tests/test_browser.py``).  This extension drops the repeated
inline scripts from each page's context.
"""

from __future__ import annotations


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


def setup(app):
    app.connect("html-page-context", dedupe_inline_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
