"""Starting a job's workflow: one execution per job, named after the JobId."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING

from ..domain.shared.job import BatchJob

if TYPE_CHECKING:  # the stubs are dev-only: the Lambda runtime never imports them
    from mypy_boto3_stepfunctions.client import SFNClient


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
