"""The events that start StartCampaign, read into typed records at the boundary.

S3 sends ``{"Records": [{"s3": {"object": {"key", "eTag", "versionId"}}}]}`` (the key URL-encoded);
the schedule's target input is ``{"source": "schedule", "campaign_id", "scheduled_time"}`` (EventBridge
Scheduler's ``<aws.scheduler.scheduled-time>``, UTC); a resume is ``{"action": "resume", ...}``. A
malformed event is a CampaignError naming the field, never a KeyError or TypeError out of the handler.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import CampaignError
from .validation import describe


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")


class S3Object(_Event):
    key: str = Field(min_length=1)
    etag: str | None = Field(default=None, alias="eTag")
    version_id: str | None = Field(default=None, alias="versionId")


class S3Entity(_Event):
    object: S3Object


class S3Record(_Event):
    s3: S3Entity


class S3Event(_Event):
    records: list[S3Record] = Field(alias="Records")

    def objects(self) -> list[tuple[str, str | None, str | None]]:
        """(key, ETag, version id) of each record, the key decoded as S3 encodes it."""
        return [(unquote_plus(r.s3.object.key), r.s3.object.etag, r.s3.object.version_id) for r in self.records]


class ScheduleEvent(_Event):
    campaign_id: str
    scheduled_time: datetime

    @field_validator("scheduled_time")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # 9999-12-31T23:59:59-01:00 is past the last UTC time Python has
            raise ValueError("the time is out of range in UTC") from None

    @property
    def stamp(self) -> str:
        """The time in a run id: always 8 + 6 digits (strftime's %Y drops a small year's zeros)."""
        when = self.scheduled_time
        return f"{when.year:04d}{when:%m%dT%H%M%S}Z"


T = TypeVar("T", bound=BaseModel)


def parse_trigger(model: type[T], event: dict[str, Any], where: str) -> T:
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise CampaignError(describe(exc), where=where) from None
