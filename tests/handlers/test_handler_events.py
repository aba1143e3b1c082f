"""The events/ files: well-formed, documented, and equal to what the real pipeline passes.

One run of the real state machine on the local stack (S3 notification -> StartCampaign ->
Prepare -> SendBatch per batch -> Finalize) records every handler's input; the task-input
events must be those inputs, so `sam local invoke -e` and the handler tests exercise exactly
what AWS would send.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from campaign_local import lambdas
from campaign_local.stack import LocalStack
from tests.conftest import EVENTS, load_event

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBERS = ROOT / "examples/recipe/subscribers.json"
FUNCTIONS = {
    "start_campaign": "StartCampaignFunction",
    "prepare": "PrepareFunction",
    "send_batch": "SendBatchFunction",
    "finalize": "FinalizeFunction",
    "suppression": "SuppressionFunction",
    "engagement": "EngagementFunction",
    "unsubscribe": "UnsubscribeFunction",
    "quota_check": "QuotaCheckFunction",
}


def inputs_of(logical_id: str) -> list[Any]:
    names = {n for n, c in lambdas.REGISTRY.functions.items() if c.logical_id == logical_id}
    return [i.event for i in lambdas.REGISTRY.invocations if i.function in names]


def test_every_event_file_is_pretty_printed_json_for_a_function_and_documented() -> None:
    files = sorted(EVENTS.rglob("*.json"))
    readme = (EVENTS / "README.md").read_text(encoding="utf-8")
    template = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert {f.parent.name for f in files} == set(FUNCTIONS)
    for path in files:
        relative = path.relative_to(EVENTS).as_posix()
        text = path.read_text(encoding="utf-8")
        pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
        assert text == pretty, f"{relative}: not pretty-printed"
        assert f"`{relative}`" in readme, f"{relative} is not described in events/README.md"
    for directory, logical_id in FUNCTIONS.items():
        assert (ROOT / "functions" / directory / "app.py").is_file()
        assert f"\n  {logical_id}:\n" in template
        assert f"sam local invoke {logical_id}" in readme


def test_task_input_events_are_what_the_state_machine_passes(recipe_stack: LocalStack) -> None:
    stack = recipe_stack
    # The notifications of these two uploads start a run of the recipe and a run of a campaign
    # without a definition (which Prepare fails), each with the example subscriber file.
    stack.upload("incoming/recipe/subscribers.json", SUBSCRIBERS.read_bytes())
    stack.upload("incoming/spring-sale/subscribers.json", SUBSCRIBERS.read_bytes())
    finished = {e["name"]: e for e in stack.wait_for_all(timeout=60)}

    run_input = load_event("prepare/run_input.json")
    missing = load_event("prepare/run_input_missing_campaign.json")
    assert set(finished) == {run_input["run_id"], missing["run_id"]}
    assert finished[run_input["run_id"]]["status"] == "SUCCEEDED"
    assert finished[missing["run_id"]]["status"] == "FAILED"

    # StartCampaign got S3 notifications shaped like events/start_campaign/s3_put.json.
    sample = load_event("start_campaign/s3_put.json")["Records"][0]
    for notification in inputs_of("StartCampaignFunction"):
        (record,) = notification["Records"]
        assert set(record) <= set(sample)
        assert set(record["s3"]["object"]) <= set(sample["s3"]["object"])
        assert record["s3"]["bucket"]["name"] == sample["s3"]["bucket"]["name"]

    # Prepare: the execution input, unchanged.
    prepare_inputs = inputs_of("PrepareFunction")
    assert run_input in prepare_inputs and missing in prepare_inputs
    assert json.loads(finished[run_input["run_id"]]["input"]) == run_input

    # SendBatch: {"context", "item"} from the ItemSelector; batch.json is batch 0.
    batch_inputs = inputs_of("SendBatchFunction")
    assert load_event("send_batch/batch.json") in batch_inputs
    assert len(batch_inputs) == 2

    # Finalize: the whole state.
    final = {state["run_id"]: state for state in inputs_of("FinalizeFunction")}
    assert final[missing["run_id"]] == load_event("finalize/after_prepare_failure.json")
    after_map = load_event("finalize/after_map.json")
    real = final[run_input["run_id"]]
    assert set(real) == set(after_map)
    assert {k: v for k, v in real.items() if k != "map"} == {k: v for k, v in after_map.items() if k != "map"}
    assert set(real["map"]) == set(after_map["map"]) == {"MapRunArn", "ResultWriterDetails"}
    assert set(real["map"]["ResultWriterDetails"]) == set(after_map["map"]["ResultWriterDetails"])
    assert real["map"]["ResultWriterDetails"]["Bucket"] == after_map["map"]["ResultWriterDetails"]["Bucket"]
    assert real["map"]["ResultWriterDetails"]["Key"].startswith("runs/map-results/")
    # The Map's Catch replaces "map" with "error" (ResultPath $.error) and keeps the rest.
    after_error = load_event("finalize/after_map_error.json")
    assert {k: v for k, v in after_error.items() if k != "error"} == {
        k: v for k, v in after_map.items() if k not in ("map", "quota")
    }
    assert set(after_error["error"]) == {"Error", "Cause"}
