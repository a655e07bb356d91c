"""Every page of the built book, opened in a real browser (headless Chromium).

The ``_build/html`` of ``make book`` is served on 127.0.0.1 and each page is
loaded in Debian's ``chromium`` (driven by playwright; no browser download)
twice, in a desktop window (1280 x 800) and on a phone (390 x 844), by one
browser, ``CONCURRENCY`` pages at a time (one per core, at most 4).
At both widths a page passes when

* the page does not scroll sideways
  (``document.scrollingElement.scrollWidth <= innerWidth``; the elements that
  stick out are named);
* every display equation fits its box at 1280 px (neither the
  ``mjx-container[display="true"]`` of MathJax's CHTML output nor the element
  holding it is wider inside than it is shown), and on the phone it fits or
  scrolls inside its own box (that box has ``overflow-x: auto`` and lies
  inside the window); no inline formula is cut off by a box that hides its
  overflow;
* no figure is shown twice (the same image data twice, normalised for the
  ids and date matplotlib writes into an SVG; the same figure number twice);
* every figure (an ``<img>`` in a ``<figure>`` or a cell output) has an alt
  text that describes it: not empty, not a file path, at least three words
  (``tools/sphinx_fixes.py`` takes it from the figure's caption);
* every figure's text is legible at the width it is shown.  An SVG figure of
  matplotlib (text drawn as paths, ``scale(s -s)`` with ``s`` = font size /
  100) gives its smallest font size and its width in points; shown at
  ``clientWidth`` CSS px that text is ``pt * clientWidth / naturalWidth`` CSS
  points high: at least ``MIN_PT[1280] = 9`` on the desktop and
  ``MIN_PT[390] = 6.75`` (9 CSS px) on the phone, where ``_static/figures.js``
  keeps a figure at least 3/4 of its natural width, scrolling sideways inside
  its own box.  A PNG stores its resolution (``pHYs``); its text is taken to be
  8 pt and it must also have ``MIN_DENSITY = 1.5`` image px per CSS px at 1280 px.

At 1280 px only (these do not depend on the width):

* MathJax has finished (``MathJax.startup.promise``), every ``math`` element
  was typeset, no ``mjx-merror`` is shown and no raw TeX (``$$``, ``\\(``,
  ``\\[``, ``$x$``) is left in the text outside code;
* every ``<img>`` has loaded (``complete`` and ``naturalWidth > 0``);
* the browser logged no console error and the page threw no exception;
* every link to the same site resolves: the file is served (HTTP 200) and the
  ``#fragment``, if any, is the id of an element of that page;
* no number in the prose is printed in e-notation (``3.5e-29``), and none has
  a hyphen-minus for its sign (``-0.04``: ``hmmrisk.numbers`` writes U+2212);
  code blocks, math and the outputs of code cells are exempt;
* no glue artefact in the prose: a doubled word ("The The"), a label repeated
  in brackets ("Lemma 1 (Lemma 1)"), "N of the N", "0 and 0", "24.7 at p=128 and
  is still 24.7 at p=128";
* a page generated from a source file links "Edit this page" to that file on
  the repository of ``_config.yml`` (``repository: url, branch, path_to_book``);
* the landing page (``index.html``, which redirects to the first chapter)
  shows its first figure above the fold: its top is above 800 px.

A full-page screenshot of each page (its first 16 000 px) goes to
``_build/screenshots/<width>/<page>.png``;
with ``HMMRISK_DARK_SCREENSHOTS=1`` the same pages are also photographed in dark
mode (``_build/screenshots/dark/<width>/``), for a reader to look at.
``make test`` installs ``chromium`` with apt-get when it is missing; the
environment variable ``HMMRISK_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib.util
import os
import re
import threading
import urllib.error
import urllib.request
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin

import pytest
import yaml
from local_site import CHROMIUM, CHROMIUM_ARGS, require_chromium, start, stop

ROOT = Path(__file__).resolve().parents[1]
# pages Sphinx writes besides the chapters
GENERATED = ["index.html", "genindex.html", "search.html"]
#: the two windows every page is loaded in: (width, height) in CSS px
WINDOWS = {1280: (1280, 800), 390: (390, 844)}
DESKTOP = 1280
#: where the landing page's first figure must start (the desktop window's height)
FOLD = WINDOWS[DESKTOP][1]


def _toc_pages() -> list[str]:
    """The book's pages, in table-of-contents order, as paths of ``_build/html``."""
    spec = importlib.util.spec_from_file_location("toc", ROOT / "tools" / "toc.py")
    toc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toc)
    files = toc.toc_entries()
    return [f"{Path(f).with_suffix('')}.html" for f in files]


