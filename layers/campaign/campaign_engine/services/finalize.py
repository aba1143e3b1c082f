"""Finalize: add up every row's outcome and write the run report.

Prepare counted what it decided (invalid, duplicate, skipped) and what it queued per
segment; the batch records count what happened to the queued rows. Queued rows that no batch
accounts for were never attempted (the run stopped first): they are ``not_sent``. So the
counts always add up to the rows of the file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..adapters import storage
from ..adapters.runs import ACTIVE, RunStore
from ..config import Settings
from ..domain.outcomes import add_counts, empty_counts
from ..domain.report import AudienceSummary, BatchCounts, BatchesSummary, Pacing, RunReport
from ..domain.run_record import PrepareTally, RunError, RunRecord, RunStatus
from ..observability import count_outcomes, logger
from .engagement import feedback as engagement_feedback
from .prepare import run_prefix
from .reconcile import reconcile


def _iso(epoch: int | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch else None


class _Prepared(PrepareTally):
    """What Finalize reads of Prepare's tally, with what Prepare says of the file it read."""

    audience: dict[str, Any] | None = None
    warnings: list[Any] | None = None


def _finished_at(record: RunRecord) -> str:
    """When the run finished: the time an earlier Finalize recorded, if the run is closed (a
    ``report --refresh``, a retried Finalize, the report rewritten after a pause must not move
    it: a 9-second send once showed "Duration 1 min 56 s"); now for a run still RUNNING (a
    resume or a retry cleared it, and this Finalize closes the run)."""
    recorded = record.finished_at
    if recorded and not record.active:
        if isinstance(recorded, int | float):
            return datetime.fromtimestamp(recorded, UTC).isoformat()
        return str(recorded)
    return datetime.now(UTC).isoformat()


def _error_from_state(state: dict[str, Any]) -> RunError | None:
    """The Catch of a failed state: {"Error": ..., "Cause": ...}; a Lambda's cause is JSON."""
    caught = state.get("error")
    if not caught:
        return None
    cause = caught.get("Cause") or ""
    try:
        parsed = json.loads(cause)
        cause = parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
    except (ValueError, TypeError):
        pass
    return RunError(code=caught.get("Error", "States.TaskFailed"), message=str(cause)[:2000])


def build_report(
    record: RunRecord,
    batches: list[BatchCounts],
    state: dict[str, Any],
    feedback: dict[str, Any] | None = None,
) -> RunReport:
    prepared = _Prepared.model_validate((record.prepare or PrepareTally()).model_dump())
    segments: dict[str, dict[str, int]] = {name: dict(counts) for name, counts in prepared.segments.items()}
    attempted: dict[str, int] = {}
    for batch in batches:
        segments[batch.segment] = add_counts(segments.get(batch.segment, empty_counts()), batch.counts)
        attempted[batch.segment] = attempted.get(batch.segment, 0) + sum(batch.counts.values())
    for segment, queued in prepared.queued.items():
        missing = queued - attempted.get(segment, 0)
        if missing:
            segments[segment] = add_counts(segments.get(segment, empty_counts()), {"not_sent": missing})
    totals = RunReport.totals(segments)

    prepare_output = state.get("prepare") or {}
    prepare_error = RunError.model_validate(prepare_output["error"]) if prepare_output.get("error") else None
    error = record.error or prepare_error or _error_from_state(state)
    status = record.status
    if status is RunStatus.RUNNING and error is None and totals["not_sent"]:
        # Nobody stopped the run, yet rows were never sent: a batch failed on every attempt.
        # On AWS the Map then fails and its Catch brings the error here; moto's Distributed Map
        # succeeds whatever its children do. Either way the run did not complete.
        unfinished = (record.batch_count or 0) - sum(1 for batch in batches if batch.state == "DONE")
        error = RunError(
            code="batches_unfinished",
            message=(
                f"{totals['not_sent']} queued recipients were never sent: {unfinished} of "
                f"{record.batch_count or 0} batches did not finish; `campaign retry {record.run_id}` sends them"
            ),
        )
    if status is RunStatus.RUNNING:
        failed = error is not None or prepare_output.get("status") == "FAILED"
        status = RunStatus.FAILED if failed else RunStatus.COMPLETED
    prefix = run_prefix(record.campaign_id, record.run_id)
    return RunReport(
        campaign_id=record.campaign_id,
        run_id=record.run_id,
        status=status,
        reason=record.reason,
        error=error,
        trigger=record.trigger,
        occurrence=record.occurrence,
        audience_key=record.audience_key,
        started_at=_iso(record.started_at),
        finished_at=_finished_at(record),
        rows=prepared.rows,
        **totals,
        outcomes_total=sum(totals.values()),
        segments={name: segments[name] for name in sorted(segments)},
        batches=BatchesSummary(planned=record.batch_count or 0, recorded=len(batches)),
        pacing=Pacing(max_concurrency=record.max_concurrency, worker_rate=record.worker_rate),
        quota_waits=record.quota_waits,
        feedback=feedback,
        audience=AudienceSummary.model_validate(prepared.audience) if isinstance(prepared.audience, dict) else None,
        warnings=[str(warning) for warning in prepared.warnings or [] if warning],
        rejects_key=f"{prefix}/rejects.jsonl" if prepared.rows else None,
        report_key=f"{prefix}/report.json",
    )


