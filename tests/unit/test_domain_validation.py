"""Validation errors name the line of the field they are about."""

from __future__ import annotations

import json

import pytest
from campaign_engine.domain.campaign import CampaignDefinition
from campaign_engine.domain.validation import json_positions, line_of, problems
from campaign_engine.services.start import campaign_of_run, upload_run_id
from pydantic import ValidationError

TEXT = """{
  "a": 1,
  "list": [
    {"x": "first"},
    {
      "x": "second",
      "tricky": "a \\"quoted\\" } ] , value"
    }
  ],
  "empty": {}, "none": []
}"""


def test_every_value_has_its_line():
    positions = json_positions(TEXT)
    lines = {path: TEXT.count("\n", 0, offset) + 1 for path, offset in positions.items()}
    assert lines[()] == 1 and lines[("a",)] == 2 and lines[("list",)] == 3
    assert lines[("list", 0, "x")] == 4 and lines[("list", 1)] == 5 and lines[("list", 1, "tricky")] == 7
    assert lines[("empty",)] == lines[("none",)] == 10
    assert json.loads(TEXT)["list"][1]["tricky"].startswith("a ")


def test_a_missing_field_points_at_its_parent():
    positions = json_positions(TEXT)
    assert line_of(TEXT, positions, ("list", 1, "missing")) == 5
    assert line_of(TEXT, positions, ("nowhere",)) == 1


def test_a_definition_error_is_placed_on_its_line():
    document = {"sender": {"address": "a@example.com"}, "default_template": "t", "send_rate_share": 7}
    text = json.dumps(document, indent=2)
    with pytest.raises(ValidationError) as caught:
        CampaignDefinition.model_validate(document)
    ((loc, field, _),) = problems(caught.value)
    assert field == "send_rate_share" and line_of(text, json_positions(text), loc) == 6


def test_run_ids_name_their_campaign():
    run_id = upload_run_id("spring-sale_2", "incoming/spring-sale_2/list.csv", '"abc"')
    assert run_id == upload_run_id("spring-sale_2", "incoming/spring-sale_2/list.csv", "abc")  # quotes or not
    assert campaign_of_run(run_id) == "spring-sale_2"
    assert campaign_of_run("weekly-s-20261123T090000Z") == "weekly"
    assert campaign_of_run("not a run id") is None and campaign_of_run("x-u-short") is None


def test_positions_of_a_text_nested_as_deeply_as_json_allows():
    # Issue 10, finding 9: the recursive walk raised RecursionError past ~990 levels.
    levels = 5_000
    text = '{"a": ' * levels + "1" + "}" * levels
    positions = json_positions(text)
    assert len(positions) == levels + 1
    assert positions[("a",) * levels] == text.index("1")


def test_depth_of_a_value_and_of_a_text_agree():
    from campaign_engine.domain.validation import too_deep, too_deep_in_text

    text = '{"k": [1, {"m": [[["x"]]]}], "n": 2}'
    assert too_deep(json.loads(text), 4) == ("k", 1, "m", 0)
    offset, path = too_deep_in_text(text, 4)
    assert path == ("k", 1, "m", 0) and text[offset:].startswith('[["x"]]]')
    assert too_deep(json.loads(text), 6) is None and too_deep_in_text(text, 6) is None
