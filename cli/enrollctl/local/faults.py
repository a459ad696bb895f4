"""Fault injection in the local runtime: which faults, at what rate, decided by one seeded random source, each
one logged (one line, no personal data) and counted.

``FaultInjector("dynamodb-throttle=0.2,lambda-crash=0.05", seed=7)``. Where each fault is injected and
what it looks like to the caller: ``call_guard`` (DynamoDB and S3 answers to the functions' calls),
``lambda_runner`` (throttled and crashed invocations), ``events`` (duplicated deliveries).

Reproducible: the same seed and the same order of decisions give the same faults. Decisions are drawn in the
order the calls happen, so concurrent shards (threads) may interleave differently from run to run.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

LOG = logging.getLogger(__name__)
FAULTS_ENV = "ENROLLCTL_FAULTS"
FAULT_SEED_ENV = "ENROLLCTL_FAULT_SEED"
T = TypeVar("T")


class Fault(StrEnum):
    DYNAMODB_CONFLICT = "dynamodb-conflict"
    DYNAMODB_THROTTLE = "dynamodb-throttle"
    LAMBDA_THROTTLE = "lambda-throttle"
    LAMBDA_CRASH = "lambda-crash"
    S3_SLOWDOWN = "s3-slowdown"
    EVENT_DUPLICATE = "event-duplicate"


class FaultSpecError(ValueError):
    """A fault specification that cannot be read (unknown fault, rate outside 0..1, not ``name=rate``)."""


def parse_rates(spec: str) -> dict[Fault, float]:
    """``"dynamodb-throttle=0.2, lambda-crash=0.05"`` → rate per fault; an empty spec injects nothing."""
    rates: dict[Fault, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, separator, value = item.partition("=")
        if not separator:
            raise FaultSpecError(f"{item!r}: expected name=rate")
        fault = _fault_named(name.strip())
        rates[fault] = _rate(fault, value.strip())
    return rates


def _fault_named(name: str) -> Fault:
    try:
        return Fault(name)
    except ValueError:
        known = ", ".join(fault.value for fault in Fault)
        raise FaultSpecError(f"unknown fault {name!r} (known: {known})") from None


def _rate(fault: Fault, value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise FaultSpecError(f"{fault}: rate {value!r} is not a number") from None
    if not 0.0 <= rate <= 1.0:
        raise FaultSpecError(f"{fault}: rate {rate} is outside 0..1")
    return rate


@dataclass(frozen=True)
class FaultCount:
    """``injected``: how often the fault fired; ``surfaced``: how many of those reached the caller's code as an
    error (an SDK retries throttles by itself: the rest were absorbed by its retries)."""

    injected: int = 0
    surfaced: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"injected": self.injected, "surfaced": self.surfaced}


class FaultInjector:
    """The faults to inject and their rates; one seeded ``random.Random`` for every decision (thread-safe)."""

    def __init__(self, rates: Mapping[Fault, float] | str | None = None, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self.rates: dict[Fault, float] = {}
        self.seed = 0
        self._random = random.Random()
        self._counts: dict[Fault, FaultCount] = {}
        self.reset(rates, seed)

    def reset(self, rates: Mapping[Fault, float] | str | None, seed: int | None = None) -> None:
        """New rates, a new random source and zero counts (a run of its own); no seed picks one, and logs it."""
        parsed = parse_rates(rates) if isinstance(rates, str) else dict(rates or {})
        with self._lock:
            self.rates = {fault: rate for fault, rate in parsed.items() if rate > 0}
            self.seed = random.SystemRandom().randrange(2**31) if seed is None else seed
            self._random = random.Random(self.seed)
            self._counts = {}
        if self.rates:
            LOG.warning("injecting faults %s with seed %d", self.describe(), self.seed)

    @property
    def active(self) -> bool:
        return bool(self.rates)

    def describe(self) -> str:
        return ",".join(f"{fault}={rate:g}" for fault, rate in self.rates.items())

    # ------------------------------------------------------------------------------------ decisions

    def fires(self, fault: Fault) -> bool:
        """Whether ``fault`` fires now (a draw only for a fault that is on, so others keep their sequence)."""
        rate = self.rates.get(fault, 0.0)
        if rate <= 0.0:
            return False
        with self._lock:
            return self._random.random() < rate

    def choice(self, options: Sequence[T]) -> T:
        with self._lock:
            return self._random.choice(options)

    def randint(self, low: int, high: int) -> int:
        with self._lock:
            return self._random.randint(low, high)

    def uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self._random.uniform(low, high)

    # ------------------------------------------------------------------------------------- records

    def injected(self, fault: Fault, what: str, *, surfaced: bool = True) -> None:
        """Count and log one injected fault; ``surfaced`` False when an SDK's own retries may still absorb it
        (:meth:`surfaced` counts it then). ``what`` names operations and functions only: never keys or ids."""
        with self._lock:
            count = self._counts.get(fault, FaultCount())
            self._counts[fault] = FaultCount(count.injected + 1, count.surfaced + int(surfaced))
        LOG.warning("fault %s: %s", fault, what)

    def surfaced(self, fault: Fault) -> None:
        with self._lock:
            count = self._counts.get(fault, FaultCount())
            self._counts[fault] = FaultCount(count.injected, count.surfaced + 1)

    def counts(self) -> dict[str, FaultCount]:
        """Every fault that is on (and any that fired), by name."""
        with self._lock:
            names = {*self.rates, *self._counts}
            return {fault.value: self._counts.get(fault, FaultCount()) for fault in Fault if fault in names}

