"""HMAC-signed unsubscribe tokens and the URL that carries them."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from campaign_engine.domain.tokens import ForgedToken, InvalidToken, UnsubscribeClaim, sign, unsubscribe_url, verify

SECRET = b"s3cret-key-for-tests-only-0123456789"
CLAIM = UnsubscribeClaim(address="ann@example.com", campaign_id="recipe")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_round_trip():
    assert verify(SECRET, sign(SECRET, CLAIM)) == CLAIM


def test_round_trip_with_topic_and_unicode_address():
    claim = UnsubscribeClaim(address="zoë@bücher.example", campaign_id="weekly", topic="news")
    assert verify(SECRET, sign(SECRET, claim)) == claim


def test_token_is_url_safe_and_has_two_parts():
    token = sign(SECRET, UnsubscribeClaim(address="a+b/c?d=e&f@example.com", campaign_id="c"))
    payload, signature = token.split(".")
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert set(payload) <= allowed and set(signature) <= allowed
    assert "=" not in token


def test_signing_is_deterministic_and_depends_on_every_claim_field():
    token = sign(SECRET, CLAIM)
    assert sign(SECRET, CLAIM) == token
    assert sign(SECRET, UnsubscribeClaim("bob@example.com", "recipe")) != token
    assert sign(SECRET, UnsubscribeClaim("ann@example.com", "other")) != token
    assert sign(SECRET, UnsubscribeClaim("ann@example.com", "recipe", topic="t")) != token


def test_round_trip_with_run_and_segment():
    claim = UnsubscribeClaim("ann@example.com", "recipe", run_id="recipe-u-1", segment="loyal_customers")
    assert verify(SECRET, sign(SECRET, claim)) == claim
    assert sign(SECRET, claim) != sign(SECRET, CLAIM)


def test_wrong_secret_is_a_forgery():
    with pytest.raises(ForgedToken):
        verify(b"another-secret", sign(SECRET, CLAIM))


def test_garbage_is_invalid_but_not_forged():
    with pytest.raises(InvalidToken) as caught:
        verify(SECRET, "not-a-token")
    assert not isinstance(caught.value, ForgedToken)


def test_tampered_payload_rejected():
    payload, signature = sign(SECRET, CLAIM).split(".")
    forged = b64(json.dumps({"a": "victim@example.com", "c": "recipe"}, separators=(",", ":")).encode())
    with pytest.raises(InvalidToken):
        verify(SECRET, f"{forged}.{signature}")
    flipped = ("B" if payload[3] == "A" else "A").join((payload[:3], payload[4:]))
    with pytest.raises(InvalidToken):
        verify(SECRET, f"{flipped}.{signature}")


def test_tampered_signature_rejected():
    payload, signature = sign(SECRET, CLAIM).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 1
    with pytest.raises(InvalidToken):
        verify(SECRET, f"{payload}.{b64(bytes(raw))}")


def test_signature_from_another_token_rejected():
    other = sign(SECRET, UnsubscribeClaim("bob@example.com", "recipe"))
    payload, _ = sign(SECRET, CLAIM).split(".")
    with pytest.raises(InvalidToken):
        verify(SECRET, f"{payload}.{other.split('.')[1]}")


def test_truncated_signature_rejected():
    token = sign(SECRET, CLAIM)
    with pytest.raises(InvalidToken):
        verify(SECRET, token[:-4])


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "nodot",
        "a.b.c",
        "a..b",
        "%%%.%%%",
        "päyload.sig",
        "x" * 5 + "." + "y" * 43,
    ],
)
def test_malformed_tokens_rejected_with_invalid_token(token):
    with pytest.raises(InvalidToken):
        verify(SECRET, token)


def _signed(body) -> str:
    import hashlib
    import hmac

    payload = b64(json.dumps(body).encode() if not isinstance(body, bytes) else body)
    return f"{payload}.{b64(hmac.new(SECRET, payload.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize("body", [{"c": "recipe"}, {"a": "x@example.com"}, ["a", "c"], "text", b"not json", b"\xff"])
def test_validly_signed_but_malformed_payload_is_invalid_token(body):
    with pytest.raises(InvalidToken) as info:
        verify(SECRET, _signed(body))
    assert "malformed" in str(info.value)


def test_invalid_token_is_a_value_error():
    assert issubclass(InvalidToken, ValueError)


# --- URLs ----------------------------------------------------------------------------------------


def test_url_without_query():
    token = sign(SECRET, CLAIM)
    url = unsubscribe_url("https://abc.lambda-url.eu-west-1.on.aws/", token)
    assert url.startswith("https://abc.lambda-url.eu-west-1.on.aws/?token=")
    assert parse_qs(urlsplit(url).query) == {"token": [token]}


def test_url_with_existing_query():
    token = sign(SECRET, CLAIM)
    url = unsubscribe_url("https://example.com/u?lang=de", token)
    parts = urlsplit(url)
    assert parts.path == "/u"
    assert parse_qs(parts.query) == {"lang": ["de"], "token": [token]}


def test_token_from_url_verifies():
    token = sign(SECRET, UnsubscribeClaim("a+tag@example.com", "c", "t"))
    url = unsubscribe_url("https://example.com/u", token)
    (found,) = parse_qs(urlsplit(url).query)["token"]
    assert verify(SECRET, found) == UnsubscribeClaim("a+tag@example.com", "c", "t")


@pytest.mark.parametrize("field", ["t", "r", "s"])
def test_a_signed_claim_with_a_non_text_optional_field_is_invalid(field):
    # The page escapes the topic and the store keys on run and segment: text only.
    import hashlib
    import hmac

    payload = b64(json.dumps({"a": "a@example.com", "c": "c", field: 5}).encode())
    signature = b64(hmac.new(SECRET, payload.encode(), hashlib.sha256).digest())
    with pytest.raises(InvalidToken, match="is not text"):
        verify(SECRET, f"{payload}.{signature}")
