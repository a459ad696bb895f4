"""Envelope encryption of voiceprints under their domain's KMS key (the ``VoiceprintCipher`` port).

Each voiceprint is encrypted with AES-256-GCM (``cryptography``) under a data key that KMS generated under the
domain's key with the encryption context ``{"voiceid:DomainId": <DomainId>}``; the item stores the ciphertext, the
data key as KMS wrapped it, and the key's ARN. The GCM additional authenticated data names the owner (domain, kind,
GeneratedSpeakerId / GeneratedFraudsterId), so a voiceprint copied onto another record does not open.

Why a data key per domain, cached, and not a KMS call per voiceprint: scoring reads many voiceprints (a fraud
screen reads every fraudster of a watchlist, up to 500 per shard; a 10,000-request job has 500 shards), and KMS's
shared request quota for cryptographic operations is a few thousand per second per account and Region. Here a
container calls GenerateDataKey once per domain per ``max_age`` (or ``max_uses`` voiceprints) and Decrypt once per
distinct wrapped data key per ``max_age``. The KMS context binds the domain (a key policy can pin it with
``kms:EncryptionContext:voiceid:DomainId``); GCM binds the record. Disabling a key is honoured within ``max_age``
(``VOICEPRINT_KEY_CACHE_SECONDS``): after that no cached data key of it is used.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..domain.shared.errors import KeyUnusableError
from ..domain.shared.sealed import SealedVoiceprint, VoiceprintOwner

if TYPE_CHECKING:  # the stubs are dev-only: the Lambda runtime never imports them
    from mypy_boto3_kms.client import KMSClient

DOMAIN_CONTEXT_KEY: Final = "voiceid:DomainId"
NONCE_BYTES: Final = 12
MAX_USES: Final = 10_000  # voiceprints sealed under one data key (random 96-bit nonces: far below GCM's 2^32)
MAX_UNWRAPPED: Final = 1_000  # data keys kept unwrapped (least recently used dropped)
# What KMS answers when the key itself refuses (not a transient fault: those are raised for a retry).
KEY_REFUSALS: Final = {
    "DisabledException": "is disabled",
    "KMSInvalidStateException": "is not in a usable state",
    "NotFoundException": "does not exist",
    "AccessDeniedException": "does not allow this service to use it (key policy)",
    "InvalidKeyUsageException": "is not a symmetric encryption key",
}
PENDING_DELETION: Final = "is pending deletion"
BROKEN: Final = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})


class VoiceprintIntegrityError(Exception):
    """A stored voiceprint does not open for its record: moved from another record, or altered."""


def context(domain_id: str) -> dict[str, str]:
    return {DOMAIN_CONTEXT_KEY: domain_id}


def key_refusal(error: ClientError, key_id: str) -> KeyUnusableError | None:
    """The KeyUnusableError of a KMS refusal that is the key's doing, else None."""
    code = error.response["Error"]["Code"]
    if code not in KEY_REFUSALS:
        return None
    detail = error.response["Error"].get("Message") or ""
    state = KEY_REFUSALS[code]
    if code == "KMSInvalidStateException" and "pending deletion" in detail.lower():
        state = PENDING_DELETION
    return KeyUnusableError(key_id, code, f"The domain's KMS key {key_id} {state} ({code}); voiceprints of the "
                                          "domain can be neither written nor read until it is usable again")


@dataclass
class _DataKey:
    plaintext: bytes
    wrapped: bytes
    key_arn: str
    born: float
    uses: int = 0


