"""Execution failure watch: whatever stops a job's execution without its own catch-all running (an abort, a
time-out, ``States.DataLimitExceeded``, a failing FailJob), Step Functions publishes the status change and the
FailJob function marks the job FAILED with FailureDetails. A job never stays IN_PROGRESS."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.ingest import send_async_failures

FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
EVENT_RETRY_ATTEMPTS = 8
EVENT_MAX_AGE = Duration.hours(24)


def execution_failure_pattern(state_machine_arn: str) -> dict[str, Any]:
    """The rule's event pattern as EventBridge sees it (also used by the tests and the local runtime)."""
    return {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"stateMachineArn": [state_machine_arn], "status": list(FAILED_STATUSES)},
    }


class ExecutionFailureWatch(Construct):
    """EventBridge rule (this state machine's executions FAILED, TIMED_OUT or ABORTED) -> FailJobFunction."""

    def __init__(self, scope: Construct, construct_id: str, *, state_machine: sfn.IStateMachine,
                 fail_job_function: lambda_.Function, dead_letter_queue: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        pattern = execution_failure_pattern(state_machine.state_machine_arn)
        self.rule = events.Rule(
            self,
            "ExecutionFailedRule",
            description="A job execution that failed, timed out or was aborted marks its job FAILED",
            event_pattern=events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"],
                                              detail=pattern["detail"]),
        )
        self.rule.add_target(targets.LambdaFunction(
            fail_job_function, dead_letter_queue=dead_letter_queue, retry_attempts=EVENT_RETRY_ATTEMPTS,
            max_event_age=EVENT_MAX_AGE,
        ))
        send_async_failures(fail_job_function, dead_letter_queue)
