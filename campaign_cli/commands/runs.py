"""``campaign status | pause | resume | cancel | retry | reconcile | report``: runs, read from the
runs table and the run's report in S3; pause, cancel and retry through the layer's control
service, resume through the StartCampaign function (as the breaker's resume is documented),
reconcile through the layer's reconcile service; Finalize then writes the report again."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, cast

from campaign_engine.adapters import storage
from campaign_engine.domain.errors import NotFound
from campaign_engine.domain.run_record import RunRecord, RunStatus
from campaign_engine.services import control

from .. import follow
from ..errors import OK, RUN_FAILED, RUN_PAUSED, CliError
from ..output import Out, human_time, number
from ..report_page import render, summarise_rejects
from ..target import Target, command_hint, with_target

REPORT_OUTCOMES = ("sent", "suppressed", "invalid", "duplicate", "skipped", "failed", "unknown", "not_sent")


def when(value: Any) -> str:
    """A time for people: ``2026-12-07 05:12:26`` (UTC)."""
    return human_time(value)


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
                settings, record.campaign_id, args.run, out, interval=args.interval, show_progress=not out.as_json
            )
        else:
            snapshot = control.progress(settings, record)
        if out.as_json:
            out.document(snapshot.to_dict())
        else:
            _print_progress(snapshot, out, args)
        # The run's state is the answer, watched or not (errors.EXIT_CODES): PAUSED exits
        # RUN_PAUSED, FAILED and CANCELLED RUN_FAILED, RUNNING and COMPLETED 0.
        return follow.exit_code(snapshot)
    ids = [args.campaign] if args.campaign else campaign_ids(target)
    records = control.runs(settings, ids, limit=args.limit)
    if out.as_json:
        out.document({"runs": [r.to_store() for r in records]})
        return OK
    rows = []
    for r in records:
        queued = sum(int(v) for v in (r.prepare.queued if r.prepare else {}).values())
        sent = (r.counts or {}).get("sent")
        rows.append(
            [
                r.run_id,
                r.status.value,
                r.trigger,
                when(r.started_at),
                queued or None,
                sent,
                r.reason if out.full_width else (r.reason or "")[:60],
            ]
        )
    if not records:
        out.line("no runs yet" + (f" for campaign {args.campaign}" if args.campaign else ""))
        return OK
    out.table("Runs", ["run", "status", "trigger", "started", "queued", "sent", "reason"], rows, {"queued", "sent"})
    return OK


def _print_progress(snapshot: control.Progress, out: Out, args: Any) -> None:
    """One run's progress. Every number has one basis (control.progress, domain Tally): the
    queued recipients are done (an outcome from a send) or not sent (the run stopped first), and
    the outcome table counts every row of the file, as the report does."""
    out.line(f"[bold]{snapshot.run_id}[/bold]  campaign {snapshot.campaign_id}  {follow.describe(snapshot)}")
    if snapshot.total is None:
        out.line("preparing: nothing queued yet")
    else:
        rows = "" if snapshot.rows is None else f" of {snapshot.rows:,} rows"
        parts = [f"queued {snapshot.total:,}{rows}: done {snapshot.done:,}"]
        status = snapshot.status
        if status is RunStatus.RUNNING:
            parts.append(f"to go {snapshot.total - snapshot.done:,}")
        elif snapshot.not_sent:
            why = {
                RunStatus.PAUSED: f"paused; {command_hint(args, 'resume', snapshot.run_id)} sends them",
                RunStatus.CANCELLED: "cancelled; never sent",
                RunStatus.FAILED: f"failed; {command_hint(args, 'retry', snapshot.run_id)} sends them",
            }.get(status, status.value.lower())
            parts.append(f"not sent {snapshot.not_sent:,} ({why})")
        out.line(", ".join(parts) + f"; batches {snapshot.batches_done:,} of {number(snapshot.batches_planned)} done")
    out.line(f"started {when(snapshot.started_at)}, finished {when(snapshot.finished_at)} (UTC)")
    if snapshot.finalize_error:
        out.line(
            f"[red]Finalize failed ({snapshot.finalize_error}): no report yet; "
            f"{command_hint(args, 'report', '--refresh', snapshot.run_id)} writes it[/red]"
        )
    rows_title = "Outcomes" if snapshot.rows is None else f"Outcomes of the file's {snapshot.rows:,} rows"
    out.table(
        rows_title, ["outcome", "count"], [[name, snapshot.counts.get(name, 0)] for name in REPORT_OUTCOMES], {"count"}
    )


def run_pause(args: Any, target: Target, out: Out) -> int:
    record = control.pause(target.settings(), args.run, args.campaign)
    resume = command_hint(args, "resume", args.run)
    return _changed(record, out, f"paused: later batches send nothing; {resume} continues")


def run_cancel(args: Any, target: Target, out: Out) -> int:
    record, rewrite = control.cancel(target.settings(), args.run, args.campaign)
    if rewrite:
        finalize_again(target, record.campaign_id, args.run)
    return _changed(record, out, "cancelled: nothing more is sent; the report counts the rest as not_sent")


def _changed(record: RunRecord, out: Out, message: str) -> int:
    if out.as_json:
        out.document({"run_id": record.run_id, "status": record.status.value, "reason": record.reason})
    else:
        out.line(f"{record.run_id}: {message}")
    return OK


def finalize_again(target: Target, campaign_id: str, run_id: str) -> None:
    """Have the Finalize function write the run's report again from the tables."""
    target.invoke("FinalizeFunctionName", {"campaign_id": campaign_id, "run_id": run_id}, what="Finalize")


