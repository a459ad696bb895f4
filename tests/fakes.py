"""In-memory implementations of the domain's ports, for domain tests without AWS."""

from __future__ import annotations

from dataclasses import dataclass, field

from speaker_enrollment.domain.fraudster import Fraudster
from speaker_enrollment.domain.ports import (
    AudioFetchError,
    FraudsterChangedError,
    QuotaExceededError,
    SpeakerChangedError,
    SpeakerQuotaExceededError,
)
from speaker_enrollment.domain.speaker import Speaker


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
