"""A run keeps what it started with (issue 10, finding 7), and sends only as the stack's
SenderIdentity (finding 5b): the real state machine and handlers on the local stack."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from campaign_engine.config import Settings
from campaign_engine.services import control

from campaign_local import lambdas
from campaign_local.stack import LocalStack

pytestmark = pytest.mark.workflow
ROOT = Path(__file__).resolve().parents[2]
RECIPE = json.loads((ROOT / "examples/recipe/campaign.json").read_text())
OUTCOMES = ("sent", "suppressed", "invalid", "duplicate", "skipped", "failed", "unknown", "not_sent")


def put_recipe(stack: LocalStack, definition: dict[str, Any]) -> None:
    for path in (ROOT / "templates").glob("*.json"):
        stack.put_json(f"templates/{path.stem}.json", json.loads(path.read_text()))
    stack.put_json("campaigns/recipe.json", definition)


def upload_and_wait(stack: LocalStack, rows: list[dict[str, Any]]) -> str:
    before = {e["executionArn"] for e in stack.executions()}
    stack.upload("incoming/recipe/subscribers.json", json.dumps(rows).encode())
    (new,) = [e for e in stack.executions() if e["executionArn"] not in before]
    return str(stack.wait_for_execution(new["executionArn"])["name"])


def finalized(stack: LocalStack, run_id: str) -> dict[str, Any]:
    lambdas.invoke_handler("FinalizeFunction", {"campaign_id": "recipe", "run_id": run_id})
    return stack.report("recipe", run_id)


def test_a_resume_after_the_definition_changed_sends_everyone_exactly_once() -> None:
    # 200 rows, new and loyal customers alternating: batches 0 and 1 (50 each) go out, then the
    # run is paused before batch 2; the team then puts a "vip" segment first that takes rows 0-39.
    # Prepared again from that definition, the batches would shift: rows 100-139 would land in
    # the batches already done and never be sent, rows 0-39 would be called duplicates.
    rows = [
        {"email": f"person{i}@example.com", "name": f"Person {i}", "score": i, "segment": segment}
        for i, segment in enumerate(["new_customers", "loyal_customers"] * 100)
    ]
    with LocalStack.start(parameters={"MaxConcurrencyCap": "1"}) as stack:
        stack.verify_sender("example.com")
        stack.configure_ses(max_send_rate=500, max_24_hour_send=1_000_000)
        put_recipe(stack, RECIPE)
        settings = Settings.model_validate(stack.environment)
        paused: list[str] = []

        def pause_before_batch_2(logical_id: str, payload: Any) -> None:
            if logical_id == "SendBatchFunction" and payload["item"]["batch"] == 2 and not paused:
                paused.append(payload["context"]["run_id"])
                control.pause(settings, payload["context"]["run_id"], "recipe")

        lambdas.REGISTRY.hooks.append(pause_before_batch_2)
        try:
            run_id = upload_and_wait(stack, rows)
        finally:
            lambdas.REGISTRY.hooks.remove(pause_before_batch_2)
        report = finalized(stack, run_id)
        assert paused == [run_id] and report["status"] == "PAUSED"
        assert report["sent"] == 100 and report["not_sent"] == 100

        vip = {"name": "vip", "rule": {"field": "score", "lt": 40}, "template": "welcome-campaign"}
        put_recipe(stack, {**RECIPE, "segments": [vip, *RECIPE["segments"]]})
        lambdas.invoke_handler("StartCampaignFunction", {"action": "resume", "campaign_id": "recipe", "run_id": run_id})
        stack.wait_for_all()
        report = finalized(stack, run_id)

        assert report["status"] == "COMPLETED"
        assert report["rows"] == 200 == sum(report[o] for o in OUTCOMES)
        assert (report["sent"], report["duplicate"], report["not_sent"], report["unknown"]) == (200, 0, 0, 0)
        received = Counter(m["to"][0] for m in stack.sent_messages())
        assert received == Counter({row["email"]: 1 for row in rows})  # everyone, once
        assert "vip" not in report["segments"]  # the run kept its own definition


def test_a_sender_outside_the_stack_identity_fails_the_run_before_anything_is_sent(stack: LocalStack) -> None:
    # On AWS SendBatch's policy allows only identity/<SenderIdentity> (example.com by default); the
    # local SES verifies the other domain too, so only Prepare's check stops this run here.
    stack.verify_sender("elsewhere.org")
    put_recipe(stack, {**RECIPE, "sender": {"address": "news@elsewhere.org", "name": "News"}})

    run_id = upload_and_wait(stack, [{"email": "ann@example.com", "segment": "new_customers"}])
    report = stack.report("recipe", run_id)

    assert report["status"] == "FAILED"
    assert report["error"]["code"] == "invalid_campaign_definition"
    assert report["error"]["where"].endswith("campaigns/recipe.json: sender.address")
    assert stack.sent_messages() == []


def test_a_transient_test_render_failure_is_retried_and_the_run_completes(stack: LocalStack) -> None:
    # Finding 4 end to end: SES answers TestRenderEmailTemplate once with a 500 (after the SDK's
    # retries); Prepare raises TransientAwsError, the state machine retries it, the run completes.
    from botocore.awsrequest import AWSResponse
    from campaign_engine.adapters import aws

    failures: list[str] = []

    def fail_once(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if failures:
            return None
        failures.append("InternalServerError")
        parsed: dict[str, Any] = {
            "Error": {"Code": "InternalServerError", "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": 500},
        }
        return AWSResponse("https://email.us-east-1.amazonaws.com", 500, {}, None), parsed

    put_recipe(stack, RECIPE)
    events = aws.client("sesv2").meta.events
    events.register("before-call.sesv2.TestRenderEmailTemplate", fail_once, unique_id="render-fails-once")
    try:
        run_id = upload_and_wait(stack, [{"email": "ann@example.com", "segment": "new_customers"}])
    finally:
        events.unregister("before-call.sesv2.TestRenderEmailTemplate", unique_id="render-fails-once")
    report = stack.report("recipe", run_id)

    assert failures == ["InternalServerError"]
    assert report["status"] == "COMPLETED" and report.get("error") is None
    assert report["sent"] == 1 and [m["to"][0] for m in stack.sent_messages()] == ["ann@example.com"]
