"""The default event bus, locally. moto's EventBridge never invokes a rule's target, so the runtime routes the
events AWS services would publish (S3's ``Object Created``, Step Functions' ``Execution Status Change``) itself:
each event is matched against the pattern of every rule of the stack and delivered to the rule's function in a
background thread (the publisher is never blocked); a scheduled rule's event is sent to its rule (``send``). As
EventBridge does:

- at least once: with the ``event-duplicate`` fault an event is delivered a second time (the same event, same
  id) at a random later moment;
- the target's constant ``Input``, if it has one, instead of the event;
- asynchronously: EventBridge invokes a function asynchronously, so a throttled invoke is retried (up to the
  target's ``RetryPolicy``) and an invocation that fails is retried as Lambda retries asynchronous invocations
  (the function's ``MaximumRetryAttempts``), then given up (in AWS: sent to the dead-letter queue). Locally the
  waits between attempts are short (1 s), as the state machine's are.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError
from moto.events.models import EventPattern

from enrollctl.local.faults import Fault, FaultInjector

LOG = logging.getLogger(__name__)
Deliver = Callable[[dict[str, Any]], None]
DUPLICATE_DELAY_SECONDS = (0.2, 3.0)  # when the copy of a duplicated event arrives, after the original
LOCAL_RETRY_INTERVAL_SECONDS = 1.0
THROTTLED = "TooManyRequestsException"


@dataclass(frozen=True)
class Rule:
    """A rule of the bus: its pattern (None for a scheduled rule: it matches no event), the name of the function it
    targets, and how to deliver to it."""

    pattern: dict[str, Any] | None
    target: str
    deliver: Deliver

    @cached_property
    def _compiled(self) -> EventPattern | None:
        return None if self.pattern is None else EventPattern(None, self.pattern)

    def matches(self, event: dict[str, Any]) -> bool:
        return self._compiled is not None and bool(self._compiled.matches_event(event))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Deliveries:
    """Deliveries under way (each in its thread, a duplicate's included), to wait for."""

    events: tuple[dict[str, Any], ...] = ()
    threads: tuple[threading.Thread, ...] = ()

    def __add__(self, other: Deliveries) -> Deliveries:
        return Deliveries(self.events + other.events, self.threads + other.threads)

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait for the deliveries to end (the target's retries included); whether they all ended in time."""
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self.threads)


def describe(event: dict[str, Any]) -> str:
    """An event for a log line: its type only (its detail holds object keys and job ids)."""
    return f"{event.get('source')} '{event.get('detail-type')}' event"


class LocalEventBus:
    def __init__(self, rules: Sequence[Rule], faults: FaultInjector | None = None) -> None:
        self.rules = tuple(rules)
        self.faults = faults
        self.delivered: list[dict[str, Any]] = []  # every delivery, duplicates included, in order
        self._threads: list[threading.Thread] = []
        self._threads_lock = threading.Lock()
        self._closed = threading.Event()

    def publish(self, event: dict[str, Any]) -> int:
        """Deliver ``event`` to the target of every rule it matches; returns how many rules matched."""
        matched = [rule for rule in self.rules if rule.matches(event)]
        for rule in matched:
            self.send(event, rule)
        return len(matched)

    def send(self, event: dict[str, Any], rule: Rule) -> Deliveries:
        """Deliver ``event`` to the target of ``rule`` (at least once: see the module's docstring)."""
        threads = [self._start(event, rule, delay=0.0)]
        if self.faults is not None and self.faults.fires(Fault.EVENT_DUPLICATE):
            delay = self.faults.uniform(*DUPLICATE_DELAY_SECONDS)
            self.faults.injected(Fault.EVENT_DUPLICATE,
                                 f"{describe(event)} delivered again to {rule.target} after {delay:.1f} s")
            threads.append(self._start(event, rule, delay))
        return Deliveries((event,), tuple(threads))

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait for the deliveries started so far (duplicates still to come included)."""
        with self._threads_lock:
            threads = tuple(self._threads)
        Deliveries(threads=threads).wait(timeout)

    def close(self) -> None:
        """Deliver nothing more (a duplicate still waiting is dropped)."""
        self._closed.set()

    def _start(self, event: dict[str, Any], rule: Rule, delay: float) -> threading.Thread:
        thread = threading.Thread(target=self._deliver, args=(event, rule, delay), name="event-delivery", daemon=True)
        with self._threads_lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return thread

    def _deliver(self, event: dict[str, Any], rule: Rule, delay: float) -> None:
        if self._closed.wait(delay) if delay else self._closed.is_set():
            return
        self.delivered.append(event)
        try:
            rule.deliver(event)
        except Exception:
            LOG.exception("delivering the %s to %s failed", describe(event), rule.target)


class LambdaTarget:
    """Invokes ``function_name`` with each event (or the target's constant ``input``) as EventBridge does (see the
    module's docstring); ``client`` is a Lambda client that signs as EventBridge and does not retry by itself."""

    def __init__(self, client: Any, function_name: str, *, throttle_retries: int, error_retries: int,
                 input: str | None = None, interval: float = LOCAL_RETRY_INTERVAL_SECONDS) -> None:
        self._client = client
        self.function_name = function_name
        self.input = input
        self.throttle_retries = throttle_retries
        self.error_retries = error_retries
        self.interval = interval

    def __call__(self, event: dict[str, Any]) -> None:
        for attempt in range(1 + self.error_retries):
            if attempt:
                time.sleep(self.interval)
            error = self._invoke_once(event)
            if error is None:
                return
            LOG.warning("%s failed on the %s (attempt %d of %d): %s", self.function_name, describe(event),
                        attempt + 1, 1 + self.error_retries, error)
        LOG.warning("%s gave up on the %s (in AWS it goes to the dead-letter queue)", self.function_name,
                    describe(event))

    def _invoke_once(self, event: dict[str, Any]) -> str | None:
        """One invocation (its throttles retried); the function error's type, or None when it succeeded."""
        payload = json.dumps(event) if self.input is None else self.input
        response = self._accepted_invoke(payload.encode())
        result: str = response["Payload"].read().decode()
        if not response.get("FunctionError"):
            return None
        try:
            return str(json.loads(result).get("errorType", result))
        except (ValueError, AttributeError):
            return result

    def _accepted_invoke(self, payload: bytes) -> dict[str, Any]:
        retries = 0
        while True:
            try:
                return dict(self._client.invoke(FunctionName=self.function_name, Payload=payload))
            except ClientError as error:
                if error.response["Error"]["Code"] != THROTTLED or retries >= self.throttle_retries:
                    raise
            retries += 1
            time.sleep(self.interval)
