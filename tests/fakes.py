"""In-memory implementations of the domain's ports, for domain tests without AWS; the stores follow the DynamoDB
adapters' rules (tests/test_store_contracts.py runs one contract suite on both)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
from speaker_enrollment.domain.admin.maintenance import run_to_end
from speaker_enrollment.domain.ports import (
    AudioSource,
    DomainKeys,
    Embedder,
    FraudsterStore,
    JsonDocument,
    SpeakerDirectory,
)
from speaker_enrollment.domain.shared.domain import DeletedDomain, Domain
from speaker_enrollment.domain.shared.errors import (
    AudioFetchError,
    DomainChangedError,
    FraudsterChangedError,
    KeyUnusableError,
    QuotaExceededError,
    SpeakerChangedError,
    SpeakerQuotaExceededError,
    WatchlistGoneError,
    WatchlistNotEmptyError,
)
from speaker_enrollment.domain.shared.fraudster import Fraudster
from speaker_enrollment.domain.shared.ids import is_generated_id
from speaker_enrollment.domain.shared.job import BatchJob, FailureDetails, JobConfig, JobStatus, JobSummary, percent
from speaker_enrollment.domain.shared.paging import Page
from speaker_enrollment.domain.shared.s3uri import S3Location
from speaker_enrollment.domain.shared.sealed import SealedVoiceprint, VoiceprintOwner
from speaker_enrollment.domain.shared.speaker import Speaker
from speaker_enrollment.domain.shared.watchlist import Watchlist
from speaker_enrollment.domain.workflow.jobtype import JobType, Limits, ShardServices
from speaker_enrollment.domain.workflow.manifest import ManifestRequest
from speaker_enrollment.domain.workflow.results import JobResult
from speaker_enrollment.domain.workflow.sessions import Session, StreamingStatus
from speaker_enrollment.domain.workflow.steps import run_shard
from speaker_enrollment.voiceprint.audio import NoSpeechError, Speech, UnreadableAudioError
from speaker_enrollment.voiceprint.engine import Voiceprint


@dataclass
class MemoryAudio:
    objects: dict[str, bytes] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)

    def fetch(self, s3_uri: str, max_bytes: int) -> bytes:
        self.fetched.append(s3_uri)
        if s3_uri not in self.objects:
            raise AudioFetchError(f"{s3_uri} does not exist")
        data = self.objects[s3_uri]
        if len(data) > max_bytes:
            raise AudioFetchError(f"{s3_uri}: file is {len(data):,} bytes, over the {max_bytes:,}-byte limit")
        return data


# --------------------------------------------------------------------------------------------- stores
#
# The in-memory stores follow the DynamoDB adapters' rules (tests/test_store_contracts.py holds both to them):
# a write conditioned on a record succeeds only while the stored record has the expected `version`
# (``ConditionExpression Version = :v``), a create only while the id is free, and counts are kept where the
# tables keep them (the domain's SpeakerCount and WatchlistCount, each watchlist's FraudsterCount) by the same
# writes, so quotas and "only an empty watchlist is deleted" hold as they do on DynamoDB. Listings come in
# pages ordered by the table's sort key, the position being the last key handed out.

Item = TypeVar("Item")


def _page(items: Iterable[Item], key: Callable[[Item], str], limit: int, after: str | None) -> Page[Item]:
    ordered = sorted((item for item in items if after is None or key(item) > after), key=key)
    page = ordered[:limit]
    return Page(page, key(page[-1]) if len(ordered) > limit else None)


def _at_version(stored: Speaker | Fraudster | Domain | None, version: int) -> bool:
    """``Version = :v``: false for a record that does not exist."""
    return stored is not None and stored.version == version


def speaker_summary(speaker: Speaker) -> Speaker:
    """What a listing reads of a speaker (the adapter's projection): no voiceprint."""
    return Speaker(speaker.domain_id, speaker.customer_speaker_id, speaker.generated_speaker_id, speaker.status,
                   speaker.created_at, speaker.updated_at, speaker.last_accessed_at, version=speaker.version)


def fraudster_summary(fraudster: Fraudster) -> Fraudster:
    """What a listing reads of a fraudster (the adapter's projection): no voiceprint."""
    return Fraudster(fraudster.domain_id, fraudster.generated_fraudster_id, fraudster.watchlist_ids,
                     fraudster.created_at, version=fraudster.version)


@dataclass
class MemoryWatchlists:
    """The WatchlistRegistry port, with the counts DynamoDB keeps beside the watchlists: each watchlist's
    ``FraudsterCount`` (kept by MemoryFraudsters) and each domain's ``WatchlistCount`` (its watchlists but the
    default one, which MemoryDomains writes uncounted)."""

    watchlists: dict[tuple[str, str], Watchlist] = field(default_factory=dict)
    request_hashes: dict[tuple[str, str], str] = field(default_factory=dict)
    fraudster_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    watchlist_counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, *watchlists: Watchlist) -> MemoryWatchlists:
        store = cls()
        for watchlist in watchlists:
            store.add(watchlist)
        return store

    def add(self, watchlist: Watchlist) -> None:
        """Write a watchlist as a domain's creation writes its default one: uncounted, without request hash."""
        self.watchlists[(watchlist.domain_id, watchlist.watchlist_id)] = watchlist

    def get(self, domain_id: str, watchlist_id: str) -> Watchlist | None:
        return self.watchlists.get((domain_id, watchlist_id))

    def request_hash(self, domain_id: str, watchlist_id: str) -> str | None:
        return self.request_hashes.get((domain_id, watchlist_id))

    def create(self, watchlist: Watchlist, request_hash: str, quota: int) -> bool:
        key = (watchlist.domain_id, watchlist.watchlist_id)
        if key in self.watchlists:
            return False
        if self.watchlist_counts.get(watchlist.domain_id, 0) >= quota - 1:  # the default one is not counted
            raise QuotaExceededError(watchlist.domain_id)
        self.add(watchlist)
        self.request_hashes[key] = request_hash
        self.fraudster_counts[key] = 0
        self._count_watchlist(watchlist.domain_id, +1)
        return True

    def update(self, watchlist: Watchlist) -> None:
        stored = self.get(watchlist.domain_id, watchlist.watchlist_id)
        if stored is None:
            raise WatchlistGoneError(watchlist.watchlist_id)
        self.add(replace(stored, name=watchlist.name, description=watchlist.description,
                         updated_at=watchlist.updated_at))

    def delete(self, watchlist: Watchlist) -> None:
        key = (watchlist.domain_id, watchlist.watchlist_id)
        if key not in self.watchlists:
            raise WatchlistGoneError(watchlist.watchlist_id)
        if self.fraudster_counts.get(key, 0):
            raise WatchlistNotEmptyError(watchlist.watchlist_id)
        self._drop(key)
        self._count_watchlist(watchlist.domain_id, -1)

    def page(self, domain_id: str, limit: int, after: str | None) -> Page[Watchlist]:
        mine = (w for (d, _), w in self.watchlists.items() if d == domain_id)
        return _page(mine, lambda w: w.watchlist_id, limit, after)

    def drop_domain(self, domain_id: str) -> None:
        """A deleted domain's watchlists go (its WatchlistCount stays on the tombstone, as on DynamoDB)."""
        for key in [k for k in self.watchlists if k[0] == domain_id]:
            self._drop(key)

    def fraudster_count(self, domain_id: str, watchlist_id: str) -> int:
        return self.fraudster_counts.get((domain_id, watchlist_id), 0)

    def count_fraudsters(self, domain_id: str, watchlist_ids: Iterable[str], change: int) -> None:
        for watchlist_id in watchlist_ids:
            key = (domain_id, watchlist_id)
            self.fraudster_counts[key] = self.fraudster_counts.get(key, 0) + change

    def _count_watchlist(self, domain_id: str, change: int) -> None:
        self.watchlist_counts[domain_id] = self.watchlist_counts.get(domain_id, 0) + change

    def _drop(self, key: tuple[str, str]) -> None:
        del self.watchlists[key]
        self.request_hashes.pop(key, None)
        self.fraudster_counts.pop(key, None)


