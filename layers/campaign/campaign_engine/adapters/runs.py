"""The runs table: one run record per run, one batch record per batch.

    run record    pk=CAMPAIGN#<campaign_id>  sk=RUN#<run_id>
    batch record  pk=RUN#<run_id>            sk=BATCH#<00000042>

The run record is what every batch checks before sending (RUNNING, PAUSED, CANCELLED,
COMPLETED, FAILED) and what Finalize completes. A batch record remembers, per recipient
(by address hash), how far its send got, so a retried batch never sends twice.
"""

from __future__ import annotations

import time
from typing import Any

from ..domain.entries import OUTCOME_OF, BatchRecord, EntryState
from .aws import client, error_code
from .dynamo import conditional_write, from_item, to_item, to_value

ACTIVE = "RUNNING"
PAUSED = "PAUSED"  # the breaker (or an operator) stopped it; a resume makes it RUNNING again
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")


def run_key(campaign_id: str, run_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CAMPAIGN#{campaign_id}"}, "sk": {"S": f"RUN#{run_id}"}}


def batch_key(run_id: str, batch: int) -> dict[str, Any]:
    return {"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": f"BATCH#{batch:08d}"}}


def now() -> int:
    return int(time.time())


class RunStore:
    def __init__(self, table: str, ttl_days: int = 400, dynamodb: Any = None) -> None:
        self.table = table
        self.ttl_seconds = ttl_days * 86400
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        # Resolved on use, not in __init__: a store made before a test re-mocks AWS still works.
        return self._dynamodb or client("dynamodb")

    # Run records -------------------------------------------------------------------------

    def start_run(self, campaign_id: str, run_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
        """Create the run record as RUNNING; a retried Prepare, or the Prepare of a resumed run,
        finds it RUNNING and carries on (keeping what the record already says, such as
        ``started_at`` and the resume history). A run stopped meanwhile is returned unchanged."""
        timestamp = now()
        values = {
            **{k: v for k, v in attributes.items() if v is not None},
            "campaign_id": campaign_id,
            "run_id": run_id,
            "updated_at": timestamp,
            "expires_at": timestamp + self.ttl_seconds,
        }
        names = {f"#a{i}": name for i, name in enumerate(values)}
        attr_values = {f":v{i}": to_value(value) for i, value in enumerate(values.values())}
        sets = [f"#a{i} = :v{i}" for i in range(len(values))]
        names.update({"#s": "status", "#started": "started_at"})
        attr_values.update({":running": {"S": ACTIVE}, ":now": {"N": str(timestamp)}})
        sets += ["#s = if_not_exists(#s, :running)", "#started = if_not_exists(#started, :now)"]
        try:
            response = self.dynamodb.update_item(
                TableName=self.table,
                Key=run_key(campaign_id, run_id),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_not_exists(pk) OR #s = :running",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attr_values,
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return self.get_run(campaign_id, run_id) or {**values, "status": "UNKNOWN"}
        return from_item(response["Attributes"])

    def get_run(self, campaign_id: str, run_id: str, consistent: bool = True) -> dict[str, Any] | None:
        found = (
            self.dynamodb
            .get_item(TableName=self.table, Key=run_key(campaign_id, run_id), ConsistentRead=consistent)
            .get("Item")
        )
        return from_item(found) if found else None

    def update_run(
        self, campaign_id: str, run_id: str, values: dict[str, Any], *, only_if_status: str | None = None
    ) -> bool:
        """Set attributes; with ``only_if_status`` the write happens only from that status
        (returns False when it did not)."""
        values = {**values, "updated_at": now()}
        names = {f"#a{i}": name for i, name in enumerate(values)}
        attr_values = {f":v{i}": to_value(value) for i, value in enumerate(values.values())}
        kwargs: dict[str, Any] = {}
        if only_if_status:
            names["#status"] = "status"
            attr_values[":expected"] = {"S": only_if_status}
            kwargs["ConditionExpression"] = "#status = :expected"
        return conditional_write(
            self.dynamodb.update_item,
            TableName=self.table,
            Key=run_key(campaign_id, run_id),
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(values))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attr_values,
            **kwargs,
        )

    def start_quota_wait(self, campaign_id: str, run_id: str, batch: int) -> bool:
        """Note that the daily quota ran out (once per wait); later batches then skip."""
        timestamp = now()
        return conditional_write(
            self.dynamodb.update_item,
            TableName=self.table,
            Key=run_key(campaign_id, run_id),
            UpdateExpression="SET quota_wait = :wait, updated_at = :now",
            ConditionExpression="attribute_not_exists(quota_wait) AND #s = :running",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":wait": to_value({"since": timestamp, "batch": batch, "checks": 0}),
                ":now": {"N": str(timestamp)},
                ":running": {"S": ACTIVE},
            },
        )

    def end_quota_wait(self, campaign_id: str, run_id: str, since: int, remaining: int | None) -> bool:
        """Quota is back: clear the wait and keep it in the run's ``quota_waits`` history."""
        timestamp = now()
        entry = {"from": since, "to": timestamp, "remaining_at_resume": remaining}
        return conditional_write(
            self.dynamodb.update_item,
            TableName=self.table,
            Key=run_key(campaign_id, run_id),
            UpdateExpression=(
                "REMOVE quota_wait SET quota_waits = list_append(if_not_exists(quota_waits, :empty), :entry), "
                "updated_at = :now"
            ),
            ConditionExpression="attribute_exists(quota_wait)",
            ExpressionAttributeValues={
                ":entry": to_value([entry]),
                ":empty": {"L": []},
                ":now": {"N": str(timestamp)},
            },
        )

    def stop_run(self, campaign_id: str, run_id: str, status: str, reason: str) -> bool:
        """Move a RUNNING run to ``status`` (first writer wins: the first reason is kept)."""
        return self.update_run(campaign_id, run_id, {"status": status, "reason": reason}, only_if_status=ACTIVE)

    # Batch records -----------------------------------------------------------------------

    def get_batch(self, run_id: str, batch: int) -> dict[str, Any] | None:
        found = (
            self.dynamodb
            .get_item(TableName=self.table, Key=batch_key(run_id, batch), ConsistentRead=True)
            .get("Item")
        )
        return from_item(found) if found else None

    def load_batch(self, run_id: str, batch: int, segment: str) -> BatchRecord:
        """The batch's record, or a new one (nothing attempted yet)."""
        found = self.get_batch(run_id, batch)
        return BatchRecord.model_validate(found) if found else BatchRecord(segment=segment)

    def save_batch(self, run_id: str, batch: int, record: BatchRecord) -> None:
        self.put_batch(run_id, batch, record.to_document())

    def put_batch(self, run_id: str, batch: int, record: dict[str, Any]) -> None:
        document = {**record, "updated_at": now(), "expires_at": now() + self.ttl_seconds}
        self.dynamodb.put_item(TableName=self.table, Item={**batch_key(run_id, batch), **to_item(document)})

    def move_entries(
        self, run_id: str, batch: int, entries: list[str], transition: tuple[EntryState, EntryState]
    ) -> bool:
        """Move ``entries`` of a batch record from one state to another in one conditional write
        that touches nothing else (no read-modify-write of the whole record, so it can never
        undo a concurrent SendBatch's results); the record's counts follow. False, and nothing
        written, unless every entry is still in the first state."""
        if not entries:
            return True
        source, target = transition
        names = {"#e": "entries", "#c": "counts", "#from": OUTCOME_OF[source].value, "#to": OUTCOME_OF[target].value}
        sets, conditions = [], []
        for index, entry in enumerate(entries):
            names[f"#h{index}"] = entry
            sets.append(f"#e.#h{index} = :target")
            conditions.append(f"#e.#h{index} = :source")
        if OUTCOME_OF[source] != OUTCOME_OF[target]:
            sets += ["#c.#from = #c.#from - :n", "#c.#to = #c.#to + :n"]
        else:
            del names["#from"], names["#to"], names["#c"]
        return conditional_write(
            self.dynamodb.update_item,
            TableName=self.table,
            Key=batch_key(run_id, batch),
            UpdateExpression="SET " + ", ".join([*sets, "updated_at = :now"]),
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":source": {"S": source.value},
                ":target": {"S": target.value},
                ":n": {"N": str(len(entries))},
                ":now": {"N": str(now())},
            },
        )

    def iter_batches(self, run_id: str):
        paginator = self.dynamodb.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": f"RUN#{run_id}"}, ":prefix": {"S": "BATCH#"}},
            ConsistentRead=True,
        ):
            for item in page.get("Items", []):
                yield from_item(item)
