"""Voice ID's enrollment rules for the requests of one shard.

Per request: opted-out speakers are refused (409); with SKIP an enrolled speaker is reported
DUPLICATE_SKIPPED without touching its audio; otherwise the audio is fetched and decoded, at least
30 s of net speech pooled over the files is required (400 otherwise), and the voiceprint is written
with a conditional write: new speakers count against the domain's quota (402), existing ones are
overwritten (ENROLLMENT_OVERWRITE). Unless FraudDetectionAction is IGNORE, a voiceprint whose fraud risk
reaches the threshold is refused (400, domain/fraud.py); the watchlist is read once per shard. A retry
of a request already written reports what the first attempt reported, so nothing is enrolled or
reported twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..voiceprint.engine import Voiceprint, VoiceprintEngine, VoiceprintPool
from .fraud import FraudScreen
from .ids import new_generated_speaker_id
from .job import EnrollmentConfig, ExistingEnrollmentAction
from .manifest import EnrollmentRequest, RequestError
from .ports import (
    AudioSource,
    FraudsterSource,
    SpeakerChangedError,
    SpeakerQuotaExceededError,
    SpeakerStore,
)
from .speaker import EnrollmentStatus, Speaker, SpeakerStatus
from .speech import MIN_NET_SPEECH_SECONDS, SpeechGathering

MAX_WRITE_ATTEMPTS = 3


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
        return cls(
            data["RequestId"], data["GeneratedSpeakerId"], data["CustomerSpeakerId"],
            EnrollmentStatus(data["EnrollmentStatus"]),
        )


RequestResult = SuccessfulEnrollment | RequestError


@dataclass(frozen=True)
class EnrollmentContext:
    job_id: str
    domain_id: str
    config: EnrollmentConfig
    speaker_quota: int
    max_file_bytes: int
    clock: Callable[[], float]
    min_net_speech_seconds: float = MIN_NET_SPEECH_SECONDS


@dataclass(frozen=True)
class _Pending:
    """A request whose voiceprint is being computed."""

    index: int
    request: EnrollmentRequest


class ShardEnrollment:
    """Enrolls a shard's requests: decide, gather speech into one pool, then write each speaker."""

    def __init__(
        self, context: EnrollmentContext, audio: AudioSource, speakers: SpeakerStore, engine: VoiceprintEngine,
        fraudsters: FraudsterSource,
    ) -> None:
        self.context = context
        self.audio = audio
        self.speakers = speakers
        self.engine = engine
        self.fraudsters = fraudsters

    def run(self, requests: Sequence[EnrollmentRequest]) -> list[RequestResult]:
        results: dict[int, RequestResult] = {}
        pending: list[_Pending] = []
        pool = self.engine.pool()
        for index, request in enumerate(requests):
            outcome = self._without_audio(request) or self._gather_speech(index, request, pool)
            if isinstance(outcome, _Pending):
                pending.append(outcome)
            else:
                results[index] = outcome
        screen = self._screen() if pending else None
        for item in pending:
            results[item.index] = self._write(item.request, pool.voiceprint(item.index), screen)
        return [results[i] for i in range(len(requests))]

    def _screen(self) -> FraudScreen | None:
        context = self.context
        return FraudScreen.load(context.config.fraud_detection, context.domain_id, self.fraudsters,
                                self.engine.model_id)

    def _key(self, request: EnrollmentRequest) -> str:
        return f"{self.context.job_id}/{request.request_id}"

    def _without_audio(self, request: EnrollmentRequest) -> RequestResult | None:
        """The result when the existing speaker decides it, else None (a voiceprint is needed)."""
        existing = self.speakers.get(self.context.domain_id, request.speaker_id)
        return self._decided_by(existing, request)

    def _decided_by(self, existing: Speaker | None, request: EnrollmentRequest) -> RequestResult | None:
        if existing is None:
            return None
        if existing.enrolled_by == self._key(request) and existing.enrollment_status is not None:
            return _success(request, existing, existing.enrollment_status)
        if existing.status is SpeakerStatus.OPTED_OUT:
            return RequestError(
                request.request_id, 409,
                f"Speaker '{request.speaker_id}' has opted out; enrollment is refused until the speaker is "
                "deleted (DeleteSpeaker)",
            )
        skip = self.context.config.existing_enrollment_action is ExistingEnrollmentAction.SKIP
        if skip and existing.status is SpeakerStatus.ENROLLED:
            return _success(request, existing, EnrollmentStatus.DUPLICATE_SKIPPED)
        return None

    def _gather_speech(self, index: int, request: EnrollmentRequest, pool: VoiceprintPool) -> RequestResult | _Pending:
        context = self.context
        gathering = SpeechGathering(self.audio, self.engine, context.max_file_bytes, context.min_net_speech_seconds)
        return gathering.gather(index, request, pool) or _Pending(index, request)

    def _write(self, request: EnrollmentRequest, voiceprint: Voiceprint, screen: FraudScreen | None) -> RequestResult:
        flagged = screen.refusal(request, voiceprint) if screen else None
        for _ in range(MAX_WRITE_ATTEMPTS):
            existing = self.speakers.get(self.context.domain_id, request.speaker_id)
            decided = self._decided_by(existing, request) or flagged  # a retry reports what was written
            if decided is not None:
                return decided
            try:
                return self._store(request, voiceprint, existing)
            except SpeakerQuotaExceededError:
                return RequestError(
                    request.request_id, 402,
                    f"The domain has reached its quota of {self.context.speaker_quota:,} speakers; "
                    f"speaker '{request.speaker_id}' was not enrolled",
                )
            except SpeakerChangedError:
                continue
        return RequestError(
            request.request_id, 500, f"Speaker '{request.speaker_id}' kept changing concurrently; not enrolled"
        )

    def _store(self, request: EnrollmentRequest, voiceprint: Voiceprint, existing: Speaker | None) -> RequestResult:
        now = self.context.clock()
        vector = tuple(voiceprint.as_list())
        if existing is None:
            fresh = Speaker(
                self.context.domain_id, request.speaker_id, new_generated_speaker_id(),
                SpeakerStatus.PENDING, created_at=now, updated_at=now,
            ).enrolled(voiceprint=vector, model_id=voiceprint.model_id,
                       net_speech_seconds=voiceprint.net_speech_seconds, by=self._key(request),
                       status=EnrollmentStatus.NEW_ENROLLMENT, now=now)
            self.speakers.create(fresh, self.context.speaker_quota)
            return _success(request, fresh, EnrollmentStatus.NEW_ENROLLMENT)
        updated = existing.enrolled(
            voiceprint=vector, model_id=voiceprint.model_id, net_speech_seconds=voiceprint.net_speech_seconds,
            by=self._key(request), status=EnrollmentStatus.ENROLLMENT_OVERWRITE, now=now,
        )
        self.speakers.replace(updated, existing)
        return _success(request, updated, EnrollmentStatus.ENROLLMENT_OVERWRITE)


def _success(request: EnrollmentRequest, speaker: Speaker, status: EnrollmentStatus) -> SuccessfulEnrollment:
    return SuccessfulEnrollment(request.request_id, speaker.generated_speaker_id, speaker.customer_speaker_id, status)
