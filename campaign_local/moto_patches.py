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
8. moto's DynamoDB ``Item`` checks the 400 KB limit in ``LimitedSizeDict.__setitem__``, which
   re-sums every attribute already set: building an item is quadratic in its attributes. The
   patch sums as it goes, in the same order, and raises at the same attribute (what moto
   rejected is still rejected, what it took is still taken); later sets keep moto's check.
9. moto's DynamoDB re-parses every ConditionExpression / FilterExpression at each request,
   twice for a conditional write (the handler validates, the backend evaluates). The patch
   remembers the parse (syntax tree and the names/values it found) by expression, names and
   values; a failing parse is not remembered, so it raises again as before.
10. moto's DynamoDB responses walk the botocore shape for every attribute value of every item
   (an alias lookup per member of ``AttributeValue``), the largest cost of a batch read. The
   patch registers a JSON serializer for DynamoDB that writes an ``AttributeValue`` directly,
   as the shape walk would (same members, order, blob encoding, strings); anything else,
   and any value that is not a plain attribute-value dict, goes through moto's walk.
11. The same for requests: the patched DynamoDB handler parses ``AttributeValue`` directly
   (blobs decoded as moto decodes them); every other shape is moto's parser.

Patches 8-11 were written against moto 5.2.5 (``WRITTEN_AGAINST``); they mirror moto code, so
``FINGERPRINTS`` holds a digest of each moto function they replace or mirror, and
tests/local/test_moto_speed_patches.py fails when an upgrade changes one (re-check the patch
against the new code, then update the digest).
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.core import parse as moto_parse
from moto.core import responses as moto_responses
from moto.core import serialize as moto_serialize
from moto.core import utils as moto_utils
from moto.core.request import determine_request_protocol
from moto.core.utils import get_service_model, unix_time_millis
from moto.dynamodb import comparisons
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    ItemSizeTooLarge,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend, get_filter_expression
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize
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


# --- 8-11: DynamoDB speed (written against moto 5.2.5) --------------------------------------

WRITTEN_AGAINST = "5.2.5"
_ITEM_SIZE_LIMIT = 405000  # moto's LimitedSizeDict limit (between AWS's measured 409 and 410 KB)
_original_item_init = Item.__dict__["__init__"]


def _item_init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    """8. moto's ``Item.__init__`` with LimitedSizeDict's check done as a running sum.

    moto checks, at each attribute, (size of the attributes set so far) + (this one) > limit;
    the running sum is the same number at the same attribute, so the same items are refused
    at the same point (after converting the same attributes)."""
    self.hash_key = hash_key
    self.range_key = range_key
    checked = LimitedSizeDict()
    size = 0
    for key, value in attrs.items():
        converted = DynamoType(value)
        size += bytesize(key) + converted.size()
        if size > _ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        dict.__setitem__(checked, key, converted)  # checked above: skip moto's re-summing
    self.attrs = checked


_original_condition_parser = comparisons.create_condition_expression_parser
# Every module that holds its own reference to the factory (imported by name).
_CONDITION_PARSER_HOLDERS = (comparisons, dynamodb_responses, dynamodb_models)
_PARSE_CACHE_SIZE = 4096
_parsed: dict[tuple[Any, ...], tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}


