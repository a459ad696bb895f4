"""Submitting a job of any kind: one job per client token, whoever asks twice (API retry, duplicated S3 event)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..ports import DomainStore, JobStore, WatchlistStore, Workflow
from ..shared.domain import DomainStatus
from ..shared.errors import ClientTokenReusedError
from ..shared.ids import stable_id
from ..shared.job import BatchJob, FailureDetails, JobConfig
from ..shared.patterns import whole
from .errors import DomainNotFoundError, InvalidJobRequestError, JobFailure, WatchlistNotFoundError
from .jobtype import JobType, JobTypes

JOB_NAME_PATTERN = whole(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,255}")
MANIFEST_KEY_PATTERN = whole(r"(?P<prefix>[^/]+)/(?P<domain>[^/]+)/(?P<name>[^/]+\.json)")


@dataclass(frozen=True)
class JobRequest:
    """What a Start<Kind>Job operation carries, whichever way it arrived."""

    job_type: JobType
    domain_id: str
    client_token: str
    data_access_role_arn: str
    input_s3_uri: str
    output_s3_uri: str
    config: JobConfig
    output_kms_key_id: str | None = None
    job_name: str | None = None
    input_version_id: str | None = None

    @property
    def job_id(self) -> str:
        return stable_id(self.job_type.id_namespace, self.domain_id, self.client_token)

    @property
    def watchlist_ids(self) -> tuple[str, ...]:
        """The watchlists the job's config names (they must exist in the domain)."""
        return self.config.watchlist_ids

    def fingerprint(self) -> str:
        """Hash of everything but the token: the same token must come with the same request."""
        body = {
            "DataAccessRoleArn": self.data_access_role_arn, "InputDataConfig": self.input_s3_uri,
            "OutputDataConfig": [self.output_s3_uri, self.output_kms_key_id], "JobName": self.job_name,
            self.config.API_MEMBER: self.config.to_api(),
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    def new_job(self, now: float) -> BatchJob:
        return BatchJob(
            job_id=self.job_id, domain_id=self.domain_id, kind=self.job_type.name, config=self.config,
            data_access_role_arn=self.data_access_role_arn, input_s3_uri=self.input_s3_uri,
            output_s3_uri=self.output_s3_uri, output_kms_key_id=self.output_kms_key_id, created_at=now,
            job_name=self.job_name, input_version_id=self.input_version_id,
        )


@dataclass(frozen=True)
class UploadDefaults:
    """The stack's defaults for jobs started by uploading a manifest."""

    output_bucket: str
    kms_key_id: str
    data_access_role_arn: str


@dataclass(frozen=True)
class Upload:
    """A manifest uploaded to the inbox as ``<prefix>/<DomainId>/<name>.json``, and its object metadata."""

    bucket: str
    key: str
    upload_id: str  # one per upload, the same on redelivery (the S3 sequencer)
    metadata: Mapping[str, str]
    version_id: str | None = None  # in a versioned bucket: the manifest the job reads, whatever is uploaded later


@dataclass(frozen=True)
class UploadedJob:
    request: JobRequest
    refusal: str | None  # why the upload's metadata cannot be used (the job is then recorded FAILED)


def request_from_upload(upload: Upload, job_types: JobTypes, defaults: UploadDefaults) -> UploadedJob:
    """The job an upload asks for (its prefix names the job type); metadata overrides the defaults."""
    match = MANIFEST_KEY_PATTERN.fullmatch(upload.key)
    job_type = job_types.for_upload_prefix(match["prefix"]) if match else None
    if match is None or job_type is None:
        shapes = " or ".join(f"{t.upload_prefix}/<DomainId>/<name>.json" for t in job_types)
        raise ValueError(f"s3://{upload.bucket}/{upload.key} is not a manifest upload ({shapes})")
    domain_id = match["domain"]
    request = JobRequest(
        job_type=job_type, domain_id=domain_id, client_token=f"s3:{upload.bucket}/{upload.key}@{upload.upload_id}",
        data_access_role_arn=defaults.data_access_role_arn, input_s3_uri=f"s3://{upload.bucket}/{upload.key}",
        output_s3_uri=f"s3://{defaults.output_bucket}/{domain_id}/", output_kms_key_id=defaults.kms_key_id,
        config=job_type.config_from_upload(upload.metadata),
        job_name=upload.metadata.get("job-name") or _job_name_from(match["name"]),
        input_version_id=upload.version_id,
    )
    return UploadedJob(request, _job_name_problem(upload.metadata) or job_type.upload_problem(upload.metadata))


def _job_name_problem(metadata: Mapping[str, str]) -> str | None:
    name = metadata.get("job-name")
    if name is not None and not JOB_NAME_PATTERN.fullmatch(name):
        return f"object metadata job-name '{name[:300]}' must be 1-256 characters of [a-zA-Z0-9_-]"
    return None


def _job_name_from(file_name: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_-]", "-", file_name.removesuffix(".json"))[:256]
    return name if name and name[0].isalnum() else f"job-{name}"[:256]


@dataclass(frozen=True)
class Submitter:
    jobs: JobStore
    domains: DomainStore
    watchlists: WatchlistStore
    workflow: Workflow
    clock: Callable[[], float]

    def submit(self, request: JobRequest, refusal: str | None = None) -> BatchJob:
        """Create the job (or find the one this token made) and make sure its workflow runs.

        A job that cannot run (unknown or inactive domain, a missing watchlist, `refusal`) is recorded FAILED
        with the reason.
        """
        existing = self.jobs.get(request.domain_id, request.job_id)
        if existing is not None:
            if self.jobs.request_hash(request.domain_id, request.job_id) != request.fingerprint():
                raise ClientTokenReusedError(
                    f"ClientToken '{request.client_token}' was already used for a different request (job "
                    f"{existing.job_id})"
                )
            return self._ensure_running(existing)
        job = request.new_job(self.clock())
        problem = self._problem(request, refusal)
        if problem is not None:
            job = job.failed(FailureDetails(problem.status_code, problem.message), self.clock())
        if not self.jobs.create(job, request.client_token, request.fingerprint()):
            return self.submit(request, refusal)
        return self._ensure_running(job)

    def _problem(self, request: JobRequest, refusal: str | None) -> JobFailure | None:
        if refusal is not None:
            return InvalidJobRequestError(refusal)
        domain = self.domains.get(request.domain_id)
        if domain is None:
            return DomainNotFoundError(f"Domain '{request.domain_id}' does not exist")
        if domain.status is not DomainStatus.ACTIVE:
            return DomainNotFoundError(f"Domain '{request.domain_id}' is {domain.status.value}, not ACTIVE")
        return self._missing_watchlist(request)

    def _missing_watchlist(self, request: JobRequest) -> JobFailure | None:
        missing = [w for w in request.watchlist_ids if self.watchlists.get(request.domain_id, w) is None]
        if not missing:
            return None
        return WatchlistNotFoundError(f"Watchlist '{missing[0]}' of {request.config.WATCHLIST_FIELD} does not "
                                      f"exist in domain '{request.domain_id}'")

    def _ensure_running(self, job: BatchJob) -> BatchJob:
        if not job.status.is_final:
            self.workflow.start(job)
        return job
