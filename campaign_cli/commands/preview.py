"""``campaign preview <campaign_id> --audience FILE``: what a send of this file would do, without
sending: how the file was read (format, encoding, delimiter, columns), warnings (a rule field or
a template variable no column provides), outcome counts per segment and one rendered sample per
segment, written as HTML. Reading a big file prints progress on stderr."""

from __future__ import annotations

import html
import inspect
import re
import time
from pathlib import Path
from typing import IO, Any

from campaign_engine.domain.campaign import check_campaign_id
from campaign_engine.services.preview import preview
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from ..errors import NOT_FOUND, OK, CliError
from ..output import Out
from ..target import Target
from .send import require_definition

COLUMNS = ("would_send", "suppressed", "invalid", "duplicate", "skipped")
# Below this size a file reads in a second or two: no progress for it.
PROGRESS_MIN_BYTES = 8 * 1024 * 1024


def _file_name(segment: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", segment) + ".html"


class ReadProgress:
    """How far the preview has read its file, from the position of the stream it reads (so it
    needs nothing from the reader but a call now and then): a transient bar on a terminal; when
    stderr is not one, a line at each 10% of the file's bytes (rows so far, rows per second)."""

    def __init__(self, out: Out, stream: IO[bytes], size: int, name: str) -> None:
        self.out, self.stream, self.size, self.name = out, stream, max(size, 1), name
        self.started = time.monotonic()
        self.rows = 0
        self.step = 0
        self.bar: Progress | None = None
        self.task: Any = None
        if out.err.is_terminal:
            self.bar = Progress(
                TextColumn(f"reading {name}"),
                BarColumn(),
                DownloadColumn(),
                TextColumn("{task.fields[rows]} rows"),
                TimeRemainingColumn(),
                console=out.err,
                transient=True,
            )
            self.task = self.bar.add_task("read", total=self.size, rows="0")
            self.bar.start()

    def __call__(self, *values: Any, **named: Any) -> None:
        """The reader's callback (``prepare.Progress``: rows, bytes_read, seconds, done); from
        anything else it takes a row count if there is one and reads the stream's position."""
        self.rows = _rows_of(values, named, self.rows)
        position = next((v.bytes_read for v in values if isinstance(getattr(v, "bytes_read", None), int)), None)
        if position is None:
            try:
                position = self.stream.tell()
            except (OSError, ValueError):
                return
        if self.bar is not None:
            self.bar.update(self.task, completed=min(position, self.size), rows=f"{self.rows:,}")
            return
        step = min(position * 10 // self.size, 10)
        if step > self.step:
            self.step = step
            elapsed = time.monotonic() - self.started
            rate = f", {self.rows / elapsed:,.0f} rows/s" if self.rows and elapsed > 0 else ""
            rows = f": {self.rows:,} rows" if self.rows else ""
            self.out.note(f"read {step * 10}% of {self.name}{rows}{rate}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _rows_of(values: tuple[Any, ...], named: dict[str, Any], default: int) -> int:
    for candidate in (*values, *named.values()):
        if isinstance(candidate, bool):
            continue
        if isinstance(candidate, int):
            return candidate
        rows = candidate.get("rows") if isinstance(candidate, dict) else getattr(candidate, "rows", None)
        if isinstance(rows, int) and not isinstance(rows, bool):
            return rows
    return default


def _accepts_progress() -> bool:
    """The layer's preview takes a ``progress`` callback from issue 11 on; an older layer does not."""
    try:
        return "progress" in inspect.signature(preview).parameters
    except (TypeError, ValueError):
        return False


def run_preview(args: Any, target: Target, out: Out) -> int:
    campaign_id = check_campaign_id(args.campaign_id, where="campaign id")
    path = Path(args.audience)
    if not path.is_file():
        raise CliError(f"{path}: no such file", NOT_FOUND)
    require_definition(target, campaign_id, args)  # NOT_FOUND, as for `send`
    with path.open("rb") as stream:
        size = path.stat().st_size
        meter = ReadProgress(out, stream, size, path.name) if size >= PROGRESS_MIN_BYTES else None
        try:
            if meter is not None and _accepts_progress():
                result = preview(target.settings(), campaign_id, stream, str(path), progress=meter)
            else:
                result = preview(target.settings(), campaign_id, stream, str(path))
        finally:
            if meter is not None:
                meter.close()
    directory = Path(args.out or f"build/preview/{campaign_id}")
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for sample in result.samples:
        page = directory / _file_name(sample.segment)
        body = sample.html or f"<pre>{html.escape(sample.text or '')}</pre>"
        page.write_text(
            f"<!doctype html><meta charset='utf-8'><title>{html.escape(sample.subject)}</title>"
            f"<!-- sample of segment {html.escape(sample.segment)}, template {html.escape(sample.template)}, "
            f"audience line {sample.line} -->\n{body}",
            encoding="utf-8",
        )
        files[sample.segment] = str(page)
    document = {**result.to_dict(), "sample_files": files}
    if out.as_json:
        out.document(document)
        return OK
    out.line(f"[bold]preview of {campaign_id}[/bold] with {path}: {result.rows:,} rows, nothing sent")
    audience = document.get("audience")
    if isinstance(audience, dict):
        out.line(describe_audience(audience))
    for warning in document.get("warnings") or []:
        out.line(f"[yellow]warning:[/yellow] {warning}")
    rows = [[name, *(counts.get(c, 0) for c in COLUMNS)] for name, counts in result.segments.items()]
    rows.append(["total", *(result.totals.get(c, 0) for c in COLUMNS)])
    out.table("Outcomes if sent now", ["segment", *COLUMNS], rows, set(COLUMNS))
    if result.rejects:
        out.table(
            "Rows that would not be sent",
            ["outcome", "reason", "field", "rows", "first lines"],
            [
                [r["outcome"], r["reason"], r["field"] or "", r["count"], ", ".join(map(str, r["first_lines"]))]
                for r in result.rejects[:15]
            ],
            {"rows"},
        )
    for sample in result.samples:
        out.line(f'sample {sample.segment}: "{sample.subject}" (line {sample.line}) -> {files[sample.segment]}')
    return OK


def describe_audience(audience: dict[str, Any]) -> str:
    """``read as csv, encoding cp1252, delimiter semicolon, email column 'Email Address', 4 columns: ...``
    (the preview's ``audience``: what the reader found; older layers send none)."""
    parts = [f"read as {audience.get('format') or 'unknown format'}"]
    if audience.get("encoding"):
        parts.append(f"encoding {audience['encoding']}")
    delimiter = audience.get("delimiter")
    if delimiter:
        parts.append(f"delimiter {_show_delimiter(delimiter)}")
    if audience.get("compression"):
        parts.append(f"{audience['compression']} compressed")
    if audience.get("email_column"):
        parts.append(f"email column {audience['email_column']!r}")
    columns = audience.get("columns")
    if isinstance(columns, list | dict) and columns:
        names = list(columns) if isinstance(columns, dict) else [str(c) for c in columns]
        parts.append(f"{len(names)} columns: " + ", ".join(map(str, names)))
    return ", ".join(parts)


def _show_delimiter(delimiter: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(delimiter, repr(delimiter))
