"""EventBridge ``Object Created`` in the inbox under ``<prefix>/<DomainId>/`` (each job type has its prefix:
``manifests/`` speaker enrollment, ``fraudsters/`` fraudster registration) → one job."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..domain.shared.s3uri import S3Location
from ..domain.workflow.submission import Upload, request_from_upload
from .runtime import composition, logger, metrics, private_errors, traced, uploaded_object


def upload_of(event: S3EventBridgeNotificationEvent, metadata_of: Any) -> Upload:
    """The upload an event reports; the S3 sequencer identifies it (the same on redelivery), else its version id,
    ETag or the event id."""
    uploaded = uploaded_object(event)
    upload_id = uploaded.sequencer or uploaded.version_id or uploaded.etag or event.get("id", "")
    location = S3Location(uploaded.bucket, uploaded.key)
    return Upload(uploaded.bucket, uploaded.key, str(upload_id), metadata_of(location, uploaded.version_id),
                  uploaded.version_id)


@logger.inject_lambda_context
@traced
@metrics.log_metrics
@private_errors
@event_source(data_class=S3EventBridgeNotificationEvent)
def handler(event: S3EventBridgeNotificationEvent, context: LambdaContext) -> dict[str, Any]:
    root = composition()
    upload = upload_of(event, root.inbox.metadata)
    uploaded = request_from_upload(upload, root.job_types, root.upload_defaults)
    job = root.submitter.submit(uploaded.request, refusal=uploaded.refusal)
    logger.info("job submitted", extra={"job_id": job.job_id, "status": job.status.value, "kind": job.kind})
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    return {"DomainId": job.domain_id, "JobId": job.job_id, "JobStatus": job.status.value}
