"""Speaker evaluation jobs on the local runtime, with real speech, through the unmodified boto3 ``voice-id`` client
(the shipped model's extension gives it Start/Describe/ListSpeakerEvaluationJob(s)) and S3 uploads under
evaluations/<DomainId>/.

One domain for the module: Menardi is registered as a fraudster (a registration job), Carlo and June are enrolled
from 40 s recordings (an enrollment job, >= 30 s of net speech each), "opted" has opted out. Then an evaluation job
uploaded with object metadata checks other recordings of them (13-15 s calls): every decision value, the fraud
check, an unreadable file and a malformed SpeakerId; a second job started through the API asks for an
AcceptanceThreshold above the genuine caller's score and ignores fraud.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from enrollctl import cli
from enrollctl.local.jobs import wait_for_job
from enrollctl.local.runtime import LocalRuntime
from helpers import pcm16_wav, recording
from speaker_enrollment.adapters.dynamodb import DynamoJobStore
from speaker_enrollment.domain.shared.job import JobStatus
from speaker_enrollment.voiceprint.scoring import DEFAULT_ACCEPTANCE_THRESHOLD, DEFAULT_FRAUD_RISK_THRESHOLD
from test_api import error_of, start_request, voice_id
from test_api import wait_until_final as wait_for_enrollment
from test_fraudster_registration_e2e import output
from test_fraudster_registration_e2e import wait_until_final as wait_for_registration

pytestmark = pytest.mark.slow
ENVIRONMENT = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true", "VOICEPRINT_THREADS": "1"}
AUDIO = {  # name: (voice, seconds, part): enrollments and registrations take part 0, calls part 1
    "carlo-enroll": ("carlo-it", 40, 0), "june-enroll": ("june-fr", 40, 0), "menardi-register": ("menardi-it", 40, 0),
    "carlo-call": ("carlo-it", 15, 1), "june-call": ("june-fr", 15, 1), "allison-call": ("allison-en", 15, 1),
    "menardi-call": ("menardi-it", 15, 1), "short-call": ("ivr-ru", 8, 2),
}
FINAL = {s.value for s in JobStatus if s.is_final}
VoiceId = Any


def put_recordings(rt: LocalRuntime, extra: Mapping[str, bytes]) -> None:
    """AUDIO's recordings, and the `extra` files, in the inbox as audio/<name>.wav (see audio_uri)."""
    s3 = rt.client("s3")
    bodies = {**{name: pcm16_wav(recording(*recipe)) for name, recipe in AUDIO.items()}, **extra}
    for name, body in bodies.items():
        s3.put_object(Bucket=rt.inbox_bucket, Key=f"audio/{name}.wav", Body=body)


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, environment=ENVIRONMENT) as rt:
        put_recordings(rt, {"broken": b"RIFF\x00\x00not a wave file at all"})
        yield rt


@pytest.fixture(scope="module")
def client(runtime: LocalRuntime) -> VoiceId:
    return voice_id(runtime)


def audio_uri(rt: LocalRuntime, name: str) -> str:
    return f"s3://{rt.inbox_bucket}/audio/{name}.wav"


def put_manifest(rt: LocalRuntime, key: str, list_name: str, entries: list[dict[str, Any]],
                 metadata: dict[str, str] | None = None) -> str:
    """A manifest of `entries` (each with "audio": a recording's name, and "channel" when not 0) at `key` in the
    inbox; its S3 URI."""
    requests = [{**{k: v for k, v in e.items() if k not in {"audio", "channel"}},
                 "AudioSpecifications": [{"S3Uri": audio_uri(rt, e["audio"]), "ChannelId": e.get("channel", 0)}]}
                for e in entries]
    rt.client("s3").put_object(Bucket=rt.inbox_bucket, Key=key, Metadata=metadata or {},
                               Body=json.dumps({"Version": "1.0", list_name: requests}).encode())
    return f"s3://{rt.inbox_bucket}/{key}"


