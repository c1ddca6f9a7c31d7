# The two commands of the README: `make demo` (build a small tabletop split and a contact sheet) and
# `make test` (the test suite). Both install what they need first (scripts/setup.sh).
VENV ?= .venv
PY := $(VENV)/bin/python
export MUJOCO_GL ?= egl

.PHONY: setup demo test lint benchmark

setup:
	@bash scripts/setup.sh $(VENV)

demo: setup
	$(VENV)/bin/gsi-bench build syn --subset tabletop --split test --num-samples 48 --seed 0 --out gsi-bench/syn
	$(VENV)/bin/gsi-bench show gsi-bench/syn --config tabletop --split test --num 16 --out gsi-bench/tabletop_test_sheet.png
	@echo "Dataset: gsi-bench/syn  Contact sheet: gsi-bench/tabletop_test_sheet.png"

test: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

benchmark: setup
	$(PY) benchmarks/build_throughput.py
