"""Streaming readers for audience files: CSV (with header), JSON array and JSON Lines.

Each reader yields one ``Row`` per data row with the line it starts on, so every row can be
accounted for and every problem can name its line. Memory stays flat: the file is read in
chunks and never held whole.

The files people really have (issue 11): gzip'd (``.csv.gz``, ``.json.gz`` ...), in UTF-8 with or
without a BOM, UTF-16 (Excel's "Unicode text") or a legacy single-byte encoding, separated by
commas, semicolons (European Excel), tabs or pipes (``textfile``), with the email column under
the header each tool exports (``columns``). A CSV cell holding a JSON object (listmonk's
``attributes``) becomes a nested object; a header repeated over several columns becomes a list
of their non-empty values. ``audience.columns`` in the campaign renames columns, and names the
email column; ``audience.encoding`` and ``audience.delimiter`` force what is otherwise detected.

Amazon Pinpoint segment files (a header or first object with ``ChannelType`` and ``Address``)
are read as endpoints (see ``pinpoint``), in any of these formats; a ``.json`` Pinpoint file may
also be JSON Lines, which is what Pinpoint writes.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .columns import EMAIL, Header, delimiter_name, email_key, header_key, resolve_header
from .errors import AudienceError
from .outcomes import Outcome
from .pinpoint import ADDRESS, REQUIRED, is_segment, read_endpoint
from .textfile import CHUNK, DecodedText, sniff_delimiter, spreadsheet_error
from .validation import TOO_DEEP, path_text, too_deep, too_deep_in_text

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",  # Excel's "Unicode text" (UTF-16, tab-separated) is saved as .txt
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")
_CHUNK = CHUNK
# A JSON element that fails to decode this close to the end of the buffer may just be cut at
# the chunk edge: the decoder reports a cut token at its start, and the longest token it can
# cut that way is "-Infinity".
_CUT_MARGIN = 16
# Keys remembered for AudienceInfo.columns of a JSON file: real files have dozens, a hostile one
# could have a new key on every row.
_MAX_JSON_COLUMNS = 1_000


class AudienceOptions(BaseModel):
    """``audience`` in the campaign definition: how to read the audience file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Columns of a CSV file that hold lists, split on ``list_separator`` (JSON has real lists).
    list_fields: list[str] = Field(default_factory=list)
    list_separator: str = Field(default=";", min_length=1, max_length=3)
    # Amazon Pinpoint segment files (docs/pinpoint-migration.md) are detected by their ChannelType
    # and Address columns; true insists on one (a wrong upload fails instead of sending), false
    # reads a file as plain subscribers even with those columns.
    pinpoint: bool | None = None
    # Header as written -> the name rules and templates use. Renaming a column to "email" makes
    # it the email column. A header the file lacks is an error naming it.
    columns: dict[str, str] = Field(default_factory=dict)
    # Forces the file's encoding (a Python codec name: "cp1252", "latin-1", "utf-16"); detected
    # when unset.
    encoding: str | None = None
    # Forces the CSV delimiter; sniffed from the header line when unset.
    delimiter: Literal[",", ";", "\t", "|"] | None = None

    @field_validator("columns")
    @classmethod
    def _valid_columns(cls, columns: dict[str, str]) -> dict[str, str]:
        targets: dict[str, str] = {}
        for header, name in columns.items():
            if not header.strip() or not name.strip():
                raise ValueError(f"'{header}': neither the header nor its new name may be empty")
            if name.strip() != name:
                raise ValueError(f"'{header}': the new name '{name}' has spaces at its ends")
            if name in targets:
                raise ValueError(f"'{targets[name]}' and '{header}' are both renamed to '{name}'")
            targets[name] = header
        emails = [header for header, name in columns.items() if header_key(name) == EMAIL]
        if len(emails) > 1:
            raise ValueError(f"more than one column is renamed to email: {', '.join(emails)}")
        return columns

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str | None) -> str | None:
        if encoding is None:
            return None
        try:
            info = codecs.lookup(encoding)
        except LookupError:
            raise ValueError(
                f"unknown encoding '{encoding}': use a Python codec name such as utf-8, cp1252, latin-1 or utf-16"
            ) from None
        if not getattr(info, "_is_text_encoding", True):  # base64, zlib ...: bytes to bytes, not text
            raise ValueError(f"'{encoding}' is not a text encoding")
        return info.name


