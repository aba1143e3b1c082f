"""The local SES publishes SES event records to SNS, as a configuration set's event destination
makes real SES do; and campaign_local.ses_events builds those records.

Records travel SES -> SNS -> SQS here, so each one is read back exactly as the suppression and
engagement functions will read it (campaign_engine.domain.ses_events.unwrap + parse).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from campaign_engine.domain.ses_events import SesEvent, parse, unwrap
from moto.core import DEFAULT_ACCOUNT_ID
from test_ses_local import ModelChecker, error_of, make_client

from campaign_local import ses, ses_events

REGION = "us-east-1"
SENDER = "News <news@example.com>"
CONFIG_SET = "campaign-engine"
TAGS = {"campaign": "recipe-demo", "run": "run-0001", "segment": "new-customers"}
SIM = "simulator.amazonses.com"
TEMPLATE = {
    "Subject": "Hello {{name}}",
    "Html": '<p>Hi {{name}}</p><a class="cta" href="https://shop.example/spring?c=1">Shop</a>'
    '<a href="https://shop.example/other">Other</a>',
    "Text": "Hi {{name}}",
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def checker() -> ModelChecker:
    return ModelChecker()


@pytest.fixture
def sesv2(aws: None, checker: ModelChecker) -> Any:
    client = make_client(checker)
    client.create_email_identity(EmailIdentity="example.com")
    client.create_email_template(TemplateName="welcome", TemplateContent=TEMPLATE)
    client.create_configuration_set(ConfigurationSetName=CONFIG_SET)
    return client


class Subscriber:
    """An SNS topic with an SQS queue subscribed to it (no raw delivery, as the stack does)."""

    def __init__(self, name: str) -> None:
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.topic_arn = self.sns.create_topic(Name=name)["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName=f"{name}-queue")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])

    def bodies(self) -> list[str]:
        bodies: list[str] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return bodies
            for message in batch:
                bodies.append(message["Body"])
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def events(self) -> list[SesEvent]:
        events = [parse(unwrap(body)) for body in self.bodies()]
        assert all(event is not None for event in events)
        return [event for event in events if event is not None]


@pytest.fixture
def topic(aws: None) -> Subscriber:
    return Subscriber("campaign-engine-SesEventsTopic")


def add_destination(client: Any, topic_arn: str, types: list[str] | None = None, **extra: Any) -> None:
    client.create_configuration_set_event_destination(
        ConfigurationSetName=CONFIG_SET,
        EventDestinationName=extra.pop("name", "all-events-to-sns"),
        EventDestination={
            "Enabled": extra.pop("enabled", True),
            "MatchingEventTypes": types or list(ses_events.EVENT_TYPES.values()),
            "SnsDestination": {"TopicArn": topic_arn},
            **extra,
        },
    )


def entry(address: str | list[str], data: dict[str, Any] | None = None) -> dict[str, Any]:
    addresses = [address] if isinstance(address, str) else address
    return {
        "Destination": {"ToAddresses": addresses},
        "ReplacementEmailContent": {
            "ReplacementTemplate": {"ReplacementTemplateData": json.dumps({"name": "Friend"} if data is None else data)}
        },
        "ReplacementHeaders": [{"Name": "List-Unsubscribe", "Value": "<https://u.example/t>"}],
    }


def send(client: Any, entries: list[dict[str, Any]], **params: Any) -> list[dict[str, Any]]:
    request: dict[str, Any] = {
        "FromEmailAddress": SENDER,
        "DefaultContent": {"Template": {"TemplateName": "welcome", "TemplateData": "{}"}},
        "DefaultEmailTags": [{"Name": name, "Value": value} for name, value in TAGS.items()],
        "ConfigurationSetName": CONFIG_SET,
        "BulkEmailEntries": entries,
        **params,
    }
    return client.send_bulk_email(**request)["BulkEmailEntryResults"]


def kinds_by_recipient(events: list[SesEvent]) -> dict[str, list[str]]:
    """Recipient -> the kinds of events about it, in timestamp order."""
    found: dict[str, list[str]] = defaultdict(list)
    for event in sorted(events, key=lambda e: e.timestamp):
        for recipient in event.recipients:
            found[recipient].append(event.kind)
    return dict(found)


# --------------------------------------------------------------------------- event destinations API


def test_event_destination_crud_answers_as_the_model_says(sesv2: Any, checker: ModelChecker) -> None:
    arn = f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:events"
    sesv2.create_configuration_set_event_destination(
        ConfigurationSetName=CONFIG_SET,
        EventDestinationName="to-sns",
        # CloudFormation's spelling (template.yaml) is accepted; the API answers in its own.
        EventDestination={
            "MatchingEventTypes": ["send", "renderingFailure", "BOUNCE"],
            "SnsDestination": {"TopicArn": arn},
        },
    )
    (described,) = sesv2.get_configuration_set_event_destinations(ConfigurationSetName=CONFIG_SET)["EventDestinations"]
    assert described == {
        "Name": "to-sns",
        "Enabled": False,  # AWS's default
        "MatchingEventTypes": ["SEND", "RENDERING_FAILURE", "BOUNCE"],
        "SnsDestination": {"TopicArn": arn},
    }

    sesv2.update_configuration_set_event_destination(
        ConfigurationSetName=CONFIG_SET,
        EventDestinationName="to-sns",
        EventDestination={"Enabled": True, "MatchingEventTypes": ["CLICK"], "SnsDestination": {"TopicArn": arn}},
    )
    (described,) = sesv2.get_configuration_set_event_destinations(ConfigurationSetName=CONFIG_SET)["EventDestinations"]
    assert described["Enabled"] is True and described["MatchingEventTypes"] == ["CLICK"]

    sesv2.delete_configuration_set_event_destination(ConfigurationSetName=CONFIG_SET, EventDestinationName="to-sns")
    assert sesv2.get_configuration_set_event_destinations(ConfigurationSetName=CONFIG_SET)["EventDestinations"] == []
    assert {
        "CreateConfigurationSetEventDestination",
        "GetConfigurationSetEventDestinations",
        "UpdateConfigurationSetEventDestination",
        "DeleteConfigurationSetEventDestination",
    } <= set(checker.checked)


def test_event_destination_errors(sesv2: Any) -> None:
    arn = f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:events"
    good = {"MatchingEventTypes": ["SEND"], "SnsDestination": {"TopicArn": arn}}

    def create(**params: Any) -> tuple[str, int, str]:
        request = {"ConfigurationSetName": CONFIG_SET, "EventDestinationName": "d", "EventDestination": good, **params}
        with pytest.raises(ClientError) as excinfo:
            sesv2.create_configuration_set_event_destination(**request)
        return error_of(excinfo)

    assert create(ConfigurationSetName="nope")[:2] == ("NotFoundException", 404)
    assert create(EventDestinationName="bad name")[:2] == ("BadRequestException", 400)
    assert create(EventDestination={**good, "MatchingEventTypes": ["SENDS"]})[:2] == ("BadRequestException", 400)
    assert create(EventDestination={"MatchingEventTypes": ["SEND"]})[:2] == ("BadRequestException", 400)
    both = {**good, "EventBridgeDestination": {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/x"}}
    assert create(EventDestination=both)[:2] == ("BadRequestException", 400)

    sesv2.create_configuration_set_event_destination(
        ConfigurationSetName=CONFIG_SET, EventDestinationName="d", EventDestination=good
    )
    assert create()[:2] == ("AlreadyExistsException", 400)
    for n in range(1, ses.MAX_EVENT_DESTINATIONS):
        sesv2.create_configuration_set_event_destination(
            ConfigurationSetName=CONFIG_SET, EventDestinationName=f"d{n}", EventDestination=good
        )
    assert create(EventDestinationName="one-too-many")[:2] == ("LimitExceededException", 400)

    for call in (sesv2.update_configuration_set_event_destination, sesv2.delete_configuration_set_event_destination):
        params: dict[str, Any] = {"ConfigurationSetName": CONFIG_SET, "EventDestinationName": "missing"}
        if call == sesv2.update_configuration_set_event_destination:
            params["EventDestination"] = good
        with pytest.raises(ClientError) as excinfo:
            call(**params)
        assert error_of(excinfo)[:2] == ("NotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        sesv2.get_configuration_set_event_destinations(ConfigurationSetName="nope")
    assert error_of(excinfo)[:2] == ("NotFoundException", 404)


def test_a_configuration_set_created_again_has_no_destinations(sesv2: Any, topic: Subscriber) -> None:
    add_destination(sesv2, topic.topic_arn)
    sesv2.delete_configuration_set(ConfigurationSetName=CONFIG_SET)
    sesv2.create_configuration_set(ConfigurationSetName=CONFIG_SET)
    assert sesv2.get_configuration_set_event_destinations(ConfigurationSetName=CONFIG_SET)["EventDestinations"] == []


# --------------------------------------------------------------------------- publishing


def test_simulator_addresses_publish_what_ses_publishes(sesv2: Any, topic: Subscriber) -> None:
    add_destination(sesv2, topic.topic_arn)
    sesv2.put_suppressed_destination(EmailAddress="gone@example.org", Reason="BOUNCE")
    addresses = [
        f"success@{SIM}",
        f"bounce+a@{SIM}",
        f"complaint@{SIM}",
        f"ooto@{SIM}",
        f"suppressionlist@{SIM}",
        "jane+open@example.com",
        "joe+click@example.com",
        "gone@example.org",
    ]
    results = send(sesv2, [entry(address) for address in addresses] + [entry("broken@example.com", {})])
    assert {result["Status"] for result in results} == {"SUCCESS"}
    ses.flush_events()

    events = topic.events()
    assert kinds_by_recipient(events) == {
        f"success@{SIM}": ["send", "delivery"],
        f"bounce+a@{SIM}": ["send", "bounce"],
        f"complaint@{SIM}": ["send", "delivery", "complaint"],
        f"ooto@{SIM}": ["send", "delivery"],
        f"suppressionlist@{SIM}": ["send", "bounce"],
        "jane+open@example.com": ["send", "delivery", "open"],
        "joe+click@example.com": ["send", "delivery", "open", "click"],
        "gone@example.org": ["send", "bounce"],
        "broken@example.com": ["send", "rendering_failure"],
    }
    by_kind = defaultdict(list)
    for event in events:
        by_kind[event.kind].append(event)
    assert all(event.tags["campaign"] == "recipe-demo" for event in events)
    assert {(e.campaign_id, e.run_id, e.segment) for e in events} == {("recipe-demo", "run-0001", "new-customers")}
    assert all(event.source_format == "event" for event in events)
    assert {e.message_id for e in events} == {r["MessageId"] for r in results}

    bounces = {event.recipients[0]: event for event in by_kind["bounce"]}
    assert bounces[f"bounce+a@{SIM}"].is_hard_bounce and bounces[f"bounce+a@{SIM}"].bounce_subtype == "General"
    assert bounces[f"suppressionlist@{SIM}"].bounce_subtype == "OnAccountSuppressionList"
    assert bounces["gone@example.org"].bounce_subtype == "OnAccountSuppressionList"
    assert all("@" not in (event.diagnostic or "") for event in bounces.values())
    (complaint,) = by_kind["complaint"]
    assert complaint.complaint_type == "abuse" and complaint.feedback_id
    (click,) = by_kind["click"]
    assert click.link == "https://shop.example/spring?c=1"  # the first link of the rendered HTML
    (failure,) = by_kind["rendering_failure"]
    assert "'name'" in (failure.diagnostic or "")
    assert len({event.key for event in events}) == len(events)
    assert len(ses.published_events()) == len(events)
    assert ses.event_publish_errors() == 0


def test_event_records_follow_the_documented_format(sesv2: Any, topic: Subscriber) -> None:
    add_destination(sesv2, topic.topic_arn)
    (result,) = send(sesv2, [entry(f"complaint+click@{SIM}")])
    ses.flush_events()
    records = {record["eventType"]: record for record in ses.published_events()}
    assert list(records) == ["Send", "Delivery", "Complaint", "Open", "Click"]

    mail = records["Delivery"]["mail"]
    assert set(mail) == {
        "timestamp",
        "source",
        "sourceArn",
        "sendingAccountId",
        "messageId",
        "destination",
        "headersTruncated",
        "headers",
        "commonHeaders",
        "tags",
    }
    assert mail["source"] == SENDER
    assert mail["sourceArn"] == f"arn:aws:ses:{REGION}:{DEFAULT_ACCOUNT_ID}:identity/example.com"
    assert mail["sendingAccountId"] == DEFAULT_ACCOUNT_ID and mail["messageId"] == result["MessageId"]
    assert mail["destination"] == [f"complaint+click@{SIM}"]
    assert {"name": "List-Unsubscribe", "value": "<https://u.example/t>"} in mail["headers"]
    assert mail["commonHeaders"]["subject"] == "Hello Friend"
    assert {name: values for name, values in mail["tags"].items() if not name.startswith("ses:")} == {
        name: [value] for name, value in TAGS.items()
    }
    assert mail["tags"]["ses:configuration-set"] == [CONFIG_SET]
    assert {"ses:source-ip", "ses:from-domain", "ses:caller-identity", "ses:outgoing-ip"} <= set(mail["tags"])
    # A templated message's subject is rendered after the Send event.
    assert "subject" not in records["Send"]["mail"]["commonHeaders"] and records["Send"]["send"] == {}

    delivery = records["Delivery"]["delivery"]
    assert set(delivery) == {"timestamp", "processingTimeMillis", "recipients", "smtpResponse", "reportingMTA"}
    complaint = records["Complaint"]["complaint"]
    assert {
        "complainedRecipients",
        "timestamp",
        "feedbackId",
        "complaintFeedbackType",
        "userAgent",
        "arrivalDate",
    } <= set(complaint)
    assert set(records["Open"]["open"]) == {"ipAddress", "timestamp", "userAgent"}
    assert set(records["Click"]["click"]) == {"ipAddress", "link", "linkTags", "timestamp", "userAgent"}

    times = {name: datetime.fromisoformat(parse(record).timestamp) for name, record in records.items()}  # type: ignore[union-attr]
    offsets = {name: (at - times["Send"]).total_seconds() for name, at in times.items()}
    assert offsets == {
        "Send": 0,
        "Delivery": 1,
        "Complaint": 5,
        "Open": 60,
        "Click": 90,
    }


def test_a_bounce_names_only_the_recipient_that_bounced(sesv2: Any, topic: Subscriber) -> None:
    add_destination(sesv2, topic.topic_arn)
    send(sesv2, [entry([f"success@{SIM}", f"bounce@{SIM}"])])
    ses.flush_events()
    events = topic.events()
    (sent,) = [e for e in events if e.kind == "send"]
    (bounce,) = [e for e in events if e.kind == "bounce"]
    (delivery,) = [e for e in events if e.kind == "delivery"]
    assert sent.recipients == (f"success@{SIM}", f"bounce@{SIM}")
    assert bounce.recipients == (f"bounce@{SIM}",)
    assert delivery.recipients == (f"success@{SIM}",)


def test_matching_event_types_filter_what_a_destination_gets(sesv2: Any, topic: Subscriber) -> None:
    add_destination(sesv2, topic.topic_arn, ["bounce", "complaint"])  # CloudFormation's spelling
    other = Subscriber("engagement-only")
    add_destination(sesv2, other.topic_arn, ["OPEN", "CLICK"], name="engagement")
    send(sesv2, [entry(f"bounce@{SIM}"), entry(f"complaint@{SIM}"), entry("amy+click@example.com")])
    ses.flush_events()
    assert sorted(e.kind for e in topic.events()) == ["bounce", "complaint"]
    assert sorted(e.kind for e in other.events()) == ["click", "open"]


def test_nothing_is_published_when_disabled(sesv2: Any, topic: Subscriber) -> None:
    add_destination(sesv2, topic.topic_arn, enabled=False)
    send(sesv2, [entry(f"success@{SIM}")])
    ses.flush_events()
    assert topic.bodies() == []

    sesv2.update_configuration_set_event_destination(
        ConfigurationSetName=CONFIG_SET,
        EventDestinationName="all-events-to-sns",
        EventDestination={
            "Enabled": True,
            "MatchingEventTypes": ["SEND"],
            "SnsDestination": {"TopicArn": topic.topic_arn},
        },
    )
    ses.configure(publish_events=False)
    send(sesv2, [entry(f"success@{SIM}")])
    ses.flush_events()
    assert topic.bodies() == [] and ses.published_events() == []

    ses.configure(publish_events=True)
    request: dict[str, Any] = {
        "FromEmailAddress": SENDER,
        "DefaultContent": {"Template": {"TemplateName": "welcome", "TemplateData": "{}"}},
        "BulkEmailEntries": [entry(f"success@{SIM}")],
    }
    sesv2.send_bulk_email(**request)  # no configuration set: no event publishing
    ses.flush_events()
    assert topic.bodies() == []


def test_opens_and_clicks_are_deterministic(sesv2: Any, topic: Subscriber) -> None:
    add_destination(sesv2, topic.topic_arn, ["OPEN", "CLICK"])
    ses.configure(open_share=0.5, click_share=0.2)
    addresses = [f"reader{n}@example.com" for n in range(20)]

    def engaged() -> dict[str, list[str]]:
        send(sesv2, [entry(address) for address in addresses])
        ses.flush_events()
        return kinds_by_recipient(topic.events())

    first, second = engaged(), engaged()
    assert first == second and first  # the same addresses, the same answers
    assert all(kinds in (["open"], ["open", "click"]) for kinds in first.values())
    for address in addresses:
        expected = ["open", "click"] if ses_events.clicks(address, 0.2) else ["open"]
        assert first.get(address, []) == (expected if ses_events.opens(address, 0.5, 0.2) else [])


def test_share_rule_is_a_stable_hash() -> None:
    addresses = [f"person{n}@example.net" for n in range(1000)]
    opened = sum(ses_events.opens(address, 0.5) for address in addresses)
    clicked = sum(ses_events.clicks(address, 0.5) for address in addresses)
    assert 400 <= opened <= 600 and 400 <= clicked <= 600
    # Separate salts: opening and clicking are not the same coin.
    assert [ses_events.opens(a, 0.5) for a in addresses] != [ses_events.clicks(a, 0.5) for a in addresses]
    # sha256, not Python's per-process hash: these hold in every run.
    assert [ses_events.opens(f"user{n}@example.com", 0.5) for n in range(6)] == [False, False, True, True, True, False]
    assert ses_events.clicks("someone@example.com", 0.5) is True
    assert ses_events.opens("Someone@Example.com", 0.0, 0.5) is True  # a click implies an open
    assert not ses_events.opens("x@example.com", 0.0) and ses_events.opens("x+open@example.com", 0.0)
    assert ses_events.clicks(f"success+click@{SIM}")


# --------------------------------------------------------------------------- the publisher thread


def test_publish_errors_are_counted_and_logged_without_addresses(
    sesv2: Any, topic: Subscriber, caplog: pytest.LogCaptureFixture
) -> None:
    add_destination(sesv2, f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:no-such-topic", ["SEND"], name="broken")
    with caplog.at_level(logging.WARNING, logger="campaign_local.ses"):
        send(sesv2, [entry("private.person@example.com")])
        ses.flush_events()
    assert ses.event_publish_errors() == 1
    assert caplog.records and all("@" not in record.getMessage() for record in caplog.records)

    # The thread lives on: a working destination still gets its records.
    add_destination(sesv2, topic.topic_arn, ["SEND"])
    send(sesv2, [entry(f"success@{SIM}")])
    ses.flush_events()
    assert [e.kind for e in topic.events()] == ["send"]


def test_sending_does_not_wait_for_publishing(sesv2: Any, topic: Subscriber, monkeypatch: pytest.MonkeyPatch) -> None:
    add_destination(sesv2, topic.topic_arn)
    release = threading.Event()
    original = ses._Publisher._publish

    def slow(self: Any, job: Any) -> None:
        release.wait(10)
        original(self, job)

    monkeypatch.setattr(ses._Publisher, "_publish", slow)
    started = time.monotonic()
    send(sesv2, [entry(f"success@{SIM}")])
    send(sesv2, [entry(f"bounce@{SIM}")])  # the account lock is free while the publisher waits
    assert time.monotonic() - started < 5
    with pytest.raises(TimeoutError):
        ses.flush_events(timeout=0.2)
    release.set()
    ses.flush_events()
    assert sorted(e.kind for e in topic.events()) == ["bounce", "delivery", "send", "send"]


def test_reset_stops_the_publisher_and_forgets_destinations(sesv2: Any, topic: Subscriber) -> None:
    add_destination(sesv2, topic.topic_arn)
    send(sesv2, [entry(f"success@{SIM}")])
    ses.flush_events()
    publisher = ses._state(DEFAULT_ACCOUNT_ID, REGION).publisher
    ses.reset()
    assert publisher._thread is None
    assert ses.published_events() == []
    assert sesv2.get_configuration_set_event_destinations(ConfigurationSetName=CONFIG_SET)["EventDestinations"] == []
    ses.flush_events(timeout=0.1)  # nothing queued: returns at once


# --------------------------------------------------------------------------- building records directly


def test_records_for_arbitrary_addresses() -> None:
    message = ses_events.Message(to=("old.customer@example.org",), timestamp=1_700_000_000.0, tags=TAGS)
    again = ses_events.Message(to=("old.customer@example.org",), timestamp=1_700_000_000.0, tags=TAGS)
    assert message.message_id == again.message_id  # derived, so a PRIOR_EVENTS file is reproducible
    records = [
        ses_events.bounce_record(message),
        ses_events.bounce_record(message, bounce_type="Transient", subtype="MailboxFull"),
        ses_events.complaint_record(message, feedback_type=None),
        ses_events.subscription_record(message, topics={"weekly": "OptOut"}, unsubscribe_all=False),
        ses_events.notification(ses_events.bounce_record(message)),
        ses_events.notification(ses_events.complaint_record(message)),
        ses_events.notification(ses_events.delivery_record(message)),
        ses_events.reject_record(message),
        ses_events.delivery_delay_record(message),
    ]
    events = [parse(json.loads(json.dumps(record))) for record in records]
    assert [(e.kind, e.source_format) for e in events if e] == [
        ("bounce", "event"),
        ("bounce", "event"),
        ("complaint", "event"),
        ("subscription", "event"),
        ("bounce", "notification"),
        ("complaint", "notification"),
        ("delivery", "notification"),
        ("reject", "event"),
        ("delivery_delay", "event"),
    ]
    assert all(e and e.recipients == ("old.customer@example.org",) for e in events)
    assert events[1] and not events[1].is_hard_bounce
    assert events[3] and events[3].topics_opted_out == ("weekly",) and not events[3].unsubscribe_all
    assert "tags" not in records[4]["mail"] and events[4] and events[4].tags == {}
    # The same bounce in both formats is the same event.
    assert events[0] and events[4] and events[0].key == events[4].key
    with pytest.raises(ValueError):
        ses_events.notification(ses_events.open_record(message))


def test_sns_envelope_and_sqs_event_wrap_records() -> None:
    message = ses_events.Message(to=(f"bounce@{SIM}",), timestamp=1_700_000_000.0)
    record = ses_events.bounce_record(message)
    arn = f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:campaign-engine-SesEventsTopic"
    envelope = ses_events.sns_envelope(record, arn)
    assert envelope == ses_events.sns_envelope(record, arn)
    assert list(envelope) == [
        "Type",
        "MessageId",
        "TopicArn",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
    ]
    event = ses_events.sqs_event([envelope], f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT_ID}:q")
    (sqs_record,) = event["Records"]
    assert unwrap(sqs_record["body"]) == record
    assert unwrap(sqs_record) == record
