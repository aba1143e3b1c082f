"""``campaign preview <campaign_id> --audience FILE``: what a send of this file would do, without
sending: outcome counts per segment and one rendered sample per segment, written as HTML."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from campaign_engine.services.preview import preview

from ..errors import NOT_FOUND, OK, CliError
from ..output import Out
from ..target import Target

COLUMNS = ("would_send", "suppressed", "invalid", "duplicate", "skipped")


def _file_name(segment: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", segment) + ".html"


def run_preview(args: Any, target: Target, out: Out) -> int:
    path = Path(args.audience)
    if not path.is_file():
        raise CliError(f"{path}: no such file", NOT_FOUND)
    with path.open("rb") as stream:
        result = preview(target.settings(), args.campaign_id, stream, str(path))
    directory = Path(args.out or f"build/preview/{args.campaign_id}")
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
    else:
        out.line(f"[bold]preview of {args.campaign_id}[/bold] with {path}: {result.rows:,} rows, nothing sent")
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