PAGES = _toc_pages() + GENERATED


def _repository() -> dict:
    """The one repository setting of the book (``_config.yml``: url, branch, path_to_book)."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]


# -- the server and the browser ---------------------------------------------

_SERVED: dict = {}       # html folder -> local_site.Served


def _serve(html: Path) -> str:
    """Base URL of ``html`` served on a free port of 127.0.0.1 (one server per folder)."""
    if html not in _SERVED:
        _SERVED[html] = start(html)
    return _SERVED[html].url


@pytest.fixture(scope="module")
def site(book):
    """Base URL of ``_build/html`` served on a free port of 127.0.0.1."""
    if not (book.html / "index.html").exists():
        pytest.fail(f"the book build produced no site:\n{book.log[-4000:]}")
    try:
        yield _serve(book.html)
    finally:
        _Pages.join(timeout=300)            # no page still loading from the server
        for served in _SERVED.values():
            stop(served)
        _SERVED.clear()


#: Pages loaded at once: each keeps a core busy (MathJax, layout, the
#: screenshot), so this many pages finish in about the time of one per core.
CONCURRENCY = max(1, min(4, os.cpu_count() or 1))


class _Pages:
    """The selected pages, loading in one headless Chromium in a background thread.

    Started by the ``loaded`` fixture; ``wait`` returns
    ``{(page, width): (inspection, browser errors)}`` (see :func:`_load`).
    """

    thread: threading.Thread | None = None
    result: dict | BaseException | None = None

    @classmethod
    def start(cls, site: str, runs: list[tuple[str, int]], screenshots: Path) -> None:
        if cls.thread is not None:
            return

        def run():
            try:
                cls.result = asyncio.run(_load_all(site, runs, screenshots))
            except BaseException as exc:            # noqa: BLE001 - re-raised by wait()
                cls.result = exc
        # a daemon: an interrupted session does not wait for the pages
        cls.thread = threading.Thread(target=run, name="browser-pages", daemon=True)
        cls.thread.start()

    @classmethod
    def join(cls, timeout: float | None = None) -> None:
        if cls.thread is not None:
            cls.thread.join(timeout)

    @classmethod
    def wait(cls) -> dict:
        cls.join()
        if isinstance(cls.result, BaseException):
            raise cls.result
        return cls.result


def _selected(session) -> list[tuple[str, int]]:
    """The (page, width) runs whose test is selected in this session (all by default)."""
    runs = [(item.callspec.params["page_path"], item.callspec.params["width"])
            for item in session.items
            if getattr(item, "originalname", None) == "test_page_renders_in_a_real_browser"]
    return runs or [(page, width) for width in WINDOWS for page in PAGES]


@pytest.fixture(scope="module")
def loaded(request, site, book):
    """``{(page, width): (inspection, browser errors)}`` for the selected runs, loaded
    ``CONCURRENCY`` at a time (see :class:`_Pages`)."""
    require_chromium()
    _Pages.start(site, _selected(request.session), book.screenshots)
    return _Pages.wait()


# -- link targets --------------------------------------------------------------

class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (tag == "a" and key == "name"):
                self.ids.add(value)


@functools.cache
def _fetch_ids(url: str) -> tuple[int, frozenset]:
    """HTTP status of ``url`` and the ids of its elements."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, frozenset()
    parser = _Ids()
    if url.endswith((".html", "/")):
        parser.feed(body.decode("utf-8", errors="replace"))
    return status, frozenset(parser.ids)


