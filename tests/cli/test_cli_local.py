"""The `campaign` command as an operator runs it: the installed console script, in its own
process, against the long-lived local endpoint (`python -m campaign_local.server`, what
`make local-up` runs) in another process. Nothing here reaches into either process."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from campaign_local.audience_gen import generate
from tests.conftest import local_endpoint

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = Path(sys.executable).parent / "campaign"  # the console script `pip install -e .` made
pytestmark = pytest.mark.workflow


def write_audience(path: Path, count: int, seed: int) -> list[dict]:
    """Generated rows whose addresses are this file's own (a +label per seed): the campaign's
    ledger would otherwise count addresses sent by an earlier test as duplicates."""
    rows = list(generate(count, seed=seed))
    for row in rows:
        if isinstance(row.get("email"), str) and row["email"].count("@") == 1:
            row["email"] = row["email"].replace("@", f"+s{seed}@")
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return rows


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """A local endpoint with a 100/s SES account, so a run lasts long enough to pause."""
    with local_endpoint(tmp_path_factory.mktemp("endpoint"), max_send_rate=100) as state:
        yield {**os.environ, "CAMPAIGN_LOCAL_STATE": str(state), "COLUMNS": "160"}
    assert not state.exists(), "the endpoint removes its state file when it stops"


def campaign(env, *args, check: int | None = 0) -> subprocess.CompletedProcess:
    done = subprocess.run([str(CAMPAIGN), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if check is not None:
        assert done.returncode == check, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done


def local_json(env, *args, check: int = 0):
    return json.loads(campaign(env, "--local", "--json", *args, check=check).stdout)


@pytest.fixture(scope="module")
def pushed(endpoint):
    campaign(endpoint, "--local", "push", "examples/recipe/campaign.json", "templates/")
    return endpoint


def test_the_console_script_lists_commands_and_exit_codes():
    done = subprocess.run([str(CAMPAIGN), "--help"], capture_output=True, text=True, check=True)
    for word in ("validate", "preview", "send", "status", "pause", "resume", "cancel", "retry", "reconcile", "report",
                 "suppression", "push"):  # fmt: skip
        assert word in done.stdout
    assert "exit codes" in done.stdout and "RUN" not in done.stdout.split("exit codes")[0][-5:]


def test_validate_names_file_line_and_field(tmp_path):
    definition = json.loads((ROOT / "examples/recipe/campaign.json").read_text())
    definition["send_rate_share"] = 7
    definition["segments"][1]["rule"] = {"field": "segment", "equals": "x"}
    bad_definition = tmp_path / "recipe.json"
    bad_definition.write_text(json.dumps(definition, indent=2))
    lines = bad_definition.read_text().splitlines()
    share_line = next(i for i, text in enumerate(lines, 1) if '"send_rate_share"' in text)
    audience = tmp_path / "people.csv"
    audience.write_text("email,name\nann@example.com,Ann\nnot-an-address,Bob\nann@example.com,Ann again\n")

    done = campaign({**os.environ}, "validate", str(bad_definition), str(audience), check=1)
    assert f"{bad_definition}:{share_line}: send_rate_share:" in done.stdout
    assert f"{audience}:3: email:" in done.stdout

    report = json.loads(campaign({**os.environ}, "--json", "validate", str(audience), check=1).stdout)
    (checked,) = report["files"]
    assert checked["summary"] == {"rows": 3, "valid": 2, "invalid": 1, "duplicates": 1}
    assert checked["problems"] == [{"line": 3, "field": "email", "message": checked["problems"][0]["message"]}]
    clean = campaign({**os.environ}, "validate", "examples/recipe/campaign.json", "--templates", "templates")
    assert "ok" in clean.stdout


def test_without_a_local_stack_the_exit_code_says_so(tmp_path):
    done = campaign({**os.environ, "CAMPAIGN_LOCAL_STATE": str(tmp_path / "none.json")}, "--local", "status", check=4)
    assert "make local-up" in done.stderr


def test_push_refuses_everything_when_one_file_is_bad(endpoint, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"Subject": "Hi", "Html": 3}')
    done = campaign(endpoint, "--local", "push", "templates/welcome-campaign.json", str(bad), check=1)
    assert "nothing pushed" in done.stderr and f"{bad}:1: Html:" in done.stderr
    assert local_json(endpoint, "status", "--campaign", "nobody")["runs"] == []


def test_preview_predicts_what_the_send_then_does(pushed, tmp_path):
    audience = tmp_path / "preview-me.json"
    write_audience(audience, 300, seed=11)
    campaign(pushed, "--local", "suppression", "add", "suppressed-by-hand@example.com")
    predicted = local_json(pushed, "preview", "recipe", "--audience", str(audience), "--out", str(tmp_path / "pages"))
    assert predicted["rows"] == 300
    for sample in predicted["samples"]:
        page = Path(predicted["sample_files"][sample["segment"]]).read_text()
        assert "<html" in page.lower() and "{{" not in page  # rendered by SES, every variable filled

    sent = local_json(pushed, "send", "recipe", str(audience))
    report = sent["report"]
    assert sent["progress"]["status"] == "COMPLETED"
    assert predicted["totals"]["would_send"] == report["sent"]
    for name, counts in predicted["segments"].items():
        assert counts["would_send"] == report["segments"][name]["sent"], name
        for outcome in ("invalid", "duplicate", "skipped"):
            assert counts[outcome] == report["segments"][name][outcome], (name, outcome)


def _run_in_terminal(env, *args) -> tuple[int, str]:
    """Run the command on a pseudo-terminal, as in a shell, and return everything it drew."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(CAMPAIGN), *args], env=env, cwd=ROOT, stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True
    )
    os.close(terminal)
    chunks = []
    while True:
        ready, _, _ = select.select([controller], [], [], 300)
        if not ready:
            process.kill()
            raise AssertionError("no output for 300 s")
        try:
            data = os.read(controller, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(controller)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_send_shows_a_progress_bar_then_the_summary(pushed, tmp_path):
    audience = tmp_path / "subscribers.json"
    write_audience(audience, 800, seed=21)
    code, screen = _run_in_terminal(pushed, "--local", "send", "recipe", str(audience), "--interval", "0.3")
    assert code == 0, screen
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)  # terminal control sequences
    pairs = [(int(done), int(total)) for done, total in re.findall(r"(\d+)/(\d+) ", text)]
    queued = max(total for _, total in pairs)
    frames = {done for done, total in pairs if total == queued}
    assert len(frames) >= 3, f"the bar moved through too few states: {sorted(frames)}"
    assert f"{queued}/{queued}" in text and "/s" in text and "ETA" in text
    assert "COMPLETED" in text and "Outcomes" in text and "Feedback" in text

    run_id = re.search(r"run (recipe-u-[0-9a-f]{20})", text)[1]
    listed = local_json(pushed, "status", "--campaign", "recipe")["runs"]
    assert any(r["run_id"] == run_id and r["status"] == "COMPLETED" for r in listed)
    progress = local_json(pushed, "status", run_id)
    assert progress["total"] == progress["done"] == queued
    report = local_json(pushed, "report", run_id)
    assert report["rows"] == 800 == report["outcomes_total"] and 0 < report["sent"] <= queued
    assert report["rejects_summary"]["total"] == report["rows"] - queued  # Prepare's rejects: rows never queued
    assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", json.dumps(report["rejects_summary"]))  # no addresses

    page = tmp_path / "report.html"
    campaign(pushed, "--local", "report", run_id, "--html", str(page), "--refresh")
    html = page.read_text()
    assert run_id in html and f"{report['sent']:,}" in html

    again = local_json(pushed, "send", "recipe", str(audience))  # the same bytes: the same run, nothing new
    assert again["progress"]["run_id"] == run_id and again["report"]["sent"] == report["sent"]


