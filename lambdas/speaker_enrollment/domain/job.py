"""The batch job record and its life cycle (SUBMITTED → IN_PROGRESS → final).

One record serves both kinds of Voice ID batch job: a speaker enrollment job (SpeakerEnrollmentJob, with an
EnrollmentConfig) and a fraudster registration job (FraudsterRegistrationJob, with a RegistrationConfig). Both
run on the same workflow; `kind` says which rules, manifest and output file apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.FAILED)


class JobKind(StrEnum):
    SPEAKER_ENROLLMENT = "SPEAKER_ENROLLMENT"
    FRAUDSTER_REGISTRATION = "FRAUDSTER_REGISTRATION"


class ExistingEnrollmentAction(StrEnum):
    SKIP = "SKIP"
    OVERWRITE = "OVERWRITE"


class FraudDetectionAction(StrEnum):
    IGNORE = "IGNORE"
    FAIL = "FAIL"


@dataclass(frozen=True)
class FraudDetectionConfig:
    action: FraudDetectionAction = FraudDetectionAction.FAIL
    risk_threshold: int | None = None
    watchlist_ids: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"FraudDetectionAction": self.action.value}
        if self.risk_threshold is not None:
            shape["RiskThreshold"] = self.risk_threshold
        if self.watchlist_ids:
            shape["WatchlistIds"] = list(self.watchlist_ids)
        return shape

    @classmethod
    def from_api(cls, shape: dict[str, Any]) -> FraudDetectionConfig:
        return cls(
            action=FraudDetectionAction(shape.get("FraudDetectionAction", FraudDetectionAction.FAIL)),
            risk_threshold=int(shape["RiskThreshold"]) if shape.get("RiskThreshold") is not None else None,
            watchlist_ids=tuple(shape.get("WatchlistIds", ())),
        )


@dataclass(frozen=True)
class EnrollmentConfig:
    existing_enrollment_action: ExistingEnrollmentAction = ExistingEnrollmentAction.SKIP
    fraud_detection: FraudDetectionConfig | None = None

    def to_api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"ExistingEnrollmentAction": self.existing_enrollment_action.value}
        if self.fraud_detection is not None:
            shape["FraudDetectionConfig"] = self.fraud_detection.to_api()
        return shape

    @classmethod
    def from_api(cls, shape: dict[str, Any] | None) -> EnrollmentConfig:
        shape = shape or {}
        fraud = shape.get("FraudDetectionConfig")
        return cls(
            existing_enrollment_action=ExistingEnrollmentAction(
                shape.get("ExistingEnrollmentAction", ExistingEnrollmentAction.SKIP)
            ),
            fraud_detection=FraudDetectionConfig.from_api(fraud) if fraud is not None else None,
        )


class DuplicateRegistrationAction(StrEnum):
    SKIP = "SKIP"
    REGISTER_AS_NEW = "REGISTER_AS_NEW"


@dataclass(frozen=True)
class RegistrationConfig:
    """Voice ID's RegistrationConfig; without a threshold the calibrated default applies, without WatchlistIds
    the domain's default watchlist."""

    duplicate_registration_action: DuplicateRegistrationAction = DuplicateRegistrationAction.SKIP
    fraudster_similarity_threshold: int | None = None
    watchlist_ids: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"DuplicateRegistrationAction": self.duplicate_registration_action.value}
        if self.fraudster_similarity_threshold is not None:
            shape["FraudsterSimilarityThreshold"] = self.fraudster_similarity_threshold
        if self.watchlist_ids:
            shape["WatchlistIds"] = list(self.watchlist_ids)
        return shape

    @classmethod
    def from_api(cls, shape: dict[str, Any] | None) -> RegistrationConfig:
        shape = shape or {}
        threshold = shape.get("FraudsterSimilarityThreshold")
        return cls(
            duplicate_registration_action=DuplicateRegistrationAction(
                shape.get("DuplicateRegistrationAction", DuplicateRegistrationAction.SKIP)
            ),
            fraudster_similarity_threshold=int(threshold) if threshold is not None else None,
            watchlist_ids=tuple(shape.get("WatchlistIds", ())),
        )


