"""Sessions from recorded calls (domain/workflow/sessions.py) on the in-memory stores and the fake embedder: the
use case's rules (what an upload asks, each upload evaluated once, refusals, LastAccessedAt); the decisions on real
speech through the API are tests/test_session_api.py's."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest
from enrollctl import samples
from fakes import (
    FakeEmbedder,
    MemoryDomains,
    MemoryFraudsters,
    MemoryInbox,
    MemorySessions,
    MemorySpeakers,
    MemoryWatchlists,
    fake_recording,
    fake_voice,
)
from speaker_enrollment.domain.ports import Embedder
from speaker_enrollment.domain.shared.domain import Domain, DomainStatus
from speaker_enrollment.domain.shared.fraudster import Fraudster
from speaker_enrollment.domain.shared.speaker import Speaker, SpeakerStatus
from speaker_enrollment.domain.shared.watchlist import default_watchlist, default_watchlist_id
from speaker_enrollment.domain.workflow.sessions import (
    ERROR_TAG,
    Outcome,
    Session,
    SessionBusyError,
    SessionEvaluator,
    SessionLimits,
    SessionUpload,
    StreamingStatus,
    session_id_of,
)
from speaker_enrollment.domain.workflow.verification import AuthenticationDecision, FraudDetectionDecision
from speaker_enrollment.voiceprint.engine import VoiceprintEngine
from speaker_enrollment.voiceprint.scoring import DEFAULT_FRAUD_RISK_THRESHOLD

DOMAIN = "D" * 22
NOW = 1_700_000_000.0
BUCKET = "inbox"


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    inbox: MemoryInbox = field(default_factory=MemoryInbox)
    sessions: MemorySessions = field(default_factory=MemorySessions)
    watchlists: MemoryWatchlists = field(default_factory=MemoryWatchlists)
    clock: Clock = field(default_factory=Clock)
    embedder: Embedder = field(default_factory=FakeEmbedder)
    sequence: int = 0

    def __post_init__(self) -> None:
        self.domains = MemoryDomains(self.watchlists)
        self.domains.create(Domain(DOMAIN, "support"), default_watchlist(DOMAIN, NOW), "token", "hash")
        self.speakers = MemorySpeakers(domains=self.domains)
        self.fraudsters = MemoryFraudsters(watchlists=self.watchlists)
        self.evaluator = SessionEvaluator(self.sessions, self.domains, self.watchlists, self.speakers,
                                          self.fraudsters, self.inbox, self.embedder,
                                          SessionLimits(max_file_bytes=1_000_000, retention_seconds=30 * 86_400.0),
                                          self.clock)

    def enroll(self, customer_id: str, voice: str, status: SpeakerStatus = SpeakerStatus.ENROLLED) -> Speaker:
        voiceprint = tuple(float(x) for x in fake_voice(voice)) if status is SpeakerStatus.ENROLLED else ()
        generated_id = "id#" + customer_id.replace("-", "").rjust(22, "x")
        speaker = Speaker(DOMAIN, customer_id, generated_id, status, 1.0, 1.0, last_accessed_at=1.0,
                          voiceprint=voiceprint, model_id=FakeEmbedder().model_id if voiceprint else None)
        self.speakers.create(speaker, 100)
        return speaker

    def upload(self, name: str, voice: str = "alice", seconds: float = 15.0, domain: str = DOMAIN,
               data: bytes | None = None, **metadata: str) -> SessionUpload:
        """Upload a recording (a fake one of `voice` unless `data` is given, a new S3 sequencer each time) and
        return the event's upload."""
        key = f"sessions/{domain}/{name}.wav"
        self.inbox.put(key, data or fake_recording(voice, seconds),
                       {k.replace("_", "-"): v for k, v in metadata.items()})
        self.sequence += 1
        return SessionUpload(BUCKET, key, f"{self.sequence:016X}", f"v{self.sequence}")

    def evaluate(self, upload: SessionUpload):  # type: ignore[no-untyped-def]
        self.clock.now += 1
        return self.evaluator.evaluate(upload)


@pytest.fixture
def world() -> World:
    return World()


