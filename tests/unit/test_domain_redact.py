from campaign_engine.domain.addresses import address_hash, redact


def test_redact_hashes_every_address_and_keeps_the_rest():
    message = "failed the check in region US-EAST-1: News@Unverified.example, <a@b.com>"
    out = redact(message)
    assert "@" not in out
    assert out.startswith("failed the check in region US-EAST-1: ")
    assert f"<address:{address_hash('news@unverified.example')}>" in out
    assert f"<<address:{address_hash('a@b.com')}>>" in out


def test_redact_leaves_text_without_addresses_alone():
    assert redact("Sending paused for this account") == "Sending paused for this account"


def test_redact_is_linear_on_long_text_without_an_address():
    """Issue 10, finding 8: a 100 KB SES error message without "@" took over 10 s (quadratic
    backtracking), longer than the Suppression function's timeout for one record."""
    import time

    cases = {
        "x" * 100_000: 0,  # no "@" at all
        "x" * 100_000 + "@": 0,  # an "@" with nothing after it
        "a@b " * 25_000: 25_000,
        ("y" * 999 + " @") * 100: 0,
    }
    for text, addresses in cases.items():
        started = time.perf_counter()
        out = redact(text)
        assert time.perf_counter() - started < 0.5, f"redact took too long on {text[:12]!r}..."
        assert out.count("<address:") == addresses
        if not addresses:
            assert out == text
