"""Prepare: read the audience once, as a stream, and turn it into batches for the Map.

Every row gets exactly one outcome here (invalid, duplicate, skipped) or is queued in a batch
of at most 50 recipients of one segment. Batches go to ``batches.jsonl``; the Map reads
``items.json``, a list of pointers (byte ranges) into it, so no state payload grows with the
audience and no batch item nears the 256 KiB limit, whatever the row width.

A run keeps what it started with. The first Prepare that finishes writes ``snapshot.json``
(the definition, the template contents and the audience's ETag and version); a retried
Prepare, or the Prepare of a resumed run, rebuilds the batches from the snapshot, never from
the current definition, so batch numbers never shift under batches already sent. Everything
Prepare writes is keyed by run: running it again rewrites the same objects.

One rule for counting, shared with ``campaign preview`` and ``campaign validate`` (which run
this module's ``_process_rows``): each row is checked in the order reader verdict, address,
duplicate (``screen``), then segment, then template variables. A duplicate is an address met on
an earlier row with a valid address, whatever happened to that row (skipped, invalid for its
template): the first occurrence wins, so the count does not depend on the campaign and the
three commands agree on any file.

Rules and templates find columns as ``domain.fields`` resolves names (as written, ignoring
case, by snake_case alias); each recipient's data carries the template's variables under the
template's own spelling (``templates.spell_variables``) as well as the row's columns, so SES,
which matches names exactly, renders them. A row that would render a variable blank is
invalid; only a segment none of whose rows can render stops the run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal, Protocol, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from ..adapters import ses, storage
from ..adapters.runs import ACTIVE, RunStore
from ..config import Settings
from ..domain import pacing
from ..domain.addresses import InvalidAddress, normalise
from ..domain.audience import AudienceFile, Row
from ..domain.campaign import CampaignDefinition
from ..domain.contracts import AudienceRef, BatchItem, PrepareOutput, RunInput, SegmentPlan, SendContext
from ..domain.dedupe import SeenAddresses
from ..domain.errors import AudienceError, CampaignError, DefinitionError, TemplateError
from ..domain.faults import TransientAwsError, error_code, is_transient, transient
from ..domain.fields import MISSING, matches_column
from ..domain.fields import lookup as fields_lookup
from ..domain.outcomes import Outcome, empty_counts
from ..domain.sending import MAX_ENTRIES
from ..domain.templates import (
    TemplateContent,
    merge_data,
    missing_variables,
    parse_template,
    spell_variables,
    why_missing,
)
from ..domain.validation import describe
from ..observability import logger
from .start import definition_key, load_definition

UNSEGMENTED = "(unsegmented)"
SAMPLE_UNSUBSCRIBE_URL = "https://unsubscribe.example/sample"
# Template variables the engine fills for every recipient (sending.template_data).
FIXED_VARIABLES = frozenset({"unsubscribe_url"})
MAX_RECORDED_COLUMNS = 200
MAX_RECORDED_WARNINGS = 50


# SES answers TestRenderEmailTemplate with BadRequestException when the template does not
# render the data (a syntax error, a value of the wrong shape): the only answer that is a verdict
# on the template. Throttles, 5xx and timeouts are transient; anything else (access denied, the
# template gone) is a fault of the stack, not of the template.
RENDER_REFUSALS = frozenset({"BadRequestException", "InvalidRenderingParameterException"})
# SES template names: letters, digits, '_' and '-', fewer than 64 characters.
PINNED_NAME_ROOM = 64 - len("-run-") - 12 - 1


def run_prefix(campaign_id: str, run_id: str) -> str:
    return f"runs/{campaign_id}/{run_id}"


def snapshot_key(campaign_id: str, run_id: str) -> str:
    return f"{run_prefix(campaign_id, run_id)}/snapshot.json"


class RunSnapshot(BaseModel):
    """What a run started with: written once, by the first Prepare that finished, and read by
    every later Prepare of the run (a Step Functions retry, a resume)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    campaign_id: str
    run_id: str
    definition: CampaignDefinition
    templates: dict[str, TemplateContent]
    # The audience bytes the batches came from: the version on a versioned bucket, else the ETag.
    audience: AudienceRef
    created_at: int


