"""The daily SES quota: a run sends what the quota allows, waits in the state machine until
quota is back, and continues; nobody is lost or sent twice."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from campaign_local import lambdas
from campaign_local.stack import LocalStack

pytestmark = pytest.mark.workflow
ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400


class Clock:
    """The local SES's clock; a day passes when the test says so."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def test_a_run_waits_for_the_daily_quota_and_finishes_exactly_once():
    clock = Clock()
    # The Wait state sleeps QuotaRecheckSeconds for real: one second here (900 by default).
    with LocalStack.start(parameters={"QuotaRecheckSeconds": "1"}) as stack:
        stack.verify_sender("example.com")
        stack.configure_ses(max_send_rate=500, max_24_hour_send=60, publish_events=False, clock=clock)
        for path in (ROOT / "templates").glob("*.json"):
            stack.put_json(f"templates/{path.stem}.json", json.loads(path.read_text()))
        stack.put_json("campaigns/recipe.json", json.loads((ROOT / "examples/recipe/campaign.json").read_text()))
        checks: list[dict] = []

        def a_day_passes_while_waiting(logical_id, payload):
            if logical_id != "QuotaCheckFunction":
                return
            record = stack.client("dynamodb").get_item(
                TableName=stack.outputs["RunsTableName"],
                Key={"pk": {"S": f"CAMPAIGN#{payload['campaign_id']}"}, "sk": {"S": f"RUN#{payload['run_id']}"}},
            )["Item"]
            checks.append({"waiting": "quota_wait" in record})
            if "quota_wait" in record and int(record["quota_wait"]["M"]["checks"]["N"]) >= 1:
                clock.offset += DAY + 1  # the first check found none; by the second, yesterday's sends aged out

        lambdas.REGISTRY.hooks.append(a_day_passes_while_waiting)
        rows = [{"email": f"user{i}@example.com", "name": f"U {i}", "segment": "new_customers"} for i in range(150)]
        stack.upload("incoming/recipe/subscribers.json", json.dumps(rows).encode())
        (execution,) = stack.wait_for_all(timeout=180)
        assert execution["status"] == "SUCCEEDED"
        report = stack.report("recipe", execution["name"])
        assert report["status"] == "COMPLETED" and report["sent"] == 150 and report["not_sent"] == 0
        sent = [m["to"][0] for m in stack.sent_messages()]
        assert len(sent) == len(set(sent)) == 150
        waits = report["quota_waits"]
        assert len(waits) == 2  # 60 a day: 150 recipients take three days, two waits
        assert all(w["to"] >= w["from"] for w in waits)
        assert any(c["waiting"] for c in checks) and checks[-1] == {"waiting": False}
