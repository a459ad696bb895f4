"""Fraudster registration jobs (Voice ID's StartFraudsterRegistrationJob): the manifest, configuration, results
and rules of this kind.

Per request: at least 30 s of net speech pooled over the files (400 otherwise, as for enrollment); the
voiceprint is compared with the fraudsters of the job's watchlist (read once per shard) and with those this shard
registered before it. When the best score reaches FraudsterSimilarityThreshold and DuplicateRegistrationAction is
SKIP, the request is DUPLICATE_SKIPPED with that fraudster's id; otherwise a new fraudster joins the watchlist
(NEW_REGISTRATION; 402 when the watchlist holds its quota). The new fraudster's id derives from (JobId,
RequestId) and is written with a conditional write, so a retried shard reports what the first attempt registered
and never registers a fraudster twice. While the domain's KMS key refuses, each request is a 403 (as for
enrollment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from ....voiceprint.engine import Voiceprint
from ....voiceprint.scoring import DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD
from ...ports import FraudsterStore
from ...shared.errors import FraudsterChangedError, QuotaExceededError, WatchlistGoneError
from ...shared.fraudster import Fraudster
from ...shared.ids import registered_fraudster_id
from ...shared.job import BatchJob
from ...shared.watchlist import default_watchlist_id
from ..fraud import FraudScreen
from ..jobtype import JobOperations, JobType, RecordStores, ShardServices, written_by
from ..manifest import (
    AudioSpecification,
    ManifestSchema,
    RequestIds,
    audio_from_json,
    audio_specifications_of,
    audio_to_json,
    entry_object,
    request_id_of,
)
from ..metadata import choice, choice_problem, score_of, score_problem, watchlist_id_problem, watchlist_ids_of
from ..results import JobResult, RequestError
from ..speech import NotEnoughSpeech

MAX_REGISTRATION_REQUESTS = 500  # Voice ID's quota of fraudsters per registration job


class DuplicateRegistrationAction(StrEnum):
    SKIP = "SKIP"
    REGISTER_AS_NEW = "REGISTER_AS_NEW"


@dataclass(frozen=True)
class RegistrationConfig:
    """Voice ID's RegistrationConfig; without a threshold the calibrated default applies, without WatchlistIds
    the domain's default watchlist."""

    API_MEMBER: ClassVar[str] = "RegistrationConfig"
    WATCHLIST_FIELD: ClassVar[str] = "RegistrationConfig"

    duplicate_registration_action: DuplicateRegistrationAction = DuplicateRegistrationAction.SKIP
    fraudster_similarity_threshold: int | None = None
    watchlist_ids: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"DuplicateRegistrationAction": self.duplicate_registration_action.value}
        if self.fraudster_similarity_threshold is not None:
            shape["FraudsterSimilarityThreshold"] = self.fraudster_similarity_threshold
        if self.watchlist_ids:
            shape["WatchlistIds"] = list(self.watchlist_ids)
        return shape

    @classmethod
    def from_api(cls, shape: Mapping[str, Any] | None) -> RegistrationConfig:
        shape = shape or {}
        threshold = shape.get("FraudsterSimilarityThreshold")
        return cls(
            duplicate_registration_action=DuplicateRegistrationAction(
                shape.get("DuplicateRegistrationAction", DuplicateRegistrationAction.SKIP)
            ),
            fraudster_similarity_threshold=int(threshold) if threshold is not None else None,
            watchlist_ids=tuple(shape.get("WatchlistIds", ())),
        )

    def watchlist_of(self, domain_id: str) -> str:
        return self.watchlist_ids[0] if self.watchlist_ids else default_watchlist_id(domain_id)

    @property
    def threshold(self) -> int:
        threshold = self.fraudster_similarity_threshold
        return DEFAULT_FRAUDSTER_SIMILARITY_THRESHOLD if threshold is None else threshold


