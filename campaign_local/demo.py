"""`make demo`: the recipe's campaign on the local stack, from upload to report.

    python -m campaign_local.demo [--campaign F] [--audience F] [--templates DIR] [--out DIR]

By default: the recipe's templates (templates/), its campaign (examples/recipe/campaign.json)
and an audience of the recipe's three subscribers plus 10,000 generated rows. The audience is
uploaded to incoming/<campaign_id>/, the S3 notification starts the run, and the run's report
and every message the local SES "sent" are written to OUT.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from .audience_gen import generate
from .stack import ROOT, LocalStack

OUTCOME_COLUMNS = ["sent", "suppressed", "invalid", "duplicate", "skipped", "failed", "unknown", "not_sent"]
# The local account's quota: fast enough for 10,000 recipients in seconds, still paced.
DEMO_SEND_RATE = 2000.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--campaign", type=Path, default=ROOT / "examples/recipe/campaign.json")
    parser.add_argument("--audience", type=Path, help="subscriber file (.csv, .json, .jsonl); default: generated")
    parser.add_argument("--templates", type=Path, default=ROOT / "templates")
    parser.add_argument("--out", type=Path, default=ROOT / "build/demo")
    parser.add_argument("--generated", type=int, default=10_000, help="generated rows added to the recipe's three")
    parser.add_argument("--send-rate", type=float, default=DEMO_SEND_RATE, help="local SES MaxSendRate")
    parser.add_argument("--timeout", type=float, default=170.0)
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
    lines += [
        "",
        f"Report:   {out / 'report.json'}",
        f"Messages: {out / 'messages.jsonl'}",
        f"Rejects:  {out / 'rejects.jsonl'}",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    definition = json.loads(args.campaign.read_text(encoding="utf-8"))
    campaign_id = definition.get("campaign_id") or args.campaign.stem
    audience = args.audience or default_audience(out, args.generated)
    # The handlers' JSON logs and metrics go to a file; the terminal gets the summary.
    with (
        (out / "lambda.log").open("w", encoding="utf-8") as lambda_log,
        contextlib.redirect_stdout(lambda_log),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        report, seconds = run_on_local_stack(args, definition, campaign_id, audience)
    if report is None:
        print("No run started: is the upload under incoming/<campaign_id>/ and the campaign id valid?", file=sys.stderr)
        return 2
    print(summary(report, seconds, out))
    return 0 if report["status"] == "COMPLETED" else 1


def run_on_local_stack(
    args: argparse.Namespace, definition: dict[str, Any], campaign_id: str, audience: Path
) -> tuple[dict[str, Any] | None, float]:
    out: Path = args.out
    with LocalStack.start() as stack:
        stack.configure_ses(max_send_rate=args.send_rate, max_24_hour_send=10_000_000)
        sender = definition.get("sender", {}).get("address", "")
        if "@" in sender:
            stack.verify_sender(sender.rsplit("@", 1)[1])
        load_templates(stack, args.templates)
        stack.upload(f"campaigns/{campaign_id}.json", args.campaign.read_bytes())
        started = time.monotonic()
        stack.upload(f"incoming/{campaign_id}/{audience.name}", audience.read_bytes())
        executions = stack.executions()
        if not executions:
            return None, 0.0
        execution = stack.wait_for_execution(executions[0]["executionArn"], timeout=args.timeout)
        seconds = time.monotonic() - started
        report = stack.report(campaign_id, execution["name"])
        (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        with (out / "messages.jsonl").open("w", encoding="utf-8") as handle:
            for message in stack.sent_messages():
                handle.write(json.dumps(message_record(message), ensure_ascii=False) + "\n")
        rejects = report.get("rejects_key")
        body = stack.client("s3").get_object(Bucket=stack.bucket, Key=rejects)["Body"].read() if rejects else b""
        (out / "rejects.jsonl").write_bytes(body)
    return report, seconds


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