@dataclass(frozen=True)
class FailureDetails:
    status_code: int
    message: str

    def to_api(self) -> dict[str, Any]:
        return {"StatusCode": self.status_code, "Message": self.message}


@dataclass(frozen=True)
class SpeakerEnrollmentJob:
    """Every field of Voice ID's SpeakerEnrollmentJob, or (kind FRAUDSTER_REGISTRATION) of its
    FraudsterRegistrationJob; timestamps are epoch seconds."""

    job_id: str
    domain_id: str
    data_access_role_arn: str
    input_s3_uri: str
    output_s3_uri: str
    created_at: float
    job_name: str | None = None
    output_kms_key_id: str | None = None
    enrollment_config: EnrollmentConfig = field(default_factory=EnrollmentConfig)
    status: JobStatus = JobStatus.SUBMITTED
    percent_complete: int = 0
    ended_at: float | None = None
    failure_details: FailureDetails | None = None
    kind: JobKind = JobKind.SPEAKER_ENROLLMENT
    registration_config: RegistrationConfig = field(default_factory=RegistrationConfig)

    def _config(self) -> dict[str, Any]:
        if self.kind is JobKind.FRAUDSTER_REGISTRATION:
            return {"RegistrationConfig": self.registration_config.to_api()}
        return {"EnrollmentConfig": self.enrollment_config.to_api()}

    def to_api(self) -> dict[str, Any]:
        """The job as Voice ID returns it (Start / Describe of its kind); the job store adds `JobKind`."""
        output: dict[str, Any] = {"S3Uri": self.output_s3_uri}
        if self.output_kms_key_id:
            output["KmsKeyId"] = self.output_kms_key_id
        shape: dict[str, Any] = {
            "JobId": self.job_id,
            "DomainId": self.domain_id,
            "JobStatus": self.status.value,
            "DataAccessRoleArn": self.data_access_role_arn,
            **self._config(),
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
        return shape

    @classmethod
    def from_api(cls, shape: dict[str, Any]) -> SpeakerEnrollmentJob:
        failure = shape.get("FailureDetails")
        return cls(
            job_id=shape["JobId"],
            domain_id=shape["DomainId"],
            data_access_role_arn=shape["DataAccessRoleArn"],
            input_s3_uri=shape["InputDataConfig"]["S3Uri"],
            output_s3_uri=shape["OutputDataConfig"]["S3Uri"],
            output_kms_key_id=shape["OutputDataConfig"].get("KmsKeyId"),
            created_at=float(shape["CreatedAt"]),
            job_name=shape.get("JobName"),
            enrollment_config=EnrollmentConfig.from_api(shape.get("EnrollmentConfig")),
            status=JobStatus(shape["JobStatus"]),
            percent_complete=int(shape.get("JobProgress", {}).get("PercentComplete", 0)),
            ended_at=float(shape["EndedAt"]) if shape.get("EndedAt") is not None else None,
            failure_details=FailureDetails(int(failure["StatusCode"]), failure["Message"]) if failure else None,
            kind=JobKind(shape.get("JobKind", JobKind.SPEAKER_ENROLLMENT)),
            registration_config=RegistrationConfig.from_api(shape.get("RegistrationConfig")),
        )

    def failed(self, details: FailureDetails, now: float) -> SpeakerEnrollmentJob:
        return replace(self, status=JobStatus.FAILED, failure_details=details, ended_at=now)


def percent(processed: int, total: int) -> int:
    """Whole percent of requests processed; 100 only when all are."""
    if total <= 0:
        return 100
    return min(100, processed * 100 // total)


def final_status(error_count: int) -> JobStatus:
    return JobStatus.COMPLETED_WITH_ERRORS if error_count else JobStatus.COMPLETED
