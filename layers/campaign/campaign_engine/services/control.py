"""What an operator does to a run: find it, follow its progress, pause it, cancel it, retry it.

A pause is the breaker's own stop (the run record goes PAUSED, later batches send nothing and
count ``not_sent``), so a paused run resumes through StartCampaign's ``resume`` action like a
tripped one. A cancel is final: the run goes CANCELLED from RUNNING or PAUSED; a running
execution finishes its Map without sending and Finalize writes the report; when Finalize has
already run (a paused run's execution is over), the caller has it write the report again.

A retry runs a FAILED run again, from the same upload: the run goes back to RUNNING and a new
execution of the same run id (``<run_id>-retry-<n>``) starts. Prepare's outputs are keyed by
the run and every batch record remembers what it sent, so the new execution sends only what was
never sent. Step Functions' RedriveExecution is not used: our executions end in a Fail state
reached through a Catch, which a redrive would only enter again, and the local stack's moto has
no RedriveExecution; a new execution behaves the same on both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from ..adapters import run_index
from ..adapters.aws import client, error_code
from ..adapters.runs import ACTIVE, PAUSED, RunStore
from ..config import Settings
from ..domain.contracts import RunInput
from ..domain.errors import CampaignError, NotFound, RunStateError
from ..domain.outcomes import empty_counts
from ..domain.run_record import RunRecord, RunStatus, Tally, iso_utc
from ..observability import logger
from .start import campaign_of_run, start_execution

OPERATOR_PAUSE = "paused by an operator"
OPERATOR_CANCEL = "cancelled by an operator"


@dataclass(frozen=True)
class Progress:
    campaign_id: str
    run_id: str
    status: RunStatus
    reason: str | None
    total: int | None  # recipients queued for sending; None until Prepare is done
    done: int  # of those, with an outcome other than not_sent (see Tally)
    counts: dict[str, int] = field(default_factory=empty_counts)  # over the file's rows (see Tally)
    rows: int | None = None  # the file's rows; None until Prepare is done
    not_sent: int = 0  # queued rows not sent: the run stopped (paused, cancelled, failed) first
    batches_planned: int | None = None
    batches_done: int = 0
    waiting_for_quota: bool = False
    started_at: Any = None
    finished_at: Any = None
    finalize_error: str | None = None  # Finalize failed for good: the report may be missing

    @property
    def stopped(self) -> bool:
        """Nothing more happens to this run without an operator (or it is over): Finalize has
        written its report (or the state machine closed the run when Finalize could not), and
        it is not RUNNING (a resume or a retry clears ``finished_at``)."""
        return self.status is not RunStatus.RUNNING and self.finished_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "run_id": self.run_id,
            "status": self.status.value,
            "reason": self.reason,
            "rows": self.rows,
            "total": self.total,
            "done": self.done,
            "not_sent": self.not_sent,
            # What the numbers count, for a reader of the JSON (docs/cli.md, "status").
            "basis": "total: rows queued for sending; done: queued rows with an outcome other than "
            "not_sent; not_sent: queued rows not sent because the run stopped; counts: outcomes of "
            "every row of the file",
            "counts": self.counts,
            "batches": {"planned": self.batches_planned, "done": self.batches_done},
            "waiting_for_quota": self.waiting_for_quota,
            "started_at": iso_utc(self.started_at),
            "finished_at": iso_utc(self.finished_at),
            "finalize_error": self.finalize_error,
        }


class RetryStarted(BaseModel):
    """What ``retry`` started."""

    campaign_id: str
    run_id: str
    retries: int  # this is the run's n-th retry
    execution_name: str
    execution_arn: str | None = None


def find_run(settings: Settings, run_id: str, campaign_id: str | None = None) -> RunRecord:
    campaign_id = campaign_id or campaign_of_run(run_id)
    if campaign_id is None:
        raise CampaignError(f"cannot tell the campaign of run '{run_id}': name it with --campaign", where="run id")
    record = RunStore(settings.runs_table).get_run(campaign_id, run_id)
    if record is None:
        raise NotFound(f"no run '{run_id}' of campaign '{campaign_id}'", where=f"runs table {settings.runs_table}")
    return RunRecord.model_validate(record)


def runs(settings: Settings, campaign_ids: list[str], limit: int | None = None) -> list[RunRecord]:
    """The campaigns' runs, newest first (by start time), at most ``limit`` of each campaign."""
    found: list[RunRecord] = []
    for campaign_id in campaign_ids:
        records = sorted(
            (RunRecord.model_validate(r) for r in run_index.campaign_runs(settings.runs_table, campaign_id)),
            key=lambda record: record.started_at or 0,
            reverse=True,
        )
        found.extend(records[:limit] if limit else records)
    return sorted(found, key=lambda record: record.started_at or 0, reverse=True)


