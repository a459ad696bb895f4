"""Output file: every request exactly once, lost shards become 500 entries, Voice ID's naming."""

from __future__ import annotations

import json

from speaker_enrollment.domain.shared.speaker import EnrollmentStatus
from speaker_enrollment.domain.workflow.kinds.enrollment import (
    SPEAKER_ENROLLMENT,
    EnrollmentRequest,
    SuccessfulEnrollment,
)
from speaker_enrollment.domain.workflow.manifest import AudioSpecification
from speaker_enrollment.domain.workflow.output import ShardOutcome, merge_results, output_location, plan_shards
from speaker_enrollment.domain.workflow.results import RequestError


def requests(*ids: str) -> list[EnrollmentRequest]:
    return [EnrollmentRequest(i, f"spk-{i}", (AudioSpecification("s3://b-b/a.wav", 0),)) for i in ids]


def ok(request_id: str) -> SuccessfulEnrollment:
    return SuccessfulEnrollment(request_id, "id#" + "a" * 22, f"spk-{request_id}", EnrollmentStatus.NEW_ENROLLMENT)


def test_shards_cover_every_request_in_order() -> None:
    shards = plan_shards(requests(*"abcde"), 2)
    assert [[r.request_id for r in s] for s in shards] == [["a", "b"], ["c", "d"], ["e"]]


def test_every_request_appears_exactly_once_and_lost_shards_are_500() -> None:
    invalid = [RequestError("bad", 400, "SpeakerEnrollmentRequests[0].ChannelId must be 0 or 1, got 7")]
    shards = [
        ShardOutcome(requests("a", "b"), [ok("a"), RequestError("b", 409, "opted out")]),
        ShardOutcome(requests("c", "d"), None),  # the worker crashed: no result file
        ShardOutcome(requests("e"), [ok("x")]),  # results that do not match the shard are not trusted
    ]
    output = merge_results(invalid, shards, SPEAKER_ENROLLMENT)
    document = json.loads(output.to_bytes())
    errors = {e["RequestId"]: e["ErrorCode"] for e in document["Errors"]}
    assert errors == {"bad": 400, "b": 409, "c": 500, "d": 500, "e": 500}
    assert [s["RequestId"] for s in document["SuccessfulEnrollments"]] == ["a"]
    assert document["Version"] == "1.0"
    every = [e["RequestId"] for e in document["Errors"]] + [s["RequestId"] for s in document["SuccessfulEnrollments"]]
    assert sorted(every) == ["a", "b", "bad", "c", "d", "e"]


def test_output_location_follows_voice_id() -> None:
    location = output_location("s3://out-bucket/folder/", "J" * 22, "s3://in-bucket/manifests/d/input-file.json")
    assert location.uri == f"s3://out-bucket/folder/{'J' * 22}/input-file.json.out"
    bare = output_location("s3://out-bucket", "J" * 22, "s3://in-bucket/x.json")
    assert bare.uri == f"s3://out-bucket/{'J' * 22}/x.json.out"
