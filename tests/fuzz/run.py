"""``make fuzz``: every fuzz target with its share of the budget; writes build/fuzz/results.json.

    python -m tests.fuzz.run [--out build/fuzz] [--budget 10500] [--seed N] [--only target,...]

The budget (total inputs, shared by target weight) and the seed also come from FUZZ_BUDGET and
FUZZ_SEED. ``inputs`` in the results is counted as inputs run, not the budget asked for. The
exit status is 1 when any crash was found.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
import warnings
from pathlib import Path

from tests.fuzz.harness import DEFAULT_SEED, Recorder, budgets, fuzz
from tests.fuzz.targets import targets

DEFAULT_BUDGET = 10_500


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/fuzz"))
    parser.add_argument("--budget", type=int, default=int(os.environ.get("FUZZ_BUDGET", DEFAULT_BUDGET)))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", DEFAULT_SEED)))
    parser.add_argument("--only", default="", help="comma-separated target names")
    args = parser.parse_args(argv)
    chosen = [t for t in targets() if not args.only or t.name in args.only.split(",")]
    recorder = Recorder()
    started = time.monotonic()
    # The handlers' metrics (EMF lines on stdout) and Powertools' warnings about them are noise here.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    for target, examples in budgets(chosen, args.budget):
        before, target_started = recorder.inputs, time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()):
            fuzz(target, examples, recorder, args.seed)
        crashes = recorder.crash_counts.get(target.name, 0)
        took = time.monotonic() - target_started
        print(f"{target.name:16} {recorder.inputs - before:6} inputs {crashes:5} crashes {took:7.1f} s", flush=True)
    results = {
        **recorder.results(),
        "seed": args.seed,
        "budget": args.budget,
        "seconds": round(time.monotonic() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"{results['inputs']} inputs, {results['crash_count']} crashes -> {args.out / 'results.json'}")
    return 1 if results["crash_count"] else 0


if __name__ == "__main__":
    sys.exit(main())
