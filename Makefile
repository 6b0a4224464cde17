# kgqa: `make all` sets everything up and runs the local pipeline on the demo corpus;
# `make test` sets up as needed and runs the test suite (`make test-fast`: all but the slow tests).
# Stage targets depend on their input files, config and code, so an unchanged stage does not run again.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
KGQA   := $(BIN)/kgqa
WS     := workspace
CONFIG := configs/kgqa.yaml
STAMP  := $(VENV)/.installed
AWS_STAMP := $(VENV)/.installed-aws

# The library code a stage runs: a change to it re-runs the stage. A stage whose outputs come
# out byte-identical leaves them untouched, so the stages after it do not run again.
CORE_SRC := $(addprefix kgqa_cli/,config.py errors.py io.py settings.py workspace.py)
DATA_SRC := $(wildcard kgqa_cli/data/*.py) kgqa_cli/cli/preprocess.py
KG_SRC   := $(wildcard kgqa_cli/extraction/*.py) kgqa_cli/mlops/registry.py kgqa_cli/mlops/distributed.py
GRAPH_SRC := $(wildcard kgqa_cli/graph/*.py) kgqa_cli/cli/bulkload.py
QA_SRC   := $(wildcard kgqa_cli/understanding/*.py) kgqa_cli/mlops/registry.py kgqa_cli/mlops/distributed.py

DEMO_DIR := $(WS)/data/raw/demo
DEMO     := $(DEMO_DIR)/duie_train.json
CORPUS   := $(WS)/data/corpus/train.jsonl
SPLITS   := $(CORPUS) $(WS)/data/corpus/dev.jsonl $(WS)/data/corpus/test.jsonl $(WS)/data/corpus/schema.jsonl
KG_MODEL := $(WS)/models/kg/model/model.safetensors
KG_EVAL  := $(WS)/evaluation/kg/evaluation.json
TRIPLES  := $(WS)/extract/triples.jsonl
GRAPH    := $(WS)/bulkload/edges.csv
QUESTIONS := $(WS)/data/questions/train.jsonl
QA_MODEL := $(WS)/models/qa/model.safetensors
QA_EVAL  := $(WS)/evaluation/qa/evaluation.json
QUESTION ?= 三度诱惑的导演是谁

# Each stage runs when its stamp is older than its inputs; the stage's outputs hang off the
# stamp with an empty recipe, so Make re-reads their times and the next stage runs only if the
# outputs really changed (stages leave byte-identical outputs untouched).
# A stamp carries the time its stage *started*, so the outputs the stage wrote are newer than
# it and `make -n`/`make -q` agree with `make` after a run (see docs/tutorial.md for the one case
# they cannot foresee).
STAMPS := $(WS)/.stamps
STAGE_START = @mkdir -p $(@D) && date +%s.%N > $@.start
STAGE_DONE  = @touch -d @$$(cat $@.start) $@ && rm -f $@.start

.PHONY: all install install-aws system-deps test test-fast lint bench clean demo preprocess train evaluate extract bulkload questions \
        train-qa evaluate-qa ask serve retrain-qa retrain-kg docs

# The whole local pipeline on the demo corpus, ending with an answer from the graph.
all: ask

install: $(STAMP)

# The virtual environment, installed with the tested versions pinned in constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

# The synthetic demo corpus (DuIE 2.0 format), generated deterministically from the templates, name
# pools and seed facts in configs/demo_corpus.yaml.
demo: $(DEMO)
$(DEMO): scripts/make_demo_corpus.py configs/demo_corpus.yaml $(STAMP)
	$(PY) scripts/make_demo_corpus.py --out $(DEMO_DIR)

preprocess: $(CORPUS)
# Triples people reviewed (`kgqa label triples`) join the training split: a change to them re-runs
# this stage and the extractor's after it (`make retrain-kg`).
KG_FEEDBACK := $(wildcard $(WS)/data/feedback/kg.jsonl)
$(STAMPS)/preprocess: $(DEMO) $(CONFIG) $(DATA_SRC) $(CORE_SRC) $(STAMP) $(KG_FEEDBACK)
	$(STAGE_START)
	$(KGQA) preprocess -c $(CONFIG)
	$(STAGE_DONE)
$(SPLITS): $(STAMPS)/preprocess ;

# The triple extractor: train (registers kg/vN), evaluate with the quality gate, extract.
train: $(KG_MODEL)
$(STAMPS)/train-kg: $(SPLITS) $(CONFIG) $(KG_SRC) kgqa_cli/cli/train.py $(CORE_SRC)
	$(STAGE_START)
	$(KGQA) train kg -c $(CONFIG)
	$(STAGE_DONE)
$(KG_MODEL): $(STAMPS)/train-kg ;

evaluate: $(KG_EVAL)
$(STAMPS)/evaluate-kg: $(KG_MODEL) $(CONFIG) $(KG_SRC) kgqa_cli/cli/evaluate.py
	$(STAGE_START)
	$(KGQA) evaluate kg -c $(CONFIG) $(KG_GATE)
	$(STAGE_DONE)
$(KG_EVAL): $(STAMPS)/evaluate-kg ;

extract: $(TRIPLES)
$(STAMPS)/extract: $(KG_EVAL) $(DEMO) $(CONFIG) $(KG_SRC) kgqa_cli/cli/extract.py
	$(STAGE_START)
	$(KGQA) extract -c $(CONFIG)
	$(STAGE_DONE)
$(TRIPLES): $(STAMPS)/extract ;

# The graph: the extracted triples replace the embedded demo graph; then its summary.
bulkload: $(GRAPH)
$(STAMPS)/bulkload: $(TRIPLES) $(CONFIG) $(GRAPH_SRC)
	$(STAGE_START)
	$(KGQA) bulkload $(TRIPLES) --replace -c $(CONFIG)
	$(KGQA) graph --about 三度诱惑 --about 许晋亨 -c $(CONFIG)
	$(STAGE_DONE)
$(GRAPH): $(STAMPS)/bulkload ;

# The question model: questions from the schema and the graph's names, train, evaluate, gate.
questions: $(QUESTIONS)
# Labelled feedback (`kgqa label`) joins the training questions: a change to it re-runs this stage,
# the local form of data-triggered retraining.
FEEDBACK := $(wildcard $(WS)/data/feedback/feedback.jsonl)
$(STAMPS)/questions: $(SPLITS) $(GRAPH) configs/questions.yaml $(CONFIG) $(QA_SRC) kgqa_cli/cli/questions.py $(FEEDBACK)
	$(STAGE_START)
	$(KGQA) questions -c $(CONFIG)
	$(STAGE_DONE)
$(QUESTIONS): $(STAMPS)/questions ;

train-qa: $(QA_MODEL)
$(STAMPS)/train-qa: $(QUESTIONS) $(CONFIG) $(QA_SRC)
	$(STAGE_START)
	$(KGQA) train qa -c $(CONFIG)
	$(STAGE_DONE)
$(QA_MODEL): $(STAMPS)/train-qa ;

evaluate-qa: $(QA_EVAL)
$(STAMPS)/evaluate-qa: $(QA_MODEL) $(CONFIG) $(QA_SRC)
	$(STAGE_START)
	$(KGQA) evaluate qa -c $(CONFIG)
	$(STAGE_DONE)
$(QA_EVAL): $(STAMPS)/evaluate-qa ;

# Always answers: the end of `make all` (override with QUESTION=...).
ask: $(QA_EVAL) $(GRAPH)
	$(KGQA) ask "$(QUESTION)" -c $(CONFIG)

# The AWS extra: boto3 for `kgqa sync` and the other AWS commands, and the SageMaker SDK v3 that
# tests/test_pipelines_sdk.py builds the pipelines with. `make test` installs it, `make all` does not.
install-aws: $(AWS_STAMP)
$(AWS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,aws]'
	@touch $@

# Debian packages of the browser test (chromium, driven by Playwright) and a Chinese font for the
# chat page; installed when missing (as root, as on CI), else the command to run is printed.
system-deps:
	@if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "wenquanyi zen hei"; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium and fonts-wqy-zenhei (browser test, Chinese text)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; \
	else echo "the browser test needs: sudo apt-get install chromium fonts-wqy-zenhei (it skips without them)" >&2; fi

# The whole suite, as CI runs it (.ci/run).
test: $(AWS_STAMP) system-deps
	$(PY) -m pytest

# The quick tier while working: every test not marked slow (model training, the browser, the
# moto-server AWS flows, torchrun, anything over about 5 s); under two minutes on two cores.
# `make test` still runs them all.
test-fast: $(AWS_STAMP)
	$(PY) -m pytest -m "not slow"

# Retrain the question model with the labelled feedback: questions -> train qa -> evaluate qa; the new
# version is registered pending approval (`kgqa registry approve qa/vN`, then `make serve`).
retrain-qa: $(QA_EVAL)

# Retrain the extractor with the reviewed triples (`kgqa label triples`): preprocess -> train kg ->
# evaluate kg (the quality gate, which here approves nothing: kg.evaluate.approve_on_pass false);
# the new version is registered pending approval (`kgqa registry approve kg/vN`).
retrain-kg: KG_GATE = --kg.evaluate.approve_on_pass false
retrain-kg: $(KG_EVAL)

# The endpoint on the `make all` workspace (approve the qa version first: kgqa registry approve qa/vN).
serve: $(QA_EVAL) $(GRAPH)
	$(KGQA) deploy -c $(CONFIG)

# Benchmarks: figures into bench/results.json (see scripts/bench.py).
bench: $(STAMP)
	$(PY) scripts/bench.py

# The documentation site (mkdocs-material, in the dev extra) into site/: the generated pages first
# (CLI and config references from the code, benchmarks from bench/*.json), then a strict build.
docs: $(STAMP)
	$(PY) scripts/gen_docs.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# ruff, then the layers of docs/architecture.md: import-linter's contracts in pyproject.toml,
# checked on every import between our modules (those inside functions too), then mypy's types.
lint: $(STAMP)
	$(BIN)/ruff check kgqa_cli tests scripts
	$(BIN)/lint-imports
	$(BIN)/mypy

clean:
	rm -rf $(WS)
