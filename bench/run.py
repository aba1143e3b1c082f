"""``python -m bench``: every measurement, build/bench/results.json, and a table.

The measurements run as separate processes in lanes, so that the whole bench fits in a few
minutes on two cores. Cold start (wall-clock import times) runs first, alone. Then everything
else at once: the pacing runs at normal priority (they mostly sleep, paced to the stub SES,
and measure wall-clock rates), and two CPU-bound lanes at a lower priority, so they never
delay a paced call: the local stack, and the rest one after another (throughput, Prepare's
memory in a fresh process per size, feedback). CPU figures are CPU time, which priority does
not change; a figure and the baseline it is compared with are always measured in the same
process, one right after the other.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import audience, cost, harness, table

OUT = harness.ROOT / "build" / "bench"


@dataclass
class Sizes:
    recipients: int = 20_000  # throughput and calls
    memory_rows: tuple[int, int] = (100_000, 1_000_000)
    wide_rows: int = 2_000
    wide_bytes: int = 2048
    transition_rows: tuple[int, ...] = (10_000, 20_000)
    pacing_recipients: int = 20_000
    feedback_recipients: int = 3_000
    coldstart_runs: int = 3


QUICK = Sizes(  # a look at the whole bench in under a minute: figures too small to quote
    recipients=1_000,
    memory_rows=(2_000, 20_000),
    wide_rows=200,
    transition_rows=(500, 1_000),
    pacing_recipients=600,
    feedback_recipients=200,
    coldstart_runs=1,
)


@dataclass
class Lane:
    """Jobs run one after another in a thread; each job is a ``python -m bench.<module>``."""

    name: str
    jobs: list[tuple[str, list[str]]]
    nice: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def run(self, parts: Path) -> None:
        started = time.monotonic()
        lower = (lambda: os.nice(self.nice)) if self.nice else None
        for label, argv in self.jobs:
            log = parts / f"{label}.log"
            with log.open("w") as out:
                done = subprocess.run(
                    [sys.executable, "-m", *argv],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=harness.ROOT,
                    check=False,
                    preexec_fn=lower,
                )
            if done.returncode:
                self.failures.append(f"{label} failed ({done.returncode}); see {log}")
        self.seconds = time.monotonic() - started


def _job(name: str, module: str, parts: Path, *args: object) -> tuple[str, list[str]]:
    return name, [f"bench.{module}", *map(str, args), "--out", str(parts / f"{name}.json")]


def _memory_job(name: str, csv: Path, rows: int, parts: Path, *extra: str) -> tuple[str, list[str]]:
    return _job(name, "memory", parts, "--csv", csv, "--rows", rows, *extra)


def _lanes(sizes: Sizes, parts: Path, data: Path) -> tuple[Lane, list[Lane], list[Lane]]:
    """(the cold start lane, paced lanes, CPU-bound lanes), started in that order."""
    small, large = sizes.memory_rows
    recipients = ("--recipients", sizes.pacing_recipients)
    paced = [
        Lane("pacing, share 1.0", [_job("pacing-share-1.0", "pacing", parts, *recipients, "--share", 1.0)]),
        Lane("pacing, share 0.8", [_job("pacing-share-0.8", "pacing", parts, *recipients, "--share", 0.8)]),
        Lane(
            "pacing, 10% throttled",
            [_job("pacing-throttled", "pacing", parts, *recipients, "--share", 1.0, "--throttle-share", 0.1)],
        ),
    ]
    coldstart = Lane("cold start", [_job("coldstart", "coldstart", parts, "--runs", sizes.coldstart_runs)])
    cpu_bound = [
        Lane("local stack", [_job("transitions", "transitions", parts, "--rows", *sizes.transition_rows)], nice=10),
        Lane(
            "in order",
            [
                _job("throughput", "throughput", parts, "--recipients", sizes.recipients),
                _memory_job("memory-small", data / f"audience-{small}.csv", small, parts),
                _memory_job("memory-large", data / f"audience-{large}.csv", large, parts),
                _memory_job("memory-wide", data / "audience-wide.csv", sizes.wide_rows, parts, "--keep-items"),
                _job("feedback", "feedback", parts, "--recipients", sizes.feedback_recipients),
            ],
            nice=10,
        ),
    ]
    return coldstart, paced, cpu_bound


def _audiences(sizes: Sizes, data: Path) -> None:
    for rows in sizes.memory_rows:
        path = data / f"audience-{rows}.csv"
        if not path.exists():  # deterministic: a file from an earlier run is the same file
            audience.write_csv(path, rows, messy=True)
    audience.write_csv(data / "audience-wide.csv", sizes.wide_rows, messy=True, wide=sizes.wide_bytes)


def collect(parts: Path) -> dict[str, Any]:
    read = lambda name: json.loads((parts / f"{name}.json").read_text())  # noqa: E731
    results: dict[str, Any] = {
        "throughput": read("throughput"),
        "memory": {"small": read("memory-small"), "large": read("memory-large"), "wide": read("memory-wide")},
        "transitions": read("transitions"),
        "pacing": {
            "share_1.0": read("pacing-share-1.0"),
            "share_0.8": read("pacing-share-0.8"),
            "throttled": read("pacing-throttled"),
        },
        "coldstart": read("coldstart"),
        "feedback": read("feedback"),
    }
    small, large = results["memory"]["small"], results["memory"]["large"]
    results["memory"]["difference_mb"] = large["peak_rss_mb"] - small["peak_rss_mb"]
    # Prepare is CPU-bound and Lambda gives it one vCPU at 1,769 MB: its CPU rate is its speed
    # there (the wall-clock rate here is lower, as it shares two cores with the other lanes).
    results["memory"]["seconds_for_1m_rows"] = 1_000_000 / large["rows_per_cpu_second"]
    results["cost"] = cost.model(results["throughput"], large, results["transitions"], results["feedback"])
    return results


def _row_list(text: str) -> tuple[int, ...]:
    rows = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    if len(rows) < 2 or min(rows) <= 0:
        raise argparse.ArgumentTypeError("at least two positive sizes, e.g. 10000,50000")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to try the bench out")
    parser.add_argument(
        "--history-rows",
        type=_row_list,
        help="audience sizes for the local stack's execution histories, comma-separated (default "
        "10000,20000; 50,000 rows take about 7 minutes more, beyond make bench's 10-minute budget)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    sizes = QUICK if args.quick else Sizes()
    if args.history_rows:
        sizes = replace(sizes, transition_rows=args.history_rows)
    parts, data = args.out / "parts", args.out / "data"
    parts.mkdir(parents=True, exist_ok=True)
    _audiences(sizes, data)
    coldstart, paced, cpu_bound = _lanes(sizes, parts, data)
    coldstart.run(parts)  # alone: import times are wall-clock times
    threads = [threading.Thread(target=lane.run, args=(parts,), name=lane.name) for lane in [*paced, *cpu_bound]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lanes = [coldstart, *paced, *cpu_bound]
    failures = [failure for lane in lanes for failure in lane.failures]
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    results = collect(parts)
    results["bench"] = {
        "wall_seconds": time.monotonic() - started,
        "lanes": {lane.name: round(lane.seconds, 1) for lane in lanes},
        "sizes": {k: v for k, v in vars(sizes).items()},
        "python": sys.version.split()[0],
    }
    harness.write_json(args.out / "results.json", results)
    print(table.render(results))
    print(f"\n{args.out / 'results.json'} written; the bench took {results['bench']['wall_seconds']:.0f} s")
    return 0
