"""Patches 8-11 of campaign_local/moto_patches.py make moto's DynamoDB faster and nothing else:
every response, byte for byte, is the one unpatched moto gives, errors included.

Each scenario runs twice in a fresh moto, once unpatched and once with every local-stack patch
installed, through boto3 (botocore validates request and response shapes); the raw response
bodies and the parsed answers must be equal.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.core import serialize as moto_serialize
from moto.core.parse import JSONParser
from moto.core.utils import get_service_model
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import Item

from campaign_local import moto_patches

REGION = "us-east-1"
BLOB = bytes(range(256))
NESTED = {
    "M": {
        "blob": {"B": b"\x00\xffnested"},
        "list": {"L": [{"N": "1.50"}, {"S": "x"}, {"BS": [b"a", b"\x01"]}, {"M": {"deep": {"NULL": True}}}]},
        "empty": {"M": {}},
        "flag": {"BOOL": False},
        "nums": {"NS": ["-0", "1e3", "12345678901234567890.123"]},
    }
}


def _item(pk: str, sk: int, **extra: Any) -> dict[str, Any]:
    return {
        "pk": {"S": pk},
        "sk": {"N": str(sk)},
        "s": {"S": 'é ü 中 \u2028 "quoted" \\'},
        "n": {"N": "-12.3400"},
        "b": {"B": BLOB},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"\x00", b"\xfe\xff"]},
        "m": NESTED,
        "l": {"L": [{"S": "one"}, {"N": "2"}, {"B": b"3"}, {"L": []}, {"NULL": True}]},
        "null": {"NULL": True},
        "bool": {"BOOL": True},
        **extra,
    }


def _run(scenario: Callable[[Any], None], *, patched: bool) -> list[Any]:
    """The scenario's answers (raw body and parsed answer or error, call by call)."""
    with mock_aws():
        if patched:
            moto_patches.install()
        try:
            client = boto3.client("dynamodb", region_name=REGION)
            bodies: list[bytes] = []
            client.meta.events.register(
                "before-parse.dynamodb.*", lambda response_dict, **_: bodies.append(response_dict["body"])
            )
            answers: list[Any] = []

            def call(operation: str, **kwargs: Any) -> None:
                try:
                    answer = getattr(client, operation)(**kwargs)
                    if operation == "create_table":
                        return  # a creation time and a table id: not the patches' business
                    answer.pop("ResponseMetadata", None)
                    answers.append((operation, bodies[-1], answer))
                except ClientError as error:
                    response = dict(error.response)
                    response.pop("ResponseMetadata", None)
                    answers.append((operation, bodies[-1], "error", response))
                except Exception as crash:  # moto's own failures (a 500 on the HTTP endpoint) too
                    answers.append((operation, "crash", type(crash).__name__, str(crash)))

            scenario(call)
            assert answers, "the scenario made no call"
            return answers
        finally:
            if patched:
                moto_patches.uninstall()