def wait_for_evaluation(client: VoiceId, domain_id: str, job_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.describe_speaker_evaluation_job(DomainId=domain_id, JobId=job_id)["Job"]
        if job["JobStatus"] in FINAL:
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s")


def entries_by_request(document: dict[str, Any]) -> dict[str, Any]:
    """RequestId → its SuccessfulEvaluations entry or its Errors entry; each RequestId exactly once."""
    entries = [*document["SuccessfulEvaluations"], *document["Errors"]]
    ids = [e["RequestId"] for e in entries]
    assert len(set(ids)) == len(ids)
    return dict(zip(ids, entries, strict=True))


@pytest.fixture(scope="module")
def domain(runtime: LocalRuntime, client: VoiceId) -> dict[str, Any]:
    return enrolled_domain(runtime, client)


def enrolled_domain(runtime: LocalRuntime, client: VoiceId) -> dict[str, Any]:
    """A new domain with its fraudster (Menardi, by a registration job), its two enrolled speakers (Carlo and June,
    by an enrollment job) and an opted-out one ("opted"); the recordings are put_recordings'."""
    created = client.create_domain(Name=f"d-{uuid.uuid4().hex[:8]}",
                                   ServerSideEncryptionConfiguration={"KmsKeyId": runtime.key.key_id})["Domain"]
    domain_id = created["DomainId"]
    put_manifest(runtime, "setup/fraudsters.json", "FraudsterRegistrationRequests",
                 [{"RequestId": "menardi", "audio": "menardi-register"}])
    registration = client.start_fraudster_registration_job(
        **start_request(runtime, domain_id, "setup/fraudsters.json"))["Job"]
    registered = wait_for_registration(client, domain_id, registration["JobId"])
    (fraudster,) = output(runtime, registered)["SuccessfulRegistrations"]
    put_manifest(runtime, "setup/speakers.json", "SpeakerEnrollmentRequests",
                 [{"RequestId": name, "SpeakerId": name, "audio": f"{name}-enroll"} for name in ("carlo", "june")])
    enrollment = client.start_speaker_enrollment_job(**start_request(runtime, domain_id, "setup/speakers.json"))["Job"]
    assert wait_for_enrollment(client, domain_id, enrollment["JobId"])["JobStatus"] == "COMPLETED"
    client.opt_out_speaker(DomainId=domain_id, SpeakerId="opted")
    speakers = {name: client.describe_speaker(DomainId=domain_id, SpeakerId=name)["Speaker"]
                for name in ("carlo", "june")}
    return {"DomainId": domain_id, "WatchlistId": created["WatchlistDetails"]["DefaultWatchlistId"],
            "FraudsterId": fraudster["GeneratedFraudsterId"], "Speakers": speakers}


CALLS = [
    {"RequestId": "genuine", "SpeakerId": "carlo", "audio": "carlo-call"},
    {"RequestId": "impostor", "SpeakerId": "carlo", "audio": "june-call"},
    {"RequestId": "short", "SpeakerId": "june", "audio": "short-call"},
    {"RequestId": "unknown", "SpeakerId": "nobody", "audio": "allison-call"},
    {"RequestId": "opted-out", "SpeakerId": "opted", "audio": "allison-call"},
    {"RequestId": "anonymous", "audio": "allison-call"},
    {"RequestId": "fraudster", "SpeakerId": "carlo", "audio": "menardi-call"},
    {"RequestId": "unreadable", "SpeakerId": "carlo", "audio": "broken"},
    {"RequestId": "bad-id", "SpeakerId": "id#not-a-generated-id", "audio": "carlo-call"},
]


@pytest.fixture(scope="module")
def uploaded_job(runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any]) -> dict[str, Any]:
    """The evaluation job an upload under evaluations/<DomainId>/ starts (plus June named by her GeneratedSpeakerId),
    timed from upload to its final status."""
    domain_id = domain["DomainId"]
    calls = [*CALLS, {"RequestId": "by-generated-id", "SpeakerId": domain["Speakers"]["june"]["GeneratedSpeakerId"],
                      "audio": "june-call"}]
    began = time.monotonic()
    uri = put_manifest(runtime, f"evaluations/{domain_id}/calls.json", "SpeakerEvaluationRequests", calls,
                       metadata={"job-name": "july-calls", "risk-threshold": str(DEFAULT_FRAUD_RISK_THRESHOLD)})
    job = wait_for_job(DynamoJobStore(runtime.client("dynamodb"), runtime.jobs_table), domain_id, uri, timeout=180)
    described = wait_for_evaluation(client, domain_id, job.job_id)
    described["WallSeconds"] = time.monotonic() - began
    print(f"\nevaluation job of {len(calls)} requests: {described['WallSeconds']:.1f} s from upload to "
          f"{described['JobStatus']}")
    return described


