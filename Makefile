# kgqa: `make all` sets everything up and runs the local pipeline on the demo corpus;
# `make test` sets up as needed and runs the test suite. Stage targets depend on their input
# files, config and code, so an unchanged stage does not run again.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
KGQA   := $(BIN)/kgqa
WS     := workspace
CONFIG := configs/kgqa.yaml
STAMP  := $(VENV)/.installed

# The library code a stage runs: a change to it re-runs the stage. A stage whose outputs come
# out byte-identical leaves them untouched, so the stages after it do not run again.
CORE_SRC := $(addprefix kgqa_cli/,config.py errors.py io.py settings.py workspace.py)
DATA_SRC := $(wildcard kgqa_cli/data/*.py) kgqa_cli/cli/preprocess.py

DEMO_DIR := $(WS)/data/raw/demo
DEMO     := $(DEMO_DIR)/duie_train.json
CORPUS   := $(WS)/data/corpus/train.jsonl

# Each stage runs when its stamp is older than its inputs; the stage's outputs hang off the
# stamp with an empty recipe, so Make re-reads their times and the next stage runs only if the
# outputs really changed (stages leave byte-identical outputs untouched).
STAMPS := $(WS)/.stamps

.PHONY: all install test lint bench clean demo preprocess

all: preprocess

install: $(STAMP)

# The virtual environment, installed with the tested versions pinned in constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

# The synthetic demo corpus (DuIE 2.0 format), generated deterministically.
demo: $(DEMO)
$(DEMO): scripts/make_demo_corpus.py $(STAMP)
	$(PY) scripts/make_demo_corpus.py --out $(DEMO_DIR)

preprocess: $(CORPUS)
$(STAMPS)/preprocess: $(DEMO) $(CONFIG) $(DATA_SRC) $(CORE_SRC) $(STAMP)
	$(KGQA) preprocess -c $(CONFIG)
	@mkdir -p $(@D) && touch $@
$(CORPUS): $(STAMPS)/preprocess ;

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(BIN)/ruff check kgqa_cli tests scripts

clean:
	rm -rf $(WS)
