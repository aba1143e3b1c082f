"""The run record: one item per run in the runs table, read by every batch, written by
Prepare, the breaker, operators and Finalize.

The adapter (``adapters.runs.RunStore``) reads and writes plain dicts; services wrap them here
(``RunRecord.model_validate(store.get_run(...))``) so a status is an enum, not a bare string,
and the fields the services rely on are typed. Other writers add fields of their own (the
breaker's settings, the resume history, ...): they are kept (``extra="allow"``), not refused.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .outcomes import OUTCOMES, empty_counts


class RunStatus(str, Enum):
    """Where a run is. RUNNING is the only status in which batches send."""

    RUNNING = "RUNNING"
    PAUSED = "PAUSED"  # the breaker (or an operator) stopped it; `campaign resume` continues it
    COMPLETED = "COMPLETED"  # every queued row has an outcome
    FAILED = "FAILED"  # stopped by an error; `campaign retry` runs it again without a new upload
    CANCELLED = "CANCELLED"  # an operator stopped it for good

    @property
    def final(self) -> bool:
        """Nothing happens to the run any more without an operator."""
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


class PrepareTally(BaseModel):
    """What Prepare decided: rows read, outcomes per segment, rows queued per segment."""

    model_config = ConfigDict(extra="allow")
    rows: int = 0
    segments: dict[str, dict[str, int]] = Field(default_factory=dict)
    queued: dict[str, int] = Field(default_factory=dict)


class RunError(BaseModel):
    """An error a run stopped on: the project's own (``code``, ``message``, ``where``) or a
    Step Functions error caught by the state machine (its name as ``code``)."""

    model_config = ConfigDict(extra="allow")
    code: str
    message: str = ""
    where: str | None = None


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="allow", use_enum_values=False)

    campaign_id: str
    run_id: str
    # A record Finalize has not created yet (Prepare failed before start_run) has no status:
    # it is treated as RUNNING, the status an execution's run has until Finalize closes it.
    status: RunStatus = RunStatus.RUNNING
    reason: str | None = None
    error: RunError | None = None
    trigger: str | None = None
    occurrence: str | None = None
    audience_key: str | None = None
    input: dict[str, Any] | None = None  # the execution input (RunInput): what resume and retry start again
    started_at: int | None = None
    finished_at: str | int | None = None  # set by Finalize; cleared by resume and retry
    prepare: PrepareTally | None = None
    batch_count: int | None = None
    max_concurrency: int | None = None
    worker_rate: float | None = None
    quota_wait: dict[str, Any] | None = None
    quota_waits: list[dict[str, Any]] = Field(default_factory=list)
    counts: dict[str, int] | None = None  # Finalize's totals
    report_key: str | None = None
    resumes: int = 0
    retries: int = 0
    # Set by the state machine's last resort when Finalize itself failed (see
    # statemachine/campaign.asl.json, MarkRunFailed / NoteFinalizeError).
    finalize_error: RunError | None = None

    @property
    def active(self) -> bool:
        return self.status is RunStatus.RUNNING

    def outcome_counts(self) -> dict[str, int]:
        counts = empty_counts()
        for name in OUTCOMES:
            counts[name] = int((self.counts or {}).get(name, 0))
        return counts

    def execution_names(self) -> list[str]:
        """Every execution this run has had, oldest first: the first, then each resume and retry
        (their numbers are counted in the record; the relative order of resumes and retries is
        not, so resumes come before retries)."""
        names = [self.run_id]
        names += [f"{self.run_id}-resume-{n}" for n in range(1, self.resumes + 1)]
        names += [f"{self.run_id}-retry-{n}" for n in range(1, self.retries + 1)]
        return names

    def to_store(self) -> dict[str, Any]:
        """The plain dict the adapter writes (enums as their values, unset fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)
