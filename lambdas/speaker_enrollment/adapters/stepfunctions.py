"""Step Functions: a job's workflow (one execution per job, named after the JobId) and the domain maintenance
workflow (one execution per task run)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..domain.shared.job import BatchJob

if TYPE_CHECKING:  # the stubs are dev-only: the Lambda runtime never imports them
    from mypy_boto3_stepfunctions.client import SFNClient


def execution_arn(state_machine_arn: str, name: str) -> str:
    """``arn:…:stateMachine:<machine>`` → ``arn:…:execution:<machine>:<name>``."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


class StepFunctionsWorkflow:
    def __init__(self, client: SFNClient, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, job: BatchJob) -> None:
        # A retry of the same submission finds the execution already there: the job runs (or ran).
        with contextlib.suppress(self._sfn.exceptions.ExecutionAlreadyExists):
            self._sfn.start_execution(
                stateMachineArn=self._arn, name=job.job_id,
                input=json.dumps({"DomainId": job.domain_id, "JobId": job.job_id}),
            )

    def stop(self, job: BatchJob, cause: str) -> None:
        # Never started (a SUBMITTED job whose start failed) or already ended: nothing to stop.
        with contextlib.suppress(self._sfn.exceptions.ExecutionDoesNotExist):
            self._sfn.stop_execution(executionArn=execution_arn(self._arn, job.job_id), cause=cause)


class StepFunctionsMaintenance:
    """Starts a maintenance task as an execution named ``<task>-<DomainId>-<milliseconds>`` (unique: every run of a
    task is idempotent, so two runs overlapping do no harm)."""

    def __init__(self, client: SFNClient, state_machine_arn: str, clock: Callable[[], float]) -> None:
        self._sfn = client
        self._arn = state_machine_arn
        self._clock = clock

    def start(self, domain_id: str, task: str) -> None:
        self._sfn.start_execution(
            stateMachineArn=self._arn, name=f"{task}-{domain_id}-{round(self._clock() * 1000)}",
            input=json.dumps({"DomainId": domain_id, "Task": task}),
        )
