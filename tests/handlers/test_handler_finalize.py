"""Finalize handler with the events/finalize/ files, on the local stack.

Each test first produces, with the real Prepare and SendBatch handlers, the run record and batch
records the state in the event refers to; Finalize then adds them up into report.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from campaign_engine.adapters.runs import RunStore
from campaign_engine.domain.errors import AccountLevelError
from campaign_engine.domain.outcomes import OUTCOMES
from campaign_engine.services import finalize as finalize_service

from campaign_local.lambdas import invoke_handler as call
from campaign_local.stack import LocalStack
from tests.conftest import load_event

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBERS = ROOT / "examples/recipe/subscribers.json"


def finalize(event: dict[str, Any]) -> dict[str, Any]:
    return call("FinalizeFunction", event)


def counts(**values: int) -> dict[str, int]:
    return {**dict.fromkeys(OUTCOMES, 0), **values}


def prepare_and_send(stack: LocalStack, batches: int | None = None) -> dict[str, Any]:
    """Prepare events/prepare/run_input.json, then send its first ``batches`` batches (all by default)."""
    prepared = call("PrepareFunction", load_event("prepare/run_input.json"))
    assert prepared["status"] == "READY"
    for item in stack.get_json(prepared["items_key"])[:batches]:
        call("SendBatchFunction", {"context": prepared["context"], "item": item})
    return prepared


def assert_adds_up(report: dict[str, Any]) -> None:
    """Every row has exactly one outcome, overall and per segment."""
    assert sum(report[o] for o in OUTCOMES) == report["outcomes_total"] == report["rows"]
    for outcome in OUTCOMES:
        assert sum(segment[outcome] for segment in report["segments"].values()) == report[outcome], outcome


def test_finalize_after_the_map_writes_a_report_whose_counts_add_up(quiet_stack: LocalStack) -> None:
    event = load_event("finalize/after_map.json")
    run_id = event["run_id"]
    prepare_and_send(quiet_stack)

    output = finalize(event)

    report_key = f"runs/recipe/{run_id}/report.json"
    assert output == {"status": "COMPLETED", "report_key": report_key, "rows": 3, "counts": counts(sent=3)}
    report = quiet_stack.get_json(report_key)
    assert_adds_up(report)
    assert (report["campaign_id"], report["run_id"], report["status"], report["error"]) == (
        "recipe",
        run_id,
        "COMPLETED",
        None,
    )
    assert (report["trigger"], report["occurrence"], report["audience_key"]) == (
        "upload",
        "once",
        "incoming/recipe/subscribers.json",
    )
    assert report["segments"] == {"loyal_customers": counts(sent=1), "new_customers": counts(sent=2)}
    assert report["batches"] == {"planned": 2, "recorded": 2}
    assert report["rejects_key"] == f"runs/recipe/{run_id}/rejects.jsonl"
    run = RunStore(quiet_stack.environment["RUNS_TABLE"]).get_run("recipe", run_id)
    assert run["status"] == "COMPLETED" and run["counts"] == counts(sent=3) and run["report_key"] == report_key

    # Step Functions retries Finalize on any error: a second call reports the same and keeps the status.
    assert finalize(load_event("finalize/after_map.json")) == output
    assert quiet_stack.get_json(report_key)["segments"] == report["segments"]
    assert RunStore(quiet_stack.environment["RUNS_TABLE"]).get_run("recipe", run_id)["status"] == "COMPLETED"


def test_finalize_counts_every_outcome_once(quiet_stack: LocalStack) -> None:
    audience = [
        {"email": "new1@example.com", "name": "New One", "segment": "new_customers"},
        {"email": "bounced@example.com", "name": "Bounced", "segment": "new_customers"},  # suppressed
        {"email": "not-an-address", "name": "Typo", "segment": "new_customers"},  # invalid
        {"email": "NEW1@example.com", "name": "New One again", "segment": "new_customers"},  # duplicate
        {"email": "someone@example.com", "name": "Someone", "segment": "prospects"},  # skipped
        {"email": "loyal1@example.com", "name": "Loyal One", "segment": "loyal_customers"},
        {"email": "refused@example.com", "name": "Refused", "segment": "loyal_customers"},  # failed
    ]
    quiet_stack.upload("incoming/recipe/subscribers.json", json.dumps(audience).encode())
    quiet_stack.client("dynamodb").put_item(
        TableName=quiet_stack.environment["SUPPRESSION_TABLE"],
        Item={"address": {"S": "bounced@example.com"}, "scope": {"S": "ALL"}, "reason": {"S": "BOUNCE"}},
    )
    quiet_stack.configure_ses(reject_when=lambda address: address.startswith("refused@"))
    prepare_and_send(quiet_stack)

    output = finalize(load_event("finalize/after_map.json"))

    report = quiet_stack.get_json(output["report_key"])
    assert_adds_up(report)
    assert report["rows"] == len(audience)
    assert output["counts"] == counts(sent=2, suppressed=1, invalid=1, duplicate=1, skipped=1, failed=1)
    assert report["status"] == "COMPLETED"
    assert report["segments"]["new_customers"] == counts(sent=1, suppressed=1, duplicate=1)
    assert report["segments"]["loyal_customers"] == counts(sent=1, failed=1)
    assert report["segments"]["(unsegmented)"] == counts(invalid=1, skipped=1)
    assert sorted(m["to"][0] for m in quiet_stack.sent_messages()) == ["loyal1@example.com", "new1@example.com"]


def test_finalize_after_a_map_error_reports_the_run_failed_and_unsent_rows(quiet_stack: LocalStack) -> None:
    event = load_event("finalize/after_map_error.json")
    assert event["error"]["Error"] == "States.ExceedToleratedFailureThreshold" and "map" not in event
    # The usual way there: an account-level SES error fails batch 0, which is not retried.
    quiet_stack.configure_ses(sending_enabled=False)
    with pytest.raises(AccountLevelError):
        prepare_and_send(quiet_stack, batches=1)

    output = finalize(event)

    assert output["status"] == "FAILED"
    assert output["counts"] == counts(not_sent=3)  # 2 released by batch 0, 1 in batch 1 never attempted
    report = quiet_stack.get_json(output["report_key"])
    assert_adds_up(report)
    assert report["error"] == {"code": "States.ExceedToleratedFailureThreshold", "message": event["error"]["Cause"]}
    assert report["reason"].startswith("SES refused the send (SendingPausedException)")
    assert report["batches"] == {"planned": 2, "recorded": 1}
    run = RunStore(quiet_stack.environment["RUNS_TABLE"]).get_run("recipe", event["run_id"])
    assert run["status"] == "FAILED" and run["error"]["code"] == "States.ExceedToleratedFailureThreshold"


def test_finalize_after_a_map_error_with_a_batch_sent_keeps_what_was_sent(quiet_stack: LocalStack) -> None:
    prepare_and_send(quiet_stack, batches=1)

    output = finalize(load_event("finalize/after_map_error.json"))

    assert output["status"] == "FAILED"
    assert output["counts"] == counts(sent=2, not_sent=1)
    assert_adds_up(quiet_stack.get_json(output["report_key"]))
    assert (
        RunStore(quiet_stack.environment["RUNS_TABLE"]).get_run(
            "recipe", load_event("finalize/after_map_error.json")["run_id"]
        )["status"]
        == "FAILED"
    )


def test_finalize_after_a_prepare_failure_reports_the_reason(quiet_stack: LocalStack) -> None:
    event = load_event("finalize/after_prepare_failure.json")
    run_input = load_event("prepare/run_input_missing_campaign.json")
    assert {k: v for k, v in event.items() if k != "prepare"} == run_input
    # What the Prepare task really returned for this run input is the state's "prepare".
    assert call("PrepareFunction", run_input) == event["prepare"]

    output = finalize(event)

    report_key = f"runs/spring-sale/{event['run_id']}/report.json"
    assert output == {"status": "FAILED", "report_key": report_key, "rows": 0, "counts": counts()}
    report = quiet_stack.get_json(report_key)
    assert report["status"] == "FAILED" and report["rows"] == 0 and report["rejects_key"] is None
    assert report["error"]["where"] == f"s3://{quiet_stack.bucket}/campaigns/spring-sale.json"
    run = RunStore(quiet_stack.environment["RUNS_TABLE"]).get_run("spring-sale", event["run_id"])
    assert run["status"] == "FAILED" and run["error"] == report["error"]
    assert quiet_stack.sent_messages() == []


def test_finalize_after_prepare_crashed_still_writes_a_failed_report(quiet_stack: LocalStack) -> None:
    # Prepare's Catch: no "prepare" in the state, a Lambda error in "error", and no run record.
    state = load_event("prepare/run_input_missing_campaign.json")
    state["error"] = {
        "Error": "Sandbox.Timedout",
        "Cause": json.dumps({"errorMessage": "Task timed out after 900.00 seconds", "errorType": "Sandbox.Timedout"}),
    }

    output = finalize(state)

    report = quiet_stack.get_json(output["report_key"])
    assert output["status"] == report["status"] == "FAILED"
    assert report["error"] == {"code": "Sandbox.Timedout", "message": "Task timed out after 900.00 seconds"}
    assert report["rows"] == 0


def test_a_cancel_while_finalize_runs_ends_in_the_report(quiet_stack: LocalStack, monkeypatch) -> None:
    """An operator cancels the run after Finalize read it RUNNING: Finalize's conditional write
    then misses, and the report and the record must still say CANCELLED, with finished_at."""
    event = load_event("finalize/after_map.json")
    prepare_and_send(quiet_stack)
    store = RunStore(quiet_stack.environment["RUNS_TABLE"])
    original = RunStore.update_run

    def cancel_first(self, campaign_id, run_id, values, *, only_if_status=None):
        monkeypatch.setattr(RunStore, "update_run", original)  # once
        store.update_run(campaign_id, run_id, {"status": "CANCELLED", "reason": "cancelled by an operator"})
        return original(self, campaign_id, run_id, values, only_if_status=only_if_status)

    monkeypatch.setattr(RunStore, "update_run", cancel_first)
    output = finalize(event)

    assert output["status"] == "CANCELLED"
    report = quiet_stack.get_json(output["report_key"])
    assert (report["status"], report["reason"]) == ("CANCELLED", "cancelled by an operator")
    run = store.get_run("recipe", event["run_id"])
    assert run["status"] == "CANCELLED" and run["finished_at"] == report["finished_at"]


def test_finalize_closes_the_record_before_it_writes_the_report(quiet_stack: LocalStack, monkeypatch) -> None:
    """Finding 6: a Finalize that died between its two writes left report.json COMPLETED next to
    a record that said RUNNING. The record now goes first: a death in between leaves a closed
    record and no report, and the retry writes a report that agrees with it."""
    event = load_event("finalize/after_map.json")
    prepare_and_send(quiet_stack)
    store = RunStore(quiet_stack.environment["RUNS_TABLE"])

    def put_fails(bucket: str, key: str, document: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "PutObject")

    monkeypatch.setattr(finalize_service, "storage", SimpleNamespace(put_json=put_fails))
    with pytest.raises(ClientError):
        finalize(event)
    run = store.get_run("recipe", event["run_id"])
    assert run["status"] == "COMPLETED" and run["counts"] == counts(sent=3) and run["finished_at"]
    with pytest.raises(ClientError, match="NoSuchKey"):
        quiet_stack.get_json(f"runs/recipe/{event['run_id']}/report.json")

    monkeypatch.undo()
    output = finalize(event)  # Step Functions' retry
    report = quiet_stack.get_json(output["report_key"])
    run = store.get_run("recipe", event["run_id"])
    assert report["status"] == run["status"] == "COMPLETED" and report["sent"] == run["counts"]["sent"] == 3
    assert report["finished_at"] == run["finished_at"]


def test_finalize_again_on_a_finished_run_keeps_finished_at_and_the_duration(quiet_stack: LocalStack) -> None:
    """Issue 11 finding 9: `campaign report --refresh` (Finalize again on a finished run) moved
    finished_at, so a 9-second send showed "Duration 1 min 56 s". Only a resume or a retry,
    which clear finished_at, may let the next Finalize set a new one."""
    import time
    from datetime import datetime

    event = load_event("finalize/after_map.json")
    run_id = event["run_id"]
    prepare_and_send(quiet_stack)
    finalize(event)
    report_key = f"runs/recipe/{run_id}/report.json"
    first = quiet_stack.get_json(report_key)
    store = RunStore(quiet_stack.environment["RUNS_TABLE"])
    recorded = store.get_run("recipe", run_id)["finished_at"]
    assert recorded == first["finished_at"]

    def took(report: dict[str, Any]) -> float:
        return (
            datetime.fromisoformat(report["finished_at"]) - datetime.fromisoformat(report["started_at"])
        ).total_seconds()

    time.sleep(1.2)  # a refresh later: a moving finished_at would move by at least this much
    finalize({"campaign_id": "recipe", "run_id": run_id})  # what `campaign report --refresh` runs
    refreshed = quiet_stack.get_json(report_key)
    assert refreshed["finished_at"] == first["finished_at"] and took(refreshed) == took(first)
    assert store.get_run("recipe", run_id)["finished_at"] == recorded

    # A resume clears finished_at and makes the run RUNNING again: its Finalize finishes it anew.
    store.update_run("recipe", run_id, {"status": "RUNNING", "finished_at": None})
    finalize(event)
    resumed = quiet_stack.get_json(report_key)
    assert resumed["finished_at"] > first["finished_at"]


def test_the_report_says_how_the_audience_was_read_and_what_prepare_warned_about(quiet_stack: LocalStack) -> None:
    """The run record's ``prepare.audience`` and ``prepare.warnings`` (Prepare writes them) reach
    report.json as ``audience`` and ``warnings``."""
    event = load_event("finalize/after_map.json")
    run_id = event["run_id"]
    prepare_and_send(quiet_stack)
    store = RunStore(quiet_stack.environment["RUNS_TABLE"])
    prepare = dict(store.get_run("recipe", run_id)["prepare"])
    audience = {
        "format": "csv",
        "encoding": "windows-1252",
        "delimiter": ";",
        "compression": "gzip",
        "columns": ["Email Address", "First Name"],
        "email_column": "Email Address",
    }
    warnings = ["template variable 'nickname' (welcome-campaign): no column provides it"]
    store.update_run("recipe", run_id, {"prepare": {**prepare, "audience": audience, "warnings": warnings}})

    finalize(event)

    report = quiet_stack.get_json(f"runs/recipe/{run_id}/report.json")
    assert report["audience"] == audience and report["warnings"] == warnings
    assert_adds_up(report)
