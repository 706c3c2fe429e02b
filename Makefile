# RoamGuard: `make run` (the demo on embedded defaults) and `make test` (every test).
# Everything a target needs beyond the Rust toolchain and Python 3 is installed here.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
OUT := out
# Infrastructure tools: the SAM CLI (+ cfn-lint) and checkov, each in a venv of its own.
INFRA_VENV := .venv-infra
CHECKOV_VENV := .venv-checkov
SAM := SAM_CLI_TELEMETRY=0 $(CURDIR)/$(INFRA_VENV)/bin/sam
STACK ?= roamguard

# Training data from several worlds (`roamguard generate --world N`: each world draws its own
# population behaviour and legitimate look-alikes of fraud), so the model learns what fraud is
# rather than what one world's normal traffic is. World 0 is the demo's world.
# Twelve worlds of 800 subscribers transferred better than six of 1,500 (same rows; world 12:
# legitimate subscribers BLOCKed 1.84 % -> 0.99 %). 6, 11 and 12 are kept out (below).
TRAIN_WORLDS ?= 0 1 2 3 4 5 7 8 9 10 13 14
TRAIN_SUBSCRIBERS ?= 800
TRAIN_DAYS ?= 7
# train.py's validation set (early metrics, parity rows): another world.
VALID_WORLD ?= 6
VALID_SUBSCRIBERS ?= 2000
# The model's thresholds are calibrated on a held-out world (parameters never trained on), and
# the report adds a second unseen world and new subscribers of the calibration world.
HOLDOUT_WORLD ?= 11
REPORT_WORLD ?= 12
HOLDOUT_SUBSCRIBERS ?= 3000
HOLDOUT_DAYS ?= 3

.PHONY: run test lint lint-infra unit-test aws-test chaos fuzz python-test train train-data train-worlds calibrate-model bench bench-aws bench-serve package deploy seed-profiles clean help chromium screenshots

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: ## build the CLI and run the end-to-end demo
	$(CARGO) run --release --quiet -p roamguard-cli --bin roamguard -- demo --out $(OUT)/demo

test: lint lint-infra unit-test python-test ## all tests: fmt, clippy, IaC checks, Rust tests (AWS adapters and the deployed template against moto included), Python tests

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features --quiet -- -D warnings

# score-stream enables roamguard/aws, so the workspace build includes the moto-backed AWS
# adapter tests: they need moto_server from the venv. The property tests run on a fixed seed so
# a CI run is reproducible; `make test PROPTEST_RNG_SEED=random` explores new cases.
# The CLI is tested with its `aws` feature too (load-profiles and labels --table against moto).
PROPTEST_RNG_SEED ?= 20261127
TEST_FEATURES := --features roamguard-cli/aws
unit-test: $(VENV)/.installed
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH PROPTEST_RNG_SEED=$(PROPTEST_RNG_SEED) $(CARGO) test --workspace $(TEST_FEATURES)

# Just the AWS adapters (real SDK clients against moto_server, one moto per test on a free
# 127.0.0.1 port); `unit-test` runs them too. Same feature set as unit-test: reuses its build.
aws-test: $(VENV)/.installed
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(CARGO) test --workspace $(TEST_FEATURES) --test aws_adapters --test aws_tables

# Offline checks of infra/template.yaml: the SAM CLI's linter on the SAM template, cfn-lint on
# the template after the SAM transform (it sees inside the generated event source mapping, API
# and roles), and checkov on both. Any finding fails; skipped checkov checks carry their reason
# in the template.
lint-infra: $(INFRA_VENV)/.installed $(CHECKOV_VENV)/.installed ## offline IaC checks: sam validate --lint, cfn-lint after the SAM transform, checkov
	$(INFRA_VENV)/bin/python infra/stack.py transform --out $(OUT)/infra/template.json
	cd infra && $(SAM) validate --lint --template template.yaml --region us-east-1
	$(INFRA_VENV)/bin/cfn-lint $(OUT)/infra/template.json
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		-f infra/template.yaml -f $(OUT)/infra/template.json

$(INFRA_VENV)/.installed: infra/requirements-sam.txt
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: infra/requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-checkov.txt
	touch $@

