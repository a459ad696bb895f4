"""Speaker enrollment jobs (Voice ID's StartSpeakerEnrollmentJob): the manifest, configuration, results and
rules of this kind.

Per request: opted-out speakers are refused (409); with SKIP an enrolled speaker is reported
DUPLICATE_SKIPPED without touching its audio; otherwise at least 30 s of net speech pooled over the files is
required (400), and the voiceprint is written with a conditional write: new speakers count against the domain's
quota (402), existing ones are overwritten (ENROLLMENT_OVERWRITE). Unless FraudDetectionAction is IGNORE, a
voiceprint whose fraud risk reaches the threshold is refused (400). A retry of a request already written reports
what the first attempt reported, so nothing is enrolled or reported twice. While the domain's KMS key refuses, each
request is a 403 naming the key's state and nothing is written (the key is asked before a request is decided).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from ....voiceprint.engine import Voiceprint
from ...shared.errors import SpeakerChangedError, SpeakerQuotaExceededError
from ...shared.ids import new_generated_speaker_id
from ...shared.job import BatchJob
from ...shared.speaker import EnrollmentStatus, Speaker, SpeakerStatus
from ..fraud import FraudDetectionConfig, FraudScreen, fraud_metadata_problem
from ..jobtype import JobOperations, JobType, RecordStores, ShardServices, written_by
from ..manifest import (
    AudioSpecification,
    ManifestSchema,
    RequestIds,
    audio_from_json,
    audio_specifications_of,
    audio_to_json,
    customer_speaker_id_of,
    entry_object,
    request_id_of,
)
from ..metadata import choice, choice_problem
from ..results import JobResult, RequestError
from ..speech import NotEnoughSpeech

MAX_WRITE_ATTEMPTS = 3


class ExistingEnrollmentAction(StrEnum):
    SKIP = "SKIP"
    OVERWRITE = "OVERWRITE"


@dataclass(frozen=True)
class EnrollmentConfig:
    API_MEMBER: ClassVar[str] = "EnrollmentConfig"
    WATCHLIST_FIELD: ClassVar[str] = "FraudDetectionConfig"

    existing_enrollment_action: ExistingEnrollmentAction = ExistingEnrollmentAction.SKIP
    fraud_detection: FraudDetectionConfig | None = None

    @property
    def watchlist_ids(self) -> tuple[str, ...]:
        return self.fraud_detection.watchlist_ids if self.fraud_detection else ()

    def to_api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"ExistingEnrollmentAction": self.existing_enrollment_action.value}
        if self.fraud_detection is not None:
            shape["FraudDetectionConfig"] = self.fraud_detection.to_api()
        return shape

    @classmethod
    def from_api(cls, shape: Mapping[str, Any] | None) -> EnrollmentConfig:
        shape = shape or {}
        fraud = shape.get("FraudDetectionConfig")
        return cls(
            existing_enrollment_action=ExistingEnrollmentAction(
                shape.get("ExistingEnrollmentAction", ExistingEnrollmentAction.SKIP)
            ),
            fraud_detection=FraudDetectionConfig.from_api(fraud) if fraud is not None else None,
        )


@dataclass(frozen=True)
class EnrollmentRequest:
    request_id: str
    speaker_id: str
    audio: tuple[AudioSpecification, ...]

    def to_json(self) -> dict[str, Any]:
        return {"RequestId": self.request_id, "SpeakerId": self.speaker_id,
                "AudioSpecifications": audio_to_json(self.audio)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EnrollmentRequest:
        return cls(data["RequestId"], data["SpeakerId"], audio_from_json(data))

    @classmethod
    def from_manifest(cls, entry: Any, where: str, ids: RequestIds) -> EnrollmentRequest:
        entry = entry_object(entry, where)
        return cls(request_id_of(entry, where, ids), customer_speaker_id_of(entry.get("SpeakerId"), where),
                   audio_specifications_of(entry.get("AudioSpecifications"), where))


@dataclass(frozen=True)
class SuccessfulEnrollment:
    """One entry of the output file's SuccessfulEnrollments list."""

    request_id: str
    generated_speaker_id: str
    customer_speaker_id: str
    status: EnrollmentStatus

    def to_json(self) -> dict[str, Any]:
        return {
            "RequestId": self.request_id,
            "GeneratedSpeakerId": self.generated_speaker_id,
            "CustomerSpeakerId": self.customer_speaker_id,
            "EnrollmentStatus": self.status.value,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SuccessfulEnrollment:
        return cls(data["RequestId"], data["GeneratedSpeakerId"], data["CustomerSpeakerId"],
                   EnrollmentStatus(data["EnrollmentStatus"]))

    @classmethod
    def of(cls, request: EnrollmentRequest, speaker: Speaker, status: EnrollmentStatus) -> SuccessfulEnrollment:
        return cls(request.request_id, speaker.generated_speaker_id, speaker.customer_speaker_id, status)


@dataclass(frozen=True)
class EnrollmentRules:
    """Enrollment's decisions for one shard (``shards.ShardProcessor`` runs them)."""

    services: ShardServices

    @property
    def config(self) -> EnrollmentConfig:
        return self.services.config_of(EnrollmentConfig)

    def decided(self, request: EnrollmentRequest) -> JobResult | None:
        self.services.require_key()
        return self._decided_by(self.services.speakers.get(self.services.domain_id, request.speaker_id), request)

    def _decided_by(self, existing: Speaker | None, request: EnrollmentRequest) -> JobResult | None:
        if existing is None:
            return None
        replayed = _enrolled_by(self.services.job, request, existing)
        if replayed is not None:
            return replayed
        if existing.status is SpeakerStatus.OPTED_OUT:
            return RequestError(
                request.request_id, 409,
                f"Speaker '{request.speaker_id}' has opted out; enrollment is refused until the speaker is "
                "deleted (DeleteSpeaker)",
            )
        skip = self.config.existing_enrollment_action is ExistingEnrollmentAction.SKIP
        if skip and existing.status is SpeakerStatus.ENROLLED:
            return SuccessfulEnrollment.of(request, existing, EnrollmentStatus.DUPLICATE_SKIPPED)
        return None

    def not_enough_speech(self, request: EnrollmentRequest, shortfall: NotEnoughSpeech) -> JobResult:
        return shortfall.refusal()

    def screen(self) -> FraudScreen | None:
        return FraudScreen.load(self.config.fraud_detection, self.services.domain_id, self.services.fraudsters,
                                self.services.embedder.model_id)

    def write(self, request: EnrollmentRequest, voiceprint: Voiceprint, screen: FraudScreen | None) -> JobResult:
        flagged = _refusal(request, voiceprint, screen)
        quota = self.services.limits.speaker_quota
        for _ in range(MAX_WRITE_ATTEMPTS):
            existing = self.services.speakers.get(self.services.domain_id, request.speaker_id)
            decided = self._decided_by(existing, request) or flagged  # a retry reports what was written
            if decided is not None:
                return decided
            try:
                return self._store(request, voiceprint, existing)
            except SpeakerQuotaExceededError:
                return RequestError(
                    request.request_id, 402,
                    f"The domain has reached its quota of {quota:,} speakers; speaker '{request.speaker_id}' was "
                    "not enrolled",
                )
            except SpeakerChangedError:
                continue
        return RequestError(
            request.request_id, 500, f"Speaker '{request.speaker_id}' kept changing concurrently; not enrolled"
        )

    def _store(self, request: EnrollmentRequest, voiceprint: Voiceprint, existing: Speaker | None) -> JobResult:
        now = self.services.clock()
        status = EnrollmentStatus.NEW_ENROLLMENT if existing is None else EnrollmentStatus.ENROLLMENT_OVERWRITE
        base = existing or Speaker(self.services.domain_id, request.speaker_id, new_generated_speaker_id(),
                                   SpeakerStatus.PENDING, created_at=now, updated_at=now)
        speaker = base.enrolled(voiceprint=tuple(voiceprint.as_list()), model_id=voiceprint.model_id,
                                net_speech_seconds=voiceprint.net_speech_seconds, by=self.services.written_by(request),
                                status=status, now=now)
        if existing is None:
            self.services.speakers.create(speaker, self.services.limits.speaker_quota)
        else:
            self.services.speakers.replace(speaker, existing)
        return SuccessfulEnrollment.of(request, speaker, status)


def _enrolled_by(job: BatchJob, request: EnrollmentRequest, existing: Speaker | None) -> JobResult | None:
    """What `request` enrolled, if the stored speaker was last written by it."""
    if existing is None or existing.enrolled_by != written_by(job, request) or existing.enrollment_status is None:
        return None
    return SuccessfulEnrollment.of(request, existing, existing.enrollment_status)


def _refusal(request: EnrollmentRequest, voiceprint: Voiceprint, screen: FraudScreen | None) -> RequestError | None:
    """The 400 entry of a caller whose fraud risk reaches the threshold, else None."""
    found = screen.flagged(voiceprint) if screen else None
    if screen is None or found is None:
        return None
    return RequestError(
        request.request_id, 400,
        f"Fraud risk {found.risk} (threshold {screen.threshold}): the voice of speaker '{request.speaker_id}' "
        f"matches fraudster {found.fraudster_id} of watchlist {screen.watchlist_id}; not enrolled",
    )


class SpeakerEnrollment(JobType):
    name = "SPEAKER_ENROLLMENT"
    operations = JobOperations("StartSpeakerEnrollmentJob", "DescribeSpeakerEnrollmentJob",
                               "ListSpeakerEnrollmentJobs")
    id_namespace = "speaker-enrollment-job"
    upload_prefix = "manifests"
    manifest = ManifestSchema("SpeakerEnrollmentRequests", EnrollmentRequest.from_manifest)
    successes_member = "SuccessfulEnrollments"
    config_from_api = EnrollmentConfig.from_api
    request_from_json = EnrollmentRequest.from_json
    success_from_json = SuccessfulEnrollment.from_json
    shard_rules = EnrollmentRules
    lost_message = ("Internal error: the enrollment worker for this request failed after retries; "
                    "the speaker was not enrolled by this request")

    def replay(self, job: BatchJob, request: EnrollmentRequest, stores: RecordStores) -> JobResult | None:
        return _enrolled_by(job, request, stores.speakers.get(job.domain_id, request.speaker_id))

    def upload_problem(self, metadata: Mapping[str, str]) -> str | None:
        return (choice_problem(metadata, "existing-enrollment-action", ExistingEnrollmentAction)
                or fraud_metadata_problem(metadata))

    def config_from_upload(self, metadata: Mapping[str, str]) -> EnrollmentConfig:
        action = choice(ExistingEnrollmentAction, metadata.get("existing-enrollment-action"),
                        ExistingEnrollmentAction.SKIP)
        return EnrollmentConfig(action, FraudDetectionConfig.from_upload(metadata))


SPEAKER_ENROLLMENT = SpeakerEnrollment()
