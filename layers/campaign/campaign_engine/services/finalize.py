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
from ..domain.outcomes import OUTCOMES, add_counts, empty_counts
from ..observability import count_outcomes, logger
from .engagement import feedback as engagement_feedback
from .prepare import UNSEGMENTED, run_prefix


def _iso(epoch: int | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch else None


def _error_from_state(state: dict[str, Any]) -> dict[str, str] | None:
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
    return {"code": caught.get("Error", "States.TaskFailed"), "message": str(cause)[:2000]}


def build_report(
    record: dict[str, Any],
    batches: list[dict[str, Any]],
    state: dict[str, Any],
    feedback: dict[str, Any] | None = None,
) -> dict[str, Any]:
    prepared = record.get("prepare") or {}
    segments: dict[str, dict[str, int]] = {
        name: dict(counts) for name, counts in (prepared.get("segments") or {}).items()
    }
    attempted: dict[str, int] = {}
    for batch in batches:
        segment = batch.get("segment", UNSEGMENTED)
        counts = batch.get("counts") or {}
        segments[segment] = add_counts(segments.get(segment, empty_counts()), counts)
        attempted[segment] = attempted.get(segment, 0) + sum(counts.values())
    for segment, queued in (prepared.get("queued") or {}).items():
        missing = queued - attempted.get(segment, 0)
        if missing:
            segments[segment] = add_counts(segments.get(segment, empty_counts()), {"not_sent": missing})

    totals = empty_counts()
    for counts in segments.values():
        totals = add_counts(totals, counts)

    prepare_output = state.get("prepare") or {}
    error = record.get("error") or prepare_output.get("error") or _error_from_state(state)
    status = record.get("status", ACTIVE)
    if status == ACTIVE:
        status = "FAILED" if error or prepare_output.get("status") == "FAILED" else "COMPLETED"
    rows = prepared.get("rows", 0)
    prefix = run_prefix(record["campaign_id"], record["run_id"])
    report = {
        "campaign_id": record["campaign_id"],
        "run_id": record["run_id"],
        "status": status,
        "reason": record.get("reason"),
        "error": error,
        "trigger": record.get("trigger"),
        "occurrence": record.get("occurrence"),
        "audience_key": record.get("audience_key"),
        "started_at": _iso(record.get("started_at")),
        "finished_at": datetime.now(UTC).isoformat(),
        "rows": rows,
        **totals,
        "outcomes_total": sum(totals.values()),
        "segments": {name: segments[name] for name in sorted(segments)},
        "batches": {"planned": record.get("batch_count", 0), "recorded": len(batches)},
        "pacing": {"max_concurrency": record.get("max_concurrency"), "worker_rate": record.get("worker_rate")},
        # Each time the daily SES quota ran out: when the run started waiting and when it went on.
        "quota_waits": record.get("quota_waits") or [],
        # What SES has reported so far (events keep arriving after the run: run Finalize again,
        # with {"campaign_id", "run_id"}, to refresh it).
        "feedback": feedback,
        "rejects_key": f"{prefix}/rejects.jsonl" if rows else None,
        "report_key": f"{prefix}/report.json",
    }
    return report


def _run_values(report: dict[str, Any]) -> dict[str, Any]:
    """What the run record keeps of its report."""
    values = {
        "counts": {name: report[name] for name in OUTCOMES},
        "segments": report["segments"],
        "finished_at": report["finished_at"],
        "report_key": report["report_key"],
    }
    if report["error"]:
        values["error"] = report["error"]
    return values


def finalize(state: dict[str, Any], settings: Settings) -> dict[str, Any]:
    campaign_id, run_id = state["campaign_id"], state["run_id"]
    store = RunStore(settings.runs_table, settings.run_record_ttl_days)
    record = store.get_run(campaign_id, run_id) or {"campaign_id": campaign_id, "run_id": run_id}
    batches, feedback = list(store.iter_batches(run_id)), engagement_feedback(settings, run_id)
    report = build_report(record, batches, state, feedback)
    storage.put_json(settings.bucket, report["report_key"], report)
    values = _run_values(report)
    if record.get("status") == ACTIVE:
        store.update_run(campaign_id, run_id, {**values, "status": report["status"]}, only_if_status=ACTIVE)
    elif "status" not in record:  # Prepare failed before it could create the run record
        store.update_run(
            campaign_id, run_id, {**values, "status": report["status"], "campaign_id": campaign_id, "run_id": run_id}
        )
    else:  # a stopped run (FAILED, CANCELLED, PAUSED) keeps its status and reason
        store.update_run(campaign_id, run_id, values)
    latest = store.get_run(campaign_id, run_id) or record
    if latest.get("status") not in (ACTIVE, report["status"]):
        # An operator paused or cancelled the run while this ran (after the read above): the
        # report follows the run's status. A stop after this read finds finished_at set, and
        # whoever stopped the run has Finalize write the report again (services.control).
        report = build_report(latest, batches, state, feedback)
        storage.put_json(settings.bucket, report["report_key"], report)
        values = _run_values(report)
        store.update_run(campaign_id, run_id, values)
    counts = values["counts"]
    count_outcomes(campaign_id, counts)
    logger.info("run finished", extra={"status": report["status"], "rows": report["rows"], "counts": counts})
    if report["rows"] != report["outcomes_total"] and report["rows"]:
        logger.error(
            "outcomes do not add up to the rows", extra={"rows": report["rows"], "outcomes": report["outcomes_total"]}
        )
    return {"status": report["status"], "report_key": report["report_key"], "rows": report["rows"], "counts": counts}
