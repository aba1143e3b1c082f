"""Engagement: per-recipient event history, per-run counters, last engagement, and the breaker.

Each SES event updates its recipients' items and claims its counter contributions there, in
the same write; one transaction per invocation then commits the claims and adds their
increments (``domain.engagement`` explains the protocol). The counts are exact under SNS's and
SQS's at-least-once, unordered delivery and under a crash before or after any DynamoDB call.
A hard bounce or complaint also re-checks the run's breaker, which pauses a RUNNING run whose
rates passed its thresholds: its remaining batches then send nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..adapters.dynamo import refused
from ..adapters.engagement import CounterItem, EngagementStore, ItemKey, message_key, send_key
from ..adapters.runs import ACTIVE, PAUSED, RunStore
from ..config import Settings
from ..domain import engagement
from ..domain.addresses import address_hash
from ..domain.breaker import BreakerSettings, trip_reason
from ..domain.engagement import BatchStatus, Claim
from ..domain.ses_events import SesEvent, epoch_of
from ..observability import MetricUnit, logger, metrics

# Counter items a commit may carry besides its commit record (TransactWriteItems takes 100).
MAX_COUNTER_ITEMS = 99
# Counter items one event can add to a commit: its run and segment's, its time bucket's, its link's.
ITEMS_PER_EVENT = 3


@dataclass(frozen=True)
class Attribution:
    run_id: str
    campaign_id: str
    segment: str


@dataclass
class Foreign:
    """A claim of an event we recorded that another token owns: settled before the commit."""

    key: ItemKey
    claim: Claim
    owner: str
    attribution: Attribution | None


@dataclass
class Batch:
    """What one token (an invocation, or part of a very mixed one) claimed and will commit."""

    token: str
    counted: set[tuple[ItemKey, str]] = field(default_factory=set)
    pending: dict[tuple[str, str], tuple[str, dict[str, int]]] = field(default_factory=dict)
    claimed_any: bool = False


class EngagementRecorder:
    """One per invocation: ``record`` each event, then ``flush`` (the commit) once.

    A write whose outcome is unknown (a timeout, a lost reply, a 5xx) may have claimed with
    this token without us knowing what: then the invocation must not commit (its claims would
    be committed uncounted), so ``flush`` raises and the whole batch comes back. A refused write
    (4xx: it took no effect) fails only its record.
    """

    def __init__(self, settings: Settings, store: EngagementStore | None = None, runs: RunStore | None = None) -> None:
        if not settings.engagement_table:
            raise RuntimeError("ENGAGEMENT_TABLE is not set")
        self.settings = settings
        self.store = store or EngagementStore(settings.engagement_table)
        self.runs = runs or RunStore(settings.runs_table, settings.run_record_ttl_days)
        self.batch = Batch(engagement.new_token())
        self.foreign: list[Foreign] = []
        self.statuses: dict[str, BatchStatus] = {}
        self.tainted: str | None = None
        self.worse: set[tuple[str, str]] = set()  # (campaign, run) whose breaker to check

    # -- recording ---------------------------------------------------------------------------

    def record(self, event: SesEvent) -> None:
        """Apply one event to its recipients' items; counters wait for ``flush``."""
        if event.kind == "subscription":
            self._unsubscribe(event)
            return
        if event.kind not in engagement.RECORDED:
            return
        if self._commit_items() > MAX_COUNTER_ITEMS - ITEMS_PER_EVENT:
            self._commit_and_renew()  # the next event might need counter items the commit has no room for
        # The send time, not the event's: every event of a message gives the item one expiry.
        sent_at = event.mail_timestamp or event.timestamp
        expires_at = int(epoch_of(sent_at)) + self.settings.engagement_ttl_days * 86400
        claims = engagement.claims(event)
        for address in event.recipients:
            # A tagged Send event is kept per run and address: the send path's evidence.
            by_run = event.kind == "send" and event.run_id is not None
            key = (
                send_key(event.run_id or "", address_hash(address))
                if by_run
                else message_key(event.message_id, address)
            )
            try:
                old = self.store.record_event(
                    key,
                    event.kind,
                    engagement.value_of(event),
                    self._attribution(event),
                    expires_at,
                    claims,
                    self.batch.token,
                    message_id=event.message_id if by_run else None,
                )
            except Exception as exc:
                if not refused(exc):
                    self.tainted = f"{type(exc).__name__} recording a {event.kind} event"
                raise
            where = self._where(event, old.get("attribution") or {})
            for claim in claims:
                owner = old.get(claim.name)
                if owner is None or owner == self.batch.token:
                    # Ours (or claimed by this token's own earlier attempt of the same write).
                    self.batch.claimed_any = True
                    self._count(key, claim, where)
                else:
                    self.foreign.append(Foreign(key, claim, owner, where))
            if where and (event.is_hard_bounce or event.kind == "complaint"):
                self.worse.add((where.campaign_id, where.run_id))
            if event.kind in engagement.ENGAGING and not engagement.is_unsubscribe_click(event):
                self._touch(address, event)  # leaving is not engagement

    def _count(self, key: ItemKey, claim: Claim, where: Attribution | None) -> None:
        if (key, claim.name) in self.batch.counted:
            return  # claimed twice by this token: a repeat within the batch, or an SDK retry
        self.batch.counted.add((key, claim.name))
        if where is None:
            return  # not from this engine's sends (no run tag, no earlier tagged event)
        campaign_id, counts = self.batch.pending.get((where.run_id, where.segment), (where.campaign_id, {}))
        for counter in claim.counters:
            counts[counter] = counts.get(counter, 0) + 1
        self.batch.pending[(where.run_id, where.segment)] = (campaign_id, counts)

    @staticmethod
    def _where(event: SesEvent, known: dict[str, str]) -> Attribution | None:
        run_id = event.run_id or known.get("run_id")
        if not run_id:
            return None
        return Attribution(
            run_id=run_id,
            campaign_id=event.campaign_id or known.get("campaign_id") or "unknown",
            segment=event.segment or known.get("segment") or engagement.UNATTRIBUTED,
        )

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

    # -- committing --------------------------------------------------------------------------

    def flush(self) -> dict[str, int]:
        """Settle foreign claims, commit, then let the breaker judge the runs that got worse."""
        total = self._commit()
        for campaign_id, run_id in sorted(self.worse):
            self.check_breaker(campaign_id, run_id)
        self.worse.clear()
        return total

    def _commit_items(self) -> int:
        return engagement.commit_items((run_id, counts) for (run_id, _), (_, counts) in self.batch.pending.items())

    def _commit_and_renew(self) -> None:
        self._commit()
        self.batch = Batch(engagement.new_token())

    def _commit(self) -> dict[str, int]:
        if self.tainted:
            # Some write may have claimed with this token unseen: committing would lose those
            # claims for good. Uncommitted, they go to whoever sees the events again.
            raise RuntimeError(f"engagement batch not committed: {self.tainted}; the whole batch is retried")
        try:
            return self._settle_and_commit()
        except BaseException as exc:
            # A take-over or the commit itself may have landed unseen: nothing more may be
            # committed by this invocation (also when this commit was mid-batch, where the
            # error fails only the record that triggered it).
            self.tainted = f"{type(exc).__name__} while committing"
            raise

    def _settle_and_commit(self) -> dict[str, int]:
        self._settle_foreign()
        batch = self.batch
        if not batch.claimed_any:
            return {}  # nothing claimed: every event was known (a replay)
        expires_at = int(time.time()) + (self.settings.engagement_ttl_days + 1) * 86400
        shard = engagement.shard_of(batch.token)
        counts = {
            CounterItem(run_id, segment, shard): (campaign_id, increments)
            for (run_id, segment), (campaign_id, increments) in batch.pending.items()
        }
        self.store.commit(batch.token, counts, expires_at)
        self.statuses[batch.token] = BatchStatus.COMMITTED
        total: dict[str, int] = {}
        for _, increments in batch.pending.values():
            total = engagement.add(total, increments)
        batch.pending.clear()
        batch.claimed_any = False
        return total

    def _settle_foreign(self) -> None:
        """Claims another token owns: counted already if it committed; else it can never commit
        (we abort it, unless it committed meanwhile) and we take the claim over."""
        expires_at = int(time.time()) + (self.settings.engagement_ttl_days + 1) * 86400
        for foreign in self.foreign:
            status = self._status(foreign.owner)
            if status is None:
                status = self.statuses[foreign.owner] = self.store.abort(foreign.owner, expires_at)
                if status is BatchStatus.ABORTED:
                    logger.warning("took over the claims of an engagement batch that did not commit")
                    metrics.add_metric(name="EngagementBatchesAborted", unit=MetricUnit.Count, value=1)
            if status is BatchStatus.COMMITTED:
                continue
            # A failure here fails the whole invocation (``flush`` raises): nothing is committed.
            moved = self.store.take_over(foreign.key, foreign.claim.name, foreign.owner, self.batch.token)
            if moved:
                self.batch.claimed_any = True
                self._count(foreign.key, foreign.claim, foreign.attribution)
        self.foreign.clear()

    def _status(self, token: str) -> BatchStatus | None:
        if token not in self.statuses:
            found = self.store.status(token)
            if found is None:
                return None
            self.statuses[token] = found
        return self.statuses[token]

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
    may both report the same person): the marker and the count are one transaction."""
    campaign = campaign_id or "unknown"
    where = segment or engagement.UNATTRIBUTED
    increments = {"unsubscribe": 1}
    if not store.count_unsubscribe_once(run_id, campaign, where, address, engagement.shard_of(address), increments):
        return {}
    return increments


def feedback(settings: Settings, run_id: str) -> dict[str, Any] | None:
    """The report's ``feedback`` object: totals and per segment, with rates, clicks per link and
    opens and clicks over time (three Queries: counters, links, time buckets)."""
    if not settings.engagement_table:
        return None
    store = EngagementStore(settings.engagement_table)
    totals, segments = store.run_counts(run_id)
    return {
        **engagement.summary(totals),
        "segments": {name: engagement.summary(counts) for name, counts in segments.items()},
        "links": [
            row.model_dump(mode="json") for row in engagement.links_report(store.run_items(run_id, "LINK#"), totals)
        ],
        "timeline": [row.model_dump(mode="json") for row in engagement.timeline_report(store.run_items(run_id, "TL#"))],
    }
