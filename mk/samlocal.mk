# make sam-local-invoke: every function, built by sam build, run by `sam local invoke` in a locally built Lambda-like image against the local stack (docs/sam-local-invoke.md).
#
# Targets
#   sam-local-invoke   docker up -> image -> sam build (x86_64 here) -> invoke every function, check, table
#   sam-local-image    only the image (samlocal/build-image.sh); rebuilt only when its inputs change
#   sam-local-down     stops the dockerd that samlocal/docker-up.sh started (nothing else)
#
# Needs root (apt-get install docker.io debootstrap, dockerd, debootstrap) and the Debian mirror
# and PyPI; nothing is pulled from a container registry. Not part of `make test`: from scratch it
# takes several minutes (see docs/sam-local-invoke.md), warm a few minutes per run.
#
# Knobs
#   SAM_LOCAL_ARCH   x86_64 or arm64 (default: this host's; the image runs natively only)
#   SAM_LOCAL_ARGS   extra arguments of samlocal.invoke, e.g. --quick (one invocation per function)

SAM_LOCAL_DIR        ?= build/samlocal
SAM_LOCAL_ARCH       ?= $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)
SAM_LOCAL_ARGS       ?=
# The project venv (the local stack, PyYAML, campaign_engine): made by the top-level Makefile's
# $(STAMP) rule. Named literally because this file is included before $(STAMP) is defined.
SAM_LOCAL_VENV_STAMP ?= .venv/.installed
SAM_LOCAL_PY         ?= .venv/bin/python

.PHONY: sam-local-invoke sam-local-image sam-local-down

# One recipe, in order (docker, image, build, invoke), so that `make -j` cannot interleave them.
# The build goes to its own directory with Architecture=x86_64 (template parameter): build/sam
# stays the arm64 build that `make sam-build` checks and deploy uses. --cached: a warm run rebuilds
# only what changed. The sam/python3.13 PATH trick is mk/lint.mk's sam-build's.
sam-local-invoke: $(SAM_STAMP) $(SAM_LOCAL_VENV_STAMP)
	SAMLOCAL_DIR=$(SAM_LOCAL_DIR) samlocal/docker-up.sh
	SAMLOCAL_DIR=$(SAM_LOCAL_DIR) PYTHON=$(SAM_LOCAL_PY) samlocal/build-image.sh $(SAM_LOCAL_ARCH)
	@pydir="$$($(SAM_VENV)/bin/python -c 'import os, sys; print(os.path.dirname(os.path.realpath(sys._base_executable)))')"; \
	echo "sam build Architecture=$(SAM_LOCAL_ARCH) into $(SAM_LOCAL_DIR)/sam"; \
	PATH="$$pydir:$$PATH" $(TOOLS_ENV) $(SAM) build --template-file $(TEMPLATE) --build-dir $(SAM_LOCAL_DIR)/sam \
		--cached --cache-dir $(SAM_LOCAL_DIR)/sam-cache --parallel \
		--parameter-overrides Architecture=$(SAM_LOCAL_ARCH) >$(SAM_LOCAL_DIR)/sam-build.log 2>&1 \
		|| { tail -n 30 $(SAM_LOCAL_DIR)/sam-build.log; exit 1; }
	$(SAM_LOCAL_PY) -m samlocal.invoke --sam $(SAM) --template $(SAM_LOCAL_DIR)/sam/template.yaml \
		--architecture $(SAM_LOCAL_ARCH) --out $(SAM_LOCAL_DIR) $(SAM_LOCAL_ARGS)

sam-local-image: $(SAM_LOCAL_VENV_STAMP)
	SAMLOCAL_DIR=$(SAM_LOCAL_DIR) samlocal/docker-up.sh
	SAMLOCAL_DIR=$(SAM_LOCAL_DIR) PYTHON=$(SAM_LOCAL_PY) samlocal/build-image.sh $(SAM_LOCAL_ARCH)

sam-local-down:
	SAMLOCAL_DIR=$(SAM_LOCAL_DIR) samlocal/docker-down.sh