def run_resume(args: Any, target: Target, out: Out) -> int:
    record = control.find_run(target.settings(), args.run, args.campaign)
    event: dict[str, Any] = {"action": "resume", "campaign_id": record.campaign_id, "run_id": args.run}
    if args.breaker:
        try:
            event["breaker"] = json.loads(args.breaker)
        except ValueError as exc:
            raise CliError(f"--breaker: not JSON: {exc}") from None
    payload = target.invoke("StartCampaignFunctionName", event, what="resume")
    if args.follow:
        snapshot = follow.wait_for(
            target.settings(),
            record.campaign_id,
            args.run,
            out,
            interval=args.interval,
            show_progress=not out.as_json,
        )
        return finish(target, snapshot, out, args)
    if out.as_json:
        out.document({"run_id": args.run, "resumed": True, "execution": payload})
    else:
        out.line(f"{args.run}: resumed ({command_hint(args, 'status', '--watch', args.run)} follows it)")
    return OK


def load_report(
    target: Target, campaign_id: str, run_id: str, record: RunRecord | None = None, args: Any = None
) -> dict[str, Any]:
    key = f"runs/{campaign_id}/{run_id}/report.json"
    try:
        return json.loads(storage.get_bytes(target.bucket, key))
    except storage.MissingObject:
        if record is not None and record.finalize_error is not None:
            raise NotFound(
                f"run {run_id} has no report: Finalize failed ({record.finalize_error.code}); "
                f"{command_hint(args, 'report', '--refresh', run_id)} writes it",
                where=f"s3://{target.bucket}/{key}",
            ) from None
        raise NotFound(f"run {run_id} has no report yet", where=f"s3://{target.bucket}/{key}") from None


def rejects_summary(target: Target, report: dict[str, Any]) -> dict[str, Any] | None:
    key = report.get("rejects_key")
    if not key:
        return None
    try:
        stream = storage.open_stream(target.bucket, key)
    except storage.MissingObject:
        return None
    # botocore's StreamingBody reads lines lazily (a rejects file can be large); BinaryIO's
    # type does not know its iter_lines.
    lines = cast(Any, stream).iter_lines()
    return summarise_rejects(json.loads(line) for line in lines if line.strip())


def run_report(args: Any, target: Target, out: Out) -> int:
    record = control.find_run(target.settings(), args.run, args.campaign)
    if args.refresh and record.status is RunStatus.RUNNING:
        # Finalize invoked now would close the run while its batches are still sending.
        out.note(f"run {args.run} is still RUNNING: its own Finalize writes the report when it ends")
    elif args.refresh:  # the report then has the feedback that arrived since the run ended
        finalize_again(target, record.campaign_id, args.run)
    report = load_report(target, record.campaign_id, args.run, record, args)
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


