"""Check the PDF edition (``make pdf``); exit 1 with the reasons when it fails.

* ``pdftotext`` finds the title of every chapter of ``_toc.yml`` and every
  numbered statement of the paper (Lemma 1-2, Theorem 1-3, Definition 1-3);
* no MyST or HTML source leaks into the text (``{prf:``, ``{glue``, a code
  fence, ``:::``, ``:label:``, an HTML tag, ``$$``, untypeset TeX such as
  ``\\mathbb`` ...) and no Markdown table prints as text: no table rule
  (``|---|``, ``|:--|`` or, with Sphinx's smart dashes, ``|—|``, ``|–:|``) and
  no line that is a table row (``| a | b |``).  Lines with a straight quote
  are exempt from the table and HTML patterns: those are code (Sphinx's
  smart quotes curl every quote of the prose), such as the very cell that
  builds a table with ``Markdown("| a | b |\\n|---|---|")``;
* nothing is wider than the page: LaTeX's log (``hmmrisk.log`` next to the
  PDF) reports no overfull box wider than ``OVERFULL_PT``;
* ``pdfimages -list`` counts at least as many images as the book has figures:
  the images of the HTML build's pages when ``_build/html`` exists, else the
  image outputs (glued or shown) of the notebooks the PDF build executed.

Usage: ``python tools/check_pdf.py _build/latex/hmmrisk.pdf``
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

from toc import toc_entries  # tools/toc.py (this script's folder is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
#: an overfull box wider than this (in pt) fails: something sticks out of the page
OVERFULL_PT = 15.0
STATEMENTS = ["Lemma 1", "Lemma 2", "Theorem 1", "Theorem 2", "Theorem 3",
              "Definition 1", "Definition 2", "Definition 3"]
# MyST roles and directives, HTML, and TeX that was not typeset (math the
# Markdown parser broke up); code cells hold none of these outside comments
LEAKS = ["{prf:", "{glue", "{numref}", "{ref}", "{eq}", "{doc}", "{cite", "{math}",
         "{download}", "```", ":::", ":label:", "<div", "<script", "$$", "\\begin{", "(ch-",
         "\\operatorname", "\\mathbb", "\\frac", "\\sum", "\\top", "\\perp"]
# Markdown printed instead of rendered: a table's rule row (hyphens that
# Sphinx's smart dashes may have turned into en or em dashes), a table row on
# a line of its own, an RST role that Sphinx did not resolve, an HTML tag.
LEAK_PATTERNS = {
    "a Markdown table rule": re.compile(r"\|\s*:?[-\u2013\u2014]+:?\s*\|"),
    "a Markdown table row": re.compile(r"^\s*\|(?: [^|]+ \|){2,}\s*$"),
    "an RST role": re.compile(r":[a-z]+(?::[a-z]+)?:[`\u2018]"),
    "an HTML tag": re.compile(r"</?(?:a|b|br|code|details|div|em|h[1-6]|i|iframe|img|li|ol|p|pre|"
                              r"script|section|span|strong|style|sub|summary|sup|table|tbody|td|"
                              r"th|thead|tr|ul)(?:\s[^>]*)?/?>", re.I),
}


def leaks(text: str) -> list[str]:
    """The raw MyST, Markdown, RST or HTML source in ``pdftotext``'s text, one
    line of description each (empty when there is none)."""
    problems = []
    lines = text.splitlines()
    for leak in LEAKS:
        # a Python comment in a code cell may name a role (`{glue:text}`): not a leak
        hits = [ln for ln in lines if leak in ln and not ln.lstrip().startswith("#")]
        if hits:
            problems.append(f"raw source in the text: {leak!r} in {hits[0][:160]!r}")
    # code keeps straight quotes, the prose has none (smart quotes): a line
    # with one is code, such as Markdown("| a | b |\n|---|---|")
    prose = [ln for ln in lines if not ln.lstrip().startswith("#") and not re.search("[\"']", ln)]
    for what, pattern in LEAK_PATTERNS.items():
        hits = [ln for ln in prose if pattern.search(ln)]
        if hits:
            problems.append(f"raw source in the text: {what} in {len(hits)} line(s), "
                            f"the first {hits[0][:160]!r}")
    return problems


def toc_files() -> list[Path]:
    files = toc_entries()
    out = []
    for f in files:
        path = next((ROOT / f).parent.glob(Path(f).name + ".*"))
        out.append(path)
    return out


def title(path: Path) -> str:
    """The first ``# `` heading of a chapter (Markdown file or notebook)."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text())
        text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    else:
        text = path.read_text()
    match = re.search(r"^# (.+)$", text, re.M)
    if not match:
        raise SystemExit(f"{path}: no '# ' title")
    return match.group(1)


