"""SendBatch: one batch of <= 50 recipients, exactly once.

    run still RUNNING? -> drop suppressed -> reserve in the ledger -> mark in flight
    -> SES SendBulkEmail -> record per-entry results -> retry only throttled entries

The batch record (runs table) is written before and after every SES call. A retried batch
reads it first: entries that were in flight when the last attempt died may have been sent,
so they become UNKNOWN and are never sent again; entries that were never attempted, or were
throttled, are sent now. Entries refused because the daily quota is spent stay PENDING, the run
is marked waiting, and the batch (WAITING) sends them on the Map's next pass after the wait.

Writes per batch: one before and one after each SES call, the last one carrying DONE (a batch
of two calls makes four). Call k's results could also ride on call k+1's INFLIGHT write,
saving one more, but not on purpose: a crash between them would leave call k's entries
INFLIGHT, reported UNKNOWN though SES took them (never resent, but the report would be wrong
for up to a call's worth of recipients), and their ledger settle would wait a call longer.

The ledger is written back only for entries that may be sent again later (FAILED, RELEASED):
a SENT or UNKNOWN address keeps its RESERVED ledger item, which blocks every other run just
as SENT would (see adapters.ledger), and the batch record holds its outcome.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from ..adapters import ses, storage
from ..adapters.aws import error_code
from ..adapters.ledger import FAILED, RELEASED, SENT, UNKNOWN, Ledger
from ..adapters.runs import ACTIVE, RunStore
from ..adapters.secrets import signing_key
from ..adapters.suppression import SuppressionList
from ..config import Settings
from ..domain import tokens
from ..domain.addresses import address_hash, redact
from ..domain.contracts import Batch, Recipient, SendBatchInput, SendBatchOutput
from ..domain.errors import AccountLevelError, ThrottledError
from ..domain.outcomes import empty_counts
from ..domain.pacing import Pacer
from ..domain.sending import (
    ACCOUNT_LEVEL,
    ACCOUNT_LEVEL_ERRORS,
    MAX_ENTRIES,
    QUOTA_EXCEEDED,
    RETRYABLE_ERRORS,
    EntryResult,
    backoff_seconds,
    build_request,
    parse_results,
)
from ..observability import count_outcomes, logger

# Entry states in a batch record, and the outcome each ends as in the report.
INFLIGHT, PENDING = "INFLIGHT", "PENDING"
STATE_OUTCOME = {
    SENT: "sent",
    FAILED: "failed",
    UNKNOWN: "unknown",
    INFLIGHT: "unknown",
    "SUPPRESSED": "suppressed",
    "DUPLICATE": "duplicate",
    PENDING: "not_sent",
    RELEASED: "not_sent",
}
MAX_ATTEMPTS = 4  # in this invocation; Step Functions retries the batch after that
SLEEP = time.sleep  # the local stack and tests may swap in a faster clock


def counts_of(entries: dict[str, str]) -> dict[str, int]:
    counts = empty_counts()
    for state in entries.values():
        counts[STATE_OUTCOME[state]] += 1
    return counts


class BatchSender:
    def __init__(self, settings: Settings, request: SendBatchInput) -> None:
        self.settings = settings
        self.context = request.context
        self.item = request.item
        self.store = RunStore(settings.runs_table, settings.run_record_ttl_days)
        self.ledger = Ledger(settings.ledger_table)
        self.record: dict[str, Any] = {}
        self.entries: dict[str, str] = {}
        self.quota_exhausted = False
        self.last_call = False  # the SES call under way is the batch's last one
        self._saved: tuple[Any, dict[str, str]] | None = None  # (state, entries) as last written

    # -- the use case ----------------------------------------------------------------------

    def run(self) -> SendBatchOutput:
        ctx, item = self.context, self.item
        run = self.store.get_run(ctx.campaign_id, ctx.run_id)
        status = (run or {}).get("status")
        if status != ACTIVE:
            logger.info("run not active: batch sends nothing", extra={"batch": item.batch, "status": status})
            return SendBatchOutput(batch=item.batch, segment=item.segment, skipped_reason=f"run is {status}")
        if run.get("quota_wait"):
            # Another batch found the daily quota spent: this one goes out after the wait.
            return SendBatchOutput(
                batch=item.batch, segment=item.segment, skipped_reason="waiting for the daily sending quota"
            )

        self.record = self.store.get_batch(ctx.run_id, item.batch) or {"segment": item.segment, "entries": {}}
        self.entries = self.record.setdefault("entries", {})
        if self.record.get("state") == "DONE":
            return self._output()

        raw = storage.get_range(self.settings.bucket, ctx.batches_key, item.offset, item.length)
        batch = Batch.model_validate_json(raw)
        if batch.batch != item.batch:
            raise ValueError(f"batch pointer {item.batch} read batch {batch.batch}: items and batches disagree")
        by_hash = {address_hash(r.email): r for r in batch.recipients}

        self._recover_in_flight()
        todo = [r for h, r in by_hash.items() if self.entries.get(h) in (None, PENDING)]
        todo = self._drop_suppressed(todo)
        todo = self._reserve(todo)
        self._send(batch, todo)
        self.record["state"] = "WAITING" if self.quota_exhausted else "DONE"
        if self._saved != (self.record["state"], self.entries):
            self._save()  # not when the last call's results already carried DONE
        output = self._output()
        count_outcomes(ctx.campaign_id, output.counts)
        return output

    # -- steps -----------------------------------------------------------------------------

    def _recover_in_flight(self) -> None:
        """An earlier attempt died during an SES call: those recipients may have the message."""
        lost = [h for h, state in self.entries.items() if state == INFLIGHT]
        if not lost:
            return
        logger.warning(
            "batch retried after an interrupted send: entries become unknown",
            extra={"batch": self.item.batch, "entries": len(lost)},
        )
        for h in lost:
            self.entries[h] = UNKNOWN
        # Their ledger items stay RESERVED by this batch: no other run can take them, and a
        # retry of this batch skips them (the record says UNKNOWN), so no ledger write.
        self._save()

    def _drop_suppressed(self, recipients: list[Recipient]) -> list[Recipient]:
        if not recipients:
            return recipients
        suppressed = SuppressionList(self.settings.suppression_table).suppressed(
            [r.email for r in recipients], topic=self.context.topic
        )
        for r in recipients:
            if r.email in suppressed:
                self.entries[address_hash(r.email)] = "SUPPRESSED"
        return [r for r in recipients if r.email not in suppressed]

    def _reserve(self, recipients: list[Recipient]) -> list[Recipient]:
        if not recipients:
            return recipients
        ctx = self.context
        reservation = self.ledger.reserve(
            campaign_id=ctx.campaign_id,
            occurrence=ctx.occurrence,
            run_id=ctx.run_id,
            batch=self.item.batch,
            addresses=[r.email for r in recipients],
            expires_at=ctx.ledger_expires_at,
        )
        for address in reservation.taken:
            self.entries[address_hash(address)] = "DUPLICATE"
        held = set(reservation.reserved)
        return [r for r in recipients if r.email in held]

    def _send(self, batch: Batch, pending: list[Recipient]) -> None:
        if not pending:
            return
        secret = signing_key(self.settings.unsubscribe_secret_arn) if self.settings.unsubscribe_secret_arn else b""
        base_url = self.settings.unsubscribe_base_url
        if not secret or not base_url:
            raise RuntimeError(
                "UNSUBSCRIBE_SECRET_ARN or UNSUBSCRIBE_BASE_URL is not set: refusing to send without "
                "signed one-click unsubscribe links"
            )
        ctx, segment = self.context, self.item.segment

        def url_for(address: str) -> str:
            claim = tokens.UnsubscribeClaim(address, ctx.campaign_id, ctx.topic, ctx.run_id, segment)
            return tokens.unsubscribe_url(base_url, tokens.sign(secret, claim))

        pacer = Pacer(ctx.worker_rate, sleep=lambda seconds: SLEEP(seconds))
        size = pacer.call_size(MAX_ENTRIES)
        for start in range(0, len(pending), size):
            if self.quota_exhausted:
                self._defer(pending[start:])
                break
            self.last_call = start + size >= len(pending)
            self._send_call(batch, pending[start : start + size], url_for, pacer)
        pacer.finish()

    def _send_call(self, batch: Batch, pending: list[Recipient], url_for: Any, pacer: Pacer) -> None:
        """One SendBulkEmail call, then retries of only its throttled entries."""
        for attempt in range(MAX_ATTEMPTS):
            for r in pending:
                self.entries[address_hash(r.email)] = INFLIGHT
            self._save()
            pacer.before_call(len(pending))
            results = self._call_ses(build_request(self.context, batch, pending, url_for), pending)
            # None: the whole call was throttled, nothing was sent
            retry = pending if results is None else self._record(pending, results)
            if retry and self.quota_exhausted:
                self._defer(retry)  # no point retrying against a spent daily quota
                return
            if not retry:
                return
            pending = retry
            SLEEP(backoff_seconds(attempt))
        self._save()
        raise ThrottledError(
            f"batch {self.item.batch}: {len(pending)} entries still throttled after {MAX_ATTEMPTS} attempts"
        )

    def _call_ses(self, request: dict[str, Any], pending: list[Recipient]) -> list[EntryResult] | None:
        try:
            response = ses.send_bulk(request)
        except Exception as exc:
            code = error_code(exc)
            if code in RETRYABLE_ERRORS:
                for r in pending:
                    self.entries[address_hash(r.email)] = PENDING
                self._save()
                return None
            if code in ACCOUNT_LEVEL_ERRORS or code == "BadRequestException":
                # SES refused the whole call, so none of these was sent: release them.
                message = getattr(exc, "response", {}).get("Error", {}).get("Message") or str(exc)
                self._stop_account_level(pending, code, message)
            raise  # anything else: entries stay INFLIGHT and a retry reports them unknown
        return parse_results(response, len(pending))

    def _record(self, pending: list[Recipient], results: list[EntryResult]) -> list[Recipient]:
        retry: list[Recipient] = []
        settled: dict[str, dict[str, Any]] = {}
        account_level: list[tuple[Recipient, EntryResult]] = []
        over_quota: list[Recipient] = []
        for r, result in zip(pending, results, strict=True):
            h = address_hash(r.email)
            if result.sent:
                self.entries[h] = SENT  # the ledger item stays RESERVED: see the module docstring
            elif result.retryable:
                self.entries[h] = PENDING
                retry.append(r)
            elif result.status == QUOTA_EXCEEDED:
                over_quota.append(r)
            elif result.status in ACCOUNT_LEVEL:
                account_level.append((r, result))
            else:
                self.entries[h] = FAILED
                settled[r.email] = self._ledger_values(FAILED, error=f"{result.status}: {result.error or ''}".strip())
        if self.last_call and not (retry or over_quota or account_level):
            # Nothing of this batch is left to send: DONE rides on this write instead of one
            # of its own. Safe before the ledger settle below: a retry that finds DONE sends
            # nothing, and an address whose settle is lost stays RESERVED, which blocks
            # every other run (only a FAILED entry could then not be retried by a later run).
            self.record["state"] = "DONE"
        self._save()
        if settled:
            self.ledger.settle(
                campaign_id=self.context.campaign_id, occurrence=self.context.occurrence, outcomes=settled
            )
        if over_quota:
            self._defer(over_quota)
        if account_level:
            r, result = account_level[0]
            self._stop_account_level([r for r, _ in account_level], result.status, result.error or result.status)
        if retry:
            statuses = Counter(res.status for res in results if res.retryable)
            logger.info("entries to retry", extra={"batch": self.item.batch, "statuses": dict(statuses)})
        return retry

    def _defer(self, recipients: list[Recipient]) -> None:
        """The daily quota is spent: these were not sent. Release them (PENDING, so this batch
        sends them after the wait) and make the run wait."""
        self._release(recipients, PENDING)
        if not self.quota_exhausted:
            self.quota_exhausted = True
            if self.store.start_quota_wait(self.context.campaign_id, self.context.run_id, self.item.batch):
                logger.warning("daily sending quota spent: the run waits for it", extra={"batch": self.item.batch})

    def _release(self, recipients: list[Recipient], entry_state: str) -> None:
        """SES did not send these: record ``entry_state`` in the batch record and release their
        ledger reservations, so they may be sent later (by this batch, or another run)."""
        for r in recipients:
            self.entries[address_hash(r.email)] = entry_state
        self._save()
        self.ledger.settle(
            campaign_id=self.context.campaign_id,
            occurrence=self.context.occurrence,
            outcomes={r.email: self._ledger_values(RELEASED) for r in recipients},
        )

    def _stop_account_level(self, recipients: list[Recipient], reason: str, message: str) -> None:
        self._release(recipients, RELEASED)
        self.store.stop_run(
            self.context.campaign_id, self.context.run_id, "FAILED", f"SES refused the send ({reason}): {message}"
        )
        logger.error("account-level SES error: run stopped", extra={"reason": reason, "batch": self.item.batch})
        # The run record keeps SES's words for the report; the error (logged by Lambda and Step
        # Functions) gets the addresses hashed.
        raise AccountLevelError(reason, redact(message)) from None  # the SES error names addresses too

    # -- records ---------------------------------------------------------------------------

    def _ledger_values(self, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "status": status,
            "run_id": self.context.run_id,
            "batch": self.item.batch,
            "expires_at": self.context.ledger_expires_at,
            **extra,
        }

    def _save(self) -> None:
        self.record["segment"] = self.item.segment
        self.record["counts"] = counts_of(self.entries)
        self.store.put_batch(self.context.run_id, self.item.batch, self.record)
        self._saved = (self.record.get("state"), dict(self.entries))

    def _output(self) -> SendBatchOutput:
        return SendBatchOutput(batch=self.item.batch, segment=self.item.segment, counts=counts_of(self.entries))


def send_batch(request: SendBatchInput, settings: Settings) -> SendBatchOutput:
    return BatchSender(settings, request).run()
