"""What a kind of batch job is: the one place that says how its manifest, configuration, results, wire names
and shard rules differ from another kind's. The workflow steps, submission, the output merge and the API's job
operations are written once against this; ``kinds/`` holds one module per kind and the registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..ports import DomainKeys, Embedder, FraudsterStore, SpeakerDirectory
from ..shared.job import BatchJob, JobConfig, JobSummary
from .manifest import ManifestRequest, ManifestSchema
from .results import JobResult, RequestError
from .shards import ShardRules
from .speech import MIN_NET_SPEECH_SECONDS
from .verification import MIN_EVALUATION_SPEECH_SECONDS

ConfigT = TypeVar("ConfigT")


@dataclass(frozen=True)
class Limits:
    """The deployment's limits (``settings.Tunables``) as the workflow applies them."""

    max_requests_per_job: int
    shard_size: int
    speaker_quota: int  # per domain
    max_audio_file_bytes: int
    fraudster_quota: int  # per watchlist
    max_speech_seconds: float  # a request's files are read until it has this much speech
    min_evaluation_speech_seconds: float = MIN_EVALUATION_SPEECH_SECONDS  # below it a call is NOT_ENOUGH_SPEECH


@dataclass(frozen=True)
class RecordStores:
    """The stores of the records jobs write."""

    speakers: SpeakerDirectory
    fraudsters: FraudsterStore


def written_by(job: BatchJob, request: ManifestRequest) -> str:
    """What a record written for `request` is marked with (``<JobId>/<RequestId>``), so a retry of the request, or
    the job's finalization, recognises its write."""
    return f"{job.job_id}/{request.request_id}"


@dataclass(frozen=True)
class ShardServices:
    """What a job type's shard rules may use for one shard of `job`."""

    job: BatchJob
    speakers: SpeakerDirectory
    fraudsters: FraudsterStore
    embedder: Embedder
    keys: DomainKeys
    limits: Limits
    clock: Callable[[], float]

    @property
    def domain_id(self) -> str:
        return self.job.domain_id

    def require_key(self) -> None:
        """``KeyUnusableError`` while the domain's key refuses. Kinds that write voiceprints ask before deciding a
        request, so each of their requests is refused alike: a stored record reads without the key (its voiceprint
        opens only when used), and a duplicate to skip or an opted-out speaker must not be decided meanwhile."""
        self.keys.current_key(self.domain_id)

    def written_by(self, request: ManifestRequest) -> str:
        return written_by(self.job, request)

    def config_of(self, config_type: type[ConfigT]) -> ConfigT:
        """The job's configuration, which must be of the kind's type."""
        config = self.job.config
        if not isinstance(config, config_type):
            raise TypeError(f"job {self.job.job_id} has a {type(config).__name__}, not a {config_type.__name__}")
        return config


@dataclass(frozen=True)
class JobOperations:
    """The kind's Voice ID API operations."""

    start: str
    describe: str
    list: str


class JobType(ABC):
    """One kind of batch job. Subclasses set the class attributes and implement the upload hooks."""

    name: str  # stored on the job record, e.g. SPEAKER_ENROLLMENT
    operations: JobOperations
    id_namespace: str  # JobIds are stable ids of (namespace, DomainId, ClientToken)
    upload_prefix: str  # an upload to <prefix>/<DomainId>/<name>.json in the inbox starts a job of this kind
    manifest: ManifestSchema
    successes_member: str  # the output file's list of successful requests, e.g. SuccessfulEnrollments
    lost_message: str  # the 500 entry of a request whose shard recorded no result
    # The kind's types, by what reads them:
    config_from_api: Callable[[Mapping[str, Any] | None], JobConfig]  # its wire shape (None = the defaults)
    request_from_json: Callable[[dict[str, Any]], ManifestRequest]  # a shard file's entry
    success_from_json: Callable[[dict[str, Any]], JobResult]  # a result file's success entry
    shard_rules: Callable[[ShardServices], ShardRules[Any]]  # its rules for one shard (ShardProcessor runs them)

    @abstractmethod
    def upload_problem(self, metadata: Mapping[str, str]) -> str | None:
        """What is wrong with an upload's object metadata (``x-amz-meta-*``) for this kind, if anything."""

    @abstractmethod
    def config_from_upload(self, metadata: Mapping[str, str]) -> JobConfig:
        """The configuration an upload's object metadata asks for (invalid values fall back to defaults: check
        `upload_problem` first)."""

    @abstractmethod
    def replay(self, job: BatchJob, request: Any, stores: RecordStores) -> JobResult | None:
        """What an attempt of `request` wrote, if one did: a shard that failed after retries still reports the
        requests it completed, so the output matches what is stored."""

    def min_speech_seconds(self, limits: Limits) -> float:
        """The net speech a request needs before its voiceprint decides anything; with less the kind's
        ``ShardRules.not_enough_speech`` decides. Enrollment and registration: Voice ID's 30 s."""
        return MIN_NET_SPEECH_SECONDS

    def summary(self, results: Sequence[JobResult]) -> JobSummary | None:
        """What the finished job's results (every request's, errors included) add up to on its record; None:
        nothing (the default)."""
        return None

    @property
    def config_member(self) -> str:
        """The job record's member holding the configuration, e.g. EnrollmentConfig."""
        return self.config_from_api(None).API_MEMBER

    def result_from_json(self, document: dict[str, Any]) -> JobResult:
        return RequestError.from_json(document) if RequestError.describes(document) else self.success_from_json(
            document)


class JobTypes:
    """The registry: every kind of batch job, by name, by API operation and by upload prefix."""

    def __init__(self, *job_types: JobType) -> None:
        self._by_name = {t.name: t for t in job_types}
        if len(self._by_name) != len(job_types):
            raise ValueError("two job types share a name")

    def __iter__(self) -> Iterator[JobType]:
        return iter(self._by_name.values())

    def __getitem__(self, name: str) -> JobType:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no job type {name!r} (known: {', '.join(self._by_name)})") from None

    def of(self, job: BatchJob) -> JobType:
        return self[job.kind]

    def for_upload_prefix(self, prefix: str) -> JobType | None:
        return next((t for t in self if t.upload_prefix == prefix), None)