def load_snapshot(settings: Settings, campaign_id: str, run_id: str) -> RunSnapshot | None:
    key = snapshot_key(campaign_id, run_id)
    try:
        raw = storage.get_bytes(settings.bucket, key)
    except storage.MissingObject:
        return None
    try:
        return RunSnapshot.model_validate_json(raw)
    except ValidationError as exc:
        raise CampaignError(
            f"the run's snapshot is not valid: {describe(exc)}", where=f"s3://{settings.bucket}/{key}"
        ) from None


def sender_covered(address: str, identity: str) -> bool:
    """Whether SES authorises a From address through ``identity``: an address identity covers
    exactly that address; a domain identity covers every address at the domain and at its
    subdomains (SES: "when you verify a domain identity, you can send email from any subdomain
    or email address of the verified domain"). Case-insensitive, as DNS names are."""
    identity = identity.strip().rstrip(".").casefold()
    address = address.strip().casefold()
    if "@" in identity:
        return address == identity
    domain = address.rpartition("@")[2].rstrip(".")
    return domain == identity or domain.endswith("." + identity)


def check_sender_identity(definition: CampaignDefinition, identity: str | None, *, where: str) -> None:
    """DefinitionError when the stack could not send as the campaign's sender.

    SendBatch's policy allows ses:SendBulkEmail only on identity/<SenderIdentity>; SES would
    answer every batch of another sender with AccessDenied, after the run started. The local
    stack has no IAM, so without this check it would send what AWS refuses.

    SES authorises a send against the most specific verified identity of the From address: the
    address's own identity, else its domain's, else a parent domain's (SES: policies on address
    identities take precedence over their domain's). So a sender at a subdomain, or an address,
    that the account verified as an identity of its own needs SenderIdentity set to exactly that;
    Prepare cannot see the account's identities (no ses:GetEmailIdentity), only the parameter.
    """
    if not identity or sender_covered(definition.sender.address, identity):
        return
    domain = definition.sender.address.rpartition("@")[2]
    # The sender's domain, not its address: error texts reach the logs, which carry no address.
    allowed = (
        "only that one address (an address identity)"
        if "@" in identity
        else f"addresses at {identity} and its subdomains"
    )
    shown = identity if "@" not in identity else f"an address at {identity.rpartition('@')[2]}"
    raise DefinitionError(
        f"the sender (an address at {domain}) is outside this stack's SenderIdentity ({shown}), which allows "
        f"{allowed}: SendBatch may send only through that identity, so SES would refuse every batch. "
        "Use a sender the identity covers, or deploy the stack with SenderIdentity set to the sender's domain",
        where=f"{where}: sender.address",
    )


@dataclass
class Tally:
    """Outcome counts per segment, plus rows queued for sending."""

    rows: int = 0
    segments: dict[str, dict[str, int]] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)
    # What the reader found (AudienceInfo: format, compression, encoding, delimiter, columns).
    audience: dict[str, Any] | None = None
    # Rule fields and template variables no column provides (coverage_warnings).
    warnings: list[str] = field(default_factory=list)
    # For validate's summary, not the run record: rows with a valid address (duplicates too),
    # and rows a reader settled itself (a Pinpoint endpoint opted out or of another channel).
    valid: int = 0
    decided: dict[str, int] = field(default_factory=dict)

    def count(self, segment: str, outcome: Outcome) -> None:
        self.segments.setdefault(segment, empty_counts())[outcome.value] += 1

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {"rows": self.rows, "segments": self.segments, "queued": self.queued}
        if self.audience is not None:
            # The run record is one DynamoDB item (400 KB): a file of thousands of columns keeps the first ones.
            columns = list(self.audience.get("columns") or [])
            document["audience"] = {**self.audience, "columns": columns[:MAX_RECORDED_COLUMNS]}
            if len(columns) > MAX_RECORDED_COLUMNS:
                document["audience"]["columns_total"] = len(columns)
        document["warnings"] = self.warnings[:MAX_RECORDED_WARNINGS]
        return document


