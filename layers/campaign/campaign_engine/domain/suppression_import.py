"""Bulk suppression import: the files people bring from other tools, one suppression fact a line.

What a file is, is detected from its header (or first object), never from its name:

=======================  ===========================================  ==============  =====================
Kind                     Detected by                                  Reason          Time of the fact
=======================  ===========================================  ==============  =====================
mailchimp-cleaned        a ``CLEAN_TIME`` column (cleaned export)     BOUNCE          ``CLEAN_TIME``
mailchimp-unsubscribed   an ``UNSUB_TIME`` column (unsubscribed       UNSUBSCRIBE     ``UNSUB_TIME``
                         export)
listmonk-blocklist       ``uuid``, ``status`` and ``attributes``      MANUAL          ``updated_at``
                         columns (listmonk's subscriber export); only
                         rows with status ``blocklisted``
pinpoint-opt-out         ``ChannelType`` and ``Address`` (a Pinpoint  UNSUBSCRIBE     (none)
                         segment export); only EMAIL endpoints with
                         ``OptOut: ALL``
list                     no header: the first line is an address      MANUAL          (none)
addresses                any other file with an email column          MANUAL          (none)
ses-account              SES's account-level suppression list         BOUNCE or       ``LastUpdateTime``
                         (``--from-ses``, not a file)                 COMPLAINT
=======================  ===========================================  ==============  =====================

Mailchimp's cleaned addresses are hard bounces (or addresses that complained: Mailchimp does not
say which), so BOUNCE: the strongest reason an import can honestly give. A listmonk blocklist
mixes operator blocks, bounces past listmonk's threshold and, with "blocklist on unsubscribe",
unsubscribes; the export does not say which, so MANUAL: it stops every campaign without claiming
a bounce or complaint (which would go on to SES's account list with ``--to-ses``). Pinpoint's
``OptOut: ALL`` is the endpoint's own unsubscribe from everything. ``--reason`` and ``--source``
override the detected ones.

A line without a time of its own gets the file's modification time: the same file imported again
then gives the same facts, and the fold (``domain.suppression``) leaves the record as it is. Each
fact's key is ``import|<source>|<reason>|<address hash>``, so the same line imported twice is one
fact, as with ``suppression add``. Nothing is ever removed or downgraded: the fold only adds
reasons, and keeps the earliest and latest facts.

Every line ends in one ``LineOutcome``; ``ImportSummary`` counts them and keeps the first
problems with their lines.
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, BinaryIO, Protocol

from pydantic import BaseModel, Field

from .addresses import InvalidAddress, address_hash, normalise, redact
from .audience import AudienceFile
from .outcomes import Outcome
from .pinpoint import is_segment
from .ses_events import iso_millis
from .suppression import BOUNCE, COMPLAINT, MANUAL, UNSUBSCRIBE, Change, Fact, SoftBouncePolicy
from .textfile import DecodedText

MAX_PROBLEMS = 20  # kept in the summary; every problem is still counted
BATCH = 1_000  # addresses handed to the store at a time (it splits them for DynamoDB)


class ImportKind(StrEnum):
    MAILCHIMP_UNSUBSCRIBED = "mailchimp-unsubscribed"
    MAILCHIMP_CLEANED = "mailchimp-cleaned"
    LISTMONK_BLOCKLIST = "listmonk-blocklist"
    PINPOINT_OPT_OUT = "pinpoint-opt-out"
    PLAIN_LIST = "list"
    ADDRESSES = "addresses"
    SES_ACCOUNT = "ses-account"


class ImportReason(StrEnum):
    """What an import may record. SOFT_BOUNCE is not among them: one soft bounce never suppresses."""

    BOUNCE = BOUNCE
    COMPLAINT = COMPLAINT
    UNSUBSCRIBE = UNSUBSCRIBE
    MANUAL = MANUAL


DEFAULT_REASON: dict[ImportKind, ImportReason] = {
    ImportKind.MAILCHIMP_UNSUBSCRIBED: ImportReason.UNSUBSCRIBE,
    ImportKind.MAILCHIMP_CLEANED: ImportReason.BOUNCE,
    ImportKind.LISTMONK_BLOCKLIST: ImportReason.MANUAL,
    ImportKind.PINPOINT_OPT_OUT: ImportReason.UNSUBSCRIBE,
    ImportKind.PLAIN_LIST: ImportReason.MANUAL,
    ImportKind.ADDRESSES: ImportReason.MANUAL,
}
# The column that holds each kind's own time of the fact, compared as ``_key`` does.
TIME_COLUMN: dict[ImportKind, str] = {
    ImportKind.MAILCHIMP_UNSUBSCRIBED: "unsubtime",
    ImportKind.MAILCHIMP_CLEANED: "cleantime",
    ImportKind.LISTMONK_BLOCKLIST: "updatedat",
}
LISTMONK_BLOCKLISTED = "blocklisted"
_LISTMONK_COLUMNS = frozenset({"uuid", "status", "attributes"})


class LineOutcome(StrEnum):
    NEW = "new"  # the address had no record: now suppressed
    UPDATED = "updated"  # it had one; the fact added to it (a reason, an earlier or later time)
    UNCHANGED = "unchanged"  # already suppressed with this fact: nothing written
    DUPLICATE = "duplicate"  # earlier in the same file
    INVALID = "invalid"  # not an address, or a line that cannot be read
    SKIPPED = "skipped"  # a row of the export that is not a suppression (a listmonk row still enabled ...)


class Problem(BaseModel):
    line: int
    message: str
    field: str | None = None


class ImportSummary(BaseModel):
    """What an import did, line by line counted; ``problems`` holds the first ``MAX_PROBLEMS``."""

    source_name: str  # the file (or "SES account suppression list")
    kind: ImportKind
    reason: ImportReason | None  # None: per line (the SES list has both)
    source: str
    dry_run: bool = False
    lines: int = 0
    counts: dict[LineOutcome, int] = Field(default_factory=lambda: dict.fromkeys(LineOutcome, 0))
    problems: list[Problem] = Field(default_factory=list)
    seconds: float = 0.0
    encoding: str | None = None
    delimiter: str | None = None

    @property
    def recorded(self) -> int:
        return self.counts[LineOutcome.NEW] + self.counts[LineOutcome.UPDATED]

    @property
    def rate(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    def count(self, outcome: LineOutcome, problem: Problem | None = None) -> None:
        self.counts[outcome] += 1
        if problem is not None and len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def document(self) -> dict[str, Any]:
        out = self.model_dump(mode="json")
        out["counts"] = {outcome.value: self.counts[outcome] for outcome in LineOutcome}
        out["addresses_per_second"] = round(self.rate, 1)
        out["seconds"] = round(self.seconds, 3)
        return out


# --------------------------------------------------------------------------- detection


def _key(name: str) -> str:
    """Column names compared ignoring case, spaces, underscores and hyphens (as ``columns`` does)."""
    return re.sub(r"[\s_\-]+", "", name).casefold()


def detect_kind(columns: Iterable[str]) -> ImportKind:
    """The kind of a file with a header (CSV) or objects (JSON), by its column names."""
    names = [name for name in columns if isinstance(name, str)]
    if is_segment(names):
        return ImportKind.PINPOINT_OPT_OUT
    keys = {_key(name) for name in names}
    if "cleantime" in keys:
        return ImportKind.MAILCHIMP_CLEANED
    if "unsubtime" in keys:
        return ImportKind.MAILCHIMP_UNSUBSCRIBED
    if keys >= _LISTMONK_COLUMNS:
        return ImportKind.LISTMONK_BLOCKLIST
    return ImportKind.ADDRESSES


# Mailchimp's export of *subscribed* members (in the same ZIP as the unsubscribed and cleaned
# lists) has these and neither CLEAN_TIME nor UNSUB_TIME: imported, it would suppress everyone.
_SUBSCRIBED_COLUMNS = frozenset({"optintime", "confirmtime", "memberrating"})


def looks_subscribed(columns: Iterable[str]) -> bool:
    """Whether a file of kind ADDRESSES looks like a list of people who want mail (Mailchimp's
    subscribed export): importing it needs the operator to say so (``--reason``)."""
    keys = {_key(name) for name in columns if isinstance(name, str)}
    return bool(keys & _SUBSCRIBED_COLUMNS) and detect_kind(columns) is ImportKind.ADDRESSES


# A plain list's line: one address, perhaps quoted, nothing else. Deliberately loose (the
# address is validated later); what it must not match is a header or a CSV record.
_LIST_LINE = re.compile(r"""^\s*["']?[^\s"',;|@<>]+@[^\s"',;|@<>]+["']?\s*$""")


