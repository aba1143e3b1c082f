"""SendBatch: one batch of <= 50 recipients, exactly once.

    run still RUNNING? -> drop suppressed -> reserve in the ledger -> pace
    -> mark in flight -> SES SendBulkEmail -> record per-entry results -> retry only what SES did not take

Each recipient's life cycle is ``domain.entries`` (its transitions say what a crash at each point
means); the SES port (``adapters.ses.send_bulk``) answers with a classified fate, so this is a
loop over calls. Entries are marked in flight as late as possible, after the pacing wait: a crash
while waiting leaves them PENDING (sent by the retry), not UNKNOWN.

Writes per batch: one before and one after each SES call, the last one carrying DONE (a batch of
two calls makes four). Call k's results could also ride on call k+1's INFLIGHT write, saving one
more, but not on purpose: a crash between them would leave call k's entries INFLIGHT, reported
UNKNOWN though SES took them.

The ledger is written back only for entries that may be sent again later (FAILED, RELEASED):
a SENT or UNKNOWN address keeps its RESERVED ledger item, which blocks every other run just as
SENT would (see adapters.ledger), and the batch record holds its outcome. Every path that ends
this invocation with entries SES did not take (quota spent, configuration refused, throttled
past the retries) releases their reservations first, so no reservation outlives its reason.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..adapters import ses, storage
from ..adapters.ledger import FAILED, RELEASED, Ledger
from ..adapters.runs import ACTIVE, RunStore
from ..adapters.secrets import signing_key
from ..adapters.suppression import SuppressionList
from ..config import Settings
from ..domain import tokens
from ..domain.addresses import address_hash, redact
from ..domain.contracts import Batch, Recipient, SendBatchInput, SendBatchOutput
from ..domain.entries import BatchRecord, EntryState
from ..domain.errors import AccountLevelError, ThrottledError
from ..domain.pacing import Pacer
from ..domain.sending import MAX_ENTRIES, CallFate, EntryFate, SendResult, backoff_seconds, build_request
from ..observability import count_outcomes, logger

MAX_ATTEMPTS = 4  # in this invocation; Step Functions retries the batch after that
SLEEP = time.sleep  # the local stack and tests may swap in a faster clock

UrlFor = Callable[[str], str]


class BatchSender:
    def __init__(self, settings: Settings, request: SendBatchInput) -> None:
        self.settings = settings
        self.context = request.context
        self.item = request.item
        self.store = RunStore(settings.runs_table, settings.run_record_ttl_days)
        self.ledger = Ledger(settings.ledger_table)
        self.record = BatchRecord(segment=request.item.segment)
        self.quota_exhausted = False
        self.last_call = False  # the SES call under way is the batch's last one
        self._saved: dict[str, object] | None = None  # the document as last written

    # -- the use case ----------------------------------------------------------------------

    def run(self) -> SendBatchOutput:
        ctx, item = self.context, self.item
        run = self.store.get_run(ctx.campaign_id, ctx.run_id) or {}
        status = run.get("status")
        if status != ACTIVE:
            logger.info("run not active: batch sends nothing", extra={"batch": item.batch, "status": status})
            return SendBatchOutput(batch=item.batch, segment=item.segment, skipped_reason=f"run is {status}")
        if run.get("quota_wait"):
            # Another batch found the daily quota spent: this one goes out after the wait.
            return SendBatchOutput(
                batch=item.batch, segment=item.segment, skipped_reason="waiting for the daily sending quota"
            )

        self.record = self.store.load_batch(ctx.run_id, item.batch, item.segment)
        if self.record.done:
            return self._output()

        raw = storage.get_range(self.settings.bucket, ctx.batches_key, item.offset, item.length)
        batch = Batch.model_validate_json(raw)
        if batch.batch != item.batch:
            raise ValueError(f"batch pointer {item.batch} read batch {batch.batch}: items and batches disagree")
        by_hash = {address_hash(r.email): r for r in batch.recipients}

        self._recover_in_flight()
        todo = [r for h, r in by_hash.items() if self.record.sendable(h)]
        todo = self._drop_suppressed(todo)
        todo = self._reserve(todo)
        self._send(batch, todo)
        self.record.finish(waiting=self.quota_exhausted)
        if self._saved != self.record.to_document():
            self._save()  # not when the last call's results already carried DONE
        output = self._output()
        count_outcomes(ctx.campaign_id, output.counts)
        return output

    # -- steps -----------------------------------------------------------------------------

    def _recover_in_flight(self) -> None:
        """An earlier attempt died during an SES call: those recipients may have the message."""
        lost = self.record.interrupted()
        if not lost:
            return
        logger.warning(
            "batch retried after an interrupted send: entries become unknown",
            extra={"batch": self.item.batch, "entries": len(lost)},
        )
        # Their ledger items stay RESERVED by this batch: no other run can take them, and a
        # retry of this batch skips them (the record says UNKNOWN), so no ledger write.
        self._save()

    def _drop_suppressed(self, recipients: list[Recipient]) -> list[Recipient]:
        if not recipients:
            return recipients
        suppressed = SuppressionList(self.settings.suppression_table).suppressed(
            [r.email for r in recipients], topic=self.context.topic
        )
        self.record.suppressed(address_hash(r.email) for r in recipients if r.email in suppressed)
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
        self.record.duplicate(address_hash(address) for address in reservation.taken)
        held = set(reservation.reserved)
        return [r for r in recipients if r.email in held]

    def _send(self, batch: Batch, todo: list[Recipient]) -> None:
        if not todo:
            return
        url_for = self._unsubscribe_urls()
        pacer = Pacer(self.context.worker_rate, sleep=lambda seconds: SLEEP(seconds))
        size = pacer.call_size(MAX_ENTRIES)
        calls = [todo[start : start + size] for start in range(0, len(todo), size)]
        for index, call in enumerate(calls):
            if self.quota_exhausted:
                self._defer([r for rest in calls[index:] for r in rest])
                break
            self.last_call = index == len(calls) - 1
            try:
                self._send_call(batch, call, url_for, pacer)
            except (AccountLevelError, ThrottledError):
                # Nothing after this call goes out in this invocation: free what it reserved.
                self._release_reservations([r for rest in calls[index + 1 :] for r in rest])
                raise
        pacer.finish()

    def _unsubscribe_urls(self) -> UrlFor:
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

        return url_for

    def _send_call(self, batch: Batch, pending: list[Recipient], url_for: UrlFor, pacer: Pacer) -> None:
        """One SendBulkEmail call, then retries of only the entries SES did not take."""
        for attempt in range(MAX_ATTEMPTS):
            request = build_request(self.context, batch, pending, url_for)
            pacer.wait_turn()  # before the in-flight write: a crash while waiting leaves them PENDING
            self.record.begin_call(address_hash(r.email) for r in pending)
            self._save()
            pacer.call_starts(len(pending))
            retry = self._apply(pending, ses.send_bulk(request))
            if not retry:
                return
            if self.quota_exhausted:
                self._defer(retry)  # no point retrying against a spent daily quota
                return
            pending = retry
            SLEEP(backoff_seconds(attempt))
        self._release_reservations(pending)  # the Step Functions retry of this batch reserves them again
        raise ThrottledError(
            f"batch {self.item.batch}: {len(pending)} entries still not accepted after {MAX_ATTEMPTS} attempts"
        )

    def _apply(self, pending: list[Recipient], result: SendResult) -> list[Recipient]:
        """Record what one call did; returns the entries to send again."""
        hashes = [address_hash(r.email) for r in pending]
        if result.fate is CallFate.RETRY:
            self.record.not_accepted(hashes)
            self._save()
            logger.info("SES call not accepted: retried", extra={"batch": self.item.batch, "code": result.code})
            return pending
        if result.fate is CallFate.CONFIGURATION:
            self._stop_account_level(pending, result.code or "Error", result.message)
        if result.fate is CallFate.MAYBE_SENT:
            # SES may have accepted the call: never sent again by this run. Reconcile turns them
            # SENT when SES's Send events show up (services.reconcile).
            self.record.maybe_sent(hashes)
            self._finish_if_last(nothing_left=True)
            self._save()
            logger.warning(
                "SES call fate unknown: entries are unknown",
                extra={"batch": self.item.batch, "entries": len(hashes), "code": result.code},
            )
            return []
        if result.fate is CallFate.REFUSED:
            self.record.rejected(hashes)
            self._finish_if_last(nothing_left=True)
            self._save()
            error = f"{result.code}: {redact(result.message)}"
            self._settle({r.email: self._ledger_values(FAILED, error=error) for r in pending})
            logger.warning("SES refused the call", extra={"batch": self.item.batch, "code": result.code})
            return []
        return self._apply_entries(pending, result)

    def _apply_entries(self, pending: list[Recipient], result: SendResult) -> list[Recipient]:
        retry: list[Recipient] = []
        over_quota: list[Recipient] = []
        account_level: list[Recipient] = []
        failed: dict[str, dict[str, Any]] = {}
        first_account_level = None
        for r, entry in zip(pending, result.entries, strict=True):
            h = address_hash(r.email)
            fate = entry.fate
            if fate is EntryFate.SENT:
                self.record.sent([h])  # the ledger item stays RESERVED: see the module docstring
            elif fate is EntryFate.REJECTED:
                self.record.rejected([h])
                failed[r.email] = self._ledger_values(FAILED, error=f"{entry.status}: {entry.error or ''}".strip())
            else:
                self.record.not_accepted([h])
                if fate is EntryFate.RETRY:
                    retry.append(r)
                elif fate is EntryFate.OVER_QUOTA:
                    over_quota.append(r)
                else:
                    account_level.append(r)
                    first_account_level = first_account_level or entry
        self._finish_if_last(nothing_left=not (retry or over_quota or account_level))
        self._save()
        if failed:
            self._settle(failed)
        if over_quota:
            self._defer(over_quota)
        if account_level and first_account_level is not None:
            self._stop_account_level(
                account_level, first_account_level.status, first_account_level.error or first_account_level.status
            )
        if retry:
            statuses = Counter(e.status for e in result.entries if e.fate is EntryFate.RETRY)
            logger.info("entries to retry", extra={"batch": self.item.batch, "statuses": dict(statuses)})
        return retry

    def _finish_if_last(self, *, nothing_left: bool) -> None:
        if self.last_call and nothing_left:
            # Nothing of this batch is left to send: DONE rides on this write instead of one of
            # its own. Safe before any ledger settle: a retry that finds DONE sends nothing, and
            # an address whose settle is lost stays RESERVED, which blocks every other run (only
            # a FAILED entry could then not be retried by a later run).
            self.record.finish(waiting=False)

    def _defer(self, recipients: list[Recipient]) -> None:
        """The daily quota is spent: these were not sent. They stay PENDING (this batch sends
        them after the wait), their reservations are released, and the run waits."""
        self._release_reservations(recipients)
        if not self.quota_exhausted:
            self.quota_exhausted = True
            if self.store.start_quota_wait(self.context.campaign_id, self.context.run_id, self.item.batch):
                logger.warning("daily sending quota spent: the run waits for it", extra={"batch": self.item.batch})

    def _stop_account_level(self, recipients: list[Recipient], reason: str, message: str) -> None:
        """SES refused the send for a reason every later call would hit too: nothing of this
        call was sent; release it and stop the run."""
        hashes = [address_hash(r.email) for r in recipients]
        self.record.released(h for h in hashes if self.record.state_of(h) is not EntryState.RELEASED)
        self._save()
        self._release_reservations(recipients)
        self.store.stop_run(
            self.context.campaign_id, self.context.run_id, "FAILED", f"SES refused the send ({reason}): {message}"
        )
        logger.error("account-level SES error: run stopped", extra={"reason": reason, "batch": self.item.batch})
        # The run record keeps SES's words for the report; the error (logged by Lambda and Step
        # Functions) gets the addresses hashed.
        raise AccountLevelError(reason, redact(message)) from None  # the SES error names addresses too

    # -- records ---------------------------------------------------------------------------

    def _release_reservations(self, recipients: list[Recipient]) -> None:
        """SES did not take these: free their ledger items, so this batch's retry or a later
        run may send them."""
        if recipients:
            self._settle({r.email: self._ledger_values(RELEASED) for r in recipients})

    def _settle(self, outcomes: dict[str, dict[str, Any]]) -> None:
        self.ledger.settle(campaign_id=self.context.campaign_id, occurrence=self.context.occurrence, outcomes=outcomes)

    def _ledger_values(self, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "status": status,
            "run_id": self.context.run_id,
            "batch": self.item.batch,
            "expires_at": self.context.ledger_expires_at,
            **extra,
        }

    def _save(self) -> None:
        document = self.record.to_document()
        self.store.put_batch(self.context.run_id, self.item.batch, document)
        self._saved = document

    def _output(self) -> SendBatchOutput:
        return SendBatchOutput(batch=self.item.batch, segment=self.item.segment, counts=self.record.counts)


def send_batch(request: SendBatchInput, settings: Settings) -> SendBatchOutput:
    return BatchSender(settings, request).run()
