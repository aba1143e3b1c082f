"""Pacing: the account's SES quota turned into Map concurrency and a per-worker rate."""

from __future__ import annotations

import itertools
import math

import pytest
from campaign_engine.domain.pacing import WORKER_RATE_CEILING, min_batch_seconds, plan

RATES = [1, 2, 3, 7, 10, 14, 25, 50, 99, 100, 250, 333, 1000, 2500, 5000, 50_000]
SHARES = [0.1, 0.25, 0.5, 0.8, 0.9, 1.0]
CAPS = [1, 2, 3, 5, 10, 40, 100, 1000]


def test_never_exceeds_the_share_of_max_send_rate():
    for rate, share, cap in itertools.product(RATES, SHARES, CAPS):
        result = plan(max_send_rate=rate, share=share, concurrency_cap=cap)
        allowed = rate * share
        context = (rate, share, cap, result)
        assert 1 <= result.max_concurrency <= cap, context
        assert result.worker_rate > 0, context
        assert result.worker_rate <= allowed + 1e-9, context
        assert result.max_concurrency * result.worker_rate <= allowed * (1 + 1e-9), context
        aggregate = result.max_concurrency * result.worker_rate
        if allowed <= WORKER_RATE_CEILING:
            # a small account: one worker at the whole share
            assert result.max_concurrency == 1 and math.isclose(result.worker_rate, allowed), context
        elif result.max_concurrency < cap or math.floor(allowed / WORKER_RATE_CEILING) == cap:
            # whole workers at the ceiling, or one more at a lower rate when whole workers would
            # leave more than a tenth of the share unused
            assert result.worker_rate == WORKER_RATE_CEILING or math.isclose(aggregate, allowed), context
            assert aggregate >= 0.9 * allowed - 1e-9, context
        else:
            # the cap forces more per worker, and then all of them together run at the target
            assert result.max_concurrency == cap and math.isclose(aggregate, allowed), context


def test_paced_batches_stay_under_the_share():
    """Workers that each take min_batch_seconds per batch of 50 send at most the share."""
    for rate, share, cap in itertools.product(RATES, SHARES, CAPS):
        result = plan(max_send_rate=rate, share=share, concurrency_cap=cap)
        seconds = min_batch_seconds(50, result.worker_rate)
        aggregate = result.max_concurrency * 50 / seconds
        assert aggregate <= rate * share * (1 + 1e-9), (rate, share, cap)


def test_sandbox_rate_one_per_second():
    result = plan(max_send_rate=1, share=0.8, concurrency_cap=40)
    assert result.max_concurrency == 1
    assert result.worker_rate == pytest.approx(0.8)
    assert min_batch_seconds(50, result.worker_rate) == pytest.approx(62.5)


def test_cap_respected_for_a_large_account():
    result = plan(max_send_rate=10_000, share=1.0, concurrency_cap=20)
    assert result.max_concurrency == 20
    assert result.worker_rate == pytest.approx(500)


def test_plan_records_its_inputs():
    result = plan(max_send_rate=14, share=0.5, concurrency_cap=10)
    assert (result.max_send_rate, result.share, result.target_rate) == (14, 0.5, 7)
    assert result.max_concurrency == 1


@pytest.mark.parametrize(
    ("max_24", "sent", "remaining"),
    [(200, 0, 200), (200, 50, 150), (200, 200, 0), (200, 350, 0), (50_000, None, 50_000), (200, 10.5, 189)],
)
def test_daily_remaining(max_24, sent, remaining):
    result = plan(max_send_rate=1, share=1, concurrency_cap=1, max_24_hour_send=max_24, sent_last_24_hours=sent)
    assert result.daily_remaining == remaining


@pytest.mark.parametrize("max_24", [None, -1])
def test_daily_remaining_unknown_or_unlimited(max_24):
    assert plan(max_send_rate=1, share=1, concurrency_cap=1, max_24_hour_send=max_24).daily_remaining is None


def test_min_batch_seconds():
    assert min_batch_seconds(50, 25) == 2
    assert min_batch_seconds(1, 0.5) == 2
    assert min_batch_seconds(50, 0) == 0


def test_a_batch_of_50_is_two_full_calls_when_the_account_allows_25_a_second():
    """200/s at the default share 0.8 is 160/s: six workers of 25/s (150/s), each sending a batch as
    two calls of 25, not seven workers of 22.9/s sending 22 + 22 + 6 in three seconds."""
    result = plan(max_send_rate=200, share=0.8, concurrency_cap=40)
    assert (result.max_concurrency, result.worker_rate) == (6, 25.0)


@pytest.mark.parametrize(
    ("rate", "share", "workers", "worker_rate"),
    [(50, 0.8, 2, 20.0), (75, 0.8, 3, 20.0), (125, 0.8, 4, 25.0), (200, 0.8, 6, 25.0), (40, 1.0, 2, 20.0)],
)
def test_whole_workers_unless_they_waste_more_than_a_tenth_of_the_share(rate, share, workers, worker_rate):
    result = plan(max_send_rate=rate, share=share, concurrency_cap=40)
    assert (result.max_concurrency, result.worker_rate) == (workers, pytest.approx(worker_rate))
    assert result.max_concurrency * result.worker_rate >= 0.9 * rate * share
