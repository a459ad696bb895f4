"""Fault injection in the local runtime: each fault as botocore and Step Functions see it in AWS, the functions'
timeouts as Lambda enforces them, S3's URL-encoded keys and Step Functions' status-change events.

One runtime for the module (one per process); each test switches on the faults it needs and they are switched
off after it. Test functions are registered handlers (``InProcessLambda.register``): their boto3 calls are
calls of a Lambda invocation, exactly as the stack's handlers' are.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from enrollctl.cli import build_parser
from enrollctl.local.faults import Fault, FaultCount, FaultInjector, FaultSpecError, parse_rates
from enrollctl.local.jobs import wait_for_job
from enrollctl.local.lambda_runner import KILL_AFTER_MAX_CALLS, InProcessLambda, LambdaContext
from enrollctl.local.resources import _placeholder_zip
from enrollctl.local.runtime import LocalRuntime
from enrollctl.local.stack import mirror, placeholder_keys
from enrollctl.local.template import TemplateError, load_template
from helpers import pcm16_wav, recording
from speaker_enrollment.adapters.dynamodb import DynamoJobStore
from speaker_enrollment.domain.shared.job import BatchJob

pytestmark = pytest.mark.slow
ENVIRONMENT = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true", "SHARD_SIZE": "3"}
AUDIO = {"allison.wav": ("allison-en", 40, 0), "short.wav": ("ivr-ru", 10, 0)}
FAIL_JOB_TIMEOUT = 30  # the template says 60: proves --function-timeout reaches the function
STATUS_CHANGE = "Step Functions Execution Status Change"
HANDLER_SECONDS = 2.5  # how long the too-slow handler takes, against a timeout of 1 s
Handler = Callable[[dict[str, Any], LambdaContext], Any]


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, environment=ENVIRONMENT,
                            function_timeouts={"FailJobFunction": FAIL_JOB_TIMEOUT}) as rt:
        s3 = rt.client("s3")
        for name, recipe in AUDIO.items():
            s3.put_object(Bucket=rt.inbox_bucket, Key=f"audio/{name}", Body=pcm16_wav(recording(*recipe)))
        yield rt


@pytest.fixture(autouse=True)
def faults_off_afterwards(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "runtime" in request.fixturenames:
        request.getfixturevalue("runtime").faults.reset(None, seed=0)


@pytest.fixture
def function(runtime: LocalRuntime) -> Iterator[Callable[..., str]]:
    """``function(name, handler, timeout=60)`` → the ARN of a function that runs ``handler`` in-process."""
    names: list[str] = []

    def create(name: str, handler: Handler, timeout: int = 60) -> str:
        InProcessLambda.register(name, handler)
        names.append(name)
        lam = runtime.client("lambda")
        try:
            return str(lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])
        except ClientError:
            return str(lam.create_function(FunctionName=name, Runtime="python3.12", Role=runtime.data_access_role_arn,
                                           Handler="tests.registered.handler", Timeout=timeout,
                                           Code={"ZipFile": _placeholder_zip()})["FunctionArn"])

    yield create
    for name in names:
        InProcessLambda.unregister(name)


@pytest.fixture
def stack_handler(runtime: LocalRuntime) -> Iterator[Callable[[str, Handler], None]]:
    """``stack_handler(construct_id, handler)``: the stack's function runs ``handler`` for this test."""
    replaced: list[str] = []

    def replace(construct: str, handler: Handler) -> None:
        name = runtime.local_stack.function(construct).name
        InProcessLambda.register(name, handler)
        replaced.append(name)

    yield replace
    for name in replaced:
        InProcessLambda.unregister(name)


