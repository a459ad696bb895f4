"""Sessions from recorded calls: Voice ID's EvaluateSession on a recording uploaded to the inbox.

An upload of ``sessions/<DomainId>/<SessionName>.<ext>`` (SessionName as Voice ID allows it: an Amazon Connect
ContactId fits) creates the session ``id#`` + 22 alphanumerics derived from (DomainId, SessionName), so a re-upload
of the same name re-evaluates the same session, and EvaluateSession finds it by either. Object metadata stands in
for Amazon Connect's "Set Voice ID" block: ``speaker-id`` (CustomerSpeakerId or GeneratedSpeakerId; absent: fraud
check only), ``channel-id`` (0 or 1, default 0), ``acceptance-threshold`` (default 90), ``risk-threshold`` and
``watchlist-id`` (default: the calibrated risk threshold and the domain's default watchlist).

The decisions are ``verification.Verification``'s. Each upload is evaluated once: the S3 sequencer of its event
orders the uploads of one key, a session moves to the newer upload only (a conditional write), a duplicate event of
an upload already evaluated is skipped, and one arriving while another invocation evaluates it is refused for a
later retry (``SessionBusyError``) until that invocation's lease ends.

What a user sees when an upload cannot be evaluated: the object is tagged ``voiceid-error`` with the reason, and
when its name and domain are valid the session is ENDED without results and keeps the reason (``problem``).
Voice ID's EvaluateSession answer has no member for it, so the API answers the ENDED session without results, and
``enrollctl evaluate`` prints the reason from the tag.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

from ...voiceprint.audio import AudioError, NoSpeechError
from ...voiceprint.engine import Voiceprint
from ...voiceprint.scoring import DEFAULT_ACCEPTANCE_THRESHOLD
from ..ports import DomainStore, Embedder, FraudsterSource, WatchlistStore
from ..shared.domain import DomainStatus
from ..shared.errors import AudioFetchError, KeyUnusableError, SpeakerChangedError
from ..shared.ids import CUSTOMER_SPEAKER_ID_MAX, is_generated_id, is_speaker_id, stable_id
from ..shared.patterns import whole
from ..shared.s3uri import S3Location
from ..shared.speaker import Speaker
from .fraud import FraudDetectionConfig, FraudScreen
from .manifest import CHANNEL_IDS
from .metadata import score_of, score_problem, watchlist_id_problem, watchlist_ids_of
from .verification import (
    MIN_EVALUATION_SPEECH_SECONDS,
    AudioWindow,
    AuthenticationResult,
    FraudDetectionResult,
    Verification,
    accessed,
)

LOG = logging.getLogger(__name__)
SESSION_UPLOAD_PREFIX = "sessions"
SESSION_NAME_PATTERN = whole(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
SESSION_NAME_MAX = 36
SESSION_KEY_PATTERN = whole(rf"{SESSION_UPLOAD_PREFIX}/(?P<domain>[^/]+)/(?P<file>[^/]+)")
SESSION_METADATA = ("speaker-id", "channel-id", "acceptance-threshold", "risk-threshold", "watchlist-id")
ERROR_TAG = "voiceid-error"
# The longest one evaluation may take (the evaluating function's timeout): an invocation that began evaluating an
# upload holds it that long; after it a retry of the same upload may take over (the first one crashed).
EVALUATION_SECONDS = 120
SEQUENCER_WIDTH = 32  # S3 sequencers of one key compare as hex strings once padded to the same width


class StreamingStatus(StrEnum):
    ONGOING = "ONGOING"
    ENDED = "ENDED"


class SessionBusyError(Exception):
    """Another invocation is evaluating this upload right now: try again later (the event is retried)."""


def is_session_id(value: str) -> bool:
    """A SessionId has a generated id's format (``id#`` + 22 alphanumerics); anything else is a SessionName."""
    return is_generated_id(value)


def session_id_of(domain_id: str, session_name: str) -> str:
    """The SessionId of a domain's session name: the same for every upload of that name."""
    return "id#" + stable_id("voice-id-session", domain_id, session_name)


def result_ids(session_id: str, upload_id: str) -> tuple[str, str]:
    """The AuthenticationResultId and FraudDetectionResultId of one upload's evaluation (the same on every retry;
    another upload of the session gets others, so a client can tell whose results EvaluateSession shows)."""
    return (stable_id("authentication-result", session_id, upload_id),
            stable_id("fraud-detection-result", session_id, upload_id))


