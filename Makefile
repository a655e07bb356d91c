# Two commands, each doing its own set-up on a fresh machine:
#   make book   build the book from a clean _build (warnings are errors)
#   make test   unit tests + every chapter through nbmake + a clean -n -W build
#               + every page of that build in headless Chromium
# and the PDF edition:
#   make pdf    the whole book as one PDF, _build/latex/hmmrisk.pdf, checked by
#               tools/check_pdf.py; `make book HMMRISK_PDF=<that file>` then
#               puts it in the site and links it from every page
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB_FLAGS := -n -W --keep-going
# Debian's chromium, driven by playwright in tests/test_browser.py (never a
# browser download); installed with apt-get when missing.
CHROMIUM ?= /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Digests of the data behind every figure (hmmrisk.figure_data.record): the
# nbmake run writes them here; the book build of the same `make test` writes
# its own to _build/figure-data/book and tests/test_book.py compares the two.
FIGURE_DATA := $(CURDIR)/_build/figure-data/nbmake
# The Monte Carlo batches many small matrices; multi-threaded BLAS only adds
# contention on such work (and the Transformer chapter runs its own workers).
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: book preview test bench clean pdf

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser test (apt-get)..."
	@$(SUDO) apt-get update -qq >/dev/null
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		chromium >/dev/null
	@test -x $(CHROMIUM)

# TeX Live and poppler from Debian for `make pdf` (installed with apt-get when
# missing; with --no-install-recommends about 350 MB installed): latexmk and
# pdflatex, the LaTeX packages Sphinx's LaTeX uses (fncychap, tabulary,
# capt-of, needspace, ... in texlive-latex-extra), the fonts of its default
# font set (TeX Gyre Termes/Heros, txtt), and pdftotext/pdfimages for the check.
TEX_PACKAGES := latexmk texlive-latex-recommended texlive-latex-extra \
	texlive-fonts-recommended tex-gyre poppler-utils
LATEXMK ?= /usr/bin/latexmk
PDFTOTEXT ?= /usr/bin/pdftotext
PDF := _build/latex/hmmrisk.pdf

$(LATEXMK) $(PDFTOTEXT):
	@echo "Installing TeX Live and poppler for the PDF (apt-get)..."
	@$(SUDO) apt-get update -qq >/dev/null
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $(TEX_PACKAGES) >/dev/null
	@test -x $(LATEXMK) && test -x $(PDFTOTEXT)

book: $(STAMP)
	rm -rf _build
	mkdir -p _build && touch _build/.built-from
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "Book built: $(CURDIR)/_build/html/index.html"

# Warm rebuild for authors: Sphinx re-reads, and so re-executes, only the
# chapters whose source changed since the last build.  Sphinx cannot see a
# change in hmmrisk/, the pins or the configuration, so any of those (or a
# _build of unknown origin) wipes _build first: a preview never shows a figure
# computed by older code.  The truth is still `make book`.
preview: $(STAMP)
	@if [ ! -e _build/.built-from ] || [ -n "$$(find hmmrisk/*.py requirements.txt pyproject.toml _config.yml _toc.yml references.bib -newer _build/.built-from -print -quit)" ]; then \
		echo "hmmrisk or the configuration changed: cold build"; rm -rf _build; fi
	mkdir -p _build && touch _build/.built-from.new
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	mv _build/.built-from.new _build/.built-from
	@echo "Book built: $(CURDIR)/_build/html/index.html"

# Chapters first (nbmake writes the first set of figure digests), then the
# tests, whose session fixture builds the book into _build once for
# tests/test_book.py and tests/test_browser.py (screenshots: _build/screenshots).
test: $(STAMP) $(CHROMIUM)
	rm -rf _build
	HMMRISK_FIGURE_DATA=$(FIGURE_DATA) HMMRISK_CHROMIUM=$(CHROMIUM) \
		$(BIN)/python -m pytest chapters tests --nbmake --nbmake-timeout=900 --durations=12

# The LaTeX builder executes every notebook again (it keeps no HTML build's
# outputs); _build/html, if there, is left alone and its pages give the
# figure count the check compares with.
pdf: $(STAMP) $(LATEXMK) $(PDFTOTEXT)
	rm -rf _build/latex
	$(BIN)/jupyter-book build . --builder pdflatex $(JB_FLAGS)
	$(BIN)/python tools/check_pdf.py $(PDF)
	@echo "PDF built and checked: $(CURDIR)/$(PDF)"

bench: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/bench_risk.py

clean:
	rm -rf _build .pytest_cache
