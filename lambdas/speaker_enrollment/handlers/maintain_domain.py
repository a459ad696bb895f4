"""The DomainMaintenance workflow's task: one page of a maintenance task (purge, expire, reencrypt) for a domain.

Two callers: the loop (``{"DomainId","Task","Cursor"?}`` → the same plus ``Cursor``, ``Outcome`` RUNNING |
COMPLETED | REFUSED and the page's ``Counts``, also sent as metrics), and the workflow's catch-all
(``{"DomainId","Task","Error":{...}}``), which records that the task failed for good (the re-encryption's FAILED
status says so to the domain's owner).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..domain.admin.maintenance import DomainTask, run_step
from .runtime import composition, logger, metrics, private_errors, traced

# Kept for the last page's writes and the return, out of the invocation's time.
RESERVE_SECONDS = 5.0
FAILED = ("The background {task} stopped after repeated errors ({error}); it is retried by the next scheduled "
          "maintenance run, or, for a re-encryption, by UpdateDomain with the same KMS key")


@dataclass(frozen=True)
class TaskRun:
    domain_id: str
    task: str
    cursor: str | None = None
    error_type: str | None = None  # the catch-all's Error.Error: the run failed

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> TaskRun:
        error = event.get("Error")
        return cls(str(event["DomainId"]), str(event["Task"]), event.get("Cursor"),
                   str(error.get("Error", "States.Runtime")) if isinstance(error, dict) else None)


def _task(run: TaskRun) -> DomainTask:
    logger.append_keys(domain_id=run.domain_id, task=run.task)
    logger.set_correlation_id(run.domain_id)
    return composition().maintenance_tasks[run.task]


@logger.inject_lambda_context
@traced
@metrics.log_metrics
@private_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = TaskRun.from_event(event)
    task = _task(run)
    if run.error_type is not None:
        logger.error("maintenance failed", extra={"error_type": run.error_type})
        task.fail(run.domain_id, FAILED.format(task=run.task, error=run.error_type))
        return {"DomainId": run.domain_id, "Task": run.task, "Outcome": "FAILED"}
    step = run_step(task, run.domain_id, run.cursor,
                    lambda: context.get_remaining_time_in_millis() / 1000 - RESERVE_SECONDS)
    for name, count in step.page.counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    logger.info("maintenance page", extra={"outcome": step.outcome.value, **step.page.counts})
    return {"DomainId": run.domain_id, "Task": run.task, "Cursor": step.page.cursor, "Outcome": step.outcome.value,
            "Counts": dict(step.page.counts)}