@dataclass
class _DomainRecord:
    domain: Domain
    client_token: str
    request_hash: str
    deleted_at: float | None = None
    purged_at: float | None = None
    purge_error: str | None = None


@dataclass
class MemoryDomains:
    """The DomainRegistry port. A deleted domain leaves a tombstone, so its id is never handed out again; each
    domain's speaker count is kept apart from the records, by MemorySpeakers' writes."""

    watchlists: MemoryWatchlists = field(default_factory=MemoryWatchlists)
    records: dict[str, _DomainRecord] = field(default_factory=dict)
    speaker_counts: dict[str, int] = field(default_factory=dict)

    def get(self, domain_id: str) -> Domain | None:
        record = self.records.get(domain_id)
        if record is None or record.deleted_at is not None:
            return None
        return record.domain

    def create(self, domain: Domain, watchlist: Watchlist, client_token: str, request_hash: str) -> bool:
        if domain.domain_id in self.records:
            return False
        self.records[domain.domain_id] = _DomainRecord(domain, client_token, request_hash)
        self.watchlists.add(watchlist)
        return True

    def request_hash(self, domain_id: str) -> str | None:
        record = self.records.get(domain_id)
        return record.request_hash if record else None

    def update(self, domain: Domain, expected: Domain) -> None:
        record = self.records.get(domain.domain_id)
        if record is None or record.deleted_at is not None or not _at_version(record.domain, expected.version):
            raise DomainChangedError(domain.domain_id)
        record.domain = replace(domain, created_at=record.domain.created_at, version=expected.version + 1)

    def delete(self, domain_id: str, now: float) -> bool:
        record = self.records.get(domain_id)
        if record is None or record.deleted_at is not None:
            return False
        record.deleted_at = now
        record.domain = replace(record.domain, name="", description=None, tags=())
        self.watchlists.drop_domain(domain_id)
        return True

    def page(self, limit: int, after: str | None) -> Page[Domain]:
        live = (domain for domain in map(self.get, self.records) if domain is not None)
        return _page(live, lambda d: d.domain_id, limit, after)

    def deleted_page(self, limit: int, after: str | None) -> Page[DeletedDomain]:
        deleted = (DeletedDomain(domain_id, r.deleted_at, r.purged_at, r.purge_error)
                   for domain_id, r in self.records.items() if r.deleted_at is not None)
        return _page(deleted, lambda d: d.domain_id, limit, after)

    def purged(self, domain_id: str, now: float, error: str | None = None) -> None:
        record = self.records.get(domain_id)
        if record is not None and record.deleted_at is not None:
            record.purged_at, record.purge_error = now, error

    def speaker_count(self, domain_id: str) -> int:
        return self.speaker_counts.get(domain_id, 0)

    def count_speakers(self, domain_id: str, change: int) -> None:
        self.speaker_counts[domain_id] = self.speaker_count(domain_id) + change


