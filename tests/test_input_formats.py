"""Every input format matches the whole value: Python's ``$`` also matched before a trailing newline, so
``'alice\\n'`` passed as a CustomerSpeakerId (a manifest could enroll a speaker id the API refuses)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from speaker_enrollment.adapters.iam import IamPolicySimulator
from speaker_enrollment.domain.shared.domain import Deployment
from speaker_enrollment.domain.shared.ids import is_customer_speaker_id, is_generated_id, is_id, is_speaker_id
from speaker_enrollment.domain.shared.patterns import whole
from speaker_enrollment.domain.shared.s3uri import parse_s3_uri
from speaker_enrollment.domain.workflow.kinds import JOB_TYPES
from speaker_enrollment.domain.workflow.sessions import Refusal, is_session_id, session_key_parts, session_name_problem
from speaker_enrollment.domain.workflow.submission import Upload, UploadDefaults, request_from_upload

DOMAIN = "D" * 22
GENERATED = "id#" + "g" * 22
ACCOUNT = "123456789012"
DEFAULTS = UploadDefaults("out-bucket", "key-id", f"arn:aws:iam::{ACCOUNT}:role/data")


def refuses(call: Callable[[], object], error: type[Exception]) -> bool:
    try:
        call()
    except error:
        return True
    return False


def names_s3_object(uri: str) -> bool:
    return not refuses(lambda: parse_s3_uri(uri, needs_key=True), ValueError)


def names_session(key: str) -> bool:
    return not refuses(lambda: session_key_parts(key), Refusal)


def names_manifest(key: str) -> bool:
    return not refuses(lambda: request_from_upload(Upload("inbox", key, "seq-1", {}), JOB_TYPES, DEFAULTS),
                       ValueError)


def takes_job_name(name: str) -> bool:
    upload = Upload("inbox", f"manifests/{DOMAIN}/june.json", "seq-1", {"job-name": name})
    return request_from_upload(upload, JOB_TYPES, DEFAULTS).refusal is None


def names_domain(arn: str) -> bool:
    return Deployment("us-east-1", ACCOUNT).domain_id_of(arn) is not None


class DenyingIam:
    """IAM that denies everything and knows every role."""

    def simulate_principal_policy(self, **_: Any) -> dict[str, Any]:
        return {"EvaluationResults": [{"EvalDecision": "implicitDeny"}]}

    def get_role(self, RoleName: str) -> dict[str, Any]:  # noqa: N803 (boto3's parameter name)
        return {"Role": {"Arn": f"arn:aws:iam::{ACCOUNT}:role/path/{RoleName}"}}


def is_account_root(arn: str) -> bool:
    return IamPolicySimulator(DenyingIam()).allowed(arn, "voiceid:ListDomains", "*", {})  # type: ignore[arg-type]


def is_assumed_role(arn: str) -> bool:
    return IamPolicySimulator(DenyingIam()).policy_source(arn) != arn  # type: ignore[arg-type]


@pytest.mark.parametrize(("accepts", "valid"), [
    pytest.param(is_id, "A" * 22, id="DomainId, JobId, WatchlistId"),
    pytest.param(is_generated_id, GENERATED, id="GeneratedSpeakerId"),
    pytest.param(is_customer_speaker_id, "alice", id="CustomerSpeakerId"),
    pytest.param(is_speaker_id, "alice", id="SpeakerId, customer"),
    pytest.param(is_speaker_id, GENERATED, id="SpeakerId, generated"),
    pytest.param(is_session_id, GENERATED, id="SessionId"),
    pytest.param(lambda name: session_name_problem(name) is None, "contact-1", id="SessionName"),
    pytest.param(names_session, f"sessions/{DOMAIN}/contact-1", id="session upload key"),
    pytest.param(names_s3_object, "s3://bucket-a/calls/a.wav", id="S3Uri"),
    pytest.param(names_domain, f"arn:aws:voiceid:us-east-1:{ACCOUNT}:domain/{DOMAIN}", id="domain ARN"),
    pytest.param(takes_job_name, "june-calls", id="job-name metadata"),
    pytest.param(names_manifest, f"manifests/{DOMAIN}/june.json", id="manifest upload key"),
    pytest.param(is_account_root, f"arn:aws:iam::{ACCOUNT}:root", id="account root ARN"),
    pytest.param(is_assumed_role, f"arn:aws:sts::{ACCOUNT}:assumed-role/Operator/alice", id="assumed role ARN"),
])
def test_a_valid_value_passes_and_the_same_value_with_a_trailing_newline_is_refused(
        accepts: Callable[[str], bool], valid: str) -> None:
    assert accepts(valid)
    assert not accepts(valid + "\n")


def test_whole_anchors_the_entire_pattern_whichever_method_tests_it() -> None:
    pattern = whole("a|b")
    assert pattern.match("a") and pattern.fullmatch("b")
    assert not any(method(value) for method in (pattern.match, pattern.search)
                   for value in ("ab", "a\n", "xb"))
