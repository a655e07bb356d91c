"""Local Sphinx extension: one author-year label style for citations and the bibliography.

sphinxcontrib-bibtex 2.7 formats in-text citations with
``bibtex_reference_style`` (``author_year``: "Hastie et al. [2022]") but
labels the list of references with the pybtex style's label style (``alpha``
by default: "[HMRT22]"), and neither adds the a/b suffix that tells apart two
works of the same authors and year.  This extension registers

* the pybtex label style ``author_year`` and the formatting style
  ``author_year`` (pybtex's ``plain``, sorted by author, year and title, with
  those labels): each entry is labelled "Bach, 2024", "Candès and Sur, 2020" or
  "Hastie et al., 2022", and entries whose label would coincide get "2021a",
  "2021b" in the sorted order of the list;
* the referencing style ``author_year_suffix``: sphinxcontrib-bibtex's
  ``author_year`` with the year taken from that label, so the text cites
  "Nakkiran et al. [2021a]" exactly as the list shows "[Nakkiran et al., 2021a]".

``_config.yml`` selects them with ``bibtex_default_style: author_year`` and
``bibtex_reference_style: author_year_suffix``.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from dataclasses import dataclass

import pybtex.plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle
from sphinxcontrib.bibtex import plugin as sphinx_plugin
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
from sphinxcontrib.bibtex.style.referencing.basic_author_year import (
    BasicAuthorYearParentheticalReferenceStyle,
    BasicAuthorYearTextualReferenceStyle,
)
from sphinxcontrib.bibtex.style.referencing.extra_author import ExtraAuthorReferenceStyle
from sphinxcontrib.bibtex.style.referencing.extra_empty import ExtraEmptyReferenceStyle
from sphinxcontrib.bibtex.style.referencing.extra_label import ExtraLabelReferenceStyle
from sphinxcontrib.bibtex.style.referencing.extra_year import ExtraYearReferenceStyle
from sphinxcontrib.bibtex.style.template import join, join2, node, post_text, pre_text, reference

#: The year (with its suffix) at the end of a label: "Nakkiran et al., 2021a" -> "2021a".
LABEL_YEAR = re.compile(r"(\d{4}[a-z]?|n\.d\.[a-z]?)$")


def _last_names(person) -> str:
    """The last name(s) of one person as plain text ("Candès", "Data Science Dojo")."""
    parts = person.rich_prelast_names + person.rich_last_names
    return " ".join(str(Text(p).render_as("text")) for p in parts)


def base_label(entry) -> str:
    """ "Bach, 2024", "Candès and Sur, 2020", "Hastie et al., 2022" (before any suffix)."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_names(p) for p in persons]
    if not names:
        who = str(Text.from_latex(entry.fields.get("title", "Anonymous")).render_as("text"))
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    """Author-year labels, with a, b, ... for entries that would share one."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        bases = [base_label(e) for e in entries]
        count, seen = Counter(bases), Counter()
        for base in bases:
            if count[base] == 1:
                yield base
            else:
                yield base + string.ascii_lowercase[seen[base]]
                seen[base] += 1


class AuthorYearSorting(BaseSortingStyle):
    """By the authors' last names as printed (braces and accents resolved), then year and title."""

    def sorting_key(self, entry):
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        names = tuple(unicodedata.normalize("NFKD", _last_names(p)).casefold() for p in persons)
        return names, entry.fields.get("year", ""), entry.fields.get("title", "").casefold()


class AuthorYearStyle(PlainStyle):
    """pybtex's ``plain`` entries, sorted by author, year and title, with author-year labels."""

    default_label_style = AuthorYearLabelStyle
    default_sorting_style = AuthorYearSorting


@node
def label_year(children, data) -> Text:
    """The year and suffix of the entry's label in the bibliography."""
    assert not children
    match = LABEL_YEAR.search(data["formatted_entry"].label)
    return Text(match.group(1) if match else data["entry"].fields.get("year", "n.d."))


@dataclass
class _Parenthetical(BasicAuthorYearParentheticalReferenceStyle):
    def inner(self, role_name):
        return join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
            pre_text,
            reference[join(sep=self.author_year_sep)[
                self.person.author_or_editor_or_title(full="s" in role_name), label_year]],
            post_text,
        ]


@dataclass
class _Textual(BasicAuthorYearTextualReferenceStyle):
    def inner(self, role_name):
        return join(sep=self.text_reference_sep)[
            self.person.author_or_editor_or_title(full="s" in role_name),
            join[self.bracket.left,
                 join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
                     pre_text, reference[label_year], post_text],
                 self.bracket.right],
        ]


@dataclass
class _Year(ExtraYearReferenceStyle):
    def inner(self, role_name):
        return reference[label_year]


@dataclass
class AuthorYearSuffixReferenceStyle(AuthorYearReferenceStyle):
    """``author_year`` whose years carry the list's a/b suffixes."""

    def __post_init__(self):
        # the parent's __post_init__ would add the plain-year styles: build the
        # group here instead, then run the group's own initialisation
        self.styles.extend([
            _Parenthetical(bracket=self.bracket_parenthetical, person=self.person,
                           author_year_sep=self.author_year_sep, pre_text_sep=self.pre_text_sep,
                           post_text_sep=self.post_text_sep),
            _Textual(bracket=self.bracket_textual, person=self.person,
                     text_reference_sep=self.text_reference_sep, pre_text_sep=self.pre_text_sep,
                     post_text_sep=self.post_text_sep),
            ExtraAuthorReferenceStyle(bracket=self.bracket_author, person=self.person),
            ExtraLabelReferenceStyle(bracket=self.bracket_label),
            _Year(bracket=self.bracket_year),
            ExtraEmptyReferenceStyle(),
        ])
        super(AuthorYearReferenceStyle, self).__post_init__()


def register() -> None:
    """Make the three styles known to pybtex and sphinxcontrib-bibtex (idempotent)."""
    for group, cls in (("pybtex.style.labels", AuthorYearLabelStyle),
                       ("pybtex.style.formatting", AuthorYearStyle)):
        try:
            pybtex.plugin.find_plugin(group, "author_year")
        except pybtex.plugin.PluginNotFound:
            pybtex.plugin.register_plugin(group, "author_year", cls)
    sphinx_plugin.register_plugin("sphinxcontrib.bibtex.style.referencing", "author_year_suffix",
                                  AuthorYearSuffixReferenceStyle, force=True)


def setup(app):
    register()
    return {"parallel_read_safe": True, "parallel_write_safe": True}

