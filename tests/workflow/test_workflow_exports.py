"""The files people bring, each through `make demo CAMPAIGN=... AUDIENCE=... TEMPLATES=...`.

Every example under examples/ is written after its tool's documented export format (sources in
examples/README.md), with a campaign whose rules and templates name the tool's OWN columns. Each
goes through campaign_local.demo's ``main`` (what `make demo` runs) on the local stack: the real
handlers, the real state machine, the local SES. Asserted from the report, the rejects and the
messages the local SES rendered: every row has one outcome, each recipient's Subject and text
carry their own values (decoded right: "Zoë", not "ZoÃ«"), a row missing a required variable is
`invalid` naming it, and an empty optional field (inside ``{{#if}}``) stops nothing.

``--quick`` keeps each run to one send and its report (no unsubscribe, no follow-up): about 7 s
an example here.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from campaign_engine.domain.outcomes import OUTCOMES

from campaign_local import demo

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@dataclass(frozen=True)
class Message:
    """What one recipient must receive: segment, exact Subject, fragments of the text part."""

    segment: str
    subject: str
    text: tuple[str, ...] = ()
    not_text: tuple[str, ...] = ()


@dataclass(frozen=True)
class Example:
    folder: str
    audience: str
    rows: int
    outcomes: dict[str, int]
    messages: dict[str, Message]
    invalid: dict[int, str]  # line -> the variable the reject must name
    duplicate_lines: tuple[int, ...]
    # How the reader must say it read the file (compared when Prepare reports it).
    read_as: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.folder}/{self.audience}"


MAILCHIMP = Example(
    folder="mailchimp",
    audience="subscribed_members_export.csv",
    rows=6,
    outcomes={"sent": 4, "invalid": 1, "duplicate": 1},
    messages={
        # The first VIP row has an empty TIMEZONE: optional ({{#if}}), so it neither stops the
        # run nor renders a blank.
        "zoe.lefevre@example.com": Message(
            "vip",
            "Zoë, a thank-you for our VIP members",
            text=("Dear Zoë Lefèvre, thank you",),
            not_text=("time zone",),
        ),
        "jonas.mueller@example.com": Message(
            "vip",
            "Jonas, a thank-you for our VIP members",
            text=("Dear Jonas Müller,", "in your time zone (Europe/Berlin)"),
        ),
        "anders.angstrom@example.com": Message(
            "regulars", "Anders, your November newsletter", text=("Hello Anders, here is the November newsletter",)
        ),
        "priya.natarajan@example.com": Message("default", "Priya, your November newsletter"),
    },
    invalid={5: "first_name"},
    duplicate_lines=(6,),
    read_as={"format": "csv", "delimiter": ",", "email_column": "Email Address"},
)

LISTMONK = Example(
    folder="listmonk",
    audience="subscribers.csv",
    rows=6,
    outcomes={"sent": 3, "invalid": 2, "duplicate": 1},
    messages={
        "user1@example.com": Message(
            "pro", "User One, your pro plan on Mars", text=("covers Mars. Our Bengaluru office says hi.",)
        ),
        "user2@example.com": Message("default", "Hello Søren Ångström on Jupiter"),
        "user5@example.com": Message("default", "Hello Zoë Five on Earth", text=("everyone on Earth.",)),
    },
    # No planet in the attributes object; an empty attributes cell (no object to walk into).
    invalid={4: "attributes.planet", 5: "attributes.planet"},
    duplicate_lines=(6,),
    read_as={"format": "csv", "delimiter": ",", "email_column": "email"},
)

SENDY = Example(
    folder="sendy",
    audience="subscribers.csv",
    rows=5,
    outcomes={"sent": 3, "invalid": 1, "duplicate": 1},
    messages={
        "zoe.martin@example.com": Message("default", "Hello Zoë Martin, this month's news"),
        # The rule says `name`, the file says `Name`.
        "jonas.mueller@example.com": Message("doctors", "Dear Dr. Jonas Müller, this month's news"),
        "ana.angstrom@example.com": Message("default", "Hello Ana Ångström, this month's news"),
    },
    invalid={4: "name"},
    duplicate_lines=(5,),
    read_as={"format": "csv", "delimiter": ",", "email_column": "Email"},
)

PINPOINT_MULTIVALUE = Example(
    folder="pinpoint-multivalue",
    audience="segment.csv",
    rows=7,
    outcomes={"sent": 3, "suppressed": 1, "skipped": 1, "duplicate": 1, "invalid": 1},
    messages={
        "ana.silva@example.com": Message(
            "book_readers", "Ana, new books for our gold members", text=("Pick them up in Lisbon.",)
        ),
        # Björn's interests are one value in three repeated columns: music, not books.
        "bjorn.angstrom@example.com": Message("music_lovers", "Björn, concerts near Malmö"),
        # "books" is Chloé's third Attributes.Interests column: a repeated header is a list.
        "chloe.muller@example.com": Message(
            "book_readers", "Chloé, new books for our silver members", not_text=("Pick them up",)
        ),
    },
    invalid={8: "User.UserAttributes.FirstName"},
    duplicate_lines=(7,),
    read_as={"format": "csv", "delimiter": ","},
)


def excel(audience: str, read_as: dict[str, Any], price: str) -> Example:
    """One list, as a European Excel saves it in four ways; the German header's email column is
    named in the campaign's audience.columns."""
    return Example(
        folder="excel",
        audience=audience,
        rows=6,
        outcomes={"sent": 4, "invalid": 1, "duplicate": 1},
        messages={
            "zoe.lefevre@example.de": Message(
                "premium", "Zoë Lefèvre, Ihr Premium-Tarif", text=(f"kostet {price} im Monat",)
            ),
            # The first row of the default segment has no Ort (optional, inside {{#if}}).
            "anders.angstrom@example.se": Message(
                "default", "Hallo Anders, willkommen!", text=("Hallo Anders Ångström,",), not_text=("Grüße",)
            ),
            "jonas.mueller@example.de": Message(
                "default", "Hallo Jonas, willkommen!", text=("Hallo Jonas Müller,", "Viele Grüße nach München!")
            ),
            "francoise.gerard@example.fr": Message("premium", "Françoise Gérard, Ihr Premium-Tarif"),
        },
        invalid={5: "Vorname"},
        duplicate_lines=(6,),
        read_as={"format": "csv", "email_column": "email", **read_as},
    )


