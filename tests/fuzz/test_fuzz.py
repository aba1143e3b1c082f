"""The fuzz targets on a small budget (about 300 inputs in all), as part of the normal suite:
any crash fails the test, with the inputs that crashed. ``make fuzz`` runs the same targets on
10,000+ inputs (tests/fuzz/run.py). FUZZ_TEST_BUDGET changes the budget here."""

from __future__ import annotations

import json
import os
import time

import pytest
from campaign_engine.domain.errors import CampaignError
from hypothesis import strategies as st

from tests.fuzz import harness
from tests.fuzz.harness import Broken, Recorder, Target, budgets, fuzz
from tests.fuzz.targets import targets

BUDGET = int(os.environ.get("FUZZ_TEST_BUDGET", "300"))
TARGETS = targets()
# Stack targets cost a stack start (~3 s) and ~0.1-0.3 s an input: a smaller share here.
SHARES = {target.name: examples for target, examples in budgets(TARGETS, BUDGET)}


def _param(target: Target) -> object:
    return pytest.param(target, id=target.name)


@pytest.mark.parametrize("target", [_param(t) for t in TARGETS])
def test_no_crash(target: Target) -> None:
    recorder = Recorder()
    examples = SHARES[target.name] if not target.uses_stack else max(15, SHARES[target.name] // 2)
    fuzz(target, examples, recorder)
    assert recorder.inputs >= min(examples, 10), "hypothesis ran too few inputs to mean anything"
    crashes = json.dumps([crash.to_dict() for crash in recorder.crashes], indent=1, ensure_ascii=False)
    assert not recorder.crash_counts, f"{sum(recorder.crash_counts.values())} crash(es) in {target.name}: {crashes}"


# --- the harness itself: what it must call a crash, and what not ---------------------------------


def _target(run, refusals=(CampaignError,)) -> Target:
    return Target("probe", st.integers(0, 9), run, refusals)


def test_an_unexpected_exception_is_a_crash_with_the_input_and_where():
    recorder = Recorder()

    def run(value: int) -> None:
        if value == 3:
            raise KeyError("scheduled_time")

    for value in range(10):
        recorder.execute(_target(run), value)
    assert recorder.inputs == 10
    (crash,) = recorder.crashes
    assert crash.input == "3" and crash.exception == "builtins.KeyError: 'scheduled_time'"
    assert crash.where.startswith("tests/fuzz/test_fuzz.py:")


def test_a_documented_refusal_is_not_a_crash_and_a_broken_promise_is():
    recorder = Recorder()

    def refuse(value: int) -> None:
        raise CampaignError("bad", where="file: line 1")

    def broken(value: int) -> None:
        raise Broken("status 502 for a client's request")

    recorder.execute(_target(refuse), 1)
    assert recorder.crashes == []
    recorder.execute(_target(broken), 1)
    assert [c.exception for c in recorder.crashes] == ["tests.fuzz.harness.Broken: status 502 for a client's request"]


def _busy(seconds: float) -> None:
    started = time.thread_time()
    while time.thread_time() - started < seconds:
        pass


def test_a_slow_input_is_a_crash(monkeypatch):
    monkeypatch.setattr(harness, "SLOW_SECONDS", 0.01)
    recorder = Recorder()
    recorder.execute(_target(lambda value: _busy(0.05)), 1)
    assert recorder.crashes[0].exception.startswith("slow: ")


def test_waiting_is_not_slowness(monkeypatch):
    """The limit is CPU time: an input that waits (the machine is busy, a poller sleeps) is not slow."""
    monkeypatch.setattr(harness, "SLOW_SECONDS", 0.01)
    recorder = Recorder()
    recorder.execute(_target(lambda value: time.sleep(0.05)), 1)
    assert recorder.crashes == []


def test_inputs_are_counted_as_run_and_addresses_never_reported():
    recorder = Recorder()

    def run(value: str) -> None:
        raise ValueError(f"cannot send to {value}")

    fuzz(Target("probe", st.just("ann.lee@example.com"), run), 5, recorder)
    assert recorder.inputs == recorder.per_target["probe"] >= 1
    results = json.dumps(recorder.results())
    assert "ann.lee@example.com" not in results and "<address:" in results
    assert json.loads(results)["inputs"] == recorder.inputs


def test_a_huge_or_deep_input_is_reported_truncated():
    from tests.fuzz.strategies import deep

    assert len(harness.shown("x" * 1_000_000)) <= 400
    assert harness.shown(deep(50_000)).startswith("[[[")
