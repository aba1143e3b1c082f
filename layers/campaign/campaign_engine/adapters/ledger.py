"""The send ledger: the only guard against sending twice (SES has no idempotency token).

One item per (campaign, occurrence, address): ``pk = <campaign_id>#<occurrence>#<address>``
(the address in the key spreads writes over partitions; a per-campaign partition key would
cap a campaign at 1,000 writes a second). Lifecycle: RESERVED -> FAILED | RELEASED, written
back by the batch that holds the address; FAILED and RELEASED may be reserved again by a later
run, nothing else ever can.

A sent address (or one whose send may have happened) keeps its RESERVED item: the reserve
condition refuses RESERVED held by any other run or batch exactly as it refuses SENT, so
writing SENT or UNKNOWN back would change no decision, and the batch record (runs table)
already holds each entry's outcome. That write was a third of the ledger's cost. SENT and
UNKNOWN stay valid values for items written before this change.

Reservations are one TransactWriteItems per batch, 2 WRU an item. A conditional PutItem per
address would be 1 WRU, but 50 calls instead of one: about five times the CPU of the
transaction in botocore (48 ms against 10 ms for 50 addresses, measured) and 50 round trips
before the first SES call, which a paced batch cannot hide. See docs/cost.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .aws import client, error_code
from .dynamo import from_item, to_item
from .runs import now

RESERVED, SENT, FAILED, UNKNOWN, RELEASED = "RESERVED", "SENT", "FAILED", "UNKNOWN", "RELEASED"
_MAX_TRANSACTION = 100
_RESERVE_CONDITION = (
    "attribute_not_exists(pk) OR #s IN (:failed, :released) OR (#s = :reserved AND #r = :run AND #b = :batch)"
)


@dataclass(frozen=True)
class Reservation:
    reserved: list[str]  # addresses this batch now holds
    taken: dict[str, dict[str, Any]]  # address -> the ledger item that blocks it


def ledger_key(campaign_id: str, occurrence: str, address: str) -> str:
    return f"{campaign_id}#{occurrence}#{address}"


class Ledger:
    def __init__(self, table: str, dynamodb: Any = None) -> None:
        self.table = table
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        return self._dynamodb or client("dynamodb")

    def reserve(
        self,
        *,
        campaign_id: str,
        occurrence: str,
        run_id: str,
        batch: int,
        addresses: list[str],
        expires_at: int | None,
    ) -> Reservation:
        """Reserve every address it can in one transaction per attempt; an address already
        held by anyone else (or sent) is returned in ``taken`` and not reserved."""
        pending = list(addresses)
        taken: dict[str, dict[str, Any]] = {}
        for _attempt in range(len(addresses) + 3):
            if not pending:
                break
            failed = self._try_reserve(campaign_id, occurrence, run_id, batch, pending, expires_at)
            if failed is None:
                return Reservation(reserved=pending, taken=taken)
            taken.update(failed)
            pending = [address for address in pending if address not in failed]
        else:
            raise RuntimeError("ledger reservation did not settle")
        return Reservation(reserved=pending, taken=taken)

    def _try_reserve(self, campaign_id, occurrence, run_id, batch, addresses, expires_at):
        timestamp = now()
        items = []
        for address in addresses:
            document = {
                "pk": ledger_key(campaign_id, occurrence, address),
                "status": RESERVED,
                "run_id": run_id,
                "batch": batch,
                "campaign_id": campaign_id,
                "reserved_at": timestamp,
                "expires_at": expires_at,
            }
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(document),
                        "ConditionExpression": _RESERVE_CONDITION,
                        "ExpressionAttributeNames": {"#s": "status", "#r": "run_id", "#b": "batch"},
                        "ExpressionAttributeValues": {
                            ":failed": {"S": FAILED},
                            ":released": {"S": RELEASED},
                            ":reserved": {"S": RESERVED},
                            ":run": {"S": run_id},
                            ":batch": {"N": str(batch)},
                        },
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            )
        assert len(items) <= _MAX_TRANSACTION
        try:
            self.dynamodb.transact_write_items(TransactItems=items)
            return None
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = getattr(exc, "response", {}).get("CancellationReasons", [])
            failed = {}
            for address, reason in zip(addresses, reasons, strict=False):
                if reason.get("Code") == "ConditionalCheckFailed":
                    failed[address] = from_item(reason.get("Item", {}))
            if not failed and any(r.get("Code") not in (None, "None") for r in reasons):
                return {}  # a conflict with another transaction: try the same set again
            return failed

    def settle(self, *, campaign_id: str, occurrence: str, outcomes: dict[str, dict[str, Any]]) -> None:
        """Record FAILED or RELEASED for addresses this batch holds, so a later run may take
        them (BatchWriteItem: no conditions needed, the reservation already makes them ours)."""
        requests = []
        timestamp = now()
        for address, values in outcomes.items():
            document = {
                "pk": ledger_key(campaign_id, occurrence, address),
                "campaign_id": campaign_id,
                "settled_at": timestamp,
                **values,
            }
            requests.append({"PutRequest": {"Item": to_item(document)}})
        dynamodb = self.dynamodb
        for start in range(0, len(requests), 25):
            chunk = requests[start : start + 25]
            for _attempt in range(8):
                unprocessed = dynamodb.batch_write_item(RequestItems={self.table: chunk}).get("UnprocessedItems", {})
                chunk = unprocessed.get(self.table, [])
                if not chunk:
                    break
            else:
                raise RuntimeError("ledger settle: DynamoDB left items unprocessed")

    def get(self, campaign_id: str, occurrence: str, address: str) -> dict[str, Any] | None:
        item = (
            self.dynamodb
            .get_item(
                TableName=self.table,
                Key={"pk": {"S": ledger_key(campaign_id, occurrence, address)}},
                ConsistentRead=True,
            )
            .get("Item")
        )
        return from_item(item) if item else None