class AudienceInfo(BaseModel):
    """How the file was read, for validate, preview and the report. Complete once the rows are
    exhausted; format, encoding and delimiter are known after the first row."""

    format: str  # "csv" | "json" | "jsonl"
    compression: str | None  # "gzip" or None
    encoding: str  # Python's codec name ("utf-8", "utf-8-sig", "utf-16", "cp1252"); "" before reading
    delimiter: str | None  # CSV only: "," ";" "\t" "|"
    columns: list[str]  # CSV: header after renames, a repeated one once; JSON: top-level keys seen so far
    email_column: str | None


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    fields: dict[str, Any] | None  # None when the row is malformed or not a recipient
    email: str | None
    problem: str | None = None  # why the row is malformed or not a recipient
    field: str | None = None  # which field the problem is in
    # The outcome the reader already decided for a row that is well-formed but not a recipient
    # (a Pinpoint endpoint of another channel, or opted out); None with a problem: invalid.
    outcome: Outcome | None = None
    email_field: str = "email"  # the field the address came from, for problems with it


def _endpoint_row(line: int, values: dict[str, Any]) -> Row:
    endpoint = read_endpoint(values)
    return Row(
        line,
        endpoint.fields,
        endpoint.email,
        endpoint.reason,
        endpoint.field,
        outcome=endpoint.outcome,
        email_field=ADDRESS,
    )


def detect_format(name: str) -> str:
    """The format by the name's extension; ``.gz`` after it is compression (detected by content)."""
    lowered = name.lower().removesuffix(".gz")
    for suffix, fmt in FORMATS.items():
        if lowered.endswith(suffix):
            return fmt
    dot = lowered.rfind(".")
    found = lowered[dot:] if dot > lowered.rfind("/") else "(none)"
    if found in SPREADSHEETS:
        raise spreadsheet_error(name, f"a spreadsheet workbook ({found})")
    raise AudienceError(
        f"unknown audience format: extension {found}; expected one of {', '.join(FORMATS)} (or any of them .gz)",
        where=name,
    )