@dataclass
class MemorySpeakers:
    """The SpeakerDirectory port; each create and delete counts in `domains` (the domain's speaker count)."""

    speakers: dict[tuple[str, str], Speaker] = field(default_factory=dict)
    domains: MemoryDomains = field(default_factory=MemoryDomains)

    def get(self, domain_id: str, customer_speaker_id: str) -> Speaker | None:
        return self.speakers.get((domain_id, customer_speaker_id))

    def count(self, domain_id: str) -> int:
        return self.domains.speaker_count(domain_id)

    def find(self, domain_id: str, speaker_id: str) -> Speaker | None:
        if not is_generated_id(speaker_id):
            return self.get(domain_id, speaker_id)
        return next((s for (d, _), s in self.speakers.items()
                     if d == domain_id and s.generated_speaker_id == speaker_id), None)

    def create(self, speaker: Speaker, quota: int) -> None:
        key = (speaker.domain_id, speaker.customer_speaker_id)
        if key in self.speakers:
            raise SpeakerChangedError(speaker.customer_speaker_id)
        if self.domains.speaker_count(speaker.domain_id) >= quota:
            raise SpeakerQuotaExceededError(speaker.domain_id)
        self.speakers[key] = speaker
        self.domains.count_speakers(speaker.domain_id, +1)

    def replace(self, speaker: Speaker, expected: Speaker) -> None:
        key = (speaker.domain_id, speaker.customer_speaker_id)
        if not _at_version(self.speakers.get(key), expected.version):
            raise SpeakerChangedError(speaker.customer_speaker_id)
        self.speakers[key] = speaker

    def delete(self, speaker: Speaker) -> None:
        key = (speaker.domain_id, speaker.customer_speaker_id)
        if not _at_version(self.speakers.get(key), speaker.version):
            raise SpeakerChangedError(speaker.customer_speaker_id)
        del self.speakers[key]
        self.domains.count_speakers(speaker.domain_id, -1)

    def page(self, domain_id: str, limit: int, after: str | None) -> Page[Speaker]:
        mine = (speaker_summary(s) for (d, _), s in self.speakers.items() if d == domain_id)
        return _page(mine, lambda s: s.customer_speaker_id, limit, after)


