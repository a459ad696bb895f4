"""A voiceprint as it is stored: encrypted under its domain's KMS key (envelope encryption), bound to its owner.

The domain never holds a data key: a ``SealedVoiceprint`` carries the data key only as KMS wrapped it, and only
the ``VoiceprintCipher`` port (domain/ports.py) opens one. A record read from its store carries its voiceprint as a
``LazyVoiceprint``, opened the first time it is used: reading a record for its ids or status (describe, list,
delete, opt out) never needs the domain's key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import overload


class VoiceprintKind(StrEnum):
    SPEAKER = "speaker"
    FRAUDSTER = "fraudster"


@dataclass(frozen=True)
class VoiceprintOwner:
    """Whose voiceprint it is: the ciphertext is authenticated with these, so a voiceprint copied onto another
    record (another speaker, fraudster or domain) does not open."""

    domain_id: str
    kind: VoiceprintKind
    record_id: str  # GeneratedSpeakerId or GeneratedFraudsterId: fixed for the record's life, not personal data

    def binding(self) -> bytes:
        """The additional authenticated data of the voiceprint's encryption."""
        return "\x00".join(("voiceprint/1", self.domain_id, self.kind.value, self.record_id)).encode()


@dataclass(frozen=True)
class SealedVoiceprint:
    key_arn: str  # the KMS key that wrapped `wrapped_key` (recorded, so re-encryption knows what is left)
    wrapped_key: bytes  # the data key as KMS encrypted it under `key_arn` (never the plaintext key)
    ciphertext: bytes  # nonce + AES-256-GCM ciphertext + tag


@dataclass(frozen=True)
class StoredVoiceprint:
    """Which key protects one stored record's voiceprint (what re-encryption pages through)."""

    domain_id: str
    record_key: str  # the record's key in its domain: CustomerSpeakerId, GeneratedFraudsterId
    key_arn: str | None  # None: stored in plaintext by a release before voiceprints were sealed
    version: int


class LazyVoiceprint(Sequence[float]):
    """A stored voiceprint that is opened (by `opener`, through the ``VoiceprintCipher``) when it is first used, and
    then kept. Whatever uses it raises ``KeyUnusableError`` there while the domain's key refuses; whatever does not
    use it never asks the key. Compares equal to the same numbers in any sequence; its repr shows no numbers."""

    __slots__ = ("_opener", "_vector")

    def __init__(self, opener: Callable[[], tuple[float, ...]]) -> None:
        self._opener = opener
        self._vector: tuple[float, ...] | None = None

    @property
    def vector(self) -> tuple[float, ...]:
        if self._vector is None:
            self._vector = self._opener()
        return self._vector

    @property
    def opened(self) -> bool:
        return self._vector is not None

    def __len__(self) -> int:
        return len(self.vector)

    @overload
    def __getitem__(self, index: int) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[float, ...]: ...

    def __getitem__(self, index: int | slice) -> float | tuple[float, ...]:
        return self.vector[index]

    def __iter__(self) -> Iterator[float]:
        return iter(self.vector)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and self.vector == tuple(other)

    def __hash__(self) -> int:
        return hash(self.vector)

    def __repr__(self) -> str:
        return f"LazyVoiceprint({'opened' if self.opened else 'sealed'})"
