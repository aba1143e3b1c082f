"""Amazon Pinpoint segment files as audiences: detection, the field mapping, and each endpoint's fate."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from campaign_engine.domain.audience import Row, read_rows
from campaign_engine.domain.campaign import parse_definition
from campaign_engine.domain.errors import AudienceError
from campaign_engine.domain.outcomes import Outcome
from campaign_engine.domain.pinpoint import is_segment, read_endpoint
from campaign_engine.domain.rules import FieldRule
from campaign_engine.domain.templates import merge_data, missing_variables, parse_template

from tests.streams import GeneratedStream

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "pinpoint"
DEFINITION = parse_definition(
    (EXAMPLES / "campaign.json").read_bytes(), source="campaign.json", campaign_id="pinpoint-migration"
)
LIST_FIELDS = DEFINITION.audience.list_fields


def rows(data: bytes, name: str, **options) -> list[Row]:
    return list(read_rows(io.BytesIO(data), name=name, **options))


def example(name: str) -> list[Row]:
    with (EXAMPLES / name).open("rb") as stream:
        return list(read_rows(stream, name=name, list_fields=LIST_FIELDS))


def fate(row: Row, number: int) -> tuple:
    """(number, outcome or 'recipient' or 'invalid', field, email) of a row."""
    if row.fields is not None:
        return (number, "recipient", None, row.email)
    return (number, (row.outcome or Outcome.INVALID).value, row.field, row.email)


# What the example files hold, endpoint by endpoint (the same endpoints in both files, one a
# line: in segment.json endpoint n is on line n, in segment.csv on line n + 1).
EXAMPLE_FATES = [
    (1, "recipient", None, "ana.silva@example.com"),
    (2, "skipped", "ChannelType", None),  # SMS: the phone number is not carried on
    (3, "recipient", None, "ben.okafor@example.com"),
    (4, "suppressed", "OptOut", "carla.diaz@example.com"),
    (5, "skipped", "ChannelType", None),  # APNS
    (6, "recipient", None, "Ana.Silva@example.com"),  # Prepare's dedupe makes it a duplicate
    (7, "recipient", None, "dev.patel@example.com"),
    (8, "skipped", "EndpointStatus", "eli.old@example.com"),
]


# --- detection -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["ChannelType", "Address", "User.UserId"], True),
        ([" ChannelType ", "Address"], True),  # CSV header cells are stripped
        (["Address", "User.UserId"], False),
        (["email", "ChannelType"], False),
        (["channeltype", "address"], False),  # Pinpoint's names are case-sensitive
        ({"ChannelType": "EMAIL", "Address": "a@example.com", "User": {}}, True),
    ],
)
def test_a_pinpoint_file_is_recognised_by_channel_type_and_address(keys, expected):
    assert is_segment(keys) is expected


# --- the example exports -----------------------------------------------------------------------


def test_example_csv_endpoints_and_their_fates():
    result = example("segment.csv")
    assert [row.line for row in result] == list(range(2, 10))
    assert [fate(row, row.line - 1) for row in result] == EXAMPLE_FATES


def test_example_json_lines_export_under_json_extension_is_detected():
    result = example("segment.json")
    assert [row.line for row in result] == list(range(1, 9))
    assert [fate(row, row.line) for row in result] == EXAMPLE_FATES


def test_csv_and_json_give_rules_and_templates_the_same_nested_names():
    by_csv = {row.line - 1: row.fields for row in example("segment.csv") if row.fields}
    by_json = {row.line: row.fields for row in example("segment.json") if row.fields}
    assert by_csv.keys() == by_json.keys() == {1, 3, 6, 7}
    for line, fields in by_csv.items():
        for name in ("User", "Attributes", "ChannelType", "Address", "Id", "OptOut", "EndpointStatus"):
            assert fields[name] == by_json[line][name], (line, name)
    ana = by_json[1]
    assert ana["User"] == {"UserId": "user-ana", "UserAttributes": {"FirstName": "Ana", "Tier": "gold"}}
    assert ana["Attributes"] == {"Interests": ["books", "music"]}  # more than one value: still a list
    assert ana["Location"] == {"City": "Lisbon", "Country": "PT"}
    assert ana["Metrics"] == {"orders": 12.0}
    assert by_csv[1]["Location"]["City"] == "Lisbon" and by_csv[1]["Demographic"]["Timezone"] == "Europe/Lisbon"
    assert by_csv[3]["Attributes"] == {"Interests": "books"}  # one value: a scalar


def test_reasons_name_the_channel_and_the_opt_out():
    reasons = {row.line: row.problem for row in example("segment.json") if row.fields is None}
    assert "SMS" in reasons[2] and "EMAIL" in reasons[2]
    assert "APNS" in reasons[5]
    assert "OptOut ALL" in reasons[4]
    assert "INACTIVE" in reasons[8]


def test_example_rows_land_in_the_segments_the_campaign_names():
    segments = {row.line: DEFINITION.segment_for(row.fields) for row in example("segment.json") if row.fields}
    assert segments == {
        1: ("gold_members", "pinpoint-offer"),
        3: ("book_readers", "pinpoint-newsletter"),
        6: ("gold_members", "pinpoint-offer"),
        7: ("default", "pinpoint-newsletter"),
    }


def test_example_templates_have_every_variable_for_every_example_recipient():
    templates = {
        path.stem: parse_template(path.read_bytes(), source=path.name)
        for path in (EXAMPLES / "templates").glob("*.json")
    }
    assert set(templates) == set(DEFINITION.templates_used())
    assert "User.UserAttributes.FirstName" in templates["pinpoint-offer"].required_variables()
    for name in ("segment.csv", "segment.json"):
        for row in example(name):
            if row.fields is None:
                continue
            segment, template = DEFINITION.segment_for(row.fields)
            data = merge_data(DEFINITION.segment_data(segment), row.fields, unsubscribe_url="https://u.example/x")
            assert missing_variables(templates[template], data) == [], (name, row.line)


# --- the mapping ---------------------------------------------------------------------------------


NESTED = {
    "ChannelType": "EMAIL",
    "Address": "ana@example.com",
    "User": {"UserId": "u-1", "UserAttributes": {"FirstName": ["Ana"], "Pets": ["cat", "dog"], "None": []}},
    "Attributes": {"Plan": ["pro"]},
    "Location": {"Country": "PT", "Latitude": 38.7},
}
DOTTED = {
    "ChannelType": "EMAIL",
    "Address": "ana@example.com",
    "User.UserId": "u-1",
    "User.UserAttributes.FirstName": ["Ana"],
    "User.UserAttributes.Pets": ["cat", "dog"],
    "User.UserAttributes.None": [],
    "Attributes.Plan": ["pro"],
    "Location.Country": "PT",
    "Location.Latitude": 38.7,
}
EXPECTED = {
    "ChannelType": "EMAIL",
    "Address": "ana@example.com",
    "User": {"UserId": "u-1", "UserAttributes": {"FirstName": "Ana", "Pets": ["cat", "dog"], "None": []}},
    "Attributes": {"Plan": "pro"},
    "Location": {"Country": "PT", "Latitude": 38.7},
}


@pytest.mark.parametrize("endpoint", [NESTED, DOTTED], ids=["nested", "dotted"])
def test_nested_and_dotted_json_map_to_the_same_fields(endpoint):
    mapped = read_endpoint(json.loads(json.dumps(endpoint)))
    assert mapped.fields == EXPECTED
    assert mapped.email == "ana@example.com" and mapped.outcome is None and mapped.reason is None


def test_dotted_and_nested_keys_in_one_object_are_merged():
    mapped = read_endpoint(
        {"ChannelType": "EMAIL", "Address": "a@example.com", "User": {"UserId": "u"}, "User.UserAttributes.X": ["1"]}
    )
    assert mapped.fields["User"] == {"UserId": "u", "UserAttributes": {"X": "1"}}


def test_keys_inside_an_object_are_names_not_paths():
    mapped = read_endpoint({"ChannelType": "EMAIL", "Address": "a@example.com", "Attributes": {"v1.2": ["x"]}})
    assert mapped.fields["Attributes"] == {"v1.2": "x"}


@pytest.mark.parametrize(
    ("endpoint", "field", "problem"),
    [
        ({"User": {"UserId": "u"}, "User.UserId": "v"}, "User.UserId", "twice"),
        ({"Location": "PT", "Location.Country": "PT"}, "Location", "twice"),
        ({"Location.Country": "PT", "Location": {"Country": "ES"}}, "Location.Country", "twice"),
        ({"User..UserId": "u"}, "User..UserId", "empty"),
    ],
)
def test_a_value_given_twice_or_a_broken_dotted_name_is_a_row_problem_naming_the_field(endpoint, field, problem):
    mapped = read_endpoint({"ChannelType": "EMAIL", "Address": "a@example.com", **endpoint})
    assert mapped.fields is None and mapped.outcome is None
    assert mapped.field == field and problem in mapped.reason and field in mapped.reason


def test_rules_see_pinpoint_names_with_eq_in_contains_and_numbers():
    fields = read_endpoint({**NESTED, "Metrics": {"orders": 4.0}}).fields
    assert FieldRule.model_validate({"field": "User.UserAttributes.FirstName", "eq": "Ana"}).matches(fields)
    assert FieldRule.model_validate({"field": "Attributes.Plan", "in": ["pro", "team"]}).matches(fields)
    assert FieldRule.model_validate({"field": "User.UserAttributes.Pets", "contains": "dog"}).matches(fields)
    assert not FieldRule.model_validate({"field": "User.UserAttributes.Pets", "eq": "dog"}).matches(fields)
    assert FieldRule.model_validate({"field": "Metrics.orders", "gte": 3}).matches(fields)
    assert FieldRule.model_validate({"field": "Location.City", "exists": False}).matches(fields)


# --- channels, opt-out, status -------------------------------------------------------------------


@pytest.mark.parametrize(
    "channel", ["SMS", "VOICE", "PUSH", "APNS", "APNS_SANDBOX", "APNS_VOIP", "GCM", "BAIDU", "ADM", "CUSTOM", "IN_APP"]
)
def test_endpoints_of_other_channels_are_skipped_naming_the_channel(channel):
    mapped = read_endpoint({"ChannelType": channel, "Address": "+12065550100", "OptOut": "NONE"})
    assert (mapped.fields, mapped.email, mapped.outcome, mapped.field) == (None, None, Outcome.SKIPPED, "ChannelType")
    assert channel in mapped.reason


def test_channel_is_compared_without_case_and_space():
    assert read_endpoint({"ChannelType": " email ", "Address": "a@example.com"}).fields is not None


@pytest.mark.parametrize("opt_out", ["ALL", "all", " All "])
def test_opted_out_email_endpoint_is_suppressed_with_its_address(opt_out):
    mapped = read_endpoint({"ChannelType": "EMAIL", "Address": "a@example.com", "OptOut": opt_out})
    assert (mapped.fields, mapped.email, mapped.outcome, mapped.field) == (
        None,
        "a@example.com",
        Outcome.SUPPRESSED,
        "OptOut",
    )


@pytest.mark.parametrize("opt_out", ["NONE", "", None])
def test_opt_out_none_or_absent_is_sent(opt_out):
    endpoint = {"ChannelType": "EMAIL", "Address": "a@example.com"}
    if opt_out is not None:
        endpoint["OptOut"] = opt_out
    assert read_endpoint(endpoint).email == "a@example.com"


@pytest.mark.parametrize("opt_out", ["YES", "SMS", True, ["ALL"]])
def test_an_opt_out_value_pinpoint_never_writes_is_invalid_never_sent(opt_out):
    mapped = read_endpoint({"ChannelType": "EMAIL", "Address": "a@example.com", "OptOut": opt_out})
    assert mapped.fields is None and mapped.outcome is None
    assert mapped.field == "OptOut" and "ALL or NONE" in mapped.reason


def test_opt_out_wins_over_inactive():
    mapped = read_endpoint(
        {"ChannelType": "EMAIL", "Address": "a@example.com", "OptOut": "ALL", "EndpointStatus": "INACTIVE"}
    )
    assert mapped.outcome is Outcome.SUPPRESSED


def test_an_sms_endpoint_that_opted_out_is_skipped_for_its_channel():
    mapped = read_endpoint({"ChannelType": "SMS", "Address": "+12065550100", "OptOut": "ALL"})
    assert mapped.outcome is Outcome.SKIPPED and mapped.field == "ChannelType"


@pytest.mark.parametrize(
    ("endpoint", "field"),
    [
        ({"Address": "a@example.com"}, "ChannelType"),
        ({"ChannelType": "", "Address": "a@example.com"}, "ChannelType"),
        ({"ChannelType": ["EMAIL"], "Address": "a@example.com"}, "ChannelType"),
        ({"ChannelType": "EMAIL"}, "Address"),
        ({"ChannelType": "EMAIL", "Address": ""}, "Address"),
        ({"ChannelType": "EMAIL", "Address": 42}, "Address"),
    ],
)
def test_missing_or_malformed_channel_or_address_is_invalid_naming_the_field(endpoint, field):
    mapped = read_endpoint(endpoint)
    assert (mapped.fields, mapped.outcome, mapped.field) == (None, None, field)
    assert mapped.reason


# --- reading files -------------------------------------------------------------------------------


def test_csv_bad_rows_keep_their_line_and_field():
    data = (
        b"ChannelType,Address,OptOut,User.UserAttributes.FirstName\n"
        b"EMAIL,a@example.com,NONE,Ann\n"  # 2
        b",b@example.com,NONE,Bob\n"  # 3: no channel
        b"EMAIL,,NONE,Cid\n"  # 4: no address
        b"EMAIL,d@example.com,MAYBE,Dee\n"  # 5: unknown OptOut
        b"EMAIL,e@example.com\n"  # 6: too few fields
    )
    result = rows(data, "segment.csv")
    assert [(r.line, r.field, r.outcome) for r in result[1:5]] == [
        (3, "ChannelType", None),
        (4, "Address", None),
        (5, "OptOut", None),
        (6, None, None),
    ]
    assert result[0].email == "a@example.com" and result[0].email_field == "Address"
    assert "fields" in result[4].problem


def test_json_lines_bad_lines_keep_their_line():
    data = (
        b'{"ChannelType": "EMAIL", "Address": "a@example.com"}\n'
        b"not json\n"
        b"\n"
        b'["EMAIL", "b@example.com"]\n'
        b'{"ChannelType": "EMAIL"}\n'
    )
    for name in ("segment.json", "segment.jsonl", "segment.ndjson"):
        result = rows(data, name)
        assert [(r.line, r.field) for r in result] == [(1, None), (2, None), (4, None), (5, "Address")], name
        assert "not valid JSON" in result[1].problem and "list" in result[2].problem


def test_json_array_of_endpoints():
    data = json.dumps([NESTED, {"ChannelType": "GCM", "Address": "token"}], indent=1).encode()
    first, second = rows(data, "segment.json")
    assert first.fields == EXPECTED and first.line == 2
    assert second.outcome is Outcome.SKIPPED and second.line > first.line


def test_single_endpoint_without_a_trailing_newline():
    (row,) = rows(b'  {"ChannelType": "EMAIL", "Address": "a@example.com"}', "segment.json")
    assert row.email == "a@example.com"


def test_plain_subscriber_files_are_unchanged():
    (row,) = rows(b"email,ChannelType\na@example.com,EMAIL\n", "list.csv")
    assert row.fields == {"email": "a@example.com", "ChannelType": "EMAIL"} and row.email_field == "email"
    with pytest.raises(AudienceError, match="array"):
        rows(b'{"email": "a@example.com"}\n', "list.json")  # JSON Lines only for a Pinpoint .json


def test_campaign_can_say_the_file_is_not_pinpoint():
    data = b"email,ChannelType,Address\na@example.com,SMS,+12065550100\n"
    (row,) = rows(data, "list.csv", pinpoint=False)
    assert row.email == "a@example.com" and row.fields["ChannelType"] == "SMS"


def test_campaign_can_insist_on_pinpoint_and_a_plain_csv_fails_naming_line_one():
    with pytest.raises(AudienceError) as info:
        rows(b"email,name\na@example.com,Ann\n", "list.csv", pinpoint=True)
    assert info.value.where == "list.csv: line 1"
    assert "ChannelType" in info.value.message and "Address" in info.value.message


def test_campaign_insisting_on_pinpoint_reads_json_rows_as_endpoints():
    result = rows(
        b'{"email": "a@example.com"}\n{"ChannelType": "EMAIL", "Address": "b@example.com"}\n', "x.json", pinpoint=True
    )
    assert [(r.line, r.field, r.email) for r in result] == [(1, "ChannelType", None), (2, None, "b@example.com")]


def test_detection_follows_the_first_object_of_a_json_array():
    data = json.dumps([{"email": "a@example.com", "ChannelType": "SMS"}, NESTED]).encode()
    plain, second = rows(data, "list.json")
    assert plain.email == "a@example.com" and plain.email_field == "email"
    # Read as a subscriber, whose email column may be Pinpoint's Address (issue 11).
    assert second.fields == NESTED and (second.email, second.email_field) == ("ana@example.com", "Address")


# --- memory --------------------------------------------------------------------------------------


def _json_lines(count: int) -> Iterator[bytes]:
    for index in range(count):
        channel = b"SMS" if index % 5 == 0 else b"EMAIL"
        yield (
            b'{"ChannelType":"%s","Address":"user%d@example.com","OptOut":"NONE",'
            b'"User":{"UserId":"u%d","UserAttributes":{"FirstName":["User"],"Interests":["a","b"]}}}\n'
            % (channel, index, index)
        )


def _csv(count: int) -> Iterator[bytes]:
    yield b"ChannelType,Address,OptOut,User.UserId,User.UserAttributes.FirstName,Attributes.Interests\n"
    for index in range(count):
        yield b"EMAIL,user%d@example.com,NONE,u%d,User,a;b\n" % (index, index)


@pytest.mark.parametrize(("pieces", "name"), [(_json_lines, "export.json"), (_csv, "export.csv")])
def test_peak_memory_does_not_grow_with_the_export(pieces, name):
    def peak(count: int) -> tuple[int, int, int]:
        stream = GeneratedStream(pieces(count))
        tracemalloc.start()
        try:
            read = sum(1 for _ in read_rows(stream, name=name, list_fields=["Attributes.Interests"]))
            return read, tracemalloc.get_traced_memory()[1], stream.size
        finally:
            tracemalloc.stop()

    small_rows, small_peak, small_size = peak(2_000)
    large_rows, large_peak, large_size = peak(20_000)
    assert (small_rows, large_rows) == (2_000, 20_000)
    assert large_size - small_size > 700_000
    assert large_peak - small_peak < (large_size - small_size) / 10, (small_peak, large_peak)
    assert large_peak < large_size / 2
