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

Clicks per link and opens and clicks per hour (then per day) are claims too (a claim may add 1
to further counters, ``Claim.also``), so they are exactly once at no extra write per event. They
go to items of their own in the same commit transaction (one per time bucket, one for the run's
links, per shard), so the segment items the breaker reads stay small; a link item keeps at most
``MAX_LINKS`` links (personalised links are keyed by scheme, host and path) and sums the rest as
"other". Clicks on the engine's own unsubscribe link are counted apart: not engagement.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple
from urllib.parse import parse_qs, quote, urlsplit

from pydantic import BaseModel

from .ses_events import SesEvent, epoch_of

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
    # Clicks on the engine's own unsubscribe link: counted apart, never as engagement.
    "unsubscribe_click",
    "unique_unsubscribe_click",
)
# Kinds kept on the message item (a subscription change is an unsubscribe, counted once per run
# and address, see ``unsubscribe_key``).
RECORDED = ("send", "delivery", "bounce", "complaint", "reject", "rendering_failure", "delivery_delay", "open", "click")
ENGAGING = ("open", "click")
UNATTRIBUTED = "(unattributed)"
# Bounces are also counted per "type/subtype" (Permanent/General, Transient/MailboxFull, ...),
# in counters named with this prefix, so a report can show its top bounce reasons.
BOUNCE_REASON = "bounce_reason:"


# Per link and per time bucket, counters ride in the same commit as the run's counters but live in
# items of their own (``adapters.engagement``), so the segment items every breaker check reads
# stay small. Their names within a batch's increments:
LINK = "link:"  # link:<key>: clicks on the link (total)
UNIQUE_LINK = "ulink:"  # ulink:<key>: messages that clicked it (unique)
LINK_LABEL = "lbl:"  # lbl:<key>#<label>: clicks that carried this label (its linkTags)
TIMELINE = "t:"  # t:<bucket>:<open|unique_open|click|unique_click>
LINK_OTHER = "link_other"  # clicks on links beyond MAX_LINKS
UNIQUE_LINK_OTHER = "ulink_other"
TIMELINE_KINDS = ("open", "unique_open", "click", "unique_click")
# Distinct links kept per counter item (run and shard); further links are summed as "other", so
# no item nears DynamoDB's 400 KB (keys are at most MAX_LINK_KEY characters).
MAX_LINKS = 50
MAX_LINK_KEY = 200
# Hour buckets for the first HOURLY_DAYS after a message was sent, then day buckets until
# LATER_DAYS; anything later is one "later" bucket: a bounded number of counters per run.
HOURLY_DAYS = 3
LATER_DAYS = 60
LATER = "later"
UNSUBSCRIBE_LABEL = "unsubscribe"
UNPARSABLE_LINK = "(not a URL)"


def is_counter(name: str) -> bool:
    return (
        name in COUNTERS
        or name.startswith((BOUNCE_REASON, LINK, UNIQUE_LINK, LINK_LABEL, TIMELINE))
        or name
        in (
            LINK_OTHER,
            UNIQUE_LINK_OTHER,
        )
    )


def is_link_counter(name: str) -> bool:
    return name.startswith((LINK, UNIQUE_LINK, LINK_LABEL)) or name in (LINK_OTHER, UNIQUE_LINK_OTHER)


def is_timeline_counter(name: str) -> bool:
    return name.startswith(TIMELINE)


