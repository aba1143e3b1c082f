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
