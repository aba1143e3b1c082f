"""Read-only views of the runs table for operators: a campaign's runs and a run's progress.

Kept apart from ``runs.RunStore`` (what the functions write) because these reads project
only what a listing or a progress bar needs: a 1,000,000-recipient run has 20,000 batch
records, whose per-recipient entry maps a progress poll must not fetch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .aws import client
from .dynamo import from_item

RUN_FIELDS = (
    "campaign_id", "run_id", "status", "reason", "trigger", "started_at", "finished_at", "updated_at",
    "counts", "prepare", "batch_count", "quota_wait", "resumes", "report_key", "retries", "finalize_error",
)  # fmt: skip
# Several are DynamoDB reserved words (status, trigger, prepare...): name them all.
_NAMES = {f"#f{index}": name for index, name in enumerate(RUN_FIELDS)}


def campaign_runs(table: str, campaign_id: str) -> Iterator[dict[str, Any]]:
    """Every run record of a campaign (projected), in run id order, which is not time order:
    upload run ids end in a content digest."""
    paginator = client("dynamodb").get_paginator("query")
    pages = paginator.paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :run)",
        ExpressionAttributeValues={":pk": {"S": f"CAMPAIGN#{campaign_id}"}, ":run": {"S": "RUN#"}},
        ExpressionAttributeNames=_NAMES,
        ProjectionExpression=", ".join(_NAMES),
    )
    for page in pages:
        for item in page.get("Items", []):
            yield from_item(item)


def batch_progress(table: str, run_id: str) -> Iterator[dict[str, Any]]:
    """Each batch record's state and outcome counts (not its entries)."""
    paginator = client("dynamodb").get_paginator("query")
    for page in paginator.paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :batch)",
        ExpressionAttributeValues={":pk": {"S": f"RUN#{run_id}"}, ":batch": {"S": "BATCH#"}},
        ExpressionAttributeNames={"#state": "state", "#segment": "segment"},
        ProjectionExpression="sk, #state, #segment, counts",
    ):
        for item in page.get("Items", []):
            yield from_item(item)
