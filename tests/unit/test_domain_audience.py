"""Streaming audience readers: CSV, JSON array and JSON Lines."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator

import pytest
from campaign_engine.domain.audience import _CHUNK, Row, detect_format, read_rows
from campaign_engine.domain.errors import AudienceError

from tests.streams import GeneratedStream

BOM = b"\xef\xbb\xbf"


def rows(data: bytes, name: str, **options) -> list[Row]:
    return list(read_rows(io.BytesIO(data), name=name, **options))


def audience_error(data: bytes, name: str, **options) -> AudienceError:
    with pytest.raises(AudienceError) as info:
        rows(data, name, **options)
    return info.value


# --- format detection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("incoming/c/list.csv", "csv"),
        ("LIST.CSV", "csv"),
        ("a.json", "json"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("dir.v2/a.JsonL", "jsonl"),
    ],
)
def test_detect_format_by_extension(name, fmt):
    assert detect_format(name) == fmt


def test_unknown_extension_names_the_extension_and_the_file():
    error = audience_error(b"email\na@example.com\n", "incoming/c/list.xlsx")
    assert ".xlsx" in error.message
    assert error.where == "incoming/c/list.xlsx"
    assert error.code == "audience_error"


def test_no_extension_says_none_even_with_a_dot_in_a_folder():
    error = audience_error(b"email\n", "incoming/c.v1/list")
    assert "(none)" in error.message
    assert ".v1" not in error.message


# --- CSV -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", [b"", BOM], ids=["no-bom", "bom"])
def test_csv_with_and_without_bom(prefix):
    data = prefix + b"Email,name\na@example.com,Ann\nb@example.com,Bob\n"
    result = rows(data, "a.csv")
    assert [r.email for r in result] == ["a@example.com", "b@example.com"]
    assert [r.line for r in result] == [2, 3]
    # the BOM must not end up in the column name
    assert list(result[0].fields) == ["Email", "name"]


@pytest.mark.parametrize("column", ["Email", "EMAIL", "EMAIL_ADDRESS", "EmailAddress", "e-mail", " email "])
def test_csv_email_column_found_case_insensitively(column):
    data = f"name,{column}\nAnn,ann@example.com\n".encode()
    (row,) = rows(data, "a.csv")
    assert row.email == "ann@example.com"
    assert row.fields["name"] == "Ann"


def test_csv_without_email_column_is_a_file_error_naming_line_one():
    error = audience_error(b"name,mail_to\nAnn,a@example.com\n", "a.csv")
    assert error.where == "a.csv: line 1"
    assert "no email column" in error.message
    assert "mail_to" in error.message


@pytest.mark.parametrize("data", [b"", BOM, b"\n\n", b" , \n"], ids=["empty", "bom-only", "newlines", "blank-header"])
def test_csv_empty_file_is_a_file_error(data):
    error = audience_error(data, "a.csv")
    assert "empty" in error.message
    assert error.where == "a.csv"


def test_csv_header_only_yields_no_rows():
    assert rows(b"email,name\n", "a.csv") == []


def test_csv_quoted_multiline_field_keeps_line_numbers_of_later_rows():
    data = (
        b"email,note\n"  # line 1
        b'a@example.com,"first\nsecond\nthird"\n'  # lines 2-4
        b"b@example.com,plain\n"  # line 5
        b'c@example.com,"x\r\ny"\n'  # lines 6-7
        b"d@example.com,last\n"  # line 8
    )
    result = rows(data, "a.csv")
    assert [(r.line, r.email) for r in result] == [
        (2, "a@example.com"),
        (5, "b@example.com"),
        (6, "c@example.com"),
        (8, "d@example.com"),
    ]
    assert result[0].fields["note"] == "first\nsecond\nthird"


def test_csv_wrong_column_count_is_a_row_problem_with_its_line():
    data = b"email,name\na@example.com,Ann\nb@example.com\nc@example.com,Cy,extra\nd@example.com,Di\n"
    result = rows(data, "a.csv")
    assert [r.line for r in result] == [2, 3, 4, 5]
    bad = [r for r in result if r.problem]
    assert [r.line for r in bad] == [3, 4]
    assert all(r.fields is None and r.email is None for r in bad)
    assert "1 fields" in bad[0].problem and "header has 2" in bad[0].problem
    assert "3 fields" in bad[1].problem
    assert result[-1].email == "d@example.com" and result[-1].problem is None


def test_csv_blank_lines_are_skipped_and_not_counted_as_rows():
    data = b"email\n\na@example.com\n\n   \n\nb@example.com\n\n"
    result = rows(data, "a.csv")
    assert [(r.line, r.email) for r in result] == [(3, "a@example.com"), (7, "b@example.com")]


def test_csv_crlf_line_endings():
    data = b"email,name\r\na@example.com,Ann\r\nb@example.com,Bob\r\n"
    result = rows(data, "a.csv")
    assert [(r.line, r.email, r.fields["name"]) for r in result] == [
        (2, "a@example.com", "Ann"),
        (3, "b@example.com", "Bob"),
    ]


def test_csv_last_row_without_trailing_newline():
    result = rows(b"email\na@example.com\nb@example.com", "a.csv")
    assert [(r.line, r.email) for r in result] == [(2, "a@example.com"), (3, "b@example.com")]


def test_csv_values_are_stripped_but_email_is_passed_through_raw():
    (row,) = rows(b"email,name\n  a@example.com ,  Ann  \n", "a.csv")
    assert row.fields["name"] == "Ann"
    assert row.fields["email"] == "a@example.com"
    assert row.email.strip() == "a@example.com"


def test_csv_list_fields_split_on_separator():
    data = b"email,preferences,tags\na@example.com, books ; music;;, x;y\nb@example.com,,\n"
    first, second = rows(data, "a.csv", list_fields=["preferences"])
    assert first.fields["preferences"] == ["books", "music"]
    assert first.fields["tags"] == "x;y"  # not a list field: left as text
    assert second.fields["preferences"] == []


def test_csv_list_fields_custom_separator():
    (row,) = rows(b"email,prefs\na@example.com,a|b|c\n", "a.csv", list_fields=["prefs"], list_separator="|")
    assert row.fields["prefs"] == ["a", "b", "c"]


def test_csv_oversized_field_is_a_row_problem_and_reading_goes_on():
    data = b"email,name\na@example.com," + b"x" * 200_000 + b"\nb@example.com,Bob\n"
    first, second = rows(data, "a.csv")
    assert first.line == 2 and first.fields is None and "malformed CSV" in first.problem
    assert (second.line, second.email) == (3, "b@example.com")


def test_csv_multibyte_character_split_across_chunks():
    # 'é' (2 bytes) straddles the 64 KiB read boundary
    header = b"email,name\n"
    filler = b"a@example.com," + b"x" * (_CHUNK - len(header) - len(b"a@example.com,") - 1)
    data = header + filler + "é\nb@example.com,Zoë\n".encode()
    assert data[_CHUNK - 1 : _CHUNK + 1] == "é".encode()
    first, second = rows(data, "a.csv")
    assert first.fields["name"].endswith("xé")
    assert (second.line, second.fields["name"]) == (3, "Zoë")


def test_csv_not_utf8_is_read_in_the_encoding_it_is_in():
    # Before issue 11: "file is not UTF-8 text". Windows-1252 is detected from the first chunk.
    (row,) = rows(b"email,name\na@example.com,Ren\xe9\n", "a.csv")
    assert row.fields["name"] == "René"


def _ascii_then(tail: bytes) -> bytes:
    """A CSV whose first chunk is plain ASCII (so UTF-8 is chosen) and whose ``tail`` comes later."""
    head = b"email,name\n" + b"a@example.com,Ann\n" * (_CHUNK // 18 + 10)
    assert len(head) > _CHUNK
    return head + tail


def test_not_utf8_after_the_first_chunk_names_the_line_the_encoding_and_the_fix():
    data = _ascii_then(b"b@example.com,Ren\xe9 Lef\xe8vre\n")
    error = audience_error(data, "a.csv")
    line = data.count(b"\n")
    assert error.where == f"a.csv: line {line}"
    assert "not UTF-8" in error.message and "0xe9" in error.message
    assert '"encoding": "cp1252"' in error.message and "audience" in error.message


# --- JSON array ----------------------------------------------------------------------------------


def test_json_array_recipe_subscribers():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "recipe" / "subscribers.json"
    with path.open("rb") as stream:
        result = list(read_rows(stream, name=str(path)))
    assert [r.email for r in result] == [
        "subscriber1@example.com",
        "subscriber2@example.com",
        "subscriber3@example.com",
    ]
    assert result[0].fields["preferences"] == ["electronics", "books"]
    assert all(r.problem is None for r in result)
    # each element starts on its own line in the pretty-printed file
    assert result[0].line == 2
    assert result[0].line < result[1].line < result[2].line


def test_json_array_elements_spanning_lines_keep_their_start_line():
    data = (
        b"[\n"  # 1
        b"  {\n"  # 2
        b'    "email": "a@example.com",\n'
        b'    "name": "Ann"\n'
        b"  },\n"
        b'  {"email": "b@example.com"},\n'  # 6
        b"\n"
        b"  {\n"  # 8
        b'"email":\n'
        b'"c@example.com"}\n'
        b"]\n"
    )
    result = rows(data, "a.json")
    assert [(r.line, r.email) for r in result] == [(2, "a@example.com"), (6, "b@example.com"), (8, "c@example.com")]


def test_json_array_email_key_case_insensitive():
    (row,) = rows(b'[{"EMAIL_ADDRESS": "a@example.com", "n": 1}]', "a.json")
    assert row.email == "a@example.com"


def test_json_array_non_object_elements_are_row_problems():
    data = b'[{"email": "a@example.com"},\n 3,\n "b@example.com",\n null,\n [1],\n {"email": "c@example.com"}]'
    result = rows(data, "a.json")
    assert [r.line for r in result] == [1, 2, 3, 4, 5, 6]
    assert [r.problem is None for r in result] == [True, False, False, False, False, True]
    assert "int" in result[1].problem and "str" in result[2].problem and "list" in result[4].problem


def test_json_email_that_is_not_a_string_names_the_field():
    (row,) = rows(b'[{"Email": 42}]', "a.json")
    assert row.fields is None and row.field == "Email" and "string" in row.problem


def test_json_object_without_email_is_a_row_without_email():
    (row,) = rows(b'[{"name": "Ann"}]', "a.json")
    assert row.email is None and row.fields == {"name": "Ann"} and row.problem is None


def test_json_array_element_larger_than_a_chunk():
    big = "x" * (3 * _CHUNK)
    document = [{"email": "a@example.com", "note": big}, {"email": "b@example.com"}]
    data = json.dumps(document, indent=1).encode()
    first, second = rows(data, "a.json")
    assert first.fields["note"] == big
    assert second.email == "b@example.com"
    assert second.line == data[: data.index(b'"b@example.com"')].count(b"\n")


def _with_element_at(offset_of_token_end: int, token: bytes) -> bytes:
    """A JSON array whose ``token`` (a top-level element) ends exactly at ``offset_of_token_end``."""
    head = b'[{"email": "a@example.com"},'
    pad = offset_of_token_end - len(head) - len(token)
    return head + b" " * pad + token


@pytest.mark.parametrize("split", [1, 2, 3])
def test_json_array_integer_straddling_the_chunk_boundary_is_read_whole(split):
    data = _with_element_at(_CHUNK + (4 - split), b"1234") + b', {"email": "b@example.com"}]'
    start = data.index(b"1234")
    assert start < _CHUNK < start + 4
    _, number, last = rows(data, "a.json")
    assert "int" in number.problem
    assert last.email == "b@example.com"


def test_json_array_value_inside_object_straddling_the_chunk_boundary():
    # the object's number "score" straddles byte 65536
    head = b'[{"email": "a@example.com", "score": '
    data = head + b" " * (_CHUNK - len(head) - 3) + b'123456.75}, {"email": "b@example.com", "flag": true}]'
    assert data.index(b"123456.75") < _CHUNK < data.index(b"123456.75") + 9
    first, second = rows(data, "a.json")
    assert first.fields["score"] == 123456.75
    assert second.fields["flag"] is True


@pytest.mark.parametrize("literal", [b"true", b"false", b"null"])
def test_json_array_literal_straddling_the_chunk_boundary(literal):
    data = _with_element_at(_CHUNK + 2, literal) + b"]"
    _, element = rows(data, "a.json")
    assert element.problem is not None  # a non-object element, but read as one element, not a file error


@pytest.mark.parametrize("number", [b"12.5", b"1e5"])
def test_json_array_number_cut_after_point_or_exponent_at_the_chunk_boundary(number):
    data = _with_element_at(_CHUNK + 1, number) + b', {"email": "b@example.com"}]'
    assert data[_CHUNK - len(number) + 1 : _CHUNK] == number[:-1]
    result = rows(data, "a.json")
    assert [r.email for r in result] == ["a@example.com", None, "b@example.com"]


def test_json_array_missing_closing_bracket_names_the_line():
    error = audience_error(b'[\n{"email": "a@example.com"},\n{"email": "b@example.com"}\n\n', "a.json")
    assert "missing ']'" in error.message
    assert error.where == "a.json: line 5"


def test_json_array_truncated_element_names_its_line():
    error = audience_error(b'[\n{"email": "a@example.com"},\n{"email": "b@ex', "a.json")
    assert error.where == "a.json: line 3"
    assert "not valid JSON" in error.message


def test_json_array_missing_comma_names_the_line():
    error = audience_error(b'[{"email": "a@example.com"}\n{"email": "b@example.com"}]', "a.json")
    assert error.where == "a.json: line 2"
    assert "','" in error.message


def test_json_object_instead_of_array_is_a_file_error():
    error = audience_error(b'\n{"email": "a@example.com"}', "a.json")
    assert error.where == "a.json: line 2"
    assert "array" in error.message


@pytest.mark.parametrize("data", [b"", b"  \n\t\n", BOM])
def test_json_array_empty_file(data):
    error = audience_error(data, "a.json")
    assert "empty" in error.message and error.where == "a.json"


def test_json_array_empty_array_has_no_rows():
    assert rows(b" [ \n ] ", "a.json") == []


def test_json_array_with_bom():
    (row,) = rows(BOM + b'[{"email": "a@example.com"}]', "a.json")
    assert row.email == "a@example.com"


def test_json_array_not_utf8_is_read_in_its_encoding():
    (row,) = rows(b'[{"email": "a@example.com", "name": "Ren\xe9"}]', "a.json")
    assert row.fields["name"] == "René"


def test_json_array_trailing_content_after_the_array_is_an_error():
    data = b'[{"email": "a@example.com"}]\n[{"email": "b@example.com"}]\n'
    with pytest.raises(AudienceError):
        rows(data, "a.json")


def test_json_array_invalid_element_early_does_not_read_the_whole_file_into_memory():
    tail = b"".join(b',{"email": "user%d@example.com", "name": "n"}\n' % i for i in range(60_000))
    data = b'[{"email": nope}\n' + tail + b"]"
    tracemalloc.start()
    try:
        with pytest.raises(AudienceError) as info:
            rows(data, "a.json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.where == "a.json: line 1"
    assert peak < len(data) / 4, f"peak {peak} bytes for a {len(data)} byte file"


# --- JSON Lines ----------------------------------------------------------------------------------


def test_json_lines_rows_problems_and_blank_lines():
    data = (
        b'{"email": "a@example.com", "n": 1}\n'  # 1
        b"not json\n"  # 2
        b"\n"  # 3 blank
        b'["a@example.com"]\n'  # 4
        b'{"email": 3}\r\n'  # 5
        b'{"Email": "b@example.com"}'  # 6, no newline at the end
    )
    result = rows(data, "a.jsonl")
    assert [r.line for r in result] == [1, 2, 4, 5, 6]
    assert result[0].email == "a@example.com" and result[0].problem is None
    assert "not valid JSON" in result[1].problem
    assert "list" in result[2].problem
    assert result[3].field == "email"
    assert result[4].email == "b@example.com"


def test_json_lines_with_bom_and_ndjson_extension():
    (row,) = rows(BOM + b'{"email": "a@example.com"}\n', "x.ndjson")
    assert row.email == "a@example.com" and row.line == 1


@pytest.mark.parametrize("data", [b"", b"\n \n\r\n", BOM])
def test_json_lines_empty_file(data):
    error = audience_error(data, "a.jsonl")
    assert "empty" in error.message and error.where == "a.jsonl"


def test_json_lines_not_utf8_after_the_first_chunk_is_a_file_error_naming_the_line():
    first = b'{"email": "a@example.com"}\n' * (_CHUNK // 27 + 10)
    error = audience_error(first + b'{"email": "\xff"}\n', "a.jsonl")
    assert "UTF-8" in error.message
    bad_line = first.count(b"\n") + 1
    assert error.where == f"a.jsonl: line {bad_line}"


# --- streaming memory ----------------------------------------------------------------------------


def _csv_pieces(count: int) -> Iterator[bytes]:
    yield b"email,name,segment,preferences\n"
    for index in range(count):
        yield b"user%d@example.com,User %d,new_customers,books;music\n" % (index, index)


def _json_pieces(count: int) -> Iterator[bytes]:
    yield b"[\n"
    for index in range(count):
        yield b'%s{"email": "user%d@example.com", "preferences": ["a", "b"]}\n' % (b"," if index else b"", index)
    yield b"]\n"


def _peak_while_reading(stream: GeneratedStream, name: str) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_rows(stream, name=name, list_fields=["preferences"]))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(("pieces", "name"), [(_csv_pieces, "big.csv"), (_json_pieces, "big.json")])
def test_peak_memory_does_not_grow_with_the_file(pieces, name):
    small_stream, large_stream = GeneratedStream(pieces(2_000)), GeneratedStream(pieces(16_000))
    small_count, small_peak = _peak_while_reading(small_stream, name)
    large_count, large_peak = _peak_while_reading(large_stream, name)
    assert (small_count, large_count) == (2_000, 16_000)
    grown = large_stream.size - small_stream.size
    assert grown > 700_000
    # eight times the rows, the same working set (chunk buffers), give or take a little
    assert large_peak - small_peak < grown / 10, (small_peak, large_peak, grown)
    assert large_peak < large_stream.size / 2


def _rss() -> int:
    import os

    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_reading_a_200k_row_csv_from_a_generator_does_not_hold_the_file():
    import gc

    stream = GeneratedStream(_csv_pieces(200_000))
    gc.collect()
    baseline = highest = _rss()
    count = 0
    last = None
    for row in read_rows(stream, name="big.csv", list_fields=["preferences"]):
        count += 1
        last = row
        if count % 5_000 == 0:
            highest = max(highest, _rss())
    assert count == 200_000
    assert last.line == 200_001 and last.email == "user199999@example.com"
    assert last.fields["preferences"] == ["books", "music"]
    assert stream.size > 10_000_000
    assert highest - baseline < stream.size / 4, f"RSS grew {highest - baseline} bytes for a {stream.size} byte file"


# --- nesting too deep (issue 10, finding 9) -----------------------------------------------------


def _deep(levels: int) -> str:
    return '{"email": "deep@example.com", "x": ' + "[" * levels + "]" * levels + "}"


@pytest.mark.parametrize("levels", [40, 900, 20_000, 50_000])
def test_json_lines_row_nested_too_deeply_is_an_invalid_row_and_reading_goes_on(levels):
    # Before: 20,000 levels raised RecursionError out of the reader; 40 passed into Prepare.
    data = f'{{"email": "a@example.com"}}\n{_deep(levels)}\n{{"email": "c@example.com"}}\n'.encode()
    found = rows(data, "a.jsonl")
    assert [row.line for row in found] == [1, 2, 3]
    assert found[1].fields is None and found[1].problem == "nested more than 32 levels deep"
    assert found[1].field is not None and found[1].field.startswith("x[0][0]")
    assert found[0].email == "a@example.com" and found[2].email == "c@example.com"


@pytest.mark.parametrize("levels", [40, 900])
def test_json_array_element_nested_too_deeply_is_an_invalid_row(levels):
    data = f'[\n{{"email": "a@example.com"}},\n{_deep(levels)}\n]'.encode()
    found = rows(data, "a.json")
    assert [(row.line, row.problem) for row in found] == [(2, None), (3, "nested more than 32 levels deep")]


@pytest.mark.parametrize("levels", [20_000, 50_000])
def test_json_array_too_deep_for_json_is_a_file_error_naming_the_line(levels):
    data = f'[\n{{"email": "a@example.com"}},\n{_deep(levels)}\n]'.encode()
    error = audience_error(data, "incoming/c/a.json")
    assert error.where == "incoming/c/a.json: line 3"
    assert error.message.startswith("nested more than 32 levels deep (field x[0][0]")


@pytest.mark.parametrize("name", ["a.json", "a.jsonl"])
def test_a_file_that_is_only_brackets_fails_cleanly(name):
    data = b"[" * 50_000 + b"]" * 50_000
    try:
        found = rows(data, name)
    except AudienceError as exc:
        assert "line 1" in str(exc)
    else:
        assert [row.problem for row in found] == ["nested more than 32 levels deep"]
