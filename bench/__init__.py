"""`make bench`: measurements of the campaign engine, reproducible on a laptop.

Throughput against the seed recipe's approach, Prepare's memory on a million rows, API calls
and state transitions per 1,000 recipients, a cost model per million recipients, pacing to a
stub SES that enforces its send rate, and handler cold starts. AWS is answered in-process at
botocore's HTTP layer (``bench.stubs``), or by the local stack where a real execution history
is needed (``bench.transitions``). See docs/performance.md and docs/cost.md.
"""
