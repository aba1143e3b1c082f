"""SES template content (``templates/<name>.json``) and the variables it needs.

SES renders ``{{name}}`` only from a key spelled exactly ``name``; a row read from a file has
its columns as their headers spell them (``Name``, ``First Name``). ``spell_variables`` adds each
value the template names under the template's own spelling, found by ``fields``' resolution (as
written, ignoring case, by snake_case alias), so the data that goes to SES always carries it.

A variable that is missing, empty with no default, or behind a value that is not an object
(``attributes.planet`` where ``attributes`` is text) would render blank: ``missing_variables``
finds each, and such a row is not sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import fields
from .errors import TemplateError
from .validation import describe

# {{name}}, {{{name}}}, {{#if name}}, {{/if}}, {{else}}, {{name.sub}}, {{! comment }}
_MUSTACHE = re.compile(r"\{\{(\{?)~?\s*([#/^!>&]?)\s*([^}]*?)\s*~?\}?\}\}")  # ~: whitespace control
_BLOCK_SCOPES = {"each", "with"}  # inside these, names refer to the item, not the row
_KEYWORDS = {"else", "this", "true", "false", "null", "undefined"}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_PATH = re.compile(r"^[^\s()=\"'@./\[][^\s()=\"']*$")


class TemplateContent(BaseModel):
    """SES ``EmailTemplateContent``: the same keys as the AWS CLI and API use."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    Subject: str = Field(min_length=1, max_length=998)
    Html: str | None = None
    Text: str | None = None

    @model_validator(mode="after")
    def _has_body(self) -> TemplateContent:
        if not self.Html and not self.Text:
            raise ValueError("a template needs 'Html', 'Text' or both")
        return self

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()

    def required_variables(self) -> frozenset[str]:
        """Variables (dotted paths, such as ``User.UserAttributes.FirstName``) referenced outside
        ``#each``/``#with``/``#if`` blocks: a row missing any of them fails to render at SES."""
        return self._required

    @cached_property
    def _required(self) -> frozenset[str]:
        # Parsed once per template: Prepare checks every row of the audience against it.
        needed: set[str] = set()
        for part in (self.Subject, self.Html or "", self.Text or ""):
            needed |= _variable_paths(part)
        return frozenset(needed)

    def referenced_variables(self) -> frozenset[str]:
        """Every row variable the template reads, also inside ``#if``/``#unless`` blocks and as
        a block's argument (``#each items``); not names inside ``#each``/``#with``, which refer
        to the item. These must reach SES under the template's spelling."""
        return self._referenced

    @cached_property
    def _referenced(self) -> frozenset[str]:
        found: set[str] = set()
        for part in (self.Subject, self.Html or "", self.Text or ""):
            found |= _referenced_paths(part)
        return frozenset(found | self._required)


def _is_path(token: str) -> bool:
    """A row path, not a literal, a keyword, a subexpression or a hash argument."""
    if not _PATH.match(token) or _NUMBER.match(token):
        return False
    return token.split(".")[0] not in _KEYWORDS


def _referenced_paths(text: str) -> set[str]:
    names: set[str] = set()
    scopes: list[str] = []  # the open blocks' helpers, innermost last
    for match in _MUSTACHE.finditer(text):
        sigil, body = match.group(2), match.group(3)
        if sigil == "!" or not body:
            continue
        tokens = body.split()
        in_item = any(scope in _BLOCK_SCOPES for scope in scopes)
        if sigil == "#":
            helper, args = tokens[0], tokens[1:]
            if args and not in_item and _is_path(args[0]):
                names.add(args[0])
            scopes.append(helper)
        elif sigil == "^":
            # {{^name}}: an inverted section on a value of the row.
            if not in_item and _is_path(tokens[0]):
                names.add(tokens[0])
            scopes.append(tokens[0])
        elif sigil == "/":
            if scopes:
                scopes.pop()
        elif not in_item and len(tokens) == 1 and _is_path(tokens[0]):
            names.add(tokens[0])
    return names


def _variable_paths(text: str) -> set[str]:
    names: set[str] = set()
    depth = 0
    for match in _MUSTACHE.finditer(text):
        sigil, body = match.group(2), match.group(3)
        if sigil == "!":
            continue
        if sigil in ("#", "^"):
            depth += 1
            continue
        if sigil == "/":
            depth = max(0, depth - 1)
            continue
        if depth or not body:
            continue
        token = body.split()[0] if " " not in body.strip() else None
        if token is None:
            continue  # helper call such as {{lookup a b}}: not a plain variable
        root = token.split(".")[0]
        if root and root not in _KEYWORDS and not root.startswith("@") and not root.startswith(".."):
            names.add(token)
    return names


def block_helpers(text: str) -> set[str]:
    return {m.group(3).split()[0] for m in _MUSTACHE.finditer(text) if m.group(2) == "#" and m.group(3)}