@dataclass
class MemoryFraudsters:
    """The FraudsterStore port: the fraudsters of every watchlist, and how often a watchlist was read. Writes
    need their watchlists in `watchlists` and keep their FraudsterCount (fraudsters given to the constructor are
    taken as they are, uncounted, as a raw write would be)."""

    fraudsters: list[Fraudster] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    watchlists: MemoryWatchlists = field(default_factory=MemoryWatchlists)

    def in_watchlist(self, domain_id: str, watchlist_id: str) -> list[Fraudster]:
        self.reads.append(watchlist_id)
        return [f for f in self.fraudsters if f.domain_id == domain_id and watchlist_id in f.watchlist_ids]

    def get(self, domain_id: str, fraudster_id: str) -> Fraudster | None:
        return next((f for f in self.fraudsters
                     if (f.domain_id, f.generated_fraudster_id) == (domain_id, fraudster_id)), None)

    def create(self, fraudster: Fraudster, quota: int) -> None:
        if self.get(fraudster.domain_id, fraudster.generated_fraudster_id) is not None:
            raise FraudsterChangedError(fraudster.generated_fraudster_id)
        self._join(fraudster, fraudster.watchlist_ids, frozenset(), quota)
        self.fraudsters.append(fraudster)

    def replace(self, fraudster: Fraudster, expected: Fraudster, quota: int) -> None:
        stored = self._current(fraudster, expected.version)
        self._join(fraudster, fraudster.watchlist_ids - expected.watchlist_ids,
                   expected.watchlist_ids - fraudster.watchlist_ids, quota)
        self.fraudsters[self.fraudsters.index(stored)] = fraudster

    def delete(self, fraudster: Fraudster) -> None:
        self.fraudsters.remove(self._current(fraudster, fraudster.version))
        self.watchlists.count_fraudsters(fraudster.domain_id, fraudster.watchlist_ids, -1)

    def page(self, domain_id: str, limit: int, after: str | None, watchlist_id: str | None = None
             ) -> Page[Fraudster]:
        mine = (fraudster_summary(f) for f in self.fraudsters if f.domain_id == domain_id and (
            watchlist_id is None or watchlist_id in f.watchlist_ids))
        return _page(mine, lambda f: f.generated_fraudster_id, limit, after)

    def _current(self, fraudster: Fraudster, version: int) -> Fraudster:
        stored = self.get(fraudster.domain_id, fraudster.generated_fraudster_id)
        if stored is None or not _at_version(stored, version):
            raise FraudsterChangedError(fraudster.generated_fraudster_id)
        return stored

    def _join(self, fraudster: Fraudster, joined: frozenset[str], left: frozenset[str], quota: int) -> None:
        """Count the fraudster in the watchlists it joins (each must exist and have room) and out of those it
        leaves; nothing changes when one cannot take it."""
        for watchlist_id in sorted(joined):
            if self.watchlists.get(fraudster.domain_id, watchlist_id) is None:
                raise WatchlistGoneError(watchlist_id)
            if self.watchlists.fraudster_count(fraudster.domain_id, watchlist_id) >= quota:
                raise QuotaExceededError(watchlist_id)
        self.watchlists.count_fraudsters(fraudster.domain_id, joined, +1)
        self.watchlists.count_fraudsters(fraudster.domain_id, left, -1)


@dataclass
class _JobRecord:
    job: BatchJob
    client_token: str
    request_hash: str
    total_requests: int = 0
    processed_requests: int = 0
    reached: dict[int, int] = field(default_factory=dict)  # shard → requests done from its start


class JobNotRunningError(Exception):
    """finish() of a job that is neither running nor already in that final status (DynamoDB's condition fails)."""


