"""How many in-process invocations run at once. Lambda gives every invocation a CPU of its own and queues what
it cannot run yet (asynchronous invocations wait in its queue); locally, every handler is a thread of one process
on a few cores, so the runner (``lambda_runner``) admits invocations through ``InvocationSlots``: at most
``per_function`` of one function and ``total`` in all run at once, the others wait their turn in arrival order.
A function's timeout counts from its admission (when its handler starts), as Lambda counts it.

Without a bound a burst jams the runtime: N handlers share the cores and Python's GIL, each runs N times slower,
so all of them pass their timeouts together, their abandoned threads compute on (Python cannot stop a thread)
and the retries pile on; meanwhile every request to the emulator waits behind them for the GIL.

A slot is freed when the handler's thread really ends, not when its invocation timed out: an abandoned handler
still holds the CPU the slot stands for (it stops at its next AWS call, see ``call_guard``)."""

from __future__ import annotations

import os
import threading
from collections import Counter, deque
from dataclasses import dataclass, field


def cores() -> int:
    return len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class ConcurrencyLimits:
    """`per_function`: the cores, so one function's invocations never oversubscribe them; `total`: twice that, so
    a short function (submit, prepare, finalize) does not wait behind another function's queue of compute."""

    per_function: int
    total: int

    def __post_init__(self) -> None:
        if self.per_function < 1 or self.total < 1:
            raise ValueError(f"concurrency limits must be at least 1: {self}")

    @classmethod
    def for_cores(cls, count: int | None = None, *, per_function: int | None = None,
                  total: int | None = None) -> ConcurrencyLimits:
        count = count or cores()
        return cls(per_function or count, total or 2 * count)


@dataclass
class _Ticket:
    function_name: str
    admitted: threading.Event = field(default_factory=threading.Event)


class InvocationSlots:
    """First come, first served, except that an invocation whose function is at its limit lets later ones of
    other functions pass (Lambda's concurrency is per function)."""

    def __init__(self, limits: ConcurrencyLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._running: Counter[str] = Counter()
        self._waiting: deque[_Ticket] = deque()
        self.peak_waiting = 0

    def acquire(self, function_name: str) -> None:
        """Block until an invocation of ``function_name`` may start."""
        ticket = _Ticket(function_name)
        with self._lock:
            self._waiting.append(ticket)
            self._admit()
            self.peak_waiting = max(self.peak_waiting, len(self._waiting))
        ticket.admitted.wait()

    def release(self, function_name: str) -> None:
        with self._lock:
            self._running[function_name] -= 1
            self._admit()

    def running(self) -> int:
        with self._lock:
            return self._running.total()

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def _admit(self) -> None:
        for ticket in list(self._waiting):
            if self._running.total() >= self.limits.total:
                return
            if self._running[ticket.function_name] < self.limits.per_function:
                self._waiting.remove(ticket)
                self._running[ticket.function_name] += 1
                ticket.admitted.set()
