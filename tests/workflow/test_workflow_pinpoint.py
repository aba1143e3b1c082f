"""A Pinpoint segment export uploaded to incoming/ goes out to its email endpoints, end to end.

The real state machine, the real handlers and the local SES: only EMAIL endpoints that have not
opted out receive a message, once per address, and the report counts every endpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from campaign_engine.domain.outcomes import OUTCOMES
from campaign_engine.services.prepare import UNSEGMENTED

from campaign_local import lambdas
from tests.conftest import load_event

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples/pinpoint"
CAMPAIGN = "pinpoint-migration"


def prepare_inputs() -> list[dict]:
    names = {n for n, c in lambdas.REGISTRY.functions.items() if c.logical_id == "PrepareFunction"}
    return [i.event for i in lambdas.REGISTRY.invocations if i.function in names]


@pytest.mark.parametrize("name", ["segment.json", "segment.csv"])
def test_a_pinpoint_segment_upload_sends_to_exactly_its_email_endpoints(stack, name):
    for path in (EXAMPLES / "templates").glob("*.json"):
        stack.put_json(f"templates/{path.stem}.json", json.loads(path.read_text()))
    stack.put_json(f"campaigns/{CAMPAIGN}.json", json.loads((EXAMPLES / "campaign.json").read_text()))

    stack.upload(f"incoming/{CAMPAIGN}/{name}", (EXAMPLES / name).read_bytes())
    (started,) = stack.executions()
    execution = stack.wait_for_execution(started["executionArn"])
    report = stack.report(CAMPAIGN, execution["name"])

    assert execution["status"] == "SUCCEEDED" and report["status"] == "COMPLETED"
    messages = {m["to"][0]: m for m in stack.sent_messages()}
    assert len(stack.sent_messages()) == 3
    assert set(messages) == {"ana.silva@example.com", "ben.okafor@example.com", "dev.patel@example.com"}
    # Pinpoint's template variables render as they did in Pinpoint.
    assert messages["ana.silva@example.com"]["subject"] == "Ana, 20% off for our gold members"
    assert "Or visit our store in Lisbon." in messages["ana.silva@example.com"]["text"]
    assert messages["ben.okafor@example.com"]["subject"] == "Ben, your November books newsletter"
    assert messages["dev.patel@example.com"]["subject"] == "Dev, your November newsletter"
    assert {m["tags"]["segment"] for m in messages.values()} == {"gold_members", "book_readers", "default"}

    # 8 endpoints: 3 sent, Ana's second endpoint a duplicate, Carla opted out (suppressed),
    # the SMS and APNS endpoints and an INACTIVE one skipped.
    assert report["rows"] == report["outcomes_total"] == 8
    assert {o: report[o] for o in OUTCOMES if report[o]} == {"sent": 3, "duplicate": 1, "suppressed": 1, "skipped": 3}
    assert report["segments"][UNSEGMENTED]["suppressed"] == 1
    assert report["segments"][UNSEGMENTED]["skipped"] == 3
    assert report["segments"]["gold_members"]["sent"] == 1 and report["segments"]["gold_members"]["duplicate"] == 1
    for outcome in OUTCOMES:
        assert sum(c[outcome] for c in report["segments"].values()) == report[outcome]
    rejects = stack.get_lines(report["rejects_key"])
    assert [(r["outcome"], r["field"]) for r in rejects] == [
        ("skipped", "ChannelType"),
        ("suppressed", "OptOut"),
        ("skipped", "ChannelType"),
        ("duplicate", "Address"),
        ("skipped", "EndpointStatus"),
    ]
    assert "SMS" in rejects[0]["reason"] and "APNS" in rejects[2]["reason"]
    assert "OptOut ALL" in rejects[1]["reason"]

    if name == "segment.json":
        # events/prepare/run_input_pinpoint.json is exactly what Prepare got for this upload.
        assert prepare_inputs() == [load_event("prepare/run_input_pinpoint.json")]