def _tables(call: Callable[..., None]) -> None:
    call(
        "create_table",
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    call(
        "create_table",
        TableName="bin",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "B"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _items_and_reads(call: Callable[..., None]) -> None:
    _tables(call)
    for sk in range(4):
        call("put_item", TableName="t", Item=_item("p", sk), ReturnConsumedCapacity="TOTAL")
    call("put_item", TableName="t", Item=_item("p", 0, extra={"S": "v2"}), ReturnValues="ALL_OLD")
    call("put_item", TableName="bin", Item={"id": {"B": b"\x00key"}, "v": {"BS": [b"1"]}})
    call("get_item", TableName="t", Key={"pk": {"S": "p"}, "sk": {"N": "0"}})
    call("get_item", TableName="t", Key={"pk": {"S": "p"}, "sk": {"N": "99"}})
    call(
        "get_item",
        TableName="t",
        Key={"pk": {"S": "p"}, "sk": {"N": "1"}},
        ProjectionExpression="#m.blob, l[2], bs, #m.#l[3]",
        ExpressionAttributeNames={"#m": "m", "#l": "list"},
    )
    call("get_item", TableName="bin", Key={"id": {"B": b"\x00key"}}, ConsistentRead=True)
    call(
        "batch_get_item",
        RequestItems={
            "t": {"Keys": [{"pk": {"S": "p"}, "sk": {"N": str(sk)}} for sk in (0, 2, 7)], "ConsistentRead": True},
            "bin": {"Keys": [{"id": {"B": b"\x00key"}}, {"id": {"B": b"none"}}], "ProjectionExpression": "v"},
        },
    )
    call(
        "query",
        TableName="t",
        KeyConditionExpression="pk = :p AND sk >= :low",
        FilterExpression="contains(bs, :b) AND #n < :n",
        ExpressionAttributeNames={"#n": "n"},
        ExpressionAttributeValues={":p": {"S": "p"}, ":low": {"N": "1"}, ":b": {"B": b"\x00"}, ":n": {"N": "0"}},
        Limit=2,
    )
    call(
        "query",
        TableName="t",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        ExclusiveStartKey={"pk": {"S": "p"}, "sk": {"N": "1"}},
        ScanIndexForward=False,
    )
    call(
        "query",
        TableName="t",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        Select="COUNT",
    )
    call("scan", TableName="t", FilterExpression="b = :b", ExpressionAttributeValues={":b": {"B": BLOB}})
    call("scan", TableName="bin")
    call("scan", TableName="t", Limit=1, ReturnConsumedCapacity="INDEXES")
    call("query", TableName="t", KeyConditionExpression="pk = :p AND", ExpressionAttributeValues={":p": {"S": "p"}})
    call("scan", TableName="t", FilterExpression="#missing = :v", ExpressionAttributeValues={":v": {"S": "x"}})


def _writes(call: Callable[..., None]) -> None:
    _tables(call)
    call("put_item", TableName="t", Item=_item("w", 1))
    call(
        "put_item",
        TableName="t",
        Item=_item("w", 1),
        ConditionExpression="attribute_not_exists(pk)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    for return_values in ("ALL_NEW", "UPDATED_OLD", "ALL_OLD", "UPDATED_NEW", "NONE"):
        call(
            "update_item",
            TableName="t",
            Key={"pk": {"S": "w"}, "sk": {"N": "1"}},
            UpdateExpression="SET #m.blob = :b, l[1] = :n, added = :m ADD ns :ns, bs :bs REMOVE #s",
            ConditionExpression="attribute_exists(pk) AND size(b) = :size",
            ExpressionAttributeNames={"#m": "m", "#s": "s"},
            ExpressionAttributeValues={
                ":b": {"B": b"\x10new"},
                ":n": {"N": "3.14"},
                ":m": NESTED,
                ":ns": {"NS": ["7"]},
                ":bs": {"BS": [b"\x99"]},
                ":size": {"N": "256"},
            },
            ReturnValues=return_values,
        )
    call(
        "update_item",
        TableName="t",
        Key={"pk": {"S": "w"}, "sk": {"N": "1"}},
        UpdateExpression="SET v = :v",
        ConditionExpression="attribute_not_exists(pk)",
        ExpressionAttributeValues={":v": {"S": "x"}},
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    call(
        "update_item",
        TableName="t",
        Key={"pk": {"S": "w"}, "sk": {"N": "2"}},
        UpdateExpression="ADD counter :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    call(
        "batch_write_item",
        RequestItems={
            "t": [{"PutRequest": {"Item": _item("bw", sk)}} for sk in range(5)]
            + [{"DeleteRequest": {"Key": {"pk": {"S": "w"}, "sk": {"N": "2"}}}}],
            "bin": [{"PutRequest": {"Item": {"id": {"B": bytes([sk])}, "v": {"B": b"\x00"}}}} for sk in range(3)],
        },
    )
    transaction = [
        {"Put": {"TableName": "t", "Item": _item("tx", 1), "ConditionExpression": "attribute_not_exists(pk)"}},
        {
            "Update": {
                "TableName": "t",
                "Key": {"pk": {"S": "bw"}, "sk": {"N": "1"}},
                "UpdateExpression": "SET b = :b",
                "ExpressionAttributeValues": {":b": {"B": b"\x01tx"}},
            }
        },
        {"Delete": {"TableName": "t", "Key": {"pk": {"S": "bw"}, "sk": {"N": "2"}}}},
        {
            "ConditionCheck": {
                "TableName": "bin",
                "Key": {"id": {"B": b"\x00"}},
                "ConditionExpression": "v = :v",
                "ExpressionAttributeValues": {":v": {"B": b"\x00"}},
            }
        },
    ]
    call("transact_write_items", TransactItems=transaction)
    failing = [
        {
            "Put": {
                "TableName": "t",
                "Item": _item("tx", 1),
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {
            "ConditionCheck": {
                "TableName": "bin",
                "Key": {"id": {"B": b"\x01"}},
                "ConditionExpression": "v = :v",
                "ExpressionAttributeValues": {":v": {"B": b"\x02"}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {"Delete": {"TableName": "t", "Key": {"pk": {"S": "bw"}, "sk": {"N": "3"}}}},
    ]
    call("transact_write_items", TransactItems=failing)
    call("delete_item", TableName="t", Key={"pk": {"S": "tx"}, "sk": {"N": "1"}}, ReturnValues="ALL_OLD")
    call("scan", TableName="t")
    call("scan", TableName="bin")


def _big(key: str, size: int) -> dict[str, Any]:
    """An item whose moto size is exactly ``size`` (spread over 200 attributes)."""
    base = {"pk": {"S": key}, "sk": {"N": "1"}}
    used = sum(len(name) for name in base) + len(key) + 1
    names = [f"a{i:03d}" for i in range(200)]
    rest = size - used - sum(len(name) for name in names)
    share, extra = divmod(rest, len(names))
    return base | {name: {"S": "x" * (share + (1 if i < extra else 0))} for i, name in enumerate(names)}


def _sizes(call: Callable[..., None]) -> None:
    _tables(call)
    for size in (404_999, 405_000, 405_001, 410_000):
        call("put_item", TableName="t", Item=_big(f"k{size}", size))
    call("put_item", TableName="t", Item={"pk": {"S": "one"}, "sk": {"N": "1"}, "big": {"S": "x" * 404_990}})
    call("put_item", TableName="t", Item={"pk": {"S": "one"}, "sk": {"N": "2"}, "big": {"B": b"\x00" * 404_998}})
    call(
        "update_item",
        TableName="t",
        Key={"pk": {"S": "k405000"}, "sk": {"N": "1"}},
        UpdateExpression="SET more = :v",
        ExpressionAttributeValues={":v": {"S": "x"}},
    )
    call(
        "batch_write_item",
        RequestItems={"t": [{"PutRequest": {"Item": _big("batch", 405_001)}}]},
    )
    call("transact_write_items", TransactItems=[{"Put": {"TableName": "t", "Item": _big("tx", 405_001)}}])
    call("scan", TableName="t", Select="COUNT")


@pytest.mark.parametrize("scenario", [_items_and_reads, _writes, _sizes], ids=lambda s: s.__name__.strip("_"))
def test_patched_dynamodb_answers_equal_unpatched_moto(scenario):
    unpatched = _run(scenario, patched=False)
    patched = _run(scenario, patched=True)
    assert len(patched) == len(unpatched)
    for before, after in zip(unpatched, patched, strict=True):
        assert after == before, f"{before[0]} differs"


def test_the_scenarios_cover_the_errors_they_are_meant_to():
    sized = _run(_sizes, patched=True)
    answers = _run(_writes, patched=True) + sized
    errors = {(a[0], a[3]["Error"]["Code"]) for a in answers if a[2] == "error"}
    assert ("put_item", "ConditionalCheckFailedException") in errors
    assert ("update_item", "ConditionalCheckFailedException") in errors
    assert ("transact_write_items", "TransactionCanceledException") in errors
    assert ("put_item", "ValidationException") in errors
    cancelled = next(a[3] for a in answers if a[0] == "transact_write_items" and a[2] == "error")
    reasons = cancelled["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["ConditionalCheckFailed", "ConditionalCheckFailed", "None"]
    assert reasons[0]["Item"]["b"] == {"B": BLOB}
    refused = [a[2] == "error" for a in sized if a[0] == "put_item"][:4]
    assert refused == [False, False, True, True], "404,999 and 405,000 bytes taken, 405,001 and 410,000 refused"


# --- The direct paths against moto's shape walk, on generated attribute values ----------------

_scalars = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=8)),
    st.builds(lambda n: {"N": str(n)}, st.decimals(allow_nan=False, allow_infinity=False, places=3)),
    st.builds(lambda b: {"B": b}, st.binary(max_size=8)),
    st.builds(lambda s: {"SS": s}, st.lists(st.text(max_size=4), min_size=1, max_size=3)),
    st.builds(lambda n: {"NS": [str(x) for x in n]}, st.lists(st.integers(), min_size=1, max_size=3)),
    st.builds(lambda b: {"BS": b}, st.lists(st.binary(max_size=4), min_size=1, max_size=3)),
    st.just({"NULL": True}),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.builds(lambda m: {"M": m}, st.dictionaries(st.text(max_size=4), inner, max_size=3)),
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
    ),
    max_leaves=12,
)
# What moto's model code can hand the serializer besides clean documents: a base64 string as B,
# None members, numbers as Decimal, a stray alias key (these go moto's way or must match it).
_odd = st.one_of(
    st.just({"B": base64.b64encode(b"wire").decode()}),
    st.just({"S": "x", "N": None}),
    st.just({"BOOL": True, "S": "two members: written in the shape's order"}),
    st.just({"N": Decimal("1.50")}),
    st.just({"s": "lower"}),
    st.just({"SS": []}),
    st.none(),
)


def _serialize(serializer_cls: type, operation: str, result: dict[str, Any]) -> Any:
    model = get_service_model("dynamodb")
    serializer = serializer_cls(
        operation_model=model.operation_model(operation),
        value_picker=moto_serialize.XFormedAttributePicker(response_transformers={}),
    )
    return serializer.serialize(result)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(min_size=1, max_size=4), st.one_of(_values, _odd), max_size=5))
def test_the_direct_serializer_writes_what_the_shape_walk_writes(item):
    result = {"Item": item, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1}}
    expected = _serialize(moto_serialize.JSONSerializer, "GetItem", result)
    assert _serialize(moto_patches._DynamoJSONSerializer, "GetItem", result) == expected
    batch = {"Responses": {"t": [item, item]}, "UnprocessedKeys": {}}
    expected = _serialize(moto_serialize.JSONSerializer, "BatchGetItem", batch)
    assert _serialize(moto_patches._DynamoJSONSerializer, "BatchGetItem", batch) == expected


def _wire(value: Any) -> Any:
    """botocore's JSON for an attribute value document (blobs in base64)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wire(item) for item in value]
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.text(min_size=1, max_size=4), _values, max_size=5),
    st.sampled_from([{}, {"unknown": "member"}, {"S": None}]),
)
def test_the_direct_parser_reads_what_the_shape_walk_reads(item, odd):
    operation = get_service_model("dynamodb").operation_model("PutItem")
    wire = _wire(item) | {"odd": odd} if odd else _wire(item)
    body = json.dumps({"TableName": "t", "Item": wire, "ExpressionAttributeValues": wire}).encode()
    request = {"method": "POST", "values": {}, "headers": {}, "body": body, "url_path": "/", "url_params": {}}
    expected = JSONParser(operation).parse(request)  # type: ignore[arg-type]
    assert moto_patches._DynamoJSONParser(operation).parse(request) == expected  # type: ignore[arg-type]


# --- 8: the size check refuses exactly what moto refused -------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=140_000), min_size=1, max_size=6), st.integers(-3, 3))
def test_the_item_size_check_refuses_exactly_what_moto_refused(lengths, nudge):
    attrs: dict[str, Any] = {f"a{i}": {"S": "x" * n} for i, n in enumerate(lengths)}
    total = sum(len(name) + n for name, n in zip(attrs, lengths, strict=True))
    attrs["z"] = {"S": "y" * max(0, 405_000 - total + nudge)} if total < 405_000 else {"N": "1"}

    def outcome() -> str:
        try:
            Item(None, None, attrs)  # type: ignore[arg-type]
        except ItemSizeTooLarge:
            return "too large"
        return "taken"

    before = outcome()
    moto_patches.install()
    try:
        assert outcome() == before
    finally:
        moto_patches.uninstall()


def test_an_item_keeps_moto_check_for_attributes_set_later():
    moto_patches.install()
    try:
        item = Item(None, None, {"a": {"S": "x" * 404_990}})  # type: ignore[arg-type]
        with pytest.raises(ItemSizeTooLarge):
            item.attrs["b"] = item.attrs["a"]
    finally:
        moto_patches.uninstall()


# --- 9: remembered parses --------------------------------------------------------------------


def test_a_remembered_parse_hands_out_fresh_lists_and_its_own_values():
    from moto.dynamodb import comparisons

    moto_patches.install()
    try:
        values = {":v": {"S": "a"}}
        first = comparisons.create_condition_expression_parser("#n = :v", {"#n": "name"}, values)
        remembered = first.parse()
        first.expr_attr_names_found.append("mutated by a caller")
        values[":v"]["S"] = "changed after the parse"
        second = comparisons.create_condition_expression_parser("#n = :v", {"#n": "name"}, {":v": {"S": "a"}})
        assert second.parse() is remembered  # parsed once
        assert second.expr_attr_names_found == ["#n"]
        assert second.expr_attr_values_found == [":v"]
        assert remembered.rhs.value == "a"  # type: ignore[union-attr]  # the tree has its own copy of the values
        for _ in range(2):  # a bad expression raises every time: nothing is remembered for it
            with pytest.raises(ValueError):
                comparisons.create_condition_expression_parser("a = = b", {}, {}).parse()
    finally:
        moto_patches.uninstall()


# --- The guard: the moto code the patches mirror is the code they were written against -------


def test_the_moto_code_patches_8_to_11_mirror_is_unchanged():
    import moto

    changed = moto_patches.changed_since_written()
    assert changed == [], (
        f"moto {moto.__version__} changed {changed}; patches 8-11 in campaign_local/moto_patches.py were "
        f"written against moto {moto_patches.WRITTEN_AGAINST}: re-check each patch named against the new "
        "code, then update its digest in FINGERPRINTS"
    )


def test_install_and_uninstall_restore_moto():
    from moto.dynamodb import comparisons
    from moto.dynamodb.responses import DynamoHandler

    original = comparisons.create_condition_expression_parser
    moto_patches.install()
    assert moto_serialize.get_serializer_class("dynamodb", "json") is moto_patches._DynamoJSONSerializer
    moto_patches.uninstall()
    assert moto_serialize.get_serializer_class("dynamodb", "json") is moto_serialize.JSONSerializer
    assert comparisons.create_condition_expression_parser is original
    assert "parse_parameters" not in DynamoHandler.__dict__
    assert Item.__init__ is moto_patches._original_item_init
