"""Voice ID's fraudster registration rules for the requests of one shard.

Per request: at least 30 s of net speech pooled over the files (400 otherwise, as for enrollment); the
voiceprint is compared with the fraudsters of the job's watchlist (read once per shard) and with those this shard
registered before it (domain/fraud.py scores them). When the best score reaches FraudsterSimilarityThreshold and
DuplicateRegistrationAction is SKIP, the request is DUPLICATE_SKIPPED with that fraudster's id; otherwise a new
fraudster joins the watchlist (NEW_REGISTRATION; 402 when the watchlist holds its quota). The new fraudster's id
derives from (JobId, RequestId) and is written with a conditional write, so a retried shard reports what the
first attempt registered and never registers a fraudster twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..voiceprint.engine import Voiceprint, VoiceprintEngine
from ..voiceprint.scoring import DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD
from .fraud import FraudScreen
from .fraudster import Fraudster
from .ids import registered_fraudster_id
from .job import DuplicateRegistrationAction, RegistrationConfig
from .manifest import RegistrationRequest, RequestError
from .ports import AudioSource, FraudsterChangedError, FraudsterStore, QuotaExceededError, WatchlistGoneError
from .speech import MIN_NET_SPEECH_SECONDS, SpeechGathering
from .watchlist import default_watchlist_id


class RegistrationStatus(StrEnum):
    NEW_REGISTRATION = "NEW_REGISTRATION"
    DUPLICATE_SKIPPED = "DUPLICATE_SKIPPED"


@dataclass(frozen=True)
class SuccessfulRegistration:
    """One entry of the output file's SuccessfulRegistrations list. The score is the best similarity to a
    fraudster of the watchlist (0 when it held none to compare with)."""

    request_id: str
    generated_fraudster_id: str
    status: RegistrationStatus
    similarity_score: int

    def to_json(self) -> dict[str, Any]:
        return {
            "RequestId": self.request_id,
            "GeneratedFraudsterId": self.generated_fraudster_id,
            "RegistrationStatus": self.status.value,
            "FraudsterSimilarityScore": self.similarity_score,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SuccessfulRegistration:
        return cls(data["RequestId"], data["GeneratedFraudsterId"], RegistrationStatus(data["RegistrationStatus"]),
                   int(data["FraudsterSimilarityScore"]))


RegistrationResult = SuccessfulRegistration | RequestError


@dataclass(frozen=True)
class RegistrationContext:
    job_id: str
    domain_id: str
    config: RegistrationConfig
    fraudster_quota: int
    max_file_bytes: int
    clock: Callable[[], float]
    min_net_speech_seconds: float = MIN_NET_SPEECH_SECONDS

    @property
    def watchlist_id(self) -> str:
        ids = self.config.watchlist_ids
        return ids[0] if ids else default_watchlist_id(self.domain_id)

    @property
    def threshold(self) -> int:
        threshold = self.config.fraudster_similarity_threshold
        return DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD if threshold is None else threshold


class ShardRegistration:
    """Registers a shard's fraudsters: gather speech into one pool, then compare and write each in order."""

    def __init__(self, context: RegistrationContext, audio: AudioSource, fraudsters: FraudsterStore,
                 engine: VoiceprintEngine) -> None:
        self.context = context
        self.fraudsters = fraudsters
        self.engine = engine
        self.speech = SpeechGathering(audio, engine, context.max_file_bytes, context.min_net_speech_seconds)

    def run(self, requests: Sequence[RegistrationRequest]) -> list[RegistrationResult]:
        results: dict[int, RegistrationResult] = {}
        pending: list[int] = []
        pool = self.engine.pool()
        for index, request in enumerate(requests):
            outcome = self._registered(request) or self.speech.gather(index, request, pool)
            if outcome is None:
                pending.append(index)
            else:
                results[index] = outcome
        if pending:
            screen = self._screen()
            for index in pending:
                results[index] = self._register(requests[index], pool.voiceprint(index), screen)
        return [results[i] for i in range(len(requests))]

    def _screen(self) -> FraudScreen:
        context = self.context
        return FraudScreen.of_watchlist(context.domain_id, context.watchlist_id, context.threshold, self.fraudsters,
                                        self.engine.model_id)

    def _key(self, request: RegistrationRequest) -> str:
        return f"{self.context.job_id}/{request.request_id}"

    def _registered(self, request: RegistrationRequest) -> SuccessfulRegistration | None:
        """What an earlier attempt of this request registered, if it did."""
        fraudster_id = registered_fraudster_id(self.context.job_id, request.request_id)
        existing = self.fraudsters.get(self.context.domain_id, fraudster_id)
        if existing is None or existing.registered_by != self._key(request):
            return None
        return SuccessfulRegistration(request.request_id, fraudster_id, RegistrationStatus.NEW_REGISTRATION,
                                      existing.registration_score or 0)

    def _register(self, request: RegistrationRequest, voiceprint: Voiceprint, screen: FraudScreen
                  ) -> RegistrationResult:
        found = screen.match(voiceprint)
        score = found.risk if found else 0
        skip = self.context.config.duplicate_registration_action is DuplicateRegistrationAction.SKIP
        if found is not None and skip and score >= screen.threshold:
            return SuccessfulRegistration(request.request_id, found.fraudster_id,
                                          RegistrationStatus.DUPLICATE_SKIPPED, score)
        fraudster = self._fraudster(request, voiceprint, score)
        refused = self._create(request, fraudster)
        if refused is not None:
            return refused
        screen.add(fraudster.generated_fraudster_id, voiceprint)
        return SuccessfulRegistration(request.request_id, fraudster.generated_fraudster_id,
                                      RegistrationStatus.NEW_REGISTRATION, score)

    def _fraudster(self, request: RegistrationRequest, voiceprint: Voiceprint, score: int) -> Fraudster:
        context = self.context
        return Fraudster(
            context.domain_id, registered_fraudster_id(context.job_id, request.request_id),
            frozenset({context.watchlist_id}), context.clock(), tuple(voiceprint.as_list()), voiceprint.model_id,
            registered_by=self._key(request), registration_score=score,
        )

    def _create(self, request: RegistrationRequest, fraudster: Fraudster) -> RegistrationResult | None:
        """Write the fraudster; None when written, else the request's result."""
        watchlist_id = self.context.watchlist_id
        try:
            self.fraudsters.create(fraudster, self.context.fraudster_quota)
        except FraudsterChangedError:  # another attempt of this request wrote it first
            return self._registered(request) or RequestError(
                request.request_id, 500, f"Fraudster {fraudster.generated_fraudster_id} exists already; not "
                "registered")
        except QuotaExceededError:
            return RequestError(request.request_id, 402, f"Watchlist '{watchlist_id}' has reached its quota of "
                                f"{self.context.fraudster_quota:,} fraudsters; the fraudster was not registered")
        except WatchlistGoneError:
            return RequestError(request.request_id, 404, f"Watchlist '{watchlist_id}' no longer exists in domain "
                                f"'{self.context.domain_id}'; the fraudster was not registered")
        return None