@pytest.fixture(scope="module")
def strict_job(runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any], uploaded_job: dict[str, Any]
               ) -> dict[str, Any]:
    """The genuine call again, through StartSpeakerEvaluationJob, at a threshold one above its score, fraud IGNORE."""
    genuine = entries_by_request(output(runtime, uploaded_job))["genuine"]["AuthenticationResult"]
    put_manifest(runtime, "api/strict.json", "SpeakerEvaluationRequests", [CALLS[0]])
    config = {"AcceptanceThreshold": genuine["Score"] + 1, "FraudDetectionConfig": {"FraudDetectionAction": "IGNORE"}}
    started = client.start_speaker_evaluation_job(
        **start_request(runtime, domain["DomainId"], "api/strict.json"), EvaluationConfig=config,
        JobName="strict")["Job"]
    assert (started["JobStatus"], started["EvaluationConfig"]) == ("SUBMITTED", config)
    assert "EvaluationSummary" not in started
    return wait_for_evaluation(client, domain["DomainId"], started["JobId"])


def test_each_call_gets_voice_ids_decisions(runtime: LocalRuntime, domain: dict[str, Any],
                                            uploaded_job: dict[str, Any]) -> None:
    assert uploaded_job["JobStatus"] == "COMPLETED_WITH_ERRORS" and uploaded_job["JobName"] == "july-calls"
    assert uploaded_job["EvaluationConfig"] == {"AcceptanceThreshold": DEFAULT_ACCEPTANCE_THRESHOLD,
                                                "FraudDetectionConfig": {"FraudDetectionAction": "FAIL",
                                                                         "RiskThreshold": DEFAULT_FRAUD_RISK_THRESHOLD}}
    entries = entries_by_request(output(runtime, uploaded_job))
    assert set(entries) == {c["RequestId"] for c in CALLS} | {"by-generated-id"}  # every request exactly once
    decided = {request_id: (e["AuthenticationResult"]["Decision"], e["FraudDetectionResult"]["Decision"])
               for request_id, e in entries.items() if "AuthenticationResult" in e}
    assert decided == {
        "genuine": ("ACCEPT", "LOW_RISK"), "by-generated-id": ("ACCEPT", "LOW_RISK"),
        "impostor": ("REJECT", "LOW_RISK"), "short": ("NOT_ENOUGH_SPEECH", "NOT_ENOUGH_SPEECH"),
        "unknown": ("SPEAKER_NOT_ENROLLED", "LOW_RISK"), "opted-out": ("SPEAKER_OPTED_OUT", "LOW_RISK"),
        "anonymous": ("SPEAKER_ID_NOT_PROVIDED", "LOW_RISK"), "fraudster": ("REJECT", "HIGH_RISK"),
    }
    carlo = domain["Speakers"]["carlo"]
    genuine = entries["genuine"]
    assert (genuine["CustomerSpeakerId"], genuine["GeneratedSpeakerId"]) == ("carlo", carlo["GeneratedSpeakerId"])
    assert (entries["by-generated-id"]["CustomerSpeakerId"], entries["by-generated-id"]["GeneratedSpeakerId"]) == (
        "june", domain["Speakers"]["june"]["GeneratedSpeakerId"])
    authentication = genuine["AuthenticationResult"]
    assert DEFAULT_ACCEPTANCE_THRESHOLD <= authentication["Score"] < 100
    assert entries["impostor"]["AuthenticationResult"]["Score"] < DEFAULT_ACCEPTANCE_THRESHOLD
    assert authentication["Configuration"] == {"AcceptanceThreshold": DEFAULT_ACCEPTANCE_THRESHOLD}
    assert len(authentication["AuthenticationResultId"]) == 22
    window = (authentication["AudioAggregationStartedAt"], authentication["AudioAggregationEndedAt"])
    assert window == pytest.approx((uploaded_job["CreatedAt"].timestamp(),) * 2, abs=1e-3)  # the job's CreatedAt
    for unscored in ("short", "unknown", "opted-out", "anonymous"):
        assert "Score" not in entries[unscored]["AuthenticationResult"]
    assert "CustomerSpeakerId" not in entries["anonymous"]
    fraud = entries["fraudster"]["FraudDetectionResult"]
    assert fraud["Reasons"] == ["KNOWN_FRAUDSTER"]
    assert fraud["RiskDetails"]["KnownFraudsterRisk"]["GeneratedFraudsterId"] == domain["FraudsterId"]
    assert fraud["RiskDetails"]["KnownFraudsterRisk"]["RiskScore"] >= DEFAULT_FRAUD_RISK_THRESHOLD
    assert fraud["Configuration"] == {"RiskThreshold": DEFAULT_FRAUD_RISK_THRESHOLD,
                                      "WatchlistId": domain["WatchlistId"]}
    assert "RiskDetails" not in entries["short"]["FraudDetectionResult"]
    assert "VoiceSpoofingRisk" not in json.dumps(entries)


