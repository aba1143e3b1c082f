# mk/lint.mk -- infrastructure checks and the SAM build. Included by the top-level Makefile:
#
#     include mk/lint.mk
#
# Targets
#   lint-template   cfn-lint template.yaml              (cfn-lint from the main venv: $(CFN_LINT))
#   sam-validate    sam validate --lint                  (.venv-tools/sam, from requirements/sam.txt)
#   sam-build       sam build into build/sam (arm64)     (.venv-tools/sam + a Python 3.13 interpreter)
#   checkov         checkov on template.yaml, fails on any unskipped finding (.venv-tools/checkov)
#   asl-validate    asl-validator on statemachine/*.asl.json, once per ChildExecutionType (node_modules)
#   lint-infra      all of the above except sam-build
#   infra-tools     installs the tool venvs and node_modules only
#   clean-infra     removes build/sam, build/asl, .venv-tools and node_modules
#
# Tool environments are created once and re-created only when their requirements file changes
# (stamp files). aws-sam-cli and checkov pin conflicting dependencies (boto3, pydantic, click, ...),
# so each has its own venv under .venv-tools/. Everything here works offline apart from the first
# install (PyPI and the npm registry) and needs no AWS credentials.
#
# Knobs (set before `include mk/lint.mk` or on the command line):
#   CFN_LINT       path of cfn-lint (default .venv/bin/cfn-lint, pinned in requirements-dev.txt)
#   CFN_LINT_DEPS  prerequisite that creates $(CFN_LINT), e.g. the main venv's stamp file
#   PYTHON313      a Python 3.13 interpreter (default: found automatically, see below)

