"""SES event records, as the suppression and engagement functions receive them, made into
:class:`SesEvent`.

Two formats reach the same SNS topic: event publishing of a configuration set (``eventType``,
with the message's tags) and identity feedback notifications (``notificationType``: Bounce,
Complaint and Delivery only, no tags). Records arrive wrapped in an SNS envelope (the body of an
SQS message), or bare with raw message delivery; :func:`unwrap` accepts both.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from campaign_engine.domain.addresses import InvalidAddress, normalise, redact
from campaign_engine.domain.validation import TOO_DEEP

__all__ = ["KINDS", "MalformedEvent", "SesEvent", "parse", "unwrap"]

KINDS = (
    "send",
    "delivery",
    "bounce",
    "complaint",
    "reject",
    "rendering_failure",
    "delivery_delay",
    "open",
    "click",
    "subscription",
)

# eventType -> (kind, member holding the type-specific object)
_EVENT_TYPES = {
    "Send": ("send", "send"),
    "Delivery": ("delivery", "delivery"),
    "Bounce": ("bounce", "bounce"),
    "Complaint": ("complaint", "complaint"),
    "Reject": ("reject", "reject"),
    "Rendering Failure": ("rendering_failure", "failure"),
    "DeliveryDelay": ("delivery_delay", "deliveryDelay"),
    "Open": ("open", "open"),
    "Click": ("click", "click"),
    "Subscription": ("subscription", "subscription"),
}
_NOTIFICATION_TYPES = {name: _EVENT_TYPES[name] for name in ("Bounce", "Complaint", "Delivery")}

# kind -> (path of the recipient list inside the type-specific object, entries are objects)
_RECIPIENT_LISTS = {
    "bounce": ("bouncedRecipients", True),
    "complaint": ("complainedRecipients", True),
    "delivery_delay": ("delayedRecipients", True),
    "delivery": ("recipients", False),
}


class MalformedEvent(ValueError):
    """The record cannot be read; the message names the field path and what is wrong."""


@dataclass(frozen=True)
class SesEvent:
    kind: str
    message_id: str
    timestamp: str
    recipients: tuple[str, ...]
    tags: dict[str, str]
    source_format: str
    bounce_type: str | None = None
    bounce_subtype: str | None = None
    complaint_type: str | None = None
    complaint_subtype: str | None = None
    feedback_id: str | None = None
    link: str | None = None
    # A Click's ``linkTags`` (``ses:tags="name:offer;"`` on the link), first value of each tag.
    link_tags: dict[str, str] = field(default_factory=dict)
    unsubscribe_all: bool = False
    topics_opted_out: tuple[str, ...] = ()
    diagnostic: str | None = None
    # When SES accepted the message (mail.timestamp): the same for every event of a message,
    # so what is derived from it (the engagement item's expiry) does not depend on event order.
    mail_timestamp: str | None = None

    @property
    def key(self) -> str:
        """The event's identity, the same when SES or SNS delivers it again and in both
        formats. Feedback id, link and recipients go in as a hash: bounded length, no address."""
        detail = "\n".join([self.feedback_id or "", self.link or "", *sorted(self.recipients)])
        digest = hashlib.sha256(detail.encode("utf-8")).hexdigest()[:16]
        return f"{self.kind}:{self.message_id}:{self.timestamp}:{digest}"

    @property
    def is_hard_bounce(self) -> bool:
        return self.kind == "bounce" and self.bounce_type == "Permanent"

    @property
    def campaign_id(self) -> str | None:
        return self.tags.get("campaign")

    @property
    def run_id(self) -> str | None:
        return self.tags.get("run")

    @property
    def segment(self) -> str | None:
        return self.tags.get("segment")


def unwrap(body: str | dict[str, Any]) -> dict[str, Any]:
    """The SES record inside an SQS message body, an SNS envelope, a Lambda SNS event record
    or an SQS event record; a bare SES record (raw message delivery) is returned as it is."""
    record = _json_object(body, "body") if isinstance(body, str) else body
    if not isinstance(record, dict):
        raise MalformedEvent(f"body: expected a JSON object, got {type(record).__name__}")
    if record.get("eventSource") == "aws:sqs" and "body" in record:
        # One level only: SQS wraps once, and a body that is again an SQS record (nested as
        # deep as json allows) is not SES's, so no recursion per level here.
        inner = record["body"]
        record = _json_object(inner, "body.body") if isinstance(inner, str) else inner
        if not isinstance(record, dict):
            raise MalformedEvent(f"body.body: expected a JSON object, got {type(record).__name__}")
    if isinstance(record.get("Sns"), dict):  # a record of a Lambda SNS event
        record = record["Sns"]
    if "Message" in record and "Type" in record:
        if record["Type"] != "Notification":
            raise MalformedEvent(f"Type: SNS {record['Type']!r} message is not an SES record")
        message = record["Message"]
        record = _json_object(message, "Message") if isinstance(message, str) else message
        if not isinstance(record, dict):
            raise MalformedEvent("Message: expected a JSON object")
    if "eventType" not in record and "notificationType" not in record:
        raise MalformedEvent("eventType: missing (nor notificationType): not an SES record")
    return record


def parse(record: dict[str, Any]) -> SesEvent | None:
    """The event in an SES record, or None for a type this pipeline does not handle
    (``AmazonSnsSubscriptionSucceeded``, an event type added later)."""
    if not isinstance(record, dict):
        raise MalformedEvent(f"record: expected an object, got {type(record).__name__}")
    if "eventType" in record:
        source_format, type_field, types = "event", "eventType", _EVENT_TYPES
    elif "notificationType" in record:
        source_format, type_field, types = "notification", "notificationType", _NOTIFICATION_TYPES
    else:
        raise MalformedEvent("eventType: missing (nor notificationType)")
    known = types.get(record[type_field]) if isinstance(record[type_field], str) else None
    if known is None:
        return None
    kind, member = known

    mail = _object(record, "mail", "mail")
    message_id = mail.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise MalformedEvent("mail.messageId: missing or not a string")
    detail = _object(record, member, member)
    raw_time = detail.get("timestamp") or mail.get("timestamp")
    where = f"{member}.timestamp" if detail.get("timestamp") else "mail.timestamp"
    fields: dict[str, Any] = {
        "kind": kind,
        "message_id": message_id,
        "timestamp": _timestamp(raw_time, where),
        "recipients": _recipients(kind, member, detail, mail),
        "tags": _tags(mail.get("tags")) if source_format == "event" else {},
        "source_format": source_format,
        "mail_timestamp": _timestamp(mail["timestamp"], "mail.timestamp") if mail.get("timestamp") else None,
    }
    fields.update(_details(kind, member, detail))
    return SesEvent(**fields)


# --------------------------------------------------------------------------- helpers


def _json_object(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise MalformedEvent(f"{where}: not JSON ({exc.__class__.__name__}: {exc})") from None
    except RecursionError:  # thousands of levels: nothing SES writes
        raise MalformedEvent(f"{where}: {TOO_DEEP}") from None


def _object(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        raise MalformedEvent(f"{where}: missing")
    if not isinstance(value, dict):
        raise MalformedEvent(f"{where}: expected an object, got {type(value).__name__}")
    return value


_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def _timestamp(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise MalformedEvent(f"{where}: missing or not a string")
    text = _FRACTION.sub(r"\1", raw.strip(), count=1)  # fromisoformat takes at most 6 digits
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedEvent(f"{where}: {raw!r} is not an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return iso_millis(moment)
    except OverflowError:  # year 1 or 9999 with an offset that moves it out of datetime's range
        raise MalformedEvent(f"{where}: {raw!r} is out of range in UTC") from None


def iso_millis(moment: datetime) -> str:
    """UTC to the millisecond with a "Z", as SES writes its timestamps: the one form every
    stored time takes, so times sort as text."""
    moment = moment.astimezone(UTC)
    # The year by hand: strftime's %Y drops the leading zeros of years before 1000 on Linux.
    return f"{moment.year:04d}-" + moment.strftime("%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch_of(text: str) -> float:
    """Seconds since the epoch of an ``iso_millis`` time."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# A recipient entry is an address, perhaps with a display name: SES never writes one longer than
