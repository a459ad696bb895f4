"""The embedded local runtime (``enrollctl serve``): moto server, in-process Lambda, the synthesized
state machine, the S3 upload trigger."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from enrollctl.local import LocalRuntime
from enrollctl.local.lambda_runner import InProcessLambda, LambdaContext
from enrollctl.local.resources import Clients, _placeholder_zip
from enrollctl.local.stack import FUNCTIONS, build_resolver, ingest_pattern
from enrollctl.local.template import Resolver, find_template, load_template
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.config import default_user_config
from moto.events.models import EventPattern
from moto.s3.models import s3_backends
from speaker_enrollment.settings import Settings

REPO = Path(__file__).resolve().parents[1]
HANDLERS = {
    "SubmitJobFunction": "speaker_enrollment.handlers.submit_job.handler",
    "PrepareJobFunction": "speaker_enrollment.handlers.prepare_job.handler",
    "EnrollShardFunction": "speaker_enrollment.handlers.enroll_shard.handler",
    "FinalizeJobFunction": "speaker_enrollment.handlers.finalize_job.handler",
    "FailJobFunction": "speaker_enrollment.handlers.fail_job.handler",
}
INFO_KEYS = ["Endpoint", "Region", "InboxBucket", "OutputBucket", "DomainId", "KmsKeyId", "DataAccessRoleArn"]


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s")


@pytest.fixture(scope="module")
def template_path() -> Path:
    return find_template()  # synthesizes the CDK app when no fresh template exists


@pytest.fixture(scope="module")
def template(template_path: Path) -> dict[str, Any]:
    return load_template(template_path)


@pytest.fixture
def runtime(template: dict[str, Any]) -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, template=template) as rt:
        yield rt


# ------------------------------------------------------------------------------------------- lifecycle


def test_starts_on_a_free_port_and_stops_cleanly(template: dict[str, Any]) -> None:
    env_before = dict(os.environ)
    config_before = json.dumps(default_user_config, sort_keys=True, default=str)
    runtime = LocalRuntime.start(port=0, template=template)
    try:
        assert runtime.port > 0
        assert os.environ["AWS_ENDPOINT_URL"] == runtime.endpoint == f"http://127.0.0.1:{runtime.port}"
        assert os.environ["MOTO_PORT"] == str(runtime.port)
        assert runtime.inbox_bucket in [b["Name"] for b in runtime.client("s3").list_buckets()["Buckets"]]
        with pytest.raises(RuntimeError, match="already running"):
            LocalRuntime.start(port=0, template=template)
    finally:
        runtime.stop()
    runtime.stop()  # idempotent
    assert dict(os.environ) == env_before
    assert json.dumps(default_user_config, sort_keys=True, default=str) == config_before
    assert LambdaSimpleBackend.invoke.__name__ == "invoke"  # moto's own method is back
    closed = Clients(runtime.endpoint, runtime.region)("s3")
    with pytest.raises(EndpointConnectionError):
        closed.list_buckets()


def test_serve_prints_one_json_line_then_serves_until_interrupted(template_path: Path) -> None:
    env = {**os.environ, "ENROLLCTL_TEMPLATE": str(template_path), "PYTHONUNBUFFERED": "1"}
    serve = subprocess.Popen([sys.executable, "-m", "enrollctl.cli", "serve", "--port", "0"], cwd=REPO,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert serve.stdout is not None
        info = json.loads(serve.stdout.readline())
        assert list(info) == INFO_KEYS
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", info["Endpoint"])
        assert re.fullmatch(r"[a-zA-Z0-9]{22}", info["DomainId"])
        s3 = Clients(info["Endpoint"], info["Region"])("s3")
        assert {info["InboxBucket"], info["OutputBucket"]} <= {b["Name"] for b in s3.list_buckets()["Buckets"]}
        jobs = subprocess.run([sys.executable, "-m", "enrollctl.cli", "jobs", "--endpoint", info["Endpoint"]],
                              cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=60)
        assert jobs.stdout.split() == ["JobId", "JobName", "JobStatus", "Percent", "CreatedAt"]
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=30) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


# ------------------------------------------------------------------------------------------- resources


def test_the_stack_resources_exist_locally(runtime: LocalRuntime, template: dict[str, Any]) -> None:
    kms, s3, ddb = runtime.client("kms"), runtime.client("s3"), runtime.client("dynamodb")
    assert kms.describe_key(KeyId=runtime.key.key_id)["KeyMetadata"]["Enabled"]
    for bucket in (runtime.inbox_bucket, runtime.output_bucket, runtime.work_bucket):
        s3.head_bucket(Bucket=bucket)
    # moto's GetBucketNotificationConfiguration never returns EventBridgeConfiguration: ask its backend.
    inbox = s3_backends["123456789012"]["aws"].get_bucket(runtime.inbox_bucket)
    assert inbox.notification_configuration.event_bridge == {}
    runtime.client("iam").get_role(RoleName=runtime.data_access_role_arn.rsplit("/", 1)[1])

    synthesized = {r["Properties"]["KeySchema"][-1]["AttributeName"]: r["Properties"]
                   for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"}
    speakers = ddb.describe_table(TableName=runtime.speakers_table)["Table"]
    assert speakers["KeySchema"] == synthesized["CustomerSpeakerId"]["KeySchema"]
    assert [(g["IndexName"], g["KeySchema"]) for g in speakers["GlobalSecondaryIndexes"]] == [
        (g["IndexName"], g["KeySchema"]) for g in synthesized["CustomerSpeakerId"]["GlobalSecondaryIndexes"]]
    jobs = ddb.describe_table(TableName=runtime.jobs_table)["Table"]
    assert jobs["KeySchema"] == synthesized["JobId"]["KeySchema"]

    domain = ddb.get_item(TableName=runtime.domains_table, Key={"DomainId": {"S": runtime.domain_id}})["Item"]
    assert re.fullmatch(r"[a-zA-Z0-9]{22}", runtime.domain_id)
    assert domain["DomainStatus"] == {"S": "ACTIVE"}
    assert domain["Name"] == {"S": "default"}
    assert domain["SpeakerCount"] == {"N": "0"}


def test_functions_have_the_documented_handlers_and_local_settings(runtime: LocalRuntime) -> None:
    lam = runtime.client("lambda")
    by_handler = {}
    for spec in runtime.functions:
        config = lam.get_function_configuration(FunctionName=spec.name)
        by_handler[spec.construct_id] = config["Handler"]
        settings = Settings.from_env(config["Environment"]["Variables"])
        assert settings.jobs_table == runtime.jobs_table
        assert settings.speakers_table == runtime.speakers_table
        assert settings.domains_table == runtime.domains_table
        assert settings.work_bucket == runtime.work_bucket
        assert settings.inbox_bucket == runtime.inbox_bucket
        assert settings.output_bucket == runtime.output_bucket
        assert runtime.key.key_id in settings.kms_key_id
        assert settings.default_data_access_role_arn == runtime.data_access_role_arn
        assert settings.state_machine_arn in ("", runtime.state_machine_arn)
    assert by_handler == HANDLERS
    shared = Settings.from_env()  # the handlers read the process environment
    assert (shared.jobs_table, shared.state_machine_arn) == (runtime.jobs_table, runtime.state_machine_arn)


def test_state_machine_is_the_synthesized_definition_resolved_to_local_resources(runtime: LocalRuntime) -> None:
    described = runtime.client("stepfunctions").describe_state_machine(stateMachineArn=runtime.state_machine_arn)
    text = described["definition"]
    definition = json.loads(text)
    assert "Fn::" not in text and '"Ref"' not in text
    assert list(definition["States"])[:3] == ["PrepareJob", "EnrollShards", "FinalizeJob"]
    arns = {f"arn:aws:lambda:{runtime.region}:123456789012:function:{spec.name}" for spec in runtime.functions}
    used = set(re.findall(r"arn:aws:lambda:[^\"]+", text))
    assert used and used <= arns
    assert definition["States"]["EnrollShards"]["ItemReader"]["Parameters"]["Bucket"] == runtime.work_bucket
    intervals = re.findall(r'"IntervalSeconds": ?(\d+)', text)
    assert intervals and all(int(i) <= 1 for i in intervals)


# ------------------------------------------------------------------------------------------ S3 trigger


def _submissions(runtime: LocalRuntime) -> list[dict[str, Any]]:
    """Replace the submit handler with a recorder (the trigger, not the handler, is under test)."""
    received: list[dict[str, Any]] = []
    submit = next(spec for spec in runtime.functions if spec.construct_id == "SubmitJobFunction")
    InProcessLambda.register(submit.name, lambda event, context: received.append(event) or {})
    return received


def test_uploads_other_than_manifests_start_nothing(runtime: LocalRuntime) -> None:
    received = _submissions(runtime)
    s3 = runtime.client("s3")
    for key in ("audio/caller-1.wav", f"audio/{runtime.domain_id}/x.json", f"manifests/{runtime.domain_id}/a.wav",
                "manifests/no-domain.json", "elsewhere/m.json"):
        s3.put_object(Bucket=runtime.inbox_bucket, Key=key, Body=b"RIFF....WAVE")
    s3.put_object(Bucket=runtime.work_bucket, Key=f"manifests/{runtime.domain_id}/w.json", Body=b"{}")
    assert runtime.trigger is not None
    runtime.trigger.wait_idle()
    time.sleep(0.3)
    assert received == []
    assert runtime.trigger.delivered == []
    sfn = runtime.client("stepfunctions")
    assert sfn.list_executions(stateMachineArn=runtime.state_machine_arn)["executions"] == []
    assert runtime.client("dynamodb").scan(TableName=runtime.jobs_table)["Items"] == []


def test_a_manifest_upload_delivers_the_eventbridge_event_to_submit_job(runtime: LocalRuntime) -> None:
    received = _submissions(runtime)
    key = f"manifests/{runtime.domain_id}/batch 1.json"
    put = runtime.client("s3").put_object(Bucket=runtime.inbox_bucket, Key=key, Body=b'{"Version":"1.0"}')
    event = wait_until(lambda: received and received[0])
    assert event["detail-type"] == "Object Created"
    assert event["source"] == "aws.s3"
    assert event["region"] == runtime.region
    assert event["resources"] == [f"arn:aws:s3:::{runtime.inbox_bucket}"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    detail = event["detail"]
    assert detail["bucket"] == {"name": runtime.inbox_bucket}
    assert detail["object"]["key"] == key
    assert detail["object"]["size"] == len(b'{"Version":"1.0"}')
    assert detail["object"]["etag"] == put["ETag"].strip('"')
    assert detail["object"]["version-id"] == put["VersionId"]  # the stack's inbox is versioned
    assert detail["object"]["sequencer"]
    assert detail["reason"] == "PutObject"


def test_the_local_trigger_uses_the_stack_rule_pattern(template: dict[str, Any]) -> None:
    resolver = build_resolver(template, LocalRuntime(port=0).names, "key-id", "key-arn")
    pattern = EventPattern(None, ingest_pattern(template, resolver, "ignored"))
    inbox = resolver.resolve({"Ref": next(lid for lid in template["Resources"] if "InboxBucket" in lid
                                          and template["Resources"][lid]["Type"] == "AWS::S3::Bucket")})

    def event(bucket: str, key: str) -> dict[str, Any]:
        return {"source": "aws.s3", "detail-type": "Object Created",
                "detail": {"bucket": {"name": bucket}, "object": {"key": key}}}

    assert pattern.matches_event(event(inbox, "manifests/abcdefghijklmnopqrstuv/m.json"))
    assert not pattern.matches_event(event(inbox, "audio/abcdefghijklmnopqrstuv/m.wav"))
    assert not pattern.matches_event(event(inbox, "manifests/abcdefghijklmnopqrstuv/m.wav"))
    assert not pattern.matches_event(event("another-bucket", "manifests/abcdefghijklmnopqrstuv/m.json"))


# -------------------------------------------------------------------------------------- in-process Lambda


class ShardExplodedError(Exception):
    pass


def _create_function(runtime: LocalRuntime, name: str, handler: str = "tests.not_used.handler") -> str:
    response = runtime.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=runtime.data_access_role_arn, Handler=handler,
        Code={"ZipFile": _placeholder_zip()})
    return str(response["FunctionArn"])


def _run(runtime: LocalRuntime, name: str, definition: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    sfn = runtime.client("stepfunctions")
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                       roleArn=runtime.data_access_role_arn)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]
    return wait_until(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d)


def test_a_handler_exception_is_a_function_error_that_retry_and_catch_see(runtime: LocalRuntime) -> None:
    calls: list[LambdaContext] = []

    def explode(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        calls.append(context)
        raise ShardExplodedError(f"shard {event['ShardIndex']} exploded")

    InProcessLambda.register("test-explode", explode)
    InProcessLambda.register("test-echo", lambda event, context: {"Echo": event})
    explode_arn = _create_function(runtime, "test-explode")
    echo_arn = _create_function(runtime, "test-echo")

    direct = runtime.client("lambda").invoke(FunctionName="test-explode", Payload=b'{"ShardIndex": 7}')
    assert direct["FunctionError"] == "Unhandled"
    body = json.loads(direct["Payload"].read())
    assert (body["errorType"], body["errorMessage"]) == ("ShardExplodedError", "shard 7 exploded")
    calls.clear()

    definition = {"StartAt": "Echo", "States": {
        "Echo": {"Type": "Task", "Resource": echo_arn, "Next": "Explode"},  # as CDK renders LambdaInvoke
        "Explode": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload",
                    "Parameters": {"FunctionName": explode_arn, "Payload": {"ShardIndex": 3}},
                    "Retry": [{"ErrorEquals": ["ShardExplodedError"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                    "Catch": [{"ErrorEquals": ["ShardExplodedError"], "ResultPath": "$.Error",
                               "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    execution = _run(runtime, "catch-test", definition, {"In": 1})
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["Echo"] == {"In": 1}
    assert output["Error"]["Error"] == "ShardExplodedError"
    assert json.loads(output["Error"]["Cause"])["errorMessage"] == "shard 3 exploded"
    assert len(calls) == 2  # the first attempt and one retry
    assert calls[0].function_name == "test-explode"
    assert calls[0].invoked_function_arn == explode_arn
    assert 0 < calls[0].get_remaining_time_in_millis() <= 3000


def test_an_unhandled_function_error_fails_the_execution_with_its_type(runtime: LocalRuntime) -> None:
    missing_arn = _create_function(runtime, "test-missing", handler="no_such_module.handler")
    definition = {"StartAt": "Missing", "States": {"Missing": {"Type": "Task", "Resource": missing_arn,
                                                               "End": True}}}
    execution = _run(runtime, "missing-test", definition, {})
    assert execution["status"] == "FAILED"
    assert execution["error"] == "Runtime.ImportModuleError"
    assert "no_such_module" in json.loads(execution["cause"])["errorMessage"]


# ------------------------------------------------------------------------------------------- resolution


def test_resolver_handles_the_intrinsics_cdk_emits() -> None:
    resolver = Resolver(refs={"AWS::Partition": "aws", "Bucket1": "inbox"},
                        attrs={("Fn1", "Arn"): "arn:aws:lambda:r:1:function:f"})
    assert resolver.resolve({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::",
                                               {"Ref": "Bucket1"}]]}) == "arn:aws:s3:::inbox"
    assert resolver.resolve({"Fn::GetAtt": "Fn1.Arn"}) == "arn:aws:lambda:r:1:function:f"
    assert resolver.resolve({"Fn::Sub": "${Bucket1}/${Fn1.Arn}/${!Literal}"}) == (
        "inbox/arn:aws:lambda:r:1:function:f/${Literal}")
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [":", "a:b:c"]}]}) == "b"


def test_every_documented_function_is_found_in_the_template(template: dict[str, Any]) -> None:
    resolver = build_resolver(template, LocalRuntime(port=0).names, "key-id", "key-arn")
    for spec in FUNCTIONS:
        assert any(value == spec.name for value in resolver.refs.values()), spec.construct_id


def test_handlers_reach_the_endpoint_through_the_environment(runtime: LocalRuntime) -> None:
    s3 = boto3.client("s3")  # created "normally", as the handlers do
    assert runtime.inbox_bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
