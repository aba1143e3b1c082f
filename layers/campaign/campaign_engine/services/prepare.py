"""Prepare: read the audience once, as a stream, and turn it into batches for the Map.

Every row gets exactly one outcome here (invalid, duplicate, skipped) or is queued in a batch
of at most 50 recipients of one segment. Batches go to ``batches.jsonl``; the Map reads
``items.json``, a list of pointers (byte ranges) into it, so no state payload grows with the
audience and no batch item nears the 256 KiB limit, whatever the row width.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ..adapters import ses, storage
from ..adapters.runs import ACTIVE, RunStore
from ..config import Settings
from ..domain import pacing
from ..domain.addresses import InvalidAddress, normalise
from ..domain.audience import read_rows
from ..domain.campaign import CampaignDefinition
from ..domain.contracts import BatchItem, PrepareOutput, RunInput, SegmentPlan, SendContext
from ..domain.dedupe import SeenAddresses
from ..domain.errors import AudienceError, CampaignError, TemplateError
from ..domain.outcomes import Outcome, empty_counts
from ..domain.sending import MAX_ENTRIES
from ..domain.templates import TemplateContent, merge_data, missing_variables, parse_template
from ..observability import logger
from .start import load_definition

UNSEGMENTED = "(unsegmented)"
SAMPLE_UNSUBSCRIBE_URL = "https://unsubscribe.example/sample"


def run_prefix(campaign_id: str, run_id: str) -> str:
    return f"runs/{campaign_id}/{run_id}"


@dataclass
class Tally:
    """Outcome counts per segment, plus rows queued for sending."""

    rows: int = 0
    segments: dict[str, dict[str, int]] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)

    def count(self, segment: str, outcome: Outcome) -> None:
        self.segments.setdefault(segment, empty_counts())[outcome.value] += 1

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "segments": self.segments, "queued": self.queued}


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
        action = ses.ensure_template(name, templates[name])
        logger.info("template ready", extra={"template": name, "action": action})
    return templates


def check_sample(template_name: str, content: TemplateContent, data: dict[str, Any], *, source: str, line: int) -> None:
    """Render one real row through SES before anything is sent: a missing variable would
    otherwise fail every message silently, after SES accepted it."""
    missing = missing_variables(content, data)
    if missing:
        raise TemplateError(
            f"template '{template_name}' uses {', '.join(repr(m) for m in missing)}, which the sample row lacks",
            where=f"{source}: line {line}",
        )
    try:
        ses.test_render(template_name, json.dumps(data, default=str))
    except Exception as exc:
        message = getattr(exc, "response", {}).get("Error", {}).get("Message") or str(exc)
        raise TemplateError(
            f"template '{template_name}' does not render the sample row: {message}", where=f"{source}: line {line}"
        ) from None


def prepare(run: RunInput, settings: Settings) -> PrepareOutput:
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
    try:
        output, tally, definition = _prepare(run, settings)
    except CampaignError as exc:
        logger.error("run stopped before sending", extra={"error": exc.to_dict()})
        store.update_run(run.campaign_id, run.run_id, {"error": exc.to_dict()})
        return PrepareOutput(status="FAILED", error=exc.to_dict())
    store.update_run(
        run.campaign_id,
        run.run_id,
        {
            "prepare": tally.to_dict(),
            "breaker": definition.breaker.model_dump(),
            "batch_count": output.batch_count,
            "max_concurrency": output.max_concurrency,
            "worker_rate": output.context.worker_rate if output.context else None,
        },
    )
    return output


def _prepare(run: RunInput, settings: Settings) -> tuple[PrepareOutput, Tally, CampaignDefinition]:
    definition = load_definition(settings, run.campaign_id)
    prefix = run_prefix(run.campaign_id, run.run_id)
    storage.put_json(settings.bucket, f"{prefix}/campaign.json", definition.model_dump(mode="json", by_alias=True))
    templates = load_templates(settings, definition)
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
    extra = {"VersionId": run.audience.version_id} if run.audience.version_id else {}
    try:
        stream = storage.open_stream(settings.bucket, run.audience.key, **extra)
    except storage.MissingObject as exc:
        raise AudienceError("audience file is missing or unreadable", where=exc.where) from None

    tally = Tally()
    writer = BatchWriter(settings, prefix)
    rejects = Rejects(settings, prefix)
    started = time.monotonic()
    try:
        _process_rows(definition, templates, stream, source, tally, writer, rejects)
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
            name: SegmentPlan(template=tmpl, data=definition.segment_data(name))
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
        tally,
        definition,
    )


def _process_rows(
    definition: CampaignDefinition,
    templates: dict[str, TemplateContent],
    stream: Any,
    source: str,
    tally: Tally,
    writer: BatchWriter,
    rejects: Rejects,
) -> None:
    seen = SeenAddresses()
    sampled: set[str] = set()
    segment_data = {name: definition.segment_data(name) for name in definition.segment_names()}
    options = definition.audience
    rows = read_rows(
        stream,
        name=source,
        list_fields=options.list_fields,
        list_separator=options.list_separator,
        pinpoint=options.pinpoint,
    )
    for row in rows:
        tally.rows += 1
        if row.fields is None:
            # Malformed, or a reader's own verdict (a Pinpoint endpoint opted out or of another channel).
            outcome = row.outcome or Outcome.INVALID
            tally.count(UNSEGMENTED, outcome)
            rejects.add(row.line, outcome, row.problem or "malformed row", row.field, row.email)
            continue
        if row.email is None:
            tally.count(UNSEGMENTED, Outcome.INVALID)
            rejects.add(row.line, Outcome.INVALID, "no email value", "email")
            continue
        try:
            address = normalise(row.email)
        except InvalidAddress as exc:
            tally.count(UNSEGMENTED, Outcome.INVALID)
            rejects.add(row.line, Outcome.INVALID, str(exc), row.email_field, row.email)
            continue
        match = definition.segment_for(row.fields)
        if match is None:
            tally.count(UNSEGMENTED, Outcome.SKIPPED)
            rejects.add(row.line, Outcome.SKIPPED, "no segment matched", None, address)
            continue
        segment, template_name = match
        data = merge_data(segment_data[segment], row.fields, unsubscribe_url=SAMPLE_UNSUBSCRIBE_URL)
        if segment not in sampled:
            check_sample(template_name, templates[template_name], data, source=source, line=row.line)
            sampled.add(segment)
        missing = missing_variables(templates[template_name], data)
        if missing:
            tally.count(segment, Outcome.INVALID)
            rejects.add(row.line, Outcome.INVALID, f"template '{template_name}' needs a value", missing[0], address)
            continue
        if not seen.add(address):
            tally.count(segment, Outcome.DUPLICATE)
            rejects.add(row.line, Outcome.DUPLICATE, "address appears earlier in the file", row.email_field, address)
            continue
        tally.queued[segment] = tally.queued.get(segment, 0) + 1
        writer.add(segment, template_name, {"email": address, "line": row.line, "data": row.fields})
