# RoamGuard: `make run` (the demo on embedded defaults) and `make test` (every test).
# Everything a target needs beyond the Rust toolchain and Python 3 is installed here.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
OUT := out

# Training data: a training set and a held-out set from a different seed (other subscribers).
TRAIN_SUBSCRIBERS ?= 8000
TRAIN_DAYS ?= 7
VALID_SUBSCRIBERS ?= 4000

.PHONY: run test lint unit-test aws-test python-test train bench clean help

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: ## build the CLI and run the end-to-end demo
	$(CARGO) run --release --quiet -p roamguard-cli --bin roamguard -- demo --out $(OUT)/demo

test: lint unit-test python-test ## all tests: fmt, clippy, Rust tests (AWS adapters against moto included), Python tests

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features --quiet -- -D warnings

# score-stream enables roamguard/aws, so the workspace build includes the moto-backed AWS
# adapter tests: they need moto_server from the venv.
unit-test: $(VENV)/.installed
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(CARGO) test --workspace

# Just the AWS adapters (real SDK clients against moto_server, one moto per test on a free
# 127.0.0.1 port); `unit-test` runs them too. Same feature set as unit-test: reuses its build.
aws-test: $(VENV)/.installed
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(CARGO) test --workspace --test aws_adapters

# The Python virtualenv for training, rebuilt when the pinned requirements change.
$(VENV)/.installed: training/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r training/requirements.txt
	touch $@

python-test: $(VENV)/.installed
	# Builds the binaries exactly as `cargo test --workspace` does (same features, dev-dependencies
	# included), so after unit-test this compiles nothing.
	$(CARGO) test --quiet --workspace --no-run
	ROAMGUARD=target/debug/roamguard $(VPY) -m unittest discover -s training -p 'test_*.py' -v
	ROAMGUARD=target/debug/roamguard $(VPY) -m unittest discover -s tests -p 'test_*.py' -v

train: $(VENV)/.installed ## generate data, export features with the Rust code, train, write models/
	$(CARGO) build --release --quiet -p roamguard-cli
	target/release/roamguard generate --subscribers $(TRAIN_SUBSCRIBERS) --days $(TRAIN_DAYS) --seed 1 --out $(OUT)/train-data
	target/release/roamguard generate --subscribers $(VALID_SUBSCRIBERS) --days $(TRAIN_DAYS) --seed 2 --out $(OUT)/validation-data
	mkdir -p $(OUT)/train $(OUT)/validation
	target/release/roamguard export-features --data $(OUT)/train-data --out $(OUT)/train/features.csv
	target/release/roamguard export-features --data $(OUT)/validation-data --out $(OUT)/validation/features.csv
	$(VPY) training/train.py --train $(OUT)/train --validation $(OUT)/validation --model-dir models

bench: ## criterion micro-benchmarks + pipeline measurements -> BENCHMARKS.md
	$(CARGO) bench -p roamguard --bench core
	$(CARGO) build --release --quiet -p roamguard-cli
	target/release/roamguard-bench report --out BENCHMARKS.md

clean:
	rm -rf $(OUT) target
