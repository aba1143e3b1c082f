"""Lambda function URLs, for the local stack: a small HTTP server on 127.0.0.1 that turns each
request into the function URL event (payload format 2.0), invokes the function through moto's
Lambda API (the real handler runs in-process) and answers with its response.

Mailbox providers reach the real endpoint over HTTPS; locally it is plain HTTP on a free port.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3

TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")


def url_event(method: str, target: str, headers: dict[str, str], body: bytes, host: str) -> dict[str, Any]:
    parts = urlsplit(target)
    content_type = headers.get("content-type", "")
    is_text = not body or content_type.startswith(TEXT_TYPES)
    query: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value  # as function URLs join repeats
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": method,
                "path": parts.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = body.decode("utf-8") if is_text else base64.b64encode(body).decode("ascii")
    return event


class FunctionUrlServer:
    def __init__(self, region: str) -> None:
        self.region = region
        self.function_name: str | None = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="function-url", daemon=True
        )

    def start(self, function_name: str) -> None:
        self.function_name = function_name
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        client = boto3.client("lambda", region_name=self.region)
        response = client.invoke(FunctionName=self.function_name, Payload=json.dumps(event))
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            return {"statusCode": 502, "body": "Internal Server Error", "headers": {"content-type": "text/plain"}}
        if not isinstance(payload, dict) or "statusCode" not in payload:
            # Function URLs answer a bare value as a 200 JSON body.
            return {"statusCode": 200, "body": json.dumps(payload), "headers": {"content-type": "application/json"}}
        return payload

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                host = headers.get("host", "127.0.0.1")
                result = owner.invoke(url_event(self.command, self.path, headers, body, host))
                raw = result.get("body") or ""
                data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
                self.send_response(int(result.get("statusCode", 200)))
                for name, value in (result.get("headers") or {}).items():
                    self.send_header(name, str(value))
                for cookie in result.get("cookies") or []:
                    self.send_header("Set-Cookie", cookie)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # request lines would carry tokens (and so addresses) into the terminal

        return Handler
