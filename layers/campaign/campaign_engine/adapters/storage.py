"""S3: the campaign bucket (definitions, templates, audiences, run artefacts)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..domain.errors import CampaignError
from .aws import client, error_code

PART_SIZE = 8 * 1024 * 1024  # S3 multipart parts must be >= 5 MiB (but the last)


class MissingObject(CampaignError):
    code = "missing_object"


class ChangedObject(CampaignError):
    """The object is no longer the version a run pinned (its ETag differs)."""

    code = "changed_object"


@dataclass(frozen=True)
class StoredObject:
    """An open object and the identity of the bytes it streams: the ETag always, the version
    on a versioned bucket. A run pins both so a retry reads the same bytes."""

    body: BinaryIO
    etag: str | None
    version_id: str | None


def get_bytes(bucket: str, key: str) -> bytes:
    return open_stream(bucket, key).read()


_MISSING = ("NoSuchKey", "NoSuchVersion", "404", "NotFound")


def open_stream(bucket: str, key: str, **kwargs: Any) -> BinaryIO:
    try:
        return client("s3").get_object(Bucket=bucket, Key=key, **kwargs)["Body"]
    except Exception as exc:
        if error_code(exc) in _MISSING:
            raise MissingObject("object not found", where=f"s3://{bucket}/{key}") from None
        raise


def open_object(bucket: str, key: str, *, version_id: str | None = None, if_match: str | None = None) -> StoredObject:
    """Open an object, optionally one version of it or only if its ETag is still ``if_match``
    (S3 answers 412 otherwise: :class:`ChangedObject`)."""
    extra: dict[str, str] = {}
    if version_id:
        extra["VersionId"] = version_id
    if if_match:
        extra["IfMatch"] = if_match
    try:
        response = client("s3").get_object(Bucket=bucket, Key=key, **extra)
    except Exception as exc:
        if error_code(exc) in _MISSING:
            raise MissingObject("object not found", where=f"s3://{bucket}/{key}") from None
        if error_code(exc) in ("PreconditionFailed", "412"):
            raise ChangedObject(
                f"object changed: its ETag is no longer {if_match}", where=f"s3://{bucket}/{key}"
            ) from None
        raise
    return StoredObject(response["Body"], response.get("ETag"), response.get("VersionId"))


def head(bucket: str, key: str) -> dict[str, Any]:
    try:
        return client("s3").head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if error_code(exc) in _MISSING:
            raise MissingObject("object not found", where=f"s3://{bucket}/{key}") from None
        raise


def get_range(bucket: str, key: str, offset: int, length: int) -> bytes:
    body = client("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}")["Body"]
    return body.read()


def put_json(bucket: str, key: str, document: Any) -> None:
    put_bytes(bucket, key, json.dumps(document, indent=2, default=str).encode("utf-8"), "application/json")


def put_json_if_absent(bucket: str, key: str, document: Any) -> bool:
    """Write the object only when no object has the key (S3 conditional write, If-None-Match: *);
    False when one already existed, which the caller then reads: the first writer wins."""
    body = json.dumps(document, indent=2, default=str).encode("utf-8")
    try:
        client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*")
    except Exception as exc:
        if error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            return False
        raise
    return True


def put_bytes(bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
    client("s3").put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)


class StreamingUpload:
    """Write a large object in constant memory: buffered parts of a multipart upload.

    ``tell()`` is the byte offset of the next write, which lets a reader fetch one record
    later with a ranged GET.
    """

    def __init__(self, bucket: str, key: str, content_type: str = "application/x-ndjson") -> None:
        self.bucket, self.key, self.content_type = bucket, key, content_type
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str | None = None
        self._written = 0

    def tell(self) -> int:
        return self._written

    def write(self, data: bytes) -> None:
        self._buffer += data
        self._written += len(data)
        if len(self._buffer) >= PART_SIZE:
            self._flush_part()

    def _flush_part(self) -> None:
        s3 = client("s3")
        if self._upload_id is None:
            self._upload_id = s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self.content_type
            )["UploadId"]
        number = len(self._parts) + 1
        etag = s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=bytes(self._buffer)
        )["ETag"]
        self._parts.append({"ETag": etag, "PartNumber": number})
        self._buffer.clear()

    def close(self) -> None:
        if self._upload_id is None:
            put_bytes(self.bucket, self.key, bytes(self._buffer), self.content_type)
            self._buffer.clear()
            return
        if self._buffer:
            self._flush_part()
        client("s3").complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
        )

    def abort(self) -> None:
        if self._upload_id is not None:
            client("s3").abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
