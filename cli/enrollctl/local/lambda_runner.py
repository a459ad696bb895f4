"""Run Lambda functions in-process under moto (moto has no in-process Lambda runtime).

With ``{"lambda": {"use_docker": False}}`` moto serves every Lambda ``Invoke`` (direct API calls and Step
Functions ``arn:aws:states:::lambda:invoke`` tasks, which the moto engine sends to the server over HTTP)
through ``moto.awslambda_simple.models.LambdaSimpleBackend.invoke``. While installed, this module replaces
that method: the function's ``Handler`` (``package.module.function``) is imported and called with the
event and a Lambda-like context; the result is returned as JSON. An exception becomes a function error
(``X-Amz-Function-Error: Unhandled``, payload ``{"errorType", "errorMessage", "stackTrace"}``), exactly
what Step Functions turns into the task's ``Error`` / ``Cause`` for Retry and Catch.

Environment: all our functions share the same variable names and values locally, so the runtime sets
them once in ``os.environ`` before serving; the runner never mutates the environment per call (handlers
run concurrently in server threads).
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

LOG = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]
_ORIGINAL_INVOKE = LambdaSimpleBackend.invoke
_LOCK = threading.Lock()


@dataclass
class LambdaContext:
    """The attributes of the Python Lambda runtime's context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


class LambdaFunctionError(Exception):
    """Raised by :func:`call_function` when the handler failed; carries the Lambda error payload."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload['errorType']}: {payload['errorMessage']}")
        self.payload = payload


class InProcessLambda:
    """Installs/uninstalls the patch; optional explicit handlers per function name (used by tests)."""

    _installs = 0
    _overrides: dict[str, Handler] = {}  # noqa: RUF012 - process-wide registry, guarded by _LOCK

    @classmethod
    def install(cls) -> None:
        with _LOCK:
            cls._installs += 1
            LambdaSimpleBackend.invoke = _patched_invoke  # type: ignore[method-assign]

    @classmethod
    def uninstall(cls) -> None:
        with _LOCK:
            cls._installs = max(0, cls._installs - 1)
            if cls._installs == 0:
                LambdaSimpleBackend.invoke = _ORIGINAL_INVOKE  # type: ignore[method-assign]
                cls._overrides.clear()

    @classmethod
    def register(cls, function_name: str, handler: Handler) -> None:
        """Run ``handler`` for ``function_name`` instead of importing the function's Handler path."""
        with _LOCK:
            cls._overrides[function_name] = handler

    @classmethod
    def handler_for(cls, function_name: str, handler_path: str) -> Handler:
        override = cls._overrides.get(function_name)
        return override if override is not None else import_handler(handler_path)


def cold_start(packages: tuple[str, ...]) -> None:
    """Emulate fresh Lambda containers: clear the ``functools.cache`` of every already-imported module of
    ``packages`` (handlers cache settings and boto3 clients per container; a new local runtime has a new
    endpoint and new resource ids)."""
    for name, module in list(sys.modules.items()):
        if module is None or not any(name == p or name.startswith(f"{p}.") for p in packages):
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and getattr(value, "__module__", None) == name:
                clear()


def import_handler(handler_path: str) -> Handler:
    module_name, _, attribute = handler_path.rpartition(".")
    if not module_name:
        raise ImportError(f"Bad handler '{handler_path}': expected module.function")
    handler = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise ImportError(f"Handler '{handler_path}' is not callable")
    return handler  # type: ignore[no-any-return]


def error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def call_function(fn: Any, event: Any) -> Any:
    """Run the moto LambdaFunction ``fn`` in-process; raise LambdaFunctionError on a handler error."""
    context = LambdaContext(
        function_name=fn.function_name,
        function_version=str(getattr(fn, "version", "$LATEST")),
        invoked_function_arn=fn.function_arn,
        memory_limit_in_mb=int(fn.memory_size or 128),
        timeout_seconds=int(fn.timeout or 3),
    )
    try:
        handler = InProcessLambda.handler_for(fn.function_name, fn.handler)
    except Exception as exc:
        payload = error_payload(exc, context.aws_request_id)
        payload["errorType"] = "Runtime.ImportModuleError"
        raise LambdaFunctionError(payload) from exc
    try:
        return handler(event, context)
    except Exception as exc:
        LOG.info("function %s raised %s: %s", fn.function_name, type(exc).__name__, exc)
        raise LambdaFunctionError(error_payload(exc, context.aws_request_id)) from exc


def _decode_event(body: Any) -> Any:
    if not body:
        return {}
    return json.loads(body)


def _run_to_payload(fn: Any, event: Any, response_headers: dict[str, str]) -> bytes:
    try:
        payload: Any = call_function(fn, event)
    except LambdaFunctionError as error:
        response_headers["x-amz-function-error"] = "Unhandled"
        payload = error.payload
    return json.dumps(payload, default=str).encode("utf-8")


def _run_async(fn: Any, event: Any) -> None:
    def work() -> None:
        try:
            call_function(fn, event)
        except LambdaFunctionError as error:
            LOG.warning("async invocation of %s failed: %s", fn.function_name, error)

    threading.Thread(target=work, name=f"lambda-{fn.function_name}", daemon=True).start()


def _patched_invoke(  # noqa: PLR0917 - the signature of the method it replaces
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> bytes:
    fn = self.get_function(function_name, qualifier)
    invocation_type = str(headers.get("X-Amz-Invocation-Type", "RequestResponse")).lower()
    if invocation_type == "dryrun":
        return b""
    event = _decode_event(body)
    if invocation_type == "event":
        _run_async(fn, event)
        return b""
    payload = _run_to_payload(fn, event, response_headers)
    response_headers["Content-Length"] = str(len(payload))
    return payload
