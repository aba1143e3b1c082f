"""The command line's conventions (docs/cli.md, "Conventions"), each checked on the installed
console script against its own local endpoint process, as an operator or a script meets them:
global options after the command, whole table cells when piped and with --wide, ISO-8601 UTC
times in every JSON document, no traceback on a closed pipe, one exit-code table, hints that
repeat the target options, progress lines when stderr is a file, and status counts that agree
right after a pause or a cancel."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli_local import (  # noqa: F401  (endpoint: the fixture, imported to be used here)
    CAMPAIGN,
    ROOT,
    _run_in_terminal,
    campaign,
    endpoint,
    write_audience,
)

pytestmark = pytest.mark.workflow

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TIME_KEY = re.compile(r"(^|_)(at|time|timestamp|date|since|until)$")
RUN_ID = re.compile(r"run (recipe-u-[0-9a-f]{20})")
QUIET = {
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


@pytest.fixture(scope="module")
def pushed(endpoint):  # noqa: F811
    campaign(endpoint, "push", "examples/recipe/campaign.json", "templates/", "--local")
    return endpoint


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(pushed, monkeypatch, capsys):
    """``campaign ARGS`` run in this process (``campaign_cli.main.main``) against the endpoint
    process: the same parser, handlers and HTTP calls as the console script without a Python
    start-up per call. stdout and stderr are captured, so neither is a terminal, as in a pipe.
    What needs a process of its own (a closed pipe, a terminal) uses the console script."""
    from campaign_engine.adapters import aws

    from campaign_cli.main import main

    monkeypatch.setenv("CAMPAIGN_LOCAL_STATE", pushed["CAMPAIGN_LOCAL_STATE"])
    for name, value in QUIET.items():  # what main's quiet_layer would set for good in this process
        monkeypatch.setenv(name, value)

    def run(*args: str, check: int | None = 0) -> Ran:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
        finally:
            aws.reset()  # the next test of this worker gets the layer's clients as it expects them
        captured = capsys.readouterr()
        ran = Ran(code, captured.out, captured.err)
        if check is not None:
            assert code == check, f"campaign {' '.join(args)}: exit {code}\n{ran.stdout}\n{ran.stderr}"
        return ran

    return run


def as_json(cli, *args: str, check: int = 0) -> Any:
    return json.loads(cli(*args, "--json", "--local", check=check).stdout)


def times_in(document: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every (path, value) under a time-ish key, anywhere in the document."""
    found = []
    if isinstance(document, dict):
        for key, value in document.items():
            here = f"{path}.{key}"
            if isinstance(key, str) and TIME_KEY.search(key) and not isinstance(value, dict | list):
                found.append((here, value))
            found += times_in(value, here)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += times_in(value, f"{path}[{index}]")
    return found


def assert_iso_times(document: Any, what: str) -> int:
    """No epoch seconds, no offsets: each time is None or 2026-12-07T05:12:26Z. Returns how many."""
    times = [(path, value) for path, value in times_in(document) if value is not None]
    bad = [(path, value) for path, value in times if not (isinstance(value, str) and ISO_UTC.match(value))]
    assert not bad, f"{what}: times not ISO-8601 UTC: {bad}"
    return len(times)