def test_bad_input_is_an_error_entry_with_the_precise_reason(runtime: LocalRuntime,
                                                             uploaded_job: dict[str, Any]) -> None:
    entries = entries_by_request(output(runtime, uploaded_job))
    unreadable, bad_id = entries["unreadable"], entries["bad-id"]
    assert unreadable["ErrorCode"] == bad_id["ErrorCode"] == 400
    assert unreadable["ErrorMessage"].startswith("Audio problem: ")
    assert audio_uri(runtime, "broken") in unreadable["ErrorMessage"]
    assert bad_id["ErrorMessage"] == (
        "SpeakerEvaluationRequests[8].SpeakerId 'id#not-a-generated-id' is neither a CustomerSpeakerId (1-256 "
        "characters of [a-zA-Z0-9_-] starting with a letter or digit) nor a GeneratedSpeakerId ('id#' and 22 "
        "characters of [a-zA-Z0-9])")


def test_the_job_record_summarises_the_decisions(runtime: LocalRuntime, uploaded_job: dict[str, Any]) -> None:
    summary = uploaded_job["EvaluationSummary"]
    assert summary["AuthenticationDecisions"] == {
        "ACCEPT": 2, "REJECT": 2, "NOT_ENOUGH_SPEECH": 1, "SPEAKER_NOT_ENROLLED": 1, "SPEAKER_OPTED_OUT": 1,
        "SPEAKER_ID_NOT_PROVIDED": 1, "SPEAKER_EXPIRED": 0}
    assert summary["FraudDetectionDecisions"] == {"HIGH_RISK": 1, "LOW_RISK": 6, "NOT_ENOUGH_SPEECH": 1}
    assert summary["Errors"] == 2 and summary["AcceptRate"] == 0.5
    entries = entries_by_request(output(runtime, uploaded_job))
    scores = sorted(e["AuthenticationResult"]["Score"] for e in entries.values()
                    if "Score" in e.get("AuthenticationResult", {}))
    assert len(scores) == 4 and summary["Scores"]["Count"] == 4
    assert (summary["Scores"]["Minimum"], summary["Scores"]["Maximum"]) == (scores[0], scores[-1])
    assert summary["Scores"]["Median"] == (scores[1] + scores[2]) / 2
    assert scores[0] <= summary["Scores"]["FirstQuartile"] <= summary["Scores"]["Median"] <= (
        summary["Scores"]["ThirdQuartile"]) <= scores[-1]


def test_an_accept_moves_the_speakers_last_accessed_at(client: VoiceId, domain: dict[str, Any],
                                                       uploaded_job: dict[str, Any]) -> None:
    for name in ("carlo", "june"):
        before = domain["Speakers"][name]
        after = client.describe_speaker(DomainId=domain["DomainId"], SpeakerId=name)["Speaker"]
        assert after["LastAccessedAt"] > before["LastAccessedAt"]
        assert after["UpdatedAt"] == before["UpdatedAt"] and after["Status"] == "ENROLLED"