@dataclass
class MemoryJobs:
    """The JobCatalog port: a job's life cycle SUBMITTED → IN_PROGRESS → final, its progress counted once per
    shard."""

    records: dict[tuple[str, str], _JobRecord] = field(default_factory=dict)

    def get(self, domain_id: str, job_id: str) -> BatchJob | None:
        record = self.records.get((domain_id, job_id))
        return record.job if record else None

    def list(self, domain_id: str) -> list[BatchJob]:
        return [record.job for (d, _), record in self.records.items() if d == domain_id]

    def page(self, domain_id: str, limit: int, after: str | None) -> Page[BatchJob]:
        return _page(self.list(domain_id), lambda job: job.job_id, limit, after)

    def create(self, job: BatchJob, client_token: str, request_hash: str) -> bool:
        key = (job.domain_id, job.job_id)
        if key in self.records:
            return False
        self.records[key] = _JobRecord(job, client_token, request_hash)
        return True

    def request_hash(self, domain_id: str, job_id: str) -> str | None:
        record = self.records.get((domain_id, job_id))
        return record.request_hash if record else None

    def start(self, domain_id: str, job_id: str, total_requests: int) -> None:
        record = self.records.get((domain_id, job_id))
        if record is not None and record.job.status is JobStatus.SUBMITTED:
            record.job = replace(record.job, status=JobStatus.IN_PROGRESS)
            record.total_requests = total_requests

    def record_shard(self, domain_id: str, job_id: str, shard_index: int, requests: int, start: int = 0) -> int:
        record = self.records[(domain_id, job_id)]
        reached = record.reached.get(shard_index, 0)
        if start + requests > reached:  # only the shard's furthest point counts
            record.processed_requests += start + requests - reached
            record.reached[shard_index] = start + requests
        # 100 % is reserved for the finished job, as in the adapter.
        done = min(99, percent(record.processed_requests, record.total_requests))
        if record.job.status is JobStatus.IN_PROGRESS and record.job.percent_complete < done:
            record.job = replace(record.job, percent_complete=done)
        return done

    def finish(self, domain_id: str, job_id: str, status: JobStatus, ended_at: float,
               summary: JobSummary | None = None) -> None:
        record = self.records[(domain_id, job_id)]
        if record.job.status not in (JobStatus.IN_PROGRESS, status):
            raise JobNotRunningError(f"{job_id} is {record.job.status}")
        record.job = replace(record.job, status=status, ended_at=ended_at, percent_complete=100,
                             summary=summary or record.job.summary)

    def fail(self, domain_id: str, job_id: str, details: FailureDetails, ended_at: float) -> None:
        record = self.records.get((domain_id, job_id))
        if record is not None and not record.job.status.is_final:  # the first ending recorded wins
            record.job = record.job.failed(details, ended_at)


@dataclass
class MemoryWorkStore:
    """The WorkStore port: the work bucket's JSON objects under the keys of docs/architecture.md."""

    objects: dict[str, bytes] = field(default_factory=dict)

    def put_shards(self, domain_id: str, job_id: str, shards: Sequence[Sequence[JsonDocument]]) -> str:
        items = []
        for index, shard in enumerate(shards):
            key = self._shard_key(job_id, index)
            self._write(key, list(shard))
            items.append({"DomainId": domain_id, "JobId": job_id, "ShardIndex": index, "ShardKey": key})
        listing = f"jobs/{job_id}/shards.json"
        self._write(listing, items)
        return listing

    def shard_requests(self, job_id: str, shard_index: int) -> list[JsonDocument]:
        return list(self.read(self._shard_key(job_id, shard_index)))

    def put_results(self, job_id: str, shard_index: int, results: Sequence[JsonDocument]) -> None:
        self._write(self._results_key(job_id, shard_index), list(results))

    def results(self, job_id: str, shard_index: int) -> list[JsonDocument] | None:
        key = self._results_key(job_id, shard_index)
        return list(self.read(key)) if key in self.objects else None

    def put_validation_errors(self, job_id: str, errors: Sequence[JsonDocument]) -> None:
        self._write(f"jobs/{job_id}/validation-errors.json", list(errors))

    def validation_errors(self, job_id: str) -> list[JsonDocument]:
        return list(self.read(f"jobs/{job_id}/validation-errors.json"))

    def read(self, key: str) -> Any:
        return json.loads(self.objects[key])

    def _write(self, key: str, document: Any) -> None:
        self.objects[key] = json.dumps(document, separators=(",", ":")).encode()

    @staticmethod
    def _shard_key(job_id: str, index: int) -> str:
        return f"jobs/{job_id}/shards/{index:05d}.json"

    @staticmethod
    def _results_key(job_id: str, index: int) -> str:
        return f"jobs/{job_id}/results/{index:05d}.json"