def wait_sent(cli, run_id: str, at_least: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        shown = cli("status", run_id, "--json", "--local", check=None)
        # Until Prepare records the run, status finds no run (exit 3, nothing on stdout).
        progress = json.loads(shown.stdout) if shown.stdout.strip() else {}
        if progress and (progress["counts"]["sent"] >= at_least or progress["status"] != "RUNNING"):
            return progress
        assert time.monotonic() < deadline, progress or shown.stderr
        time.sleep(0.2)


def assert_counts_agree(progress: dict, rows: int) -> None:
    """The status document's numbers on one basis (control.progress): counts cover the file's
    rows; the queued are done or not sent; done counts no not_sent."""
    counts = progress["counts"]
    assert progress["rows"] == rows == sum(counts.values()), progress
    assert counts["not_sent"] == progress["not_sent"] == progress["total"] - progress["done"], progress
    assert counts["sent"] <= progress["done"] <= progress["total"], progress


# Global options -------------------------------------------------------------------------------


def test_global_options_are_taken_after_the_command_too(endpoint, tmp_path):  # noqa: F811
    """The console script itself, as the issue's commands were typed."""
    assert "runs" in json.loads(campaign(endpoint, "status", "--json", "--local").stdout)
    audience = tmp_path / "people.csv"
    audience.write_text("email,name\nann@example.com,Ann\n")
    checked = json.loads(campaign({**os.environ}, "validate", str(audience), "--json").stdout)
    assert checked["files"][0]["summary"]["rows"] == 1


def test_one_stack_named_two_ways_is_refused():
    """--local before the command and --stack-name after it (or both after): exit 2, not one
    of the two picked silently."""
    from campaign_cli.main import parse

    for args in (["--local", "status", "--stack-name", "other"], ["status", "--local", "--stack-name", "other"]):
        with pytest.raises(SystemExit) as stopped:
            parse(args)
        assert stopped.value.code == 2


def test_hints_repeat_the_target_options_as_given():
    from campaign_cli.main import parse
    from campaign_cli.target import command_hint, with_target

    deployed = parse(["status", "--stack-name", "prod stack", "--region", "eu-west-1", "--profile", "ops"])
    assert command_hint(deployed, "resume", "r-1") == (
        "`campaign --stack-name 'prod stack' --region eu-west-1 --profile ops resume r-1`"
    )
    assert command_hint(parse(["--local", "status"]), "status", "--watch", "r") == "`campaign --local status --watch r`"
    assert command_hint(parse(["status"]), "resume", "r") == "`campaign resume r`"  # samconfig's stack again
    layer_message = "batches did not finish; `campaign retry r-1` sends them"
    assert with_target(layer_message, parse(["status", "--local"])) == (
        "batches did not finish; `campaign --local retry r-1` sends them"
    )
    assert parse(["status", "--wide"]).wide and not parse(["status"]).wide


# Exit codes, hints, counts --------------------------------------------------------------------


def test_exit_codes_hints_and_counts_after_a_pause_and_a_cancel(cli, tmp_path):
    """One run paused, then one cancelled while it sends: status exits with the run's state, its
    hints carry --local, and "done" never counts the rows the stopped run did not send (the
    found bug: "done 700 of 1,803" next to "sent 300")."""
    from campaign_cli.errors import NOT_FOUND, OK, PROBLEMS, RUN_FAILED, RUN_PAUSED, USAGE

    paused_file = tmp_path / "pause-me.json"
    write_audience(paused_file, 900, seed=71)
    paused = as_json(cli, "send", "recipe", str(paused_file), "--no-follow")["run_id"]
    wait_sent(cli, paused, 100)
    assert f"`campaign --local resume {paused}`" in cli("pause", paused, "--local").stdout
    watched = as_json(cli, "status", paused, "--watch", "--interval", "0.3", check=RUN_PAUSED)
    assert_counts_agree(watched, 900)
    shown = cli("status", paused, "--local", check=RUN_PAUSED).stdout
    hint = f"not sent {watched['not_sent']:,} (paused; `campaign --local resume {paused}` sends them)"
    assert hint in shown, shown
    assert "only a RUNNING run" in cli("pause", paused, "--local", check=PROBLEMS).stderr

    cancelled_file = tmp_path / "cancel-me.json"
    write_audience(cancelled_file, 1_803, seed=72)
    cancelled = as_json(cli, "send", "recipe", str(cancelled_file), "--no-follow")["run_id"]
    wait_sent(cli, cancelled, 300)
    cli("cancel", cancelled, "--local")
    right_after = as_json(cli, "status", cancelled, check=RUN_FAILED)  # its execution may still be going
    assert right_after["status"] == "CANCELLED"
    assert_counts_agree(right_after, 1_803)
    final = as_json(cli, "status", cancelled, "--watch", "--interval", "0.3", check=RUN_FAILED)
    assert_counts_agree(final, 1_803)
    shown = cli("status", cancelled, "--local", check=RUN_FAILED).stdout
    assert f"done {final['done']:,}, not sent {final['not_sent']:,} (cancelled" in shown, shown
    report = as_json(cli, "report", cancelled)  # a document about the run: 0, whatever its state
    assert (report["sent"], report["not_sent"]) == (final["counts"]["sent"], final["counts"]["not_sent"])

    # Nothing found is 3 for every command; a wrong command line 2.
    assert "`campaign --local push" in cli("send", "nosuch", str(paused_file), "--local", check=NOT_FOUND).stderr
    cli("preview", "nosuch", "--audience", str(paused_file), "--local", check=NOT_FOUND)
    cli("preview", "recipe", "--audience", str(tmp_path / "none.csv"), "--local", check=NOT_FOUND)
    cli("push", str(tmp_path / "none.json"), "--local", check=NOT_FOUND)
    cli("validate", str(tmp_path / "none.csv"), check=NOT_FOUND)  # offline too
    cli("status", "recipe-u-00000000000000000000", "--local", check=NOT_FOUND)
    cli("report", "recipe-u-00000000000000000000", "--local", check=NOT_FOUND)
    cli("status", "--limit", "many", "--local", check=USAGE)
    cli("nosuchcommand", check=USAGE)
    cli("status", "--local", check=OK)


# Tables, times, pipes, progress -----------------------------------------------------------------


def test_send_progress_lines_iso_times_and_whole_cells(cli, pushed, tmp_path):
    audience = tmp_path / "a-rather-long-file-name-so-that-the-key-is-long-too.json"
    write_audience(audience, 400, seed=73)
    sent = cli("send", "recipe", str(audience), "--interval", "0.2", "--local")
    # stderr is not a terminal: a line per 10% of the queued, not a bar that prints only at the end.
    steps = [int(p) for p in re.findall(r"^\s*(\d+)%: done [\d,]+ of [\d,]+ queued \(sent", sent.stderr, re.M)]
    assert steps == sorted(steps) and steps[-1] == 100 and len(steps) >= 3, sent.stderr
    assert re.search(r"^queued [\d,]+ of 400 rows$", sent.stderr, re.M), sent.stderr
    run_id = RUN_ID.search(sent.stderr)[1]

    # Not on a terminal, a table is as wide as its cells, whatever COLUMNS says: nothing cut, no "…".
    listed = cli("status", "--local").stdout
    assert run_id in listed and "…" not in listed
    long_address = "a-very-long-local-part-for-a-table-cell-" + "x" * 30 + "@example.com"
    cli("suppression", "add", long_address, "--local")
    suppressed = cli("suppression", "list", "--local").stdout
    assert long_address in suppressed and "…" not in suppressed
    # On a terminal, --wide prints cells whole too (the console script, on a pseudo-terminal).
    code, screen = _run_in_terminal({**pushed, "COLUMNS": "50"}, "status", "--local", "--wide")
    assert code == 0 and run_id in screen and "…" not in screen, screen

    # Every JSON document: times are ISO-8601 UTC to the second with Z, never epoch seconds.
    documents = {
        "status": as_json(cli, "status"),
        "status --campaign": as_json(cli, "status", "--campaign", "recipe"),
        "status RUN": as_json(cli, "status", run_id),
        "report": as_json(cli, "report", run_id, "--refresh"),
        "reconcile": as_json(cli, "reconcile", run_id),
        "send": as_json(cli, "send", "recipe", str(audience)),  # the same bytes: the same run
        "push": as_json(cli, "push", "templates/welcome-campaign.json"),
        "preview": as_json(cli, "preview", "recipe", "--audience", str(audience), "--out", str(tmp_path)),
        "suppression list": as_json(cli, "suppression", "list"),
    }
    counted = {name: assert_iso_times(document, name) for name, document in documents.items()}
    for name in ("status", "status RUN", "report", "reconcile", "send", "suppression list"):
        assert counted[name], f"{name}: no times at all, so nothing was checked"
    assert documents["status RUN"]["started_at"] <= documents["status RUN"]["finished_at"]
    # The export is a data file, not a --json document: lossless, milliseconds kept, but UTC with Z.
    exported = cli("suppression", "export", "-", "--format", "jsonl", "--local").stdout
    export_times = [v for _, v in times_in([json.loads(line) for line in exported.splitlines() if line]) if v]
    assert export_times and all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", v) for v in export_times)

    # A reader that goes away: no traceback, exit 141 (errors.CLOSED_PIPE); the console script.
    for args in (("status", "--local"), ("report", run_id, "--json", "--local")):
        process = subprocess.Popen(
            [str(CAMPAIGN), *args], env=pushed, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert process.stdout is not None
        process.stdout.close()  # before the command has written anything
        stderr = process.stderr.read().decode() if process.stderr else ""
        assert process.wait(timeout=120) == 141, stderr
        assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_retry_json_times(cli, tmp_path):
    definition = json.loads((ROOT / "examples/recipe/campaign.json").read_text())
    definition.update(campaign_id="conv-retried", segments=[], unmatched="default", default_template="conv-welcome")
    (tmp_path / "conv-retried.json").write_text(json.dumps(definition))
    cli("push", str(tmp_path / "conv-retried.json"), "--local")
    audience = tmp_path / "conv.json"
    audience.write_text(json.dumps([{"email": f"conv{i}@example.com", "name": f"R {i}"} for i in range(20)]))
    failed = as_json(cli, "send", "conv-retried", str(audience), check=5)
    assert_iso_times(failed, "send of a failed run")
    run_id = failed["progress"]["run_id"]
    (tmp_path / "conv-welcome.json").write_text((ROOT / "templates/welcome-campaign.json").read_text())
    cli("push", str(tmp_path / "conv-welcome.json"), "--local")
    assert_iso_times(as_json(cli, "retry", run_id), "retry")
    watched = as_json(cli, "status", run_id, "--watch", "--interval", "0.3")
    assert watched["status"] == "COMPLETED" and assert_iso_times(watched, "status after retry") == 2


def test_preview_shows_how_the_file_was_read(cli, tmp_path):
    audience = tmp_path / "people.csv.gz"
    audience.write_bytes(gzip.compress(b"email;name;segment\nann@example.com;Ann;new\nbob@example.com;Bob;new\n"))
    document = as_json(cli, "preview", "recipe", "--audience", str(audience), "--out", str(tmp_path))
    audience_info = document.get("audience")
    if not audience_info:
        pytest.skip("this layer's preview does not say how it read the file yet (engineer A2)")
    shown = cli("preview", "recipe", "--audience", str(audience), "--out", str(tmp_path), "--local").stdout
    assert shown.splitlines()[1].startswith(f"read as {audience_info['format']}"), shown
    for warning in document.get("warnings", []):
        assert warning in shown


# Without a stack --------------------------------------------------------------------------------


def test_iso_times_rewrites_only_time_keys():
    from campaign_cli.output import human_time, iso_times

    document = {
        "started_at": 1_796_000_000,
        "finished_at": "2026-12-07T05:12:26.123456+00:00",
        "first_at": "2026-12-07T05:12:26.123Z",
        "quota_waits": [{"checked_at": 1_796_000_000_000, "wait_seconds": 1_796_000_000}],
        "rows": 1_796_000_000,
        "not_a_time_at": "soon",
        "nothing_at": None,
    }
    assert iso_times(document) == {
        "started_at": "2026-11-30T00:53:20Z",
        "finished_at": "2026-12-07T05:12:26Z",
        "first_at": "2026-12-07T05:12:26Z",
        "quota_waits": [{"checked_at": "2026-11-30T00:53:20Z", "wait_seconds": 1_796_000_000}],
        "rows": 1_796_000_000,
        "not_a_time_at": "soon",
        "nothing_at": None,
    }
    assert human_time(1_796_000_000) == "2026-11-30 00:53:20" and human_time(None) == "-"


def test_preview_reads_big_files_with_progress_lines_when_not_on_a_terminal(capsys):
    from campaign_cli.commands.preview import ReadProgress, describe_audience
    from campaign_cli.output import Out

    out = Out()  # stderr is captured: not a terminal
    assert not out.err.is_terminal
    stream = io.BytesIO(b"x" * 1000)
    meter = ReadProgress(out, stream, 1000, "big.csv")
    for position in range(0, 1001, 50):  # the reader's calls, without a Progress: the stream's position
        stream.seek(position)
        meter(argparse.Namespace(rows=position // 10))
    meter.close()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("%")[0] for line in lines] == [f"read {p}" for p in range(10, 101, 10)], lines
    assert lines[-1].startswith("read 100% of big.csv: 100 rows")
    assert (
        describe_audience(
            {
                "format": "csv",
                "compression": "gzip",
                "encoding": "cp1252",
                "delimiter": ";",
                "columns": ["Email", "Name"],
            }
        )
        == "read as csv, encoding cp1252, delimiter semicolon, gzip compressed, 2 columns: Email, Name"
    )


def test_a_missing_state_file_still_exits_4_with_options_after(tmp_path: Path, monkeypatch, capsys):
    from campaign_cli.main import main

    monkeypatch.setenv("CAMPAIGN_LOCAL_STATE", str(tmp_path / "none.json"))
    for name, value in QUIET.items():
        monkeypatch.setenv(name, value)
    assert main(["status", "--local"]) == 4
    assert "make local-up" in capsys.readouterr().err