def _run_values(report: RunReport, record: RunRecord) -> dict[str, Any]:
    """What the run record keeps of its report."""
    values: dict[str, Any] = {
        "counts": report.counts,
        "segments": report.segments,
        "finished_at": report.finished_at,
        "report_key": report.report_key,
    }
    if report.error:
        values["error"] = report.error.model_dump(mode="json", exclude_none=True)
    if record.finalize_error is not None:  # an earlier Finalize failed; this one did not
        values["finalize_error"] = None
    return values


def _read_record(store: RunStore, campaign_id: str, run_id: str) -> RunRecord | None:
    found = store.get_run(campaign_id, run_id)
    return RunRecord.model_validate(found) if found else None


def finalize(state: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Close the run record, then write report.json from the same report.

    The record goes first: a Finalize that dies between the two writes leaves a closed record
    and no report (a retry, or `campaign report --refresh`, writes it), never a report that
    says COMPLETED next to a record that says RUNNING. When every attempt fails, the state
    machine's last resort (MarkRunFailed) closes a record still RUNNING.
    """
    campaign_id, run_id = state["campaign_id"], state["run_id"]
    store = RunStore(settings.runs_table, settings.run_record_ttl_days)
    found = store.get_run(campaign_id, run_id)
    # No status: Prepare failed before it could create the run record.
    exists = bool(found and found.get("status"))
    record = RunRecord.model_validate(found) if found else RunRecord(campaign_id=campaign_id, run_id=run_id)
    batches = [BatchCounts.model_validate(batch) for batch in store.iter_batches(run_id)]
    unknowns = exists and settings.engagement_table and any(batch.counts.get("unknown") for batch in batches)
    # SES's Send events prove which unknown entries it accepted: the report says sent for them.
    if unknowns and reconcile(settings, campaign_id, run_id, closing=True).confirmed_sent:
        batches = [BatchCounts.model_validate(batch) for batch in store.iter_batches(run_id)]
    feedback = engagement_feedback(settings, run_id)
    report = build_report(record, batches, state, feedback)
    values = _run_values(report, record)
    if record.active and exists:
        store.update_run(campaign_id, run_id, {**values, "status": report.status.value}, only_if_status=ACTIVE)
    elif not exists:
        store.update_run(
            campaign_id,
            run_id,
            {**values, "status": report.status.value, "campaign_id": campaign_id, "run_id": run_id},
        )
    else:  # a stopped run (FAILED, CANCELLED, PAUSED) keeps its status and reason
        store.update_run(campaign_id, run_id, values)
    latest = _read_record(store, campaign_id, run_id) or record
    if latest.status not in (RunStatus.RUNNING, report.status):
        # An operator paused or cancelled the run while this ran (after the read above): the
        # report follows the run's status. A stop after this read finds finished_at set, and
        # whoever stopped the run has Finalize write the report again (services.control).
        report = build_report(latest, batches, state, feedback)
        values = _run_values(report, latest)
        store.update_run(campaign_id, run_id, values)
    storage.put_json(settings.bucket, report.report_key, report.to_json())
    counts = report.counts
    count_outcomes(campaign_id, counts)
    logger.info("run finished", extra={"status": report.status.value, "rows": report.rows, "counts": counts})
    if not report.adds_up:
        logger.error(
            "outcomes do not add up to the rows", extra={"rows": report.rows, "outcomes": report.outcomes_total}
        )
    return {"status": report.status.value, "report_key": report.report_key, "rows": report.rows, "counts": counts}
