"""``campaign suppression list | add | remove | import | export``: the stack's suppression table,
through the same adapter and fold the feedback functions use (an operator's add is a MANUAL
fact; an import records each line's reason and source, see ``domain.suppression_import`` and
docs/suppression-import.md)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from campaign_engine.adapters import ses
from campaign_engine.adapters.suppression import SuppressionList, account_suppressions
from campaign_engine.domain.addresses import InvalidAddress, address_hash, normalise
from campaign_engine.domain.errors import CampaignError
from campaign_engine.domain.ses_events import iso_millis
from campaign_engine.domain.suppression import BOUNCE, COMPLAINT, SES_REASONS, SUPPRESSED, Fact, SoftBouncePolicy
from campaign_engine.domain.suppression_import import (
    DEFAULT_REASON,
    Candidate,
    Importer,
    ImportFile,
    ImportKind,
    ImportReason,
    ImportSummary,
    Line,
    LineOutcome,
    default_source,
    looks_subscribed,
)

from ..errors import NOT_FOUND, OK, PROBLEMS, CliError
from ..output import Out
from ..target import Target

EXPORT_FIELDS = ("address", "status", "reasons", "scope", "topics", "first_at", "last_at", "campaign_id", "source")


def _table(target: Target) -> SuppressionList:
    return SuppressionList(target.settings().suppression_table)


def _row(record: dict[str, Any]) -> dict[str, Any]:
    """One flat row per address, whatever the record's history holds."""
    last = record.get("last") or {}
    return {
        "address": record.get("address"),
        "status": record.get("status"),
        "reasons": ";".join(record.get("reasons") or []),
        "scope": record.get("scope"),
        "topics": ";".join(record.get("topics") or []),
        "first_at": record.get("first_at"),
        "last_at": record.get("last_at"),
        "campaign_id": last.get("campaign_id") or record.get("campaign_id"),
        "source": last.get("source") or record.get("source"),
    }


def _addresses(raw: list[str]) -> list[str]:
    out = []
    for value in raw:
        try:
            out.append(normalise(value))
        except InvalidAddress as exc:
            raise CliError(f"{value!r}: {exc}") from None
    return out


def run_list(args: Any, target: Target, out: Out) -> int:
    rows = [_row(r) for r in _table(target).scan()]
    if not args.all:  # soft bounces under the limit are watched, not suppressed
        rows = [r for r in rows if r["status"] == "SUPPRESSED"]
    if args.reason:
        rows = [r for r in rows if args.reason.upper() in r["reasons"].split(";")]
    rows.sort(key=lambda r: r["last_at"] or "", reverse=True)
    if out.as_json:
        out.document({"count": len(rows), "addresses": rows[: args.limit] if args.limit else rows})
        return OK
    shown = rows[: args.limit] if args.limit else rows
    out.table(
        f"Suppressed addresses ({len(rows):,})",
        ["address", "reasons", "scope", "last", "campaign", "source"],
        [[r["address"], r["reasons"], r["scope"], r["last_at"], r["campaign_id"], r["source"]] for r in shown],
    )
    return OK


def run_add(args: Any, target: Target, out: Out) -> int:
    table, policy = _table(target), SoftBouncePolicy()
    at = iso_millis(datetime.now(UTC))
    results = []
    for address in _addresses(args.addresses):
        fact = Fact(
            reason="MANUAL",
            at=at,
            # One key per address and note: adding the same address twice is one fact.
            key=f"operator|{address_hash(address)}|{args.note or ''}",
            source="operator",
            detail=args.note,
        )
        _, changed = table.record(address, fact, policy)
        results.append({"address": address, "changed": changed})
    if out.as_json:
        out.document({"added": results})
    else:
        for r in results:
            out.line(f"{r['address']}: {'suppressed' if r['changed'] else 'already suppressed (unchanged)'}")
    return OK


