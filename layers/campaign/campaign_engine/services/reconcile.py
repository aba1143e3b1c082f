"""Reconcile a run's UNKNOWN entries with what SES says it accepted.

An entry is UNKNOWN when the SES call carrying it may have been accepted but no one saw the
answer (a lost reply, a 5xx, a crash during the call). SES publishes a Send event, carrying the
run's message tags, for every message it accepted; the engagement function keeps it by run and
address hash (``EngagementStore.send_evidence``). So:

- an UNKNOWN entry with a Send event was sent: it becomes SENT (always safe; Finalize's report
  refresh does this too);
- an UNKNOWN entry with no Send event after a window (default 24 hours: SES publishes Send
  events within seconds, so by then none is coming) may be released by an operator: its
  ledger reservation is freed so a later run may send it. Never automatically: a release is
  a judgement that the message was not sent, and a wrong one sends it twice.

Each change is one conditional write of just the entries it moves (``RunStore.move_entries``):
it cannot undo anything a SendBatch wrote meanwhile. A release frees the ledger first, then moves
the entries: a crash between leaves them UNKNOWN (the report still says so) and running reconcile
again completes it. Operators reconcile a run that has stopped; Finalize does it while closing one
(``closing``), after its batches have ended.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from pydantic import BaseModel

from ..adapters import storage
from ..adapters.engagement import EngagementStore
from ..adapters.ledger import RELEASED, Ledger
from ..adapters.runs import ACTIVE, RunStore
from ..config import Settings
from ..domain.addresses import address_hash
from ..domain.contracts import Batch
from ..domain.entries import BatchRecord, EntryState
from ..domain.errors import NotFound, RunStateError
from ..observability import logger

DEFAULT_RELEASE_WINDOW_HOURS = 24.0


class ReconcileResult(BaseModel):
    confirmed_sent: int = 0  # UNKNOWN -> SENT: SES's Send event was found
    released: int = 0  # UNKNOWN -> RELEASED: no Send event after the window, released by an operator
    still_unknown: int = 0


def _batch_number(document: dict[str, Any]) -> int:
    return int(str(document["sk"]).split("#", 1)[1])


def _lines(stream: BinaryIO, chunk: int = 1 << 20) -> Iterator[bytes]:
    rest = b""
    while data := stream.read(chunk):
        *lines, rest = (rest + data).split(b"\n")
        yield from (line for line in lines if line.strip())
    if rest.strip():
        yield rest


def _addresses(settings: Settings, batches_key: str, wanted: dict[int, set[str]]) -> Iterator[tuple[int, str, str]]:
    """(batch, address hash, address) for the wanted hashes, read from the run's batches file
    (the batch record keeps hashes only, the ledger is keyed by address)."""
    for line in _lines(storage.open_stream(settings.bucket, batches_key)):
        batch = Batch.model_validate_json(line)
        hashes = wanted.get(batch.batch)
        if not hashes:
            continue
        for recipient in batch.recipients:
            h = address_hash(recipient.email)
            if h in hashes:
                yield batch.batch, h, recipient.email


def reconcile(
    settings: Settings,
    campaign_id: str,
    run_id: str,
    release_unknown_older_than_hours: float | None = None,
    *,
    now: float | None = None,
    closing: bool = False,
) -> ReconcileResult:
    """Confirm UNKNOWN entries that have a Send event; with ``release_unknown_older_than_hours``
    also release those without one whose batch was last written longer ago than that."""
    if not settings.engagement_table:
        raise RuntimeError("ENGAGEMENT_TABLE is not set")
    store = RunStore(settings.runs_table, settings.run_record_ttl_days)
    run = store.get_run(campaign_id, run_id)
    if run is None:
        raise NotFound(f"no run {run_id} of campaign {campaign_id}", where="run_id")
    releasing = release_unknown_older_than_hours is not None
    if run.get("status") == ACTIVE and not closing:
        raise RunStateError(
            f"run {run_id} is still RUNNING: reconcile it once it has stopped (its report is reconciled as it ends)",
            where="run_id",
        )
    evidence = EngagementStore(settings.engagement_table)
    clock = time.time() if now is None else now
    cutoff = clock - (release_unknown_older_than_hours or 0) * 3600
    result = ReconcileResult()
    to_release: dict[int, set[str]] = {}
    records: dict[int, BatchRecord] = {}
    for document in store.iter_batches(run_id):
        record = BatchRecord.model_validate(document)
        unknown = record.with_state(EntryState.UNKNOWN)
        if not unknown:
            continue
        number = _batch_number(document)
        found = list(evidence.send_evidence(run_id, unknown))
        if found:
            record.confirmed(found)  # checks the transition; the write below makes it
            if store.move_entries(run_id, number, found, (EntryState.UNKNOWN, EntryState.SENT)):
                result.confirmed_sent += len(found)
            else:
                found = []  # the record changed meanwhile: left for the next reconcile
        rest = [h for h in unknown if h not in found]
        if releasing and rest and float(document.get("updated_at", clock)) <= cutoff:
            to_release[number] = set(rest)
            records[number] = record
        else:
            result.still_unknown += len(rest)
    if to_release:
        result.released, result.still_unknown = _release(settings, run, to_release, records, result.still_unknown)
    logger.info("run reconciled", extra={"run_id": run_id, **result.model_dump()})
    return result


def _release(
    settings: Settings,
    run: dict[str, Any],
    to_release: dict[int, set[str]],
    records: dict[int, BatchRecord],
    still_unknown: int,
) -> tuple[int, int]:
    campaign_id, run_id = run["campaign_id"], run["run_id"]
    occurrence = str(run.get("occurrence") or "once")
    expires_at = None if occurrence == "once" else int(time.time()) + settings.ledger_ttl_days * 86400
    found: dict[int, dict[str, str]] = {}
    batches_key = f"runs/{campaign_id}/{run_id}/batches.jsonl"
    for number, h, address in _addresses(settings, batches_key, to_release):
        found.setdefault(number, {})[h] = address
    ledger, store = Ledger(settings.ledger_table), RunStore(settings.runs_table, settings.run_record_ttl_days)
    released = 0
    for number, hashes in to_release.items():
        addresses = found.get(number, {})
        missing = hashes - addresses.keys()
        still_unknown += len(missing)  # not in the batches file (it expired): leave them unknown
        if not addresses:
            continue
        ledger.settle(
            campaign_id=campaign_id,
            occurrence=occurrence,
            outcomes={
                address: {"status": RELEASED, "run_id": run_id, "batch": number, "expires_at": expires_at}
                for address in addresses.values()
            },
        )
        records[number].release_unknown(addresses.keys())
        if store.move_entries(run_id, number, list(addresses), (EntryState.UNKNOWN, EntryState.RELEASED)):
            released += len(addresses)
            continue
        # Another reconcile moved them first (a Send event turned up): hold them again, so no
        # later run takes an address this one may have sent to.
        ledger.reserve(
            campaign_id=campaign_id,
            occurrence=occurrence,
            run_id=run_id,
            batch=number,
            addresses=list(addresses.values()),
            expires_at=expires_at,
        )
        still_unknown += len(addresses)
    return released, still_unknown
