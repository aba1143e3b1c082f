"""Pacing: turn the account's SES quota into Map concurrency and a per-worker rate."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

# A worker paced to at most this many recipients a second spends >= 2 s a batch of 50, which
# leaves room for the batch's own DynamoDB and S3 calls inside each paced interval. Workers run
# at exactly this rate when the account allows it: a batch is then two full calls of 25, one
# second each. A rate just under it (say 22.9/s) would split a batch 22 + 22 + 6 and take three
# seconds, wasting a quarter of the share and adding an SES call and its writes to every batch.
WORKER_RATE_CEILING = 25.0
# Whole workers at the ceiling must keep at least this share of the target; below it (a 50/s
# account at share 0.8: one worker of 25/s is 62% of 40/s) one more worker and a lower rate
# each (two of 20/s) send the whole target, in more, smaller calls.
WHOLE_WORKERS_MIN = 0.9


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
    if target <= WORKER_RATE_CEILING:
        concurrency, worker_rate = 1, target
    else:
        # Whole workers at the ceiling (never above the target) unless that wastes too much of
        # it; the cap may force more per worker.
        wanted = math.floor(target / WORKER_RATE_CEILING)
        worker_rate = WORKER_RATE_CEILING
        if wanted * WORKER_RATE_CEILING < WHOLE_WORKERS_MIN * target:
            wanted += 1
            worker_rate = target / wanted
        concurrency = max(1, min(concurrency_cap, wanted))
        if concurrency != wanted:
            worker_rate = target / concurrency
    return PacingPlan(
        max_send_rate=max_send_rate,
        share=share,
        target_rate=target,
        max_concurrency=concurrency,
        worker_rate=worker_rate,
        daily_remaining=daily_remaining(max_24_hour_send, sent_last_24_hours),
    )


def daily_remaining(max_24_hour_send: float | None, sent_last_24_hours: float | None) -> int | None:
    """Recipients SES still takes in its rolling 24 hours; None when unknown or unlimited (SES
    reports an unlimited quota as -1)."""
    if max_24_hour_send is None or max_24_hour_send < 0:
        return None
    return max(0, int(max_24_hour_send - (sent_last_24_hours or 0)))


def min_batch_seconds(recipients: int, worker_rate: float) -> float:
    """How long a worker must take to send ``recipients`` without exceeding its share."""
    return recipients / worker_rate if worker_rate > 0 else 0.0


class Pacer:
    """Spaces one worker's SES calls so that it never exceeds ``rate`` recipients a second.

    A call carries at most ``call_size()`` entries (<= rate, so a call never bursts past the
    share on its own) and books max(1 s, entries / rate) before the next call may start, so no
    one-second window holds two calls of the same worker. With the Map running
    ``max_concurrency`` workers at ``target_rate / max_concurrency`` each, no second sees more
    than the target rate in total.
    """

    def __init__(
        self, rate: float, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.rate = rate
        self._clock, self._sleep = clock, sleep
        self._next = clock()

    def call_size(self, limit: int = 50) -> int:
        return max(1, min(limit, int(self.rate)))

    def _wait(self) -> None:
        wait = self._next - self._clock()
        if wait > 0:
            self._sleep(wait)

    def before_call(self, entries: int) -> None:
        self.wait_turn()
        self.call_starts(entries)

    def wait_turn(self) -> None:
        """Wait until this worker's next call may start."""
        self._wait()

    def call_starts(self, entries: int) -> None:
        """Book the interval from the moment the call really starts: whatever ran between the
        wait and the call (the batch record's in-flight write) then delays the next call too,
        instead of squeezing two calls into one second."""
        self._next = self._clock() + max(1.0, min_batch_seconds(entries, self.rate))

    def finish(self) -> None:
        """Hold the worker until its last call's interval is over, so its next batch cannot
        start early."""
        self._wait()
