"""The audience files people really have (issue 11): each tool's export header, encodings,
delimiters, gzip, spreadsheets, renames, JSON cells, repeated headers, and what a file that cannot
be read is told. Every file is written here, byte for byte, after the tool's documented format."""

from __future__ import annotations

import codecs
import gzip
import io
import json
import tracemalloc
from collections.abc import Iterator

import pytest
from campaign_engine.domain import campaign as campaign_module
from campaign_engine.domain.audience import (
    _CHUNK,
    AudienceFile,
    AudienceInfo,
    AudienceOptions,
    Row,
    read_rows,
)
from campaign_engine.domain.campaign import parse_definition
from campaign_engine.domain.errors import AudienceError, DefinitionError
from campaign_engine.domain.outcomes import Outcome
from campaign_engine.domain.textfile import sniff_delimiter

from tests.streams import GeneratedStream


def read(data: bytes, name: str, **options) -> tuple[list[Row], AudienceInfo]:
    audience = AudienceFile(io.BytesIO(data), name=name, options=AudienceOptions(**options))
    rows = list(audience.rows())
    return rows, audience.info


def failure(data: bytes, name: str, **options) -> AudienceError:
    with pytest.raises(AudienceError) as info:
        read(data, name, **options)
    return info.value


# --- each tool's export ----------------------------------------------------------------------------

# (tool, file name, file bytes, the email column, a field as written and its value)
EXPORTS = [
    (
        "mailchimp",
        "members_export.csv",
        # Mailchimp's audience export: "Email Address" first, and an "Address" merge field (postal)
        # that must not be taken for the email column.
        b'"Email Address","First Name","Last Name",Address,"Phone Number",MEMBER_RATING,OPTIN_TIME,TIMEZONE\n'
        b'ana@example.com,Ana,Silva,"1 Main St, Lisbon",,2,"2024-01-02 10:00:00",\n',
        "Email Address",
        ("First Name", "Ana"),
    ),
    (
        "hubspot",
        "hubspot-crm-exports-all-contacts.csv",
        b'"Record ID","First Name","Last Name",Email,"Lifecycle Stage"\n101,Ana,Silva,ana@example.com,lead\n',
        "Email",
        ("Lifecycle Stage", "lead"),
    ),
    (
        "klaviyo",
        "profiles.csv",
        b"Email,First Name,Last Name,Phone Number,City\nana@example.com,Ana,Silva,,Lisbon\n",
        "Email",
        ("City", "Lisbon"),
    ),
    (
        "brevo",
        "contacts.csv",
        b"EMAIL;FIRSTNAME;LASTNAME;SMS\nana@example.com;Ana;Silva;\n",
        "EMAIL",
        ("FIRSTNAME", "Ana"),
    ),
    (
        "kit",
        "subscribers.csv",
        b'first_name,email_address,created_at,tags\nAna,ana@example.com,2024-01-02,"vip, books"\n',
        "email_address",
        ("tags", "vip, books"),
    ),
    (
        "substack",
        "email_list.csv",
        b"email,active_subscription,expiry,plan,email_disabled,created_at\nana@example.com,false,,,false,2024-01-02\n",
        "email",
        ("plan", ""),
    ),
    (
        "sendy",
        "sendy.csv",
        b"Name,Email\nAna Silva,ana@example.com\n",
        "Email",
        ("Name", "Ana Silva"),
    ),
]


@pytest.mark.parametrize(("tool", "name", "data", "email_column", "field"), EXPORTS, ids=[e[0] for e in EXPORTS])
def test_each_tools_export_is_read_with_its_own_headers(tool, name, data, email_column, field):
    (row,), info = read(data, name)
    assert row.problem is None
    assert row.email == "ana@example.com" and row.email_field == email_column
    assert info.email_column == email_column
    header, value = field
    assert row.fields[header] == value  # the header as written: no alias keys added here


