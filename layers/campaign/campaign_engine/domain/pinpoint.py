"""Amazon Pinpoint segment files as audiences: one endpoint a row, in CSV or JSON.

Pinpoint's segment files (what ``CreateExportJob`` writes and ``CreateImportJob`` reads) hold
endpoints: ``ChannelType``, ``Address``, ``OptOut``, ``EndpointStatus``, ``Id``, and nested
objects ``User`` (``UserId``, ``UserAttributes``), ``Attributes``, ``Location``, ``Demographic``
and ``Metrics``. CSV files name nested values with dotted headers
(``User.UserAttributes.FirstName``); JSON files nest them, or may use the same dotted keys.

Whatever the shape, a row becomes the nested Pinpoint structure, so segment rules and templates
name a value exactly as Pinpoint did: ``User.UserAttributes.FirstName`` in a rule's ``field``
and ``{{User.UserAttributes.FirstName}}`` in a template. Pinpoint keeps custom attributes as
arrays of strings; a one-element array becomes its single value (so ``eq`` and ``in`` work),
longer arrays stay lists (``contains`` matches either). A CSV file gives an attribute several
values by repeating its column (``Attributes.Interests,Attributes.Interests``): the reader makes
the repeated column a list of its non-empty values, so it reaches here as the same array.

Only EMAIL endpoints are recipients. The others are not errors, so they get an outcome of their
own here: another channel or an INACTIVE endpoint is ``skipped``; an endpoint opted out of
everything (``OptOut: ALL``) is ``suppressed``, never sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .outcomes import Outcome

CHANNEL = "ChannelType"
ADDRESS = "Address"
OPT_OUT = "OptOut"
STATUS = "EndpointStatus"
EMAIL_CHANNEL = "EMAIL"
REQUIRED = (CHANNEL, ADDRESS)
# Pinpoint's map-of-list values: each attribute is an array of strings.
_ATTRIBUTE_MAPS = (("Attributes",), ("User", "UserAttributes"))


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One row read as a Pinpoint endpoint.

    ``fields`` and ``email`` are set for an EMAIL endpoint to send to. Otherwise ``reason``
    says why not, in ``field``; ``outcome`` is the outcome already decided (``None``: the row
    is malformed, which the caller counts as invalid).
    """

    fields: dict[str, Any] | None
    email: str | None
    reason: str | None = None
    field: str | None = None
    outcome: Outcome | None = None


def is_segment(keys: Iterable[str]) -> bool:
    """Whether a CSV header or a first JSON object is a Pinpoint endpoint: ChannelType and Address."""
    present = {key.strip() for key in keys if isinstance(key, str)}
    return all(name in present for name in REQUIRED)


class _Conflict(ValueError):
    def __init__(self, field: str, reason: str = "is given twice (as a value and inside an object)") -> None:
        super().__init__(f"'{field}' {reason}")
        self.field = field


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys (``Location.Country``) and nested objects into one nested structure."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.strip().split(".")
        if not all(parts):
            raise _Conflict(key, "is not a dotted name: a part of it is empty")
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise _Conflict(".".join(parts[: depth + 1]))
            node = child
        last = parts[-1]
        if isinstance(value, dict):
            # Keys inside an object are names, not paths: only the top level is split on dots.
            if last in node:
                if not isinstance(node[last], dict):
                    raise _Conflict(key)
                value = _merge(node[last], value, key)
        elif last in node:
            raise _Conflict(key)  # the same value twice: "User.UserId" and {"User": {"UserId"}}
        node[last] = value
    return out


def _merge(left: dict[str, Any], right: dict[str, Any], where: str) -> dict[str, Any]:
    merged = dict(left)
    for key, value in right.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = _merge(merged[key], value, f"{where}.{key}")
        else:
            raise _Conflict(f"{where}.{key}")
    return merged


def _unwrap_attributes(fields: dict[str, Any]) -> None:
    for path in _ATTRIBUTE_MAPS:
        node: Any = fields
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        for name, value in node.items():
            if isinstance(value, list) and len(value) == 1:
                node[name] = value[0]


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    return value.strip() if isinstance(value, str) else None


def read_endpoint(row: dict[str, Any]) -> Endpoint:
    """Map one CSV row or JSON object (nested, dotted or both) to an endpoint and its fate."""
    try:
        fields = _nest(row)
    except _Conflict as exc:
        return Endpoint(None, None, str(exc), exc.field)
    _unwrap_attributes(fields)

    channel = fields.get(CHANNEL)
    if channel is None or channel == "":
        return Endpoint(None, None, "no ChannelType: every Pinpoint endpoint names its channel", CHANNEL)
    if not isinstance(channel, str):
        return Endpoint(None, None, "ChannelType must be a string", CHANNEL)
    if channel.strip().upper() != EMAIL_CHANNEL:
        # Not an error: a segment export holds every channel's endpoints. The address is a phone
        # number or a device token, so it is not passed on (rejects carry email addresses only).
        reason = f"{channel.strip()} endpoint: only EMAIL endpoints are sent"
        return Endpoint(None, None, reason, CHANNEL, Outcome.SKIPPED)

    address = fields.get(ADDRESS)
    email = address if isinstance(address, str) else None
    opt_out = fields.get(OPT_OUT)
    if opt_out not in (None, "") and not isinstance(opt_out, str):
        return Endpoint(None, None, "OptOut must be ALL or NONE", OPT_OUT)
    opt_out = (opt_out or "").strip().upper()
    if opt_out == "ALL":
        return Endpoint(None, email, "opted out in Pinpoint (OptOut ALL)", OPT_OUT, Outcome.SUPPRESSED)
    if opt_out not in ("", "NONE"):
        # Never guess about consent: a value Pinpoint does not write is not read as "send".
        return Endpoint(None, None, f"OptOut must be ALL or NONE, not {opt_out!r}", OPT_OUT)
    if (_text(fields, STATUS) or "").upper() == "INACTIVE":
        # Pinpoint sends nothing to an INACTIVE endpoint (another endpoint took its address).
        return Endpoint(None, email, "endpoint is INACTIVE in Pinpoint", STATUS, Outcome.SKIPPED)

    if address is None or address == "":
        return Endpoint(None, None, "no Address: an EMAIL endpoint's Address is its email address", ADDRESS)
    if not isinstance(address, str):
        return Endpoint(None, None, "Address must be a string", ADDRESS)
    return Endpoint(fields, address)
