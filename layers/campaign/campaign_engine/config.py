"""Function settings, read from the environment that template.yaml's Globals declare."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket: str = Field(alias="BUCKET_NAME")
    runs_table: str = Field(alias="RUNS_TABLE")
    ledger_table: str = Field(alias="LEDGER_TABLE")
    suppression_table: str = Field(alias="SUPPRESSION_TABLE")
    state_machine_arn: str | None = Field(default=None, alias="STATE_MACHINE_ARN")
    configuration_set: str | None = Field(default=None, alias="CONFIGURATION_SET")
    # The stack's SenderIdentity parameter (a domain or an address): SendBatch's policy allows
    # ses:SendBulkEmail only through identity/<it>, so Prepare refuses a campaign whose sender it
    # does not cover before anything is sent. Only Prepare has it (template.yaml); unset, no check.
    sender_identity: str | None = Field(default=None, alias="SENDER_IDENTITY")
    engagement_table: str | None = Field(default=None, alias="ENGAGEMENT_TABLE")
    # Only SendBatch has it (the unsubscribe function's own URL cannot be in the shared Globals).
    unsubscribe_base_url: str | None = Field(default=None, alias="UNSUBSCRIBE_BASE_URL")
    unsubscribe_secret_arn: str | None = Field(default=None, alias="UNSUBSCRIBE_SECRET_ARN")
    max_concurrency_cap: int = Field(default=40, alias="MAX_CONCURRENCY_CAP", ge=1, le=10000)
    ledger_ttl_days: int = Field(default=400, alias="LEDGER_TTL_DAYS", ge=1)
    run_record_ttl_days: int = Field(default=400, alias="RUN_RECORD_TTL_DAYS", ge=1)
    engagement_ttl_days: int = Field(default=400, alias="ENGAGEMENT_TTL_DAYS", ge=1)
    soft_bounce_limit: int = Field(default=3, alias="SOFT_BOUNCE_LIMIT", ge=1)
    soft_bounce_window_days: int = Field(default=7, alias="SOFT_BOUNCE_WINDOW_DAYS", ge=1)
    sync_account_suppression: bool = Field(default=False, alias="SYNC_ACCOUNT_SUPPRESSION")
    quota_recheck_seconds: int = Field(default=900, alias="QUOTA_RECHECK_SECONDS", ge=1, le=86400)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.model_validate({k: v for k, v in os.environ.items() if v != ""})
