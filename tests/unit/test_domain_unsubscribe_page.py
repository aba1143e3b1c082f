"""The one-click endpoint's page and RFC 8058 body parsing."""

from __future__ import annotations

import pytest
from campaign_engine.domain import unsubscribe_page as page


def test_confirm_page_has_a_post_form_with_the_one_click_field_and_no_full_address():
    html = page.confirm_page("jane.doe@example.com", "tok.en", None)
    assert "method='post'" in html and "action='?token=tok.en'" in html
    assert "name='List-Unsubscribe' value='One-Click'" in html
    assert "jane.doe@example.com" not in html and "j***@example.com" in html


def test_pages_escape_what_they_show():
    html = page.confirm_page("a@example.com", "x", "<script>alert(1)</script>")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_urlencoded_one_click_body():
    fields = page.form_fields(b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded")
    assert page.is_one_click(fields)


def test_multipart_one_click_body():
    body = b'--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--XyZ--\r\n'
    fields = page.form_fields(body, "multipart/form-data; boundary=XyZ")
    assert fields == {"List-Unsubscribe": "One-Click"}
    assert page.is_one_click(fields)


def test_other_bodies_are_not_one_click():
    assert not page.is_one_click(page.form_fields(b"", None))
    assert not page.is_one_click(page.form_fields(b"List-Unsubscribe=Yes", "application/x-www-form-urlencoded"))


# --- found by tests/fuzz: bodies a client can send must be refused, not crash the function --------


@pytest.mark.parametrize("raw", ["abc", "!!!", "é", "\x86\U000f5f78", "a===", "YQ"])
def test_a_body_flagged_base64_that_is_not_is_unreadable(raw):
    # Before: binascii.Error / ValueError out of the handler, a 502 from the function URL.
    assert page.request_body(raw, True) is None


def test_request_bodies_that_can_be_read():
    assert page.request_body("TGlzdC1VbnN1YnNjcmliZT1PbmUtQ2xpY2s=", True) == b"List-Unsubscribe=One-Click"
    assert page.request_body(None, False) == b""
    assert page.request_body("a=\ud800", False) == b"a=?"  # a lone surrogate from the JSON event


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            b'--x\r\nContent-Disposition: form-data; name="a"\r\n'
            b"Content-Type: text/plain; charset=nonsense\r\n\r\nv\r\n--x--",  # LookupError before
            "multipart/form-data; boundary=x",
        ),
        (b"anything", "multipart/form-data; boundary=\u00fc\u4e2d"),  # not latin-1
        (b"anything", "multipart/form-data"),
        (b"\x00\xff--", "multipart/form-data; boundary="),
    ],
)
def test_a_broken_multipart_body_has_no_one_click_field(body, content_type):
    fields = page.form_fields(body, content_type)
    assert not page.is_one_click(fields)
