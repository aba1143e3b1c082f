"""The fuzzing harness: hypothesis draws inputs, each target runs them, a recorder judges.

A *crash* (issue 10, "What to build" 3) is any of:

- an exception that is not the target's documented refusal (the project's ``CampaignError``
  family, ``MalformedEvent`` for SES records, a pydantic ``ValidationError`` where that is the
  refusal at a boundary);
- a broken promise the target checks itself (a 5xx for input that should be refused, a poison
  record that takes its batch down, a row without an outcome): the target raises ``Broken``;
- anything slower than ``SLOW_SECONDS`` for one input, in CPU time of the thread that runs it
  (the targets run in-process on it): wall time would measure the machine's load (the suite runs
  in parallel workers), not the input.

The recorder never lets an exception reach hypothesis: every drawn input is run and counted,
and a crash is recorded (input repr truncated, addresses redacted) instead of stopping the
search. ``inputs`` is the number of inputs actually executed.
"""

from __future__ import annotations

import os
import reprlib
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from campaign_engine.domain.addresses import redact
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

SLOW_SECONDS = 2.0
KEPT_PER_TARGET = 25  # crash records kept per target; all are counted
DEFAULT_SEED = 20261207


class Broken(AssertionError):
    """A target's own check failed: the input was handled, but wrongly (a 5xx, a lost batch)."""


@dataclass
class Target:
    """One fuzzed entry point. ``run`` executes one drawn input and raises ``Broken`` when a
    promise is broken; exceptions in ``refusals`` are the documented, clean refusals."""

    name: str
    strategy: st.SearchStrategy[Any]
    run: Callable[[Any], Any]
    refusals: tuple[type[BaseException], ...] = ()
    weight: int = 1  # share of the total budget
    # A context the whole target runs in (the local stack), entered once per target.
    context: Callable[[], AbstractContextManager[Any]] = nullcontext

    @property
    def uses_stack(self) -> bool:
        return self.context is not nullcontext


@dataclass
class Crash:
    target: str
    input: str
    exception: str
    where: str

    def to_dict(self) -> dict[str, str]:
        return {"target": self.target, "input": self.input, "exception": self.exception, "where": self.where}


_REPR = reprlib.Repr()
_REPR.maxlevel = 12
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = 12
_REPR.maxstring, _REPR.maxother = 600, 200


def shown(value: Any, limit: int = 400) -> str:
    """A crash's input for the report: bounded first (a value can be megabytes, or nested 50,000
    levels, past what repr can recurse), then with every address replaced by its hash, then
    truncated to ``limit``."""
    try:
        text = redact(_REPR.repr(value))
    except Exception as exc:  # a report must never stop the run
        text = f"<input not printable: {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _where(exc: BaseException) -> str:
    """The deepest frame in the project's own code (where to look), and the raising frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    root = os.getcwd() + os.sep

    def place(frame: traceback.FrameSummary) -> str:
        return f"{frame.filename.removeprefix(root)}:{frame.lineno} in {frame.name}"

    ours = [
        f
        for f in frames
        if f.filename.startswith(root) and ".venv" not in f.filename and f"{os.sep}tests{os.sep}" not in f.filename
    ]
    if ours and ours[-1] is not frames[-1]:
        return f"{place(ours[-1])} (raised in {place(frames[-1])})"
    return place(frames[-1])


@dataclass
class Recorder:
    inputs: int = 0
    per_target: dict[str, int] = field(default_factory=dict)
    crashes: list[Crash] = field(default_factory=list)
    crash_counts: dict[str, int] = field(default_factory=dict)
    slowest: dict[str, float] = field(default_factory=dict)

    def execute(self, target: Target, value: Any) -> None:
        self.inputs += 1
        self.per_target[target.name] = self.per_target.get(target.name, 0) + 1
        started = time.thread_time()
        failure: str | None = None
        where = ""
        try:
            target.run(value)
        except target.refusals:
            pass
        except Exception as exc:  # the point of fuzzing: anything else is a finding
            failure = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"
            where = _where(exc)
        elapsed = time.thread_time() - started
        self.slowest[target.name] = max(self.slowest.get(target.name, 0.0), elapsed)
        if failure is None and elapsed > SLOW_SECONDS:
            failure = f"slow: {elapsed:.2f} s for one input (limit {SLOW_SECONDS} s)"
        if failure is not None:
            self._record(Crash(target.name, shown(value), redact(failure[:2000])[:600], where))

    def _record(self, crash: Crash) -> None:
        count = self.crash_counts.get(crash.target, 0) + 1
        self.crash_counts[crash.target] = count
        if count <= KEPT_PER_TARGET:
            self.crashes.append(crash)

    def results(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "crashes": [crash.to_dict() for crash in self.crashes],
            "crash_count": sum(self.crash_counts.values()),
            "targets": {
                name: {
                    "inputs": count,
                    "crashes": self.crash_counts.get(name, 0),
                    "slowest_seconds": round(self.slowest.get(name, 0.0), 3),
                }
                for name, count in self.per_target.items()
            },
            "slow_limit_seconds": SLOW_SECONDS,
        }


def fuzz(target: Target, examples: int, recorder: Recorder, seed: int = DEFAULT_SEED) -> None:
    """Run ``examples`` drawn inputs of ``target`` (hypothesis may stop early on a small input
    space; ``recorder.inputs`` counts what ran). Seeded: the same seed draws the same inputs."""

    @hypothesis_seed(seed)
    @settings(
        max_examples=max(1, examples),
        database=None,
        deadline=None,  # timing is judged by the recorder, per input, against SLOW_SECONDS
        derandomize=False,
        phases=(Phase.generate,),  # nothing ever fails inside hypothesis, so nothing to shrink
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(target.strategy)
    def probe(value: Any) -> None:
        recorder.execute(target, value)

    with target.context():
        probe()


def budgets(targets: list[Target], total: int) -> Iterator[tuple[Target, int]]:
    """The total budget shared by weight, at least one input each."""
    weights = sum(target.weight for target in targets)
    for target in targets:
        yield target, max(1, round(total * target.weight / weights))
