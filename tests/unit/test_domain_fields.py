"""Field names as people write them: exact, ignoring case, by snake_case alias (domain.fields)."""

from __future__ import annotations

import string

import pytest
from campaign_engine.domain.fields import MISSING, alias, blocked_at, lookup, matches_column, resolve_key, snake_alias
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("First Name", "first_name"),
        ("FNAME", "fname"),
        ("Email Address", "email_address"),
        ("FirstName", "first_name"),
        ("MEMBER_RATING", "member_rating"),
        ("  Last-Name ", "last_name"),
        ("Prénom", "prénom"),
        ("User.UserAttributes.FirstName", "User.UserAttributes.FirstName"),  # dotted: as it is
    ],
)
def test_snake_alias(header: str, expected: str) -> None:
    assert snake_alias(header) == expected


def test_each_step_prefers_exact_then_case_then_alias() -> None:
    row = {"Name": "case", "name": "exact", "first_name_": "alias"}
    assert lookup(row, "name") == "exact"
    assert lookup(row, "NAME") == "case"  # no exact key: the first key equal ignoring case
    assert lookup({"First Name": "Ann"}, "first_name") == "Ann"
    assert lookup({"First Name": "Ann"}, "FIRSTNAME") == "Ann"
    assert lookup({"first-name": "Ann"}, "First_Name") == "Ann"


def test_colliding_keys_resolve_to_the_leftmost_column() -> None:
    assert lookup({"NAME": "left", "Name": "right"}, "name") == "left"
    assert lookup({"Name": "left", "NAME": "right"}, "name") == "left"
    assert lookup({"First Name": "left", "first-name": "right"}, "first_name") == "left"
    # An alias never beats a case-insensitive match, whatever the order.
    assert lookup({"first name": "alias", "FIRST_NAME": "case"}, "first_name") == "case"


def test_nested_paths_walk_objects_and_lists() -> None:
    row = {"Attributes": {"Planet": "Mars", "tags": ["a", "b"]}, "attributes_x": 1}
    assert lookup(row, "attributes.planet") == "Mars"
    assert lookup(row, "attributes.tags.1") == "b"
    assert lookup(row, "attributes.tags.9") is MISSING
    assert lookup(row, "attributes.moon") is MISSING
    assert lookup({"attributes": "Mars"}, "attributes.planet") is MISSING
    assert lookup({"a": None}, "a") is None  # a null value is a value, not missing


def test_a_flat_dotted_key_is_found_whole() -> None:
    row = {"User.UserAttributes.FirstName": "Ann", "Location": {"City": "Lisbon"}}
    assert lookup(row, "User.UserAttributes.FirstName") == "Ann"
    assert lookup(row, "user.userattributes.firstname") == "Ann"
    assert lookup(row, "location.city") == "Lisbon"


def test_resolve_key_caches_per_key_set_without_mixing_them() -> None:
    assert resolve_key({"Name": 1, "Email": 2}, "name") == "Name"
    assert resolve_key({"NAME": 1, "Email": 2}, "name") == "NAME"
    assert resolve_key({"Email": 2}, "name") is None


def test_blocked_at_names_the_value_that_is_not_an_object() -> None:
    assert blocked_at({"attributes": "text"}, "attributes.planet") == "attributes"
    assert blocked_at({"a": {"b": 3}}, "a.b.c") == "a.b"
    assert blocked_at({"a": {}}, "a.b.c") is None
    assert blocked_at({}, "a.b") is None


def test_matches_column_uses_the_same_rules() -> None:
    columns = ["Email Address", "First Name", "attributes", "User.UserAttributes.FirstName"]
    assert matches_column("first_name", columns)
    assert matches_column("FIRSTNAME", columns)
    assert matches_column("attributes.planet", columns)  # a JSON cell: its keys are per row
    assert matches_column("User.UserAttributes.FirstName", columns)
    assert matches_column("user.userattributes", columns)
    assert not matches_column("last_name", columns)
    assert not matches_column("User.UserAttributes.LastName", columns)


# --- property: any case or spacing variant of a header resolves to that header -------------------

_WORD = st.text(alphabet=string.ascii_letters + string.digits + "éøß", min_size=1, max_size=6)
_SEPARATOR = st.sampled_from([" ", "_", "-", "  ", " - "])


@st.composite
def header_and_variant(draw: st.DrawFn) -> tuple[list[str], str, str]:
    words = draw(st.lists(_WORD, min_size=1, max_size=3))
    header = draw(_SEPARATOR).join(words)
    others = draw(st.lists(st.text(alphabet=string.ascii_letters + " _", min_size=1, max_size=12), max_size=8))
    # Other columns must not answer the variant themselves, or the leftmost wins (tested above).
    others = [other for other in others if alias(other) != alias(header)]
    cased = [draw(st.sampled_from([word.lower(), word.upper(), word.title(), word])) for word in words]
    variant = draw(_SEPARATOR | st.just("")).join(cased)
    position = draw(st.integers(0, len(others)))
    return [*others[:position], header, *others[position:]], header, variant


@settings(max_examples=300, deadline=None)
@given(header_and_variant())
def test_any_case_or_spacing_variant_of_a_header_resolves_to_it(case: tuple[list[str], str, str]) -> None:
    columns, header, variant = case
    row = {column: f"value of {column}" for column in columns}
    assert lookup(row, variant) == f"value of {header}", (columns, variant)
    assert lookup(row, snake_alias(header)) == f"value of {header}"
