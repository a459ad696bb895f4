"""The embedded local runtime (``enrollctl serve``): moto server, in-process Lambda, the synthesized
state machine, the S3 upload trigger."""

from __future__ import annotations

import copy
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
from urllib.parse import unquote_plus

import boto3
import pytest
from botocore import handlers
from botocore.exceptions import EndpointConnectionError
from enrollctl.local import LocalRuntime, call_guard
from enrollctl.local.lambda_runner import InProcessLambda, LambdaContext
from enrollctl.local.resources import Clients, _placeholder_zip
from enrollctl.local.schedules import ScheduleClock, rate_seconds
from enrollctl.local.stack import LocalNames, build_resolver, local_settings, mirror, placeholder_keys
from enrollctl.local.template import Resolver, TemplateError, find_template, has_path_metadata, load_template
from helpers import execution_ended
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.config import default_user_config
from moto.events.models import EventPattern
from moto.s3.models import FakeKey, s3_backends
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.backend.execution import Execution
from speaker_enrollment.settings import Settings

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the CDK app is not an installed package (as in test_stack.py)
    sys.path.insert(0, str(REPO))

from stacks.api import API_FUNCTION  # noqa: E402
from stacks.failure_watch import EVENT_RETRY_ATTEMPTS, execution_failure_pattern  # noqa: E402
from stacks.ingest import FUNCTION_ASYNC_RETRY_ATTEMPTS  # noqa: E402
from stacks.maintenance import MAINTAIN, SCHEDULE  # noqa: E402
from stacks.sessions import EVALUATE  # noqa: E402
from stacks.workflow import ALL_FUNCTIONS, FAIL, SUBMIT  # noqa: E402

STACK_FUNCTIONS = (*ALL_FUNCTIONS, API_FUNCTION, EVALUATE, MAINTAIN, SCHEDULE)  # what the CDK stack declares
INFO_KEYS = ["Endpoint", "Region", "InboxBucket", "OutputBucket", "DomainId", "KmsKeyId", "DataAccessRoleArn",
             "Authorization"]


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
    assert (StateTaskLambda._from_error.__qualname__, Execution.stop.__qualname__) == (
        "StateTaskLambda._from_error", "Execution.stop")
    assert not set(call_guard.HOOKS) & set(handlers.BUILTIN_HANDLERS)  # later botocore sessions are plain again
    closed = Clients(runtime.endpoint, runtime.region)("s3")
    with pytest.raises(EndpointConnectionError):
        closed.list_buckets()


