"""The input manifest: job-level checks (ManifestError fails the job) and per-request validation.

Every entry of the request list (``SpeakerEnrollmentRequests``, or ``FraudsterRegistrationRequests`` of a
fraudster registration job: the same entries without SpeakerId) comes out exactly once: either as a valid
request or as a 400 RequestError saying what is wrong and where.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .failures import ManifestError, RequestLimitExceededError
from .ids import CUSTOMER_SPEAKER_ID_MAX, CUSTOMER_SPEAKER_ID_PATTERN, GENERATED_SPEAKER_ID_PATTERN
from .job import JobKind
from .s3uri import parse_s3_uri

MANIFEST_VERSION = "1.0"
MAX_AUDIO_FILES = 10
CHANNEL_IDS = (0, 1)
MAX_REGISTRATION_REQUESTS = 500  # Voice ID's quota of fraudsters per registration job


def _audio_to_json(audio: tuple[AudioSpecification, ...]) -> list[dict[str, Any]]:
    return [{"S3Uri": a.s3_uri, "ChannelId": a.channel_id} for a in audio]


def _audio_from_json(data: dict[str, Any]) -> tuple[AudioSpecification, ...]:
    return tuple(AudioSpecification(a["S3Uri"], a["ChannelId"]) for a in data["AudioSpecifications"])
@dataclass(frozen=True)
class AudioSpecification:
    s3_uri: str
    channel_id: int


@dataclass(frozen=True)
class EnrollmentRequest:
    request_id: str
    speaker_id: str
    audio: tuple[AudioSpecification, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "RequestId": self.request_id,
            "SpeakerId": self.speaker_id,
            "AudioSpecifications": _audio_to_json(self.audio),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EnrollmentRequest:
        return cls(data["RequestId"], data["SpeakerId"], _audio_from_json(data))


@dataclass(frozen=True)
class RegistrationRequest:
    """One entry of a fraudster registration manifest: a RequestId and the fraudster's audio."""

    request_id: str
    audio: tuple[AudioSpecification, ...]

    def to_json(self) -> dict[str, Any]:
        return {"RequestId": self.request_id, "AudioSpecifications": _audio_to_json(self.audio)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegistrationRequest:
        return cls(data["RequestId"], _audio_from_json(data))


ManifestRequest = EnrollmentRequest | RegistrationRequest


def request_from_json(data: dict[str, Any]) -> ManifestRequest:
    """A shard file's entry, whichever kind of job wrote it."""
    return EnrollmentRequest.from_json(data) if "SpeakerId" in data else RegistrationRequest.from_json(data)


@dataclass(frozen=True)
class RequestError:
    """One entry of the output file's Errors list."""

    request_id: str | None
    error_code: int
    error_message: str

    def to_json(self) -> dict[str, Any]:
        return {"RequestId": self.request_id, "ErrorCode": self.error_code, "ErrorMessage": self.error_message}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestError:
        return cls(data["RequestId"], int(data["ErrorCode"]), data["ErrorMessage"])


@dataclass(frozen=True)
class Manifest:
    requests: tuple[ManifestRequest, ...]
    errors: tuple[RequestError, ...]

    @property
    def total(self) -> int:
        return len(self.requests) + len(self.errors)


class _InvalidRequest(ValueError):
    pass


@dataclass(frozen=True)
class _Schema:
    """What differs between the manifests of the two job kinds."""

    list_name: str
    build: Callable[[Any, str, Counter[Any]], ManifestRequest]
    max_requests: int | None = None


def parse_manifest(data: bytes, max_requests: int, kind: JobKind = JobKind.SPEAKER_ENROLLMENT) -> Manifest:
    schema = _SCHEMAS[kind]
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
        except _InvalidRequest as exc:
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


def _request(entry: Any, where: str, ids: Counter[Any]) -> EnrollmentRequest:
    if not isinstance(entry, dict):
        raise _InvalidRequest(f"{where} must be a JSON object")
    request_id = _request_id(entry, where, ids)
    speaker_id = _speaker_id(entry.get("SpeakerId"), where)
    audio = _audio_specifications(entry.get("AudioSpecifications"), where)
    return EnrollmentRequest(request_id, speaker_id, audio)


def _registration_request(entry: Any, where: str, ids: Counter[Any]) -> RegistrationRequest:
    if not isinstance(entry, dict):
        raise _InvalidRequest(f"{where} must be a JSON object")
    request_id = _request_id(entry, where, ids)
    return RegistrationRequest(request_id, _audio_specifications(entry.get("AudioSpecifications"), where))


def _request_id(entry: dict[str, Any], where: str, ids: Counter[Any]) -> str:
    request_id = entry.get("RequestId")
    if not isinstance(request_id, str) or not request_id:
        raise _InvalidRequest(f"{where}.RequestId is missing or not a non-empty string")
    if ids[request_id] > 1:
        raise _InvalidRequest(
            f"{where}.RequestId '{request_id}' is used by {ids[request_id]} requests; it must be unique"
        )
    return request_id


def _speaker_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _InvalidRequest(f"{where}.SpeakerId is missing or not a non-empty string")
    if GENERATED_SPEAKER_ID_PATTERN.match(value):
        raise _InvalidRequest(
            f"{where}.SpeakerId '{value}' is a GeneratedSpeakerId; the manifest takes the CustomerSpeakerId"
        )
    if len(value) > CUSTOMER_SPEAKER_ID_MAX or not CUSTOMER_SPEAKER_ID_PATTERN.match(value):
        raise _InvalidRequest(
            f"{where}.SpeakerId '{value[:300]}' must be 1-{CUSTOMER_SPEAKER_ID_MAX} characters of "
            "[a-zA-Z0-9_-] starting with a letter or digit"
        )
    return value


def _audio_specifications(value: Any, where: str) -> tuple[AudioSpecification, ...]:
    if not isinstance(value, list) or not value:
        raise _InvalidRequest(f"{where}.AudioSpecifications must be a list of 1 to {MAX_AUDIO_FILES} files")
    if len(value) > MAX_AUDIO_FILES:
        raise _InvalidRequest(
            f"{where}.AudioSpecifications has {len(value)} files; at most {MAX_AUDIO_FILES} are allowed"
        )
    return tuple(_audio_specification(spec, f"{where}.AudioSpecifications[{i}]") for i, spec in enumerate(value))


def _audio_specification(spec: Any, where: str) -> AudioSpecification:
    if not isinstance(spec, dict):
        raise _InvalidRequest(f"{where} must be a JSON object with S3Uri and ChannelId")
    uri = spec.get("S3Uri")
    if not isinstance(uri, str):
        raise _InvalidRequest(f"{where}.S3Uri is missing or not a string")
    try:
        parse_s3_uri(uri, needs_key=True)
    except ValueError as exc:
        raise _InvalidRequest(f"{where}.{exc}") from None
    channel = spec.get("ChannelId")
    if isinstance(channel, bool) or channel not in CHANNEL_IDS:
        raise _InvalidRequest(f"{where}.ChannelId must be 0 or 1, got {channel!r}")
    return AudioSpecification(uri, int(channel))


_SCHEMAS = {
    JobKind.SPEAKER_ENROLLMENT: _Schema("SpeakerEnrollmentRequests", _request),
    JobKind.FRAUDSTER_REGISTRATION: _Schema("FraudsterRegistrationRequests", _registration_request,
                                            MAX_REGISTRATION_REQUESTS),
}
