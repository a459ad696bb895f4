"""EventBridge rules on a schedule, locally. moto's EventBridge fires nothing: the runtime sends a rule's
``Scheduled Event`` to its targets when asked (``LocalRuntime.run_schedules``), or, with ``enrollctl serve
--schedules``, on a ``ScheduleClock`` at each ``rate(...)`` rule's rate (the first time one period after the
start, as a new rule fires)."""

from __future__ import annotations

import datetime
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

LOG = logging.getLogger(__name__)
SOURCE = "aws.events"
DETAIL_TYPE = "Scheduled Event"
RATE = re.compile(r"rate\((\d+) (minutes?|hours?|days?)\)")
CRON = re.compile(r"cron\(.+\)")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int | None:
    """The period of a ``rate(...)`` expression in seconds; None for a ``cron(...)`` one; ValueError for what
    EventBridge refuses (another form, a value below 1, ``rate(1 days)`` or ``rate(5 day)``)."""
    if CRON.fullmatch(expression):
        return None
    match = RATE.fullmatch(expression)
    if match is None:
        raise ValueError(f"{expression!r} is not a rate(...) or cron(...) schedule expression")
    value, unit = int(match[1]), match[2]
    if value < 1 or (value == 1) == unit.endswith("s"):
        raise ValueError(f"{expression!r}: the value must be at least 1, the unit singular for 1 and plural above")
    return value * UNIT_SECONDS[unit.removesuffix("s")]


def scheduled_event(account: str, region: str, rule_arn: str,
                    moment: datetime.datetime | None = None) -> dict[str, Any]:
    """The event a scheduled rule sends its targets (docs: 'Creating a rule that runs on a schedule')."""
    moment = moment or datetime.datetime.now(tz=datetime.UTC)
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": DETAIL_TYPE, "source": SOURCE,
            "account": account, "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
            "resources": [rule_arn], "detail": {}}


class ScheduleClock:
    """Calls ``fire(rule_name)`` every period of each ``(rule name, period in seconds)`` until stopped."""

    def __init__(self, periods: Iterable[tuple[str, float]], fire: Callable[[str], Any]) -> None:
        self._stopped = threading.Event()
        self._fire = fire
        self._threads = [threading.Thread(target=self._run, args=(name, period), name=f"schedule-{name}",
                                          daemon=True) for name, period in periods]

    def start(self) -> ScheduleClock:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self, name: str, period: float) -> None:
        while not self._stopped.wait(period):
            try:
                self._fire(name)
            except Exception:
                LOG.exception("firing schedule %s failed", name)