def test_serve_prints_one_json_line_then_serves_until_interrupted(template_path: Path) -> None:
    env = {**os.environ, "ENROLLCTL_TEMPLATE": str(template_path), "PYTHONUNBUFFERED": "1",
           "ENROLLCTL_FAULTS": "s3-slowdown=0.5"}
    serve = subprocess.Popen([sys.executable, "-m", "enrollctl.cli", "serve", "--port", "0", "--fault-seed", "3",
                              "--function-timeout", "EnrollShardFunction=4", "--schedules"], cwd=REPO,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert serve.stdout is not None
        info = json.loads(serve.stdout.readline())
        assert list(info) == INFO_KEYS
        assert info["Authorization"] == "none"  # without --iam the runtime is open, and says so
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", info["Endpoint"])
        assert re.fullmatch(r"[a-zA-Z0-9]{22}", info["DomainId"])
        s3 = Clients(info["Endpoint"], info["Region"])("s3")
        assert {info["InboxBucket"], info["OutputBucket"]} <= {b["Name"] for b in s3.list_buckets()["Buckets"]}
        jobs = subprocess.run([sys.executable, "-m", "enrollctl.cli", "jobs", "--endpoint", info["Endpoint"]],
                              cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=60)
        assert jobs.stdout.split() == ["JobId", "JobName", "JobStatus", "Percent", "CreatedAt"]
        lam = Clients(info["Endpoint"], info["Region"])("lambda")
        assert lam.get_function_configuration(FunctionName="speaker-enrollment-enroll-shard")["Timeout"] == 4
        serve.send_signal(signal.SIGINT)
        out, err = serve.communicate(timeout=30)
        assert serve.returncode == 0
        assert json.loads(out) == {"FaultCounts": {"s3-slowdown": {"injected": 0, "surfaced": 0}}, "FaultSeed": 3}
        assert "injecting faults s3-slowdown=0.5 with seed 3" in err
        assert "enrollctl: scheduled rules fired at their rate: " in err  # --schedules
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


# ------------------------------------------------------------------------------------------- resources


def test_the_stack_resources_exist_locally(runtime: LocalRuntime, template: dict[str, Any]) -> None:
    kms, s3, ddb = runtime.client("kms"), runtime.client("s3"), runtime.client("dynamodb")
    assert kms.describe_key(KeyId=runtime.key.key_id)["KeyMetadata"]["Enabled"]
    assert kms.describe_key(KeyId=runtime.mac_key.key_id)["KeyMetadata"]["KeySpec"] == "HMAC_256"
    for bucket in (runtime.inbox_bucket, runtime.output_bucket, runtime.work_bucket):
        s3.head_bucket(Bucket=bucket)
    assert runtime.inbox_bucket == "speaker-enrollment-inbox-123456789012-us-east-1"  # the local naming scheme
    # moto's GetBucketNotificationConfiguration never returns EventBridgeConfiguration: ask its backend.
    inbox = s3_backends["123456789012"]["aws"].get_bucket(runtime.inbox_bucket)
    assert inbox.notification_configuration.event_bridge == {}
    runtime.client("iam").get_role(RoleName=runtime.data_access_role_arn.rsplit("/", 1)[1])

    synthesized = {r["Properties"]["KeySchema"][-1]["AttributeName"]: r["Properties"]
                   for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"}
    speakers = ddb.describe_table(TableName=runtime.speakers_table)["Table"]
    assert speakers["KeySchema"] == synthesized["CustomerSpeakerId"]["KeySchema"]
    assert [(g["IndexName"], g["KeySchema"], g["Projection"]) for g in speakers["GlobalSecondaryIndexes"]] == [
        (g["IndexName"], g["KeySchema"], g["Projection"])
        for g in synthesized["CustomerSpeakerId"]["GlobalSecondaryIndexes"]]
    jobs = ddb.describe_table(TableName=runtime.jobs_table)["Table"]
    assert jobs["KeySchema"] == synthesized["JobId"]["KeySchema"]
    assert runtime.jobs_table == "speaker-enrollment-jobs"
    assert len(ddb.list_tables()["TableNames"]) == len(synthesized)

    domain = ddb.get_item(TableName=runtime.domains_table, Key={"DomainId": {"S": runtime.domain_id}})["Item"]
    assert re.fullmatch(r"[a-zA-Z0-9]{22}", runtime.domain_id)
    assert domain["DomainStatus"] == {"S": "ACTIVE"}
    assert domain["Name"] == {"S": "default"}
    assert "SpeakerCount" not in domain  # speakers are counted in slots of the speaker table (adapters)


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
        assert settings.state_machine_arn in (None, runtime.state_machine_arn)
        assert settings.tunables.voiceprint_threads == 1  # a local override (see runtime.LOCAL_ENV)
    assert by_handler == {spec.construct_id: spec.handler for spec in STACK_FUNCTIONS}
    shared = Settings.from_env()  # the handlers read the process environment
    assert (shared.jobs_table, shared.state_machine_arn) == (runtime.jobs_table, runtime.state_machine_arn)
    assert runtime.mac_key.key_id in (shared.api_token_key_id or "")


def test_the_runtime_runs_exactly_the_functions_the_stack_declares(runtime: LocalRuntime) -> None:
    declared = {spec.construct_id: (spec.handler, spec.memory_mb, int(spec.timeout.to_seconds()))
                for spec in STACK_FUNCTIONS}
    found = {spec.construct_id: (spec.handler, spec.memory_mb, spec.timeout_seconds) for spec in runtime.functions}
    assert found == declared
    created = {f["FunctionName"]: f for f in runtime.client("lambda").list_functions()["Functions"]}
    assert set(created) == {spec.name for spec in runtime.functions}
    for spec in runtime.functions:
        assert (created[spec.name]["Handler"], created[spec.name]["MemorySize"], created[spec.name]["Timeout"]) == (
            spec.handler, spec.memory_mb, spec.timeout_seconds)
    submit = next(spec for spec in runtime.functions if spec.construct_id == SUBMIT.construct_id)
    assert submit.name == "speaker-enrollment-submit-job"  # the local naming scheme
    evaluate = next(spec for spec in runtime.functions if spec.construct_id == EVALUATE.construct_id)
    assert sorted(route.function_name for route in runtime.local_stack.ingest_routes) == [evaluate.name, submit.name]
    api = runtime.local_stack.api_function
    assert api is not None and api.construct_id == API_FUNCTION.construct_id


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
    """Replace the ingest rule's target (submit-job) with a recorder (the trigger, not the handler, is under test)."""
    received: list[dict[str, Any]] = []
    for route in runtime.local_stack.ingest_routes:
        InProcessLambda.register(route.function_name, lambda event, context: received.append(event) or {})
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
    assert detail["object"]["key"] == f"manifests/{runtime.domain_id}/batch+1.json"  # URL-encoded, as S3 sends it
    assert detail["object"]["size"] == len(b'{"Version":"1.0"}')
    assert detail["object"]["etag"] == put["ETag"].strip('"')
    assert detail["object"]["version-id"] == put["VersionId"]  # the stack's inbox is versioned
    assert detail["object"]["sequencer"]
    assert detail["reason"] == "PutObject"


def test_the_upload_event_is_published_once_the_object_and_its_metadata_are_stored(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto notifies from inside put_object, before it sets the object's metadata: the trigger waits for the request
    to be served, so a target reading the metadata (the submit function does) always finds it."""
    seen: list[dict[str, str]] = []
    set_metadata = FakeKey.set_metadata

    def slowly(key: FakeKey, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.3)  # widens moto's window between the notification and the metadata
        set_metadata(key, *args, **kwargs)

    monkeypatch.setattr(FakeKey, "set_metadata", slowly)

    def read_metadata(event: dict[str, Any], context: object) -> dict[str, str]:
        key = unquote_plus(event["detail"]["object"]["key"])
        seen.append(boto3.client("s3").head_object(Bucket=runtime.inbox_bucket, Key=key)["Metadata"])
        return {}

    for route in runtime.local_stack.ingest_routes:
        InProcessLambda.register(route.function_name, read_metadata)
    s3 = runtime.client("s3")
    for index in range(3):
        s3.put_object(Bucket=runtime.inbox_bucket, Key=f"manifests/{runtime.domain_id}/m{index}.json", Body=b"{}",
                      Metadata={"job-name": f"job-{index}"})
    wait_until(lambda: len(seen) == 3)
    assert [m.get("job-name") for m in seen] == ["job-0", "job-1", "job-2"]


def test_execution_status_changes_go_to_the_target_of_the_stack_rule(runtime: LocalRuntime) -> None:
    (route,) = [route for route in runtime.local_stack.event_routes if route.on("aws.states")]
    fail_job = runtime.local_stack.function(FAIL.construct_id)
    assert route.pattern == execution_failure_pattern(runtime.state_machine_arn)
    assert (route.function_name, route.retry_attempts) == (fail_job.name, EVENT_RETRY_ATTEMPTS)
    submit = runtime.local_stack.function(SUBMIT.construct_id)
    assert fail_job.async_retry_attempts == submit.async_retry_attempts == FUNCTION_ASYNC_RETRY_ATTEMPTS


def test_the_local_trigger_uses_the_stack_rule_pattern(template: dict[str, Any]) -> None:
    mirrored = mirror(template, "us-east-1", placeholder_keys(template, "us-east-1"))
    routes = {route.function_name: EventPattern(None, route.pattern) for route in mirrored.ingest_routes}
    assert set(routes) == {mirrored.function(SUBMIT.construct_id).name, mirrored.function(EVALUATE.construct_id).name}
    pattern = routes[mirrored.function(SUBMIT.construct_id).name]
    sessions = routes[mirrored.function(EVALUATE.construct_id).name]
    resolver = mirrored.resolver
    inbox = resolver.resolve({"Ref": next(lid for lid in template["Resources"] if "InboxBucket" in lid
                                          and template["Resources"][lid]["Type"] == "AWS::S3::Bucket")})

    def event(bucket: str, key: str) -> dict[str, Any]:
        return {"source": "aws.s3", "detail-type": "Object Created",
                "detail": {"bucket": {"name": bucket}, "object": {"key": key}}}

    assert pattern.matches_event(event(inbox, "manifests/abcdefghijklmnopqrstuv/m.json"))
    assert not pattern.matches_event(event(inbox, "audio/abcdefghijklmnopqrstuv/m.wav"))
    assert sessions.matches_event(event(inbox, "sessions/abcdefghijklmnopqrstuv/contact-1.wav"))
    assert not sessions.matches_event(event(inbox, "manifests/abcdefghijklmnopqrstuv/m.json"))
    assert not pattern.matches_event(event(inbox, "sessions/abcdefghijklmnopqrstuv/contact-1.wav"))
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
    return wait_until(lambda: execution_ended(d := sfn.describe_execution(executionArn=execution)) and d)


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


def test_every_function_the_stack_declares_is_found_in_the_template(template: dict[str, Any]) -> None:
    names = LocalNames.of(template, "us-east-1")
    resolver = build_resolver(template, names, placeholder_keys(template, "us-east-1"))
    handlers = [template["Resources"][logical_id]["Properties"]["Handler"] for logical_id in names.functions]
    assert sorted(handlers) == sorted(spec.handler for spec in STACK_FUNCTIONS)
    for logical_id in (*names.functions, *names.tables, *names.buckets, *names.roles):
        assert resolver.resolve({"Ref": logical_id}) and resolver.resolve({"Fn::GetAtt": [logical_id, "Arn"]})


def test_the_template_is_synthesized_with_construct_paths(template_path: Path) -> None:
    assert has_path_metadata(template_path)  # the local names come from the construct ids


def test_handlers_reach_the_endpoint_through_the_environment(runtime: LocalRuntime) -> None:
    s3 = boto3.client("s3")  # created "normally", as the handlers do
    assert runtime.inbox_bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]


# ------------------------------------------------------------------------- no list besides the template


def _logical_id(template: dict[str, Any], construct: str) -> str:
    return next(logical_id for logical_id, resource in template["Resources"].items()
                if resource.get("Metadata", {}).get("aws:cdk:path", "").endswith(f"/{construct}/Resource"))


def _renamed(template: dict[str, Any], construct: str, new_construct: str) -> dict[str, Any]:
    """The template with construct ``construct`` renamed: its logical id, its path and every reference to it."""
    old_id = _logical_id(template, construct)
    text = json.dumps(template).replace(old_id, old_id.replace(construct, new_construct))
    return json.loads(text.replace(f"/{construct}/", f"/{new_construct}/"))


def _add(template: dict[str, Any], path: str, resource_type: str, properties: dict[str, Any]) -> str:
    """Add a resource at construct path ``path`` (below the stack); returns its logical id."""
    logical_id = path.replace("/", "") + "0123ABCD"
    template["Resources"][logical_id] = {"Type": resource_type, "Properties": properties,
                                         "Metadata": {"aws:cdk:path": f"SpeakerEnrollmentStack/{path}/Resource"}}
    return logical_id


def _strings(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]


def _changed(template: dict[str, Any]) -> dict[str, Any]:
    """The stack with a renamed and re-keyed table, a renamed bucket and function, an extra table and function
    of the stack, and a CDK helper function."""
    changed = _renamed(_renamed(_renamed(template, "JobsTable", "JobRecordsTable"), "InboxBucket", "UploadsBucket"),
                       "FailJobFunction", "GiveUpFunction")
    changed["Resources"][_logical_id(changed, "JobRecordsTable")]["Properties"].update(
        KeySchema=[{"AttributeName": "JobId", "KeyType": "HASH"}], AttributeDefinitions=_strings("JobId"),
        TimeToLiveSpecification={"AttributeName": "ExpiresAt", "Enabled": True})
    audit = _add(changed, "Storage/AuditTable", "AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "EventId", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": _strings("EventId", "DomainId"),
        "GlobalSecondaryIndexes": [{"IndexName": "ByDomain", "KeySchema": [{"AttributeName": "DomainId",
                                                                            "KeyType": "HASH"}],
                                    "Projection": {"ProjectionType": "KEYS_ONLY"}}]})
    role = {"Fn::GetAtt": [_logical_id(changed, "FailJobFunctionRole"), "Arn"]}
    _add(changed, "Workflow/AuditFunction", "AWS::Lambda::Function", {
        "Handler": "speaker_enrollment.handlers.fail_job.handler", "Role": role, "MemorySize": 640, "Timeout": 42,
        "Environment": {"Variables": {"AUDIT_TABLE": {"Ref": audit}}}})
    _add(changed, "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a", "AWS::Lambda::Function",
         {"Handler": "index.handler", "Role": role})
    return changed


def test_the_runtime_mirrors_whatever_the_template_says(template: dict[str, Any]) -> None:
    changed = _changed(template)
    with LocalRuntime.start(port=0, template=changed) as rt:
        ddb, lam = rt.client("dynamodb"), rt.client("lambda")
        assert set(ddb.list_tables()["TableNames"]) == {f"speaker-enrollment-{name}" for name in (
            "domains", "job-records", "speakers", "watchlists", "fraudsters", "sessions", "audit")}
        assert rt.jobs_table == "speaker-enrollment-job-records"  # JOBS_TABLE names the renamed table
        records = ddb.describe_table(TableName=rt.jobs_table)["Table"]
        assert records["KeySchema"] == [{"AttributeName": "JobId", "KeyType": "HASH"}]
        assert ddb.describe_time_to_live(TableName=rt.jobs_table)["TimeToLiveDescription"] == {
            "TimeToLiveStatus": "ENABLED", "AttributeName": "ExpiresAt"}
        (index,) = ddb.describe_table(TableName="speaker-enrollment-audit")["Table"]["GlobalSecondaryIndexes"]
        assert (index["IndexName"], index["Projection"]) == ("ByDomain", {"ProjectionType": "KEYS_ONLY"})

        assert rt.inbox_bucket == "speaker-enrollment-uploads-123456789012-us-east-1"
        rt.client("s3").head_bucket(Bucket=rt.inbox_bucket)
        assert [route.pattern["detail"]["bucket"]["name"] for route in rt.local_stack.ingest_routes] == [
            [rt.inbox_bucket]] * 2  # manifests and sessions

        created = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
        assert created == {spec.name for spec in rt.functions}
        assert {"speaker-enrollment-give-up", "speaker-enrollment-audit"} <= created
        assert not {"speaker-enrollment-fail-job"} & created
        assert not any("log-retention" in name for name in created)  # CDK's helper functions are not ours
        audit = lam.get_function_configuration(FunctionName="speaker-enrollment-audit")
        assert (audit["MemorySize"], audit["Timeout"]) == (640, 42)
        assert audit["Environment"]["Variables"]["AUDIT_TABLE"] == "speaker-enrollment-audit"
        assert os.environ["AUDIT_TABLE"] == "speaker-enrollment-audit"  # the handlers' (shared) environment
        assert "function:speaker-enrollment-give-up" in json.dumps(rt.definition)
    assert local_settings(changed, "us-east-1").jobs_table == "speaker-enrollment-job-records"  # `enrollctl jobs`


def test_construct_ids_shared_by_two_scopes_get_distinct_local_names(template: dict[str, Any]) -> None:
    changed = copy.deepcopy(template)
    domains = changed["Resources"][_logical_id(changed, "DomainsTable")]["Properties"]
    _add(changed, "Archive/DomainsTable", "AWS::DynamoDB::Table", copy.deepcopy(domains))
    tables = LocalNames.of(changed, "us-east-1").tables.values()
    assert {"speaker-enrollment-storage-domains", "speaker-enrollment-archive-domains"} <= set(tables)
    assert len(set(tables)) == len(list(tables))


def test_a_template_without_tables_or_functions_of_the_stack_is_an_error(template: dict[str, Any]) -> None:
    def without(resource_type: str) -> dict[str, Any]:
        return {**template, "Resources": {logical_id: resource for logical_id, resource in template["Resources"].items()
                                          if resource["Type"] != resource_type}}

    with pytest.raises(TemplateError, match=r"no AWS::DynamoDB::Table"):
        LocalRuntime.start(port=0, template=without("AWS::DynamoDB::Table"))
    with pytest.raises(TemplateError, match=r"no AWS::Lambda::Function with a handler in the speaker_enrollment"):
        LocalNames.of(without("AWS::Lambda::Function"), "us-east-1")


# ---------------------------------------------------------------- every state machine, every scheduled rule


MAINTENANCE = "ExtraMaintenance"  # a second maintenance-like workflow beside the stack's own DomainMaintenance
DOMAIN_MAINTENANCE = "DomainMaintenance"
MAINTENANCE_INPUT = {"Reason": "scheduled maintenance"}


def _lambda_task(function: str, next_state: str) -> list[Any]:
    """A Lambda task state as CDK writes it: its Resource a Fn::GetAtt inside the definition's Fn::Join."""
    return [f'"Type":"Task","Next":"{next_state}","Catch":[{{"ErrorEquals":["States.ALL"],"ResultPath":"$.Error",'
            '"Next":"RecordFailure"}],"Resource":"', {"Fn::GetAtt": [function, "Arn"]}, '"']


def _maintenance_definition(run_page: str, record_failure: str) -> dict[str, Any]:
    """RunPage (Lambda) → Choice on $.Done → RunPage again or end; Catch → RecordFailure (Lambda) → Fail."""
    return {"Fn::Join": ["", [
        '{"StartAt":"RunPage","States":{"RunPage":{', *_lambda_task(run_page, "PageDone"), '},',
        '"PageDone":{"Type":"Choice","Choices":[{"Variable":"$.Done","BooleanEquals":false,"Next":"RunPage"}],'
        '"Default":"Finished"},"Finished":{"Type":"Succeed"},',
        '"RecordFailure":{"Type":"Task","Next":"Failed","Resource":"', {"Fn::GetAtt": [record_failure, "Arn"]}, '"},',
        '"Failed":{"Type":"Fail","Error":"MaintenanceFailed"}}}']]}


def _function(template: dict[str, Any], path: str, variables: dict[str, Any] | None = None) -> str:
    role = {"Fn::GetAtt": [_logical_id(template, "FailJobFunctionRole"), "Arn"]}
    return _add(template, path, "AWS::Lambda::Function", {
        "Handler": "speaker_enrollment.handlers.fail_job.handler", "Role": role, "Timeout": 30,
        "Environment": {"Variables": variables or {}}})


def _rule(template: dict[str, Any], path: str, function: str, **properties: Any) -> str:
    target = {"Id": "Target0", "Arn": {"Fn::GetAtt": [function, "Arn"]}, "RetryPolicy": {"MaximumRetryAttempts": 4}}
    target |= {key: properties.pop(key) for key in ("Input",) if key in properties}
    return _add(template, path, "AWS::Events::Rule", {"State": "ENABLED", "Targets": [target], **properties})


def _with_maintenance(template: dict[str, Any]) -> dict[str, Any]:
    """The stack plus another state machine (construct ExtraMaintenance, its own role and functions) that the API
    function names with Ref and Fn::GetAtt Name; two scheduled rules on its scheduler function (one with a
    constant Input, one without) and a disabled one; a rule on the maintenance workflow's failures."""
    changed = copy.deepcopy(template)
    role = _add(changed, f"{MAINTENANCE}/StateMachine/Role", "AWS::IAM::Role", {"AssumeRolePolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "states.amazonaws.com"}}]}})
    run_page = _function(changed, f"{MAINTENANCE}/RunPageFunction")
    record_failure = _function(changed, f"{MAINTENANCE}/RecordFailureFunction")
    machine = _add(changed, f"{MAINTENANCE}/StateMachine", "AWS::StepFunctions::StateMachine", {
        "RoleArn": {"Fn::GetAtt": [role, "Arn"]},
        "DefinitionString": _maintenance_definition(run_page, record_failure)})
    api = changed["Resources"][_logical_id(changed, API_FUNCTION.construct_id)]["Properties"]
    api["Environment"]["Variables"] |= {"EXTRA_STATE_MACHINE_ARN": {"Ref": machine},
                                        "EXTRA_STATE_MACHINE_NAME": {"Fn::GetAtt": [machine, "Name"]}}
    scheduler = _function(changed, f"{MAINTENANCE}/SchedulerFunction",
                          {"EXTRA_STATE_MACHINE_ARN": {"Fn::GetAtt": [machine, "Arn"]}})
    _rule(changed, f"{MAINTENANCE}/MaintenanceScheduleRule", scheduler, ScheduleExpression="rate(1 day)",
          Input=json.dumps(MAINTENANCE_INPUT))
    _rule(changed, f"{MAINTENANCE}/SweepRule", scheduler, ScheduleExpression="cron(0 3 * * ? *)")
    _rule(changed, f"{MAINTENANCE}/PausedRule", scheduler, ScheduleExpression="rate(5 minutes)", State="DISABLED")
    _rule(changed, f"{MAINTENANCE}/FailureRule", scheduler, EventPattern={
        "source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"stateMachineArn": [{"Ref": machine}], "status": ["FAILED"]}})
    return changed


@pytest.fixture
def maintenance(template: dict[str, Any]) -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, template=_with_maintenance(template)) as rt:
        yield rt


def _recorder(runtime: LocalRuntime, construct: str, result: Callable[[Any], Any] = lambda event: {}) -> list[Any]:
    """Replace the handler of function ``construct`` with one recording each event it gets and returning
    ``result(event)``."""
    received: list[Any] = []

    def record(event: Any, context: object) -> Any:
        received.append(event)
        return result(event)

    InProcessLambda.register(runtime.local_stack.function(construct).name, record)
    return received


def test_every_state_machine_is_created_under_its_own_name_role_and_arn(maintenance: LocalRuntime) -> None:
    rt, sfn = maintenance, maintenance.client("stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:{}".format
    assert rt.state_machine_arns == {"Workflow": arn("EnrollmentWorkflow"), DOMAIN_MAINTENANCE: arn(DOMAIN_MAINTENANCE),
                                     MAINTENANCE: arn(MAINTENANCE)}
    assert rt.state_machine_arn == arn("EnrollmentWorkflow")  # the job workflow's, as before
    assert list(rt.definition["States"])[:3] == ["PrepareJob", "EnrollShards", "FinalizeJob"]
    assert {m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]} == set(
        rt.state_machine_arns.values())
    roles = {scope: sfn.describe_state_machine(stateMachineArn=machine)["roleArn"]
             for scope, machine in rt.state_machine_arns.items()}
    assert roles[MAINTENANCE] == "arn:aws:iam::123456789012:role/speaker-enrollment-extra-maintenance-state-machine"
    assert len(set(roles.values())) == 3
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn(MAINTENANCE))["definition"])
    assert definition["States"]["RunPage"]["Resource"] == rt.local_stack.function("RunPageFunction").arn
    assert sorted(machine.scope for machine in rt.local_stack.state_machines) == sorted(rt.state_machine_arns)
    assert rt.local_stack.job_workflow.arn == rt.state_machine_arn


def test_references_to_each_state_machine_resolve_to_its_own_arn(maintenance: LocalRuntime) -> None:
    rt, lam = maintenance, maintenance.client("lambda")
    maintenance_arn = rt.state_machine_arns[MAINTENANCE]
    api = lam.get_function_configuration(FunctionName=rt.local_stack.function(API_FUNCTION.construct_id).name)
    variables = api["Environment"]["Variables"]
    assert variables["EXTRA_STATE_MACHINE_ARN"] == maintenance_arn  # Ref
    assert variables["EXTRA_STATE_MACHINE_NAME"] == MAINTENANCE  # Fn::GetAtt Name
    assert variables["STATE_MACHINE_ARN"] == rt.state_machine_arn
    assert variables["MAINTENANCE_STATE_MACHINE_ARN"] == rt.state_machine_arns[DOMAIN_MAINTENANCE]  # the stack's
    assert os.environ["EXTRA_STATE_MACHINE_ARN"] == maintenance_arn  # the handlers' (shared) environment
    scheduler = lam.get_function_configuration(FunctionName=rt.local_stack.function("SchedulerFunction").name)
    assert scheduler["Environment"]["Variables"]["EXTRA_STATE_MACHINE_ARN"] == maintenance_arn  # .Arn


def _execute(runtime: LocalRuntime, scope: str, payload: dict[str, Any]) -> dict[str, Any]:
    sfn = runtime.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=runtime.state_machine_arns[scope],
                                    input=json.dumps(payload))["executionArn"]
    return wait_until(lambda: execution_ended(d := sfn.describe_execution(executionArn=execution)) and d)


def test_an_execution_of_the_second_state_machine_runs_its_lambda_loop(template: dict[str, Any]) -> None:
    with LocalRuntime.start(port=0, template=_with_maintenance(template), iam=True) as rt:  # each its own role
        pages = _recorder(rt, "RunPageFunction", lambda event: {**event, "Page": event.get("Page", 0) + 1,
                                                                "Done": event.get("Page", 0) + 1 == 3})
        described = _execute(rt, MAINTENANCE, {"DomainId": rt.domain_id})
        assert described["status"] == "SUCCEEDED"
        assert [page.get("Page", 0) for page in pages] == [0, 1, 2]
        assert json.loads(described["output"]) == {"DomainId": rt.domain_id, "Page": 3, "Done": True}


def test_a_failed_execution_s_status_change_names_its_own_state_machine(maintenance: LocalRuntime) -> None:
    """Its FAILED event reaches the rule on the maintenance workflow, not the job workflow's FailJob."""
    def explode(event: Any) -> Any:
        raise RuntimeError("page failed")

    _recorder(maintenance, "RunPageFunction", explode)
    failures = _recorder(maintenance, "RecordFailureFunction")
    watched = _recorder(maintenance, "SchedulerFunction")
    fail_job = _recorder(maintenance, FAIL.construct_id)
    described = _execute(maintenance, MAINTENANCE, {"DomainId": maintenance.domain_id})
    assert (described["status"], described["error"]) == ("FAILED", "MaintenanceFailed")
    assert failures[0]["Error"]["Error"] == "RuntimeError"
    (event,) = wait_until(lambda: watched)
    assert event["detail"]["stateMachineArn"] == maintenance.state_machine_arns[MAINTENANCE]
    assert event["detail"]["executionArn"] == described["executionArn"]
    assert maintenance.bus is not None
    maintenance.bus.wait_idle()
    assert fail_job == []


def test_run_schedules_sends_each_scheduled_rule_s_event_to_its_target(maintenance: LocalRuntime) -> None:
    attempts: list[Any] = []

    def fail_first(event: Any) -> Any:  # a failed asynchronous invocation is retried, as Lambda retries it
        if event == MAINTENANCE_INPUT and not attempts:
            attempts.append(event)
            raise RuntimeError("first attempt fails")
        return {}

    received = _recorder(maintenance, "SchedulerFunction", fail_first)
    _recorder(maintenance, SCHEDULE.construct_id)  # the stack's own daily rule, fired too
    schedules = {schedule.rule_name: schedule for schedule in maintenance.schedules}
    assert {name: (s.expression, s.retry_attempts) for name, s in schedules.items()} == {
        "speaker-enrollment-daily-maintenance": ("rate(1 day)", EVENT_RETRY_ATTEMPTS),
        "speaker-enrollment-maintenance-schedule": ("rate(1 day)", 4),
        "speaker-enrollment-sweep": ("cron(0 3 * * ? *)", 4)}  # the DISABLED rule fires nothing
    deliveries = maintenance.run_schedules()
    assert deliveries.wait(timeout=30)
    assert len(received) == 3  # two rules, one retried invocation
    assert received.count(MAINTENANCE_INPUT) == 2  # the target's constant Input, not the event
    (event,) = [e for e in received if e != MAINTENANCE_INPUT]
    sweep = "arn:aws:events:us-east-1:123456789012:rule/speaker-enrollment-sweep"
    assert sweep == schedules["speaker-enrollment-sweep"].rule_arn
    assert {key: value for key, value in event.items() if key not in ("id", "time")} == {
        "version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
        "region": "us-east-1", "resources": [sweep], "detail": {}}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"]) and event["id"]
    assert [e["resources"] for e in deliveries.events] == [
        [schedules[name].rule_arn] for name in sorted(schedules)]
    with pytest.raises(KeyError, match="speaker-enrollment-paused"):
        maintenance.fire_schedule("speaker-enrollment-paused")


@pytest.mark.parametrize(("expression", "seconds"), [
    ("rate(1 day)", 86400), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200), ("cron(0 3 * * ? *)", None)])
def test_schedule_expressions_as_eventbridge_reads_them(expression: str, seconds: int | None) -> None:
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize("expression", ["rate(1 days)", "rate(5 minute)", "rate(0 minutes)", "every day"])
def test_a_schedule_expression_eventbridge_refuses_is_a_template_error(template: dict[str, Any],
                                                                       expression: str) -> None:
    changed = copy.deepcopy(template)
    _rule(changed, "Broken/ScheduleRule", _logical_id(changed, FAIL.construct_id), ScheduleExpression=expression)
    with pytest.raises(TemplateError, match="ScheduleRule"):
        mirror(changed, "us-east-1", placeholder_keys(changed, "us-east-1"))


def test_a_template_without_the_job_workflow_is_an_error(template: dict[str, Any]) -> None:
    renamed = _renamed(template, "Workflow/StateMachine", "Maintenance/StateMachine")
    with pytest.raises(TemplateError, match="construct Workflow"):
        mirror(renamed, "us-east-1", placeholder_keys(renamed, "us-east-1"))


def test_the_schedule_clock_fires_each_rule_at_its_period_until_stopped() -> None:
    fired: list[str] = []
    clock = ScheduleClock([("fast", 0.05), ("slow", 60.0)], fired.append).start()
    wait_until(lambda: fired.count("fast") >= 3, timeout=5)
    clock.stop()
    count = len(fired)
    time.sleep(0.2)
    assert len(fired) == count and set(fired) == {"fast"}  # stopped; the slow rule's first period never came