def test_listmonk_import_file_attributes_become_a_nested_object():
    # listmonk's documented import CSV: email, name, attributes (a JSON object, quotes doubled).
    data = (
        b"email,name,attributes\n"
        b'user1@mail.com,"User One","{""planet"": ""Mars"", ""age"": 32, ""x"": {""city"": ""Bangalore""}}"\n'
        b'user2@mail.com,"User Two",\n'
    )
    (one, two), info = read(data, "listmonk.csv")
    assert one.fields["attributes"] == {"planet": "Mars", "age": 32, "x": {"city": "Bangalore"}}
    assert two.fields["attributes"] == ""
    assert info.columns == ["email", "name", "attributes"]


def test_pinpoint_address_is_the_email_column_of_a_plain_file():
    (row,), info = read(b"Address,Name\nana@example.com,Ana\n", "list.csv", pinpoint=False)
    assert (row.email, row.email_field, info.email_column) == ("ana@example.com", "Address", "Address")


@pytest.mark.parametrize("header", ["Email Address", "email_address", "E-Mail", "EMAIL", " e mail ", "E_MAIL-ADDRESS"])
def test_email_headers_compare_without_case_spaces_underscores_and_hyphens(header):
    (row,), _ = read(f'name,"{header}"\nAna,ana@example.com\n'.encode(), "a.csv")
    assert row.email == "ana@example.com"


def test_an_email_column_beats_an_email_address_column_and_both_beat_address():
    (row,), info = read(b"Address,Email Address,Email\nx,b@example.com,a@example.com\n", "a.csv")
    assert (row.email, info.email_column) == ("a@example.com", "Email")


# --- encodings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),  # Python writes a BOM and the machine's order (little-endian)
        ("utf-16-be-bom", "utf-16"),
        ("cp1252", "cp1252"),
        ("latin-1", "cp1252"),  # Latin-1 text without C1 controls reads the same as Windows-1252
    ],
)
def test_encodings_are_detected_and_named(encoding, expected):
    text = "email;Vorname;Nachname;Stadt\nzoe@example.com;Zoë;Müller;Köln\nrene@example.com;René;Lefèvre;Genève\n"
    data = codecs.BOM_UTF16_BE + text.encode("utf-16-be") if encoding == "utf-16-be-bom" else text.encode(encoding)
    rows, info = read(data, "list.csv")
    assert info.encoding == expected and info.delimiter == ";"
    assert [(r.fields["Vorname"], r.fields["Nachname"], r.fields["Stadt"]) for r in rows] == [
        ("Zoë", "Müller", "Köln"),
        ("René", "Lefèvre", "Genève"),
    ]
    assert list(rows[0].fields) == ["email", "Vorname", "Nachname", "Stadt"]  # no BOM in the first name


def test_windows_1252_only_characters_are_read():
    text = "Email;Name;Note\nzoe@example.com;Zoë;\u201cquoted\u201d \u2013 5 \u20ac\n"
    (row,), info = read(text.encode("cp1252"), "list.csv")
    assert info.encoding == "cp1252" and row.fields["Note"] == "\u201cquoted\u201d \u2013 5 \u20ac"


def test_excel_unicode_text_is_utf16_and_tab_separated():
    text = "Email\tFirst Name\tCity\r\nzoe@example.com\tZoë\tKöln\r\n"
    (row,), info = read(text.encode("utf-16"), "Unicode Text.txt")
    assert (info.encoding, info.delimiter, info.format) == ("utf-16", "\t", "csv")
    assert row.fields == {"Email": "zoe@example.com", "First Name": "Zoë", "City": "Köln"}


def test_utf16_json_lines_with_bom():
    data = '{"email": "zoe@example.com", "name": "Zoë"}\n'.encode("utf-16")
    (row,), info = read(data, "a.jsonl")
    assert (row.fields["name"], info.encoding) == ("Zoë", "utf-16")


def test_audience_encoding_forces_the_encoding():
    data = "email,name\nzoe@example.com,Ĺukasz\n".encode("cp1250")
    (row,), info = read(data, "a.csv", encoding="windows-1250")
    assert (row.fields["name"], info.encoding) == ("Ĺukasz", "cp1250")


def test_a_forced_encoding_that_does_not_fit_names_the_line_and_what_the_bytes_look_like():
    data = "email,name\nzoe@example.com,Zoë Müller\n".encode("cp1252")
    error = failure(data, "a.csv", encoding="utf-8")
    assert error.where == "a.csv: line 2"
    assert "cannot be read as utf-8 (audience.encoding)" in error.message
    assert "cp1252" in error.message