def test_the_acceptance_threshold_is_honoured_and_ignore_skips_the_fraud_check(
    runtime: LocalRuntime, uploaded_job: dict[str, Any], strict_job: dict[str, Any]
) -> None:
    first = entries_by_request(output(runtime, uploaded_job))["genuine"]["AuthenticationResult"]
    (entry,) = output(runtime, strict_job)["SuccessfulEvaluations"]
    assert strict_job["JobStatus"] == "COMPLETED" and strict_job["JobName"] == "strict"
    assert (entry["AuthenticationResult"]["Decision"], entry["AuthenticationResult"]["Score"]) == (
        "REJECT", first["Score"])
    assert entry["AuthenticationResult"]["Configuration"] == {"AcceptanceThreshold": first["Score"] + 1}
    assert "FraudDetectionResult" not in entry
    assert entry["AuthenticationResult"]["AuthenticationResultId"] != first["AuthenticationResultId"]
    assert strict_job["EvaluationSummary"]["AcceptRate"] == 0.0


def test_evaluation_jobs_are_listed_and_described_apart_from_other_kinds(
    client: VoiceId, domain: dict[str, Any], uploaded_job: dict[str, Any], strict_job: dict[str, Any]
) -> None:
    domain_id = domain["DomainId"]
    pages = client.get_paginator("list_speaker_evaluation_jobs").paginate(DomainId=domain_id, PaginationConfig={
        "PageSize": 1})
    listed = [summary for page in pages for summary in page["JobSummaries"]]
    assert [j["JobId"] for j in listed] == [strict_job["JobId"], uploaded_job["JobId"]]  # newest first
    assert listed[1]["JobName"] == "july-calls" and listed[1]["JobStatus"] == "COMPLETED_WITH_ERRORS"
    assert "EvaluationSummary" not in listed[1]  # the summary is Describe's
    completed = client.list_speaker_evaluation_jobs(DomainId=domain_id, JobStatus="COMPLETED")["JobSummaries"]
    assert [j["JobId"] for j in completed] == [strict_job["JobId"]]
    enrollments = client.list_speaker_enrollment_jobs(DomainId=domain_id)["JobSummaries"]
    assert uploaded_job["JobId"] not in {j["JobId"] for j in enrollments}
    missing = error_of(client.describe_speaker_enrollment_job, DomainId=domain_id, JobId=uploaded_job["JobId"])
    assert (missing["Code"], missing["ResourceType"]) == ("ResourceNotFoundException", "BATCH_JOB")
    other = error_of(client.describe_speaker_evaluation_job, DomainId=domain_id, JobId="A" * 22)
    assert other["ResourceType"] == "BATCH_JOB"


def test_start_validates_the_evaluation_config_against_the_model(runtime: LocalRuntime, domain: dict[str, Any]
                                                                 ) -> None:
    lax = voice_id(runtime, parameter_validation=False)  # the server must refuse what botocore would
    request = start_request(runtime, domain["DomainId"], "api/strict.json")
    refused = error_of(lax.start_speaker_evaluation_job, **request, EvaluationConfig={"AcceptanceThreshold": 101})
    assert (refused["Code"], refused["Status"]) == ("ValidationException", 400)
    assert "EvaluationConfig.AcceptanceThreshold" in refused["Message"]
    unknown = {"FraudDetectionConfig": {"WatchlistIds": ["W" * 22]}}
    missing = error_of(lax.start_speaker_evaluation_job, **request, EvaluationConfig=unknown)
    assert (missing["Code"], missing["ResourceType"]) == ("ResourceNotFoundException", "WATCHLIST")


def test_enrollctl_wait_follows_an_evaluation_job_and_prints_its_summary(
    runtime: LocalRuntime, domain: dict[str, Any], uploaded_job: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["wait", uploaded_job["JobId"], "--domain-id", domain["DomainId"], "--endpoint-url",
                       runtime.endpoint, "--interval", "0"])
    out, err = capsys.readouterr()
    assert status == 1  # COMPLETED_WITH_ERRORS
    assert json.loads(out)["Job"]["EvaluationSummary"]["AcceptRate"] == 0.5
    (line,) = [line for line in err.splitlines() if line.startswith("EvaluationSummary: ")]
    assert line.startswith("EvaluationSummary: AuthenticationDecisions: ")  # the model's order of members
    assert all(f"{decision} {count}" in line for decision, count in (("ACCEPT", 2), ("REJECT", 2), ("HIGH_RISK", 1)))
    assert "; Errors: 2; AcceptRate: 0.5; Scores: Count 4, Minimum " in line
