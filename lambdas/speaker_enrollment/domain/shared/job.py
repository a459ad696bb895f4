"""The batch job record and its life cycle (SUBMITTED → IN_PROGRESS → final), whatever its kind.

One record serves every kind of batch job (a speaker enrollment job is Voice ID's SpeakerEnrollmentJob, a
fraudster registration job its FraudsterRegistrationJob): `kind` names the job type
(``domain.workflow.kinds``) and `config` is that type's configuration, which knows its own wire member.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, ClassVar, Protocol


class JobStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.FAILED)


class JobConfig(Protocol):
    """A job type's configuration (EnrollmentConfig, RegistrationConfig, ...)."""

    API_MEMBER: ClassVar[str]  # its member of the job record on the wire, e.g. "EnrollmentConfig"
    WATCHLIST_FIELD: ClassVar[str]  # where its WatchlistIds sit, for messages

    @property
    def watchlist_ids(self) -> tuple[str, ...]:
        """The watchlists the job reads (each must exist in the domain)."""
        ...

    def to_api(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class FailureDetails:
    status_code: int
    message: str

    def to_api(self) -> dict[str, Any]:
        return {"StatusCode": self.status_code, "Message": self.message}


@dataclass(frozen=True)
class JobSummary:
    """What a finished job's results add up to, as its kind summarises them (e.g. counts per decision), under the
    job record's wire member `member`; set when the job is finalized."""

    member: str
    content: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {self.member: self.content}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> JobSummary:
        ((member, content),) = document.items()
        return cls(member, dict(content))


@dataclass(frozen=True)
class BatchJob:
    """Every field of Voice ID's SpeakerEnrollmentJob (or of the record of the job's kind); timestamps are
    epoch seconds."""

    job_id: str
    domain_id: str
    kind: str  # the job type's name, e.g. SPEAKER_ENROLLMENT
    config: JobConfig
    data_access_role_arn: str
    input_s3_uri: str
    output_s3_uri: str
    created_at: float
    job_name: str | None = None
    output_kms_key_id: str | None = None
    status: JobStatus = JobStatus.SUBMITTED
    percent_complete: int = 0
    ended_at: float | None = None
    failure_details: FailureDetails | None = None
    input_version_id: str | None = None  # the manifest's version an upload event named (read exactly that one)
    summary: JobSummary | None = None  # the kind's summary of the results, once the job is finalized

    def to_api(self) -> dict[str, Any]:
        """The job as Voice ID returns it (Start / Describe / List of its kind)."""
        output: dict[str, Any] = {"S3Uri": self.output_s3_uri}
        if self.output_kms_key_id:
            output["KmsKeyId"] = self.output_kms_key_id
        shape: dict[str, Any] = {
            "JobId": self.job_id,
            "DomainId": self.domain_id,
            "JobStatus": self.status.value,
            "DataAccessRoleArn": self.data_access_role_arn,
            self.config.API_MEMBER: self.config.to_api(),
            "InputDataConfig": {"S3Uri": self.input_s3_uri},
            "OutputDataConfig": output,
            "CreatedAt": self.created_at,
            "JobProgress": {"PercentComplete": self.percent_complete},
        }
        if self.job_name:
            shape["JobName"] = self.job_name
        if self.ended_at is not None:
            shape["EndedAt"] = self.ended_at
        if self.failure_details is not None:
            shape["FailureDetails"] = self.failure_details.to_api()
        if self.summary is not None:
            shape |= self.summary.to_json()
        return shape

    def failed(self, details: FailureDetails, now: float) -> BatchJob:
        return replace(self, status=JobStatus.FAILED, failure_details=details, ended_at=now)


def percent(processed: int, total: int) -> int:
    """Whole percent of requests processed; 100 only when all are."""
    if total <= 0:
        return 100
    return min(100, processed * 100 // total)


def final_status(error_count: int) -> JobStatus:
    return JobStatus.COMPLETED_WITH_ERRORS if error_count else JobStatus.COMPLETED