def run_remove(args: Any, target: Target, out: Out) -> int:
    table = _table(target)
    results = [{"address": a, "removed": table.remove(a)} for a in _addresses(args.addresses)]
    if out.as_json:
        out.document({"removed": results})
    else:
        for r in results:
            out.line(f"{r['address']}: {'removed' if r['removed'] else 'was not suppressed'}")
    missing = [r for r in results if not r["removed"]]
    return NOT_FOUND if missing and len(missing) == len(results) else OK


class _Progress:
    """A line on stderr every few seconds once an import is big enough to wait for."""

    def __init__(self, out: Out, every: float = 2.0) -> None:
        self._out, self._every = out, every
        self._started = self._last = time.monotonic()

    def __call__(self, summary: ImportSummary) -> None:
        now = time.monotonic()
        if now - self._last < self._every:
            return
        self._last = now
        rate = summary.lines / (now - self._started)
        self._out.note(f"  {summary.lines:,} lines read, {summary.recorded:,} recorded ({rate:,.0f} lines/s)")


def _open(path: str) -> Any:
    if path == "-":
        return sys.stdin.buffer
    try:
        return Path(path).open("rb")
    except FileNotFoundError:
        raise CliError(f"{path}: no such file", NOT_FOUND) from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a directory, expected a CSV, JSON Lines or plain list file") from None


def _default_at(path: str) -> str:
    """The time of lines without one: the file's modification time, so importing the same file
    again gives the same facts (standard input: now)."""
    if path == "-":
        return iso_millis(datetime.now(UTC))
    return iso_millis(datetime.fromtimestamp(Path(path).stat().st_mtime, UTC))


def _ses_lines(reason: str | None) -> Iterator[Line]:
    """SES's account list as import lines: each entry keeps its own reason and time."""
    for number, entry in enumerate(account_suppressions([reason] if reason else []), 1):
        yield Candidate(
            number,
            entry.address,
            at=iso_millis(entry.updated),
            detail="SES account suppression list",
            reason=ImportReason(entry.reason),
        )


def run_import(args: Any, target: Target, out: Out) -> int:
    table = _table(target)
    reason = ImportReason(args.reason.upper()) if args.reason else None
    progress = _Progress(out)
    if args.from_ses:
        if args.file:
            raise CliError("give a FILE or --from-ses, not both")
        if reason not in (None, ImportReason.BOUNCE, ImportReason.COMPLAINT):
            raise CliError(f"--from-ses --reason {reason}: SES's list holds only BOUNCE and COMPLAINT")
        summary = ImportSummary(
            source_name="SES account suppression list",
            kind=ImportKind.SES_ACCOUNT,
            reason=None,
            source=args.source or default_source(ImportKind.SES_ACCOUNT, ""),
            dry_run=args.dry_run,
        )
        Importer(table, summary, default_at=iso_millis(datetime.now(UTC)), progress=progress).run(_ses_lines(reason))
        return _import_result(summary, out)
    if not args.file:
        raise CliError("name a FILE to import (- for standard input), or --from-ses")
    name = "stdin" if args.file == "-" else Path(args.file).name
    stream = _open(args.file)
    try:
        source_file = ImportFile(stream, name=args.file if args.file != "-" else "stdin")
        lines = source_file.lines()
        first = next(lines, None)  # the kind is known once the first line is read
        kind = source_file.kind or ImportKind.ADDRESSES
        if reason is None and looks_subscribed(source_file.columns):
            raise CliError(
                f"{args.file} looks like a list of subscribed members (Mailchimp's subscribed export: OPTIN_TIME, "
                "MEMBER_RATING), not of addresses to suppress: importing it would stop mail to every one of them. "
                "Import the unsubscribed and cleaned exports instead, or give --reason to suppress these on purpose"
            )
        summary = ImportSummary(
            source_name=args.file,
            kind=kind,
            reason=reason or DEFAULT_REASON[kind],
            source=args.source or default_source(kind, name),
            dry_run=args.dry_run,
        )
        importer = Importer(table, summary, default_at=_default_at(args.file), progress=progress)
        try:
            importer.run(_chain(first, lines))
        except CampaignError as exc:  # the file cannot be read on from a line on
            raise CliError(
                f"{exc}. The {summary.recorded:,} addresses recorded before that line stay; importing the "
                "corrected file again records nothing twice."
            ) from None
        summary.encoding, summary.delimiter = source_file.encoding, source_file.delimiter
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return _import_result(summary, out)