def test_a_genuine_caller_is_accepted_and_their_last_access_moves(world: World) -> None:
    enrolled = world.enroll("caller-1", "alice")
    evaluation = world.evaluate(world.upload("contact-1", "alice", speaker_id="caller-1"))
    assert evaluation.outcome is Outcome.EVALUATED
    session = world.sessions.get(DOMAIN, session_id_of(DOMAIN, "contact-1"))
    assert session is not None and session.status is StreamingStatus.ENDED
    assert session.authentication is not None and session.authentication.decision is AuthenticationDecision.ACCEPT
    assert session.authentication.score == 100
    assert session.authentication.customer_speaker_id == "caller-1"
    assert session.authentication.generated_speaker_id == enrolled.generated_speaker_id
    speaker = world.speakers.get(DOMAIN, "caller-1")
    assert speaker is not None and speaker.last_accessed_at == world.clock.now > 1.0


def test_another_voice_is_rejected_and_last_access_stays(world: World) -> None:
    world.enroll("caller-1", "alice")
    evaluation = world.evaluate(world.upload("contact-1", "bob", speaker_id="caller-1"))
    assert evaluation.session is not None and evaluation.session.authentication is not None
    assert evaluation.session.authentication.decision is AuthenticationDecision.REJECT
    assert evaluation.session.authentication.score is not None and evaluation.session.authentication.score < 90
    speaker = world.speakers.get(DOMAIN, "caller-1")
    assert speaker is not None and speaker.last_accessed_at == 1.0


def test_the_generated_speaker_id_finds_the_speaker(world: World) -> None:
    enrolled = world.enroll("caller-1", "alice")
    evaluation = world.evaluate(world.upload("contact-1", "alice", speaker_id=enrolled.generated_speaker_id))
    assert evaluation.session is not None and evaluation.session.authentication is not None
    assert evaluation.session.authentication.decision is AuthenticationDecision.ACCEPT


@pytest.mark.parametrize(("status", "expected"), [
    (SpeakerStatus.OPTED_OUT, AuthenticationDecision.SPEAKER_OPTED_OUT),
    (SpeakerStatus.EXPIRED, AuthenticationDecision.SPEAKER_EXPIRED),
])
def test_the_speakers_status_decides_before_the_voice(world: World, status: SpeakerStatus,
                                                      expected: AuthenticationDecision) -> None:
    world.enroll("caller-1", "alice", status)
    evaluation = world.evaluate(world.upload("contact-1", "alice", speaker_id="caller-1"))
    assert evaluation.session is not None and evaluation.session.authentication is not None
    assert evaluation.session.authentication.decision is expected
    assert evaluation.session.authentication.score is None


def test_without_speaker_id_only_fraud_is_checked(world: World) -> None:
    evaluation = world.evaluate(world.upload("contact-1", "alice"))
    session = evaluation.session
    assert session is not None and session.authentication is not None and session.fraud_detection is not None
    assert session.authentication.decision is AuthenticationDecision.SPEAKER_ID_NOT_PROVIDED
    assert session.fraud_detection.decision is FraudDetectionDecision.LOW_RISK
    assert session.fraud_detection.risk_threshold == DEFAULT_FRAUD_RISK_THRESHOLD
    assert session.fraud_detection.watchlist_id == default_watchlist_id(DOMAIN)


def test_an_unknown_speaker_is_not_enrolled(world: World) -> None:
    evaluation = world.evaluate(world.upload("contact-1", "alice", speaker_id="nobody"))
    assert evaluation.session is not None and evaluation.session.authentication is not None
    assert evaluation.session.authentication.decision is AuthenticationDecision.SPEAKER_NOT_ENROLLED


def test_short_speech_is_not_enough_for_either_decision(world: World) -> None:
    world.enroll("caller-1", "alice")
    evaluation = world.evaluate(world.upload("contact-1", "alice", seconds=9.5, speaker_id="caller-1"))
    session = evaluation.session
    assert session is not None and session.authentication is not None and session.fraud_detection is not None
    assert session.authentication.decision is AuthenticationDecision.NOT_ENOUGH_SPEECH
    assert session.fraud_detection.decision is FraudDetectionDecision.NOT_ENOUGH_SPEECH


