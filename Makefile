# The two commands of the README: `make demo` (build small tabletop and room splits and their contact sheets,
# score the reference editors on both, print the leaderboard, run small metric fidelity checks) and
# `make test` (the test suite). Both install what they need first (scripts/setup.sh).
VENV ?= .venv
PY := $(VENV)/bin/python
export MUJOCO_GL ?= egl

.PHONY: setup demo test lint benchmark

setup:
	@bash scripts/setup.sh $(VENV)

DEMO_SAMPLES ?= 30
DEMO_FIDELITY_SCENES ?= 6
DEMO_SUBSETS ?= tabletop room
DEMO_EDITORS ?= identity oracle geometric

demo: setup
	for subset in $(DEMO_SUBSETS); do \
		$(VENV)/bin/gsi-bench build syn --subset $$subset --split test --num-samples $(DEMO_SAMPLES) --seed 0 \
			--out gsi-bench/syn || exit 1; \
		$(VENV)/bin/gsi-bench show gsi-bench/syn --config $$subset --split test --num 16 \
			--out gsi-bench/$${subset}_test_sheet.png || exit 1; \
		for editor in $(DEMO_EDITORS); do \
			HF_HUB_OFFLINE=1 $(VENV)/bin/gsi-bench eval --data gsi-bench/syn --config $$subset --split test \
				--editor $$editor --out gsi-bench/results/$$subset/$$editor --profile both --workers 2 --quiet || exit 1; \
		done; \
		HF_HUB_OFFLINE=1 $(VENV)/bin/gsi-bench validate --data gsi-bench/syn --config $$subset \
			--num-scenes $(DEMO_FIDELITY_SCENES) --out gsi-bench/fidelity/$$subset --workers 2 --quiet || exit 1; \
	done
	HF_HUB_OFFLINE=1 $(VENV)/bin/gsi-bench leaderboard gsi-bench/results/*/* \
		--out gsi-bench/leaderboard.md --plot gsi-bench/leaderboard.png --html gsi-bench/leaderboard
	@echo "Dataset: gsi-bench/syn (configs tabletop, room)"
	@echo "Contact sheets: gsi-bench/tabletop_test_sheet.png, gsi-bench/room_test_sheet.png"
	@echo "Leaderboard: gsi-bench/leaderboard.md, gsi-bench/leaderboard/index.html (open it in a browser)"
	@echo "Metric fidelity (small): gsi-bench/fidelity/<subset>/report.md  (full: gsi-bench validate --num-scenes 100)"

test: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

benchmark: setup
	$(PY) benchmarks/build_throughput.py
