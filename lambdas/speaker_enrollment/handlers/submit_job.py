"""EventBridge ``Object Created`` in the inbox under ``manifests/<DomainId>/`` (speaker enrollment) or
``fraudsters/<DomainId>/`` (fraudster registration) → one job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..domain.s3uri import S3Location
from ..domain.submission import Submitter, UploadDefaults, metadata_problem, request_from_upload
from .runtime import (
    domain_store,
    inbox_objects,
    job_store,
    logger,
    metrics,
    now,
    settings,
    tracer,
    watchlist_store,
    workflow,
)


@dataclass(frozen=True)
class ManifestUploaded:
    bucket: str
    key: str
    upload_id: str  # the S3 sequencer (or version id, or ETag): one per upload, the same on redelivery

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ManifestUploaded:
        detail = event["detail"]
        obj = detail["object"]
        upload_id = obj.get("sequencer") or obj.get("version-id") or obj.get("etag") or event.get("id", "")
        return cls(detail["bucket"]["name"], obj["key"], str(upload_id))


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    upload = ManifestUploaded.from_event(event)
    config = settings()
    metadata = inbox_objects().metadata(S3Location(upload.bucket, upload.key))
    defaults = UploadDefaults(config.output_bucket, config.kms_key_id, config.default_data_access_role_arn)
    request = request_from_upload(upload.bucket, upload.key, upload.upload_id, metadata, defaults)
    submitter = Submitter(job_store(), domain_store(), workflow(), now, watchlist_store())
    job = submitter.submit(request, refusal=metadata_problem(metadata, request.kind))
    logger.info("job submitted", extra={"job_id": job.job_id, "status": job.status.value})
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    return {"DomainId": job.domain_id, "JobId": job.job_id, "JobStatus": job.status.value}
