"""Prepare handler with the events/prepare/ files, on the local stack.

The bucket's S3 notification is switched off for these tests so that putting the audience
under incoming/ (the key the events name) does not start a real execution of the same run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from campaign_engine.adapters.runs import RunStore
from campaign_engine.domain.outcomes import OUTCOMES

from campaign_local.lambdas import invoke_handler as call
from campaign_local.stack import LocalStack
from tests.conftest import load_event

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBERS = ROOT / "examples/recipe/subscribers.json"
RECIPE = json.loads((ROOT / "examples/recipe/campaign.json").read_text())


def prepare(event: dict[str, Any]) -> dict[str, Any]:
    return call("PrepareFunction", event)


def run_record(stack: LocalStack, campaign_id: str, run_id: str) -> dict[str, Any] | None:
    return RunStore(stack.environment["RUNS_TABLE"]).get_run(campaign_id, run_id)


def keys_under(stack: LocalStack, prefix: str) -> list[str]:
    listed = stack.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def read_range(stack: LocalStack, key: str, offset: int, length: int) -> bytes:
    body = stack.client("s3").get_object(Bucket=stack.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}")
    return body["Body"].read()


def with_audience(stack: LocalStack, key: str, body: bytes) -> dict[str, Any]:
    """events/prepare/run_input.json pointed at another audience file."""
    stack.upload(key, body)
    event = load_event("prepare/run_input.json")
    event["audience"] = {"key": key}
    return event


def assert_failed_before_sending(stack: LocalStack, output: dict[str, Any], event: dict[str, Any]) -> str:
    """FAILED, nothing to send, the error in the run record; returns the error text."""
    assert output["status"] == "FAILED"
    assert output["context"] is None and output["items_key"] is None and output["batch_count"] == 0
    record = run_record(stack, event["campaign_id"], event["run_id"])
    assert record is not None and record["error"] == output["error"]
    assert record["status"] == "RUNNING"  # Finalize closes it as FAILED (see the finalize tests)
    items_key = f"runs/{event['campaign_id']}/{event['run_id']}/items.json"
    assert items_key not in keys_under(stack, items_key) or stack.get_json(items_key) == []  # no batch queued
    assert stack.sent_messages() == []
    return " ".join(output["error"].get(part, "") for part in ("message", "where"))


def test_prepare_writes_batches_items_rejects_and_the_run_record(quiet_stack: LocalStack) -> None:
    event = load_event("prepare/run_input.json")
    prefix = f"runs/recipe/{event['run_id']}"

    output = prepare(event)

    assert output["status"] == "READY" and output["error"] is None
    assert output["batch_count"] == 2
    assert output["items_key"] == f"{prefix}/items.json"
    context = output["context"]
    assert context["batches_key"] == f"{prefix}/batches.jsonl"
    assert context["campaign_id"] == "recipe" and context["run_id"] == event["run_id"]
    assert context["from_address"] == "The Marketing Team <marketing@example.com>"
    assert context["configuration_set"] == quiet_stack.environment["CONFIGURATION_SET"]
    assert {name: plan["template"] for name, plan in context["segments"].items()} == {
        "new_customers": "welcome-campaign",
        "loyal_customers": "product-promotion",
    }
    assert keys_under(quiet_stack, prefix + "/") == [
        f"{prefix}/{name}"
        for name in ("batches.jsonl", "campaign.json", "items.json", "rejects.jsonl", "snapshot.json")
    ]
    # What the run started with, for a retry or a resume: definition, templates, audience bytes.
    snapshot = quiet_stack.get_json(f"{prefix}/snapshot.json")
    assert snapshot["definition"]["segments"] == RECIPE["segments"]
    assert sorted(snapshot["templates"]) == ["product-promotion", "welcome-campaign"]
    assert snapshot["audience"]["key"] == "incoming/recipe/subscribers.json" and snapshot["audience"]["etag"]

    # items.json: one pointer per batch; each byte range is exactly one line of batches.jsonl.
    items = quiet_stack.get_json(output["items_key"])
    assert [(i["batch"], i["segment"], i["count"]) for i in items] == [
        (0, "new_customers", 2),
        (1, "loyal_customers", 1),
    ]
    batches = quiet_stack.get_lines(context["batches_key"])
    for item, line in zip(items, batches, strict=True):
        assert json.loads(read_range(quiet_stack, context["batches_key"], item["offset"], item["length"])) == line
        assert (line["batch"], line["segment"], len(line["recipients"])) == (
            item["batch"],
            item["segment"],
            item["count"],
        )
    recipients = {r["email"]: (b["segment"], b["template"], r["line"]) for b in batches for r in b["recipients"]}
    assert recipients == {
        "subscriber1@example.com": ("new_customers", "welcome-campaign", 2),
        "subscriber3@example.com": ("new_customers", "welcome-campaign", 20),
        "subscriber2@example.com": ("loyal_customers", "product-promotion", 11),
    }
    assert quiet_stack.get_lines(f"{prefix}/rejects.jsonl") == []

    record = run_record(quiet_stack, "recipe", event["run_id"])
    assert record["status"] == "RUNNING"
    assert (record["trigger"], record["occurrence"], record["audience_key"]) == (
        "upload",
        "once",
        "incoming/recipe/subscribers.json",
    )
    assert record["prepare"]["rows"] == 3
    assert record["prepare"]["queued"] == {"new_customers": 2, "loyal_customers": 1}
    assert record["batch_count"] == 2 and record["max_concurrency"] == output["max_concurrency"]
    # Prepare creates the SES templates it needs, and sends nothing.
    names = {t["TemplateName"] for t in quiet_stack.client("sesv2").list_email_templates()["TemplatesMetadata"]}
    assert names == {"welcome-campaign", "product-promotion"}
    assert quiet_stack.sent_messages() == []

    # Step Functions retries Prepare after a Lambda service error: the same run, the same batches.
    assert prepare(load_event("prepare/run_input.json")) == output
    assert quiet_stack.get_lines(context["batches_key"]) == batches
    assert run_record(quiet_stack, "recipe", event["run_id"])["prepare"]["rows"] == 3


def test_prepare_paces_from_the_local_ses_quota(quiet_stack: LocalStack) -> None:
    # share 0.8 of MaxSendRate; whole workers of 25/s where the share allows; MAX_CONCURRENCY_CAP is 40.
    cases = [(1.0, 1, 0.8), (14.0, 1, 11.2), (100.0, 3, 25.0), (10_000.0, 40, 200.0)]
    for attempt, (max_send_rate, concurrency, worker_rate) in enumerate(cases):
        quiet_stack.configure_ses(max_send_rate=max_send_rate)
        event = load_event("prepare/run_input.json")
        event["run_id"] = f"{event['run_id']}-{attempt}"

        output = prepare(event)

        assert output["status"] == "READY"
        assert output["max_concurrency"] == concurrency, max_send_rate
        assert output["context"]["worker_rate"] == pytest.approx(worker_rate)
        record = run_record(quiet_stack, "recipe", event["run_id"])
        assert record["max_concurrency"] == concurrency
        assert float(record["worker_rate"]) == pytest.approx(worker_rate)


def test_prepare_gives_every_row_one_outcome_and_writes_rejects_with_line_and_field(quiet_stack: LocalStack) -> None:
    rows = [
        '{"email": "ann@example.com", "name": "Ann", "segment": "new_customers"}',
        '{"email": "not-an-address", "name": "Bob", "segment": "new_customers"}',
        '{"email": "ANN@Example.com", "name": "Ann again", "segment": "new_customers"}',
        '{"email": "cid@example.com", "name": "Cid", "segment": "prospects"}',
        '{"name": "Dee", "segment": "loyal_customers"}',
        '{"email": "eve@example.com", "name": "Eve",',
        '{"email": "fay@example.com", "name": "Fay", "segment": "loyal_customers"}',
    ]
    event = with_audience(quiet_stack, "incoming/recipe/mixed.jsonl", ("\n".join(rows) + "\n").encode())

    output = prepare(event)

    assert output["status"] == "READY" and output["batch_count"] == 2
    rejects = quiet_stack.get_lines(f"runs/recipe/{event['run_id']}/rejects.jsonl")
    assert [(r["line"], r["outcome"], r["field"]) for r in rejects] == [
        (2, "invalid", "email"),
        (3, "duplicate", "email"),
        (4, "skipped", None),
        (5, "invalid", "email"),
        (6, "invalid", None),
    ]
    assert all(r["reason"] for r in rejects)
    assert rejects[1]["email"] == "ann@example.com"  # the normalised address
    queued = [r["email"] for b in quiet_stack.get_lines(output["context"]["batches_key"]) for r in b["recipients"]]
    assert sorted(queued) == ["ann@example.com", "fay@example.com"]
    prepared = run_record(quiet_stack, "recipe", event["run_id"])["prepare"]
    assert prepared["rows"] == len(rows)
    counted = sum(sum(counts[o] for o in OUTCOMES) for counts in prepared["segments"].values())
    assert counted + sum(prepared["queued"].values()) == len(rows)


def test_prepare_with_a_missing_campaign_definition_fails_naming_the_file(quiet_stack: LocalStack) -> None:
    event = load_event("prepare/run_input_missing_campaign.json")
    quiet_stack.upload(event["audience"]["key"], SUBSCRIBERS.read_bytes())

    output = prepare(event)

    text = assert_failed_before_sending(quiet_stack, output, event)
    assert f"s3://{quiet_stack.bucket}/campaigns/spring-sale.json" in text


def test_prepare_with_a_broken_campaign_definition_fails_naming_the_file(quiet_stack: LocalStack) -> None:
    broken = {
        b'{"sender": ': "not valid JSON",
        json.dumps({**RECIPE, "send_rate": 0.5}).encode(): "send_rate",
        json.dumps(
            {**RECIPE, "segments": [{**RECIPE["segments"][0], "rule": {"field": "segment", "like": "x"}}]}
        ).encode(): "segments",
        json.dumps({**RECIPE, "campaign_id": "other"}).encode(): "campaign_id 'other' does not match",
    }
    for attempt, (body, problem) in enumerate(broken.items()):
        quiet_stack.upload("campaigns/recipe.json", body)
        event = load_event("prepare/run_input.json")
        event["run_id"] = f"{event['run_id']}-{attempt}"

        output = prepare(event)

        text = assert_failed_before_sending(quiet_stack, output, event)
        assert output["error"]["code"] == "invalid_campaign_definition"
        assert "campaigns/recipe.json" in output["error"]["where"]
        assert problem in text, text


def test_prepare_with_an_unknown_template_fails_naming_the_template(quiet_stack: LocalStack) -> None:
    segments = [RECIPE["segments"][0], {**RECIPE["segments"][1], "template": "summer-sale"}]
    quiet_stack.put_json("campaigns/recipe.json", {**RECIPE, "segments": segments})
    event = load_event("prepare/run_input.json")

    output = prepare(event)

    text = assert_failed_before_sending(quiet_stack, output, event)
    assert output["error"]["code"] == "template_error"
    assert "summer-sale" in output["error"]["message"]
    assert output["error"]["where"] == f"s3://{quiet_stack.bucket}/templates/summer-sale.json"
    assert "templates/summer-sale.json" in text


def test_prepare_stops_when_the_sample_row_lacks_a_template_variable(quiet_stack: LocalStack) -> None:
    # product-promotion uses {{discount}}; without the segment's data no row has it.
    segments = [RECIPE["segments"][0], {k: v for k, v in RECIPE["segments"][1].items() if k != "data"}]
    quiet_stack.put_json("campaigns/recipe.json", {**RECIPE, "segments": segments})
    event = load_event("prepare/run_input.json")

    output = prepare(event)

    assert_failed_before_sending(quiet_stack, output, event)
    assert output["error"]["code"] == "template_error"
    assert "product-promotion" in output["error"]["message"]
    assert "discount" in output["error"]["message"]
    assert output["error"]["where"] == f"s3://{quiet_stack.bucket}/incoming/recipe/subscribers.json: line 11"


BAD_AUDIENCES = [
    ("incoming/recipe/subscribers.xml", b"<subscribers/>", "unknown audience format"),
    ("incoming/recipe/subscribers.csv", b"name,segment\nAnn,new_customers\n", "no email column"),
    ("incoming/recipe/empty.csv", b"", "file is empty"),
    ("incoming/recipe/empty.json", b"[]", "no rows"),
    ("incoming/recipe/cut.json", b'[{"email": "ann@example.com"}', "file ends inside the JSON array"),
    # A Latin-1 file is read now (issue 11); a workbook is not, and the error says how to export CSV.
    ("incoming/recipe/subscribers.xlsx", b"PK\x03\x04 workbook", "not a CSV or JSON file"),
    ("incoming/recipe/gone.json", None, "missing or unreadable"),
]


def test_prepare_with_a_bad_audience_fails_naming_the_file(quiet_stack: LocalStack) -> None:
    for attempt, (key, body, expected) in enumerate(BAD_AUDIENCES):
        if body is None:
            event = load_event("prepare/run_input.json")
            event["audience"] = {"key": key}
        else:
            event = with_audience(quiet_stack, key, body)
        event["run_id"] = f"{event['run_id']}-{attempt}"

        output = prepare(event)

        text = assert_failed_before_sending(quiet_stack, output, event)
        assert expected in output["error"]["message"], (key, output["error"])
        assert f"s3://{quiet_stack.bucket}/{key}" in text, (key, text)


def test_prepare_with_a_vanished_object_version_fails_naming_the_file(quiet_stack: LocalStack) -> None:
    # The S3 event's versionId no longer exists (NoSuchVersion): expired or deleted meanwhile.
    event = load_event("prepare/run_input.json")
    vanished = load_event("start_campaign/s3_put.json")["Records"][0]["s3"]["object"]["versionId"]
    event["audience"]["version_id"] = vanished

    output = prepare(event)

    text = assert_failed_before_sending(quiet_stack, output, event)
    assert f"s3://{quiet_stack.bucket}/incoming/recipe/subscribers.json" in text


def test_prepare_of_a_stopped_run_does_nothing(quiet_stack: LocalStack) -> None:
    event = load_event("prepare/run_input.json")
    store = RunStore(quiet_stack.environment["RUNS_TABLE"])
    store.start_run("recipe", event["run_id"], {"trigger": "upload"})
    assert store.stop_run("recipe", event["run_id"], "CANCELLED", "cancelled by an operator")

    output = prepare(event)

    assert output["status"] == "FAILED"
    assert output["error"] == {"code": "run_not_active", "message": "run is CANCELLED"}
    assert run_record(quiet_stack, "recipe", event["run_id"])["status"] == "CANCELLED"
    assert keys_under(quiet_stack, f"runs/recipe/{event['run_id']}/") == []


def test_prepare_rejects_an_event_that_is_not_a_run_input(quiet_stack: LocalStack) -> None:
    with pytest.raises(ValueError, match="unexpected"):
        prepare({**load_event("prepare/run_input.json"), "unexpected": True})
    with pytest.raises(ValueError, match="trigger"):
        prepare({**load_event("prepare/run_input.json"), "trigger": "webhook"})
    assert run_record(quiet_stack, "recipe", load_event("prepare/run_input.json")["run_id"]) is None
