# Two commands, each doing its own set-up on a fresh machine:
#   make book   build the book from a clean _build (warnings are errors)
#   make test   unit tests + every chapter through nbmake + a clean -n -W build
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB_FLAGS := -n -W --keep-going
# The Monte Carlo batches many small matrices; multi-threaded BLAS only adds
# contention on such work (and the Transformer chapter runs its own workers).
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: book test bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

book: $(STAMP)
	rm -rf _build
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "Book built: $(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(BIN)/python -m pytest tests chapters --nbmake --nbmake-timeout=900

bench: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/bench_risk.py

clean:
	rm -rf _build .pytest_cache
