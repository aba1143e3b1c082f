"""SendBatch handler with events/send_batch/batch.json, on the local stack.

batch.json is what the Map's ItemSelector passes for batch 0 of the run in
events/prepare/run_input.json, so each test first runs the real Prepare for that run: it
writes the run record and the batches.jsonl the item points into.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from campaign_engine.adapters.runs import RunStore
from campaign_engine.domain.errors import AccountLevelError
from conftest import load_event

from campaign_local.lambdas import invoke_handler as call
from campaign_local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBERS = ROOT / "examples/recipe/subscribers.json"
BATCH_0 = ["subscriber1@example.com", "subscriber3@example.com"]


def send(event: dict[str, Any]) -> dict[str, Any]:
    return call("SendBatchFunction", event)


def counts(**values: int) -> dict[str, int]:
    zero = dict.fromkeys(("sent", "suppressed", "invalid", "duplicate", "skipped", "failed", "unknown", "not_sent"), 0)
    return {**zero, **values}


@pytest.fixture(autouse=True)
def prepared(quiet_stack: LocalStack) -> dict[str, Any]:
    """Prepare's output for events/prepare/run_input.json (run record, batches.jsonl, items.json)."""
    output = call("PrepareFunction", load_event("prepare/run_input.json"))
    assert output["status"] == "READY"
    return output


def store(stack: LocalStack) -> RunStore:
    return RunStore(stack.environment["RUNS_TABLE"])


def test_send_batch_sends_each_recipient_once_with_unsubscribe_headers_and_tags(quiet_stack: LocalStack) -> None:
    event = load_event("send_batch/batch.json")
    run_id = event["context"]["run_id"]

    output = send(event)

    assert output == {"batch": 0, "segment": "new_customers", "counts": counts(sent=2), "skipped_reason": None}
    messages = quiet_stack.sent_messages()
    assert sorted(m["to"][0] for m in messages) == BATCH_0
    for message in messages:
        assert message["template"] == "welcome-campaign"
        assert message["from"] == "The Marketing Team <marketing@example.com>"
        assert message["reply_to"] == ["support@example.com"]
        assert message["configuration_set"] == quiet_stack.environment["CONFIGURATION_SET"]
        assert message["tags"] == {"campaign": "recipe", "run": run_id, "segment": "new_customers", "source": "recipe"}
        unsubscribe = message["headers"]["List-Unsubscribe"]
        # The template's UnsubscribeFunction URL (locally: the function URL server on 127.0.0.1).
        assert unsubscribe.startswith(f"<{quiet_stack.unsubscribe_url}?token=") and unsubscribe.endswith(">")
        assert message["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert unsubscribe[1:-1] in message["html"] and unsubscribe[1:-1] in message["text"]
    by_to = {m["to"][0]: m for m in messages}
    assert by_to["subscriber1@example.com"]["subject"] == "Welcome to Our Community, John Doe!"
    assert by_to["subscriber3@example.com"]["subject"] == "Welcome to Our Community, Bob Johnson!"
    record = store(quiet_stack).get_batch(run_id, 0)
    assert record["state"] == "DONE" and record["counts"] == counts(sent=2)
    assert set(record["entries"].values()) == {"SENT"}
    assert not any("@" in h for h in record["entries"])  # the batch record holds no raw addresses


def test_the_same_batch_event_again_sends_nothing_more(quiet_stack: LocalStack) -> None:
    first = send(load_event("send_batch/batch.json"))
    sent = quiet_stack.sent_messages()

    second = send(load_event("send_batch/batch.json"))

    assert second == first
    assert quiet_stack.sent_messages() == sent
    assert len(sent) == 2


def test_a_batch_of_a_run_that_is_not_running_sends_nothing(quiet_stack: LocalStack) -> None:
    event = load_event("send_batch/batch.json")
    run_id = event["context"]["run_id"]
    for status in ("PAUSED", "CANCELLED"):
        runs = store(quiet_stack)
        runs.update_run("recipe", run_id, {"status": status})

        output = send(event)

        assert output == {
            "batch": 0,
            "segment": "new_customers",
            "counts": counts(),
            "skipped_reason": f"run is {status}",
        }
        assert quiet_stack.sent_messages() == []
        assert runs.get_batch(run_id, 0) is None
    # Resumed: the batch goes out.
    store(quiet_stack).update_run("recipe", run_id, {"status": "RUNNING"})
    assert send(event)["counts"] == counts(sent=2)

    # A batch of a run that has no run record at all sends nothing either.
    event["context"]["run_id"] = "recipe-u-no-such-run"
    assert send(event)["skipped_reason"] == "run is None"
    assert len(quiet_stack.sent_messages()) == 2


def test_a_corrected_upload_of_a_one_off_campaign_does_not_send_again(quiet_stack: LocalStack) -> None:
    send(load_event("send_batch/batch.json"))
    # A second run of the same one-off campaign (a corrected file): same ledger scope "once".
    rerun = load_event("prepare/run_input.json")
    rerun["run_id"] = "recipe-u-corrected"
    prepared = call("PrepareFunction", rerun)
    item = quiet_stack.get_json(prepared["items_key"])[0]

    output = send({"context": prepared["context"], "item": item})

    assert output["counts"] == counts(duplicate=2)
    assert sorted(m["to"][0] for m in quiet_stack.sent_messages()) == BATCH_0  # still once each


def test_a_suppressed_recipient_is_dropped_before_sending(quiet_stack: LocalStack) -> None:
    quiet_stack.client("dynamodb").put_item(
        TableName=quiet_stack.environment["SUPPRESSION_TABLE"],
        Item={"address": {"S": "subscriber3@example.com"}, "scope": {"S": "ALL"}, "reason": {"S": "BOUNCE"}},
    )

    output = send(load_event("send_batch/batch.json"))

    assert output["counts"] == counts(sent=1, suppressed=1)
    assert [m["to"][0] for m in quiet_stack.sent_messages()] == ["subscriber1@example.com"]


def test_an_account_level_ses_error_stops_the_run_and_releases_the_batch(quiet_stack: LocalStack) -> None:
    event = load_event("send_batch/batch.json")
    run_id = event["context"]["run_id"]
    quiet_stack.configure_ses(sending_enabled=False)

    with pytest.raises(AccountLevelError) as caught:
        send(event)

    assert "SendingPaused" in str(caught.value)
    assert quiet_stack.sent_messages() == []
    run = store(quiet_stack).get_run("recipe", run_id)
    assert run["status"] == "FAILED" and "SendingPaused" in run["reason"]
    assert store(quiet_stack).get_batch(run_id, 0)["counts"] == counts(not_sent=2)
    # Every later batch of the run now sends nothing.
    quiet_stack.configure_ses(sending_enabled=True)
    assert send(load_event("send_batch/batch.json"))["skipped_reason"] == "run is FAILED"
    assert quiet_stack.sent_messages() == []


def test_every_batch_of_the_run_sends_its_segment(quiet_stack: LocalStack, prepared: dict[str, Any]) -> None:
    items = quiet_stack.get_json(prepared["items_key"])

    outputs = [send({"context": json.loads(json.dumps(prepared["context"])), "item": item}) for item in items]

    assert [(o["batch"], o["segment"], o["counts"]["sent"]) for o in outputs] == [
        (0, "new_customers", 2),
        (1, "loyal_customers", 1),
    ]
    promo = [m for m in quiet_stack.sent_messages() if m["template"] == "product-promotion"]
    assert [m["to"][0] for m in promo] == ["subscriber2@example.com"]
    assert promo[0]["subject"] == "Exclusive Offer: 20% Off Smart Watch"
