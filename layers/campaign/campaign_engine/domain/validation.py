"""Turn pydantic errors into one line a person can act on: where, then what."""

from __future__ import annotations

import json
import re
from json.decoder import scanstring

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


_SPACE = re.compile(r"[ \t\r\n]*")


def json_positions(text: str) -> dict[tuple[int | str, ...], int]:
    """Offset of every value of a well-formed JSON text, by its path of keys and indexes, so a
    validation error on a field can name the line it is on (``json`` keeps no positions)."""
    decoder = json.JSONDecoder()
    out: dict[tuple[int | str, ...], int] = {}

    def walk(index: int, path: tuple[int | str, ...]) -> int:
        index = _SPACE.match(text, index).end()  # type: ignore[union-attr]
        out[path] = index
        opening = text[index]
        if opening not in "{[":
            return decoder.raw_decode(text, index)[1]
        closing, member = ("}", 0) if opening == "{" else ("]", 0)
        index = _SPACE.match(text, index + 1).end()  # type: ignore[union-attr]
        if text[index] == closing:
            return index + 1
        while True:
            if opening == "{":
                key, index = scanstring(text, index + 1)
                index = _SPACE.match(text, index).end() + 1  # type: ignore[union-attr]  # past ':'
                index = walk(index, (*path, key))
            else:
                index = walk(index, (*path, member))
                member += 1
            index = _SPACE.match(text, index).end()  # type: ignore[union-attr]
            if text[index] == closing:
                return index + 1
            index = _SPACE.match(text, index + 1).end()  # type: ignore[union-attr]  # past ','

    walk(0, ())
    return out


def line_of(text: str, positions: dict[tuple[int | str, ...], int], loc: tuple[int | str, ...]) -> int:
    """Line of the deepest value on ``loc`` that the text has (a missing field: its parent)."""
    path = tuple(
        part for part in loc if isinstance(part, int) or not (part in _UNION_TAGS or part.startswith("function-"))
    )
    while path and path not in positions:
        path = path[:-1]
    return text.count("\n", 0, positions.get(path, 0)) + 1