def progress(settings: Settings, record: RunRecord) -> Progress:
    """The run's progress from its record and its batch records, counted as Finalize counts
    (``Tally``): ``done`` never includes rows a batch skipped because the run was paused or
    cancelled, and once the run stops every queued row without an outcome is ``not_sent``, so
    right after a cancel "sent 300" stands next to "not sent 1,503", not next to "done 700"."""
    run_id = record.run_id
    batch_counts, batches_done = [], 0
    for batch in run_index.batch_progress(settings.runs_table, run_id):
        batch_counts.append({name: int(value) for name, value in (batch.get("counts") or {}).items()})
        if batch.get("state") == "DONE":
            batches_done += 1
    tally = Tally.of(record.prepare, batch_counts, stopped=record.status is not RunStatus.RUNNING)
    return Progress(
        campaign_id=record.campaign_id,
        run_id=run_id,
        status=record.status,
        reason=record.reason,
        # A record written before Prepare finished has no ``prepare`` (None: still preparing).
        total=tally.queued,
        done=tally.done,
        counts=tally.counts,
        rows=tally.rows,
        not_sent=tally.not_sent,
        batches_planned=record.batch_count,
        batches_done=batches_done,
        waiting_for_quota=bool(record.quota_wait),
        started_at=record.started_at,
        finished_at=record.finished_at,
        finalize_error=record.finalize_error.code if record.finalize_error else None,
    )


def pause(settings: Settings, run_id: str, campaign_id: str | None = None) -> RunRecord:
    record = find_run(settings, run_id, campaign_id)
    store = RunStore(settings.runs_table, settings.run_record_ttl_days)
    if not store.stop_run(record.campaign_id, run_id, PAUSED, OPERATOR_PAUSE):
        current = find_run(settings, run_id, record.campaign_id)
        raise RunStateError(f"run '{run_id}' is {current.status.value}; only a RUNNING run can be paused")
    return find_run(settings, run_id, record.campaign_id)


def cancel(settings: Settings, run_id: str, campaign_id: str | None = None) -> tuple[RunRecord, bool]:
    """Returns the run record and whether its report must be written again (Finalize) because
    no execution is left to do it."""
    record = find_run(settings, run_id, campaign_id)
    store = RunStore(settings.runs_table, settings.run_record_ttl_days)
    status = record.status
    values = {"status": RunStatus.CANCELLED.value, "reason": OPERATOR_CANCEL}
    if status not in (RunStatus.RUNNING, RunStatus.PAUSED) or not store.update_run(
        record.campaign_id, run_id, values, only_if_status=status.value
    ):
        current = find_run(settings, run_id, record.campaign_id)
        raise RunStateError(f"run '{run_id}' is {current.status.value}; only a RUNNING or PAUSED run can be cancelled")
    # Read after the change: a Finalize that has already run (finished_at) wrote the report with
    # the status it saw; one still to come reads CANCELLED itself.
    record = find_run(settings, run_id, record.campaign_id)
    return record, record.finished_at is not None


# Retry --------------------------------------------------------------------------------------


