"""``campaign validate FILE...``: campaign definitions, templates and audience files, checked by
the same pydantic models and readers the Lambdas use; every problem names file, line and field."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campaign_engine.domain.addresses import InvalidAddress, normalise
from campaign_engine.domain.audience import read_rows
from campaign_engine.domain.campaign import CampaignDefinition, check_campaign_id
from campaign_engine.domain.dedupe import SeenAddresses
from campaign_engine.domain.errors import CampaignError
from campaign_engine.domain.outcomes import Outcome
from campaign_engine.domain.templates import TemplateContent
from campaign_engine.domain.validation import TOO_DEEP, json_positions, line_of, path_text, problems, too_deep_in_text
from campaign_engine.services.prepare import check_sender_identity
from pydantic import ValidationError

from ..errors import OK, PROBLEMS
from ..output import Out, number

SHOWN = 20  # problems printed per file; --json has them all (up to KEPT)
KEPT = 10_000
KINDS = ("campaign", "template", "audience")


@dataclass
class Result:
    path: str
    kind: str
    summary: dict[str, Any] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def add(self, message: str, line: int | None = None, field_name: str | None = None) -> None:
        self.problem_count += 1
        if len(self.problems) < KEPT:
            self.problems.append({"line": line, "field": field_name, "message": message})

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "kind": self.kind,
            "ok": self.ok,
            "summary": self.summary,
            "problem_count": self.problem_count,
            "problems": self.problems,
        }


def detect_kind(path: Path) -> str:
    """Templates and definitions are JSON objects; anything else is an audience file."""
    if path.suffix.lower() != ".json" or path.stat().st_size > 1_000_000:
        return "audience"
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except RecursionError:
        return "campaign"  # one document too deep to decode: _json_document says where
    except (ValueError, UnicodeDecodeError):
        # Several JSON objects, one a line (a Pinpoint export), or a broken array: audiences.
        text = path.read_bytes().lstrip()
        return "audience" if text[:1] == b"[" or text.count(b"\n{") else "campaign"
    if isinstance(document, dict):
        if "ChannelType" in document and "Address" in document:
            return "audience"  # a Pinpoint segment of one endpoint
        return "template" if "Subject" in document or "Html" in document or "Text" in document else "campaign"
    return "audience"


def _json_document(path: Path, result: Result) -> tuple[str, Any] | None:
    text = path.read_text(encoding="utf-8-sig")
    try:
        return text, json.loads(text)
    except json.JSONDecodeError as exc:
        result.add(f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno)
    except RecursionError:
        found = too_deep_in_text(text)
        offset, where = found if found else (0, ())
        result.add(TOO_DEEP, text.count("\n", 0, offset) + 1, path_text(where))
    return None


def _model_problems(text: str, exc: ValidationError, result: Result) -> None:
    positions = json_positions(text)
    for loc, where, message in problems(exc):
        result.add(message, line_of(text, positions, loc), where)


def validate_campaign(path: Path, templates_dir: Path | None, sender_identity: str | None = None) -> Result:
    """``sender_identity``: the stack's SenderIdentity, when known (``--sender-identity``, or the
    target stack's output): a sender outside it is a problem here, as it is at Prepare."""
    result = Result(str(path), "campaign")
    parsed = _json_document(path, result)
    if parsed is None:
        return result
    text, document = parsed
    if not isinstance(document, dict):
        result.add("a campaign definition must be a JSON object", 1)
        return result
    campaign_id = document.get("campaign_id") or path.stem
    try:
        check_campaign_id(campaign_id, where="campaign_id")
    except CampaignError as exc:
        result.add(exc.message, line_of(text, json_positions(text), ("campaign_id",)), "campaign_id")
    try:
        definition = CampaignDefinition.model_validate(document)
    except ValidationError as exc:
        _model_problems(text, exc, result)
        return result
    used = sorted(definition.templates_used())
    result.summary = {"campaign_id": campaign_id, "segments": definition.segment_names(), "templates": used}
    if sender_identity:
        result.summary["sender_identity"] = sender_identity
        try:
            check_sender_identity(definition, sender_identity, where=str(path))
        except CampaignError as exc:
            result.add(exc.message, line_of(text, json_positions(text), ("sender", "address")), "sender.address")
    if templates_dir is not None:
        for name in used:
            if not (templates_dir / f"{name}.json").exists():
                result.add(f"template '{name}' is not in {templates_dir}", None, "templates")
    return result