# ------------------------------------------------------------------------------------------- embedder


FAKE_MODEL_ID = "fake-embedder-1"


def fake_recording(voice: str, seconds: float) -> bytes:
    """What the fake embedder reads: a voice's name and how much speech the recording holds."""
    return json.dumps({"voice": voice, "seconds": seconds}).encode()


def fake_voice(voice: str) -> np.ndarray[Any, np.dtype[np.float32]]:
    """A fixed random unit vector per voice name: two voices are far apart, the same voice is identical."""
    seed = int.from_bytes(hashlib.sha256(voice.encode()).digest()[:8], "big")
    vector = np.random.default_rng(seed).standard_normal(256).astype(np.float32)
    return vector / np.linalg.norm(vector)


@dataclass
class FakePool:
    model_id: str
    speech: dict[Hashable, list[Speech]] = field(default_factory=dict)

    def add(self, key: Hashable, speech: Speech) -> None:
        self.speech.setdefault(key, []).append(speech)

    def discard(self, key: Hashable) -> None:
        self.speech.pop(key, None)

    def voiceprint(self, key: Hashable) -> Voiceprint:
        speeches = self.speech.pop(key)
        vector = np.mean([s.samples for s in speeches], axis=0).astype(np.float32)
        return Voiceprint(vector / np.linalg.norm(vector), self.model_id,
                          sum(s.net_speech_seconds for s in speeches))


@dataclass
class FakeEmbedder:
    """The Embedder port without the LSTM, for tests whose subject is a rule rather than a voice: a recording
    (``fake_recording``) names its voice, whose voiceprint is ``fake_voice``."""

    model_id: str = FAKE_MODEL_ID

    def speech(self, data: bytes, source: str, channel: int = 0) -> Speech:
        try:
            recording = json.loads(data)
        except ValueError:
            raise UnreadableAudioError(source, "not a readable audio file (fake embedder)") from None
        if not recording["seconds"]:  # silence: the real engine finds no speech in it
            raise NoSpeechError(source, "no speech found")
        seconds = float(recording["seconds"])
        return Speech(source, fake_voice(recording["voice"]), seconds, seconds)

    def pool(self) -> FakePool:
        return FakePool(self.model_id)


# ------------------------------------------------------------------------------------------- one shard


def run_shard_of(job_type: JobType, config: JobConfig, requests: Sequence[ManifestRequest], *, audio: AudioSource,
                 embedder: Embedder, speakers: SpeakerDirectory | None = None, fraudsters: FraudsterStore | None = None,
                 job_id: str = "J", domain_id: str = "D" * 22, speaker_quota: int = 100, fraudster_quota: int = 500,
                 min_evaluation_speech_seconds: float = 10.0, keys: DomainKeys | None = None) -> list[JobResult]:
    """One shard of a job of `job_type` with `config`, as the workflow's shard step runs it, on in-memory stores
    (`keys`: the domain's key usable unless given)."""
    job = BatchJob(job_id, domain_id, job_type.name, config, "arn:aws:iam::123456789012:role/data", "s3://in/m.json",
                   "s3://out/", created_at=1_700_000_000.0)
    limits = Limits(max_requests_per_job=10_000, shard_size=20, speaker_quota=speaker_quota,
                    max_audio_file_bytes=20 * 1024 * 1024, fraudster_quota=fraudster_quota,
                    max_speech_seconds=120, min_evaluation_speech_seconds=min_evaluation_speech_seconds)
    services = ShardServices(job, speakers or MemorySpeakers(), fraudsters or MemoryFraudsters(), embedder,
                             keys or FakeCipher.for_domain(domain_id), limits, clock=lambda: 1_700_000_000.0)
    return run_shard(job_type, services, audio, requests)


# ------------------------------------------------------------------------------------------- sessions


