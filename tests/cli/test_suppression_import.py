"""`campaign suppression import` and `export --to-ses` on the local stack: the real parser, command,
adapter (BatchGetItem + conditional TransactWriteItems) and fold, against moto's DynamoDB and the
local SES's account-level suppression list.

The 100,000-address measurement runs against the long-lived endpoint (`make local-up`'s server,
in its own process), as an operator would; it is slow, so it only runs when asked:

    SUPPRESSION_IMPORT_BENCH=100000 .venv/bin/pytest -q -s tests/cli/test_suppression_import.py -k endpoint
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from campaign_engine.adapters import suppression as suppression_adapter
from campaign_engine.adapters.suppression import SuppressionList
from campaign_engine.domain.ses_events import iso_millis
from campaign_engine.domain.suppression import BOUNCE, COMPLAINT, SUPPRESSED, UNSUBSCRIBE, Fact, SoftBouncePolicy

from campaign_cli.errors import OK, PROBLEMS
from campaign_cli.main import build_parser
from campaign_cli.output import Out
from campaign_cli.target import Target
from tests.conftest import local_endpoint
from tests.unit.test_domain_suppression_import import (
    listmonk_export,
    mailchimp_cleaned,
    mailchimp_unsubscribed,
    pinpoint_jsonl,
)

ROOT = Path(__file__).resolve().parents[2]


def campaign(stack, capsys, *argv: str) -> tuple[int, dict]:
    """One `campaign --json suppression ...` through the real parser and command, in this process."""
    args = build_parser().parse_args(["--json", "suppression", *argv])
    target = Target(stack_name="campaign-local", region="us-east-1", outputs=stack.outputs)
    capsys.readouterr()
    code = args.handler(args, target, Out(as_json=True))
    return code, json.loads(capsys.readouterr().out)


def table(stack) -> SuppressionList:
    return SuppressionList(stack.outputs["SuppressionTableName"])


def counts(document: dict) -> dict:
    return {k: v for k, v in document["counts"].items() if v}


def test_each_export_is_recorded_with_its_reason_source_and_time(stack, capsys, tmp_path):
    files = {
        "unsubscribed_members_export_1.csv": mailchimp_unsubscribed(
            ("ann@example.com", "2023-05-06 07:08:09", "I never signed up for this mailing list"),
            ("not-an-address", "2023-05-06 07:08:09", ""),
        ),
        "cleaned_members_export_1.csv": mailchimp_cleaned(("bo@example.com", "2022-11-12 13:14:15")),
        "subscribers.csv": listmonk_export(
            ("cy@example.com", "blocklisted", "2024-02-03 04:05:06.000000 +0000 UTC"),
            ("dee@example.com", "enabled", "2024-02-03 04:05:06.000000 +0000 UTC"),
        ),
        "segment.json": pinpoint_jsonl(("EMAIL", "eve@example.com", "ALL"), ("EMAIL", "fay@example.com", "NONE")),
        "list.txt": b"gus@example.com\nann@example.com\n",
    }
    results = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        results[name] = campaign(stack, capsys, "import", str(tmp_path / name))

    code, document = results["unsubscribed_members_export_1.csv"]
    assert code == PROBLEMS  # one invalid line
    assert (document["kind"], document["reason"]) == ("mailchimp-unsubscribed", "UNSUBSCRIBE")
    assert counts(document) == {"new": 1, "invalid": 1}
    assert document["problems"] == [{"line": 3, "message": document["problems"][0]["message"], "field": "email"}]
    assert [results[n][0] for n in files if n != "unsubscribed_members_export_1.csv"] == [OK] * 4
    assert counts(results["subscribers.csv"][1]) == {"new": 1, "skipped": 1}
    assert counts(results["segment.json"][1]) == {"new": 1, "skipped": 1}
    assert counts(results["list.txt"][1]) == {"new": 1, "updated": 1}  # ann: a second source, a second reason

    store = table(stack)
    ann, bo, cy, eve, gus = (store.get(f"{n}@example.com") for n in ("ann", "bo", "cy", "eve", "gus"))
    assert ann["reasons"] == ["MANUAL", "UNSUBSCRIBE"] and ann["first_at"] == "2023-05-06T07:08:09.000Z"
    assert ann["first"]["source"] == "import:mailchimp-unsubscribed:unsubscribed_members_export_1.csv"
    assert (bo["reasons"], bo["first_at"], bo["first"]["source"]) == (
        ["BOUNCE"],
        "2022-11-12T13:14:15.000Z",
        "import:mailchimp-cleaned:cleaned_members_export_1.csv",
    )
    assert (cy["reasons"], cy["first"]["source"]) == (["MANUAL"], "import:listmonk-blocklist:subscribers.csv")
    assert (eve["reasons"], eve["first"]["source"]) == (["UNSUBSCRIBE"], "import:pinpoint-opt-out:segment.json")
    # A line without a time of its own: the file's modification time, the same at every import.
    mtime = iso_millis(datetime.fromtimestamp((tmp_path / "list.txt").stat().st_mtime, tz=UTC))
    assert gus["first_at"] == mtime and gus["status"] == SUPPRESSED and gus["scope"] == "ALL"
    assert store.get("dee@example.com") is None and store.get("fay@example.com") is None

    # The same files again: nothing changes.
    before = sorted(json.dumps(r, sort_keys=True) for r in store.scan())
    for name in files:
        code, document = campaign(stack, capsys, "import", str(tmp_path / name))
        assert document["counts"]["new"] == document["counts"]["updated"] == 0, name
    assert sorted(json.dumps(r, sort_keys=True) for r in store.scan()) == before


def test_reason_and_source_can_be_overridden_and_a_dry_run_writes_nothing(stack, capsys, tmp_path):
    path = tmp_path / "complaints.txt"
    path.write_text("hal@example.com\nivy@example.com\n")
    code, document = campaign(
        stack, capsys, "import", str(path), "--reason", "complaint", "--source", "fbl-2024", "--dry-run"
    )
    assert (code, document["dry_run"], counts(document)) == (OK, True, {"new": 2})
    assert table(stack).get("hal@example.com") is None
    code, document = campaign(stack, capsys, "import", str(path), "--reason", "COMPLAINT", "--source", "fbl-2024")
    hal = table(stack).get("hal@example.com")
    assert (hal["reasons"], hal["first"]["source"]) == (["COMPLAINT"], "fbl-2024")


def test_a_bounce_already_recorded_stays_and_the_import_adds_its_reason(stack, capsys, tmp_path):
    store, policy = table(stack), SoftBouncePolicy()
    bounce = Fact(
        reason=BOUNCE, at="2021-01-01T00:00:00.000Z", key="ses-event-1", campaign_id="c1", detail="Permanent/General"
    )
    store.record("ann@example.com", bounce, policy)
    path = tmp_path / "unsubscribed.csv"
    path.write_bytes(mailchimp_unsubscribed(("ann@example.com", "2023-05-06 07:08:09", "")))
    assert counts(campaign(stack, capsys, "import", str(path))[1]) == {"updated": 1}
    ann = store.get("ann@example.com")
    assert ann["reasons"] == [BOUNCE, UNSUBSCRIBE] and ann["reason"] == BOUNCE  # the first fact is still the bounce
    assert ann["first"]["event"] == "ses-event-1" and ann["campaign_id"] == "c1"


@pytest.mark.parametrize("reads_first", [False, True], ids=["write-first", "read-first"])
def test_a_fact_written_by_a_feedback_function_during_the_import_is_not_lost(
    stack, capsys, tmp_path, monkeypatch, reads_first
):
    """The Suppression function records a complaint between the import's merge and its write: the
    transaction's condition fails, and the address is merged again on top of the complaint. Both
    ways the adapter works: presuming addresses new (a first import), and reading first (when the
    last batch found most addresses recorded)."""
    store, policy = table(stack), SoftBouncePolicy()
    complaint = Fact(reason=COMPLAINT, at="2025-01-01T00:00:00.000Z", key="ses-complaint-1", campaign_id="c9")
    original = SuppressionList._transact
    raced: list[str] = []

    def race_then_write(self, writes):
        if not raced and writes:  # once, like one SNS delivery landing mid-import
            raced.append(writes[0][0])
            SuppressionList(self.table).record(writes[0][0], complaint, policy)
        return original(self, writes)

    monkeypatch.setattr(SuppressionList, "_transact", race_then_write)
    if reads_first:
        monkeypatch.setattr(suppression_adapter, "READ_FIRST_ABOVE", -1.0)
    path = tmp_path / "list.txt"
    path.write_text("".join(f"race{i}@example.com\n" for i in range(150)))
    code, document = campaign(stack, capsys, "import", str(path))
    assert code == OK and document["counts"]["new"] + document["counts"]["updated"] == 150, document
    (address,) = raced
    record = store.get(address)
    assert record["reasons"] == [COMPLAINT, "MANUAL"], record
    assert record["first"]["event"] == "ses-complaint-1"
    assert {r["address"] for r in store.scan()} >= {f"race{i}@example.com" for i in range(150)}


def test_the_ses_account_list_is_imported_and_the_table_exported_to_it(stack, capsys, monkeypatch):
    monkeypatch.setattr(suppression_adapter, "SES_PAGE_SIZE", 40)  # several pages without thousands of entries
    sesv2 = stack.client("sesv2")
    for i in range(105):
        sesv2.put_suppressed_destination(EmailAddress=f"ses{i}@example.com", Reason="BOUNCE" if i % 3 else "COMPLAINT")
    code, document = campaign(stack, capsys, "import", "--from-ses")
    assert (code, document["kind"], document["source"], counts(document)) == (
        OK,
        "ses-account",
        "ses-account",
        {"new": 105},
    )
    ses0, ses1 = table(stack).get("ses0@example.com"), table(stack).get("ses1@example.com")
    listed = sesv2.get_suppressed_destination(EmailAddress="ses0@example.com")["SuppressedDestination"]
    assert ses0["reasons"] == [COMPLAINT] and ses1["reasons"] == [BOUNCE]
    assert ses0["first"]["source"] == "ses-account" and ses0["first_at"] == iso_millis(listed["LastUpdateTime"])
    assert counts(campaign(stack, capsys, "import", "--from-ses", "--reason", "COMPLAINT")[1]) == {"unchanged": 35}

    # The other way: the table's bounces and complaints that SES does not list yet, not its unsubscribes.
    store, policy = table(stack), SoftBouncePolicy()
    for address, reason in (("tb@example.com", BOUNCE), ("tc@example.com", COMPLAINT), ("tu@example.com", UNSUBSCRIBE)):
        store.record(address, Fact(reason=reason, at="2025-01-01T00:00:00.000Z", key=f"k-{address}"), policy)
    code, document = campaign(stack, capsys, "export", "--to-ses", "--dry-run")
    assert document["to_ses"]["would_put"] == 2
    code, document = campaign(stack, capsys, "export", "--to-ses")
    assert (document["to_ses"]["put"], document["to_ses"]["already_on_account_list"]) == (2, 105)
    assert (
        sesv2.get_suppressed_destination(EmailAddress="tc@example.com")["SuppressedDestination"]["Reason"]
        == "COMPLAINT"
    )
    with pytest.raises(Exception, match="NotFound"):
        sesv2.get_suppressed_destination(EmailAddress="tu@example.com")
    assert campaign(stack, capsys, "export", "--to-ses")[1]["to_ses"]["put"] == 0


def test_a_sample_of_thousands_goes_through_in_batches(stack, capsys, tmp_path):
    """A small sample of the bulk path inside `make test` (the 100,000 run is below, on request).
    Re-imports (``unchanged``) are checked in the tests above: moto answers a BatchGetItem of
    existing records slowly (its response serializer), so a sample of them would cost minutes."""
    path = tmp_path / "sample.txt.gz"
    path.write_bytes(gzip.compress("".join(f"bulk{i}@example.com\n" for i in range(1_500)).encode()))
    started = time.monotonic()
    code, document = campaign(stack, capsys, "import", str(path))
    seconds = time.monotonic() - started
    assert (code, counts(document)) == (OK, {"new": 1_500})
    print(f"\n1,500 addresses in {seconds:.1f} s ({1_500 / seconds:,.0f}/s, in-process moto)")


@pytest.mark.skipif(not os.environ.get("SUPPRESSION_IMPORT_BENCH"), reason="set SUPPRESSION_IMPORT_BENCH=N to run")
def test_the_endpoint_imports_a_hundred_thousand_addresses(tmp_path):
    count = int(os.environ["SUPPRESSION_IMPORT_BENCH"])
    with local_endpoint(tmp_path) as state:
        path = tmp_path / "unsubscribed.csv"
        path.write_bytes(
            mailchimp_unsubscribed(*((f"p{i}@bulk.example.com", "2023-05-06 07:08:09", "") for i in range(count)))
        )
        env = {**os.environ, "CAMPAIGN_LOCAL_STATE": str(state)}
        started = time.monotonic()
        done = subprocess.run(
            [str(Path(sys.executable).parent / "campaign"), "--local", "suppression", "import", str(path), "--json"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        seconds = time.monotonic() - started
        assert done.returncode == OK, done.stderr
        document = json.loads(done.stdout)
        print(f"\n{count:,} addresses in {seconds:.1f} s ({count / seconds:,.0f}/s) against the local endpoint")
        assert document["counts"]["new"] == count


def test_mailchimps_subscribed_export_is_refused_without_an_explicit_reason(stack, capsys):
    """It sits in the same ZIP as the unsubscribed and cleaned lists; imported by mistake it
    would stop mail to every subscriber, with no bulk undo."""
    from campaign_cli.errors import CliError

    subscribed = str(ROOT / "examples/mailchimp/subscribed_members_export.csv")
    with pytest.raises(CliError, match="subscribed members"):
        campaign(stack, capsys, "import", subscribed, "--dry-run")
    code, document = campaign(stack, capsys, "import", subscribed, "--dry-run", "--reason", "manual")
    assert code == OK and document["counts"]["new"] > 0
