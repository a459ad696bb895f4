"""Speaker evaluation jobs (StartSpeakerEvaluationJob, this project's extension of Voice ID's API): EvaluateSession's
decisions for a batch of recorded calls, for migration checks (do the new voiceprints accept their callers and
reject others?) and post-call screening. The manifest, configuration, results, summary and rules of this kind.

Per request: the call's recordings (one or more files, pooled) are authenticated against the speaker its
``SpeakerId`` names (a CustomerSpeakerId or a GeneratedSpeakerId; none: SPEAKER_ID_NOT_PROVIDED, fraud check only)
and screened against a watchlist, with the decisions of ``verification.Verification``: below
``Limits.min_evaluation_speech_seconds`` (10 s) of net speech NOT_ENOUGH_SPEECH (a decision, not an error), else
ACCEPT when the score reaches AcceptanceThreshold, REJECT otherwise; fraud HIGH_RISK / LOW_RISK (FraudDetectionAction
IGNORE: no fraud detection, no FraudDetectionResult). An unreadable file is a 400 entry.

Evaluation writes no record: only an ACCEPT moves the speaker's LastAccessedAt (Voice ID's rule: a successful
authentication counts as access, and access drives expiry), with a conditional write that yields to any concurrent
change. The result ids derive from (JobId, RequestId) and the audio window is the job's CreatedAt, so a retried
shard reports the same results under the same ids; the decision itself is recomputed from the same audio and the
same voiceprints.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from ....voiceprint.engine import Voiceprint
from ....voiceprint.scoring import DEFAULT_ACCEPTANCE_THRESHOLD
from ...shared.errors import SpeakerChangedError
from ...shared.ids import CUSTOMER_SPEAKER_ID_MAX, is_generated_id, is_speaker_id, stable_id
from ...shared.job import BatchJob, JobSummary
from ...shared.speaker import Speaker
from ..fraud import FraudDetectionAction, FraudDetectionConfig, FraudScreen, fraud_metadata_problem
from ..jobtype import JobOperations, JobType, Limits, RecordStores, ShardServices
from ..manifest import (
    AudioSpecification,
    InvalidRequest,
    ManifestSchema,
    RequestIds,
    audio_from_json,
    audio_specifications_of,
    audio_to_json,
    entry_object,
    request_id_of,
)
from ..metadata import score_of, score_problem
from ..results import JobResult, RequestError
from ..speech import NotEnoughSpeech
from ..verification import (
    AudioWindow,
    AuthenticationDecision,
    AuthenticationResult,
    FraudDetectionDecision,
    FraudDetectionResult,
    Verification,
    accessed,
)

SUMMARY_MEMBER = "EvaluationSummary"
SCORED = (AuthenticationDecision.ACCEPT, AuthenticationDecision.REJECT)


@dataclass(frozen=True)
class EvaluationConfig:
    """EvaluationConfig: the AcceptanceThreshold (Voice ID's default 90) and a FraudDetectionConfig (as for
    enrollment; without one the domain's default watchlist and the default RiskThreshold; IGNORE: no fraud check).
    """

    API_MEMBER: ClassVar[str] = "EvaluationConfig"
    WATCHLIST_FIELD: ClassVar[str] = "FraudDetectionConfig"

    acceptance_threshold: int = DEFAULT_ACCEPTANCE_THRESHOLD
    fraud_detection: FraudDetectionConfig | None = None

    @property
    def watchlist_ids(self) -> tuple[str, ...]:
        return self.fraud_detection.watchlist_ids if self.fraud_detection else ()

    @property
    def detects_fraud(self) -> bool:
        return self.fraud_detection is None or self.fraud_detection.action is not FraudDetectionAction.IGNORE

    def to_api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"AcceptanceThreshold": self.acceptance_threshold}
        if self.fraud_detection is not None:
            shape["FraudDetectionConfig"] = self.fraud_detection.to_api()
        return shape

    @classmethod
    def from_api(cls, shape: Mapping[str, Any] | None) -> EvaluationConfig:
        shape = shape or {}
        threshold, fraud = shape.get("AcceptanceThreshold"), shape.get("FraudDetectionConfig")
        return cls(
            acceptance_threshold=DEFAULT_ACCEPTANCE_THRESHOLD if threshold is None else int(threshold),
            fraud_detection=FraudDetectionConfig.from_api(fraud) if fraud is not None else None,
        )


def speaker_id_of(value: Any, where: str) -> str | None:
    """An evaluation's optional SpeakerId: a CustomerSpeakerId or a GeneratedSpeakerId (``id#`` + 22)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{where}.SpeakerId must be a non-empty string when given")
    if is_speaker_id(value):
        return value
    raise InvalidRequest(
        f"{where}.SpeakerId '{value[:300]}' is neither a CustomerSpeakerId (1-{CUSTOMER_SPEAKER_ID_MAX} characters "
        "of [a-zA-Z0-9_-] starting with a letter or digit) nor a GeneratedSpeakerId ('id#' and 22 characters of "
        "[a-zA-Z0-9])"
    )


@dataclass(frozen=True)
class EvaluationRequest:
    """One entry of an evaluation manifest: a RequestId, the speaker to authenticate (optional) and the call."""

    request_id: str
    speaker_id: str | None
    audio: tuple[AudioSpecification, ...]

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"RequestId": self.request_id, "AudioSpecifications": audio_to_json(self.audio)}
        if self.speaker_id is not None:
            document["SpeakerId"] = self.speaker_id
        return document

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvaluationRequest:
        return cls(data["RequestId"], data.get("SpeakerId"), audio_from_json(data))

    @classmethod
    def from_manifest(cls, entry: Any, where: str, ids: RequestIds) -> EvaluationRequest:
        entry = entry_object(entry, where)
        return cls(request_id_of(entry, where, ids), speaker_id_of(entry.get("SpeakerId"), where),
                   audio_specifications_of(entry.get("AudioSpecifications"), where))

    @property
    def names_generated_id(self) -> bool:
        return self.speaker_id is not None and is_generated_id(self.speaker_id)