def test_a_call_of_hold_music_is_not_enough_speech(engine: VoiceprintEngine) -> None:
    """Real audio and the real engine: WebRTC's VAD heard speech in hold music, Silero hears none (issue 16)."""
    world = World(embedder=engine)
    world.enroll("caller-1", "alice")
    music = samples.wav_bytes(samples.hold_music("reno_project-system", 30))
    evaluation = world.evaluate(world.upload("contact-1", data=music, speaker_id="caller-1"))
    session = evaluation.session
    assert session is not None and session.authentication is not None and session.fraud_detection is not None
    assert session.authentication.decision is AuthenticationDecision.NOT_ENOUGH_SPEECH
    assert session.fraud_detection.decision is FraudDetectionDecision.NOT_ENOUGH_SPEECH


def test_the_acceptance_threshold_metadata_is_honoured(world: World) -> None:
    world.enroll("caller-1", "alice")
    evaluation = world.evaluate(world.upload("contact-1", "alice", speaker_id="caller-1", acceptance_threshold="100"))
    assert evaluation.session is not None and evaluation.session.authentication is not None
    assert evaluation.session.authentication.acceptance_threshold == 100
    assert evaluation.session.authentication.decision is AuthenticationDecision.ACCEPT  # 100 >= 100


def test_a_known_fraudster_is_high_risk_in_the_watchlist_named(world: World) -> None:
    watchlist = replace(default_watchlist(DOMAIN, NOW), watchlist_id="W" * 22, name="other", default=False)
    world.watchlists.add(watchlist)
    world.fraudsters.fraudsters.append(Fraudster(DOMAIN, "id#" + "f" * 22, frozenset({watchlist.watchlist_id}), NOW,
                                                 tuple(float(x) for x in fake_voice("mallory")),
                                                 FakeEmbedder().model_id))
    flagged = world.evaluate(world.upload("contact-1", "mallory", watchlist_id=watchlist.watchlist_id,
                                          risk_threshold="70"))
    fraud = flagged.session.fraud_detection if flagged.session else None
    assert fraud is not None and fraud.decision is FraudDetectionDecision.HIGH_RISK
    assert fraud.generated_fraudster_id == "id#" + "f" * 22 and fraud.risk_threshold == 70
    assert fraud.to_api()["Reasons"] == ["KNOWN_FRAUDSTER"]
    default = world.evaluate(world.upload("contact-2", "mallory"))  # not in the default watchlist
    assert default.session is not None and default.session.fraud_detection is not None
    assert default.session.fraud_detection.decision is FraudDetectionDecision.LOW_RISK


def test_a_duplicate_event_is_skipped_and_a_re_upload_re_evaluates(world: World) -> None:
    world.enroll("caller-1", "alice")
    first_upload = world.upload("contact-1", "bob", speaker_id="caller-1")
    first = world.evaluate(first_upload)
    assert world.evaluate(first_upload).outcome is Outcome.DUPLICATE
    assert world.sessions.get(DOMAIN, session_id_of(DOMAIN, "contact-1")) == first.session
    again = world.evaluate(world.upload("contact-1", "alice", speaker_id="caller-1"))
    assert again.outcome is Outcome.EVALUATED
    assert first.session is not None and again.session is not None
    assert again.session.session_id == first.session.session_id
    assert first.session.authentication is not None and again.session.authentication is not None
    assert again.session.authentication.result_id != first.session.authentication.result_id
    assert again.session.authentication.decision is AuthenticationDecision.ACCEPT
    # The older upload's event, delivered late, changes nothing.
    assert world.evaluate(first_upload).outcome is Outcome.SUPERSEDED
    assert world.sessions.get(DOMAIN, again.session.session_id) == again.session


def test_an_upload_being_evaluated_is_busy_until_its_lease_ends(world: World) -> None:
    """Another invocation began this upload (and crashed): a retry is refused until its lease ends, then evaluates."""
    upload = world.upload("contact-1", "alice")
    ongoing = Session(DOMAIN, session_id_of(DOMAIN, "contact-1"), "contact-1", StreamingStatus.ONGOING,
                      upload.order, NOW, NOW, NOW + 10, lease_expires_at=NOW + 120)
    assert world.sessions.begin(ongoing, NOW) is None
    assert world.sessions.get(DOMAIN, ongoing.session_id) == ongoing
    with pytest.raises(SessionBusyError):
        world.evaluate(upload)
    world.clock.now = NOW + 121
    assert world.evaluate(upload).outcome is Outcome.EVALUATED


