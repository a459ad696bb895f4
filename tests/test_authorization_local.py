"""``enrollctl serve --iam`` end to end: identities made through the emulated IAM by its administrator, boto3's own
``voice-id`` client signing as them, the Voice ID API authorizing each request as Voice ID's IAM action (the
same authorizer and IAM adapter as in AWS), and moto enforcing IAM on the emulated services."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore import handlers
from botocore.exceptions import ClientError
from enrollctl.local import LocalRuntime
from enrollctl.local.iam import ADMIN_USER, ASSUME_ROLE_HOOK
from enrollctl.voiceid_client import boto3_session
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.responses import IamResponse
from speaker_enrollment.domain.shared.job import JobStatus

ENVIRONMENT = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true", "VOICEPRINT_THREADS": "1"}
VOICE_ID = "voice-id"
PASS_ROLE_TO_VOICE_ID = {
    "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
    "Condition": {"StringEquals": {"iam:PassedToService": "voiceid.amazonaws.com"}},
}


def test_iam_is_switched_off_again_when_the_runtime_stops() -> None:
    """(First: the module's runtime is not running yet, and one runtime runs per process.)"""
    no_auth_before = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    with LocalRuntime.start(port=0, environment=ENVIRONMENT, iam=True):
        assert moto_settings.INITIAL_NO_AUTH_ACTION_COUNT == 0
        assert hasattr(IamResponse, "simulate_principal_policy")
    assert no_auth_before == moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    assert not hasattr(IamResponse, "simulate_principal_policy")
    assert ASSUME_ROLE_HOOK not in handlers.BUILTIN_HANDLERS
    assert ActionAuthenticatorMixin._authenticate_and_authorize_action.__qualname__ == (
        "ActionAuthenticatorMixin._authenticate_and_authorize_action")


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, environment=ENVIRONMENT, iam=True) as rt:
        yield rt


def keys_of(rt: LocalRuntime) -> dict[str, str]:
    admin = rt.info().admin
    assert admin is not None
    return {"aws_access_key_id": admin.access_key_id, "aws_secret_access_key": admin.secret_access_key}


def client(rt: LocalRuntime, service: str, credentials: dict[str, str]) -> Any:
    """A client of `service` signing with `credentials` (the shipped model for voice-id)."""
    session = boto3_session(region_name=rt.region, **credentials)
    return session.client(service, endpoint_url=rt.endpoint)


def domain_arn(rt: LocalRuntime, domain_id: str) -> str:
    return f"arn:aws:voiceid:{rt.region}:123456789012:domain/{domain_id}"