@dataclass
class MemorySessions:
    """The SessionStore port, with DynamoSessionStore's conditions (tests/test_session_store.py holds both)."""

    sessions: dict[tuple[str, str], Session] = field(default_factory=dict)

    def get(self, domain_id: str, session_id: str) -> Session | None:
        return self.sessions.get((domain_id, session_id))

    def begin(self, session: Session, now: float) -> Session | None:
        key = (session.domain_id, session.session_id)
        stored = self.sessions.get(key)
        if stored is None or stored.upload_order < session.upload_order or (
                stored.upload_order == session.upload_order and stored.status is StreamingStatus.ONGOING
                and (stored.lease_expires_at or 0.0) < now):
            self.sessions[key] = session
            return None
        return stored

    def finish(self, session: Session) -> bool:
        key = (session.domain_id, session.session_id)
        stored = self.sessions.get(key)
        if stored is None or stored.upload_order != session.upload_order:
            return False
        self.sessions[key] = session
        return True


@dataclass
class MemoryInbox:
    """The SessionInbox port: recordings by key (one version each), their metadata, and the tags written."""

    objects: dict[str, bytes] = field(default_factory=dict)
    metadata_of: dict[str, dict[str, str]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def put(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
        self.objects[key] = data
        self.metadata_of[key] = dict(metadata or {})

    def metadata(self, location: S3Location, version_id: str | None) -> dict[str, str]:
        return dict(self.metadata_of.get(location.key, {}))

    def fetch(self, location: S3Location, version_id: str | None, max_bytes: int) -> bytes:
        if location.key not in self.objects:
            raise AudioFetchError(f"{location.file_name} could not be read (NoSuchKey)")
        data = self.objects[location.key]
        if len(data) > max_bytes:
            raise AudioFetchError(f"{location.file_name}: file is {len(data):,} bytes, over {max_bytes:,}")
        return data

    def mark_refused(self, location: S3Location, version_id: str | None, reason: str) -> None:
        self.tags[location.key] = reason


# ------------------------------------------------------------------------------------- domain keys


@dataclass
class FakeCipher:
    """The VoiceprintCipher port without KMS: keys by id (→ ARN), some disabled; a sealed voiceprint names its key
    and owner and opens only for them (not encryption: the adapter's tests cover that)."""

    keys: dict[str, str] = field(default_factory=dict)  # key id → ARN
    disabled: set[str] = field(default_factory=set)
    domain_keys: dict[str, str] = field(default_factory=dict)  # domain id → key id
    checked: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def for_domain(cls, domain_id: str, key_id: str = "key-1") -> FakeCipher:
        """A cipher whose only key is the domain's."""
        cipher = cls(domain_keys={domain_id: key_id})
        cipher.add_key(key_id)
        return cipher

    def add_key(self, key_id: str) -> str:
        self.keys[key_id] = f"arn:aws:kms:us-east-1:123456789012:key/{key_id}"
        return self.keys[key_id]

    def _usable(self, key_id: str) -> str:
        if key_id not in self.keys:
            raise KeyUnusableError(key_id, "NotFoundException", f"The domain's KMS key {key_id} does not exist")
        if key_id in self.disabled:
            raise KeyUnusableError(key_id, "DisabledException", f"The domain's KMS key {key_id} is disabled")
        return self.keys[key_id]

    def seal(self, owner: VoiceprintOwner, voiceprint: bytes) -> SealedVoiceprint:
        arn = self._usable(self.domain_keys[owner.domain_id])
        return SealedVoiceprint(arn, arn.encode(), owner.binding() + b"|" + voiceprint[::-1])

    def open(self, owner: VoiceprintOwner, sealed: SealedVoiceprint) -> bytes:
        self._usable(sealed.key_arn.rsplit("/", 1)[-1])
        binding, _, reversed_voiceprint = sealed.ciphertext.partition(b"|")
        if binding != owner.binding():
            raise ValueError("sealed for another owner")
        return reversed_voiceprint[::-1]

    def current_key(self, domain_id: str) -> str:
        return self._usable(self.domain_keys[domain_id])

    def check_key(self, domain_id: str, key_id: str) -> str:
        self.checked.append((domain_id, key_id))
        return self._usable(key_id)


@dataclass
class DeferredMaintenance:
    """A MaintenanceStarter that records what was started; ``run`` then runs it synchronously (as the maintenance
    workflow would, page by page), so a test can look at the domain while the task is pending or half done."""

    tasks: dict[str, Any] = field(default_factory=dict)  # name → DomainTask
    started: list[tuple[str, str]] = field(default_factory=list)

    def start(self, domain_id: str, task: str) -> None:
        self.started.append((domain_id, task))

    def run(self) -> None:
        while self.started:
            domain_id, task = self.started.pop(0)
            run_to_end(self.tasks[task], domain_id)
