"""``enrollctl <voice-id operation>`` (generated from the shipped model), ``enrollctl wait``, the execute-api
signing of the voice-id client, and the AWS CLI's model override (``enrollctl aws-cli-model``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.stub import Stubber
from enrollctl import cli, voiceid_commands, voiceid_wait
from enrollctl.local.runtime import LocalRuntime
from enrollctl.local.stack import DEFAULT_PORT
from enrollctl.shorthand import ParameterError, parse_shorthand
from enrollctl.voiceid_client import Target, execute_api_region, use_api_gateway_signing, voice_id_client
from speaker_enrollment.api.model import service_model

DOMAIN_ID = "Ab3dEf6hIj9kLmN0pQr5tU"
JOB_ID = "Jb3dEf6hIj9kLmN0pQr5tU"
WATCHLIST_ID = "Wb3dEf6hIj9kLmN0pQr5tU"
ROLE_ARN = "arn:aws:iam::123456789012:role/VoiceIdDataAccess"
STAGE_URL = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1/"
CREATED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
START = [
    "start-speaker-enrollment-job",
    "--domain-id", DOMAIN_ID,
    "--data-access-role-arn", ROLE_ARN,
    "--input-data-config", "S3Uri=s3://inbox/manifests/batch.json",
    "--output-data-config", "S3Uri=s3://output/results,KmsKeyId=alias/voice-id",
    "--job-name", "nightly-batch",
    "--client-token", "token-1",
]
START_REQUEST = {
    "DomainId": DOMAIN_ID,
    "DataAccessRoleArn": ROLE_ARN,
    "InputDataConfig": {"S3Uri": "s3://inbox/manifests/batch.json"},
    "OutputDataConfig": {"S3Uri": "s3://output/results", "KmsKeyId": "alias/voice-id"},
    "JobName": "nightly-batch",
    "ClientToken": "token-1",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(list(argv))


def request_of(*argv: str) -> dict[str, Any]:
    args = parse(*argv)
    return voiceid_commands.build_request(args.func.args[0], args)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fixed credentials from the environment; none of the machine's profiles or config."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
                 "AWS_DATA_PATH", "ENROLLCTL_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The commands' client, stubbed (botocore still validates the requests and responses)."""
    client = voice_id_client(Target.resolve(f"http://127.0.0.1:{DEFAULT_PORT}", "us-east-1"))
    for module in (voiceid_commands, voiceid_wait):
        monkeypatch.setattr(module, "voice_id_client", lambda target: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def sent_requests(client: Any, answer: dict[str, Any]) -> list[AWSPreparedRequest]:
    """Answer every request of ``client`` with ``answer`` (no network) and record what would have been sent."""
    sent: list[AWSPreparedRequest] = []

    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield json.dumps(answer).encode()

    def before_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, {"x-amzn-RequestId": "r-1"}, Raw())

    client.meta.events.register("before-send.voice-id.*", before_send)
    return sent


def credential_scope(request: AWSPreparedRequest) -> str:
    authorization = request.headers["Authorization"]
    text = authorization.decode() if isinstance(authorization, bytes) else authorization
    credential = text.split("Credential=")[1].split(",")[0]
    return credential.split("/", 2)[2]  # <region>/<service>/aws4_request


# ------------------------------------------------------------------------------------------- generated commands


def test_every_operation_of_the_model_is_a_command_named_as_the_aws_cli_names_it() -> None:
    model = service_model()
    commands = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    expected = {botocore.xform_name(name, "-") for name in model.operation_names}
    assert expected <= set(commands.choices)
    assert {"start-speaker-enrollment-job", "describe-speaker-enrollment-job", "list-speaker-enrollment-jobs",
            "create-domain", "describe-domain", "list-watchlists"} <= expected
    assert {"voiceprint", "compare", "serve", "jobs", "wait"} <= set(commands.choices)  # still there


def test_start_options_become_the_request() -> None:
    assert request_of(*START) == START_REQUEST


def test_shorthand_nested_structures_lists_and_integers_follow_the_model() -> None:
    config = (f"ExistingEnrollmentAction=OVERWRITE,FraudDetectionConfig={{FraudDetectionAction=IGNORE,"
              f"RiskThreshold=50,WatchlistIds=[{WATCHLIST_ID}]}}")
    request = request_of(*START, "--enrollment-config", config)
    assert request["EnrollmentConfig"] == {
        "ExistingEnrollmentAction": "OVERWRITE",
        "FraudDetectionConfig": {"FraudDetectionAction": "IGNORE", "RiskThreshold": 50, "WatchlistIds": [WATCHLIST_ID]},
    }


