"""Engagement counters are the claims of each message item: one per contribution, first come,
so they move only for events new to their recipient, whatever the order."""

from __future__ import annotations

import itertools

from campaign_engine.domain import engagement
from campaign_engine.domain.ses_events import SesEvent


def event(kind, at, **extra) -> SesEvent:
    return SesEvent(
        kind=kind,
        message_id="m-1",
        timestamp=at,
        recipients=("ann@example.com",),
        tags={"campaign": "c", "run": "r", "segment": "s"},
        source_format="event",
        **extra,
    )


def replay_all(events) -> dict[str, int]:
    """Fold events into one message item's claims (``if_not_exists``: the first one stays)."""
    item: dict[str, engagement.Claim] = {}
    for e in events:
        for claim in engagement.claims(e):
            item.setdefault(claim.name, claim)
    return engagement.count_claims(item.values())


def replay(events) -> dict[str, int]:
    """The run counters (per link and per time bucket aside) of ``replay_all``."""
    return engagement.split(replay_all(events)).base


OPEN_1 = event("open", "2026-01-01T10:00:00.000Z")
OPEN_2 = event("open", "2026-01-01T11:00:00.000Z")
CLICK = event("click", "2026-01-01T10:01:00.000Z", link="https://example.com/a")
DELIVERY = event("delivery", "2026-01-01T09:00:01.000Z")
SOFT = event("bounce", "2026-01-01T09:00:02.000Z", bounce_type="Transient")
HARD = event("bounce", "2026-01-01T09:00:03.000Z", bounce_type="Permanent")


def test_total_and_unique_opens_and_clicks():
    assert replay([DELIVERY, OPEN_1, OPEN_2, CLICK]) == {
        "delivery": 1,
        "open": 2,
        "unique_open": 1,
        "click": 1,
        "unique_click": 1,
    }


def test_any_order_and_repeats_give_the_same_counts():
    events = [DELIVERY, OPEN_1, OPEN_2, CLICK, SOFT, HARD]
    expected = replay(events)
    for order in itertools.permutations(events):
        assert replay(list(order) + list(order)) == expected
    assert expected["bounce"] == 1 and expected["hard_bounce"] == 1


def test_a_repeat_claims_nothing_new():
    assert replay([OPEN_1, OPEN_1]) == replay([OPEN_1]) == {"open": 1, "unique_open": 1}
    assert {c.name for c in engagement.claims(OPEN_1)} == {c.name for c in engagement.claims(OPEN_1)}
    assert engagement.claims(OPEN_1)[0].name != engagement.claims(OPEN_2)[0].name  # distinct opens


def test_sends_are_claimed_per_message_id():
    other = SesEvent(**{**event("send", "2026-01-01T09:00:00.000Z").__dict__, "message_id": "m-2"})
    assert replay([event("send", "2026-01-01T09:00:00.000Z"), other]) == {"send": 2}


def test_tokens_are_distinct():
    assert len({engagement.new_token() for _ in range(1000)}) == 1000


def test_shards_spread_messages_and_are_stable():
    shards = {engagement.shard_of(f"message-{i}") for i in range(1000)}
    assert shards == set(range(engagement.SHARDS))
    assert engagement.shard_of("message-7") == engagement.shard_of("message-7")


def test_sum_counts_per_segment_and_summary_rates():
    items = [
        {"segment": "a", "send": 10, "delivery": 9, "hard_bounce": 1, "unique_open": 3, "open": 5},
        {"segment": "a", "send": 10, "delivery": 10, "complaint": 1},
        {"segment": "b", "send": 5, "delivery": 5, "unique_click": 1, "click": 2},
    ]
    totals, segments = engagement.sum_counts(items)
    assert totals["send"] == 25 and segments["a"]["delivery"] == 19 and segments["b"]["click"] == 2
    summary = engagement.summary(totals)
    assert summary["delivered"] == 24 and summary["opened"] == 3 and summary["opens"] == 5
    assert summary["rates"]["bounce"] == {"rate": round(1 / 25, 6), "of": "delivered+hard_bounced"}
    assert summary["rates"]["complaint"] == {"rate": round(1 / 24, 6), "of": "delivered"}
    assert summary["rates"]["open"] == {"rate": round(3 / 24, 6), "of": "delivered"}
    assert summary["rates"]["delivery"]["of"] == "sent"
    assert engagement.summary({})["rates"]["delivery"] == {"rate": None, "of": "sent"}


def test_bounces_are_counted_once_per_message_and_reason():
    later_hard = event("bounce", "2026-01-01T09:10:00.000Z", bounce_type="Permanent")
    counts = replay([SOFT, HARD, later_hard, SOFT])
    assert counts["bounce_reason:Transient/Undetermined"] == 1
    assert counts["bounce_reason:Permanent/Undetermined"] == 1
    report = engagement.summary(engagement.add({"send": 1}, counts))
    assert report["bounce_reasons"] == {"Permanent/Undetermined": 1, "Transient/Undetermined": 1}


def test_bounce_reasons_are_summed_over_shards_and_sorted_by_count():
    items = [
        {"segment": "a", "bounce": 2, "bounce_reason:Permanent/General": 2},
        {"segment": "b", "bounce": 3, "bounce_reason:Permanent/General": 1, "bounce_reason:Transient/MailboxFull": 2},
    ]
    totals, segments = engagement.sum_counts(items)
    assert engagement.summary(totals)["bounce_reasons"] == {"Permanent/General": 3, "Transient/MailboxFull": 2}
    assert engagement.summary(segments["a"])["bounce_reasons"] == {"Permanent/General": 2}
