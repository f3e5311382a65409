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

# Two pytest workers (pytest-xdist), each taking whole test modules, so that a module's
# finished run (a module-scoped fixture) is made once: on the 2-core CI machine the suite
# takes about half the time of one worker. TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= 2

test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope $(ARGS)

lint: install
	$(BIN)/snakemake --lint
	$(BIN)/ruff check .

report: install  # after a run: figures, metrics and captions in report.html
	$(BIN)/snakemake --report report.html $(ARGS)

# The README's "Latest numbers" that a CPU regenerates, each as the README runs it: about
# 12 minutes on 2 CPU cores. Longer ones run by hand: workflow.py, privacy.py (the sweep),
# fake_precision.py --faces 1, and gpu_stages.py on a GPU.
benchmark: install
	$(BIN)/python benchmarks/dryrun.py
	$(BIN)/python benchmarks/snakemake_overhead.py
	$(BIN)/python benchmarks/obfuscation.py --before
	$(BIN)/python benchmarks/privacy.py --face-per-person
	$(BIN)/python benchmarks/huge_photo.py
	$(BIN)/python benchmarks/gpu_stages.py --device cpu --size tiny --images 100 --batch-size 4 --workflow --bare --fixed-cost --targets detect caption scene
	$(BIN)/python benchmarks/stage_overhead.py --repeat 5
	$(BIN)/python benchmarks/fake_precision.py --steps 10

clean:
	rm -rf results .snakemake