EXAMPLES_UNDER_TEST = [
    MAILCHIMP,
    LISTMONK,
    SENDY,
    PINPOINT_MULTIVALUE,
    excel("latin1.csv", {"encoding": ("iso8859-1", "latin-1", "cp1252"), "delimiter": ","}, "9,90 EUR"),
    excel("cp1252-semicolon.csv", {"encoding": ("cp1252",), "delimiter": ";"}, "9,90 €"),
    excel("utf16-tab.txt", {"encoding": ("utf-16", "utf-16-le"), "delimiter": "\t"}, "9,90 €"),
    excel("subscribers.csv.gz", {"compression": "gzip", "encoding": ("utf-8-sig",), "delimiter": ","}, "9,90 €"),
]


@dataclass
class DemoRun:
    code: int
    printed: str
    report: dict[str, Any]
    messages: list[dict[str, Any]]
    rejects: list[dict[str, Any]]


@pytest.fixture(scope="module")
def demo_runs() -> dict[str, DemoRun]:
    """Each example's demo run, made once and shared by the checks below."""
    return {}


def run_demo(example: Example, runs: dict[str, DemoRun], out_root: Path, capsys) -> DemoRun:
    if example.id in runs:
        return runs[example.id]
    folder = EXAMPLES / example.folder
    out = out_root / example.id.replace("/", "_")
    argv = [
        "--campaign", str(folder / "campaign.json"),
        "--audience", str(folder / example.audience),
        "--templates", str(folder / "templates"),
        "--out", str(out),
        "--quick",
    ]  # fmt: skip
    capsys.readouterr()
    code = demo.main(argv)
    captured = capsys.readouterr()

    def lines(name: str) -> list[dict[str, Any]]:
        path = out / name
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []

    report_path = out / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else {}
    runs[example.id] = DemoRun(
        code, captured.out + captured.err, report, lines("messages.jsonl"), lines("rejects.jsonl")
    )
    return runs[example.id]


