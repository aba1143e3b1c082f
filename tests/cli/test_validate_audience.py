"""`campaign validate` on an audience file, alone and with its campaign; counting alike with
preview (issue 11: validate counted 55 duplicates where preview and send counted 54); progress
lines on big files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from campaign_engine.config import Settings
from campaign_engine.services.prepare import Progress
from campaign_engine.services.preview import preview

from campaign_cli.commands import validate
from campaign_cli.main import main
from campaign_local.stack import LocalStack

CAMPAIGN = {
    "campaign_id": "members",
    "sender": {"address": "news@example.com"},
    "default_template_data": {"edition": "May"},
    "segments": [
        {"name": "fans", "rule": {"field": "band", "exists": True}, "template": "fans"},
        {"name": "readers", "rule": {"field": "Lieblingsbuch", "exists": True}, "template": "fans"},
    ],
}
TEMPLATES = {
    "fans": {"Subject": "{{first_name}}, the {{edition}} issue", "Text": "{{band}} {{city}} {{unsubscribe_url}}"}
}
# Line 2 is skipped (no band) and line 5 repeats its address: a duplicate of a skipped row, which
# the run, the preview and validate all count as a duplicate (first occurrence wins).
AUDIENCE = (
    "Email Address,First Name,Band,City\n"
    "ann@example.com,Ann,,Oslo\n"  # 2: skipped
    "bob@example.com,Bob,Muse,Bergen\n"  # 3: queued
    "not-an-address,Cy,Muse,Oslo\n"  # 4: invalid address
    "ANN@example.com,Ann again,Muse,Oslo\n"  # 5: duplicate of line 2
    "dee@example.com,,Muse,Oslo\n"  # 6: invalid: first_name empty, no default
    "eve@example.com,Eve,Muse,\n"  # 7: invalid: city empty
    "bob@example.com,Bob,Muse,Bergen\n"  # 8: duplicate of line 3
)


def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    campaign = tmp_path / "members.json"
    campaign.write_text(json.dumps(CAMPAIGN))
    templates = tmp_path / "templates"
    templates.mkdir()
    for name, content in TEMPLATES.items():
        (templates / f"{name}.json").write_text(json.dumps(content))
    audience = tmp_path / "members.csv"
    audience.write_text(AUDIENCE)
    return campaign, templates, audience


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["validate", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_validate_checks_an_audience_against_the_campaign_given_with_it(tmp_path, capsys) -> None:
    campaign, templates, audience = files(tmp_path)

    code, report = run(capsys, str(campaign), str(audience), "--templates", str(templates))

    assert code == 1  # invalid rows are problems
    checked = next(f for f in report["files"] if f["kind"] == "audience")
    assert checked["summary"] == {
        "rows": 7,
        "valid": 6,
        "invalid": 3,
        "duplicates": 2,
        "skipped": 1,
        "queued": {"fans": 1},
    }
    found = [(p["line"], p["field"]) for p in checked["problems"]]
    assert found == [(4, "Email Address"), (6, "first_name"), (7, "city")]
    assert "template 'fans'" in checked["problems"][1]["message"]
    assert checked["audience"]["format"] == "csv" and checked["audience"]["delimiter"] == ","
    assert checked["audience"]["columns"] == ["Email Address", "First Name", "Band", "City"]
    assert checked["audience"]["encoding"].startswith("utf-8") and checked["audience"]["compression"] is None
    (warning,) = checked["warnings"]
    assert "rule field 'Lieblingsbuch'" in warning and "segment 'readers'" in warning

    # As text: the summary, how the file was read, the warning and each problem with file:line.
    assert main(["validate", str(campaign), str(audience), "--templates", str(templates)]) == 1
    text = capsys.readouterr().out
    assert "read as csv" in text and "delimiter ','" in text and "columns: Email Address, First Name" in text
    assert "warning" in text and "Lieblingsbuch" in text
    assert f"{audience}:6: first_name:" in text


def test_an_audience_alone_counts_duplicates_as_with_its_campaign(tmp_path, capsys) -> None:
    campaign, templates, audience = files(tmp_path)

    _, alone = run(capsys, str(audience))
    (checked,) = alone["files"]
    assert checked["summary"] == {"rows": 7, "valid": 6, "invalid": 1, "duplicates": 2}
    assert checked["warnings"] == [] and checked["audience"]["columns"][0] == "Email Address"

    _, together = run(capsys, str(campaign), str(audience), "--templates", str(templates))
    assert next(f for f in together["files"] if f["kind"] == "audience")["summary"]["duplicates"] == 2


def test_validate_and_preview_count_duplicates_and_invalid_rows_alike(stack: LocalStack, tmp_path, capsys) -> None:
    campaign, templates, audience = files(tmp_path)
    stack.put_json("campaigns/members.json", CAMPAIGN)
    for name, content in TEMPLATES.items():
        stack.put_json(f"templates/{name}.json", content)
    settings = Settings.model_validate(stack.environment)

    with audience.open("rb") as stream:
        previewed = preview(settings, "members", stream, str(audience)).to_dict()
    _, validated = run(capsys, str(campaign), str(audience), "--templates", str(templates))
    summary = next(f for f in validated["files"] if f["kind"] == "audience")["summary"]

    assert previewed["totals"]["duplicate"] == summary["duplicates"] == 2
    assert previewed["totals"]["invalid"] == summary["invalid"] == 3
    assert previewed["totals"]["skipped"] == summary["skipped"] == 1
    assert previewed["totals"]["would_send"] == sum(summary["queued"].values()) == 1
    # The preview's JSON says how the file was read and what no column provides.
    assert previewed["audience"]["columns"] == ["Email Address", "First Name", "Band", "City"]
    assert len(previewed["warnings"]) == 1 and "Lieblingsbuch" in previewed["warnings"][0]


def test_progress_lines_at_each_tenth_of_a_big_file(tmp_path, capsys, monkeypatch) -> None:
    audience = tmp_path / "big.csv"
    with audience.open("w") as out:
        out.write("email,name\n")
        for index in range(40_000):
            out.write(f"user{index}@example.com,User {index}\n")
    monkeypatch.setattr(validate, "PROGRESS_MIN_BYTES", 100_000)
    # Every check may report: the file is read in well under the default half second.
    monkeypatch.setattr("campaign_engine.services.prepare.PROGRESS_SECONDS", 0.0)

    assert main(["validate", str(audience)]) == 0

    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith(str(audience))]
    shares = [line for line in lines if "% of the file" in line]
    assert 5 <= len(shares) <= 10, lines
    assert all("rows/s" in line for line in lines)
    assert "40,000 rows read" in lines[-1]


def test_progress_lines_report_each_tenth_once() -> None:
    written: list[str] = []
    lines = validate.ProgressLines("f.csv", 1000, written.append)
    for read in (50, 100, 150, 420, 430, 999):
        lines(Progress(rows=read, bytes_read=read, seconds=1.0))
    lines(Progress(rows=1000, bytes_read=1000, seconds=2.0, done=True))
    assert [line.split(": ")[1].split(",")[0] for line in written[:-1]] == [
        "10% of the file",
        "42% of the file",
        "100% of the file",
    ]
    assert written[-1] == "f.csv: 1,000 rows read in 2.0 s (500 rows/s)"