def _chain(first: Line | None, rest: Iterator[Line]) -> Iterator[Line]:
    if first is not None:
        yield first
        yield from rest


def _import_result(summary: ImportSummary, out: Out) -> int:
    invalid = summary.counts[LineOutcome.INVALID]
    if out.as_json:
        out.document(summary.document())
    else:
        read_as = ", ".join(
            part
            for part in (summary.encoding, f"delimiter {summary.delimiter!r}" if summary.delimiter else None)
            if part
        )
        out.line(
            f"{summary.source_name}: {summary.kind.value}"
            + (f" ({read_as})" if read_as else "")
            + f", reason {summary.reason.value if summary.reason else 'BOUNCE or COMPLAINT (per entry)'}, "
            f"source {summary.source}" + (" [dry run: nothing written]" if summary.dry_run else "")
        )
        out.table(
            None,
            ["outcome", "lines"],
            [[outcome.value, summary.counts[outcome]] for outcome in LineOutcome],
            numeric={"lines"},
        )
        plural = "line" if summary.lines == 1 else "lines"
        out.line(f"{summary.lines:,} {plural} in {summary.seconds:,.1f} s ({summary.rate:,.0f} lines/s)")
        if summary.problems:
            out.table(
                f"Invalid lines (first {len(summary.problems)} of {invalid:,})",
                ["line", "field", "problem"],
                [[p.line, p.field or "", p.message] for p in summary.problems],
            )
    return PROBLEMS if invalid else OK


def _ses_reason(record: dict[str, Any]) -> str | None:
    """The reason SES's account list can take for a record: COMPLAINT before BOUNCE; None for
    unsubscribes and manual entries, which the account list has no reason for."""
    reasons = set(record.get("reasons") or [])
    for reason in (COMPLAINT, BOUNCE):
        if reason in reasons:
            return SES_REASONS[reason]
    return None


def _to_ses(args: Any, target: Target, out: Out) -> int:
    """Put the table's bounces and complaints on SES's account-level list (what is not there yet)."""
    wanted = {
        r["address"]: reason
        for r in _table(target).scan()
        if r.get("status") == SUPPRESSED and (reason := _ses_reason(r)) is not None
    }
    present = {(e.address.lower(), e.reason) for e in account_suppressions()}
    missing = sorted((a, reason) for a, reason in wanted.items() if (a, reason) not in present)
    if not args.dry_run:
        # One call an address (SES has no batch put); a few in flight, the SDK retries throttling.
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda pair: ses.put_suppressed_destination(*pair), missing))
    document = {
        "to_ses": {
            "candidates": len(wanted),
            "already_on_account_list": len(wanted) - len(missing),
            "put": 0 if args.dry_run else len(missing),
            "would_put": len(missing) if args.dry_run else 0,
            "dry_run": bool(args.dry_run),
        }
    }
    if out.as_json:
        out.document(document)
    else:
        verb = "would put" if args.dry_run else "put"
        out.line(
            f"SES account suppression list: {verb} {len(missing):,} addresses "
            f"({len(wanted) - len(missing):,} of the table's {len(wanted):,} bounces and complaints were there already)"
        )
    return OK


