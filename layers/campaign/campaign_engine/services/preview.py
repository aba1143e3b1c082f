"""Preview: a dry run of Prepare on an audience file, plus what SendBatch would suppress.

The rows go through Prepare's own loop (the same reader, validation, deduplication, segment
rules and template checks), but batches and rejects are counted instead of written, nothing
is sent and no run is recorded. Queued addresses are looked up in the suppression list as
SendBatch would (100 a call), and one row per segment is rendered by SES
(``TestRenderEmailTemplate``) as a sample. As for a run, the campaign's templates are synced to
SES from ``templates/`` first.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_string
from email.header import decode_header, make_header
from email.message import Message
from typing import Any, BinaryIO

from ..adapters import ses
from ..adapters.suppression import SuppressionList
from ..config import Settings
from ..domain.outcomes import Outcome, empty_counts
from ..domain.rejects import RejectsTally
from ..domain.templates import TemplateContent, merge_data
from .prepare import (
    SAMPLE_UNSUBSCRIBE_URL,
    ProgressCallback,
    Tally,
    _process_rows,
    check_sample,
    load_templates,
    publish_templates,
)
from .start import load_definition

_LOOKUP = 100  # BatchGetItem's limit, as SendBatch uses it


@dataclass
class Sample:
    segment: str
    template: str
    line: int
    subject: str
    html: str | None
    text: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"segment": self.segment, "template": self.template, "line": self.line, "subject": self.subject}


@dataclass
class _Counted:
    """Prepare's BatchWriter, counting instead of writing; queued addresses meet the
    suppression list in lookups of 100, and the first row of each segment is kept."""

    suppression: SuppressionList | None
    topic: str | None
    queued: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)
    firsts: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _pending: list[tuple[str, str]] = field(default_factory=list)

    def add(self, segment: str, template: str, recipient: dict[str, Any]) -> None:
        self.queued[segment] += 1
        self.firsts.setdefault(segment, (template, recipient))
        self._pending.append((segment, recipient["email"]))
        if len(self._pending) >= _LOOKUP:
            self._look_up()

    def close(self) -> None:
        self._look_up()

    def _look_up(self) -> None:
        pending, self._pending = self._pending, []
        if not pending or self.suppression is None:
            return
        found = self.suppression.suppressed([address for _, address in pending], self.topic)
        for segment, address in pending:
            if address in found:
                self.suppressed[segment] += 1


class _Rejects:
    """Prepare's Rejects, tallied by outcome and reason instead of written."""

    def __init__(self) -> None:
        self.tally = RejectsTally()

    def add(self, line: int, outcome: Outcome, reason: str, field: str | None = None, email: Any = None) -> None:
        self.tally.add(outcome.value, reason, field, line)


@dataclass
class Preview:
    campaign_id: str
    source: str
    rows: int
    segments: dict[str, dict[str, int]]  # outcome counts, with "would_send"
    totals: dict[str, int]
    rejects: list[dict[str, Any]]
    samples: list[Sample]
    # What the reader found (format, compression, encoding, delimiter, columns, email_column).
    audience: dict[str, Any] = field(default_factory=dict)
    # Rule fields and template variables that no column of the file provides.
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "source": self.source,
            "rows": self.rows,
            "totals": self.totals,
            "segments": self.segments,
            "rejects": self.rejects,
            "samples": [sample.to_dict() for sample in self.samples],
            "audience": self.audience,
            "warnings": self.warnings,
        }


def preview(
    settings: Settings,
    campaign_id: str,
    stream: BinaryIO,
    source: str,
    *,
    progress: ProgressCallback | None = None,
) -> Preview:
    """``progress`` is called with a ``prepare.Progress`` (rows, bytes read, seconds) at most
    every half second, and once at the end (``done``)."""
    definition = load_definition(settings, campaign_id)
    templates = load_templates(settings, definition)
    template_names = publish_templates(templates)  # SES renders the samples
    tally = Tally()
    suppression = SuppressionList(settings.suppression_table) if settings.suppression_table else None
    writer = _Counted(suppression, definition.topic)
    rejects = _Rejects()

    def sample(template: str, content: TemplateContent, data: dict[str, Any], line: int) -> None:
        check_sample(template, content, data, source=source, line=line)

    _process_rows(
        definition, templates, template_names, stream, source, tally, writer, rejects, sample=sample, progress=progress
    )
    writer.close()

    segments: dict[str, dict[str, int]] = {}
    for name in sorted(set(tally.segments) | set(writer.queued)):
        counts = dict(tally.segments.get(name, empty_counts()))
        counts["suppressed"] += writer.suppressed[name]
        counts["would_send"] = writer.queued[name] - writer.suppressed[name]
        segments[name] = counts
    totals = dict.fromkeys([*empty_counts(), "would_send"], 0)
    for counts in segments.values():
        for outcome, value in counts.items():
            totals[outcome] += value
    samples = [
        _render(name, template, recipient, definition.segment_data(name))
        for name, (template, recipient) in sorted(writer.firsts.items())
    ]
    return Preview(
        campaign_id,
        source,
        tally.rows,
        segments,
        totals,
        rejects.tally.reasons(),
        samples,
        audience=tally.audience or {},
        warnings=tally.warnings,
    )


def _render(segment: str, template: str, recipient: dict[str, Any], shared: dict[str, Any]) -> Sample:
    data = merge_data(shared, recipient["data"], unsubscribe_url=SAMPLE_UNSUBSCRIBE_URL)
    rendered = message_from_string(ses.test_render(template, json.dumps(data, default=str)))
    return Sample(
        segment=segment,
        template=template,
        line=int(recipient["line"]),
        subject=str(make_header(decode_header(str(rendered.get("Subject", ""))))),
        html=_part(rendered, "text/html"),
        text=_part(rendered, "text/plain"),
    )


def _part(message: Message, content_type: str) -> str | None:
    for part in message.walk():
        if part.get_content_type() == content_type:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return None