class KmsVoiceprintCipher:
    """`key_of_domain(domain_id)` is the domain's KmsKeyId (read at every seal: a new key applies at once)."""

    def __init__(self, client: KMSClient, key_of_domain: Callable[[str], str], max_age_seconds: float = 60.0,
                 max_uses: int = MAX_USES, clock: Callable[[], float] = time.monotonic) -> None:
        self._kms = client
        self._key_of = key_of_domain
        self._max_age = max_age_seconds
        self._max_uses = max_uses
        self._clock = clock
        self._lock = threading.Lock()
        self._sealing: dict[tuple[str, str], _DataKey] = {}
        self._unwrapped: OrderedDict[tuple[str, bytes], tuple[bytes, float]] = OrderedDict()

    # ------------------------------------------------------------------------------------------- port

    def seal(self, owner: VoiceprintOwner, voiceprint: bytes) -> SealedVoiceprint:
        data_key = self._data_key(owner.domain_id, self._key_of(owner.domain_id))
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key.plaintext).encrypt(nonce, voiceprint, owner.binding())
        return SealedVoiceprint(data_key.key_arn, data_key.wrapped, nonce + ciphertext)

    def open(self, owner: VoiceprintOwner, sealed: SealedVoiceprint) -> bytes:
        plaintext_key = self._unwrap(owner.domain_id, sealed)
        nonce, ciphertext = sealed.ciphertext[:NONCE_BYTES], sealed.ciphertext[NONCE_BYTES:]
        try:
            return AESGCM(plaintext_key).decrypt(nonce, ciphertext, owner.binding())
        except InvalidTag:
            raise VoiceprintIntegrityError(f"a {owner.kind.value} voiceprint of domain {owner.domain_id} does not "
                                           "open for its record (moved or altered)") from None

    def current_key(self, domain_id: str) -> str:
        return self._data_key(domain_id, self._key_of(domain_id)).key_arn

    def check_key(self, domain_id: str, key_id: str) -> str:
        """A fresh GenerateDataKey under the domain's context: proves key state, key spec and key policy."""
        return self._generate(domain_id, key_id).key_arn

    # ------------------------------------------------------------------------------------ data keys

    def _data_key(self, domain_id: str, key_id: str) -> _DataKey:
        with self._lock:
            cached = self._sealing.get((domain_id, key_id))
            if cached is not None and self._fresh(cached.born) and cached.uses < self._max_uses:
                cached.uses += 1
                return cached
        data_key = self._generate(domain_id, key_id)
        data_key.uses = 1
        with self._lock:
            self._sealing[(domain_id, key_id)] = data_key
        return data_key

    def _generate(self, domain_id: str, key_id: str) -> _DataKey:
        try:
            response = self._kms.generate_data_key(KeyId=key_id, KeySpec="AES_256",
                                                   EncryptionContext=context(domain_id))
        except ClientError as error:
            raise key_refusal(error, key_id) or error from None
        data_key = _DataKey(bytes(response["Plaintext"]), bytes(response["CiphertextBlob"]), response["KeyId"],
                            self._clock())
        self._remember(domain_id, data_key.wrapped, data_key.plaintext, data_key.born)
        return data_key

    def _unwrap(self, domain_id: str, sealed: SealedVoiceprint) -> bytes:
        with self._lock:
            cached = self._unwrapped.get((domain_id, sealed.wrapped_key))
            if cached is not None and self._fresh(cached[1]):
                self._unwrapped.move_to_end((domain_id, sealed.wrapped_key))
                return cached[0]
        try:
            response = self._kms.decrypt(CiphertextBlob=sealed.wrapped_key, KeyId=sealed.key_arn,
                                         EncryptionContext=context(domain_id))
        except ClientError as error:
            if error.response["Error"]["Code"] in BROKEN:
                raise VoiceprintIntegrityError(f"a voiceprint's data key does not open for domain {domain_id}"
                                               ) from None
            raise key_refusal(error, sealed.key_arn) or error from None
        plaintext = bytes(response["Plaintext"])
        self._remember(domain_id, sealed.wrapped_key, plaintext, self._clock())
        return plaintext

    def _remember(self, domain_id: str, wrapped: bytes, plaintext: bytes, born: float) -> None:
        with self._lock:
            self._unwrapped[(domain_id, wrapped)] = (plaintext, born)
            self._unwrapped.move_to_end((domain_id, wrapped))
            while len(self._unwrapped) > MAX_UNWRAPPED:
                self._unwrapped.popitem(last=False)

    def _fresh(self, born: float) -> bool:
        return self._clock() - born < self._max_age