# Lambda artifacts: `sam build` runs `cargo lambda build --release --arm64 --bin <function>` for
# each function (BuildMethod rust-cargolambda), and the SageMaker model artifact is packed from
# models/model.json. cargo-lambda and its cross linker zig come as prebuilt wheels from PyPI into
# .venv-infra (seconds, instead of 15-30 min for `cargo install cargo-lambda`); cargo-lambda adds
# the aarch64 Rust target through rustup on first use.
package: $(INFRA_VENV)/.installed $(VENV)/.installed ## build the Lambda zips (cargo-lambda, arm64) and the SageMaker model artifact
	@$(INFRA_VENV)/bin/python -c 'import ziglang' 2>/dev/null && test -x $(INFRA_VENV)/bin/cargo-lambda || { \
		echo "installing cargo-lambda and ziglang into $(INFRA_VENV)" >&2; \
		$(INFRA_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-package.txt; }
	@echo "building both functions for arm64 in release mode: a cold build takes 10-15 minutes on 2 cores" >&2
	$(INFRA_VENV)/bin/python infra/stack.py openapi
	PATH=$(CURDIR)/$(INFRA_VENV)/bin:$$PATH $(SAM) build --beta-features \
		--template-file infra/template.yaml --build-dir $(CURDIR)/.aws-sam/build
	$(VPY) infra/stack.py model-artifact --out $(OUT)/package/model.tar.gz
	@echo "built: .aws-sam/build (functions), $(OUT)/package/model.tar.gz (SageMaker model); next: make deploy"

# Asks for the stack name, region and parameters the first time and saves them in samconfig.toml.
deploy: package ## deploy to your AWS account: sam deploy --guided (needs AWS credentials)
	$(SAM) deploy --guided --template-file .aws-sam/build/template.yaml --capabilities CAPABILITY_IAM

# `make seed-profiles PROFILES=out/demo/profiles.jsonl [STACK=roamguard]`
seed-profiles: $(INFRA_VENV)/.installed ## load PROFILES (JSON Lines) into the deployed stack's profile table
	@test -n "$(PROFILES)" || { echo "usage: make seed-profiles PROFILES=profiles.jsonl [STACK=$(STACK)]" >&2; exit 2; }
	table=$$($(INFRA_VENV)/bin/python infra/stack.py output --stack $(STACK) --key ProfilesTableName) && \
	$(CARGO) run --release --quiet -p roamguard-cli --features aws -- load-profiles --table "$$table" --file $(PROFILES)

# The fault run at full size (`make test` runs it with 2,000 events): 100,000 generated events
# (1 % broken) through score-stream handler invocations against moto behind a fault-injecting
# proxy, redelivered as Lambda does, then every record accounted for (the table it prints).
CHAOS_EVENTS ?= 100000
CHAOS_BATCH ?= 500
chaos: $(VENV)/.installed ## fault run: 100,000 events, injected AWS faults and redeliveries, accounting table -> BENCHMARKS.md
	$(CARGO) build --release --quiet -p xtask
	mkdir -p $(OUT)/bench
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH CHAOS_EVENTS=$(CHAOS_EVENTS) CHAOS_BATCH=$(CHAOS_BATCH) CHAOS_REPORT=$(CURDIR)/$(OUT)/bench/chaos.md \
		$(CARGO) test -p score-stream --test chaos -- --nocapture
	target/release/xtask splice chaos $(OUT)/bench/chaos.md --out BENCHMARKS.md

# The Python virtualenv for training, rebuilt when the pinned requirements change.
$(VENV)/.installed: training/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r training/requirements.txt
	touch $@

# Debian's chromium and its WebDriver, for the console's browser tests (tests/test_console.py).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { $(SUDO) apt-get install -y chromium chromium-driver || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium chromium-driver; }; }

python-test: $(VENV)/.installed chromium
	# Builds the binaries exactly as `cargo test --workspace` does (same features, dev-dependencies
	# included), so after unit-test this compiles nothing.
	$(CARGO) test --quiet --workspace $(TEST_FEATURES) --no-run
	ROAMGUARD=target/debug/roamguard $(VPY) -m unittest discover -s training -p 'test_*.py' -v
	ROAMGUARD=target/debug/roamguard $(VPY) -m unittest discover -s tests -p 'test_*.py' -v

# `make train` trains on generated worlds and writes models/. `make train DATA=dir MODEL_OUT=dir`
# retrains on an operator's own history instead (dir/profiles.jsonl, events.jsonl, labels.jsonl):
# training/train_on_data.py splits it in time (SPLIT, RFC 3339; default: the last 24 hours, from
# the hour after the last event's time the day before, validate, calibrate and are reported on)
# and by subscriber (two folds: the thresholds are cross-fitted, each fold at MARGIN (default
# 0.7) of the targets, with history and from a cold start, so the model written can learn from
# the last day too; that day is also replayed from a cold start, empty live states, and trained on)
# and writes a complete model directory into MODEL_OUT.
# It boosts on top of BASE_MODEL (default models/, the generated worlds' model; none: from scratch).
# TRAIN_ARGS go to train.py (e.g. TRAIN_ARGS="--num-round 20").
DATA ?=
MODEL_OUT ?=
SPLIT ?=
MARGIN ?=
BASE_MODEL ?=
TRAIN_ARGS ?=
train: $(if $(DATA),train-data,train-worlds) ## train on generated worlds (models/), or DATA=dir MODEL_OUT=dir on your own history

train-data: $(VENV)/.installed ## retrain on DATA (profiles, events, labels) into MODEL_OUT, validating on the last 24 hours
	@test -n "$(DATA)" -a -n "$(MODEL_OUT)" || { echo "usage: make train DATA=dir MODEL_OUT=dir [SPLIT=time] [MARGIN=0.7] [BASE_MODEL=models|none] [TRAIN_ARGS=...]" >&2; exit 2; }
	$(CARGO) build --release --quiet -p roamguard-cli
	$(VPY) training/train_on_data.py --cli target/release/roamguard --data $(DATA) --model-out $(MODEL_OUT) \
	  --work $(OUT)/train-data $(if $(SPLIT),--split-at $(SPLIT)) $(if $(MARGIN),--margin $(MARGIN)) \
	  $(if $(BASE_MODEL),--base-model $(BASE_MODEL)) -- $(TRAIN_ARGS)

train-worlds: $(VENV)/.installed ## generate worlds, export features with the Rust code, train, calibrate on a held-out world, write models/
	$(CARGO) build --release --quiet -p roamguard-cli
	rm -rf $(OUT)/train $(OUT)/validation && mkdir -p $(OUT)/train $(OUT)/validation
	for w in $(TRAIN_WORLDS); do \
	  target/release/roamguard generate --world $$w --subscribers $(TRAIN_SUBSCRIBERS) --days $(TRAIN_DAYS) --seed 1 --out $(OUT)/train-world-$$w; \
	  target/release/roamguard export-features --data $(OUT)/train-world-$$w --out $(OUT)/train/world-$$w.csv; \
	done
	target/release/roamguard generate --world $(VALID_WORLD) --subscribers $(VALID_SUBSCRIBERS) --days $(TRAIN_DAYS) --seed 2 --out $(OUT)/validation-data
	target/release/roamguard export-features --data $(OUT)/validation-data --out $(OUT)/validation/features.csv
	$(VPY) training/train.py --train $(OUT)/train --validation $(OUT)/validation --model-dir models
	$(MAKE) --no-print-directory calibrate-model

calibrate-model: $(VENV)/.installed ## calibrate models/ on the held-out world, report per world (part of make train)
	$(CARGO) build --release --quiet -p roamguard-cli
	# Thresholds and the BLOCK escalation: calibrated on the held-out world, through the pipeline.
	target/release/roamguard generate --world $(HOLDOUT_WORLD) --subscribers $(HOLDOUT_SUBSCRIBERS) --days $(HOLDOUT_DAYS) --seed 3 --out $(OUT)/holdout-calibration
	target/release/roamguard calibrate --model-dir models --profiles $(OUT)/holdout-calibration/profiles.jsonl \
	  --events $(OUT)/holdout-calibration/events.jsonl --labels $(OUT)/holdout-calibration/labels.jsonl --out $(OUT)/thresholds.json
	$(VPY) training/set_thresholds.py --model-dir models --thresholds $(OUT)/thresholds.json --calibrated-on "world $(HOLDOUT_WORLD), seed 3, $(HOLDOUT_SUBSCRIBERS) subscribers, $(HOLDOUT_DAYS) days"
	# models/report.md: what customers would feel, per world, with the committed thresholds.
	sed -i -e '/^## Operating points per world/,$$d' models/report.md && sed -i -e '$${/^$$/d}' models/report.md
	printf '\n## Operating points per world\n\nCommitted thresholds, `roamguard evaluate --markdown` on each world (the world parameters drawn are on the first line).\n' >> models/report.md
	$(call world_report,$(HOLDOUT_WORLD),4,the calibration world with new subscribers)
	$(call world_report,$(REPORT_WORLD),5,never seen in training or calibration)
	$(call world_report,0,6,the demo world)

# $(call world_report,WORLD,SEED,WHAT): generate a world and append its operating point to models/report.md.
define world_report
	target/release/roamguard generate --world $(1) --subscribers $(HOLDOUT_SUBSCRIBERS) --days $(HOLDOUT_DAYS) --seed $(2) --out $(OUT)/report-world-$(1) 2> $(OUT)/report-world-$(1).params
	{ printf '\n### World $(1), seed $(2): $(3)\n\n`%s`\n\n' "$$(head -1 $(OUT)/report-world-$(1).params)"; \
	  target/release/roamguard evaluate --model-dir models --markdown --profiles $(OUT)/report-world-$(1)/profiles.jsonl \
	    --events $(OUT)/report-world-$(1)/events.jsonl --labels $(OUT)/report-world-$(1)/labels.jsonl; } >> models/report.md
endef

bench: $(VENV)/.installed ## criterion micro-benchmarks + pipeline measurements (and the Python baseline) -> BENCHMARKS.md
	$(CARGO) bench -p roamguard --bench core
	$(CARGO) build --release --quiet -p roamguard-cli -p xtask
	target/release/xtask bench --out BENCHMARKS.md

# cargo-fuzz (libFuzzer + AddressSanitizer) on every input the services take from outside:
# fuzz/fuzz_targets/*.rs, seeds in fuzz/seeds/, new corpus entries and crashes under out/fuzz/.
# cargo-fuzz needs a nightly rustc flag; RUSTC_BOOTSTRAP=1 lets the stable toolchain take it.
# `make test` covers the same properties with proptest (tests/input_robustness.rs in each crate).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := event_decoder kinesis_records kinesis_payload kafka_payload api_request apigw_event
FUZZ_ENV := RUSTC_BOOTSTRAP=1
FUZZ_DIR := --fuzz-dir fuzz --target-dir target/fuzz
fuzz: ## cargo-fuzz every input target for FUZZ_SECONDS each (bounded; fails on any crash)
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --version 0.13.2 --locked
	$(FUZZ_ENV) $(CARGO) fuzz build $(FUZZ_DIR)
	for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; mkdir -p $(OUT)/fuzz/corpus/$$t $(OUT)/fuzz/artifacts/$$t; \
	  $(FUZZ_ENV) $(CARGO) fuzz run $(FUZZ_DIR) $$t $(OUT)/fuzz/corpus/$$t fuzz/seeds/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(OUT)/fuzz/artifacts/$$t/ -print_final_stats=1 \
	    2>&1 | grep -E '^(stat::|Done|INFO: seed corpus|==[0-9]+==|SUMMARY|thread .* panicked)|Test unit written' \
	    || { echo "fuzz target $$t failed: see above; reproduce with: $(FUZZ_ENV) cargo fuzz run $(FUZZ_DIR) $$t <artifact>"; exit 1; }; \
	done

# Screenshots of the console's views for docs/ (the browser test takes them on generated data).
screenshots: $(VENV)/.installed chromium ## the console's screenshots -> docs/console/
	$(CARGO) build --quiet -p roamguard-cli
	CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console ROAMGUARD=target/debug/roamguard $(VPY) -m unittest tests.test_console

# Load test of `roamguard serve` with wrk (Debian package) from a second process on loopback:
# distinct generated events to POST /v1/score, then GETs of their verdicts. Writes
# $(OUT)/bench/serve.md and its section of BENCHMARKS.md; fails on any non-2xx answer or socket error.
bench-serve: ## wrk load test of `roamguard serve` on 127.0.0.1 -> BENCHMARKS.md
	command -v wrk >/dev/null || { $$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y wrk \
	  || { $$([ "$$(id -u)" = 0 ] || echo sudo) apt-get update && $$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y wrk; }; }
	$(CARGO) build --release --quiet -p roamguard-cli
	$(CARGO) build --release --quiet -p xtask
	OUT=$(OUT)/bench tests/load/serve_wrk.sh
	target/release/xtask splice serve $(OUT)/bench/serve.md --out BENCHMARKS.md

# AWS-path figures with moto behind a counting, latency-injecting proxy: calls by operation,
# calls per event, bytes, dependent round trips and handler time per batch size; cold start and
# peak RSS of the release score-stream binary. Writes its section of BENCHMARKS.md (`make bench`
# keeps it). The first run builds the AWS SDK in release mode (~6-8 min on 2 cores).
bench-aws: $(VENV)/.installed ## AWS-path figures against moto (calls, round trips, cold start) -> BENCHMARKS.md
	$(CARGO) build --release --quiet -p score-stream -p xtask --features xtask/aws
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH target/release/xtask bench-aws --out BENCHMARKS.md --score-stream target/release/score-stream

clean:
	rm -rf $(OUT) target infra/build .aws-sam