class AudienceFile:
    """One audience file read as rows, and how it was read (``info``). ``rows()`` reads the
    stream once."""

    def __init__(self, stream: BinaryIO, *, name: str, options: AudienceOptions | None = None) -> None:
        self._name = name
        self._options = options or AudienceOptions()
        self._format = detect_format(name)
        self._text = DecodedText(stream, name=name, encoding=self._options.encoding)
        self._delimiter: str | None = None
        self._columns: dict[str, None] = {}
        self._email_column: str | None = None
        self._started = False

    @property
    def info(self) -> AudienceInfo:
        return AudienceInfo(
            format=self._format,
            compression=self._text.compression,
            encoding=self._text.encoding or "",
            delimiter=self._delimiter,
            columns=list(self._columns),
            email_column=self._email_column,
        )

    def rows(self) -> Iterator[Row]:
        if self._started:
            raise RuntimeError("AudienceFile.rows() reads the stream once")
        self._started = True
        chunks = self._text.chunks()
        if self._format == "csv":
            yield from self._read_csv(chunks)
            return
        to_row = _JsonRows(self, self._options)
        read = _read_json if self._format == "json" else _read_json_lines
        yield from read(chunks, self._name, to_row)
        missing = [header for header in to_row.renames if header not in to_row.renamed]
        if missing:
            # Only known at the end: the objects of a JSON file need not all have the same keys.
            raise AudienceError(
                f"audience.columns renames '{missing[0]}', which no object in the file has", where=self._name
            )

    def _read_csv(self, chunks: Iterator[str]) -> Iterator[Row]:
        name, options = self._name, self._options
        first = next(chunks, None)
        if first is None:
            raise AudienceError("file is empty: expected a header row with an email column", where=name)
        tsv = name.lower().removesuffix(".gz").endswith(".tsv")  # the name says tab: believe it
        # Without a delimiter in the header (one column) there is nothing to split: any will do.
        delimiter = options.delimiter or ("\t" if tsv else sniff_delimiter(first)) or ","
        self._delimiter = delimiter
        reader = csv.reader(_TextStream(_prepend(first, chunks)), delimiter=delimiter)
        del first
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            raise AudienceError(f"header row cannot be read: {exc}", where=f"{name}: line 1") from None
        if not cells or not any(cell.strip() for cell in cells):
            raise AudienceError("file is empty: expected a header row with an email column", where=name)
        endpoints = options.pinpoint
        if endpoints is None:
            endpoints = is_segment(cell.strip() for cell in cells)
        where = f"{name}: line 1"
        header = resolve_header(cells, options.columns, where=where, delimiter=delimiter, need_email=not endpoints)
        self._columns = dict.fromkeys(header.columns)
        if endpoints:
            if not is_segment(header.columns):
                missing = " or ".join(n for n in REQUIRED if n not in header.columns)
                raise AudienceError(
                    f"the campaign reads this file as a Pinpoint segment, but the header "
                    f"({', '.join(header.columns)}) read with delimiter {delimiter_name(delimiter)} lacks {missing}",
                    where=where,
                )
            self._email_column = ADDRESS
        else:
            self._email_column = header.email_column
        return self._csv_rows(reader, header, endpoints)

    def _csv_rows(self, reader: Any, header: Header, endpoints: bool) -> Iterator[Row]:
        names = header.names
        width = len(names)
        email_index = header.email_index
        email_field = header.email_column or EMAIL
        list_fields = set(self._options.list_fields)
        separator = self._options.list_separator
        # Without a repeated header a row is built at C speed, then list fields and JSON cells
        # are put right one by one; a repeated header goes through the builder cell by cell.
        plain = not header.repeated
        list_columns = [name for name in header.columns if name in list_fields]
        build = _CellBuilder(header, list_fields, separator)
        last_line = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = last_line + 1
                last_line = reader.line_num
                yield Row(line, None, None, problem=f"malformed CSV: {exc}", field=None)
                continue
            line, last_line = last_line + 1, reader.line_num
            values = [cell.strip() for cell in cells]
            if not any(values):
                continue  # blank lines are not rows
            if last_line > line and _swallowed_rows(values, reader.dialect.delimiter, width):
                yield Row(
                    line,
                    None,
                    None,
                    problem=f"a quote opened on line {line} is not closed before line {last_line}, so the rows "
                    "between were read into one field: close the quote (or double a quote inside a field)",
                    field=None,
                )
                continue
            if len(values) != width:
                yield Row(line, None, None, problem=f"has {len(values)} fields, the header has {width}", field=None)
                continue
            try:
                if plain:
                    fields: dict[str, Any] = dict(zip(names, values))  # noqa: B905 - lengths checked above
                    for column in list_columns:
                        fields[column] = [part.strip() for part in fields[column].split(separator) if part.strip()]
                    # One C-level scan for a brace anywhere (a superset of cells starting with one).
                    if "{" in "".join(values):
                        build.objects(fields)
                else:
                    fields = build(values)
            except _TooDeepCell as exc:
                yield Row(line, None, None, problem=TOO_DEEP, field=exc.field)
                continue
            if endpoints:
                # An empty cell is an attribute the endpoint does not have, as in Pinpoint's JSON,
                # so a CSV and a JSON export of the same segment give the same rows.
                yield _endpoint_row(line, {column: value for column, value in fields.items() if value not in ("", [])})
            else:
                yield Row(line, fields, cells[email_index] if email_index >= 0 else None, email_field=email_field)


