"""StartCampaign: turn an upload or a schedule into exactly one execution."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from ..adapters import storage
from ..adapters.aws import client, error_code
from ..adapters.engagement import EngagementStore
from ..adapters.runs import ACTIVE, PAUSED, RunStore
from ..config import Settings
from ..domain.breaker import BreakerSettings
from ..domain.campaign import CampaignDefinition, check_campaign_id, parse_definition
from ..domain.contracts import AudienceRef, RunInput
from ..domain.errors import CampaignError
from ..domain.triggers import S3Event, ScheduleEvent, parse_trigger
from ..domain.validation import describe
from ..observability import logger

INCOMING = re.compile(r"^incoming/(?P<campaign>[^/]+)/(?P<file>.+)$")
RUN_ID = re.compile(r"^(?P<campaign>[a-z0-9][a-z0-9_-]{0,47})-(?:u-[0-9a-f]{20}|s-\d{8}T\d{6}Z)$")


def definition_key(campaign_id: str) -> str:
    return f"campaigns/{campaign_id}.json"


def load_definition(settings: Settings, campaign_id: str) -> CampaignDefinition:
    key = definition_key(campaign_id)
    return parse_definition(
        storage.get_bytes(settings.bucket, key), source=f"s3://{settings.bucket}/{key}", campaign_id=campaign_id
    )


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:20]


def upload_run_id(campaign_id: str, key: str, etag: str | None) -> str:
    """The run an upload starts. The same bytes under the same key are the same run: the ETag,
    not the version or the event time, names it, so a repeated notification or an identical
    re-upload starts nothing (and a client that uploads can tell which run to follow)."""
    return f"{campaign_id}-u-{_content_id(key, etag)}"


def _content_id(key: str, etag: str | None) -> str:
    return _digest(key, (etag or "").strip('"'))


def campaign_of_run(run_id: str) -> str | None:
    """The campaign id inside a run id (``<campaign>-u-<digest>``, ``<campaign>-s-<time>``)."""
    match = RUN_ID.match(run_id)
    return match["campaign"] if match else None


def run_for_upload(settings: Settings, key: str, etag: str | None, version_id: str | None) -> RunInput | None:
    match = INCOMING.match(key)
    if not match or key.endswith("/"):
        logger.warning("ignoring an object outside incoming/<campaign_id>/", extra={"key": key})
        return None
    campaign_id = check_campaign_id(match["campaign"], where=f"s3://{settings.bucket}/{key}")
    definition = _definition_or_none(settings, campaign_id)
    occurrence = f"upload-{_content_id(key, etag)}" if definition and definition.recurring else "once"
    return RunInput(
        campaign_id=campaign_id,
        run_id=upload_run_id(campaign_id, key, etag),
        occurrence=occurrence,
        trigger="upload",
        audience=AudienceRef(key=key, etag=etag, version_id=version_id),
    )


def run_for_schedule(settings: Settings, event: ScheduleEvent) -> RunInput:
    """A scheduled run starts even when its definition or audience is broken: Prepare then
    fails it with a run record and a report naming the problem, instead of a silent retry."""
    campaign_id = check_campaign_id(event.campaign_id, where="schedule input: campaign_id")
    stamp = event.stamp
    scheduled_time = event.scheduled_time.isoformat().replace("+00:00", "Z")
    definition = _definition_or_none(settings, campaign_id)
    audience = None
    if definition and definition.audience_key:
        audience = AudienceRef(key=definition.audience_key)
        try:
            head = storage.head(settings.bucket, definition.audience_key)
            audience = AudienceRef(key=definition.audience_key, etag=head.get("ETag"), version_id=head.get("VersionId"))
        except storage.MissingObject:
            logger.error("audience file of a scheduled run is missing", extra={"campaign_id": campaign_id})
    return RunInput(
        campaign_id=campaign_id,
        run_id=f"{campaign_id}-s-{stamp}",
        occurrence=f"scheduled-{stamp}" if definition and definition.recurring else "once",
        trigger="schedule",
        audience=audience,
        scheduled_time=scheduled_time,
    )


def _definition_or_none(settings: Settings, campaign_id: str) -> CampaignDefinition | None:
    """Validate early for the log; a broken definition still starts a run, so that Prepare
    records the failure in a run record and report, where the team looks for it."""
    try:
        return load_definition(settings, campaign_id)
    except CampaignError as exc:
        logger.error(
            "campaign definition is not valid; the run will fail before sending",
            extra={"campaign_id": campaign_id, "error": exc.to_dict()},
        )
        return None


# StartExecution answers a repeat of a still-running execution (same name, same input) with
# that execution: one that started clearly before this call is a duplicate trigger.
_SAME_CALL_TOLERANCE = timedelta(seconds=2)


def start_execution(settings: Settings, run: RunInput, name: str | None = None) -> dict[str, Any]:
    payload = run.model_dump_json(exclude_none=True)
    requested_at = datetime.now(UTC)
    try:
        response = client("stepfunctions").start_execution(
            stateMachineArn=settings.state_machine_arn, name=name or run.run_id, input=payload
        )
    except Exception as exc:
        if error_code(exc) == "ExecutionAlreadyExists":
            logger.info("run already started: duplicate trigger ignored", extra={"run_id": run.run_id})
            return {"run_id": run.run_id, "started": False, "duplicate": True}
        raise
    started_at = response.get("startDate")
    if isinstance(started_at, datetime) and started_at < requested_at - _SAME_CALL_TOLERANCE:
        logger.info("run is already running: duplicate trigger ignored", extra={"run_id": run.run_id})
        return {"run_id": run.run_id, "started": False, "duplicate": True, "execution_arn": response["executionArn"]}
    logger.info("run started", extra={"run_id": run.run_id, "execution_arn": response["executionArn"]})
    return {"run_id": run.run_id, "started": True, "execution_arn": response["executionArn"]}


def s3_records(event: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return parse_trigger(S3Event, event, "StartCampaign S3 event").objects()


def handle(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise CampaignError(f"the event is a {type(event).__name__}, not an object", where="StartCampaign input")
    if "Records" in event:
        results = []
        for key, etag, version_id in s3_records(event):
            run = run_for_upload(settings, key, etag, version_id)
            if run is not None:
                results.append(start_execution(settings, run))
        return {"runs": results}
    if event.get("source") == "schedule":
        run = run_for_schedule(settings, parse_trigger(ScheduleEvent, event, "schedule input"))
        return {"runs": [start_execution(settings, run)]}
    if event.get("action") == "resume":
        return {"runs": [resume(settings, event)]}
    raise CampaignError(
        f"unrecognised trigger event with keys {sorted(event)}: expected S3 Records, a schedule or a resume",
        where="StartCampaign input",
    )


def resume(settings: Settings, event: dict[str, Any]) -> dict[str, Any]:
    """Resume a PAUSED run: it becomes RUNNING again and a new execution of the same run sends
    the batches that were not sent (the batch records and the ledger skip everything done).

    ``{"action": "resume", "campaign_id": ..., "run_id": ..., "breaker": {...}}``: the breaker
    then judges only what happens from now on; ``breaker`` optionally replaces its settings.
    """
    where = "StartCampaign resume input"
    campaign_id, run_id = event.get("campaign_id"), event.get("run_id")
    if not isinstance(campaign_id, str) or not isinstance(run_id, str):
        raise CampaignError("a resume needs 'campaign_id' and 'run_id'", where=where)
    store = RunStore(settings.runs_table, settings.run_record_ttl_days)
    record = store.get_run(campaign_id, run_id)
    if record is None:
        raise CampaignError(f"no run {run_id} of campaign {campaign_id}", where=where)
    if record.get("status") != PAUSED or not record.get("input"):
        raise CampaignError(f"run {run_id} is {record.get('status')}; only a PAUSED run can be resumed", where=where)
    values: dict[str, Any] = {
        "status": ACTIVE,
        "reason": None,
        "resumes": int(record.get("resumes", 0)) + 1,
        "resumed_at": int(datetime.now(UTC).timestamp()),
        "finished_at": None,  # the paused execution's Finalize set it; this run is not finished
        "breaker_baseline": feedback_counts(settings, run_id),
    }
    if event.get("breaker") is not None:
        try:
            values["breaker"] = BreakerSettings.model_validate(event["breaker"]).model_dump()
        except ValidationError as exc:
            raise CampaignError(describe(exc), where=f"{where}: breaker") from None
    if not store.update_run(campaign_id, run_id, values, only_if_status=PAUSED):
        raise CampaignError(f"run {run_id} changed while resuming; look at it again", where=where)
    run = RunInput.model_validate(record["input"])
    logger.info("run resumed", extra={"run_id": run_id, "resumes": values["resumes"]})
    return start_execution(settings, run, name=f"{run_id}-resume-{values['resumes']}")


def feedback_counts(settings: Settings, run_id: str) -> dict[str, int]:
    if not settings.engagement_table:
        return {}
    totals, _ = EngagementStore(settings.engagement_table).run_counts(run_id)
    return totals
