"""Speaker evaluation jobs without AWS: the manifest (SpeakerId optional, either id format), the upload's job request,
the summary, and the kind's rules on the fake embedder (the rules only: tests/test_evaluation_e2e.py decides on real
speech): which decisions need no audio, a short call as a decision, fraud IGNORE, LastAccessedAt, retries."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from fakes import FAKE_MODEL_ID, FakeEmbedder, MemoryAudio, MemoryFraudsters, MemorySpeakers, fake_recording, fake_voice
from fakes import run_shard_of as run_shard_with
from speaker_enrollment.domain.shared.fraudster import Fraudster
from speaker_enrollment.domain.shared.speaker import Speaker, SpeakerStatus
from speaker_enrollment.domain.shared.watchlist import default_watchlist_id
from speaker_enrollment.domain.workflow.fraud import FraudDetectionAction, FraudDetectionConfig
from speaker_enrollment.domain.workflow.kinds import JOB_TYPES
from speaker_enrollment.domain.workflow.kinds.evaluation import (
    SPEAKER_EVALUATION,
    EvaluationConfig,
    EvaluationRequest,
    SuccessfulEvaluation,
    result_ids,
    summary_of,
)
from speaker_enrollment.domain.workflow.manifest import AudioSpecification, parse_manifest
from speaker_enrollment.domain.workflow.output import merge_results
from speaker_enrollment.domain.workflow.results import JobResult, RequestError
from speaker_enrollment.domain.workflow.submission import Upload, UploadDefaults, request_from_upload
from speaker_enrollment.domain.workflow.verification import AuthenticationDecision, FraudDetectionDecision

DOMAIN = "D" * 22
GENERATED = "id#" + "g" * 22
FRAUDSTER = "id#" + "f" * 22
NOW = 1_700_000_000.0
DEFAULTS = UploadDefaults("out-bucket", "key-id", "arn:aws:iam::123456789012:role/data")


def evaluation_manifest(*entries: object) -> bytes:
    return json.dumps({"Version": "1.0", "SpeakerEvaluationRequests": list(entries)}).encode()


def entry(request_id: str, speaker_id: object = None, uri: str = "s3://inbox/a.wav") -> dict[str, Any]:
    document: dict[str, Any] = {"RequestId": request_id, "AudioSpecifications": [{"S3Uri": uri, "ChannelId": 0}]}
    if speaker_id is not None:
        document["SpeakerId"] = speaker_id
    return document


# ------------------------------------------------------------------------------------------- manifest


def test_a_speaker_id_is_optional_and_either_format_and_round_trips_through_the_shard_files() -> None:
    parsed = parse_manifest(evaluation_manifest(entry("a", "caller-1"), entry("b", GENERATED), entry("c")), 10,
                            SPEAKER_EVALUATION.manifest)
    assert parsed.errors == ()
    assert [(r.request_id, r.speaker_id) for r in parsed.requests] == [  # type: ignore[attr-defined]
        ("a", "caller-1"), ("b", GENERATED), ("c", None)]
    for request in parsed.requests:
        assert SPEAKER_EVALUATION.request_from_json(request.to_json()) == request
    assert "SpeakerId" not in parsed.requests[2].to_json()


@pytest.mark.parametrize(("speaker_id", "message"), [
    ("id#short", "SpeakerEvaluationRequests[0].SpeakerId 'id#short' is neither a CustomerSpeakerId (1-256 "
                 "characters of [a-zA-Z0-9_-] starting with a letter or digit) nor a GeneratedSpeakerId ('id#' and "
                 "22 characters of [a-zA-Z0-9])"),
    ("-dash-first", "SpeakerId '-dash-first' is neither a CustomerSpeakerId"),
    ("alice\n", "SpeakerEvaluationRequests[0].SpeakerId 'alice\n' is neither a CustomerSpeakerId"),
    (GENERATED + "\n", f"SpeakerId '{GENERATED}\n' is neither a CustomerSpeakerId"),
    ("x" * 257, "is neither a CustomerSpeakerId"),
    ("", "SpeakerEvaluationRequests[0].SpeakerId must be a non-empty string when given"),
    (42, "SpeakerEvaluationRequests[0].SpeakerId must be a non-empty string when given"),
])
def test_a_speaker_id_of_neither_format_is_a_precise_validation_error(speaker_id: object, message: str) -> None:
    parsed = parse_manifest(evaluation_manifest(entry("bad", speaker_id), entry("good", "caller-1")), 10,
                            SPEAKER_EVALUATION.manifest)
    (error,) = parsed.errors
    assert (error.request_id, error.error_code) == ("bad", 400)
    assert message in error.error_message
    assert [r.request_id for r in parsed.requests] == ["good"]


def test_the_output_file_lists_successful_evaluations_and_they_round_trip() -> None:
    (result,) = run_shard([request("a", "caller-1", "caller")], speakers=speakers(enrolled("caller-1", "caller")))
    assert isinstance(result, SuccessfulEvaluation)
    assert SPEAKER_EVALUATION.result_from_json(result.to_json()) == result
    output = json.loads(merge_results([RequestError("b", 400, "bad")], [], SPEAKER_EVALUATION).to_bytes())
    assert output == {"Version": "1.0", "Errors": [{"RequestId": "b", "ErrorCode": 400, "ErrorMessage": "bad"}],
                      "SuccessfulEvaluations": []}


# ---------------------------------------------------------------------------------------------- upload


def test_an_upload_under_evaluations_asks_for_an_evaluation_job_with_the_metadata() -> None:
    metadata = {"acceptance-threshold": "75", "risk-threshold": "60", "watchlist-id": "W" * 22,
                "fraud-detection-action": "ignore"}
    upload = Upload("inbox", f"evaluations/{DOMAIN}/june calls.json", "seq-1", metadata)
    uploaded = request_from_upload(upload, JOB_TYPES, DEFAULTS)
    assert uploaded.refusal is None
    assert uploaded.request.job_type is SPEAKER_EVALUATION and uploaded.request.domain_id == DOMAIN
    assert uploaded.request.config == EvaluationConfig(75, FraudDetectionConfig(FraudDetectionAction.IGNORE, 60,
                                                                                ("W" * 22,)))
    assert uploaded.request.config.to_api() == {"AcceptanceThreshold": 75, "FraudDetectionConfig": {
        "FraudDetectionAction": "IGNORE", "RiskThreshold": 60, "WatchlistIds": ["W" * 22]}}
    plain = request_from_upload(replace(upload, metadata={}), JOB_TYPES, DEFAULTS).request.config
    assert plain == EvaluationConfig() and plain.to_api() == {"AcceptanceThreshold": 90}


def test_an_acceptance_threshold_out_of_range_refuses_the_upload() -> None:
    upload = Upload("inbox", f"evaluations/{DOMAIN}/x.json", "seq-1", {"acceptance-threshold": "101"})
    assert request_from_upload(upload, JOB_TYPES, DEFAULTS).refusal == (
        "object metadata acceptance-threshold must be a whole number from 0 to 100, got '101'")


def test_the_config_round_trips_through_its_wire_shape() -> None:
    config = EvaluationConfig(80, FraudDetectionConfig(risk_threshold=40))
    assert EvaluationConfig.from_api(config.to_api()) == config
    assert EvaluationConfig.from_api(None) == EvaluationConfig() and SPEAKER_EVALUATION.config_member == (
        "EvaluationConfig")


# ---------------------------------------------------------------------------------------------- rules


def request(request_id: str, speaker_id: str | None, *audio: str) -> EvaluationRequest:
    return EvaluationRequest(request_id, speaker_id, tuple(AudioSpecification(f"s3://inbox/{name}", 0)
                                                         for name in audio))


def enrolled(customer_id: str, voice: str, generated: str = GENERATED, status: SpeakerStatus = SpeakerStatus.ENROLLED
             ) -> Speaker:
    voiceprint = tuple(float(x) for x in fake_voice(voice)) if status is SpeakerStatus.ENROLLED else ()
    return Speaker(DOMAIN, customer_id, generated, status, 1.0, 1.0, last_accessed_at=1.0, voiceprint=voiceprint,
                   model_id=FAKE_MODEL_ID if voiceprint else None, version=1)


def speakers(*records: Speaker) -> MemorySpeakers:
    store = MemorySpeakers()
    store.speakers.update({(s.domain_id, s.customer_speaker_id): s for s in records})
    return store


def audio() -> MemoryAudio:
    recordings = {"caller": ("caller", 12), "other": ("other", 12), "short": ("caller", 6),
                  "fraud": ("fraudster", 15), "caller-a": ("caller", 6), "caller-b": ("caller", 6),
                  "silent": ("caller", 0)}
    store = MemoryAudio({f"s3://inbox/{name}": fake_recording(*voice) for name, voice in recordings.items()})
    store.objects["s3://inbox/broken"] = b"not audio"
    return store


def fraudsters() -> MemoryFraudsters:
    voiceprint = tuple(float(x) for x in fake_voice("fraudster"))
    return MemoryFraudsters([Fraudster(DOMAIN, FRAUDSTER, frozenset({default_watchlist_id(DOMAIN)}), 1.0, voiceprint,
                                       FAKE_MODEL_ID)])


def run_shard(requests: list[EvaluationRequest], *, config: EvaluationConfig | None = None,
              speakers: MemorySpeakers | None = None, store: MemoryAudio | None = None,
              fraud: MemoryFraudsters | None = None) -> list[JobResult]:
    return run_shard_with(SPEAKER_EVALUATION, config or EvaluationConfig(), requests, audio=store or audio(),
                          embedder=FakeEmbedder(), speakers=speakers, fraudsters=fraud or fraudsters())


def decisions(results: list[JobResult]) -> dict[str, tuple[str, str | None]]:
    out: dict[str, tuple[str, str | None]] = {}
    for result in results:
        assert isinstance(result, SuccessfulEvaluation), result
        fraud = result.fraud_detection.decision.value if result.fraud_detection else None
        out[result.request_id] = (result.authentication.decision.value, fraud)
    return out


def test_each_request_gets_its_decisions_in_request_order() -> None:
    store = speakers(enrolled("caller-1", "caller"), enrolled("gone", "caller", "id#" + "o" * 22,
                                                              SpeakerStatus.OPTED_OUT))
    requests = [request("accept", "caller-1", "caller"), request("by-generated-id", GENERATED, "caller"),
                request("reject", "caller-1", "other"), request("short", "caller-1", "short"),
                request("pooled", "caller-1", "caller-a", "caller-b"), request("unknown", "nobody", "caller"),
                request("opted-out", "gone", "caller"), request("no-id", None, "caller"),
                request("fraudster", "caller-1", "fraud")]
    results = run_shard(requests, speakers=store)
    assert [r.request_id for r in results] == [r.request_id for r in requests]
    assert decisions(results) == {
        "accept": ("ACCEPT", "LOW_RISK"), "by-generated-id": ("ACCEPT", "LOW_RISK"), "reject": ("REJECT", "LOW_RISK"),
        "short": ("NOT_ENOUGH_SPEECH", "NOT_ENOUGH_SPEECH"), "pooled": ("ACCEPT", "LOW_RISK"),
        "unknown": ("SPEAKER_NOT_ENROLLED", "LOW_RISK"), "opted-out": ("SPEAKER_OPTED_OUT", "LOW_RISK"),
        "no-id": ("SPEAKER_ID_NOT_PROVIDED", "LOW_RISK"), "fraudster": ("REJECT", "HIGH_RISK")}
    by_id = {r.request_id: r for r in results if isinstance(r, SuccessfulEvaluation)}
    assert by_id["accept"].authentication.score == 100 and by_id["short"].authentication.score is None
    assert by_id["fraudster"].fraud_detection.generated_fraudster_id == FRAUDSTER  # type: ignore[union-attr]
    assert (by_id["by-generated-id"].customer_speaker_id, by_id["by-generated-id"].generated_speaker_id) == (
        "caller-1", GENERATED)
    assert (by_id["unknown"].customer_speaker_id, by_id["unknown"].generated_speaker_id) == ("nobody", None)
    assert "CustomerSpeakerId" not in by_id["no-id"].to_json()
    short = by_id["short"].to_json()
    assert short["FraudDetectionResult"]["Configuration"] == {"RiskThreshold": 50,
                                                              "WatchlistId": default_watchlist_id(DOMAIN)}


def test_an_unreadable_file_is_a_400_naming_the_file() -> None:
    (result,) = run_shard([request("broken", "caller-1", "broken")], speakers=speakers(enrolled("caller-1", "caller")))
    assert isinstance(result, RequestError) and result.error_code == 400
    assert result.error_message.startswith("Audio problem: ") and "s3://inbox/broken" in result.error_message
    (missing,) = run_shard([request("missing", None, "nothing")])
    assert isinstance(missing, RequestError) and "s3://inbox/nothing does not exist" in missing.error_message


def test_a_call_without_speech_is_not_enough_speech_as_for_a_session_and_adds_none_to_other_files() -> None:
    """A silent file is no audio problem: a session of it is NOT_ENOUGH_SPEECH (sessions.SessionEvaluator), and so is
    a request of it; pooled with other files it adds 0 s (it used to refuse the request with a 400)."""
    store = speakers(enrolled("caller-1", "caller"))
    results = run_shard([request("silent", "caller-1", "silent"), request("silent-short", "caller-1", "silent",
                                                                          "short"),
                         request("silent-call", "caller-1", "silent", "caller")], speakers=store)
    assert decisions(results) == {"silent": ("NOT_ENOUGH_SPEECH", "NOT_ENOUGH_SPEECH"),
                                  "silent-short": ("NOT_ENOUGH_SPEECH", "NOT_ENOUGH_SPEECH"),
                                  "silent-call": ("ACCEPT", "LOW_RISK")}
    lenient = run_shard_with(SPEAKER_EVALUATION, EvaluationConfig(), [request("silent", "caller-1", "silent")],
                             audio=audio(), embedder=FakeEmbedder(), speakers=store, fraudsters=fraudsters(),
                             min_evaluation_speech_seconds=0)
    assert decisions(lenient) == {"silent": ("NOT_ENOUGH_SPEECH", "NOT_ENOUGH_SPEECH")}  # no speech is never enough


def test_the_minimum_of_speech_is_the_deployments() -> None:
    results = run_shard_with(SPEAKER_EVALUATION, EvaluationConfig(), [request("short", "caller-1", "short")],
                             audio=audio(), embedder=FakeEmbedder(), speakers=speakers(enrolled("caller-1", "caller")),
                             fraudsters=fraudsters(), min_evaluation_speech_seconds=5)
    assert decisions(results) == {"short": ("ACCEPT", "LOW_RISK")}


def test_the_acceptance_threshold_decides() -> None:
    store = speakers(enrolled("caller-1", "caller"))
    (result,) = run_shard([request("near", "caller-1", "other")], speakers=store, config=EvaluationConfig(0))
    assert isinstance(result, SuccessfulEvaluation) and result.authentication.decision is AuthenticationDecision.ACCEPT
    assert result.to_json()["AuthenticationResult"]["Configuration"] == {"AcceptanceThreshold": 0}


def test_without_fraud_detection_there_is_no_fraud_result_and_undecidable_speakers_read_no_audio() -> None:
    config = EvaluationConfig(fraud_detection=FraudDetectionConfig(FraudDetectionAction.IGNORE))
    store, recordings = speakers(enrolled("caller-1", "caller")), audio()
    fraud = fraudsters()
    results = run_shard([request("accept", "caller-1", "caller"), request("unknown", "nobody", "caller"),
                         request("no-id", None, "fraud")], config=config, speakers=store, store=recordings, fraud=fraud)
    assert decisions(results) == {"accept": ("ACCEPT", None), "unknown": ("SPEAKER_NOT_ENROLLED", None),
                                  "no-id": ("SPEAKER_ID_NOT_PROVIDED", None)}
    assert recordings.fetched == ["s3://inbox/caller"] and fraud.reads == []
    assert all("FraudDetectionResult" not in r.to_json() for r in results)


def test_only_an_accept_moves_last_accessed_at_and_a_retry_reports_the_same() -> None:
    store = speakers(enrolled("caller-1", "caller"), enrolled("caller-2", "other", "id#" + "h" * 22))
    requests = [request("accept", "caller-1", "caller"), request("reject", "caller-2", "caller")]
    first = run_shard(requests, speakers=store)
    assert store.get(DOMAIN, "caller-1").last_accessed_at == NOW  # type: ignore[union-attr]
    assert store.get(DOMAIN, "caller-2").last_accessed_at == 1.0  # type: ignore[union-attr]
    assert [r.to_json() for r in run_shard(requests, speakers=store)] == [r.to_json() for r in first]
    assert first[0].to_json()["AuthenticationResult"]["AuthenticationResultId"] == result_ids("J", "accept")[0]
    assert len(set(result_ids("J", "accept")) | set(result_ids("J", "reject"))) == 4


def test_a_speaker_changed_meanwhile_keeps_its_change() -> None:
    class Racing(MemorySpeakers):
        def replace(self, speaker: Speaker, expected: Speaker) -> None:
            racer = replace(expected, status=SpeakerStatus.OPTED_OUT, version=expected.version + 1)
            self.speakers[(racer.domain_id, racer.customer_speaker_id)] = racer  # an OptOutSpeaker got there first
            super().replace(speaker, expected)

    store = Racing()
    store.speakers[(DOMAIN, "caller-1")] = enrolled("caller-1", "caller")
    assert decisions(run_shard([request("accept", "caller-1", "caller")], speakers=store)) == {
        "accept": ("ACCEPT", "LOW_RISK")}
    assert store.get(DOMAIN, "caller-1").status is SpeakerStatus.OPTED_OUT  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------- summary


def test_the_summary_counts_decisions_and_the_quartiles_of_the_scores() -> None:
    store = speakers(enrolled("caller-1", "caller"))
    results = run_shard([request("accept", "caller-1", "caller"), request("reject", "caller-1", "other"),
                         request("short", "caller-1", "short"), request("broken", None, "broken"),
                         request("fraudster", None, "fraud")], speakers=store)
    scores = sorted(r.authentication.score for r in results  # type: ignore[misc]
                    if isinstance(r, SuccessfulEvaluation) and r.authentication.score is not None)
    summary = summary_of(results)
    assert summary["AuthenticationDecisions"] == {
        "ACCEPT": 1, "REJECT": 1, "NOT_ENOUGH_SPEECH": 1, "SPEAKER_NOT_ENROLLED": 0, "SPEAKER_OPTED_OUT": 0,
        "SPEAKER_ID_NOT_PROVIDED": 1, "SPEAKER_EXPIRED": 0}
    assert summary["FraudDetectionDecisions"] == {"HIGH_RISK": 1, "LOW_RISK": 2, "NOT_ENOUGH_SPEECH": 1}
    assert summary["Errors"] == 1 and summary["AcceptRate"] == 0.5
    low, high = scores
    assert summary["Scores"] == {"Count": 2, "Minimum": low, "FirstQuartile": low + (high - low) / 4,
                                 "Median": (low + high) / 2, "ThirdQuartile": low + 3 * (high - low) / 4,
                                 "Maximum": high}
    assert SPEAKER_EVALUATION.summary(results).to_json() == {"EvaluationSummary": summary}  # type: ignore[union-attr]


def test_a_summary_without_scored_calls_has_no_rate_and_no_quartiles() -> None:
    summary = summary_of([RequestError("a", 400, "bad")])
    assert summary["Errors"] == 1 and set(summary) == {"AuthenticationDecisions", "FraudDetectionDecisions", "Errors"}
    assert set(summary["FraudDetectionDecisions"]) == {d.value for d in FraudDetectionDecision}
