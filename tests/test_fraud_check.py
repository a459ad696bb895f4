"""The enrollment's fraud check on real speech, with in-memory stores (no AWS).

Carlo is registered as a fraudster from one recording (part 0); he then tries to enroll from other
recordings of his voice (part 1) in the same job as Allison and June.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from enrollctl import samples
from fakes import MemoryAudio, MemoryFraudsters, run_shard_of
from speaker_enrollment.domain.shared.fraudster import Fraudster
from speaker_enrollment.domain.shared.ids import new_generated_fraudster_id, new_id
from speaker_enrollment.domain.shared.watchlist import default_watchlist_id
from speaker_enrollment.domain.workflow.fraud import FraudDetectionAction, FraudDetectionConfig
from speaker_enrollment.domain.workflow.kinds.enrollment import SPEAKER_ENROLLMENT, EnrollmentConfig, EnrollmentRequest
from speaker_enrollment.domain.workflow.manifest import AudioSpecification
from speaker_enrollment.domain.workflow.results import JobResult, RequestError
from speaker_enrollment.voiceprint.engine import VoiceprintEngine
from speaker_enrollment.voiceprint.scoring import DEFAULT_FRAUD_RISK_THRESHOLD

DOMAIN = "F" * 22
DEFAULT_WATCHLIST = default_watchlist_id(DOMAIN)
OTHER_WATCHLIST = new_id()
CALLERS = {"carlo": ("carlo-it", 40, 1), "allison": ("allison-en", 40, 0), "june": ("june-fr", 40, 0)}
REQUESTS = [EnrollmentRequest(f"r-{name}", name, (AudioSpecification(f"s3://inbox/{name}.wav", 0),))
            for name in CALLERS]
Runner = Callable[..., list[JobResult]]


@pytest.fixture(scope="module")
def audio_objects() -> dict[str, bytes]:
    return {f"s3://inbox/{name}.wav": samples.wav_bytes(samples.recording(*recipe))
            for name, recipe in CALLERS.items()}


@pytest.fixture(scope="module")
def carlo(engine: VoiceprintEngine) -> Fraudster:
    """Carlo as a fraudster of the default watchlist, from a recording the job never sees (part 0)."""
    speech = engine.speech(samples.wav_bytes(samples.recording("carlo-it", 40, 0)), "carlo-part0.wav")
    voiceprint = engine.voiceprint([speech])
    return Fraudster(DOMAIN, new_generated_fraudster_id(), frozenset({DEFAULT_WATCHLIST}), 1_700_000_000.0,
                     tuple(voiceprint.as_list()), voiceprint.model_id)


@pytest.fixture
def fraudsters(carlo: Fraudster) -> MemoryFraudsters:
    return MemoryFraudsters([carlo])


@pytest.fixture
def run(engine: VoiceprintEngine, audio_objects: dict[str, bytes], fraudsters: MemoryFraudsters) -> Runner:
    def run_job(fraud: FraudDetectionConfig | None = None) -> list[JobResult]:
        return run_shard_of(SPEAKER_ENROLLMENT, EnrollmentConfig(fraud_detection=fraud), REQUESTS,
                            audio=MemoryAudio(dict(audio_objects)), embedder=engine, fraudsters=fraudsters,
                            domain_id=DOMAIN)
    return run_job


def outcome(results: list[JobResult]) -> dict[str, object]:
    return {r.request_id: r.error_code if isinstance(r, RequestError) else r.status.value for r in results}


def test_a_fraudster_is_caught_by_the_default_watchlist_while_others_enroll(
    run: Runner, carlo: Fraudster, fraudsters: MemoryFraudsters
) -> None:
    results = run()  # no FraudDetectionConfig: FAIL, the calibrated threshold, the default watchlist
    assert outcome(results) == {"r-carlo": 400, "r-allison": "NEW_ENROLLMENT", "r-june": "NEW_ENROLLMENT"}
    refusal = results[0]
    assert isinstance(refusal, RequestError)
    assert carlo.generated_fraudster_id in refusal.error_message and DEFAULT_WATCHLIST in refusal.error_message
    risk = int(refusal.error_message.split("Fraud risk ")[1].split()[0])
    assert DEFAULT_FRAUD_RISK_THRESHOLD <= risk <= 100
    assert f"threshold {DEFAULT_FRAUD_RISK_THRESHOLD}" in refusal.error_message
    assert fraudsters.reads == [DEFAULT_WATCHLIST]  # once per shard, not per request


def test_ignore_enrolls_the_fraudster_without_reading_the_watchlist(
    run: Runner, fraudsters: MemoryFraudsters
) -> None:
    results = run(FraudDetectionConfig(FraudDetectionAction.IGNORE, risk_threshold=10))
    assert set(outcome(results).values()) == {"NEW_ENROLLMENT"}
    assert fraudsters.reads == []


def test_a_threshold_of_100_lets_the_fraudster_through(run: Runner) -> None:
    assert set(outcome(run(FraudDetectionConfig(risk_threshold=100))).values()) == {"NEW_ENROLLMENT"}


def test_a_low_threshold_catches_everyone(run: Runner) -> None:
    assert set(outcome(run(FraudDetectionConfig(risk_threshold=0))).values()) == {400}


def test_only_the_named_watchlist_is_checked(run: Runner, fraudsters: MemoryFraudsters) -> None:
    assert set(outcome(run(FraudDetectionConfig(watchlist_ids=(OTHER_WATCHLIST,)))).values()) == {"NEW_ENROLLMENT"}
    assert fraudsters.reads == [OTHER_WATCHLIST]


def test_a_fraudster_of_another_model_is_skipped_and_logged(
    run: Runner, fraudsters: MemoryFraudsters, carlo: Fraudster, caplog: pytest.LogCaptureFixture
) -> None:
    fraudsters.fraudsters = [replace(carlo, model_id="another-model-1.0")]
    assert set(outcome(run()).values()) == {"NEW_ENROLLMENT"}
    assert "1 of 1 fraudsters have voiceprints of another model" in caplog.text


def test_a_shard_with_nothing_to_enroll_reads_no_watchlist(
    engine: VoiceprintEngine, fraudsters: MemoryFraudsters
) -> None:
    results = run_shard_of(SPEAKER_ENROLLMENT, EnrollmentConfig(), REQUESTS[:1], audio=MemoryAudio(), embedder=engine,
                           fraudsters=fraudsters, domain_id=DOMAIN)
    assert outcome(results) == {"r-carlo": 400}  # the audio is missing
    assert fraudsters.reads == []
