"""Files a hostile reviewer fed the reader: each once read wrongly or silently."""

from __future__ import annotations

import io

import pytest
from campaign_engine.domain.audience import AudienceFile, AudienceOptions, read_rows
from campaign_engine.domain.errors import AudienceError
from campaign_engine.domain.templates import TemplateContent, missing_variables


def rows(data: bytes, name: str = "list.csv", options: AudienceOptions | None = None) -> list:
    return list(AudienceFile(io.BytesIO(data), name=name, options=options).rows())


def test_an_unclosed_quote_never_mails_other_rows_into_one_field():
    data = (
        b'email,name,city\na@x.com,"Bob,Paris\nb@x.com,Carl,Lyon\nc@x.com,Dan,Nice\n'
        b'z@x.com,"Zed",Rome\ny@x.com,Yan,Oslo\n'
    )
    first, last = rows(data)
    assert first.fields is None and "quote opened on line 2 is not closed" in (first.problem or "")
    assert (last.line, last.email) == (6, "y@x.com")


def test_a_quoted_postal_address_may_still_span_lines():
    (row,) = rows(b'email,name,addr\na@x.com,Bob,"1 Main St\nSpringfield, IL"\n')
    assert row.fields == {"email": "a@x.com", "name": "Bob", "addr": "1 Main St\nSpringfield, IL"}


def test_a_file_without_a_header_row_says_so_without_the_address():
    with pytest.raises(AudienceError) as caught:
        rows(b"bob.smith@example.com,Bob\n")
    assert "add a header row" in str(caught.value) and "bob.smith" not in str(caught.value)


def test_a_number_too_long_for_python_is_a_clear_error():
    with pytest.raises(AudienceError, match="not valid JSON"):
        rows(b'[{"email": "a@x.com", "n": ' + b"1" * 5000 + b"}]", name="list.json")


def test_renaming_onto_another_column_is_refused():
    with pytest.raises(AudienceError, match="already a column"):
        rows(b"Email,Full Name,Name\na@x.com,Ann Lee,Annie\n", options=AudienceOptions(columns={"Full Name": "Name"}))


def test_a_forced_encoding_leaves_no_byte_order_mark_in_the_first_name():
    data = "\ufeffemail,name\na@x.com,Zoë\n".encode()
    (row,) = rows(data, options=AudienceOptions(encoding="cp1252"))
    assert row.email == "a@x.com"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("Peña", "cp1252"), ("Zoë Müller €", "cp1252"), ("Ångström", "latin-1")],
)
def test_short_western_text_is_read_in_a_western_code_page(text, encoding):
    (row,) = rows(f"email,name\na@x.com,{text}\n".encode(encoding))
    assert row.fields["name"] == text


def test_utf8_with_a_stray_byte_is_refused_at_its_line_not_read_as_mojibake():
    data = "email,name\na@x.com,Zoë Müller\n".encode() + b"b@x.com,Caf\xe9\n"
    with pytest.raises(AudienceError) as caught:
        rows(data)
    assert "mixes encodings" in str(caught.value) and "line 3" in str(caught.value)


def test_blank_json_values_and_whitespace_control_never_render_blank():
    content = TemplateContent(Subject="Hi {{~name~}}", Text="{{tags}}")
    assert missing_variables(content, {"name": "   ", "tags": [""]}) == ["name", "tags"]
    assert missing_variables(content, {"name": "Ann", "tags": ["x"]}) == []
    (row,) = read_rows(io.BytesIO(b'[{"email": "a@x.com", "name": "  "}]'), name="list.json")
    assert missing_variables(content, {**row.fields, "tags": ["x"]}) == ["name"]
