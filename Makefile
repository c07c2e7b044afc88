# hyperphysics-strategy: the two README commands.
#   make demo   set up .venv, backtest the strategy on the bundled data (offline), chart one pair
#   make test   set up .venv and run lint + the test suite
#
# GPU users pick their torch build, e.g. CUDA 12.6 or ROCm 6.4:
#   make demo TORCH_SPEC="torch==2.13.0" TORCH_INDEX="--index-url https://download.pytorch.org/whl/cu126"
#   make demo TORCH_SPEC="torch==2.13.0" TORCH_INDEX="--index-url https://download.pytorch.org/whl/rocm6.4"

PYTHON      ?= python3
VENV        ?= .venv
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
PYTEST_ARGS ?=
# test files run in parallel, one worker per core (at most 4): tests/conftest.py keeps each
# file, and the files sharing the demo backtest or the Ray cluster, in one worker
PYTEST_WORKERS ?= -n auto --maxprocesses 4 --dist loadgroup --no-loadscope-reorder

BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev,ray,rl,onnx]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hyperphysics demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .

bench: $(STAMP)
	for b in benchmarks/perf/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