def validate_template(path: Path) -> Result:
    result = Result(str(path), "template")
    parsed = _json_document(path, result)
    if parsed is None:
        return result
    text, document = parsed
    try:
        content = TemplateContent.model_validate(document)
    except ValidationError as exc:
        _model_problems(text, exc, result)
        return result
    result.summary = {"name": path.stem, "variables": sorted(content.required_variables())}
    return result


def validate_audience(path: Path) -> Result:
    """The Prepare reader, address validation and deduplication; segments and templates need
    the campaign: ``campaign preview`` runs those too."""
    result = Result(str(path), "audience")
    seen = SeenAddresses()
    rows = valid = duplicates = 0
    decided: Counter[str] = Counter()  # rows a reader settles without a problem (Pinpoint opt-outs, SMS...)
    try:
        with path.open("rb") as stream:
            for row in read_rows(stream, name=str(path)):
                rows += 1
                if row.fields is None and row.outcome is not None and row.outcome is not Outcome.INVALID:
                    decided[row.outcome.value] += 1
                elif row.fields is None:
                    result.add(row.problem or "malformed row", row.line, row.field)
                elif row.email is None:
                    result.add("no email value", row.line, row.email_field)
                else:
                    try:
                        address = normalise(row.email)
                    except InvalidAddress as exc:
                        result.add(str(exc), row.line, row.email_field)
                        continue
                    valid += 1
                    duplicates += 0 if seen.add(address) else 1
    except CampaignError as exc:  # the file as a whole: format, encoding, header
        result.add(exc.message, None, None)
    result.summary = {"rows": rows, "valid": valid, "invalid": result.problem_count, "duplicates": duplicates}
    result.summary.update({f"not_sendable_{outcome}": count for outcome, count in sorted(decided.items())})
    if rows == 0 and result.ok:
        result.add("the file has no rows", None, None)
    return result


def run_validate(args: Any, target: Any, out: Out) -> int:
    # Offline by default; the stack's SenderIdentity output when a target is given, or the flag's.
    sender_identity = getattr(args, "sender_identity", None)
    if not sender_identity and target is not None:
        sender_identity = target.outputs.get("SenderIdentity")
    results = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            result = Result(name, "?")
            result.add("no such file")
            results.append(result)
            continue
        kind = args.kind or detect_kind(path)
        if kind == "campaign":
            templates_dir = Path(args.templates) if args.templates else None
            results.append(validate_campaign(path, templates_dir, sender_identity))
        elif kind == "template":
            results.append(validate_template(path))
        else:
            results.append(validate_audience(path))
    if out.as_json:
        out.document({"ok": all(r.ok for r in results), "files": [r.to_dict() for r in results]})
    else:
        for result in results:
            _print(result, out)
    return OK if all(r.ok for r in results) else PROBLEMS


def _print(result: Result, out: Out) -> None:
    summary = ", ".join(f"{k}: {_text(v)}" for k, v in result.summary.items())
    if result.ok:
        out.line(f"[green]ok[/green]   {result.path} ({result.kind}) {summary}")
        return
    out.line(f"[red]FAIL[/red] {result.path} ({result.kind}) {summary}")
    for problem in result.problems[:SHOWN]:
        where = result.path + (f":{problem['line']}" if problem["line"] else "")
        field_name = f" {problem['field']}:" if problem["field"] else ""
        out.line(f"  {where}:{field_name} {problem['message']}")
    if result.problem_count > SHOWN:
        out.line(f"  ... and {result.problem_count - SHOWN:,} more (--json lists them all)")


def _text(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else number(value)
