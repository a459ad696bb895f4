"""Verifying a caller: Voice ID's EvaluateSession decisions, shared by sessions and batch evaluation jobs.

Authentication, in Voice ID's order: no speaker id given → SPEAKER_ID_NOT_PROVIDED; no such speaker, or one not
(yet) enrolled, or one whose voiceprint another model made → SPEAKER_NOT_ENROLLED; OPTED_OUT → SPEAKER_OPTED_OUT;
EXPIRED → SPEAKER_EXPIRED; less net speech than the minimum (10 s, Amazon Connect's) → NOT_ENOUGH_SPEECH; else the
0-100 score of the call's voiceprint against the speaker's decides: ACCEPT when Score >= AcceptanceThreshold,
REJECT otherwise. Only ACCEPT and REJECT carry a Score.

Fraud detection: NOT_ENOUGH_SPEECH below the minimum, else HIGH_RISK (reason KNOWN_FRAUDSTER) when the closest
fraudster of the watchlist scores >= RiskThreshold, LOW_RISK otherwise. There is no voice-spoofing model here, so
no VOICE_SPOOFING reason and no VoiceSpoofingRisk is ever reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from ...voiceprint.engine import Voiceprint
from ...voiceprint.scoring import DEFAULT_ACCEPTANCE_THRESHOLD, cosine, score
from ..shared.speaker import Speaker, SpeakerStatus
from .fraud import FraudScreen

MIN_EVALUATION_SPEECH_SECONDS = 10.0


class AuthenticationDecision(StrEnum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    NOT_ENOUGH_SPEECH = "NOT_ENOUGH_SPEECH"
    SPEAKER_NOT_ENROLLED = "SPEAKER_NOT_ENROLLED"
    SPEAKER_OPTED_OUT = "SPEAKER_OPTED_OUT"
    SPEAKER_ID_NOT_PROVIDED = "SPEAKER_ID_NOT_PROVIDED"
    SPEAKER_EXPIRED = "SPEAKER_EXPIRED"


class FraudDetectionDecision(StrEnum):
    HIGH_RISK = "HIGH_RISK"
    LOW_RISK = "LOW_RISK"
    NOT_ENOUGH_SPEECH = "NOT_ENOUGH_SPEECH"


KNOWN_FRAUDSTER = "KNOWN_FRAUDSTER"
_STATUS_DECISIONS = {
    SpeakerStatus.OPTED_OUT: AuthenticationDecision.SPEAKER_OPTED_OUT,
    SpeakerStatus.EXPIRED: AuthenticationDecision.SPEAKER_EXPIRED,
    SpeakerStatus.PENDING: AuthenticationDecision.SPEAKER_NOT_ENROLLED,
}


@dataclass(frozen=True)
class AudioWindow:
    """When the audio an evaluation used was gathered (Voice ID's AudioAggregationStartedAt/EndedAt)."""

    started_at: float
    ended_at: float


@dataclass(frozen=True)
class AuthenticationResult:
    result_id: str
    decision: AuthenticationDecision
    acceptance_threshold: int
    window: AudioWindow
    score: int | None = None
    customer_speaker_id: str | None = None
    generated_speaker_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "AuthenticationResultId": self.result_id,
            "Decision": self.decision.value,
            "AudioAggregationStartedAt": self.window.started_at,
            "AudioAggregationEndedAt": self.window.ended_at,
            "Configuration": {"AcceptanceThreshold": self.acceptance_threshold},
        }
        optional = {"Score": self.score, "CustomerSpeakerId": self.customer_speaker_id,
                    "GeneratedSpeakerId": self.generated_speaker_id}
        shape.update({name: value for name, value in optional.items() if value is not None})
        return shape

    @classmethod
    def from_api(cls, shape: Mapping[str, Any]) -> AuthenticationResult:
        return cls(
            shape["AuthenticationResultId"], AuthenticationDecision(shape["Decision"]),
            int(shape["Configuration"]["AcceptanceThreshold"]),
            AudioWindow(float(shape["AudioAggregationStartedAt"]), float(shape["AudioAggregationEndedAt"])),
            score=shape.get("Score"), customer_speaker_id=shape.get("CustomerSpeakerId"),
            generated_speaker_id=shape.get("GeneratedSpeakerId"),
        )


