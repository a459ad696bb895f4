"""Running a maintenance task to its end in the caller: what a ``MaintenanceStarter`` does until the background
workflow (Step Functions "DomainMaintenance") runs the tasks, and the synchronous starter tests use."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..shared.errors import KeyUnusableError
from .maintenance import DomainTask


def run_to_end(task: DomainTask, domain_id: str, time_left: Callable[[], float]) -> None:
    """Every page of `task` for the domain, then ``complete``; a refusal of the domain's key ends it with ``fail``
    (its message is for the domain's owner)."""
    cursor: str | None = None
    try:
        while True:
            cursor = task.run_page(domain_id, cursor, time_left)
            if cursor is None:
                break
    except KeyUnusableError as refused:
        task.fail(domain_id, str(refused))
        return
    task.complete(domain_id)


@dataclass(frozen=True)
class InlineMaintenance:
    """Starts a task by running it at once, in the caller (an API call waits for it)."""

    tasks: Mapping[str, DomainTask]
    clock: Callable[[], float] = time.monotonic

    def start(self, domain_id: str, task: str) -> None:
        run_to_end(self.tasks[task], domain_id, lambda: float("inf"))
