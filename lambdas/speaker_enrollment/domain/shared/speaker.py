"""The speaker record: who is enrolled, with which voiceprint, by which job request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class SpeakerStatus(StrEnum):
    ENROLLED = "ENROLLED"
    EXPIRED = "EXPIRED"
    OPTED_OUT = "OPTED_OUT"
    PENDING = "PENDING"


class EnrollmentStatus(StrEnum):
    NEW_ENROLLMENT = "NEW_ENROLLMENT"
    DUPLICATE_SKIPPED = "DUPLICATE_SKIPPED"
    ENROLLMENT_OVERWRITE = "ENROLLMENT_OVERWRITE"


@dataclass(frozen=True)
class Speaker:
    domain_id: str
    customer_speaker_id: str
    generated_speaker_id: str
    status: SpeakerStatus
    created_at: float
    updated_at: float
    last_accessed_at: float | None = None
    voiceprint: Sequence[float] = ()  # as read from the store, a LazyVoiceprint: opened only where it is used
    model_id: str | None = None
    net_speech_seconds: float | None = None
    enrolled_by: str | None = None  # "<JobId>/<RequestId>" of the last enrollment, for idempotent retries
    enrollment_status: EnrollmentStatus | None = None  # what that enrollment reported
    version: int = 0  # optimistic lock: every write bumps it

    def to_api(self) -> dict[str, Any]:
        """Voice ID's Speaker shape (DescribeSpeaker)."""
        shape: dict[str, Any] = {
            "DomainId": self.domain_id,
            "CustomerSpeakerId": self.customer_speaker_id,
            "GeneratedSpeakerId": self.generated_speaker_id,
            "Status": self.status.value,
            "CreatedAt": self.created_at,
            "UpdatedAt": self.updated_at,
        }
        if self.last_accessed_at is not None:
            shape["LastAccessedAt"] = self.last_accessed_at
        return shape

    def enrolled(
        self, *, voiceprint: Sequence[float], model_id: str, net_speech_seconds: float, by: str,
        status: EnrollmentStatus, now: float,
    ) -> Speaker:
        return replace(
            self, status=SpeakerStatus.ENROLLED, voiceprint=voiceprint, model_id=model_id,
            net_speech_seconds=net_speech_seconds, enrolled_by=by, enrollment_status=status,
            updated_at=now, last_accessed_at=now, version=self.version + 1,
        )

    def accessed(self, now: float) -> Speaker:
        """A successful authentication: LastAccessedAt moves (it drives expiry); nothing else changes."""
        return replace(self, last_accessed_at=now, version=self.version + 1)

    def opted_out(self, now: float) -> Speaker:
        """OptOutSpeaker: the voiceprint and everything derived from the audio is dropped for good."""
        return replace(
            self, status=SpeakerStatus.OPTED_OUT, voiceprint=(), model_id=None, net_speech_seconds=None,
            enrolled_by=None, enrollment_status=None, updated_at=now, version=self.version + 1,
        )


def opted_out_speaker(domain_id: str, customer_speaker_id: str, generated_speaker_id: str, now: float) -> Speaker:
    """The record OptOutSpeaker makes for a speaker never seen before: later enrollments are refused."""
    return Speaker(domain_id, customer_speaker_id, generated_speaker_id, SpeakerStatus.OPTED_OUT,
                   created_at=now, updated_at=now)
