# Two commands do all set-up on a fresh machine:
#   make run    the main job: pretrained models, config.yaml, all cores
#   make test   the test suite (unit tests + the workflow on the offline profile)
# `make offline` runs the whole DAG without network on tiny random models.

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run offline test lint report benchmark clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/snakemake --profile profiles/default $(ARGS)

offline: install
	$(BIN)/snakemake --profile profiles/offline $(ARGS)

test: install
	$(BIN)/python -m pytest $(ARGS)

lint: install
	$(BIN)/snakemake --lint
	$(BIN)/ruff check .

report: install  # after a run: figures, metrics and captions in report.html
	$(BIN)/snakemake --report report.html $(ARGS)

benchmark: install
	$(BIN)/python benchmarks/dryrun.py
	$(BIN)/python benchmarks/detect_overhead.py

clean:
	rm -rf results .snakemake
