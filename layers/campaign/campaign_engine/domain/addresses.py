"""Email address validation and normalisation."""

from __future__ import annotations

import hashlib
import re
import sys
from functools import lru_cache
from typing import Any

from email_validator import EmailNotValidError, validate_email

# RFC 5321: a forward path holds at most 256 octets including the angle brackets.
MAX_LENGTH = 254


class InvalidAddress(ValueError):
    pass


# email-validator checks the domain of every address character by character (its IDNA rules):
# two thirds of its time on a list, where a few domains repeat a million times. Its domain check
# is a pure function of the domain and two flags, so its answers are remembered per domain; the
# result is the library's own, copied (it builds the address's record from it), and a refused
# domain is never remembered: it raises afresh. tests/unit/test_domain_addresses.py checks that
# every answer equals the library's uncached one.
_VALIDATOR = sys.modules["email_validator.validate_email"]
_check_domain_uncached = _VALIDATOR.validate_email_domain_name


@lru_cache(maxsize=4096)
def _checked_domain(domain: str, test_environment: bool, globally_deliverable: bool) -> dict[str, Any]:
    return dict(
        _check_domain_uncached(domain, test_environment=test_environment, globally_deliverable=globally_deliverable)
    )


def _check_domain(domain: str, test_environment: bool = False, globally_deliverable: bool = True) -> dict[str, Any]:
    return dict(_checked_domain(domain, test_environment, globally_deliverable))


setattr(_VALIDATOR, "validate_email_domain_name", _check_domain)  # noqa: B010 (a module attribute mypy cannot see)


def normalise(raw: str) -> str:
    """Return the address used for sending, dedupe and the ledger.

    Lower-cased as a whole: mailbox providers treat the local part case-insensitively in
    practice, and two rows differing only in case are the same person. ASCII only: SES does
    not support SMTPUTF8, so a non-ASCII local part is invalid and an international domain
    is returned in Punycode.
    """
    candidate = raw.strip()
    if not candidate:
        raise InvalidAddress("email is empty")
    if len(candidate) > MAX_LENGTH:
        # Said before validating: the validator's time grows with the text (300 KB: 0.3 s a row).
        raise InvalidAddress(f"email is {len(candidate)} characters long; at most {MAX_LENGTH} are allowed")
    try:
        result = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    # ascii_email is always set when SMTPUTF8 is not allowed; normalized is the same text then.
    return (result.ascii_email or result.normalized).lower()


def address_hash(address: str) -> str:
    """A short stable pseudonym for logs and records that must not hold the address."""
    return hashlib.sha256(address.encode("utf-8")).hexdigest()[:16]


_ADDRESS_CHAR = r"[^\s@<>\"',;:()\[\]]"
# Linear on any text: the lookbehind lets a match start only where a run of address characters
# starts, and the possessive ``++`` never gives back what it took. Without them, each position
# of a long run without "@" rescanned the rest of the run: a 40 KB SES message took seconds,
# 100 KB more than the Suppression function's timeout (issue 10, finding 8).
_ANY_ADDRESS = re.compile(rf"(?<!{_ADDRESS_CHAR}){_ADDRESS_CHAR}++@{_ADDRESS_CHAR}++")


def redact(text: str) -> str:
    """Replace every address in free text (e.g. an SES error message) by its hash, for logs."""
    return _ANY_ADDRESS.sub(lambda m: f"<address:{address_hash(m.group(0).lower())}>", text)