def test_a_byte_windows_1252_lacks_after_the_first_chunk_names_the_line():
    head = "email,name\n" + "zoe@example.com,Zoë\n" * (_CHUNK // 20 + 10)
    data = head.encode("cp1252") + b"x@example.com,\x81\x8d\n"  # 0x81 is undefined in cp1252
    error = failure(data, "a.csv")
    assert error.where == f"a.csv: line {head.count(chr(10)) + 1}"
    assert "is not cp1252 text" in error.message and "0x81" in error.message


def test_a_file_no_encoding_reads_says_so_and_how_to_export():
    data = bytes(range(256)) * 8  # binary
    error = failure(b"\x00\x00\x00\x01" + data, "a.csv")
    assert error.where == "a.csv: line 1"
    assert "is not text in any encoding" in error.message and "CSV UTF-8" in error.message


# --- delimiters ----------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed_from_the_header(delimiter):
    data = delimiter.join(["email", "name", "note"]) + "\n"
    data += delimiter.join(["a@example.com", "Ann", '"x, y; z | w"']) + "\n"
    (row,), info = read(data.encode(), "a.csv")
    assert info.delimiter == delimiter
    assert row.fields == {"email": "a@example.com", "name": "Ann", "note": "x, y; z | w"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('email;"Name, Title";city\n', ";"),  # the comma is inside quotes
        ('"a""b,c";email;x\n', ";"),  # a doubled quote inside quotes
        ("email\n", None),  # one column
        ("a,b;c\n", ","),  # a tie goes to the comma
        ("email;name\r\na,b,c,d\r\n", ";"),  # only the header counts
        ("Name;Adresse, Stadt;Email\n", ";"),
    ],
)
def test_sniff_delimiter(header, expected):
    assert sniff_delimiter(header) == expected


def test_a_tsv_name_is_tab_separated_whatever_the_header_holds():
    (row,), info = read(b"email\tName, Title\na@example.com\tDr, PhD\n", "a.tsv")
    assert info.delimiter == "\t" and row.fields == {"email": "a@example.com", "Name, Title": "Dr, PhD"}


def test_audience_delimiter_forces_the_delimiter():
    (row,), info = read(b"email;name,x\na@example.com;Ann,y\n", "a.csv", delimiter=";")
    assert info.delimiter == ";" and row.fields == {"email": "a@example.com", "name,x": "Ann,y"}


def test_single_column_file_reads_with_any_delimiter_in_cells():
    rows, info = read(b"email\na@example.com\nb@example.com\n", "a.csv")
    assert [r.email for r in rows] == ["a@example.com", "b@example.com"] and info.delimiter == ","


# --- gzip ----------------------------------------------------------------------------------------

CSV = b"email,name\na@example.com,Ann\nb@example.com,Bob\n"
JSON = b'[{"email": "a@example.com", "name": "Ann"},\n{"email": "b@example.com", "name": "Bob"}]'
JSONL = b'{"email": "a@example.com", "name": "Ann"}\n{"email": "b@example.com", "name": "Bob"}\n'


@pytest.mark.parametrize(
    ("name", "data", "fmt"),
    [
        ("list.csv.gz", CSV, "csv"),
        ("list.json.gz", JSON, "json"),
        ("list.jsonl.gz", JSONL, "jsonl"),
        ("list.ndjson.gz", JSONL, "jsonl"),
        ("LIST.CSV.GZ", CSV, "csv"),
        ("list.csv", CSV, "csv"),  # gzip'd under a plain name: known by its magic bytes
    ],
)
def test_gzip_for_every_format(name, data, fmt):
    rows, info = read(gzip.compress(data), name)
    assert [(r.email, r.fields["name"]) for r in rows] == [("a@example.com", "Ann"), ("b@example.com", "Bob")]
    assert (info.format, info.compression) == (fmt, "gzip")


def test_gzip_of_a_legacy_encoded_semicolon_file():
    data = gzip.compress("Email;Name\nzoe@example.com;Zoë\n".encode("cp1252"))
    (row,), info = read(data, "list.csv.gz")
    assert row.fields["Name"] == "Zoë"
    assert (info.compression, info.encoding, info.delimiter) == ("gzip", "cp1252", ";")