# a header line (RFC 5322: 998 characters). Longer text is not parsed at all: parseaddr takes
# seconds on 300 KB of "@" (found by tests/fuzz), longer than a feedback function has for a batch.
_MAX_RECIPIENT = 998


def _normalised(raw: Any) -> str | None:
    if not isinstance(raw, str) or len(raw) > _MAX_RECIPIENT:
        return None
    try:
        return normalise(parseaddr(raw)[1])
    except InvalidAddress:
        return None


def _recipients(kind: str, member: str, detail: dict[str, Any], mail: dict[str, Any]) -> tuple[str, ...]:
    if kind in _RECIPIENT_LISTS:
        name, entries_are_objects = _RECIPIENT_LISTS[kind]
        where, entries = f"{member}.{name}", detail.get(name)
        if entries_are_objects:
            entries = [e.get("emailAddress") if isinstance(e, dict) else None for e in _list(entries, where)]
    else:
        where, entries = "mail.destination", mail.get("destination")
    found: list[str] = []
    for entry in _list(entries, where):
        address = _normalised(entry)
        if address is not None and address not in found:
            found.append(address)
    return tuple(found)


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        raise MalformedEvent(f"{where}: missing")
    if not isinstance(value, list):
        raise MalformedEvent(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _tags(raw: Any) -> dict[str, str]:
    # Lenient: a malformed tag must not cost a bounce or a complaint.
    if not isinstance(raw, dict):
        return {}
    tags: dict[str, str] = {}
    for name, values in raw.items():
        if isinstance(values, list) and values and isinstance(values[0], str):
            tags[name] = values[0]
        elif isinstance(values, str):
            tags[name] = values
    return tags


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _first_diagnostic(entries: Any) -> str | None:
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and _text(entry.get("diagnosticCode")):
            return redact(entry["diagnosticCode"])
    return None


def _details(kind: str, member: str, detail: dict[str, Any]) -> dict[str, Any]:
    if kind == "bounce":
        return {
            "bounce_type": _text(detail.get("bounceType")),
            "bounce_subtype": _text(detail.get("bounceSubType")),
            "feedback_id": _text(detail.get("feedbackId")),
            "diagnostic": _first_diagnostic(detail.get("bouncedRecipients")),
        }
    if kind == "complaint":
        return {
            "complaint_type": _text(detail.get("complaintFeedbackType")),
            "complaint_subtype": _text(detail.get("complaintSubType")),
            "feedback_id": _text(detail.get("feedbackId")),
        }
    if kind == "click":
        # Lenient like the message tags: a malformed tag must not cost the click.
        return {"link": _text(detail.get("link")), "link_tags": _tags(detail.get("linkTags"))}
    if kind == "reject":
        reason = _text(detail.get("reason"))
        return {"diagnostic": redact(reason) if reason else None}
    if kind == "rendering_failure":
        error = _text(detail.get("errorMessage"))
        return {"diagnostic": redact(error) if error else None}
    if kind == "delivery_delay":
        return {"diagnostic": _first_diagnostic(detail.get("delayedRecipients"))}
    if kind == "subscription":
        return _subscription(member, detail)
    return {}


def _subscription(member: str, detail: dict[str, Any]) -> dict[str, Any]:
    preferences = detail.get("newTopicPreferences")
    if preferences is None:
        return {}
    if not isinstance(preferences, dict):
        raise MalformedEvent(f"{member}.newTopicPreferences: expected an object")
    statuses = preferences.get("topicSubscriptionStatus") or []
    if not isinstance(statuses, list):
        raise MalformedEvent(f"{member}.newTopicPreferences.topicSubscriptionStatus: expected a list")
    opted_out = tuple(
        status["topicName"]
        for status in statuses
        if isinstance(status, dict)
        and status.get("subscriptionStatus") == "OptOut"
        and isinstance(status.get("topicName"), str)
    )
    return {"unsubscribe_all": preferences.get("unsubscribeAll") is True, "topics_opted_out": opted_out}