@dataclass(frozen=True)
class SuccessfulEvaluation:
    """One entry of the output file's SuccessfulEvaluations list: EvaluateSession's two results for the call."""

    request_id: str
    authentication: AuthenticationResult
    fraud_detection: FraudDetectionResult | None  # None: FraudDetectionAction IGNORE
    customer_speaker_id: str | None = None
    generated_speaker_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"RequestId": self.request_id}
        ids = {"CustomerSpeakerId": self.customer_speaker_id, "GeneratedSpeakerId": self.generated_speaker_id}
        document.update({name: value for name, value in ids.items() if value is not None})
        document["AuthenticationResult"] = self.authentication.to_api()
        if self.fraud_detection is not None:
            document["FraudDetectionResult"] = self.fraud_detection.to_api()
        return document

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SuccessfulEvaluation:
        fraud = data.get("FraudDetectionResult")
        return cls(data["RequestId"], AuthenticationResult.from_api(data["AuthenticationResult"]),
                   FraudDetectionResult.from_api(fraud) if fraud is not None else None,
                   data.get("CustomerSpeakerId"), data.get("GeneratedSpeakerId"))


def result_ids(job_id: str, request_id: str) -> tuple[str, str]:
    """The AuthenticationResultId and FraudDetectionResultId of a request: the same on every retry."""
    return (stable_id("speaker-evaluation-authentication", job_id, request_id),
            stable_id("speaker-evaluation-fraud-detection", job_id, request_id))


@dataclass(frozen=True)
class EvaluationRules:
    """Evaluation's decisions for one shard (``shards.ShardProcessor`` runs them)."""

    services: ShardServices

    @property
    def config(self) -> EvaluationConfig:
        return self.services.config_of(EvaluationConfig)

    @property
    def verification(self) -> Verification:
        return Verification(self.config.acceptance_threshold, self.services.limits.min_evaluation_speech_seconds)

    def decided(self, request: EvaluationRequest) -> JobResult | None:
        """Without fraud detection, a speaker the call cannot authenticate (none given, unknown, opted out,
        expired) is decided without reading the call."""
        if self.config.detects_fraud:
            return None
        evaluation = self._evaluation(request, None, None)
        decision = evaluation.authentication.decision
        return None if decision is AuthenticationDecision.NOT_ENOUGH_SPEECH else evaluation

    def not_enough_speech(self, request: EvaluationRequest, shortfall: NotEnoughSpeech) -> JobResult:
        return self._evaluation(request, None, self.screen())

    def screen(self) -> FraudScreen | None:
        return self._screen

    @cached_property
    def _screen(self) -> FraudScreen | None:
        """Read once per shard (a short call needs its threshold and watchlist too)."""
        return FraudScreen.load(self.config.fraud_detection, self.services.domain_id, self.services.fraudsters,
                                self.services.embedder.model_id)

    def write(self, request: EvaluationRequest, voiceprint: Voiceprint, screen: FraudScreen | None) -> JobResult:
        return self._evaluation(request, voiceprint, screen)

    def _evaluation(self, request: EvaluationRequest, voiceprint: Voiceprint | None, screen: FraudScreen | None
                    ) -> SuccessfulEvaluation:
        job = self.services.job
        speaker = self.services.speakers.find(job.domain_id, request.speaker_id) if request.speaker_id else None
        window = AudioWindow(job.created_at, job.created_at)  # the calls were recorded before the job
        authentication_id, fraud_id = result_ids(job.job_id, request.request_id)
        verification = self.verification
        authentication = verification.authenticate(authentication_id, window, request.speaker_id, speaker, voiceprint)
        fraud = verification.detect_fraud(fraud_id, window, screen, voiceprint) if screen is not None else None
        if speaker is not None:
            self._access(speaker, authentication)
        customer_id = speaker.customer_speaker_id if speaker else (
            None if request.names_generated_id else request.speaker_id)
        generated_id = speaker.generated_speaker_id if speaker else (
            request.speaker_id if request.names_generated_id else None)
        return SuccessfulEvaluation(request.request_id, authentication, fraud, customer_id, generated_id)

    def _access(self, speaker: Speaker, authentication: AuthenticationResult) -> None:
        """LastAccessedAt moves on ACCEPT; a speaker changed meanwhile (re-enrolled, opted out, accessed by another
        evaluation) keeps its change: access is a hint for expiry, never worth overwriting a change for."""
        moved = accessed(speaker, authentication, self.services.clock())
        if moved is None:
            return
        with contextlib.suppress(SpeakerChangedError):
            self.services.speakers.replace(moved, speaker)


