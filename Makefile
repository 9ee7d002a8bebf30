# robustloss: `make demo` runs the digits demo, `make test` the tests. Both create .venv and
# install the package (editable, with dev extras) when it is missing or pyproject.toml is newer.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RL     := $(VENV)/bin/robustloss
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo test test-slow test-all lint tables clean-demo bench \
	reproduce-table1 reproduce-table1-rows reproduce-table2-rows reproduce-table2 reproduce-table3 reproduce-table4 reproduce-table5 reproduce-figures \
	reproduce-noise figures paper-results \
	fidelity-effects find-issues-checks find-issues-benchmark test-studies gpu-check gpu-fidelity

help:  ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "robustloss needs Python >= 3.10 (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install robustloss with dev extras

demo: $(STAMP)  ## all seven losses x 4 noise rates x 2 seeds on digits, then Tables 1-2 and Figures 1-4, 7
	$(RL) demo

# One pytest worker per core (pytest-xdist), a test file's tests together on one worker
# (they share module fixtures: one SLURM cluster, one find-issues run); tests/conftest.py
# gives each worker one thread.
PYTEST := $(PY) -m pytest -q -n auto --dist loadfile

test: $(STAMP)  ## run the test suite (without the slow tests: see README)
	$(PYTEST)

test-slow: $(STAMP)  ## only the slow tests (bf16 F1 over seeds, SLURM failures, ...)
	$(PYTEST) -m slow

test-all: $(STAMP)  ## every test
	$(PYTEST) -m "slow or not slow"

lint: $(STAMP)  ## ruff
	$(PY) -m ruff check src tests scripts

tables: $(STAMP)  ## tables from the records under RESULTS (default results/demo)
	$(RL) tables $(or $(RESULTS),results/demo)

# Paper tables. Variables: LAUNCHER=parallel|local|slurm (default parallel: one experiment per core), DATASETS=mnist,cifar10 SEEDS=3 RATES=0.2,0.4
# GAMMAS=0.3,0.4 CS=0.01,0.02 KINDS=symmetric,instance DETECTORS=aum SMOKE=1 (minutes on a CPU), RESULTS=results/mine (records folder),
# OVERRIDES="hydra.launcher.partition=gpu"
# Datasets are read from $$ROBUSTLOSS_DATA (default here: ../shared/data when it exists).
export ROBUSTLOSS_DATA ?= $(abspath $(wildcard ../shared/data))
REPRODUCE = $(RL) reproduce --launcher $(or $(LAUNCHER),parallel) \
	$(if $(DATASETS),--datasets $(DATASETS)) $(if $(SEEDS),--seeds $(SEEDS)) \
	$(if $(RATES),--rates $(RATES)) $(if $(GAMMAS),--gammas $(GAMMAS)) $(if $(CS),--cs $(CS)) \
	$(if $(KINDS),--kinds $(KINDS)) $(if $(DETECTORS),--detectors $(DETECTORS)) \
	$(if $(filter 1 yes true,$(SMOKE)),--smoke) $(if $(RESULTS),--results $(RESULTS))

reproduce-table1: $(STAMP)  ## Tables 1+2: 4 datasets x eta x 7 losses (BL/PZ grids) x 20 seeds
	$(REPRODUCE) table1 -- $(OVERRIDES)

# Table 1 rows over seeds (issue 39): eta 0.2, the 5 baselines + BL and PZ at the paper's best
# gamma / c for that row (Table 1: MNIST 0.4 / 0.01, Fashion-MNIST 0.2 / 0.005), seeds 0..SEEDS-1,
# into results/paper (committed records), then the comparison with the paper's statistics.
# The plan of each row (best gamma / c, strongest baseline) is read from the paper's published
# table (reporting/paper/rows.py); only experiments without a record run. LIST=1: list only.
ROWS = $(RL) reproduce rows --rates $(or $(ETA),0.2) --seeds $(or $(SEEDS),3) \
	--launcher $(or $(LAUNCHER),parallel) --results $(or $(RESULTS),results/paper) $(if $(LIST),--list)
reproduce-table1-rows: $(STAMP)  ## Table 1 rows, MNIST + Fashion-MNIST at ETA=0.2 (or 0.4,0.1,0.3), seeds 0-2 (SEEDS=); LIST=1 lists
	$(ROWS) --settings table1 -- $(OVERRIDES)

