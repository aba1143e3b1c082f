"""Pacing: turn the account's SES quota into Map concurrency and a per-worker rate."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

# A worker paced to at most this many recipients a second spends >= 2 s a batch of 50, which
# leaves room for the batch's own DynamoDB and S3 calls inside each paced interval.
WORKER_RATE_CEILING = 25.0


class PacingPlan(BaseModel):
    model_config = ConfigDict(frozen=True)
    max_send_rate: float
    share: float
    target_rate: float
    max_concurrency: int
    worker_rate: float
    daily_remaining: int | None = None


def plan(
    *,
    max_send_rate: float,
    share: float,
    concurrency_cap: int,
    max_24_hour_send: float | None = None,
    sent_last_24_hours: float | None = None,
) -> PacingPlan:
    target = max(max_send_rate * share, 0.1)
    concurrency = max(1, min(concurrency_cap, math.ceil(target / WORKER_RATE_CEILING)))
    remaining = None
    if max_24_hour_send is not None and max_24_hour_send >= 0:
        remaining = max(0, int(max_24_hour_send - (sent_last_24_hours or 0)))
    return PacingPlan(
        max_send_rate=max_send_rate,
        share=share,
        target_rate=target,
        max_concurrency=concurrency,
        worker_rate=target / concurrency,
        daily_remaining=remaining,
    )


def min_batch_seconds(recipients: int, worker_rate: float) -> float:
    """How long a worker must take to send ``recipients`` without exceeding its share."""
    return recipients / worker_rate if worker_rate > 0 else 0.0