def _swallowed_rows(values: list[str], delimiter: str, width: int) -> bool:
    """Whether a row that spans lines holds other rows: a field whose later lines look like rows
    of the file (an address and the delimiters of a row), as an unclosed quote makes them. A
    quoted field may hold line breaks (a postal address), never a whole subscriber."""
    for value in values:
        for inner in value.split("\n")[1:]:
            if "@" in inner and inner.count(delimiter) >= width - 1:
                return True
    return False


class _TooDeepCell(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class _CellBuilder:
    """A row's fields when a cell needs more than its text: list fields, repeated headers
    (a list of the non-empty values) and JSON objects in cells (listmonk's ``attributes``)."""

    def __init__(self, header: Header, list_fields: set[str], separator: str) -> None:
        self._names = header.names
        self._repeated = header.repeated
        self._list_fields = list_fields
        self._separator = separator
        self._email = header.email_column

    def __call__(self, values: list[str]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        parsed = False
        for name, value in zip(self._names, values, strict=True):
            item: Any = value
            if name in self._list_fields:
                item = [part.strip() for part in value.split(self._separator) if part.strip()]
            elif value.startswith("{") and name != self._email:
                item = _json_cell(name, value)
                parsed = parsed or item is not value
            if name in self._repeated:
                bucket = fields.setdefault(name, [])
                if isinstance(item, list):
                    bucket.extend(item)
                elif item != "":
                    bucket.append(item)
            else:
                fields[name] = item
        if parsed:
            _check_depth(fields)
        return fields

    def objects(self, fields: dict[str, Any]) -> None:
        """Turn the text cells of ``fields`` that hold a JSON object into the object, in place."""
        parsed = False
        for name, value in fields.items():
            if isinstance(value, str) and value.startswith("{") and name != self._email:
                item = _json_cell(name, value)
                if item is not value:
                    fields[name] = item  # replacing a value while iterating is allowed: no key changes
                    parsed = True
        if parsed:
            _check_depth(fields)


def _check_depth(fields: dict[str, Any]) -> None:
    # Row values reach code that recurses per level (template data, serialisers).
    deep = too_deep(fields)
    if deep is not None:
        raise _TooDeepCell(path_text(deep))


def _json_cell(name: str, value: str) -> Any:
    """A cell's JSON object, or the cell's text when it is not one ("{draft}" stays text)."""
    try:
        parsed = json.loads(value)
    except RecursionError:  # thousands of levels: too deep for json itself
        found = too_deep_in_text(value)
        raise _TooDeepCell(path_text((name, *found[1])) if found else name) from None
    except ValueError:
        return value
    return parsed if isinstance(parsed, dict) else value


def read_rows(
    stream: BinaryIO,
    *,
    name: str,
    list_fields: Iterable[str] = (),
    list_separator: str = ";",
    pinpoint: bool | None = None,
) -> Iterator[Row]:
    """Rows of the file; ``pinpoint``: None detects a Pinpoint segment file, True requires one,
    False reads the file as plain subscribers whatever its columns. ``AudienceFile`` also tells
    how the file was read and takes the rest of ``audience``."""
    options = AudienceOptions(list_fields=list(list_fields), list_separator=list_separator, pinpoint=pinpoint)
    return AudienceFile(stream, name=name, options=options).rows()


def _read_json(chunks: Iterator[str], name: str, to_row: _JsonRows) -> Iterator[Row]:
    chunks, lines = _sniff_json(chunks, to_row.endpoints)
    yield from (_read_json_lines if lines else _read_json_array)(chunks, name, to_row)


def _prepend(head: str, rest: Iterator[str]) -> Iterator[str]:
    # Not itertools.chain: it would hold the first chunk for as long as the file is read.
    held = [head]
    del head
    yield held.pop()
    yield from rest


def _sniff_json(chunks: Iterator[str], forced: bool | None) -> tuple[Iterator[str], bool]:
    """Whether a ``.json`` file is JSON Lines: a Pinpoint export is, under the same extension.

    Only a first line that is a whole Pinpoint endpoint (or a campaign that says the file is
    Pinpoint) makes it JSON Lines; anything else still has to be a JSON array. Reads no more
    than the first line, and hands back every chunk it read.
    """
    head = ""
    for chunk in chunks:
        head += chunk
        text = head.lstrip()
        if not text:
            continue  # only white space so far
        if text[0] != "{" or forced is not None:
            return _prepend(head, chunks), text[0] == "{" and bool(forced)
        newline = text.find("\n")
        if newline >= 0:
            return _prepend(head, chunks), _is_endpoint(text[:newline])
    # The file ended within its first line: one endpoint without a newline is JSON Lines too.
    text = head.lstrip()
    lines = text.startswith("{") and (bool(forced) if forced is not None else _is_endpoint(text))
    return iter((head,)), lines


def _is_endpoint(text: str) -> bool:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and is_segment(value)


class _TextStream:
    """Line-iterable text over DecodedText's chunks, for the csv module (which needs only iteration)."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self._buffer = ""
        self._pos = 0  # start of the unread text: slicing the buffer per line would copy it per line

    def __next__(self) -> str:
        while True:
            newline = self._buffer.find("\n", self._pos)
            if newline >= 0:
                line, self._pos = self._buffer[self._pos : newline + 1], newline + 1
                return line
            # Let go of the text already read before joining: keeping it adds a chunk to peak memory.
            rest, self._buffer, self._pos = self._buffer[self._pos :], "", 0
            chunk = next(self._chunks, None)
            if chunk is None:
                if rest:
                    return rest
                raise StopIteration
            self._buffer = rest + chunk

    def __iter__(self) -> _TextStream:
        return self


def _read_json_lines(chunks: Iterator[str], name: str, to_row: _JsonRows) -> Iterator[Row]:
    line = 0
    seen_any = False
    for raw in _TextStream(chunks):
        line += 1
        if not raw.strip():
            continue
        seen_any = True
        try:
            value = json.loads(raw)
        except RecursionError:  # thousands of levels: too deep for json itself
            found = too_deep_in_text(raw)
            yield Row(line, None, None, problem=TOO_DEEP, field=path_text(found[1]) if found else None)
            continue
        except ValueError as exc:
            yield Row(line, None, None, problem=f"not valid JSON: {exc}")
            continue
        yield to_row(line, value)
    if not seen_any:
        raise AudienceError("file is empty: expected one JSON object a line", where=name)


class _JsonRows:
    """JSON values to rows: subscribers, or Pinpoint endpoints when the first object is one
    (or the campaign says the file is Pinpoint). Applies ``audience.columns`` to top-level keys
    and keeps the file's keys and email key for ``AudienceInfo``."""

    def __init__(self, file: AudienceFile, options: AudienceOptions) -> None:
        self._file = file
        self._endpoints = options.pinpoint
        self.renames = options.columns
        self.renamed: set[str] = set()
        # A key renamed to email is the email key wherever it appears.
        self._email_target = next((new for new in self.renames.values() if header_key(new) == EMAIL), None)
        self._ranks: dict[str, int] = {}

    @property
    def endpoints(self) -> bool | None:
        return self._endpoints

    def __call__(self, line: int, value: Any) -> Row:
        if not isinstance(value, dict):
            return Row(line, None, None, problem=f"expected a JSON object, got {type(value).__name__}")
        deep = too_deep(value)
        if deep is not None:
            # Row values reach code that recurses per level (template data, serialisers).
            return Row(line, None, None, problem=TOO_DEEP, field=path_text(deep))
        if self.renames:
            hits = [key for key in value if key in self.renames]
            if hits:
                self.renamed.update(hits)
                value = {self.renames.get(key, key): item for key, item in value.items()}
        columns = self._file._columns
        if len(columns) < _MAX_JSON_COLUMNS:
            columns.update(dict.fromkeys(value))
        if self._endpoints is None:
            self._endpoints = is_segment(value)
        if self._endpoints:
            self._file._email_column = ADDRESS
            return _endpoint_row(line, value)
        return self._json_row(line, value)

    def _json_row(self, line: int, value: dict[str, Any]) -> Row:
        if self._email_target is not None and self._email_target in value:
            key: str | None = self._email_target
        else:
            key = email_key(value, cache=self._ranks)
        if key is None:
            return Row(line, value, None)
        if self._file._email_column is None:
            self._file._email_column = key
        email = value.get(key)
        if email is not None and not isinstance(email, str):
            return Row(line, None, None, problem="email must be a string", field=key)
        return Row(line, value, email, email_field=key)


def _read_json_array(chunks: Iterator[str], name: str, to_row: _JsonRows) -> Iterator[Row]:
    """Incremental parse of ``[ {...}, {...} ]``: one element decoded at a time."""
    decoder = json.JSONDecoder()
    buffer, pos, line = "", 0, 1
    exhausted = False

    def more() -> bool:
        nonlocal buffer, pos, exhausted
        chunk = next(chunks, None)
        if chunk is None:
            exhausted = True
            return False
        buffer = buffer[pos:] + chunk
        pos = 0
        return True

    def may_be_cut(index: int) -> bool:
        """Whether the text at ``index`` is so near the end of the buffer that more may change it."""
        return not exhausted and index >= len(buffer) - _CUT_MARGIN

    def skip_space() -> str | None:
        nonlocal pos, line
        while True:
            while pos < len(buffer) and buffer[pos] in " \t\r\n":
                if buffer[pos] == "\n":
                    line += 1
                pos += 1
            if pos < len(buffer):
                return buffer[pos]
            if not more():
                return None

    first = skip_space()
    if first is None:
        raise AudienceError("file is empty: expected a JSON array of objects", where=name)
    if first != "[":
        raise AudienceError("expected a JSON array of objects ('[' first)", where=f"{name}: line {line}")
    pos += 1
    expecting_value = True
    while True:
        char = skip_space()
        if char is None:
            raise AudienceError("file ends inside the JSON array (missing ']')", where=f"{name}: line {line}")
        if char == "]":
            pos += 1
            if skip_space() is not None:
                raise AudienceError("content after the closing ']' of the JSON array", where=f"{name}: line {line}")
            return
        if not expecting_value:
            if char != ",":
                message = f"expected ',' or ']' between elements, found {char!r}"
                raise AudienceError(message, where=f"{name}: line {line}")
            pos += 1
            expecting_value = True
            continue
        while True:
            try:
                value, end = decoder.raw_decode(buffer, pos)
            except RecursionError:
                # Too deep for json to find where the element ends, so the rest cannot be read.
                found = too_deep_in_text(buffer[pos:])
                deep_line = line + (buffer.count("\n", pos, pos + found[0]) if found else 0)
                field = f" (field {path_text(found[1])})" if found else ""
                raise AudienceError(f"{TOO_DEEP}{field}", where=f"{name}: line {deep_line}") from None
            except json.JSONDecodeError as exc:
                # Read on only if the error may be the chunk edge: a string running to the end of
                # the buffer, or a token cut near it. Anything else is wrong in the file itself, and
                # reading on would pull the rest of the file into memory before saying so.
                cut = exc.msg.startswith("Unterminated string") or may_be_cut(exc.pos)
                if cut and more():
                    continue
                raise AudienceError(f"not valid JSON: {exc}", where=f"{name}: line {line}") from None
            except ValueError as exc:  # not a JSONDecodeError: e.g. a number past Python's 4,300 digits
                raise AudienceError(f"not valid JSON: {exc}", where=f"{name}: line {line}") from None
            # A number cut at the chunk edge decodes "successfully" but short ("12" of "12.5",
            # "1" of "1e5"): when the value ends near the edge, read on and decode it again.
            if may_be_cut(end) and more():
                continue
            break
        start_line = line
        line += buffer.count("\n", pos, end)
        pos = end
        expecting_value = False
        yield to_row(start_line, value)
