# mk/chaos.mk -- `make chaos`: fault schedules against the real state machine and handlers on the
# local stack (campaign_local.chaos, campaign_local.faults). Included by the top-level Makefile.
#
# Targets
#   chaos         CHAOS_SCHEDULES distinct schedules (default 1000) in CHAOS_WORKERS processes;
#                 writes build/chaos/results.json (`schedules`, `violations`, counts per check,
#                 kind and function, the call sites, timings) and prints a summary
#   chaos-sample  the seeded ~50-schedule sample that `make test` runs (tests/chaos, marker chaos)
#
# Knobs
#   CHAOS_SCHEDULES  how many schedules (default 1000)
#   CHAOS_SEED       which ones and in what order (default 1); the same seed picks the same ones
#   CHAOS_WORKERS    worker processes (default 2)
#   CHAOS_STRICT     1: exit 1 when any schedule broke a promise (default: report only)

CHAOS_SCHEDULES ?= 1000
CHAOS_SEED      ?= 1
CHAOS_WORKERS   ?= 2
CHAOS_STRICT    ?=
CHAOS_OUT       ?= build/chaos/results.json

.PHONY: chaos chaos-sample

# `venv` rather than $(STAMP): this file is included before the Makefile defines STAMP.
chaos: venv
	$(PY) -m campaign_local.chaos --schedules $(CHAOS_SCHEDULES) --seed $(CHAOS_SEED) \
		--workers $(CHAOS_WORKERS) --out $(CHAOS_OUT) $(if $(filter 1,$(CHAOS_STRICT)),--strict)

chaos-sample: venv
	$(PY) -m pytest -q -n 2 -m chaos tests/chaos