def _broken_links(hrefs: list[str], base: str) -> list[str]:
    broken = []
    for href in sorted(set(hrefs)):
        if not href.startswith(base):
            continue  # another site (GitHub, Binder, Colab, DOIs): not ours to check
        url, fragment = urldefrag(href)
        status, ids = _fetch_ids(url)
        if status != 200:
            broken.append(f"{href} (HTTP {status})")
        elif fragment and unquote(fragment) not in ids:
            broken.append(f"{href} (no element with id {unquote(fragment)!r})")
    return broken


# -- the page checks -----------------------------------------------------------

_INSPECT = r"""
async (full) => {
  const mathjax = typeof window.MathJax !== "undefined" && window.MathJax.startup
                  && window.MathJax.startup.promise;
  if (mathjax) { await window.MathJax.startup.promise; }
  // load lazy images too, then wait until every image has settled
  for (const img of document.images) { img.loading = "eager"; }
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(done => { img.addEventListener("load", done);
                            img.addEventListener("error", done); })));
  // let figures.js and the theme settle their layout after the last image
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const vw = window.innerWidth;
  const describe = el => {
    const cls = el.className && typeof el.className === "string"
        ? "." + el.className.trim().split(/\s+/).slice(0, 2).join(".") : "";
    const text = (el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 70);
    const r = el.getBoundingClientRect();
    return `<${el.tagName.toLowerCase()}${cls}> ${Math.round(r.width)} px wide, ` +
           `right edge at ${Math.round(r.right)} px: "${text}"`;
  };
  const clips = el => ["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(el).overflowX);
  const scrolls = el => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  // -- the page scrolls sideways: name the outermost and innermost elements that stick out
  const scrollWidth = document.scrollingElement.scrollWidth;
  let wide = [];
  if (scrollWidth > vw) {
    const out = new Set();
    for (const el of document.body.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.right <= vw + 1) continue;
      let inside = false;   // fixed, or clipped or scrolled by an ancestor that fits the window
      for (let a = el; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).position === "fixed") { inside = true; break; }
        if (a !== el && clips(a) && a.getBoundingClientRect().right <= vw + 1) { inside = true; break; }
      }
      if (!inside) out.add(el);
    }
    const outer = [...out].filter(el => !out.has(el.parentElement));
    const inner = [...out].filter(el => ![...el.children].some(c => out.has(c)));
    wide = [...new Set([...outer.slice(0, 3), ...inner.slice(0, 4)])].map(describe);
  }
  // -- display equations: fit their box, or scroll inside a box of their own
  const tooWide = el => el && el.scrollWidth > el.clientWidth + 1;
  const mathItems = mathjax ? Array.from(window.MathJax.startup.document.math) : [];
  const tex = el => {
    const item = mathItems.find(m => m.typesetRoot === el);
    return (item ? item.math : el.textContent).replace(/\s+/g, " ").trim().slice(0, 100);
  };
  const displays = [...document.querySelectorAll('mjx-container[display="true"]')].map(el => {
    const box = [el, el.parentElement].find(b => b && scrolls(b) && tooWide(b));
    const r = (box || el).getBoundingClientRect();
    return {
      fits: !tooWide(el) && !tooWide(el.parentElement),
      scrollsInside: !!box && r.left >= -1 && r.right <= vw + 1 &&
                     [el, el.parentElement].every(b => b === box || !tooWide(b) || scrolls(b)),
      width: Math.max(el.scrollWidth, el.parentElement.scrollWidth),
      box: Math.min(el.clientWidth, el.parentElement.clientWidth),
      tex: tex(el)};
  });
  // -- inline formulas cut off by an ancestor that hides what overflows
  const clipped = [];
  for (const el of document.querySelectorAll('mjx-container:not([display="true"])')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (["hidden", "clip"].includes(s.overflowX)) {
        const b = a.getBoundingClientRect();
        if (r.right > b.right + 1 || r.left < b.left - 1) { clipped.push(tex(el)); }
        break;
      }
      if (["auto", "scroll"].includes(s.overflowX)) break;
    }
  }
  // -- the figures of the article: a cell output's image or a <figure>'s
  const article = document.querySelector("main") || document.body;
  const figureImages = [...article.querySelectorAll("figure img, .cell_output img, .output img")];
  const figures = figureImages.map(img => {
    const r = img.getBoundingClientRect();
    const figure = img.closest("figure");
    return {src: img.currentSrc || img.src, shown: img.clientWidth, natural: img.naturalWidth,
            alt: img.getAttribute("alt"), top: r.top + window.scrollY,
            number: figure ? (figure.querySelector(".caption-number") || {}).textContent || "" : "",
            id: figure ? figure.id : ""};
  });
  const info = {
    width: vw, scrollWidth: scrollWidth, wide: wide,
    displays: displays, clipped: clipped, figures: figures,
    url: location.href,
  };
  if (!full) return info;
  // -- what does not depend on the width: text, math, links
  // text outside code, scripts and typeset math
  // (.sig: an API signature on the reference page is code, e.g. bounds=(1e-08, 1e8))
  const skip = "pre, code, script, style, textarea, mjx-container, .highlight, .sig";
  // Each block (paragraph, list item, cell, heading, ...) is a text of its own, and
  // what is skipped inside one leaves a mark, so that "the $x$ the" or a word at
  // the end of one cell and the start of the next is no doubled word.
  const block = "p, li, h1, h2, h3, h4, h5, h6, td, th, dt, dd, figcaption, caption, " +
                "div, section, nav, aside, header, footer, blockquote, label, button, summary";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const texts = [], prose = [];
  let lastBlock = null, lastSkipped = null;
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const parent = node.parentElement;
    const own = parent.closest(block);
    const sep = own === lastBlock ? "" : "\n\u00b6\n";
    lastBlock = own;
    const skipped = parent.closest(skip);
    if (skipped) {
      if (skipped !== lastSkipped) { texts.push(sep + " \u27e8\u27e9 "); prose.push(sep + " \u27e8\u27e9 "); }
      lastSkipped = skipped;
      continue;
    }
    lastSkipped = null;
    texts.push(sep + node.nodeValue);
    prose.push(sep + (parent.closest(".cell_output, .output") ? " \u27e8\u27e9 " : node.nodeValue));
  }
  const edit = [...document.querySelectorAll("a")].filter(a => /edit/i.test(a.textContent)
      && a.closest("main, .bd-article-container, footer, .prev-next-area, .bd-footer-article"));
  return Object.assign(info, {
    mathjax: !!mathjax,
    mathElements: document.querySelectorAll(".math").length,
    untypeset: [...document.querySelectorAll(".math")]
        .filter(el => !el.querySelector("mjx-container") && !el.closest("mjx-container"))
        .map(el => el.textContent.slice(0, 80)),
    merrors: [...document.querySelectorAll("mjx-merror")]
        .map(el => el.getAttribute("data-mjx-error") || el.textContent.slice(0, 80)),
    // MathJax's noundefined package shows an unknown macro as red text
    undefinedMacros: [...document.querySelectorAll('mjx-assistive-mml mtext[mathcolor="red"]')]
        .map(el => el.textContent).filter(t => t.startsWith("\\")),
    images: [...document.images].map(img => ({
        src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0})),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
    editLinks: edit.map(a => a.href),
    text: texts.join(""),
    prose: prose.join(""),
  });
}
"""

