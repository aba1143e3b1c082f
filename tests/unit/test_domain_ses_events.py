"""SES event records (event publishing and identity notifications) made into SesEvent."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from campaign_engine.domain.addresses import address_hash
from campaign_engine.domain.ses_events import KINDS, MalformedEvent, SesEvent, parse, unwrap

EVENTS = Path(__file__).resolve().parents[2] / "events"
MESSAGE_ID = "0100019cadc69e68-69830d43-5014-488f-bbfa-62ee9211acd0-000000"
SENT = "2026-03-02T09:00:00.120Z"
TOPIC = "arn:aws:sns:us-east-1:123456789012:campaign-engine-SesEventsTopic"


def mail(*destination: str, tags: bool = True) -> dict[str, Any]:
    value: dict[str, Any] = {
        "timestamp": SENT,
        "source": "The Marketing Team <marketing@example.com>",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
        "sendingAccountId": "123456789012",
        "messageId": MESSAGE_ID,
        "destination": list(destination or ["ann@example.com"]),
        "headersTruncated": False,
    }
    if tags:
        value["tags"] = {
            "campaign": ["recipe-demo"],
            "run": ["run-0001"],
            "segment": ["new-customers"],
            "ses:configuration-set": ["campaign-engine"],
        }
    return value


def record(event_type: str, member: str | None, detail: dict[str, Any] | None, **mail_args: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"eventType": event_type, "mail": mail(*mail_args.pop("destination", ()), **mail_args)}
    if member is not None:
        out[member] = detail if detail is not None else {}
    return out


def bounce(bounce_type: str = "Permanent", *addresses: str, **extra: Any) -> dict[str, Any]:
    return {
        "bounceType": bounce_type,
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": a,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": f"smtp; 550 5.1.1 <{a}> unknown",
            }
            for a in (addresses or ("ann@example.com",))
        ],
        "timestamp": "2026-03-02T09:00:02.500Z",
        "feedbackId": "0100019cadc6a638-7829884d-b953-46b4-825d-ce2990b9f020-000000",
        "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        **extra,
    }


def complaint(*addresses: str, **extra: Any) -> dict[str, Any]:
    return {
        "complainedRecipients": [{"emailAddress": a} for a in (addresses or ("ann@example.com",))],
        "timestamp": "2026-03-02T09:00:05.000Z",
        "feedbackId": "0100019cadc6b9c0-1f1d4c55-61f6-4a36-9a8f-1c7a1e0e5b2e-000000",
        "userAgent": "Some Feedback Loop",
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2026-03-02T09:00:05.000Z",
        **extra,
    }


DELIVERY = {
    "timestamp": "2026-03-02T09:00:01.120Z",
    "processingTimeMillis": 1000,
    "recipients": ["ann@example.com"],
    "smtpResponse": "250 2.6.0 Message received",
    "reportingMTA": "a8-70.smtp-out.amazonses.com",
}
OPEN = {"ipAddress": "192.0.2.1", "timestamp": "2026-03-02T09:01:00.120Z", "userAgent": "Mozilla/5.0"}
CLICK = {
    "ipAddress": "192.0.2.1",
    "link": "https://www.example.com/recipes",
    "linkTags": {},
    "timestamp": "2026-03-02T09:01:30.120Z",
    "userAgent": "Mozilla/5.0",
}
SUBSCRIPTION = {
    "contactList": "campaign-engine",
    "timestamp": "2026-03-02T09:02:00.000Z",
    "source": "UnsubscribeHeader",
    "newTopicPreferences": {
        "unsubscribeAll": True,
        "topicSubscriptionStatus": [
            {"topicName": "newsletter", "subscriptionStatus": "OptOut"},
            {"topicName": "offers", "subscriptionStatus": "OptIn"},
        ],
    },
    "oldTopicPreferences": {"unsubscribeAll": False, "topicSubscriptionStatus": []},
}
DELAY = {
    "timestamp": "2026-03-02T09:10:00.000Z",
    "delayType": "TransientCommunicationFailure",
    "expirationTime": "2026-03-03T09:00:00.000Z",
    "delayedRecipients": [
        {"emailAddress": "ann@example.com", "status": "4.4.1", "diagnosticCode": "smtp; 421 4.4.1 Unable to connect"}
    ],
}

# kind -> (eventType, member, type-specific object, expected event timestamp)
EVENT_CASES = {
    "send": ("Send", "send", {}, SENT),
    "delivery": ("Delivery", "delivery", DELIVERY, DELIVERY["timestamp"]),
    "bounce": ("Bounce", "bounce", bounce(), "2026-03-02T09:00:02.500Z"),
    "complaint": ("Complaint", "complaint", complaint(), "2026-03-02T09:00:05.000Z"),
    "reject": ("Reject", "reject", {"reason": "Bad content"}, SENT),
    "rendering_failure": (
        "Rendering Failure",
        "failure",
        {"errorMessage": "Attribute 'name' is not present in the rendering data.", "templateName": "welcome"},
        SENT,
    ),
    "delivery_delay": ("DeliveryDelay", "deliveryDelay", DELAY, DELAY["timestamp"]),
    "open": ("Open", "open", OPEN, OPEN["timestamp"]),
    "click": ("Click", "click", CLICK, CLICK["timestamp"]),
    "subscription": ("Subscription", "subscription", SUBSCRIPTION, SUBSCRIPTION["timestamp"]),
}


def notification(kind: str, member: str, detail: dict[str, Any], *destination: str) -> dict[str, Any]:
    plain = mail(*destination, tags=False)
    plain["sourceIp"] = "192.0.2.0"
    return {"notificationType": kind, member: detail, "mail": plain}


def parsed(value: dict[str, Any]) -> SesEvent:
    event = parse(value)
    assert event is not None
    return event


# --------------------------------------------------------------------------- every kind, both formats


def test_kinds_are_the_documented_ones():
    assert set(EVENT_CASES) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_event_type(kind):
    event_type, member, detail, timestamp = EVENT_CASES[kind]
    event = parsed(record(event_type, member, copy.deepcopy(detail)))
    assert event.kind == kind
    assert event.message_id == MESSAGE_ID
    assert event.timestamp == timestamp
    assert event.recipients == ("ann@example.com",)
    assert event.source_format == "event"
    assert event.tags == {
        "campaign": "recipe-demo",
        "run": "run-0001",
        "segment": "new-customers",
        "ses:configuration-set": "campaign-engine",
    }
    assert (event.campaign_id, event.run_id, event.segment) == ("recipe-demo", "run-0001", "new-customers")


@pytest.mark.parametrize(
    ("notification_type", "member", "detail", "kind"),
    [
        ("Bounce", "bounce", bounce(), "bounce"),
        ("Complaint", "complaint", complaint(), "complaint"),
        ("Delivery", "delivery", DELIVERY, "delivery"),
    ],
)
def test_every_notification_type(notification_type, member, detail, kind):
    event = parsed(notification(notification_type, member, copy.deepcopy(detail)))
    assert event.kind == kind
    assert event.source_format == "notification"
    assert event.tags == {} and event.campaign_id is None and event.run_id is None and event.segment is None
    assert event.recipients == ("ann@example.com",)
    assert event.message_id == MESSAGE_ID


def test_type_specific_fields():
    b = parsed(record("Bounce", "bounce", bounce()))
    assert (b.bounce_type, b.bounce_subtype, b.feedback_id) == ("Permanent", "General", bounce()["feedbackId"])
    c = parsed(record("Complaint", "complaint", complaint(complaintSubType="OnAccountSuppressionList")))
    assert (c.complaint_type, c.complaint_subtype) == ("abuse", "OnAccountSuppressionList")
    assert c.feedback_id == complaint()["feedbackId"]
    assert parsed(record("Click", "click", CLICK)).link == "https://www.example.com/recipes"
    s = parsed(record("Subscription", "subscription", SUBSCRIPTION))
    assert s.unsubscribe_all is True and s.topics_opted_out == ("newsletter",)
    assert parsed(record("Reject", "reject", {"reason": "Bad content"})).diagnostic == "Bad content"
    failure = parsed(record(*EVENT_CASES["rendering_failure"][:3]))
    assert failure.diagnostic == "Attribute 'name' is not present in the rendering data."
    assert parsed(record("DeliveryDelay", "deliveryDelay", DELAY)).diagnostic == "smtp; 421 4.4.1 Unable to connect"
    plain = parsed(record("Send", "send", {}))
    assert plain.bounce_type is plain.complaint_type is plain.feedback_id is plain.link is plain.diagnostic is None
    assert plain.unsubscribe_all is False and plain.topics_opted_out == ()


def test_a_subscription_to_one_topic_only():
    detail = copy.deepcopy(SUBSCRIPTION)
    detail["newTopicPreferences"]["unsubscribeAll"] = False
    event = parsed(record("Subscription", "subscription", detail))
    assert event.unsubscribe_all is False and event.topics_opted_out == ("newsletter",)


@pytest.mark.parametrize(("bounce_type", "hard"), [("Permanent", True), ("Transient", False), ("Undetermined", False)])
def test_only_permanent_bounces_are_hard(bounce_type, hard):
    event = parsed(record("Bounce", "bounce", bounce(bounce_type)))
    assert event.bounce_type == bounce_type and event.is_hard_bounce is hard
    assert parsed(notification("Bounce", "bounce", bounce(bounce_type))).is_hard_bounce is hard


def test_only_bounces_are_hard_bounces():
    assert not parsed(record("Complaint", "complaint", complaint())).is_hard_bounce


# --------------------------------------------------------------------------- recipients


def test_a_bounce_is_about_the_bounced_recipient_only():
    value = record(
        "Bounce", "bounce", bounce("Permanent", "bob@example.com"), destination=("ann@example.com", "bob@example.com")
    )
    assert parsed(value).recipients == ("bob@example.com",)
    assert parsed(record("Send", "send", {}, destination=("ann@example.com", "bob@example.com"))).recipients == (
        "ann@example.com",
        "bob@example.com",
    )


def test_a_complaint_is_about_the_complained_recipient_only():
    value = notification(
        "Complaint", "complaint", complaint("Carol@Example.com"), "ann@example.com", "carol@example.com"
    )
    assert parsed(value).recipients == ("carol@example.com",)


def test_delivery_recipients_come_from_the_delivery():
    detail = {**DELIVERY, "recipients": ["bob@example.com"]}
    value = record("Delivery", "delivery", detail, destination=("ann@example.com", "bob@example.com"))
    assert parsed(value).recipients == ("bob@example.com",)


def test_display_names_and_case_are_normalised_and_bad_entries_skipped():
    value = record(
        "Open",
        "open",
        OPEN,
        destination=(
            '"Doe, Jane" <Jane.Doe@Example.COM>',
            "not an address",
            "Bob <bob@example.com>",
            "jane.doe@example.com",
        ),
    )
    assert parsed(value).recipients == ("jane.doe@example.com", "bob@example.com")
    detail = bounce("Permanent", "Ann Smith <ANN@example.com>")
    detail["bouncedRecipients"].append({"status": "5.1.1"})  # no emailAddress: skipped
    assert parsed(record("Bounce", "bounce", detail)).recipients == ("ann@example.com",)


def test_diagnostics_never_hold_an_address():
    event = parsed(record("Bounce", "bounce", bounce("Permanent", "secret.person@example.com")))
    assert "@" not in (event.diagnostic or "") and address_hash("secret.person@example.com") in (event.diagnostic or "")
    failure = {"errorMessage": "Cannot render for x@example.com", "templateName": "welcome"}
    assert "@" not in (parsed(record("Rendering Failure", "failure", failure)).diagnostic or "")


# --------------------------------------------------------------------------- timestamps and keys


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("2016-01-27T14:59:38.237Z", "2016-01-27T14:59:38.237Z"),
        ("2016-01-27T14:59:38.237-07:00", "2016-01-27T21:59:38.237Z"),
        ("2016-01-27T14:59:38Z", "2016-01-27T14:59:38.000Z"),
        ("2016-01-27T14:59:38.1234567Z", "2016-01-27T14:59:38.123Z"),
        ("2016-01-27T14:59:38.5", "2016-01-27T14:59:38.500Z"),
    ],
)
def test_timestamps_are_normalised(raw, normalised):
    assert parsed(record("Open", "open", {**OPEN, "timestamp": raw})).timestamp == normalised


def test_keys_are_stable_across_deliveries_and_formats():
    as_event = record("Bounce", "bounce", bounce())
    once, again = parsed(as_event), parsed(json.loads(json.dumps(as_event)))
    assert once.key == again.key
    # The same bounce as an identity notification is the same event.
    assert parsed(notification("Bounce", "bounce", bounce())).key == once.key
    assert "@" not in once.key and MESSAGE_ID in once.key


def test_keys_tell_events_apart():
    keys = [
        parsed(record("Open", "open", OPEN)).key,
        parsed(record("Open", "open", {**OPEN, "timestamp": "2026-03-02T10:00:00.000Z"})).key,
        parsed(record("Click", "click", CLICK)).key,
        parsed(record("Click", "click", {**CLICK, "link": "https://www.example.com/other"})).key,
        parsed(record("Bounce", "bounce", bounce())).key,
        parsed(record("Bounce", "bounce", bounce(feedbackId="another-feedback-id"))).key,
        parsed(record("Delivery", "delivery", DELIVERY)).key,
        parsed(record("Delivery", "delivery", {**DELIVERY, "recipients": ["bob@example.com"]})).key,
        parsed(record("Send", "send", {})).key,
    ]
    assert len(set(keys)) == len(keys)


# --------------------------------------------------------------------------- unwrap


def envelope(value: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": "5d2a1e40-6c2b-4c0e-9f7e-1f6ad1a4b0c1",
        "TopicArn": TOPIC,
        "Message": json.dumps(value),
        "Timestamp": "2026-03-02T09:00:03.000Z",
        "SignatureVersion": "1",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC}:x",
        **extra,
    }


def test_unwrap_every_wrapping():
    value = record("Bounce", "bounce", bounce())
    wrapped = envelope(value)
    assert unwrap(json.dumps(wrapped)) == value  # SQS body of an SNS subscription
    assert unwrap(wrapped) == value
    assert unwrap(json.dumps(value)) == value  # raw message delivery
    assert unwrap(value) == value
    assert unwrap({"EventSource": "aws:sns", "Sns": wrapped}) == value  # Lambda SNS event record
    assert unwrap({"eventSource": "aws:sqs", "body": json.dumps(wrapped)}) == value  # SQS event record
    assert unwrap(json.dumps({"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"}))


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("not json {", "body: not JSON"),
        ("[1, 2]", "body: expected a JSON object"),
        (json.dumps({"Type": "Notification", "Message": "not json"}), "Message: not JSON"),
        (
            json.dumps({"Type": "SubscriptionConfirmation", "Message": "confirm"}),
            "Type: SNS 'SubscriptionConfirmation'",
        ),
        (json.dumps({"hello": "world"}), "eventType: missing"),
        (json.dumps({"Type": "Notification", "Message": json.dumps({"mail": {}})}), "eventType: missing"),
    ],
)
def test_unwrap_says_what_is_wrong(body, where):
    with pytest.raises(MalformedEvent) as info:
        unwrap(body)
    assert str(info.value).startswith(where)


# --------------------------------------------------------------------------- malformed and unknown


def without(value: dict[str, Any], *path: str) -> dict[str, Any]:
    out = copy.deepcopy(value)
    target = out
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return out


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (without(record("Bounce", "bounce", bounce()), "mail"), "mail: missing"),
        (without(record("Bounce", "bounce", bounce()), "mail", "messageId"), "mail.messageId: missing"),
        (without(record("Bounce", "bounce", bounce()), "bounce"), "bounce: missing"),
        (without(record("Send", "send", {}), "send"), "send: missing"),
        (without(record("Rendering Failure", "failure", {}), "failure"), "failure: missing"),
        (
            without(record("Bounce", "bounce", bounce()), "bounce", "bouncedRecipients"),
            "bounce.bouncedRecipients: missing",
        ),
        (
            record("Complaint", "complaint", {**complaint(), "complainedRecipients": "x"}),
            "complaint.complainedRecipients",
        ),
        (record("Open", "open", {**OPEN, "timestamp": "yesterday"}), "open.timestamp: 'yesterday'"),
        (without(record("Send", "send", {}), "mail", "timestamp"), "mail.timestamp: missing"),
        (record("Bounce", "bounce", "permanent"), "bounce: expected an object"),  # type: ignore[arg-type]
        ({**record("Send", "send", {}), "mail": ["x"]}, "mail: expected an object"),
        (without(notification("Delivery", "delivery", DELIVERY), "delivery"), "delivery: missing"),
        ({"something": "else"}, "eventType: missing"),
    ],
)
def test_malformed_records_say_what_and_where(value, where):
    with pytest.raises(MalformedEvent) as info:
        parse(value)
    assert str(info.value).startswith(where), str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "value",
    [
        {"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "You have successfully subscribed"},
        {"notificationType": "Received", "mail": mail(), "receipt": {}},
        {"notificationType": "Open", "mail": mail(), "open": OPEN},  # notifications have no opens
        {"eventType": "SomethingNew", "mail": mail()},
        {"eventType": None, "mail": mail()},
    ],
)
def test_unknown_types_are_not_handled(value):
    assert parse(value) is None


def test_tags_are_read_leniently():
    value = record("Send", "send", {})
    value["mail"]["tags"] = {"campaign": ["c1", "c2"], "empty": [], "odd": 3, "run": "r1"}
    assert parsed(value).tags == {"campaign": "c1", "run": "r1"}
    value["mail"]["tags"] = "garbage"
    assert parsed(value).tags == {}


# --------------------------------------------------------------------------- events/ files


FILE_KINDS = {
    "bounce-permanent": "bounce",
    "bounce-transient": "bounce",
    "complaint": "complaint",
    "delivery": "delivery",
    "send": "send",
    "open": "open",
    "click": "click",
    "subscription": "subscription",
    "reject": "reject",
    "rendering-failure": "rendering_failure",
    "delivery-delay": "delivery_delay",
    "notification-bounce": "bounce",
    "notification-complaint": "complaint",
    "notification-delivery": "delivery",
}
EVENT_FILES = sorted((EVENTS / "suppression").glob("*.json")) + sorted((EVENTS / "engagement").glob("*.json"))


def test_the_events_folders_have_the_expected_files():
    names = {folder: {p.stem for p in (EVENTS / folder).glob("*.json")} for folder in ("suppression", "engagement")}
    assert names["engagement"] == {*FILE_KINDS, "mixed-batch", "poison"}
    assert names["suppression"] == {
        "bounce-permanent",
        "bounce-transient",
        "complaint",
        "subscription",
        "notification-bounce",
        "notification-complaint",
        "mixed-batch",
        "poison",
    }


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_record_in_the_events_files_parses_as_its_name_says(path):
    event = json.loads(path.read_text())
    records = event["Records"]
    assert records and all(r["eventSource"] == "aws:sqs" and r["awsRegion"] == "us-east-1" for r in records)
    if path.stem == "poison":
        with pytest.raises(MalformedEvent):
            unwrap(records[0]["body"])
        records = records[1:]
    kinds = []
    for sqs_record in records:
        body = json.loads(sqs_record["body"])
        assert body["Type"] == "Notification" and body["TopicArn"] == TOPIC
        parsed_event = parsed(unwrap(sqs_record["body"]))
        kinds.append(parsed_event.kind)
        assert parsed_event.recipients and all(r.endswith("@simulator.amazonses.com") for r in parsed_event.recipients)
        if parsed_event.source_format == "event":
            assert (parsed_event.campaign_id, parsed_event.run_id, parsed_event.segment) == (
                "recipe-demo",
                "run-0001",
                "new-customers",
            )
        assert parsed_event.source_format == ("notification" if path.stem.startswith("notification-") else "event") or (
            path.stem in ("mixed-batch", "poison")
        )
    if path.stem == "mixed-batch":
        assert len(set(kinds)) >= 4 and len({json.loads(r["body"])["MessageId"] for r in records}) == len(records)
    elif path.stem == "poison":
        assert len(kinds) == 1
    else:
        assert kinds == [FILE_KINDS[path.stem]]
    if path.stem == "bounce-transient":
        assert not parsed(unwrap(records[0]["body"])).is_hard_bounce


# --------------------------------------------------------------------------- found by fuzzing


@pytest.mark.parametrize("levels", [1_000, 20_000, 50_000])
@pytest.mark.parametrize("wrap", ["body", "message", "sqs"])
def test_a_body_nested_too_deeply_is_malformed_not_a_recursion_error(levels, wrap):
    # Found by tests/fuzz: RecursionError from json escaped unwrap, outside MalformedEvent.
    text = "[" * levels + "]" * levels
    body: Any = {
        "body": text,
        "message": json.dumps({"Type": "Notification", "Message": text}),
        "sqs": {"eventSource": "aws:sqs", "body": text},
    }[wrap]
    if levels == 1_000:  # json decodes it: refused as not an object
        with pytest.raises(MalformedEvent, match="expected a JSON object"):
            unwrap(body)
        return
    with pytest.raises(MalformedEvent, match="nested more than 32 levels deep"):
        unwrap(body)


def test_sqs_records_nested_in_sqs_records_are_not_unwrapped_level_by_level():
    body: Any = json.dumps(record("Send", "send", {}))
    for _ in range(5_000):
        body = {"eventSource": "aws:sqs", "body": body}
    with pytest.raises(MalformedEvent, match="eventType: missing"):
        unwrap(body)


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_timestamp_out_of_range_in_utc_is_malformed(raw):
    # Found by tests/fuzz: OverflowError from astimezone.
    with pytest.raises(MalformedEvent, match=r"mail\.timestamp: .* is out of range in UTC"):
        parse({**record("Send", "send", {}), "mail": {**record("Send", "send", {})["mail"], "timestamp": raw}})


def test_early_years_keep_four_digits_so_times_sort_as_text():
    value = record("Send", "send", {})
    value["mail"] = {**value["mail"], "timestamp": "0999-01-01T00:00:00Z"}
    assert parse(value).timestamp == "0999-01-01T00:00:00.000Z"


def test_a_huge_recipient_entry_is_skipped_quickly():
    # Found by tests/fuzz: parseaddr took 3 s on 300 KB of "@" in a destination entry.
    import time

    value = record("Send", "send", {})
    value["mail"] = {**value["mail"], "destination": ["@" * 300_000, "ann@example.com"]}
    started = time.perf_counter()
    event = parse(value)
    assert time.perf_counter() - started < 0.5
    assert event.recipients == ("ann@example.com",)