def _execution_arn(settings: Settings, name: str) -> str:
    """An execution's ARN from its state machine's: arn:...:stateMachine:<sm> -> arn:...:execution:<sm>:<name>."""
    if not settings.state_machine_arn:
        raise CampaignError("no state machine ARN in the settings", where="STATE_MACHINE_ARN")
    return settings.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


def _executions(settings: Settings, record: RunRecord) -> list[dict[str, Any]]:
    """DescribeExecution of every execution the run has had (those Step Functions still knows)."""
    sfn = client("stepfunctions")
    found = []
    for name in record.execution_names():
        try:
            found.append(sfn.describe_execution(executionArn=_execution_arn(settings, name)))
        except Exception as exc:
            if error_code(exc) != "ExecutionDoesNotExist":
                raise
    return found


def _run_input(record: RunRecord, executions: list[dict[str, Any]]) -> RunInput:
    """What the run's first execution was started with: Prepare keeps it in the record; a run
    whose Prepare never got that far still has it in its execution."""
    if record.input:
        return RunInput.model_validate(record.input)
    first = next((e for e in executions if e.get("name") == record.run_id), None)
    if first is None or not first.get("input"):
        raise CampaignError(
            f"run '{record.run_id}' has no execution input to start again (its first execution is gone): "
            "upload the audience file again",
            where=f"run record {record.campaign_id}/{record.run_id}: input",
        )
    return RunInput.model_validate_json(first["input"])


def retry(settings: Settings, run_id: str, campaign_id: str | None = None) -> RetryStarted:
    """Run a FAILED run again without a new upload (or a run whose execution ended while its
    record still says RUNNING): the record goes back to RUNNING first (Prepare carries on only
    for a RUNNING run), then a new execution of the same run starts; if it cannot start, the
    record goes back to FAILED with the reason, so no run is left RUNNING without an execution."""
    record = find_run(settings, run_id, campaign_id)
    campaign_id = record.campaign_id
    executions = _executions(settings, record)
    running = [e["name"] for e in executions if e.get("status") == "RUNNING"]
    if running:
        raise RunStateError(
            f"run '{run_id}' still has a running execution ({running[-1]}): wait for it to end, or cancel the run"
        )
    if record.status not in (RunStatus.FAILED, RunStatus.RUNNING):
        hint = " (`campaign resume` continues a paused run)" if record.status is RunStatus.PAUSED else ""
        raise RunStateError(
            f"run '{run_id}' is {record.status.value}; only a FAILED run (or one whose execution ended while it "
            f"was RUNNING) can be retried{hint}"
        )
    run = _run_input(record, executions)
    number = record.retries + 1
    store = RunStore(settings.runs_table, settings.run_record_ttl_days)
    values: dict[str, Any] = {
        "status": RunStatus.RUNNING.value,
        "retries": number,
        "retried_at": int(datetime.now(UTC).timestamp()),
        # What the failed attempt left: a new attempt starts clean (batch records stay: they
        # are what keeps anyone from being sent twice).
        "reason": None,
        "error": None,
        "finalize_error": None,
        "finished_at": None,
        "counts": None,
    }
    if not store.update_run(campaign_id, run_id, values, only_if_status=record.status.value):
        raise RunStateError(f"run '{run_id}' changed while retrying; look at it again (`campaign status {run_id}`)")
    name = f"{run_id}-retry-{number}"
    try:
        started = start_execution(settings, run, name=name)
        if not started.get("started"):
            raise RunStateError(f"an execution named {name} already exists; retry again for a new one")
    except Exception as exc:
        store.update_run(
            campaign_id,
            run_id,
            {"status": RunStatus.FAILED.value, "reason": f"retry {number} could not start: {exc}"[:500]},
            only_if_status=ACTIVE,
        )
        raise
    logger.info("run retried", extra={"run_id": run_id, "retries": number})
    return RetryStarted(
        campaign_id=campaign_id,
        run_id=run_id,
        retries=number,
        execution_name=name,
        execution_arn=started.get("execution_arn"),
    )
