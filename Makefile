# The two commands of the README:
#   make demo   the whole pipeline on the local AWS stack (moto): no account, no Docker
#   make test   installs what it needs, then lint, unit, handler and workflow tests, template checks
#
# Everything is installed by these rules: the project venv (.venv, Python 3.13 like the Lambda
# runtime when available), the tool venvs (.venv-tools) and node_modules (asl-validator).

include mk/lint.mk
include mk/bench.mk
include mk/browser.mk
include mk/samlocal.mk
include mk/fuzz.mk
include mk/chaos.mk

PYTHON   ?= $(if $(PYTHON313),$(PYTHON313),python3)
VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
CFN_LINT_DEPS := $(STAMP)

# make demo CAMPAIGN=<file> AUDIENCE=<file> TEMPLATES=<dir> OUT=<dir> PRIOR_EVENTS=<file> EVENTS=<file>
# PRIOR_EVENTS / EVENTS: SES records, one JSON object per line (event-publishing or notification
# format), published to the SES events topic before the run / after the send.
CAMPAIGN  ?= examples/recipe/campaign.json
TEMPLATES ?= templates
OUT       ?= build/demo
AUDIENCE  ?=
PRIOR_EVENTS ?=
EVENTS    ?=

.DEFAULT_GOAL := help
.PHONY: help venv demo local-up test lint unit handlers workflow local pytest bench-placeholder clean

help:
	@echo "make demo   run the recipe campaign end to end on the local AWS stack (writes $(OUT)/report.json)"
	@echo "make test   install everything and run every check CI runs"
	@echo "make bench  measure throughput, memory, calls, cost, pacing, cold start (build/bench/results.json)"
	@echo "make chaos  1,000 fault schedules on the local stack, every promise checked (build/chaos/results.json)"
	@echo "make fuzz   10,500 fuzzed inputs to every entry point (build/fuzz/results.json)"
	@echo "make local-up  the local stack as a long-lived endpoint for the campaign command (campaign --local ...)"
	@echo "make sam-local-invoke  every function in a real sam local invoke (Docker image built here; root; ~5-7 min)"

$(STAMP): requirements-dev.txt layers/campaign/requirements.txt pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) -r requirements-dev.txt
	$(PY) -m pip install $(PIP_QUIET) --no-deps --no-build-isolation -e .
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m campaign_local.demo --campaign $(CAMPAIGN) --templates $(TEMPLATES) --out $(OUT) \
		$(if $(AUDIENCE),--audience $(AUDIENCE)) $(if $(PRIOR_EVENTS),--prior-events $(PRIOR_EVENTS)) \
		$(if $(EVENTS),--events $(EVENTS))

# The local stack as an endpoint (moto's HTTP API with the real handlers) until Ctrl-C; the
# campaign command (--local), boto3 and the AWS CLI (--endpoint-url) talk to it.
# make local-up PORT=4566 SEND_RATE=2000
PORT      ?= 4566
SEND_RATE ?=
local-up: $(STAMP)
	$(PY) -m campaign_local.server --port $(PORT) $(if $(SEND_RATE),--max-send-rate $(SEND_RATE))

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The suite runs in parallel (pytest-xdist). Most workflow tests wait on the local stack's
# background threads, so two workers a core keep the cores busy (10 min against 12.5 with one a
# core, measured on 2 cores). A test file stays in one worker (--dist loadfile), so module-scoped
# fixtures such as the CLI's endpoint start once. make test PYTEST_WORKERS=0 runs one process.
PYTEST_WORKERS ?= 4
pytest: $(STAMP) $(BROWSER_STAMP)
	$(PY) -m pytest $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)

test: lint pytest lint-infra sam-build

clean: clean-infra
	rm -rf $(VENV) build
