"""Suppression records fold facts commutatively and idempotently."""

from __future__ import annotations

import itertools
import random

import pytest
from campaign_engine.domain.suppression import (
    ALL,
    BOUNCE,
    COMPLAINT,
    SOFT_BOUNCE,
    SUPPRESSED,
    TOPIC,
    UNSUBSCRIBE,
    WATCH,
    Fact,
    SoftBouncePolicy,
    applies,
    merge,
)

ADDRESS = "jane@example.com"
POLICY = SoftBouncePolicy(limit=3, window_days=7)


def fold(facts, policy=POLICY):
    record = None
    for fact in facts:
        record = merge(record, fact, ADDRESS, policy)
    return record


def fact(reason, at, key, **extra):
    return Fact(reason=reason, at=at, key=key, campaign_id=extra.pop("campaign_id", "c1"), **extra)


FACTS = [
    fact(BOUNCE, "2026-01-02T00:00:00.000Z", "b1", detail="Permanent/General"),
    fact(COMPLAINT, "2026-01-05T00:00:00.000Z", "c1", detail="abuse", campaign_id="c2"),
    fact(UNSUBSCRIBE, "2026-01-03T00:00:00.000Z", "u1", topics=("news",)),
]


def test_a_hard_bounce_suppresses_everywhere():
    record = fold([FACTS[0]])
    assert record["status"] == SUPPRESSED and record["scope"] == ALL
    assert record["reason"] == BOUNCE and record["first_at"] == record["last_at"] == "2026-01-02T00:00:00.000Z"
    assert applies(record, None) and applies(record, "news")


def test_order_and_repeats_do_not_change_the_record():
    expected = fold(FACTS)
    for order in itertools.permutations(FACTS):
        assert fold(order) == expected
    doubled = FACTS * 2
    random.Random(3).shuffle(doubled)
    assert fold(doubled) == expected
    assert expected["first"]["reason"] == BOUNCE and expected["last"]["reason"] == COMPLAINT
    assert expected["reasons"] == [BOUNCE, COMPLAINT, UNSUBSCRIBE]


def test_a_topic_unsubscribe_applies_only_to_that_topic():
    record = fold([FACTS[2]])
    assert record["scope"] == TOPIC and record["topics"] == ["news"]
    assert applies(record, "news") and not applies(record, "offers") and not applies(record, None)


def test_soft_bounces_suppress_only_at_the_limit_within_the_window():
    soft = [fact(SOFT_BOUNCE, f"2026-02-0{day}T00:00:00.000Z", f"s{day}") for day in (1, 3, 5)]
    watched = fold(soft[:2])
    assert watched["status"] == WATCH and not applies(watched, None)
    assert fold(soft)["status"] == SUPPRESSED
    spread = [
        fact(SOFT_BOUNCE, at, f"w{i}")
        for i, at in enumerate(["2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z"])
    ]
    assert fold(spread)["status"] == WATCH


def test_the_same_event_again_changes_nothing_even_at_another_time():
    once = fold([FACTS[2]])
    again = merge(once, fact(UNSUBSCRIBE, "2026-09-09T00:00:00.000Z", "u1", topics=("news",)), ADDRESS, POLICY)
    assert again == once


@pytest.mark.parametrize("status", [None, SUPPRESSED])
def test_hand_written_records_without_status_suppress(status):
    record = {"address": ADDRESS, "scope": ALL}
    if status:
        record["status"] = status
    assert applies(record, None)


def test_soft_bounces_suppress_to_the_same_record_in_any_order():
    """The record names the earliest and latest soft bounce once they add up, not the one that
    happened to complete the count (which would depend on SNS's delivery order)."""
    soft = [fact(SOFT_BOUNCE, f"2026-02-0{day}T00:00:00.000Z", f"s{day}") for day in (1, 3, 5, 6)]
    records = {repr(sorted(fold(order).items())) for order in itertools.permutations(soft)}
    assert len(records) == 1
    record = fold(soft)
    assert record["first"]["event"] == "s1" and record["last"]["event"] == "s6"
    assert record["reason"] == SOFT_BOUNCE and record["first_at"] == "2026-02-01T00:00:00.000Z"
    legacy = {**fold(soft[:2]), "soft_bounces": ["2026-02-01T00:00:00.000Z|s1", "2026-02-03T00:00:00.000Z|s3"]}
    assert merge(legacy, soft[2], ADDRESS, POLICY)["first"]["event"] == "s1"  # entries of older versions