def new_user(rt: LocalRuntime, name: str, *statements: dict[str, Any]) -> dict[str, str]:
    """An IAM user made by the administrator through the emulated IAM API; its keys."""
    iam = client(rt, "iam", keys_of(rt))
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="access",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def error_of(call: Any, **params: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as refused:
        call(**params)
    response = refused.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


@pytest.fixture(scope="module")
def domains(runtime: LocalRuntime) -> tuple[str, str]:
    """Domain A (the runtime's) and domain B, made by the administrator."""
    admin = client(runtime, VOICE_ID, keys_of(runtime))
    other = admin.create_domain(Name="other", ServerSideEncryptionConfiguration={"KmsKeyId": runtime.key.key_id})
    return runtime.domain_id, other["Domain"]["DomainId"]


def start_job(rt: LocalRuntime, voice_id: Any, domain_id: str, token: str) -> dict[str, Any]:
    result: dict[str, Any] = voice_id.start_speaker_enrollment_job(
        DomainId=domain_id, ClientToken=token, DataAccessRoleArn=rt.data_access_role_arn,
        InputDataConfig={"S3Uri": f"s3://{rt.inbox_bucket}/manifests/none.json"},
        OutputDataConfig={"S3Uri": f"s3://{rt.output_bucket}/out/"})
    return result


def test_the_first_line_names_the_administrator(runtime: LocalRuntime) -> None:
    info = runtime.info().as_dict()
    assert info["Authorization"] == "iam"
    assert info["AdminAccessKeyId"] and info["AdminSecretAccessKey"]
    iam = client(runtime, "iam", keys_of(runtime))
    assert iam.get_user()["User"]["UserName"] == ADMIN_USER


def test_a_user_limited_to_domain_a_is_refused_on_domain_b(runtime: LocalRuntime, domains: tuple[str, str]) -> None:
    domain_a, domain_b = domains
    alice = client(runtime, VOICE_ID, new_user(
        runtime, "alice", {"Effect": "Allow", "Action": "voiceid:*", "Resource": domain_arn(runtime, domain_a)}))
    assert alice.describe_domain(DomainId=domain_a)["Domain"]["DomainId"] == domain_a
    assert error_of(alice.describe_domain, DomainId=domain_b) == (403, "AccessDeniedException")
    assert error_of(alice.list_speakers, DomainId=domain_b) == (403, "AccessDeniedException")
    # Operations without a domain are voiceid:<Operation> on "*", which her policy does not grant.
    assert error_of(alice.list_domains) == (403, "AccessDeniedException")
    assert error_of(alice.create_domain, Name="mine", ServerSideEncryptionConfiguration={
        "KmsKeyId": runtime.key.key_id}) == (403, "AccessDeniedException")


def test_a_caller_without_pass_role_starts_no_job(runtime: LocalRuntime, domains: tuple[str, str]) -> None:
    domain_a, _ = domains
    carol = client(runtime, VOICE_ID, new_user(
        runtime, "carol", {"Effect": "Allow", "Action": "voiceid:*", "Resource": domain_arn(runtime, domain_a)}))
    with pytest.raises(ClientError) as refused:
        start_job(runtime, carol, domain_a, "carol-1")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "iam:PassRole" in refused.value.response["Error"]["Message"]
    assert carol.list_speaker_enrollment_jobs(DomainId=domain_a)["JobSummaries"] == []  # nothing was written

    dave = client(runtime, VOICE_ID, new_user(
        runtime, "dave", {"Effect": "Allow", "Action": "voiceid:*", "Resource": domain_arn(runtime, domain_a)},
        PASS_ROLE_TO_VOICE_ID))
    job = start_job(runtime, dave, domain_a, "dave-1")["Job"]
    assert job["DomainId"] == domain_a
    listed = dave.list_speaker_enrollment_jobs(DomainId=domain_a)["JobSummaries"]
    assert [summary["JobId"] for summary in listed] == [job["JobId"]]


def test_pass_role_for_another_service_is_not_enough(runtime: LocalRuntime, domains: tuple[str, str]) -> None:
    domain_a, _ = domains
    erin = client(runtime, VOICE_ID, new_user(
        runtime, "erin", {"Effect": "Allow", "Action": "voiceid:*", "Resource": domain_arn(runtime, domain_a)},
        {**PASS_ROLE_TO_VOICE_ID, "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}))
    with pytest.raises(ClientError) as refused:
        start_job(runtime, erin, domain_a, "erin-1")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_an_assumed_role_is_authorized_as_its_role(runtime: LocalRuntime, domains: tuple[str, str]) -> None:
    domain_a, domain_b = domains
    admin_keys = keys_of(runtime)
    iam = client(runtime, "iam", admin_keys)
    admin_arn = iam.get_user()["User"]["Arn"]
    role = iam.create_role(RoleName="Operator", Path="/contact-center/", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "sts:AssumeRole"}]}))["Role"]
    iam.put_role_policy(RoleName="Operator", PolicyName="domain-b", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "voiceid:Describe*", "Resource": domain_arn(runtime, domain_b)}]}))
    credentials = client(runtime, "sts", admin_keys).assume_role(
        RoleArn=role["Arn"], RoleSessionName="operator")["Credentials"]
    operator = client(runtime, VOICE_ID, {"aws_access_key_id": credentials["AccessKeyId"],
                                          "aws_secret_access_key": credentials["SecretAccessKey"],
                                          "aws_session_token": credentials["SessionToken"]})
    assert operator.describe_domain(DomainId=domain_b)["Domain"]["DomainId"] == domain_b
    assert error_of(operator.describe_domain, DomainId=domain_a) == (403, "AccessDeniedException")


