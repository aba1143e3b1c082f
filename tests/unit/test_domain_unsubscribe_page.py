"""The one-click endpoint's page and RFC 8058 body parsing."""

from __future__ import annotations

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
