"""Audience headers: the email column, the campaign's renames (``audience.columns``), repeats.

The email column is found by the header each tool writes in its export (or documents for its
import), compared ignoring case, spaces, underscores and hyphens:

=========================  =================  ===========================================================
Tool                       Header             Source
=========================  =================  ===========================================================
Mailchimp (audience        ``Email Address``  issue 11 (a real export); Mailchimp exports "Email Address",
export)                                       "First Name", "Last Name", ..., MEMBER_RATING, OPTIN_TIME
                                              (http://ginkgo.st/~ca/roadmap/mailchimp-and-civicrm-overview/
                                              notes-on-mailchimp-data-exports)
HubSpot (contacts export)  ``Email``          https://help.klaviyo.com/hc/en-us/articles/360039708512
                                              (migrating a HubSpot export)
Klaviyo (profiles export)  ``Email``          https://help.klaviyo.com/hc/en-us/articles/115002053752
Brevo                      ``EMAIL``          https://help.brevo.com/hc/en-us/articles/208729849
                                              ("use the EMAIL default attribute as your column header")
Kit (ConvertKit)           ``email_address``  Kit's subscriber field (API and exports); its importer also
                                              takes ``email`` (https://help.kit.com/en/articles/2502555)
listmonk                   ``email``          https://listmonk.app/docs/apis/import/ (email, name, status,
                                              attributes: a JSON object)
Substack                   ``email``          subscriber export (support.substack.com)
Sendy                      ``Email``          Sendy's "Name,Email" CSV
Amazon Pinpoint            ``Address``        segment export/import files (see ``pinpoint``)
=========================  =================  ===========================================================

``Address`` is the last resort: a postal address column must not win over an email column.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .addresses import redact
from .errors import AudienceError

_IGNORED = re.compile(r"[\s_\-]+")
# Compared forms, in priority order: a header matching an earlier one wins.
EMAIL_KEYS = ("email", "emailaddress", "address")
# What the messages show a person: the headers as the tools write them.
EMAIL_HEADERS = ("Email Address", "Email", "EMAIL", "email_address", "E-mail", "Address")
EMAIL = "email"


def header_key(header: str) -> str:
    """The form headers are compared in: "Email Address", "email_address", "E-Mail" -> "emailaddress"/"email"."""
    return _IGNORED.sub("", header).casefold()


def expected_email_headers() -> str:
    return f"expected one of {', '.join(EMAIL_HEADERS)} (case, spaces, '_' and '-' ignored)"


def email_key(keys: Iterable[str], *, cache: dict[str, int] | None = None) -> str | None:
    """The key that holds the address among ``keys`` (a JSON object's), by ``EMAIL_KEYS`` priority."""
    best: str | None = None
    best_rank = len(EMAIL_KEYS)
    for key in keys:
        rank = cache.get(key) if cache is not None else None
        if rank is None:
            compared = header_key(key)
            rank = EMAIL_KEYS.index(compared) if compared in EMAIL_KEYS else len(EMAIL_KEYS)
            if cache is not None and len(cache) < 10_000:  # keys repeat across rows; a hostile file's do not
                cache[key] = rank
        if rank < best_rank:
            best, best_rank = key, rank
    return best


@dataclass(frozen=True, slots=True)
class Header:
    """A CSV header resolved: each cell's name after renames, the names once each, the email column."""

    names: tuple[str, ...]  # per cell, in file order
    columns: tuple[str, ...]  # distinct names in first-seen order
    repeated: frozenset[str]  # names on more than one cell: their values become a list
    email_column: str | None
    email_index: int  # -1 without an email column


def _shown(cells: Iterable[str]) -> str:
    # Redacted: a file without a header row shows a subscriber here, and the error reaches the logs.
    text = redact(", ".join(cells))
    return text if len(text) <= 200 else text[:197] + "..."


def delimiter_name(delimiter: str) -> str:
    return {"\t": "tab", ",": "',' (comma)", ";": "';' (semicolon)", "|": "'|' (pipe)"}.get(delimiter, repr(delimiter))


def resolve_header(
    cells: list[str], renames: Mapping[str, str], *, where: str, delimiter: str, need_email: bool
) -> Header:
    """Apply ``audience.columns`` and find the email column; an AudienceError names what is wrong
    with the header, the header itself and the delimiter it was read with."""
    # A byte-order mark left by a forced encoding (utf-16-le, cp1252 on a UTF-8 file) is not a name.
    written = [cell.strip() for cell in cells]
    if written:
        written[0] = written[0].removeprefix("\ufeff").removeprefix("\u00ef\u00bb\u00bf").strip()
    names = list(written)
    seen_in = f"the header ({_shown(written)}) read with delimiter {delimiter_name(delimiter)}"
    renamed_to_email: list[int] = []
    for header, name in renames.items():
        wanted = header.strip()
        found = [index for index, cell in enumerate(written) if cell == wanted]
        if not found:  # "first name" for "First Name": the same comparison as the email column's
            found = [index for index, cell in enumerate(written) if header_key(cell) == header_key(wanted)]
        if not found:
            raise AudienceError(f"audience.columns renames '{header}', which is not in {seen_in}", where=where)
        clash = [cell for index, cell in enumerate(written) if cell == name.strip() and index not in found]
        if clash:
            raise AudienceError(
                f"audience.columns renames '{header}' to '{name}', which is already a column of {seen_in}: "
                "the two would become one list; rename the other column too, or choose another name",
                where=where,
            )
        for index in found:
            names[index] = name
            if header_key(name) == EMAIL:
                renamed_to_email.append(index)
    email_index = -1
    if renamed_to_email:
        email_index = renamed_to_email[0]
    elif need_email:
        ranked = [(EMAIL_KEYS.index(header_key(n)), i) for i, n in enumerate(names) if header_key(n) in EMAIL_KEYS]
        if not ranked:
            data = any("@" in cell for cell in written)
            raise AudienceError(
                f"no email column in {seen_in}; "
                + (
                    "line 1 looks like a subscriber, not a header: add a header row (such as email,name)"
                    if data
                    else f'{expected_email_headers()}, or name it in audience.columns ({{"Your Header": "email"}})'
                ),
                where=where,
            )
        best = min(rank for rank, _ in ranked)
        candidates = sorted({names[i] for rank, i in ranked if rank == best})
        if len(candidates) > 1:
            raise AudienceError(
                f"more than one email column ({', '.join(candidates)}) in {seen_in}: "
                'name the one to use in audience.columns ({"' + candidates[0] + '": "email"})',
                where=where,
            )
        email_index = min(i for rank, i in ranked if rank == best)
    counts = Counter(names)
    columns = tuple(counts)  # a Counter keeps first-seen order
    repeated = frozenset(name for name, count in counts.items() if count > 1)
    email_column = names[email_index] if email_index >= 0 else None
    if email_column is not None and email_column in repeated:
        places = ", ".join(str(i + 1) for i, n in enumerate(names) if n == email_column)
        raise AudienceError(
            f"the email column '{email_column}' appears more than once (columns {places}) in {seen_in}: keep one",
            where=where,
        )
    return Header(tuple(names), columns, repeated, email_column, email_index)
