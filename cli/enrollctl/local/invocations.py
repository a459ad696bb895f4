"""One in-process Lambda invocation as its own AWS calls see it: the in-process runner (``lambda_runner``) sets
``current`` in the thread that runs the handler, and ``call_guard`` reads it on every AWS call that thread makes.
That is how faults reach the functions' calls and nothing else (not a test's own calls, not moto's engine), and
how an invocation that has ended (timed out, or its sandbox killed) is stopped from calling AWS any further."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class InvocationState(Enum):
    RUNNING = "running"
    RETURNED = "returned"  # the handler returned or raised: its outcome is the invocation's
    TIMED_OUT = "timed out"  # stopped at the function's timeout (Sandbox.Timedout)
    KILLED = "killed"  # its sandbox died (the lambda-crash fault: Runtime.ExitError)


class SandboxGone(BaseException):
    """Raised into an AWS call of an invocation that has ended: in Lambda its sandbox is frozen or gone and the
    call is never made. A BaseException, so that a handler's ``except Exception`` cannot carry on regardless."""


@dataclass(frozen=True)
class Returned:
    value: Any


@dataclass(frozen=True)
class Raised:
    payload: dict[str, Any]  # the Lambda error document


Outcome = Returned | Raised


@dataclass
class Invocation:
    """``kill_after``: how many AWS calls the invocation makes before its sandbox is killed (None: never); it dies
    on the next call, or, having made fewer, just before its response is sent."""

    function_name: str
    request_id: str
    deadline: float  # time.monotonic() at which the function's timeout stops it
    kill_after: int | None = None
    calls: int = 0
    state: InvocationState = InvocationState.RUNNING
    outcome: Outcome | None = None
    ended: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def remaining_seconds(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def end(self, state: InvocationState) -> bool:
        """Move from RUNNING to ``state``; False when it had already ended another way (the first one wins)."""
        with self._lock:
            if self.state is not InvocationState.RUNNING:
                return False
            self.state = state
        self.ended.set()
        return True

    def finish(self, outcome: Outcome) -> None:
        """The handler is done; a sandbox due to be killed dies now, before it can report."""
        self.outcome = outcome
        self.end(InvocationState.RETURNED if self.kill_after is None else InvocationState.KILLED)

    def before_call(self) -> None:
        """Every AWS call of the invocation passes here first."""
        if self.state is not InvocationState.RUNNING:
            raise SandboxGone(f"{self.function_name}: the invocation has {self.state.value}")
        if self.kill_after is not None and self.calls >= self.kill_after:
            self.end(InvocationState.KILLED)
            raise SandboxGone(f"{self.function_name}: its sandbox was killed")
        self.calls += 1


_CURRENT: ContextVar[Invocation | None] = ContextVar("enrollctl_invocation", default=None)


def current() -> Invocation | None:
    """The invocation whose handler runs in this thread, if any."""
    return _CURRENT.get()


@contextmanager
def acting_as(invocation: Invocation) -> Iterator[None]:
    """The AWS calls made in this thread meanwhile are ``invocation``'s."""
    token = _CURRENT.set(invocation)
    try:
        yield
    finally:
        _CURRENT.reset(token)
