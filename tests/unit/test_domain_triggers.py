"""StartCampaign's trigger events: a malformed one is a CampaignError naming the field (fuzz reproducers)."""

from __future__ import annotations

import pytest
from campaign_engine.config import Settings
from campaign_engine.domain.errors import CampaignError
from campaign_engine.domain.triggers import S3Event, ScheduleEvent, parse_trigger
from campaign_engine.services import start

SETTINGS = Settings.model_validate(
    {
        "BUCKET_NAME": "b",
        "RUNS_TABLE": "r",
        "LEDGER_TABLE": "l",
        "SUPPRESSION_TABLE": "s",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:x",
    }
)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"source": "schedule", "campaign_id": "recipe"}, "scheduled_time"),
        ({"source": "schedule", "scheduled_time": "2026-12-07T09:00:00Z"}, "campaign_id"),
        ({"source": "schedule", "campaign_id": "recipe", "scheduled_time": "yesterday"}, "scheduled_time"),
        (
            {"source": "schedule", "campaign_id": "recipe", "scheduled_time": "9999-12-31T23:59:59-01:00"},
            "scheduled_time",
        ),
        ({"Records": "x"}, "Records"),
        ({"Records": [1.5]}, "Records[0]"),
        ({"Records": [{"s3": "x"}]}, "Records[0].s3"),
        ({"Records": None}, "Records"),
        ({"Records": [{"s3": {"object": {"key": 5}}}]}, "Records[0].s3.object.key"),
        ({"Records": [{"s3": {"object": {"key": "incoming/recipe/a.csv", "eTag": 5}}}]}, "eTag"),
    ],
)
def test_a_malformed_trigger_is_refused_naming_the_field(event: dict, field: str) -> None:
    with pytest.raises(CampaignError) as caught:
        start.handle(event, SETTINGS)
    assert field in str(caught.value)


def test_a_non_object_event_is_refused() -> None:
    with pytest.raises(CampaignError, match="not an object"):
        start.handle(["Records"], SETTINGS)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "stamp"),
    [
        ("2026-12-07T09:00:00Z", "20261207T090000Z"),
        ("2026-12-07T10:00:00+01:00", "20261207T090000Z"),  # the run id is in UTC, as its Z says
        ("0001-01-01T00:00:00Z", "00010101T000000Z"),  # always 8 + 6 digits: matches start.RUN_ID
    ],
)
def test_a_scheduled_time_names_the_run_in_utc_with_every_digit(given: str, stamp: str) -> None:
    event = parse_trigger(ScheduleEvent, {"campaign_id": "recipe", "scheduled_time": given}, "schedule input")
    assert event.stamp == stamp
    assert start.RUN_ID.match(f"recipe-s-{event.stamp}")


def test_s3_keys_are_decoded_as_s3_encodes_them() -> None:
    event = parse_trigger(
        S3Event,
        {"Records": [{"s3": {"object": {"key": "incoming/recipe/my+file%C3%A9.csv", "eTag": "e", "versionId": "v"}}}]},
        "s3",
    )
    assert event.objects() == [("incoming/recipe/my fileé.csv", "e", "v")]