def is_address_line(line: str) -> bool:
    """Whether a first line is an address on its own (a plain list), not a header."""
    return bool(_LIST_LINE.match(line))


def list_address(line: str) -> str:
    """The address on a plain list's line: spaces and one pair of quotes around it dropped."""
    text = line.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


_NAIVE = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
# Go's time.Time.String(), what listmonk's export writes: "2024-01-02 10:00:00.123456 +0000 UTC".
_GO_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(\.\d+)? ([+-]\d{4})(?: \S+)?$")


def parse_time(raw: Any) -> str | None:
    """An export's time as ``iso_millis`` (UTC); None when there is none or it cannot be read.

    Mailchimp writes "YYYY-MM-DD HH:MM:SS" in UTC; listmonk Go's "... +0000 UTC"; ISO 8601 with
    an offset or "Z" is read as such. A time without a zone is UTC.
    """
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    moment: datetime | None = None
    go = _GO_TIME.match(text)
    if go:
        digits = (go.group(2) or ".0")[1:7]  # Go writes up to nanoseconds; %f takes six digits
        try:
            moment = datetime.strptime(f"{go.group(1)}.{digits}{go.group(3)}", "%Y-%m-%d %H:%M:%S.%f%z")
        except ValueError:
            moment = None
    if moment is None:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            for layout in _NAIVE:
                try:
                    moment = datetime.strptime(text, layout)
                    break
                except ValueError:
                    continue
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return iso_millis(moment)
    except (OverflowError, ValueError):  # a year 1 time moved to UTC leaves the calendar
        return None


