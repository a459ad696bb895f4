"""Catch-all: whatever stopped the workflow, the job ends FAILED with FailureDetails."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .runtime import JobRef, bind_job, composition, logger, metrics, tracer


@dataclass(frozen=True)
class WorkflowError:
    """Step Functions' caught error: ``{"Error": name, "Cause": text or a Lambda error document}``."""

    error_type: str
    message: str

    @classmethod
    def from_event(cls, error: dict[str, Any]) -> WorkflowError:
        name = str(error.get("Error", "States.Runtime"))
        cause = str(error.get("Cause", ""))
        try:
            document = json.loads(cause)
        except json.JSONDecodeError:
            return cls(name, cause)
        if isinstance(document, dict) and "errorMessage" in document:
            return cls(str(document.get("errorType", name)), str(document["errorMessage"]))
        return cls(name, cause)


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ref = JobRef.from_event(event)
    bind_job(ref)
    error = WorkflowError.from_event(event.get("Error", {}))
    logger.error("job failed", extra={"error_type": error.error_type, "error_message": error.message})
    composition().steps.fail(ref.domain_id, ref.job_id, error.error_type, error.message)
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    return {"DomainId": ref.domain_id, "JobId": ref.job_id, "JobStatus": "FAILED"}
