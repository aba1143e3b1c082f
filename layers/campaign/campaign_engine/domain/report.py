"""The run report (runs/<campaign>/<run>/report.json): every row's outcome, per segment, and what
stopped the run if something did.

Finalize builds one ``RunReport`` and writes both the run record's summary and report.json from
it, so the two cannot disagree. The JSON shape is the one the CLI, the report page and
operators' scripts read: the outcome counts sit at the top level next to ``rows``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .outcomes import OUTCOMES, add_counts, empty_counts
from .run_record import RunError, RunStatus


class BatchCounts(BaseModel):
    """What Finalize reads of a batch record: its segment and its outcome counts (the per-entry
    states stay in the record; the send path keeps the counts in step with them)."""

    model_config = ConfigDict(extra="ignore")
    segment: str
    counts: dict[str, int] = Field(default_factory=empty_counts)
    state: str | None = None


class BatchesSummary(BaseModel):
    planned: int = 0
    recorded: int = 0


class Pacing(BaseModel):
    max_concurrency: int | None = None
    worker_rate: float | None = None


class AudienceSummary(BaseModel):
    """How Prepare read the audience file (the run record's ``prepare.audience``)."""

    model_config = ConfigDict(extra="allow")
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    compression: str | None = None
    columns: list[str] | None = None
    email_column: str | None = None


class RunReport(BaseModel):
    # Reports written by earlier versions may carry fields this one does not: keep them.
    model_config = ConfigDict(extra="allow")

    campaign_id: str
    run_id: str
    status: RunStatus
    reason: str | None = None
    error: RunError | None = None
    trigger: str | None = None
    occurrence: str | None = None
    audience_key: str | None = None
    started_at: str | None = None
    finished_at: str
    rows: int = 0
    sent: int = 0
    suppressed: int = 0
    invalid: int = 0
    duplicate: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0
    not_sent: int = 0
    outcomes_total: int = 0
    segments: dict[str, dict[str, int]] = Field(default_factory=dict)
    batches: BatchesSummary = Field(default_factory=BatchesSummary)
    pacing: Pacing = Field(default_factory=Pacing)
    # Each time the daily SES quota ran out: when the run started waiting and when it went on.
    quota_waits: list[dict[str, Any]] = Field(default_factory=list)
    # What SES has reported so far (events keep arriving after the run: Finalize run again,
    # with {"campaign_id", "run_id"}, refreshes it).
    feedback: dict[str, Any] | None = None
    # How the audience file was read (format, encoding, delimiter, ...) and Prepare's warnings
    # (rule fields and template variables no column provides, ...), when Prepare recorded them.
    audience: AudienceSummary | None = None
    warnings: list[str] = Field(default_factory=list)
    rejects_key: str | None = None
    report_key: str

    @property
    def counts(self) -> dict[str, int]:
        return {name: int(getattr(self, name)) for name in OUTCOMES}

    @property
    def adds_up(self) -> bool:
        """Every row has exactly one outcome (a run with no rows read has nothing to add up)."""
        return not self.rows or self.rows == self.outcomes_total

    def to_json(self) -> dict[str, Any]:
        """report.json's document (enums as their values; an error without ``where`` has none)."""
        document = self.model_dump(mode="json")
        if self.error is not None:
            document["error"] = self.error.model_dump(mode="json", exclude_none=True)
        return document

    @staticmethod
    def totals(segments: dict[str, dict[str, int]]) -> dict[str, int]:
        total = empty_counts()
        for counts in segments.values():
            total = add_counts(total, counts)
        return total
