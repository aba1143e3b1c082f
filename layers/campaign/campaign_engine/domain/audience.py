"""Streaming readers for audience files: CSV (with header), JSON array and JSON Lines.

Each reader yields one ``Row`` per data row with the line it starts on, so every row can be
accounted for and every problem can name its line. Memory stays flat: the file is read in
chunks and never held whole.

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
from typing import Any, BinaryIO

from .errors import AudienceError
from .outcomes import Outcome
from .pinpoint import ADDRESS, REQUIRED, is_segment, read_endpoint
from .validation import TOO_DEEP, path_text, too_deep, too_deep_in_text

EMAIL_COLUMNS = ("email", "email_address", "emailaddress", "e-mail")
FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_CHUNK = 64 * 1024
# A JSON element that fails to decode this close to the end of the buffer may just be cut at
# the chunk edge: the decoder reports a cut token at its start, and the longest token it can
# cut that way is "-Infinity".
_CUT_MARGIN = 16


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
    lowered = name.lower()
    for suffix, fmt in FORMATS.items():
        if lowered.endswith(suffix):
            return fmt
    dot = lowered.rfind(".")
    found = lowered[dot:] if dot > lowered.rfind("/") else "(none)"
    raise AudienceError(
        f"unknown audience format: extension {found}; expected one of {', '.join(FORMATS)}",
        where=name,
    )


def _email_key(keys: Iterable[str]) -> str | None:
    by_lower = {key.strip().lower(): key for key in keys}
    return next((by_lower[name] for name in EMAIL_COLUMNS if name in by_lower), None)


class _ChunkedText:
    """UTF-8 text (BOM dropped) decoded incrementally from a binary stream."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self._stream = stream
        self._name = name
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()

    def chunks(self) -> Iterator[str]:
        line = 1  # of the end of the text decoded so far, so a bad byte can be placed exactly
        while True:
            data = self._stream.read(_CHUNK)
            try:
                text = self._decoder.decode(data or b"", final=not data)
            except UnicodeDecodeError as exc:
                # exc.object is this read plus the few bytes of a sequence held back from the
                # last one (never a newline), so the newlines before exc.start are all new.
                line += exc.object.count(b"\n", 0, exc.start)
                raise AudienceError("file is not UTF-8 text", where=f"{self._name}: line {line}") from None
            line += text.count("\n")
            if text:
                yield text
            if not data:
                return


def read_rows(
    stream: BinaryIO,
    *,
    name: str,
    list_fields: Iterable[str] = (),
    list_separator: str = ";",
    pinpoint: bool | None = None,
) -> Iterator[Row]:
    """Rows of the file; ``pinpoint``: None detects a Pinpoint segment file, True requires one,
    False reads the file as plain subscribers whatever its columns."""
    fmt = detect_format(name)
    chunks = _ChunkedText(stream, name).chunks()
    if fmt == "csv":
        return _read_csv(chunks, name, set(list_fields), list_separator, pinpoint)
    if fmt == "json":
        return _read_json(chunks, name, pinpoint)
    return _read_json_lines(chunks, name, pinpoint)


def _read_json(chunks: Iterator[str], name: str, endpoints: bool | None) -> Iterator[Row]:
    chunks, lines = _sniff_json(chunks, endpoints)
    yield from (_read_json_lines if lines else _read_json_array)(chunks, name, endpoints)


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
    """Line-iterable text over _ChunkedText's chunks, for the csv module (which needs only iteration)."""

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


def _read_csv(
    chunks: Iterator[str], name: str, list_fields: set[str], separator: str, endpoints: bool | None
) -> Iterator[Row]:
    reader = csv.reader(_TextStream(chunks))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise AudienceError(f"header row cannot be read: {exc}", where=f"{name}: line 1") from None
    if not header or not any(cell.strip() for cell in header):
        raise AudienceError("file is empty: expected a header row with an email column", where=name)
    columns = [cell.strip() for cell in header]
    if endpoints is None:
        endpoints = is_segment(columns)
    email_index = -1
    if endpoints:
        if not is_segment(columns):
            raise AudienceError(
                f"the campaign reads this file as a Pinpoint segment, but the header ({', '.join(columns)}) "
                f"lacks {' or '.join(n for n in REQUIRED if n not in columns)}",
                where=f"{name}: line 1",
            )
    else:
        email_column = _email_key(columns)
        if email_column is None:
            raise AudienceError(
                f"no email column in the header ({', '.join(columns)}); expected one of {', '.join(EMAIL_COLUMNS)}",
                where=f"{name}: line 1",
            )
        email_index = columns.index(email_column)
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
        if not cells or all(not cell.strip() for cell in cells):
            continue  # blank lines are not rows
        if len(cells) != len(columns):
            yield Row(line, None, None, problem=f"has {len(cells)} fields, the header has {len(columns)}", field=None)
            continue
        fields: dict[str, Any] = {}
        for column, cell in zip(columns, cells, strict=True):  # lengths checked above
            value = cell.strip()
            if column in list_fields:
                fields[column] = [item.strip() for item in value.split(separator) if item.strip()]
            else:
                fields[column] = value
        if endpoints:
            # An empty cell is an attribute the endpoint does not have, as in Pinpoint's JSON,
            # so a CSV and a JSON export of the same segment give the same rows.
            yield _endpoint_row(line, {column: value for column, value in fields.items() if value not in ("", [])})
        else:
            yield Row(line, fields, cells[email_index])


def _read_json_lines(chunks: Iterator[str], name: str, endpoints: bool | None) -> Iterator[Row]:
    line = 0
    seen_any = False
    to_row = _JsonRows(endpoints)
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
    (or the campaign says the file is Pinpoint)."""

    def __init__(self, endpoints: bool | None) -> None:
        self._endpoints = endpoints

    def __call__(self, line: int, value: Any) -> Row:
        if not isinstance(value, dict):
            return Row(line, None, None, problem=f"expected a JSON object, got {type(value).__name__}")
        deep = too_deep(value)
        if deep is not None:
            # Row values reach code that recurses per level (template data, serialisers).
            return Row(line, None, None, problem=TOO_DEEP, field=path_text(deep))
        if self._endpoints is None:
            self._endpoints = is_segment(value)
        return _endpoint_row(line, value) if self._endpoints else _json_row(line, value)


def _json_row(line: int, value: dict[str, Any]) -> Row:
    key = _email_key(value.keys())
    email = value.get(key) if key else None
    if key is not None and email is not None and not isinstance(email, str):
        return Row(line, None, None, problem="email must be a string", field=key)
    return Row(line, value, email)


def _read_json_array(chunks: Iterator[str], name: str, endpoints: bool | None) -> Iterator[Row]:
    """Incremental parse of ``[ {...}, {...} ]``: one element decoded at a time."""
    decoder = json.JSONDecoder()
    to_row = _JsonRows(endpoints)
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
