"""SES event records as real SES publishes them, for the local SES and for tests.

:func:`event_records` applies the rules below to one message; the ``*_record`` builders make
any single record (also for addresses never sent to, e.g. a previous system's bounces), and
:func:`notification` turns a Bounce, Complaint or Delivery record into the identity
feedback-notification format. :func:`sns_envelope` and :func:`sqs_event` wrap records as the
functions receive them through SNS -> SQS.

Mailbox simulator (domain ``simulator.amazonses.com``; ``+label`` allowed in the local part):

- ``success@``, ``ooto@`` and any address outside the simulator: Send, Delivery;
- ``bounce@``: Send, Bounce (Permanent/General);
- ``complaint@``: Send, Delivery, Complaint (abuse);
- ``suppressionlist@``, and any recipient the account-level suppression list dropped: Send,
  Bounce (Permanent/OnAccountSuppressionList);
- a message that failed to render: Send, Rendering Failure.

Opens and clicks are deterministic and only for delivered recipients: a ``+open`` or ``+click``
label (``success+click@simulator.amazonses.com``, ``jane+open@example.com``), or a sha256 of
the address (salted separately for opens and clicks, so stable across runs) under
``open_share`` / ``click_share``. A click implies an open before it. The clicked link is the
first ``href`` of the HTML, else ``https://example.com/``. Which links: ``+clickN`` clicks the
N-th link (``+click2``), ``+clickall`` every link, ``+clickunsub`` the unsubscribe link (tagged
``ses:tags="name:unsubscribe"``, else the first link with a ``token`` query parameter or
"unsubscribe" in it); labels combine (``ann+click1+click2+clickunsub@example.com``), one Click
event per link, a second apart. Each Click carries the link as written and its ``linkTags``
(from the anchor's ``ses:tags="name:offer;"``, as SES reads them).

Event times are the send time plus fixed offsets (:data:`OFFSETS`), so ordering by timestamp
is meaningful.
"""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

__all__ = [
    "EVENT_TYPES",
    "OFFSETS",
    "SIMULATOR_DOMAIN",
    "Message",
    "api_event_type",
    "bounce_record",
    "click_record",
    "clicked_links",
    "clicks",
    "complaint_record",
    "delivery_delay_record",
    "delivery_record",
    "event_records",
    "first_link",
    "links",
    "notification",
    "open_record",
    "opens",
    "reject_record",
    "rendering_failure_record",
    "send_record",
    "simulated_events",
    "sns_envelope",
    "sqs_event",
    "subscription_record",
]

SIMULATOR_DOMAIN = "simulator.amazonses.com"
DEFAULT_LINK = "https://example.com/"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"

#: eventType -> the SES v2 ``EventType`` (``MatchingEventTypes``) that selects it.
EVENT_TYPES = {
    "Send": "SEND",
    "Reject": "REJECT",
    "Bounce": "BOUNCE",
    "Complaint": "COMPLAINT",
    "Delivery": "DELIVERY",
    "Open": "OPEN",
    "Click": "CLICK",
    "Rendering Failure": "RENDERING_FAILURE",
    "DeliveryDelay": "DELIVERY_DELAY",
    "Subscription": "SUBSCRIPTION",
}
#: Seconds after the send at which each kind of event happens.
OFFSETS = {
    "Send": 0.0,
    "Reject": 0.0,
    "Rendering Failure": 0.0,
    "Delivery": 1.0,
    "Bounce": 2.0,
    "Complaint": 5.0,
    "Open": 60.0,
    "Click": 90.0,
    "Subscription": 120.0,
    "DeliveryDelay": 600.0,
}
# SES v1 / CloudFormation spell event types in camelCase; the v2 API in capitals.
_V1_EVENT_TYPES = {
    "send": "SEND",
    "reject": "REJECT",
    "bounce": "BOUNCE",
    "complaint": "COMPLAINT",
    "delivery": "DELIVERY",
    "open": "OPEN",
    "click": "CLICK",
    "renderingfailure": "RENDERING_FAILURE",
    "deliverydelay": "DELIVERY_DELAY",
    "subscription": "SUBSCRIPTION",
}

