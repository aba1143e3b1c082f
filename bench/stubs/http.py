"""Building botocore HTTP responses, and reading the requests botocore built."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from botocore.awsrequest import AWSResponse


class _Body:
    """The raw HTTP body botocore reads: ``stream()`` for parsed bodies, ``read()`` for
    streaming ones (S3 GetObject)."""

    def __init__(self, data: bytes | BinaryIO) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()

    def read(self, amt: int | None = None) -> bytes:
        if not isinstance(self._data, bytes):
            return self._data.read(amt) if amt is not None else self._data.read()
        if amt is None:
            out, self._data = self._data, b""
        else:
            out, self._data = self._data[:amt], self._data[amt:]
        return out


def respond(url: str, body: bytes | BinaryIO = b"", status: int = 200, headers: dict[str, str] | None = None):
    return AWSResponse(url, status, headers or {}, _Body(body))


def respond_json(url: str, document: Any, status: int = 200, headers: dict[str, str] | None = None):
    return respond(url, json.dumps(document).encode(), status, headers)


def request_bytes(request: Any) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return body.read()


def request_json(request: Any) -> dict[str, Any]:
    raw = request_bytes(request)
    return json.loads(raw) if raw else {}


def iter_unchunked(body: Any, chunk: int = 1 << 16) -> Iterator[bytes]:
    """The payload of an S3 upload body. botocore sends PutObject and UploadPart bodies
    ``aws-chunked`` with a CRC32 trailer (reading the wrapper computes the checksum, as on the
    wire); plain bytes pass through. Streamed, so a large part is never held twice."""
    if body is None:
        return
    if isinstance(body, bytes | bytearray):
        yield bytes(body)
        return
    pending = b""

    def fill(need: int) -> bool:
        nonlocal pending
        while len(pending) < need:
            more = body.read(chunk)
            if not more:
                return False
            pending += more
        return True

    while True:
        while b"\r\n" not in pending:
            more = body.read(chunk)
            if not more:
                return
            pending += more
        header, pending = pending.split(b"\r\n", 1)
        size = int(header.split(b";")[0], 16)
        if size == 0:
            return  # the trailer (checksum) follows; nothing more of the payload
        while size:
            if not pending and not fill(1):
                raise ValueError("truncated aws-chunked body")
            piece, pending = pending[:size], pending[size:]
            size -= len(piece)
            yield piece
        fill(2)
        pending = pending[2:]  # the CRLF after the chunk