def summary_of(results: Sequence[JobResult]) -> dict[str, Any]:
    """Counts per decision (every decision listed, 0 included), the errors, the accept rate of the scored calls
    (ACCEPT / (ACCEPT + REJECT)) and the quartiles of their scores."""
    evaluations = [r for r in results if isinstance(r, SuccessfulEvaluation)]
    authentications = Counter(e.authentication.decision for e in evaluations)
    frauds = Counter(e.fraud_detection.decision for e in evaluations if e.fraud_detection is not None)
    summary: dict[str, Any] = {
        "AuthenticationDecisions": {d.value: authentications[d] for d in AuthenticationDecision},
        "FraudDetectionDecisions": {d.value: frauds[d] for d in FraudDetectionDecision},
        "Errors": sum(isinstance(r, RequestError) for r in results),
    }
    scores = [e.authentication.score for e in evaluations
              if e.authentication.decision in SCORED and e.authentication.score is not None]
    if scores:
        summary["AcceptRate"] = round(authentications[AuthenticationDecision.ACCEPT] / len(scores), 4)
        quartiles = np.percentile(np.asarray(scores, dtype=np.float64), [0, 25, 50, 75, 100])
        names = ("Minimum", "FirstQuartile", "Median", "ThirdQuartile", "Maximum")
        summary["Scores"] = {"Count": len(scores), **{n: round(float(q), 2) for n, q in zip(names, quartiles,
                                                                                           strict=True)}}
    return summary


class SpeakerEvaluation(JobType):
    name = "SPEAKER_EVALUATION"
    operations = JobOperations("StartSpeakerEvaluationJob", "DescribeSpeakerEvaluationJob",
                               "ListSpeakerEvaluationJobs")
    id_namespace = "speaker-evaluation-job"
    upload_prefix = "evaluations"
    manifest = ManifestSchema("SpeakerEvaluationRequests", EvaluationRequest.from_manifest)
    successes_member = "SuccessfulEvaluations"
    config_from_api = EvaluationConfig.from_api
    request_from_json = EvaluationRequest.from_json
    success_from_json = SuccessfulEvaluation.from_json
    shard_rules = EvaluationRules
    lost_message = "Internal error: the evaluation worker for this request failed after retries; not evaluated"

    def min_speech_seconds(self, limits: Limits) -> float:
        return limits.min_evaluation_speech_seconds

    def replay(self, job: BatchJob, request: EvaluationRequest, stores: RecordStores) -> JobResult | None:
        return None  # an evaluation writes no record to report it from

    def summary(self, results: Sequence[JobResult]) -> JobSummary:
        return JobSummary(SUMMARY_MEMBER, summary_of(results))

    def upload_problem(self, metadata: Mapping[str, str]) -> str | None:
        return score_problem(metadata, "acceptance-threshold") or fraud_metadata_problem(metadata)

    def config_from_upload(self, metadata: Mapping[str, str]) -> EvaluationConfig:
        threshold = score_of(metadata.get("acceptance-threshold", ""))
        return EvaluationConfig(DEFAULT_ACCEPTANCE_THRESHOLD if threshold is None else threshold,
                                FraudDetectionConfig.from_upload(metadata))


SPEAKER_EVALUATION = SpeakerEvaluation()