def test_a_gz_name_on_a_plain_file_is_read_plain():
    (row, _), info = read(CSV, "list.csv.gz")
    assert row.email == "a@example.com" and info.compression is None


@pytest.mark.parametrize("cut", [10, 40])
def test_damaged_gzip_is_one_error_naming_the_file(cut):
    data = gzip.compress(CSV * 50)[:cut]
    error = failure(data, "list.csv.gz")
    assert error.where.startswith("list.csv.gz")
    assert "gzip" in error.message and "gzip FILE" in error.message


def _csv_pieces(count: int) -> Iterator[bytes]:
    yield b"email,name\n"
    for index in range(count):
        yield b"user%d@example.com,User %d\n" % (index, index)


def _peak(count: int) -> tuple[int, int]:
    compressed = gzip.compress(b"".join(_csv_pieces(count)), compresslevel=1)  # before tracing
    pieces = (compressed[at : at + 8192] for at in range(0, len(compressed), 8192))
    stream = GeneratedStream(pieces)  # read() only: no seek, no tell
    tracemalloc.start()
    try:
        rows = sum(1 for _ in read_rows(stream, name="big.csv.gz"))
        return rows, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_gzip_is_decompressed_while_streaming_from_an_unseekable_stream():
    small_rows, small_peak = _peak(10_000)
    large_rows, large_peak = _peak(80_000)
    assert (small_rows, large_rows) == (10_000, 80_000)
    grown = sum(len(piece) for piece in _csv_pieces(80_000)) - sum(len(piece) for piece in _csv_pieces(10_000))
    assert grown > 2_000_000
    # The decompressor's buffers fill up to a few hundred KB and then stay (measured: the same
    # peak at 80,000 and 160,000 rows); the file is never held.
    assert large_peak - small_peak < grown / 5, (small_peak, large_peak, grown)
    assert large_peak < (grown + small_rows * 33) / 3, (large_peak, grown)


# --- spreadsheets --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["list.xlsx", "list.xls", "LIST.XLSX", "list.ods"])
def test_a_workbook_name_says_how_to_export_csv(name):
    error = failure(b"whatever", name)
    assert error.where == name
    assert "File > Save As > CSV UTF-8" in error.message


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "ZIP"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, ".xls"),
    ],
)
def test_a_workbook_renamed_to_csv_says_how_to_export_csv(data, what):
    error = failure(data, "list.csv")
    assert what in error.message and "File > Save As > CSV UTF-8" in error.message


# --- bad headers: one error naming the file, the line, the header seen, the delimiter ------------


def test_no_email_column_names_the_header_the_delimiter_and_the_way_out():
    data = "Name;Mail\nZoë;zoe@example.com\n".encode("cp1252")
    error = failure(data, "incoming/c/list.csv")
    assert error.where == "incoming/c/list.csv: line 1"
    assert "no email column in the header (Name, Mail) read with delimiter ';'" in error.message
    assert "Email Address" in error.message and "email_address" in error.message
    assert "audience.columns" in error.message


def test_two_equally_good_email_columns_ask_which_one():
    error = failure(b"Email,E-Mail\na@example.com,b@example.com\n", "a.csv")
    assert "more than one email column" in error.message and "audience.columns" in error.message


def test_a_repeated_email_column_is_an_error():
    error = failure(b"email,name,email\na@example.com,A,b@example.com\n", "a.csv")
    assert "appears more than once (columns 1, 3)" in error.message and error.where == "a.csv: line 1"


# --- audience.columns ----------------------------------------------------------------------------


def test_renaming_a_column_to_email_names_the_email_column():
    (row,), info = read(b"Name;Mail\nZoe;zoe@example.com\n", "a.csv", columns={"Mail": "email"})
    assert (row.email, row.email_field) == ("zoe@example.com", "email")
    assert row.fields == {"Name": "Zoe", "email": "zoe@example.com"}
    assert (info.columns, info.email_column) == (["Name", "email"], "email")