def wait_until(predicate: Callable[[], Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def invoke(runtime: LocalRuntime, name: str) -> tuple[str | None, Any]:
    response = runtime.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def error_of(call: Callable[[], Any]) -> dict[str, Any]:
    """The parsed error response of a boto3 call that must fail."""
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response  # type: ignore[return-value]


def run_machine(runtime: LocalRuntime, name: str, task: dict[str, Any]) -> dict[str, Any]:
    """One Task state ``task`` as a state machine of its own; the finished execution's description."""
    sfn = runtime.client("stepfunctions")
    machine = sfn.create_state_machine(name=name, roleArn=runtime.data_access_role_arn, definition=json.dumps(
        {"StartAt": "Task", "States": {"Task": {"Type": "Task", "End": True, **task}}}))["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.1)
    return dict(described)


def manifest(runtime: LocalRuntime, *requests: tuple[str, str]) -> bytes:
    return json.dumps({"Version": "1.0", "SpeakerEnrollmentRequests": [
        {"RequestId": request_id, "SpeakerId": f"speaker-{request_id}",
         "AudioSpecifications": [{"S3Uri": f"s3://{runtime.inbox_bucket}/audio/{audio}", "ChannelId": 0}]}
        for request_id, audio in requests]}).encode()


def upload(runtime: LocalRuntime, name: str, body: bytes) -> str:
    key = f"manifests/{runtime.domain_id}/{name}"
    runtime.client("s3").put_object(Bucket=runtime.inbox_bucket, Key=key, Body=body)
    return f"s3://{runtime.inbox_bucket}/{key}"


def run_job(runtime: LocalRuntime, name: str, body: bytes) -> BatchJob:
    uri = upload(runtime, name, body)
    return wait_for_job(DynamoJobStore(runtime.client("dynamodb"), runtime.jobs_table), runtime.domain_id, uri,
                        timeout=120)


def outcomes(runtime: LocalRuntime, job: BatchJob) -> dict[str, Any]:
    bucket, _, folder = job.output_s3_uri.removeprefix("s3://").partition("/")
    key = f"{folder.rstrip('/')}/{job.job_id}/{job.input_s3_uri.rsplit('/', 1)[-1]}.out"
    document = json.loads(runtime.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return {**{e["RequestId"]: e["ErrorCode"] for e in document["Errors"]},
            **{s["RequestId"]: s["EnrollmentStatus"] for s in document["SuccessfulEnrollments"]}}


def status_changes(runtime: LocalRuntime) -> list[dict[str, Any]]:
    assert runtime.bus is not None
    return [event for event in runtime.bus.delivered if event["detail-type"] == STATUS_CHANGE]


# ----------------------------------------------------------------------------------- specs and seeds


def test_fault_specs_are_read_and_checked() -> None:
    assert parse_rates(" dynamodb-throttle=0.25, lambda-crash=1 ,") == {Fault.DYNAMODB_THROTTLE: 0.25,
                                                                      Fault.LAMBDA_CRASH: 1.0}
    assert parse_rates("") == {}
    for spec, message in (("disk-full=0.1", "unknown fault 'disk-full'"), ("s3-slowdown=1.5", "outside 0..1"),
                          ("s3-slowdown", "expected name=rate"), ("s3-slowdown=often", "not a number")):
        with pytest.raises(FaultSpecError, match=message):
            parse_rates(spec)


def test_the_seed_makes_the_decisions_reproducible_and_rate_zero_never_fires() -> None:
    def decisions(seed: int) -> list[object]:
        faults = FaultInjector("dynamodb-throttle=0.5,lambda-crash=0", seed=seed)
        return [(faults.fires(Fault.DYNAMODB_THROTTLE), faults.fires(Fault.LAMBDA_CRASH), faults.randint(0, 9))
                for _ in range(40)]

    assert decisions(7) == decisions(7)
    assert decisions(7) != decisions(8)
    assert not any(crash for _, crash, _ in decisions(7))
    assert FaultInjector("lambda-crash=0", seed=1).counts() == {}  # a fault at rate 0 is off


def test_serve_takes_faults_a_seed_and_function_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_parser().parse_args(["serve", "--faults", "lambda-crash=0.5", "--fault-seed", "3",
                                      "--function-timeout", "EnrollShardFunction=4",
                                      "--function-timeout", "FinalizeJobFunction=9"])
    assert (args.faults, args.fault_seed, dict(args.function_timeout)) == (
        "lambda-crash=0.5", 3, {"EnrollShardFunction": 4, "FinalizeJobFunction": 9})
    monkeypatch.setenv("ENROLLCTL_FAULTS", "s3-slowdown=0.1")
    monkeypatch.setenv("ENROLLCTL_FAULT_SEED", "12")
    args = build_parser().parse_args(["serve"])
    assert (args.faults, args.fault_seed) == ("s3-slowdown=0.1", 12)
    for bad in (["--faults", "s3-slowdown=2"], ["--function-timeout", "EnrollShardFunction"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["serve", *bad])


def test_function_timeouts_override_the_template_by_construct_id() -> None:
    template = load_template()
    stack = mirror(template, "us-east-1", placeholder_keys(template, "us-east-1"))
    changed = stack.with_timeouts({"EnrollShardFunction": 4})
    assert changed.function("EnrollShardFunction").timeout_seconds == 4
    assert changed.function("PrepareJobFunction") == stack.function("PrepareJobFunction")
    with pytest.raises(TemplateError, match=r"no function 'ShardFunction'.*EnrollShardFunction"):
        stack.with_timeouts({"ShardFunction": 4})


# ------------------------------------------------------------------------------------------ DynamoDB


def test_a_conflict_cancels_a_transaction_with_its_reasons_and_writes_nothing(
    runtime: LocalRuntime, function: Callable[..., str]
) -> None:
    table = runtime.jobs_table

    def item(job_id: str) -> dict[str, Any]:
        return {"DomainId": {"S": "conflicts"}, "JobId": {"S": job_id}}

    def writes(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        ddb = boto3.client("dynamodb")
        return {
            "transaction": error_of(lambda: ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": table, "Item": item(f"t{i}")}} for i in range(3)])),
            "put": error_of(lambda: ddb.put_item(TableName=table, Item=item("p"))),
            "update": error_of(lambda: ddb.update_item(TableName=table, Key=item("u"), UpdateExpression="SET A = :a",
                                                       ExpressionAttributeValues={":a": {"S": "x"}})),
            "delete": error_of(lambda: ddb.delete_item(TableName=table, Key=item("d"))),
        }

    runtime.client("dynamodb").put_item(TableName=table, Item=item("d"))  # the test's own write: no fault
    runtime.faults.reset("dynamodb-conflict=1", seed=3)
    name = function("conflicting-writes", writes)
    error, result = invoke(runtime, name)

    assert error is None
    cancelled = result["transaction"]
    assert cancelled["Error"]["Code"] == "TransactionCanceledException"
    reasons = cancelled["CancellationReasons"]
    assert sorted(reason["Code"] for reason in reasons) == ["None", "None", "TransactionConflict"]
    conflict = next(reason for reason in reasons if reason["Code"] == "TransactionConflict")
    assert conflict["Message"] == "Transaction is ongoing for the item"
    assert f"[{', '.join(reason['Code'] for reason in reasons)}]" in cancelled["Error"]["Message"]
    assert {result[op]["Error"]["Code"] for op in ("put", "update", "delete")} == {"TransactionConflictException"}
    assert all(result[op]["ResponseMetadata"]["HTTPStatusCode"] == 400 for op in ("put", "transaction"))
    items = runtime.client("dynamodb").scan(TableName=table)["Items"]
    assert [i["JobId"]["S"] for i in items if i["DomainId"]["S"] == "conflicts"] == ["d"]  # nothing written
    assert runtime.fault_counts() == {"dynamodb-conflict": FaultCount(injected=4, surfaced=4)}


def test_throttles_are_retried_by_botocore_and_counted_when_they_reach_the_handler(
    runtime: LocalRuntime, function: Callable[..., str]
) -> None:
    key = {"DomainId": {"S": "throttled"}, "JobId": {"S": "j"}}

    def reads(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return error_of(lambda: boto3.client("dynamodb").get_item(TableName=runtime.jobs_table, Key=key))

    runtime.faults.reset("dynamodb-throttle=1", seed=4)
    error, throttled = invoke(runtime, function("throttled-reads", reads))

    assert error is None
    assert throttled["Error"]["Code"] in {"ThrottlingException", "ProvisionedThroughputExceededException"}
    attempts = throttled["ResponseMetadata"]["RetryAttempts"] + 1
    assert attempts > 1  # botocore retried by itself
    assert runtime.fault_counts() == {"dynamodb-throttle": FaultCount(injected=attempts, surfaced=1)}

    runtime.faults.reset("dynamodb-throttle=0.3", seed=4)
    reads_ok = function("throttled-now-and-then", lambda event, context: [
        boto3.client("dynamodb").get_item(TableName=runtime.jobs_table, Key=key)["ResponseMetadata"]["RetryAttempts"]
        for _ in range(10)])
    error, retries = invoke(runtime, reads_ok)
    assert error is None and sum(retries) > 0  # every read succeeded, some after retries
    assert runtime.fault_counts()["dynamodb-throttle"] == FaultCount(injected=sum(retries), surfaced=0)


# ------------------------------------------------------------------------------------------------ S3


def test_s3_slow_down_is_a_503_that_botocore_retries(runtime: LocalRuntime, function: Callable[..., str]) -> None:
    def s3_calls(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        s3 = boto3.client("s3")
        return {"put": error_of(lambda: s3.put_object(Bucket=runtime.work_bucket, Key="slow/a", Body=b"x")),
                "head": error_of(lambda: s3.head_object(Bucket=runtime.work_bucket, Key="slow/a"))}

    runtime.faults.reset("s3-slowdown=1", seed=5)
    error, result = invoke(runtime, function("slowed-down", s3_calls))

    assert error is None
    put, head = result["put"], result["head"]
    assert (put["Error"]["Code"], put["Error"]["Message"]) == ("SlowDown", "Please reduce your request rate.")
    assert put["ResponseMetadata"]["HTTPStatusCode"] == head["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert head["Error"]["Code"] == "503"  # a HEAD response has no body to name the error
    attempts = put["ResponseMetadata"]["RetryAttempts"] + head["ResponseMetadata"]["RetryAttempts"] + 2
    assert runtime.fault_counts() == {"s3-slowdown": FaultCount(injected=attempts, surfaced=2)}
    assert "Contents" not in runtime.client("s3").list_objects_v2(Bucket=runtime.work_bucket, Prefix="slow/")


def test_the_same_seed_fails_the_same_calls(runtime: LocalRuntime, function: Callable[..., str]) -> None:
    def twenty_writes(event: dict[str, Any], context: LambdaContext) -> list[bool]:
        ddb = boto3.client("dynamodb")
        failed = []
        for index in range(20):
            try:
                ddb.put_item(TableName=runtime.jobs_table,
                             Item={"DomainId": {"S": "seeded"}, "JobId": {"S": str(index)}})
                failed.append(False)
            except ddb.exceptions.TransactionConflictException:  # botocore does not retry it
                failed.append(True)
        return failed

    name = function("reproducible", twenty_writes)

    def run(seed: int) -> list[bool]:
        runtime.faults.reset("dynamodb-conflict=0.5", seed=seed)
        error, failed = invoke(runtime, name)
        assert error is None
        return list(failed)

    assert run(21) == run(21)
    assert run(21) != run(22)


# -------------------------------------------------------------------------------------------- Lambda


def test_a_throttled_invoke_fails_the_task_with_lambda_too_many_requests(
    runtime: LocalRuntime, function: Callable[..., str]
) -> None:
    arn = function("throttled-task", lambda event, context: {"ran": True})
    runtime.faults.reset("lambda-throttle=1", seed=6)

    assert invoke(runtime, "throttled-task") == (None, {"ran": True})  # not Step Functions: not throttled
    execution = run_machine(runtime, "throttled", {"Resource": arn, "Retry": [
        {"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 1}]})

    assert (execution["status"], execution["error"]) == ("FAILED", "Lambda.TooManyRequestsException")
    assert "Status Code: 429; Error Code: TooManyRequestsException" in execution["cause"]
    assert runtime.fault_counts() == {"lambda-throttle": FaultCount(injected=2, surfaced=2)}  # attempt + retry


def test_a_killed_sandbox_leaves_partial_side_effects_and_reports_runtime_exit_error(
    runtime: LocalRuntime, function: Callable[..., str]
) -> None:
    def twenty_writes(event: dict[str, Any], context: LambdaContext) -> dict[str, bool]:
        s3 = boto3.client("s3")
        for index in range(20):
            try:
                s3.put_object(Bucket=runtime.work_bucket, Key=f"crash/{index}", Body=b"x")
            except Exception:  # a handler that carries on after errors is killed all the same
                continue
        return {"done": True}

    arn = function("killed", twenty_writes)
    runtime.faults.reset("lambda-crash=1", seed=7)
    error, payload = invoke(runtime, "killed")

    assert error == "Unhandled" and payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    written = runtime.client("s3").list_objects_v2(Bucket=runtime.work_bucket, Prefix="crash/").get("Contents", [])
    assert len(written) <= KILL_AFTER_MAX_CALLS < 20  # the calls made before it died took effect, no others
    execution = run_machine(runtime, "killed", {"Resource": arn})
    assert (execution["status"], execution["error"]) == ("FAILED", "Runtime.ExitError")
    assert runtime.fault_counts() == {"lambda-crash": FaultCount(injected=2, surfaced=2)}


def test_an_invocation_past_its_timeout_is_sandbox_timedout_and_abandoned(
    runtime: LocalRuntime, function: Callable[..., str]
) -> None:
    seen: dict[str, Any] = {}

    def too_slow(event: dict[str, Any], context: LambdaContext) -> None:
        seen["remaining"] = context.get_remaining_time_in_millis()
        time.sleep(HANDLER_SECONDS)
        try:
            boto3.client("s3").put_object(Bucket=runtime.work_bucket, Key="late/side-effect", Body=b"x")
            seen["late call"] = "made"
        except Exception:
            seen["late call"] = "raised an Exception"
        finally:
            seen["abandoned"] = True

    arn = function("too-slow", too_slow, timeout=1)
    started = time.monotonic()
    error, payload = invoke(runtime, "too-slow")
    elapsed = time.monotonic() - started

    assert (error, payload["errorType"]) == ("Unhandled", "Sandbox.Timedout")
    assert payload["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")
    assert 1.0 <= elapsed < HANDLER_SECONDS  # reported at the deadline, not when the handler ends
    assert 500 < seen["remaining"] <= 1000
    wait_until(lambda: seen.get("abandoned"), timeout=HANDLER_SECONDS + 5)
    assert "late call" not in seen  # its late call was refused with a BaseException, never made
    assert "Contents" not in runtime.client("s3").list_objects_v2(Bucket=runtime.work_bucket, Prefix="late/")

    execution = run_machine(runtime, "too-slow", {"Resource": arn, "Retry": [
        {"ErrorEquals": ["Sandbox.Timedout"], "IntervalSeconds": 1, "MaxAttempts": 1}]})
    assert (execution["status"], execution["error"]) == ("FAILED", "Sandbox.Timedout")


def test_function_timeouts_reach_the_functions(runtime: LocalRuntime) -> None:
    fail_job = runtime.local_stack.function("FailJobFunction")
    config = runtime.client("lambda").get_function_configuration(FunctionName=fail_job.name)
    assert config["Timeout"] == fail_job.timeout_seconds == FAIL_JOB_TIMEOUT


# ------------------------------------------------------------------------------------------- events


def test_a_duplicated_upload_event_arrives_twice_the_copy_later(
    runtime: LocalRuntime, stack_handler: Callable[[str, Handler], None]
) -> None:
    arrivals: list[tuple[float, dict[str, Any]]] = []
    stack_handler("SubmitJobFunction", lambda event, context: arrivals.append((time.monotonic(), event)) or {})
    runtime.faults.reset("event-duplicate=1", seed=8)

    upload(runtime, "twice-delivered.json", b"{}")
    assert runtime.bus is not None
    runtime.bus.wait_idle()

    (first_at, first), (second_at, second) = arrivals
    assert first == second and first["detail"]["object"]["key"].endswith("/twice-delivered.json")  # same event id
    assert second_at > first_at
    assert runtime.fault_counts() == {"event-duplicate": FaultCount(injected=1, surfaced=1)}


# ---------------------------------------------------------------------------------- end to end (jobs)


def test_throttled_invokes_and_dynamodb_calls_are_retried_and_the_job_completes(runtime: LocalRuntime) -> None:
    runtime.faults.reset("lambda-throttle=0.5,dynamodb-throttle=0.15", seed=9)
    job = run_job(runtime, "throttled.json", manifest(runtime, ("enrolled", "allison.wav"), ("short", "short.wav")))

    assert job.status.value == "COMPLETED_WITH_ERRORS"
    assert outcomes(runtime, job) == {"enrolled": "NEW_ENROLLMENT", "short": 400}
    counts = runtime.fault_counts()
    assert counts["lambda-throttle"].injected > 0  # each one retried by the state machine or by EventBridge
    assert counts["dynamodb-throttle"].injected > counts["dynamodb-throttle"].surfaced


def test_keys_arrive_url_encoded_and_run_end_to_end_with_no_fault_at_rate_zero(runtime: LocalRuntime) -> None:
    runtime.faults.reset(dict.fromkeys(Fault, 0.0), seed=10)
    for name, encoded in (("batch 2.json", "batch+2.json"), ("a+b.json", "a%2Bb.json")):
        job = run_job(runtime, name, manifest(runtime, ("one", "short.wav")))
        assert job.input_s3_uri.endswith(f"/{name}") and job.status.value == "COMPLETED_WITH_ERRORS"
        assert outcomes(runtime, job) == {"one": 400}  # its output file is "<name>.out"
        assert runtime.trigger is not None
        (event,) = [e for e in runtime.trigger.delivered if e["detail"]["object"]["key"].endswith(f"/{encoded}")]
        head = runtime.client("s3").head_object(Bucket=runtime.inbox_bucket, Key=job.input_s3_uri.split("/", 3)[3])
        assert event["detail"]["object"]["version-id"] == head["VersionId"]
    assert runtime.fault_counts() == {}
    assert status_changes(runtime) == []  # succeeded executions: no rule watches them


def test_stopping_a_running_execution_fails_its_job_through_the_status_change_event(
    runtime: LocalRuntime, stack_handler: Callable[[str, Handler], None]
) -> None:
    entered, release = threading.Event(), threading.Event()

    def blocked_shard(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        entered.set()
        release.wait(30)
        return {**event, "StartAt": 1, "Done": True}

    stack_handler("EnrollShardFunction", blocked_shard)
    uri = upload(runtime, "stopped.json", manifest(runtime, ("stopped", "allison.wav")))
    assert entered.wait(30)
    sfn = runtime.client("stepfunctions")
    (execution,) = sfn.list_executions(stateMachineArn=runtime.state_machine_arn, statusFilter="RUNNING")["executions"]
    sfn.stop_execution(executionArn=execution["executionArn"])
    try:
        job = wait_for_job(DynamoJobStore(runtime.client("dynamodb"), runtime.jobs_table), runtime.domain_id, uri,
                           timeout=60)
    finally:
        release.set()

    assert job.status.value == "FAILED" and job.failure_details is not None
    assert "stopped (StopExecution)" in job.failure_details.message
    (event,) = status_changes(runtime)
    detail = event["detail"]
    assert (event["source"], event["resources"]) == ("aws.states", [execution["executionArn"]])
    assert {key: detail[key] for key in ("executionArn", "stateMachineArn", "name", "status", "error")} == {
        "executionArn": execution["executionArn"], "stateMachineArn": runtime.state_machine_arn,
        "name": job.job_id, "status": "ABORTED", "error": None}
    assert json.loads(detail["input"]) == {"DomainId": runtime.domain_id, "JobId": job.job_id}
    assert isinstance(detail["startDate"], int) and detail["stopDate"] >= detail["startDate"]
