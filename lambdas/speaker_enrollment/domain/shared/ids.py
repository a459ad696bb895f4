"""Voice ID's identifier formats: 22 alphanumerics, and ``id#`` + 22 for generated speaker and fraudster ids."""

from __future__ import annotations

import hashlib
import secrets
import string

from .patterns import whole

ALPHANUMERIC = string.ascii_letters + string.digits
ID_LENGTH = 22
ID_PATTERN = whole(r"[a-zA-Z0-9]{22}")
GENERATED_SPEAKER_ID_PATTERN = whole(r"id#[a-zA-Z0-9]{22}")
GENERATED_FRAUDSTER_ID_PATTERN = GENERATED_SPEAKER_ID_PATTERN  # the same format: ``id#`` + 22 alphanumerics
CUSTOMER_SPEAKER_ID_PATTERN = whole(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
CUSTOMER_SPEAKER_ID_MAX = 256


def new_id() -> str:
    """A random 22-character alphanumeric id (JobId, DomainId, WatchlistId)."""
    return "".join(secrets.choice(ALPHANUMERIC) for _ in range(ID_LENGTH))


def stable_id(*parts: str) -> str:
    """A 22-character alphanumeric id derived from `parts`: the same parts always give the same id."""
    number = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest(), "big")
    chars = []
    for _ in range(ID_LENGTH):
        number, index = divmod(number, len(ALPHANUMERIC))
        chars.append(ALPHANUMERIC[index])
    return "".join(chars)


def new_generated_speaker_id() -> str:
    return "id#" + new_id()


def new_generated_fraudster_id() -> str:
    return "id#" + new_id()


def registered_fraudster_id(job_id: str, request_id: str) -> str:
    """The GeneratedFraudsterId a registration job's request gives its fraudster: the same on every retry, so
    the conditional write registers it once."""
    return "id#" + stable_id("fraudster-registration", job_id, request_id)


def is_id(value: object) -> bool:
    return isinstance(value, str) and bool(ID_PATTERN.fullmatch(value))


def is_generated_id(value: str) -> bool:
    """``id#`` + 22 alphanumerics: a GeneratedSpeakerId, GeneratedFraudsterId or SessionId."""
    return bool(GENERATED_SPEAKER_ID_PATTERN.fullmatch(value))


def is_customer_speaker_id(value: str) -> bool:
    return len(value) <= CUSTOMER_SPEAKER_ID_MAX and bool(CUSTOMER_SPEAKER_ID_PATTERN.fullmatch(value))


def is_speaker_id(value: str) -> bool:
    """Voice ID's SpeakerId: either id."""
    return is_generated_id(value) or is_customer_speaker_id(value)