class BatchSink(Protocol):
    """Where queued recipients go: Prepare's BatchWriter, or the preview's counter."""

    def add(self, segment: str, template: str, recipient: dict[str, Any]) -> None: ...


class RejectSink(Protocol):
    """Where rows that will not be sent go: Prepare's Rejects, or the preview's tally."""

    def add(self, line: int, outcome: Outcome, reason: str, field: str | None = None, email: Any = None) -> None: ...


class BatchWriter:
    """Per-segment buffers of <= 50 recipients, flushed to batches.jsonl and items.json."""

    def __init__(self, settings: Settings, prefix: str) -> None:
        self.batches_key = f"{prefix}/batches.jsonl"
        self.items_key = f"{prefix}/items.json"
        self._batches = storage.StreamingUpload(settings.bucket, self.batches_key)
        self._items = storage.StreamingUpload(settings.bucket, self.items_key, "application/json")
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self._templates: dict[str, str] = {}
        self.count = 0

    def add(self, segment: str, template: str, recipient: dict[str, Any]) -> None:
        buffer = self._buffers.setdefault(segment, [])
        self._templates[segment] = template
        buffer.append(recipient)
        if len(buffer) >= MAX_ENTRIES:
            self._flush(segment)

    def _flush(self, segment: str) -> None:
        recipients = self._buffers.pop(segment, [])
        if not recipients:
            return
        line = (
            json.dumps(
                {
                    "batch": self.count,
                    "segment": segment,
                    "template": self._templates[segment],
                    "recipients": recipients,
                },
                separators=(",", ":"),
                ensure_ascii=False,
                default=str,
            ).encode("utf-8")
            + b"\n"
        )
        item = BatchItem(
            batch=self.count, segment=segment, count=len(recipients), offset=self._batches.tell(), length=len(line) - 1
        )
        self._batches.write(line)
        self._items.write((b"[" if self.count == 0 else b",\n") + item.model_dump_json().encode("utf-8"))
        self.count += 1

    def close(self) -> None:
        for segment in list(self._buffers):
            self._flush(segment)
        self._items.write(b"[]" if self.count == 0 else b"]\n")
        self._batches.close()
        self._items.close()

    def abort(self) -> None:
        self._batches.abort()
        self._items.abort()


class Rejects:
    """rejects.jsonl: one line per row that will not be sent, with line, field and reason."""

    def __init__(self, settings: Settings, prefix: str) -> None:
        self.key = f"{prefix}/rejects.jsonl"
        self._upload = storage.StreamingUpload(settings.bucket, self.key)

    def add(self, line: int, outcome: Outcome, reason: str, field: str | None = None, email: Any = None) -> None:
        record = {"line": line, "outcome": outcome.value, "field": field, "reason": reason, "email": email}
        self._upload.write(json.dumps(record, ensure_ascii=False, default=str).encode("utf-8") + b"\n")

    def close(self) -> None:
        self._upload.close()

    def abort(self) -> None:
        self._upload.abort()


def load_templates(settings: Settings, definition: CampaignDefinition) -> dict[str, TemplateContent]:
    """The current template files of the definition's templates (first pass only)."""
    templates = {}
    for name in definition.templates_used():
        key = f"templates/{name}.json"
        try:
            raw = storage.get_bytes(settings.bucket, key)
        except storage.MissingObject:
            raise TemplateError(
                f"unknown template '{name}': no template file", where=f"s3://{settings.bucket}/{key}"
            ) from None
        templates[name] = parse_template(raw, source=f"s3://{settings.bucket}/{key}")
    return templates