def test_structures_may_be_json() -> None:
    fraud = {"FraudDetectionAction": "FAIL", "RiskThreshold": 70}
    config = json.dumps({"ExistingEnrollmentAction": "SKIP", "FraudDetectionConfig": fraud})
    request = request_of(*START, "--enrollment-config", config, "--input-data-config", '{"S3Uri": "s3://b/m.json"}')
    assert request["EnrollmentConfig"] == {"ExistingEnrollmentAction": "SKIP", "FraudDetectionConfig": fraud}
    assert request["InputDataConfig"] == {"S3Uri": "s3://b/m.json"}


def test_lists_take_several_values_shorthand_items_or_one_json_list() -> None:
    arn = f"arn:aws:voiceid:us-east-1:123456789012:domain/{DOMAIN_ID}"
    assert request_of("untag-resource", "--resource-arn", arn, "--tag-keys", "team", "cost-center") == {
        "ResourceArn": arn, "TagKeys": ["team", "cost-center"]}
    assert request_of("untag-resource", "--resource-arn", arn, "--tag-keys", '["team"]')["TagKeys"] == ["team"]
    tags = request_of("tag-resource", "--resource-arn", arn, "--tags", "Key=team,Value=cx", "Key=env,Value=prod")
    assert tags["Tags"] == [{"Key": "team", "Value": "cx"}, {"Key": "env", "Value": "prod"}]
    json_tags = request_of("tag-resource", "--resource-arn", arn, "--tags", '[{"Key": "team", "Value": "cx"}]')
    assert json_tags["Tags"] == [{"Key": "team", "Value": "cx"}]


def test_integers_and_absent_options() -> None:
    assert request_of("list-speakers", "--domain-id", DOMAIN_ID, "--max-results", "5") == {
        "DomainId": DOMAIN_ID, "MaxResults": 5}
    assert request_of("list-domains") == {}


def test_required_members_are_required_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("start-speaker-enrollment-job", "--domain-id", DOMAIN_ID)
    assert "--data-access-role-arn" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("S3Uri=s3://b/k.json", {"S3Uri": "s3://b/k.json"}),
        ("A=1, B = two ", {"A": "1", "B": "two"}),
        ("A={B=1,C=[x, y]},D=z", {"A": {"B": "1", "C": ["x", "y"]}, "D": "z"}),
        ("Name='a,b{c}',Other=\"d]e\"", {"Name": "a,b{c}", "Other": "d]e"}),
        ("Empty={},List=[]", {"Empty": {}, "List": []}),
        ("S3Uri=s3://b/k=v.json", {"S3Uri": "s3://b/k=v.json"}),
    ],
)
def test_shorthand_parsing(text: str, parsed: dict[str, Any]) -> None:
    assert parse_shorthand(text) == parsed


@pytest.mark.parametrize("text", ["S3Uri", "=x", "A={B=1", "A=[x", "A='open", "A=1}"])
def test_malformed_shorthand_is_refused(text: str) -> None:
    with pytest.raises(ParameterError, match="Expected: "):
        parse_shorthand(text)


# ------------------------------------------------------------------------------------------- output and errors


