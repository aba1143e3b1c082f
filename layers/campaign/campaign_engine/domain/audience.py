"""Streaming readers for audience files: CSV (with header), JSON array and JSON Lines.

Each reader yields one ``Row`` per data row with the line it starts on, so every row can be
accounted for and every problem can name its line. Memory stays flat: the file is read in
chunks and never held whole.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from .errors import AudienceError

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
    fields: dict[str, Any] | None  # None when the row itself is malformed
    email: str | None
    problem: str | None = None  # why the row is malformed
    field: str | None = None  # which field the problem is in


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
    stream: BinaryIO, *, name: str, list_fields: Iterable[str] = (), list_separator: str = ";"
) -> Iterator[Row]:
    fmt = detect_format(name)
    if fmt == "csv":
        return _read_csv(stream, name, set(list_fields), list_separator)
    if fmt == "json":
        return _read_json_array(stream, name)
    return _read_json_lines(stream, name)


class _TextStream(io.TextIOBase):
    """Line-iterable text over _ChunkedText, for the csv module."""

    def __init__(self, text: _ChunkedText) -> None:
        self._chunks = text.chunks()
        self._buffer = ""
        self._pos = 0  # start of the unread text: slicing the buffer per line would copy it per line

    def readable(self) -> bool:
        return True

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


def _read_csv(stream: BinaryIO, name: str, list_fields: set[str], separator: str) -> Iterator[Row]:
    text = _ChunkedText(stream, name)
    reader = csv.reader(_TextStream(text))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise AudienceError(f"header row cannot be read: {exc}", where=f"{name}: line 1") from None
    if not header or not any(cell.strip() for cell in header):
        raise AudienceError("file is empty: expected a header row with an email column", where=name)
    columns = [cell.strip() for cell in header]
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
        yield Row(line, fields, cells[email_index])


def _read_json_lines(stream: BinaryIO, name: str) -> Iterator[Row]:
    text = _ChunkedText(stream, name)
    line = 0
    seen_any = False
    for raw in _TextStream(text):
        line += 1
        if not raw.strip():
            continue
        seen_any = True
        try:
            value = json.loads(raw)
        except ValueError as exc:
            yield Row(line, None, None, problem=f"not valid JSON: {exc}")
            continue
        yield _json_row(line, value)
    if not seen_any:
        raise AudienceError("file is empty: expected one JSON object a line", where=name)


def _json_row(line: int, value: Any) -> Row:
    if not isinstance(value, dict):
        return Row(line, None, None, problem=f"expected a JSON object, got {type(value).__name__}")
    key = _email_key(value.keys())
    email = value.get(key) if key else None
    if key is not None and email is not None and not isinstance(email, str):
        return Row(line, None, None, problem="email must be a string", field=key)
    return Row(line, value, email)


def _read_json_array(stream: BinaryIO, name: str) -> Iterator[Row]:
    """Incremental parse of ``[ {...}, {...} ]``: one element decoded at a time."""
    decoder = json.JSONDecoder()
    chunks = _ChunkedText(stream, name).chunks()
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
        yield _json_row(start_line, value)
