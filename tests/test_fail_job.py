"""The catch-all's two callers: the state machine's Catch and the EventBridge rule on the execution's status
change (what no Catch sees: an abort, a time-out, States.DataLimitExceeded); both name the job and the reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from speaker_enrollment.domain.workflow.errors import failure_details
from speaker_enrollment.handlers.fail_job import JobFailed, WorkflowError
from speaker_enrollment.handlers.runtime import JobRef

DOMAIN, JOB = "D" * 22, "J" * 22


def status_change(status: str, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
    """An EventBridge "Step Functions Execution Status Change" event as AWS publishes it."""
    return {"version": "0", "source": "aws.states", "detail-type": "Step Functions Execution Status Change",
            "detail": {"executionArn": f"arn:aws:states:us-east-1:123456789012:execution:EnrollmentWorkflow:{JOB}",
                       "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:EnrollmentWorkflow",
                       "name": JOB, "status": status, "input": json.dumps({"DomainId": DOMAIN, "JobId": JOB}),
                       "output": None, "error": error, "cause": cause}}


def test_the_catch_all_reports_the_lambda_error_inside_the_cause() -> None:
    cause = json.dumps({"errorType": "ManifestError", "errorMessage": "The input manifest is not valid JSON"})
    failed = JobFailed.from_event({"DomainId": DOMAIN, "JobId": JOB, "Error": {"Error": "ManifestError",
                                                                               "Cause": cause}})
    assert failed == JobFailed(JobRef(DOMAIN, JOB), WorkflowError("ManifestError",
                                                                  "The input manifest is not valid JSON"))
    assert failure_details(failed.error.error_type, failed.error.message).status_code == 400


@pytest.mark.parametrize(("status", "reason"), [("ABORTED", "was stopped (StopExecution)"),
                                                ("TIMED_OUT", "timed out")])
def test_an_execution_stopped_without_an_error_fails_its_job_saying_how(status: str, reason: str) -> None:
    failed = JobFailed.from_event(status_change(status))
    assert failed.job == JobRef(DOMAIN, JOB) and failed.error.error_type == f"States.{status}"
    details = failure_details(failed.error.error_type, failed.error.message)
    assert details.status_code == 500 and reason in details.message


def test_an_uncaught_error_of_the_execution_is_the_reason() -> None:
    failed = JobFailed.from_event(status_change("FAILED", "States.DataLimitExceeded",
                                                "The state/task returned a result with a size exceeding the limit"))
    assert failed.error == WorkflowError("States.DataLimitExceeded",
                                         "The state/task returned a result with a size exceeding the limit")
