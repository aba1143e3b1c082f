"""Run the real Lambda handlers in this process when moto invokes a function.

moto runs Lambda code only in Docker. Replacing ``LambdaFunction._invoke_lambda`` (which
returns ``(payload_json, errored, logs)``) with an in-process call makes every path that
invokes a function run the real handler: Step Functions tasks, S3 notifications, SNS
subscriptions. It is a private method, so moto is pinned and
``tests/local/test_lambdas.py`` proves the patch is in effect.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from moto.awslambda.models import LambdaFunction

log = logging.getLogger("campaign_local.lambdas")


@dataclass(frozen=True)
class FunctionCode:
    logical_id: str
    code_dir: Path
    handler: str  # "app.handler"
    memory_mb: int = 128
    timeout_s: int = 3


@dataclass
class Invocation:
    function: str
    event: Any
    result: Any = None
    error: str | None = None


@dataclass
class Registry:
    """Physical function name -> code; what was invoked, in order."""

    functions: dict[str, FunctionCode] = field(default_factory=dict)
    invocations: list[Invocation] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hooks: list[Callable[[str, Any], None]] = field(default_factory=list)  # called before each invoke

    def count(self, logical_id: str) -> int:
        wanted = {name for name, code in self.functions.items() if code.logical_id == logical_id}
        return sum(1 for invocation in self.invocations if invocation.function in wanted)


REGISTRY = Registry()


class LambdaDied(BaseException):
    """The Lambda runtime lost the invocation: the process exited (``Runtime.ExitError``) or ran
    out of time (``Sandbox.Timedout``). A BaseException so that no ``except Exception`` in our
    code can swallow it, as no code survives a real process death; the in-process invoke reports
    it the way Lambda reports a crash, as a function error with that ``errorType``."""

    def __init__(self, message: str, error_type: str = "Runtime.ExitError") -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass
class Frame:
    """One invocation running on this thread; ``dead`` once it crashed (then none of its later
    AWS calls may take effect: a dead process makes none, even from ``finally`` blocks)."""

    function: str  # logical id, e.g. "SendBatchFunction"
    dead: bool = False


_CURRENT = threading.local()


def current_frame() -> Frame | None:
    """The innermost function invocation running on this thread (None outside any function)."""
    stack: list[Frame] = getattr(_CURRENT, "stack", [])
    return stack[-1] if stack else None


@contextmanager
def running(function: str) -> Iterator[Frame]:
    stack: list[Frame] = _CURRENT.__dict__.setdefault("stack", [])
    frame = Frame(function)
    stack.append(frame)
    try:
        yield frame
    finally:
        stack.pop()


_MODULES: dict[Path, ModuleType] = {}
_IMPORT_LOCK = threading.Lock()
_original_invoke = LambdaFunction._invoke_lambda


class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    def __init__(self, name: str, arn: str, code: FunctionCode) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = code.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._timeout_ms = code.timeout_s * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


def load_handler(code: FunctionCode) -> Callable[[Any, Any], Any]:
    """Import functions/<dir>/app.py under a unique module name (every handler is app.py)."""
    module_name, function_name = code.handler.rsplit(".", 1)
    path = (code.code_dir / (module_name.replace(".", "/") + ".py")).resolve()
    with _IMPORT_LOCK:
        module = _MODULES.get(path)
        if module is None:
            unique = f"_lambda_{code.logical_id}_{module_name.replace('.', '_')}"
            spec = importlib.util.spec_from_file_location(unique, path)
            assert spec and spec.loader, f"cannot load {path}"
            module = importlib.util.module_from_spec(spec)
            sys.modules[unique] = module
            spec.loader.exec_module(module)
            _MODULES[path] = module
    return getattr(module, function_name)


def _invoke_in_process(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    code = REGISTRY.functions.get(self.function_name)
    if code is None:
        return _original_invoke(self, event)
    payload = json.loads(event) if isinstance(event, (str, bytes)) and event else (event or {})
    invocation = Invocation(self.function_name, payload)
    with REGISTRY.lock:
        REGISTRY.invocations.append(invocation)
    try:
        for hook in list(REGISTRY.hooks):
            hook(code.logical_id, payload)
        handler = load_handler(code)
        with running(code.logical_id):
            result = handler(payload, LambdaContext(self.function_name, self.function_arn, code))
        invocation.result = result
        return json.dumps(result, default=str), False, ""
    except LambdaDied as died:  # what Lambda reports for a crashed or timed-out invocation
        invocation.error = f"{died.error_type}: {died}"
        log.warning("%s died: %s", code.logical_id, invocation.error)
        return json.dumps({"errorMessage": str(died), "errorType": died.error_type}), True, ""
    except Exception as exc:  # the Lambda runtime turns any exception into an error payload
        invocation.error = f"{type(exc).__name__}: {exc}"
        log.warning("%s failed: %s", code.logical_id, invocation.error)
        error = {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
        return json.dumps(error), True, ""


def install() -> None:
    LambdaFunction._invoke_lambda = _invoke_in_process  # type: ignore[method-assign]


def uninstall() -> None:
    LambdaFunction._invoke_lambda = _original_invoke  # type: ignore[method-assign]


def installed() -> bool:
    return LambdaFunction._invoke_lambda is _invoke_in_process


def invoke_handler(logical_id: str, event: Any) -> Any:
    """Call a template function's real handler directly (no moto Lambda API), with a context."""
    name, code = next((n, c) for n, c in REGISTRY.functions.items() if c.logical_id == logical_id)
    context = LambdaContext(name, f"arn:aws:lambda:{name}", code)
    with running(logical_id):
        return load_handler(code)(event, context)