def publish_templates(templates: dict[str, TemplateContent]) -> dict[str, str]:
    """First pass: SES's templates get the files' content; the run sends through their names."""
    for name, content in templates.items():
        action = ses.ensure_template(name, content)
        logger.info("template ready", extra={"template": name, "action": action})
    return {name: name for name in templates}


def pin_templates(templates: dict[str, TemplateContent]) -> dict[str, str]:
    """Retry or resume: send through SES templates whose content is the snapshot's.

    SES templates are shared by name: another run's Prepare or a ``campaign push`` may have
    changed (or deleted) one since this run started. Overwriting it with the snapshot would
    change what that other run, or the team's next run, sends; sending through it would give
    the rest of this run other content than the recipients already sent got. So a changed
    template is left alone and this run sends through its own copy of the content it started
    with, named after that content (``<name>-run-<digest>``, created once and reused by every
    run that started with the same content).
    """
    names = {}
    for name, content in templates.items():
        if ses.get_template(name) == content:
            names[name] = name
            continue
        pinned = f"{name[:PINNED_NAME_ROOM]}-run-{content.digest()[:12]}"
        action = ses.ensure_template(pinned, content)
        logger.warning(
            "template changed since the run started: sending through a copy of the run's content",
            extra={"template": name, "copy": pinned, "action": action},
        )
        names[name] = pinned
    return names


def check_sample(template_name: str, content: TemplateContent, data: dict[str, Any], *, source: str, line: int) -> None:
    """Render one real row through SES before anything is sent: a missing variable would
    otherwise fail every message silently, after SES accepted it.

    Only a verdict on the template is a TemplateError. A throttle, a 5xx or a timeout says
    nothing about it: TransientAwsError, which Step Functions retries. Any other refusal
    (AccessDenied, the template missing) is the stack's fault and propagates as it is.
    """
    missing = missing_variables(content, data)
    if missing:
        raise TemplateError(
            f"template '{template_name}' uses {', '.join(repr(m) for m in missing)}, which the sample row lacks",
            where=f"{source}: line {line}",
        )
    try:
        ses.test_render(template_name, json.dumps(data, default=str))
    except Exception as exc:
        if is_transient(exc):
            raise transient(exc, where=f"test render of template '{template_name}'") from exc
        if error_code(exc) not in RENDER_REFUSALS:
            raise
        message = getattr(exc, "response", {}).get("Error", {}).get("Message") or str(exc)
        raise TemplateError(
            f"template '{template_name}' does not render the sample row: {message}", where=f"{source}: line {line}"
        ) from None


def prepare(run: RunInput, settings: Settings) -> PrepareOutput:
    """One Prepare attempt. Transient AWS failures leave as TransientAwsError, for Step
    Functions to retry (every output is keyed by run, so a retry redoes the same work)."""
    try:
        return _prepare_run(run, settings)
    except TransientAwsError as exc:
        logger.warning("transient AWS failure: the task is retried", extra={"error": str(exc)})
        raise
    except Exception as exc:
        if not is_transient(exc):
            raise
        error = transient(exc, where=f"Prepare of run {run.run_id}")
        logger.warning("transient AWS failure: the task is retried", extra={"error": str(error)})
        raise error from exc


