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

# Training data: a training set and a held-out set from a different seed (other subscribers).
TRAIN_SUBSCRIBERS ?= 8000
TRAIN_DAYS ?= 7
VALID_SUBSCRIBERS ?= 4000

.PHONY: run test lint lint-infra unit-test aws-test python-test train bench package deploy seed-profiles clean help

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: ## build the CLI and run the end-to-end demo
	$(CARGO) run --release --quiet -p roamguard-cli --bin roamguard -- demo --out $(OUT)/demo

test: lint lint-infra unit-test python-test ## all tests: fmt, clippy, IaC checks, Rust tests (AWS adapters and the deployed template against moto included), Python tests

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
# models/model.json. cargo-lambda cross-links with zig (the ziglang wheel in .venv-infra).
package: $(INFRA_VENV)/.installed $(VENV)/.installed ## build the Lambda zips (cargo-lambda, arm64) and the SageMaker model artifact
	@command -v cargo-lambda >/dev/null 2>&1 || { \
		echo "warning: cargo-lambda is not installed; installing it now takes 15-30 minutes on 2 cores" >&2; \
		$(CARGO) install cargo-lambda --locked; }
	@$(INFRA_VENV)/bin/python -c 'import ziglang' 2>/dev/null || { \
		echo "installing ziglang (the linker cargo-lambda uses for arm64)" >&2; \
		$(INFRA_VENV)/bin/pip install --quiet --disable-pip-version-check ziglang; }
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
	rm -rf $(OUT) target infra/build .aws-sam
