"""Background work over all of one domain's data: purge after DeleteDomain, re-encryption after UpdateDomain
with a new key, expiry of speakers not accessed for a long time.

A ``DomainTask`` walks the domain's items a page at a time, so one run of any size fits Lambda's time limit:
the maintenance workflow calls ``run_page`` with the cursor it returned last time (``None`` at the start) until
it returns ``None``, then ``complete``; if a page fails for good, ``fail`` records why. Pages must be idempotent:
a retried page (a crash, a timeout) must do no harm.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol


class DomainTask(Protocol):
    @property
    def name(self) -> str:
        """The task's name in the maintenance workflow's input (``purge``, ``reencrypt``, ``expire``)."""

    def run_page(self, domain_id: str, cursor: str | None, time_left: Callable[[], float]) -> str | None:
        """Do the next page of work from ``cursor``; the cursor to continue from, or ``None`` when done.

        ``time_left()`` is the number of seconds this invocation may still spend: stop early and return a cursor.
        """

    def complete(self, domain_id: str) -> None:
        """Record that the task finished for the domain."""

    def fail(self, domain_id: str, message: str) -> None:
        """Record that the task failed for good, with a message fit for the domain's owner."""


class MaintenanceStarter(Protocol):
    def start(self, domain_id: str, task: str) -> None:
        """Start ``task`` for the domain in the background (idempotent: the same task twice runs once at a time)."""


def tasks_by_name(*tasks: DomainTask) -> Mapping[str, DomainTask]:
    return {task.name: task for task in tasks}
