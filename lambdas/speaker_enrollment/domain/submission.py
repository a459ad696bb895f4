"""Submitting a job: one job per client token, whoever asks twice (API retry, duplicated S3 event)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from .domain import DomainStatus
from .failures import DomainNotFoundError, InvalidJobRequestError, JobFailure, WatchlistNotFoundError
from .ids import is_id, stable_id
from .job import (
    DuplicateRegistrationAction,
    EnrollmentConfig,
    ExistingEnrollmentAction,
    FailureDetails,
    FraudDetectionAction,
    FraudDetectionConfig,
    JobKind,
    RegistrationConfig,
    SpeakerEnrollmentJob,
)
from .ports import DomainStore, JobStore, WatchlistStore, Workflow

JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,255}$")
MANIFEST_KEY_PATTERN = re.compile(r"^(?P<prefix>manifests|fraudsters)/(?P<domain>[^/]+)/(?P<name>[^/]+\.json)$")
UPLOAD_KINDS = {"manifests": JobKind.SPEAKER_ENROLLMENT, "fraudsters": JobKind.FRAUDSTER_REGISTRATION}
JOB_ID_NAMESPACES = {JobKind.SPEAKER_ENROLLMENT: "speaker-enrollment-job",
                     JobKind.FRAUDSTER_REGISTRATION: "fraudster-registration-job"}
FRAUD_METADATA = ("fraud-detection-action", "risk-threshold", "watchlist-id")
MAX_RISK_THRESHOLD = 100


class ClientTokenReusedError(Exception):
    """The same ClientToken was used for a different request."""


@dataclass(frozen=True)
class JobRequest:
    """What StartSpeakerEnrollmentJob (or, kind FRAUDSTER_REGISTRATION, StartFraudsterRegistrationJob) carries,
    whichever way it arrived."""

    domain_id: str
    client_token: str
    data_access_role_arn: str
    input_s3_uri: str
    output_s3_uri: str
    output_kms_key_id: str | None = None
    job_name: str | None = None
    enrollment_config: EnrollmentConfig = field(default_factory=EnrollmentConfig)
    kind: JobKind = JobKind.SPEAKER_ENROLLMENT
    registration_config: RegistrationConfig = field(default_factory=RegistrationConfig)

    @property
    def job_id(self) -> str:
        return stable_id(JOB_ID_NAMESPACES[self.kind], self.domain_id, self.client_token)

    @property
    def watchlist_ids(self) -> tuple[str, ...]:
        """The watchlists the job's config names (they must exist in the domain)."""
        if self.kind is JobKind.FRAUDSTER_REGISTRATION:
            return self.registration_config.watchlist_ids
        fraud = self.enrollment_config.fraud_detection
        return fraud.watchlist_ids if fraud else ()

    def fingerprint(self) -> str:
        """Hash of everything but the token: the same token must come with the same request."""
        config = (self.registration_config if self.kind is JobKind.FRAUDSTER_REGISTRATION
                  else self.enrollment_config)
        body = {
            "DataAccessRoleArn": self.data_access_role_arn, "InputDataConfig": self.input_s3_uri,
            "OutputDataConfig": [self.output_s3_uri, self.output_kms_key_id], "JobName": self.job_name,
            type(config).__name__: config.to_api(),
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    def new_job(self, now: float) -> SpeakerEnrollmentJob:
        return SpeakerEnrollmentJob(
            job_id=self.job_id, domain_id=self.domain_id, data_access_role_arn=self.data_access_role_arn,
            input_s3_uri=self.input_s3_uri, output_s3_uri=self.output_s3_uri,
            output_kms_key_id=self.output_kms_key_id, created_at=now, job_name=self.job_name,
            enrollment_config=self.enrollment_config, kind=self.kind, registration_config=self.registration_config,
        )


@dataclass(frozen=True)
class UploadDefaults:
    """The stack's defaults for jobs started by uploading a manifest."""

    output_bucket: str
    kms_key_id: str
    data_access_role_arn: str


def request_from_upload(
    bucket: str, key: str, upload_id: str, metadata: Mapping[str, str], defaults: UploadDefaults
) -> JobRequest:
    """The job an upload of ``manifests/<DomainId>/<name>.json`` (speaker enrollment) or
    ``fraudsters/<DomainId>/<name>.json`` (fraudster registration) asks for; metadata overrides defaults.
    Check the metadata with `metadata_problem`.
    """
    match = MANIFEST_KEY_PATTERN.match(key)
    if match is None:
        raise ValueError(f"s3://{bucket}/{key} is not a manifest upload (manifests/<DomainId>/<name>.json or "
                         "fraudsters/<DomainId>/<name>.json)")
    domain_id = match["domain"]
    kind = UPLOAD_KINDS[match["prefix"]]
    request = JobRequest(
        domain_id=domain_id,
        client_token=f"s3:{bucket}/{key}@{upload_id}",
        data_access_role_arn=defaults.data_access_role_arn,
        input_s3_uri=f"s3://{bucket}/{key}",
        output_s3_uri=f"s3://{defaults.output_bucket}/{domain_id}/",
        output_kms_key_id=defaults.kms_key_id,
        job_name=metadata.get("job-name") or _job_name_from(match["name"]),
        kind=kind,
    )
    if kind is JobKind.FRAUDSTER_REGISTRATION:
        return replace(request, registration_config=_registration_config(metadata))
    return replace(request, enrollment_config=EnrollmentConfig(_action(metadata.get("existing-enrollment-action")),
                                                               _fraud_detection(metadata)))


def metadata_problem(metadata: Mapping[str, str], kind: JobKind = JobKind.SPEAKER_ENROLLMENT) -> str | None:
    """What is wrong with the upload's object metadata, if anything."""
    name = metadata.get("job-name")
    if name is not None and not JOB_NAME_PATTERN.match(name):
        return f"object metadata job-name '{name[:300]}' must be 1-256 characters of [a-zA-Z0-9_-]"
    if kind is JobKind.FRAUDSTER_REGISTRATION:
        return _registration_metadata_problem(metadata)
    action = metadata.get("existing-enrollment-action")
    if action is not None and action.upper() not in ExistingEnrollmentAction.__members__:
        return f"object metadata existing-enrollment-action must be SKIP or OVERWRITE, got '{action}'"
    return _fraud_metadata_problem(metadata)


def _registration_metadata_problem(metadata: Mapping[str, str]) -> str | None:
    action = metadata.get("duplicate-registration-action")
    if action is not None and action.upper() not in DuplicateRegistrationAction.__members__:
        return ("object metadata duplicate-registration-action must be SKIP or REGISTER_AS_NEW, got "
                f"'{action[:300]}'")
    return (_score_problem(metadata, "fraudster-similarity-threshold")
            or _watchlist_id_problem(metadata.get("watchlist-id")))


def _registration_config(metadata: Mapping[str, str]) -> RegistrationConfig:
    action = metadata.get("duplicate-registration-action", "").upper()
    watchlist_id = metadata.get("watchlist-id")
    return RegistrationConfig(
        duplicate_registration_action=DuplicateRegistrationAction(
            action if action in DuplicateRegistrationAction.__members__ else "SKIP"),
        fraudster_similarity_threshold=_risk_threshold(metadata.get("fraudster-similarity-threshold", "")),
        watchlist_ids=(watchlist_id,) if watchlist_id and is_id(watchlist_id) else (),
    )


def _score_problem(metadata: Mapping[str, str], name: str) -> str | None:
    value = metadata.get(name)
    if value is not None and _risk_threshold(value) is None:
        return f"object metadata {name} must be a whole number from 0 to 100, got '{value[:300]}'"
    return None


def _watchlist_id_problem(watchlist_id: str | None) -> str | None:
    if watchlist_id is not None and not is_id(watchlist_id):
        return f"object metadata watchlist-id '{watchlist_id[:300]}' must be 22 characters of [a-zA-Z0-9]"
    return None


def _fraud_metadata_problem(metadata: Mapping[str, str]) -> str | None:
    fraud_action = metadata.get("fraud-detection-action")
    if fraud_action is not None and fraud_action.upper() not in FraudDetectionAction.__members__:
        return f"object metadata fraud-detection-action must be FAIL or IGNORE, got '{fraud_action[:300]}'"
    return _score_problem(metadata, "risk-threshold") or _watchlist_id_problem(metadata.get("watchlist-id"))


def _fraud_detection(metadata: Mapping[str, str]) -> FraudDetectionConfig | None:
    """The FraudDetectionConfig the metadata asks for; None (the stack's defaults) without fraud metadata."""
    if not any(name in metadata for name in FRAUD_METADATA):
        return None
    action = metadata.get("fraud-detection-action", "").upper()
    watchlist_id = metadata.get("watchlist-id")
    return FraudDetectionConfig(
        action=FraudDetectionAction(action if action in FraudDetectionAction.__members__ else "FAIL"),
        risk_threshold=_risk_threshold(metadata.get("risk-threshold", "")),
        watchlist_ids=(watchlist_id,) if watchlist_id and is_id(watchlist_id) else (),
    )


def _risk_threshold(value: str) -> int | None:
    text = value.strip()
    return int(text) if text.isdigit() and int(text) <= MAX_RISK_THRESHOLD else None


def _action(value: str | None) -> ExistingEnrollmentAction:
    if value and value.upper() in ExistingEnrollmentAction.__members__:
        return ExistingEnrollmentAction(value.upper())
    return ExistingEnrollmentAction.SKIP


def _job_name_from(file_name: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_-]", "-", file_name.removesuffix(".json"))[:256]
    return name if name and name[0].isalnum() else f"job-{name}"[:256]


@dataclass(frozen=True)
class Submitter:
    jobs: JobStore
    domains: DomainStore
    workflow: Workflow
    clock: Callable[[], float]
    watchlists: WatchlistStore | None = None  # checks FraudDetectionConfig.WatchlistIds when given

    def submit(self, request: JobRequest, refusal: str | None = None) -> SpeakerEnrollmentJob:
        """Create the job (or find the one this token made) and make sure its workflow runs.

        A job that cannot run (unknown or inactive domain, `refusal`) is recorded FAILED with the reason.
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
        if self.watchlists is None:
            return None
        missing = [w for w in request.watchlist_ids if self.watchlists.get(request.domain_id, w) is None]
        if not missing:
            return None
        config = "RegistrationConfig" if request.kind is JobKind.FRAUDSTER_REGISTRATION else "FraudDetectionConfig"
        return WatchlistNotFoundError(f"Watchlist '{missing[0]}' of {config} does not exist in domain "
                                      f"'{request.domain_id}'")

    def _ensure_running(self, job: SpeakerEnrollmentJob) -> SpeakerEnrollmentJob:
        if not job.status.is_final:
            self.workflow.start(job)
        return job
