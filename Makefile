# The README's two commands are `make run` and `make test`; both set themselves up.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAGE ?= dev
export AWS_DEFAULT_REGION ?= us-east-1
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers

.PHONY: run test lint browser checkov iam-audit unit integration e2e package-test package deploy bench soak clean

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-analytics.txt requirements-facts.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# checkov has many dependencies: its own venv, from its own pins, so it cannot move the app's.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

run: venv
	$(PY) -m infra.local_stack

test: venv lint browser checkov
	$(PY) -m pytest -n auto --dist loadfile  # a file stays on one worker: its fixtures are shared

# The dashboard's test runs in a real browser: Debian's chromium and chromedriver, installed if missing.
browser:
	./infra/ensure_chromium.sh

lint: venv
	$(PY) -m ruff check .

# The packaged template alone (`make package` also builds the analytics packages, minutes of work).
build/sam.yaml: $(VENV)/.installed template.yaml app.py .chalice/config.json
	$(VENV)/bin/chalice package --stage $(STAGE) --merge-template template.yaml build

# checkov on build/sam.yaml: any failed check fails. A check that does not fit is skipped in
# template.yaml (Metadata: checkov: skip) with its reason; no platform, no downloads.
checkov: build/sam.yaml $(CHECKOV_VENV)/.installed
	BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE $(CHECKOV_VENV)/bin/checkov --file build/sam.yaml \
	  --framework cloudformation --skip-download --compact --quiet

# Every integration test's AWS calls against its function's role (tests/support/aws_permissions.py);
# `make test` runs a few of them (tests/integration/test_least_privilege.py).
iam-audit: venv
	rm -f build/aws-calls.jsonl*; mkdir -p build
	OMS_AWS_CALLS=build/aws-calls.jsonl $(PY) -m pytest -p tests.support.aws_permissions tests/integration \
	  -n auto --dist loadfile -q
	OMS_MAIL_FROM=orders@shop.example $(PY) -m tests.support.aws_permissions build/aws-calls.jsonl*

package: venv
	rm -rf build
	$(VENV)/bin/chalice package --stage $(STAGE) --merge-template template.yaml build
	$(PY) -m infra.analytics_packages build  # build/analytics.zip, build/facts.zip: Chalice's + heavy wheels
	$(PY) -m infra.verify_package build

# Needs AWS credentials, the AWS CLI and an S3 bucket for the artefacts (DEPLOY_BUCKET).
# `cloudformation package` uploads every local CodeUri of build/sam.yaml (the three zips); the
# template itself is over the 51,200 bytes CloudFormation takes inline, so it goes through S3 too.
# ALARM_EMAIL=<address> subscribes it to every alarm (docs/operations.md).
deploy: package
	@test -n "$(DEPLOY_BUCKET)" || { echo "set DEPLOY_BUCKET=<s3 bucket for the Lambda artefacts>"; exit 1; }
	aws cloudformation package --template-file build/sam.yaml --s3-bucket $(DEPLOY_BUCKET) \
	  --output-template-file build/packaged.yaml
	aws cloudformation deploy --template-file build/packaged.yaml --stack-name oms-$(STAGE) \
	  --s3-bucket $(DEPLOY_BUCKET) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
	  --parameter-overrides Stage=$(STAGE) $(if $(ALARM_EMAIL),AlarmEmail=$(ALARM_EMAIL))

bench: venv
	$(PY) tests/perf/bench.py

# 1,000 orders under 10 % DynamoDB, EventBridge and SQS faults, then the books checked (about an
# hour here; not part of `make test`). OMS_SOAK_ORDERS=100 for a shorter run.
soak: venv
	$(PY) tests/perf/soak.py

clean:
	rm -rf build .pytest_cache .ruff_cache