#: smallest text of a figure, in CSS points at the width it is shown
MIN_PT = {1280: 9.0, 390: 6.75}
#: a PNG's image px per CSS px on the desktop (a 2x PNG not blown up)
MIN_DENSITY = 1.5
#: a PNG's smallest text, for want of a way to read it (the style's legends and labels)
PNG_TEXT_PT = 8.0


def _png_dpi(data: bytes) -> float | None:
    """Dots per inch stored in a PNG's ``pHYs`` chunk (None if absent or not per metre)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind == b"pHYs" and length == 9:
            body = data[pos + 8:pos + 17]
            per_metre, unit = int.from_bytes(body[:4], "big"), body[8]
            return per_metre * 0.0254 if unit == 1 else None
        if kind in (b"IDAT", b"IEND"):
            return None
        pos += 12 + length
    return None


# matplotlib's SVG: text drawn as glyph paths, each text scaled by font size / 100
SVG_TEXT_SCALE = re.compile(rb'<g transform="[^"]*scale\(([\d.]+) -\1\)"')
SVG_WIDTH = re.compile(rb'<svg[^>]*\swidth="([\d.]+)pt"')
# what differs between two renderings of one figure: the date, and ids salted at random
SVG_VOLATILE = re.compile(rb"<metadata>.*?</metadata>|\b(?:p|m|c)[0-9a-f]{10}\b", re.S)


@functools.cache
def _image(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as raw:
        return raw.read()


@functools.cache
def _image_digest(url: str) -> str:
    """SHA-256 of an image's content (an SVG without what changes from one rendering to the next)."""
    data = _image(url)
    if url.endswith(".svg"):
        data = SVG_VOLATILE.sub(b"", data)
    return hashlib.sha256(data).hexdigest()


