"""Manifest ingest: an upload of manifests/<DomainId>/<name>.json (speaker enrollment) or
fraudsters/<DomainId>/<name>.json (fraudster registration) to the inbox bucket starts a job."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from speaker_enrollment.domain.workflow.kinds import JOB_TYPES

from stacks.nag import acknowledge, acknowledge_wildcard
from stacks.storage import EnrollmentStorage

MANIFEST_KEY_WILDCARDS = tuple(f"{job_type.upload_prefix}/*/*.json" for job_type in JOB_TYPES)  # one per kind
EVENT_RETRY_ATTEMPTS = 8
EVENT_MAX_AGE = Duration.hours(6)
FUNCTION_ASYNC_RETRY_ATTEMPTS = 2
DEAD_LETTER_RETENTION = Duration.days(14)


def manifest_event_pattern(inbox_bucket_name: str) -> dict[str, Any]:
    """The rule's event pattern as EventBridge sees it (also used by the tests' matcher)."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [inbox_bucket_name]},
            "object": {"key": [{"wildcard": wildcard} for wildcard in MANIFEST_KEY_WILDCARDS]},
        },
    }


class ManifestIngest(Construct):
    """EventBridge rule (S3 Object Created of a manifest in the inbox) -> SubmitJobFunction, with a DLQ."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: EnrollmentStorage,
        submit_job_function: lambda_.Function,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = self._dead_letter_queue(storage)
        self.rule = self._rule(storage)
        self.rule.add_target(
            targets.LambdaFunction(
                submit_job_function,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=EVENT_RETRY_ATTEMPTS,
                max_event_age=EVENT_MAX_AGE,
            )
        )
        send_async_failures(submit_job_function, self.dead_letter_queue)

    def _dead_letter_queue(self, storage: EnrollmentStorage) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=storage.key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue: of the manifest rule's and the execution failure rule's "
            "targets and of the submit and fail-job functions' failed asynchronous invocations.",
        )
        storage.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeToUseTheDeadLetterQueue",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        return queue

    def _rule(self, storage: EnrollmentStorage) -> events.Rule:
        pattern = manifest_event_pattern(storage.inbox_bucket.bucket_name)
        return events.Rule(
            self,
            "ManifestUploadedRule",
            description="A manifest uploaded to the inbox bucket (manifests/<DomainId>/<name>.json or "
            "fraudsters/<DomainId>/<name>.json) starts a job",
            event_pattern=events.EventPattern(
                source=pattern["source"],
                detail_type=pattern["detail-type"],
                detail=pattern["detail"],
            ),
        )



def send_async_failures(function: lambda_.Function, dead_letter_queue: sqs.IQueue) -> None:
    """EventBridge invokes asynchronously: events the function itself fails on land in the dead-letter queue."""
    function.configure_async_invoke(
        on_failure=destinations.SqsDestination(dead_letter_queue),
        retry_attempts=FUNCTION_ASYNC_RETRY_ATTEMPTS,
    )
    role = function.role
    assert role is not None
    for action in ("kms:ReEncrypt*", "kms:GenerateDataKey*"):
        acknowledge_wildcard(
            role,
            f"Action::{action}",
            "CDK's SqsDestination grant (grantSendMessages) for the SSE-KMS dead-letter queue: the "
            "encrypt/re-encrypt/data-key family, on the stack's one KMS key only.",
        )
