"""The local stack as a long-lived endpoint: ``make local-up`` (``python -m campaign_local.server``).

It starts :class:`~campaign_local.stack.LocalStack` (every resource of template.yaml on moto,
the real handlers in this process) and serves moto's HTTP API on 127.0.0.1, so the
``campaign --local`` command, boto3 (``endpoint_url=``) and the AWS CLI (``--endpoint-url``)
all talk to the same stack, whose state lasts as long as this process. An S3 upload to
``incoming/`` through the endpoint starts a run exactly as on AWS: moto's S3 invokes the
StartCampaign handler here, Step Functions runs the state machine, the local SES publishes
its events to the feedback functions.

The stack is also published as a CloudFormation stack of the same name whose outputs are
template.yaml's, so a client finds the resources with ``DescribeStacks`` as it would on AWS.
Where the endpoint runs is written to a small JSON file (``--state-file``) that
``campaign --local`` reads.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import (
    HTTP_METHODS,
    DomainDispatcherApplication,
    MotoRequestHandler,
    convert_to_flask_response,
    create_backend_app,
)
from moto.sesv2.responses import SESV2Response
from werkzeug.serving import BaseWSGIServer, make_server

from .demo import CLICK_SHARE, DEMO_SEND_RATE, OPEN_SHARE
from .stack import REGION, ROOT, STACK_NAME, LocalStack

DEFAULT_STATE_FILE = ROOT / "build" / "local" / "endpoint.json"
DEFAULT_PORT = 4566
DEFAULT_IDENTITIES = ("example.com",)  # the recipe's and the examples' sender domain


def _create_backend_app(service: str) -> Any:
    """moto's Flask app for a service, plus a catch-all for SES v2.

    moto declares SES v2's generic route as the regex ``/v2/.*``, which Flask takes literally,
    so in server mode only the paths moto implements itself are routed. The operations the
    local SES adds (templates, SendBulkEmail, GetAccount, ...) need every ``/v2/`` path to
    reach ``SESV2Response.dispatch``, as they do in-process.
    """
    app = create_backend_app(service)
    if service == "sesv2":
        app.add_url_rule(
            "/v2/<path:operation_path>",
            endpoint="SESV2Response.dispatch.local",
            methods=HTTP_METHODS,
            view_func=convert_to_flask_response(SESV2Response.dispatch),
            strict_slashes=False,
        )
    return app


class _QuietHandler(MotoRequestHandler):
    """One line per request would bury the stack's own warnings."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class Endpoint:
    """moto's HTTP API for the stack, on a thread of this process."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> str:
        app = DomainDispatcherApplication(_create_backend_app)
        self._server = make_server(self.host, self.port, app, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-endpoint", daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)


def publish_outputs(stack: LocalStack) -> None:
    """A CloudFormation stack named like the local one, carrying template.yaml's outputs."""
    template = {
        "Description": "campaign-local: the outputs of the local stack (resources live in moto)",
        # moto needs one resource; it ignores types it cannot create, which is all this needs.
        "Resources": {"Outputs": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {name: {"Value": value} for name, value in sorted(stack.outputs.items())},
    }
    stack.client("cloudformation").create_stack(StackName=STACK_NAME, TemplateBody=json.dumps(template))


@contextmanager
def serve(
    *,
    port: int = DEFAULT_PORT,
    identities: tuple[str, ...] = DEFAULT_IDENTITIES,
    state_file: Path = DEFAULT_STATE_FILE,
    ses_options: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Start the stack and its endpoint; yields what is written to ``state_file``. The first
    identity is the stack's SenderIdentity (what SendBatch may send through)."""
    with LocalStack.start(parameters={"SenderIdentity": identities[0]} if identities else None) as stack:
        for identity in identities:
            stack.verify_sender(identity)
        if ses_options:
            stack.configure_ses(**ses_options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the ignored WaitConditionHandle
            publish_outputs(stack)
        endpoint = Endpoint(port=port)
        url = endpoint.start()
        state = {
            "endpoint_url": url,
            "stack_name": STACK_NAME,
            "region": REGION,
            "pid": os.getpid(),
            "identities": list(identities),
        }
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        try:
            yield state
        finally:
            endpoint.stop()
            # Only our own file: a second endpoint may have written another one since.
            try:
                if json.loads(state_file.read_text(encoding="utf-8")).get("pid") == os.getpid():
                    state_file.unlink()
            except (OSError, ValueError):
                pass


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m campaign_local.server", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"0 picks a free port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--identity",
        action="append",
        dest="identities",
        help="SES identity (domain or address) to verify; repeatable (default: example.com)",
    )
    parser.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    # The demo's account: fast enough to watch a few thousand recipients go out in a minute,
    # with opens and clicks for the reports.
    parser.add_argument("--max-send-rate", type=float, default=DEMO_SEND_RATE, help="the local SES's MaxSendRate")
    parser.add_argument("--max-24-hour-send", type=int, default=10_000_000, help="the local SES's Max24HourSend")
    parser.add_argument("--open-share", type=float, default=OPEN_SHARE, help="share of delivered mail opened")
    parser.add_argument("--click-share", type=float, default=CLICK_SHARE, help="share of delivered mail clicked")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ses_options = {
        "max_send_rate": args.max_send_rate,
        "max_24_hour_send": args.max_24_hour_send,
        "open_share": args.open_share,
        "click_share": args.click_share,
    }
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    with serve(
        port=args.port,
        identities=tuple(args.identities or DEFAULT_IDENTITIES),
        state_file=args.state_file,
        ses_options=ses_options,
    ) as state:
        url = state["endpoint_url"]
        print(f"local stack {state['stack_name']} at {url} (state file {args.state_file})", flush=True)
        print(f"  campaign --local status      aws --endpoint-url {url} s3 ls", flush=True)
        print("  Ctrl-C stops it; its state goes with it.", flush=True)
        stopped.wait()
    print("local stack stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