@dataclass(frozen=True)
class RegistrationRequest:
    """One entry of a fraudster registration manifest: a RequestId and the fraudster's audio."""

    request_id: str
    audio: tuple[AudioSpecification, ...]

    def to_json(self) -> dict[str, Any]:
        return {"RequestId": self.request_id, "AudioSpecifications": audio_to_json(self.audio)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegistrationRequest:
        return cls(data["RequestId"], audio_from_json(data))

    @classmethod
    def from_manifest(cls, entry: Any, where: str, ids: RequestIds) -> RegistrationRequest:
        entry = entry_object(entry, where)
        return cls(request_id_of(entry, where, ids), audio_specifications_of(entry.get("AudioSpecifications"), where))


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


@dataclass(frozen=True)
class RegistrationRules:
    """Registration's decisions for one shard (``shards.ShardProcessor`` runs them)."""

    services: ShardServices

    @property
    def config(self) -> RegistrationConfig:
        return self.services.config_of(RegistrationConfig)

    @property
    def _watchlist_id(self) -> str:
        return self.config.watchlist_of(self.services.domain_id)

    def decided(self, request: RegistrationRequest) -> JobResult | None:
        self.services.require_key()
        return _registered_by(self.services.job, request, self.services.fraudsters)

    def not_enough_speech(self, request: RegistrationRequest, shortfall: NotEnoughSpeech) -> JobResult:
        return shortfall.refusal()

    def screen(self) -> FraudScreen:
        return FraudScreen.of_watchlist(self.services.domain_id, self._watchlist_id, self.config.threshold,
                                        self.services.fraudsters, self.services.embedder.model_id)

    def write(self, request: RegistrationRequest, voiceprint: Voiceprint, screen: FraudScreen | None) -> JobResult:
        screen = screen or self.screen()
        found = screen.match(voiceprint)
        score = found.risk if found else 0
        skip = self.config.duplicate_registration_action is DuplicateRegistrationAction.SKIP
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
        return Fraudster(
            self.services.domain_id, registered_fraudster_id(self.services.job.job_id, request.request_id),
            frozenset({self._watchlist_id}), self.services.clock(), tuple(voiceprint.as_list()),
            voiceprint.model_id, registered_by=self.services.written_by(request), registration_score=score,
        )

    def _create(self, request: RegistrationRequest, fraudster: Fraudster) -> JobResult | None:
        """Write the fraudster; None when written, else the request's result."""
        quota = self.services.limits.fraudster_quota
        try:
            self.services.fraudsters.create(fraudster, quota)
        except FraudsterChangedError:  # another attempt of this request wrote it first
            return self.decided(request) or RequestError(
                request.request_id, 500, f"Fraudster {fraudster.generated_fraudster_id} exists already; not "
                "registered")
        except QuotaExceededError:
            return RequestError(request.request_id, 402, f"Watchlist '{self._watchlist_id}' has reached its quota "
                                f"of {quota:,} fraudsters; the fraudster was not registered")
        except WatchlistGoneError:
            return RequestError(request.request_id, 404, f"Watchlist '{self._watchlist_id}' no longer exists in "
                                f"domain '{self.services.domain_id}'; the fraudster was not registered")
        return None


def _registered_by(job: BatchJob, request: RegistrationRequest, fraudsters: FraudsterStore) -> JobResult | None:
    """What an attempt of `request` registered, if it did (its fraudster's id derives from the request)."""
    fraudster_id = registered_fraudster_id(job.job_id, request.request_id)
    existing = fraudsters.get(job.domain_id, fraudster_id)
    if existing is None or existing.registered_by != written_by(job, request):
        return None
    return SuccessfulRegistration(request.request_id, fraudster_id, RegistrationStatus.NEW_REGISTRATION,
                                  existing.registration_score or 0)


class FraudsterRegistration(JobType):
    name = "FRAUDSTER_REGISTRATION"
    operations = JobOperations("StartFraudsterRegistrationJob", "DescribeFraudsterRegistrationJob",
                               "ListFraudsterRegistrationJobs")
    id_namespace = "fraudster-registration-job"
    upload_prefix = "fraudsters"
    manifest = ManifestSchema("FraudsterRegistrationRequests", RegistrationRequest.from_manifest,
                              MAX_REGISTRATION_REQUESTS)
    successes_member = "SuccessfulRegistrations"
    config_from_api = RegistrationConfig.from_api
    request_from_json = RegistrationRequest.from_json
    success_from_json = SuccessfulRegistration.from_json
    shard_rules = RegistrationRules
    lost_message = ("Internal error: the registration worker for this request failed after retries; "
                    "the fraudster was not registered by this request")

    def replay(self, job: BatchJob, request: RegistrationRequest, stores: RecordStores) -> JobResult | None:
        return _registered_by(job, request, stores.fraudsters)

    def upload_problem(self, metadata: Mapping[str, str]) -> str | None:
        return (choice_problem(metadata, "duplicate-registration-action", DuplicateRegistrationAction)
                or score_problem(metadata, "fraudster-similarity-threshold") or watchlist_id_problem(metadata))

    def config_from_upload(self, metadata: Mapping[str, str]) -> RegistrationConfig:
        return RegistrationConfig(
            duplicate_registration_action=choice(DuplicateRegistrationAction,
                                                 metadata.get("duplicate-registration-action"),
                                                 DuplicateRegistrationAction.SKIP),
            fraudster_similarity_threshold=score_of(metadata.get("fraudster-similarity-threshold", "")),
            watchlist_ids=watchlist_ids_of(metadata),
        )



FRAUDSTER_REGISTRATION = FraudsterRegistration()