def run_export(args: Any, target: Target, out: Out) -> int:
    if args.to_ses:
        if args.file:
            raise CliError("export --to-ses writes to SES's account list: give no FILE with it")
        return _to_ses(args, target, out)
    if args.dry_run:
        raise CliError("--dry-run goes with --to-ses")
    if not args.file:
        raise CliError("name a FILE to export to (- for standard output), or --to-ses")
    rows = [_row(r) for r in _table(target).scan() if args.all or r.get("status") == "SUPPRESSED"]
    fmt = args.format or ("jsonl" if str(args.file).endswith((".jsonl", ".json")) else "csv")
    if fmt not in ("csv", "jsonl"):
        raise CliError(f"--format {fmt}: expected csv or jsonl", PROBLEMS)
    path = None if args.file == "-" else Path(args.file)
    stream = sys.stdout if path is None else path.open("w", encoding="utf-8", newline="")
    try:
        if fmt == "csv":
            writer = csv.DictWriter(stream, fieldnames=EXPORT_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        else:
            for row in rows:
                stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if path is not None:
            stream.close()
    out.note(f"exported {len(rows):,} suppressed addresses" + (f" to {path}" if path else ""))
    return OK


def add_commands(commands: Any, shared: argparse.ArgumentParser) -> None:
    """``campaign suppression ACTION``; ``shared``: the global options, accepted after the action too."""
    group = commands.add_parser(
        "suppression", help="the suppression list: list, add, remove, import, export", parents=[shared]
    )
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub = actions.add_parser("list", help="suppressed addresses, newest first", parents=[shared])
    sub.set_defaults(handler=run_list, offline=False)
    sub.add_argument("--reason", help="only BOUNCE, COMPLAINT, UNSUBSCRIBE, SOFT_BOUNCE or MANUAL")
    sub.add_argument("--all", action="store_true", help="also addresses watched for soft bounces")
    sub.add_argument("--limit", type=int, default=0)
    sub = actions.add_parser("add", help="suppress addresses (reason MANUAL)", parents=[shared])
    sub.set_defaults(handler=run_add, offline=False)
    sub.add_argument("addresses", nargs="+", metavar="ADDRESS")
    sub.add_argument("--note", help="why (kept with the record)")
    sub = actions.add_parser("remove", help="stop suppressing addresses", parents=[shared])
    sub.set_defaults(handler=run_remove, offline=False)
    sub.add_argument("addresses", nargs="+", metavar="ADDRESS")
    sub = actions.add_parser(
        "import",
        help="suppress every address of an export (Mailchimp unsubscribed/cleaned, listmonk blocklist, "
        "Pinpoint opt-outs, a plain list) or of SES's account-level list",
        description="Suppress the addresses of FILE (CSV, JSON Lines, or one address a line; .gz too), or of "
        "SES's account-level suppression list (--from-ses). The kind of file is detected from its header and "
        "decides the reason and source (docs/suppression-import.md). Importing again changes nothing; a "
        "reason already recorded is never lost.",
        parents=[shared],
    )
    sub.set_defaults(handler=run_import, offline=False)
    sub.add_argument("file", metavar="FILE", nargs="?", help="a path, or - for standard input")
    sub.add_argument(
        "--reason",
        type=str.upper,
        choices=[r.value for r in ImportReason],
        help="record this reason instead of the detected one (with --from-ses: import only this reason)",
    )
    sub.add_argument("--source", help="record this source (default: import:<kind>:<file name>, or ses-account)")
    sub.add_argument("--dry-run", action="store_true", help="read, check and count; write nothing")
    sub.add_argument("--from-ses", action="store_true", help="import SES's account-level suppression list")
    sub = actions.add_parser(
        "export", help="write the list as CSV or JSON Lines, or put it on SES's account list", parents=[shared]
    )
    sub.set_defaults(handler=run_export, offline=False)
    sub.add_argument("file", metavar="FILE", nargs="?", help="a path, or - for standard output")
    sub.add_argument("--format", choices=("csv", "jsonl"))
    sub.add_argument("--all", action="store_true", help="also addresses watched for soft bounces")
    sub.add_argument(
        "--to-ses",
        action="store_true",
        help="put the table's bounced and complained addresses on SES's account-level suppression list "
        "(unsubscribes and manual entries stay in the table: SES's list knows only BOUNCE and COMPLAINT)",
    )
    sub.add_argument("--dry-run", action="store_true", help="with --to-ses: count, put nothing")
