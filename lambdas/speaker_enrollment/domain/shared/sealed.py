"""A voiceprint as it is stored: encrypted under its domain's KMS key (envelope encryption), bound to its owner.

The domain never holds a data key: a ``SealedVoiceprint`` carries the data key only as KMS wrapped it, and only
the ``VoiceprintCipher`` port (domain/ports.py) opens one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
