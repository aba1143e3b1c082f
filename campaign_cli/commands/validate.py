"""``campaign validate FILE...``: campaign definitions, templates and audience files, checked by
the same pydantic models and readers the Lambdas use; every problem names file, line and field.

An audience file goes through Prepare's own loop (``prepare._process_rows``: the same reader,
address checks and deduplication, with nothing written and nothing sent), so validate, preview
and a send count invalid rows and duplicates alike. Given one campaign definition in the same
call (``campaign validate campaign.json subscribers.csv --templates templates/``), the file is
also matched against its segments and, with ``--templates``, its templates' variables, and the
rule fields and variables no column provides are warned about. Without a definition every
valid row counts as sendable. Files over ``PROGRESS_MIN_BYTES`` print a progress line to
stderr at each 10% of the file.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campaign_engine.domain.campaign import CampaignDefinition, check_campaign_id
from campaign_engine.domain.errors import CampaignError
from campaign_engine.domain.outcomes import Outcome
from campaign_engine.domain.templates import TemplateContent, parse_template
from campaign_engine.domain.validation import TOO_DEEP, json_positions, line_of, path_text, problems, too_deep_in_text
from campaign_engine.services.prepare import Progress, Tally, _process_rows, check_sender_identity
from pydantic import ValidationError

from ..errors import NOT_FOUND, OK, PROBLEMS
from ..output import Out, number

SHOWN = 20  # problems printed per file; --json has them all (up to KEPT)
KEPT = 10_000
KINDS = ("campaign", "template", "audience")
PROGRESS_MIN_BYTES = 4 * 1024 * 1024  # smaller files are read in a few seconds: no progress lines
# Stands in for a campaign when an audience file is validated alone: every valid row is sendable.
_ANY_ROW = CampaignDefinition.model_validate(
    {"sender": {"address": "validate@example.com"}, "unmatched": "default", "default_template": "any"}
)
_LINE = re.compile(r": line (\d+)$")


@dataclass
class Result:
    path: str
    kind: str
    summary: dict[str, Any] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    problem_count: int = 0
    # Audience files: what the reader found (format, compression, encoding, delimiter, columns).
    audience: dict[str, Any] | None = None
    # Not problems: things that are probably not what was meant (a rule field no column provides).
    warnings: list[str] = field(default_factory=list)
    # A campaign definition that validated, for checking an audience file against it.
    definition: CampaignDefinition | None = field(default=None, repr=False)

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
            **({"audience": self.audience} if self.kind == "audience" else {}),
            "warnings": self.warnings,
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
    result.definition = definition
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


class _Queued:
    """Prepare's BatchWriter for validate: counts what would be queued per segment."""

    def __init__(self) -> None:
        self.queued: Counter[str] = Counter()

    def add(self, segment: str, template: str, recipient: dict[str, Any]) -> None:
        self.queued[segment] += 1


class _Problems:
    """Prepare's Rejects for validate: an invalid row is a problem with its line and field;
    other outcomes (duplicates, skipped rows, a reader's own verdicts) are counted."""

    def __init__(self, result: Result) -> None:
        self.result = result
        self.outcomes: Counter[str] = Counter()

    def add(self, line: int, outcome: Outcome, reason: str, field: str | None = None, email: Any = None) -> None:
        self.outcomes[outcome.value] += 1
        if outcome is Outcome.INVALID:
            self.result.add(reason, line, field)


def load_templates_dir(definition: CampaignDefinition, templates_dir: Path | None) -> dict[str, TemplateContent]:
    """The definition's templates that ``templates_dir`` holds and that parse (the campaign's
    own result reports the others)."""
    templates: dict[str, TemplateContent] = {}
    if templates_dir is None:
        return templates
    for name in definition.templates_used():
        path = templates_dir / f"{name}.json"
        try:
            templates[name] = parse_template(path.read_bytes(), source=str(path))
        except (OSError, CampaignError):
            continue
    return templates


