"""Every citation in the book has a bibliography entry, and every entry is cited.

sphinxcontrib-bibtex warns about a missing key (and ``-W`` fails the build),
but not about an entry nobody cites; this test catches both, in a second.
"""

import json
import re
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
