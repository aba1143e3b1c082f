"""Following a run: a progress bar (recipients done of total, rate, ETA, status) until the run
stops, then its report. Used by ``campaign send``, ``campaign status --watch``, ``resume --follow``
and ``retry --follow``.

When stderr is not a terminal (CI logs, ``2> send.log``) a bar would print nothing until the end:
one line is printed instead when the run is queued and at each 10% of its queued recipients."""

from __future__ import annotations

import time
from typing import Any

import campaign_engine.services.control as control
from campaign_engine.domain.errors import NotFound
from campaign_engine.domain.run_record import RunStatus
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .errors import NOT_FOUND, OK, RUN_FAILED, RUN_PAUSED, CliError
from .output import Out

# errors.EXIT_CODES: a run's state as an exit code (a RUNNING run shown by `status RUN` is fine).
STATUS_EXIT = {
    RunStatus.RUNNING: OK,
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
    lines = show_progress and not out.err.is_terminal
    milestones = Milestones(out)
    with Progress(*columns, console=out.err, transient=False, disable=not show_progress or lines) as bar:
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
            if lines:
                milestones.update(snapshot, rate)
            if snapshot.stopped:
                return snapshot
            time.sleep(interval)


class Milestones:
    """Progress as lines, for a stderr that is not a terminal: one when the run is queued, one at
    each 10% of its queued recipients done (several steps at once print one line), one when the
    run stops short of 100%."""

    def __init__(self, out: Out) -> None:
        self.out = out
        self.step: int | None = None  # the last tenth printed; None: the run was not queued yet
        self.closed = False

    def update(self, snapshot: control.Progress, rate: str = "") -> None:
        if snapshot.total is None:
            return
        if self.step is None:
            rows = "" if snapshot.rows is None else f" of {snapshot.rows:,} rows"
            self.out.note(f"queued {snapshot.total:,}{rows}")
            self.step = 0
        step = 10 if snapshot.total == 0 else min(snapshot.done * 10 // snapshot.total, 10)
        if step > self.step:
            self.step = step
            self.out.note(self.line(snapshot, rate))
        elif snapshot.stopped and step < 10 and not self.closed:  # paused, cancelled, failed short of 100%
            self.closed = True
            self.out.note(self.line(snapshot, rate))

    @staticmethod
    def line(snapshot: control.Progress, rate: str = "") -> str:
        total = snapshot.total or 0
        percent = 100 if total == 0 else snapshot.done * 100 // total
        rate_text = f", {rate}" if rate else ""
        rows = "" if snapshot.rows is None else f", {snapshot.rows:,} rows in the file"
        return (
            f"{percent:3d}%: done {snapshot.done:,} of {total:,} queued (sent {snapshot.counts.get('sent', 0):,}"
            f"{rows}){rate_text}; {describe(snapshot)}"
        )


def exit_code(snapshot: control.Progress) -> int:
    return STATUS_EXIT.get(snapshot.status, RUN_FAILED)