def _svg_text_pt(data: bytes) -> float | None:
    """Smallest font size (pt) in a matplotlib SVG, None if it has no text."""
    sizes = [100 * float(s) for s in SVG_TEXT_SCALE.findall(data)]
    return min(sizes) if sizes else None


def _figure_problems(figures: list[dict], width: int) -> list[str]:
    """Figures whose text is too small to read at this width, or blown-up PNGs."""
    problems = []
    for fig in figures:
        name = fig["src"].rsplit("/", 1)[-1]
        if not fig["shown"] or not fig["natural"]:
            continue
        scale = fig["shown"] / fig["natural"]           # CSS px shown per CSS px of the image
        data = _image(fig["src"])
        if name.endswith(".svg"):
            pt = _svg_text_pt(data)
            if pt is None:
                continue
            shown_pt = pt * scale                          # an SVG's px are CSS px
            where = f"{pt:g}-pt text, shown at {scale:.2f} of its {fig['natural']} px"
        else:
            dpi = _png_dpi(data)
            if dpi is None:
                problems.append(f"figure {name}: PNG without a resolution (pHYs): draw it inside "
                                f"hmmrisk.plotting.style()")
                continue
            # a PNG of `natural` px is natural/dpi inches, i.e. natural/dpi*96 CSS px at full size
            shown_pt = PNG_TEXT_PT * fig["shown"] / (fig["natural"] / dpi * 96)
            where = f"a PNG of {fig['natural'] / dpi:.1f} in shown at {fig['shown']} px"
            density = fig["natural"] / fig["shown"]
            if width == DESKTOP and density < MIN_DENSITY:
                problems.append(f"figure {name}: {density:.2f} image px per CSS px (< {MIN_DENSITY}): "
                                f"low resolution for its displayed size")
        if shown_pt < MIN_PT[width] - 0.05:
            problems.append(f"figure {name}: smallest text {shown_pt:.1f} pt on screen at {width} px "
                            f"(< {MIN_PT[width]:g}; {where})")
    return problems


def _duplicate_figures(figures: list[dict]) -> list[str]:
    """The same image data, or the same figure number, shown twice on one page."""
    problems = []
    digests = Counter()
    names = {}
    for fig in figures:
        digest = _image_digest(fig["src"])
        digests[digest] += 1
        names.setdefault(digest, fig["src"].rsplit("/", 1)[-1])
    problems += [f"figure shown {k} times on the page: {names[d]}" for d, k in digests.items() if k > 1]
    numbers = Counter(f["number"].strip() for f in figures if f["number"].strip())
    problems += [f"figure number {n!r} on {k} figures" for n, k in numbers.items() if k > 1]
    ids = Counter(f["id"] for f in figures if f["id"])
    problems += [f"figure id {i!r} on {k} figures" for i, k in ids.items() if k > 1]
    return problems


