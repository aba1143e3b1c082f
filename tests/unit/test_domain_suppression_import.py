"""Bulk suppression import, the pure part: which export a file is, what each line becomes, and
how the import counts every line. The files are written after each tool's documented export:

- Mailchimp's audience export (a ZIP of ``subscribed``, ``unsubscribed`` and ``cleaned`` member
  CSVs): ``"Email Address"``, merge fields, then MEMBER_RATING, OPTIN_TIME ... and, for the
  unsubscribed file, UNSUB_TIME, UNSUB_CAMPAIGN_TITLE, UNSUB_CAMPAIGN_ID, UNSUB_REASON,
  UNSUB_REASON_OTHER; for the cleaned file CLEAN_TIME, CLEAN_CAMPAIGN_TITLE, CLEAN_CAMPAIGN_ID;
  times as "YYYY-MM-DD HH:MM:SS" (UTC).
- listmonk's subscriber export (cmd/subscribers.go): uuid, email, name, attributes, status,
  created_at, updated_at; times in Go's ``time.Time.String()`` form.
- Amazon Pinpoint's segment export (JSON Lines of endpoints; ``OptOut: ALL`` is opted out).
"""

from __future__ import annotations

import gzip
import io
import json

import pytest
from campaign_engine.domain.errors import AudienceError
from campaign_engine.domain.suppression import Change, SoftBouncePolicy
from campaign_engine.domain.suppression_import import (
    Candidate,
    Importer,
    ImportFile,
    ImportKind,
    ImportReason,
    ImportSummary,
    LineOutcome,
    Rejected,
    default_source,
    detect_kind,
    fact_key,
    is_address_line,
    lines_of_list,
    list_address,
    parse_time,
)
from hypothesis import given, settings
from hypothesis import strategies as st

MAILCHIMP_COMMON = (
    '"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,'
    "LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION"
)
MAILCHIMP_UNSUBSCRIBED = (
    MAILCHIMP_COMMON
    + ",UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER"
    + ",LAST_CHANGED,LEID,EUID,NOTES,TAGS"
)
MAILCHIMP_CLEANED = (
    MAILCHIMP_COMMON + ",CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID,LAST_CHANGED,LEID,EUID,NOTES,TAGS"
)
LISTMONK = "uuid,email,name,attributes,status,created_at,updated_at"


def mailchimp_unsubscribed(*rows: tuple[str, str, str]) -> bytes:
    lines = [MAILCHIMP_UNSUBSCRIBED]
    for email, unsub_time, reason in rows:
        lines.append(
            f'{email},Ann,Lee,2,"2021-02-03 10:00:00",,"2021-02-03 10:01:00",,,,,,,,,'
            f'"{unsub_time}","Spring sale",a1b2c3,"{reason}",,"{unsub_time}",111,eu1,,'
        )
    return ("\n".join(lines) + "\n").encode()


def mailchimp_cleaned(*rows: tuple[str, str]) -> bytes:
    lines = [MAILCHIMP_CLEANED]
    for email, clean_time in rows:
        lines.append(
            f'{email},Bo,,1,"2020-01-01 00:00:00",,,,,,,,,,,"{clean_time}","Newsletter",d4e5f6,"{clean_time}",2,eu2,,'
        )
    return ("\n".join(lines) + "\n").encode()


def listmonk_export(*rows: tuple[str, str, str]) -> bytes:
    lines = [LISTMONK]
    for number, (email, status, updated) in enumerate(rows):
        attributes = json.dumps({"city": "Bengaluru"}).replace('"', '""')
        lines.append(
            f'5e2b{number:04d}-0000-4000-8000-000000000000,{email},User {number},"{attributes}",{status},'
            f"2023-01-01 10:00:00.000000 +0000 UTC,{updated}"
        )
    return ("\n".join(lines) + "\n").encode()


def pinpoint_jsonl(*endpoints: tuple[str, str, str]) -> bytes:
    lines = [
        json.dumps(
            {
                "ChannelType": channel,
                "Address": address,
                "OptOut": opt_out,
                "EndpointStatus": "ACTIVE",
                "Id": f"ep-{number}",
                "User": {"UserId": f"u{number}"},
                "EffectiveDate": "2024-06-01T12:00:00.000Z",
            }
        )
        for number, (channel, address, opt_out) in enumerate(endpoints)
    ]
    return ("\n".join(lines) + "\n").encode()


def read(data: bytes, name: str) -> tuple[ImportFile, list]:
    file = ImportFile(io.BytesIO(data), name=name)
    lines = list(file.lines())
    return file, lines


