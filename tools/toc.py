"""The book's files in table-of-contents order, read from ``_toc.yml``.

Shared by ``tools/check_pdf.py`` (chapter titles in the PDF) and
``tests/test_browser.py`` (the pages of the HTML build).
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_entries() -> list[str]:
    """Every ``file:`` of ``_toc.yml`` (root first), as written there: no suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return files