def parse_template(raw: bytes | str, *, source: str) -> TemplateContent:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TemplateError(f"not valid JSON: {exc}", where=source) from None
    if isinstance(document, dict) and "TemplateContent" in document:
        document = document["TemplateContent"]  # accept the shape `aws sesv2 get-email-template` prints
    try:
        return TemplateContent.model_validate(document)
    except ValidationError as exc:
        raise TemplateError(describe(exc), where=source) from None


def merge_data(shared: dict[str, Any], row: dict[str, Any], **fixed: Any) -> dict[str, Any]:
    """A recipient's template data: the shared (default and segment) values, then the row's
    own, where an empty cell keeps the shared value instead of blanking it, then ``fixed``.
    Objects merge key by key, so a default for ``User.UserAttributes.FirstName`` fills a row
    whose ``User`` lacks just that attribute."""
    return {**_overlay(shared, row), **fixed}


def _overlay(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


def spell_variables(variables: frozenset[str] | set[str], row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with the value of every variable it provides under another spelling (``Name`` for
    ``{{name}}``, ``Attributes.Planet`` for ``{{attributes.planet}}``) also under the template's
    spelling, nested as the variable's dots say. The row's own keys all stay. A variable already
    spelled as the template spells it is left as it is (an exact key wins), as is one whose
    place is taken by a value that is not an object."""
    wanted = variables if isinstance(variables, frozenset) else frozenset(variables)
    keys = tuple(row)
    plan = _plans.get((keys, wanted))
    if plan is None:
        plan = _plan(row, wanted)
        if len(_plans) >= _PLAN_LIMIT:
            _plans.clear()
        _plans[(keys, wanted)] = plan
    flat, dotted = plan
    if not flat and not dotted:
        return row
    spelled = dict(row)  # the reader's dict stays as read
    for name, key in flat:
        spelled[name] = row[key]
    for path in dotted:
        if _exact(row, path) is not fields.MISSING:
            continue
        value = fields.lookup(row, path)
        if value is not fields.MISSING:
            _place(spelled, fields.steps(path), value)
    return spelled


# A CSV file's rows all have the same keys, so which plain name comes from which column is
# worked out once per key set; dotted paths walk values that differ row by row.
_Plan = tuple[tuple[tuple[str, str], ...], tuple[str, ...]]
_plans: dict[tuple[tuple[str, ...], frozenset[str]], _Plan] = {}
_PLAN_LIMIT = 1024


def _plan(row: dict[str, Any], variables: frozenset[str]) -> _Plan:
    flat = []
    for name in sorted(variables):
        if "." in name or name in row:
            continue
        key = fields.resolve_key(row, name)
        if key is not None:
            flat.append((name, key))
    return tuple(flat), tuple(sorted(name for name in variables if "." in name))


def _exact(data: Any, path: str) -> Any:
    """The value at ``path`` by exact keys only, as SES finds it; MISSING when it cannot."""
    value = data
    for part in fields.steps(path):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return fields.MISSING
    return value


def _place(data: dict[str, Any], steps: tuple[str, ...], value: Any) -> None:
    node = data
    for step in steps[:-1]:
        child = node.get(step)
        if child is None:
            child = {}
        elif isinstance(child, dict):
            child = dict(child)  # copied: the same object may be the row's own, under its own name
        else:
            return  # text where the template expects an object: missing_variables says so
        node[step] = child
        node = child
    node.setdefault(steps[-1], value)


def missing_variables(content: TemplateContent, data: dict[str, Any]) -> list[str]:
    """The variables ``content`` requires that ``data`` (the merged template data, under the
    template's spellings) lacks, is empty in, or cannot reach because a value on the way is
    not an object: each would render blank."""
    return sorted(path for path in content.required_variables() if _lacks(data, path))


def _lacks(data: Any, path: str) -> bool:
    value = data[path] if path in data else _exact(data, path)
    return _blank(value)


def _blank(value: Any) -> bool:
    """Renders as nothing: also text of only white space (JSON cells are not stripped, CSV
    cells are) and a list with no item that is not blank."""
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list):
        return all(_blank(item) for item in value)
    return value in _EMPTY


_EMPTY: tuple[Any, ...] = (fields.MISSING, None, "", [])


def why_missing(data: dict[str, Any], path: str, row: dict[str, Any] | None = None) -> str:
    """Why ``path`` has no value in ``data`` (the merged template data), for a reject naming
    the variable; ``row``, the row's own fields, tells an empty cell from an absent one."""
    for source in (data, row or {}):
        blocked = fields.blocked_at(source, path)
        if blocked is None:
            continue
        value = fields.lookup(source, blocked)
        if value in (None, ""):
            return f"'{path}' has no value: '{blocked}' is empty in this row and no default is set"
        kind = type(value).__name__
        shown = {"str": "text", "int": "a number", "float": "a number", "bool": "true or false"}.get(kind, kind)
        return f"'{path}' cannot be reached: '{blocked}' is {shown}, not an object"
    if row is not None and fields.lookup(row, path) is not fields.MISSING:
        return f"'{path}' is empty in this row and no default is set"
    return f"'{path}' is not in this row and no default is set"
