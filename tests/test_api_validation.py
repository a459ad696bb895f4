"""The API's pure parts, without a runtime: the model-driven validator and its regular expressions, response
projection, NextTokens (with an in-memory HMAC), newest-first paging, tag rules, domain ARNs."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from speaker_enrollment.api.errors import InternalServerException, ValidationException
from speaker_enrollment.api.model import operation_model, project
from speaker_enrollment.api.patterns import compiled, translate
from speaker_enrollment.api.tokens import PageTokens
from speaker_enrollment.api.validation import check_request
from speaker_enrollment.domain.admin.errors import InvalidRequestError
from speaker_enrollment.domain.admin.tags import tagged, untagged
from speaker_enrollment.domain.shared.domain import Deployment
from speaker_enrollment.domain.shared.paging import newest_first

DOMAIN_ID = "a" * 22


class MemoryMac:
    def __init__(self, key: bytes = b"k") -> None:
        self.key = key

    def sign(self, message: bytes) -> bytes:
        return hmac.new(self.key, message, hashlib.sha256).digest()

    def verify(self, message: bytes, mac: bytes) -> bool:
        return hmac.compare_digest(self.sign(message), mac)


def problems(operation: str, params: dict[str, Any]) -> str:
    model = operation_model(operation)
    assert model is not None
    with pytest.raises(ValidationException) as caught:
        check_request(model.input_shape, params)
    return caught.value.message


def test_patterns_anchor_at_the_very_end_and_know_unicode_properties() -> None:
    assert translate("^[a-z]+$") == r"^[a-z]+\Z"
    assert translate(r"^[\$]x$") == r"^[\$]x\Z"
    assert not compiled("^[a-zA-Z0-9]{22}$").search(DOMAIN_ID + "\n")
    description = compiled(r"^([\p{L}\p{Z}\p{N}_.:/=+\-%@]*)$")
    assert description.search("Zürich 中文 ٣ Ⅻ _.:/=+-%@")
    assert not description.search("tab\there") and not description.search("it's")
    assert compiled(r"^\p{ASCII}{0,8192}$").search("abc.DEF-_") and not compiled(r"^\p{ASCII}{0,3}$").search("é")


def test_a_valid_request_passes() -> None:
    model = operation_model("StartSpeakerEnrollmentJob")
    assert model is not None
    check_request(model.input_shape, {
        "DomainId": DOMAIN_ID, "DataAccessRoleArn": "arn:aws:iam::123456789012:role/r", "ClientToken": "t-1_2",
        "InputDataConfig": {"S3Uri": "s3://bucket/m.json"}, "OutputDataConfig": {"S3Uri": "s3://bucket/out"},
        "EnrollmentConfig": {"FraudDetectionConfig": {"RiskThreshold": 0, "WatchlistIds": [DOMAIN_ID]}},
        "SomethingNew": "ignored, as AWS services do",
    })


def test_every_problem_is_reported_with_its_path() -> None:
    message = problems("CreateDomain", {
        "Name": "-starts-with-dash", "ServerSideEncryptionConfiguration": {"KmsKeyId": ""},
        "Tags": [{"Key": "k" * 129, "Value": 5}, "not a tag"], "ClientToken": "x" * 65,
    })
    assert message.startswith("6 validation errors detected: ")
    for part in ("Value at 'Name' failed to satisfy constraint: Member must satisfy regular expression pattern",
                 "at 'ServerSideEncryptionConfiguration.KmsKeyId' failed to satisfy constraint: Member must have "
                 "length greater than or equal to 1",
                 "Value at 'Tags[0].Key' failed to satisfy constraint: Member must have length less than or equal "
                 "to 128", "'Tags[0].Value' failed to satisfy constraint: Member must be a string",
                 "'Tags[1]' failed to satisfy constraint: Member must be a structure",
                 "at 'ClientToken' failed to satisfy constraint: Member must have length less than or equal to 64"):
        assert part in message
    assert "starts-with-dash" not in message  # Name is sensitive


def test_types_ranges_enums_and_required_members() -> None:
    message = problems("ListSpeakerEnrollmentJobs", {"MaxResults": True, "JobStatus": "DONE"})
    assert "Value null at 'DomainId' failed to satisfy constraint: Member must not be null" in message
    assert "'MaxResults' failed to satisfy constraint: Member must be an integer" in message
    assert "Value 'DONE' at 'JobStatus' failed to satisfy constraint: Member must satisfy enum value set" in message
    assert "less than or equal to 10" in problems("ListDomains", {"MaxResults": 11})
    assert "Member must be a structure" in problems("ListDomains", [])  # type: ignore[arg-type]


def test_responses_are_projected_on_the_output_shape() -> None:
    model = operation_model("ListSpeakerEnrollmentJobs")
    assert model is not None
    job = {"JobId": "j", "JobStatus": "COMPLETED", "DataAccessRoleArn": "arn", "ClientToken": "secret",
           "EndedAt": None, "JobProgress": {"PercentComplete": 100, "Extra": 1}}
    assert project(model.output_shape, {"JobSummaries": [job], "NextToken": None}) == {
        "JobSummaries": [{"JobId": "j", "JobStatus": "COMPLETED", "JobProgress": {"PercentComplete": 100}}]}


def test_next_tokens_round_trip_and_refuse_anything_else() -> None:
    now = [1_000.0]
    tokens = PageTokens(MemoryMac(), lambda: now[0])
    params = {"DomainId": DOMAIN_ID, "JobStatus": "FAILED", "MaxResults": 5}
    token = tokens.issue("ListSpeakerEnrollmentJobs", params, "position-1")
    assert tokens.open("ListSpeakerEnrollmentJobs", {**params, "MaxResults": 50, "NextToken": token}, token) == (
        "position-1")
    refusals: dict[str, Callable[[], str]] = {
        "different listing": lambda: tokens.open("ListSpeakerEnrollmentJobs", {**params, "JobStatus": "COMPLETED"},
                                                 token),
        "different listing ": lambda: tokens.open("ListSpeakers", params, token),
        "was not issued": lambda: PageTokens(MemoryMac(b"other"), lambda: now[0]).open(
            "ListSpeakerEnrollmentJobs", params, token),
        "invalid": lambda: tokens.open("ListSpeakerEnrollmentJobs", params, token.replace(".", "")),
    }
    for expected, attempt in refusals.items():
        with pytest.raises(ValidationException, match=expected.strip()):
            attempt()
    now[0] += 24 * 3600 + 1
    with pytest.raises(ValidationException, match="expired"):
        tokens.open("ListSpeakerEnrollmentJobs", params, token)
    with pytest.raises(InternalServerException, match="API_TOKEN_KEY_ID"):
        PageTokens(None, lambda: 0.0).issue("ListDomains", {}, "p")


def test_newest_first_pages_do_not_shift_when_items_are_added() -> None:
    def key(item: tuple[float, str]) -> tuple[float, str]:
        return item

    items = [(1.0, "a"), (3.0, "c"), (2.0, "b"), (3.0, "d")]
    first = newest_first(items, key, 2, None)
    assert first.items == [(3.0, "d"), (3.0, "c")] and first.next_position is not None
    second = newest_first([*items, (9.0, "new")], key, 2, first.next_position)
    assert second.items == [(2.0, "b"), (1.0, "a")] and second.next_position is None
    assert json.loads(first.next_position) == [3.0, "c"]


def test_tag_rules() -> None:
    tags = tagged((("a", "1"),), [("b", "2"), ("a", "one")])
    assert tags == (("a", "one"), ("b", "2"))
    assert untagged(tags, ["a", "absent"]) == (("b", "2"),)
    for bad in ([("aws:owner", "x")], [("k", "1"), ("k", "2")], [(f"k{i}", "v") for i in range(51)]):
        with pytest.raises(InvalidRequestError):
            tagged((), bad)
    with pytest.raises(InvalidRequestError, match="reserved"):
        untagged(tags, ["AWS:x"])


def test_domain_arns_of_this_deployment_only() -> None:
    here = Deployment("eu-west-2", "123456789012")
    arn = here.domain_arn(DOMAIN_ID)
    assert arn == f"arn:aws:voiceid:eu-west-2:123456789012:domain/{DOMAIN_ID}"
    assert here.domain_id_of(arn) == DOMAIN_ID
    assert here.domain_id_of(arn.replace("eu-west-2", "us-east-1")) is None
    assert here.domain_id_of(arn.replace("123456789012", "210987654321")) is None
    assert Deployment("cn-north-1", "123456789012").domain_arn(DOMAIN_ID).startswith("arn:aws-cn:voiceid:")
