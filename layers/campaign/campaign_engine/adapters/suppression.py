"""The suppression table: one item per normalised ``address`` (see ``domain.suppression``).

Writes are read-merge-write with an optimistic lock on the record's content digest, so two
functions recording facts about one address at once both land, and a repeated fact writes
nothing.

``record_many`` does the same for thousands of addresses (a bulk import): TransactWriteItems
writes up to 100 a call, each put conditional on the record it was merged from (or on there
being none), so a fact a feedback function writes in between is never overwritten: the
transaction is cancelled, the records whose condition failed come back with the cancellation
and are merged again, and the rest of that transaction is simply sent again. BatchGetItem reads
100 records a call when many are expected to exist. BatchWriteItem would be cheaper but takes no
conditions: a blind overwrite could drop a bounce.

Also the SES account-level suppression list (``account_suppressions``), for merging the two.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..domain.suppression import Change, Fact, SoftBouncePolicy, applies, merge
from .aws import client, error_code
from .dynamo import from_item, to_item

MAX_ATTEMPTS = 8
GET_BATCH = 100  # BatchGetItem's limit
WRITE_BATCH = 100  # TransactWriteItems' limit (actions a transaction)
WORKERS = 8  # DynamoDB calls in flight during a bulk import
SES_PAGE_SIZE = 1000  # ListSuppressedDestinations' largest page
ROUNDS = 4  # batched attempts before the per-address path takes what is left
READ_FIRST_ABOVE = 0.05  # share of a call's addresses already recorded above which the next call reads first


@dataclass
class _Transaction:
    """What one TransactWriteItems call did."""

    written: bool
    found: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    conflicted: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class AccountSuppression:
    """One entry of SES's account-level suppression list."""

    address: str
    reason: str  # BOUNCE or COMPLAINT
    updated: datetime


def _condition(old: dict[str, Any] | None) -> dict[str, Any]:
    """The optimistic lock on the record a merge started from."""
    if old is None:
        return {"ConditionExpression": "attribute_not_exists(address)"}
    if old.get("digest"):
        return {
            "ConditionExpression": "digest = :digest",
            "ExpressionAttributeValues": {":digest": {"S": old["digest"]}},
        }
    # Written by hand or by an older version: no digest yet.
    return {"ConditionExpression": "attribute_not_exists(digest)"}