reproduce-table2-rows: $(STAMP)  ## BL and PZ at Table 2's own gamma / c (ETA=0.2), seeds 0-2; LIST=1 lists
	$(ROWS) --settings table2 -- $(OVERRIDES)

reproduce-table2: reproduce-table1  ## Table 2 comes from the same sweep as Table 1

reproduce-table3: $(STAMP)  ## Table 3: cleaned CIFAR-100 test set x eta x CE/FL/BL/PZ x 3 seeds
	$(REPRODUCE) table3 -- $(OVERRIDES)

reproduce-table4: $(STAMP)  ## Table 4: CIFAR-10N aggregate/worst, CIFAR-100N x 7 losses x 5 seeds
	$(REPRODUCE) table4 -- $(OVERRIDES)

reproduce-table5: $(STAMP)  ## Table 5: AUM on CIFAR-100 (ResNet-32, 150 epochs) x eta x CE/BL/PZ x 3 seeds
	$(REPRODUCE) table5 -- $(OVERRIDES)

reproduce-noise: $(STAMP)  ## realistic noise: 7 losses x symmetric/asymmetric/pairflip/instance x eta x seeds, CL and AUM
	$(REPRODUCE) noise_kinds -- $(OVERRIDES)

reproduce-figures: $(STAMP)  ## the sweeps behind Figures 2-7, then all seven figures (SMOKE=1: digits, minutes)
	$(REPRODUCE) figures -- $(OVERRIDES)

paper-results: $(STAMP)  ## after records land in results/paper: redraw the README's Results, the manual's tables and Figure 9
	$(PY) scripts/refresh_paper_results.py

figures: $(STAMP)  ## Figures 1-7 from the records under RESULTS (default results/demo)
	$(RL) figures $(or $(RESULTS),results/demo)

fidelity-effects: $(STAMP)  ## digits: what each authors'-code behaviour does to CE and BL F1 (5 seeds)
	$(PY) scripts/fidelity_effects.py

find-issues-checks: $(STAMP)  ## studies/README.md: the automatic gamma against the grid, one pass's noise, the rule's decision (needs ROBUSTLOSS_DATA; hours)
	$(PY) studies/auto_parameter_check.py --datasets digits --seeds 0,1,2 --kinds symmetric,asymmetric,instance
	$(PY) studies/auto_parameter_check.py --datasets mnist,fashion_mnist --subset 5000 --seeds 0,1 \
		--kinds symmetric,asymmetric,instance --grid 0.2,0.4,0.6 --out results/auto_check_subsets
	$(PY) studies/pass_noise_check.py --dataset mnist --subset 5000 --kind asymmetric --rate 0.1 --seed 0 \
		--grid 0.2,0.4 --train-seeds 0,1,2,3 --out results/auto_check_subsets
	$(PY) studies/auto_rule_decision.py

find-issues-benchmark: $(STAMP)  ## the declared benchmark of find-issues' defaults (studies/find_issues_benchmark.md; needs ROBUSTLOSS_DATA; a day on two CPU threads, resumable)
	$(PY) studies/find_issues_benchmark.py --out $(or $(OUT),results/find_issues_benchmark)

test-studies: $(STAMP)  ## the studies' own tests (studies/tests; not part of make test)
	$(PY) -m pytest -q -n auto --dist loadfile studies/tests

bench: $(STAMP)  ## speed: baseline vs our loop vs precision levers, dynamics cost, peak memory (JSON too)
	$(RL) bench

.PHONY: docs docs-serve
docs: $(STAMP)  ## the manual (MkDocs, docs/ + mkdocs.yml) into site/, strict: a broken link or API reference fails
	$(PY) -m mkdocs build --strict --site-dir site

docs-serve: $(STAMP)  ## the manual at http://127.0.0.1:8000, rebuilt on every change
	$(PY) -m mkdocs serve

clean-demo:  ## delete the demo's records
	rm -rf results/demo

# GPU machine only (README "On a GPU"); nothing in CI depends on these.
gpu-check: $(STAMP)  ## CUDA paths, bench and one MNIST experiment pair on a GPU (OUT=dir, ~5-8 min)
	$(PY) scripts/gpu_check.py --out $(or $(OUT),results/gpu_check)

gpu-fidelity: $(STAMP)  ## Table 1 cells at eta=0.2, MNIST + Fashion-MNIST, until BUDGET_MIN runs out (OUT=dir)
	$(PY) scripts/gpu_fidelity.py --out $(or $(OUT),results/gpu_fidelity) --budget-min $(or $(BUDGET_MIN),10)
