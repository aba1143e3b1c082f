"""``campaign suppression list | add | remove | export``: the stack's suppression table, through
the same adapter and fold the feedback functions use (an operator's add is a MANUAL fact)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from campaign_engine.adapters.suppression import SuppressionList
from campaign_engine.domain.addresses import InvalidAddress, address_hash, normalise
from campaign_engine.domain.ses_events import iso_millis
from campaign_engine.domain.suppression import Fact, SoftBouncePolicy

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


def run_export(args: Any, target: Target, out: Out) -> int:
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
    group = commands.add_parser("suppression", help="the suppression list: list, add, remove, export", parents=[shared])
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
    sub = actions.add_parser("export", help="write the list as CSV or JSON Lines", parents=[shared])
    sub.set_defaults(handler=run_export, offline=False)
    sub.add_argument("file", metavar="FILE", help="a path, or - for standard output")
    sub.add_argument("--format", choices=("csv", "jsonl"))
    sub.add_argument("--all", action="store_true", help="also addresses watched for soft bounces")
