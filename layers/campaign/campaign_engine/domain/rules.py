"""Segment rules: a small declarative language evaluated against one audience row.

    {"field": "segment", "eq": "new_customers"}
    {"field": "country", "in": ["DE", "AT"]}
    {"field": "preferences", "contains": "books"}     # list membership, or substring of a string
    {"field": "phone", "exists": true}
    {"field": "orders", "gte": 3}                     # gt, gte, lt, lte: numbers (CSV text is parsed)
    {"all": [rule, ...]}, {"any": [rule, ...]}, {"not": rule}
    {"always": true}                                  # matches every row

Fields may name nested JSON values with dots (``address.country``), and are found as
``fields`` resolves names: as written, else ignoring case, else by snake_case alias, so a rule on
``name`` matches Sendy's ``Name`` column. Never ``eval``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator

from .fields import MISSING, lookup

_FIELD_OPERATORS = ("eq", "ne", "in", "contains", "exists", "gt", "gte", "lt", "lte")
_MISSING = MISSING


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # an integer beyond float range (JSON allows 4,300 digits) is still ordered
            return math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _same(actual: Any, expected: Any) -> bool:
    """Equality that lets CSV text match a number or a boolean written in the rule."""
    if actual == expected:
        return True
    if isinstance(actual, str) and isinstance(expected, bool):
        return actual.strip().lower() == str(expected).lower()
    if isinstance(actual, str) and isinstance(expected, (int, float)):
        return _as_number(actual) == float(expected)
    return False


class FieldRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: str = Field(min_length=1)
    eq: Any = None
    ne: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    contains: Any = None
    exists: bool | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None

    @field_validator("in_", "contains", "exists", "gt", "gte", "lt", "lte", mode="before")
    @classmethod
    def _operand_given(cls, value: Any, info: ValidationInfo) -> Any:
        # Only eq and ne can mean something with null (the value is null); a null bound passed
        # validation and then raised TypeError in Prepare on the first numeric row (issue 10, finding 10).
        op = "in" if info.field_name == "in_" else info.field_name
        field = info.data.get("field", "?")
        if value is None:
            raise ValueError(f"rule on field '{field}': '{op}' needs a value, got null")
        if op in ("gt", "gte", "lt", "lte"):
            if isinstance(value, bool):
                raise ValueError(f"rule on field '{field}': '{op}' needs a number, got {str(value).lower()}")
            number = _as_number(value)
            if isinstance(value, (int, float, str)) and (number is None or not math.isfinite(number)):
                raise ValueError(f"rule on field '{field}': '{op}' needs a finite number, got {_shown(value)}")
        return value

    @model_validator(mode="after")
    def _exactly_one_operator(self) -> FieldRule:
        given = [op for op in _FIELD_OPERATORS if op in self._set_operators()]
        if len(given) != 1:
            raise ValueError(
                f"rule on field '{self.field}' needs exactly one operator of "
                f"{', '.join(_FIELD_OPERATORS)}; got {', '.join(given) or 'none'}"
            )
        return self

    def _set_operators(self) -> set[str]:
        return {"in" if name == "in_" else name for name in self.model_fields_set if name != "field"}

    def fields(self) -> set[str]:
        return {self.field}

    def matches(self, row: dict[str, Any]) -> bool:
        (op,) = self._set_operators()
        value = lookup(row, self.field)
        if op == "exists":
            present = value is not _MISSING and value is not None and value != ""
            return present is self.exists
        if value is _MISSING:
            return False
        if op == "eq":
            return _same(value, self.eq)
        if op == "ne":
            return not _same(value, self.ne)
        if op == "in":
            return any(_same(value, candidate) for candidate in self.in_ or ())
        if op == "contains":
            if isinstance(value, list):
                return any(_same(item, self.contains) for item in value)
            return isinstance(value, str) and str(self.contains) in value
        number = _as_number(value)
        if number is None:
            return False
        bound = getattr(self, op)
        return {
            "gt": number > bound,
            "gte": number >= bound,
            "lt": number < bound,
            "lte": number <= bound,
        }[op]


class AllRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    all_: list[Rule] = Field(alias="all", min_length=1)

    def fields(self) -> set[str]:
        return set().union(*(rule.fields() for rule in self.all_))

    def matches(self, row: dict[str, Any]) -> bool:
        return all(rule.matches(row) for rule in self.all_)


class AnyRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    any_: list[Rule] = Field(alias="any", min_length=1)

    def fields(self) -> set[str]:
        return set().union(*(rule.fields() for rule in self.any_))

    def matches(self, row: dict[str, Any]) -> bool:
        return any(rule.matches(row) for rule in self.any_)


class NotRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    not_: Rule = Field(alias="not")

    def fields(self) -> set[str]:
        return self.not_.fields()

    def matches(self, row: dict[str, Any]) -> bool:
        return not self.not_.matches(row)


class AlwaysRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    always: bool

    def fields(self) -> set[str]:
        return set()

    def matches(self, row: dict[str, Any]) -> bool:
        return self.always


def _rule_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return type(value).__name__
    if not isinstance(value, dict):
        return None
    for key, kind in (("all", "AllRule"), ("any", "AnyRule"), ("not", "NotRule"), ("always", "AlwaysRule")):
        if key in value:
            return kind
    return "FieldRule"


Rule = Annotated[
    Union[
        Annotated[FieldRule, Tag("FieldRule")],
        Annotated[AllRule, Tag("AllRule")],
        Annotated[AnyRule, Tag("AnyRule")],
        Annotated[NotRule, Tag("NotRule")],
        Annotated[AlwaysRule, Tag("AlwaysRule")],
    ],
    Discriminator(
        _rule_kind,
        custom_error_type="invalid_rule",
        custom_error_message="a rule is an object: {field, <operator>}, {all}, {any}, {not} or {always}",
    ),
]

AllRule.model_rebuild()
AnyRule.model_rebuild()
NotRule.model_rebuild()
