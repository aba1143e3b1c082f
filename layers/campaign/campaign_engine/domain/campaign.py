"""The campaign definition (``campaigns/<campaign_id>.json``)."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .addresses import InvalidAddress, normalise
from .audience import AudienceOptions
from .breaker import BreakerSettings
from .errors import DefinitionError
from .rules import Rule
from .validation import TOO_DEEP, describe, path_text, too_deep, too_deep_in_text

CAMPAIGN_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
NAME = r"^[A-Za-z0-9_-]{1,64}$"
# SES message tag names and values: ASCII letters, digits, '_' and '-', at most 256 characters.
TAG_TEXT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
RESERVED_TAGS = frozenset({"campaign", "run", "segment"})
DEFAULT_SEGMENT = "default"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sender(_Strict):
    address: str
    name: str | None = Field(default=None, max_length=256)

    @field_validator("address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        try:
            return normalise(value)
        except InvalidAddress as exc:
            raise ValueError(f"sender address is not valid: {exc}") from None


class Segment(_Strict):
    name: str = Field(pattern=NAME)
    rule: Rule
    template: str = Field(pattern=NAME)
    data: dict[str, Any] = Field(default_factory=dict)


class CampaignDefinition(_Strict):
    campaign_id: str | None = None
    description: str | None = None
    sender: Sender
    reply_to: list[str] = Field(default_factory=list, max_length=10)
    configuration_set: str | None = Field(default=None, pattern=NAME)
    default_template: str | None = Field(default=None, pattern=NAME)
    default_template_data: dict[str, Any] = Field(default_factory=dict)
    segments: list[Segment] = Field(default_factory=list, max_length=100)
    unmatched: Literal["skip", "default"] = "skip"
    audience_key: str | None = None
    recurring: bool = False
    send_rate_share: float = Field(default=0.8, gt=0, le=1)
    tags: dict[str, str] = Field(default_factory=dict, max_length=10)
    topic: str | None = Field(default=None, pattern=NAME)
    audience: AudienceOptions = Field(default_factory=AudienceOptions)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)

    @model_validator(mode="before")
    @classmethod
    def _not_too_deep(cls, document: Any) -> Any:
        # Before pydantic walks it: past a few hundred levels its validation recurses too deeply.
        path = too_deep(document)
        if path is not None:
            raise ValueError(f"{path_text(path)}: {TOO_DEEP}")
        return document

    @field_validator("reply_to")
    @classmethod
    def _valid_reply_to(cls, values: list[str]) -> list[str]:
        out = []
        for value in values:
            try:
                out.append(normalise(value))
            except InvalidAddress as exc:
                raise ValueError(f"reply_to address is not valid: {exc}") from None
        return out

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        for name, value in tags.items():
            if name in RESERVED_TAGS:
                raise ValueError(f"tag '{name}' is set by the engine; reserved: {sorted(RESERVED_TAGS)}")
            if not TAG_TEXT.match(name) or not TAG_TEXT.match(value):
                raise ValueError(f"tag '{name}': names and values may hold only A-Z a-z 0-9 _ -")
        return tags

    @model_validator(mode="after")
    def _consistent(self) -> CampaignDefinition:
        names = [segment.name for segment in self.segments]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"segment names must be unique; repeated: {', '.join(duplicates)}")
        if not self.segments and self.unmatched != "default":
            raise ValueError("no segments: set 'unmatched' to 'default' (with 'default_template') to send to every row")
        if self.unmatched == "default" and not self.default_template:
            raise ValueError("'unmatched' is 'default' but no 'default_template' is set")
        if self.unmatched == "default" and DEFAULT_SEGMENT in names:
            raise ValueError(f"segment name '{DEFAULT_SEGMENT}' is reserved for unmatched rows")
        return self

    def segment_templates(self) -> dict[str, str]:
        """Segment name -> template, in order, with the default segment when unmatched rows get it."""
        pairs = {segment.name: segment.template for segment in self.segments}
        if self.unmatched == "default" and self.default_template:
            pairs[DEFAULT_SEGMENT] = self.default_template
        return pairs

    def templates_used(self) -> list[str]:
        return sorted(set(self.segment_templates().values()))

    def segment_names(self) -> list[str]:
        return list(self.segment_templates())

    def segment_for(self, row: dict[str, Any]) -> tuple[str, str] | None:
        """(segment name, template) of the first matching segment, the default, or None (skip)."""
        for segment in self.segments:
            if segment.rule.matches(row):
                return segment.name, segment.template
        if self.unmatched == "default" and self.default_template:
            return DEFAULT_SEGMENT, self.default_template
        return None

    def segment_data(self, name: str) -> dict[str, Any]:
        """Template data shared by a segment's recipients: defaults, then the segment's own."""
        extra = next((s.data for s in self.segments if s.name == name), {})
        return {**self.default_template_data, **extra}

    def sender_header(self) -> str:
        from email.utils import formataddr

        if not self.sender.name:
            return self.sender.address
        # formataddr quotes specials ("Doe, John") and RFC 2047-encodes a non-ASCII name,
        # which SES requires in the From header; the address itself is ASCII (normalise).
        return formataddr((self.sender.name, self.sender.address))


def parse_definition(raw: bytes | str, *, source: str, campaign_id: str) -> CampaignDefinition:
    """Parse and validate a definition file; every problem names the file and the field."""
    try:
        document = json.loads(raw)
    except RecursionError:  # thousands of levels: json gives up before the depth check below
        raise _too_deep(raw, source) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"not valid JSON: {exc}", where=source) from None
    if too_deep(document) is not None:
        raise _too_deep(raw, source)
    if not isinstance(document, dict):
        raise DefinitionError("must be a JSON object", where=source)
    try:
        definition = CampaignDefinition.model_validate(document)
    except ValidationError as exc:
        raise DefinitionError(describe(exc), where=source) from None
    if definition.campaign_id is not None and definition.campaign_id != campaign_id:
        raise DefinitionError(
            f"campaign_id '{definition.campaign_id}' does not match the file name '{campaign_id}'",
            where=f"{source}: campaign_id",
        )
    return definition


def _too_deep(raw: bytes | str, source: str) -> DefinitionError:
    """The error for a definition nested too deeply, naming the line and the field where it goes too deep."""
    text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), errors="replace")
    found = too_deep_in_text(text)
    if found is None:  # cannot happen for text json decoded or gave up on for depth; say what we know
        return DefinitionError(TOO_DEEP, where=source)
    offset, path = found
    line = text.count("\n", 0, offset) + 1
    return DefinitionError(f"{path_text(path)}: {TOO_DEEP}", where=f"{source}: line {line}")


def check_campaign_id(campaign_id: object, *, where: str) -> str:
    """The campaign id, checked; anything else (also not text, from an event) is a DefinitionError."""
    if not isinstance(campaign_id, str):
        shown = repr(campaign_id)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise DefinitionError(f"campaign id must be text, got {type(campaign_id).__name__} {shown}", where=where)
    if not CAMPAIGN_ID.match(campaign_id):
        raise DefinitionError(
            f"campaign id '{campaign_id}' must be 1-48 characters of a-z, 0-9, '-' and '_', "
            "starting with a letter or digit",
            where=where,
        )
    return campaign_id