def test_pause_resume_and_cancel(pushed, tmp_path):
    audience = tmp_path / "long.json"
    write_audience(audience, 1_000, seed=31)
    run_id = local_json(pushed, "send", "recipe", str(audience), "--no-follow")["run_id"]
    deadline = time.monotonic() + 60
    while True:  # pause once it is sending
        progress = local_json(pushed, "status", run_id)
        if progress["total"] and progress["done"]:
            break
        assert time.monotonic() < deadline, progress
        time.sleep(0.2)
    paused = local_json(pushed, "pause", run_id)
    assert paused["status"] == "PAUSED"
    watched = campaign(pushed, "--local", "--json", "status", run_id, "--watch", "--interval", "0.3", check=6)
    stopped = json.loads(watched.stdout)
    assert stopped["status"] == "PAUSED" and stopped["counts"]["not_sent"] > 0
    assert campaign(pushed, "--local", "pause", run_id, check=1).stderr.count("only a RUNNING run")

    resumed = local_json(pushed, "resume", run_id, "--follow", "--interval", "0.3")
    report = resumed["report"]
    assert resumed["progress"]["status"] == "COMPLETED"
    assert report["sent"] == resumed["progress"]["total"] and report["not_sent"] == 0 and report["unknown"] == 0

    second = tmp_path / "cancel-me.json"
    # Large enough that the pause lands while it sends, however slow the machine's status calls are.
    write_audience(second, 3_000, seed=41)
    other = local_json(pushed, "send", "recipe", str(second), "--no-follow")["run_id"]
    while not local_json(pushed, "status", other)["done"]:
        time.sleep(0.2)
    local_json(pushed, "pause", other)
    assert local_json(pushed, "cancel", other)["status"] == "CANCELLED"
    cancelled = json.loads(campaign(pushed, "--local", "--json", "status", other, "--watch", check=5).stdout)
    assert cancelled["status"] == "CANCELLED"
    final = local_json(pushed, "report", other)
    assert final["status"] == "CANCELLED" and final["not_sent"] > 0
    assert sum(final[o] for o in ("sent", "suppressed", "invalid", "duplicate", "skipped", "not_sent")) == 3_000
    assert campaign(pushed, "--local", "resume", other, check=1).stderr.count("only a PAUSED run")


