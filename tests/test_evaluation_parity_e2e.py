"""A batch evaluation job decides as EvaluateSession does: the same calls evaluated both ways on one local runtime,
with real speech, read through the unmodified boto3 ``voice-id`` client and the job's output file.

The domain is test_evaluation_e2e's (Carlo and June enrolled from 40 s by an enrollment job, Menardi registered as
a fraudster by a registration job, "opted" opted out). Each call is uploaded as a session (its options as object
metadata) and all of them go into one evaluation job uploaded under evaluations/<DomainId>/ with the default
configuration. A job has one EvaluationConfig, so the calls with a non-default AcceptanceThreshold (one above the
genuine caller's score), RiskThreshold (one above the fraudster's risk) and an explicit watchlist go into a
second job, started with that EvaluationConfig, and into sessions with the same metadata.

Per call, the AuthenticationResult (Decision, Score, CustomerSpeakerId, GeneratedSpeakerId, Configuration) and
the FraudDetectionResult (Decision, Reasons, RiskDetails, Configuration) must be equal. The result ids and the
audio windows legitimately differ: a session's ids derive from (SessionId, upload) and its window is when its
audio was gathered; a job's ids derive from (JobId, RequestId) and its window is the job's CreatedAt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from enrollctl.local.jobs import wait_for_job
from enrollctl.local.runtime import LocalRuntime
from enrollctl.voiceid_evaluate import SessionUpload, upload_session, wait_for_session
from helpers import pcm16_wav, recording
from speaker_enrollment.adapters.dynamodb import DynamoJobStore
from test_api import start_request, voice_id
from test_evaluation_e2e import (
    AUDIO,
    CALLS,
    ENVIRONMENT,
    enrolled_domain,
    entries_by_request,
    put_manifest,
    put_recordings,
    wait_for_evaluation,
)
from test_fraudster_registration_e2e import output

pytestmark = pytest.mark.slow
VoiceId = Any
RESULT_ONLY = {"AuthenticationResultId", "FraudDetectionResultId", "AudioAggregationStartedAt",
               "AudioAggregationEndedAt"}  # differ legitimately between a session and a job


def stereo_call() -> bytes:
    """A two-channel call: the agent (Allison) on channel 0, the caller (June, as in june-call) on channel 1."""
    agent, caller = recording("allison-en", 15, 1), recording(*AUDIO["june-call"])
    frames = min(len(agent), len(caller))
    return pcm16_wav(np.stack([agent[:frames], caller[:frames]], axis=1))


def silent_call() -> bytes:
    return pcm16_wav(np.zeros(15 * 8000, dtype=np.float32))


EXTRA_AUDIO: dict[str, Callable[[], bytes]] = {"stereo-call": stereo_call, "silent-call": silent_call}
# Bad input is refused before any decision (an error entry, an upload tagged with the reason): the modules of each
# way test its messages.
DECIDED_CALLS = [c for c in CALLS if c["RequestId"] not in {"unreadable", "bad-id"}]
EXTRA_CALLS: list[dict[str, Any]] = [
    {"RequestId": "caller-channel", "SpeakerId": "june", "audio": "stereo-call", "channel": 1},
    {"RequestId": "silent", "SpeakerId": "june", "audio": "silent-call"},
]


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, environment=ENVIRONMENT) as rt:
        put_recordings(rt, {name: make() for name, make in EXTRA_AUDIO.items()})
        yield rt


@pytest.fixture(scope="module")
def client(runtime: LocalRuntime) -> VoiceId:
    return voice_id(runtime)


@pytest.fixture(scope="module")
def domain(runtime: LocalRuntime, client: VoiceId) -> dict[str, Any]:
    return enrolled_domain(runtime, client)


def upload_as_session(rt: LocalRuntime, domain_id: str, call: dict[str, Any], metadata: dict[str, str]
                      ) -> SessionUpload:
    """The call's recording (the very bytes the job reads) uploaded as a session, its options as metadata."""
    s3 = rt.client("s3")
    body = s3.get_object(Bucket=rt.inbox_bucket, Key=f"audio/{call['audio']}.wav")["Body"].read()
    return upload_session(s3, rt.inbox_bucket, domain_id, body, "wav", speaker_id=call.get("SpeakerId"),
                          channel=call.get("channel"), metadata=metadata)


