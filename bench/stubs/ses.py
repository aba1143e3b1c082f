"""SES v2: templates, quota, test rendering, and sends with an enforced send rate."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from .http import request_json, respond_json


class SesStub:
    """SES v2: templates, quota, test rendering, and sends.

    ``max_send_rate`` with ``enforce`` answers ``ACCOUNT_THROTTLED`` for every entry beyond the
    rate in the sliding second before it (stricter than a calendar second); ``throttle_share``
    throttles that share of entries at random (seeded). Every accepted entry is recorded as
    (time, address) so a run can be checked for lost and doubled recipients.
    """

    def __init__(
        self,
        *,
        max_send_rate: float = 200.0,
        enforce: bool = False,
        throttle_share: float = 0.0,
        seed: int = 4,
        record: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_send_rate, self.enforce, self.throttle_share = max_send_rate, enforce, throttle_share
        self.record = record
        self.clock = clock
        self.templates: dict[str, dict[str, Any]] = {}
        self.accepted: list[tuple[float, str]] = []
        self.throttled_by_rate = 0
        self.throttled_at_random = 0
        self._window: list[tuple[float, int]] = []  # accepted (time, count) within the last second
        self._rng = random.Random(seed)
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def answer(self, operation: str, request: Any):
        handler = getattr(self, f"_{operation}", None)
        if handler is None:
            raise NotImplementedError(f"SES {operation} is not stubbed")
        return handler(request)

    def _template_name(self, request: Any) -> str:
        return unquote(urlsplit(request.url).path.split("/templates/")[1].split("/")[0])

    def _GetAccount(self, request: Any):
        quota = {"Max24HourSend": 1e9, "MaxSendRate": self.max_send_rate, "SentLast24Hours": 0.0}
        return respond_json(
            request.url,
            {
                "SendQuota": quota,
                "SendingEnabled": True,
                "ProductionAccessEnabled": True,
                "EnforcementStatus": "HEALTHY",
                "DedicatedIpAutoWarmupEnabled": False,
            },
        )

    def _GetEmailTemplate(self, request: Any):
        name = self._template_name(request)
        if name not in self.templates:
            error = {"message": f"Template {name} does not exist."}
            return respond_json(request.url, error, 404, {"x-amzn-ErrorType": "NotFoundException"})
        return respond_json(request.url, {"TemplateName": name, "TemplateContent": self.templates[name]})

    def _CreateEmailTemplate(self, request: Any):
        body = request_json(request)
        self.templates[body["TemplateName"]] = body["TemplateContent"]
        return respond_json(request.url, {})

    def _UpdateEmailTemplate(self, request: Any):
        self.templates[self._template_name(request)] = request_json(request)["TemplateContent"]
        return respond_json(request.url, {})

    def _TestRenderEmailTemplate(self, request: Any):
        request_json(request)
        rendered = "Subject: sample\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<html>sample</html>"
        return respond_json(request.url, {"RenderedTemplate": rendered})

    def _SendEmail(self, request: Any):
        body = request_json(request)
        with self._lock:
            if self.record:
                self.accepted.append((self.clock(), body["Destination"]["ToAddresses"][0]))
        return respond_json(request.url, {"MessageId": f"stub-{next(self._ids)}"})

    def _admit(self, count: int, now: float) -> int:
        """How many of ``count`` entries fit in the sliding one-second window ending now."""
        if not self.enforce:
            return count
        self._window = [(t, n) for t, n in self._window if t > now - 1.0]
        room = int(self.max_send_rate) - sum(n for _, n in self._window)
        return max(0, min(count, room))

    def _SendBulkEmail(self, request: Any):
        entries = request_json(request)["BulkEmailEntries"]
        results = []
        with self._lock:
            now = self.clock()
            random_refusals = [self.throttle_share and self._rng.random() < self.throttle_share for _ in entries]
            admitted = self._admit(sum(1 for refused in random_refusals if not refused), now)
            accepted = 0
            for entry, refused in zip(entries, random_refusals, strict=True):
                if refused:
                    self.throttled_at_random += 1
                elif accepted >= admitted:
                    self.throttled_by_rate += 1
                else:
                    accepted += 1
                    if self.record:
                        self.accepted.append((now, entry["Destination"]["ToAddresses"][0]))
                    results.append({"Status": "SUCCESS", "MessageId": f"stub-{next(self._ids)}"})
                    continue
                results.append({"Status": "ACCOUNT_THROTTLED", "Error": "Maximum sending rate exceeded."})
            if accepted and self.enforce:
                self._window.append((now, accepted))
        return respond_json(request.url, {"BulkEmailEntryResults": results})