def test_suppression_add_list_export_remove(endpoint, tmp_path):
    campaign(endpoint, "--local", "suppression", "add", "Someone@Example.COM", "other@example.org", "--note", "phone")
    listed = local_json(endpoint, "suppression", "list", "--reason", "manual")["addresses"]
    assert {"someone@example.com", "other@example.org"} <= {r["address"] for r in listed}
    again = local_json(endpoint, "suppression", "add", "someone@example.com", "--note", "phone")
    assert again["added"] == [{"address": "someone@example.com", "changed": False}]

    export = tmp_path / "suppressed.csv"
    campaign(endpoint, "--local", "suppression", "export", str(export))
    rows = export.read_text().splitlines()
    assert rows[0].startswith("address,status,reasons") and any(r.startswith("other@example.org,") for r in rows)

    removed = local_json(endpoint, "suppression", "remove", "other@example.org")
    assert removed["removed"] == [{"address": "other@example.org", "removed": True}]
    campaign(endpoint, "--local", "suppression", "remove", "other@example.org", check=3)
    campaign(endpoint, "--local", "suppression", "add", "not an address", check=1)


def test_unknown_runs_are_not_found(endpoint):
    done = campaign(endpoint, "--local", "status", "recipe-u-00000000000000000000", check=3)
    assert "no run" in done.stderr
    campaign(endpoint, "--local", "report", "whatever", check=1)  # no campaign can be read from it


def test_a_pinpoint_segment_export_sends_to_its_email_endpoints(endpoint):
    campaign(endpoint, "--local", "push", "examples/pinpoint/campaign.json", "examples/pinpoint/templates/")
    sent = local_json(endpoint, "send", "pinpoint-migration", "examples/pinpoint/segment.csv")
    report = sent["report"]
    assert sent["progress"]["status"] == "COMPLETED"
    # 8 endpoints: 4 EMAIL (one a repeat), one opted out (ALL), SMS, APNS and an INACTIVE one
    assert (report["rows"], report["sent"], report["duplicate"], report["suppressed"], report["skipped"]) == (
        8, 3, 1, 1, 3,
    )  # fmt: skip


def test_retry_runs_a_failed_run_again_without_a_new_upload(endpoint, tmp_path):
    """A run that failed (its template was never pushed) goes again once the template is there:
    `campaign retry`, no new upload, and nobody it reached is reached twice."""
    definition = json.loads((ROOT / "examples/recipe/campaign.json").read_text())
    definition.update(campaign_id="retried", segments=[], unmatched="default", default_template="retried-welcome")
    (tmp_path / "retried.json").write_text(json.dumps(definition))
    campaign(endpoint, "--local", "push", str(tmp_path / "retried.json"))
    audience = tmp_path / "retried-audience.json"
    rows = [{"email": f"retried{i}@example.com", "name": f"Reader {i}"} for i in range(60)]
    audience.write_text(json.dumps(rows))

    failed = local_json(endpoint, "send", "retried", str(audience), check=5)
    run_id = failed["progress"]["run_id"]
    assert failed["progress"]["status"] == "FAILED" and "retried-welcome" in failed["report"]["error"]["message"]
    assert campaign(endpoint, "--local", "retry", run_id, "--campaign", "nope", check=3).stderr.count("no run")

    template = tmp_path / "retried-welcome.json"
    template.write_text((ROOT / "templates/welcome-campaign.json").read_text())
    campaign(endpoint, "--local", "push", str(template))
    retried = local_json(endpoint, "retry", run_id, "--follow", "--interval", "0.3")

    assert retried["progress"]["status"] == "COMPLETED"
    report = retried["report"]
    assert report["run_id"] == run_id and report["sent"] == report["rows"] == len(rows) and report["error"] is None
    assert campaign(endpoint, "--local", "retry", run_id, check=1).stderr.count("only a FAILED run")
    listed = local_json(endpoint, "status", "--campaign", "retried")["runs"]
    assert [(r["run_id"], r["status"]) for r in listed] == [(run_id, "COMPLETED")]

    # Reconcile: nothing was unknown, so nothing changes, and the report is written again.
    reconciled = local_json(endpoint, "reconcile", run_id, "--release-unknown")
    assert reconciled["reconciled"] == {"confirmed_sent": 0, "released": 0, "still_unknown": 0}
    assert reconciled["report"]["sent"] == len(rows) and reconciled["report"]["finished_at"] >= report["finished_at"]
    assert campaign(endpoint, "--local", "reconcile", run_id, "--older-than", "0", check=1).stderr.count("--older-than")
