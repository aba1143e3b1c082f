"""Email address validation and normalisation."""

from __future__ import annotations

import hashlib
import re

from email_validator import EmailNotValidError, validate_email


class InvalidAddress(ValueError):
    pass


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
    try:
        result = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    return result.ascii_email.lower()


def address_hash(address: str) -> str:
    """A short stable pseudonym for logs and records that must not hold the address."""
    return hashlib.sha256(address.encode("utf-8")).hexdigest()[:16]


_ANY_ADDRESS = re.compile(r"[^\s@<>\"',;:()\[\]]+@[^\s@<>\"',;:()\[\]]+")


def redact(text: str) -> str:
    """Replace every address in free text (e.g. an SES error message) by its hash, for logs."""
    return _ANY_ADDRESS.sub(lambda m: f"<address:{address_hash(m.group(0).lower())}>", text)
