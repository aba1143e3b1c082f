"""`campaign validate` on a file too deep for json to decode: a problem with line and field, exit 1."""

from __future__ import annotations

import json

from campaign_cli.main import main


def test_a_definition_nested_20000_levels_deep_is_a_problem_with_its_line_and_field(tmp_path, capsys) -> None:
    path = tmp_path / "deep.json"
    deep = "[" * 20000 + "]" * 20000
    path.write_text('{\n  "campaign_id": "deep",\n  "default_template_data": {"a": ' + deep + "}}\n")

    code = main(["--json", "validate", str(path)])

    assert code == 1
    (result,) = json.loads(capsys.readouterr().out)["files"]
    (problem,) = result["problems"]
    assert problem["line"] == 3
    assert problem["field"].startswith("default_template_data.a[0][0]")
    assert "nested more than 32 levels deep" in problem["message"]
