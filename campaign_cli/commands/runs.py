"""``campaign status | pause | resume | cancel | report``: runs, read from the runs table and
the run's report in S3; pause and cancel through the layer's control service, resume through
the StartCampaign function (as the breaker's resume is documented)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from campaign_engine.adapters import storage
from campaign_engine.domain.errors import NotFound
from campaign_engine.services import control

from .. import follow
from ..errors import OK, RUN_FAILED, CliError
from ..output import Out, number
from ..report_page import render, summarise_rejects
from ..target import Target

REPORT_OUTCOMES = ("sent", "suppressed", "invalid", "duplicate", "skipped", "failed", "unknown", "not_sent")


def when(value: Any) -> str:
    if value in (None, ""):
        return "-"
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(value).replace("T", " ")[:19]


def campaign_ids(target: Target) -> list[str]:
    s3 = target.client("s3")
    ids = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=target.bucket, Prefix="campaigns/"):
        for item in page.get("Contents", []):
            name = item["Key"].removeprefix("campaigns/")
            if name.endswith(".json") and "/" not in name:
                ids.append(name.removesuffix(".json"))
    return sorted(ids)


def run_status(args: Any, target: Target, out: Out) -> int:
    settings = target.settings()
    if args.run:
        record = control.find_run(settings, args.run, args.campaign)
        if args.watch:
            snapshot = follow.wait_for(
                settings, record["campaign_id"], args.run, out, interval=args.interval, show_progress=not out.as_json
            )
        else:
            snapshot = control.progress(settings, record)
        if out.as_json:
            out.document(snapshot.to_dict())
        else:
            _print_progress(snapshot, out)
        return follow.exit_code(snapshot) if args.watch else OK
    ids = [args.campaign] if args.campaign else campaign_ids(target)
    records = control.runs(settings, ids, limit=args.limit)
    if out.as_json:
        out.document({"runs": records})
        return OK
    rows = []
    for r in records:
        queued = sum(int(v) for v in ((r.get("prepare") or {}).get("queued") or {}).values())
        sent = (r.get("counts") or {}).get("sent")
        rows.append(
            [
                r["run_id"],
                r.get("status"),
                r.get("trigger"),
                when(r.get("started_at")),
                queued or None,
                sent,
                (r.get("reason") or "")[:60],
            ]
        )
    if not records:
        out.line("no runs yet" + (f" for campaign {args.campaign}" if args.campaign else ""))
        return OK
    out.table("Runs", ["run", "status", "trigger", "started", "queued", "sent", "reason"], rows, {"queued", "sent"})
    return OK


def _print_progress(snapshot: control.Progress, out: Out) -> None:
    out.line(f"[bold]{snapshot.run_id}[/bold]  campaign {snapshot.campaign_id}  {follow.describe(snapshot)}")
    total = "-" if snapshot.total is None else f"{snapshot.total:,}"
    out.line(
        f"recipients done {snapshot.done:,} of {total}; batches {snapshot.batches_done:,} of "
        f"{number(snapshot.batches_planned)}; started {when(snapshot.started_at)}, "
        f"finished {when(snapshot.finished_at)}"
    )
    rows = [[name, snapshot.counts.get(name, 0)] for name in REPORT_OUTCOMES]
    out.table(None, ["outcome", "count"], rows, {"count"})


def run_pause(args: Any, target: Target, out: Out) -> int:
    record = control.pause(target.settings(), args.run, args.campaign)
    return _changed(record, out, "paused: later batches send nothing; `campaign resume` continues")


def run_cancel(args: Any, target: Target, out: Out) -> int:
    record, rewrite = control.cancel(target.settings(), args.run, args.campaign)
    if rewrite:
        finalize_again(target, record["campaign_id"], args.run)
    return _changed(record, out, "cancelled: nothing more is sent; the report counts the rest as not_sent")


def _changed(record: dict[str, Any], out: Out, message: str) -> int:
    if out.as_json:
        out.document({"run_id": record["run_id"], "status": record.get("status"), "reason": record.get("reason")})
    else:
        out.line(f"{record['run_id']}: {message}")
    return OK


def finalize_again(target: Target, campaign_id: str, run_id: str) -> None:
    """Have the Finalize function write the run's report again from the tables."""
    target.invoke("FinalizeFunctionName", {"campaign_id": campaign_id, "run_id": run_id}, what="Finalize")