def validate_audience(
    path: Path,
    definition: CampaignDefinition | None = None,
    templates: dict[str, TemplateContent] | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> Result:
    """The Prepare loop over the file, writing and sending nothing. With ``definition`` (and its
    ``templates``), also its segments and template variables; without, every valid row counts."""
    result = Result(str(path), "audience")
    checked = definition or _ANY_ROW
    checked_templates = templates or {} if definition is not None else {}
    tally = Tally()
    queued = _Queued()
    rejects = _Problems(result)
    names = {name: name for name in checked.templates_used()}
    try:
        with path.open("rb") as stream:
            _process_rows(
                checked, checked_templates, names, stream, str(path), tally, queued, rejects, progress=progress
            )
    except CampaignError as exc:  # the file as a whole (format, encoding, header), or no row of a segment renders
        found = _LINE.search(exc.where or "")
        result.add(exc.message, int(found.group(1)) if found else None, None)
    outcomes = rejects.outcomes
    result.summary = {
        "rows": tally.rows,
        "valid": tally.valid,
        "invalid": outcomes[Outcome.INVALID.value],
        "duplicates": outcomes[Outcome.DUPLICATE.value],
    }
    if definition is not None:
        result.summary["skipped"] = outcomes[Outcome.SKIPPED.value] - tally.decided.get(Outcome.SKIPPED.value, 0)
        result.summary["queued"] = dict(sorted(queued.queued.items()))
    result.summary.update({f"not_sendable_{outcome}": count for outcome, count in sorted(tally.decided.items())})
    result.audience = tally.audience
    result.warnings = list(tally.warnings)
    if tally.rows == 0 and result.ok:
        result.add("the file has no rows", None, None)
    return result


class ProgressLines:
    """Progress of a pass over a big file, as a line on stderr at each 10% of its bytes:
    rows so far, rows a second, share of the file. The same lines on a terminal and off it, so
    a log shows them too. For ``prepare._process_rows``'s ``progress`` (validate, preview)."""

    def __init__(self, name: str, total_bytes: int, write: Callable[[str], None]) -> None:
        self.name = name
        self.total = max(total_bytes, 1)
        self.write = write
        self.next_tenth = 1

    def __call__(self, progress: Progress) -> None:
        share = min(progress.bytes_read / self.total, 1.0)
        rate = progress.rows / progress.seconds if progress.seconds > 0 else 0.0
        if progress.done:
            self.write(f"{self.name}: {progress.rows:,} rows read in {progress.seconds:,.1f} s ({rate:,.0f} rows/s)")
            return
        if share * 10 < self.next_tenth:
            return
        self.next_tenth = int(share * 10) + 1
        self.write(f"{self.name}: {share:.0%} of the file, {progress.rows:,} rows, {rate:,.0f} rows/s")


def progress_for(path: Path, out: Out) -> Callable[[Progress], None] | None:
    """Progress lines for a file big enough to take a while (over PROGRESS_MIN_BYTES)."""
    size = path.stat().st_size
    return ProgressLines(str(path), size, out.note) if size > PROGRESS_MIN_BYTES else None


def run_validate(args: Any, target: Any, out: Out) -> int:
    # Offline by default; the stack's SenderIdentity output when a target is given, or the flag's.
    sender_identity = getattr(args, "sender_identity", None)
    if not sender_identity and target is not None:
        sender_identity = target.outputs.get("SenderIdentity")
    templates_dir = Path(args.templates) if args.templates else None
    results: list[Result] = []
    audiences: list[tuple[int, Path]] = []  # checked last, against the campaign given with them
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            result = Result(name, "?")
            result.add("no such file")
            results.append(result)
            continue
        kind = args.kind or detect_kind(path)
        if kind == "campaign":
            results.append(validate_campaign(path, templates_dir, sender_identity))
        elif kind == "template":
            results.append(validate_template(path))
        else:
            audiences.append((len(results), path))
            results.append(Result(str(path), "audience"))
    campaigns = [r for r in results if r.kind == "campaign"]
    # One definition given with the files: they are checked against it (several: which one is meant?).
    definition = campaigns[0].definition if len(campaigns) == 1 else None
    templates = load_templates_dir(definition, templates_dir) if definition is not None else {}
    for index, path in audiences:
        results[index] = validate_audience(path, definition, templates, progress_for(path, out))
    if out.as_json:
        out.document({"ok": all(r.ok for r in results), "files": [r.to_dict() for r in results]})
    else:
        for result in results:
            _print(result, out)
    if all(r.kind == "?" for r in results):
        return NOT_FOUND  # nothing to check: a missing file is exit 3, as for every command
    return OK if all(r.ok for r in results) else PROBLEMS


def _print(result: Result, out: Out) -> None:
    summary = ", ".join(f"{k}: {_text(v)}" for k, v in result.summary.items())
    if result.ok:
        out.line(f"[green]ok[/green]   {result.path} ({result.kind}) {summary}")
    else:
        out.line(f"[red]FAIL[/red] {result.path} ({result.kind}) {summary}")
    if result.audience:
        out.line(f"  read as {_described(result.audience)}")
    for warning in result.warnings:
        out.line(f"  [yellow]warning[/yellow]: {warning}")
    if result.ok:
        return
    for problem in result.problems[:SHOWN]:
        where = result.path + (f":{problem['line']}" if problem["line"] else "")
        field_name = f" {problem['field']}:" if problem["field"] else ""
        out.line(f"  {where}:{field_name} {problem['message']}")
    if result.problem_count > SHOWN:
        out.line(f"  ... and {result.problem_count - SHOWN:,} more (--json lists them all)")


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {number(v)}" for k, v in value.items()) or "none"
    return ", ".join(map(str, value)) if isinstance(value, list) else number(value)


def _described(audience: dict[str, Any]) -> str:
    """``csv, utf-8, delimiter ';', gzip; columns: Email Address, First Name``."""
    parts = [str(audience.get("format") or "?"), str(audience.get("encoding") or "?")]
    if audience.get("delimiter"):
        parts.append(f"delimiter {audience['delimiter']!r}")
    parts.append(str(audience["compression"]) if audience.get("compression") else "not compressed")
    columns = list(audience.get("columns") or [])
    shown = ", ".join(columns[:20]) + (f" and {len(columns) - 20} more" if len(columns) > 20 else "")
    return ", ".join(parts) + (f"; columns: {shown}" if columns else "")
