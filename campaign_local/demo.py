"""`make demo`: the recipe's campaign on the local stack, from upload to report, and back.

    python -m campaign_local.demo [--campaign F] [--audience F] [--templates DIR] [--out DIR]
                                  [--prior-events F] [--events F] [--quick]

By default: the recipe's templates (templates/), its campaign (examples/recipe/campaign.json)
and an audience of the recipe's three subscribers plus 2,000 generated rows.

1. ``--prior-events`` (JSON Lines of SES records, event-publishing or notification format) are
   published to the SES events topic first: history from a previous system.
2. The audience is uploaded to incoming/<campaign_id>/; the S3 notification starts the run.
   The local SES publishes the events SES would (mailbox simulator; a deterministic share of
   recipients opens and clicks), and the suppression and engagement functions take them in.
3. One recipient unsubscribes through the one-click endpoint (GET shows the page, POST
   unsubscribes). ``--events`` are published after the send, then the report is refreshed.
4. A follow-up campaign goes to the same audience: every bounced, complained and unsubscribed
   address is skipped and counted as suppressed.

``--quick`` stops after step 2 (one send and its report, no unsubscribe, no follow-up): a fast
look at your own files, and what tests/workflow/test_workflow_exports.py runs per example.

The summary also says how Prepare read the file (the run record's prepare.audience: format,
compression, encoding, delimiter, email column) and prints its warnings.

OUT gets report.json and report-followup.json, messages.jsonl and messages-followup.jsonl,
events.jsonl (every SES record published), rejects.jsonl and lambda.log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import random
import sys
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campaign_engine.adapters.runs import RunStore

from .audience_gen import generate
from .stack import ROOT, LocalStack

OUTCOME_COLUMNS = ["sent", "suppressed", "invalid", "duplicate", "skipped", "failed", "unknown", "not_sent"]
# The local account's quota: fast enough for 10,000 recipients in seconds, still paced.
DEMO_SEND_RATE = 2000.0
# Shares of delivered recipients that open and click (chosen by a hash of the address).
OPEN_SHARE, CLICK_SHARE = 0.35, 0.08
FEEDBACK_COLUMNS = ["delivered", "bounced", "complained", "opened", "clicked", "unsubscribed"]
# How long to wait for the local SES's events to be published and taken in. On a busy machine
# (2 cores at a load of 12) the default 2,003 rows still had 15 to 51 publishing jobs pending after
# stack.drain_feedback's own 120 s default, which ended the whole demo with a TimeoutError.
FEEDBACK_TIMEOUT = 900.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--campaign", type=Path, default=ROOT / "examples/recipe/campaign.json")
    parser.add_argument("--audience", type=Path, help="subscriber file (.csv, .json, .jsonl); default: generated")
    parser.add_argument("--templates", type=Path, default=ROOT / "templates")
    parser.add_argument("--out", type=Path, default=ROOT / "build/demo")
    parser.add_argument("--generated", type=int, default=2_000, help="generated rows added to the recipe's three")
    parser.add_argument("--send-rate", type=float, default=DEMO_SEND_RATE, help="local SES MaxSendRate")
    parser.add_argument("--timeout", type=float, default=170.0)
    parser.add_argument("--prior-events", type=Path, help="SES records (JSON Lines) published before the run")
    parser.add_argument("--events", type=Path, help="SES records (JSON Lines) published after the send")
    parser.add_argument("--open-share", type=float, default=OPEN_SHARE)
    parser.add_argument("--click-share", type=float, default=CLICK_SHARE)
    parser.add_argument("--no-followup", action="store_true", help="skip the second campaign")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one send and its report only: no one-click unsubscribe, no follow-up campaign",
    )
    parser.add_argument(
        "--replay-events",
        action="store_true",
        help="after the send, publish every SES record again, twice, in random order (counts must not move)",
    )
    return parser.parse_args(argv)


def default_audience(out: Path, generated: int) -> Path:
    recipe = json.loads((ROOT / "examples/recipe/subscribers.json").read_text(encoding="utf-8"))
    path = out / "subscribers.json"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[\n")
        for index, row in enumerate([*recipe, *generate(generated)]):
            handle.write((",\n" if index else "") + json.dumps(row))
        handle.write("\n]\n")
    return path


def load_templates(stack: LocalStack, directory: Path) -> list[str]:
    names = []
    for path in sorted(directory.glob("*.json")):
        stack.upload(f"templates/{path.name}", path.read_bytes())
        names.append(path.stem)
    return names


def message_record(message: dict[str, Any]) -> dict[str, Any]:
    tags = message.get("tags", {})
    return {
        "to": message["to"][0] if len(message.get("to", [])) == 1 else message.get("to"),
        "from": message.get("from"),
        "subject": message.get("subject"),
        "html": message.get("html"),
        "text": message.get("text"),
        "headers": message.get("headers", {}),
        "tags": tags,
        "template": message.get("template"),
        "segment": tags.get("segment"),
        "message_id": message.get("message_id"),
    }


def summary(report: dict[str, Any], seconds: float, out: Path) -> str:
    width = max([len("segment"), *(len(name) for name in report.get("segments", {}))]) + 2
    lines = [
        f"Campaign {report['campaign_id']}  run {report['run_id']}  status {report['status']}"
        f"  ({seconds:.1f} s from upload to report)",
    ]
    if report.get("reason") or report.get("error"):
        error = report.get("error") or {}
        where = f" [{error['where']}]" if error.get("where") else ""
        lines.append(f"Reason: {report.get('reason') or error.get('message')}{where}")
    header = "segment".ljust(width) + "".join(c.rjust(11) for c in OUTCOME_COLUMNS) + "      rows"
    lines += ["", header, "-" * len(header)]
    for name, counts in report.get("segments", {}).items():
        lines.append(
            name.ljust(width)
            + "".join(str(counts.get(c, 0)).rjust(11) for c in OUTCOME_COLUMNS)
            + str(sum(counts.values())).rjust(10)
        )
    lines.append("-" * len(header))
    lines.append(
        "total".ljust(width)
        + "".join(str(report.get(c, 0)).rjust(11) for c in OUTCOME_COLUMNS)
        + str(report.get("rows", 0)).rjust(10)
    )
    feedback = report.get("feedback")
    if feedback:
        lines.append(
            "Feedback: "
            + ", ".join(f"{name} {feedback.get(name, 0)}" for name in FEEDBACK_COLUMNS)
            + f"  (opens {feedback.get('opens', 0)}, clicks {feedback.get('clicks', 0)})"
        )
        # Clicks on the unsubscribe link are counted apart from `clicked` (the report page shows
        # them apart too): without this line the demo's clicks looked like they vanished.
        if "unsubscribe_link_clicked" in feedback:
            lines.append(
                f"Unsubscribe link clicked by {feedback.get('unsubscribe_link_clicked', 0)} recipients "
                f"({feedback.get('unsubscribe_link_clicks', 0)} clicks; only the one-click POST unsubscribes)"
            )
    return "\n".join(lines)


def files_summary(out: Path) -> str:
    names = [
        "report.json",
        "report-followup.json",
        "messages.jsonl",
        "messages-followup.jsonl",
        "events.jsonl",
        "rejects.jsonl",
        "lambda.log",
    ]
    return "\n".join(f"  {out / name}" for name in names if (out / name).exists())


@dataclass
class DemoResult:
    first: dict[str, Any] | None = None
    # Prepare's account of the file (the run record's prepare.audience and prepare.warnings):
    # how it was read, so a wrong encoding or delimiter shows before anyone opens the messages.
    audience: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    first_seconds: float = 0.0
    unsubscribe: dict[str, Any] = field(default_factory=dict)
    prior_events: int = 0
    replayed_events: int = 0
    replay: dict[str, Any] = field(default_factory=dict)
    followup: dict[str, Any] | None = None
    followup_seconds: float = 0.0
    suppression_reasons: dict[str, int] = field(default_factory=dict)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    definition = json.loads(args.campaign.read_text(encoding="utf-8"))
    campaign_id = definition.get("campaign_id") or args.campaign.stem
    audience = args.audience or default_audience(out, args.generated)
    for option in ("prior_events", "events"):
        path = getattr(args, option)
        if path is not None:
            try:
                read_event_lines(path)
            except ValueError as exc:
                print(f"make demo: {exc}", file=sys.stderr)
                return 2
    # The handlers' JSON logs and metrics go to a file; the terminal gets the summary.
    with (
        (out / "lambda.log").open("w", encoding="utf-8") as lambda_log,
        contextlib.redirect_stdout(lambda_log),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        result = run_on_local_stack(args, definition, campaign_id, audience)
    if result.first is None:
        print("No run started: is the upload under incoming/<campaign_id>/ and the campaign id valid?", file=sys.stderr)
        return 2
    print(story(result, out))
    ok = result.first["status"] == "COMPLETED" and (result.followup is None or result.followup["status"] == "COMPLETED")
    return 0 if ok else 1


def story(result: DemoResult, out: Path) -> str:
    assert result.first is not None
    parts = []
    if result.prior_events:
        parts.append(f"Imported {result.prior_events} SES records from --prior-events before the run.\n")
    parts.append(summary(result.first, result.first_seconds, out))
    if result.audience:
        parts.append(audience_line(result.audience))
    parts += [f"Warning: {warning}" for warning in result.warnings]
    unsub = result.unsubscribe
    if unsub:
        parts.append(
            f"\nOne-click unsubscribe of {unsub['address']}: GET answered {unsub['get_status']} (a page, "
            f"nothing changed), POST List-Unsubscribe=One-Click answered {unsub['post_status']}, "
            f"a repeated POST {unsub['repeat_status']}."
        )
    if result.replayed_events:
        parts.append(f"Published {result.replayed_events} SES records from --events after the send.")
    if result.replay:
        verdict = "counts unchanged" if result.replay["unchanged"] else "COUNTS CHANGED"
        parts.append(
            f"Replayed all {result.replay['records']} SES records of the run twice, in random order: {verdict}."
        )
    if result.followup is not None:
        reasons = ", ".join(f"{reason.lower()} {count}" for reason, count in sorted(result.suppression_reasons.items()))
        parts.append(
            f"\nFollow-up campaign to the same audience: {result.followup['suppressed']} recipients skipped as "
            f"suppressed (suppression list: {reasons}).\n"
        )
        parts.append(summary(result.followup, result.followup_seconds, out))
    parts.append("\nFiles:\n" + files_summary(out))
    return "\n".join(parts)


def audience_line(audience: dict[str, Any]) -> str:
    """How Prepare read the file: format, compression, encoding, delimiter, the email column."""
    parts = [str(audience.get("format") or "?")]
    if audience.get("compression"):
        parts.append(str(audience["compression"]))
    if audience.get("encoding"):
        parts.append(f"encoding {audience['encoding']}")
    if audience.get("delimiter"):
        parts.append(f"delimiter {audience['delimiter']!r}")
    if audience.get("email_column"):
        parts.append(f"email column {audience['email_column']!r}")
    return "Audience read as " + ", ".join(parts)


def prepare_account(stack: LocalStack, campaign_id: str, run_id: str) -> tuple[dict[str, Any], list[str]]:
    """The run record's prepare.audience and prepare.warnings (empty when Prepare wrote none)."""
    record = RunStore(stack.outputs["RunsTableName"], dynamodb=stack.client("dynamodb")).get_run(campaign_id, run_id)
    prepare = (record or {}).get("prepare") or {}
    audience = prepare.get("audience") if isinstance(prepare, dict) else None
    warnings = prepare.get("warnings") if isinstance(prepare, dict) else None
    return (
        audience if isinstance(audience, dict) else {},
        [str(w) for w in warnings] if isinstance(warnings, list) else [],
    )