def link_key(url: str) -> str:
    """A link as counted: scheme, host and path, no query or fragment (links are personalised
    with per-recipient query strings), lower-case scheme and host, percent-quoted so the key has
    no "#" or spaces, at most MAX_LINK_KEY characters."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:  # "http://[::1", "http://h:port": not a URL, but a click all the same
        return UNPARSABLE_LINK
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    key = f"{parts.scheme.lower()}://{host}{path}" if parts.scheme else path
    return key[:MAX_LINK_KEY]


def link_label(tags: Mapping[str, str]) -> str | None:
    """The link's name from its linkTags (``name``, else ``label``), if it is a plain word: SES
    tag values are letters, digits, "_", "-" and "." anyway."""
    for name in ("name", "label"):
        value = tags.get(name)
        if value and len(value) <= 64 and all(c.isalnum() or c in "_-." for c in value):
            return value
    return None


def _b64_json(text: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error, UnicodeError):
        return None


def is_unsubscribe_link(url: str, tags: Mapping[str, str] | None = None, base_url: str | None = None) -> bool:
    """True for the engine's own unsubscribe link (``domain.tokens.unsubscribe_url``).

    The feedback function does not know the endpoint's URL (it is the unsubscribe function's
    own, which the shared settings cannot carry), so the link is known by its shape: a ``token``
    query parameter holding ``<payload>.<signature>`` whose payload is the token's JSON (an
    address and a campaign). Also when it starts with ``base_url`` or is tagged ``unsubscribe``."""
    if tags and link_label(tags) == UNSUBSCRIBE_LABEL:
        return True
    if base_url and url.startswith(base_url):
        return True
    try:
        tokens = parse_qs(urlsplit(url).query).get("token") or []
    except ValueError:
        return False
    for token in tokens:
        payload, dot, signature = token.partition(".")
        if not dot or not signature or "." in signature:
            continue
        body = _b64_json(payload)
        if isinstance(body, dict) and isinstance(body.get("a"), str) and isinstance(body.get("c"), str):
            return True
    return False


def bucket_of(event_time: str, sent_time: str | None) -> str:
    """The timeline bucket of an event: its UTC hour (``2026-01-01T10``) in the first
    HOURLY_DAYS after its message was sent, then its UTC day (``2026-01-04``), then LATER."""
    at = datetime.fromtimestamp(epoch_of(event_time), UTC)
    since = at - datetime.fromtimestamp(epoch_of(sent_time or event_time), UTC)
    # The year by hand, as in ``iso_millis``: buckets sort as text. An event more than an hour
    # before its own send is a clock gone wrong: it joins LATER rather than open a bucket of its own.
    day = f"{at.year:04d}-" + at.strftime("%m-%d")
    if timedelta(hours=-1) <= since < timedelta(days=HOURLY_DAYS):
        return day + at.strftime("T%H")
    if timedelta(0) <= since < timedelta(days=LATER_DAYS):
        return day
    return LATER


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
    holding the token of the invocation that counts it, ``counter`` what it adds 1 to, and
    ``also`` the further counters the same contribution adds 1 to (its link, its time bucket):
    counted with the claim, so exactly once too."""

    name: str
    counter: str
    also: tuple[str, ...] = ()

    @property
    def counters(self) -> tuple[str, ...]:
        return (self.counter, *self.also)


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
    if kind == "click":
        return _click_claims(event)
    if kind in ENGAGING:
        bucket = bucket_of(event.timestamp, event.mail_timestamp)
        return (
            Claim(f"{CLAIM_PREFIX}{kind}:{_digest(value_of(event))}", kind, (f"{TIMELINE}{bucket}:{kind}",)),
            Claim(f"{CLAIM_PREFIX}unique_{kind}", f"unique_{kind}"),
            _unique_in_bucket(kind, bucket),
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


def is_unsubscribe_click(event: SesEvent) -> bool:
    return event.kind == "click" and is_unsubscribe_link(event.link or "", event.link_tags)


def _click_claims(event: SesEvent) -> tuple[Claim, ...]:
    """A click: every distinct click and the first click of the message (unique), per link too
    (its total, and the first click of the message on it). A click on the unsubscribe link is
    counted apart (``unsubscribe_click``): it is not engagement, so not in the click rate."""
    this = f"{CLAIM_PREFIX}click:{_digest(value_of(event))}"
    if is_unsubscribe_click(event):
        return (
            Claim(this, "unsubscribe_click"),
            Claim(f"{CLAIM_PREFIX}unique_unsubscribe_click", "unique_unsubscribe_click"),
        )
    bucket = bucket_of(event.timestamp, event.mail_timestamp)
    key = link_key(event.link or "")
    label = link_label(event.link_tags)
    per_link = (f"{LINK}{key}",) + ((f"{LINK_LABEL}{key}#{label}",) if label else ())
    return (
        Claim(this, "click", (*per_link, f"{TIMELINE}{bucket}:click")),
        Claim(f"{CLAIM_PREFIX}unique_click", "unique_click"),
        _unique_in_bucket("click", bucket),
        Claim(f"{CLAIM_PREFIX}ulink:{_digest(key)}", f"{UNIQUE_LINK}{key}"),
    )


def _unique_in_bucket(kind: str, bucket: str) -> Claim:
    """The message opened (clicked) in this hour or day: one per message and bucket, so a
    bucket's unique count is the messages with an open (a click) in it, whatever the order the
    events arrive in (the run's unique count is the messages with any: not the buckets' sum)."""
    return Claim(f"{CLAIM_PREFIX}unique_{kind}@{bucket}", f"{TIMELINE}{bucket}:unique_{kind}")


def count_claims(claimed: Iterable[Claim]) -> dict[str, int]:
    """The counters ``claimed`` add up to."""
    out: dict[str, int] = {}
    for claim in claimed:
        for counter in claim.counters:
            out[counter] = out.get(counter, 0) + 1
    return out


class Split(NamedTuple):
    """A batch's increments for one run and segment, by the item they go to."""

    base: dict[str, int]  # the run's segment counter item
    timeline: dict[str, dict[str, int]]  # bucket -> {open, unique_open, click, unique_click}
    links: dict[str, int]  # link:, ulink:, lbl: and the "other" counters: the run's link item


def split(increments: Mapping[str, int]) -> Split:
    found = Split({}, {}, {})
    for name, value in increments.items():
        if not value:
            continue
        if is_timeline_counter(name):
            bucket, _, kind = name.removeprefix(TIMELINE).rpartition(":")
            per = found.timeline.setdefault(bucket, {})
            per[kind] = per.get(kind, 0) + value
        elif is_link_counter(name):
            found.links[name] = found.links.get(name, 0) + value
        elif is_counter(name):
            found.base[name] = found.base.get(name, 0) + value
    return found


def link_keys(links: Mapping[str, int]) -> set[str]:
    """The distinct links that ``links`` (a :class:`Split`'s) count."""
    keys = set()
    for name in links:
        if name.startswith(LINK):
            keys.add(name.removeprefix(LINK))
        elif name.startswith(UNIQUE_LINK):
            keys.add(name.removeprefix(UNIQUE_LINK))
        elif name.startswith(LINK_LABEL):
            keys.add(name.removeprefix(LINK_LABEL).rpartition("#")[0])
    return keys


def fold_links(links: Mapping[str, int], keep: set[str]) -> dict[str, int]:
    """``links`` with the counters of links not in ``keep`` summed into the "other" counters
    (their labels dropped): what a link item that is full takes."""
    out: dict[str, int] = {}
    for name, value in links.items():
        target: str | None = name
        if name.startswith(LINK) and name.removeprefix(LINK) not in keep:
            target = LINK_OTHER
        elif name.startswith(UNIQUE_LINK) and name.removeprefix(UNIQUE_LINK) not in keep:
            target = UNIQUE_LINK_OTHER
        elif name.startswith(LINK_LABEL) and name.removeprefix(LINK_LABEL).rpartition("#")[0] not in keep:
            target = None
        if target is not None:
            out[target] = out.get(target, 0) + value
    return out


def commit_items(pending: Iterable[tuple[str, Mapping[str, int]]]) -> int:
    """How many counter items a commit of ``pending`` ((run id, increments) per run and segment)
    writes: one per run and segment, and per run one per time bucket and one for its links."""
    segments = 0
    buckets: set[tuple[str, str]] = set()
    links: set[str] = set()
    for run_id, increments in pending:
        segments += 1
        parts = split(increments)
        buckets.update((run_id, bucket) for bucket in parts.timeline)
        if parts.links:
            links.add(run_id)
    return segments + len(buckets) + len(links)


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


class RateBasis(StrEnum):
    """What a rate is a share of: named next to every rate in the report, and on its page."""

    SENT = "sent"
    DELIVERED = "delivered"
    DELIVERED_OR_HARD_BOUNCED = "delivered+hard_bounced"


class Rate(BaseModel):
    rate: float | None
    of: RateBasis


def _rate(part: int, whole: int, of: RateBasis) -> dict[str, Any]:
    return Rate(rate=round(part / whole, 6) if whole else None, of=of).model_dump(mode="json")


def summary(counts: dict[str, int]) -> dict[str, Any]:
    """The report's words for the counters, each rate with its basis: delivery over sent
    (SES-accepted) mail, bounce over mail whose fate is known, the rest over delivered mail."""
    sent = counts.get("send", 0)
    delivered = counts.get("delivery", 0)
    hard = counts.get("hard_bounce", 0)
    return {
        "sent": sent,
        "delivered": delivered,
        "bounced": counts.get("bounce", 0),
        "hard_bounced": hard,
        "complained": counts.get("complaint", 0),
        "rejected": counts.get("reject", 0),
        "rendering_failures": counts.get("rendering_failure", 0),
        "delivery_delays": counts.get("delivery_delay", 0),
        "opened": counts.get("unique_open", 0),
        "opens": counts.get("open", 0),
        "clicked": counts.get("unique_click", 0),
        "clicks": counts.get("click", 0),
        "unsubscribed": counts.get("unsubscribe", 0),
        "unsubscribe_link_clicked": counts.get("unique_unsubscribe_click", 0),
        "unsubscribe_link_clicks": counts.get("unsubscribe_click", 0),
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
            "delivery": _rate(delivered, sent, RateBasis.SENT),
            "bounce": _rate(hard, delivered + hard, RateBasis.DELIVERED_OR_HARD_BOUNCED),
            "complaint": _rate(counts.get("complaint", 0), delivered, RateBasis.DELIVERED),
            "open": _rate(counts.get("unique_open", 0), delivered, RateBasis.DELIVERED),
            "click": _rate(counts.get("unique_click", 0), delivered, RateBasis.DELIVERED),
            "unsubscribe": _rate(counts.get("unsubscribe", 0), delivered, RateBasis.DELIVERED),
        },
    }


