"""What the domain needs from the outside world. Adapters implement these; tests use in-memory ones (and one
contract suite holds both to the same rules: tests/test_store_contracts.py). The errors the stores raise are in
``shared/errors.py``."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Protocol

from ..voiceprint.audio import Speech
from ..voiceprint.engine import Voiceprint
from .shared.domain import DeletedDomain, Domain
from .shared.fraudster import Fraudster
from .shared.job import BatchJob, FailureDetails, JobStatus, JobSummary
from .shared.paging import Erased, Page
from .shared.s3uri import S3Location
from .shared.sealed import SealedVoiceprint, StoredVoiceprint, VoiceprintOwner
from .shared.speaker import Speaker
from .shared.watchlist import Watchlist

JsonDocument = dict[str, Any]


class AudioSource(Protocol):
    def fetch(self, s3_uri: str, max_bytes: int) -> bytes:
        """The object's bytes; raises AudioFetchError (missing, access denied, over max_bytes)."""
        ...


class SpeakerStore(Protocol):
    def get(self, domain_id: str, customer_speaker_id: str) -> Speaker | None: ...

    def create(self, speaker: Speaker, quota: int) -> None:
        """Insert a new speaker and count it in the domain; SpeakerQuotaExceededError when the
        domain already has `quota` speakers, SpeakerChangedError when the speaker now exists."""
        ...

    def replace(self, speaker: Speaker, expected: Speaker) -> None:
        """Overwrite `expected` with `speaker`; SpeakerChangedError if it changed in between."""
        ...


class SpeakerDirectory(SpeakerStore, Protocol):
    """The speakers of a domain as the administrative API sees them."""

    def find(self, domain_id: str, speaker_id: str) -> Speaker | None:
        """By CustomerSpeakerId, or by GeneratedSpeakerId (``id#...``)."""
        ...

    def delete(self, speaker: Speaker) -> None:
        """Delete `speaker` (and uncount it); SpeakerChangedError if it changed or went away since read."""
        ...

    def page(self, domain_id: str, limit: int, after: str | None) -> Page[Speaker]: ...

    def count(self, domain_id: str) -> int:
        """The speakers counted against the domain's quota (enrolled and opted-out records)."""
        ...


class JobStore(Protocol):
    def get(self, domain_id: str, job_id: str) -> BatchJob | None: ...

    def create(self, job: BatchJob, client_token: str, request_hash: str) -> bool:
        """Insert the job unless one with its id exists; True if this call created it."""
        ...

    def request_hash(self, domain_id: str, job_id: str) -> str | None: ...

    def start(self, domain_id: str, job_id: str, total_requests: int) -> None:
        """SUBMITTED → IN_PROGRESS with the request count (a no-op once past SUBMITTED)."""
        ...

    def record_shard(self, domain_id: str, job_id: str, shard_index: int, requests: int, start: int = 0) -> int:
        """Count the `requests` a shard processed from request `start` on: the shard's furthest point counts, so a
        retried or continued segment counts each request once (shard -1: the manifest's invalid requests);
        returns PercentComplete."""
        ...

    def finish(self, domain_id: str, job_id: str, status: JobStatus, ended_at: float,
               summary: JobSummary | None = None) -> None:
        """IN_PROGRESS → `status` (a no-op when already there), with the kind's summary of the results."""
        ...

    def fail(self, domain_id: str, job_id: str, details: FailureDetails, ended_at: float) -> None:
        """Mark FAILED unless the job already ended (completed, or failed: the first failure recorded wins)."""
        ...


class JobCatalog(JobStore, Protocol):
    def list(self, domain_id: str) -> list[BatchJob]:
        """Every job of the domain (in no particular order)."""
        ...

    def page(self, domain_id: str, limit: int, after: str | None) -> Page[BatchJob]:
        """The domain's jobs in JobId order from `after` on."""
        ...


class DomainStore(Protocol):
    def get(self, domain_id: str) -> Domain | None:
        """The domain, unless it does not exist or was deleted."""
        ...


