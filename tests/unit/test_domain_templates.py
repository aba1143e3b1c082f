"""SES template content and the variables a row must provide."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from campaign_engine.domain.campaign import parse_definition
from campaign_engine.domain.errors import TemplateError
from campaign_engine.domain.templates import (
    TemplateContent,
    block_helpers,
    merge_data,
    missing_variables,
    parse_template,
    spell_variables,
    why_missing,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"


def needs(subject: str = "Hi", html: str | None = None, text: str | None = None) -> set[str]:
    return TemplateContent(
        Subject=subject, Html=html, Text=text or ("x" if html is None else None)
    ).required_variables()


# --- required variables --------------------------------------------------------------------------


def test_plain_variables_from_every_part():
    assert needs("Hello {{name}}", html="<p>{{ greeting }}</p>", text="{{footer}}") == {"name", "greeting", "footer"}


def test_triple_stash_and_ampersand_are_counted():
    assert needs(html="{{{raw_html}}} and {{{ spaced }}} and {{& amp}}") == {"raw_html", "spaced", "amp"}


def test_dotted_names_are_whole_paths():
    assert needs(text="{{address.city}} {{address.zip}}") == {"address.city", "address.zip"}


def test_a_missing_nested_value_is_missing_and_a_default_fills_it():
    content = TemplateContent(Subject="Hi {{User.UserAttributes.FirstName}}", Text="{{items.0}} {{plan}}")
    row = {"User": {"UserAttributes": {"LastName": "Lee"}}, "items": ["a"], "plan": "gold"}
    assert missing_variables(content, row) == ["User.UserAttributes.FirstName"]
    # Walking into text would render blank (issue 11, found 2): missing, not SES's to judge.
    assert missing_variables(content, {**row, "User": "not an object"}) == ["User.UserAttributes.FirstName"]
    shared = {"User": {"UserAttributes": {"FirstName": "friend"}}, "plan": "basic"}
    merged = merge_data(shared, row)
    assert merged["User"] == {"UserAttributes": {"FirstName": "friend", "LastName": "Lee"}}
    assert merged["plan"] == "gold" and missing_variables(content, merged) == []
    assert merge_data(shared, {"User": {"UserAttributes": {"FirstName": ""}}})["User"]["UserAttributes"] == {
        "FirstName": "friend"
    }


@pytest.mark.parametrize(
    "text",
    [
        "{{#if premium}}{{discount}}{{/if}}",
        "{{#each items}}{{title}} {{price}}{{/each}}",
        "{{#with address}}{{city}}{{/with}}",
        "{{#unless vip}}{{upsell}}{{/unless}}",
        "{{^items}}{{nothing}}{{/items}}",
        "{{#if a}}{{#each b}}{{c}}{{/each}}{{d}}{{/if}}",
        "{{#if a}}{{x}}{{else}}{{y}}{{/if}}",
    ],
)
def test_variables_inside_blocks_are_not_required(text):
    assert needs(text=text) == set()


def test_variables_after_a_block_closes_are_required_again():
    text = "{{#each items}}{{title}}{{/each}} {{name}} {{#if a}}{{#if b}}{{x}}{{/if}}{{/if}} {{after}}"
    assert needs(text=text) == {"name", "after"}


@pytest.mark.parametrize(
    "text",
    [
        "{{! a comment with {{name}}-like text }}",
        "{{!-- a long comment --}}",
        "{{this}}",
        "{{else}}",
        "{{@index}}",
        "{{../parent}}",
        "{{true}} {{false}} {{null}} {{undefined}}",
        "{{lookup table key}}",
        "{{}}",
    ],
)
def test_non_variables_are_ignored(text):
    assert needs(text=text) == set()


def test_comment_does_not_hide_the_variable_after_it():
    assert needs(text="{{! note }}Hi {{name}}") == {"name"}


def test_block_helpers():
    assert block_helpers("{{#if a}}{{/if}}{{#each b}}{{/each}}{{ #with c }}{{/with}}{{name}}") == {"if", "each", "with"}


# --- missing variables ---------------------------------------------------------------------------


def test_missing_variables_sorted_and_empty_values_count_as_missing():
    content = TemplateContent(Subject="{{b}} {{a}}", Text="{{c}} {{d}} {{e}}")
    assert missing_variables(content, {"a": "x", "b": "", "c": None, "d": 0, "e": False}) == ["b", "c"]
    assert missing_variables(content, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}) == []


# --- the recipe templates ------------------------------------------------------------------------

RECIPE_VARIABLES = {
    "welcome-campaign": {"name", "unsubscribe_url"},
    "product-promotion": {"name", "discount", "product_name", "expiry_date", "product_url", "unsubscribe_url"},
}


@pytest.mark.parametrize("name", sorted(RECIPE_VARIABLES))
def test_recipe_templates_require_exactly_the_recipe_variables(name):
    path = TEMPLATES / f"{name}.json"
    content = parse_template(path.read_bytes(), source=f"templates/{name}.json")
    assert content.required_variables() == RECIPE_VARIABLES[name]
    assert content.Html and content.Text


def test_every_template_the_recipe_uses_ships_in_the_repository():
    definition = parse_definition(
        (ROOT / "examples/recipe/campaign.json").read_bytes(), source="c", campaign_id="recipe"
    )
    shipped = {path.stem for path in TEMPLATES.glob("*.json")}
    assert set(definition.templates_used()) <= shipped


def test_recipe_rows_render_without_missing_variables():
    definition = parse_definition(
        (ROOT / "examples/recipe/campaign.json").read_bytes(), source="c", campaign_id="recipe"
    )
    subscribers = json.loads((ROOT / "examples/recipe/subscribers.json").read_text())
    for row in subscribers:
        segment, template = definition.segment_for(row)
        content = parse_template((TEMPLATES / f"{template}.json").read_bytes(), source=template)
        data = {**definition.segment_data(segment), **row, "unsubscribe_url": "https://u.example/x"}
        assert missing_variables(content, data) == [], (segment, template)
        # and without the engine's unsubscribe URL the check catches it
        assert missing_variables(content, {k: v for k, v in data.items() if k != "unsubscribe_url"}) == [
            "unsubscribe_url"
        ]


# --- parsing -------------------------------------------------------------------------------------


def test_parse_accepts_the_get_email_template_shape():
    raw = json.dumps({"TemplateName": "x", "TemplateContent": {"Subject": "Hi {{name}}", "Text": "Yo"}})
    content = parse_template(raw, source="templates/x.json")
    assert content.Subject == "Hi {{name}}" and content.Html is None


def test_parse_rejects_missing_html_and_text():
    with pytest.raises(TemplateError) as info:
        parse_template('{"Subject": "Hi"}', source="templates/x.json")
    assert info.value.where == "templates/x.json"
    assert "Html" in info.value.message and "Text" in info.value.message
    assert info.value.code == "template_error"


def test_parse_rejects_empty_html_and_text():
    with pytest.raises(TemplateError):
        parse_template('{"Subject": "Hi", "Html": "", "Text": ""}', source="t")


def test_parse_rejects_missing_subject():
    with pytest.raises(TemplateError) as info:
        parse_template('{"Html": "<p>x</p>"}', source="t")
    assert "Subject" in info.value.message


def test_parse_rejects_unknown_keys():
    with pytest.raises(TemplateError) as info:
        parse_template('{"Subject": "Hi", "Text": "x", "Body": "y"}', source="t")
    assert "Body" in info.value.message


@pytest.mark.parametrize("raw", [b"{oops", b"\xff\xfe", b"[]", b"null"])
def test_parse_rejects_non_objects_and_bad_json(raw):
    with pytest.raises(TemplateError) as info:
        parse_template(raw, source="templates/bad.json")
    assert info.value.where == "templates/bad.json"


def test_digest_changes_with_content_only():
    a = TemplateContent(Subject="Hi", Html="<p>x</p>", Text="x")
    same = parse_template(json.dumps({"Text": "x", "Html": "<p>x</p>", "Subject": "Hi"}), source="t")
    other = TemplateContent(Subject="Hi", Html="<p>x</p>", Text="y")
    assert a.digest() == same.digest()
    assert a.digest() != other.digest()
    assert len(a.digest()) == 64


# --- variables under the template's spelling (issue 11, found 2 and 3) ---------------------------


def test_referenced_variables_include_block_arguments_and_names_inside_if_but_not_each_items():
    content = TemplateContent(
        Subject="Hi {{name}}",
        Html="{{#if first_name}}{{first_name}}{{/if}}{{#each items}}{{title}}{{/each}}{{^nick}}-{{/nick}}"
        "{{#if (eq a b)}}x{{/if}}{{#with user}}{{age}}{{/with}}",
    )
    assert content.required_variables() == {"name"}
    assert content.referenced_variables() == {"name", "first_name", "items", "nick", "user"}


def test_first_name_template_variable_is_spelled_from_a_first_name_column():
    content = TemplateContent(Subject="Hi {{first_name}}", Text="{{#if last_name}}{{last_name}}{{/if}}")
    row = {"Email Address": "a@example.com", "First Name": "Ann", "Last Name": "Lee"}
    spelled = spell_variables(content.referenced_variables(), row)
    assert spelled == {**row, "first_name": "Ann", "last_name": "Lee"}
    assert row == {"Email Address": "a@example.com", "First Name": "Ann", "Last Name": "Lee"}  # not changed
    assert missing_variables(content, merge_data({}, spelled)) == []


def test_an_exact_spelling_is_left_alone_and_a_row_without_other_spellings_is_returned_as_is():
    row = {"name": "exact", "Name": "other"}
    assert spell_variables(frozenset({"name"}), row) is row
    assert spell_variables(frozenset({"NAME"}), row)["NAME"] == "exact"


def test_listmonk_attributes_are_spelled_nested_and_a_default_still_fills_an_empty_row_value():
    content = TemplateContent(Subject="Hello {{name}} on {{attributes.planet}}", Text="x")
    row = {"Name": "User One", "Attributes": {"Planet": "Mars", "plan": "pro"}}
    spelled = spell_variables(content.referenced_variables(), row)
    assert spelled["attributes"] == {"planet": "Mars"} and spelled["Attributes"] == row["Attributes"]
    assert spelled["name"] == "User One"
    empty = spell_variables(content.referenced_variables(), {"Name": "", "attributes": {"planet": "Venus"}})
    merged = merge_data({"name": "friend"}, empty)
    assert merged["name"] == "friend" and missing_variables(content, merged) == []


@pytest.mark.parametrize(
    ("row", "why"),
    [
        (
            {"name": "A", "attributes": "Mars"},
            "'attributes.planet' cannot be reached: 'attributes' is text, not an object",
        ),
        ({"name": "A", "attributes": 3}, "'attributes' is a number, not an object"),
        ({"name": "A", "attributes": ""}, "'attributes' is empty in this row"),
        ({"name": "A", "attributes": {"city": "Oslo"}}, "'attributes.planet' is not in this row"),
        ({"name": "A", "attributes": {"planet": ""}}, "'attributes.planet' is empty in this row"),
    ],
)
def test_a_variable_missing_empty_or_behind_a_non_object_is_missing_and_the_reason_names_it(row, why):
    content = TemplateContent(Subject="Hello {{name}} on {{attributes.planet}}", Text="x")
    spelled = spell_variables(content.referenced_variables(), row)
    merged = merge_data({}, spelled)
    assert missing_variables(content, merged) == ["attributes.planet"]
    assert why in why_missing(merged, "attributes.planet", spelled)
