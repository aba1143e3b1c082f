"""The per-run breaker: rates over mail with a known fate, thresholds, minimums, baseline."""

from __future__ import annotations

import pytest
from campaign_engine.domain.breaker import BreakerSettings, tally, trip_reason
from pydantic import ValidationError


def counts(delivery=0, hard_bounce=0, complaint=0):
    return {"delivery": delivery, "hard_bounce": hard_bounce, "complaint": complaint, "send": delivery + hard_bounce}


def test_rates_are_over_mail_whose_fate_is_known():
    now = tally(counts(delivery=950, hard_bounce=50, complaint=2))
    assert now.judged == 1000
    assert now.bounce_rate == pytest.approx(0.05)
    assert now.complaint_rate == pytest.approx(2 / 950)


def test_a_bad_bounce_rate_trips_once_enough_mail_is_judged():
    settings = BreakerSettings(min_sends=100)
    assert trip_reason(settings, counts(delivery=40, hard_bounce=40)) is None  # 80 judged < 100
    reason = trip_reason(settings, counts(delivery=60, hard_bounce=40))
    assert reason is not None and "bounce rate 40.00%" in reason and "threshold 5.00%" in reason


def test_below_the_thresholds_nothing_trips():
    settings = BreakerSettings(min_sends=100)
    assert trip_reason(settings, counts(delivery=10_000, hard_bounce=400, complaint=9)) is None


def test_complaints_trip_over_delivered_mail_but_need_min_events():
    settings = BreakerSettings(min_sends=100, min_events=3)
    assert trip_reason(settings, counts(delivery=1000, complaint=2)) is None  # 0.2% but only 2 complaints
    reason = trip_reason(settings, counts(delivery=1000, complaint=3))
    assert reason is not None and "complaint rate 0.30%" in reason and "3 complaints of 1000" in reason


def test_after_a_resume_only_what_happened_since_counts():
    settings = BreakerSettings(min_sends=100)
    baseline = counts(delivery=100, hard_bounce=100)
    assert trip_reason(settings, counts(delivery=300, hard_bounce=102), baseline) is None  # 2 of 202 since
    assert trip_reason(settings, counts(delivery=200, hard_bounce=200), baseline) is not None


def test_a_disabled_breaker_never_trips():
    assert trip_reason(BreakerSettings(enabled=False, min_sends=1), counts(hard_bounce=1000)) is None


@pytest.mark.parametrize("field, value", [("bounce_rate", 0), ("complaint_rate", 1.5), ("min_sends", 0)])
def test_settings_are_validated(field, value):
    with pytest.raises(ValidationError, match=field):
        BreakerSettings(**{field: value})