# -- per link and over time ------------------------------------------------------------------


class LinkClicks(BaseModel):
    """One row of the report's ``feedback.links``."""

    link: str
    label: str | None = None
    clicks: int = 0
    unique_clicks: int = 0
    unsubscribe: bool = False
    other: bool = False


OTHER_LINKS = "(other links)"
UNSUBSCRIBE_LINK = "(unsubscribe link)"


def links_report(
    items: Iterable[Mapping[str, Any]], totals: Mapping[str, int], top: int = MAX_LINKS
) -> list[LinkClicks]:
    """Clicks per link from a run's link items (every shard), most clicked first: the ``top``
    links, then the rest summed as "other links", then the unsubscribe link (from ``totals``)."""
    clicks: dict[str, int] = {}
    unique: dict[str, int] = {}
    labels: dict[str, dict[str, int]] = {}
    other = other_unique = 0
    for item in items:
        for name, raw in item.items():
            value = int(raw) if isinstance(raw, (int, float)) else 0
            if name.startswith(LINK):
                key = name.removeprefix(LINK)
                clicks[key] = clicks.get(key, 0) + value
            elif name.startswith(UNIQUE_LINK):
                key = name.removeprefix(UNIQUE_LINK)
                unique[key] = unique.get(key, 0) + value
            elif name.startswith(LINK_LABEL):
                key, _, label = name.removeprefix(LINK_LABEL).rpartition("#")
                per = labels.setdefault(key, {})
                per[label] = per.get(label, 0) + value
            elif name == LINK_OTHER:
                other += value
            elif name == UNIQUE_LINK_OTHER:
                other_unique += value
    ranked = sorted(set(clicks) | set(unique), key=lambda key: (-clicks.get(key, 0), key))
    rows = []
    for key in ranked[:top]:
        named = labels.get(key) or {}
        best = min(named, key=lambda name: (-named[name], name)) if named else None
        rows.append(LinkClicks(link=key, label=best, clicks=clicks.get(key, 0), unique_clicks=unique.get(key, 0)))
    for key in ranked[top:]:
        other += clicks.get(key, 0)
        other_unique += unique.get(key, 0)
    if other or other_unique:
        rows.append(LinkClicks(link=OTHER_LINKS, clicks=other, unique_clicks=other_unique, other=True))
    if totals.get("unsubscribe_click") or totals.get("unique_unsubscribe_click"):
        rows.append(
            LinkClicks(
                link=UNSUBSCRIBE_LINK,
                label=UNSUBSCRIBE_LABEL,
                clicks=int(totals.get("unsubscribe_click", 0)),
                unique_clicks=int(totals.get("unique_unsubscribe_click", 0)),
                unsubscribe=True,
            )
        )
    return rows