def default_source(kind: ImportKind, file_name: str) -> str:
    return "ses-account" if kind is ImportKind.SES_ACCOUNT else f"import:{kind.value}:{file_name}"


def fact_key(source: str, reason: str, address: str) -> str:
    """One fact per source, reason and address: the same line imported again is the same fact."""
    return f"import|{source}|{reason}|{address_hash(address)}"


# --------------------------------------------------------------------------- lines to facts


@dataclass(frozen=True, slots=True)
class Candidate:
    """A line that names an address to suppress (not yet validated)."""

    line: int
    raw: str
    at: str | None = None  # the export's own time, if it has one
    detail: str | None = None
    reason: ImportReason | None = None  # per line (the SES list); None: the import's reason


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line that ends without a fact: invalid (a problem) or skipped (not a suppression)."""

    line: int
    outcome: LineOutcome
    message: str
    field: str | None = None


Line = Candidate | Rejected


def _value(fields: Mapping[str, Any], key: str) -> Any:
    for name, value in fields.items():
        if _key(name) == key:
            return value
    return None


def _detail(kind: ImportKind, fields: Mapping[str, Any]) -> str | None:
    if kind is ImportKind.MAILCHIMP_UNSUBSCRIBED:
        reason = _value(fields, "unsubreason")
        # The reader's own choice from Mailchimp's list; UNSUB_REASON_OTHER is free text and stays out.
        return redact(reason.strip())[:100] if isinstance(reason, str) and reason.strip() else None
    if kind is ImportKind.MAILCHIMP_CLEANED:
        return "mailchimp cleaned"
    if kind is ImportKind.LISTMONK_BLOCKLIST:
        return "listmonk blocklisted"
    if kind is ImportKind.PINPOINT_OPT_OUT:
        return "pinpoint OptOut ALL"
    return None


def line_from_row(kind: ImportKind, row: Any) -> Line:
    """One audience ``Row`` (``domain.audience``) of a file of ``kind``, as a candidate or a rejection."""
    if kind is ImportKind.PINPOINT_OPT_OUT:
        if row.outcome is Outcome.SUPPRESSED and isinstance(row.email, str):
            return Candidate(row.line, row.email, detail=_detail(kind, {}))
        if row.outcome is Outcome.SKIPPED:
            return Rejected(row.line, LineOutcome.SKIPPED, row.problem or "not an EMAIL endpoint", row.field)
        if row.problem is not None:
            return Rejected(row.line, LineOutcome.INVALID, row.problem, row.field)
        return Rejected(row.line, LineOutcome.SKIPPED, "not opted out (OptOut is not ALL)", "OptOut")
    if row.problem is not None or row.fields is None:
        return Rejected(row.line, LineOutcome.INVALID, row.problem or "not a subscriber row", row.field)
    if kind is ImportKind.LISTMONK_BLOCKLIST:
        status = _value(row.fields, "status")
        if not (isinstance(status, str) and status.strip().lower() == LISTMONK_BLOCKLISTED):
            shown = status.strip() if isinstance(status, str) and status.strip() else "(empty)"
            return Rejected(row.line, LineOutcome.SKIPPED, f"status {shown}: not blocklisted", "status")
    if not isinstance(row.email, str) or not row.email.strip():
        return Rejected(row.line, LineOutcome.INVALID, "email is empty", row.email_field)
    column = TIME_COLUMN.get(kind)
    at = parse_time(_value(row.fields, column)) if column else None
    return Candidate(row.line, row.email, at=at, detail=_detail(kind, row.fields))


def lines_of_list(text_lines: Iterable[str], first_line: int = 1) -> Iterator[Line]:
    """A plain list: one address a line, blank lines ignored."""
    for number, text in enumerate(text_lines, first_line):
        if not text.strip():
            continue
        address = list_address(text)
        if any(separator in address for separator in ",;\t|"):
            yield Rejected(number, LineOutcome.INVALID, "expected one address on the line, found several fields")
            continue
        yield Candidate(number, address)


# --------------------------------------------------------------------------- the import


class SuppressionStore(Protocol):
    """What the import needs of the table (``adapters.suppression.SuppressionList``)."""

    def record_many(
        self, facts: Sequence[tuple[str, Fact]], policy: SoftBouncePolicy, *, dry_run: bool = False
    ) -> dict[str, Change]: ...


_CHANGE_OUTCOME = {
    Change.NEW: LineOutcome.NEW,
    Change.UPDATED: LineOutcome.UPDATED,
    Change.UNCHANGED: LineOutcome.UNCHANGED,
}


class Importer:
    """Lines to facts to the store, ``BATCH`` unique addresses at a time, the next batch read
    while the store writes the last one."""

    def __init__(
        self,
        store: SuppressionStore,
        summary: ImportSummary,
        *,
        default_at: str,
        policy: SoftBouncePolicy | None = None,
        progress: Callable[[ImportSummary], None] | None = None,
        batch: int = BATCH,
    ) -> None:
        self._store = store
        self.summary = summary
        self._default_at = default_at
        self._policy = policy or SoftBouncePolicy()
        self._progress = progress
        self._batch = batch
        self._seen: set[str] = set()

    def _fact(self, address: str, line: Candidate) -> Fact:
        reason = line.reason or self.summary.reason or ImportReason.MANUAL
        return Fact(
            reason=str(reason),
            at=line.at or self._default_at,
            key=fact_key(self.summary.source, str(reason), address),
            source=self.summary.source,
            detail=line.detail,
        )

    def _settle(self, pending: Future[dict[str, Change]] | None) -> None:
        if pending is None:
            return
        for change in pending.result().values():
            self.summary.count(_CHANGE_OUTCOME[change])
        if self._progress is not None:
            self._progress(self.summary)

    def run(self, lines: Iterable[Line]) -> ImportSummary:
        started = datetime.now(UTC)
        batch: list[tuple[str, Fact]] = []
        pending: Future[dict[str, Change]] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="suppression-import") as writer:
            for line in lines:
                self.summary.lines += 1
                if isinstance(line, Rejected):
                    problem = Problem(line=line.line, message=line.message, field=line.field)
                    self.summary.count(line.outcome, problem if line.outcome is LineOutcome.INVALID else None)
                    continue
                try:
                    address = normalise(line.raw)
                except InvalidAddress as exc:
                    self.summary.count(LineOutcome.INVALID, Problem(line=line.line, message=str(exc), field="email"))
                    continue
                if address in self._seen:
                    self.summary.count(LineOutcome.DUPLICATE)
                    continue
                self._seen.add(address)
                batch.append((address, self._fact(address, line)))
                if len(batch) >= self._batch:
                    self._settle(pending)
                    pending = writer.submit(self._store.record_many, batch, self._policy, dry_run=self.summary.dry_run)
                    batch = []
            self._settle(pending)
            if batch:
                self._settle(writer.submit(self._store.record_many, batch, self._policy, dry_run=self.summary.dry_run))
        self.summary.seconds = (datetime.now(UTC) - started).total_seconds()
        return self.summary


# --------------------------------------------------------------------------- reading a file


class _Replay:
    """A binary stream with its first bytes (read to look at them) put back in front."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1, /) -> bytes:
        if not self._head:
            return self._stream.read(size)
        if size < 0:
            out, self._head = self._head + self._stream.read(), b""
        else:
            out, self._head = self._head[:size], self._head[size:]
        return out


