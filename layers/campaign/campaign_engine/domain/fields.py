"""Field names as people write them: how segment rules and templates find a row's values.

Every column is available under its header as written and under a snake_case alias
(``First Name`` is also ``first_name``, ``FNAME`` is ``fname``, ``FirstName`` is ``first_name``),
matched without regard to case, so a template written for ``{{name}}`` works with Sendy's
``Name`` column and a rule on ``first_name`` works with Mailchimp's ``First Name``.

A path ``a.b.c`` is resolved one step at a time. In the object at hand a step finds, in order:

1. the key spelled exactly as the step;
2. else a key equal to it ignoring case (``Name`` for ``name``);
3. else a key equal to it ignoring case, spaces, underscores, hyphens and other punctuation
   (``First Name``, ``first-name``, ``FirstName`` and ``FIRST_NAME`` for ``first_name``): the
   snake_case alias, compared in a form that every spelling of it shares.

When two keys of one object answer a step at the same level (``Name`` and ``NAME`` both, for
``name``), the one that comes first in the object wins: for a CSV file, the leftmost column. An
exact key always wins over a case-insensitive one, and that over an alias.

A key that itself holds dots (a flat ``User.UserAttributes.FirstName`` column, which is not an
alias of anything) is found as a whole: when a step finds nothing, the step joined with the steps
after it is tried as one key, longest first; a key spelled exactly as the whole path is taken
before any walk. Lists are walked with a numeric step (``tags.0``).

Prepare resolves every rule field and template variable of every row, so the work a miss costs
(building the index of a key set) is done once per distinct key set and step, and cached.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final

__all__ = ["MISSING", "alias", "blocked_at", "lookup", "matches_column", "resolve_key", "snake_alias", "steps"]


class _Missing:
    """The value of a path that leads nowhere (distinct from a null value)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[\W_]+")
# Bounded: a JSON Lines file whose objects all differ in their keys must not grow it without end.
_CACHE_LIMIT = 4096
_resolved: dict[tuple[tuple[str, ...], str], str | None] = {}


@lru_cache(maxsize=_CACHE_LIMIT)
def snake_alias(key: str) -> str:
    """The snake_case alias of a header: ``First Name`` -> ``first_name``, ``FNAME`` -> ``fname``,
    ``FirstName`` -> ``first_name``. A dotted key (``User.UserAttributes.FirstName``) names a
    nested value and stays as it is."""
    if "." in key:
        return key
    words = _NOT_WORD.split(_CAMEL.sub("_", key.strip()))
    return "_".join(word for word in words if word).casefold()


@lru_cache(maxsize=_CACHE_LIMIT)
def alias(key: str) -> str:
    """The form in which every spelling of one alias agrees: case folded, separators and
    punctuation dropped (``first_name``, ``First Name``, ``FirstName`` -> ``firstname``).
    A dotted key is only case folded: its dots are structure, not separators."""
    if "." in key:
        return key.casefold()
    return _NOT_WORD.sub("", key.casefold())


@lru_cache(maxsize=_CACHE_LIMIT)
def steps(path: str) -> tuple[str, ...]:
    """``a.b.c`` -> ``("a", "b", "c")``, cached: the same few paths are split for every row."""
    return tuple(path.split("."))


def resolve_key(mapping: dict[str, Any], step: str) -> str | None:
    """The key of ``mapping`` that ``step`` names (see the module docstring), or None."""
    if step in mapping:
        return step
    keys = tuple(mapping)
    cache_key = (keys, step)
    try:
        return _resolved[cache_key]
    except KeyError:
        pass
    found = _search(keys, step)
    if len(_resolved) >= _CACHE_LIMIT:
        _resolved.clear()
    _resolved[cache_key] = found
    return found


def _search(keys: tuple[str, ...], step: str) -> str | None:
    folded = step.casefold()
    for key in keys:
        if isinstance(key, str) and key.casefold() == folded:
            return key
    wanted = alias(step)
    if not wanted:
        return None
    for key in keys:
        if isinstance(key, str) and alias(key) == wanted:
            return key
    return None


def lookup(data: Any, path: str) -> Any:
    """The value at ``path`` in ``data`` (objects and lists), or MISSING."""
    if type(data) is dict and path in data:  # a plain name spelled as the file spells it: most rules, most rows
        return data[path]
    parts = steps(path)
    value = data
    index = 0
    count = len(parts)
    while index < count:
        step = parts[index]
        if isinstance(value, dict):
            if step in value:  # the common case, without building anything
                value = value[step]
                index += 1
                continue
            key = resolve_key(value, step)
            if key is not None:
                value = value[key]
                index += 1
                continue
            joined = _joined(value, parts, index)
            if joined is None:
                return MISSING
            key, index = joined
            value = value[key]
            continue
        if isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
            index += 1
            continue
        return MISSING
    return value


def _joined(mapping: dict[str, Any], parts: tuple[str, ...], start: int) -> tuple[str, int] | None:
    """A key holding dots that names ``parts[start:end]`` whole, longest first, with the index after it."""
    for end in range(len(parts), start + 1, -1):
        key = resolve_key(mapping, ".".join(parts[start:end]))
        if key is not None:
            return key, end
    return None


def blocked_at(data: Any, path: str) -> str | None:
    """The leading part of ``path`` whose value is neither an object nor missing (text, a number)
    when ``path`` cannot be reached because of it; None otherwise. For messages only."""
    parts = steps(path)
    for end in range(1, len(parts)):
        prefix = ".".join(parts[:end])
        value = lookup(data, prefix)
        if value is MISSING:
            return None
        if not isinstance(value, (dict, list)):
            return prefix
    return None


def matches_column(path: str, columns: list[str]) -> bool:
    """Whether some column of a file can provide ``path``, by the resolution rules above: a column
    answering the path's first step (a JSON object cell, whose keys are known only row by row),
    or a dotted column that names the path or a part of it (Pinpoint's ``User.UserAttributes.X``)."""
    wanted = steps(path)
    for column in columns:
        parts = steps(column)
        common = min(len(parts), len(wanted))
        if all(_same_step(parts[i], wanted[i]) for i in range(common)):
            return True
    return False


def _same_step(key: str, step: str) -> bool:
    return key == step or key.casefold() == step.casefold() or (bool(alias(step)) and alias(key) == alias(step))