def session_name_problem(name: str) -> str | None:
    if not SESSION_NAME_PATTERN.fullmatch(name) or len(name) > SESSION_NAME_MAX:
        return (f"session name '{name[:300]}' must be 1-{SESSION_NAME_MAX} characters of [a-zA-Z0-9_-] starting "
                "with a letter or digit (Voice ID's SessionName)")
    return None


@dataclass(frozen=True)
class Session:
    """A session as stored: the upload it evaluated (its S3 sequencer orders uploads, its version is what was read),
    and its results once ENDED (none when the upload could not be evaluated: ``problem`` says why)."""

    domain_id: str
    session_id: str
    session_name: str
    status: StreamingStatus
    upload_order: str
    created_at: float
    updated_at: float
    expires_at: float
    version_id: str | None = None
    lease_expires_at: float | None = None
    authentication: AuthenticationResult | None = None
    fraud_detection: FraudDetectionResult | None = None
    problem: str | None = None

    def to_api(self) -> dict[str, Any]:
        """Voice ID's EvaluateSessionResponse."""
        shape: dict[str, Any] = {"DomainId": self.domain_id, "SessionId": self.session_id,
                                 "SessionName": self.session_name, "StreamingStatus": self.status.value}
        if self.status is StreamingStatus.ENDED and self.authentication is not None:
            shape["AuthenticationResult"] = self.authentication.to_api()
        if self.status is StreamingStatus.ENDED and self.fraud_detection is not None:
            shape["FraudDetectionResult"] = self.fraud_detection.to_api()
        return shape

    def ended(self, now: float, authentication: AuthenticationResult | None = None,
              fraud_detection: FraudDetectionResult | None = None, problem: str | None = None) -> Session:
        return replace(self, status=StreamingStatus.ENDED, updated_at=now, lease_expires_at=None,
                       authentication=authentication, fraud_detection=fraud_detection, problem=problem)


class SessionStore(Protocol):
    def get(self, domain_id: str, session_id: str) -> Session | None: ...

    def begin(self, session: Session, now: float) -> Session | None:
        """Write `session` (ONGOING, with its lease) unless the stored one is of a newer upload, or of the same
        upload and ENDED or leased past `now`; None when written, else the stored session."""
        ...

    def finish(self, session: Session) -> bool:
        """Write the ENDED `session` unless a newer upload took the session over (False)."""
        ...

class SessionInbox(Protocol):
    """The uploaded recording, read and marked with the evaluating function's own access."""

    def metadata(self, location: S3Location, version_id: str | None) -> dict[str, str]: ...

    def fetch(self, location: S3Location, version_id: str | None, max_bytes: int) -> bytes:
        """The object's bytes; AudioFetchError when it is missing or over `max_bytes`."""
        ...

    def mark_refused(self, location: S3Location, version_id: str | None, reason: str) -> None:
        """Tell the uploader why the upload was not evaluated (the object's ``voiceid-error`` tag)."""
        ...


class SpeakerLookup(Protocol):
    def find(self, domain_id: str, speaker_id: str) -> Speaker | None:
        """By CustomerSpeakerId, or by GeneratedSpeakerId (``id#...``)."""
        ...

    def replace(self, speaker: Speaker, expected: Speaker) -> None: ...


@dataclass(frozen=True)
class SessionUpload:
    """A recording uploaded as ``sessions/<DomainId>/<SessionName>.<ext>``, as its S3 event reports it."""

    bucket: str
    key: str
    sequencer: str
    version_id: str | None = None

    @property
    def location(self) -> S3Location:
        return S3Location(self.bucket, self.key)

    @property
    def order(self) -> str:
        return self.sequencer.upper().rjust(SEQUENCER_WIDTH, "0")

    @property
    def upload_id(self) -> str:
        """The object version in a versioned bucket (the uploader knows it), else the event's sequencer."""
        return self.version_id or self.order


@dataclass(frozen=True)
class SessionRequest:
    """What an upload asks to evaluate, its metadata checked."""

    domain_id: str
    session_name: str
    speaker_id: str | None
    channel_id: int
    acceptance_threshold: int
    risk_threshold: int | None
    watchlist_id: str | None

    @property
    def session_id(self) -> str:
        return session_id_of(self.domain_id, self.session_name)

    @property
    def fraud_config(self) -> FraudDetectionConfig:
        return FraudDetectionConfig(risk_threshold=self.risk_threshold,
                                    watchlist_ids=(self.watchlist_id,) if self.watchlist_id else ())


