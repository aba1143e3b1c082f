"""Address normalisation (used for sending, dedupe and the ledger) and the log pseudonym."""

from __future__ import annotations

import pytest
from campaign_engine.domain.addresses import InvalidAddress, address_hash, normalise
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ann@example.com", "ann@example.com"),
        ("  Ann@Example.COM \t", "ann@example.com"),
        ("ANN.SMITH+news@EXAMPLE.com", "ann.smith+news@example.com"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("success@simulator.amazonses.com", "success@simulator.amazonses.com"),
    ],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


def test_case_variants_normalise_to_the_same_address():
    assert normalise("Subscriber1@Example.com") == normalise("subscriber1@example.COM")


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "no-at-sign", "a@b", "two@@example.com", "a b@example.com", "@example.com", "ann@", "ann@.com"],
)
def test_invalid_addresses(raw):
    with pytest.raises(InvalidAddress) as info:
        normalise(raw)
    assert str(info.value)


def test_empty_address_message():
    with pytest.raises(InvalidAddress, match="empty"):
        normalise("  ")


def test_invalid_address_is_a_value_error():
    assert issubclass(InvalidAddress, ValueError)


def test_non_ascii_local_part_is_invalid_for_ses():
    with pytest.raises(InvalidAddress):
        normalise("zoë@example.com")


def test_international_domain_is_sent_as_punycode():
    assert normalise("user@bücher.de") == "user@xn--bcher-kva.de"


def test_address_hash_is_short_stable_and_distinct():
    first = address_hash("ann@example.com")
    assert first == address_hash("ann@example.com")
    assert len(first) == 16 and int(first, 16) >= 0
    assert first != address_hash("bob@example.com")
    assert "ann" not in first


def test_a_very_long_value_is_refused_quickly_and_says_how_long():
    # Found by tests/fuzz: 300 KB cells took 0.3 s each in the validator.
    import time

    started = time.perf_counter()
    with pytest.raises(InvalidAddress, match="is 300012 characters long; at most 254 are allowed"):
        normalise("x" * 300_000 + "@example.com")
    assert time.perf_counter() - started < 0.05


_DOMAINS = st.sampled_from(["example.com", "EXAMPLE.com", "bücher.de", "xn--bcher-kva.de", "a..b", "-x.com", "x", ""])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12), _DOMAINS | st.text(max_size=12), st.integers(1, 3))
def test_remembered_domain_checks_answer_as_the_library_does(local, domain, repeats):
    """The per-domain memo of email-validator's domain check (addresses.py) changes no answer:
    each address, checked several times, gets exactly what the uncached library says."""
    import email_validator.syntax as syntax
    from campaign_engine.domain import addresses

    def verdict(text: str) -> str:
        try:
            return "ok:" + addresses.normalise(text)
        except addresses.InvalidAddress as exc:
            return "invalid:" + str(exc)

    candidate = f"{local}@{domain}"
    remembered = [verdict(candidate) for _ in range(repeats)]
    addresses._VALIDATOR.validate_email_domain_name = syntax.validate_email_domain_name
    try:
        plain = verdict(candidate)
    finally:
        addresses._VALIDATOR.validate_email_domain_name = addresses._check_domain
    assert remembered == [plain] * repeats
