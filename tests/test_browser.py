"""Every page of the built book, opened in a real browser (headless Chromium).

The ``_build/html`` of ``make book`` is served on 127.0.0.1 and each page is
loaded in Debian's ``chromium`` (driven by playwright; no browser download),
``CONCURRENCY`` pages at a time (one per core, at most 4).
A page passes when

* MathJax has finished (``MathJax.startup.promise``), every ``math`` element
  was typeset, no ``mjx-merror`` is shown and no raw TeX (``$$``, ``\\(``,
  ``\\[``, ``$x$``) is left in the text outside code;
* every ``<img>`` has loaded (``complete`` and ``naturalWidth > 0``);
* the browser logged no console error and the page threw no exception;
* every link to the same site resolves: the file is served (HTTP 200) and the
  ``#fragment``, if any, is the id of an element of that page;
* every display equation fits its box in a 1280 px window: neither the
  ``mjx-container[display="true"]`` of MathJax's CHTML output nor the element
  holding it is wider inside (``scrollWidth``) than it is shown
  (``clientWidth``), so no reader has to scroll sideways through a formula;
* no number in the prose is printed in e-notation (``3.5e-29``): numbers are
  formatted by ``hmmrisk.numbers``; code blocks and the outputs of code cells
  are exempt.
* every figure (an ``<img>`` in a ``<figure>`` or a cell output) is sharp
  and legible at 1280 px.  A PNG of the book stores its resolution (``pHYs``,
  dots per inch: 200 in ``hmmrisk.plotting.STYLE``), so the page shows
  ``clientWidth * dpi / naturalWidth`` CSS px per inch of the figure.  The
  smallest text in any figure is 8 pt (tick labels and legends are 9 pt, a few
  crowded legends and the contour labels 8 pt), i.e. 8/72 in; requiring at
  least ``MIN_PX_PER_INCH = 90`` px per inch puts it at >= 10 px on screen.
  Sharpness: at least ``MIN_DENSITY = 1.5`` image pixels per CSS px
  (``naturalWidth / clientWidth``), so a 2x (200-dpi) PNG is not shown blown
  up at its natural size or larger.  (For 200-dpi PNGs the first bound is
  ``clientWidth / naturalWidth >= 0.45``, the second ``<= 0.67``.)

A full-page screenshot of each page goes to ``_build/screenshots/<page>.png``.
``make test`` installs ``chromium`` with apt-get when it is missing; the
environment variable ``HMMRISK_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import os
import re
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin

import pytest
from local_site import CHROMIUM, CHROMIUM_ARGS, require_chromium, start, stop

ROOT = Path(__file__).resolve().parents[1]
# pages Sphinx writes besides the chapters
GENERATED = ["index.html", "genindex.html", "search.html"]


def _toc_pages() -> list[str]:
    """The book's pages, in table-of-contents order, as paths of ``_build/html``."""
    spec = importlib.util.spec_from_file_location("toc", ROOT / "tools" / "toc.py")
    toc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toc)
    files = toc.toc_entries()
    return [f"{Path(f).with_suffix('')}.html" for f in files]


