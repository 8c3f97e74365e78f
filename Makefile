# One-command entry points. Each target sets up what it needs, idempotently:
# the venv is rebuilt only when the pinned requirements change (stamp files).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
PEER := .peer-venv
XMC := .xmc-venv
LML := .lml-venv
VPY := $(VENV)/bin/python
export MLFLOW_DISABLE_TELEMETRY := true
export PYTHONPATH := $(CURDIR)
# Numba's on-disk cache of compiled kernels, kept inside the project.
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba-cache
PYTEST_ARGS ?=

.PHONY: bench-report venv peer xmc-venv lml-venv test demo demo-lib ui screenshots figures bench bench-scale lint clean help slurm-up slurm-down

help:
	@echo "make demo   - set up .venv, run a small product_search sweep on synthetic data (MLflow)"
	@echo "make ui     - MLflow UI on http://127.0.0.1:5000 over logs/, printing each comparison's link"
	@echo "make figures - the papers' figures, tables and claims table (claims.md) from the logged runs"
	@echo "make reproduce - both papers at seeds 0,1,2 on every dataset under DATA_DIR, then the claims table"
	@echo "make test   - set up .venv and .peer-venv, run the whole test suite"
	@echo "make peer   - build .peer-venv with libpecos 1.2.8 (the reference peer)"
	@echo "make bench  - side by side against PECOS and LibMultiLabel (bibtex + synthetic + dense)"
	@echo "make bench-scale - ours vs PECOS, Omikuji, napkinXC, LibMultiLabel at 20k..1M labels (hours)"
	@echo "make xmc-venv - build .xmc-venv with Omikuji and napkinXC (their own venv)"
	@echo "make lml-venv - build .lml-venv with LibMultiLabel (its own venv, linear API only)"
	@echo "make lint   - ruff"
	@echo "make slurm-up / slurm-down - a single-node SLURM cluster on localhost (.slurm/)"

venv: $(VENV)/.stamp
$(VENV)/.stamp: requirements.txt constraints.txt pyproject.toml
	@test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(VPY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

peer: $(PEER)/.stamp
$(PEER)/.stamp: requirements-peer.txt
	@test -x $(PEER)/bin/python || $(PY) -m venv $(PEER)
	$(PEER)/bin/pip install -q --disable-pip-version-check -r requirements-peer.txt
	$(PEER)/bin/pip install -q --disable-pip-version-check --no-deps libpecos==1.2.8
	$(PEER)/bin/python -c "import pecos.xmc.xlinear.model"
	@touch $@

xmc-venv: $(XMC)/.stamp
$(XMC)/.stamp: requirements-xmc.txt
	@test -x $(XMC)/bin/python || $(PY) -m venv $(XMC)
	$(XMC)/bin/pip install -q --disable-pip-version-check -r requirements-xmc.txt
	$(XMC)/bin/python -c "import omikuji, napkinxc.models"
	@touch $@

# LibMultiLabel's linear API only: torch is in its "nn" extra, never installed here.
lml-venv: $(LML)/.stamp
$(LML)/.stamp: requirements-lml.txt
	@test -x $(LML)/bin/python || $(PY) -m venv $(LML)
	$(LML)/bin/pip install -q --disable-pip-version-check -r requirements-lml.txt
	$(LML)/bin/python -c "import libmultilabel.linear"
	@touch $@

test: venv peer
	$(VPY) -m pytest -q $(PYTEST_ARGS)

demo: venv
	$(VPY) -m experiments.run -m experiment=demo
	$(VPY) -m analysis.figures --experiment demo
	@echo "runs: logs/mlflow.db, job outputs under logs/multiruns/; browse with 'make ui':"
	@$(VPY) -m experiments.tools.ui --log-dir logs --print-only

figures: venv
	$(VPY) -m analysis.figures

# Both papers in one command: every preset the claims table needs, on every dataset present
# under DATA_DIR (absent ones skipped, saying how to run them), seeds 0,1,2, resumable (a
# rerun completes only what is missing), then the claims table. REPRODUCE_ARGS: --quick,
# --seeds 0,1,2, --bundle docs/results/NAME, --dry-run, -o KEY=VALUE ... (one paper:
# python -m experiments.reproduce paper1 --data-dir DIR).
DATA_DIR ?= ../shared/data
REPRODUCE_ARGS ?=
.PHONY: reproduce
reproduce: venv peer
	$(VPY) -m experiments.reproduce all --data-dir $(DATA_DIR) $(REPRODUCE_ARGS)

demo-lib: venv
	$(VPY) -m experiments.tools.demo

ui: venv
	$(VPY) -m experiments.tools.ui --log-dir logs --host 127.0.0.1 --port 5000

# The README's MLflow screenshots, in a real headless Chromium (Debian packages chromium and
# nodejs), from the demo sweep's runs (make demo first).
screenshots: venv
	$(VPY) docs/screenshots.py --log-dir logs --experiment demo --out docs

# BENCH_LML_SIDES: LibMultiLabel's methods beside xmr and PECOS in vs_pecos; train_1vsrest
# is left to ovr_vs_lml, which fits it on the same matrices with the same settings (one
# costly fit series instead of two); BENCH_LML_SIDES="tree 1vsrest" runs both there too.
BENCH_LML_SIDES ?= tree
bench: venv peer lml-venv
	mkdir -p bench-results
	$(VPY) -m benchmarks.vs_pecos --dataset bibtex --lml-sides $(BENCH_LML_SIDES) --out bench-results/vs_pecos_bibtex.json
	$(VPY) -m benchmarks.vs_pecos --dataset synthetic --lml-sides $(BENCH_LML_SIDES) --out bench-results/vs_pecos_synthetic.json
	$(VPY) -m benchmarks.vs_pecos --dataset dense --lml-sides $(BENCH_LML_SIDES) --out bench-results/vs_pecos_dense.json
	$(VPY) -m benchmarks.ovr_vs_lml --dataset bibtex --out bench-results/ovr_vs_lml_bibtex.json
	$(VPY) -m benchmarks.ovr_vs_lml --dataset synthetic --out bench-results/ovr_vs_lml_synthetic.json
	$(VPY) -m benchmarks.ovr_vs_lml --dataset dense --out bench-results/ovr_vs_lml_dense.json

# The results pages' benchmark tables and the scale figure, regenerated from docs/bench/*.json
bench-report: venv
	$(VPY) -m benchmarks.report
	$(VPY) -m benchmarks.report figure docs/bench/scale.json --out docs/figures/scale.png

# SCALE_ARGS: e.g. "--side-timeout 3600" (a side past it is recorded as did-not-finish);
# --resume continues an interrupted run (every side is saved to the JSON as it ends)
SCALE_ARGS ?= --resume
bench-scale: venv peer xmc-venv lml-venv
	mkdir -p bench-results
	$(VPY) -m benchmarks.scale --out bench-results/scale.json --figure bench-results/scale.png $(SCALE_ARGS)

# A single-node SLURM cluster on this machine (Debian: apt-get install -y slurm-wlm munge;
# root), in .slurm/: then SLURM_CONF=$(CURDIR)/.slurm/slurm.conf for sinfo/sbatch/sweeps.
slurm-up: venv
	$(VPY) -m experiments.tools.slurm_local up --dir .slurm

slurm-down: venv
	$(VPY) -m experiments.tools.slurm_local down --dir .slurm

lint: venv
	$(VENV)/bin/ruff check .

clean:
	rm -rf .numba-cache .pytest_cache bench-results
