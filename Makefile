# Two commands, each doing its own set-up on a fresh machine:
#   make book   build the book from a clean _build (warnings are errors)
#   make test   a clean -n -W build (every chapter executed) + unit tests +
#               a second execution of the cheap chapters (figure data compared)
#               + every page of that build in headless Chromium
# and the edit-test loop:
#   make check  unit and property tests only, the slow few left out
# and the PDF edition:
#   make pdf    the whole book as one PDF, _build/latex/hmmrisk.pdf, checked by
#               tools/check_pdf.py; `make book HMMRISK_PDF=<that file>` then
#               puts it in the site and links it from every page
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements-lock.txt
LOCK_TOOLS := $(VENV)/lock-tools
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
# Modules are byte-compiled once, on first import, into the venv's and the
# repository's __pycache__ (ignored by git), even where the environment sets
# PYTHONDONTWRITEBYTECODE: otherwise every Python process of `make test`
# (about sixty: kernels, the Transformer's workers, CLI subprocesses) compiles
# numpy, scipy, matplotlib, torch and Sphinx from source again (one Transformer
# worker's imports: 5.1 CPU-s from source, 2.3 from bytecode).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: book preview test check bench lock clean pdf

# The environment is the lock file: every transitive package at an exact
# version, installed without resolution (--no-deps), then the book's own
# package (editable, no build isolation: setuptools comes from the lock), and
# pip check proves the set consistent (--no-compile: modules are byte-compiled
# when first imported, not all of torch's at install).  requirements.txt is the human-edited
# input; `make lock` regenerates requirements-lock.txt from it.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-compile --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

# pip-compile (pip-tools) resolves requirements.txt with this machine's pip
# configuration, so torch==2.13.0 resolves to the CPU wheel (2.13.0+cpu, no
# nvidia-* packages; CI finds it on the PyTorch CPU index).  No hashes: pip's
# --require-hashes refuses the editable install of the book's own package and
# the CPU wheel's hash depends on where it comes from.  Existing pins are kept
# unless the input needs others; `make lock LOCK_FLAGS=--upgrade` moves every
# transitive package to its newest allowed release.
lock:
	test -x $(LOCK_TOOLS)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_TOOLS) && \
		$(LOCK_TOOLS)/bin/python -m pip install --quiet pip-tools==7.6.2; }
	grep -v '^-e' requirements.txt | CUSTOM_COMPILE_COMMAND="make lock" \
		$(LOCK_TOOLS)/bin/pip-compile --quiet --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links $(LOCK_FLAGS) --output-file $(LOCK) -

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
	@if [ ! -e _build/.built-from ] || [ -n "$$(find hmmrisk $(LOCK) pyproject.toml _config.yml _toc.yml references.bib -newer _build/.built-from -print -quit)" ]; then \
		echo "hmmrisk or the configuration changed: cold build"; rm -rf _build; fi
	mkdir -p _build && touch _build/.built-from.new
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	mv _build/.built-from.new _build/.built-from
	@echo "Book built: $(CURDIR)/_build/html/index.html"

# One pytest session (tests/conftest.py):
#  - as soon as collection ends, the -n -W book build starts in the background
#    (every chapter executed once, writing its figure digests to
#    _build/figure-data/book): the execution test of every chapter, whose
#    failing notebooks' reports are printed by tests/test_book.py;
#  - meanwhile this process runs the unit tests with what the build leaves
#    (the build is the critical path: it executes the Transformer chapter
#    first, and as root its kernels and Sphinx run at a higher priority,
#    conftest._priority_profile); when they are done, a second background
#    pytest process executes again, with nbmake, every chapter that draws a
#    figure (conftest._SecondRun; report in _build/second-run.log) except
#    those of conftest.EXECUTED_ONCE (the Transformer: its reproducibility is
#    tests/test_figure3_repro.py's reduced protocol), writing digests to
#    $(FIGURE_DATA), beside the rest of the build;
#  - then the tests of the build (the two sets of digests must be equal) and
#    every page of that very _build/html in headless Chromium (screenshots:
#    _build/screenshots), loading as soon as the build is done;
#  - last, a timeline of the session: when each of these started and ended.
test: $(STAMP) $(CHROMIUM)
	rm -rf _build
	HMMRISK_FIGURE_DATA=$(FIGURE_DATA) HMMRISK_CHROMIUM=$(CHROMIUM) \
		$(BIN)/python -m pytest chapters tests --nbmake --nbmake-timeout=900 --durations=12

# The unit and property tests only: no notebook, no build, no browser, and
# not the few slow ones (conftest.SLOW; `make test` runs them).  The markers
# (unit, slow, notebook, book, browser) are assigned in tests/conftest.py; any
# subset works the same way: `make check MARK=unit` for every unit test, or
#   .venv/bin/python -m pytest -m "unit and not slow" tests/test_risk.py
MARK ?= unit and not slow
check: $(STAMP)
	$(BIN)/python -m pytest tests -m "$(MARK)" -q --durations=5

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
