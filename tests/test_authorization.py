"""Authorization of the Voice ID API (``speaker_enrollment.api.authorization``): which IAM permissions a request
needs (from the model, for every operation), the decision cache, the authorizer in front of the operations
(a fake simulator), and the IAM adapter on moto's IAM (with the local runtime's SimulatePrincipalPolicy)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import boto3
import pytest
from enrollctl.local.iam import LocalIam, resolved
from moto import mock_aws
from speaker_enrollment.adapters.iam import IamPolicySimulator
from speaker_enrollment.api import VoiceIdApi
from speaker_enrollment.api.authorization import (
    ALL_RESOURCES,
    PASSED_TO_SERVICE,
    DecisionCache,
    IamAuthorizer,
    Permission,
    required_permissions,
)
from speaker_enrollment.api.errors import AccessDeniedException
from speaker_enrollment.api.model import operation_model, service_model
from speaker_enrollment.api.services import ApiServices
from speaker_enrollment.domain.shared.domain import Deployment

DEPLOYMENT = Deployment("eu-west-2", "123456789012")
DOMAIN_ID = "Ab3dEf6hIj9kLmN0pQr5tU"
DOMAIN_ARN = "arn:aws:voiceid:eu-west-2:123456789012:domain/Ab3dEf6hIj9kLmN0pQr5tU"
ROLE_ARN = "arn:aws:iam::123456789012:role/data/VoiceIdAccess"
USER = "arn:aws:iam::123456789012:user/alice"
VOICE_ID_NO_RESOURCE = {"CreateDomain", "ListDomains"}  # Voice ID's Service Authorization Reference: no resource


def permissions_of(operation: str, params: Mapping[str, Any]) -> tuple[Permission, ...]:
    model = operation_model(operation)
    assert model is not None
    return required_permissions(model, params, DEPLOYMENT)


def sample_params(operation: str) -> dict[str, Any]:
    """The members that decide the resource, as a request of `operation` has them."""
    model = operation_model(operation)
    assert model is not None and model.input_shape is not None
    members = model.input_shape.members
    params: dict[str, Any] = {}
    if "DomainId" in members:
        params["DomainId"] = DOMAIN_ID
    if "ResourceArn" in members:
        params["ResourceArn"] = DOMAIN_ARN
    return params


# ------------------------------------------------------------------------------------- derivation


@pytest.mark.parametrize("operation", sorted(service_model().operation_names))
def test_every_operation_is_its_voiceid_action_on_the_resource_voice_id_used(operation: str) -> None:
    needed = permissions_of(operation, sample_params(operation))
    assert needed[0].action == f"voiceid:{operation}"
    expected = ALL_RESOURCES if operation in VOICE_ID_NO_RESOURCE else DOMAIN_ARN
    assert needed[0].resource == expected


def test_the_domain_arn_follows_the_deployment_partition() -> None:
    (needed,) = required_permissions(operation_model("DescribeDomain"),  # type: ignore[arg-type]
                                     {"DomainId": DOMAIN_ID}, Deployment("cn-north-1", "123456789012"))
    assert needed.resource == f"arn:aws-cn:voiceid:cn-north-1:123456789012:domain/{DOMAIN_ID}"


@pytest.mark.parametrize("operation", ["StartSpeakerEnrollmentJob", "StartFraudsterRegistrationJob"])
def test_a_job_start_needs_pass_role_on_its_data_access_role_for_voice_id(operation: str) -> None:
    params = {"DomainId": DOMAIN_ID, "DataAccessRoleArn": ROLE_ARN, "InputDataConfig": {"S3Uri": "s3://b/k"},
              "OutputDataConfig": {"S3Uri": "s3://b/o"}}
    assert permissions_of(operation, params) == (
        Permission(f"voiceid:{operation}", DOMAIN_ARN),
        Permission("iam:PassRole", ROLE_ARN, (("iam:PassedToService", (PASSED_TO_SERVICE,)),)),
    )


def test_only_operations_carrying_a_data_access_role_need_pass_role() -> None:
    for operation in service_model().operation_names:
        actions = {p.action for p in permissions_of(operation, {**sample_params(operation),
                                                                "DataAccessRoleArn": ROLE_ARN})}
        model = operation_model(operation)
        assert model is not None and model.input_shape is not None
        assert ("iam:PassRole" in actions) == ("DataAccessRoleArn" in model.input_shape.members), operation


def test_tags_in_the_request_are_condition_keys() -> None:
    (create,) = permissions_of("CreateDomain", {"Name": "d", "Tags": [{"Key": "team", "Value": "fraud"}]})
    assert dict(create.context) == {"aws:RequestTag/team": ("fraud",), "aws:TagKeys": ("team",)}
    (untag,) = permissions_of("UntagResource", {"ResourceArn": DOMAIN_ARN, "TagKeys": ["b", "a"]})
    assert dict(untag.context) == {"aws:TagKeys": ("a", "b")}


# ------------------------------------------------------------------------------------------ cache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_decisions_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = DecisionCache(ttl=60, max_size=10, clock=clock)
    permission = Permission("voiceid:ListDomains", "*")
    cache.put(USER, permission, True)
    clock.now += 59.9
    assert cache.get(USER, permission) is True
    clock.now += 0.1
    assert cache.get(USER, permission) is None
    assert len(cache) == 0


def test_the_cache_is_bounded_and_drops_the_oldest() -> None:
    cache = DecisionCache(ttl=60, max_size=2, clock=Clock())
    first, second, third = (Permission(f"voiceid:Op{i}", "*") for i in range(3))
    for permission in (first, second, third):
        cache.put(USER, permission, False)
    assert len(cache) == 2
    assert (cache.get(USER, first), cache.get(USER, second), cache.get(USER, third)) == (None, False, False)
    assert cache.get("arn:aws:iam::123456789012:user/bob", second) is None  # per principal


# ------------------------------------------------------------------------------------- authorizer


class FakeSimulator:
    """Allows exactly the (principal, action, resource) triples it is given; records each question."""

    def __init__(self, *allowed: tuple[str, str, str]) -> None:
        self.allowed_triples = set(allowed)
        self.questions: list[tuple[str, str, str, dict[str, list[str]]]] = []

    def allowed(self, principal_arn: str, action: str, resource: str, context: Mapping[str, Sequence[str]]) -> bool:
        self.questions.append((principal_arn, action, resource, {k: list(v) for k, v in context.items()}))
        return (principal_arn, action, resource) in self.allowed_triples


def authorizer(simulator: FakeSimulator, clock: Clock | None = None) -> IamAuthorizer:
    return IamAuthorizer(simulator, DEPLOYMENT, DecisionCache(60, 100, clock or Clock()))


def test_a_decision_is_asked_once_within_the_ttl() -> None:
    clock = Clock()
    simulator = FakeSimulator((USER, "voiceid:DescribeDomain", DOMAIN_ARN))
    auth = authorizer(simulator, clock)
    model = operation_model("DescribeDomain")
    assert model is not None
    for _ in range(3):
        auth.authorize(USER, model, {"DomainId": DOMAIN_ID})
    assert len(simulator.questions) == 1
    clock.now += 61  # a revoked permission keeps working up to the TTL, then IAM is asked again
    simulator.allowed_triples.clear()
    with pytest.raises(AccessDeniedException):
        auth.authorize(USER, model, {"DomainId": DOMAIN_ID})
    assert len(simulator.questions) == 2


def test_pass_role_is_asked_with_the_service_it_is_passed_to() -> None:
    simulator = FakeSimulator((USER, "voiceid:StartSpeakerEnrollmentJob", DOMAIN_ARN))
    model = operation_model("StartSpeakerEnrollmentJob")
    assert model is not None
    with pytest.raises(AccessDeniedException, match="iam:PassRole on " + ROLE_ARN):
        authorizer(simulator).authorize(USER, model, {"DomainId": DOMAIN_ID, "DataAccessRoleArn": ROLE_ARN})
    assert simulator.questions[-1] == (USER, "iam:PassRole", ROLE_ARN, {"iam:PassedToService": [PASSED_TO_SERVICE]})


def test_a_request_without_a_caller_is_refused() -> None:
    model = operation_model("ListDomains")
    assert model is not None
    with pytest.raises(AccessDeniedException):
        authorizer(FakeSimulator()).authorize(None, model, {})


class Spy:
    """An operation that records that it ran (it must not, when the caller is refused)."""

    def __init__(self) -> None:
        self.ran = 0

    def __call__(self, services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
        self.ran += 1
        return {"Domain": {"DomainId": params["DomainId"]}}


def test_the_api_refuses_before_the_operation_runs_with_voice_ids_error_shape() -> None:
    spy = Spy()
    simulator = FakeSimulator((USER, "voiceid:DescribeDomain", DOMAIN_ARN))
    api = VoiceIdApi(None, {"DescribeDomain": spy}, authorizer=authorizer(simulator))  # type: ignore[arg-type]
    other = "Zz3dEf6hIj9kLmN0pQr5tU"
    refused = api.handle("VoiceID.DescribeDomain", json.dumps({"DomainId": other}), USER)
    assert refused.status == 403
    assert refused.body["__type"] == "AccessDeniedException"
    assert refused.body["message"] == (f"User: {USER} is not authorized to perform: voiceid:DescribeDomain on "
                                       f"arn:aws:voiceid:eu-west-2:123456789012:domain/{other}")
    assert spy.ran == 0
    allowed = api.handle("VoiceID.DescribeDomain", json.dumps({"DomainId": DOMAIN_ID}), USER)
    assert (allowed.status, spy.ran) == (200, 1)
    anonymous = api.handle("VoiceID.DescribeDomain", json.dumps({"DomainId": DOMAIN_ID}))
    assert (anonymous.status, anonymous.body["__type"], spy.ran) == (403, "AccessDeniedException", 1)


def test_an_invalid_request_is_refused_by_validation_before_any_iam_question() -> None:
    simulator = FakeSimulator()
    api = VoiceIdApi(None, {"DescribeDomain": Spy()}, authorizer=authorizer(simulator))  # type: ignore[arg-type]
    answer = api.handle("VoiceID.DescribeDomain", json.dumps({"DomainId": "*"}), USER)
    assert (answer.status, answer.body["__type"]) == (400, "ValidationException")
    assert simulator.questions == []  # a wildcard never reaches a resource ARN


# --------------------------------------------------------------------------- the IAM adapter (moto)


@pytest.fixture
def iam() -> Iterator[Any]:
    with mock_aws():
        local = LocalIam("123456789012", ("FOOBARKEY",))  # mock_aws's own credentials stay unchecked
        local.install()
        try:
            yield boto3.client("iam", region_name="us-east-1")
        finally:
            local.uninstall()


def put_policy(iam: Any, user: str, *statements: dict[str, Any]) -> str:
    arn: str = iam.create_user(UserName=user)["User"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="p",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    return arn


def test_the_adapter_simulates_a_users_policies(iam: Any) -> None:
    arn = put_policy(iam, "alice", {"Effect": "Allow", "Action": "voiceid:*", "Resource": DOMAIN_ARN},
                     {"Effect": "Deny", "Action": "voiceid:DeleteDomain", "Resource": "*"})
    simulator = IamPolicySimulator(iam)
    assert simulator.allowed(arn, "voiceid:DescribeDomain", DOMAIN_ARN, {})
    assert not simulator.allowed(arn, "voiceid:DescribeDomain", DOMAIN_ARN.replace("Ab3", "Zz3"), {})
    assert not simulator.allowed(arn, "voiceid:DeleteDomain", DOMAIN_ARN, {})  # an explicit deny wins
    assert not simulator.allowed("arn:aws:iam::123456789012:user/nobody", "voiceid:ListDomains", "*", {})
    assert simulator.allowed("arn:aws:iam::123456789012:root", "voiceid:DeleteDomain", DOMAIN_ARN, {})


def test_the_adapter_evaluates_an_assumed_role_as_its_role_found_by_name_once(iam: Any) -> None:
    role = iam.create_role(RoleName="Operator", Path="/contact-center/", AssumeRolePolicyDocument="{}")["Role"]
    iam.put_role_policy(RoleName="Operator", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "voiceid:List*", "Resource": "*"}]}))
    calls: list[str] = []
    iam.meta.events.register("before-call.iam.GetRole", lambda **_: calls.append("GetRole"))
    simulator = IamPolicySimulator(iam)
    session = "arn:aws:sts::123456789012:assumed-role/Operator/alice@example.com"
    assert simulator.policy_source(session) == role["Arn"] == "arn:aws:iam::123456789012:role/contact-center/Operator"
    assert simulator.allowed(session, "voiceid:ListDomains", "*", {})
    assert not simulator.allowed(session, "voiceid:DeleteDomain", DOMAIN_ARN, {})
    assert calls == ["GetRole"]


def test_the_adapter_passes_the_pass_role_context(iam: Any) -> None:
    arn = put_policy(iam, "dave", {"Effect": "Allow", "Action": "iam:PassRole", "Resource": ROLE_ARN,
                                   "Condition": {"StringEquals": {"iam:PassedToService": PASSED_TO_SERVICE}}})
    simulator = IamPolicySimulator(iam)
    assert simulator.allowed(arn, "iam:PassRole", ROLE_ARN, {"iam:PassedToService": [PASSED_TO_SERVICE]})
    assert not simulator.allowed(arn, "iam:PassRole", ROLE_ARN, {"iam:PassedToService": ["ec2.amazonaws.com"]})
    assert not simulator.allowed(arn, "iam:PassRole", ROLE_ARN, {})  # the key absent: the condition fails


def test_conditions_moto_cannot_evaluate_fail_closed() -> None:
    allow_like = {"Effect": "Allow", "Action": "*", "Resource": "*",
                  "Condition": {"StringLike": {"aws:RequestTag/team": "fr*"}}}
    deny_like = {**allow_like, "Effect": "Deny"}
    document = {"Version": "2012-10-17", "Statement": [allow_like, deny_like]}
    kept = resolved(document, {"aws:RequestTag/team": ["fraud"]})["Statement"]
    assert kept == [{"Effect": "Deny", "Action": "*", "Resource": "*"}]  # never allows, always denies


# ---------------------------------------------------------------------------------- the composition


class NoClients:
    """The API's composition builds its authorizer without calling AWS (ACCOUNT_ID and the region are set)."""

    def __call__(self, service: str) -> Any:
        return {"service": service}


