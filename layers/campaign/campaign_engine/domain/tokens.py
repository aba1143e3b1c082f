"""Unsubscribe tokens: HMAC-SHA256 over the address and the campaign (and topic, if any).

A token is ``<payload>.<signature>``, both base64url without padding; the payload is compact
JSON ``{"a": address, "c": campaign_id, "t": topic, "r": run_id, "s": segment}`` (the run and
segment only let the endpoint count the unsubscribe in the right report). The endpoint that honours tokens
verifies them with the same secret; the secret never leaves Secrets Manager.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass(frozen=True)
class UnsubscribeClaim:
    address: str
    campaign_id: str
    topic: str | None = None
    run_id: str | None = None
    segment: str | None = None


class InvalidToken(ValueError):
    """Not a token at all (missing, truncated, not base64/JSON): a bad request."""


class ForgedToken(InvalidToken):
    """Well formed, but the signature does not match: refused."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, claim: UnsubscribeClaim) -> str:
    body = {"a": claim.address, "c": claim.campaign_id}
    for name, value in (("t", claim.topic), ("r", claim.run_id), ("s", claim.segment)):
        if value:
            body[name] = value
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    signature = _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def verify(secret: bytes, token: str) -> UnsubscribeClaim:
    try:
        payload, signature = token.split(".")
        expected = hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            raise ForgedToken("signature does not match")
        body = json.loads(_unb64(payload))
        if not isinstance(body.get("a"), str) or not isinstance(body.get("c"), str):
            raise KeyError("a/c")
        for name in ("t", "r", "s"):  # optional, but text when present: they reach pages and keys
            if body.get(name) is not None and not isinstance(body[name], str):
                raise TypeError(f"'{name}' is not text")
        return UnsubscribeClaim(
            address=body["a"],
            campaign_id=body["c"],
            topic=body.get("t"),
            run_id=body.get("r"),
            segment=body.get("s"),
        )
    except InvalidToken:
        raise
    except (ValueError, KeyError, TypeError, UnicodeError, AttributeError) as exc:
        raise InvalidToken(f"malformed token: {exc}") from None


def unsubscribe_url(base_url: str, token: str) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}{urlencode({'token': token})}"