_PATHLIKE = re.compile(r"_images/|^\.\.?/|\.(?:png|svg|jpe?g|gif|pdf)$|^[0-9a-f]{16,}", re.I)


def _alt_problems(figures: list[dict]) -> list[str]:
    """Figures without an alt text that describes them."""
    problems = []
    for fig in figures:
        name = fig["src"].rsplit("/", 1)[-1]
        alt = (fig["alt"] or "").strip()
        if not alt:
            problems.append(f"figure {name}: no alt text")
        elif _PATHLIKE.search(alt):
            problems.append(f"figure {name}: alt text is a file name: {alt[:80]!r}")
        elif len(alt.split()) < 3:
            problems.append(f"figure {name}: alt text does not describe it: {alt!r}")
    return problems


REFRESH = re.compile(r'<meta[^>]*http-equiv="refresh"[^>]*url=([^"\s]+)"', re.I)
RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\$[^$\s][^$]{0,200}?\$")
# a number in e-notation: 3.5e-29, 0.0e+00, 1.91e+04, 2E5 (not a colour such as #009E73)
E_NOTATION = re.compile(r"(?<![\w.#])\d+(?:\.\d+)?[eE][+-]?\d+(?![\w.])")
# a hyphen-minus as the sign of a number: "-0.04", "(-1.30", "-102 %" (not 1-2, p-1, 2026-12-08)
HYPHEN_MINUS = re.compile(r"(?<![\w\-\u2010-\u2015./:#])-(?=\d)")
# glue artefacts: a word twice ("The The"), a label repeated in brackets
# ("Lemma 1 (Lemma 1)"), "5 of the 5", "0 and 0", "24.7 at p=128 and is still 24.7 at p=128"
GLUE_ARTEFACTS = [
    ("doubled word", re.compile(r"\b([A-Za-z]{2,})\s+\1\b(?!-)", re.I)),
    ("label repeated in brackets", re.compile(r"\b([A-Z][a-z]+\.?\s+\d+)\s*\(\1\)")),
    ("N of the N", re.compile(r"(?<![\w.])(\d[\d\u202f,.]*)\s+of\s+the\s+\1(?![\w.])")),
    ("a number and itself", re.compile(r"(?<![\w.])(\d[\d\u202f,.]*)\s+(?:and|or|to)\s+\1(?![\w.])")),
    ("a value repeated at the same point", re.compile(
        r"(?<![\w.])(\d[\d.]*\s+at\s+\S+?\s?=\s?\S+?)[\s,.;]+(?:\S+\s+){0,6}?\1(?![\w])")),
]


def _fetch_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as raw:
        return raw.read().decode("utf-8", errors="replace")


def _shot_path(screenshots: Path, width: int, page_path: str, dark: bool = False) -> Path:
    folder = screenshots / ("dark" if dark else "") / str(width)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{Path(page_path).stem}.png"


#: screenshots stop this far down a page (the API reference is 100 000 px long at 1280 px)
SHOT_MAX_HEIGHT = 16000


async def _screenshot(page, path: Path) -> None:
    """A full-page screenshot, cut at ``SHOT_MAX_HEIGHT`` px."""
    size = await page.evaluate("() => [document.documentElement.scrollWidth, "
                               "document.documentElement.scrollHeight]")
    clip = {"x": 0, "y": 0, "width": size[0], "height": min(size[1], SHOT_MAX_HEIGHT)}
    await page.screenshot(path=str(path), full_page=True, clip=clip)


async def _load(context, site: str, page_path: str, width: int,
                screenshots: Path) -> tuple[dict | None, list[str]]:
    """Load one page in one window: ``(what _INSPECT found, the errors the browser reported)``.

    Leaves a full-page screenshot in ``screenshots/<width>``; ``None`` for the
    inspection if the page could not be served.
    """
    page = await context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text} "
                                                  f"({msg.location.get('url', '')})")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("requestfailed", lambda req: errors.append(
        f"request failed: {req.url} ({req.failure})"))
    try:
        response = await page.goto(site + page_path, wait_until="load")
        if response is None or response.status != 200:
            return None, [f"HTTP {response.status if response else 'no response'}"]
        refresh = REFRESH.search(await asyncio.to_thread(_fetch_text, site + page_path))
        if refresh:
            # index.html only redirects to the first page: check where it lands
            await page.wait_for_url(urljoin(site + page_path, refresh.group(1)), wait_until="load")
        info = await page.evaluate(_INSPECT, width == DESKTOP)
        info["landing"] = bool(refresh)
        await page.wait_for_load_state("networkidle")
        await _screenshot(page, _shot_path(screenshots, width, page_path))
    finally:
        await page.close()
    return info, errors


