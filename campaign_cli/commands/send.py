"""``campaign send <campaign_id> FILE``: upload the audience to ``incoming/<campaign_id>/`` (the
bucket notification starts the run, as for any upload) and follow the run to its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from campaign_engine.adapters import storage
from campaign_engine.domain.campaign import check_campaign_id
from campaign_engine.domain.errors import CampaignError
from campaign_engine.services.start import definition_key, upload_run_id

from .. import follow
from ..errors import NOT_FOUND, OK, CliError
from ..output import Out
from ..target import Target, command_hint
from .runs import finish


def run_send(args: Any, target: Target, out: Out) -> int:
    campaign_id = check_campaign_id(args.campaign_id, where="campaign id")
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path}: no such file", NOT_FOUND)
    require_definition(target, campaign_id, args)
    key = f"incoming/{campaign_id}/{args.key_name or path.name}"
    s3 = target.client("s3")
    settings = target.settings()
    # The upload's ETag names the run, exactly as StartCampaign derives it from the notification.
    etag = _etag(target.bucket, key)
    s3.upload_file(str(path), target.bucket, key)  # multipart for large files, as `aws s3 cp` does
    new_etag = _etag(target.bucket, key)
    run_id = upload_run_id(campaign_id, key, new_etag)
    if etag == new_etag:
        out.note(f"s3://{target.bucket}/{key} already had these bytes: following its run {run_id}")
    else:
        out.note(f"uploaded {path} to s3://{target.bucket}/{key}; run {run_id}")
    if not args.follow:
        if out.as_json:
            out.document({"campaign_id": campaign_id, "run_id": run_id, "key": key})
        return OK
    try:
        snapshot = follow.wait_for(
            settings, campaign_id, run_id, out, interval=args.interval, show_progress=not out.as_json
        )
    except CampaignError as exc:
        raise CliError(str(exc)) from None
    return finish(target, snapshot, out, args)


def require_definition(target: Target, campaign_id: str, args: Any) -> None:
    """A campaign that was never pushed is NOT_FOUND (3) for send and preview alike."""
    try:
        storage.head(target.bucket, definition_key(campaign_id))
    except storage.MissingObject:
        raise CliError(
            f"campaign {campaign_id} has no definition in s3://{target.bucket}/{definition_key(campaign_id)}: "
            f"{command_hint(args, 'push', 'CAMPAIGN.json')} it first",
            NOT_FOUND,
        ) from None


def _etag(bucket: str, key: str) -> str | None:
    try:
        return storage.head(bucket, key).get("ETag")
    except storage.MissingObject:
        return None
