"""The segment rule language: parsing, validation messages and evaluation."""

from __future__ import annotations

import pytest
from campaign_engine.domain.rules import AllRule, AlwaysRule, AnyRule, FieldRule, NotRule, Rule
from campaign_engine.domain.validation import describe
from pydantic import TypeAdapter, ValidationError

ADAPTER = TypeAdapter(Rule)


def rule(document):
    return ADAPTER.validate_python(document)


def error_of(document) -> str:
    with pytest.raises(ValidationError) as info:
        rule(document)
    return describe(info.value)


# --- parsing picks the right kind ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "kind"),
    [
        ({"field": "a", "eq": 1}, FieldRule),
        ({"all": [{"always": True}]}, AllRule),
        ({"any": [{"always": True}]}, AnyRule),
        ({"not": {"always": True}}, NotRule),
        ({"always": True}, AlwaysRule),
    ],
)
def test_rule_kinds(document, kind):
    assert isinstance(rule(document), kind)


# --- each operator -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "row", "expected"),
    [
        # eq / ne with JSON values
        ({"field": "segment", "eq": "new_customers"}, {"segment": "new_customers"}, True),
        ({"field": "segment", "eq": "new_customers"}, {"segment": "loyal_customers"}, False),
        ({"field": "segment", "eq": "new_customers"}, {}, False),
        ({"field": "segment", "ne": "new_customers"}, {"segment": "loyal_customers"}, True),
        ({"field": "segment", "ne": "new_customers"}, {"segment": "new_customers"}, False),
        ({"field": "segment", "ne": "new_customers"}, {}, False),  # a missing field is not "not equal"
        ({"field": "orders", "eq": 3}, {"orders": 3}, True),
        ({"field": "orders", "eq": 3}, {"orders": 3.0}, True),
        ({"field": "orders", "eq": None}, {"orders": None}, True),
        # CSV text compared to numbers and booleans written in the rule
        ({"field": "orders", "eq": 3}, {"orders": "3"}, True),
        ({"field": "orders", "eq": 3}, {"orders": " 3.0 "}, True),
        ({"field": "orders", "eq": 3}, {"orders": "4"}, False),
        ({"field": "orders", "eq": 3}, {"orders": "three"}, False),
        ({"field": "orders", "eq": 2.5}, {"orders": "2.5"}, True),
        ({"field": "vip", "eq": True}, {"vip": "true"}, True),
        ({"field": "vip", "eq": True}, {"vip": "TRUE"}, True),
        ({"field": "vip", "eq": True}, {"vip": "false"}, False),
        ({"field": "vip", "eq": False}, {"vip": "False"}, True),
        ({"field": "vip", "eq": True}, {"vip": "yes"}, False),
        ({"field": "vip", "eq": True}, {"vip": True}, True),
        ({"field": "vip", "ne": True}, {"vip": "false"}, True),
        ({"field": "orders", "ne": 3}, {"orders": "3"}, False),
        # in
        ({"field": "country", "in": ["DE", "AT"]}, {"country": "AT"}, True),
        ({"field": "country", "in": ["DE", "AT"]}, {"country": "FR"}, False),
        ({"field": "country", "in": ["DE", "AT"]}, {}, False),
        ({"field": "tier", "in": [1, 2]}, {"tier": "2"}, True),
        ({"field": "tier", "in": [1, 2]}, {"tier": "3"}, False),
        ({"field": "tier", "in": []}, {"tier": "1"}, False),
        # contains: list membership or substring
        ({"field": "preferences", "contains": "books"}, {"preferences": ["electronics", "books"]}, True),
        ({"field": "preferences", "contains": "book"}, {"preferences": ["electronics", "books"]}, False),
        ({"field": "preferences", "contains": "books"}, {"preferences": []}, False),
        ({"field": "preferences", "contains": "books"}, {"preferences": "books;music"}, True),
        ({"field": "preferences", "contains": "sport"}, {"preferences": "books;music"}, False),
        ({"field": "scores", "contains": 3}, {"scores": ["1", "3"]}, True),
        ({"field": "scores", "contains": 3}, {"scores": 3}, False),  # not a list or a string
        ({"field": "preferences", "contains": "books"}, {}, False),
        # exists
        ({"field": "phone", "exists": True}, {"phone": "+49 1"}, True),
        ({"field": "phone", "exists": True}, {"phone": ""}, False),
        ({"field": "phone", "exists": True}, {"phone": None}, False),
        ({"field": "phone", "exists": True}, {}, False),
        ({"field": "phone", "exists": True}, {"phone": 0}, True),
        ({"field": "phone", "exists": True}, {"phone": []}, True),
        ({"field": "phone", "exists": False}, {}, True),
        ({"field": "phone", "exists": False}, {"phone": ""}, True),
        ({"field": "phone", "exists": False}, {"phone": "x"}, False),
        # numeric comparisons, including CSV text
        ({"field": "orders", "gt": 3}, {"orders": 4}, True),
        ({"field": "orders", "gt": 3}, {"orders": 3}, False),
        ({"field": "orders", "gte": 3}, {"orders": 3}, True),
        ({"field": "orders", "gte": 3}, {"orders": "2.99"}, False),
        ({"field": "orders", "lt": 3}, {"orders": "2"}, True),
        ({"field": "orders", "lt": 3}, {"orders": "3"}, False),
        ({"field": "orders", "lte": 3}, {"orders": " 3 "}, True),
        ({"field": "orders", "lte": 3}, {"orders": "1e1"}, False),
        ({"field": "orders", "gt": -1}, {"orders": "-0.5"}, True),
        ({"field": "orders", "gt": 3}, {"orders": "many"}, False),
        ({"field": "orders", "gt": 3}, {"orders": ""}, False),
        ({"field": "orders", "lt": 3}, {"orders": "nan"}, False),
        ({"field": "orders", "gt": 3}, {"orders": "inf"}, False),
        ({"field": "orders", "gt": 0}, {"orders": True}, False),  # a boolean is not a number
        ({"field": "orders", "gt": 0}, {"orders": [5]}, False),
        ({"field": "orders", "gt": 0}, {}, False),
        # always
        ({"always": True}, {}, True),
        ({"always": False}, {"x": 1}, False),
    ],
)
def test_operators(document, row, expected):
    assert rule(document).matches(row) is expected