async def _dark_screenshot(context, site: str, page_path: str, width: int, screenshots: Path) -> None:
    page = await context.new_page()
    try:
        await page.goto(site + page_path, wait_until="load")
        await page.wait_for_load_state("networkidle")
        await _screenshot(page, _shot_path(screenshots, width, page_path, dark=True))
    finally:
        await page.close()


async def _load_all(site: str, runs: list[tuple[str, int]], screenshots: Path) -> dict:
    """:func:`_load` every (page, width), ``CONCURRENCY`` at a time, in one browser
    (a context per window); an exception fails only its run."""
    from playwright.async_api import async_playwright

    dark = os.environ.get("HMMRISK_DARK_SCREENSHOTS") == "1"
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        contexts = {}
        for width, (w, h) in WINDOWS.items():
            contexts[width] = await chromium.new_context(viewport={"width": w, "height": h},
                                                         color_scheme="light")
            if dark:
                contexts["dark", width] = await chromium.new_context(
                    viewport={"width": w, "height": h}, color_scheme="dark")
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(page_path, width):
            async with gate:
                try:
                    result = await _load(contexts[width], site, page_path, width, screenshots)
                    if dark:
                        await _dark_screenshot(contexts["dark", width], site, page_path, width,
                                               screenshots)
                    return result
                except Exception as exc:            # noqa: BLE001 - reported by the page's test
                    return None, [f"the browser failed on the page: {type(exc).__name__}: {exc}"]
        try:
            results = await asyncio.gather(*(one(page_path, width) for page_path, width in runs))
        finally:
            await chromium.close()
    return dict(zip(runs, results))


def _edit_problems(info: dict, page_path: str, book_html: Path) -> list[str]:
    """A page built from a source file links "Edit this page" to it on the repository."""
    repo = _repository()
    sources = book_html / "_sources"
    stem = Path(page_path).with_suffix("")
    source = next((s for s in sorted(sources.glob(f"{stem}.*")) if s.suffix != ".txt"), None) \
        if sources.exists() else None
    if source is None or info.get("landing"):
        return []                       # a generated page (index, search, genindex)
    path = "/".join(p for p in (repo.get("path_to_book", "").strip("/"),
                                str(source.relative_to(sources))) if p)
    expected = f"{repo['url'].rstrip('/')}/edit/{repo.get('branch', 'main')}/{path}"
    if expected not in info["editLinks"]:
        return [f"no 'Edit this page' link to {expected} (found {info['editLinks'][:3]})"]
    return []


def _prose_problems(prose: str) -> list[str]:
    def around(m):
        return prose[max(m.start() - 40, 0):m.end() + 20].replace("\n", " ")
    problems = [f"number in e-notation in the text: {m.group(0)!r} (...{around(m)}...)"
                for m in E_NOTATION.finditer(prose)]
    problems += [f"hyphen-minus for a minus sign in the text (use U+2212): (...{around(m)}...)"
                 for m in HYPHEN_MINUS.finditer(prose)]
    for name, pattern in GLUE_ARTEFACTS:
        problems += [f"glue artefact ({name}): {m.group(0)!r} (...{around(m)}...)"
                     for m in pattern.finditer(prose)]
    return problems


