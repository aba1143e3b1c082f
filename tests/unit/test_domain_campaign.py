"""Campaign definitions: parsing, validation messages and segment selection."""

from __future__ import annotations

import copy
import email.utils
import json
from pathlib import Path

import pytest
from campaign_engine.domain.campaign import (
    DEFAULT_SEGMENT,
    CampaignDefinition,
    check_campaign_id,
    parse_definition,
)
from campaign_engine.domain.errors import DefinitionError

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "examples" / "recipe" / "campaign.json"
SOURCE = "campaigns/recipe.json"


def recipe() -> dict:
    return json.loads(RECIPE.read_text(encoding="utf-8"))


def parse(document, *, campaign_id: str = "recipe") -> CampaignDefinition:
    raw = document if isinstance(document, (str, bytes)) else json.dumps(document)
    return parse_definition(raw, source=SOURCE, campaign_id=campaign_id)


def definition_error(document, *, campaign_id: str = "recipe") -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        parse(document, campaign_id=campaign_id)
    return info.value


def minimal(**extra) -> dict:
    document = {
        "sender": {"address": "news@example.com"},
        "segments": [{"name": "all", "rule": {"always": True}, "template": "welcome"}],
    }
    document.update(extra)
    return document


# --- the example ---------------------------------------------------------------------------------


def test_recipe_example_parses():
    definition = parse(RECIPE.read_bytes())
    assert definition.campaign_id == "recipe"
    assert definition.sender.address == "marketing@example.com"
    assert definition.reply_to == ["support@example.com"]
    assert [s.name for s in definition.segments] == ["new_customers", "loyal_customers"]
    assert definition.templates_used() == ["product-promotion", "welcome-campaign"]
    assert definition.segment_names() == ["new_customers", "loyal_customers"]
    assert definition.unmatched == "skip"
    assert definition.send_rate_share == 0.8
    assert definition.tags == {"source": "recipe"}


def test_recipe_segments_route_the_recipe_subscribers():
    definition = parse(RECIPE.read_bytes())
    subscribers = json.loads((ROOT / "examples" / "recipe" / "subscribers.json").read_text())
    routed = [definition.segment_for(row) for row in subscribers]
    assert routed == [
        ("new_customers", "welcome-campaign"),
        ("loyal_customers", "product-promotion"),
        ("new_customers", "welcome-campaign"),
    ]
    assert definition.segment_for({"segment": "someone_else"}) is None


def test_recipe_segment_data_merges_defaults_then_segment():
    definition = parse(RECIPE.read_bytes())
    loyal = definition.segment_data("loyal_customers")
    assert loyal["name"] == "Valued Customer"
    assert loyal["discount"] == "20" and loyal["product_name"] == "Smart Watch"
    assert definition.segment_data("new_customers") == {"name": "Valued Customer"}
    assert definition.segment_data("no_such_segment") == {"name": "Valued Customer"}


def test_segment_data_overrides_default_data():
    definition = parse(
        minimal(
            default_template_data={"name": "Friend", "colour": "blue"},
            segments=[{"name": "s", "rule": {"always": True}, "template": "t", "data": {"colour": "red"}}],
        )
    )
    assert definition.segment_data("s") == {"name": "Friend", "colour": "red"}


# --- file and field named in errors -------------------------------------------------------------


def test_invalid_json_names_the_file():
    error = definition_error(b"{not json")
    assert error.where == SOURCE
    assert "not valid JSON" in error.message
    assert error.code == "invalid_campaign_definition"
    assert str(error).startswith(f"{SOURCE}: ")


def test_not_utf8_names_the_file():
    error = definition_error(b'{"sender": "\xff"}')
    assert error.where == SOURCE


@pytest.mark.parametrize("document", ["[]", '"x"', "3", "null"])
def test_non_object_document(document):
    error = definition_error(document)
    assert "JSON object" in error.message and error.where == SOURCE


def test_unknown_top_level_key_is_named():
    document = recipe()
    document["sendr"] = {"address": "x@example.com"}
    error = definition_error(document)
    assert error.where == SOURCE
    assert "sendr" in error.message
    assert "Extra inputs are not permitted" in error.message


def test_unknown_key_in_a_segment_names_its_position():
    document = recipe()
    document["segments"][1]["templte"] = "x"
    error = definition_error(document)
    assert "segments[1].templte" in error.message


def test_invalid_rule_in_a_segment_names_its_position():
    document = recipe()
    document["segments"][0]["rule"] = {"field": "segment", "eq": "a", "in": ["b"]}
    error = definition_error(document)
    assert "segments[0].rule" in error.message
    assert "exactly one operator" in error.message


def test_missing_sender_is_named():
    document = recipe()
    del document["sender"]
    assert "sender" in definition_error(document).message