def normalise(text: str) -> str:
    """Fold ligatures, dashes and hyphenation so that titles can be searched."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"-\n(?=[a-z])", "", text)              # words hyphenated at a line end
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u2212", "-")
    return re.sub(r"\s+", " ", text)


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            src = dict(attrs).get("src", "")
            if "_images/" in src:
                self.srcs.append(src.rsplit("/", 1)[-1])


def figures_expected(build: Path) -> tuple[int, str]:
    html = build / "html"
    if (html / "index.html").exists():
        srcs = set()
        for path in toc_files():
            page = html / path.relative_to(ROOT).with_suffix(".html")
            parser = _Images()
            parser.feed(page.read_text(errors="replace"))
            srcs.update(parser.srcs)
        return len(srcs), f"distinct images on the HTML build's pages ({html})"
    # myst-nb moves glued outputs (every figure of this book) out of the
    # executed notebook into <name>.glue.json; count both kinds
    count = 0
    for nb_path in (build / "jupyter_execute").rglob("*.ipynb"):
        nb = json.loads(nb_path.read_text())
        count += sum("image/png" in out.get("data", {})
                     for cell in nb["cells"] if cell["cell_type"] == "code"
                     for out in cell.get("outputs", []))
    for glue_path in (build / "jupyter_execute").rglob("*.glue.json"):
        count += sum("image/png" in (out.get("data") or {})
                     for out in json.loads(glue_path.read_text()).values())
    return count, "image outputs of the executed notebooks (glued or not)"


def main(pdf: str) -> int:
    pdf = Path(pdf)
    problems = []
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    flat = normalise(text)
    titles = [title(p) for p in toc_files()]
    for t in titles:
        # math in a title is typeset, not copied: look for the text around it
        for piece in re.split(r"\$[^$]*\$", normalise(t)):
            if piece.strip() and piece.strip() not in flat:
                problems.append(f"chapter title not found: {t!r} (missing {piece.strip()!r})")
    for s in STATEMENTS:
        if not re.search(rf"\b{s}\b(?!\d)", flat):
            problems.append(f"numbered statement not found: {s}")
    problems += leaks(text)
    # equations and code wider than the text block: LaTeX's overfull boxes
    log = pdf.with_suffix(".log")
    if log.exists():
        for width, where in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\) (.*)",
                                       log.read_text(errors="replace")):
            if float(width) > OVERFULL_PT:
                problems.append(f"{width} pt wider than the page, {where} of {log.with_suffix('.tex')}")
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], check=True,
                             capture_output=True, text=True).stdout.splitlines()
    images = [line for line in listing[2:] if line.split()[2:3] == ["image"]]
    expected, where = figures_expected(pdf.parent.parent)
    if len(images) < expected:
        problems.append(f"pdfimages lists {len(images)} images, fewer than the {expected} {where}")
    pages = re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], check=True,
                      capture_output=True, text=True).stdout).group(1)
    print(f"{pdf}: {pages} pages, {len(titles)} chapter titles, {len(STATEMENTS)} statements, "
          f"{len(images)} images (expected at least {expected}: {where})")
    for p in problems:
        print("FAIL:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1]))
