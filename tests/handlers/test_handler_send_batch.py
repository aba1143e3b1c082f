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

from campaign_local.lambdas import invoke_handler as call
from campaign_local.stack import LocalStack
from tests.conftest import load_event

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


def test_a_batch_record_is_written_before_and_after_its_ses_call_and_no_more(
    quiet_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One SES call: INFLIGHT before it, then the results with DONE in one write (the results
    and DONE used to be two writes)."""
    written: list[tuple[Any, list[str]]] = []
    original = RunStore.put_batch

    def spy(self: RunStore, run_id: str, batch: int, record: dict[str, Any]) -> None:
        written.append((record.get("state"), sorted(record["entries"].values())))
        original(self, run_id, batch, record)

    monkeypatch.setattr(RunStore, "put_batch", spy)

    send(load_event("send_batch/batch.json"))

    assert written == [("OPEN", ["INFLIGHT", "INFLIGHT"]), ("DONE", ["SENT", "SENT"])]


def ledger_items(stack: LocalStack) -> dict[str, dict[str, Any]]:
    items = stack.client("dynamodb").scan(TableName=stack.environment["LEDGER_TABLE"])["Items"]
    return {item["pk"]["S"].rsplit("#", 1)[1]: {k: next(iter(v.values())) for k, v in item.items()} for item in items}


def test_a_sent_address_keeps_its_reservation_and_a_released_one_is_written_back(quiet_stack: LocalStack) -> None:
    event = load_event("send_batch/batch.json")
    run_id = event["context"]["run_id"]
    send(event)
    # Sent: the ledger item stays RESERVED by this run and batch (no second write), which
    # blocks every other run (test_a_corrected_upload_of_a_one_off_campaign_does_not_send_again).
    assert {a: (i["status"], i["run_id"], i["batch"]) for a, i in ledger_items(quiet_stack).items()} == {
        address: ("RESERVED", run_id, "0") for address in BATCH_0
    }

    # Released (SES refused the call): written back, so a later run may send them.
    rerun = load_event("prepare/run_input.json")
    rerun["run_id"] = "recipe-u-released"
    prepared = call("PrepareFunction", rerun)
    promo = quiet_stack.get_json(prepared["items_key"])[1]
    quiet_stack.configure_ses(sending_enabled=False)
    with pytest.raises(AccountLevelError):
        send({"context": prepared["context"], "item": promo})
    assert ledger_items(quiet_stack)["subscriber2@example.com"]["status"] == "RELEASED"


def test_every_request_of_the_unvalidated_clients_is_valid_for_botocores_model(quiet_stack: LocalStack) -> None:
    """The SES v2 and DynamoDB clients skip botocore's parameter validation for speed
    (adapters/aws.py); this runs their requests through it here instead, over a send, a
    duplicate, a suppression and an account-level release (which writes the ledger back)."""
    from botocore.validate import ParamValidationDecorator, validate_parameters
    from campaign_engine.adapters import aws

    validated: list[str] = []

    def validate(params: dict[str, Any], model: Any, **_: Any) -> None:
        validate_parameters(params, model.input_shape)  # raises ParamValidationError
        validated.append(f"{model.service_model.service_name}:{model.name}")

    for service in (aws.SES_SEND, "sesv2", "dynamodb"):
        engine_client = aws.client(service)
        # botocore wraps its serializer in a validator when validation is on (meta.config
        # does not say: it keeps the default).
        assert not isinstance(engine_client._serializer, ParamValidationDecorator)
        engine_client.meta.events.register("before-parameter-build", validate)
    quiet_stack.client("dynamodb").put_item(
        TableName=quiet_stack.environment["SUPPRESSION_TABLE"],
        Item={"address": {"S": "subscriber3@example.com"}, "scope": {"S": "ALL"}, "reason": {"S": "BOUNCE"}},
    )
    send(load_event("send_batch/batch.json"))
    rerun = load_event("prepare/run_input.json")
    rerun["run_id"] = "recipe-u-validated"
    prepared = call("PrepareFunction", rerun)
    first, promo = quiet_stack.get_json(prepared["items_key"])
    send({"context": prepared["context"], "item": first})  # subscriber1 is a duplicate now
    quiet_stack.configure_ses(sending_enabled=False)
    with pytest.raises(AccountLevelError):
        send({"context": prepared["context"], "item": promo})

    assert {
        "sesv2:SendBulkEmail",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:TransactWriteItems",
        "dynamodb:PutItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:UpdateItem",
    } <= set(validated)
