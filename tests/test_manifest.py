"""Manifest validation: job-level failures and one precise 400 entry per invalid request."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from speaker_enrollment.domain.workflow.errors import ManifestError, RequestLimitExceededError
from speaker_enrollment.domain.workflow.kinds.enrollment import SPEAKER_ENROLLMENT
from speaker_enrollment.domain.workflow.manifest import parse_manifest

SCHEMA = SPEAKER_ENROLLMENT.manifest


def manifest(*requests: Any, version: Any = "1.0") -> bytes:
    return json.dumps({"Version": version, "SpeakerEnrollmentRequests": list(requests)}).encode()


def request(request_id: Any = "r1", speaker: Any = "caller-1", audio: Any = None) -> dict[str, Any]:
    if audio is None:
        audio = [{"S3Uri": "s3://inbox-bucket/audio/a.wav", "ChannelId": 0}]
    return {"RequestId": request_id, "SpeakerId": speaker, "AudioSpecifications": audio}


def test_valid_requests_are_parsed() -> None:
    parsed = parse_manifest(manifest(request("r1"), request("r2", "caller-2")), 10, SCHEMA)
    assert [r.request_id for r in parsed.requests] == ["r1", "r2"]
    assert parsed.requests[1].audio[0].s3_uri == "s3://inbox-bucket/audio/a.wav"
    assert parsed.errors == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[]", "must be a JSON object"),
        (manifest(request(), version="2.0"), "Version must be \"1.0\""),
        (json.dumps({"Version": "1.0"}).encode(), "no SpeakerEnrollmentRequests list"),
    ],
)
def test_unusable_manifest_fails_the_job(data: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=message) as raised:
        parse_manifest(data, 10, SCHEMA)
    assert raised.value.status_code == 400


def test_more_requests_than_the_limit_is_a_quota_failure() -> None:
    with pytest.raises(RequestLimitExceededError, match="3 requests; a job accepts at most 2") as raised:
        parse_manifest(manifest(request("a"), request("b"), request("c")), 2, SCHEMA)
    assert raised.value.status_code == 402


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("a string", r"SpeakerEnrollmentRequests\[0\] must be a JSON object"),
        (request(request_id=""), r"\[0\]\.RequestId is missing"),
        (request(speaker="id#abcdefghijklmnopqrstuv"), "is a GeneratedSpeakerId"),
        (request(speaker="-starts-with-dash"), "starting with a letter or digit"),
        (request(speaker="x" * 257), "1-256 characters"),
        (request(audio=[]), "must be a list of 1 to 10 files"),
        (request(audio=[{"S3Uri": "s3://b-b/k.wav", "ChannelId": 0}] * 11), "has 11 files; at most 10"),
        (request(audio=[{"S3Uri": "https://x/y.wav", "ChannelId": 0}]), r"AudioSpecifications\[0\]\.S3Uri"),
        (request(audio=[{"S3Uri": "s3://bucket-a/", "ChannelId": 0}]), "names no object"),
        (request(audio=[{"S3Uri": "s3://bucket-a/a.wav", "ChannelId": 2}]), "ChannelId must be 0 or 1, got 2"),
        (request(audio=[{"S3Uri": "s3://bucket-a/a.wav", "ChannelId": True}]), "ChannelId must be 0 or 1"),
        (request(audio=[{"S3Uri": "s3://bucket-a/a.wav"}]), "ChannelId must be 0 or 1, got None"),
    ],
)
def test_invalid_request_becomes_a_400_entry_naming_the_field(entry: Any, message: str) -> None:
    parsed = parse_manifest(manifest(entry, request("good")), 10, SCHEMA)
    assert [r.request_id for r in parsed.requests] == ["good"]
    (error,) = parsed.errors
    assert error.error_code == 400
    assert re.search(message, error.error_message), error.error_message


def test_a_speaker_id_with_a_trailing_newline_is_a_400_for_that_request_only() -> None:
    parsed = parse_manifest(manifest(request("r1", "alice"), request("r2", "alice\n"), request("r3", "bob")), 10,
                            SCHEMA)
    assert [r.request_id for r in parsed.requests] == ["r1", "r3"]
    assert [e.to_json() for e in parsed.errors] == [{
        "RequestId": "r2", "ErrorCode": 400,
        "ErrorMessage": "SpeakerEnrollmentRequests[1].SpeakerId 'alice\n' must be 1-256 characters of [a-zA-Z0-9_-] "
                        "starting with a letter or digit",
    }]


def test_duplicate_request_ids_are_all_rejected_and_each_reported_once() -> None:
    parsed = parse_manifest(manifest(request("dup"), request("ok"), request("dup", "caller-9")), 10, SCHEMA)
    assert [r.request_id for r in parsed.requests] == ["ok"]
    assert [(e.request_id, e.error_code) for e in parsed.errors] == [("dup", 400), ("dup", 400)]
    assert "must be unique" in parsed.errors[0].error_message
    assert parsed.total == 3
