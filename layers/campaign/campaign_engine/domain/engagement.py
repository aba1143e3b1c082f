"""Engagement: what SES reported about each sent message, and the run's counters.

Exactly once under redelivery *and* crashes, at one write per event. Each (message, recipient)
has one item holding, per event kind, the *set* of event values seen (``ADD`` of a string set
is a union: commutative and idempotent), and one **claim** per counter contribution the item
can make (:func:`claims`): ``c:delivery`` for "this message was delivered", ``c:open:<value>``
for each distinct open, ``c:unique_open`` for its first open, and so on. The event's write sets
each of its claims to the invocation's **token** unless the claim is already there
(``if_not_exists``), and returns the item as it was. A claim that was absent is now this
invocation's: it adds 1 to its counter. So the counters are the number of claims, whatever
the order and the repeats ("unique opens" is "messages with a ``c:unique_open``").

Counting is then a two-step commit, and a crash between the steps loses nothing:

1. the invocation writes its events' message items (claims owned by its token);
2. one transaction writes the invocation's **commit record** (``BatchStatus.COMMITTED``,
   only if no record exists for its token) together with the sum of its increments.

A claim is counted iff its owner token is committed. A redelivered event whose claim belongs
to a token without a commit record (that invocation crashed, or is still running) makes the
token ``ABORTED`` (a conditional write: it can no longer commit; if it was alive, its commit
fails and its whole batch comes back) and takes the claim over (a conditional write on the
owner), then counts it in its own commit. Every claim owned by an uncommitted token has an
undeleted SQS message behind it (the token's invocation acknowledges nothing before it
commits), so every claim is eventually counted exactly once.

Counters are sharded: each invocation adds its increments to one of ``SHARDS`` items per run
and segment (by a hash of its token), so 1,000+ events per second of one campaign spread over
many items instead of one hot item (DynamoDB allows ~1,000 writes/s per item partition), and
a commit is one small transaction: its commit record and one counter item per run and segment
in the batch. Reading a run's counts is one Query of ``SHARDS`` x segments small items.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, NamedTuple

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


class BatchStatus(StrEnum):
    """The fate of an invocation's claims (its commit record; no record: not decided yet)."""

    COMMITTED = "COMMITTED"  # its increments were added, in the same transaction
    ABORTED = "ABORTED"  # it can never commit: its claims go to whoever sees them next


class Claim(NamedTuple):
    """One contribution of one message item to one counter: ``name`` is the item attribute
    holding the token of the invocation that counts it, ``counter`` what it adds 1 to."""

    name: str
    counter: str


CLAIM_PREFIX = "c:"


def _digest(text: str) -> str:
    # Per item, so 40 bits keep two distinct values of one recipient apart.
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def claims(event: SesEvent) -> tuple[Claim, ...]:
    """The counter contributions ``event`` can make to its recipient's item.

    The same counters as SES reports them, once per message: a send per message id, the first
    delivery, bounce, complaint, reject, rendering failure or delivery delay; every distinct
    open and click and the first of each (unique); a bounce once per reason and a hard bounce
    once. A repeat, or a second event of a once-per-message kind, finds its claims taken.
    """
    kind = event.kind
    if kind in ENGAGING:
        return (
            Claim(f"{CLAIM_PREFIX}{kind}:{_digest(value_of(event))}", kind),
            Claim(f"{CLAIM_PREFIX}unique_{kind}", f"unique_{kind}"),
        )
    if kind == "send":
        # Per message id: the Send item is per run and address (``send_evidence``), and two
        # messages to one address in one run are two sends.
        return (Claim(f"{CLAIM_PREFIX}send:{_digest(event.message_id)}", "send"),)
    found = [Claim(f"{CLAIM_PREFIX}{kind}", kind)]
    if kind == "bounce":
        found.append(
            Claim(f"{CLAIM_PREFIX}bounce_reason:{_digest(_bounce_detail(event))}", BOUNCE_REASON + bounce_reason(event))
        )
        if event.is_hard_bounce:
            found.append(Claim(f"{CLAIM_PREFIX}hard_bounce", "hard_bounce"))
    return tuple(found)


def count_claims(claimed: Iterable[Claim]) -> dict[str, int]:
    """The counters ``claimed`` add up to."""
    out: dict[str, int] = {}
    for claim in claimed:
        out[claim.counter] = out.get(claim.counter, 0) + 1
    return out


def new_token() -> str:
    """An invocation's token: 96 random bits, so no two invocations share one."""
    return secrets.token_urlsafe(12)


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
