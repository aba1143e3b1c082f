"""StartCampaign handler with the events/start_campaign/ files, on the local stack.

The handler module is loaded the way the local stack loads it (``lambdas.load_handler`` with the
FunctionCode it registered from template.yaml) and called directly, so a rejected event raises
here exactly as the Lambda runtime would report it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from campaign_engine.domain.errors import CampaignError, DefinitionError

from campaign_local.lambdas import invoke_handler as call
from campaign_local.stack import LocalStack
from tests.conftest import load_event

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBERS = ROOT / "examples/recipe/subscribers.json"
SPACE_KEY = "incoming/recipe/spring subscribers.json"


def start(event: dict[str, Any]) -> dict[str, Any]:
    return call("StartCampaignFunction", event)


def run_id_for_upload(campaign_id: str, key: str, etag: str) -> str:
    """The deterministic name, computed independently of the code under test."""
    return f"{campaign_id}-u-" + hashlib.sha256(f"{key}\n{etag}".encode()).hexdigest()[:20]


def execution_inputs(stack: LocalStack) -> dict[str, dict[str, Any]]:
    sfn = stack.client("stepfunctions")
    return {
        e["name"]: json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
        for e in stack.executions()
    }


@pytest.fixture
def local(recipe_stack: LocalStack) -> Iterator[LocalStack]:
    """The recipe stack; every execution a test starts is finished before the stack stops."""
    yield recipe_stack
    recipe_stack.wait_for_all(timeout=60)


def test_s3_put_starts_one_execution_named_after_the_decoded_key_and_etag(local: LocalStack) -> None:
    event = load_event("start_campaign/s3_put.json")
    (record,) = event["Records"]
    assert (record["eventVersion"], record["eventSource"], record["eventName"], record["awsRegion"]) == (
        "2.1",
        "aws:s3",
        "ObjectCreated:Put",
        "us-east-1",
    )
    bucket = record["s3"]["bucket"]
    assert (bucket["name"], bucket["arn"]) == (local.bucket, f"arn:aws:s3:::{local.bucket}")
    obj = record["s3"]["object"]
    assert obj["key"] == "incoming/recipe/spring+subscribers.json"  # URL-encoded: the space is '+'
    # size and ETag are those of the example file, as S3 reports a single-part PUT of it.
    assert obj["size"] == SUBSCRIBERS.stat().st_size
    assert obj["eTag"] == hashlib.md5(SUBSCRIBERS.read_bytes()).hexdigest()
    assert obj["versionId"] and obj["sequencer"]
    expected = run_id_for_upload("recipe", SPACE_KEY, obj["eTag"])

    first = start(event)
    second = start(load_event("start_campaign/s3_put.json"))  # S3 may deliver a notification twice

    (run,) = first["runs"]
    assert run == {"run_id": expected, "started": True, "execution_arn": run["execution_arn"]}
    assert run["execution_arn"].endswith(f":execution:campaign-local-campaign:{expected}")
    # While the run is RUNNING, StartExecution with the same name and input answers with the
    # same execution (Standard workflows are idempotent); once it is closed, ExecutionAlreadyExists.
    (again,) = second["runs"]
    assert again["run_id"] == expected
    assert again.get("duplicate") is True or again["execution_arn"] == run["execution_arn"]
    assert execution_inputs(local) == {
        expected: {
            "campaign_id": "recipe",
            "run_id": expected,
            "occurrence": "once",
            "trigger": "upload",
            "audience": {"key": SPACE_KEY, "etag": obj["eTag"], "version_id": obj["versionId"]},
        }
    }
    local.wait_for_all(timeout=60)
    assert start(load_event("start_campaign/s3_put.json")) == {
        "runs": [{"run_id": expected, "started": False, "duplicate": True}]
    }

    # Different bytes under the same key (a corrected file) are a new run.
    corrected = load_event("start_campaign/s3_put.json")
    corrected["Records"][0]["s3"]["object"]["eTag"] = "0f343b0931126a20f133d67c2b018a3b"
    (other,) = start(corrected)["runs"]
    assert other["started"] is True
    assert other["run_id"] == run_id_for_upload("recipe", SPACE_KEY, "0f343b0931126a20f133d67c2b018a3b")
    assert len(local.executions()) == 2


def test_s3_put_event_names_the_same_run_as_the_notification_of_the_real_upload(local: LocalStack) -> None:
    # The bucket notification (URL-encoded key, as S3 sends it) starts the run...
    local.upload(SPACE_KEY, SUBSCRIBERS.read_bytes())
    (execution,) = local.executions()
    etag = hashlib.md5(SUBSCRIBERS.read_bytes()).hexdigest()
    assert execution["name"] == run_id_for_upload("recipe", SPACE_KEY, etag)

    # ...and the event file, a repeat of that notification, starts nothing more.
    result = start(load_event("start_campaign/s3_put.json"))

    assert result == {"runs": [{"run_id": execution["name"], "started": False, "duplicate": True}]}
    assert len(local.executions()) == 1
    (finished,) = local.wait_for_all(timeout=60)
    assert finished["status"] == "SUCCEEDED"
    assert sorted(m["to"][0] for m in local.sent_messages()) == [
        "subscriber1@example.com",
        "subscriber2@example.com",
        "subscriber3@example.com",
    ]


def test_objects_outside_incoming_campaign_folders_are_ignored(local: LocalStack) -> None:
    event = load_event("start_campaign/s3_put_outside_incoming.json")
    assert event["Records"][0]["s3"]["object"]["key"] == "audiences/recipe/subscribers.json"

    assert start(event) == {"runs": []}
    for key in ("incoming/recipe/", "incoming/recipe.json", "Incoming/recipe/x.json", "runs/recipe/x/report.json"):
        event = load_event("start_campaign/s3_put.json")
        event["Records"][0]["s3"]["object"]["key"] = key
        assert start(event) == {"runs": []}, key
    assert local.executions() == []


def test_schedule_starts_a_run_named_after_the_scheduled_time(local: LocalStack) -> None:
    definition = json.loads((ROOT / "examples/recipe/campaign.json").read_text())
    local.put_json("campaigns/recipe.json", {**definition, "audience_key": "audiences/recipe/subscribers.json"})
    local.upload("audiences/recipe/subscribers.json", SUBSCRIBERS.read_bytes())  # not incoming/: no run
    assert local.executions() == []
    head = local.client("s3").head_object(Bucket=local.bucket, Key="audiences/recipe/subscribers.json")
    event = load_event("start_campaign/schedule.json")
    assert event == {"source": "schedule", "campaign_id": "recipe", "scheduled_time": "2026-11-23T09:00:00Z"}

    first = start(event)
    second = start(load_event("start_campaign/schedule.json"))  # Scheduler retries deliver again

    run_id = "recipe-s-20261123T090000Z"
    (run,) = first["runs"]
    assert run["run_id"] == run_id and run["started"] is True
    (again,) = second["runs"]
    assert again["run_id"] == run_id
    assert again.get("duplicate") is True or again["execution_arn"] == run["execution_arn"]
    assert execution_inputs(local) == {
        run_id: {
            "campaign_id": "recipe",
            "run_id": run_id,
            "occurrence": "once",  # the recipe is a one-off campaign: one ledger scope for every run
            "trigger": "schedule",
            "audience": {
                "key": "audiences/recipe/subscribers.json",
                "etag": head["ETag"],
                "version_id": head["VersionId"],
            },
            "scheduled_time": "2026-11-23T09:00:00Z",
        }
    }
    (finished,) = local.wait_for_all(timeout=60)
    assert finished["status"] == "SUCCEEDED"
    assert len(local.sent_messages()) == 3
    assert start(load_event("start_campaign/schedule.json")) == {
        "runs": [{"run_id": run_id, "started": False, "duplicate": True}]
    }


def test_schedule_of_a_recurring_campaign_gets_its_own_occurrence(local: LocalStack) -> None:
    definition = json.loads((ROOT / "examples/recipe/campaign.json").read_text())
    local.put_json(
        "campaigns/recipe.json", {**definition, "recurring": True, "audience_key": "audiences/recipe/subscribers.json"}
    )
    local.upload("audiences/recipe/subscribers.json", SUBSCRIBERS.read_bytes())

    result = start(load_event("start_campaign/schedule.json"))

    assert result["runs"][0]["run_id"] == "recipe-s-20261123T090000Z"
    assert execution_inputs(local)["recipe-s-20261123T090000Z"]["occurrence"] == "scheduled-20261123T090000Z"


def test_a_broken_scheduled_run_fails_with_a_report_naming_what_is_missing(local: LocalStack) -> None:
    """A schedule fires whatever the bucket holds: the run starts and its report says why it failed,
    instead of Scheduler retrying into the dead-letter queue with no report."""
    definition = json.loads((ROOT / "examples/recipe/campaign.json").read_text())
    cases = [
        ("recipe", None, "campaigns/recipe.json: audience_key"),  # the recipe has no audience_key
        ("recipe", {**definition, "audience_key": "audiences/recipe/missing.json"}, "audiences/recipe/missing.json"),
        ("spring-sale", None, "campaigns/spring-sale.json"),
    ]
    for hour, (campaign_id, override, expected) in enumerate(cases, start=1):
        if override:
            local.put_json(f"campaigns/{campaign_id}.json", override)
        event = {
            **load_event("start_campaign/schedule.json"),
            "campaign_id": campaign_id,
            "scheduled_time": f"2026-11-23T0{hour}:00:00Z",
        }
        (run,) = start(event)["runs"]
        assert run["started"] is True
        arn = next(e["executionArn"] for e in local.executions() if e["name"] == run["run_id"])
        assert local.wait_for_execution(arn)["status"] == "FAILED"
        report = local.report(campaign_id, run["run_id"])
        assert report["status"] == "FAILED"
        assert expected in json.dumps(report["error"]), report["error"]
    assert local.sent_messages() == []


def test_bad_campaign_ids_and_unknown_events_are_rejected_with_a_message(local: LocalStack) -> None:
    for campaign_id in ("Spring Sale!", "../recipe", "", "x" * 49):
        with pytest.raises(DefinitionError) as caught:
            start({**load_event("start_campaign/schedule.json"), "campaign_id": campaign_id})
        assert "schedule input: campaign_id" in str(caught.value)
        assert f"campaign id '{campaign_id}' must be" in str(caught.value)

    event = load_event("start_campaign/s3_put.json")
    event["Records"][0]["s3"]["object"]["key"] = "incoming/Spring+Sale/subscribers.json"
    with pytest.raises(DefinitionError) as caught:
        start(event)
    assert "campaign id 'Spring Sale' must be" in str(caught.value)
    assert f"s3://{local.bucket}/incoming/Spring Sale/subscribers.json" in str(caught.value)

    with pytest.raises(
        CampaignError, match=r"unrecognised trigger event .*expected S3 Records, a schedule or a resume"
    ):
        start({"detail-type": "Scheduled Event", "source": "aws.events"})
    assert local.executions() == []


def test_a_repeat_while_the_run_is_still_running_is_reported_as_a_duplicate(local: LocalStack, monkeypatch) -> None:
    import threading
    import time

    from campaign_engine.services import start as start_service

    from campaign_local import lambdas

    release = threading.Event()

    def hold_prepare(logical_id: str, _event: Any) -> None:
        if logical_id == "PrepareFunction":
            release.wait(timeout=30)  # keep the first execution RUNNING

    lambdas.REGISTRY.hooks.append(hold_prepare)
    monkeypatch.setattr(start_service, "_SAME_CALL_TOLERANCE", start_service.timedelta(seconds=0.2))
    try:
        (first,) = start(load_event("start_campaign/s3_put.json"))["runs"]
        time.sleep(0.5)
        (again,) = start(load_event("start_campaign/s3_put.json"))["runs"]
    finally:
        release.set()
    assert first["started"] is True
    assert again == {**first, "started": False, "duplicate": True}
    assert len(local.executions()) == 1