def _problems(info: dict | None, errors: list[str], site: str, width: int,
              page_path: str, book_html: Path) -> list[str]:
    """What is wrong with one loaded page in one window (empty list: nothing)."""
    if info is None:
        return errors
    problems = []
    if info["scrollWidth"] > info["width"]:
        problems.append(f"the page scrolls sideways: {info['scrollWidth']} px wide in a "
                        f"{info['width']} px window; sticking out: " + "; ".join(info["wide"]))
    for eq in info["displays"]:
        if width == DESKTOP and not eq["fits"]:
            problems.append(f"display equation wider than its box at {width} px: "
                            f"{eq['width']} px of math in a {eq['box']} px box: {eq['tex']}")
        elif not eq["fits"] and not eq["scrollsInside"]:
            problems.append(f"display equation neither fits nor scrolls in its own box at {width} px: "
                            f"{eq['width']} px of math in a {eq['box']} px box: {eq['tex']}")
    problems += [f"inline formula cut off at {width} px: {t}" for t in info["clipped"]]
    problems += _figure_problems(info["figures"], width)
    if width == DESKTOP:
        problems += _duplicate_figures(info["figures"])
        problems += _alt_problems(info["figures"])
        if info.get("landing"):
            first = info["figures"][0]["top"] if info["figures"] else None
            if first is None or first >= FOLD:
                problems.append(f"the landing page's first figure is not above the fold: its top is "
                                f"at {first} px (window {WINDOWS[DESKTOP][0]} x {FOLD})")
        if info["mathElements"] and not info["mathjax"]:
            problems.append(f"{info['mathElements']} math elements but MathJax did not start")
        problems += [f"math not typeset: {t!r}" for t in info["untypeset"]]
        problems += [f"MathJax error: {t!r}" for t in info["merrors"]]
        problems += [f"undefined TeX macro: {t}" for t in info["undefinedMacros"]]
        problems += [f"raw TeX in the text: {m.group(0)[:80]!r}"
                     for m in RAW_TEX.finditer(info["text"])]
        problems += _prose_problems(info["prose"])
        problems += [f"image not loaded: {img['src']}" for img in info["images"] if not img["ok"]]
        problems += _edit_problems(info, page_path, book_html)
        problems += [f"broken link: {b}" for b in _broken_links(info["links"], site)]
    problems += errors
    return problems


@pytest.mark.parametrize("width", list(WINDOWS))
@pytest.mark.parametrize("page_path", PAGES)
def test_page_renders_in_a_real_browser(loaded, site, book, page_path, width):
    assert (book.html / page_path).exists(), f"{page_path} was not built"
    problems = list(dict.fromkeys(_problems(*loaded[page_path, width], site, width,
                                            page_path, book.html)))
    shown = problems[:40] + ([f"... and {len(problems) - 40} more"] if len(problems) > 40 else [])
    assert not problems, f"{page_path} at {width} px:\n  " + "\n  ".join(shown)


def test_every_built_page_is_checked(book):
    """No page of the site escapes the browser check above."""
    built = {str(p.relative_to(book.html)) for p in book.html.rglob("*.html")
             if not any(part.startswith("_") or part == "reports"
                        for part in p.relative_to(book.html).parts)}
    assert built <= set(PAGES), f"pages the browser test does not visit: {sorted(built - set(PAGES))}"


def test_the_glue_and_sign_rules_catch_what_they_should():
    """The prose rules above flag the artefacts of issue 27 and leave ordinary prose alone."""
    bad = ["The The HMM risk curve", "Lemma 1 (Lemma 1)", "Definition 2 (Definition 2)",
           "5 of the 5 settings", "484 of the 484", "between 0 and 0", "a loss of -0.04",
           "(-1.30)", "falls by -102\u202f%",
           "climbs to 24.7 at p=128 and is still 24.7 at p=128"]
    good = ["The HMM risk curve", "Lemma 1 (head tuning)", "all 5 settings", "p - 1 and n-1",
            "pages 1-20", "2026-12-08", "\u22120.04", "ex-intro-1", "that is, the model",
            "5 of the 6", "from 0 to 1", "Fig. 3 and Fig. 4"]
    for text in bad:
        assert _prose_problems(text), text
    for text in good:
        assert not _prose_problems(text), (text, _prose_problems(text))
