"""The run record: one item per run in the runs table, read by every batch, written by
Prepare, the breaker, operators and Finalize.

The adapter (``adapters.runs.RunStore``) reads and writes plain dicts; services wrap them here
(``RunRecord.model_validate(store.get_run(...))``) so a status is an enum, not a bare string,
and the fields the services rely on are typed. Other writers add fields of their own (the
breaker's settings, the resume history, ...): they are kept (``extra="allow"``), not refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .outcomes import OUTCOMES, Outcome, add_counts, empty_counts

# Epoch seconds this project can hold: 2001-09-09 to 5138-11-16. Below, a number is a count or a
# duration, not a time; from 1e12 on, a time in milliseconds (JavaScript's, SES's event feed).
_EPOCH_SECONDS = (1_000_000_000, 100_000_000_000)
_EPOCH_MILLISECONDS = (1_000_000_000_000, 100_000_000_000_000)


def iso_utc(value: Any) -> str | None:
    """A time as ISO-8601 UTC to the second with a ``Z`` (``2026-12-07T05:12:26Z``), the one form
    the CLI prints in JSON, from what the stores keep: epoch seconds (the runs table), epoch
    milliseconds, a datetime, or an ISO string with any offset (``+00:00`` from Finalize, ``.123Z``
    from suppression records; a string without an offset is UTC, as every writer here uses).
    None for what is not a time."""
    moment: datetime
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, int | float):
        if _EPOCH_SECONDS[0] <= value < _EPOCH_SECONDS[1]:
            moment = datetime.fromtimestamp(value, UTC)
        elif _EPOCH_MILLISECONDS[0] <= value < _EPOCH_MILLISECONDS[1]:
            moment = datetime.fromtimestamp(value / 1000, UTC)
        else:
            return None
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    else:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


class Tally(BaseModel):
    """A run's counts on one stated basis, the same arithmetic as Finalize's report, so what
    ``campaign status`` shows while a run goes, right after a pause or a cancel, and after Finalize
    all add up the same way.

    - ``counts`` are over the file's rows: Prepare's own outcomes (invalid, duplicate, skipped...)
      plus what the batches recorded for the queued rows, plus, once the run has stopped, every
      queued row no batch sent as ``not_sent`` (what Finalize writes).
    - ``queued`` is what Prepare queued for sending (None until Prepare is done); ``done`` is how
      many of them have an outcome other than ``not_sent`` (a batch a paused or cancelled run
      skipped is not "done": it sent nothing); ``not_sent`` is the queued rows without one.
    """

    rows: int | None = None
    queued: int | None = None
    done: int = 0
    not_sent: int = 0
    counts: dict[str, int] = Field(default_factory=empty_counts)

    @classmethod
    def of(cls, prepare: PrepareTally | None, batch_counts: Iterable[dict[str, int]], *, stopped: bool) -> Tally:
        """``stopped``: the run is not RUNNING (paused, cancelled, failed, completed); its queued
        rows without an outcome then count ``not_sent``, as Finalize counts them."""
        prepared = empty_counts()
        for segment in prepare.segments.values() if prepare is not None else ():
            prepared = add_counts(prepared, {name: int(value) for name, value in segment.items()})
        batches = empty_counts()
        for batch in batch_counts:
            batches = add_counts(batches, {name: int(value) for name, value in batch.items()})
        not_sent_name = Outcome.NOT_SENT.value
        done = sum(value for name, value in batches.items() if name != not_sent_name)
        queued = sum(int(v) for v in prepare.queued.values()) if prepare is not None else None
        if stopped and queued is not None:
            # Every queued row not sent is not_sent, counted once: the rows batches recorded as
            # not_sent (a batch that found its run paused or cancelled) and those no batch reached.
            batches[not_sent_name] = max(queued - done, 0)
        counts = add_counts(prepared, batches)
        return cls(
            rows=prepare.rows if prepare is not None else None,
            queued=queued,
            done=done,
            not_sent=counts[not_sent_name],
            counts=counts,
        )
