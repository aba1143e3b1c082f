"""Following a run: a progress bar (recipients done of total, rate, ETA, status) until the run
stops, then its report. Used by ``campaign send``, ``campaign status --watch``, ``resume --follow``
and ``retry --follow``."""

from __future__ import annotations

import time
from typing import Any

import campaign_engine.services.control as control
from campaign_engine.domain.errors import NotFound
from campaign_engine.domain.run_record import RunStatus
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .errors import NOT_FOUND, OK, RUN_FAILED, RUN_PAUSED, CliError
from .output import Out

STATUS_EXIT = {
    RunStatus.COMPLETED: OK,
    RunStatus.FAILED: RUN_FAILED,
    RunStatus.CANCELLED: RUN_FAILED,
    RunStatus.PAUSED: RUN_PAUSED,
}


def describe(snapshot: control.Progress | None) -> str:
    if snapshot is None:
        return "starting"
    running = snapshot.status is RunStatus.RUNNING
    if running and snapshot.total is None:
        return "preparing"
    if snapshot.waiting_for_quota:
        return "waiting for daily quota"
    if running and snapshot.finished_at is None:
        return "finishing" if snapshot.total == snapshot.done else "sending"
    return snapshot.status.value.lower() + (f" ({snapshot.reason})" if snapshot.reason else "")


def wait_for(
    settings: Any,
    campaign_id: str,
    run_id: str,
    out: Out,
    *,
    interval: float,
    start_timeout: float = 120.0,
    show_progress: bool = True,
) -> control.Progress:
    """Poll the run until it stops; returns its last progress."""
    started = time.monotonic()
    columns = (
        TextColumn("[bold]{task.fields[status]:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out.err, transient=False, disable=not show_progress) as bar:
        task = bar.add_task("run", total=None, status="starting", rate="")
        snapshot: control.Progress | None = None
        first_done: tuple[float, int] | None = None
        while True:
            try:
                record = control.find_run(settings, run_id, campaign_id)
            except NotFound:
                if time.monotonic() - started > start_timeout:
                    raise CliError(
                        f"run {run_id} has not started after {start_timeout:.0f} s: look at StartCampaign's "
                        "dead-letter queue (stack output StartCampaignDeadLetterQueueUrl)",
                        NOT_FOUND,
                    ) from None
                time.sleep(interval)
                continue
            snapshot = control.progress(settings, record)
            now = time.monotonic()
            if first_done is None and snapshot.done:
                first_done = (now, snapshot.done)
            rate = ""
            if first_done and now > first_done[0] and snapshot.done > first_done[1]:
                rate = f"{(snapshot.done - first_done[1]) / (now - first_done[0]):,.0f}/s"
            bar.update(task, total=snapshot.total, completed=snapshot.done, status=describe(snapshot), rate=rate)
            if snapshot.stopped:
                return snapshot
            time.sleep(interval)


def exit_code(snapshot: control.Progress) -> int:
    return STATUS_EXIT.get(snapshot.status, RUN_FAILED)