def _first_line(head: bytes) -> str:
    """The first non-blank line of the file's first bytes, decompressed and decoded loosely: only
    to tell a plain list (an address first) from a file with a header."""
    if head.startswith(b"\x1f\x8b"):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 64 * 1024)
        except zlib.error:
            return ""  # DecodedText words the damage, with the line
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            text = head.decode(encoding, errors="replace")
            break
    else:
        text = head.decode("utf-8-sig", errors="replace")
    return next((line for line in text.splitlines() if line.strip()), "")


@dataclass
class ImportFile:
    """A file to import, read once: its kind (known after the first line), and its lines."""

    stream: BinaryIO
    name: str  # as the operator gave it: named in every error

    def __post_init__(self) -> None:
        head = self.stream.read(64 * 1024) or b""
        self._stream = _Replay(head, self.stream)
        self.kind: ImportKind | None = ImportKind.PLAIN_LIST if is_address_line(_first_line(head)) else None
        self.encoding: str | None = None
        self.delimiter: str | None = None
        self.columns: list[str] = []  # the header (CSV) or keys (JSON) as read; none for a plain list

    def lines(self) -> Iterator[Line]:
        """Each line as a candidate or a rejection; ``kind`` is set before the first is yielded.
        An unreadable file raises ``AudienceError`` naming the file and the line."""
        if self.kind is ImportKind.PLAIN_LIST:
            yield from self._plain_list()
            return
        audience = AudienceFile(self._stream, name=self.name)  # type: ignore[arg-type]
        kind: ImportKind | None = None
        try:
            for row in audience.rows():
                if kind is None:
                    kind = self.kind = detect_kind(audience.info.columns)
                    self.columns = list(audience.info.columns)
                    self.encoding, self.delimiter = audience.info.encoding, audience.info.delimiter
                yield line_from_row(kind, row)
        finally:
            if kind is None:  # a header and no rows: still say what the file was
                info = audience.info
                self.kind = detect_kind(info.columns)
                self.columns = list(info.columns)
                self.encoding, self.delimiter = info.encoding or None, info.delimiter

    def _plain_list(self) -> Iterator[Line]:
        text = DecodedText(self._stream, name=self.name)  # type: ignore[arg-type]
        rest, number = "", 1
        for chunk in text.chunks():
            self.encoding = text.encoding
            rest += chunk
            *complete, rest = rest.split("\n")
            yield from lines_of_list(complete, number)
            number += len(complete)
        if rest:
            yield from lines_of_list([rest], number)