def test_duplicate_segment_names():
    document = recipe()
    document["segments"].append(copy.deepcopy(document["segments"][0]))
    error = definition_error(document)
    assert "unique" in error.message and "new_customers" in error.message


def test_unmatched_default_needs_default_template():
    document = minimal(unmatched="default")
    error = definition_error(document)
    assert "default_template" in error.message


def test_no_segments_needs_unmatched_default():
    error = definition_error(minimal(segments=[]))
    assert "no segments" in error.message


def test_no_segments_with_default_sends_everyone_the_default():
    definition = parse(minimal(segments=[], unmatched="default", default_template="welcome"))
    assert definition.segment_for({"anything": 1}) == (DEFAULT_SEGMENT, "welcome")
    assert definition.segment_names() == [DEFAULT_SEGMENT]
    assert definition.templates_used() == ["welcome"]


def test_segment_named_default_is_reserved_when_unmatched_is_default():
    document = minimal(
        unmatched="default",
        default_template="welcome",
        segments=[{"name": DEFAULT_SEGMENT, "rule": {"always": True}, "template": "t"}],
    )
    assert "reserved" in definition_error(document).message


@pytest.mark.parametrize("name", ["campaign", "run", "segment"])
def test_reserved_tag_names(name):
    error = definition_error(minimal(tags={name: "x"}))
    assert "tags" in error.message and name in error.message and "reserved" in error.message


@pytest.mark.parametrize(
    "tags", [{"has space": "x"}, {"ok": "a/b"}, {"ok": ""}, {"": "x"}, {"ok": "ü"}, {"ok": "x" * 257}]
)
def test_bad_tag_characters(tags):
    error = definition_error(minimal(tags=tags))
    assert error.message.startswith("tags:")


def test_good_tags_kept():
    assert parse(minimal(tags={"team-a": "Q3_promo", "x": "y" * 256})).tags["team-a"] == "Q3_promo"


@pytest.mark.parametrize("address", ["not-an-address", "a@b", "", "a @example.com"])
def test_invalid_sender(address):
    error = definition_error(minimal(sender={"address": address}))
    assert error.message.startswith("sender.address:")
    assert "sender address is not valid" in error.message


def test_invalid_reply_to():
    error = definition_error(minimal(reply_to=["ok@example.com", "nope"]))
    assert error.message.startswith("reply_to:")


def test_sender_and_reply_to_are_normalised():
    definition = parse(minimal(sender={"address": " News@Example.COM "}, reply_to=["Help@Example.com"]))
    assert definition.sender.address == "news@example.com"
    assert definition.reply_to == ["help@example.com"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("send_rate_share", 0),
        ("send_rate_share", 1.5),
        ("unmatched", "send"),
        ("configuration_set", "has space"),
        ("default_template", "../etc"),
        ("reply_to", [f"r{i}@example.com" for i in range(11)]),
    ],
)
def test_field_constraints_name_the_field(field, value):
    error = definition_error(minimal(**{field: value}))
    assert error.message.startswith(f"{field}:")


@pytest.mark.parametrize("template", ["../x", "a b", "", "x" * 65])
def test_segment_template_name_pattern(template):
    document = minimal(segments=[{"name": "s", "rule": {"always": True}, "template": template}])
    assert "segments[0].template" in definition_error(document).message


def test_campaign_id_mismatch_names_the_field():
    error = definition_error(recipe(), campaign_id="other")
    assert error.where == f"{SOURCE}: campaign_id"
    assert "recipe" in error.message and "other" in error.message


def test_campaign_id_may_be_omitted():
    document = recipe()
    del document["campaign_id"]
    assert parse(document, campaign_id="anything").campaign_id is None


def test_several_problems_reported_together():
    document = minimal(sendr=1, send_rate_share=2)
    message = definition_error(document).message
    assert "sendr" in message and "send_rate_share" in message


# --- campaign ids --------------------------------------------------------------------------------


@pytest.mark.parametrize("campaign_id", ["recipe", "a", "0-weekly_news", "x" * 48])
def test_good_campaign_ids(campaign_id):
    assert check_campaign_id(campaign_id, where="here") == campaign_id


@pytest.mark.parametrize("campaign_id", ["", "Recipe", "-x", "_x", "a b", "a/b", "x" * 49, "ä", "a.json"])
def test_bad_campaign_ids(campaign_id):
    with pytest.raises(DefinitionError) as info:
        check_campaign_id(campaign_id, where="incoming/x/file.csv")
    assert info.value.where == "incoming/x/file.csv"


# --- segment selection ---------------------------------------------------------------------------


