"""EvaluateSession on recorded calls, end to end on the local runtime with real speech: recordings uploaded to the
inbox under sessions/<DomainId>/ (the stack's EventBridge rule → EvaluateSessionFunction), read back through the
unmodified boto3 ``voice-id`` client.

Speakers are written through the speaker store with voiceprints of part 0 of their voice (40 s), as an enrollment
job would write them; calls use part 1 (other words of the same voice). Carlo is a registered fraudster.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from enrollctl import cli
from enrollctl.local.runtime import LocalRuntime
from enrollctl.voiceid_evaluate import SessionOutcome, SessionUpload, upload_session, wait_for_session
from helpers import VoiceprintOf, pcm16_wav, recording
from speaker_enrollment.adapters.dynamodb import DynamoSessionStore, DynamoSpeakerStore
from speaker_enrollment.domain.shared.fraudster import Fraudster
from speaker_enrollment.domain.shared.ids import new_generated_fraudster_id, new_generated_speaker_id
from speaker_enrollment.domain.shared.speaker import EnrollmentStatus, Speaker, SpeakerStatus
from speaker_enrollment.domain.workflow.sessions import session_id_of
from speaker_enrollment.voiceprint.scoring import DEFAULT_FRAUD_RISK_THRESHOLD
from test_api import error_of, voice_id

pytestmark = pytest.mark.slow
ENVIRONMENT = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true", "VOICEPRINT_THREADS": "1"}
CALL_SECONDS = 15  # about 13 s of net speech: enough (10 s)
SHORT_SECONDS = 6  # about 5 s: not enough
VoiceId = Any


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, environment=ENVIRONMENT) as rt:
        yield rt


@pytest.fixture(scope="module")
def client(runtime: LocalRuntime) -> VoiceId:
    return voice_id(runtime)


@pytest.fixture(scope="module")
def s3(runtime: LocalRuntime) -> Any:
    return runtime.client("s3")


def speakers(rt: LocalRuntime) -> DynamoSpeakerStore:
    return rt.composition().speakers


@pytest.fixture(scope="module")
def domain(client: VoiceId, runtime: LocalRuntime, voiceprint_of: VoiceprintOf) -> dict[str, Any]:
    """A domain with Allison and June enrolled, an opted-out and an expired speaker, and Carlo as a fraudster."""
    created = client.create_domain(Name=f"d-{uuid.uuid4().hex[:8]}",
                                   ServerSideEncryptionConfiguration={"KmsKeyId": runtime.key.key_id})["Domain"]
    domain_id = created["DomainId"]
    store = speakers(runtime)
    for customer_id, voice in (("allison", "allison-en"), ("june", "june-fr"), ("expired", "menardi-it")):
        voiceprint = voiceprint_of(voice, 40, 0)
        speaker = Speaker(domain_id, customer_id, new_generated_speaker_id(), SpeakerStatus.PENDING, 1.0, 1.0)
        store.create(speaker, 100)
        enrolled = speaker.enrolled(voiceprint=tuple(voiceprint.as_list()), model_id=voiceprint.model_id,
                                    net_speech_seconds=voiceprint.net_speech_seconds, by="test/r1",
                                    status=EnrollmentStatus.NEW_ENROLLMENT, now=1_000.0)
        store.replace(enrolled, speaker)
    expired = store.get(domain_id, "expired")
    assert expired is not None  # the expiry sweep's write (another component): the status only
    store.replace(replace(expired, status=SpeakerStatus.EXPIRED, version=expired.version + 1), expired)
    client.opt_out_speaker(DomainId=domain_id, SpeakerId="opted")
    fraudster_voice = voiceprint_of("carlo-it", 40, 0)
    watchlist_id = created["WatchlistDetails"]["DefaultWatchlistId"]
    fraudster = Fraudster(domain_id, new_generated_fraudster_id(), frozenset({watchlist_id}), 1_000.0,
                          tuple(fraudster_voice.as_list()), fraudster_voice.model_id)
    runtime.composition().fraudsters.create(fraudster, 500)
    return {"DomainId": domain_id, "WatchlistId": watchlist_id, "FraudsterId": fraudster.generated_fraudster_id}


@dataclass(frozen=True)
class Env:
    runtime: LocalRuntime
    client: VoiceId
    s3: Any
    domain: dict[str, Any]

    def evaluate(self, body: bytes, **options: Any) -> tuple[SessionUpload, SessionOutcome]:
        return evaluate(self.runtime, self.client, self.s3, self.domain["DomainId"], body, **options)


@pytest.fixture(scope="module")
def env(runtime: LocalRuntime, client: VoiceId, s3: Any, domain: dict[str, Any]) -> Env:
    return Env(runtime, client, s3, domain)


def call(voice: str, seconds: float = CALL_SECONDS) -> bytes:
    return pcm16_wav(recording(voice, seconds, 1))


def evaluate(rt: LocalRuntime, client: VoiceId, s3: Any, domain_id: str, body: bytes, *,
             session_name: str | None = None, speaker_id: str | None = None, **metadata: str
             ) -> tuple[SessionUpload, SessionOutcome]:
    upload = upload_session(s3, rt.inbox_bucket, domain_id, body, "wav", session_name=session_name,
                            speaker_id=speaker_id, metadata={k.replace("_", "-"): v for k, v in metadata.items()})
    return upload, wait_for_session(client, s3, domain_id, upload, timeout=120)


def decision(outcome: SessionOutcome) -> str:
    return str(outcome.response["AuthenticationResult"]["Decision"])


def last_accessed(client: VoiceId, domain_id: str, speaker_id: str) -> Any:
    return client.describe_speaker(DomainId=domain_id, SpeakerId=speaker_id)["Speaker"].get("LastAccessedAt")


def test_a_genuine_caller_is_accepted_found_by_name_and_id_and_their_last_access_moves(
        runtime: LocalRuntime, client: VoiceId, s3: Any, domain: dict[str, Any]) -> None:
    domain_id = domain["DomainId"]
    before = last_accessed(client, domain_id, "allison")
    upload, outcome = evaluate(runtime, client, s3, domain_id, call("allison-en"), speaker_id="allison")
    response = outcome.response
    assert outcome.error is None and response["StreamingStatus"] == "ENDED"
    assert response["SessionName"] == upload.session_name
    assert response["SessionId"] == session_id_of(domain_id, upload.session_name)
    assert set(response) == {"DomainId", "SessionId", "SessionName", "StreamingStatus", "AuthenticationResult",
                             "FraudDetectionResult"}
    auth = response["AuthenticationResult"]
    assert auth["Decision"] == "ACCEPT" and auth["Score"] >= 90
    assert auth["CustomerSpeakerId"] == "allison" and auth["GeneratedSpeakerId"].startswith("id#")
    assert auth["Configuration"] == {"AcceptanceThreshold": 90}
    assert auth["AudioAggregationStartedAt"] <= auth["AudioAggregationEndedAt"]
    fraud = response["FraudDetectionResult"]
    assert fraud["Decision"] == "LOW_RISK" and fraud["Reasons"] == []
    assert fraud["Configuration"] == {"RiskThreshold": DEFAULT_FRAUD_RISK_THRESHOLD,
                                      "WatchlistId": domain["WatchlistId"]}
    assert set(fraud["RiskDetails"]) == {"KnownFraudsterRisk"}  # never a VoiceSpoofingRisk: no spoofing model
    assert fraud["RiskDetails"]["KnownFraudsterRisk"]["RiskScore"] < DEFAULT_FRAUD_RISK_THRESHOLD
    by_id = client.evaluate_session(DomainId=domain_id, SessionNameOrId=response["SessionId"])
    assert {k: v for k, v in by_id.items() if k != "ResponseMetadata"} == response
    after = last_accessed(client, domain_id, "allison")
    assert after > before and after >= auth["AudioAggregationEndedAt"]


def test_another_person_is_rejected_and_the_speakers_last_access_stays(
        runtime: LocalRuntime, client: VoiceId, s3: Any, domain: dict[str, Any]) -> None:
    domain_id = domain["DomainId"]
    before = last_accessed(client, domain_id, "june")
    _, outcome = evaluate(runtime, client, s3, domain_id, call("allison-en"), speaker_id="june")
    auth = outcome.response["AuthenticationResult"]
    assert auth["Decision"] == "REJECT" and auth["Score"] < 90 and auth["CustomerSpeakerId"] == "june"
    assert last_accessed(client, domain_id, "june") == before


def test_the_acceptance_threshold_of_the_upload_decides(
        runtime: LocalRuntime, client: VoiceId, s3: Any, domain: dict[str, Any]) -> None:
    domain_id = domain["DomainId"]
    body = call("june-fr")
    _, first = evaluate(runtime, client, s3, domain_id, body, speaker_id="june")
    score = first.response["AuthenticationResult"]["Score"]
    assert decision(first) == "ACCEPT" and score < 100
    _, at_score = evaluate(runtime, client, s3, domain_id, body, speaker_id="june", acceptance_threshold=str(score))
    assert decision(at_score) == "ACCEPT"  # Score >= AcceptanceThreshold
    _, above = evaluate(runtime, client, s3, domain_id, body, speaker_id="june", acceptance_threshold=str(score + 1))
    auth = above.response["AuthenticationResult"]
    assert auth["Decision"] == "REJECT" and auth["Score"] == score
    assert auth["Configuration"] == {"AcceptanceThreshold": score + 1}


@pytest.mark.parametrize(("speaker_id", "voice", "seconds", "expected"), [
    ("allison", "allison-en", SHORT_SECONDS, "NOT_ENOUGH_SPEECH"),
    ("nobody", "allison-en", CALL_SECONDS, "SPEAKER_NOT_ENROLLED"),
    ("opted", "allison-en", CALL_SECONDS, "SPEAKER_OPTED_OUT"),
    ("expired", "menardi-it", CALL_SECONDS, "SPEAKER_EXPIRED"),
    (None, "allison-en", CALL_SECONDS, "SPEAKER_ID_NOT_PROVIDED"),
])
def test_decisions_without_a_score(env: Env, speaker_id: str | None, voice: str, seconds: float,
                                   expected: str) -> None:
    _, outcome = env.evaluate(call(voice, seconds), speaker_id=speaker_id)
    auth = outcome.response["AuthenticationResult"]
    assert auth["Decision"] == expected and "Score" not in auth
    fraud = outcome.response["FraudDetectionResult"]
    if expected == "NOT_ENOUGH_SPEECH":
        assert fraud["Decision"] == "NOT_ENOUGH_SPEECH" and "RiskDetails" not in fraud
    else:
        assert fraud["Decision"] == "LOW_RISK"


def test_a_registered_fraudster_is_high_risk(runtime: LocalRuntime, client: VoiceId, s3: Any,
                                             domain: dict[str, Any]) -> None:
    _, outcome = evaluate(runtime, client, s3, domain["DomainId"], call("carlo-it"))
    fraud = outcome.response["FraudDetectionResult"]
    assert fraud["Decision"] == "HIGH_RISK" and fraud["Reasons"] == ["KNOWN_FRAUDSTER"]
    risk = fraud["RiskDetails"]["KnownFraudsterRisk"]
    assert risk["GeneratedFraudsterId"] == domain["FraudsterId"] and risk["RiskScore"] >= DEFAULT_FRAUD_RISK_THRESHOLD
    _, stricter = evaluate(runtime, client, s3, domain["DomainId"], call("carlo-it"),
                           risk_threshold=str(min(100, risk["RiskScore"] + 1)))
    assert stricter.response["FraudDetectionResult"]["Decision"] == "LOW_RISK"


def test_a_re_upload_re_evaluates_and_a_duplicate_event_changes_nothing(
        runtime: LocalRuntime, client: VoiceId, s3: Any, domain: dict[str, Any]) -> None:
    domain_id = domain["DomainId"]
    name = f"contact-{uuid.uuid4().hex[:12]}"
    _, first = evaluate(runtime, client, s3, domain_id, call("june-fr"), session_name=name, speaker_id="allison")
    assert decision(first) == "REJECT"
    upload, second = evaluate(runtime, client, s3, domain_id, call("allison-en"), session_name=name,
                              speaker_id="allison")
    assert decision(second) == "ACCEPT" and second.response["SessionId"] == first.response["SessionId"]
    assert (second.response["AuthenticationResult"]["AuthenticationResultId"]
            != first.response["AuthenticationResult"]["AuthenticationResultId"])
    # EventBridge delivers at least once: the same upload's event again.
    bus = runtime.bus
    assert bus is not None
    event = next(e for e in reversed(bus.delivered) if e["detail"]["object"]["key"] == upload.key)
    accessed = last_accessed(client, domain_id, "allison")
    assert bus.publish(json.loads(json.dumps(event))) == 1
    bus.wait_idle()
    again = client.evaluate_session(DomainId=domain_id, SessionNameOrId=name)
    assert {k: v for k, v in again.items() if k != "ResponseMetadata"} == second.response
    assert last_accessed(client, domain_id, "allison") == accessed
    stored = DynamoSessionStore(runtime.client("dynamodb"), runtime.settings.sessions_table or "").get(
        domain_id, second.response["SessionId"])
    assert stored is not None and stored.version_id == upload.version_id


def test_an_unknown_session_is_not_found(client: VoiceId, domain: dict[str, Any]) -> None:
    for name_or_id in ("never-uploaded", "id#" + "Z" * 22):
        error = error_of(client.evaluate_session, DomainId=domain["DomainId"], SessionNameOrId=name_or_id)
        assert error["Code"] == "ResourceNotFoundException" and error["ResourceType"] == "SESSION"
        assert error["Status"] == 404
    error = error_of(client.evaluate_session, DomainId="Q" * 22, SessionNameOrId="x")
    assert error["Code"] == "ResourceNotFoundException" and error["ResourceType"] == "DOMAIN"


def test_unreadable_audio_ends_the_session_without_results_and_says_why(
        runtime: LocalRuntime, client: VoiceId, s3: Any, domain: dict[str, Any]) -> None:
    _, outcome = evaluate(runtime, client, s3, domain["DomainId"], b"RIFF this is not audio", speaker_id="allison")
    assert outcome.error is not None and outcome.error.startswith("Audio problem")
    assert "not a readable audio file" in outcome.error
    assert outcome.response["StreamingStatus"] == "ENDED"
    assert "AuthenticationResult" not in outcome.response and "FraudDetectionResult" not in outcome.response


@pytest.mark.parametrize(("name", "metadata", "reason"), [
    (None, {"speaker_id": "not a speaker id!"}, "object metadata speaker-id must be a CustomerSpeakerId"),
    (None, {"acceptance_threshold": "ninety"}, "acceptance-threshold must be a whole number from 0 to 100"),
    ("bad name", {}, "session name bad name must be 1-36 characters"),  # the tag value has no quotes
    ("x" * 37, {}, "must be 1-36 characters of a-zA-Z0-9_-"),
])
def test_bad_input_is_refused_with_a_precise_reason(env: Env, name: str | None, metadata: dict[str, str],
                                                    reason: str) -> None:
    speaker_id = metadata.pop("speaker_id", None)
    upload, outcome = env.evaluate(call("allison-en"), session_name=name, speaker_id=speaker_id, **metadata)
    assert outcome.error is not None and reason in outcome.error, outcome.error
    assert "not a speaker id!" not in outcome.error  # personal data is not echoed
    if name is None:  # a valid name: the session ENDED without results
        assert outcome.response["StreamingStatus"] == "ENDED" and "AuthenticationResult" not in outcome.response
    else:  # a name Voice ID refuses names no session
        assert upload.session_name == name


def test_enrollctl_evaluate_prints_the_result(runtime: LocalRuntime, domain: dict[str, Any], tmp_path: Any,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(call("allison-en"))
    status = cli.main(["evaluate", str(path), "--domain-id", domain["DomainId"], "--speaker-id", "allison",
                       "--session-name", "cli-contact-1", "--endpoint-url", runtime.endpoint])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    response = json.loads(printed.out)
    assert response["SessionName"] == "cli-contact-1" and response["AuthenticationResult"]["Decision"] == "ACCEPT"
    status = cli.main(["evaluate-session", "--domain-id", domain["DomainId"], "--session-name-or-id",
                       response["SessionId"], "--endpoint-url", runtime.endpoint])  # from the model, as aws voice-id
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert json.loads(printed.out)["AuthenticationResult"] == response["AuthenticationResult"]
    path.write_bytes(b"not audio at all")
    status = cli.main(["evaluate", str(path), "--domain-id", domain["DomainId"], "--session-name", "cli-contact-2",
                       "--endpoint-url", runtime.endpoint])
    assert status == 1 and "was not evaluated: Audio problem" in capsys.readouterr().err