def read_event_lines(path: Path) -> list[str]:
    """SES records, one JSON object per line, in either format; errors name the line."""
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
        if not isinstance(record, dict) or not ({"eventType", "notificationType"} & record.keys()):
            raise ValueError(f"{path}:{number}: not an SES record (no eventType or notificationType)")
        lines.append(line)
    return lines


def publish_records(stack: LocalStack, path: Path) -> int:
    """Publish SES records to the SES events topic, as SES would."""
    lines = read_event_lines(path)
    stack.publish_ses_records(lines)
    stack.drain_feedback(timeout=FEEDBACK_TIMEOUT)
    return len(lines)


def replay_twice(stack: LocalStack, report: dict[str, Any]) -> dict[str, Any]:
    """SNS delivers at least once and in any order: publish every record again, twice, shuffled."""
    records = [json.dumps(record) for record in stack.published_events()]
    replay = records * 2
    random.Random(2026).shuffle(replay)
    stack.publish_ses_records(replay)
    after = refresh_report(stack, report["campaign_id"], report["run_id"])
    return {"records": len(records), "unchanged": after["feedback"] == report["feedback"]}


def refresh_report(stack: LocalStack, campaign_id: str, run_id: str) -> dict[str, Any]:
    """Run Finalize again: the report then counts every SES event taken in so far."""
    stack.drain_feedback(timeout=FEEDBACK_TIMEOUT)
    stack.client("lambda").invoke(
        FunctionName=stack.outputs["FinalizeFunctionName"],
        Payload=json.dumps({"campaign_id": campaign_id, "run_id": run_id}),
    )
    return stack.report(campaign_id, run_id)