class DomainRegistry(DomainStore, Protocol):
    def create(self, domain: Domain, watchlist: Watchlist, client_token: str, request_hash: str) -> bool:
        """Insert the domain and its default watchlist unless the DomainId was ever used; True if created."""
        ...

    def request_hash(self, domain_id: str) -> str | None:
        """The hash of the request that created the domain (kept after deletion)."""
        ...

    def update(self, domain: Domain, expected: Domain) -> None:
        """Write the administrative attributes of `domain` (not its speaker count); DomainChangedError
        when the stored domain is no longer `expected`."""
        ...

    def delete(self, domain_id: str, now: float) -> bool:
        """Delete the domain and its watchlists; False if there was no such (undeleted) domain."""
        ...

    def page(self, limit: int, after: str | None) -> Page[Domain]: ...

    def deleted_page(self, limit: int, after: str | None) -> Page[DeletedDomain]:
        """The tombstones of deleted domains, in DomainId order from `after` on."""
        ...

    def purged(self, domain_id: str, now: float, error: str | None = None) -> None:
        """Record on the tombstone that a purge of the domain's data ended (with `error` if it failed)."""
        ...


class WatchlistStore(Protocol):
    def get(self, domain_id: str, watchlist_id: str) -> Watchlist | None: ...


class WatchlistRegistry(WatchlistStore, Protocol):
    """A domain's watchlists as the administrative API sees them."""

    def create(self, watchlist: Watchlist, request_hash: str, quota: int) -> bool:
        """Insert the watchlist unless its id exists (False); QuotaExceededError when the domain already has
        `quota` watchlists, its default one included."""
        ...

    def request_hash(self, domain_id: str, watchlist_id: str) -> str | None: ...

    def update(self, watchlist: Watchlist) -> None:
        """Write the name, description and UpdatedAt; WatchlistGoneError if it was deleted meanwhile."""
        ...

    def delete(self, watchlist: Watchlist) -> None:
        """WatchlistNotEmptyError while fraudsters are in it; WatchlistGoneError if it no longer exists."""
        ...

    def page(self, domain_id: str, limit: int, after: str | None) -> Page[Watchlist]: ...


class FraudsterSource(Protocol):
    """What enrollment reads: the fraudsters of one watchlist, voiceprints included."""

    def in_watchlist(self, domain_id: str, watchlist_id: str) -> list[Fraudster]: ...


class FraudsterStore(FraudsterSource, Protocol):
    """Fraudsters and their watchlist memberships; every write keeps each watchlist's fraudster count."""

    def get(self, domain_id: str, fraudster_id: str) -> Fraudster | None: ...

    def create(self, fraudster: Fraudster, quota: int) -> None:
        """Insert a fraudster into its watchlists; QuotaExceededError when one of them already holds `quota`
        fraudsters, WatchlistGoneError when one does not exist, FraudsterChangedError when the id exists."""
        ...

    def replace(self, fraudster: Fraudster, expected: Fraudster, quota: int) -> None:
        """Overwrite `expected` (its watchlists may differ), with the errors of `create`."""
        ...

    def delete(self, fraudster: Fraudster) -> None:
        """FraudsterChangedError if it changed or went away since read."""
        ...

    def page(self, domain_id: str, limit: int, after: str | None, watchlist_id: str | None = None
             ) -> Page[Fraudster]: ...


class DomainKeys(Protocol):
    def current_key(self, domain_id: str) -> str:
        """The ARN of the key the domain's voiceprints are sealed under now; ``KeyUnusableError`` while it refuses
        (disabled, pending deletion, gone, not allowed)."""
        ...


class VoiceprintCipher(DomainKeys, Protocol):
    """Envelope encryption of voiceprints under their domain's KMS key (``adapters/voiceprint_cipher.py``). Every
    method raises ``KeyUnusableError`` when the key refuses (disabled, pending deletion, gone, not allowed). Stores
    open a record's voiceprint only when it is used (``shared.sealed.LazyVoiceprint``)."""

    def seal(self, owner: VoiceprintOwner, voiceprint: bytes) -> SealedVoiceprint:
        """`voiceprint` encrypted under the owner's domain's current key, bound to `owner`."""
        ...

    def open(self, owner: VoiceprintOwner, sealed: SealedVoiceprint) -> bytes:
        """The voiceprint; fails unless `sealed` was sealed for `owner` (whichever key of the domain wrapped it)."""
        ...

    def check_key(self, domain_id: str, key_id: str) -> str:
        """The ARN of `key_id` if this service can seal the domain's voiceprints under it (CreateDomain,
        UpdateDomain), else KeyUnusableError."""
        ...