def test_comparison_bound_given_as_text_is_a_number():
    parsed = rule({"field": "orders", "gte": "10"})
    assert parsed.matches({"orders": "10"})
    assert not parsed.matches({"orders": "9"})  # numeric, not text, comparison ("9" > "10" as text)


# --- dotted paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"address": {"country": "DE"}}, True),
        ({"address": {"country": "FR"}}, False),
        ({"address": {}}, False),
        ({"address": "DE"}, False),
        ({"address": None}, False),
        ({}, False),
    ],
)
def test_dotted_path(row, expected):
    assert rule({"field": "address.country", "eq": "DE"}).matches(row) is expected


def test_deep_dotted_path_with_exists():
    parsed = rule({"field": "a.b.c", "exists": True})
    assert parsed.matches({"a": {"b": {"c": 0}}})
    assert not parsed.matches({"a": {"b": {"c": ""}}})
    assert not parsed.matches({"a": {"b": {}}})
    assert rule({"field": "a.b.c", "exists": False}).matches({"a": 1})


# --- combinators ---------------------------------------------------------------------------------

NESTED = {
    "all": [
        {"field": "segment", "eq": "loyal_customers"},
        {"any": [{"field": "orders", "gte": 10}, {"field": "preferences", "contains": "electronics"}]},
        {"not": {"field": "country", "in": ["US", "CA"]}},
    ]
}


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"segment": "loyal_customers", "orders": "12", "preferences": [], "country": "DE"}, True),
        ({"segment": "loyal_customers", "orders": "2", "preferences": ["electronics"], "country": "DE"}, True),
        ({"segment": "loyal_customers", "orders": "2", "preferences": ["books"], "country": "DE"}, False),
        ({"segment": "loyal_customers", "orders": "12", "preferences": [], "country": "US"}, False),
        ({"segment": "new_customers", "orders": "12", "preferences": [], "country": "DE"}, False),
        ({"segment": "loyal_customers", "orders": "12"}, True),  # no country: not in US/CA
    ],
)
def test_nested_all_any_not(row, expected):
    assert rule(NESTED).matches(row) is expected


def test_double_negation():
    parsed = rule({"not": {"not": {"field": "x", "eq": "1"}}})
    assert parsed.matches({"x": "1"})
    assert not parsed.matches({"x": "2"})


def test_all_and_any_short_lists():
    yes, no = {"always": True}, {"always": False}
    assert rule({"all": [yes, yes]}).matches({})
    assert not rule({"all": [yes, no]}).matches({})
    assert rule({"any": [no, yes]}).matches({})
    assert not rule({"any": [no, no]}).matches({})


def test_rules_round_trip_through_json_by_alias():
    parsed = rule(NESTED)
    dumped = ADAPTER.dump_python(parsed, by_alias=True, exclude_unset=True)
    assert dumped == NESTED
    assert rule(dumped).matches({"segment": "loyal_customers", "orders": 11})


# --- validation messages -------------------------------------------------------------------------


