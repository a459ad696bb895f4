"""A burst on the local runtime (issue 18 item 1): ~100 recorded calls and 2 evaluation jobs of 40 requests uploaded
at once complete with no timeout and no dropped event; every session ENDED with a decision and every job request is
listed exactly once in its output file. ``make bench-burst`` runs the issue's full size (bench/burst.py)."""

from __future__ import annotations

import threading
import time

import pytest
from enrollctl.local.concurrency import ConcurrencyLimits, InvocationSlots
from enrollctl.local.runtime import LocalRuntime

from bench.burst import run_burst

ENVIRONMENT = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


@pytest.mark.slow
def test_a_burst_of_uploads_and_jobs_completes_without_a_timeout_or_a_drop() -> None:
    with LocalRuntime.start(port=0, environment=ENVIRONMENT) as runtime:
        result = run_burst(runtime, sessions=100, jobs=2, requests=40, call_seconds=8, timeout=900)
    assert (result.timeouts, result.drops, result.undecided, result.misreported) == (0, 0, [], {}), result.report()
    assert result.peak_queue > 0  # the burst was queued, not run all at once


def test_slots_bound_each_function_and_all_and_let_other_functions_pass() -> None:
    slots = InvocationSlots(ConcurrencyLimits(per_function=1, total=2))
    slots.acquire("a")
    started: list[str] = []

    def invoke(name: str) -> None:
        slots.acquire(name)
        started.append(name)

    waiting_a = threading.Thread(target=invoke, args=("a",), daemon=True)
    waiting_a.start()
    time.sleep(0.1)
    invoke("b")  # a's second invocation waits for a's slot; b's passes it
    assert (started, slots.running(), slots.waiting()) == (["b"], 2, 1)
    slots.release("a")
    waiting_a.join(5)
    assert started == ["b", "a"]
    assert slots.peak_waiting == 1


def test_limits_default_to_the_cores_per_function_and_twice_in_all() -> None:
    limits = ConcurrencyLimits.for_cores(4)
    assert (limits.per_function, limits.total) == (4, 8)
    assert ConcurrencyLimits.for_cores(4, per_function=1, total=3) == ConcurrencyLimits(1, 3)
    with pytest.raises(ValueError, match="at least 1"):
        ConcurrencyLimits(0, 1)
