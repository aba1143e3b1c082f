"""A seeded sample of the chaos sweep (``make chaos`` runs 1,000 and more): each schedule is a
whole campaign on the local stack with one fault injected at one AWS call of one function
(or random faults), and it must keep every promise campaign_local.chaos checks.

Parametrized per schedule, so ``pytest -n 2`` spreads them over both cores.
"""

from __future__ import annotations

import pytest

from campaign_local import chaos

pytestmark = pytest.mark.chaos

SAMPLE = chaos.sample_schedules()


def _describe(result: chaos.ScheduleResult) -> str:
    lines = [f"{result.label} ({result.seconds} s, fired {result.fired} times) broke:"]
    lines += [f"  {v.check.value}: {v.detail}" for v in result.violations]
    return "\n".join(lines)


@pytest.mark.parametrize("schedule", SAMPLE, ids=[s.label().replace(" ", "-").replace("#", "nth") for s in SAMPLE])
def test_schedule_keeps_every_promise(schedule):
    result = chaos.run_schedule(schedule)
    if schedule.fault is not None:
        assert result.fired, f"{result.label}: the call site was never reached; update chaos.SAMPLE_SITES"
    assert not result.violations, _describe(result)


def test_the_sample_is_about_fifty_distinct_schedules():
    assert 45 <= len(SAMPLE) <= 55
    assert len({s.model_dump_json(exclude={"seed"}) for s in SAMPLE}) == len(SAMPLE)
