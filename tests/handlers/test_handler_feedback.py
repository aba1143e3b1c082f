"""The feedback functions on the events/ files (the payloads `sam local invoke -e` uses)."""

from __future__ import annotations

import json

import pytest
from campaign_engine.domain.ses_events import parse, unwrap

from campaign_local import lambdas
from tests.conftest import EVENTS, load_event

RUN = "run-0001"


def ses_records(event: dict) -> list[dict]:
    out = []
    for record in event["Records"]:
        try:
            out.append(unwrap(record["body"]))
        except ValueError:
            continue
    return out


def suppression_items(stack) -> dict[str, dict]:
    table = stack.outputs["SuppressionTableName"]
    items = stack.client("dynamodb").scan(TableName=table)["Items"]
    return {item["address"]["S"]: item for item in items}


def run_counts(stack) -> dict[str, int]:
    from campaign_engine.adapters.engagement import EngagementStore

    totals, _ = EngagementStore(stack.outputs["EngagementTableName"]).run_counts(RUN)
    return {name: value for name, value in totals.items() if value}


@pytest.mark.parametrize(
    "name, reason",
    [
        ("bounce-permanent", "BOUNCE"),
        ("complaint", "COMPLAINT"),
        ("notification-bounce", "BOUNCE"),
        ("notification-complaint", "COMPLAINT"),
    ],
)
def test_suppression_records_hard_bounces_and_complaints(quiet_stack, name, reason):
    event = load_event(f"suppression/{name}.json")
    (record,) = ses_records(event)
    expected = set(parse(record).recipients)
    assert expected
    result = lambdas.invoke_handler("SuppressionFunction", event)
    assert result == {"batchItemFailures": []}
    items = suppression_items(quiet_stack)
    assert set(items) == expected
    for address in expected:
        assert items[address]["reason"]["S"] == reason and items[address]["status"]["S"] == "SUPPRESSED"


def test_suppression_acts_only_on_the_bounced_recipients(quiet_stack):
    event = load_event("suppression/bounce-permanent.json")
    record = json.loads(event["Records"][0]["body"])
    message = json.loads(record["Message"])
    message["mail"]["destination"].append("bystander@example.com")
    record["Message"] = json.dumps(message)
    event["Records"][0]["body"] = json.dumps(record)
    lambdas.invoke_handler("SuppressionFunction", event)
    assert set(suppression_items(quiet_stack)) == set(parse(unwrap(event["Records"][0]["body"])).recipients)
    assert "bystander@example.com" not in suppression_items(quiet_stack)


def test_a_transient_bounce_is_watched_not_suppressed(quiet_stack):
    lambdas.invoke_handler("SuppressionFunction", load_event("suppression/bounce-transient.json"))
    (item,) = suppression_items(quiet_stack).values()
    assert item["status"]["S"] == "WATCH"


def test_a_subscription_event_unsubscribes(quiet_stack):
    event = load_event("suppression/subscription.json")
    (record,) = ses_records(event)
    lambdas.invoke_handler("SuppressionFunction", event)
    (item,) = suppression_items(quiet_stack).values()
    assert item["reason"]["S"] == "UNSUBSCRIBE"
    parsed = parse(record)
    assert item["scope"]["S"] == ("ALL" if parsed.unsubscribe_all else "TOPIC")


def test_a_poison_record_fails_alone(quiet_stack):
    event = load_event("suppression/poison.json")
    result = lambdas.invoke_handler("SuppressionFunction", event)
    bad = [r["messageId"] for r in event["Records"] if not r["body"].lstrip().startswith("{\n")]
    assert result["batchItemFailures"] == [{"itemIdentifier": bad[0]}]
    assert len(suppression_items(quiet_stack)) == 1  # the valid record next to it was applied


@pytest.mark.parametrize("path", sorted(p.name for p in (EVENTS / "engagement").glob("*.json") if p.stem != "poison"))
def test_engagement_takes_every_event_file_and_a_replay_changes_nothing(quiet_stack, path):
    event = load_event(f"engagement/{path}")
    assert lambdas.invoke_handler("EngagementFunction", event) == {"batchItemFailures": []}
    first = run_counts(quiet_stack)
    assert lambdas.invoke_handler("EngagementFunction", event) == {"batchItemFailures": []}
    assert run_counts(quiet_stack) == first