class TimelineBucket(BaseModel):
    """Opens and clicks in one hour or day (UTC): every event (``opens``), and the messages with
    at least one in the bucket (``unique_opens``; a message opened in two hours is in both)."""

    start: str | None  # ISO-8601 UTC; None for the LATER bucket
    hours: int | None  # 1 or 24; None for LATER
    opens: int = 0
    unique_opens: int = 0
    clicks: int = 0
    unique_clicks: int = 0


_TIMELINE_FIELDS = {"open": "opens", "unique_open": "unique_opens", "click": "clicks", "unique_click": "unique_clicks"}


def timeline_report(items: Iterable[Mapping[str, Any]]) -> list[TimelineBucket]:
    """A run's time buckets (every shard) in time order. An hour whose day is also a day bucket
    (messages sent hours apart cross the hourly limit at different times) joins that day."""
    sums: dict[str, dict[str, int]] = {}
    for item in items:
        bucket = item.get("bucket")
        if not isinstance(bucket, str):
            continue
        into = sums.setdefault(bucket, dict.fromkeys(_TIMELINE_FIELDS.values(), 0))
        for kind, field_name in _TIMELINE_FIELDS.items():
            into[field_name] += int(item.get(kind, 0))
    for bucket in [name for name in sums if "T" in name and name[:10] in sums]:
        day = sums[bucket[:10]]
        for field_name, value in sums.pop(bucket).items():
            day[field_name] += value
    rows = []
    for bucket in sorted(sums, key=lambda name: (name == LATER, name)):
        if bucket == LATER:
            start, hours = None, None
        elif "T" in bucket:
            start, hours = f"{bucket}:00:00Z", 1
        else:
            start, hours = f"{bucket}T00:00:00Z", 24
        rows.append(TimelineBucket(start=start, hours=hours, **sums[bucket]))
    return rows