def run_resume(args: Any, target: Target, out: Out) -> int:
    record = control.find_run(target.settings(), args.run, args.campaign)
    event: dict[str, Any] = {"action": "resume", "campaign_id": record["campaign_id"], "run_id": args.run}
    if args.breaker:
        try:
            event["breaker"] = json.loads(args.breaker)
        except ValueError as exc:
            raise CliError(f"--breaker: not JSON: {exc}") from None
    payload = target.invoke("StartCampaignFunctionName", event, what="resume")
    if args.follow:
        snapshot = follow.wait_for(
            target.settings(),
            record["campaign_id"],
            args.run,
            out,
            interval=args.interval,
            show_progress=not out.as_json,
        )
        return finish(target, snapshot, out)
    if out.as_json:
        out.document({"run_id": args.run, "resumed": True, "execution": payload})
    else:
        out.line(f"{args.run}: resumed (`campaign status --watch {args.run}` follows it)")
    return OK


def load_report(target: Target, campaign_id: str, run_id: str) -> dict[str, Any]:
    key = f"runs/{campaign_id}/{run_id}/report.json"
    try:
        return json.loads(storage.get_bytes(target.bucket, key))
    except storage.MissingObject:
        raise NotFound(f"run {run_id} has no report yet", where=f"s3://{target.bucket}/{key}") from None


def rejects_summary(target: Target, report: dict[str, Any]) -> dict[str, Any] | None:
    key = report.get("rejects_key")
    if not key:
        return None
    try:
        stream = storage.open_stream(target.bucket, key)
    except storage.MissingObject:
        return None
    return summarise_rejects(json.loads(line) for line in stream.iter_lines() if line.strip())


def run_report(args: Any, target: Target, out: Out) -> int:
    record = control.find_run(target.settings(), args.run, args.campaign)
    if args.refresh:  # the report then has the feedback that arrived since the run ended
        finalize_again(target, record["campaign_id"], args.run)
    report = load_report(target, record["campaign_id"], args.run)
    rejects = rejects_summary(target, report)
    if args.html:
        path = Path(args.html)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(report, rejects), encoding="utf-8")
        out.note(f"report page written to {path}")
    if out.as_json:
        out.document({**report, "rejects_summary": rejects})
    else:
        print_summary(report, out)
    return OK


def print_summary(report: dict[str, Any], out: Out) -> None:
    out.line(
        f"[bold]{report.get('run_id')}[/bold]  {report.get('status')}"
        + (f" ({report['reason']})" if report.get("reason") else "")
        + f"  rows {number(report.get('rows'))}  started {when(report.get('started_at'))}"
        f"  finished {when(report.get('finished_at'))}"
    )
    segments = report.get("segments") or {}
    rows = [[name, *(counts.get(o, 0) for o in REPORT_OUTCOMES)] for name, counts in sorted(segments.items())]
    rows.append(["total", *(report.get(o, 0) for o in REPORT_OUTCOMES)])
    out.table("Outcomes", ["segment", *REPORT_OUTCOMES], rows, set(REPORT_OUTCOMES))
    feedback = report.get("feedback")
    if feedback:
        names = ("delivered", "bounced", "complained", "opened", "clicked", "unsubscribed")
        fb_rows = [
            [name, *(seg.get(n, 0) for n in names)] for name, seg in sorted(feedback.get("segments", {}).items())
        ]
        fb_rows.append(["total", *(feedback.get(n, 0) for n in names)])
        out.table("Feedback (so far)", ["segment", *names], fb_rows, set(names))


def finish(target: Target, snapshot: control.Progress, out: Out) -> int:
    try:
        report = load_report(target, snapshot.campaign_id, snapshot.run_id)
    except NotFound:
        report = None
    if out.as_json:
        out.document({"progress": snapshot.to_dict(), "report": report})
    elif report:
        print_summary(report, out)
    code = follow.exit_code(snapshot)
    if code == RUN_FAILED and report and report.get("error"):
        out.note(f"run failed: {report['error'].get('where', '')}: {report['error'].get('message', '')}")
    return code
