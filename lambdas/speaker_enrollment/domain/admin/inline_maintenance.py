"""Running a maintenance task in the caller, page after page: what a ``MaintenanceStarter`` does until the
background workflow (Step Functions "DomainMaintenance") runs the tasks, and the synchronous starter of tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..shared.errors import KeyUnusableError
from .maintenance import DomainTask

INLINE_BUDGET_SECONDS = 20.0  # an API call's share (API Gateway gives an integration 29 s)
UNFINISHED = ("The re-encryption did not finish within the request that started it; call UpdateDomain with the "
              "same KMS key to continue it")


def run_to_end(task: DomainTask, domain_id: str, time_left: Callable[[], float]) -> None:
    """Every page of `task` for the domain, then ``complete``; a refusal of the domain's key ends it with ``fail``
    (its message is for the domain's owner), and so does running out of `time_left` with pages left."""
    cursor: str | None = None
    try:
        while True:
            cursor = task.run_page(domain_id, cursor, time_left)
            if cursor is None:
                break
            if time_left() <= 0:
                task.fail(domain_id, UNFINISHED)
                return
    except KeyUnusableError as refused:
        task.fail(domain_id, str(refused))
        return
    task.complete(domain_id)


@dataclass(frozen=True)
class InlineMaintenance:
    """Starts a task by running it at once, in the caller, for at most `budget_seconds`."""

    tasks: Mapping[str, DomainTask]
    budget_seconds: float = INLINE_BUDGET_SECONDS
    clock: Callable[[], float] = time.monotonic

    def start(self, domain_id: str, task: str) -> None:
        deadline = self.clock() + self.budget_seconds
        run_to_end(self.tasks[task], domain_id, lambda: deadline - self.clock())
