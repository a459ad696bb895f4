"""What every handler shares: Powertools, the composition root built once per container, the job reference, and
keeping personal data out of telemetry.

Personal data (CustomerSpeakerIds, S3 URIs, role ARNs, voiceprints) stays out of logs, traces and the execution
history: handlers log ids of jobs and domains only, traces record neither responses nor error messages
(`traced`), and an error leaves a handler as its type alone (`private_errors`): a job's own failure is recorded
in its FailureDetails (which its owner reads through the API) before it is raised without its message.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..composition import Composition
from ..domain.shared.job import BatchJob
from ..domain.workflow.errors import JobFailure
from ..domain.workflow.steps import JobSteps
from ..telemetry import error_location

logger = Logger()
tracer = Tracer(auto_patch=False)  # patched boto3 would record every S3 key (personal data) in X-Ray
metrics = Metrics()
RECORDED = "recorded in the job's FailureDetails"
Handler = TypeVar("Handler", bound=Callable[[Any, LambdaContext], Any])


class UnexpectedError(Exception):
    """An error the handler did not expect, by type name only (its message may hold personal data)."""


def traced(handler: Handler) -> Handler:
    """X-Ray tracing of `handler` without its response or its error's message (X-Ray does not use the stack's
    KMS key)."""
    return cast(Handler, tracer.capture_lambda_handler(handler, capture_response=False, capture_error=False))


def private_errors(handler: Handler) -> Handler:
    """Let an error out of `handler` by its type alone, and log where it happened. A JobFailure about an event's
    job is first recorded as the job's FailureDetails (the first failure recorded wins)."""

    @functools.wraps(handler)
    def wrapped(event: Any, context: LambdaContext) -> Any:
        try:
            return handler(event, context)
        except JobFailure as failure:
            logger.error("job failure", extra={"error_type": type(failure).__name__, "where": error_location(failure)})
            try:
                _record(event, failure)
            except Exception as error:  # the catch-all records it instead; never let the message out
                logger.error("recording the failure failed", extra={"error_type": type(error).__name__})
            raise type(failure)(RECORDED) from None
        except Exception as error:
            logger.error("unexpected error", extra={"error_type": type(error).__name__, "where": error_location(error)})
            raise UnexpectedError(type(error).__name__) from None

    return wrapped  # type: ignore[return-value]


def _record(event: Any, failure: JobFailure) -> None:
    if isinstance(event, dict) and "DomainId" in event and "JobId" in event:
        ref = JobRef.from_event(event)
        composition().steps.fail(ref.domain_id, ref.job_id, type(failure).__name__, failure.message)


@cache
def composition() -> Composition:
    """Settings are read and validated here, at cold start: a missing or invalid variable fails the first
    invocation with a message naming it."""
    return Composition.from_env()


@dataclass(frozen=True)
class JobRef:
    """The state machine's job reference: ``{"DomainId": ..., "JobId": ...}``."""

    domain_id: str
    job_id: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> JobRef:
        return cls(str(event["DomainId"]), str(event["JobId"]))


def open_job(ref: JobRef) -> tuple[JobSteps, BatchJob]:
    """Correlate this invocation's logs with the job, and load the job."""
    bind_job(ref)
    steps = composition().steps
    return steps, steps.load(ref.domain_id, ref.job_id)


def bind_job(ref: JobRef) -> None:
    """Correlate every log line of this invocation with the job."""
    logger.append_keys(domain_id=ref.domain_id, job_id=ref.job_id)
    logger.set_correlation_id(ref.job_id)
    tracer.put_annotation("JobId", ref.job_id)


@dataclass(frozen=True)
class UploadedObject:
    """An inbox upload as its S3 ``Object Created`` event reports it (Powertools' data class decodes the
    URL-encoded key); `sequencer` orders uploads of one key and is the same when the event is redelivered."""

    bucket: str
    key: str
    sequencer: str | None
    version_id: str | None
    etag: str | None


def uploaded_object(event: S3EventBridgeNotificationEvent) -> UploadedObject:
    obj = event.detail.object
    return UploadedObject(event.detail.bucket.name, obj.key, obj.get("sequencer"), obj.get("version-id"),
                          obj.get("etag"))