def test_the_response_is_printed_as_the_aws_cli_json_with_iso_timestamps(
    stubbed: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    job = {"JobId": JOB_ID, "DomainId": DOMAIN_ID, "JobStatus": "SUBMITTED", "CreatedAt": CREATED,
           "JobName": "nightly-batch"}
    stubbed.add_response("start_speaker_enrollment_job", {"Job": job}, START_REQUEST)
    status, out, err = run(capsys, *START)
    assert (status, err) == (0, "")
    assert out == json.dumps({"Job": {**job, "CreatedAt": "2026-06-01T12:00:00+00:00"}}, indent=4) + "\n"


def test_an_empty_response_prints_nothing(stubbed: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    stubbed.add_response("delete_domain", {}, {"DomainId": DOMAIN_ID})
    assert run(capsys, "delete-domain", "--domain-id", DOMAIN_ID) == (0, "", "")


def test_a_service_error_is_printed_as_the_aws_cli_prints_it(
    stubbed: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    stubbed.add_client_error("describe_domain", service_error_code="ResourceNotFoundException",
                             service_message=f"Domain {DOMAIN_ID} does not exist", http_status_code=404,
                             expected_params={"DomainId": DOMAIN_ID})
    status, out, err = run(capsys, "describe-domain", "--domain-id", DOMAIN_ID)
    assert (status, out) == (254, "")
    assert err == (f"\nAn error occurred (ResourceNotFoundException) when calling the DescribeDomain operation: "
                   f"Domain {DOMAIN_ID} does not exist\n")


def test_client_side_validation_fails_before_any_request(credentials: None, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "describe-domain", "--domain-id", "too-short", "--endpoint-url", "http://127.0.0.1:9")
    assert (status, out) == (252, "")
    assert err.startswith("\nParameter validation failed:\nInvalid length for parameter DomainId")


def test_a_malformed_option_value_names_the_option(credentials: None, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*START, "--enrollment-config", "ExistingEnrollmentAction=SKIP,FraudDetectionConfig={"]
    status, _, err = run(capsys, *argv)
    assert status == 252
    assert err.startswith("\nError parsing parameter '--enrollment-config': Expected: ")
    status, _, err = run(capsys, *START, "--enrollment-config", '{"ExistingEnrollmentAction": }')
    assert (status, err.startswith("\nError parsing parameter '--enrollment-config': Invalid JSON")) == (252, True)


def test_no_endpoint_is_a_connection_error(credentials: None, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "list-domains", "--no-paginate", "--endpoint-url", "http://127.0.0.1:9")
    assert status == 255
    assert 'Could not connect to the endpoint URL: "http://127.0.0.1:9/"' in err


# ------------------------------------------------------------------------------------------- pagination


def summary(job_id: str) -> dict[str, Any]:
    return {"JobId": job_id, "DomainId": DOMAIN_ID, "JobStatus": "COMPLETED", "CreatedAt": CREATED}


def test_paginated_operations_fetch_every_page(stubbed: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = summary("A" * 22), summary("B" * 22)
    request = {"DomainId": DOMAIN_ID, "MaxResults": 1}
    stubbed.add_response("list_speaker_enrollment_jobs", {"JobSummaries": [first], "NextToken": "t1"}, request)
    stubbed.add_response("list_speaker_enrollment_jobs", {"JobSummaries": [second]}, {**request, "NextToken": "t1"})
    status, out, _ = run(capsys, "list-speaker-enrollment-jobs", "--domain-id", DOMAIN_ID, "--max-results", "1")
    assert status == 0
    assert [job["JobId"] for job in json.loads(out)["JobSummaries"]] == ["A" * 22, "B" * 22]
    assert "NextToken" not in json.loads(out)


@pytest.mark.parametrize("manual", [["--no-paginate"], ["--next-token", "t0"]])
def test_no_paginate_or_a_next_token_make_one_call(
    stubbed: Stubber, capsys: pytest.CaptureFixture[str], manual: list[str]
) -> None:
    expected = {"DomainId": DOMAIN_ID} | ({"NextToken": "t0"} if "--next-token" in manual else {})
    stubbed.add_response("list_speaker_enrollment_jobs", {"JobSummaries": [summary("A" * 22)], "NextToken": "t1"},
                         expected)
    status, out, _ = run(capsys, "list-speaker-enrollment-jobs", "--domain-id", DOMAIN_ID, *manual)
    assert status == 0
    assert json.loads(out)["NextToken"] == "t1"


# ------------------------------------------------------------------------------------------- target and signing


def test_the_endpoint_defaults_to_the_environment_then_the_local_runtime(
    credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Target.resolve() == Target(f"http://127.0.0.1:{DEFAULT_PORT}", "us-east-1", deployed=False)
    monkeypatch.setenv("ENROLLCTL_ENDPOINT", "http://127.0.0.1:5000")
    assert Target.resolve().endpoint_url == "http://127.0.0.1:5000"
    assert Target.resolve("http://127.0.0.1:6000", "eu-west-1").region == "eu-west-1"


def test_an_execute_api_url_is_a_deployed_stack_in_its_region(credentials: None) -> None:
    assert execute_api_region(STAGE_URL) == "eu-west-1"
    assert execute_api_region("http://127.0.0.1:4599") is None
    assert Target.resolve(STAGE_URL) == Target(STAGE_URL, "eu-west-1", deployed=True)
    assert Target.resolve(STAGE_URL, "us-west-2").region == "us-west-2"
    custom_domain = Target.resolve("https://voice.example.com/", deployed=True)
    assert (custom_domain.deployed, custom_domain.region) == (True, "us-east-1")


def test_the_hook_signs_for_execute_api_with_the_stage_path(credentials: None) -> None:
    client = voice_id_client(Target.resolve(STAGE_URL))
    sent = sent_requests(client, {"Domain": {"DomainId": DOMAIN_ID}})
    assert client.describe_domain(DomainId=DOMAIN_ID)["Domain"]["DomainId"] == DOMAIN_ID
    (request,) = sent
    assert credential_scope(request) == "eu-west-1/execute-api/aws4_request"
    assert request.url == STAGE_URL
    assert request.headers["X-Amz-Target"] == b"VoiceID.DescribeDomain"


def test_the_readme_hook_on_a_plain_boto3_client(credentials: None) -> None:
    """The README's snippet, verbatim: boto3.client(..., endpoint_url=...) plus the one event hook."""
    voice_id = boto3.client("voice-id", region_name="eu-west-1", endpoint_url=STAGE_URL)
    sent = sent_requests(voice_id, {})
    voice_id.list_domains()
    voice_id.meta.events.register(
        "before-sign.voice-id.*",
        lambda request, **_: request.context.setdefault("signing", {}).update(signing_name="execute-api"),
    )
    voice_id.list_domains()
    assert [credential_scope(r) for r in sent] == ["eu-west-1/voiceid/aws4_request",
                                                    "eu-west-1/execute-api/aws4_request"]


def test_use_api_gateway_signing_registers_the_hook(credentials: None) -> None:
    voice_id = use_api_gateway_signing(boto3.client("voice-id", region_name="eu-west-1", endpoint_url=STAGE_URL))
    sent = sent_requests(voice_id, {})
    voice_id.list_domains()
    assert credential_scope(sent[0]) == "eu-west-1/execute-api/aws4_request"


def test_the_local_runtime_client_is_not_re_signed(credentials: None) -> None:
    client = voice_id_client(Target.resolve())
    sent = sent_requests(client, {})
    client.list_domains()
    assert credential_scope(sent[0]) == "us-east-1/voiceid/aws4_request"
    assert sent[0].url == f"http://127.0.0.1:{DEFAULT_PORT}/"


def test_the_aws_cli_model_makes_botocore_sign_for_execute_api(
    credentials: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `aws voice-id` does with AWS_DATA_PATH set (the AWS CLI loads models through botocore's loader)."""
    status, out, _ = run(capsys, "aws-cli-model", str(tmp_path / "models"))
    assert (status, out) == (0, f"export AWS_DATA_PATH={tmp_path / 'models'}\n")
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))
    client = botocore.session.get_session().create_client("voice-id", region_name="eu-west-1", endpoint_url=STAGE_URL)
    sent = sent_requests(client, {})
    client.list_domains()
    assert credential_scope(sent[0]) == "eu-west-1/execute-api/aws4_request"


# ------------------------------------------------------------------------------------------- wait


def job(status: str, percent: int, **extra: Any) -> dict[str, Any]:
    return {"Job": {"JobId": JOB_ID, "DomainId": DOMAIN_ID, "JobStatus": status, "CreatedAt": CREATED,
                    "JobProgress": {"PercentComplete": percent}, **extra}}


def wait(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return run(capsys, "wait", JOB_ID, "--domain-id", DOMAIN_ID, "--interval", "0")


def expect_jobs(stubber: Stubber, *answers: dict[str, Any]) -> None:
    for answer in answers:
        stubber.add_response("describe_speaker_enrollment_job", answer, {"DomainId": DOMAIN_ID, "JobId": JOB_ID})


def test_wait_follows_the_job_with_a_progress_bar_until_completed(
    stubbed: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_jobs(stubbed, job("SUBMITTED", 0), job("IN_PROGRESS", 40), job("IN_PROGRESS", 40), job("COMPLETED", 100))
    status, out, err = wait(capsys)
    assert status == 0
    assert json.loads(out)["Job"]["JobStatus"] == "COMPLETED"
    bars = err.splitlines()
    assert [line.split("]")[1].split() for line in bars] == [["0%", "SUBMITTED"], ["40%", "IN_PROGRESS"],
                                                            ["100%", "COMPLETED"]]
    assert bars[-1].startswith("  [" + "#" * 40 + "]")


def test_wait_exits_1_and_prints_the_failure_details_of_a_failed_job(
    stubbed: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    failure = {"StatusCode": 400, "Message": "The input manifest could not be read"}
    expect_jobs(stubbed, job("IN_PROGRESS", 0), job("FAILED", 0, FailureDetails=failure))
    status, out, err = wait(capsys)
    assert status == 1
    assert json.loads(out)["Job"]["FailureDetails"] == failure
    assert "FailureDetails: StatusCode 400: The input manifest could not be read" in err


def test_wait_exits_1_for_completed_with_errors(stubbed: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    expect_jobs(stubbed, job("COMPLETED_WITH_ERRORS", 100, OutputDataConfig={"S3Uri": "s3://output/results"}))
    status, _, err = wait(capsys)
    assert status == 1
    assert "COMPLETED_WITH_ERRORS: the failed requests are in the output file under s3://output/results" in err


def not_a_job_of(stubber: Stubber, *methods: str) -> None:
    for method in methods:
        stubber.add_client_error(method, service_error_code="ResourceNotFoundException",
                                 service_message="no such job", http_status_code=404)


def test_wait_reports_an_unknown_job_as_the_aws_cli(stubbed: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    """No kind's Describe knows the JobId: the first kind's error is reported."""
    not_a_job_of(stubbed, "describe_speaker_enrollment_job", "describe_fraudster_registration_job",
                 "describe_speaker_evaluation_job")
    status, _, err = wait(capsys)
    assert status == 254
    assert err.endswith("An error occurred (ResourceNotFoundException) when calling the DescribeSpeakerEnrollmentJob "
                        "operation: no such job\n")


def test_wait_follows_an_evaluation_job_and_prints_its_summary(
    stubbed: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_job_of(stubbed, "describe_speaker_enrollment_job", "describe_fraudster_registration_job")
    summary = {"AuthenticationDecisions": {"ACCEPT": 3, "REJECT": 1, "NOT_ENOUGH_SPEECH": 0},
               "FraudDetectionDecisions": {"HIGH_RISK": 0, "LOW_RISK": 4}, "Errors": 0, "AcceptRate": 0.75,
               "Scores": {"Count": 4, "Minimum": 12.0, "FirstQuartile": 80.25, "Median": 93.5, "ThirdQuartile": 96.0,
                          "Maximum": 99.0}}
    for answer in (job("IN_PROGRESS", 50), job("COMPLETED", 100, EvaluationSummary=summary)):
        stubbed.add_response("describe_speaker_evaluation_job", answer, {"DomainId": DOMAIN_ID, "JobId": JOB_ID})
    status, out, err = wait(capsys)
    assert status == 0
    assert json.loads(out)["Job"]["EvaluationSummary"] == summary
    assert err.splitlines()[-1] == (
        "EvaluationSummary: AuthenticationDecisions: ACCEPT 3, REJECT 1, NOT_ENOUGH_SPEECH 0; FraudDetectionDecisions: "
        "HIGH_RISK 0, LOW_RISK 4; Errors: 0; AcceptRate: 0.75; Scores: Count 4, Minimum 12, FirstQuartile 80.25, "
        "Median 93.5, ThirdQuartile 96, Maximum 99")


def test_wait_gives_up_after_the_timeout(stubbed: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    expect_jobs(stubbed, job("IN_PROGRESS", 10))
    status, out, err = run(capsys, "wait", JOB_ID, "--domain-id", DOMAIN_ID, "--interval", "0", "--timeout", "0")
    assert (status, out) == (255, "")
    assert f"job {JOB_ID} is still IN_PROGRESS after 0 s" in err


# ------------------------------------------------------------------------------------------- the local runtime


@pytest.fixture(scope="module")
def local_runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0) as runtime:  # the synthesized template (synthesized here if stale)
        yield runtime


def test_describe_domain_of_the_local_runtimes_default_domain(
    local_runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "describe-domain", "--domain-id", local_runtime.domain_id,
                           "--endpoint-url", local_runtime.endpoint)
    assert (status, err) == (0, "")
    domain = json.loads(out)["Domain"]
    assert domain["DomainId"] == local_runtime.domain_id
    assert domain["DomainStatus"] == "ACTIVE"
    assert datetime.fromisoformat(domain["CreatedAt"]).tzinfo == UTC


def test_an_unknown_domain_of_the_local_runtime_is_a_service_error(
    local_runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENROLLCTL_ENDPOINT", local_runtime.endpoint)
    status, out, err = run(capsys, "describe-domain", "--domain-id", "Zz" * 11)
    assert (status, out) == (254, "")
    assert err.startswith("\nAn error occurred (ResourceNotFoundException) when calling the DescribeDomain operation")


def test_the_evaluation_job_commands_come_from_the_models_extension() -> None:
    request = request_of("start-speaker-evaluation-job", "--domain-id", DOMAIN_ID, "--data-access-role-arn",
                         "arn:aws:iam::123456789012:role/data", "--input-data-config", "S3Uri=s3://inbox/calls.json",
                         "--output-data-config", "S3Uri=s3://output/evaluations",
                         "--evaluation-config", '{"AcceptanceThreshold": 80}')
    assert request["EvaluationConfig"] == {"AcceptanceThreshold": 80}
    assert request_of("describe-speaker-evaluation-job", "--domain-id", DOMAIN_ID, "--job-id", JOB_ID) == {
        "DomainId": DOMAIN_ID, "JobId": JOB_ID}
    assert parse("list-speaker-evaluation-jobs", "--domain-id", DOMAIN_ID, "--no-paginate").no_paginate
