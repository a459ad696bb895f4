"""The input manifest: job-level checks (ManifestError fails the job) and per-request validation.

Every entry of the job type's request list (``SpeakerEnrollmentRequests``, ``FraudsterRegistrationRequests``,
...) comes out exactly once: either as a valid request or as a 400 RequestError saying what is wrong and where.
The job type says how one entry is read (``ManifestSchema``); the checks of the fields the kinds share are here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..shared.ids import CUSTOMER_SPEAKER_ID_MAX, is_customer_speaker_id, is_generated_id
from ..shared.s3uri import parse_s3_uri
from .errors import ManifestError, RequestLimitExceededError
from .results import RequestError

MANIFEST_VERSION = "1.0"
MAX_AUDIO_FILES = 10
CHANNEL_IDS = (0, 1)


@dataclass(frozen=True)
class AudioSpecification:
    s3_uri: str
    channel_id: int


def audio_to_json(audio: tuple[AudioSpecification, ...]) -> list[dict[str, Any]]:
    return [{"S3Uri": a.s3_uri, "ChannelId": a.channel_id} for a in audio]


def audio_from_json(data: dict[str, Any]) -> tuple[AudioSpecification, ...]:
    return tuple(AudioSpecification(a["S3Uri"], a["ChannelId"]) for a in data["AudioSpecifications"])


class ManifestRequest(Protocol):
    """A valid request of any job kind: its id and the recordings of its speech."""

    @property
    def request_id(self) -> str: ...

    @property
    def audio(self) -> tuple[AudioSpecification, ...]: ...

    def to_json(self) -> dict[str, Any]: ...


class InvalidRequest(ValueError):
    """One manifest entry is invalid; the message says what and where."""


RequestIds = Counter[Any]  # how often each RequestId occurs in the manifest


@dataclass(frozen=True)
class ManifestSchema:
    """How a job type's manifest lists its requests."""

    list_name: str
    build: Callable[[Any, str, RequestIds], ManifestRequest]  # (entry, where, ids) → request, or InvalidRequest
    max_requests: int | None = None  # the kind's own cap below the job-wide one


@dataclass(frozen=True)
class Manifest:
    requests: tuple[ManifestRequest, ...]
    errors: tuple[RequestError, ...]

    @property
    def total(self) -> int:
        return len(self.requests) + len(self.errors)


def parse_manifest(data: bytes, max_requests: int, schema: ManifestSchema) -> Manifest:
    limit = min(max_requests, schema.max_requests or max_requests)
    entries = _entries(_load_json(data), limit, schema.list_name)
    ids = Counter(e.get("RequestId") for e in entries if isinstance(e, dict))
    requests: list[ManifestRequest] = []
    errors: list[RequestError] = []
    for index, entry in enumerate(entries):
        where = f"{schema.list_name}[{index}]"
        request_id = entry.get("RequestId") if isinstance(entry, dict) else None
        request_id = request_id if isinstance(request_id, str) else None
        try:
            requests.append(schema.build(entry, where, ids))
        except InvalidRequest as exc:
            errors.append(RequestError(request_id, 400, str(exc)))
    return Manifest(tuple(requests), tuple(errors))


def _load_json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ManifestError("The input manifest is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"The input manifest is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def _entries(document: Any, max_requests: int, list_name: str) -> list[Any]:
    if not isinstance(document, dict):
        raise ManifestError("The input manifest must be a JSON object")
    version = document.get("Version")
    if version != MANIFEST_VERSION:
        raise ManifestError(f"The input manifest's Version must be \"{MANIFEST_VERSION}\", got {version!r}")
    entries = document.get(list_name)
    if not isinstance(entries, list):
        raise ManifestError(f"The input manifest has no {list_name} list")
    if len(entries) > max_requests:
        raise RequestLimitExceededError(
            f"The input manifest has {len(entries):,} requests; a job accepts at most {max_requests:,}"
        )
    return entries


def entry_object(entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise InvalidRequest(f"{where} must be a JSON object")
    return entry


def request_id_of(entry: dict[str, Any], where: str, ids: RequestIds) -> str:
    request_id = entry.get("RequestId")
    if not isinstance(request_id, str) or not request_id:
        raise InvalidRequest(f"{where}.RequestId is missing or not a non-empty string")
    if ids[request_id] > 1:
        raise InvalidRequest(
            f"{where}.RequestId '{request_id}' is used by {ids[request_id]} requests; it must be unique"
        )
    return request_id


def customer_speaker_id_of(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{where}.SpeakerId is missing or not a non-empty string")
    if is_generated_id(value):
        raise InvalidRequest(
            f"{where}.SpeakerId '{value}' is a GeneratedSpeakerId; the manifest takes the CustomerSpeakerId"
        )
    if not is_customer_speaker_id(value):
        raise InvalidRequest(
            f"{where}.SpeakerId '{value[:300]}' must be 1-{CUSTOMER_SPEAKER_ID_MAX} characters of "
            "[a-zA-Z0-9_-] starting with a letter or digit"
        )
    return value


def audio_specifications_of(value: Any, where: str) -> tuple[AudioSpecification, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidRequest(f"{where}.AudioSpecifications must be a list of 1 to {MAX_AUDIO_FILES} files")
    if len(value) > MAX_AUDIO_FILES:
        raise InvalidRequest(
            f"{where}.AudioSpecifications has {len(value)} files; at most {MAX_AUDIO_FILES} are allowed"
        )
    return tuple(_audio_specification(spec, f"{where}.AudioSpecifications[{i}]") for i, spec in enumerate(value))


def _audio_specification(spec: Any, where: str) -> AudioSpecification:
    if not isinstance(spec, dict):
        raise InvalidRequest(f"{where} must be a JSON object with S3Uri and ChannelId")
    uri = spec.get("S3Uri")
    if not isinstance(uri, str):
        raise InvalidRequest(f"{where}.S3Uri is missing or not a string")
    try:
        parse_s3_uri(uri, needs_key=True)
    except ValueError as exc:
        raise InvalidRequest(f"{where}.{exc}") from None
    channel = spec.get("ChannelId")
    if isinstance(channel, bool) or channel not in CHANNEL_IDS:
        raise InvalidRequest(f"{where}.ChannelId must be 0 or 1, got {channel!r}")
    return AudioSpecification(uri, int(channel))