def both_ways(rt: LocalRuntime, client: VoiceId, domain_id: str, calls: list[dict[str, Any]], *,
              session_metadata: dict[str, str], start_job: Callable[[], str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each call as a session and all as one job (`start_job()` starts it, returns its JobId), at once:
    (RequestId → EvaluateSession response, RequestId → the job's output entry)."""
    uploads = {c["RequestId"]: upload_as_session(rt, domain_id, c, session_metadata) for c in calls}
    job_id = start_job()
    s3 = rt.client("s3")
    sessions: dict[str, Any] = {}
    for request_id, upload in uploads.items():
        outcome = wait_for_session(client, s3, domain_id, upload, timeout=120)
        assert outcome.error is None, f"{request_id}: {outcome.error}"
        sessions[request_id] = outcome.response
    return sessions, entries_by_request(output(rt, wait_for_evaluation(client, domain_id, job_id)))


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in result.items() if name not in RESULT_ONLY}


def assert_same_decisions(sessions: dict[str, Any], entries: dict[str, Any]) -> None:
    assert set(entries) == set(sessions)
    for request_id, session in sessions.items():
        entry = entries[request_id]
        assert "ErrorMessage" not in entry, f"{request_id}: the session was evaluated, the job says {entry}"
        for result in ("AuthenticationResult", "FraudDetectionResult"):
            assert comparable(entry[result]) == comparable(session[result]), f"{request_id}: {result}"


@pytest.fixture(scope="module")
def by_default(runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any]
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every call at the defaults: sessions without threshold metadata, a job uploaded without any."""
    domain_id = domain["DomainId"]
    calls: list[dict[str, Any]] = [*DECIDED_CALLS, *EXTRA_CALLS,
             {"RequestId": "by-generated-id", "SpeakerId": domain["Speakers"]["june"]["GeneratedSpeakerId"],
              "audio": "june-call"}]
    jobs = DynamoJobStore(runtime.client("dynamodb"), runtime.jobs_table)

    def start() -> str:
        uri = put_manifest(runtime, f"evaluations/{domain_id}/parity.json", "SpeakerEvaluationRequests", calls)
        return wait_for_job(jobs, domain_id, uri, timeout=60).job_id

    return both_ways(runtime, client, domain_id, calls, session_metadata={}, start_job=start)


def test_a_job_decides_every_call_as_its_session_does(by_default: tuple[dict[str, Any], dict[str, Any]]) -> None:
    sessions, entries = by_default
    decisions = {request_id: (s["AuthenticationResult"]["Decision"], s["FraudDetectionResult"]["Decision"])
                 for request_id, s in sessions.items()}
    assert decisions == {  # every decision the test means to compare is there
        "genuine": ("ACCEPT", "LOW_RISK"), "by-generated-id": ("ACCEPT", "LOW_RISK"),
        "caller-channel": ("ACCEPT", "LOW_RISK"), "impostor": ("REJECT", "LOW_RISK"),
        "short": ("NOT_ENOUGH_SPEECH", "NOT_ENOUGH_SPEECH"), "silent": ("NOT_ENOUGH_SPEECH", "NOT_ENOUGH_SPEECH"),
        "unknown": ("SPEAKER_NOT_ENROLLED", "LOW_RISK"), "opted-out": ("SPEAKER_OPTED_OUT", "LOW_RISK"),
        "anonymous": ("SPEAKER_ID_NOT_PROVIDED", "LOW_RISK"), "fraudster": ("REJECT", "HIGH_RISK"),
    }
    assert_same_decisions(sessions, entries)


def test_a_job_honours_its_thresholds_and_watchlist_as_sessions_do_their_metadata(
        runtime: LocalRuntime, client: VoiceId, domain: dict[str, Any],
        by_default: tuple[dict[str, Any], dict[str, Any]]) -> None:
    sessions, _ = by_default
    score = sessions["genuine"]["AuthenticationResult"]["Score"]
    risk = sessions["fraudster"]["FraudDetectionResult"]["RiskDetails"]["KnownFraudsterRisk"]["RiskScore"]
    assert score < 100 and risk < 100
    acceptance, risk_threshold = score + 1, risk + 1  # each flips its call's decision
    calls = [c for c in DECIDED_CALLS if c["RequestId"] in {"genuine", "fraudster"}]
    metadata = {"acceptance-threshold": str(acceptance), "risk-threshold": str(risk_threshold),
                "watchlist-id": domain["WatchlistId"]}
    config = {"AcceptanceThreshold": acceptance, "FraudDetectionConfig": {
        "FraudDetectionAction": "FAIL", "RiskThreshold": risk_threshold, "WatchlistIds": [domain["WatchlistId"]]}}

    def start() -> str:
        put_manifest(runtime, "api/parity-thresholds.json", "SpeakerEvaluationRequests", calls)
        request = start_request(runtime, domain["DomainId"], "api/parity-thresholds.json")
        return str(client.start_speaker_evaluation_job(**request, EvaluationConfig=config)["Job"]["JobId"])

    strict, entries = both_ways(runtime, client, domain["DomainId"], calls, session_metadata=metadata,
                                start_job=start)
    assert strict["genuine"]["AuthenticationResult"]["Decision"] == "REJECT"
    assert strict["genuine"]["AuthenticationResult"]["Configuration"] == {"AcceptanceThreshold": acceptance}
    assert strict["fraudster"]["FraudDetectionResult"]["Decision"] == "LOW_RISK"
    assert_same_decisions(strict, entries)