class Refusal(Exception):
    """An upload that cannot be evaluated; `session_name` and `domain_id` when a session can record it."""

    def __init__(self, reason: str, domain_id: str | None = None, session_name: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.domain_id = domain_id
        self.session_name = session_name


def session_key_parts(key: str) -> tuple[str, str]:
    """(DomainId, SessionName) of a session upload's key; Refusal saying what is wrong with it."""
    match = SESSION_KEY_PATTERN.fullmatch(key)
    if match is None:
        raise Refusal(f"'{key[:300]}' is not a session upload ({SESSION_UPLOAD_PREFIX}/<DomainId>/<SessionName>.<ext>)")
    name = match["file"].split(".", 1)[0]
    problem = session_name_problem(name)
    if problem is not None:
        raise Refusal(problem)
    return match["domain"], name


def request_from_metadata(domain_id: str, session_name: str, metadata: Mapping[str, str]) -> SessionRequest:
    problem = metadata_problem(metadata)
    if problem is not None:
        raise Refusal(problem, domain_id, session_name)
    watchlist_ids = watchlist_ids_of(metadata)
    return SessionRequest(
        domain_id, session_name, metadata.get("speaker-id") or None, int(metadata.get("channel-id", "0").strip()),
        _score(metadata, "acceptance-threshold", DEFAULT_ACCEPTANCE_THRESHOLD),
        score_of(metadata["risk-threshold"]) if "risk-threshold" in metadata else None,
        watchlist_ids[0] if watchlist_ids else None,
    )


def _score(metadata: Mapping[str, str], name: str, default: int) -> int:
    value = score_of(metadata.get(name, ""))
    return default if value is None else value


def metadata_problem(metadata: Mapping[str, str]) -> str | None:
    speaker_id = metadata.get("speaker-id")
    if speaker_id is not None and not is_speaker_id(speaker_id):
        return (f"object metadata speaker-id must be a CustomerSpeakerId (1-{CUSTOMER_SPEAKER_ID_MAX} characters "
                "of [a-zA-Z0-9_-] starting with a letter or digit) or a GeneratedSpeakerId (id# and 22 letters or "
                "digits)")  # the value is personal data: not echoed
    channel = metadata.get("channel-id")
    if channel is not None and channel.strip() not in {str(c) for c in CHANNEL_IDS}:
        return f"object metadata channel-id must be {' or '.join(str(c) for c in CHANNEL_IDS)}, got '{channel[:300]}'"
    return (score_problem(metadata, "acceptance-threshold") or score_problem(metadata, "risk-threshold")
            or watchlist_id_problem(metadata))


@dataclass(frozen=True)
class SessionLimits:
    max_file_bytes: int
    retention_seconds: float
    min_speech_seconds: float = MIN_EVALUATION_SPEECH_SECONDS
    lease_seconds: float = EVALUATION_SECONDS


class Outcome(StrEnum):
    EVALUATED = "EVALUATED"  # ENDED with results
    REFUSED = "REFUSED"  # not evaluated: the object is tagged with the reason (and the session ENDED with it)
    DUPLICATE = "DUPLICATE"  # this upload was evaluated already (a redelivered event)
    SUPERSEDED = "SUPERSEDED"  # a newer upload of the same session name took over


@dataclass(frozen=True)
class Evaluation:
    outcome: Outcome
    session: Session | None = None
    reason: str | None = None


@dataclass(frozen=True)
class SessionEvaluator:
    """Evaluates one uploaded recording: the use case behind ``handlers/evaluate_session``."""

    sessions: SessionStore
    domains: DomainStore
    watchlists: WatchlistStore
    speakers: SpeakerLookup
    fraudsters: FraudsterSource
    inbox: SessionInbox
    engine: Embedder
    limits: SessionLimits
    clock: Callable[[], float]

    def evaluate(self, upload: SessionUpload) -> Evaluation:
        try:
            request = self._request(upload)
        except Refusal as refusal:
            return self._refuse(upload, refusal)
        now = self.clock()
        session = Session(request.domain_id, request.session_id, request.session_name, StreamingStatus.ONGOING,
                          upload.order, now, now, now + self.limits.retention_seconds, upload.version_id,
                          lease_expires_at=now + self.limits.lease_seconds)
        stored = self.sessions.begin(session, now)
        if stored is not None:
            return self._not_begun(upload, stored)
        try:
            voiceprint, window = self._voiceprint(upload, request)
        except (AudioFetchError, AudioError) as exc:
            return self._refuse(upload, Refusal(f"Audio problem: {exc}", request.domain_id, request.session_name),
                                session)
        try:
            ended = self._decide(session, request, voiceprint, window)
        except KeyUnusableError as refused:  # the domain's key refuses: its voiceprints cannot be read
            return self._refuse(upload, Refusal(str(refused), request.domain_id, request.session_name), session)
        return Evaluation(Outcome.EVALUATED if self.sessions.finish(ended) else Outcome.SUPERSEDED, ended)

    def _request(self, upload: SessionUpload) -> SessionRequest:
        domain_id, session_name = session_key_parts(upload.key)
        domain = self.domains.get(domain_id)
        if domain is None:
            raise Refusal(f"Domain '{domain_id}' does not exist")
        if domain.status is not DomainStatus.ACTIVE:
            raise Refusal(f"Domain '{domain_id}' is {domain.status.value}, not ACTIVE")
        request = request_from_metadata(domain_id, session_name, self.inbox.metadata(upload.location,
                                                                                       upload.version_id))
        if request.watchlist_id and self.watchlists.get(domain_id, request.watchlist_id) is None:
            raise Refusal(f"object metadata watchlist-id '{request.watchlist_id}' names no watchlist of domain "
                          f"'{domain_id}'", domain_id, session_name)
        return request

    def _not_begun(self, upload: SessionUpload, stored: Session) -> Evaluation:
        if stored.upload_order > upload.order:
            return Evaluation(Outcome.SUPERSEDED, stored)
        if stored.status is StreamingStatus.ENDED:
            return Evaluation(Outcome.DUPLICATE, stored)
        raise SessionBusyError(f"session {stored.session_id} is being evaluated by another invocation")

    def _voiceprint(self, upload: SessionUpload, request: SessionRequest) -> tuple[Voiceprint | None, AudioWindow]:
        """The call's voiceprint (None without any speech: NOT_ENOUGH_SPEECH) and when its audio was gathered."""
        started = self.clock()
        data = self.inbox.fetch(upload.location, upload.version_id, self.limits.max_file_bytes)
        try:
            speech = self.engine.speech(data, f"session {request.session_name} (channel {request.channel_id})",
                                        request.channel_id)
        except NoSpeechError:
            return None, AudioWindow(started, self.clock())
        pool = self.engine.pool()
        pool.add(0, speech)
        voiceprint = pool.voiceprint(0)
        return voiceprint, AudioWindow(started, self.clock())

    def _decide(self, session: Session, request: SessionRequest, voiceprint: Voiceprint | None,
                window: AudioWindow) -> Session:
        verification = Verification(request.acceptance_threshold, self.limits.min_speech_seconds)
        speaker = self.speakers.find(request.domain_id, request.speaker_id) if request.speaker_id else None
        authentication_id, fraud_id = result_ids(session.session_id, session.version_id or session.upload_order)
        authentication = verification.authenticate(authentication_id, window, request.speaker_id, speaker,
                                                   voiceprint)
        screen = FraudScreen.load(request.fraud_config, request.domain_id, self.fraudsters, self.engine.model_id)
        assert screen is not None  # the action is always FAIL: sessions always screen
        fraud = verification.detect_fraud(fraud_id, window, screen, voiceprint)
        now = self.clock()
        if speaker is not None:
            self._access(speaker, authentication, now)
        return session.ended(now, authentication, fraud)

    def _access(self, speaker: Speaker, result: AuthenticationResult, now: float) -> None:
        """LastAccessedAt moves on ACCEPT; a speaker changed meanwhile (re-enrolled, opted out) keeps its write."""
        updated = accessed(speaker, result, now)
        if updated is None:
            return
        try:
            self.speakers.replace(updated, speaker)
        except SpeakerChangedError:
            LOG.info("the speaker changed while the session was evaluated; LastAccessedAt is left to that write")

    def _refuse(self, upload: SessionUpload, refusal: Refusal, session: Session | None = None) -> Evaluation:
        """Tag the upload with the reason; end the session with it when there is one to record it."""
        self.inbox.mark_refused(upload.location, upload.version_id, refusal.reason)
        if refusal.domain_id is None or refusal.session_name is None:
            return Evaluation(Outcome.REFUSED, None, refusal.reason)
        now = self.clock()
        if session is None:
            session = Session(refusal.domain_id, session_id_of(refusal.domain_id, refusal.session_name),
                              refusal.session_name, StreamingStatus.ONGOING, upload.order, now, now,
                              now + self.limits.retention_seconds, upload.version_id)
            stored = self.sessions.begin(replace(session, lease_expires_at=now + self.limits.lease_seconds), now)
            if stored is not None:
                return self._not_begun(upload, stored)
        ended = session.ended(now, problem=refusal.reason)
        self.sessions.finish(ended)
        return Evaluation(Outcome.REFUSED, ended, refusal.reason)
