"""The one style file: every parameter of ``hmmrisk/hmmrisk.mplstyle`` is applied by
``plotting.style()``, nothing else changes, and nothing leaks out of the context."""

import re

import matplotlib as mpl
import pytest

from hmmrisk import plotting


def _file_lines():
    """``key -> raw value`` of the style file, parsed here without matplotlib."""
    out = {}
    for line in plotting.STYLE_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            key, value = (part.strip() for part in line.split(":", 1))
            out[key] = value
    return out


def test_the_style_file_is_the_style():
    raw = _file_lines()
    assert raw and set(raw) == set(plotting.STYLE)
    before = dict(mpl.rcParams)
    with plotting.style():
        inside = dict(mpl.rcParams)
    assert dict(mpl.rcParams) == before                     # restored on exit
    changed = {k for k in before if before[k] != inside[k]}
    assert changed <= set(raw)                              # only the file's keys change
    for key, value in raw.items():
        if key == "axes.prop_cycle":
            colors = re.findall(r"'([0-9A-Fa-f]{6})'", value)
            assert [c.lstrip("#").upper() for c in inside[key].by_key()["color"]] == colors
            assert [c.lstrip("#").upper() for c in plotting.COLORS] == colors
        elif isinstance(inside[key], bool):
            assert inside[key] == (value == "True"), key
        elif isinstance(inside[key], float):
            assert inside[key] == pytest.approx(float(value)), key
        else:
            assert str(inside[key]) == value, key


def test_overrides_apply_on_top_of_the_file():
    with plotting.style(axes_grid=False, font_size=7.0):
        assert mpl.rcParams["axes.grid"] is False and mpl.rcParams["font.size"] == 7.0
        assert mpl.rcParams["figure.dpi"] == plotting.STYLE["figure.dpi"] == 200.0


# -- the API page (chapters/api.md) -------------------------------------------------------

import importlib  # noqa: E402
import inspect  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: A type as the docstrings write one: "float", "(m,) int array", "int or None", "list of dict",
#: "numpy.ndarray, shape (B, r, V)", a class name.
TYPE = re.compile(r"(\([^)]*\) )?((numpy\.)?[A-Za-z_][\w.]*( of \w+)?( arrays?)?"
                  r"(, shape \([^)]*\))?)( or [\w.]+)*")


def _api_modules():
    """The modules chapters/api.md documents (its automodule directives)."""
    return re.findall(r"^\.\. automodule:: (\S+)", (ROOT / "chapters" / "api.md").read_text(), re.M)


def _attribute_docstrings(modname):
    """(name, docstring lines) of the module's and its classes' data, attributes and properties."""
    from sphinx.pycode import ModuleAnalyzer

    mod = importlib.import_module(modname)
    for (cls, name), lines in ModuleAnalyzer.for_module(modname).find_attr_docs().items():
        if not name.startswith("_"):
            yield f"{modname}.{cls + '.' if cls else ''}{name}", list(lines)
    for cname, cls in inspect.getmembers(mod, inspect.isclass):
        if cls.__module__ != modname or cname.startswith("_"):
            continue
        for pname, prop in vars(cls).items():
            if isinstance(prop, property) and prop.__doc__ and not pname.startswith("_"):
                yield f"{modname}.{cname}.{pname}", inspect.cleandoc(prop.__doc__).splitlines()


def test_attribute_docstrings_parse_without_a_sentence_read_as_a_type():
    """napoleon reads "Text: more" on the first line of an attribute's docstring as
    "type: description" (the API page showed "property p ... Type: Model size")."""
    pytest.importorskip("torch")
    from sphinx.ext.napoleon import Config
    from sphinx.ext.napoleon.docstring import NumpyDocstring

    config = Config(napoleon_numpy_docstring=True, napoleon_google_docstring=False)
    bad, seen = [], 0
    for modname in _api_modules():
        for name, lines in _attribute_docstrings(modname):
            seen += 1
            parsed = str(NumpyDocstring(lines, config, what="attribute", name=name))
            for typ in re.findall(r"^:type: (.*)$", parsed, re.M):
                if not TYPE.fullmatch(typ.strip().replace("``", "")):
                    bad.append(f"{name}: type {typ!r} (first line: {lines[0]!r})")
    assert seen > 30
    assert not bad, "docstrings whose first line reads as a type:\n" + "\n".join(bad)


def test_api_page_is_one_section_per_module_with_a_summary_table():
    text = (ROOT / "chapters" / "api.md").read_text()
    modules = _api_modules()
    assert len(modules) == len(set(modules)) >= 20
    for modname in modules:
        # a heading naming the module, then its summary table before its entries
        head = re.search(rf"^#+ `{re.escape(modname)}`", text, re.M)
        assert head, f"no section for {modname}"
        section = text[head.end():text.index(f".. automodule:: {modname}")]
        mod = importlib.import_module(modname) if not modname.startswith("hmmrisk.transformer") \
            else pytest.importorskip(modname)
        if hasattr(mod, "__all__"):       # its functions and classes (constants are entries only)
            public = [n for n in mod.__all__ if callable(getattr(mod, n))]
        else:
            public = [n for n, o in vars(mod).items() if not n.startswith("_") and
                      (inspect.isfunction(o) or inspect.isclass(o)) and o.__module__ == modname]
        if public and modname != "hmmrisk.transformer":
            assert "```{autosummary}" in section or ".. autosummary::" in section, modname
            listed = set(re.findall(r"^\s+(?:~?[\w.]*\.)?(\w+)$", section, re.M))
            missing = [n for n in public if n not in listed]
            assert not missing, f"{modname}: public names missing from its table: {missing}"
    assert not re.search(r"(?i)migrat|deprecat|renamed|old name|formerly", text)


def test_built_api_page_has_short_contents_and_no_parse_artefacts(book):
    import html

    page = (book.html / "chapters" / "api.html").read_text()
    nav = page[page.index('<nav id="pst-page-toc-nav" class="page-toc"'):]
    nav = nav[:nav.index("</nav>")]
    entries = re.findall(r'<li class="toc-h(\d) nav-item toc-entry">', nav)
    # its sections only: the groups and one per module, no functions or methods
    assert 20 <= len(entries) <= 40, len(entries)
    body = page[page.index("<article"):page.index("</article>")]
    types = [html.unescape(re.sub(r"<[^>]+>", "", t)).strip() for t in re.findall(
        r'<dt class="field-odd">Type<span class="colon">:</span></dt>\s*<dd class="field-odd"><p>(.*?)</p>',
        body, re.S)]
    assert types and all(TYPE.fullmatch(t) for t in types), [t for t in types if not TYPE.fullmatch(t)]
    text = html.unescape(re.sub(r"<[^>]+>", "", body))
    doubled = re.findall(r"\b((?:Definition|Theorem|Lemma|Proposition|Corollary) \d+) \(\1\)", text)
    assert not doubled, doubled
    assert len(re.findall(r'<table class="autosummary', body)) >= 20
