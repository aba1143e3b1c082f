"""Plain-Python <-> DynamoDB attribute values (numbers as int or Decimal, never float)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from .aws import error_code

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _prepare(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _prepare(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_prepare(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value


def to_item(document: dict[str, Any]) -> dict[str, Any]:
    return {k: _SERIALIZER.serialize(_prepare(v)) for k, v in document.items() if v is not None}


def to_value(value: Any) -> dict[str, Any]:
    return _SERIALIZER.serialize(_prepare(value))


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_DESERIALIZER.deserialize(v)) for k, v in item.items()}


def conditional_write(operation: Callable[..., Any], **request: Any) -> bool:
    """Run a conditional write (put_item, update_item, ...); False when its condition failed."""
    try:
        operation(**request)
    except Exception as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def refused(exc: BaseException) -> bool:
    """True when DynamoDB answered ``exc`` with a 4xx to the only attempt: the request took no
    effect (a validation error, a failed condition, a throttle). Anything else may have taken
    effect without our knowing: a 5xx, a timeout, a lost connection, a crash, and also a 4xx
    after SDK retries (an earlier attempt may have landed and lost its reply)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    metadata = response.get("ResponseMetadata", {})
    status = metadata.get("HTTPStatusCode")
    return isinstance(status, int) and 400 <= status < 500 and not metadata.get("RetryAttempts")