class SuppressionList:
    def __init__(self, table: str) -> None:
        self.table = table
        # Of the last record_many call's addresses, the share that had a record: it decides
        # whether the next call reads first (see record_many).
        self._existing_share = 0.0

    def suppressed(self, addresses: list[str], topic: str | None = None) -> set[str]:
        found: set[str] = set()
        unique = sorted(set(addresses))
        for start in range(0, len(unique), GET_BATCH):
            for record in self._get_batch(unique[start : start + GET_BATCH]):
                if applies(record, topic):
                    found.add(record["address"])
        return found

    def _get_batch(self, addresses: Sequence[str]) -> list[dict[str, Any]]:
        """The records of up to 100 addresses (consistent reads); absent ones are left out."""
        dynamodb = client("dynamodb")
        keys: list[dict[str, Any]] = [{"address": {"S": a}} for a in addresses]
        request = {self.table: {"Keys": keys, "ConsistentRead": True}}
        records: list[dict[str, Any]] = []
        for attempt in range(MAX_ATTEMPTS):
            response = dynamodb.batch_get_item(RequestItems=request)
            records.extend(from_item(item) for item in response.get("Responses", {}).get(self.table, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return records
            time.sleep(min(0.05 * 2**attempt, 1.0))  # unprocessed keys mean throttling: back off
        raise RuntimeError("suppression lookup: DynamoDB left keys unprocessed")

    def get(self, address: str) -> dict[str, Any] | None:
        item = (
            client("dynamodb")
            .get_item(TableName=self.table, Key={"address": {"S": address}}, ConsistentRead=True)
            .get("Item")
        )
        return from_item(item) if item else None

    def record(self, address: str, fact: Fact, policy: SoftBouncePolicy) -> tuple[dict[str, Any], bool]:
        """Fold ``fact`` into the address's record; returns (record, whether it changed)."""
        dynamodb = client("dynamodb")
        for _attempt in range(MAX_ATTEMPTS):
            old = self.get(address)
            new = merge(old, fact, address, policy)
            if old is not None and old.get("digest") == new["digest"]:
                return old, False
            try:
                dynamodb.put_item(TableName=self.table, Item=to_item(_storable(new)), **_condition(old))
            except Exception as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    continue  # someone else wrote first: merge again on top of theirs
                raise
            return new, True
        raise RuntimeError("suppression record: too many concurrent writers, giving up for a retry")

    def record_many(
        self, facts: Sequence[tuple[str, Fact]], policy: SoftBouncePolicy, *, dry_run: bool = False
    ) -> dict[str, Change]:
        """Fold one fact into each address's record (addresses unique); what each write did.

        Each round merges every pending fact into the record as last seen and writes the changed
        ones in conditional transactions. A put whose condition fails hands back the record it
        found (ReturnValuesOnConditionCheckFailure), which the next round merges into. So when
        most addresses are new (a first import), the records are not read at all: they are
        written as new, and only the transactions that meet an existing record pay a second call.
        When the last call found many records already there (a re-import, an overlapping list),
        the records are read first instead (BatchGetItem), which costs less than a cancelled write.

        ``dry_run`` reads and merges but writes nothing: it says what an import would change.
        """
        wanted = dict(facts)
        if len(wanted) != len(facts):
            raise ValueError("record_many: an address appears twice in one call")
        results: dict[str, Change] = {}
        moved: set[str] = set()
        client("dynamodb")  # made once here: the cache is not filled safely from several threads
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="suppression") as pool:
            if dry_run or self._existing_share > READ_FIRST_ABOVE:
                addresses = sorted(wanted)
                chunks = [addresses[i : i + GET_BATCH] for i in range(0, len(addresses), GET_BATCH)]
                current = {r["address"]: r for chunk in pool.map(self._get_batch, chunks) for r in chunk}
                seen: dict[str, dict[str, Any] | None] = {a: current.get(a) for a in addresses}
            else:
                seen = dict.fromkeys(wanted)  # presumed new; a failed condition says otherwise
            pending = sorted(wanted)
            for _round in range(ROUNDS):
                if not pending:
                    break
                writes: list[tuple[str, dict[str, Any] | None, dict[str, Any]]] = []
                for address in pending:
                    old = seen[address]
                    new = merge(old, wanted[address], address, policy)
                    if old is not None and old.get("digest") == new["digest"]:
                        results[address] = Change.UNCHANGED
                    else:
                        writes.append((address, old, new))
                if dry_run:
                    results.update({a: Change.NEW if old is None else Change.UPDATED for a, old, _ in writes})
                    return results
                retry: list[str] = []
                batches = [writes[i : i + WRITE_BATCH] for i in range(0, len(writes), WRITE_BATCH)]
                for batch, outcome in zip(batches, pool.map(self._transact, batches), strict=True):
                    for address, old, _ in batch:
                        if outcome.written:
                            results[address] = Change.NEW if old is None else Change.UPDATED
                        elif address in outcome.found:
                            seen[address] = outcome.found[address]  # the record as it is now
                            retry.append(address)
                        elif address in outcome.conflicted:
                            moved.add(address)
                        else:  # cancelled with the rest of its transaction: send again as it was
                            retry.append(address)
                pending = sorted(retry)
            self._existing_share = sum(1 for a in wanted if seen[a] is not None) / max(len(wanted), 1)
        # Records another writer held (TransactionConflict), and anything the rounds could not place:
        # one at a time, merged on top of what is there now.
        for address in sorted(moved | set(pending)):
            before = self.get(address)
            _, changed = self.record(address, wanted[address], policy)
            results[address] = Change.UNCHANGED if not changed else Change.NEW if before is None else Change.UPDATED
        return results

    def _transact(self, writes: list[tuple[str, dict[str, Any] | None, dict[str, Any]]]) -> _Transaction:
        """Write up to 100 merged records at once, each conditional on its record being as merged
        from. On a cancellation nothing was written: ``found`` holds the records whose condition
        failed, as they are now (None: no longer there); ``conflicted`` those another transaction held."""
        if not writes:
            return _Transaction(written=True)
        actions = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item(_storable(new)),
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    **_condition(old),
                }
            }
            for _, old, new in writes
        ]
        try:
            # A token per call: the SDK's own retries of this call are then idempotent, while a later
            # call with the same content (after a `suppression remove`) is not swallowed as a repeat.
            client("dynamodb").transact_write_items(TransactItems=actions, ClientRequestToken=uuid.uuid4().hex)
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            outcome = _Transaction(written=False)
            reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
            for (address, _, _), reason in zip(writes, reasons, strict=False):
                code = (reason or {}).get("Code")
                if code == "ConditionalCheckFailed":
                    item = reason.get("Item")
                    outcome.found[address] = from_item(item) if item else None
                elif code == "TransactionConflict":
                    outcome.conflicted.add(address)
            return outcome
        return _Transaction(written=True)

    def remove(self, address: str) -> bool:
        response = client("dynamodb").delete_item(
            TableName=self.table, Key={"address": {"S": address}}, ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))

    def scan(self) -> Iterator[dict[str, Any]]:
        paginator = client("dynamodb").get_paginator("scan")
        for page in paginator.paginate(TableName=self.table, ConsistentRead=True):
            for item in page.get("Items", []):
                yield from_item(item)


def account_suppressions(reasons: Sequence[str] = (), *, sesv2: Any = None) -> Iterator[AccountSuppression]:
    """SES's account-level suppression list (ListSuppressedDestinations, every page)."""
    request: dict[str, Any] = {"PageSize": SES_PAGE_SIZE}
    if reasons:
        request["Reasons"] = list(reasons)
    ses = sesv2 or client("sesv2")
    while True:
        page = ses.list_suppressed_destinations(**request)
        for entry in page.get("SuppressedDestinationSummaries", []):
            yield AccountSuppression(entry["EmailAddress"], entry["Reason"], entry["LastUpdateTime"])
        token = page.get("NextToken")
        if not token:
            return
        request["NextToken"] = token


def _storable(record: dict[str, Any]) -> dict[str, Any]:
    # Empty lists are fine for DynamoDB lists, but keep the item small and tidy.
    return {k: v for k, v in record.items() if v not in (None, [], {})}
