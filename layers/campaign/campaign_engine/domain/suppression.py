"""Suppression records: who must not be mailed, why, since when, and what said so.

A record is folded from *facts* (one per bounce, complaint or unsubscribe that names the
address). The fold is commutative and idempotent, so SNS's at-least-once, unordered delivery
leaves the same record whatever the order or the number of repeats:

- ``first_*`` comes from the earliest fact and ``last_*`` from the latest (ties broken by the
  fact's key), ``reasons`` and ``topics`` are unions;
- scope ``ALL`` wins over ``TOPIC`` (an unsubscribe from everything covers every topic);
- transient bounces are kept (the latest ``SOFT_BOUNCE_KEEP``) and suppress only when
  ``limit`` of them fall within ``window_days``; until then the record is ``WATCH`` and does
  not stop a send.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .ses_events import epoch_of

SUPPRESSED, WATCH = "SUPPRESSED", "WATCH"
ALL, TOPIC = "ALL", "TOPIC"
# Reasons; SES's own account-level list knows only the first two.
BOUNCE, COMPLAINT, UNSUBSCRIBE, SOFT_BOUNCE, MANUAL = "BOUNCE", "COMPLAINT", "UNSUBSCRIBE", "SOFT_BOUNCE", "MANUAL"
SES_REASONS = {BOUNCE: "BOUNCE", COMPLAINT: "COMPLAINT"}
SOFT_BOUNCE_KEEP = 20


class Change(StrEnum):
    """What recording a fact did to an address's record."""

    NEW = "new"  # there was no record
    UPDATED = "updated"  # the fact changed the record
    UNCHANGED = "unchanged"  # the record already held what the fact says


@dataclass(frozen=True)
class Fact:
    """One piece of evidence about one address."""

    reason: str  # BOUNCE, COMPLAINT, UNSUBSCRIBE, SOFT_BOUNCE, MANUAL
    at: str  # ISO-8601 UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ" (sorts as text)
    key: str  # the event's natural key (same event -> same key)
    campaign_id: str | None = None
    source: str = "ses-event"  # ses-event, ses-notification, unsubscribe-endpoint, import, operator
    detail: str | None = None  # bounce type/subtype, complaint type, topic list; never an address
    topics: tuple[str, ...] = ()  # a topic-scoped unsubscribe; () means every campaign

    def summary(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "at": self.at,
            "campaign_id": self.campaign_id,
            "source": self.source,
            "detail": self.detail,
            "event": self.key,
        }


@dataclass(frozen=True)
class SoftBouncePolicy:
    limit: int = 3
    window_days: int = 7


def _soft_trips(entries: list[str], policy: SoftBouncePolicy) -> bool:
    """True when ``limit`` soft bounces fall within any window of ``window_days``."""
    times = sorted(epoch_of(entry.split("|", 1)[0]) for entry in entries)
    window = policy.window_days * 86400
    return any(times[i + policy.limit - 1] - times[i] <= window for i in range(len(times) - policy.limit + 1))


def _soft_entry(fact: Fact) -> str:
    """A soft bounce as kept on the record: its time first (entries sort by time), then what
    its summary needs, so the record can name it once the bounces add up to a suppression."""
    return f"{fact.at}|" + json.dumps([fact.key, fact.campaign_id, fact.source, fact.detail], separators=(",", ":"))


def _soft_summary(entry: str) -> dict[str, Any]:
    at, rest = entry.split("|", 1)
    try:
        key, campaign_id, source, detail = json.loads(rest)
    except ValueError:  # "<at>|<key>", as written before the entries carried their summary
        key, campaign_id, source, detail = rest, None, "ses-event", None
    return Fact(reason=SOFT_BOUNCE, at=at, key=key, campaign_id=campaign_id, source=source, detail=detail).summary()


def _fold(current: dict[str, Any], summary: dict[str, Any]) -> None:
    """``first`` is the earliest suppressing fact and ``last`` the latest (ties by event key)."""
    order = (summary["at"], summary["event"])
    first, last = current.get("first"), current.get("last")
    if first is None or order < (first["at"], first["event"]):
        current["first"] = summary
    if last is None or order > (last["at"], last["event"]):
        current["last"] = summary


