"""Address normalisation (used for sending, dedupe and the ledger) and the log pseudonym."""

from __future__ import annotations

import pytest
from campaign_engine.domain.addresses import InvalidAddress, address_hash, normalise


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