TEMPLATE       ?= template.yaml
TOOLS_DIR      ?= .venv-tools
SAM_BUILD_DIR  ?= build/sam
ASL_BUILD_DIR  ?= build/asl
ASL_FILES      ?= $(wildcard statemachine/*.asl.json)
CFN_LINT       ?= .venv/bin/cfn-lint
CFN_LINT_DEPS  ?=

SAM_VENV       := $(TOOLS_DIR)/sam
CHECKOV_VENV   := $(TOOLS_DIR)/checkov
SAM            := $(SAM_VENV)/bin/sam
CHECKOV        := $(CHECKOV_VENV)/bin/checkov
SAM_STAMP      := $(SAM_VENV)/.installed
CHECKOV_STAMP  := $(CHECKOV_VENV)/.installed
NODE_STAMP     := node_modules/.installed

# Python 3.13 (the Lambda runtime). Order: python3.13 on PATH if it really runs (an inactive pyenv
# shim does not), then pyenv's 3.13.x (newest first), then the usual system locations.
ifeq ($(origin PYTHON313),undefined)
PYTHON313 := $(shell for p in python3.13 $$(ls -d $$HOME/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | sort -V -r) /usr/local/bin/python3.13 /usr/bin/python3.13; do "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)' 2>/dev/null && break; done)
endif

# No telemetry, a region for the SAM translator (ARN partition), no Prisma Cloud API call from checkov.
TOOLS_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} BC_SKIP_MAPPING=TRUE

PIP_QUIET := --quiet --disable-pip-version-check --no-input

.PHONY: lint-template sam-validate sam-build checkov asl-validate lint-infra infra-tools clean-infra

lint-infra: lint-template sam-validate checkov asl-validate

infra-tools: $(SAM_STAMP) $(CHECKOV_STAMP) $(NODE_STAMP)

# ------------------------------------------------------------------------------------------ tool installs
define make-tool-venv
	@test -n "$(PYTHON313)" || { echo "error: no Python 3.13 interpreter found; set PYTHON313=/path/to/python3.13" >&2; exit 1; }
	rm -rf $(1)
	$(PYTHON313) -m venv $(1)
	$(1)/bin/python -m pip install $(PIP_QUIET) -r $(2)
	touch $(1)/.installed
endef

$(SAM_STAMP): requirements/sam.txt
	$(call make-tool-venv,$(SAM_VENV),requirements/sam.txt)

$(CHECKOV_STAMP): requirements/checkov.txt
	$(call make-tool-venv,$(CHECKOV_VENV),requirements/checkov.txt)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

# ------------------------------------------------------------------------------------------ checks
lint-template: $(CFN_LINT_DEPS)
	@test -x "$(CFN_LINT)" || { echo "error: $(CFN_LINT) not found (cfn-lint==1.58.0 belongs in requirements-dev.txt)" >&2; exit 1; }
	$(CFN_LINT) $(TEMPLATE)

sam-validate: $(SAM_STAMP)
	$(TOOLS_ENV) $(SAM) validate --lint --template-file $(TEMPLATE)

checkov: $(CHECKOV_STAMP)
	$(TOOLS_ENV) $(CHECKOV) -f $(TEMPLATE) --framework cloudformation --quiet --compact --skip-download

# sam build runs pip for the arm64 layer with the interpreter found as `python3.13` on PATH: put the
# directory of the interpreter the SAM venv was made from first, whatever PATH or pyenv says.
sam-build: $(SAM_STAMP)
	@pydir="$$($(SAM_VENV)/bin/python -c 'import os, sys; print(os.path.dirname(os.path.realpath(sys._base_executable)))')"; \
	test -x "$$pydir/python3.13" || { echo "error: $$pydir/python3.13 missing; recreate $(SAM_VENV) with PYTHON313 set" >&2; exit 1; }; \
	echo "sam build (python3.13 from $$pydir)"; \
	PATH="$$pydir:$$PATH" $(TOOLS_ENV) $(SAM) build --template-file $(TEMPLATE) --build-dir $(SAM_BUILD_DIR) --parallel

# asl-validator checks the definition as Step Functions receives it: the DefinitionSubstitutions
# placeholders (${PrepareFunctionArn}, ...) are replaced with example values first, once for each
# ChildExecutionType. A placeholder not listed here fails the check: add it to the template and here.
define ASL_SUBST_JS
const fs = require("fs");
const [src, dst, childType] = process.argv.slice(1);
const acct = "arn:aws:lambda:us-east-1:123456789012:function:";
const subs = {
  PrepareFunctionArn: acct + "campaign-prepare",
  SendBatchFunctionArn: acct + "campaign-send-batch",
  FinalizeFunctionArn: acct + "campaign-finalize",
  QuotaCheckFunctionArn: acct + "campaign-quota-check",
  BucketName: "campaign-engine-123456789012-us-east-1",
  ChildExecutionType: childType,
  RunsTableName: "campaign-engine-RunsTable-EXAMPLE",
};
const text = fs.readFileSync(src, "utf8").replace(/\$$\{(\w+)\}/g, (match, key) => {
  if (!(key in subs)) {
    console.error(src + ": unknown DefinitionSubstitutions placeholder " + match);
    process.exit(2);
  }
  return subs[key];
});
fs.writeFileSync(dst, text);
endef
export ASL_SUBST_JS

asl-validate: $(NODE_STAMP)
	@test -n "$(ASL_FILES)" || { echo "error: no statemachine/*.asl.json to validate" >&2; exit 1; }
	@mkdir -p $(ASL_BUILD_DIR)
	@set -e; for f in $(ASL_FILES); do for t in EXPRESS STANDARD; do \
	  out="$(ASL_BUILD_DIR)/$$(basename "$$f" .asl.json).$$t.asl.json"; \
	  node -e "$$ASL_SUBST_JS" "$$f" "$$out" "$$t"; \
	  echo "asl-validator $$f (ChildExecutionType=$$t)"; \
	  npx --no-install asl-validator --json-path "$$out"; \
	done; done

clean-infra:
	rm -rf $(SAM_BUILD_DIR) $(ASL_BUILD_DIR) $(TOOLS_DIR) node_modules
