"""Turn pydantic errors into one line a person can act on: where, then what."""

from __future__ import annotations

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