def send_campaign(
    stack: LocalStack, campaign_id: str, audience: Path, timeout: float
) -> tuple[dict[str, Any] | None, float]:
    started = time.monotonic()
    before = {e["executionArn"] for e in stack.executions()}
    stack.upload(f"incoming/{campaign_id}/{audience.name}", audience.read_bytes())
    new = [e for e in stack.executions() if e["executionArn"] not in before]
    if not new:
        return None, 0.0
    execution = stack.wait_for_execution(new[0]["executionArn"], timeout=timeout)
    seconds = time.monotonic() - started
    return refresh_report(stack, campaign_id, execution["name"]), seconds


def unsubscribe_one(stack: LocalStack) -> dict[str, Any]:
    """Follow the List-Unsubscribe link of one delivered message, as a person and as Gmail would."""
    for message in stack.sent_messages():
        to = message["to"][0]
        url = (message.get("headers") or {}).get("List-Unsubscribe", "").strip("<>")
        if url and not to.endswith("@simulator.amazonses.com"):
            break
    else:
        return {}

    def call(method: str, body: bytes | None = None) -> int:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - local http URL
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local endpoint
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    get_status = call("GET")
    post_status = call("POST", b"List-Unsubscribe=One-Click")
    repeat_status = call("POST", b"List-Unsubscribe=One-Click")
    stack.drain_feedback(timeout=FEEDBACK_TIMEOUT)
    local, _, domain = to.partition("@")
    return {
        "address": f"{local[:1]}***@{domain}",
        "get_status": get_status,
        "post_status": post_status,
        "repeat_status": repeat_status,
    }


