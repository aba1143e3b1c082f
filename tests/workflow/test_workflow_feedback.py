"""The feedback loop on the local stack: SES events -> SNS -> SQS -> suppression and engagement
functions, the one-click endpoint, the breaker, with the real state machine and handlers."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from campaign_local import lambdas
from campaign_local.stack import LocalStack

pytestmark = pytest.mark.workflow
ROOT = Path(__file__).resolve().parents[2]
SIM = "simulator.amazonses.com"


def audience(*locals_: str, segment: str = "new_customers") -> list[dict]:
    return [
        {"email": f"{local}@{SIM}" if "@" not in local else local, "name": f"Person {i}", "segment": segment}
        for i, local in enumerate(locals_)
    ]


def put_recipe(stack: LocalStack, campaign_id: str = "recipe", **changes) -> None:
    for path in (ROOT / "templates").glob("*.json"):
        stack.put_json(f"templates/{path.stem}.json", json.loads(path.read_text()))
    definition = json.loads((ROOT / "examples/recipe/campaign.json").read_text())
    definition.update(campaign_id=campaign_id, **changes)
    stack.put_json(f"campaigns/{campaign_id}.json", definition)


def run(stack: LocalStack, campaign_id: str, rows: list[dict], name: str = "subscribers.json") -> dict:
    before = {e["executionArn"] for e in stack.executions()}
    stack.upload(f"incoming/{campaign_id}/{name}", json.dumps(rows).encode())
    (new,) = [e for e in stack.executions() if e["executionArn"] not in before]
    execution = stack.wait_for_execution(new["executionArn"])
    return refresh(stack, campaign_id, execution["name"])


def refresh(stack: LocalStack, campaign_id: str, run_id: str) -> dict:
    stack.drain_feedback()
    lambdas.invoke_handler("FinalizeFunction", {"campaign_id": campaign_id, "run_id": run_id})
    return stack.report(campaign_id, run_id)


def scan(stack: LocalStack, output: str) -> list[dict]:
    items = []
    for page in stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.outputs[output]):
        items.extend(page["Items"])
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def suppressed(stack: LocalStack) -> dict[str, str]:
    return {
        item["address"]["S"]: item["reason"]["S"]
        for item in scan(stack, "SuppressionTableName")
        if item.get("status", {}).get("S") == "SUPPRESSED"
    }


def publish(stack: LocalStack, records: list[dict | str]) -> None:
    stack.publish_ses_records([r if isinstance(r, str) else json.dumps(r) for r in records])


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def unsubscribe_link(stack: LocalStack, address: str) -> str:
    (message,) = [m for m in stack.sent_messages() if m["to"] == [address]]
    return message["headers"]["List-Unsubscribe"].strip("<>")


@pytest.fixture
def feedback_stack(stack):
    stack.configure_ses(max_send_rate=500, max_24_hour_send=1_000_000)
    put_recipe(stack)
    return stack


def test_events_feed_suppression_engagement_and_the_report(feedback_stack):
    stack = feedback_stack
    rows = audience(
        "success", "bounce", "complaint", "ooto", "suppressionlist", "success+open", "success+click", "x@example.com"
    )
    report = run(stack, "recipe", rows)
    assert report["status"] == "COMPLETED" and report["sent"] == 8
    feedback = report["feedback"]
    assert feedback["sent"] == 8
    assert feedback["delivered"] == 6  # success x3, complaint, ooto, example.com
    assert feedback["bounced"] == feedback["hard_bounced"] == 2  # bounce, suppressionlist
    assert feedback["complained"] == 1
    assert feedback["opened"] == 2  # +open, +click (a click opens first)
    # The welcome template's one link is the unsubscribe link: +click's click is counted apart,
    # not as engagement (issue 11: the demo's clicks went to it and the page could not say so).
    assert feedback["clicked"] == 0 and feedback["unsubscribe_link_clicked"] == 1
    assert [row["unsubscribe"] for row in feedback["links"]] == [True]
    assert feedback["segments"]["new_customers"]["delivered"] == 6
    # The Send events, through SNS and SQS, are the send path's evidence of what SES accepted.
    from campaign_engine.adapters.engagement import EngagementStore
    from campaign_engine.domain.addresses import address_hash

    accepted = {address_hash(m["to"][0]): m["message_id"] for m in stack.sent_messages()}
    store = EngagementStore(stack.outputs["EngagementTableName"], dynamodb=stack.client("dynamodb"))
    assert store.send_evidence(report["run_id"], [*accepted, address_hash("never@example.com")]) == accepted
    # Exactly the bounced and complained recipients, never the others of the run.
    assert suppressed(stack) == {
        f"bounce@{SIM}": "BOUNCE",
        f"suppressionlist@{SIM}": "BOUNCE",
        f"complaint@{SIM}": "COMPLAINT",
    }


def test_a_later_campaign_skips_suppressed_addresses_and_counts_them(feedback_stack):
    stack = feedback_stack
    rows = audience("success", "bounce", "complaint", "ooto")
    run(stack, "recipe", rows)
    put_recipe(stack, "recipe-followup")
    second = run(stack, "recipe-followup", rows)
    assert second["suppressed"] == 2 and second["sent"] == 2
    later = [m["to"][0] for m in stack.sent_messages()][4:]
    assert sorted(later) == [f"ooto@{SIM}", f"success@{SIM}"]


def test_replaying_every_event_twice_in_random_order_changes_no_table(feedback_stack):
    stack = feedback_stack
    rows = audience("success+click", "bounce", "complaint", "ooto+open", "suppressionlist", "success", "success+open")
    run(stack, "recipe", rows)
    records = stack.published_events()
    assert len(records) >= 16
    tables = ("EngagementTableName", "SuppressionTableName")
    once = {name: scan(stack, name) for name in tables}

    replay = records * 2
    random.Random(11).shuffle(replay)
    publish(stack, replay)
    stack.drain_feedback()
    assert {name: scan(stack, name) for name in tables} == once  # not one item written

    # ... and the same as one ordered delivery into empty tables, but for which invocation
    # counted what: claim owners, commit records and counter shards (by token) differ.
    dynamodb = stack.client("dynamodb")
    for name in tables:
        table = stack.outputs[name]
        keys = [k["AttributeName"] for k in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
        for item in scan(stack, name):
            dynamodb.delete_item(TableName=table, Key={k: item[k] for k in keys})
    publish(stack, records)
    stack.drain_feedback()
    assert scan(stack, "SuppressionTableName") == once["SuppressionTableName"]
    assert content(scan(stack, "EngagementTableName")) == content(once["EngagementTableName"])


def content(items: list[dict]) -> dict:
    """The engagement table as what it says: every item but commit records, claims by name
    (not by owner token), and the counters summed per run and segment, time bucket or links
    (not per shard)."""
    from campaign_engine.adapters.dynamo import from_item
    from campaign_engine.domain.engagement import CLAIM_PREFIX

    plain, counters = [], {}
    for item in map(from_item, items):
        if item["pk"].startswith("BATCH#"):
            continue
        if item["sk"].startswith(("SEG#", "TL#", "LINK#")):
            # Counter shards: per run and segment, per run and time bucket, per run's links.
            kind = item["sk"].split("#")[0]
            key = (item["pk"], kind, item.get("segment") or item.get("bucket") or "")
            summed = counters.setdefault(key, {})
            for name, value in item.items():
                if isinstance(value, int):
                    summed[name] = summed.get(name, 0) + value
            continue
        claims = sorted(name for name in item if name.startswith(CLAIM_PREFIX))
        rest = {name: value for name, value in item.items() if not name.startswith(CLAIM_PREFIX)}
        plain.append(json.dumps({**rest, "claims": claims}, sort_keys=True, default=sorted))
    return {"items": sorted(plain), "counters": counters}


def test_a_poison_message_goes_to_the_dead_letter_queue_and_blocks_nothing(feedback_stack):
    stack = feedback_stack
    run(stack, "recipe", audience("success"))
    good = next(r for r in stack.published_events() if r["eventType"] == "Delivery")
    bounce = json.loads(json.dumps(good))
    bounce["eventType"] = "Bounce"
    bounce.pop("delivery")
    bounce["bounce"] = {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": f"success@{SIM}"}],
        "timestamp": good["mail"]["timestamp"],
        "feedbackId": "poison-test",
    }
    publish(stack, ["this is not JSON", {"eventType": "Bounce", "mail": {}}, bounce])
    stack.drain_feedback()
    sqs = stack.client("sqs")
    dead = sqs.receive_message(QueueUrl=stack.outputs["EngagementDeadLetterQueueUrl"], MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"])["Message"] for m in dead.get("Messages", [])]
    assert "this is not JSON" in bodies and len(bodies) == 2
    assert suppressed(stack) == {f"success@{SIM}": "BOUNCE"}  # the good record behind them was applied


def test_one_click_unsubscribe_endpoint(feedback_stack):
    stack = feedback_stack
    address = "jane@example.com"
    report = run(stack, "recipe", audience(address, "ooto"))
    url = unsubscribe_link(stack, address)
    assert url.startswith(stack.unsubscribe_url)
    token = url.split("token=", 1)[1]

    status, page = http("GET", url)
    assert status == 200 and "List-Unsubscribe" in page and address not in page
    assert suppressed(stack) == {}  # a GET never unsubscribes (link scanners follow links)

    assert http("POST", url, b"")[0] == 400  # not the one-click body
    assert http("POST", stack.unsubscribe_url, b"List-Unsubscribe=One-Click")[0] == 400  # no token
    assert http("POST", stack.unsubscribe_url + "?token=garbage", b"List-Unsubscribe=One-Click")[0] == 400
    payload, signature = token.split(".")
    forged = stack.unsubscribe_url + "?token=" + payload[:-2] + "AA." + signature
    assert http("POST", forged, b"List-Unsubscribe=One-Click")[0] in (400, 403)
    other = stack.unsubscribe_url + "?token=" + payload + "." + signature[::-1]
    assert http("POST", other, b"List-Unsubscribe=One-Click")[0] == 403
    assert suppressed(stack) == {}

    assert http("POST", url, b"List-Unsubscribe=One-Click")[0] == 200
    record = scan(stack, "SuppressionTableName")
    assert suppressed(stack) == {address: "UNSUBSCRIBE"}
    assert http("POST", url, b"List-Unsubscribe=One-Click")[0] == 200  # harmless again
    assert scan(stack, "SuppressionTableName") == record
    report = refresh(stack, "recipe", report["run_id"])
    assert report["feedback"]["unsubscribed"] == 1


def test_an_address_suppressed_during_the_run_is_not_sent(feedback_stack):
    stack = feedback_stack
    rows = audience(*[f"user{i}@example.com" for i in range(120)])
    victim = "user110@example.com"  # in the third batch
    complaint = {
        "eventType": "Complaint",
        "mail": {"messageId": "earlier-message", "timestamp": "2026-01-01T00:00:00.000Z", "destination": [victim]},
        "complaint": {
            "complainedRecipients": [{"emailAddress": victim}],
            "timestamp": "2026-01-01T00:00:05.000Z",
            "feedbackId": "mid-run",
            "complaintFeedbackType": "abuse",
        },
    }

    def complain_before_batch_2(logical_id, payload):
        if logical_id == "SendBatchFunction" and payload["item"]["batch"] == 2 and not suppressed(stack):
            publish(stack, [complaint])
            stack.drain_feedback()

    lambdas.REGISTRY.hooks.append(complain_before_batch_2)
    report = run(stack, "recipe", rows)
    assert report["suppressed"] == 1 and report["sent"] == 119
    assert victim not in [m["to"][0] for m in stack.sent_messages()]


def test_the_breaker_pauses_a_run_of_bounces_and_a_resume_finishes_it():
    with LocalStack.start(parameters={"MaxConcurrencyCap": "1"}) as stack:
        stack.verify_sender("example.com")
        stack.configure_ses(max_send_rate=500, max_24_hour_send=1_000_000)
        put_recipe(stack, breaker={"min_sends": 20, "min_events": 3})
        rows = audience(*[f"bounce+{i}" for i in range(50)], *[f"success+{i}" for i in range(100)])

        def let_events_land(logical_id, payload):
            if logical_id == "SendBatchFunction":
                stack.drain_feedback()  # batches run one at a time: the last one's events are in

        lambdas.REGISTRY.hooks.append(let_events_land)
        report = run(stack, "recipe", rows)
        assert report["status"] == "PAUSED"
        assert report["reason"].startswith("breaker: bounce rate")
        assert report["sent"] == 50 and report["not_sent"] == 100  # batch 0 bounced, then the run paused
        assert report["rows"] == sum(report[o] for o in ("sent", "not_sent"))

        lambdas.invoke_handler(
            "StartCampaignFunction", {"action": "resume", "campaign_id": "recipe", "run_id": report["run_id"]}
        )
        stack.wait_for_all()
        resumed = refresh(stack, "recipe", report["run_id"])
        assert resumed["status"] == "COMPLETED" and resumed["sent"] == 150 and resumed["not_sent"] == 0
        sent = [m["to"][0] for m in stack.sent_messages()]
        assert len(sent) == len(set(sent)) == 150  # nobody twice


def test_sync_to_the_ses_account_suppression_list_when_the_stack_asks_for_it():
    with LocalStack.start(parameters={"SyncAccountSuppressionList": "true"}) as stack:
        stack.verify_sender("example.com")
        stack.configure_ses(max_send_rate=500, max_24_hour_send=1_000_000)
        put_recipe(stack)
        run(stack, "recipe", audience("bounce", "complaint", "success"))
        ses = stack.client("sesv2")
        listed = {
            d["EmailAddress"]: d["Reason"] for d in ses.list_suppressed_destinations()["SuppressedDestinationSummaries"]
        }
        assert listed == {f"bounce@{SIM}": "BOUNCE", f"complaint@{SIM}": "COMPLAINT"}


def test_without_the_parameter_the_ses_account_list_is_left_alone(feedback_stack):
    run(feedback_stack, "recipe", audience("bounce"))
    assert feedback_stack.client("sesv2").list_suppressed_destinations()["SuppressedDestinationSummaries"] == []