def merge(record: dict[str, Any] | None, fact: Fact, address: str, policy: SoftBouncePolicy) -> dict[str, Any]:
    """The record after ``fact``; equal to ``record`` when the fact was already folded in.

    Whatever order the facts come in, the record ends the same: once soft bounces add up to a
    suppression, every kept soft bounce counts as a suppressing fact (not only the one that
    completed the count, which would depend on arrival order).
    """
    current = dict(record or {"address": address})
    current["address"] = address
    first, last = current.get("first"), current.get("last")
    if fact.key in {(first or {}).get("event"), (last or {}).get("event")}:
        # The same event again (an SNS redelivery, a repeated one-click POST): nothing new.
        current["digest"] = digest(current)
        return current
    suppressing: list[dict[str, Any]] = []
    if fact.reason == SOFT_BOUNCE:
        soft = set(current.get("soft_bounces") or [])
        soft.add(_soft_entry(fact))
        current["soft_bounces"] = sorted(soft)[-SOFT_BOUNCE_KEEP:]
        if _soft_trips(current["soft_bounces"], policy):
            suppressing = [_soft_summary(entry) for entry in current["soft_bounces"]]
    else:
        suppressing = [fact.summary()]
    if suppressing:
        reasons = set(current.get("reasons") or [])
        reasons.add(fact.reason)
        current["reasons"] = sorted(reasons)
        if fact.topics:
            topics = set(current.get("topics") or [])
            topics.update(fact.topics)
            current["topics"] = sorted(topics)
        else:
            current["all_campaigns"] = True
        for summary in suppressing:
            _fold(current, summary)
    current["status"] = SUPPRESSED if current.get("reasons") else WATCH
    current["scope"] = ALL if current.get("all_campaigns") or not current.get("topics") else TOPIC
    # Flattened for people reading the table and for `suppression export`.
    if current.get("first"):
        current["reason"] = current["first"]["reason"]
        current["first_at"] = current["first"]["at"]
        current["last_at"] = current["last"]["at"]
        current["campaign_id"] = current["first"].get("campaign_id")
    current["digest"] = digest(current)
    return current


def digest(record: dict[str, Any]) -> str:
    """A fingerprint of the content: the optimistic-lock token, equal for equal content."""
    # Empty values are left out: DynamoDB does not store them, and the digest must survive the trip.
    content = {k: v for k, v in record.items() if k != "digest" and v not in (None, [], {})}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:24]


def applies(record: dict[str, Any], topic: str | None) -> bool:
    """Does this record stop a send (of a campaign with ``topic``)?"""
    if record.get("status", SUPPRESSED) != SUPPRESSED:
        return False
    if record.get("scope", ALL) == ALL:
        return True
    return topic is not None and topic in set(record.get("topics") or [])


def facts_from_event(event: Any) -> list[tuple[str, Fact]]:
    """What an SES event (``domain.ses_events.SesEvent``) says about whom; [] for other kinds.

    Only the recipients the event names as bounced or complained are affected, never every
    address of the message.
    """
    source = "ses-notification" if event.source_format == "notification" else "ses-event"
    common = {"at": event.timestamp, "key": event.key, "campaign_id": event.campaign_id, "source": source}
    if event.kind == "bounce":
        detail = f"{event.bounce_type or 'Undetermined'}/{event.bounce_subtype or ''}".rstrip("/")
        reason = BOUNCE if event.is_hard_bounce else SOFT_BOUNCE
        return [(address, Fact(reason=reason, detail=detail, **common)) for address in event.recipients]
    if event.kind == "complaint":
        detail = event.complaint_type or event.complaint_subtype
        return [(address, Fact(reason=COMPLAINT, detail=detail, **common)) for address in event.recipients]
    if event.kind == "subscription" and (event.unsubscribe_all or event.topics_opted_out):
        topics = () if event.unsubscribe_all else tuple(sorted(event.topics_opted_out))
        detail = "all topics" if not topics else "topics: " + ", ".join(topics)
        return [
            (address, Fact(reason=UNSUBSCRIBE, detail=detail, topics=topics, **common)) for address in event.recipients
        ]
    return []
