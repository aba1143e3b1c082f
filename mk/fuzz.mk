# mk/fuzz.mk -- `make fuzz`: hypothesis fuzzing of every entry point that reads outside input
# (tests/fuzz: harness, strategies, targets; runner tests/fuzz/run.py). Included by the top-level
# Makefile.
#
# Targets
#   fuzz          FUZZ_BUDGET inputs (default 10500) shared by weight over the targets: audience
#                 files, campaign definitions, segment rules, SES records (both formats), SQS
#                 batches with one poison record (Suppression and Engagement handlers), function
#                 URL requests to the unsubscribe handler, StartCampaign S3/scheduler/resume events.
#                 Writes build/fuzz/results.json: `inputs` (counted as run), `crashes` (target,
#                 input truncated and redacted, exception, where), per-target counts and timings.
#                 About 10-12 minutes on 2 cores. Exit status 1 when anything crashed.
#   fuzz-quick    the same on 1,000 inputs (about a minute): to try a change out
#
# The suite (`make test`) runs tests/fuzz/test_fuzz.py: the same targets on ~300 inputs, failing
# on any crash.
#
# Knobs
#   FUZZ_BUDGET   total inputs (default 10500)
#   FUZZ_SEED     hypothesis seed (default 20261207): the same seed draws the same inputs
#   FUZZ_ONLY     comma-separated target names (default: all)
#   FUZZ_OUT      output directory (default build/fuzz)

FUZZ_BUDGET ?= 10500
FUZZ_SEED   ?= 20261207
FUZZ_ONLY   ?=
FUZZ_OUT    ?= build/fuzz

.PHONY: fuzz fuzz-quick

# `venv` (the Makefile's target for $(STAMP)) rather than $(STAMP) itself: this file is included
# before the Makefile defines STAMP, and a prerequisite list is expanded when it is read.
fuzz: venv
	$(PY) -m tests.fuzz.run --budget $(FUZZ_BUDGET) --seed $(FUZZ_SEED) --out $(FUZZ_OUT) \
		$(if $(FUZZ_ONLY),--only $(FUZZ_ONLY))

fuzz-quick: venv
	$(PY) -m tests.fuzz.run --budget 1000 --seed $(FUZZ_SEED) --out $(FUZZ_OUT)-quick \
		$(if $(FUZZ_ONLY),--only $(FUZZ_ONLY))