def _prepare_run(run: RunInput, settings: Settings) -> PrepareOutput:
    store = RunStore(settings.runs_table, settings.run_record_ttl_days)
    record = store.start_run(
        run.campaign_id,
        run.run_id,
        {
            "trigger": run.trigger,
            "occurrence": run.occurrence,
            "audience_key": run.audience.key if run.audience else None,
            "scheduled_time": run.scheduled_time,
            "input": run.model_dump(mode="json", exclude_none=True),  # what a resume starts again
        },
    )
    if record.get("status") != ACTIVE:
        return PrepareOutput(
            status="FAILED", error={"code": "run_not_active", "message": f"run is {record.get('status')}"}
        )
    tally = Tally()
    try:
        output, definition = _prepare(run, settings, tally)
    except CampaignError as exc:
        logger.error("run stopped before sending", extra={"error": exc.to_dict()})
        failed: dict[str, Any] = {"error": exc.to_dict()}
        if tally.audience is not None:
            # How the file was read and what no column provides often say why it failed. No
            # counts: nothing was queued, and the run's outcomes come from a Prepare that finishes.
            failed["prepare"] = {"audience": tally.to_dict()["audience"], "warnings": tally.warnings}
        store.update_run(run.campaign_id, run.run_id, failed)
        return PrepareOutput(status="FAILED", error=exc.to_dict())
    values: dict[str, Any] = {
        "prepare": tally.to_dict(),
        "batch_count": output.batch_count,
        "max_concurrency": output.max_concurrency,
        "worker_rate": output.context.worker_rate if output.context else None,
    }
    if record.get("breaker") is None:
        # Only the first pass sets it: a resume may have replaced it (``resume --breaker``).
        values["breaker"] = definition.breaker.model_dump()
    store.update_run(run.campaign_id, run.run_id, values)
    return output


def _prepare(run: RunInput, settings: Settings, tally: Tally) -> tuple[PrepareOutput, CampaignDefinition]:
    prefix = run_prefix(run.campaign_id, run.run_id)
    snapshot = load_snapshot(settings, run.campaign_id, run.run_id)
    if snapshot is None:
        # First pass: nothing of this run has been sent, so the current files are what it starts with.
        definition = load_definition(settings, run.campaign_id)
        where = f"s3://{settings.bucket}/{definition_key(run.campaign_id)}"
        check_sender_identity(definition, settings.sender_identity, where=where)
        templates = load_templates(settings, definition)
        template_names = publish_templates(templates)
    else:
        definition, templates = snapshot.definition, snapshot.templates
        where = f"s3://{settings.bucket}/{snapshot_key(run.campaign_id, run.run_id)}"
        check_sender_identity(definition, settings.sender_identity, where=where)
        template_names = pin_templates(templates)
        logger.info("run resumed from its snapshot", extra={"snapshot_created_at": snapshot.created_at})
    storage.put_json(settings.bucket, f"{prefix}/campaign.json", definition.model_dump(mode="json", by_alias=True))
    account = ses.get_account()
    quota = account.get("SendQuota", {})
    plan = pacing.plan(
        max_send_rate=float(quota.get("MaxSendRate", 1.0)),
        share=definition.send_rate_share,
        concurrency_cap=settings.max_concurrency_cap,
        max_24_hour_send=quota.get("Max24HourSend"),
        sent_last_24_hours=quota.get("SentLast24Hours"),
    )
    if not run.audience or not run.audience.key:
        raise AudienceError(
            "no audience file for this run: a scheduled campaign needs 'audience_key'",
            where=f"campaigns/{run.campaign_id}.json: audience_key",
        )
    source = f"s3://{settings.bucket}/{run.audience.key}"
    audience = _open_audience(settings, run.audience, snapshot)
    stream = audience.body

    writer = BatchWriter(settings, prefix)
    rejects = Rejects(settings, prefix)
    started = time.monotonic()
    try:

        def sample(template: str, content: TemplateContent, data: dict[str, Any], line: int) -> None:
            check_sample(template, content, data, source=source, line=line)

        try:
            _process_rows(definition, templates, template_names, stream, source, tally, writer, rejects, sample=sample)
        finally:
            # Logged here, not in _process_rows: the CLI's validate and preview run it too, and
            # the logger writes to stdout, where their --json document goes.
            for warning in tally.warnings:
                logger.warning("campaign and audience disagree", extra={"warning": warning})
        writer.close()
        rejects.close()
    except BaseException:
        writer.abort()
        rejects.abort()
        raise
    logger.info(
        "audience prepared",
        extra={"rows": tally.rows, "batches": writer.count, "seconds": round(time.monotonic() - started, 3)},
    )
    if tally.rows == 0:
        raise AudienceError("audience file has no rows", where=source)
    if snapshot is None:
        # Written last, once the batches exist: a run that failed before this point sent nothing
        # and starts afresh from the current files when it is retried (after a fix).
        pinned = AudienceRef(key=run.audience.key, etag=audience.etag, version_id=audience.version_id)
        _write_snapshot(settings, run, definition, templates, pinned)

    context = SendContext(
        campaign_id=run.campaign_id,
        run_id=run.run_id,
        occurrence=run.occurrence,
        from_address=definition.sender_header(),
        reply_to=definition.reply_to,
        configuration_set=definition.configuration_set or settings.configuration_set,
        tags=definition.tags,
        topic=definition.topic,
        segments={
            name: SegmentPlan(template=template_names[tmpl], data=definition.segment_data(name))
            for name, tmpl in definition.segment_templates().items()
        },
        batches_key=writer.batches_key,
        worker_rate=plan.worker_rate,
        ledger_expires_at=(int(time.time()) + settings.ledger_ttl_days * 86400) if run.occurrence != "once" else None,
    )
    return (
        PrepareOutput(
            status="READY" if writer.count else "EMPTY",
            context=context,
            items_key=writer.items_key,
            batch_count=writer.count,
            max_concurrency=plan.max_concurrency,
        ),
        definition,
    )