@pytest.mark.parametrize(("name", "metadata", "reason"), [
    ("contact-1", {"speaker-id": "bad id!"}, "speaker-id must be a CustomerSpeakerId"),
    ("contact-1", {"speaker-id": "alice\n"}, "speaker-id must be a CustomerSpeakerId"),
    ("contact-1", {"acceptance-threshold": "101"}, "acceptance-threshold must be a whole number from 0 to 100"),
    ("contact-1", {"risk-threshold": "high"}, "risk-threshold must be a whole number from 0 to 100"),
    ("contact-1", {"channel-id": "2"}, "channel-id must be 0 or 1"),
    ("contact-1", {"watchlist-id": "W" * 22}, "names no watchlist of domain"),
])
def test_bad_metadata_ends_the_session_without_results_and_tags_the_upload(
        world: World, name: str, metadata: dict[str, str], reason: str) -> None:
    upload = world.upload(name, **{k.replace("-", "_"): v for k, v in metadata.items()})
    evaluation = world.evaluate(upload)
    assert evaluation.outcome is Outcome.REFUSED
    assert reason in world.inbox.tags[upload.key]
    session = world.sessions.get(DOMAIN, session_id_of(DOMAIN, name))
    assert session is not None and session.status is StreamingStatus.ENDED and session.problem == evaluation.reason
    assert "AuthenticationResult" not in session.to_api() and "FraudDetectionResult" not in session.to_api()
    assert "bad id!" not in world.inbox.tags[upload.key]  # a speaker id is personal data: not echoed


def test_a_session_name_voice_id_refuses_is_not_evaluated(world: World) -> None:
    upload = world.upload("contact.1", "alice")  # the name ends at the first dot: "contact", a valid name
    assert world.evaluate(upload).outcome is Outcome.EVALUATED
    for bad in ("-starts-with-dash", "x" * 37, "has space", "contact-2\n"):
        refused = world.upload(bad, "alice")
        evaluation = world.evaluate(refused)
        assert evaluation.outcome is Outcome.REFUSED and evaluation.session is None
        assert "must be 1-36 characters of [a-zA-Z0-9_-]" in world.inbox.tags[refused.key]


def test_an_unknown_or_inactive_domain_is_refused_without_a_session(world: World) -> None:
    unknown = world.upload("contact-1", domain="U" * 22)
    assert world.evaluate(unknown).outcome is Outcome.REFUSED
    assert world.inbox.tags[unknown.key] == f"Domain '{'U' * 22}' does not exist"
    domain = world.domains.get(DOMAIN)
    assert domain is not None
    world.domains.update(replace(domain, status=DomainStatus.SUSPENDED), domain)
    suspended = world.upload("contact-2")
    assert world.evaluate(suspended).outcome is Outcome.REFUSED
    assert "SUSPENDED, not ACTIVE" in world.inbox.tags[suspended.key]
    assert world.sessions.sessions == {}


def test_unreadable_audio_ends_the_session_with_the_reason(world: World) -> None:
    upload = world.upload("contact-1")
    world.inbox.objects[upload.key] = b"not audio"
    evaluation = world.evaluate(upload)
    assert evaluation.outcome is Outcome.REFUSED
    assert evaluation.reason is not None and evaluation.reason.startswith("Audio problem: ")
    assert "not a readable audio file" in evaluation.reason
    session = world.sessions.get(DOMAIN, session_id_of(DOMAIN, "contact-1"))
    assert session is not None and session.status is StreamingStatus.ENDED and session.authentication is None


def test_the_error_tag_is_named_for_voice_id() -> None:
    assert ERROR_TAG == "voiceid-error"


def test_an_ongoing_session_answers_without_results(world: World) -> None:
    upload = world.upload("contact-1")
    ongoing = Session(DOMAIN, session_id_of(DOMAIN, "contact-1"), "contact-1", StreamingStatus.ONGOING,
                      upload.order, NOW, NOW, NOW + 10, lease_expires_at=NOW + 120)
    assert ongoing.to_api() == {"DomainId": DOMAIN, "SessionId": ongoing.session_id, "SessionName": "contact-1",
                                "StreamingStatus": "ONGOING"}
