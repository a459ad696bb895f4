"""Every AWS call a function makes in the local runtime passes here (a botocore ``before-send`` hook): a call of an
invocation that has ended (timed out, or its sandbox killed) is refused, and the service faults that are on may
answer the call instead of the emulator, with the error response the real service sends. Calls made outside an
invocation (a test's own, the CLI's, moto's engine) are left alone.

The hooks are registered through ``botocore.handlers.BUILTIN_HANDLERS``, so every botocore session created while
the guard is installed has them (the handlers' default session, and the sessions they make for the job's data
access role); a session made earlier has none, one made in between keeps them but they do nothing once the guard
is uninstalled.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore import handlers
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from enrollctl.local import fault_responses, invocations
from enrollctl.local.fault_responses import ErrorAnswer
from enrollctl.local.faults import Fault, FaultInjector

INJECTED = "enrollctl_fault"  # request-context key: the fault that answered the latest attempt of the call
DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
TRANSACT_WRITE = "TransactWriteItems"


@dataclass(frozen=True)
class ServiceCall:
    service: str  # botocore's hyphenized service id: "dynamodb", "s3"
    operation: str
    request: AWSPreparedRequest
    function_name: str

    def body_json(self) -> dict[str, Any]:
        body = self.request.body
        return json.loads(body) if body else {}

    def describe(self, error: str) -> str:
        return f"{error} for {self.service}:{self.operation} of {self.function_name}"


@dataclass(frozen=True)
class ServiceFault:
    fault: Fault
    applies: Callable[[ServiceCall], bool]
    answer: Callable[[ServiceCall, FaultInjector], ErrorAnswer]


def _conflict(call: ServiceCall, faults: FaultInjector) -> ErrorAnswer:
    if call.operation != TRANSACT_WRITE:
        return fault_responses.transaction_conflict(call.request.url)
    items = len(call.body_json().get("TransactItems", [])) or 1
    return fault_responses.transaction_canceled(call.request.url, items, faults.randint(0, items - 1))


SERVICE_FAULTS = (
    ServiceFault(Fault.DYNAMODB_CONFLICT,
                 lambda call: call.service == "dynamodb" and call.operation in (*DYNAMODB_WRITES, TRANSACT_WRITE),
                 _conflict),
    ServiceFault(Fault.DYNAMODB_THROTTLE, lambda call: call.service == "dynamodb",
                 lambda call, faults: fault_responses.dynamodb_throttle(call.request.url, faults)),
    ServiceFault(Fault.S3_SLOWDOWN, lambda call: call.service == "s3",
                 lambda call, _: fault_responses.s3_slow_down(call.request.url, call.request.method)),
)


class CallGuard:
    """While installed, the functions' AWS calls are checked and may be answered by ``faults``."""

    _active: ClassVar[CallGuard | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, faults: FaultInjector) -> None:
        self.faults = faults

    def install(self) -> None:
        with CallGuard._lock:
            if CallGuard._active is not None:
                raise RuntimeError("a call guard is already installed in this process")
            CallGuard._active = self
            handlers.BUILTIN_HANDLERS.extend(HOOKS)

    def uninstall(self) -> None:
        with CallGuard._lock:
            if CallGuard._active is self:
                CallGuard._active = None
                for hook in HOOKS:
                    if hook in handlers.BUILTIN_HANDLERS:
                        handlers.BUILTIN_HANDLERS.remove(hook)

    def answer(self, call: ServiceCall) -> AWSResponse | None:
        """The fault response for ``call``, if a fault fires for it."""
        for rule in SERVICE_FAULTS:
            if rule.applies(call) and self.faults.fires(rule.fault):
                answer = rule.answer(call, self.faults)
                call.request.context[INJECTED] = rule.fault
                self.faults.injected(rule.fault, call.describe(answer.code), surfaced=False)
                return answer.response
        call.request.context.pop(INJECTED, None)
        return None


def _before_send(request: AWSPreparedRequest, event_name: str, **_: Any) -> AWSResponse | None:
    invocation = invocations.current()
    if invocation is None:
        return None
    invocation.before_call()  # even with the guard gone: an abandoned handler may outlive its runtime
    guard = CallGuard._active
    if guard is None:
        return None
    service, operation = event_name.split(".", 2)[1:]
    return guard.answer(ServiceCall(service, operation, request, invocation.function_name))


def _after_call(http_response: AWSResponse, context: dict[str, Any], **_: Any) -> None:
    """After botocore's own retries: an injected error that is still the answer reaches the caller's code."""
    guard, fault = CallGuard._active, context.get(INJECTED)
    if guard is not None and isinstance(fault, Fault) and http_response.status_code >= 300:
        guard.faults.surfaced(fault)


HOOKS: tuple[tuple[str, Callable[..., Any]], ...] = (("before-send", _before_send), ("after-call", _after_call))