def _open_audience(settings: Settings, ref: AudienceRef, snapshot: RunSnapshot | None) -> storage.StoredObject:
    """The audience bytes of this run: on a retry or resume, exactly the ones the snapshot
    names (its version, else its ETag), so the same rows make the same batches."""
    pinned = snapshot.audience if snapshot is not None else None
    try:
        if pinned is None:
            return storage.open_object(settings.bucket, ref.key, version_id=ref.version_id)
        return storage.open_object(
            settings.bucket,
            pinned.key,
            version_id=pinned.version_id,
            if_match=None if pinned.version_id else pinned.etag,
        )
    except storage.ChangedObject as exc:
        raise AudienceError(
            "audience file was replaced since the run started; a run keeps the file it started with, so "
            "upload the new file as a new run",
            where=exc.where,
        ) from None
    except storage.MissingObject as exc:
        raise AudienceError("audience file is missing or unreadable", where=exc.where) from None


def _write_snapshot(
    settings: Settings,
    run: RunInput,
    definition: CampaignDefinition,
    templates: dict[str, TemplateContent],
    audience: AudienceRef,
) -> None:
    snapshot = RunSnapshot(
        campaign_id=run.campaign_id,
        run_id=run.run_id,
        definition=definition,
        templates=templates,
        audience=audience,
        created_at=int(time.time()),
    )
    key = snapshot_key(run.campaign_id, run.run_id)
    # exclude_unset: the definition as its file said it, without the defaults spelled out.
    document = snapshot.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if not storage.put_json_if_absent(settings.bucket, key, document):
        # Another attempt of this run finished first (it cannot have sent yet: the Map starts
        # after Prepare). Its snapshot stands; this attempt's batches came from the same files.
        logger.warning("run snapshot already written by another attempt", extra={"key": key})


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a pass over the audience is: for a progress line on a big file."""

    rows: int
    bytes_read: int  # of the file as stored (compressed bytes for a .gz)
    seconds: float
    done: bool = False


ProgressCallback = Callable[[Progress], None]
# Checked every this many rows; called at most every PROGRESS_SECONDS (and once at the end).
PROGRESS_ROWS = 1024
PROGRESS_SECONDS = 0.5


class _CountingStream:
    """The audience stream, counting the bytes read from it (for progress as % of the file)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size)
        self.bytes_read += len(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        data: bytes = getattr(self._stream, "read1", self._stream.read)(size)
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        count: int = self._stream.readinto(buffer)
        self.bytes_read += count or 0
        return count

    def readable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


# A segment's template is checked by SES on one row before the run sends: the row's line, the
# template's name as SES knows it, its content and the row's merged data.
SampleCheck = Callable[[str, TemplateContent, dict[str, Any], int], None]


@dataclass(frozen=True, slots=True)
class Screened:
    """A row's address after the checks every reader of a file applies alike (Prepare, preview,
    validate): normalised, or the reason the row will not be sent."""

    address: str | None
    outcome: Outcome | None = None
    reason: str = ""
    field: str | None = None
    email: Any = None


def screen(row: Row, seen: SeenAddresses) -> Screened:
    """The reader's verdict, then the address, then duplicates: a duplicate is an address met
    earlier in the file on any row with a valid address, whatever that row's segment or fate
    (first occurrence wins). Deduplicating here, before segments and templates, is what lets
    ``campaign validate`` (which may not know the campaign) count duplicates as a run does."""
    if row.fields is None:
        # Malformed, or a reader's own verdict (a Pinpoint endpoint opted out or of another channel).
        return Screened(None, row.outcome or Outcome.INVALID, row.problem or "malformed row", row.field, row.email)
    if row.email is None:
        return Screened(None, Outcome.INVALID, "no email value", row.email_field)
    try:
        address = normalise(row.email)
    except InvalidAddress as exc:
        return Screened(None, Outcome.INVALID, str(exc), row.email_field, row.email)
    if not seen.add(address):
        return Screened(None, Outcome.DUPLICATE, "address appears earlier in the file", row.email_field, address)
    return Screened(address)


@dataclass
class _Unrendered:
    """Rows of a segment its template could not render, until one can."""

    first_line: int
    variables: set[str] = field(default_factory=set)


def coverage_warnings(
    definition: CampaignDefinition, templates: dict[str, TemplateContent], columns: list[str]
) -> list[str]:
    """Rule fields and template variables that no column of the file provides (by the same
    resolution as rules and templates use), and no default or segment data fills: the rule
    never finds a value, the template's rows are all invalid."""
    if not columns:
        return []
    shown = ", ".join(columns[:12]) + (f" and {len(columns) - 12} more" if len(columns) > 12 else "")
    warnings = []
    for segment in definition.segments:
        for name in sorted(segment.rule.fields()):
            if not matches_column(name, columns):
                warnings.append(
                    f"segment '{segment.name}': rule field '{name}' is not a column of the file ({shown}), "
                    "so the rule never finds a value there"
                )
    reported: set[tuple[str, str]] = set()
    for segment_name, template_name in definition.segment_templates().items():
        content = templates.get(template_name)
        if content is None:
            continue
        shared = definition.segment_data(segment_name)
        for variable in sorted(content.referenced_variables()):
            if (template_name, variable) in reported or variable.split(".")[0] in FIXED_VARIABLES:
                continue
            if matches_column(variable, columns) or fields_lookup(shared, variable) is not MISSING:
                continue
            reported.add((template_name, variable))
            required = variable in content.required_variables()
            warnings.append(
                f"template '{template_name}' uses '{variable}', which is not a column of the file ({shown}) "
                + (
                    "and has no default: its rows will be invalid"
                    if required
                    else "and has no default: the block that tests it never shows"
                )
            )
    return warnings


def _process_rows(
    definition: CampaignDefinition,
    templates: dict[str, TemplateContent],
    template_names: dict[str, str],
    stream: Any,
    source: str,
    tally: Tally,
    writer: BatchSink,
    rejects: RejectSink,
    *,
    sample: SampleCheck | None = None,
    progress: ProgressCallback | None = None,
) -> None:
    """Every row to exactly one outcome or a batch (see ``screen`` for the order of the checks).

    A row whose template would render a variable blank is invalid, with a reject naming the
    variable. Each segment's template is checked by ``sample`` (SES) on the first row that has
    every variable; only a segment none of whose rows can render stops the run (TemplateError,
    raised after the pass). ``templates`` may lack a template (validate without ``--templates``):
    its rows are then not checked against it."""
    counted = _CountingStream(stream)
    seen = SeenAddresses()
    sampled: set[str] = set()
    unrendered: dict[str, _Unrendered] = {}
    segment_data = {name: definition.segment_data(name) for name in definition.segment_names()}
    # Not the engine's own variables: a row's "Unsubscribe URL" column must not travel as unsubscribe_url.
    referenced = {name: content.referenced_variables() - FIXED_VARIABLES for name, content in templates.items()}
    # The reader only calls read(): the counting wrapper stands in for the binary stream.
    audience = AudienceFile(cast(BinaryIO, counted), name=source, options=definition.audience)
    started = last_report = time.monotonic()
    try:
        for row in audience.rows():
            tally.rows += 1
            if progress is not None and tally.rows % PROGRESS_ROWS == 0:
                now = time.monotonic()
                if now - last_report >= PROGRESS_SECONDS:
                    last_report = now
                    progress(Progress(tally.rows, counted.bytes_read, now - started))
            screened = screen(row, seen)
            address = screened.address
            if address is None:
                outcome = screened.outcome or Outcome.INVALID
                if outcome is Outcome.DUPLICATE:
                    tally.valid += 1
                elif row.fields is None and outcome is not Outcome.INVALID:
                    tally.decided[outcome.value] = tally.decided.get(outcome.value, 0) + 1
                segment = UNSEGMENTED
                if outcome is Outcome.DUPLICATE and row.fields is not None:
                    # Counted in the segment the row would have gone to, as the report shows it.
                    match = definition.segment_for(row.fields)
                    segment = match[0] if match else UNSEGMENTED
                tally.count(segment, outcome)
                rejects.add(row.line, outcome, screened.reason, screened.field, screened.email)
                continue
            assert row.fields is not None  # screen() passes only rows with fields
            tally.valid += 1
            match = definition.segment_for(row.fields)
            if match is None:
                tally.count(UNSEGMENTED, Outcome.SKIPPED)
                rejects.add(row.line, Outcome.SKIPPED, "no segment matched", None, address)
                continue
            segment, template_name = match
            content = templates.get(template_name)
            data = row.fields
            if content is not None:
                # Under the template's spellings too: SES renders {{name}} only from a key "name".
                data = spell_variables(referenced[template_name], row.fields)
                # {{email}} is the recipient's address whatever the file calls its column
                # (Mailchimp's "Email Address" is email_address, not email).
                for name in referenced[template_name]:
                    if name.casefold() == "email" and not data.get(name):
                        data = {**data, name: address}
                merged = merge_data(segment_data[segment], data, unsubscribe_url=SAMPLE_UNSUBSCRIBE_URL)
                missing = missing_variables(content, merged)
                if missing:
                    tally.count(segment, Outcome.INVALID)
                    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
                    reason = (
                        f"template '{template_name}' would render blank: {why_missing(merged, missing[0], data)}{more}"
                    )
                    rejects.add(row.line, Outcome.INVALID, reason, missing[0], address)
                    if segment not in sampled:
                        unrendered.setdefault(segment, _Unrendered(row.line)).variables.update(missing)
                    continue
                if segment not in sampled:
                    if sample is not None:
                        sample(template_names[template_name], content, merged, row.line)
                    sampled.add(segment)
                    unrendered.pop(segment, None)
            tally.queued[segment] = tally.queued.get(segment, 0) + 1
            writer.add(segment, template_names[template_name], {"email": address, "line": row.line, "data": data})
    finally:
        # Also when reading fails part way: the encoding and delimiter found help to say why.
        tally.audience = audience.info.model_dump()
    if progress is not None:
        progress(Progress(tally.rows, counted.bytes_read, time.monotonic() - started, done=True))
    tally.warnings = coverage_warnings(definition, templates, audience.info.columns)
    for segment, failed in unrendered.items():
        template_name = definition.segment_templates()[segment]
        variables = ", ".join(repr(name) for name in sorted(failed.variables))
        raise TemplateError(
            f"no row of segment '{segment}' can render template '{template_name}': every row lacks {variables} "
            "(an empty value counts as lacking; give a default in default_template_data or the segment's data)",
            where=f"{source}: line {failed.first_line}",
        )