def test_engagement_counts_the_mixed_batch(quiet_stack):
    lambdas.invoke_handler("EngagementFunction", load_event("engagement/mixed-batch.json"))
    counts = run_counts(quiet_stack)
    assert counts["send"] >= 1 and counts["delivery"] >= 1 and counts["open"] >= 1 and counts["click"] >= 1


def _with_token(event: dict, token: str) -> dict:
    text = json.dumps(event).replace("TOKEN_PLACEHOLDER", token)
    return json.loads(text)


def _token(stack, address="ann@example.com") -> str:
    from campaign_engine.adapters.secrets import signing_key
    from campaign_engine.config import settings
    from campaign_engine.domain import tokens

    secret = signing_key(settings().unsubscribe_secret_arn)
    return tokens.sign(secret, tokens.UnsubscribeClaim(address, "recipe", None, RUN, "new_customers"))


def test_unsubscribe_get_shows_a_page_and_changes_nothing(quiet_stack):
    response = lambdas.invoke_handler(
        "UnsubscribeFunction", _with_token(load_event("unsubscribe/get.json"), _token(quiet_stack))
    )
    assert response["statusCode"] == 200 and "One-Click" in response["body"]
    assert suppression_items(quiet_stack) == {}


@pytest.mark.parametrize("name", ["post-one-click", "post-multipart"])
def test_unsubscribe_post_suppresses_and_counts_once(quiet_stack, name):
    event = _with_token(load_event(f"unsubscribe/{name}.json"), _token(quiet_stack))
    assert lambdas.invoke_handler("UnsubscribeFunction", event)["statusCode"] == 200
    assert lambdas.invoke_handler("UnsubscribeFunction", event)["statusCode"] == 200
    items = suppression_items(quiet_stack)
    assert items["ann@example.com"]["reason"]["S"] == "UNSUBSCRIBE"
    assert run_counts(quiet_stack) == {"unsubscribe": 1}


@pytest.mark.parametrize("name, status", [("post-no-token", 400), ("post-forged", 403), ("post-not-one-click", 400)])
def test_unsubscribe_refuses_bad_requests_and_changes_nothing(quiet_stack, name, status):
    event = _with_token(load_event(f"unsubscribe/{name}.json"), _token(quiet_stack))
    assert lambdas.invoke_handler("UnsubscribeFunction", event)["statusCode"] == status
    assert suppression_items(quiet_stack) == {}


def test_engagement_counts_the_click_file_per_link_and_hour(quiet_stack):
    """events/engagement/click.json: the click counts under its link (no query string) and in
    the hour it happened, in the report's ``feedback`` (what Finalize writes)."""
    from campaign_engine.config import Settings
    from campaign_engine.services.engagement import feedback

    event = load_event("engagement/click.json")
    assert lambdas.invoke_handler("EngagementFunction", event) == {"batchItemFailures": []}
    assert lambdas.invoke_handler("EngagementFunction", event) == {"batchItemFailures": []}  # a replay
    settings = Settings.model_validate(
        {**quiet_stack.environment, "ENGAGEMENT_TABLE": quiet_stack.outputs["EngagementTableName"]}
    )
    report = feedback(settings, RUN)
    assert report["links"] == [
        {
            "link": "https://www.example.com/recipes",
            "label": None,
            "clicks": 1,
            "unique_clicks": 1,
            "unsubscribe": False,
            "other": False,
        }
    ]
    assert report["timeline"] == [
        {"start": "2026-03-02T09:00:00Z", "hours": 1, "opens": 0, "unique_opens": 0, "clicks": 1, "unique_clicks": 1}
    ]
    assert report["clicks"] == report["clicked"] == 1
    assert report["rates"]["click"] == {"rate": None, "of": "delivered"}  # no delivery reported: no rate