PAGES = _toc_pages() + GENERATED


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
    ``{page: (inspection, browser errors)}`` (see :func:`_load`).
    """

    thread: threading.Thread | None = None
    result: dict | BaseException | None = None

    @classmethod
    def start(cls, site: str, pages: list[str], screenshots: Path) -> None:
        if cls.thread is not None:
            return

        def run():
            try:
                cls.result = asyncio.run(_load_all(site, pages, screenshots))
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


def _selected(session) -> list[str]:
    """The pages whose test is selected in this session (all of them by default)."""
    pages = [item.callspec.params["page_path"] for item in session.items
             if getattr(item, "originalname", None) == "test_page_renders_in_a_real_browser"]
    return pages or PAGES


@pytest.fixture(scope="module")
def loaded(request, site, book):
    """``{page: (inspection, browser errors)}`` for the selected pages, loaded
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
async () => {
  const mathjax = typeof window.MathJax !== "undefined" && window.MathJax.startup
                  && window.MathJax.startup.promise;
  if (mathjax) { await window.MathJax.startup.promise; }
  // load lazy images too, then wait until every image has settled
  for (const img of document.images) { img.loading = "eager"; }
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(done => { img.addEventListener("load", done);
                            img.addEventListener("error", done); })));
  // text outside code, scripts and typeset math
  // (.sig: an API signature on the reference page is code, e.g. bounds=(1e-08, 1e8))
  const skip = "pre, code, script, style, textarea, mjx-container, .highlight, .sig";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const texts = [], prose = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.parentElement.closest(skip)) {
      texts.push(node.nodeValue);
      if (!node.parentElement.closest(".cell_output, .output")) { prose.push(node.nodeValue); }
    }
  }
  // display equations wider than their box (1 px of rounding allowed)
  const tooWide = el => el && el.scrollWidth > el.clientWidth + 1;
  const mathItems = mathjax ? Array.from(window.MathJax.startup.document.math) : [];
  const overflowing = [...document.querySelectorAll('mjx-container[display="true"]')]
      .filter(el => tooWide(el) || tooWide(el.parentElement))
      .map(el => {
        const item = mathItems.find(m => m.typesetRoot === el);
        const width = Math.max(el.scrollWidth, el.parentElement.scrollWidth);
        const box = Math.min(el.clientWidth, el.parentElement.clientWidth);
        return `${width} px of math in a ${box} px box: ` +
               (item ? item.math : el.textContent).replace(/\s+/g, " ").trim().slice(0, 100);
      });
  return {
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
    figures: [...document.querySelectorAll("figure img, .cell_output img, .output img")].map(img => ({
        src: img.currentSrc || img.src, shown: img.clientWidth, natural: img.naturalWidth})),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
    text: texts.join(" "),
    prose: prose.join(" "),
    overflowing: overflowing,
  };
}
"""
# figures: shown at >= 90 px per inch (8-pt text >= 10 px), >= 1.5 image px per CSS px
MIN_PX_PER_INCH = 90.0
MIN_DENSITY = 1.5


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


def _figure_problems(figures: list[dict]) -> list[str]:
    """Figures shown too small to read (< MIN_PX_PER_INCH) or blown up (< MIN_DENSITY)."""
    problems = []
    for fig in figures:
        name = fig["src"].rsplit("/", 1)[-1]
        if not fig["shown"] or not fig["natural"] or name.endswith(".svg"):
            continue                                   # vector graphics scale without loss
        with urllib.request.urlopen(fig["src"], timeout=30) as raw:
            dpi = _png_dpi(raw.read())
        if dpi is None:
            problems.append(f"figure {name}: PNG without a resolution (pHYs): draw it inside "
                            f"hmmrisk.plotting.style()")
            continue
        px_per_inch = fig["shown"] * dpi / fig["natural"]
        density = fig["natural"] / fig["shown"]
        if px_per_inch < MIN_PX_PER_INCH:
            problems.append(f"figure {name}: shown at {px_per_inch:.0f} px per inch "
                            f"({fig['natural'] / dpi:.1f} in wide at {fig['shown']} px), 8-pt text "
                            f"would be {8 / 72 * px_per_inch:.1f} px (< 10): make it narrower")
        if density < MIN_DENSITY:
            problems.append(f"figure {name}: {density:.2f} image px per CSS px (< {MIN_DENSITY}): "
                            f"low resolution for its displayed size")
    return problems


REFRESH = re.compile(r'<meta[^>]*http-equiv="refresh"[^>]*url=([^"\s]+)"', re.I)
RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\$[^$\s][^$]{0,200}?\$")
# a number in e-notation: 3.5e-29, 0.0e+00, 1.91e+04, 2E5 (not a colour such as #009E73)
E_NOTATION = re.compile(r"(?<![\w.#])\d+(?:\.\d+)?[eE][+-]?\d+(?![\w.])")


def _fetch_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as raw:
        return raw.read().decode("utf-8", errors="replace")


async def _load(chromium, site: str, page_path: str, screenshots: Path) -> tuple[dict | None, list[str]]:
    """Load one page: ``(what _INSPECT found, the errors the browser reported)``.

    Leaves a full-page screenshot in ``screenshots``; ``None`` for the
    inspection if the page could not be served.
    """
    page = await chromium.new_page(viewport={"width": 1280, "height": 900})
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
        info = await page.evaluate(_INSPECT)
        await page.wait_for_load_state("networkidle")
        screenshots.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(screenshots / f"{Path(page_path).stem}.png"), full_page=True)
    finally:
        await page.close()
    return info, errors


async def _load_all(site: str, pages: list[str], screenshots: Path) -> dict:
    """:func:`_load` every page, ``CONCURRENCY`` at a time; an exception fails only its page."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(page_path):
            async with gate:
                try:
                    return await _load(chromium, site, page_path, screenshots)
                except Exception as exc:            # noqa: BLE001 - reported by the page's test
                    return None, [f"the browser failed on the page: {type(exc).__name__}: {exc}"]
        try:
            results = await asyncio.gather(*(one(page_path) for page_path in pages))
        finally:
            await chromium.close()
    return dict(zip(pages, results))


def _problems(info: dict | None, errors: list[str], site: str) -> list[str]:
    """What is wrong with one loaded page (empty list: nothing)."""
    if info is None:
        return errors
    problems = []
    if info["mathElements"] and not info["mathjax"]:
        problems.append(f"{info['mathElements']} math elements but MathJax did not start")
    problems += [f"math not typeset: {t!r}" for t in info["untypeset"]]
    problems += [f"MathJax error: {t!r}" for t in info["merrors"]]
    problems += [f"undefined TeX macro: {t}" for t in info["undefinedMacros"]]
    problems += [f"raw TeX in the text: {m.group(0)[:80]!r}"
                 for m in RAW_TEX.finditer(info["text"])]
    problems += [f"display equation wider than its box at 1280 px: {t}" for t in info["overflowing"]]
    problems += [f"number in e-notation in the text: {m.group(0)!r} "
                 f"(...{info['prose'][max(m.start() - 40, 0):m.end() + 20]}...)"
                 for m in E_NOTATION.finditer(info["prose"])]
    problems += [f"image not loaded: {img['src']}" for img in info["images"] if not img["ok"]]
    problems += _figure_problems(info["figures"])
    problems += errors
    problems += [f"broken link: {b}" for b in _broken_links(info["links"], site)]
    return problems


@pytest.mark.parametrize("page_path", PAGES)
def test_page_renders_in_a_real_browser(loaded, site, book, page_path):
    assert (book.html / page_path).exists(), f"{page_path} was not built"
    problems = list(dict.fromkeys(_problems(*loaded[page_path], site)))
    shown = problems[:40] + ([f"... and {len(problems) - 40} more"] if len(problems) > 40 else [])
    assert not problems, f"{page_path}:\n  " + "\n  ".join(shown)


def test_every_built_page_is_checked(book):
    """No page of the site escapes the browser check above."""
    built = {str(p.relative_to(book.html)) for p in book.html.rglob("*.html")
             if not any(part.startswith("_") or part == "reports"
                        for part in p.relative_to(book.html).parts)}
    assert built <= set(PAGES), f"pages the browser test does not visit: {sorted(built - set(PAGES))}"
