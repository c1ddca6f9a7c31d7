# The two commands of the README: `make demo` (build a small tabletop split and a contact sheet, score the
# reference editors, print the leaderboard, run a small metric fidelity check) and
# `make test` (the test suite). Both install what they need first (scripts/setup.sh).
VENV ?= .venv
PY := $(VENV)/bin/python
export MUJOCO_GL ?= egl

.PHONY: setup demo test lint benchmark

setup:
	@bash scripts/setup.sh $(VENV)

DEMO_SAMPLES ?= 30
DEMO_FIDELITY_SCENES ?= 6

demo: setup
	$(VENV)/bin/gsi-bench build syn --subset tabletop --split test --num-samples $(DEMO_SAMPLES) --seed 0 --out gsi-bench/syn
	$(VENV)/bin/gsi-bench show gsi-bench/syn --config tabletop --split test --num 16 --out gsi-bench/tabletop_test_sheet.png
	for editor in identity oracle geometric; do \
		HF_HUB_OFFLINE=1 $(VENV)/bin/gsi-bench eval --data gsi-bench/syn --config tabletop --split test \
			--editor $$editor --out gsi-bench/results/$$editor --profile both --workers 2 --quiet || exit 1; \
	done
	HF_HUB_OFFLINE=1 $(VENV)/bin/gsi-bench leaderboard gsi-bench/results/identity gsi-bench/results/oracle \
		gsi-bench/results/geometric --out gsi-bench/leaderboard.md --plot gsi-bench/leaderboard.png --html gsi-bench/leaderboard
	HF_HUB_OFFLINE=1 $(VENV)/bin/gsi-bench validate --data gsi-bench/syn --config tabletop --num-scenes $(DEMO_FIDELITY_SCENES) \
		--out gsi-bench/fidelity --workers 2 --quiet
	@echo "Dataset: gsi-bench/syn  Contact sheet: gsi-bench/tabletop_test_sheet.png  Leaderboard: gsi-bench/leaderboard.md,"
	@echo "gsi-bench/leaderboard/index.html (open it in a browser)"
	@echo "Metric fidelity (small): gsi-bench/fidelity/report.md  (full: gsi-bench validate --num-scenes 100)"

test: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

benchmark: setup
	$(PY) benchmarks/build_throughput.py