def _frozen(value: Any) -> Any:
    """A hashable image of a JSON-like value that tells types apart (True is not 1)."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((key, _frozen(item)) for key, item in value.items())))
    if isinstance(value, list):
        return ("list", tuple(_frozen(item) for item in value))
    hash(value)  # raises TypeError for what cannot be a key: then nothing is cached
    return (type(value).__name__, value)


class _RememberingConditionParser:
    """9. ``ConditionExpressionParser`` as its callers use it: ``parse()``, then the names and
    values it found (fresh lists: callers extend them)."""

    def __init__(self, expression: str | None, names: dict[str, str] | None, values: Any) -> None:
        self._args = (expression, names, values)
        self.expr_attr_names_found: list[str] = []
        self.expr_attr_values_found: list[str] = []

    def parse(self) -> Any:
        expression, names, values = self._args
        try:
            key = (expression, _frozen(names), _frozen(values))
        except TypeError:
            key = None
        remembered = _parsed.get(key) if key is not None and expression else None
        if remembered is None:
            # The tree keeps references to the values: give it its own copy, so that a caller
            # changing its request afterwards cannot change a remembered tree.
            parser = _original_condition_parser(expression, copy.deepcopy(names), copy.deepcopy(values))
            tree = parser.parse()  # raises as moto does; nothing remembered then
            remembered = (tree, tuple(parser.expr_attr_names_found), tuple(parser.expr_attr_values_found))
            if key is not None and expression:
                if len(_parsed) >= _PARSE_CACHE_SIZE:
                    _parsed.clear()
                _parsed[key] = remembered
        tree, names_found, values_found = remembered
        self.expr_attr_names_found = list(names_found)
        self.expr_attr_values_found = list(values_found)
        return tree


def _condition_parser(expression: str | None, names: Any, values: Any) -> Any:
    return _RememberingConditionParser(expression, names, values)


# The AttributeValue shape as moto 5.2.5's botocore model has it: member -> (type, item type).
ATTRIBUTE_VALUE_MEMBERS: dict[str, tuple[str, str | None]] = {
    "S": ("string", None),
    "N": ("string", None),
    "B": ("blob", None),
    "SS": ("list", "string"),
    "NS": ("list", "string"),
    "BS": ("list", "blob"),
    "M": ("map", "structure"),
    "L": ("list", "structure"),
    "NULL": ("boolean", None),
    "BOOL": ("boolean", None),
}
_MEMBER_NAMES = frozenset(ATTRIBUTE_VALUE_MEMBERS)


def attribute_value_shape() -> Any:
    return get_service_model("dynamodb").shape_for("AttributeValue")


def attribute_value_shape_as_written() -> bool:
    """Is the AttributeValue shape the one patches 10 and 11 write and read directly?"""
    shape = attribute_value_shape()
    found: dict[str, tuple[str, str | None]] = {}
    for name, member in shape.members.items():
        if member.serialization:
            return False  # a wire name other than the member's: the direct paths would miss it
        inner = member.member if member.type_name == "list" else member.value if member.type_name == "map" else None
        found[name] = (member.type_name, inner.type_name if inner is not None else None)
        if member.type_name == "map" and member.value.name != "AttributeValue":
            return False
        if member.type_name == "list" and name == "L" and member.member.name != "AttributeValue":
            return False
    return shape.type_name == "structure" and not shape.serialization and found == ATTRIBUTE_VALUE_MEMBERS


def _members_in(value: dict[str, Any]) -> Iterable[str]:
    """The members of AttributeValue present in ``value``, in the shape's order (moto's walk
    goes member by member in that order; other keys it never reads)."""
    if len(value) == 1:  # what a valid document is: no ordering to do
        return [name for name in value if name in _MEMBER_NAMES]
    return [name for name in ATTRIBUTE_VALUE_MEMBERS if name in value]


def _string(value: Any) -> Any:
    # moto's BaseJSONSerializer._serialize_type_string
    return str(value) if value not in [None, {}, []] else value


class _DynamoJSONSerializer(moto_serialize.JSONSerializer):
    """10. moto's JSON serializer, writing AttributeValue documents without the shape walk."""

    def _serialize(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and self._direct(value):
            serialized[key] = self._attribute_value(value, shape)
            return
        super()._serialize(serialized, value, shape, key)

    def _direct(self, value: Any) -> bool:
        # What moto's picker would read member by member: a plain dict of member names only (no
        # lower-case aliases) and no response transformer that could rewrite a member.
        return (
            type(value) is dict
            and value.keys() <= _MEMBER_NAMES
            and not getattr(self._value_picker, "response_transformers", None)
        )

    def _attribute_value(self, value: dict[str, Any], shape: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in _members_in(value):
            member = value[name]
            if member is None:
                continue  # moto skips members whose value is None
            if name in ("S", "N"):
                out[name] = _string(member)
            elif name == "B":
                out[name] = self._base64(member)
            elif name in ("SS", "NS"):
                out[name] = [_string(item) for item in member]
            elif name == "BS":
                out[name] = [self._base64(item) for item in member]
            elif name == "M":
                nested: dict[str, Any] = {}
                out[name] = nested
                for sub_key, sub_value in member.items():
                    self._serialize(nested, sub_value, shape, sub_key)
            elif name == "L":
                items = []
                for item in member:
                    wrapper: dict[str, Any] = {}
                    self._serialize(wrapper, item, shape, "AttributeValue")
                    # moto keeps the raw item when nothing was written for it (a None)
                    items.append(wrapper.get("AttributeValue", item))
                out[name] = items
            else:  # NULL, BOOL: booleans, written as they are
                out[name] = member
        return out


class _DynamoJSONParser(moto_parse.JSONParser):
    """11. moto's JSON request parser, reading AttributeValue documents without the shape walk."""

    def _parse_structure(self, shape: Any, value: Any) -> Any:
        if shape.name == "AttributeValue" and type(value) is dict and self.MAP_TYPE is dict:
            return self._attribute_value(shape, value)
        return super()._parse_structure(shape, value)

    def _attribute_value(self, shape: Any, value: dict[str, Any]) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        for name in _members_in(value):
            member = value[name]
            if member is None:
                continue  # moto skips null and absent members alike
            if name == "B":
                parsed[name] = self._blob_parser(member)
            elif name in ("SS", "NS"):
                parsed[name] = [item for item in member]
            elif name == "BS":
                parsed[name] = [self._blob_parser(item) for item in member]
            elif name == "M":
                parsed[name] = {key: self._parse_structure(shape, item) for key, item in member.items()}
            elif name == "L":
                parsed[name] = [self._parse_structure(shape, item) for item in member]
            else:  # S, N, NULL, BOOL: moto's JSON parser keeps them as they are
                parsed[name] = member
        return parsed


_original_parse_parameters = DynamoHandler.__dict__.get("parse_parameters")


def _parse_parameters(self: DynamoHandler, request: Any) -> None:
    """moto's BaseResponse.parse_parameters, with the DynamoDB parser for the JSON protocol."""
    service_model = get_service_model(self.boto3_service_name)
    operation_model = service_model.operation_model(self._get_action())
    protocol = determine_request_protocol(service_model, request.content_type)
    parser_cls = _DynamoJSONParser if protocol == "json" else moto_responses.PROTOCOL_PARSERS[protocol]
    parser = parser_cls(operation_model, map_type=self.PROTOCOL_PARSER_MAP_TYPE)
    self.params = parser.parse(
        {
            "method": request.method,
            "values": request.values,
            "headers": request.headers,
            "body": request.data,
            "url_path": request.path,
            "url_params": self.uri_match,
        }
    )


def _source(target: Callable[..., Any] | type) -> str:
    return inspect.getsource(target)


# The moto code each of patches 8-11 replaces or mirrors, with a digest of its 5.2.5 source.
_MIRRORED: dict[str, Callable[..., Any]] = {
    "8 Item.__init__": _original_item_init,
    "8 LimitedSizeDict.__init__": LimitedSizeDict.__init__,
    "8 LimitedSizeDict.__setitem__": LimitedSizeDict.__setitem__,
    "9 create_condition_expression_parser": _original_condition_parser,
    "9 get_filter_expression": comparisons.get_filter_expression,
    "9 ConditionExpressionParser.__init__": comparisons.ConditionExpressionParser.__init__,
    "9 ConditionExpressionParser.parse": comparisons.ConditionExpressionParser.parse,
    "9 AttributeValue.__init__": comparisons.AttributeValue.__init__,
    "10 get_serializer_class": moto_serialize.get_serializer_class,
    "10 ResponseSerializer._serialize": moto_serialize.ResponseSerializer._serialize,
    "10 ResponseSerializer._default_serialize": moto_serialize.ResponseSerializer._default_serialize,
    "10 ResponseSerializer._serialize_type_structure": moto_serialize.ResponseSerializer._serialize_type_structure,
    "10 ResponseSerializer._serialize_structure_member": (
        moto_serialize.ResponseSerializer._serialize_structure_member
    ),
    "10 ResponseSerializer._serialize_type_blob": moto_serialize.ResponseSerializer._serialize_type_blob,
    "10 ResponseSerializer._base64": moto_serialize.ResponseSerializer._base64,
    "10 ResponseSerializer.get_serialized_name": moto_serialize.ResponseSerializer.get_serialized_name,
    "10 BaseJSONSerializer._serialize_type_map": moto_serialize.BaseJSONSerializer._serialize_type_map,
    "10 BaseJSONSerializer._serialize_type_list": moto_serialize.BaseJSONSerializer._serialize_type_list,
    "10 BaseJSONSerializer._serialize_type_string": moto_serialize.BaseJSONSerializer._serialize_type_string,
    "10 BaseJSONSerializer._serialize_type_structure": moto_serialize.BaseJSONSerializer._serialize_type_structure,
    "10 AttributePicker.__call__": moto_serialize.AttributePicker.__call__,
    "10 XFormedAttributePicker.get_possible_keys": moto_serialize.XFormedAttributePicker.get_possible_keys,
    "10 get_value": moto_utils.get_value,
    "10 _get_value_for_key": moto_utils._get_value_for_key,
    "11 BaseResponse.parse_parameters": moto_responses.BaseResponse.parse_parameters,
    "11 RequestParser._parse_shape": moto_parse.RequestParser._parse_shape,
    "11 RequestParser._parse_list": moto_parse.RequestParser._parse_list,
    "11 RequestParser._parse_map": moto_parse.RequestParser._parse_map,
    "11 RequestParser._default_handle": moto_parse.RequestParser._default_handle,
    "11 BaseJSONParser._parse_structure": moto_parse.BaseJSONParser._parse_structure,
    "11 BaseJSONParser._parse_blob": moto_parse.BaseJSONParser._parse_blob,
    "11 default_blob_parser": moto_parse.default_blob_parser,
}
# sha256 (first 16 hex digits) of each function's source in moto 5.2.5.
FINGERPRINTS: dict[str, str] = {
    "8 Item.__init__": "d9c12b62cb921831",
    "8 LimitedSizeDict.__init__": "f015127701951e73",
    "8 LimitedSizeDict.__setitem__": "d979580fdbe14f79",
    "9 create_condition_expression_parser": "a667986752c086a5",
    "9 get_filter_expression": "0bb9e2d345c7f17f",
    "9 ConditionExpressionParser.__init__": "4a3f092d6b0f1a26",
    "9 ConditionExpressionParser.parse": "5c9b63c5f49ed5d5",
    "9 AttributeValue.__init__": "e62e733b27c0da31",
    "10 get_serializer_class": "198a4094b5031323",
    "10 ResponseSerializer._serialize": "4eccca5bf02593ef",
    "10 ResponseSerializer._default_serialize": "25ce8ddbb1a991c0",
    "10 ResponseSerializer._serialize_type_structure": "f9b47068f40ce489",
    "10 ResponseSerializer._serialize_structure_member": "437fdce43aa5ac84",
    "10 ResponseSerializer._serialize_type_blob": "acd7e746cf06090e",
    "10 ResponseSerializer._base64": "5a3642d8c2a14b24",
    "10 ResponseSerializer.get_serialized_name": "2c23dcac85ccc396",
    "10 BaseJSONSerializer._serialize_type_map": "faa32d1fa9a8bfc9",
    "10 BaseJSONSerializer._serialize_type_list": "f87b14fe9166e099",
    "10 BaseJSONSerializer._serialize_type_string": "44954e02145012ba",
    "10 BaseJSONSerializer._serialize_type_structure": "36873909cd0aeb4d",
    "10 AttributePicker.__call__": "c15da8ec29c1afa4",
    "10 XFormedAttributePicker.get_possible_keys": "f0d20f55f37fd8a1",
    "10 get_value": "9b06b87ce416131e",
    "10 _get_value_for_key": "563aa7bc75bd5bb0",
    "11 BaseResponse.parse_parameters": "fd3d04c9194814f4",
    "11 RequestParser._parse_shape": "86db10854efaf7e3",
    "11 RequestParser._parse_list": "e2539182995b831e",
    "11 RequestParser._parse_map": "a9e8feb4d5519e24",
    "11 RequestParser._default_handle": "88c1ab7f9c988be8",
    "11 BaseJSONParser._parse_structure": "2de165721ba4b69e",
    "11 BaseJSONParser._parse_blob": "4d0f79b18cc3bcc3",
    "11 default_blob_parser": "b4e8503d3331b904",
}


def fingerprint(target: Callable[..., Any]) -> str:
    return hashlib.sha256(_source(target).encode("utf-8")).hexdigest()[:16]


def changed_since_written() -> list[str]:
    """The mirrored moto functions whose source is no longer what patches 8-11 were written
    against, and a note when the AttributeValue shape changed."""
    changed = [name for name, target in _MIRRORED.items() if fingerprint(target) != FINGERPRINTS.get(name)]
    if not attribute_value_shape_as_written():
        changed.append("10/11 AttributeValue shape")
    return changed


def _install_speed_patches() -> None:
    Item.__init__ = _item_init  # type: ignore[method-assign]
    for module in _CONDITION_PARSER_HOLDERS:
        assert hasattr(module, "create_condition_expression_parser"), module.__name__
        module.create_condition_expression_parser = _condition_parser  # type: ignore[attr-defined]
    moto_serialize.SERVICE_SPECIFIC_SERIALIZERS.setdefault("dynamodb", {})["json"] = _DynamoJSONSerializer
    DynamoHandler.parse_parameters = _parse_parameters  # type: ignore[method-assign,assignment]


def _uninstall_speed_patches() -> None:
    Item.__init__ = _original_item_init  # type: ignore[method-assign]
    for module in _CONDITION_PARSER_HOLDERS:
        module.create_condition_expression_parser = _original_condition_parser  # type: ignore[attr-defined]
    _parsed.clear()
    moto_serialize.SERVICE_SPECIFIC_SERIALIZERS.get("dynamodb", {}).pop("json", None)
    if _original_parse_parameters is None:
        if "parse_parameters" in DynamoHandler.__dict__:
            del DynamoHandler.parse_parameters
    else:
        DynamoHandler.parse_parameters = _original_parse_parameters  # type: ignore[method-assign]


def install() -> None:
    _install_speed_patches()
    sfn_models.AmazonStateLanguageParser = _ValidatingParser  # type: ignore[misc,assignment]
    s3_notifications._invoke_awslambda = _invoke_awslambda
    S3Backend._url_module = property(_s3_url_module)  # type: ignore[assignment,method-assign]
    DynamoHandler.call_action = _call_action  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    FilterPolicyMatcher._body_based_match = _body_based_match  # type: ignore[method-assign]
    for name, value in _patched_sqs.items():
        setattr(Queue, name, value)


def uninstall() -> None:
    _uninstall_speed_patches()
    sfn_models.AmazonStateLanguageParser = _original_parser  # type: ignore[misc]
    s3_notifications._invoke_awslambda = _original_s3_invoke
    S3Backend._url_module = _original_s3_urls  # type: ignore[method-assign]
    for name, value in _original_sqs.items():
        setattr(Queue, name, value)
    FilterPolicyMatcher._body_based_match = _original_body_match  # type: ignore[method-assign]
    DynamoHandler.call_action = _original_call_action  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _original_transact  # type: ignore[method-assign]


__all__ = ["WRITTEN_AGAINST", "ConditionalCheckFailed", "changed_since_written", "install", "uninstall"]
