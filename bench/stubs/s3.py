"""S3: one bucket, in memory or streamed from local files."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .http import iter_unchunked, request_bytes, respond


class S3Stub:
    """One bucket. ``files`` maps keys to local files that GetObject streams (a 40 MB audience
    never sits in memory); ``keep(key)`` decides which written objects are kept for reading
    back (SendBatch reads batches.jsonl by range) and which are only counted."""

    def __init__(self, files: dict[str, Path] | None = None, keep: Callable[[str], bool] = lambda key: True) -> None:
        self.files = dict(files or {})
        self.objects: dict[str, bytes] = {}
        self.keep = keep
        self.written: Counter[str] = Counter()  # bytes written per key
        self._uploads: dict[str, list[bytes] | None] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key_of(url: str) -> str:
        parts = urlsplit(url)
        path = unquote(parts.path.lstrip("/"))
        if parts.hostname and parts.hostname.startswith("s3."):  # path style: bucket first
            path = path.split("/", 1)[1] if "/" in path else ""
        return path

    def put(self, key: str, data: bytes) -> None:
        self.objects[key] = data

    def answer(self, operation: str, request: Any):
        key = self.key_of(request.url)
        handler = getattr(self, f"_{operation}", None)
        if handler is None:
            raise NotImplementedError(f"S3 {operation} is not stubbed")
        return handler(request, key)

    def _GetObject(self, request: Any, key: str):
        if key in self.files:
            path = self.files[key]
            return respond(request.url, path.open("rb"), headers={"Content-Length": str(path.stat().st_size)})
        data = self.objects.get(key)
        if data is None:
            error = b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"
            return respond(request.url, error, 404)
        rng = request.headers.get("Range")
        status = 200
        if rng:
            start, end = (int(x) for x in (rng.decode() if isinstance(rng, bytes) else rng)[6:].split("-"))
            data, status = data[start : end + 1], 206
        return respond(request.url, data, status, {"Content-Length": str(len(data)), "ETag": '"stub"'})

    def _HeadObject(self, request: Any, key: str):
        size = self.files[key].stat().st_size if key in self.files else len(self.objects.get(key, b""))
        return respond(request.url, b"", 200, {"Content-Length": str(size), "ETag": '"stub"'})

    def _store(self, key: str, pieces: Iterator[bytes]) -> list[bytes] | None:
        kept: list[bytes] | None = [] if self.keep(key) else None
        for piece in pieces:
            self.written[key] += len(piece)
            if kept is not None:
                kept.append(piece)
        return kept

    def _PutObject(self, request: Any, key: str):
        kept = self._store(key, iter_unchunked(request.body))
        if kept is not None:
            self.objects[key] = b"".join(kept)
        return respond(request.url, b"", 200, {"ETag": '"stub"'})

    def _CreateMultipartUpload(self, request: Any, key: str):
        upload_id = uuid.uuid4().hex
        with self._lock:
            self._uploads[upload_id] = [] if self.keep(key) else None
        xml = (
            "<InitiateMultipartUploadResult><Bucket>bench</Bucket>"
            f"<Key>{key}</Key><UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>"
        )
        return respond(request.url, xml.encode())

    def _UploadPart(self, request: Any, key: str):
        upload_id = parse_qs(urlsplit(request.url).query)["uploadId"][0]
        kept = self._store(key, iter_unchunked(request.body))
        parts = self._uploads[upload_id]
        if parts is not None and kept is not None:
            parts.append(b"".join(kept))
        return respond(request.url, b"", 200, {"ETag": f'"part{len(parts or [])}"'})

    def _CompleteMultipartUpload(self, request: Any, key: str):
        request_bytes(request)  # the parts list: serialised by botocore, read like the wire does
        upload_id = parse_qs(urlsplit(request.url).query)["uploadId"][0]
        parts = self._uploads.pop(upload_id)
        if parts is not None:
            self.objects[key] = b"".join(parts)
        xml = f'<CompleteMultipartUploadResult><Bucket>bench</Bucket><Key>{key}</Key><ETag>"stub"</ETag>'
        return respond(request.url, (xml + "</CompleteMultipartUploadResult>").encode())

    def _AbortMultipartUpload(self, request: Any, key: str):
        upload_id = parse_qs(urlsplit(request.url).query)["uploadId"][0]
        self._uploads.pop(upload_id, None)
        return respond(request.url, b"", 204)