SETTINGS_ENV = {"JOBS_TABLE": "j", "SPEAKERS_TABLE": "s", "DOMAINS_TABLE": "d", "WATCHLISTS_TABLE": "w",
                "FRAUDSTERS_TABLE": "f", "WORK_BUCKET": "wb", "INBOX_BUCKET": "ib", "OUTPUT_BUCKET": "ob",
                "KMS_KEY_ID": "k", "DEFAULT_DATA_ACCESS_ROLE_ARN": ROLE_ARN, "ACCOUNT_ID": "123456789012",
                "AWS_REGION": "eu-west-2"}


def test_the_api_authorizes_with_iam_unless_code_says_otherwise() -> None:
    from speaker_enrollment.api.authorization import OpenAccess  # noqa: PLC0415
    from speaker_enrollment.composition import Composition  # noqa: PLC0415
    from speaker_enrollment.settings import Settings  # noqa: PLC0415

    settings = Settings.from_env(SETTINGS_ENV | {"AUTHORIZATION": "none"})  # no setting turns it off
    assert isinstance(Composition(settings, NoClients()).authorizer, IamAuthorizer)  # type: ignore[arg-type]
    open_access = OpenAccess()
    assert Composition(settings, NoClients(), authorizer=open_access).authorizer is open_access  # type: ignore[arg-type]