def suppression_reasons(stack: LocalStack) -> dict[str, int]:
    table = stack.outputs["SuppressionTableName"]
    counts: dict[str, int] = {}
    for page in stack.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            if item.get("status", {}).get("S", "SUPPRESSED") == "SUPPRESSED":
                reason = item.get("reason", {}).get("S", "MANUAL")
                counts[reason] = counts.get(reason, 0) + 1
    return counts


def run_on_local_stack(
    args: argparse.Namespace, definition: dict[str, Any], campaign_id: str, audience: Path
) -> DemoResult:
    out: Path = args.out
    result = DemoResult()
    sender = definition.get("sender", {}).get("address", "")
    domain = sender.rsplit("@", 1)[1] if "@" in sender else None
    # The demo deploys its stack for the campaign's sender, as a team deploys with SenderIdentity
    # set to its own domain (Prepare refuses a sender the identity does not cover).
    parameters = {"SenderIdentity": domain} if domain else None
    with LocalStack.start(parameters=parameters) as stack:
        stack.configure_ses(
            max_send_rate=args.send_rate,
            max_24_hour_send=10_000_000,
            open_share=args.open_share,
            click_share=args.click_share,
        )
        if domain:
            stack.verify_sender(domain)
        load_templates(stack, args.templates)
        stack.upload(f"campaigns/{campaign_id}.json", args.campaign.read_bytes())
        if args.prior_events:
            result.prior_events = publish_records(stack, args.prior_events)

        result.first, result.first_seconds = send_campaign(stack, campaign_id, audience, args.timeout)
        if result.first is None:
            return result
        result.audience, result.warnings = prepare_account(stack, campaign_id, result.first["run_id"])
        if not args.quick:
            result.unsubscribe = unsubscribe_one(stack)
        if args.events:
            result.replayed_events = publish_records(stack, args.events)
        result.first = refresh_report(stack, campaign_id, result.first["run_id"])
        if args.replay_events:
            result.replay = replay_twice(stack, result.first)
        (out / "report.json").write_text(json.dumps(result.first, indent=2) + "\n", encoding="utf-8")

        followup_id = None if args.no_followup or args.quick else f"{campaign_id}-followup"[:48]
        if followup_id:
            stack.put_json(f"campaigns/{followup_id}.json", {**definition, "campaign_id": followup_id})
            result.suppression_reasons = suppression_reasons(stack)
            result.followup, result.followup_seconds = send_campaign(stack, followup_id, audience, args.timeout)
            if result.followup is not None:
                (out / "report-followup.json").write_text(
                    json.dumps(result.followup, indent=2) + "\n", encoding="utf-8"
                )
        write_outputs(stack, out, result.first, followup_id)
    return result


def write_outputs(stack: LocalStack, out: Path, report: dict[str, Any], followup_id: str | None) -> None:
    """Messages per campaign, every SES record the local SES published, and the rejects."""
    files = {report["campaign_id"]: out / "messages.jsonl"}
    if followup_id:
        files[followup_id] = out / "messages-followup.jsonl"
    handles = {campaign: path.open("w", encoding="utf-8") for campaign, path in files.items()}
    try:
        for message in stack.sent_messages():
            handle = handles.get(message.get("tags", {}).get("campaign"))
            if handle is not None:
                handle.write(json.dumps(message_record(message), ensure_ascii=False) + "\n")
    finally:
        for handle in handles.values():
            handle.close()
    with (out / "events.jsonl").open("w", encoding="utf-8") as events:
        for record in stack.published_events():
            events.write(json.dumps(record, ensure_ascii=False) + "\n")
    rejects = report.get("rejects_key")
    body = stack.client("s3").get_object(Bucket=stack.bucket, Key=rejects)["Body"].read() if rejects else b""
    (out / "rejects.jsonl").write_bytes(body)


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
