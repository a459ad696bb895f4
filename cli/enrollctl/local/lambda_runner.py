"""Run Lambda functions in-process under moto (moto has no in-process Lambda runtime).

With ``{"lambda": {"use_docker": False}}`` moto serves every Lambda ``Invoke`` (direct API calls and Step
Functions ``arn:aws:states:::lambda:invoke`` tasks, which the moto engine sends to the server over HTTP)
through ``moto.awslambda_simple.models.LambdaSimpleBackend.invoke``. While installed, this module replaces
that method: the function's ``Handler`` (``package.module.function``) is imported and called with the
event and a Lambda-like context; the result is returned as JSON. An exception becomes a function error
(``X-Amz-Function-Error: Unhandled``, payload ``{"errorType", "errorMessage", "stackTrace"}``), exactly
what Step Functions turns into the task's ``Error`` / ``Cause`` for Retry and Catch.

Invocations wait for a slot (``concurrency``: bounded per function and in all) before their handler starts. As Lambda
does, the runner enforces each function's timeout from then: the handler runs in a thread of its own, its context
reports the time really left, and at the deadline the caller gets ``Sandbox.Timedout`` while the handler thread is
abandoned (Python cannot stop a thread: it runs on, but every AWS call it still makes fails, see ``call_guard``).
Faults (``faults``): a throttled invoke is refused with 429 ``TooManyRequestsException`` before the handler runs; a
crashed invocation is killed after a random number of its AWS calls and reports ``Runtime.ExitError``, as a
sandbox whose runtime process died does.

Environment: all our functions share the same variable names and values locally, so the runtime sets
them once in ``os.environ`` before serving; the runner never mutates the environment per call (handlers
run concurrently in server threads).
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError

from enrollctl.local import task_errors
from enrollctl.local.concurrency import ConcurrencyLimits, InvocationSlots
from enrollctl.local.faults import Fault, FaultInjector
from enrollctl.local.invocations import Invocation, InvocationState, Raised, Returned, SandboxGone, acting_as

LOG = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]
_ORIGINAL_INVOKE = LambdaSimpleBackend.invoke
_LOCK = threading.Lock()
# Who invokes: the services that invoke the stack's functions are the ones a throttle answers. moto's engine signs
# its calls with this access key (moto.stepfunctions.parser.asl.utils.boto_client, moto 5.2.5); the local event
# deliveries (``events``) sign theirs with the other.
STEP_FUNCTIONS_ACCESS_KEY = "ak"
EVENTBRIDGE_ACCESS_KEY = "eventbridge"
SERVICE_CALLERS = {STEP_FUNCTIONS_ACCESS_KEY: "Step Functions", EVENTBRIDGE_ACCESS_KEY: "EventBridge"}
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
KILL_AFTER_MAX_CALLS = 10  # a crashed invocation dies after 0..10 AWS calls (or just before reporting)
TOO_MANY_REQUESTS = 429


class TooManyRequestsError(JsonRESTError):
    """Lambda's answer to an invoke beyond the function's (or the account's) concurrency."""

    code = TOO_MANY_REQUESTS

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.description = json.dumps({"Reason": "ConcurrentInvocationLimitExceeded", "Type": "User",
                                       "message": "Rate Exceeded."})


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
    deadline: float = 0.0  # time.monotonic() when the function's timeout stops it; 0: timeout_seconds from now

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.deadline = self.deadline or time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class LambdaFunctionError(Exception):
    """Raised by :func:`call_function` when the handler failed; carries the Lambda error payload."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload['errorType']}: {payload['errorMessage']}")
        self.payload = payload


class InProcessLambda:
    """Installs/uninstalls the patch; optional explicit handlers per function name (used by tests)."""

    _installs = 0
    _overrides: dict[str, Handler] = {}  # noqa: RUF012 - process-wide registry, guarded by _LOCK
    faults: ClassVar[FaultInjector | None] = None
    slots: ClassVar[InvocationSlots | None] = None  # None: every invocation starts at once

    @classmethod
    def install(cls, faults: FaultInjector | None = None, limits: ConcurrencyLimits | None = None) -> None:
        with _LOCK:
            cls._installs += 1
            if faults is not None:
                cls.faults = faults
            if limits is not None:
                cls.slots = InvocationSlots(limits)
            LambdaSimpleBackend.invoke = _patched_invoke  # type: ignore[method-assign]
            task_errors.install()

    @classmethod
    def uninstall(cls) -> None:
        with _LOCK:
            cls._installs = max(0, cls._installs - 1)
            if cls._installs == 0:
                LambdaSimpleBackend.invoke = _ORIGINAL_INVOKE  # type: ignore[method-assign]
                task_errors.uninstall()
                cls._overrides.clear()
                cls.faults = None
                cls.slots = None

    @classmethod
    def register(cls, function_name: str, handler: Handler) -> None:
        """Run ``handler`` for ``function_name`` instead of importing the function's Handler path."""
        with _LOCK:
            cls._overrides[function_name] = handler

    @classmethod
    def unregister(cls, function_name: str) -> None:
        """Run the function's own Handler again."""
        with _LOCK:
            cls._overrides.pop(function_name, None)

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


def runtime_error(error_type: str, request_id: str, message: str) -> dict[str, Any]:
    """An error the Lambda service reports for the runtime (not raised by the handler's code)."""
    return {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}


def call_function(fn: Any, event: Any) -> Any:
    """Run the moto LambdaFunction ``fn`` in-process once it is admitted (``concurrency``), within its timeout
    counted from then; raise LambdaFunctionError when the invocation fails (the handler raised, timed out, or its
    sandbox was killed)."""
    request_id = str(uuid.uuid4())
    handler = _handler(fn, request_id)
    release = _admitted(fn.function_name)
    context = _context(fn, request_id)
    invocation = Invocation(fn.function_name, request_id, context.deadline, kill_after=_kill_point())
    outcome = _run_until_deadline(handler, event, context, invocation, release)
    if isinstance(outcome, Raised):
        raise LambdaFunctionError(outcome.payload)
    return outcome.value


def _admitted(function_name: str) -> Callable[[], None]:
    """Wait for an invocation slot of ``function_name``; the callable that frees it."""
    slots = InProcessLambda.slots
    if slots is None:
        return lambda: None
    slots.acquire(function_name)
    return functools.partial(slots.release, function_name)


def _context(fn: Any, request_id: str) -> LambdaContext:
    return LambdaContext(  # after the import and the wait: neither counts against the timeout
        function_name=fn.function_name,
        function_version=str(getattr(fn, "version", "$LATEST")),
        invoked_function_arn=fn.function_arn,
        memory_limit_in_mb=int(fn.memory_size or 128),
        timeout_seconds=int(fn.timeout or 3),
        aws_request_id=request_id,
    )


def _handler(fn: Any, request_id: str) -> Handler:
    try:
        return InProcessLambda.handler_for(fn.function_name, fn.handler)
    except Exception as exc:
        payload = error_payload(exc, request_id)
        payload["errorType"] = "Runtime.ImportModuleError"
        raise LambdaFunctionError(payload) from exc


def _kill_point() -> int | None:
    """How many AWS calls an invocation makes before the lambda-crash fault kills it (None: it is not killed)."""
    faults = InProcessLambda.faults
    if faults is None or not faults.fires(Fault.LAMBDA_CRASH):
        return None
    return faults.randint(0, KILL_AFTER_MAX_CALLS)


def _run_until_deadline(handler: Handler, event: Any, context: LambdaContext, invocation: Invocation,
                        release: Callable[[], None]) -> Returned | Raised:
    thread = threading.Thread(target=_run_then_release, args=(handler, event, context, invocation, release),
                              name=f"lambda-{invocation.function_name}", daemon=True)
    thread.start()
    if not invocation.ended.wait(invocation.remaining_seconds()):
        invocation.end(InvocationState.TIMED_OUT)
    return _outcome(invocation, context.timeout_seconds)


def _run_then_release(handler: Handler, event: Any, context: LambdaContext, invocation: Invocation,
                      release: Callable[[], None]) -> None:
    try:
        _run_handler(handler, event, context, invocation)
    finally:
        release()  # when the thread ends, even abandoned: until then it still uses the CPU the slot stands for


def _run_handler(handler: Handler, event: Any, context: LambdaContext, invocation: Invocation) -> None:
    with acting_as(invocation):
        try:
            outcome: Returned | Raised = Returned(handler(event, context))
        except SandboxGone:
            return  # the invocation has ended already: nobody waits for this outcome
        except BaseException as exc:  # whatever the handler raises (SystemExit too) is the function's error
            LOG.info("function %s raised %s: %s", invocation.function_name, type(exc).__name__, exc)
            outcome = Raised(error_payload(exc, invocation.request_id))
    invocation.finish(outcome)


def _outcome(invocation: Invocation, timeout_seconds: int) -> Returned | Raised:
    if invocation.state is InvocationState.TIMED_OUT:
        LOG.warning("function %s timed out after %d s: reported as Sandbox.Timedout; its handler runs on "
                    "abandoned, and its further AWS calls fail", invocation.function_name, timeout_seconds)
        return Raised(runtime_error("Sandbox.Timedout", invocation.request_id,
                                    f"Task timed out after {timeout_seconds:.2f} seconds"))
    if invocation.state is InvocationState.KILLED:
        if InProcessLambda.faults is not None:
            InProcessLambda.faults.injected(Fault.LAMBDA_CRASH, f"{invocation.function_name} killed after "
                                                                f"{invocation.calls} AWS call(s): Runtime.ExitError")
        return Raised(runtime_error("Runtime.ExitError", invocation.request_id,
                                    "Runtime exited with error: signal: killed"))
    assert invocation.outcome is not None  # RETURNED: set before the state
    return invocation.outcome


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
    _refuse_when_throttled(fn.function_name, headers)
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


def service_caller(headers: Any) -> str | None:
    """The AWS service that signed an invoke (Step Functions, EventBridge), None for any other caller."""
    match = CREDENTIAL.search(str(headers.get("Authorization", "")))
    return SERVICE_CALLERS.get(match.group(1)) if match else None


def _refuse_when_throttled(function_name: str, headers: Any) -> None:
    faults, caller = InProcessLambda.faults, service_caller(headers)
    if faults is None or caller is None or not faults.fires(Fault.LAMBDA_THROTTLE):
        return
    faults.injected(Fault.LAMBDA_THROTTLE,
                    f"TooManyRequestsException (429) for an Invoke of {function_name} by {caller}")
    raise TooManyRequestsError()
