"""Every citation in the book has a bibliography entry, and every entry is cited.

sphinxcontrib-bibtex warns about a missing key (and ``-W`` fails the build),
but not about an entry nobody cites; this test catches both, in a second.
"""

import html
import json
import re
import sys
from pathlib import Path

from pybtex.database import parse_file

ROOT = Path(__file__).resolve().parents[1]
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def _markdown_sources():
    for path in sorted((ROOT / "chapters").glob("*.md")):
        yield path.name, path.read_text()
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        yield path.name, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def test_every_citation_resolves_and_every_entry_is_cited():
    entries = set(parse_file(ROOT / "references.bib").entries)
    cited = {}
    for name, text in _markdown_sources():
        for match in CITE.finditer(text):
            for key in match.group(1).split(","):
                cited.setdefault(key.strip(), name)
    missing = {key: where for key, where in cited.items() if key not in entries}
    assert not missing, f"cited but not in references.bib: {missing}"
    unused = entries - set(cited)
    assert not unused, f"in references.bib but cited nowhere: {sorted(unused)}"


def test_entries_carry_authors_title_and_year():
    for key, entry in parse_file(ROOT / "references.bib").entries.items():
        assert entry.persons.get("author"), key
        assert entry.fields.get("title"), key
        assert re.fullmatch(r"\d{4}", entry.fields.get("year", "")), key


# -- one label style: author-year with a/b suffixes (tools/bib_author_year.py) ----------

AUTHOR_YEAR = re.compile(r"[^\W\d][\w .'’-]*?( and [^\W\d][\w .'’-]*| et al\.)?, \d{4}[a-z]?")


def _labels():
    import pybtex.plugin

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import bib_author_year
    finally:
        sys.path.pop(0)
    bib_author_year.register()
    style = pybtex.plugin.find_plugin("pybtex.style.formatting", "author_year")()
    entries = list(style.sort(parse_file(ROOT / "references.bib").entries.values()))
    return {e.key: label for e, label in zip(entries, style.format_labels(entries))}, entries


def test_the_book_selects_the_author_year_styles():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]
    assert config["local_extensions"].get("bib_author_year") == "tools/"
    assert config["config"]["bibtex_default_style"] == "author_year"
    assert config["config"]["bibtex_reference_style"] == "author_year_suffix"


def test_every_label_is_author_year_and_unique_with_suffixes():
    labels, entries = _labels()
    assert len(set(labels.values())) == len(labels), "two entries share a label"
    for key, label in labels.items():
        assert AUTHOR_YEAR.fullmatch(label), f"{key}: {label!r} is not an author-year label"
    # same first author, same author count class and year: a and b, in the list's order
    by_base = {}
    for e in entries:
        by_base.setdefault(re.sub(r"[a-z]$", "", labels[e.key]), []).append(labels[e.key])
    for base, group in by_base.items():
        if len(group) > 1:
            assert group == [base + c for c in "abcdefgh"[:len(group)]], group
        else:
            assert group == [base], f"a lone entry carries a suffix: {group}"
    assert labels["nakkiran2021deep"] == "Nakkiran et al., 2021a"
    assert labels["nakkiran2021optimal"] == "Nakkiran et al., 2021b"
    assert labels["bach2024high"] == "Bach, 2024"
    assert labels["candes2020phase"] == "Candès and Sur, 2020"


def test_the_list_is_sorted_by_author_then_year():
    labels, entries = _labels()
    firsts = [labels[e.key].casefold() for e in entries]
    assert firsts == sorted(firsts, key=lambda s: (s.split(",")[0].split(" ")[0], s))


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def test_the_built_book_uses_the_list_labels_everywhere(book):
    """In the HTML: the list shows author-year labels, and every citation link's
    text is its entry's label (parenthetical) or the label's year with its suffix
    (textual): a [Bac24]-style label or a missing a/b fails."""
    page = (book.html / "chapters" / "references.html").read_text()
    labels = {m[1]: _text(m[2]) for m in re.finditer(
        r'<div class="citation" id="([^"]+)" role="doc-biblioentry">\s*<span class="label">'
        r'<span class="fn-bracket">\[</span>(.*?)<span class="fn-bracket">\]</span>', page, re.S)}
    assert len(labels) == len(parse_file(ROOT / "references.bib").entries)
    assert len(set(labels.values())) == len(labels)
    for label in labels.values():
        assert AUTHOR_YEAR.fullmatch(label), f"list label {label!r} is not author-year"
    assert {"Nakkiran et al., 2021a", "Nakkiran et al., 2021b"} <= set(labels.values())
    n_links = 0
    for path in sorted(book.html.glob("chapters/*.html")):
        text = path.read_text()
        for span in re.finditer(r'<span class="bibtex-citation"[^>]*>(.*?)</span>(?=[^<]*(<|$))',
                                text, re.S):
            for link in re.finditer(r'<a class="reference internal" href="(?:references\.html)?#'
                                    r'([^"]+)"[^>]*>(.*?)</a>', span[1], re.S):
                n_links += 1
                label, shown = labels[link[1]], _text(link[2])
                year = label.rsplit(", ", 1)[1]
                assert shown in (label, year), f"{path.name}: citation shows {shown!r}, list has {label!r}"
    assert n_links > 20
