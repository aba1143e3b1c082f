"""What an operator does to a run: find it, follow its progress, pause it, cancel it.

A pause is the breaker's own stop (the run record goes PAUSED, later batches send nothing and
count ``not_sent``), so a paused run resumes through StartCampaign's ``resume`` action like a
tripped one. A cancel is final: the run goes CANCELLED from RUNNING or PAUSED; a running
execution finishes its Map without sending and Finalize writes the report; when Finalize has
already run (a paused run's execution is over), the caller has it write the report again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..adapters import run_index
from ..adapters.runs import ACTIVE, PAUSED, RunStore
from ..config import Settings
from ..domain.errors import CampaignError, NotFound, RunStateError
from ..domain.outcomes import OUTCOMES, add_counts, empty_counts
from .start import campaign_of_run

OPERATOR_PAUSE = "paused by an operator"
OPERATOR_CANCEL = "cancelled by an operator"


@dataclass(frozen=True)
class Progress:
    campaign_id: str
    run_id: str
    status: str
    reason: str | None
    total: int | None  # recipients queued for sending; None until Prepare is done
    done: int  # of those, with a final outcome
    counts: dict[str, int] = field(default_factory=empty_counts)
    batches_planned: int | None = None
    batches_done: int = 0
    waiting_for_quota: bool = False
    started_at: Any = None
    finished_at: Any = None

    @property
    def stopped(self) -> bool:
        """Nothing more happens to this run without an operator (or it is over): Finalize has
        written its report, and it is not RUNNING (a resume clears ``finished_at``)."""
        return self.status != ACTIVE and self.finished_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "run_id": self.run_id,
            "status": self.status,
            "reason": self.reason,
            "total": self.total,
            "done": self.done,
            "counts": self.counts,
            "batches": {"planned": self.batches_planned, "done": self.batches_done},
            "waiting_for_quota": self.waiting_for_quota,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


def find_run(settings: Settings, run_id: str, campaign_id: str | None = None) -> dict[str, Any]:
    campaign_id = campaign_id or campaign_of_run(run_id)
    if campaign_id is None:
        raise CampaignError(f"cannot tell the campaign of run '{run_id}': name it with --campaign", where="run id")
    record = RunStore(settings.runs_table).get_run(campaign_id, run_id)
    if record is None:
        raise NotFound(f"no run '{run_id}' of campaign '{campaign_id}'", where=f"runs table {settings.runs_table}")
    return record


def runs(settings: Settings, campaign_ids: list[str], limit: int | None = None) -> list[dict[str, Any]]:
    """The campaigns' runs, newest first (by start time), at most ``limit`` of each campaign."""
    found: list[dict[str, Any]] = []
    for campaign_id in campaign_ids:
        records = sorted(
            run_index.campaign_runs(settings.runs_table, campaign_id),
            key=lambda record: record.get("started_at") or 0,
            reverse=True,
        )
        found.extend(records[:limit] if limit else records)
    return sorted(found, key=lambda record: record.get("started_at") or 0, reverse=True)


def progress(settings: Settings, record: dict[str, Any]) -> Progress:
    run_id = record["run_id"]
    prepared = record.get("prepare") or {}
    queued = prepared.get("queued")
    counts, done, batches_done = empty_counts(), 0, 0
    for batch in run_index.batch_progress(settings.runs_table, run_id):
        batch_counts = {name: int(value) for name, value in (batch.get("counts") or {}).items()}
        counts = add_counts(counts, batch_counts)
        if batch.get("state") == "DONE":
            batches_done += 1
            done += sum(batch_counts.values())
        else:
            done += sum(value for name, value in batch_counts.items() if name != "not_sent")
    if record.get("counts"):  # Finalize's totals, when it has run, include the rows never queued
        counts = {name: int(record["counts"].get(name, 0)) for name in OUTCOMES}
    return Progress(
        campaign_id=record["campaign_id"],
        run_id=run_id,
        status=record.get("status", "UNKNOWN"),
        reason=record.get("reason"),
        total=sum(int(v) for v in queued.values()) if queued is not None else None,
        done=done,
        counts=counts,
        batches_planned=int(record["batch_count"]) if record.get("batch_count") is not None else None,
        batches_done=batches_done,
        waiting_for_quota=bool(record.get("quota_wait")),
        started_at=record.get("started_at"),
        finished_at=record.get("finished_at"),
    )


def pause(settings: Settings, run_id: str, campaign_id: str | None = None) -> dict[str, Any]:
    record = find_run(settings, run_id, campaign_id)
    campaign_id = record["campaign_id"]
    store = RunStore(settings.runs_table, settings.run_record_ttl_days)
    if not store.stop_run(campaign_id, run_id, PAUSED, OPERATOR_PAUSE):
        current = store.get_run(campaign_id, run_id) or record
        raise RunStateError(f"run '{run_id}' is {current.get('status')}; only a RUNNING run can be paused")
    return find_run(settings, run_id, campaign_id)


def cancel(settings: Settings, run_id: str, campaign_id: str | None = None) -> tuple[dict[str, Any], bool]:
    """Returns the run record and whether its report must be written again (Finalize) because
    no execution is left to do it."""
    record = find_run(settings, run_id, campaign_id)
    campaign_id = record["campaign_id"]
    store = RunStore(settings.runs_table, settings.run_record_ttl_days)
    status = record.get("status")
    values = {"status": "CANCELLED", "reason": OPERATOR_CANCEL}
    if status not in (ACTIVE, PAUSED) or not store.update_run(campaign_id, run_id, values, only_if_status=status):
        current = store.get_run(campaign_id, run_id) or record
        raise RunStateError(f"run '{run_id}' is {current.get('status')}; only a RUNNING or PAUSED run can be cancelled")
    # Read after the change: a Finalize that has already run (finished_at) wrote the report with
    # the status it saw; one still to come reads CANCELLED itself.
    record = find_run(settings, run_id, campaign_id)
    return record, record.get("finished_at") is not None
