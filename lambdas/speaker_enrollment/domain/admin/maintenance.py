"""Background work over all of one domain's data: purge after DeleteDomain, re-encryption after UpdateDomain
with a new key, expiry of speakers not accessed for a long time.

A ``DomainTask`` walks the domain's items a page at a time, so one run of any size fits Lambda's time limit:
the maintenance workflow (Step Functions "DomainMaintenance") calls ``run_page`` with the cursor it returned last
time (``None`` at the start) until the cursor is ``None``, then ``complete``; if a page fails for good, ``fail``
records why. Pages must be idempotent: a retried page (a crash, a timeout) must do no harm.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from ..shared.errors import KeyUnusableError

PURGE = "purge"  # every item and inbox object of a deleted domain (admin/purge.py)
EXPIRE = "expire"  # speakers not accessed for the retention period (admin/expiry.py)
REENCRYPT = "reencrypt"  # the domain's voiceprints sealed again under its new KMS key (admin/reencrypt.py)


@dataclass(frozen=True)
class PageDone:
    """Where a page stopped (``None``: the task is done) and what it did, by metric name (``SpeakersExpired``)."""

    cursor: str | None
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Passes:
    """A task's place in its walk over a sequence of sources (tables, prefixes), page by page, pass after pass: a
    pass that changed something is followed by another, because a writer in flight may have written under the old
    state meanwhile; the walk ends after a pass that changed nothing."""

    source: int = 0  # index into the task's sources
    after: str | None = None  # the source's page position
    changed: bool = False  # whether this pass changed anything so far

    def to_cursor(self) -> str:
        return json.dumps({"source": self.source, "after": self.after, "changed": self.changed})

    @classmethod
    def of(cls, cursor: str | None) -> Passes:
        if cursor is None:
            return cls()
        data = json.loads(cursor)
        return cls(int(data["source"]), data.get("after"), bool(data.get("changed")))

    def following(self, after: str | None, changed: bool, sources: int) -> Passes | None:
        """Where to go on from after a page that ended at `after` (None: the source's end); None when done."""
        changed = changed or self.changed
        if after is not None:
            return Passes(self.source, after, changed)
        if self.source + 1 < sources:
            return Passes(self.source + 1, None, changed)
        return Passes() if changed else None


class DomainTask(Protocol):
    @property
    def name(self) -> str:
        """The task's name in the maintenance workflow's input (``purge``, ``reencrypt``, ``expire``)."""

    def run_page(self, domain_id: str, cursor: str | None, time_left: Callable[[], float]) -> PageDone:
        """Do the next page of work from ``cursor``; the cursor to continue from, or ``None`` when done.

        ``time_left()`` is the number of seconds this invocation may still spend: stop early and return a cursor.
        """

    def complete(self, domain_id: str) -> None:
        """Record that the task finished for the domain."""

    def fail(self, domain_id: str, message: str) -> None:
        """Record that the task failed for good, with a message fit for the domain's owner."""


class MaintenanceStarter(Protocol):
    def start(self, domain_id: str, task: str) -> None:
        """Start ``task`` for the domain in the background (tasks are idempotent: a second run does no harm)."""


def tasks_by_name(*tasks: DomainTask) -> Mapping[str, DomainTask]:
    return {task.name: task for task in tasks}


class Outcome(StrEnum):
    RUNNING = "RUNNING"  # more pages to go: call again with the cursor
    COMPLETED = "COMPLETED"
    REFUSED = "REFUSED"  # a KMS key refused (disabled, pending deletion, not allowed): recorded by ``fail``


@dataclass(frozen=True)
class Step:
    """One page of a task as the maintenance workflow runs it."""

    outcome: Outcome
    page: PageDone


def run_step(task: DomainTask, domain_id: str, cursor: str | None, time_left: Callable[[], float]) -> Step:
    """The next page of `task`; ``complete`` after the last one. A refusal of a KMS key is no error to retry: the
    task ``fail``s with its message (for the domain's owner) and the run ends REFUSED."""
    try:
        page = task.run_page(domain_id, cursor, time_left)
    except KeyUnusableError as refused:
        task.fail(domain_id, str(refused))
        return Step(Outcome.REFUSED, PageDone(None))
    if page.cursor is not None:
        return Step(Outcome.RUNNING, page)
    task.complete(domain_id)
    return Step(Outcome.COMPLETED, page)


def run_to_end(task: DomainTask, domain_id: str, time_left: Callable[[], float] = lambda: float("inf")) -> Outcome:
    """Every page of `task` in the caller (tests, and the benchmarks' reference)."""
    cursor: str | None = None
    while True:
        step = run_step(task, domain_id, cursor, time_left)
        if step.outcome is not Outcome.RUNNING:
            return step.outcome
        cursor = step.page.cursor
