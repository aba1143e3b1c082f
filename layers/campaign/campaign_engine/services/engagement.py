"""Engagement: per-recipient event history, per-run counters, last engagement, and the breaker.

Each SES event updates its recipients' message items; only an event that is new for that
recipient moves the run's counters (``domain.engagement``), so replays change nothing. A new
hard bounce or complaint also re-checks the run's breaker, which pauses a RUNNING run whose
rates passed its thresholds: its remaining batches then send nothing.
"""

from __future__ import annotations

from typing import Any

from ..adapters.engagement import EngagementStore
from ..adapters.runs import ACTIVE, PAUSED, RunStore
from ..config import Settings
from ..domain import engagement
from ..domain.breaker import BreakerSettings, trip_reason
from ..domain.ses_events import SesEvent, epoch_of
from ..observability import MetricUnit, logger, metrics

CounterKey = tuple[str, str, str, int]  # run, campaign, segment, shard


class EngagementRecorder:
    """One per invocation: ``record`` each event, then ``flush`` the counters once.

    Adding up a batch's increments per counter item before writing is what keeps the cost at
    about one write per event (the message item) instead of two. The price: a crash between
    the message writes and the flush loses those increments (the redelivered events are no
    longer new). It never counts twice, and the message items themselves stay exact.
    """

    def __init__(self, settings: Settings) -> None:
        if not settings.engagement_table:
            raise RuntimeError("ENGAGEMENT_TABLE is not set")
        self.settings = settings
        self.store = EngagementStore(settings.engagement_table)
        self.runs = RunStore(settings.runs_table, settings.run_record_ttl_days)
        self.pending: dict[CounterKey, dict[str, int]] = {}

    def record(self, event: SesEvent) -> None:
        """Apply one event to its recipients' message items; counters wait for ``flush``."""
        if event.kind == "subscription":
            self._unsubscribe(event)
            return
        if event.kind not in engagement.RECORDED:
            return
        # The send time, not the event's: every event of a message gives the item one expiry.
        sent_at = event.mail_timestamp or event.timestamp
        expires_at = int(epoch_of(sent_at)) + self.settings.engagement_ttl_days * 86400
        for address in event.recipients:
            old = self.store.record_event(
                event.message_id,
                address,
                event.kind,
                engagement.value_of(event),
                self._attribution(event),
                expires_at,
            )
            increments = engagement.increments(event, old.get(engagement.attribute(event.kind)))
            self._count(event, old.get("attribution") or {}, increments)
            if event.kind in engagement.ENGAGING:
                self._touch(address, event)

    def flush(self) -> dict[str, int]:
        """Write the counters, then let the breaker judge the runs that got worse."""
        total: dict[str, int] = {}
        worse: set[tuple[str, str]] = set()
        for (run_id, campaign_id, segment, shard), increments in sorted(self.pending.items()):
            self.store.add_counts(run_id, campaign_id, segment, shard, increments)
            total = engagement.add(total, increments)
            if increments.get("hard_bounce") or increments.get("complaint"):
                worse.add((campaign_id, run_id))
        self.pending.clear()
        for campaign_id, run_id in sorted(worse):
            self.check_breaker(campaign_id, run_id)
        return total

    def _count(self, event: SesEvent, known: dict[str, str], increments: dict[str, int]) -> None:
        run_id = event.run_id or known.get("run_id")
        if not increments or not run_id:
            return  # a repeat, or not from this engine's sends (no run tag, no earlier tagged event)
        campaign_id = event.campaign_id or known.get("campaign_id") or "unknown"
        segment = event.segment or known.get("segment") or engagement.UNATTRIBUTED
        key = (run_id, campaign_id, segment, engagement.shard_of(event.message_id))
        self.pending[key] = engagement.add(self.pending.get(key, {}), increments)

    @staticmethod
    def _attribution(event: SesEvent) -> dict[str, str]:
        found = {"campaign_id": event.campaign_id, "run_id": event.run_id, "segment": event.segment}
        return {name: value for name, value in found.items() if value}

    def _touch(self, address: str, event: SesEvent) -> None:
        values = {"last_engaged_at": event.timestamp, "last_kind": event.kind}
        if event.campaign_id:
            values["last_campaign_id"] = event.campaign_id
        self.store.touch_address(address, f"{event.timestamp}|{event.key}", values)

    def _unsubscribe(self, event: SesEvent) -> None:
        if not (event.unsubscribe_all or event.topics_opted_out) or not event.run_id:
            return
        for address in event.recipients:
            count_unsubscribe(self.store, event.run_id, event.campaign_id, event.segment, address)

    def check_breaker(self, campaign_id: str, run_id: str) -> str | None:
        run = self.runs.get_run(campaign_id, run_id, consistent=False)
        if not run or run.get("status") != ACTIVE:
            return None
        settings = BreakerSettings.model_validate(run.get("breaker") or {})
        counts, _ = self.store.run_counts(run_id)
        reason = trip_reason(settings, counts, run.get("breaker_baseline"))
        if reason is None:
            return None
        paused = {"status": PAUSED, "reason": reason, "paused_counts": counts}
        if self.runs.update_run(campaign_id, run_id, paused, only_if_status=ACTIVE):
            logger.warning(
                "breaker paused the run", extra={"campaign_id": campaign_id, "run_id": run_id, "reason": reason}
            )
            metrics.add_metric(name="RunsPaused", unit=MetricUnit.Count, value=1)
        return reason


def count_unsubscribe(
    store: EngagementStore, run_id: str, campaign_id: str | None, segment: str | None, address: str
) -> dict[str, int]:
    """Count an unsubscribe once per run and address (the endpoint and SES's list management
    may both report the same person)."""
    campaign = campaign_id or "unknown"
    where = segment or engagement.UNATTRIBUTED
    if not store.first_unsubscribe(run_id, campaign, where, address):
        return {}
    increments = {"unsubscribe": 1}
    store.add_counts(run_id, campaign, where, engagement.shard_of(address), increments)
    return increments


def feedback(settings: Settings, run_id: str) -> dict[str, Any] | None:
    """The report's ``feedback`` object: totals and per segment, with rates."""
    if not settings.engagement_table:
        return None
    totals, segments = EngagementStore(settings.engagement_table).run_counts(run_id)
    return {
        **engagement.summary(totals),
        "segments": {name: engagement.summary(counts) for name, counts in segments.items()},
    }