# Documentation addresses (RFC 5737) and values shaped like SES's.
_SOURCE_IP = "192.0.2.0"
_OUTGOING_IP = "192.0.2.10"
_OPENER_IP = "192.0.2.1"
_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)
_REPORTING_MTA = "a8-70.smtp-out.amazonses.com"
_SUPPRESSED_DIAGNOSTIC = (
    "Amazon SES did not send the message to this address because it is on the suppression list for your "
    "account. For more information about removing addresses from the suppression list, see the Amazon SES "
    "Developer Guide at https://docs.aws.amazon.com/ses/latest/dg/sending-email-suppression-list.html"
)
_HREF = re.compile(r"""<a\s[^>]*?href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_ANCHOR = re.compile(r"<a\s([^>]*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CLICK_LABEL = re.compile(r"click(\d+|all|unsub)")


def api_event_type(name: str) -> str:
    """The SES v2 ``EventType`` for an event type name in either API's spelling
    (``SEND`` or ``send``, ``RENDERING_FAILURE`` or ``renderingFailure``); ValueError otherwise."""
    if name in EVENT_TYPES.values():
        return name
    try:
        return _V1_EVENT_TYPES[name.replace("_", "").lower()]
    except KeyError:
        raise ValueError(f"unknown event type {name!r}") from None


# --------------------------------------------------------------------------- the message


@dataclass(frozen=True)
class Message:
    """What SES knows of one sent message. ``timestamp`` is the send time in epoch seconds;
    an empty ``message_id`` is derived from the rest, so records built twice are equal."""

    to: tuple[str, ...]
    timestamp: float
    source: str = "News <news@example.com>"
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    subject: str | None = None
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    configuration_set: str | None = None
    template: str | None = None
    message_id: str = ""
    account_id: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    #: The verified identity that authorised the sender; the sender's domain by default.
    source_identity: str | None = None
    caller_identity: str = "campaign-local"

    def __post_init__(self) -> None:
        for name in ("to", "cc", "bcc", "reply_to"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, (value,))
            else:
                object.__setattr__(self, name, tuple(value))
        if not self.message_id:
            seed = json.dumps([self.to, self.cc, self.bcc, self.timestamp, self.source, sorted(self.tags.items())])
            object.__setattr__(self, "message_id", _ses_id(self.timestamp, seed))

    @property
    def destination(self) -> list[str]:
        return [_bare(address) for address in (*self.to, *self.cc, *self.bcc)]

    @classmethod
    def from_sent(
        cls, sent: Mapping[str, Any], account_id: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION
    ) -> Message:
        """From one of ``campaign_local.ses.sent_messages()``."""
        return cls(
            to=tuple(sent.get("to") or ()),
            cc=tuple(sent.get("cc") or ()),
            bcc=tuple(sent.get("bcc") or ()),
            timestamp=_epoch(sent["timestamp"]),
            source=sent["from"],
            reply_to=tuple(sent.get("reply_to") or ()),
            subject=sent.get("subject"),
            html=sent.get("html"),
            headers=dict(sent.get("headers") or {}),
            tags=dict(sent.get("tags") or {}),
            configuration_set=sent.get("configuration_set"),
            template=sent.get("template"),
            message_id=sent["message_id"],
            account_id=account_id,
            region=region,
        )


# --------------------------------------------------------------------------- simulator rules


def _local_part_and_labels(address: str) -> tuple[str, set[str], str]:
    local, _, domain = _bare(address).lower().rpartition("@")
    name, *labels = local.split("+")
    return name, set(labels), domain


def _fate(address: str) -> str:
    """delivered, complaint (delivered, then complained), bounce or suppressed."""
    name, _, domain = _local_part_and_labels(address)
    if domain != SIMULATOR_DOMAIN:
        return "delivered"
    return {"bounce": "bounce", "suppressionlist": "suppressed", "complaint": "complaint"}.get(name, "delivered")


def simulated_events(address: str) -> tuple[str, ...]:
    """The eventTypes SES publishes for a message to ``address``, opens and clicks aside."""
    return {
        "delivered": ("Send", "Delivery"),
        "complaint": ("Send", "Delivery", "Complaint"),
        "bounce": ("Send", "Bounce"),
        "suppressed": ("Send", "Bounce"),
    }[_fate(address)]


def _share_hit(salt: str, address: str, share: float) -> bool:
    if share <= 0.0:
        return False
    digest = hashlib.sha256(f"{salt}:{_bare(address).lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def clicks(address: str, click_share: float = 0.0) -> bool:
    """True when the recipient clicks (if delivered): a ``+click`` (``+clickN``, ``+clickall``,
    ``+clickunsub``) label or the hash rule."""
    labels = _local_part_and_labels(address)[1]
    return any(label == "click" or _CLICK_LABEL.fullmatch(label) for label in labels) or _share_hit(
        "click", address, click_share
    )


def links(html: str | None) -> list[tuple[str, dict[str, list[str]]]]:
    """Every link of ``html`` in order: its ``href`` and its linkTags (``ses:tags="a:b;c:d;"``)."""
    found = []
    for anchor in _ANCHOR.finditer(html or ""):
        attributes = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _ATTRIBUTE.finditer(anchor.group(1))
        }
        href = html_lib.unescape(attributes.get("href") or "").strip()
        if not href:
            continue
        tags: dict[str, list[str]] = {}
        for pair in (attributes.get("ses:tags") or "").split(";"):
            name, _, value = pair.partition(":")
            if name.strip() and value.strip():
                tags.setdefault(name.strip(), []).append(value.strip())
        found.append((href, tags))
    return found


def _is_unsubscribe(href: str, tags: Mapping[str, list[str]]) -> bool:
    return "unsubscribe" in tags.get("name", []) or "token=" in href or "unsubscribe" in href.lower()


def clicked_links(address: str, html: str | None, click_share: float = 0.0) -> list[tuple[str, dict[str, list[str]]]]:
    """The links ``address`` clicks (if delivered), in click order, by the rules above."""
    if not clicks(address, click_share):
        return []
    found = links(html)
    if not found:
        return [(DEFAULT_LINK, {})]
    labels = _local_part_and_labels(address)[1]
    chosen: list[int] = []
    for label in sorted(labels):
        match = _CLICK_LABEL.fullmatch(label)
        if match is None:
            continue
        which = match.group(1)
        if which == "all":
            chosen += range(len(found))
        elif which == "unsub":
            chosen += [next((i for i, (href, tags) in enumerate(found) if _is_unsubscribe(href, tags)), 0)]
        elif 1 <= int(which) <= len(found):
            chosen.append(int(which) - 1)
    if not chosen:  # ``+click`` or the hash rule: the first link, as before
        chosen = [0]
    return [found[i] for i in sorted(set(chosen))]


def opens(address: str, open_share: float = 0.0, click_share: float = 0.0) -> bool:
    """True when the recipient opens (if delivered): a ``+open`` label, the hash rule, or a click."""
    labelled = "open" in _local_part_and_labels(address)[1]
    return labelled or _share_hit("open", address, open_share) or clicks(address, click_share)


def first_link(html: str | None) -> str:
    match = _HREF.search(html or "")
    return match.group(1) if match else DEFAULT_LINK


def event_records(
    message: Message,
    *,
    open_share: float = 0.0,
    click_share: float = 0.0,
    suppressed: Iterable[str] = (),
    rendering_error: str | None = None,
) -> list[dict[str, Any]]:
    """Every record SES publishes for ``message``, in timestamp order.

    ``suppressed``: recipients the account-level suppression list dropped; ``rendering_error``:
    the message failed to render (nobody gets it)."""
    records = [send_record(message)]
    if rendering_error is not None:
        records.append(rendering_failure_record(message, rendering_error))
        return records
    dropped = {_bare(address).lower() for address in suppressed}
    for address in message.destination:
        fate = "suppressed" if address.lower() in dropped else _fate(address)
        if fate == "suppressed":
            records.append(bounce_record(message, [address], subtype="OnAccountSuppressionList"))
            continue
        if fate == "bounce":
            records.append(bounce_record(message, [address]))
            continue
        records.append(delivery_record(message, [address]))
        if fate == "complaint":
            records.append(complaint_record(message, [address]))
        if opens(address, open_share, click_share):
            records.append(open_record(message))
        for index, (href, tags) in enumerate(clicked_links(address, message.html, click_share)):
            records.append(click_record(message, href, tags=tags, after=OFFSETS["Click"] + index))
    records.sort(key=lambda record: OFFSETS[record["eventType"]])  # stable: recipients keep their order
    return records


# --------------------------------------------------------------------------- record builders


def send_record(message: Message) -> dict[str, Any]:
    # A templated message's subject is rendered after the Send event.
    return {"eventType": "Send", "mail": _mail(message, subject=message.template is None), "send": {}}


def delivery_record(
    message: Message, recipients: Iterable[str] | None = None, *, after: float | None = None
) -> dict[str, Any]:
    at = _at(message, "Delivery", after)
    return {
        "eventType": "Delivery",
        "mail": _mail(message, outgoing=True),
        "delivery": {
            "timestamp": _iso(at),
            "processingTimeMillis": round((at - message.timestamp) * 1000),
            "recipients": _recipients(message, recipients),
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": _REPORTING_MTA,
        },
    }


def bounce_record(
    message: Message,
    recipients: Iterable[str] | None = None,
    *,
    bounce_type: str = "Permanent",
    subtype: str = "General",
    status: str | None = None,
    diagnostic: str | None = None,
    after: float | None = None,
) -> dict[str, Any]:
    """A Bounce. ``subtype="OnAccountSuppressionList"`` is SES's own bounce of a suppressed
    recipient (never sent, so no outgoing IP and SES's own wording)."""
    addresses = _recipients(message, recipients)
    suppressed = subtype == "OnAccountSuppressionList"
    if status is None:
        status = "4.4.7" if bounce_type == "Transient" else "5.1.1"
    if diagnostic is None:
        diagnostic = _SUPPRESSED_DIAGNOSTIC if suppressed else f"smtp; {status[0]}50 {status} user unknown"
    at = _at(message, "Bounce", after)
    bounced = [
        {"emailAddress": address, "action": "failed", "status": status, "diagnosticCode": diagnostic}
        for address in addresses
    ]
    return {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": subtype,
            "bouncedRecipients": bounced,
            "timestamp": _iso(at),
            "feedbackId": _feedback_id(message, "Bounce", addresses, at),
            "reportingMTA": "dns; amazonses.com" if suppressed else f"dsn; {_REPORTING_MTA}",
        },
        "mail": _mail(message, outgoing=not suppressed),
    }


def complaint_record(
    message: Message,
    recipients: Iterable[str] | None = None,
    *,
    feedback_type: str | None = "abuse",
    after: float | None = None,
) -> dict[str, Any]:
    addresses = _recipients(message, recipients)
    at = _at(message, "Complaint", after)
    complaint: dict[str, Any] = {
        "complainedRecipients": [{"emailAddress": address} for address in addresses],
        "timestamp": _iso(at),
        "feedbackId": _feedback_id(message, "Complaint", addresses, at),
        "userAgent": "Amazon SES Mailbox Simulator",
        "arrivalDate": _iso(at),
    }
    if feedback_type is not None:
        complaint["complaintFeedbackType"] = feedback_type
    return {"eventType": "Complaint", "complaint": complaint, "mail": _mail(message, outgoing=True)}


def open_record(message: Message, *, after: float | None = None) -> dict[str, Any]:
    at = _at(message, "Open", after)
    return {
        "eventType": "Open",
        "mail": _mail(message, outgoing=True),
        "open": {"ipAddress": _OPENER_IP, "timestamp": _iso(at), "userAgent": _USER_AGENT},
    }


def click_record(
    message: Message,
    link: str | None = None,
    *,
    tags: Mapping[str, list[str]] | None = None,
    after: float | None = None,
) -> dict[str, Any]:
    """A Click on ``link`` (the first link of the HTML by default) with its linkTags (those of
    that link in the HTML unless ``tags`` says)."""
    at = _at(message, "Click", after)
    href = link or first_link(message.html)
    if tags is None:
        tags = next((found for candidate, found in links(message.html) if candidate == href), {})
    return {
        "eventType": "Click",
        "click": {
            "ipAddress": _OPENER_IP,
            "link": href,
            "linkTags": {name: list(values) for name, values in tags.items()},
            "timestamp": _iso(at),
            "userAgent": _USER_AGENT,
        },
        "mail": _mail(message, outgoing=True),
    }


def rendering_failure_record(message: Message, error: str, template: str | None = None) -> dict[str, Any]:
    return {
        "eventType": "Rendering Failure",
        "mail": _mail(message, headers=False),
        "failure": {"errorMessage": error, "templateName": template or message.template or ""},
    }


def reject_record(message: Message, reason: str = "Bad content") -> dict[str, Any]:
    return {"eventType": "Reject", "mail": _mail(message), "reject": {"reason": reason}}


def delivery_delay_record(
    message: Message,
    recipients: Iterable[str] | None = None,
    *,
    delay_type: str = "TransientCommunicationFailure",
    after: float | None = None,
) -> dict[str, Any]:
    at = _at(message, "DeliveryDelay", after)
    delayed = [
        {
            "emailAddress": address,
            "status": "4.4.1",
            "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
        }
        for address in _recipients(message, recipients)
    ]
    return {
        "eventType": "DeliveryDelay",
        "mail": _mail(message, headers=False, outgoing=True),
        "deliveryDelay": {
            "timestamp": _iso(at),
            "delayType": delay_type,
            "expirationTime": _iso(message.timestamp + 86_400),
            "delayedRecipients": delayed,
        },
    }


def subscription_record(
    message: Message,
    *,
    contact_list: str = "campaign-engine",
    unsubscribe_all: bool = True,
    topics: Mapping[str, str] | None = None,
    old_topics: Mapping[str, str] | None = None,
    source: str = "UnsubscribeHeader",
    after: float | None = None,
) -> dict[str, Any]:
    """SES list management's unsubscribe. ``topics`` (topic -> ``OptIn``/``OptOut``) are the new
    preferences, ``old_topics`` those before (default: every topic opted in)."""
    new = dict(topics or {})
    old = dict(old_topics) if old_topics is not None else dict.fromkeys(new, "OptIn")
    at = _at(message, "Subscription", after)
    return {
        "eventType": "Subscription",
        "mail": _mail(message),
        "subscription": {
            "contactList": contact_list,
            "timestamp": _iso(at),
            "source": source,
            "newTopicPreferences": _preferences(unsubscribe_all, new),
            "oldTopicPreferences": _preferences(False, old),
        },
    }


def notification(record: Mapping[str, Any]) -> dict[str, Any]:
    """A Bounce, Complaint or Delivery event record in the identity feedback-notification
    format: ``notificationType``, and a ``mail`` with the sender's IP and no tags."""
    event_type = record["eventType"]
    if event_type not in ("Bounce", "Complaint", "Delivery"):
        raise ValueError(f"identity notifications have no {event_type} type")
    mail = {key: value for key, value in record["mail"].items() if key != "tags"}
    tags = record["mail"].get("tags", {})
    mail["sourceIp"] = tags.get("ses:source-ip", [_SOURCE_IP])[0]
    mail["callerIdentity"] = tags.get("ses:caller-identity", ["campaign-local"])[0]
    out: dict[str, Any] = {"notificationType": event_type}
    member = event_type.lower()
    out[member] = dict(record[member])
    if event_type in ("Bounce", "Delivery"):
        out[member]["remoteMtaIp"] = "198.51.100.1"
    out["mail"] = mail
    return out


# --------------------------------------------------------------------------- SNS and SQS


def sns_envelope(
    record: Mapping[str, Any] | str,
    topic_arn: str,
    *,
    message_id: str | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """The SNS notification an SQS subscription (without raw delivery) receives. Defaults are
    derived from the record, so the same record gives the same envelope."""
    body = record if isinstance(record, str) else json.dumps(record, separators=(",", ":"))
    digest = hashlib.sha256(f"{topic_arn}\n{body}".encode()).digest()
    region = topic_arn.split(":")[3]
    if timestamp is None:
        timestamp = _record_time(record) if not isinstance(record, str) else _iso(0)
    return {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.UUID(bytes=digest[:16], version=4)),
        "TopicArn": topic_arn,
        "Message": body,
        "Timestamp": timestamp,
        "SignatureVersion": "1",
        "Signature": base64.b64encode(hashlib.sha512(digest).digest() * 4).decode(),
        "SigningCertURL": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-"
        f"{hashlib.md5(region.encode(), usedforsecurity=False).hexdigest()}.pem",
        "UnsubscribeURL": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
        f"{topic_arn}:{uuid.UUID(bytes=digest[16:32], version=4)}",
    }


def sqs_event(bodies: Iterable[Mapping[str, Any] | str], queue_arn: str) -> dict[str, Any]:
    """The Lambda event of an SQS event source mapping, one record per body (an object is
    JSON-encoded the way SNS writes its envelopes, a string is used as it is)."""
    region = queue_arn.split(":")[3]
    records = []
    for index, raw in enumerate(bodies):
        body = raw if isinstance(raw, str) else json.dumps(raw, indent=2, separators=(",", " : "))
        digest = hashlib.sha256(f"{queue_arn}\n{index}\n{body}".encode()).digest()
        sent = _sent_millis(raw)
        records.append(
            {
                "messageId": str(uuid.UUID(bytes=digest[:16], version=4)),
                "receiptHandle": base64.b64encode(digest * 3).decode(),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(sent),
                    "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
                    "ApproximateFirstReceiveTimestamp": str(sent + 12),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


# --------------------------------------------------------------------------- helpers


def _bare(address: str) -> str:
    return parseaddr(address)[1] or address.strip()


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _epoch(value: float | str) -> float:
    if isinstance(value, int | float):
        return float(value)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _at(message: Message, event_type: str, after: float | None) -> float:
    return message.timestamp + (OFFSETS[event_type] if after is None else after)


def _ses_id(epoch: float, seed: str) -> str:
    # Shaped like SES ids: a time-ordered hex prefix, a uuid, a sequence suffix.
    digest = hashlib.sha256(seed.encode()).digest()
    return f"{int(epoch * 1000):016x}-{uuid.UUID(bytes=digest[:16], version=4)}-000000"


def _feedback_id(message: Message, event_type: str, recipients: list[str], at: float) -> str:
    return _ses_id(at, "\n".join([message.message_id, event_type, *recipients]))


def _recipients(message: Message, recipients: Iterable[str] | None) -> list[str]:
    return [_bare(address) for address in recipients] if recipients is not None else message.destination


def _preferences(unsubscribe_all: bool, topics: Mapping[str, str]) -> dict[str, Any]:
    return {
        "unsubscribeAll": unsubscribe_all,
        "topicSubscriptionStatus": [
            {"topicName": name, "subscriptionStatus": status} for name, status in topics.items()
        ],
    }


def _sender_domain(message: Message) -> str:
    return _bare(message.source).rpartition("@")[2].lower()


def _mail(message: Message, *, headers: bool = True, subject: bool = True, outgoing: bool = False) -> dict[str, Any]:
    identity = message.source_identity or _sender_domain(message)
    mail: dict[str, Any] = {
        "timestamp": _iso(message.timestamp),
        "source": message.source,
        "sourceArn": f"arn:aws:ses:{message.region}:{message.account_id}:identity/{identity}",
        "sendingAccountId": message.account_id,
        "messageId": message.message_id,
        "destination": message.destination,
        "headersTruncated": False,
    }
    if headers:
        mail["headers"], mail["commonHeaders"] = _headers(message, subject=subject)
    mail["tags"] = _tags(message, outgoing=outgoing)
    return mail


def _headers(message: Message, *, subject: bool) -> tuple[list[dict[str, str]], dict[str, Any]]:
    shown_subject = message.subject if subject else None
    pairs: list[tuple[str, str]] = [("From", message.source)]
    if message.reply_to:
        pairs.append(("Reply-To", ", ".join(message.reply_to)))
    pairs.append(("To", ", ".join(message.to)))
    if message.cc:
        pairs.append(("Cc", ", ".join(message.cc)))
    if shown_subject is not None:
        pairs.append(("Subject", shown_subject))
    pairs += [("MIME-Version", "1.0"), ("Content-Type", 'multipart/alternative; boundary="----=_Part_0_local"')]
    pairs += list(message.headers.items())
    common: dict[str, Any] = {"from": [message.source]}
    if message.reply_to:
        common["replyTo"] = list(message.reply_to)
    common["to"] = list(message.to)
    if message.cc:
        common["cc"] = list(message.cc)
    common["messageId"] = message.message_id
    if shown_subject is not None:
        common["subject"] = shown_subject
    return [{"name": name, "value": value} for name, value in pairs], common


def _tags(message: Message, *, outgoing: bool) -> dict[str, list[str]]:
    tags = {name: [value] for name, value in message.tags.items()}
    tags["ses:operation"] = ["SendBulkEmail"]
    if message.configuration_set:
        tags["ses:configuration-set"] = [message.configuration_set]
    tags["ses:source-ip"] = [_SOURCE_IP]
    tags["ses:from-domain"] = [_sender_domain(message)]
    tags["ses:caller-identity"] = [message.caller_identity]
    if outgoing:
        tags["ses:outgoing-ip"] = [_OUTGOING_IP]
    return tags


_TIMED_MEMBERS = ("delivery", "bounce", "complaint", "open", "click", "deliveryDelay", "subscription")


def _record_time(record: Mapping[str, Any]) -> str:
    for member in _TIMED_MEMBERS:
        if isinstance(record.get(member), Mapping) and "timestamp" in record[member]:
            return str(record[member]["timestamp"])
    return str(record.get("mail", {}).get("timestamp", _iso(0)))


def _sent_millis(body: Mapping[str, Any] | str) -> int:
    try:
        envelope = json.loads(body) if isinstance(body, str) else body
        return int(_epoch(envelope["Timestamp"]) * 1000) + 5
    except (ValueError, KeyError, TypeError):
        return 0
