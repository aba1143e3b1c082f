# mk/bench.mk -- `make bench`: the measurements behind docs/performance.md and docs/cost.md.
# Included by the top-level Makefile:
#
#     include mk/bench.mk
#
# Targets
#   bench         every figure: build/bench/results.json and a table (about 5 minutes on 2 cores)
#   bench-quick   the same on tiny sizes, to try the bench out (under a minute; not figures to quote)
#
# Knob
#   BENCH_HISTORY_ROWS   audience sizes for the parent-history comparison on the local stack
#                        (default 10000,20000). 50,000 rows is opt-in: about 7 minutes more,
#                        past the 10-minute budget:  make bench BENCH_HISTORY_ROWS=10000,50000
#
# Both need only the project venv. The bench is not part of `make test` (tests/bench has a
# smoke test that is). AWS is stubbed in-process or played by the local stack: no account needed.

BENCH_OUT ?= build/bench
BENCH_HISTORY_ROWS ?=
BENCH_ARGS = $(if $(strip $(BENCH_HISTORY_ROWS)),--history-rows $(BENCH_HISTORY_ROWS))

.PHONY: bench bench-quick

# `venv` (the Makefile's target for $(STAMP)) rather than $(STAMP) itself: this file is included
# before the Makefile defines STAMP, and a prerequisite list is expanded when it is read.
bench: venv
	$(PY) -m bench --out $(BENCH_OUT) $(BENCH_ARGS)

bench-quick: venv
	$(PY) -m bench --quick --out $(BENCH_OUT)-quick $(BENCH_ARGS)