# --------------------------------------------------------------------------- kinds


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (MAILCHIMP_UNSUBSCRIBED, ImportKind.MAILCHIMP_UNSUBSCRIBED),
        (MAILCHIMP_CLEANED, ImportKind.MAILCHIMP_CLEANED),
        (LISTMONK, ImportKind.LISTMONK_BLOCKLIST),
        ("ChannelType,Address,OptOut,User.UserId", ImportKind.PINPOINT_OPT_OUT),
        ("email,name", ImportKind.ADDRESSES),
        ("Email,unsub_time_local", ImportKind.ADDRESSES),  # a look-alike is not Mailchimp
    ],
)
def test_the_kind_comes_from_the_header(header, kind):
    columns = [cell.strip('"') for cell in header.split(",")]
    assert detect_kind(columns) is kind


def test_each_export_maps_to_its_reason_and_its_own_time():
    file, lines = read(
        mailchimp_unsubscribed(("ann@example.com", "2023-05-06 07:08:09", "I no longer want to receive these emails")),
        "unsubscribed_members_export_1a2b.csv",
    )
    assert file.kind is ImportKind.MAILCHIMP_UNSUBSCRIBED
    assert lines == [
        Candidate(
            2, "ann@example.com", at="2023-05-06T07:08:09.000Z", detail="I no longer want to receive these emails"
        )
    ]

    file, lines = read(mailchimp_cleaned(("bo@example.com", "2022-11-12 13:14:15")), "cleaned_members_export_1a2b.csv")
    assert file.kind is ImportKind.MAILCHIMP_CLEANED
    assert [(line.raw, line.at) for line in lines] == [("bo@example.com", "2022-11-12T13:14:15.000Z")]


def test_listmonk_imports_only_blocklisted_rows_and_skips_the_others():
    file, lines = read(
        listmonk_export(
            ("block@example.com", "blocklisted", "2024-02-03 04:05:06.789123 +0530 IST"),
            ("keep@example.com", "enabled", "2024-02-03 04:05:06.789123 +0000 UTC"),
        ),
        "subscribers.csv",
    )
    assert file.kind is ImportKind.LISTMONK_BLOCKLIST
    blocked, kept = lines
    assert blocked == Candidate(2, "block@example.com", at="2024-02-02T22:35:06.789Z", detail="listmonk blocklisted")
    assert kept == Rejected(3, LineOutcome.SKIPPED, "status enabled: not blocklisted", "status")


def test_pinpoint_imports_email_endpoints_opted_out_of_everything():
    file, lines = read(
        pinpoint_jsonl(
            ("EMAIL", "out@example.com", "ALL"),
            ("EMAIL", "in@example.com", "NONE"),
            ("SMS", "+15555550100", "ALL"),
        ),
        "segment-export.json",
    )
    assert file.kind is ImportKind.PINPOINT_OPT_OUT
    assert lines[0] == Candidate(1, "out@example.com", detail="pinpoint OptOut ALL")
    assert [(line.outcome, line.line) for line in lines[1:]] == [(LineOutcome.SKIPPED, 2), (LineOutcome.SKIPPED, 3)]


def test_a_plain_list_has_no_header_and_may_be_gzipped_or_utf16():
    text = "ann@example.com\n\n'bo@example.com'\nann@example.com,extra\n  cy@example.com  \n"
    for data, name in (
        (text.encode(), "list.txt"),
        (gzip.compress(text.encode()), "list.txt.gz"),
        (text.encode("utf-16"), "list.txt"),
        (text.encode(), "no-extension"),
    ):
        file, lines = read(data, name)
        assert file.kind is ImportKind.PLAIN_LIST, name
        assert [(line.line, getattr(line, "raw", None)) for line in lines] == [
            (1, "ann@example.com"),
            (3, "bo@example.com"),
            (4, None),
            (5, "cy@example.com"),
        ], name


def test_a_gzipped_mailchimp_export_is_read_as_one():
    file, lines = read(gzip.compress(mailchimp_cleaned(("bo@example.com", "2022-11-12 13:14:15"))), "cleaned.csv.gz")
    assert file.kind is ImportKind.MAILCHIMP_CLEANED and len(lines) == 1


def test_a_file_that_cannot_be_read_names_the_file_and_the_line():
    with pytest.raises(AudienceError) as caught:
        read(b"Name,Phone\nAnn,123\n", "people.csv")
    assert "people.csv: line 1" in str(caught.value) and "email" in str(caught.value).lower()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-05-06 07:08:09", "2023-05-06T07:08:09.000Z"),
        ("2023-05-06T07:08:09Z", "2023-05-06T07:08:09.000Z"),
        ("2023-05-06T09:08:09+02:00", "2023-05-06T07:08:09.000Z"),
        ("2024-02-03 04:05:06.789123456 +0000 UTC", "2024-02-03T04:05:06.789Z"),
        ("2024-02-03 04:05:06 -0100 -01", "2024-02-03T05:05:06.000Z"),
        ("2023-05-06", "2023-05-06T00:00:00.000Z"),
        ("", None),
        ("yesterday", None),
        (None, None),
    ],
)
def test_export_times_become_utc_millis(raw, expected):
    assert parse_time(raw) == expected


# --------------------------------------------------------------------------- properties

_LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=20).filter(
    lambda s: s[0] not in ".-" and s[-1] != "." and ".." not in s
)
_DOMAIN = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10), min_size=1, max_size=3
)
ADDRESSES = st.builds(lambda local, labels: f"{local}@{'.'.join(labels)}.com", _LOCAL, _DOMAIN)
HEADER_CELL = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="@\n\r"), max_size=12)


@settings(max_examples=100, deadline=None)
@given(st.lists(ADDRESSES, min_size=1, max_size=20), st.sampled_from(["", "'", '"']), st.sampled_from(["\n", "\r\n"]))
def test_every_address_of_a_plain_list_comes_back_with_its_line(addresses, quote, newline):
    text = newline.join(f"{quote}{address}{quote}" for address in addresses) + newline
    assert is_address_line(text.splitlines()[0])
    file, lines = read(text.encode(), "list.txt")
    assert file.kind is ImportKind.PLAIN_LIST
    assert [(line.line, line.raw) for line in lines] == list(enumerate(addresses, 1))


@settings(max_examples=200, deadline=None)
@given(st.lists(HEADER_CELL.filter(str.strip), min_size=1, max_size=8), st.sampled_from([",", ";", "\t", "|"]))
def test_a_header_line_is_never_taken_for_an_address(cells, delimiter):
    # A header has no "@"; and a line with a delimiter between two cells is never one address.
    assert not is_address_line(delimiter.join(cells))
    assert not is_address_line(delimiter.join([*cells, "ann@example.com"]))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(MAILCHIMP_UNSUBSCRIBED.replace('"', "").split(",")), unique=True, min_size=1),
    st.sampled_from(["CLEAN_TIME", "UNSUB_TIME", None]),
)
def test_detection_depends_on_the_columns_not_their_order_or_case(columns, marker):
    columns = [c for c in columns if c not in ("UNSUB_TIME", "CLEAN_TIME")] + ([marker] if marker else [])
    expected = {
        "CLEAN_TIME": ImportKind.MAILCHIMP_CLEANED,
        "UNSUB_TIME": ImportKind.MAILCHIMP_UNSUBSCRIBED,
        None: ImportKind.ADDRESSES,
    }[marker]
    assert detect_kind(columns) is expected
    assert detect_kind(reversed([c.lower().replace("_", " ") for c in columns])) is expected


@given(st.text(max_size=40))
def test_list_lines_never_raise_and_are_one_outcome_each(text):
    lines = list(lines_of_list(text.split("\n")))
    assert len(lines) == sum(1 for line in text.split("\n") if line.strip())
    for line in lines:
        assert isinstance(line, Candidate | Rejected)
        if isinstance(line, Candidate):
            assert line.raw == list_address(line.raw)


# --------------------------------------------------------------------------- the import's counting


class FakeStore:
    """Records facts like the table would: a second identical fact changes nothing."""

    def __init__(self):
        self.facts: dict[str, object] = {}
        self.calls: list[int] = []

    def record_many(self, facts, policy, *, dry_run=False):
        self.calls.append(len(facts))
        out = {}
        for address, fact in facts:
            before = self.facts.get(address)
            out[address] = Change.NEW if before is None else Change.UNCHANGED if before == fact else Change.UPDATED
            if not dry_run:
                self.facts[address] = fact
        return out


def run_import(store, data, name="list.txt", reason=None, source=None, batch=2):
    file = ImportFile(io.BytesIO(data), name=name)
    lines = file.lines()
    first = next(lines)
    summary = ImportSummary(
        source_name=name,
        kind=file.kind,
        reason=reason or ImportReason.MANUAL,
        source=source or default_source(file.kind, name),
    )

    def chained():
        yield first
        yield from lines

    return Importer(store, summary, default_at="2026-01-01T00:00:00.000Z", batch=batch, policy=SoftBouncePolicy()).run(
        chained()
    )


def test_every_line_ends_in_one_outcome_and_the_second_import_changes_nothing():
    data = b"ann@example.com\nANN@example.com\nnot an address\nbo@example.com\ncy@example.com\n"
    store = FakeStore()
    first = run_import(store, data)
    assert first.lines == 5
    assert {k.value: v for k, v in first.counts.items()} == {
        "new": 3,
        "updated": 0,
        "unchanged": 0,
        "duplicate": 1,
        "invalid": 1,
        "skipped": 0,
    }
    assert [(p.line, p.field) for p in first.problems] == [(3, "email")]
    assert store.calls == [2, 1]  # batches of ``batch`` unique addresses
    fact = store.facts["ann@example.com"]
    assert fact.key == fact_key("import:list:list.txt", "MANUAL", "ann@example.com")
    assert (fact.reason, fact.at, fact.source) == ("MANUAL", "2026-01-01T00:00:00.000Z", "import:list:list.txt")

    again = run_import(store, data)
    assert again.counts[LineOutcome.UNCHANGED] == 3 and again.recorded == 0