def test_segment_for_first_match_wins():
    definition = parse(
        minimal(
            segments=[
                {"name": "vip", "rule": {"field": "orders", "gte": 10}, "template": "vip"},
                {"name": "regular", "rule": {"field": "orders", "gte": 1}, "template": "regular"},
                {"name": "everyone", "rule": {"always": True}, "template": "welcome"},
            ]
        )
    )
    assert definition.segment_for({"orders": "12"}) == ("vip", "vip")
    assert definition.segment_for({"orders": "3"}) == ("regular", "regular")
    assert definition.segment_for({"orders": "0"}) == ("everyone", "welcome")
    assert definition.segment_for({}) == ("everyone", "welcome")


def test_segment_for_default_fallback_and_skip():
    segments = [{"name": "de", "rule": {"field": "country", "eq": "DE"}, "template": "german"}]
    skip = parse(minimal(segments=segments))
    default = parse(minimal(segments=segments, unmatched="default", default_template="english"))
    assert skip.segment_for({"country": "DE"}) == ("de", "german")
    assert skip.segment_for({"country": "FR"}) is None
    assert default.segment_for({"country": "DE"}) == ("de", "german")
    assert default.segment_for({"country": "FR"}) == (DEFAULT_SEGMENT, "english")
    assert default.segment_names() == ["de", DEFAULT_SEGMENT]
    assert default.templates_used() == ["english", "german"]


def test_default_template_not_used_when_unmatched_is_skip():
    definition = parse(minimal(default_template="english"))
    assert definition.templates_used() == ["welcome"]
    assert definition.segment_for({}) == ("all", "welcome")


# --- sender header -------------------------------------------------------------------------------


def test_sender_header_without_name_is_the_address():
    assert parse(minimal()).sender_header() == "news@example.com"


def test_sender_header_with_display_name():
    definition = parse(recipe())
    assert definition.sender_header() == "The Marketing Team <marketing@example.com>"


def test_sender_header_quotes_a_name_with_a_comma():
    header = parse(minimal(sender={"address": "john@example.com", "name": "Doe, John"})).sender_header()
    assert header == '"Doe, John" <john@example.com>'
    assert email.utils.getaddresses([header]) == [("Doe, John", "john@example.com")]


def test_sender_header_escapes_quotes_in_the_name():
    header = parse(minimal(sender={"address": "a@example.com", "name": 'The "Best" Shop'})).sender_header()
    assert email.utils.parseaddr(header) == ('The "Best" Shop', "a@example.com")


def test_sender_header_encodes_a_non_ascii_name():
    header = parse(minimal(sender={"address": "team@example.com", "name": "Café Zoë"})).sender_header()
    assert header.isascii()
    import email.header

    name, address = email.utils.parseaddr(header)
    assert address == "team@example.com"
    assert str(email.header.make_header(email.header.decode_header(name))) == "Café Zoë"


def test_a_rule_with_a_null_bound_is_refused_naming_the_segment_and_field():
    """Issue 10, finding 10: it used to pass validation and raise TypeError in Prepare."""
    document = minimal(segments=[{"name": "adults", "rule": {"field": "age", "gt": None}, "template": "welcome"}])
    error = definition_error(document)
    assert error.where == SOURCE
    assert error.message == "segments[0].rule.gt: rule on field 'age': 'gt' needs a value, got null"


@pytest.mark.parametrize("levels", [40, 900, 20_000, 50_000])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_definition_nested_too_deeply_names_the_line_and_field(levels, encoding):
    """Issue 10, finding 9: 20,000 levels raised RecursionError out of the parser."""
    text = json.dumps(minimal(), indent=2)[:-2] + ',\n  "default_template_data": {"x": ' + "[" * levels
    text += "]" * levels + "}\n}"
    error = definition_error(text.encode(encoding))
    assert error.where == f"{SOURCE}: line {text.count(chr(10))}"  # the last line but one
    assert error.message == "default_template_data.x" + "[0]" * 30 + ": nested more than 32 levels deep"


def test_a_model_nested_too_deeply_is_a_validation_error_not_a_recursion_error():
    from pydantic import ValidationError

    document = minimal()
    rule: dict = {"always": True}
    for _ in range(5_000):
        rule = {"not": rule}
    document["segments"][0]["rule"] = rule
    with pytest.raises(ValidationError, match="nested more than 32 levels deep"):
        CampaignDefinition.model_validate(document)


@pytest.mark.parametrize("campaign_id", [None, 5, ["recipe"], {"a": 1}])
def test_a_campaign_id_that_is_not_text_is_a_definition_error(campaign_id):
    # Found by tests/fuzz: a scheduler event with a list as campaign_id raised TypeError.
    with pytest.raises(DefinitionError, match="campaign id must be text") as info:
        check_campaign_id(campaign_id, where="schedule input: campaign_id")
    assert info.value.where == "schedule input: campaign_id"
