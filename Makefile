# Two commands, each doing its own set-up on a fresh machine:
#   make book   build the book from a clean _build (warnings are errors)
#   make test   everything `make book` does, then ruff, the unit and property tests,
#               a second execution of the chapters that draw figures (their
#               figure data compared with the build's) and every page of the
#               build in headless Chromium; independent steps run side by
#               side, one per core (JOBS).
# and the edit-test loop:
#   make check  ruff, and the unit and property tests without the slow few
# and the PDF edition:
#   make pdf    the whole book as one PDF, _build/latex/hmmrisk.pdf, checked by
#               tools/check_pdf.py; `make book HMMRISK_PDF=<that file>` then
#               puts it in the site and links it from every page
# Every step below is an ordinary command: `make -n test` prints them all.
SHELL  := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements-lock.txt
JB_FLAGS := -n -W --keep-going
# Steps run side by side by `make book` and `make test`: one per core.
JOBS   ?= $(shell nproc)
# Debian's chromium, driven by playwright in tests/test_browser.py (never a
# browser download); installed with apt-get when missing.
CHROMIUM ?= /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The Monte Carlo batches many small matrices; multi-threaded BLAS only adds
# contention on such work (and two notebooks or test steps run at once).
export OPENBLAS_NUM_THREADS ?= 1
# Modules are byte-compiled once, on first import, even where the environment
# sets PYTHONDONTWRITEBYTECODE: otherwise every kernel and worker process
# compiles numpy, scipy, matplotlib and torch from source again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: book preview test check lint unit-tests second-execution browser-check \
	book-tests bench lock clean pdf

# -- the environment -------------------------------------------------------------
# The environment is the lock file: every transitive package at an exact
# version with its hashes, installed by uv (itself pinned and hashed in the
# lock, bootstrapped with pip) without resolution, then the book's own package
# (editable, no build isolation: setuptools comes from the lock).
# uv reads no pip configuration: tools/uv_env.sh hands it the indexes and
# find-links that pip is configured with on this machine, and pip's rule of
# taking the best match over all of them.  requirements.txt is the
# human-edited input; `make lock` regenerates requirements-lock.txt from it.
UV := . tools/uv_env.sh && $(BIN)/uv
$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	sed -n '/^uv==/,/# via/p' $(LOCK) > $(VENV)/uv-requirement.txt
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r $(VENV)/uv-requirement.txt
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes $(LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	$(UV) pip check --python $(BIN)/python
	touch $(STAMP)

# Existing pins are kept unless requirements.txt needs others;
# `make lock LOCK_FLAGS=--upgrade` moves every package to its newest release.
lock: $(STAMP)
	. tools/uv_env.sh && grep -v '^-e' requirements.txt | $(BIN)/uv pip compile - --quiet --generate-hashes \
		--python $(BIN)/python --custom-compile-command "make lock" $(LOCK_FLAGS) -o $(LOCK)

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


# -- the book --------------------------------------------------------------------
# Every chapter is executed once, by its own step (tools/execute.py; two at a
# time under `make -j2`), into _build/executed/; Jupyter Book then takes the
# outputs from its execution cache (execute_notebooks: cache in _config.yml),
# which these executed notebooks are added to.  Each figure cell writes the digest of its
# data (hmmrisk.figure_data) to _build/figure-data/book.
CHAPTERS := $(wildcard chapters/*.ipynb)
EXECUTED := $(CHAPTERS:chapters/%=_build/executed/%)
JCACHE   := _build/.jupyter_cache

_build/executed/%.ipynb: chapters/%.ipynb $(STAMP)
	HMMRISK_FIGURE_DATA=$(CURDIR)/_build/figure-data/book $(BIN)/python tools/execute.py run $< $@

# The -n -W build (a broken reference, a missing glue key or a bad citation
# fails it); its log is _build/jupyter-book.log, and _build/.book-ok marks a
# build that passed, for the tests of the build.
_build/.book-ok: $(EXECUTED)
	$(BIN)/python tools/execute.py cache $(JCACHE) $(EXECUTED)
	set -o pipefail; $(BIN)/jupyter-book build . $(JB_FLAGS) 2>&1 | tee _build/jupyter-book.log
	touch $@

book: $(STAMP)
	rm -rf _build
	$(MAKE) --jobs=$(JOBS) _build/.book-ok
	@echo "Book built: $(CURDIR)/_build/html/index.html"

# Warm rebuild for authors: only the chapters whose source changed since
# their last execution run again.  A change in hmmrisk/, the pins or the
# configuration is invisible to those steps, so any of those wipes _build
# first: a preview never shows a figure computed by older code.
preview: $(STAMP)
	@if [ -n "$$(find hmmrisk $(LOCK) pyproject.toml _config.yml _toc.yml references.bib -newer _build/.book-ok -print -quit 2>/dev/null)" ]; then \
		echo "hmmrisk or the configuration changed: cold build"; rm -rf _build; fi
	$(MAKE) --jobs=$(JOBS) _build/.book-ok
	@echo "Book built: $(CURDIR)/_build/html/index.html"

# -- the tests -------------------------------------------------------------------
# Markers (unit, slow, book, browser) are assigned in tests/conftest.py.
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

# The unit and property tests (no notebook, no build, no browser).
unit-tests: $(STAMP)
	$(PYTEST) tests -m unit -q --durations=10

# The second execution (nbmake) of the chapters that draw a figure, but the
# Transformer's (its reproducibility: tests/test_figure3_repro.py), with their
# figure digests in _build/figure-data/nbmake.
SECOND := $(filter-out chapters/transformer.ipynb,$(shell grep -l 'figure_data.record' $(CHAPTERS)))
second-execution: $(STAMP)
	rm -rf _build/figure-data/nbmake
	HMMRISK_FIGURE_DATA=$(CURDIR)/_build/figure-data/nbmake \
		$(PYTEST) --nbmake --nbmake-timeout=900 -q $(SECOND)

# The tests of the build: statements and figures rendered, the figure data of
# the two executions equal.
book-tests: _build/.book-ok second-execution
	$(PYTEST) tests/test_book.py -q

# Every page of the build in headless Chromium (screenshots: _build/screenshots).
browser-check: _build/.book-ok $(CHROMIUM)
	HMMRISK_CHROMIUM=$(CHROMIUM) $(PYTEST) tests/test_browser.py tests/test_explorer.py tests/test_search.py -q

# `make test` runs its steps JOBS at a time, each step's output printed in one
# piece when it ends (--output-sync).
test: $(STAMP)
	rm -rf _build
	$(MAKE) --jobs=$(JOBS) --output-sync=target lint browser-check book-tests unit-tests

# The edit-test loop: lint, then the unit tests without the slow ones.  Any
# subset works the same way, e.g.
#   .venv/bin/python -m pytest -m "unit and not slow" tests/test_risk.py
lint: $(STAMP)
	$(BIN)/ruff check .

check: lint
	$(PYTEST) tests -m "unit and not slow" -q --durations=5

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