@pytest.mark.parametrize("example", EXAMPLES_UNDER_TEST, ids=lambda e: e.id)
def test_each_export_goes_out_personalised(example: Example, demo_runs, tmp_path_factory, capsys):
    run = run_demo(example, demo_runs, tmp_path_factory.getbasetemp() / "exports", capsys)
    assert run.code == 0, f"make demo failed for {example.id}:\n{run.printed}"
    report = run.report
    assert report["status"] == "COMPLETED", run.printed

    # Every row has exactly one outcome, and they are the ones the file was written to produce.
    assert report["rows"] == example.rows
    assert sum(report[outcome] for outcome in OUTCOMES) == example.rows
    assert {o: report[o] for o in OUTCOMES if report[o]} == example.outcomes, run.printed

    # One message per expected recipient, personalised with that recipient's own values.
    received = {message["to"]: message for message in run.messages}
    assert len(run.messages) == len(received) == report["sent"]
    assert set(received) == set(example.messages)
    for address, expected in example.messages.items():
        message = received[address]
        assert message["segment"] == expected.segment, address
        assert message["subject"] == expected.subject, address
        for fragment in expected.text:
            assert fragment in message["text"], (address, fragment, message["text"])
        for fragment in expected.not_text:
            assert fragment not in message["text"], (address, fragment, message["text"])
        for part in (message["subject"], message["text"], message["html"]):
            # Nothing left unrendered, nothing mis-decoded (UTF-8 read as Latin-1 shows as "Ã").
            assert "{{" not in part and "Ã" not in part and "\ufffd" not in part, (address, part)

    # Rows not sent are named, one reject a row: the line, and for an invalid row the variable it lacks.
    lines = [r["line"] for r in run.rejects]
    assert len(lines) == len(set(lines)) == example.rows - report["sent"], run.rejects
    assert all(2 <= line <= example.rows + 1 for line in lines), lines  # line 1 is the header
    invalid = {r["line"]: r for r in run.rejects if r["outcome"] == "invalid"}
    assert set(invalid) == set(example.invalid), run.rejects
    for line, variable in example.invalid.items():
        named = f"{invalid[line].get('field')} {invalid[line]['reason']}"
        assert variable.lower() in named.lower(), (line, invalid[line])
    assert tuple(sorted(r["line"] for r in run.rejects if r["outcome"] == "duplicate")) == example.duplicate_lines


@pytest.mark.parametrize("example", EXAMPLES_UNDER_TEST, ids=lambda e: e.id)
def test_the_demo_says_how_it_read_the_file(example: Example, demo_runs, tmp_path_factory, capsys):
    """Issue 11: validate, preview and the report say which encoding and delimiter were used.
    The demo prints Prepare's account of the file (the run record's prepare.audience)."""
    run = run_demo(example, demo_runs, tmp_path_factory.getbasetemp() / "exports", capsys)
    match = re.search(r"^Audience read as (.+)$", run.printed, re.MULTILINE)
    assert match, f"no 'Audience read as' line (prepare.audience missing from the run record):\n{run.printed}"
    said = match.group(1)
    for key, value in example.read_as.items():
        choices = value if isinstance(value, tuple) else (value,)
        if key == "format":
            assert said.startswith(choices), said
        elif key in {"delimiter", "email_column"}:
            assert any(repr(choice) in said for choice in choices), (key, choices, said)
        else:
            assert any(re.search(rf"\b{re.escape(choice)}\b", said, re.IGNORECASE) for choice in choices), (
                key,
                choices,
                said,
            )


def test_make_demo_passes_campaign_audience_and_templates_to_the_demo():
    """`make demo CAMPAIGN=... AUDIENCE=... TEMPLATES=... OUT=...` runs campaign_local.demo with
    those files: read from the Makefile's own recipe (make -n prints it, runs nothing)."""
    folder = EXAMPLES / "excel"
    variables = {
        "CAMPAIGN": f"{folder}/campaign.json",
        "AUDIENCE": f"{folder}/cp1252-semicolon.csv",
        "TEMPLATES": f"{folder}/templates",
        "OUT": "build/demo-excel",
    }
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "demo", *(f"{k}={v}" for k, v in variables.items())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    recipe = done.stdout.replace("\\\n", " ")  # make -n prints the recipe's continuation lines as written
    (command,) = [line for line in recipe.splitlines() if "-m campaign_local.demo" in line]
    words = shlex.split(command)
    args = demo.parse_args(words[words.index("campaign_local.demo") + 1 :])
    assert args.campaign == Path(variables["CAMPAIGN"])
    assert args.audience == Path(variables["AUDIENCE"])
    assert args.templates == Path(variables["TEMPLATES"])
    assert args.out == Path(variables["OUT"])
    assert not args.quick and not args.no_followup  # `make demo` runs the whole story


def test_every_example_folder_is_under_test():
    """A new examples/<tool>/ folder with an audience file gets a case here, or this fails."""
    tested = {example.folder for example in EXAMPLES_UNDER_TEST} | {"recipe", "pinpoint"}
    folders = {path.parent.name for path in EXAMPLES.glob("*/campaign.json")}
    assert folders <= tested, folders - tested
