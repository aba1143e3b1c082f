"""Engagement: what SES reported about each sent message, and the run's counters.

Exactly once without transactions. Each (message, recipient) has one item holding, per event
kind, the *set* of event values seen (``ADD`` of a string set is a union: commutative and
idempotent). The update returns the old sets, which tells whether the event was new and
whether it was the first of its kind for that recipient; only then do the run's counters
move. So a replayed or reordered event changes nothing, and "unique opens" is "messages
with a first open".

Counters are sharded: each message's increments go to one of ``SHARDS`` items of its run and
segment (by a hash of the message id), so 1,000+ events per second of one campaign spread
over many items instead of one hot item (DynamoDB allows ~1,000 writes/s per item partition),
and one Lambda batch adds each shard's increments in one write. Reading a run's counts is one
Query of ``SHARDS`` x segments small items.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from .ses_events import SesEvent

SHARDS = 16
COUNTERS = (
    "send",
    "delivery",
    "bounce",
    "hard_bounce",
    "complaint",
    "reject",
    "rendering_failure",
    "delivery_delay",
    "open",
    "unique_open",
    "click",
    "unique_click",
    "unsubscribe",
)
# Kinds kept on the message item (a subscription change is an unsubscribe, counted once per run
# and address, see ``unsubscribe_key``).
RECORDED = ("send", "delivery", "bounce", "complaint", "reject", "rendering_failure", "delivery_delay", "open", "click")
ENGAGING = ("open", "click")
UNATTRIBUTED = "(unattributed)"
# Bounces are also counted per "type/subtype" (Permanent/General, Transient/MailboxFull, ...),
# in counters named with this prefix, so a report can show its top bounce reasons.
BOUNCE_REASON = "bounce_reason:"


def is_counter(name: str) -> bool:
    return name in COUNTERS or name.startswith(BOUNCE_REASON)


def bounce_reason(event: SesEvent) -> str:
    return f"{event.bounce_type or 'Undetermined'}/{event.bounce_subtype or 'Undetermined'}"


def attribute(kind: str) -> str:
    return f"ev_{kind}"


def _bounce_detail(event: SesEvent) -> str:
    return f"{event.bounce_type or ''}|{event.bounce_subtype or ''}"


def value_of(event: SesEvent) -> str:
    """The event as stored in its kind's set: sortable by time, distinct per distinct event."""
    detail = {
        "bounce": _bounce_detail(event),
        "complaint": event.complaint_type or "",
        "click": event.link or "",
    }.get(event.kind, "")
    return f"{event.timestamp}|{event.key}|{detail}"


def increments(event: SesEvent, old: Iterable[str] | None) -> dict[str, int]:
    """Counter increments for ``event`` given the values its recipient already had."""
    seen = set(old or ())
    value = value_of(event)
    if value in seen:
        return {}
    out: dict[str, int] = {}
    first = not seen
    if event.kind in ("open", "click"):
        out[event.kind] = 1
        if first:
            out[f"unique_{event.kind}"] = 1
        return out
    if first:
        out[event.kind] = 1
    if event.kind == "bounce":
        # Once per message and reason, whatever the order: a message that bounced softly and
        # then hard counts under both reasons.
        detail = "|" + _bounce_detail(event)  # how value_of ends a bounce of this reason
        if not any(v.endswith(detail) for v in seen):
            out[BOUNCE_REASON + bounce_reason(event)] = 1
    if event.kind == "bounce" and event.is_hard_bounce and not any("|Permanent|" in v for v in seen):
        out["hard_bounce"] = 1
    return out


def shard_of(message_id: str) -> int:
    return int(hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:8], 16) % SHARDS


def add(total: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    merged = dict(total)
    for name, value in more.items():
        merged[name] = merged.get(name, 0) + int(value)
    return merged


def sum_counts(items: Iterable[dict[str, Any]]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """(totals, per segment) of a run's counter items."""
    totals: dict[str, int] = dict.fromkeys(COUNTERS, 0)
    segments: dict[str, dict[str, int]] = {}
    for item in items:
        counts = {name: int(item.get(name, 0)) for name in COUNTERS}
        counts.update({name: int(value) for name, value in item.items() if name.startswith(BOUNCE_REASON)})
        segment = item.get("segment", UNATTRIBUTED)
        segments[segment] = add(segments.get(segment, dict.fromkeys(COUNTERS, 0)), counts)
        totals = add(totals, counts)
    return totals, {name: segments[name] for name in sorted(segments)}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def summary(counts: dict[str, int]) -> dict[str, Any]:
    """The report's words for the counters, with rates over sent (SES-accepted) mail."""
    sent = counts.get("send", 0)
    delivered = counts.get("delivery", 0)
    return {
        "sent": sent,
        "delivered": delivered,
        "bounced": counts.get("bounce", 0),
        "hard_bounced": counts.get("hard_bounce", 0),
        "complained": counts.get("complaint", 0),
        "rejected": counts.get("reject", 0),
        "rendering_failures": counts.get("rendering_failure", 0),
        "delivery_delays": counts.get("delivery_delay", 0),
        "opened": counts.get("unique_open", 0),
        "opens": counts.get("open", 0),
        "clicked": counts.get("unique_click", 0),
        "clicks": counts.get("click", 0),
        "unsubscribed": counts.get("unsubscribe", 0),
        "bounce_reasons": dict(
            sorted(
                (
                    (name.removeprefix(BOUNCE_REASON), value)
                    for name, value in counts.items()
                    if name.startswith(BOUNCE_REASON) and value
                ),
                key=lambda pair: (-pair[1], pair[0]),
            )
        ),
        "rates": {
            "delivery": _rate(delivered, sent),
            "bounce": _rate(counts.get("hard_bounce", 0), delivered + counts.get("hard_bounce", 0)),
            "complaint": _rate(counts.get("complaint", 0), delivered),
            "open": _rate(counts.get("unique_open", 0), delivered),
            "click": _rate(counts.get("unique_click", 0), delivered),
        },
    }