def finish(target: Target, snapshot: control.Progress, out: Out, args: Any, *, report_wait: float = 10.0) -> int:
    report = None
    # Finalize closes the run record a moment before it writes report.json (record first, so a
    # report never says more than the record): give the report that moment to appear.
    deadline = time.monotonic() + (0 if snapshot.finalize_error else report_wait)
    while report is None:
        try:
            report = load_report(target, snapshot.campaign_id, snapshot.run_id)
        except NotFound:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    if out.as_json:
        out.document({"progress": snapshot.to_dict(), "report": report})
    elif report:
        print_summary(report, out)
    code = follow.exit_code(snapshot)
    if code == RUN_FAILED and report and report.get("error"):
        error = report["error"]
        out.note(with_target(f"run failed: {error.get('where') or ''}: {error.get('message', '')}", args))
    if report is None and snapshot.finalize_error:
        out.note(
            f"run {snapshot.run_id} has no report: Finalize failed ({snapshot.finalize_error}); "
            f"{command_hint(args, 'report', '--refresh', snapshot.run_id)} writes it"
        )
    elif code == RUN_PAUSED:
        out.note(
            f"run {snapshot.run_id} is PAUSED ({snapshot.reason or 'no reason given'}): "
            f"{command_hint(args, 'resume', snapshot.run_id)} continues it"
        )
    return code


def run_retry(args: Any, target: Target, out: Out) -> int:
    """Run a FAILED run again from its upload; nobody already sent is sent again."""
    settings = target.settings()
    started = control.retry(settings, args.run, args.campaign)
    if args.follow:
        snapshot = follow.wait_for(
            settings, started.campaign_id, args.run, out, interval=args.interval, show_progress=not out.as_json
        )
        return finish(target, snapshot, out, args)
    if out.as_json:
        out.document({"run_id": args.run, "retried": True, **started.model_dump(mode="json")})
    else:
        out.line(
            f"{args.run}: retry {started.retries} started as execution {started.execution_name} "
            f"({command_hint(args, 'status', '--watch', args.run)} follows it)"
        )
    return OK


def run_reconcile(args: Any, target: Target, out: Out) -> int:
    """Settle a run's ``unknown`` entries from SES's Send events, optionally release the rest,
    then have Finalize write the report again with the new counts."""
    # Imported here: only this command needs it (and it keeps `campaign --help` fast).
    try:
        from campaign_engine.services.reconcile import reconcile
    except ImportError as exc:  # a layer older than this command line
        raise CliError(f"this installation cannot reconcile runs: {exc}") from None

    if args.older_than <= 0:
        raise CliError(f"--older-than: must be a positive number of hours, not {args.older_than}")
    settings = target.settings()
    record = control.find_run(settings, args.run, args.campaign)
    window = args.older_than if args.release_unknown else None
    result = reconcile(settings, record.campaign_id, args.run, window)
    # A run still RUNNING gets its report from its own execution's Finalize: one invoked now would
    # close the run while batches are still sending.
    running = control.find_run(settings, args.run, record.campaign_id).status is RunStatus.RUNNING
    if not running:
        finalize_again(target, record.campaign_id, args.run)
    try:
        report = load_report(target, record.campaign_id, args.run, record, args)
    except NotFound:
        if not running:
            raise
        report = None
    if out.as_json:
        out.document({"run_id": args.run, "reconciled": result.model_dump(mode="json"), "report": report})
        return OK
    released = f", released {result.released:,} (no Send event after {args.older_than:g} h)" if window else ""
    out.line(
        f"{args.run}: confirmed sent {result.confirmed_sent:,} (SES's Send event){released}; "
        f"still unknown {result.still_unknown:,}"
    )
    if report is not None:
        print_summary(report, out)
    if running:
        out.note("the run is still RUNNING: its own Finalize writes the report when it ends")
    return OK
