"""Voice ID's authentication and fraud decisions (domain/workflow/verification.py), on hand-made unit vectors:
the decision rules only; tests/test_evaluation*.py check them on real speech."""

from __future__ import annotations

import numpy as np
import pytest
from speaker_enrollment.domain.shared.fraudster import Fraudster
from speaker_enrollment.domain.shared.speaker import Speaker, SpeakerStatus
from speaker_enrollment.domain.workflow.fraud import FraudScreen
from speaker_enrollment.domain.workflow.verification import (
    AudioWindow,
    AuthenticationDecision,
    AuthenticationResult,
    FraudDetectionDecision,
    FraudDetectionResult,
    Verification,
    accessed,
)
from speaker_enrollment.voiceprint.engine import Voiceprint
from speaker_enrollment.voiceprint.scoring import ACCEPTANCE_COSINE, score

MODEL = "model-a"
WINDOW = AudioWindow(100.0, 112.0)


def unit(cos_with_first_axis: float) -> np.ndarray:
    """A unit vector whose cosine with the first axis is `cos_with_first_axis`."""
    vector = np.zeros(256, dtype=np.float32)
    vector[0], vector[1] = cos_with_first_axis, np.sqrt(1 - cos_with_first_axis**2)
    return vector


def call(cos: float, seconds: float = 12.0, model: str = MODEL) -> Voiceprint:
    return Voiceprint(unit(cos), model, seconds)


def speaker(status: SpeakerStatus = SpeakerStatus.ENROLLED, model: str = MODEL) -> Speaker:
    voiceprint = tuple(float(x) for x in unit(1.0)) if status is SpeakerStatus.ENROLLED else ()
    return Speaker("D" * 22, "caller-1", "id#" + "g" * 22, status, 1.0, 1.0, last_accessed_at=1.0,
                   voiceprint=voiceprint, model_id=model if voiceprint else None)


def decide(speaker_id: str | None, record: Speaker | None, voiceprint: Voiceprint | None,
           threshold: int = 90) -> AuthenticationResult:
    return Verification(acceptance_threshold=threshold).authenticate("r1", WINDOW, speaker_id, record, voiceprint)


@pytest.mark.parametrize(("speaker_id", "record", "voiceprint", "expected"), [
    (None, None, call(1.0), AuthenticationDecision.SPEAKER_ID_NOT_PROVIDED),
    ("caller-1", None, call(1.0), AuthenticationDecision.SPEAKER_NOT_ENROLLED),
    ("caller-1", speaker(SpeakerStatus.PENDING), call(1.0), AuthenticationDecision.SPEAKER_NOT_ENROLLED),
    ("caller-1", speaker(model="model-b"), call(1.0), AuthenticationDecision.SPEAKER_NOT_ENROLLED),
    ("caller-1", speaker(SpeakerStatus.OPTED_OUT), call(1.0), AuthenticationDecision.SPEAKER_OPTED_OUT),
    ("caller-1", speaker(SpeakerStatus.EXPIRED), call(1.0), AuthenticationDecision.SPEAKER_EXPIRED),
    ("caller-1", speaker(), call(1.0, seconds=9.9), AuthenticationDecision.NOT_ENOUGH_SPEECH),
    ("caller-1", speaker(), None, AuthenticationDecision.NOT_ENOUGH_SPEECH),
    ("caller-1", speaker(), call(ACCEPTANCE_COSINE), AuthenticationDecision.ACCEPT),
    ("caller-1", speaker(), call(0.80), AuthenticationDecision.REJECT),
])
def test_each_authentication_decision(speaker_id: str | None, record: Speaker | None,
                                      voiceprint: Voiceprint | None, expected: AuthenticationDecision) -> None:
    result = decide(speaker_id, record, voiceprint)
    assert result.decision is expected
    scored = expected in (AuthenticationDecision.ACCEPT, AuthenticationDecision.REJECT)
    assert (result.score is not None) == scored
    assert ("Score" in result.to_api()) == scored


def test_the_threshold_decides_at_equality() -> None:
    similarity = score(0.868)
    assert decide("caller-1", speaker(), call(0.868), threshold=similarity).decision is AuthenticationDecision.ACCEPT
    assert decide("caller-1", speaker(), call(0.868), threshold=similarity + 1).decision is (
        AuthenticationDecision.REJECT)


def test_the_result_names_the_speaker_and_its_configuration_and_round_trips() -> None:
    result = decide("caller-1", speaker(), call(0.95), threshold=75)
    shape = result.to_api()
    assert shape["CustomerSpeakerId"] == "caller-1" and shape["GeneratedSpeakerId"] == "id#" + "g" * 22
    assert shape["Configuration"] == {"AcceptanceThreshold": 75}
    assert (shape["AudioAggregationStartedAt"], shape["AudioAggregationEndedAt"]) == (100.0, 112.0)
    assert AuthenticationResult.from_api(shape) == result


def test_only_an_accept_moves_last_accessed_at() -> None:
    record = speaker()
    accepted = decide("caller-1", record, call(1.0))
    touched = accessed(record, accepted, now=500.0)
    assert touched is not None and touched.last_accessed_at == 500.0 and touched.version == record.version + 1
    assert accessed(record, decide("caller-1", record, call(0.5)), now=500.0) is None


def screen(*fraudster_cosines: float, threshold: int = 50) -> FraudScreen:
    fraudsters = [Fraudster("D" * 22, f"id#{i:022d}", frozenset({"W" * 22}), 1.0,
                            voiceprint=tuple(float(x) for x in unit(c)), model_id=MODEL)
                  for i, c in enumerate(fraudster_cosines)]
    return FraudScreen("W" * 22, threshold, fraudsters)


def test_fraud_high_risk_names_the_closest_fraudster_and_the_reason() -> None:
    result = Verification().detect_fraud("f1", WINDOW, screen(0.2, 0.99), call(1.0))
    shape = result.to_api()
    assert result.decision is FraudDetectionDecision.HIGH_RISK and shape["Reasons"] == ["KNOWN_FRAUDSTER"]
    assert shape["RiskDetails"] == {"KnownFraudsterRisk": {"RiskScore": score(0.99),
                                                           "GeneratedFraudsterId": f"id#{1:022d}"}}
    assert "VoiceSpoofingRisk" not in shape["RiskDetails"]
    assert FraudDetectionResult.from_api(shape) == result


def test_fraud_low_risk_below_the_threshold_and_with_an_empty_watchlist() -> None:
    low = Verification().detect_fraud("f1", WINDOW, screen(0.5), call(1.0))
    assert low.decision is FraudDetectionDecision.LOW_RISK and low.to_api()["Reasons"] == []
    empty = Verification().detect_fraud("f1", WINDOW, screen(), call(1.0))
    assert empty.decision is FraudDetectionDecision.LOW_RISK and empty.risk_score == 0
    assert "GeneratedFraudsterId" not in empty.to_api()["RiskDetails"]["KnownFraudsterRisk"]


def test_fraud_needs_speech_too() -> None:
    result = Verification().detect_fraud("f1", WINDOW, screen(0.99), call(1.0, seconds=5.0))
    assert result.decision is FraudDetectionDecision.NOT_ENOUGH_SPEECH and "RiskDetails" not in result.to_api()
    assert result.to_api()["Configuration"] == {"RiskThreshold": 50, "WatchlistId": "W" * 22}
