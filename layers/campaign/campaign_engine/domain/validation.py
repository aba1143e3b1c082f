"""Turn pydantic errors into one line a person can act on: where, then what."""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]  # public in json.decoder, absent from typeshed

from pydantic import ValidationError

_UNION_TAGS = {"FieldRule", "AllRule", "AnyRule", "NotRule", "AlwaysRule"}


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS or part.startswith("function-"):
            continue  # pydantic's internal names for union branches mean nothing to a reader
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{_location(error['loc'])}: {message}")
    return "; ".join(parts)


def problems(exc: ValidationError) -> list[tuple[tuple[int | str, ...], str, str]]:
    """Each error as (pydantic location, readable field, message)."""
    return [
        (tuple(error["loc"]), _location(error["loc"]), error["msg"].removeprefix("Value error, "))
        for error in exc.errors(include_url=False)
    ]


# How deeply JSON values (a definition, an audience row) may nest. DynamoDB's own limit on nested
# attributes, and far beyond any real campaign or subscriber; what is deeper would reach code that
# recurses per level (pydantic, boto3's serialisers, ours) and end in RecursionError, or, past about
# 10,000 levels, fail in json itself (issue 10, finding 9).
MAX_DEPTH = 32
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"

Path = tuple[int | str, ...]


def too_deep(value: object, limit: int = MAX_DEPTH) -> Path | None:
    """Path of the first object or array nested deeper than ``limit`` in a decoded value, or None.
    Iterative, so any depth json could decode is measured without recursing."""
    pending: list[tuple[object, Path, int]] = [(value, (), 0)]
    while pending:
        node, path, depth = pending.pop()
        if isinstance(node, dict):
            children: list[tuple[int | str, object]] = list(node.items())
        elif isinstance(node, list):
            children = list(enumerate(node))
        else:
            continue
        if depth >= limit:
            return path
        pending.extend((child, (*path, key), depth + 1) for key, child in reversed(children))
    return None


_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:,]')


def too_deep_in_text(text: str, limit: int = MAX_DEPTH) -> tuple[int, Path] | None:
    """(offset, path) of the first object or array nested deeper than ``limit`` in JSON text, or
    None. A linear scan that needs no decoding, for text too deep for ``json`` to decode at all."""
    stack: list[list[int | str | None]] = []  # [opening bracket, current key or index]
    last_string: str | None = None
    for match in _JSON_TOKEN.finditer(text):
        lexeme = match.group()
        if lexeme in ("[", "{"):
            if len(stack) >= limit:
                return match.start(), tuple(entry[1] for entry in stack if entry[1] is not None)
            stack.append([lexeme, 0 if lexeme == "[" else None])
        elif lexeme in ("]", "}"):
            if stack:
                stack.pop()
        elif lexeme == ",":
            if stack and stack[-1][0] == "[" and isinstance(stack[-1][1], int):
                stack[-1][1] += 1
        elif lexeme == ":":
            if stack and last_string is not None:
                stack[-1][1] = last_string
        else:
            try:
                last_string = json.loads(lexeme)
            except ValueError:
                last_string = lexeme[1:-1]
    return None


def path_text(path: Path) -> str:
    """A path of keys and indexes as the validation messages write it: ``segments[0].data.a``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


_SPACE = re.compile(r"[ \t\r\n]*")


def json_positions(text: str) -> dict[Path, int]:
    """Offset of every value of a well-formed JSON text, by its path of keys and indexes, so a
    validation error on a field can name the line it is on (``json`` keeps no positions).
    Iterative: a text nested as deeply as ``json`` accepts must not exhaust the stack here."""
    decoder = json.JSONDecoder()
    out: dict[Path, int] = {}

    def space(index: int) -> int:
        return _SPACE.match(text, index).end()  # type: ignore[union-attr]

    open_containers: list[tuple[str, Path, list[int]]] = []  # (closing bracket, path, [member index])
    path: Path = ()
    index = 0
    while True:
        index = space(index)  # at the start of the value at ``path``
        out[path] = index
        opening = text[index]
        if opening in "{[":
            closing = "}" if opening == "{" else "]"
            index = space(index + 1)
            if text[index] != closing:
                open_containers.append((closing, path, [0]))
                if opening == "{":
                    key, index = scanstring(text, index + 1)
                    index = space(index) + 1  # past ':'
                    path = (*path, key)
                else:
                    path = (*path, 0)
                continue
            index += 1
        else:
            index = decoder.raw_decode(text, index)[1]
        # The value ended: close what ends here, then go on to the next member, if any.
        while open_containers:
            closing, parent, member = open_containers[-1]
            index = space(index)
            if text[index] == closing:
                index += 1
                open_containers.pop()
                continue
            index = space(index + 1)  # past ','
            if closing == "}":
                key, index = scanstring(text, index + 1)
                index = space(index) + 1  # past ':'
                path = (*parent, key)
            else:
                member[0] += 1
                path = (*parent, member[0])
            break
        else:
            return out


def line_of(text: str, positions: dict[tuple[int | str, ...], int], loc: tuple[int | str, ...]) -> int:
    """Line of the deepest value on ``loc`` that the text has (a missing field: its parent)."""
    path = tuple(
        part for part in loc if isinstance(part, int) or not (part in _UNION_TAGS or part.startswith("function-"))
    )
    while path and path not in positions:
        path = path[:-1]
    return text.count("\n", 0, positions.get(path, 0)) + 1
