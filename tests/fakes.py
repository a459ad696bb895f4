"""In-memory implementations of the domain's ports, for domain tests without AWS."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from speaker_enrollment.domain.ports import AudioSource, Embedder, FraudsterStore, SpeakerStore
from speaker_enrollment.domain.shared.errors import (
    AudioFetchError,
    FraudsterChangedError,
    QuotaExceededError,
    SpeakerChangedError,
    SpeakerQuotaExceededError,
)
from speaker_enrollment.domain.shared.fraudster import Fraudster
from speaker_enrollment.domain.shared.job import BatchJob, JobConfig
from speaker_enrollment.domain.shared.speaker import Speaker
from speaker_enrollment.domain.workflow.jobtype import JobType, Limits, ShardServices
from speaker_enrollment.domain.workflow.manifest import ManifestRequest
from speaker_enrollment.domain.workflow.results import JobResult
from speaker_enrollment.domain.workflow.steps import run_shard
from speaker_enrollment.voiceprint.audio import Speech, UnreadableAudioError
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


@dataclass
class MemorySpeakers:
    speakers: dict[tuple[str, str], Speaker] = field(default_factory=dict)

    def get(self, domain_id: str, customer_speaker_id: str) -> Speaker | None:
        return self.speakers.get((domain_id, customer_speaker_id))

    def count(self, domain_id: str) -> int:
        return sum(1 for d, _ in self.speakers if d == domain_id)

    def create(self, speaker: Speaker, quota: int) -> None:
        key = (speaker.domain_id, speaker.customer_speaker_id)
        if key in self.speakers:
            raise SpeakerChangedError(speaker.customer_speaker_id)
        if self.count(speaker.domain_id) >= quota:
            raise SpeakerQuotaExceededError(speaker.domain_id)
        self.speakers[key] = speaker

    def replace(self, speaker: Speaker, expected: Speaker) -> None:
        key = (speaker.domain_id, speaker.customer_speaker_id)
        if self.speakers.get(key) != expected:
            raise SpeakerChangedError(speaker.customer_speaker_id)
        self.speakers[key] = speaker


@dataclass
class MemoryFraudsters:
    """The FraudsterSource port (and what registration writes with): the fraudsters of every watchlist, and how
    often a watchlist was read."""

    fraudsters: list[Fraudster] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)

    def in_watchlist(self, domain_id: str, watchlist_id: str) -> list[Fraudster]:
        self.reads.append(watchlist_id)
        return [f for f in self.fraudsters if f.domain_id == domain_id and watchlist_id in f.watchlist_ids]

    def get(self, domain_id: str, fraudster_id: str) -> Fraudster | None:
        return next((f for f in self.fraudsters
                     if (f.domain_id, f.generated_fraudster_id) == (domain_id, fraudster_id)), None)

    def create(self, fraudster: Fraudster, quota: int) -> None:
        if self.get(fraudster.domain_id, fraudster.generated_fraudster_id) is not None:
            raise FraudsterChangedError(fraudster.generated_fraudster_id)
        for watchlist_id in fraudster.watchlist_ids:
            if sum(watchlist_id in f.watchlist_ids for f in self.fraudsters) >= quota:
                raise QuotaExceededError(watchlist_id)
        self.fraudsters.append(fraudster)


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
        return Speech(source, fake_voice(recording["voice"]), float(recording["seconds"]))

    def pool(self) -> FakePool:
        return FakePool(self.model_id)


# ------------------------------------------------------------------------------------------- one shard


def run_shard_of(job_type: JobType, config: JobConfig, requests: Sequence[ManifestRequest], *, audio: AudioSource,
                 embedder: Embedder, speakers: SpeakerStore | None = None, fraudsters: FraudsterStore | None = None,
                 job_id: str = "J", domain_id: str = "D" * 22, speaker_quota: int = 100, fraudster_quota: int = 500,
                 ) -> list[JobResult]:
    """One shard of a job of `job_type` with `config`, as the workflow's shard step runs it, on in-memory stores."""
    job = BatchJob(job_id, domain_id, job_type.name, config, "arn:aws:iam::123456789012:role/data", "s3://in/m.json",
                   "s3://out/", created_at=1_700_000_000.0)
    limits = Limits(max_requests_per_job=10_000, shard_size=20, speaker_quota=speaker_quota,
                    max_audio_file_bytes=20 * 1024 * 1024, fraudster_quota=fraudster_quota)
    services = ShardServices(job, speakers or MemorySpeakers(), fraudsters or MemoryFraudsters(), embedder, limits,
                             clock=lambda: 1_700_000_000.0)
    return run_shard(job_type, services, audio, requests)
