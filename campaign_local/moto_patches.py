"""Fixes to moto that the local stack needs, each bringing moto closer to AWS.

1. moto's DynamoDB is not thread-safe, and Distributed Map children run in parallel
   threads: one lock around its request dispatch (DynamoDB handlers never call DynamoDB, so
   it cannot deadlock).
2. moto's TransactWriteItems deep-copies every table it touches to be able to roll back:
   a run's ledger transactions became quadratic in the audience. This version checks every
   condition first and writes only when all pass, which is DynamoDB's all-or-nothing
   semantics without the copies (a transaction names each item at most once, so no
   operation's condition depends on another's write).
3. moto's SNS evaluates a top-level ``"$or"`` of a ``MessageBody``-scoped filter policy as if
   it were message attributes, and fails on every message (TypeError). SNS's rule: the
   message matches when the policy matches with any one of the ``$or`` alternatives in place
   of the ``$or``; that is what the patch evaluates, with moto's own body matcher.
4. moto's SQS computes each message's visibility with a fresh clock reading (a few datetime
   conversions) and does so for every message on every SendMessage (through the queue's
   attribute counts): a queue that builds up makes publishing quadratic. The patched
   counts read the clock once per call; same results.
5. moto's S3 backend reloads ``moto.s3.urls`` (``importlib.reload``) on every request, to pick
   up environment variables for custom endpoints, which the local stack does not use. Parallel
   Map children reloading it at once fail with ``ModuleNotFoundError: spec not found for the
   module 'moto.s3.urls'`` (seen in a 50,000-row run: 372 failed SendBatch attempts). The patch
   imports it once.
6. moto's S3 notifications invoke a function once and drop any error; Lambda invokes S3
   notifications asynchronously and retries a failed invocation twice (the function's default
   ``MaximumRetryAttempts``), so one crash of StartCampaign does not lose an upload. The patch
   retries the same way (at once: Lambda waits about a minute, then two).
7. moto's CreateStateMachine parses the definition (ANTLR) only to validate it, a second or
   so for campaign.asl.json, at every start of the local stack. The patch remembers
   definitions that parsed; executions still parse their own copy, as before.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from moto.core.utils import unix_time_millis
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend, get_filter_expression
from moto.dynamodb.responses import DynamoHandler
from moto.s3 import notifications as s3_notifications
from moto.s3.models import S3Backend
from moto.sns.utils import FilterPolicyMatcher
from moto.sqs.models import Queue
from moto.stepfunctions.parser import models as sfn_models

_original_transact = DynamoDBBackend.transact_write_items
_original_call_action = DynamoHandler.call_action
_original_body_match = FilterPolicyMatcher._body_based_match
_SQS_PROPERTIES = (
    "messages",
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)
_original_sqs = {name: Queue.__dict__[name] for name in _SQS_PROPERTIES}
_original_s3_urls = S3Backend.__dict__["_url_module"]
_LOCK = threading.RLock()
_original_s3_invoke = s3_notifications._invoke_awslambda
_original_parser = sfn_models.AmazonStateLanguageParser
_VALID_DEFINITIONS: set[str] = set()


class _ValidatingParser:
    """The one use models.py makes of the parser: ``parse(definition)`` raising when invalid."""

    @staticmethod
    def parse(definition: str) -> Any:
        if definition in _VALID_DEFINITIONS:
            return None  # parsed before: the caller ignores the result
        parsed = _original_parser.parse(definition)
        _VALID_DEFINITIONS.add(definition)
        return parsed


ASYNC_RETRIES = 2  # Lambda's default MaximumRetryAttempts for asynchronous invocations


def _invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    """An asynchronous invocation: the first attempt and up to two retries on a function error."""
    from moto.awslambda.utils import get_backend

    try:
        function = get_backend(account_id, region_name).get_function(fn_arn)
    except Exception:  # as moto: a missing function fails the notification, never the upload
        return
    for _attempt in range(1 + ASYNC_RETRIES):
        headers: dict[str, str] = {}
        function.invoke(json.dumps(event_body), {"x-amz-invocation-type": "Event"}, headers)
        if "x-amz-function-error" not in headers:
            return


def _call_action(self: DynamoHandler) -> Any:
    with _LOCK:
        return _original_call_action(self)


def _key_of(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    planned: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    errors: list[tuple[Any, Any, Any]] = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise ValueError("Unsupported transaction operation")
        key = _key_of(self, op_type, op)
        identity = (str(op["TableName"]), str(dict(sorted(key.items()))))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        try:
            current = self.get_item(op["TableName"], key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                expression = get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if not expression.expr(current):
                    old = None
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
                    continue
            errors.append((None, None, None))
            planned.append((op_type, op, key))
        except Exception as exc:  # as moto does: any other failure cancels the transaction
            errors.append((type(exc).__name__, str(exc), None))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    for op_type, op, key in planned:
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        if op_type == "Put":
            self.put_item(
                op["TableName"], op["Item"], expression_attribute_names=names, expression_attribute_values=values
            )
        elif op_type == "Delete":
            self.delete_item(op["TableName"], key, expression_attribute_names=names, expression_attribute_values=values)
        elif op_type == "Update":
            self.update_item(
                op["TableName"],
                key,
                update_expression=op["UpdateExpression"],
                expression_attribute_names=names or {},  # what moto's own handler passes when absent
                expression_attribute_values=values or {},
            )


def _body_based_match(self: FilterPolicyMatcher, message_dict: dict[str, Any]) -> bool:
    policy = self.filter_policy
    if not isinstance(policy, dict) or not isinstance(policy.get("$or"), list):
        return _original_body_match(self, message_dict)
    rest = {key: value for key, value in policy.items() if key != "$or"}
    return any(
        FilterPolicyMatcher({**rest, **alternative}, "MessageBody")._body_based_match(message_dict)
        for alternative in policy["$or"]
    )


def _ready(queue: Queue) -> list[Any]:
    now = unix_time_millis()
    return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]


def _delayed(queue: Queue) -> int:
    now = unix_time_millis()
    return sum(1 for m in queue._messages if now < m.delayed_until)


def _not_visible(queue: Queue) -> int:
    now = unix_time_millis()
    return sum(1 for m in queue._messages if not now > m.visible_at)


_patched_sqs = {
    "messages": property(_ready),
    "approximate_number_of_messages": property(lambda queue: len(_ready(queue))),
    "approximate_number_of_messages_delayed": property(_delayed),
    "approximate_number_of_messages_not_visible": property(_not_visible),
}


def _s3_url_module(self: S3Backend) -> Any:
    import moto.s3.urls as urls  # once: no reload

    return urls


def install() -> None:
    sfn_models.AmazonStateLanguageParser = _ValidatingParser  # type: ignore[misc,assignment]
    s3_notifications._invoke_awslambda = _invoke_awslambda
    S3Backend._url_module = property(_s3_url_module)  # type: ignore[assignment,method-assign]
    DynamoHandler.call_action = _call_action  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    FilterPolicyMatcher._body_based_match = _body_based_match  # type: ignore[method-assign]
    for name, value in _patched_sqs.items():
        setattr(Queue, name, value)


def uninstall() -> None:
    sfn_models.AmazonStateLanguageParser = _original_parser  # type: ignore[misc]
    s3_notifications._invoke_awslambda = _original_s3_invoke
    S3Backend._url_module = _original_s3_urls  # type: ignore[method-assign]
    for name, value in _original_sqs.items():
        setattr(Queue, name, value)
    FilterPolicyMatcher._body_based_match = _original_body_match  # type: ignore[method-assign]
    DynamoHandler.call_action = _original_call_action  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _original_transact  # type: ignore[method-assign]


__all__ = ["ConditionalCheckFailed", "install", "uninstall"]