def test_a_column_renamed_to_email_wins_over_an_email_alias():
    (row,), _ = read(b"Email,Work Mail\na@example.com,w@example.com\n", "a.csv", columns={"Work Mail": "email"})
    assert row.email == "w@example.com"


def test_renames_apply_to_other_columns_and_match_like_email_headers():
    (row,), info = read(b"Email Address,First Name\na@example.com,Ann\n", "a.csv", columns={"first name": "first"})
    assert row.fields == {"Email Address": "a@example.com", "first": "Ann"}
    assert info.columns == ["Email Address", "first"]


def test_renaming_a_header_the_file_lacks_names_the_header():
    error = failure(CSV, "a.csv", columns={"Vorname": "first"})
    assert error.where == "a.csv: line 1"
    assert "audience.columns renames 'Vorname'" in error.message and "(email, name)" in error.message


def test_json_renames_and_a_rename_no_object_has():
    rows, info = read(JSONL, "a.jsonl", columns={"name": "first"})
    assert [r.fields["first"] for r in rows] == ["Ann", "Bob"] and info.columns == ["email", "first"]
    error = failure(JSONL, "a.jsonl", columns={"Vorname": "first"})
    assert error.where == "a.jsonl" and "'Vorname'" in error.message


def test_json_key_renamed_to_email():
    (row,), info = read(b'{"Mail": "m@example.com", "Email": "e@example.com"}\n', "a.jsonl", columns={"Mail": "email"})
    assert (row.email, row.email_field, info.email_column) == ("m@example.com", "email", "email")


# --- JSON cells ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('"{""a"": {""b"": [1, 2]}}"', {"a": {"b": [1, 2]}}),
        ('"{draft}"', "{draft}"),  # not JSON: stays text
        ('"[1, 2]"', "[1, 2]"),  # JSON, but not an object
        ('"x {""a"": 1}"', 'x {"a": 1}'),  # does not start with a brace
        ('" {""a"": 1} "', {"a": 1}),  # spaces around it are stripped first
    ],
)
def test_a_cell_holding_a_json_object_becomes_one(cell, expected):
    (row,), _ = read(f"email,data\na@example.com,{cell}\n".encode(), "a.csv")
    assert row.fields["data"] == expected


def test_a_json_cell_nested_too_deeply_is_an_invalid_row_naming_the_field():
    deep = "{" + '"a":{' * 40 + "}" * 41
    text = "email,data\na@example.com," + '"' + deep.replace('"', '""') + '"\nb@example.com,ok\n'
    bad, good = read(text.encode(), "a.csv")[0]
    assert bad.fields is None and bad.problem == "nested more than 32 levels deep"
    assert bad.field.startswith("data.a.a")
    assert good.fields["data"] == "ok"


def test_a_json_cell_too_deep_for_json_itself_is_an_invalid_row():
    deep = "{" + '"a":{' * 5_000 + "}" * 5_001
    csv_cell = '"' + deep.replace('"', '""') + '"'
    rows, _ = read(f"email,data\na@example.com,{csv_cell}\n".encode(), "a.csv")
    assert [(r.problem is not None, r.field is not None and r.field.startswith("data")) for r in rows] in (
        [(True, True)],
        [(True, False)],  # larger than the csv field limit: a malformed row instead
    )


def test_the_email_cell_is_never_parsed_as_json():
    (row,), _ = read(b'email,x\n"{""a"": 1}",y\n', "a.csv")
    assert row.fields["email"] == '{"a": 1}'


# --- repeated headers ----------------------------------------------------------------------------


def test_a_repeated_header_becomes_a_list_of_its_non_empty_values():
    data = b"email,name,name,tag,tag\na@example.com,Ann,,x,y\nb@example.com,,,,\n"
    (first, second), info = read(data, "a.csv")
    assert first.fields == {"email": "a@example.com", "name": ["Ann"], "tag": ["x", "y"]}
    assert second.fields == {"email": "b@example.com", "name": [], "tag": []}
    assert info.columns == ["email", "name", "tag"]


def test_a_repeated_list_field_is_one_flat_list():
    data = b"email,tags,tags\na@example.com,a;b,c\n"
    (row,), _ = read(data, "a.csv", list_fields=["tags"])
    assert row.fields["tags"] == ["a", "b", "c"]