def test_an_unknown_key_or_a_bad_signature_is_refused_before_the_api(runtime: LocalRuntime) -> None:
    stranger = client(runtime, VOICE_ID, {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
                                          "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
    assert error_of(stranger.list_domains) == (403, "UnrecognizedClientException")
    forger = client(runtime, VOICE_ID, {**keys_of(runtime), "aws_secret_access_key": "not-the-secret"})
    assert error_of(forger.list_domains) == (403, "InvalidSignatureException")
    runtime_own = client(runtime, VOICE_ID, {"aws_access_key_id": "local", "aws_secret_access_key": "local"})
    assert error_of(runtime_own.list_domains) == (403, "UnrecognizedClientException")


def test_the_emulated_services_enforce_iam_for_users(runtime: LocalRuntime, domains: tuple[str, str]) -> None:
    domain_a, _ = domains
    frank = new_user(runtime, "frank", {"Effect": "Allow", "Action": "voiceid:*",
                                        "Resource": domain_arn(runtime, domain_a)})
    assert error_of(client(runtime, "s3", frank).list_objects_v2, Bucket=runtime.inbox_bucket)[1] == "AccessDenied"
    # moto refuses with its XML error body, which the JSON client reads as code "403": the status is the point.
    assert error_of(client(runtime, "dynamodb", frank).scan, TableName=runtime.domains_table)[0] == 403
    assert error_of(client(runtime, "kms", frank).describe_key, KeyId=runtime.key.key_id)[0] == 403
    admin_s3 = client(runtime, "s3", keys_of(runtime))
    assert admin_s3.list_objects_v2(Bucket=runtime.inbox_bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


def final_job(voice_id: Any, domain_id: str, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = voice_id.describe_speaker_enrollment_job(DomainId=domain_id, JobId=job_id)["Job"]
        if job["JobStatus"] in {status.value for status in JobStatus if status.is_final}:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end within {timeout}s")


def test_the_workflow_assumes_only_roles_that_opt_in(runtime: LocalRuntime, domains: tuple[str, str]) -> None:
    """The functions' own template policies decide their sts:AssumeRole: the stack's tagged role is assumed (the
    job then fails on its missing manifest), an untagged role is refused and the job fails saying only that."""
    domain_a, _ = domains
    admin_keys = keys_of(runtime)
    iam = client(runtime, "iam", admin_keys)
    untagged = iam.create_role(RoleName="not-opted-in", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    admin = client(runtime, VOICE_ID, admin_keys)
    refused = final_job(admin, domain_a, admin.start_speaker_enrollment_job(
        DomainId=domain_a, ClientToken="untagged", DataAccessRoleArn=untagged,
        InputDataConfig={"S3Uri": f"s3://{runtime.inbox_bucket}/manifests/none.json"},
        OutputDataConfig={"S3Uri": f"s3://{runtime.output_bucket}/out/"})["Job"]["JobId"])
    assert refused["JobStatus"] == "FAILED"
    assert refused["FailureDetails"]["StatusCode"] == 403
    assert "cannot assume the job's DataAccessRoleArn" in refused["FailureDetails"]["Message"]
    assert "not-opted-in" not in refused["FailureDetails"]["Message"]

    opted_in = final_job(admin, domain_a, start_job(runtime, admin, domain_a, "opted-in")["Job"]["JobId"])
    assert opted_in["JobStatus"] == "FAILED"
    assert "manifests/none.json" in opted_in["FailureDetails"]["Message"]  # assumed, then the manifest is missing


def test_serve_iam_prints_the_administrators_keys(tmp_path: Any) -> None:
    from enrollctl.local.template import find_template  # noqa: PLC0415

    env = {**os.environ, "ENROLLCTL_TEMPLATE": str(find_template()), "PYTHONUNBUFFERED": "1"}
    serve = subprocess.Popen([sys.executable, "-m", "enrollctl.cli", "serve", "--port", "0", "--iam"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert serve.stdout is not None
        info = json.loads(serve.stdout.readline())
        assert info["Authorization"] == "iam"
        admin = boto3_session(region_name=info["Region"], aws_access_key_id=info["AdminAccessKeyId"],
                              aws_secret_access_key=info["AdminSecretAccessKey"])
        voice_id = admin.client(VOICE_ID, endpoint_url=info["Endpoint"])
        assert voice_id.describe_domain(DomainId=info["DomainId"])["Domain"]["DomainId"] == info["DomainId"]
        serve.send_signal(signal.SIGINT)
        serve.communicate(timeout=30)
        assert serve.returncode == 0
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


def test_enrollctl_signs_with_a_profile_against_serve_iam(runtime: LocalRuntime, domains: tuple[str, str],
                                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from enrollctl import cli  # noqa: PLC0415

    domain_a, domain_b = domains
    grace = new_user(runtime, "grace", {"Effect": "Allow", "Action": "voiceid:DescribeDomain",
                                        "Resource": domain_arn(runtime, domain_a)})
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[grace]\naws_access_key_id = {grace['aws_access_key_id']}\n"
                           f"aws_secret_access_key = {grace['aws_secret_access_key']}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    common = ["--endpoint-url", runtime.endpoint, "--region", runtime.region, "--profile", "grace"]
    assert cli.main(["describe-domain", "--domain-id", domain_a, *common]) == 0
    assert json.loads(capsys.readouterr().out)["Domain"]["DomainId"] == domain_a
    assert cli.main(["describe-domain", "--domain-id", domain_b, *common]) == 254  # a service error, as aws prints
    assert "AccessDeniedException" in capsys.readouterr().err