@dataclass(frozen=True)
class FraudDetectionResult:
    result_id: str
    decision: FraudDetectionDecision
    risk_threshold: int
    watchlist_id: str
    window: AudioWindow
    risk_score: int | None = None  # None with NOT_ENOUGH_SPEECH
    generated_fraudster_id: str | None = None  # the closest fraudster, None when the watchlist has none

    def to_api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "FraudDetectionResultId": self.result_id,
            "Decision": self.decision.value,
            "AudioAggregationStartedAt": self.window.started_at,
            "AudioAggregationEndedAt": self.window.ended_at,
            "Configuration": {"RiskThreshold": self.risk_threshold, "WatchlistId": self.watchlist_id},
            "Reasons": [KNOWN_FRAUDSTER] if self.decision is FraudDetectionDecision.HIGH_RISK else [],
        }
        if self.risk_score is not None:
            risk: dict[str, Any] = {"RiskScore": self.risk_score}
            if self.generated_fraudster_id is not None:
                risk["GeneratedFraudsterId"] = self.generated_fraudster_id
            shape["RiskDetails"] = {"KnownFraudsterRisk": risk}  # no VoiceSpoofingRisk: no spoofing model here
        return shape

    @classmethod
    def from_api(cls, shape: Mapping[str, Any]) -> FraudDetectionResult:
        risk = shape.get("RiskDetails", {}).get("KnownFraudsterRisk", {})
        return cls(
            shape["FraudDetectionResultId"], FraudDetectionDecision(shape["Decision"]),
            int(shape["Configuration"]["RiskThreshold"]), shape["Configuration"]["WatchlistId"],
            AudioWindow(float(shape["AudioAggregationStartedAt"]), float(shape["AudioAggregationEndedAt"])),
            risk_score=risk.get("RiskScore"), generated_fraudster_id=risk.get("GeneratedFraudsterId"),
        )


@dataclass(frozen=True)
class Verification:
    """What one evaluation decides; ids come from the caller (a session's results keep theirs on re-reads)."""

    acceptance_threshold: int = DEFAULT_ACCEPTANCE_THRESHOLD
    min_speech_seconds: float = MIN_EVALUATION_SPEECH_SECONDS

    def authenticate(self, result_id: str, window: AudioWindow, speaker_id: str | None, speaker: Speaker | None,
                     voiceprint: Voiceprint | None) -> AuthenticationResult:
        """`speaker_id` as the caller gave it (None: not provided), `speaker` the stored record it names (None:
        unknown), `voiceprint` the call's (None: the call had no audio to speak of)."""
        decision, similarity = self._authentication(speaker_id, speaker, voiceprint)
        return AuthenticationResult(
            result_id, decision, self.acceptance_threshold, window, score=similarity,
            customer_speaker_id=speaker.customer_speaker_id if speaker else None,
            generated_speaker_id=speaker.generated_speaker_id if speaker else None,
        )

    def _authentication(self, speaker_id: str | None, speaker: Speaker | None, voiceprint: Voiceprint | None
                        ) -> tuple[AuthenticationDecision, int | None]:
        if not speaker_id:
            return AuthenticationDecision.SPEAKER_ID_NOT_PROVIDED, None
        if speaker is None:
            return AuthenticationDecision.SPEAKER_NOT_ENROLLED, None
        by_status = _STATUS_DECISIONS.get(speaker.status)
        if by_status is not None:
            return by_status, None
        if not self.enough_speech(voiceprint):
            return AuthenticationDecision.NOT_ENOUGH_SPEECH, None
        assert voiceprint is not None
        if not speaker.voiceprint or speaker.model_id != voiceprint.model_id:
            return AuthenticationDecision.SPEAKER_NOT_ENROLLED, None
        similarity = score(cosine(np.asarray(speaker.voiceprint, dtype=np.float32), voiceprint.vector))
        decision = (AuthenticationDecision.ACCEPT if similarity >= self.acceptance_threshold
                    else AuthenticationDecision.REJECT)
        return decision, similarity

    def detect_fraud(self, result_id: str, window: AudioWindow, screen: FraudScreen,
                     voiceprint: Voiceprint | None) -> FraudDetectionResult:
        if not self.enough_speech(voiceprint):
            return FraudDetectionResult(result_id, FraudDetectionDecision.NOT_ENOUGH_SPEECH, screen.threshold,
                                        screen.watchlist_id, window)
        assert voiceprint is not None
        match = screen.match(voiceprint)
        risk = match.risk if match else 0
        decision = FraudDetectionDecision.HIGH_RISK if risk >= screen.threshold else FraudDetectionDecision.LOW_RISK
        return FraudDetectionResult(result_id, decision, screen.threshold, screen.watchlist_id, window,
                                    risk_score=risk, generated_fraudster_id=match.fraudster_id if match else None)

    def enough_speech(self, voiceprint: Voiceprint | None) -> bool:
        return voiceprint is not None and voiceprint.net_speech_seconds >= self.min_speech_seconds


def accessed(speaker: Speaker, result: AuthenticationResult, now: float) -> Speaker | None:
    """The speaker record with LastAccessedAt moved, when `result` authenticated them (Voice ID's rule: enrollment
    and successful authentication move it, and it drives expiry); None when nothing changes."""
    if result.decision is not AuthenticationDecision.ACCEPT:
        return None
    return speaker.accessed(now)
