"""The one-click unsubscribe endpoint's HTTP parts: the confirmation page and RFC 8058 bodies.

A GET only shows a page with a button, because link scanners and mail security gateways
follow every link in a message; the unsubscribe happens on POST, either the mailbox
provider's one-click POST (``List-Unsubscribe=One-Click``) or the page's button.
"""

from __future__ import annotations

import base64
import binascii
import email.errors
import html
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs, urlencode

ONE_CLICK_FIELD, ONE_CLICK_VALUE = "List-Unsubscribe", "One-Click"
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}"
    "button{font-size:1rem;padding:.6rem 1.2rem;border-radius:.4rem;border:1px solid #888;cursor:pointer}"
)


def mask(address: str) -> str:
    """j***@example.com: enough for the reader to recognise, not a full address on screen."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )


def confirm_page(address: str, token: str, topic: str | None) -> str:
    what = f"emails about {html.escape(topic)}" if topic else "these emails"
    action = "?" + urlencode({"token": token})
    return _page(
        "Unsubscribe",
        f"<p>Stop sending {what} to <strong>{html.escape(mask(address))}</strong>?</p>"
        f"<form method='post' action='{html.escape(action, quote=True)}'>"
        f"<input type='hidden' name='{ONE_CLICK_FIELD}' value='{ONE_CLICK_VALUE}'>"
        "<button type='submit'>Unsubscribe</button></form>",
    )


def done_page(address: str, topic: str | None) -> str:
    what = f"emails about {html.escape(topic)}" if topic else "these emails"
    return _page("You are unsubscribed", f"<p>{html.escape(mask(address))} will not receive {what} any more.</p>")


def error_page(message: str) -> str:
    return _page("This link does not work", f"<p>{html.escape(message)}</p>")


def request_body(raw: str | None, is_base64: bool) -> bytes | None:
    """The POST body as bytes, or None when it cannot be read (base64 that is not): a bad request."""
    text = raw or ""
    if not is_base64:
        # A JSON event can carry lone surrogates; they are not form text anyway.
        return text.encode("utf-8", errors="replace")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII characters in the base64
        return None


def form_fields(body: bytes, content_type: str | None) -> dict[str, str]:
    """Fields of a urlencoded or multipart/form-data POST body (first value of each). A body
    that cannot be parsed has no fields: the caller then refuses the request as not one-click."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        return _multipart_fields(body, content_type or "")
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def _multipart_fields(body: bytes, content_type: str) -> dict[str, str]:
    # Header text outside latin-1 cannot come from a real client: replaced, then parsed as sent.
    header = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", errors="replace")
    fields: dict[str, str] = {}
    try:
        message = BytesParser(policy=HTTP).parsebytes(header + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name and str(name) not in fields:
                fields[str(name)] = str(part.get_content()).strip()
    except (LookupError, ValueError, TypeError, AttributeError, IndexError, email.errors.MessageError):
        # An unknown charset (LookupError), a malformed part (the email package's many ways of
        # saying so): a client's broken body, so no fields and the request is refused with 400.
        return {}
    return fields


def is_one_click(fields: dict[str, str]) -> bool:
    return fields.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE
