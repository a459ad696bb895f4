"""Catch-all: whatever stopped the workflow, the job ends FAILED with FailureDetails.

Two callers: the state machine's own catch-all (``{"DomainId","JobId","Error":{"Error","Cause"}}``), and the
EventBridge rule on the execution's status change (FAILED, TIMED_OUT, ABORTED), for what no catch sees
(``States.DataLimitExceeded``, an abort, a time-out, a failing FailJob). The first failure recorded wins: the
second caller finds the job FAILED already and changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .runtime import JobRef, bind_job, composition, logger, metrics, private_errors, traced

STATUS_CHANGE = "Step Functions Execution Status Change"
STOPPED_WITHOUT_ERROR = {"ABORTED": "The job's execution was stopped (StopExecution) before the job finished",
                         "TIMED_OUT": "The job's execution timed out before the job finished"}


@dataclass(frozen=True)
class WorkflowError:
    """Step Functions' caught error: ``{"Error": name, "Cause": text or a Lambda error document}``."""

    error_type: str
    message: str

    @classmethod
    def from_catch(cls, error: dict[str, Any]) -> WorkflowError:
        return cls.of(str(error.get("Error", "States.Runtime")), str(error.get("Cause") or ""))

    @classmethod
    def of(cls, name: str, cause: str) -> WorkflowError:
        try:
            document = json.loads(cause)
        except json.JSONDecodeError:
            return cls(name, cause)
        if isinstance(document, dict) and "errorMessage" in document:
            return cls(str(document.get("errorType", name)), str(document["errorMessage"]))
        return cls(name, cause)


@dataclass(frozen=True)
class JobFailed:
    job: JobRef
    error: WorkflowError

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> JobFailed:
        if event.get("detail-type") != STATUS_CHANGE:
            return cls(JobRef.from_event(event), WorkflowError.from_catch(event.get("Error", {})))
        detail = event["detail"]
        status = str(detail.get("status", "FAILED"))
        if detail.get("error"):
            error = WorkflowError.of(str(detail["error"]), str(detail.get("cause") or ""))
        else:
            error = WorkflowError(f"States.{status}", STOPPED_WITHOUT_ERROR.get(status, f"The execution {status}"))
        return cls(JobRef.from_event(json.loads(detail["input"])), error)


@logger.inject_lambda_context
@traced
@metrics.log_metrics
@private_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failed = JobFailed.from_event(event)
    bind_job(failed.job)
    logger.error("job failed", extra={"error_type": failed.error.error_type})
    composition().steps.fail(failed.job.domain_id, failed.job.job_id, failed.error.error_type, failed.error.message)
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    return {"DomainId": failed.job.domain_id, "JobId": failed.job.job_id, "JobStatus": "FAILED"}
