"""Prepare on Amazon Pinpoint segment files (examples/pinpoint/), with events/prepare/run_input_pinpoint.json.

The bucket's S3 notification is off, so putting the segment under incoming/ does not start a run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from campaign_engine.adapters.runs import RunStore
from campaign_engine.domain.outcomes import OUTCOMES
from campaign_engine.services.prepare import UNSEGMENTED

from campaign_local.lambdas import invoke_handler as call
from campaign_local.stack import LocalStack
from tests.conftest import load_event

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples/pinpoint"
CAMPAIGN = "pinpoint-migration"


@pytest.fixture
def pinpoint_stack(stack: LocalStack):
    stack.client("s3").put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    for path in (EXAMPLES / "templates").glob("*.json"):
        stack.put_json(f"templates/{path.stem}.json", json.loads(path.read_text()))
    stack.put_json(f"campaigns/{CAMPAIGN}.json", json.loads((EXAMPLES / "campaign.json").read_text()))
    yield stack
    assert stack.executions() == [], "a handler test started an execution"


def prepare_file(stack: LocalStack, name: str, body: bytes | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Prepare the run of events/prepare/run_input_pinpoint.json, pointed at ``name``."""
    event = load_event("prepare/run_input_pinpoint.json")
    key = f"incoming/{CAMPAIGN}/{name}"
    stack.upload(key, (EXAMPLES / name).read_bytes() if body is None else body)
    if key != event["audience"]["key"]:
        event["audience"] = {"key": key}
        event["run_id"] = f"{event['run_id']}-{name.replace('.', '-')}"
    return event, call("PrepareFunction", event)


def prepared(stack: LocalStack, event: dict[str, Any]) -> dict[str, Any]:
    return RunStore(stack.environment["RUNS_TABLE"]).get_run(CAMPAIGN, event["run_id"])["prepare"]


@pytest.mark.parametrize(("name", "first_line"), [("segment.json", 1), ("segment.csv", 2)])
def test_prepare_sends_only_email_endpoints_and_counts_the_others(pinpoint_stack, name, first_line):
    event, output = prepare_file(pinpoint_stack, name)

    assert output["status"] == "READY", output["error"]
    batches = pinpoint_stack.get_lines(output["context"]["batches_key"])
    recipients = {
        r["email"]: (b["segment"], b["template"], r["line"] - first_line + 1) for b in batches for r in b["recipients"]
    }
    assert recipients == {
        "ana.silva@example.com": ("gold_members", "pinpoint-offer", 1),
        "ben.okafor@example.com": ("book_readers", "pinpoint-newsletter", 3),
        "dev.patel@example.com": ("default", "pinpoint-newsletter", 7),
    }
    # Recipients carry the endpoint as Pinpoint named it; one-value attributes are plain values.
    ana = next(r["data"] for b in batches for r in b["recipients"] if r["email"] == "ana.silva@example.com")
    assert ana["User"]["UserAttributes"] == {"FirstName": "Ana", "Tier": "gold"}
    assert ana["Attributes"]["Interests"] == ["books", "music"]

    rejects = pinpoint_stack.get_lines(f"runs/{CAMPAIGN}/{event['run_id']}/rejects.jsonl")
    assert [(r["line"] - first_line + 1, r["outcome"], r["field"], r["email"]) for r in rejects] == [
        (2, "skipped", "ChannelType", None),  # SMS: a phone number is not an email address
        (4, "suppressed", "OptOut", "carla.diaz@example.com"),
        (5, "skipped", "ChannelType", None),  # APNS
        (6, "duplicate", "Address", "ana.silva@example.com"),
        (8, "skipped", "EndpointStatus", "eli.old@example.com"),
    ]
    assert "SMS" in rejects[0]["reason"] and "APNS" in rejects[2]["reason"]
    assert "OptOut ALL" in rejects[1]["reason"]

    counts = prepared(pinpoint_stack, event)
    assert counts["rows"] == 8
    assert counts["queued"] == {"gold_members": 1, "book_readers": 1, "default": 1}
    assert counts["segments"][UNSEGMENTED]["skipped"] == 3
    assert counts["segments"][UNSEGMENTED]["suppressed"] == 1
    assert counts["segments"]["gold_members"]["duplicate"] == 1
    decided = sum(sum(c[o] for o in OUTCOMES) for c in counts["segments"].values())
    assert decided + sum(counts["queued"].values()) == counts["rows"]
    assert pinpoint_stack.sent_messages() == []


def test_prepare_counts_bad_endpoints_as_invalid_with_line_and_field(pinpoint_stack):
    lines = [
        '{"ChannelType": "EMAIL", "Address": "ann@example.com", "User": {"UserAttributes": {"FirstName": ["Ann"]}}}',
        '{"ChannelType": "EMAIL", "Address": "not-an-address", "User": {"UserAttributes": {"FirstName": ["Bob"]}}}',
        '{"ChannelType": "EMAIL", "User": {"UserAttributes": {"FirstName": ["Cid"]}}}',
        '{"ChannelType": "EMAIL", "Address": "dee@example.com", "OptOut": "SOMETIMES"}',
        '{"Address": "eve@example.com"}',
        '{"ChannelType": "EMAIL", "Address": "fay@example.com",',
        '{"ChannelType": "VOICE", "Address": "+12065550199"}',
    ]
    event, output = prepare_file(pinpoint_stack, "bad.json", ("\n".join(lines) + "\n").encode())

    assert output["status"] == "READY" and output["batch_count"] == 1
    rejects = pinpoint_stack.get_lines(f"runs/{CAMPAIGN}/{event['run_id']}/rejects.jsonl")
    assert [(r["line"], r["outcome"], r["field"]) for r in rejects] == [
        (2, "invalid", "Address"),
        (3, "invalid", "Address"),
        (4, "invalid", "OptOut"),
        (5, "invalid", "ChannelType"),
        (6, "invalid", None),
        (7, "skipped", "ChannelType"),
    ]
    assert all(r["reason"] for r in rejects)
    assert prepared(pinpoint_stack, event)["rows"] == len(lines)


def test_a_campaign_that_insists_on_pinpoint_refuses_a_plain_subscriber_csv(pinpoint_stack):
    definition = json.loads((EXAMPLES / "campaign.json").read_text())
    pinpoint_stack.put_json(f"campaigns/{CAMPAIGN}.json", {**definition, "audience": {"pinpoint": True}})

    _event, output = prepare_file(pinpoint_stack, "list.csv", b"email,name\nann@example.com,Ann\n")

    assert output["status"] == "FAILED" and output["batch_count"] == 0
    assert output["error"]["code"] == "audience_error"
    assert output["error"]["where"] == f"s3://{pinpoint_stack.bucket}/incoming/{CAMPAIGN}/list.csv: line 1"
    assert "ChannelType" in output["error"]["message"]