def test_two_operators_named_in_the_message():
    message = error_of({"field": "segment", "eq": "a", "ne": "b"})
    assert "exactly one operator" in message
    assert "eq, ne" in message
    assert "segment" in message


def test_no_operator_says_none():
    message = error_of({"field": "segment"})
    assert "exactly one operator" in message and "none" in message


def test_unknown_key_is_named():
    message = error_of({"field": "segment", "equals": "a"})
    assert "equals" in message
    assert "Extra inputs are not permitted" in message


def test_unknown_key_next_to_a_combinator_is_named():
    message = error_of({"all": [{"always": True}], "field": "x"})
    assert "field" in message and "not permitted" in message


def test_error_location_points_into_nested_rules():
    message = error_of({"all": [{"always": True}, {"not": {"field": "x", "gt": "lots"}}]})
    assert message.startswith("all[1].not.gt:")


@pytest.mark.parametrize("document", ["segment == 'x'", 3, None, ["field", "eq"]])
def test_non_object_rule_is_explained(document):
    message = error_of(document)
    assert "a rule is an object" in message


def test_empty_combinators_rejected():
    assert "all" in error_of({"all": []})
    assert "any" in error_of({"any": []})


def test_empty_field_name_rejected():
    assert error_of({"field": "", "eq": 1}).startswith("field:")


def test_in_needs_a_list():
    assert error_of({"field": "c", "in": "DE"}).startswith("in:")


def test_exists_needs_a_boolean():
    assert error_of({"field": "c", "exists": "maybe"}).startswith("exists:")


def test_rules_are_immutable():
    parsed = rule({"field": "a", "eq": 1})
    with pytest.raises(ValidationError):
        parsed.eq = 2


# --- operands that can never match are refused at validation (issue 10, finding 10) -------------


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte", "in", "contains", "exists"])
def test_a_null_operand_is_refused_naming_the_field_and_operator(op):
    # Before: {"field": "age", "gt": null} validated, then Prepare raised TypeError comparing
    # the first numeric row with None.
    message = error_of({"field": "age", op: None})
    assert message == f"{op}: rule on field 'age': '{op}' needs a value, got null"


@pytest.mark.parametrize(
    ("bound", "shown"),
    [(True, "true"), ("NaN", "'NaN'"), (float("inf"), "inf"), ("1e999", "'1e999'"), ("ten", "'ten'")],
)
def test_a_bound_that_is_not_a_finite_number_is_refused(bound, shown):
    message = error_of({"field": "age", "gte": bound})
    assert "rule on field 'age'" in message and shown in message


def test_eq_and_ne_may_compare_with_null():
    assert rule({"field": "age", "eq": None}).matches({"age": None})
    assert rule({"field": "age", "ne": None}).matches({"age": 3})


def test_a_row_integer_beyond_float_range_compares_without_error():
    big = 10**400
    assert rule({"field": "age", "gt": 3}).matches({"age": big})
    assert not rule({"field": "age", "gt": 3}).matches({"age": -big})


# --- field names as files spell them (issue 11, found 3) -----------------------------------------


def test_a_rule_on_name_matches_sendys_name_column():
    sendy = {"Name": "Dr. Ada Lovelace", "Email": "ada@example.com"}
    assert rule({"field": "name", "contains": "Dr."}).matches(sendy)
    assert rule({"field": "NAME", "exists": True}).matches(sendy)
    assert not rule({"field": "name", "contains": "Prof."}).matches(sendy)


def test_a_rule_finds_a_column_by_its_snake_case_alias_and_nested_keys_ignoring_case():
    mailchimp = {"Email Address": "a@example.com", "First Name": "Ann", "MEMBER_RATING": "4"}
    assert rule({"field": "first_name", "eq": "Ann"}).matches(mailchimp)
    assert rule({"field": "member_rating", "gte": 3}).matches(mailchimp)
    listmonk = {"attributes": {"Planet": "Mars"}}
    assert rule({"field": "Attributes.planet", "eq": "Mars"}).matches(listmonk)
    assert rule({"field": "attributes.moon", "exists": False}).matches(listmonk)


def test_an_exact_key_wins_over_other_spellings():
    row = {"Name": "from Name", "name": "from name"}
    assert rule({"field": "name", "eq": "from name"}).matches(row)
    assert rule({"field": "NAME", "eq": "from Name"}).matches(row)  # no exact key: the first by case


def test_rule_fields_lists_every_field_a_rule_reads():
    parsed = rule(
        {
            "all": [
                {"field": "a", "eq": 1},
                {"any": [{"field": "b.c", "exists": True}, {"not": {"field": "d", "eq": 2}}]},
            ]
        }
    )
    assert parsed.fields() == {"a", "b.c", "d"}
    assert rule({"always": True}).fields() == set()
