"""The shapes that cross the state machine: execution input, task inputs and outputs.

They are the contract between ``statemachine/campaign.asl.json`` and the functions; the
``events/`` files are instances of them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .outcomes import empty_counts


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AudienceRef(_Model):
    key: str
    etag: str | None = None
    version_id: str | None = None


class RunInput(_Model):
    """The execution input StartCampaign builds (and the Prepare task receives)."""

    campaign_id: str
    run_id: str
    occurrence: str  # ledger scope: "once" for one-off campaigns, else the occurrence's id
    trigger: Literal["upload", "schedule", "manual"]
    audience: AudienceRef | None = None  # None: a scheduled campaign without a usable audience_key
    scheduled_time: str | None = None


class SegmentPlan(_Model):
    template: str
    data: dict[str, Any] = Field(default_factory=dict)


class SendContext(_Model):
    """Everything a SendBatch needs besides its batch; Prepare builds it once per run."""

    campaign_id: str
    run_id: str
    occurrence: str
    from_address: str
    reply_to: list[str] = Field(default_factory=list)
    configuration_set: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    topic: str | None = None
    segments: dict[str, SegmentPlan]
    batches_key: str
    worker_rate: float
    ledger_expires_at: int | None = None  # epoch seconds; None keeps the ledger entry forever


class BatchItem(_Model):
    """One line of the items file the Distributed Map reads: a pointer into batches.jsonl."""

    batch: int
    segment: str
    count: int = Field(ge=1, le=50)
    offset: int = Field(ge=0)
    length: int = Field(ge=1)


class Recipient(_Model):
    email: str
    line: int
    data: dict[str, Any] = Field(default_factory=dict)


class Batch(_Model):
    """One line of batches.jsonl."""

    batch: int
    segment: str
    template: str
    recipients: list[Recipient] = Field(min_length=1, max_length=50)


class PrepareOutput(_Model):
    status: Literal["READY", "EMPTY", "FAILED"]
    context: SendContext | None = None
    items_key: str | None = None
    batch_count: int = 0
    max_concurrency: int = 1
    error: dict[str, str] | None = None


class FinalizeInput(BaseModel):
    """The whole state at Finalize: the execution input plus what the states added."""

    model_config = ConfigDict(extra="allow")
    campaign_id: str
    run_id: str
    prepare: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class SendBatchInput(_Model):
    context: SendContext
    item: BatchItem


class SendBatchOutput(_Model):
    batch: int
    segment: str
    counts: dict[str, int] = Field(default_factory=empty_counts)
    skipped_reason: str | None = None
