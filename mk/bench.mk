# mk/bench.mk -- `make bench`: the measurements behind docs/performance.md and docs/cost.md.
# Included by the top-level Makefile:
#
#     include mk/bench.mk
#
# Targets
#   bench         every figure: build/bench/results.json and a table (about 5 minutes on 2 cores)
#   bench-quick   the same on tiny sizes, to try the bench out (under a minute; not figures to quote)
#
# Both need only the project venv. The bench is not part of `make test` (tests/bench has a
# smoke test that is). AWS is stubbed in-process or played by the local stack: no account needed.

BENCH_OUT ?= build/bench

.PHONY: bench bench-quick

# `venv` (the Makefile's target for $(STAMP)) rather than $(STAMP) itself: this file is included
# before the Makefile defines STAMP, and a prerequisite list is expanded when it is read.
bench: venv
	$(PY) -m bench --out $(BENCH_OUT)

bench-quick: venv
	$(PY) -m bench --quick --out $(BENCH_OUT)-quick