class VoiceprintVault(Protocol):
    """A store's voiceprints seen by the key protecting them (the speaker and the fraudster stores)."""

    def voiceprint_keys(self, domain_id: str, limit: int, after: str | None) -> Page[StoredVoiceprint]:
        """The domain's records that hold a voiceprint, with the key of each, in key order from `after` on."""
        ...

    def reseal(self, stored: StoredVoiceprint) -> bool:
        """Rewrite the record's voiceprint under the domain's current key (nothing else changes, not its version);
        False when the record changed or went away since it was listed (its writer sealed it)."""
        ...


class Workflow(Protocol):
    def start(self, job: BatchJob) -> None:
        """Start the job's execution; starting it again is harmless."""
        ...

    def stop(self, job: BatchJob, cause: str) -> None:
        """Stop the job's execution (its FailJob then records FAILED); nothing if it is not running."""
        ...


class DomainData(Protocol):
    """A place where a domain's data lives (a table's partition, an inbox prefix), erased a page at a time."""

    @property
    def name(self) -> str:
        """What the place holds, for metrics and logs (``Speakers``, ``InboxSessions``)."""

    def erase_page(self, domain_id: str, after: str | None) -> Erased:
        """Delete the next page of the domain's items here, from `after` on."""
        ...


class JobTraces(Protocol):
    def erase_job(self, job_id: str) -> int:
        """Delete what a job left outside its domain's partitions (work files, progress markers); how many."""
        ...


class DataAccess(AudioSource, Protocol):
    """Reads and writes made with the job's DataAccessRoleArn."""

    def read_manifest(self, s3_uri: str, version_id: str | None = None) -> bytes:
        """The manifest (at `version_id` when given); raises InputNotReadableError saying why it cannot be read."""
        ...

    def write_output(self, location: S3Location, body: bytes, kms_key_id: str | None) -> None:
        """Raises OutputNotWritableError saying why the output cannot be written."""
        ...


class WorkStore(Protocol):
    """The job's scratch space: shards, their results, the validation errors, as JSON documents (the job type
    reads and writes their entries)."""

    def put_shards(self, domain_id: str, job_id: str, shards: Sequence[Sequence[JsonDocument]]) -> str:
        """Write every shard and the shard list of Map items ``{"DomainId","JobId","ShardIndex","ShardKey"}``;
        return the list's key (the Map's ItemReader input)."""
        ...

    def shard_requests(self, job_id: str, shard_index: int) -> list[JsonDocument]: ...

    def put_results(self, job_id: str, shard_index: int, results: Sequence[JsonDocument]) -> None: ...

    def results(self, job_id: str, shard_index: int) -> list[JsonDocument] | None:
        """The shard's recorded results; None when it never recorded them."""
        ...

    def put_validation_errors(self, job_id: str, errors: Sequence[JsonDocument]) -> None: ...

    def validation_errors(self, job_id: str) -> list[JsonDocument]: ...


class SpeechPool(Protocol):
    """Speech gathered per key, embedded in batches (``voiceprint.engine.VoiceprintPool``)."""

    def add(self, key: Hashable, speech: Speech) -> None: ...

    def discard(self, key: Hashable) -> None: ...

    def voiceprint(self, key: Hashable) -> Voiceprint: ...


class Embedder(Protocol):
    """Recordings to voiceprints (``voiceprint.engine.VoiceprintEngine``; tests of rules use a fake)."""

    @property
    def model_id(self) -> str: ...

    def speech(self, data: bytes, source: str, channel: int = 0) -> Speech:
        """The speech of one recording; raises ``voiceprint.audio.AudioError`` saying why there is none."""
        ...

    def pool(self) -> SpeechPool: ...


class PolicySimulator(Protocol):
    """IAM's decision for one principal (``iam:SimulatePrincipalPolicy`` in AWS)."""

    def allowed(self, principal_arn: str, action: str, resource: str,
                context: Mapping[str, Sequence[str]]) -> bool:
        """Whether the principal's identity-based policies (and permission boundary) allow `action` on `resource`
        with the condition `context` (key → values); an assumed-role session counts as its role."""
        ...