def test_pinpoint_repeated_attribute_columns_keep_every_value():
    # Pinpoint's CSV form of a multi-value attribute: the column repeated, one value each.
    data = (
        b"ChannelType,Address,User.UserAttributes.Interests,User.UserAttributes.Interests,Attributes.Plan\n"
        b"EMAIL,ana@example.com,books,music,pro\n"
        b"EMAIL,ben@example.com,books,,basic\n"
        b"SMS,+12065550100,x,y,z\n"
    )
    (ana, ben, sms), info = read(data, "segment.csv")
    assert ana.fields["User"]["UserAttributes"]["Interests"] == ["books", "music"]
    assert ben.fields["User"]["UserAttributes"]["Interests"] == "books"  # one value: the value itself
    assert ana.fields["Attributes"]["Plan"] == "pro"
    assert sms.outcome is Outcome.SKIPPED
    assert info.email_column == "Address"


# --- AudienceOptions in the campaign definition --------------------------------------------------


def _definition(audience: dict) -> bytes:
    return json.dumps(
        {
            "sender": {"address": "news@example.com"},
            "unmatched": "default",
            "default_template": "welcome",
            "audience": audience,
        }
    ).encode()


def test_definition_takes_columns_encoding_and_delimiter():
    definition = parse_definition(
        _definition({"columns": {"Mail": "email"}, "encoding": "Latin-1", "delimiter": ";"}),
        source="campaigns/c.json",
        campaign_id="c",
    )
    assert definition.audience.columns == {"Mail": "email"}
    assert definition.audience.encoding == "iso8859-1"  # Python's own name for it
    assert definition.audience.delimiter == ";"
    assert campaign_module.AudienceOptions is AudienceOptions


@pytest.mark.parametrize(
    ("audience", "words"),
    [
        ({"encoding": "klingon"}, ["audience.encoding", "unknown encoding 'klingon'"]),
        ({"encoding": "base64"}, ["audience.encoding", "not a text encoding"]),
        ({"columns": {"A": "x", "B": "x"}}, ["audience.columns", "both renamed to 'x'"]),
        ({"columns": {"A": "email", "B": "E-Mail"}}, ["audience.columns", "renamed to email"]),
        ({"columns": {"A": ""}}, ["audience.columns", "empty"]),
        ({"delimiter": ":"}, ["audience.delimiter"]),
    ],
)
def test_definition_refuses_bad_audience_options_naming_the_field(audience, words):
    with pytest.raises(DefinitionError) as info:
        parse_definition(_definition(audience), source="campaigns/c.json", campaign_id="c")
    for word in words:
        assert word in info.value.message


# --- AudienceInfo and the old entry point --------------------------------------------------------


def test_info_is_known_after_the_first_row():
    audience = AudienceFile(io.BytesIO(gzip.compress(b"email;name\na@example.com;A\n")), name="a.csv.gz")
    assert audience.info.format == "csv" and audience.info.encoding == ""
    rows = audience.rows()
    next(rows)
    info = audience.info
    assert (info.compression, info.encoding, info.delimiter, info.columns, info.email_column) == (
        "gzip",
        "utf-8",
        ";",
        ["email", "name"],
        "email",
    )


def test_json_info_lists_keys_in_first_seen_order():
    data = b'{"email": "a@example.com", "b": 1}\n{"c": 2, "email": "b@example.com"}\n'
    _, info = read(data, "a.jsonl")
    assert (info.columns, info.delimiter, info.email_column) == (["email", "b", "c"], None, "email")


def test_rows_reads_the_stream_once():
    audience = AudienceFile(io.BytesIO(CSV), name="a.csv")
    list(audience.rows())
    with pytest.raises(RuntimeError):
        list(audience.rows())


def test_read_rows_still_reads_with_list_fields_and_pinpoint():
    rows = list(
        read_rows(
            io.BytesIO(b"email;prefs\na@example.com;x|y\n"), name="a.csv", list_fields=["prefs"], list_separator="|"
        )
    )
    assert rows[0].fields == {"email": "a@example.com", "prefs": ["x", "y"]}
