"""SES template content (``templates/<name>.json``) and the variables it needs."""

from __future__ import annotations

import hashlib
import json
import re
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import TemplateError
from .validation import describe

# {{name}}, {{{name}}}, {{#if name}}, {{/if}}, {{else}}, {{name.sub}}, {{! comment }}
_MUSTACHE = re.compile(r"\{\{(\{?)\s*([#/^!>&]?)\s*([^}]*?)\s*\}?\}\}")
_BLOCK_SCOPES = {"each", "with"}  # inside these, names refer to the item, not the row
_KEYWORDS = {"else", "this", "true", "false", "null", "undefined"}


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


def missing_variables(content: TemplateContent, data: dict[str, Any]) -> list[str]:
    return sorted(path for path in content.required_variables() if _lacks(data, path))


def _lacks(data: Any, path: str) -> bool:
    """True when the path ends nowhere or at an empty value. A path through something other
    than an object (a list index, say) is SES's to judge: not reported."""
    value = data
    for part in path.split("."):
        if not isinstance(value, dict):
            return False
        value = value.get(part)
    return value in (None, "")
