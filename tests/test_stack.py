"""The CDK stack: one synthesis per test session, shared by every test.

Checks encryption, TLS, public access, least-privilege roles, the state machine definition (rendered and
parsed), the ingest rule's event pattern, the Voice ID API (IAM auth, logging, its function's permissions),
cfn-lint on the template, and cdk-nag (AwsSolutions) findings.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "lambdas"):  # the CDK app (and the settings it mirrors) are not installed packages
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Annotations, Match, Template  # noqa: E402
from botocore.session import get_session as boto_session  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402
from cfnlint.api import ManualArgs, lint, lint_file  # noqa: E402
from moto.events.models import EventPattern  # noqa: E402
from speaker_enrollment.settings import Settings  # noqa: E402

import stacks.nag  # noqa: E402
from stacks.api import GATEWAY_ERRORS  # noqa: E402
from stacks.enrollment_app import build_app, cdk_json_context, workflow_capacity  # noqa: E402
from stacks.enrollment_stack import SpeakerEnrollmentStack  # noqa: E402
from stacks.nag import logical_id  # noqa: E402
from stacks.workflow import WorkflowCapacity  # noqa: E402

FUNCTION_IDS = (
    "SubmitJobFunction",
    "PrepareJobFunction",
    "EnrollShardFunction",
    "FinalizeJobFunction",
    "FailJobFunction",
)
API_FUNCTION_ID = "VoiceIdApiFunction"
SESSION_FUNCTION_ID = "EvaluateSessionFunction"
MAINTAIN_FUNCTION_ID = "MaintainDomainFunction"
SCHEDULE_FUNCTION_ID = "ScheduleMaintenanceFunction"
ALL_FUNCTION_IDS = (*FUNCTION_IDS, API_FUNCTION_ID, SESSION_FUNCTION_ID, MAINTAIN_FUNCTION_ID, SCHEDULE_FUNCTION_ID)
HANDLERS = {
    "SubmitJobFunction": ("speaker_enrollment.handlers.submit_job.handler", 256),
    "PrepareJobFunction": ("speaker_enrollment.handlers.prepare_job.handler", 1024),
    "EnrollShardFunction": ("speaker_enrollment.handlers.enroll_shard.handler", 3008),
    "FinalizeJobFunction": ("speaker_enrollment.handlers.finalize_job.handler", 1024),
    "FailJobFunction": ("speaker_enrollment.handlers.fail_job.handler", 256),
    API_FUNCTION_ID: ("speaker_enrollment.handlers.api.handler", 512),
    SESSION_FUNCTION_ID: ("speaker_enrollment.handlers.evaluate_session.handler", 2048),
    MAINTAIN_FUNCTION_ID: ("speaker_enrollment.handlers.maintain_domain.handler", 512),
    SCHEDULE_FUNCTION_ID: ("speaker_enrollment.handlers.schedule_maintenance.handler", 256),
}
SETTINGS_VARIABLES = {
    "JOBS_TABLE",
    "SPEAKERS_TABLE",
    "DOMAINS_TABLE",
    "WATCHLISTS_TABLE",
    "FRAUDSTERS_TABLE",
    "WORK_BUCKET",
    "INBOX_BUCKET",
    "OUTPUT_BUCKET",
    "KMS_KEY_ID",
    "DEFAULT_DATA_ACCESS_ROLE_ARN",
    "DATA_ACCESS_EXTERNAL_ID",  # every function has the workflow's variables; the data access functions use it
    "MAX_REQUESTS_PER_JOB",
    "SPEAKER_QUOTA",
    "SHARD_SIZE",
    "MAX_AUDIO_FILE_BYTES",
    "VOICEPRINT_THREADS",
    "WATCHLIST_QUOTA",
    "FRAUDSTER_QUOTA",
    "MAX_SPEECH_SECONDS",
    "MIN_EVALUATION_SPEECH_SECONDS",
    "SESSION_RETENTION_DAYS",
    "VOICEPRINT_KEY_CACHE_SECONDS",
    "SPEAKER_RETENTION_DAYS",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "LOG_LEVEL",
}
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
# Every Lambda task: CDK's default attempts with full jitter and a ceiling; a function stopped at its timeout too.
_BACKOFF = {"IntervalSeconds": 2, "BackoffRate": 2, "MaxDelaySeconds": 60, "JitterStrategy": "FULL"}
JOB_FAILURES = ["DomainNotFoundError", "InputNotReadableError", "InvalidJobRequestError", "JobFailure",
                "JobNotFoundError", "ManifestError", "OutputNotWritableError", "RequestLimitExceededError",
                "WatchlistNotFoundError"]
RETRY = [{"ErrorEquals": [*LAMBDA_SERVICE_ERRORS, "Sandbox.Timedout", "States.Timeout"], "MaxAttempts": 6, **_BACKOFF},
         # a job's own failure is final; anything else (a crashed runtime, say) is tried again a few times
         {"ErrorEquals": JOB_FAILURES, "MaxAttempts": 0, **_BACKOFF},
         {"ErrorEquals": ["States.ALL"], "MaxAttempts": 3, **_BACKOFF}]
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
INBOX_NAME = "inbox-bucket"
INBOX_READ = ("s3:GetBucket*", "s3:GetObject*", "s3:List*")  # CDK's grant_read
KMS_WRITE = {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"}
# Variables only the API function has (its Settings fields default to "" elsewhere), beyond SETTINGS_VARIABLES.
API_VARIABLES = {"STATE_MACHINE_ARN", "API_TOKEN_KEY_ID", "ACCOUNT_ID"}
SESSION_VARIABLES = {"SESSIONS_TABLE"}  # the API and the session function (tests/test_session_stack.py)
MAINTENANCE_VARIABLES = {"MAINTENANCE_STATE_MACHINE_ARN"}  # the functions that start maintenance tasks
EXTRA_VARIABLES = {"SubmitJobFunction": {"STATE_MACHINE_ARN"},
                   API_FUNCTION_ID: API_VARIABLES | SESSION_VARIABLES | MAINTENANCE_VARIABLES,
                   SESSION_FUNCTION_ID: SESSION_VARIABLES,
                   MAINTAIN_FUNCTION_ID: SESSION_VARIABLES | {"STATE_MACHINE_ARN"},  # a purge stops running jobs
                   SCHEDULE_FUNCTION_ID: MAINTENANCE_VARIABLES}
LAMBDA_SETS = {"AWS_REGION", "AWS_DEFAULT_REGION"}  # reserved: Lambda sets them in every function


# ---------------------------------------------------------------------------------------- the synthesis


@dataclass(frozen=True)
class Synthesized:
    app: App
    stack: SpeakerEnrollmentStack
    template: Template
    resources: dict[str, dict[str, Any]]
    names: dict[str, str]  # logical id -> readable name (construct id) of the resources tests talk about
    raw: dict[str, Any]

    def logical(self, name: str) -> str:
        return next(lid for lid, n in self.names.items() if n == name)

    def resource(self, name: str) -> dict[str, Any]:
        return self.resources[self.logical(name)]

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.resources.items() if r["Type"] == cfn_type}


def _readable_names(stack: SpeakerEnrollmentStack) -> dict[str, str]:
    storage, workflow, api = stack.storage, stack.workflow, stack.api
    named: dict[str, Any] = {
        "Key": storage.key,
        "TokenKey": storage.token_key,
        "WatchlistsTable": storage.watchlists_table,
        "FraudstersTable": storage.fraudsters_table,
        "InboxBucket": storage.inbox_bucket,
        "OutputBucket": storage.output_bucket,
        "WorkBucket": storage.work_bucket,
        "AccessLogBucket": storage.access_log_bucket,
        "DomainsTable": storage.domains_table,
        "JobsTable": storage.jobs_table,
        "SpeakersTable": storage.speakers_table,
        "SessionsTable": storage.sessions_table,
        "DefaultDataAccessRole": storage.default_data_access_role,
        "StateMachine": workflow.state_machine,
        "StateMachineRole": workflow.state_machine.role,
        "DeadLetterQueue": stack.ingest.dead_letter_queue,
        "ManifestUploadedRule": stack.ingest.rule,
        "ExecutionFailedRule": stack.failure_watch.rule,
        "SessionUploadedRule": stack.sessions.rule,
        SESSION_FUNCTION_ID: stack.sessions.function,
        f"{SESSION_FUNCTION_ID}Role": stack.sessions.role,
        API_FUNCTION_ID: api.function,
        f"{API_FUNCTION_ID}Role": api.role,
        MAINTAIN_FUNCTION_ID: stack.maintenance.function,
        f"{MAINTAIN_FUNCTION_ID}Role": stack.maintenance.role,
        SCHEDULE_FUNCTION_ID: stack.maintenance.schedule_function,
        f"{SCHEDULE_FUNCTION_ID}Role": stack.maintenance.schedule_role,
        "MaintenanceStateMachine": stack.maintenance.state_machine,
        "MaintenanceStateMachineRole": stack.maintenance.state_machine.role,
        "MaintenanceStateMachineLogs": stack.maintenance.node.find_child("StateMachineLogs"),
        "DailyMaintenanceRule": stack.maintenance.rule,
        "RestApi": api.rest_api,
        "Stage": api.rest_api.deployment_stage,
        "ApiGatewayCloudWatchRole": api.rest_api.node.find_child("CloudWatchRole"),
    }
    for function_id in FUNCTION_IDS:
        named[function_id] = workflow.functions[function_id]
        named[f"{function_id}Role"] = workflow.roles[function_id]
    names = {logical_id(construct): name for name, construct in named.items()}
    # <FunctionId>Logs, StateMachineLogs, AccessLogs
    for child in [*workflow.node.children, *api.node.children, *stack.sessions.node.children,
                  *stack.maintenance.node.children]:
        if child.node.id.endswith("Logs"):
            names.setdefault(logical_id(child), child.node.id)
    return names


def synthesize(tmp_path_factory: pytest.TempPathFactory, context: Mapping[str, Any] | None = None) -> Synthesized:
    layer = tmp_path_factory.mktemp("lambda-layer")  # the real layer's contents do not matter here
    (layer / "python").mkdir()
    app, stack = build_app(outdir=str(tmp_path_factory.mktemp("cdk.out")), layer_dir=layer, context=context)
    raw = app.synth().get_stack_by_name(stack.stack_name).template
    return Synthesized(app, stack, Template.from_json(raw), raw["Resources"], _readable_names(stack), raw)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app synthesized once (cdk-nag runs during synth and fails it on any unacknowledged finding)."""
    return synthesize(tmp_path_factory)


@pytest.fixture(scope="session")
def synth_add(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The first step of the speaker index migration (``-c speakerIndexMigration=add``), synthesized once."""
    return synthesize(tmp_path_factory, {"speakerIndexMigration": "add"})


# -------------------------------------------------------------------------------- template helpers


def render(value: Any, names: Mapping[str, str]) -> Any:
    """Intrinsics as readable strings: GetAtt X.Arn -> 'Name.Arn', Ref X -> 'Name', Join -> concatenation."""
    if isinstance(value, list):
        return [render(v, names) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return names.get(value["Ref"], "${" + value["Ref"] + "}")
    if "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        return f"{names.get(resource, resource)}.{attribute}"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(render(p, names)) for p in parts)
    return {k: render(v, names) for k, v in value.items()}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_of_role(synth: Synthesized, role_name: str) -> list[dict[str, Any]]:
    role_ref = {"Ref": synth.logical(role_name)}
    found = []
    for policy in synth.of_type("AWS::IAM::Policy").values():
        if role_ref in policy["Properties"].get("Roles", []):
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def permissions(synth: Synthesized, role_name: str) -> set[tuple[str, str]]:
    """Every (action, resource) pair the role's policies allow; a conditional grant is marked '?'."""
    pairs = set()
    for statement in statements_of_role(synth, role_name):
        assert statement["Effect"] == "Allow"
        mark = "?" if "Condition" in statement else ""
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                pairs.add((action, f"{render(resource, synth.names)}{mark}"))
    return pairs


def function_permissions(synth: Synthesized, function_id: str) -> set[tuple[str, str]]:
    """The role's permissions beyond what every function has (its own log group, X-Ray)."""
    common = {
        ("logs:CreateLogStream", f"{function_id}Logs.Arn"),
        ("logs:PutLogEvents", f"{function_id}Logs.Arn"),
        ("xray:PutTelemetryRecords", "*"),
        ("xray:PutTraceSegments", "*"),
    }
    allowed = permissions(synth, f"{function_id}Role")
    assert common <= allowed
    return allowed - common


def kms(actions: set[str]) -> set[tuple[str, str]]:
    return {(action, "Key.Arn") for action in actions}


# Data keys under any customer key of the account and Region, only with the voiceprint cipher's context (marked "?").
DOMAIN_KEYS = {(action, "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*?")
               for action in ("kms:GenerateDataKey", "kms:Decrypt")}


def definition(synth: Synthesized) -> dict[str, Any]:
    """The state machine's ASL: the DefinitionString's Fn::Join resolved to a plain JSON string."""
    rendered = resolve_definition(synth.resource("StateMachine")["Properties"]["DefinitionString"], synth)
    document: dict[str, Any] = json.loads(rendered)
    return document


def resolve_definition(definition_string: Any, synth: Synthesized) -> str:
    def literal(part: Any) -> str:
        if isinstance(part, str):
            return part
        if "Ref" in part:
            return PSEUDO.get(part["Ref"]) or synth.names.get(part["Ref"], part["Ref"]).lower()
        resource, _ = part["Fn::GetAtt"]
        return f"arn:aws:lambda:us-east-1:123456789012:function:{synth.names.get(resource, resource)}"

    if isinstance(definition_string, str):
        return definition_string
    separator, parts = definition_string["Fn::Join"]
    return str(separator.join(literal(p) for p in parts))


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


# ------------------------------------------------------------------------------------------- cdk-nag


def test_cdk_nag_reports_no_findings(synth: Synthesized) -> None:
    report = AwsSolutionsChecks().validate_scope(synth.app)
    assert [v.rule_name for v in report.violations] == []
    assert report.success
    assert Annotations.from_stack(synth.stack).find_error("*", Match.any_value()) == []
    assert Annotations.from_stack(synth.stack).find_warning("*", Match.any_value()) == []


@dataclass(frozen=True)
class Ack:
    path: str
    rule_id: str
    reason: str


@pytest.fixture(scope="session")
def unacknowledged(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Ack], dict[str, list[str]]]:
    """The app's construct tree built again with acknowledgements recorded instead of applied (no synth):
    every acknowledgement made, and every finding cdk-nag raises without them (rule id -> construct paths)."""
    acks: list[Ack] = []

    class RecordingValidations:
        @staticmethod
        def of(scope: Any) -> Any:
            def acknowledge(*rules: Any) -> None:
                acks.extend(Ack(scope.node.path, r.id, r.reason) for r in rules)

            return mock.Mock(acknowledge=acknowledge)

    layer = tmp_path_factory.mktemp("lambda-layer-2")
    (layer / "python").mkdir()
    with mock.patch.object(stacks.nag, "Validations", RecordingValidations):
        app, _ = build_app(outdir=str(tmp_path_factory.mktemp("cdk.out-2")), layer_dir=layer)
    report = AwsSolutionsChecks().validate_scope(app)
    findings = {v.rule_name: [str(r.construct_path) for r in v.violating_resources] for v in report.violations}
    return acks, findings


def test_every_acknowledgement_answers_a_real_finding_with_a_reason(
    unacknowledged: tuple[list[Ack], dict[str, list[str]]],
) -> None:
    acks, findings = unacknowledged
    assert findings, "without acknowledgements cdk-nag must find something, or the check is not running"
    for ack in acks:
        paths = findings.get(ack.rule_id, [])
        assert any(p == ack.path or p.startswith(ack.path + "/") for p in paths), f"stale: {ack}"
        assert len(ack.reason) >= 40, f"reason too thin: {ack}"
    for rule_id, paths in findings.items():
        for path in paths:
            assert any(a.rule_id == rule_id and (path + "/").startswith(a.path + "/") for a in acks), (rule_id, path)


def test_acknowledged_rules_are_the_expected_kinds(unacknowledged: tuple[list[Ack], dict[str, list[str]]]) -> None:
    acks, _ = unacknowledged
    kinds = {re.sub(r"\[.*", "", a.rule_id) for a in acks}
    assert kinds == {
        "AwsSolutions-IAM5",
        "AwsSolutions-L1",
        "AwsSolutions-SQS3",
        "AwsSolutions-IAM4",  # API Gateway's account-level CloudWatch role (AWS managed policy)
        "AwsSolutions-APIG3",  # no WAF web ACL: IAM (SigV4) auth and throttling
        "AwsSolutions-COG4",  # IAM, not Cognito, authorizes the Voice ID API
    }
    managed = {a.rule_id for a in acks if a.rule_id.startswith("AwsSolutions-IAM4")}
    assert managed == {
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AmazonAPIGatewayPushToCloudWatchLogs]"
    }
    wildcard_actions = {a.rule_id for a in acks if "[Action::" in a.rule_id}
    assert wildcard_actions == {
        "AwsSolutions-IAM5[Action::s3:GetObject*]",
        "AwsSolutions-IAM5[Action::s3:GetBucket*]",
        "AwsSolutions-IAM5[Action::s3:List*]",
        "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
    }


# ------------------------------------------------------------------------------------------- S3


DATA_BUCKETS = ("InboxBucket", "OutputBucket", "WorkBucket")
ALL_BUCKETS = (*DATA_BUCKETS, "AccessLogBucket")


@pytest.mark.parametrize("bucket", DATA_BUCKETS)
def test_data_buckets_are_encrypted_with_the_customer_managed_key(synth: Synthesized, bucket: str) -> None:
    rules = synth.resource(bucket)["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert render(rules, synth.names) == [
        {
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "Key.Arn"},
        }
    ]
    assert synth.resource(bucket)["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": synth.logical("AccessLogBucket")},
        "LogFilePrefix": f"{bucket}/",
    }


def test_the_access_log_bucket_uses_sse_s3_because_s3_logging_cannot_deliver_to_sse_kms(synth: Synthesized) -> None:
    rules = synth.resource("AccessLogBucket")["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rules == [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]


def test_there_are_exactly_four_buckets(synth: Synthesized) -> None:
    assert {synth.names[lid] for lid in synth.of_type("AWS::S3::Bucket")} == set(ALL_BUCKETS)


@pytest.mark.parametrize("bucket", ALL_BUCKETS)
def test_buckets_block_public_access_and_enforce_bucket_owner(synth: Synthesized, bucket: str) -> None:
    props = synth.resource(bucket)["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


@pytest.mark.parametrize("bucket", ALL_BUCKETS)
def test_bucket_policies_deny_requests_without_tls_1_2(synth: Synthesized, bucket: str) -> None:
    bucket_id = synth.logical(bucket)
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    assert len(policies) == 1
    denials = [s for s in policies[0] if s["Effect"] == "Deny"]
    conditions = [s["Condition"] for s in denials]
    assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
    assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions
    for statement in denials:
        assert statement["Principal"] == {"AWS": "*"} and statement["Action"] == "s3:*"
        assert render(statement["Resource"], synth.names) == [f"{bucket}.Arn", f"{bucket}.Arn/*"]


def test_inbox_sends_events_to_eventbridge_natively_and_keeps_versions(synth: Synthesized) -> None:
    inbox = synth.resource("InboxBucket")["Properties"]
    assert inbox["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert inbox["VersioningConfiguration"] == {"Status": "Enabled"}
    assert synth.resource("OutputBucket")["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    # No notifications custom resource (and so no extra Lambda function) is needed.
    assert not [r for r in synth.resources.values() if r["Type"] == "Custom::S3BucketNotifications"]
    assert {synth.names[lid] for lid in synth.of_type("AWS::Lambda::Function")} == set(ALL_FUNCTION_IDS)


def test_work_objects_expire_after_30_days(synth: Synthesized) -> None:
    rules = synth.resource("WorkBucket")["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {"ExpirationInDays": 30, "Status": "Enabled"} in rules


def test_raw_caller_audio_and_replaced_versions_expire(synth: Synthesized) -> None:
    """Personal data does not outlive its use: the inbox (caller audio, manifests) expires after 30 days, and a
    replaced or deleted object's old versions after 7 in both versioned buckets."""
    inbox = synth.resource("InboxBucket")["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {"ExpirationInDays": 30, "Status": "Enabled"} in inbox
    for bucket in ("InboxBucket", "OutputBucket"):
        rules = synth.resource(bucket)["Properties"]["LifecycleConfiguration"]["Rules"]
        assert any(rule.get("NoncurrentVersionExpiration") == {"NoncurrentDays": 7} for rule in rules), bucket


# ------------------------------------------------------------------------------------------- KMS, DynamoDB


def test_one_customer_managed_data_key_with_rotation_and_one_hmac_key(synth: Synthesized) -> None:
    keys = synth.of_type("AWS::KMS::Key")
    assert sorted(synth.names[lid] for lid in keys) == ["Key", "TokenKey"]
    key = keys[synth.logical("Key")]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_the_token_key_is_an_hmac_256_key_for_generate_and_verify_mac(synth: Synthesized) -> None:
    token_key = synth.resource("TokenKey")
    assert token_key["Properties"]["KeySpec"] == "HMAC_256"
    assert token_key["Properties"]["KeyUsage"] == "GENERATE_VERIFY_MAC"
    assert "EnableKeyRotation" not in token_key["Properties"]  # KMS rotates symmetric encryption keys only
    assert token_key["DeletionPolicy"] == "Retain"


TABLE_KEYS = {
    "DomainsTable": [("DomainId", "HASH")],
    "JobsTable": [("DomainId", "HASH"), ("JobId", "RANGE")],
    "SpeakersTable": [("DomainId", "HASH"), ("CustomerSpeakerId", "RANGE")],
    "WatchlistsTable": [("DomainId", "HASH"), ("WatchlistId", "RANGE")],
    "FraudstersTable": [("DomainId", "HASH"), ("GeneratedFraudsterId", "RANGE")],
    "SessionsTable": [("DomainId", "HASH"), ("SessionId", "RANGE")],
}


@pytest.mark.parametrize("table", sorted(TABLE_KEYS))
def test_tables_keys_kms_encryption_and_point_in_time_recovery(synth: Synthesized, table: str) -> None:
    props = synth.resource(table)["Properties"]
    assert [(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]] == TABLE_KEYS[table]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert render(props["SSESpecification"], synth.names) == {
        "KMSMasterKeyId": "Key.Arn",
        "SSEEnabled": True,
        "SSEType": "KMS",
    }
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert synth.resource(table)["DeletionPolicy"] == "Retain"


def speaker_index(name: str, projection: str) -> dict[str, Any]:
    return {"IndexName": name,
            "KeySchema": [{"AttributeName": "DomainId", "KeyType": "HASH"},
                          {"AttributeName": "GeneratedSpeakerId", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": projection}}


KEYS_ONLY_INDEX = speaker_index("GeneratedSpeakerIdKeys", "KEYS_ONLY")
LOOKUP_FUNCTIONS = ("EnrollShardFunction", API_FUNCTION_ID, SESSION_FUNCTION_ID)  # find() by GeneratedSpeakerId


def index_queries(synth: Synthesized, function_id: str) -> set[str]:
    return {resource.removeprefix("SpeakersTable.Arn/index/") for action, resource in
            function_permissions(synth, function_id) if action == "dynamodb:Query" and "/index/" in resource}


def test_no_index_copies_a_voiceprint(synth: Synthesized) -> None:
    """The speakers' lookup index projects keys only (a lookup reads the speaker itself); no other index exists."""
    synth.template.has_resource_properties("AWS::DynamoDB::Table", {"GlobalSecondaryIndexes": [KEYS_ONLY_INDEX]})
    tables = synth.template.find_resources("AWS::DynamoDB::Table")
    indexes = {synth.names[lid]: [*r["Properties"].get("GlobalSecondaryIndexes", []),
                                  *r["Properties"].get("LocalSecondaryIndexes", [])] for lid, r in tables.items()}
    assert indexes["SpeakersTable"] == [KEYS_ONLY_INDEX]
    assert indexes["FraudstersTable"] == []
    projections = [index["Projection"] for table in indexes.values() for index in table]
    assert all(p == {"ProjectionType": "KEYS_ONLY"} for p in projections)
    assert "Voiceprint" not in json.dumps(projections)  # SealedVoiceprint, Voiceprint


def test_the_add_step_keeps_the_old_index_beside_the_keys_only_one(synth_add: Synthesized) -> None:
    """Release N+1's first deployment: CloudFormation creates the keys-only index (one GSI creation); the old one
    goes in the next deployment (one deletion)."""
    assert synth_add.resource("SpeakersTable")["Properties"]["GlobalSecondaryIndexes"] == [
        KEYS_ONLY_INDEX, speaker_index("GeneratedSpeakerId", "ALL")]
    assert "GlobalSecondaryIndexes" not in synth_add.resource("FraudstersTable")["Properties"]


@pytest.mark.parametrize("function_id", LOOKUP_FUNCTIONS)
def test_speaker_lookups_may_query_exactly_the_indexes_of_their_step(
        synth: Synthesized, synth_add: Synthesized, function_id: str) -> None:
    assert index_queries(synth, function_id) == {"GeneratedSpeakerIdKeys"}
    # the old index is read until the new one is ACTIVE
    assert index_queries(synth_add, function_id) == {"GeneratedSpeakerIdKeys", "GeneratedSpeakerId"}


def test_no_other_function_queries_a_speaker_index(synth_add: Synthesized) -> None:
    others = set(ALL_FUNCTION_IDS) - set(LOOKUP_FUNCTIONS)
    assert [f for f in sorted(others) if index_queries(synth_add, f)] == []


def test_cdk_nag_reports_no_findings_in_the_add_step(synth_add: Synthesized) -> None:
    assert [v.rule_name for v in AwsSolutionsChecks().validate_scope(synth_add.app).violations] == []
    assert Annotations.from_stack(synth_add.stack).find_error("*", Match.any_value()) == []


def test_an_unknown_migration_step_is_refused(tmp_path_factory: pytest.TempPathFactory) -> None:
    with pytest.raises(ValueError, match="speakerIndexMigration is 'remove'; expected one of: add, drop"):
        build_app(outdir=str(tmp_path_factory.mktemp("cdk.out")), context={"speakerIndexMigration": "remove"})


# ------------------------------------------------------------------------------------------- Lambda


SETTINGS_VALUES = {
    "JOBS_TABLE": "JobsTable",
    "SPEAKERS_TABLE": "SpeakersTable",
    "DOMAINS_TABLE": "DomainsTable",
    "WATCHLISTS_TABLE": "WatchlistsTable",
    "FRAUDSTERS_TABLE": "FraudstersTable",
    "WORK_BUCKET": "WorkBucket",
    "INBOX_BUCKET": "InboxBucket",
    "OUTPUT_BUCKET": "OutputBucket",
    "KMS_KEY_ID": "Key.Arn",
    "DEFAULT_DATA_ACCESS_ROLE_ARN": "DefaultDataAccessRole.Arn",
    "DATA_ACCESS_EXTERNAL_ID": "SpeakerEnrollmentStack",
    "MAX_REQUESTS_PER_JOB": "10000",
    "SPEAKER_QUOTA": "100000",
    "SHARD_SIZE": "20",
    "MAX_AUDIO_FILE_BYTES": "20971520",
    "VOICEPRINT_THREADS": "0",
    "WATCHLIST_QUOTA": "3",
    "FRAUDSTER_QUOTA": "500",
    "SPEAKER_RETENTION_DAYS": "1095",
    "MAX_SPEECH_SECONDS": "120",
    "MIN_EVALUATION_SPEECH_SECONDS": "10",
    "SESSION_RETENTION_DAYS": "30",
    "VOICEPRINT_KEY_CACHE_SECONDS": "60",
    "POWERTOOLS_SERVICE_NAME": "speaker-enrollment",
    "POWERTOOLS_METRICS_NAMESPACE": "SpeakerEnrollment",
    "LOG_LEVEL": "INFO",
}


@pytest.mark.parametrize("function_id", ALL_FUNCTION_IDS)
def test_functions_match_the_architecture(synth: Synthesized, function_id: str) -> None:
    props = synth.resource(function_id)["Properties"]
    handler, memory = HANDLERS[function_id]
    assert props["Handler"] == handler
    assert props["MemorySize"] == memory
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert render(props["Role"], synth.names) == f"{function_id}Role.Arn"
    assert render(props["LoggingConfig"], synth.names) == {"LogGroup": f"{function_id}Logs"}
    assert render(props["KmsKeyArn"], synth.names) == "Key.Arn"
    assert len(props["Layers"]) == 1
    variables = render(props["Environment"]["Variables"], synth.names)
    assert set(variables) == SETTINGS_VARIABLES | EXTRA_VARIABLES.get(function_id, set())
    assert {name: variables[name] for name in SETTINGS_VARIABLES} == SETTINGS_VALUES


class RecordingEnvironment(dict[str, str]):
    """An environment that answers every variable with a value valid for any of them ("60") and remembers which
    ones were read."""

    def __init__(self) -> None:
        super().__init__()
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return "60"

    def get(self, name: str, default: Any = None) -> str:
        self.read.add(name)
        return "60"


def test_functions_set_every_variable_the_settings_read(synth: Synthesized) -> None:
    """Contract with speaker_enrollment.settings: a variable added there must be set by the stack (the
    workflow functions leave out the API's own, whose Settings fields are optional)."""
    environment = RecordingEnvironment()
    Settings.from_env(environment)
    assert environment.read >= {"JOBS_TABLE", "WORK_BUCKET", "STATE_MACHINE_ARN", "WATCHLISTS_TABLE"}
    needed = environment.read - LAMBDA_SETS
    for function_id in ALL_FUNCTION_IDS:
        variables = set(synth.resource(function_id)["Properties"]["Environment"]["Variables"])
        not_needed = (API_VARIABLES | SESSION_VARIABLES | MAINTENANCE_VARIABLES) - EXTRA_VARIABLES.get(function_id,
                                                                                                   set())
        assert needed - not_needed <= variables, function_id


def test_submit_knows_the_state_machine(synth: Synthesized) -> None:
    variables = synth.resource("SubmitJobFunction")["Properties"]["Environment"]["Variables"]
    assert render(variables["STATE_MACHINE_ARN"], synth.names) == "StateMachine"


def test_the_api_function_knows_the_state_machine_and_token_key(synth: Synthesized) -> None:
    variables = render(synth.resource(API_FUNCTION_ID)["Properties"]["Environment"]["Variables"], synth.names)
    assert {name: variables[name] for name in API_VARIABLES} == {
        "STATE_MACHINE_ARN": "StateMachine",
        "API_TOKEN_KEY_ID": "TokenKey.Arn",
        "ACCOUNT_ID": "${AWS::AccountId}",
    }
    assert synth.resource(API_FUNCTION_ID)["Properties"]["Timeout"] == 29  # API Gateway's integration timeout


def test_functions_share_one_code_asset_and_one_arm64_python312_layer(synth: Synthesized) -> None:
    layers = synth.of_type("AWS::Lambda::LayerVersion")
    assert len(layers) == 1
    ((layer_id, layer),) = layers.items()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    codes = {json.dumps(synth.resource(f)["Properties"]["Code"], sort_keys=True) for f in ALL_FUNCTION_IDS}
    assert len(codes) == 1
    for function_id in ALL_FUNCTION_IDS:
        assert synth.resource(function_id)["Properties"]["Layers"] == [{"Ref": layer_id}]


def test_log_groups_keep_a_year_encrypted_with_the_key(synth: Synthesized) -> None:
    groups = synth.of_type("AWS::Logs::LogGroup")
    assert {synth.names[lid] for lid in groups} == {f"{f}Logs" for f in ALL_FUNCTION_IDS} | {
        "StateMachineLogs",
        "MaintenanceStateMachineLogs",
        "AccessLogs",
    }
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 365
        assert render(group["Properties"]["KmsKeyId"], synth.names) == "Key.Arn"


def test_the_key_lets_cloudwatch_logs_encrypt_this_accounts_log_groups(synth: Synthesized) -> None:
    statements = synth.resource("Key")["Properties"]["KeyPolicy"]["Statement"]
    logs = next(s for s in statements if s.get("Sid") == "AllowCloudWatchLogsOfThisAccount")
    assert render(logs["Principal"], synth.names) == {"Service": "logs.${AWS::Region}.amazonaws.com"}
    assert render(logs["Condition"], synth.names) == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": (
                "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
            )
        }
    }


# ------------------------------------------------------------------------------------------- IAM


def test_fail_job_can_only_update_jobs_and_report_its_own_failures(synth: Synthesized) -> None:
    dead_letters = {(f"sqs:{action}", "DeadLetterQueue.Arn")
                    for action in ("SendMessage", "GetQueueAttributes", "GetQueueUrl")}
    queue_key = {("kms:GenerateDataKey*", "Key.Arn"), ("kms:ReEncrypt*", "Key.Arn")}
    assert function_permissions(synth, "FailJobFunction") == (
        {("dynamodb:UpdateItem", "JobsTable.Arn")} | kms(KMS_WRITE) | dead_letters | queue_key)


def test_submit_job_permissions(synth: Synthesized) -> None:
    assert function_permissions(synth, "SubmitJobFunction") == {
        ("dynamodb:GetItem", "JobsTable.Arn"),
        ("dynamodb:PutItem", "JobsTable.Arn"),
        ("dynamodb:GetItem", "DomainsTable.Arn"),
        ("dynamodb:GetItem", "WatchlistsTable.Arn"),
        ("s3:GetObject", "InboxBucket.Arn/manifests/*"),
        ("s3:GetObject", "InboxBucket.Arn/fraudsters/*"),
        ("s3:GetObject", "InboxBucket.Arn/evaluations/*"),
        ("s3:GetObjectVersion", "InboxBucket.Arn/manifests/*"),  # the version the event names
        ("s3:GetObjectVersion", "InboxBucket.Arn/fraudsters/*"),
        ("s3:GetObjectVersion", "InboxBucket.Arn/evaluations/*"),
        ("states:StartExecution", "StateMachine"),
        # Its failed asynchronous invocations go to the dead-letter queue (CDK's SqsDestination grant).
        ("sqs:SendMessage", "DeadLetterQueue.Arn"),
        ("sqs:GetQueueAttributes", "DeadLetterQueue.Arn"),
        ("sqs:GetQueueUrl", "DeadLetterQueue.Arn"),
    } | kms(KMS_WRITE | {"kms:GenerateDataKey*", "kms:ReEncrypt*"})


# Only roles tagged speaker-enrollment:data-access=true, sessions tagged DomainId/JobId only (conditions: '?').
ASSUME_OPTED_IN_ROLES = {
    ("sts:AssumeRole", "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*?"),
    ("sts:TagSession", "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*?"),
}


def test_prepare_job_permissions(synth: Synthesized) -> None:
    assert function_permissions(synth, "PrepareJobFunction") == {
        ("dynamodb:GetItem", "JobsTable.Arn"),
        ("dynamodb:PutItem", "JobsTable.Arn"),
        ("dynamodb:UpdateItem", "JobsTable.Arn"),
        ("dynamodb:Query", "JobsTable.Arn"),  # the progress markers' sum
        ("s3:PutObject", "WorkBucket.Arn/jobs/*"),
        *ASSUME_OPTED_IN_ROLES,
    } | kms(KMS_WRITE)


def test_enroll_shard_permissions(synth: Synthesized) -> None:
    assert function_permissions(synth, "EnrollShardFunction") == {
        ("s3:GetObject", "WorkBucket.Arn/jobs/*/shards/*"),
        ("s3:PutObject", "WorkBucket.Arn/jobs/*/results/*"),
        ("s3:GetObject", "WorkBucket.Arn/jobs/*/results/*"),  # a continuation reads what its shard recorded
        ("s3:ListBucket", "WorkBucket.Arn"),  # so a missing result file reads as 404
        ("dynamodb:GetItem", "SpeakersTable.Arn"),
        ("dynamodb:PutItem", "SpeakersTable.Arn"),
        ("dynamodb:UpdateItem", "SpeakersTable.Arn"),  # count slots, OVERWRITE, an evaluation's LastAccessedAt
        ("dynamodb:Query", "SpeakersTable.Arn/index/GeneratedSpeakerIdKeys"),  # evaluations by GeneratedSpeakerId
        ("dynamodb:GetItem", "DomainsTable.Arn"),  # the first release's SpeakerCount
        ("dynamodb:Query", "FraudstersTable.Arn"),
        # Fraudster registration: a request's earlier result, a new fraudster and its watchlist's count.
        ("dynamodb:GetItem", "FraudstersTable.Arn"),
        ("dynamodb:PutItem", "FraudstersTable.Arn"),
        ("dynamodb:GetItem", "WatchlistsTable.Arn"),
        ("dynamodb:UpdateItem", "WatchlistsTable.Arn"),
        ("dynamodb:GetItem", "JobsTable.Arn"),
        ("dynamodb:PutItem", "JobsTable.Arn"),
        ("dynamodb:UpdateItem", "JobsTable.Arn"),
        ("dynamodb:Query", "JobsTable.Arn"),
        *ASSUME_OPTED_IN_ROLES,
    } | kms(KMS_WRITE) | DOMAIN_KEYS


def test_finalize_job_permissions(synth: Synthesized) -> None:
    assert function_permissions(synth, "FinalizeJobFunction") == {
        ("s3:GetObject", "WorkBucket.Arn/jobs/*"),
        ("s3:ListBucket", "WorkBucket.Arn"),
        ("dynamodb:GetItem", "JobsTable.Arn"),
        ("dynamodb:UpdateItem", "JobsTable.Arn"),
        ("dynamodb:GetItem", "SpeakersTable.Arn"),  # what a failed shard's requests wrote, if anything
        ("dynamodb:GetItem", "FraudstersTable.Arn"),
        *ASSUME_OPTED_IN_ROLES,
    } | kms(KMS_WRITE) | DOMAIN_KEYS


def test_api_function_permissions(synth: Synthesized) -> None:
    tables = {  # the calls of the implemented operations (stacks/api.py says which needs which)
        "DomainsTable.Arn": ("GetItem", "PutItem", "UpdateItem", "Scan"),
        "JobsTable.Arn": ("GetItem", "PutItem", "Query"),
        "SpeakersTable.Arn": ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"),
        "SpeakersTable.Arn/index/GeneratedSpeakerIdKeys": ("Query",),
        "WatchlistsTable.Arn": ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"),
        "FraudstersTable.Arn": ("GetItem", "PutItem", "DeleteItem", "Query"),
        "SessionsTable.Arn": ("GetItem",),  # EvaluateSession (granted by stacks/sessions.py)
    }
    assert function_permissions(synth, API_FUNCTION_ID) == {
        *((f"dynamodb:{action}", table) for table, actions in tables.items() for action in actions),
        ("kms:GenerateMac", "TokenKey.Arn"),
        ("kms:VerifyMac", "TokenKey.Arn"),
        ("states:StartExecution", "StateMachine"),
        ("states:StartExecution", "MaintenanceStateMachine"),  # DeleteDomain's purge, UpdateDomain's re-encryption
        # Authorization: the caller's policies simulated (a session as its role, found by name).
        ("iam:SimulatePrincipalPolicy", "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"),
        ("iam:SimulatePrincipalPolicy", "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"),
        ("iam:GetRole", "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"),
    } | kms(KMS_WRITE) | DOMAIN_KEYS  # no S3 (Start only validates URIs), no iam:PassRole, no sts:AssumeRole


def test_only_the_voiceprint_functions_use_domain_keys_and_only_with_the_cipher_context(synth: Synthesized) -> None:
    users = set()
    for role, statement in _statements_anywhere(synth):
        if "key/*" not in json.dumps(render(statement["Resource"], synth.names)):
            continue
        users.add(role)
        assert sorted(as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
        assert statement["Condition"] == {
            "Null": {"kms:EncryptionContext:voiceid:DomainId": "false"},
            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["voiceid:DomainId"]},
        }
    assert users == {"EnrollShardFunctionRole", "FinalizeJobFunctionRole", f"{API_FUNCTION_ID}Role",
                     "EvaluateSessionFunctionRole", f"{MAINTAIN_FUNCTION_ID}Role"}  # the last: re-encryption


def test_evaluate_session_permissions(synth: Synthesized) -> None:
    dead_letters = {(f"sqs:{action}", "DeadLetterQueue.Arn")
                    for action in ("SendMessage", "GetQueueAttributes", "GetQueueUrl")}
    assert function_permissions(synth, SESSION_FUNCTION_ID) == {
        *((f"s3:{action}", "InboxBucket.Arn/sessions/*")  # the recording, its metadata, the voiceid-error tag
          for action in ("GetObject", "GetObjectVersion", "PutObjectTagging", "PutObjectVersionTagging")),
        ("dynamodb:GetItem", "SessionsTable.Arn"),
        ("dynamodb:PutItem", "SessionsTable.Arn"),
        ("dynamodb:GetItem", "DomainsTable.Arn"),
        ("dynamodb:GetItem", "WatchlistsTable.Arn"),
        ("dynamodb:GetItem", "SpeakersTable.Arn"),
        ("dynamodb:UpdateItem", "SpeakersTable.Arn"),  # LastAccessedAt on ACCEPT
        ("dynamodb:Query", "SpeakersTable.Arn/index/GeneratedSpeakerIdKeys"),
        ("dynamodb:Query", "FraudstersTable.Arn"),
    } | dead_letters | kms(KMS_WRITE | {"kms:GenerateDataKey*", "kms:ReEncrypt*"}) | DOMAIN_KEYS  # no sts


def test_sessions_expire_with_their_ttl(synth: Synthesized) -> None:
    props = synth.resource("SessionsTable")["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ExpiresAt", "Enabled": True}


def test_the_session_rule_sends_session_uploads_to_the_session_function(synth: Synthesized) -> None:
    props = synth.resource("SessionUploadedRule")["Properties"]
    inbox_ref = json.dumps({"Ref": synth.logical("InboxBucket")})
    pattern = json.loads(json.dumps(props["EventPattern"]).replace(inbox_ref, json.dumps(INBOX_NAME)))
    for key in (f"sessions/{DOMAIN_ID}/contact-1.wav", f"sessions/{DOMAIN_ID}/3f1c-9a.flac"):
        assert event_matches(pattern, s3_object_created(key)), key
    for key in (f"manifests/{DOMAIN_ID}/x.json", "sessions/x.wav", f"audio/{DOMAIN_ID}/x.wav"):
        assert not event_matches(pattern, s3_object_created(key)), key
    assert not event_matches(pattern, s3_object_created(f"sessions/{DOMAIN_ID}/a.wav", bucket="other"))
    (target,) = props["Targets"]
    assert render(target["Arn"], synth.names) == f"{SESSION_FUNCTION_ID}.Arn"
    assert render(target["DeadLetterConfig"], synth.names) == {"Arn": "DeadLetterQueue.Arn"}
    assert synth.resource(SESSION_FUNCTION_ID)["Properties"]["Timeout"] == 120


def _statements_anywhere(synth: Synthesized) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every identity-policy statement with the role it is attached to (readable name)."""
    for policy in synth.of_type("AWS::IAM::Policy").values():
        for role in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                yield synth.names.get(role["Ref"], role["Ref"]), statement


def test_only_submit_and_the_api_start_jobs_and_only_the_api_and_the_schedule_start_maintenance(
    synth: Synthesized
) -> None:
    started: dict[str, set[str]] = {}
    for role, statement in _statements_anywhere(synth):
        if "states:StartExecution" in as_list(statement["Action"]):
            for resource in as_list(render(statement["Resource"], synth.names)):
                started.setdefault(str(resource), set()).add(role)
    # The state machine's own role starts the distributed map's child executions (of itself only).
    assert started == {"StateMachine": {"SubmitJobFunctionRole", f"{API_FUNCTION_ID}Role", "StateMachineRole"},
                       "MaintenanceStateMachine": {f"{API_FUNCTION_ID}Role", f"{SCHEDULE_FUNCTION_ID}Role"}}


def test_nothing_but_finalize_via_the_data_role_writes_the_output_bucket(synth: Synthesized) -> None:
    writers = set()
    for role, statement in _statements_anywhere(synth):
        if "OutputBucket" in json.dumps(render(statement["Resource"], synth.names)):
            writers.add(role)
    assert writers == {"DefaultDataAccessRole"}


def test_only_the_data_access_functions_assume_roles(synth: Synthesized) -> None:
    assumers = {role for role, s in _statements_anywhere(synth) if "sts:AssumeRole" in as_list(s["Action"])}
    assert assumers == {"PrepareJobFunctionRole", "EnrollShardFunctionRole", "FinalizeJobFunctionRole"}


def test_functions_assume_only_roles_that_opt_in_and_tag_sessions_with_domain_and_job(synth: Synthesized) -> None:
    """0 roles assumable without opting in: every sts:AssumeRole a function has is conditioned on the role's tag,
    and its session tags are limited to DomainId and JobId (which a role's trust policy can pin)."""
    found = 0
    for role, statement in _statements_anywhere(synth):
        actions = as_list(statement["Action"])
        if "sts:AssumeRole" in actions:
            found += 1
            assert actions == ["sts:AssumeRole"], role
            assert statement["Condition"] == {
                "StringEquals": {"aws:ResourceTag/speaker-enrollment:data-access": "true"}}, role
        if "sts:TagSession" in actions:
            assert statement["Condition"] == {"ForAllValues:StringEquals": {"aws:TagKeys": ["DomainId", "JobId"]}}
    assert found == 3
    tags = synth.resource("DefaultDataAccessRole")["Properties"]["Tags"]
    assert {"Key": "speaker-enrollment:data-access", "Value": "true"} in tags  # the stack's own role opts in


def test_the_api_simulates_only_principals_of_its_account(synth: Synthesized) -> None:
    simulated = {render(s["Resource"], synth.names) for _, s in _statements_anywhere(synth)
                 if "iam:SimulatePrincipalPolicy" in as_list(s["Action"])}
    assert simulated == {"arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*",
                         "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"}


def test_no_function_role_has_wildcard_actions_beyond_cdk_grants(synth: Synthesized) -> None:
    for function_id in ALL_FUNCTION_IDS:
        for action, resource in function_permissions(synth, function_id):
            assert resource != "*", (function_id, action)
            assert "*" not in action or action in {"kms:GenerateDataKey*", "kms:ReEncrypt*"}, (function_id, action)


def test_function_roles_are_assumed_by_lambda_only(synth: Synthesized) -> None:
    for function_id in ALL_FUNCTION_IDS:
        role = synth.resource(f"{function_id}Role")["Properties"]
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]
        assert "ManagedPolicyArns" not in role


def test_default_data_access_role_is_trusted_by_the_data_functions_and_reads_inbox_writes_output(
    synth: Synthesized,
) -> None:
    trust = synth.resource("DefaultDataAccessRole")["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert len(trust) == 1 and trust[0]["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert trust[0]["Condition"] == {"StringEquals": {"sts:ExternalId": "SpeakerEnrollmentStack"}}
    assert sorted(render(trust[0]["Principal"]["AWS"], synth.names)) == [
        "EnrollShardFunctionRole.Arn",
        "FinalizeJobFunctionRole.Arn",
        "PrepareJobFunctionRole.Arn",
    ]
    allowed = permissions(synth, "DefaultDataAccessRole")
    assert allowed == {
        *((a, r) for a in INBOX_READ for r in ("InboxBucket.Arn", "InboxBucket.Arn/*")),
        ("s3:PutObject", "OutputBucket.Arn/*"),
        ("kms:Decrypt", "Key.Arn"),
        ("kms:DescribeKey", "Key.Arn"),
        ("kms:GenerateDataKey", "Key.Arn"),
    }


def test_state_machine_role_can_read_shard_lists_and_decrypt_them(synth: Synthesized) -> None:
    allowed = permissions(synth, "StateMachineRole")
    # The S3 ItemReader reads jobs/<JobId>/shards.json (SSE-KMS): CDK grants GetObject, we grant decrypt.
    assert ("s3:GetObject", "arn:${AWS::Partition}:s3:::WorkBucket/*") in allowed
    assert ("kms:Decrypt", "Key.Arn") in allowed
    invoked = {r for a, r in allowed if a == "lambda:InvokeFunction"}
    for function_id in ("PrepareJobFunction", "EnrollShardFunction", "FinalizeJobFunction", "FailJobFunction"):
        assert f"{function_id}.Arn" in invoked
    assert "SubmitJobFunction.Arn" not in invoked
    assert not {a for a, _ in allowed if a.startswith(("dynamodb:", "sts:"))}


# ------------------------------------------------------------------------------------------- the Voice ID API


def test_the_api_has_one_method_post_root_with_iam_auth_proxying_to_the_function(synth: Synthesized) -> None:
    rest_api = synth.logical("RestApi")
    methods = list(synth.of_type("AWS::ApiGateway::Method").values())
    assert len(methods) == 1
    for method in methods:  # every method: IAM (SigV4) authorization
        assert method["Properties"]["AuthorizationType"] == "AWS_IAM"
    method = render(methods[0]["Properties"], synth.names)
    assert method["HttpMethod"] == "POST"
    assert method["ResourceId"] == "RestApi.RootResourceId"
    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert method["Integration"]["Uri"].endswith(f"/functions/{API_FUNCTION_ID}.Arn/invocations")
    assert method["RequestParameters"] == {"method.request.header.X-Amz-Target": True}
    validator = synth.resources[methods[0]["Properties"]["RequestValidatorId"]["Ref"]]["Properties"]
    assert validator["RestApiId"] == {"Ref": rest_api}
    assert validator["ValidateRequestParameters"] is True
    assert not synth.of_type("AWS::ApiGateway::Resource")  # nothing but the root: POST / as Voice ID
    assert synth.resource("RestApi")["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}


def test_only_the_stage_post_method_may_invoke_the_api_function(synth: Synthesized) -> None:
    permissions_ = [render(p["Properties"], synth.names) for p in synth.of_type("AWS::Lambda::Permission").values()]
    api_permissions = [p for p in permissions_ if p["FunctionName"] == f"{API_FUNCTION_ID}.Arn"]
    assert api_permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": f"{API_FUNCTION_ID}.Arn",
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:RestApi/Stage/POST/",
        }
    ]


def test_the_stage_is_traced_throttled_and_logs_access_as_json_to_an_encrypted_group(synth: Synthesized) -> None:
    stage = render(synth.resource("Stage")["Properties"], synth.names)
    assert stage["StageName"] == "v1"
    assert stage["TracingEnabled"] is True
    assert stage["MethodSettings"] == [
        {
            "HttpMethod": "*",
            "ResourcePath": "/*",
            "LoggingLevel": "ERROR",
            "DataTraceEnabled": False,
            "MetricsEnabled": True,
            "ThrottlingRateLimit": 50,
            "ThrottlingBurstLimit": 100,
        }
    ]
    access = stage["AccessLogSetting"]
    log_groups = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group"
    assert access["DestinationArn"] == f"{log_groups}:AccessLogs"
    fields = json.loads(access["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["userArn"] == "$context.identity.userArn"
    assert fields["status"] == "$context.status"
    access_logs = synth.resource("AccessLogs")["Properties"]
    assert render(access_logs["KmsKeyId"], synth.names) == "Key.Arn"


def test_api_gateway_logs_with_the_account_cloudwatch_role(synth: Synthesized) -> None:
    role = synth.resource("ApiGatewayCloudWatchRole")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }
    assert render(role["Properties"]["ManagedPolicyArns"], synth.names) == [
        "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    ]
    assert role["DeletionPolicy"] == "Retain"  # other APIs of the account keep logging after this stack
    (account,) = synth.of_type("AWS::ApiGateway::Account").values()
    assert render(account["Properties"], synth.names) == {"CloudWatchRoleArn": "ApiGatewayCloudWatchRole.Arn"}
    assert synth.logical("ApiGatewayCloudWatchRole") not in {
        r["Ref"] for p in synth.of_type("AWS::IAM::Policy").values() for r in p["Properties"]["Roles"]
    }


def test_gateway_refusals_answer_in_the_voice_id_error_shape(synth: Synthesized) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]["ResponseTemplates"]["application/json"]
        for r in synth.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) == {response_type.response_type for response_type, _ in GATEWAY_ERRORS}
    for response_type, exception in GATEWAY_ERRORS:
        body = json.loads(responses[response_type.response_type].replace("$context.error.messageString", '"m"'))
        assert body == {"__type": exception, "message": "m"}
    voice_id_errors = set(boto_session().get_service_model("voice-id").error_shapes)
    assert {"AccessDeniedException", "ThrottlingException", "ValidationException", "InternalServerException"} <= {
        shape.name for shape in voice_id_errors
    }


# ------------------------------------------------------------------------------------------- Step Functions


def test_state_machine_is_standard_logged_and_traced(synth: Synthesized) -> None:
    props = synth.resource("StateMachine")["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert render(props["LoggingConfiguration"], synth.names) == {
        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": "StateMachineLogs.Arn"}}],
        "IncludeExecutionData": False,
        "Level": "ALL",
    }


def test_definition_top_level_flow(synth: Synthesized) -> None:
    asl = definition(synth)
    assert asl["StartAt"] == "PrepareJob"
    states = asl["States"]
    assert set(states) == {"PrepareJob", "EnrollShards", "FinalizeJob", "FailJob", "JobFailed"}
    assert states["PrepareJob"]["Next"] == "EnrollShards"
    assert states["EnrollShards"]["Next"] == "FinalizeJob"
    assert states["FinalizeJob"]["End"] is True
    assert states["FailJob"]["Next"] == "JobFailed"
    assert states["JobFailed"]["Type"] == "Fail"
    for name in ("PrepareJob", "EnrollShards", "FinalizeJob"):
        assert states[name]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.Error", "Next": "FailJob"}]
    assert "Catch" not in states["FailJob"]


@pytest.mark.parametrize(
    ("state", "function_id"),
    [("PrepareJob", "PrepareJobFunction"), ("FinalizeJob", "FinalizeJobFunction"), ("FailJob", "FailJobFunction")],
)
def test_lambda_tasks_call_the_function_arn_directly(synth: Synthesized, state: str, function_id: str) -> None:
    task = definition(synth)["States"][state]
    assert task["Type"] == "Task"
    assert task["Resource"] == f"arn:aws:lambda:us-east-1:123456789012:function:{function_id}"
    assert task["Retry"] == RETRY


def test_finalize_gets_domain_job_and_shard_count(synth: Synthesized) -> None:
    assert definition(synth)["States"]["FinalizeJob"]["Parameters"] == {
        "DomainId.$": "$.DomainId",
        "JobId.$": "$.JobId",
        "ShardCount.$": "$.ShardCount",
    }
    assert "Parameters" not in definition(synth)["States"]["PrepareJob"]


def test_enroll_shards_is_a_distributed_map_over_the_shard_list(synth: Synthesized) -> None:
    enroll = definition(synth)["States"]["EnrollShards"]
    assert enroll["Type"] == "Map"
    assert enroll["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket": "workbucket", "Key.$": "$.ShardsKey"},
    }
    assert enroll["ResultPath"] is None
    assert enroll["MaxConcurrency"] == 10
    processor = enroll["ItemProcessor"]
    assert processor["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert processor["StartAt"] == "EnrollShard"
    assert set(processor["States"]) == {"EnrollShard", "ShardDone", "ShardEnded", "ShardFailed"}


def test_enroll_shard_retries_service_errors_and_catches_everything(synth: Synthesized) -> None:
    states = definition(synth)["States"]["EnrollShards"]["ItemProcessor"]["States"]
    shard = states["EnrollShard"]
    assert shard["Resource"] == "arn:aws:lambda:us-east-1:123456789012:function:EnrollShardFunction"
    assert "Parameters" not in shard  # the item {"DomainId","JobId","ShardIndex","ShardKey"} is the input
    assert shard["Retry"] == RETRY
    assert shard["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "ShardFailed"}]
    assert shard["TimeoutSeconds"] == 960  # the function's 15 minutes plus one
    assert shard["Next"] == "ShardDone"
    # A shard short of time returns Done false and is continued where it stopped.
    assert states["ShardDone"] == {"Type": "Choice", "Choices": [
        {"Variable": "$.Done", "BooleanEquals": False, "Next": "EnrollShard"}], "Default": "ShardEnded"}
    # Whatever happens, a child's output is empty: the Map collects them (256 KiB state limit).
    assert states["ShardFailed"] == {"Type": "Pass", "Result": {}, "End": True}
    assert states["ShardEnded"] == {"Type": "Pass", "Result": {}, "End": True}


def test_definition_avoids_what_the_local_engine_cannot_run(synth: Synthesized) -> None:
    keys = {key for key, _ in walk(definition(synth))}
    for unsupported in (
        "ItemBatcher",
        "ItemsPointer",
        "ResultWriter",
        "ToleratedFailurePercentage",
        "ToleratedFailureCount",
        "ItemSelector",
    ):
        assert unsupported not in keys
    resources = [str(v) for k, v in walk(definition(synth)) if k == "Resource"]
    assert not [r for r in resources if r.startswith("arn:aws:states:::lambda:invoke")]


# ------------------------------------------------------------------------------------------- EventBridge

_MISSING = object()


def event_matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """EventBridge matching for the subset the stack uses: nested fields, exact values, prefix / suffix /
    wildcard filters (a `*` matches any run of characters, `/` included)."""
    for field, rule in pattern.items():
        value = event.get(field, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(rule, Mapping):
            if not event_matches(rule, value):
                return False
        elif not any(_filter_matches(f, value) for f in rule):
            return False
    return True


def _filter_matches(rule: Any, value: Any) -> bool:
    if value is _MISSING:
        return False
    if not isinstance(rule, Mapping):
        return bool(rule == value)
    ((operator, argument),) = rule.items()
    if not isinstance(value, str):
        return False
    if operator == "prefix":
        return value.startswith(argument)
    if operator == "suffix":
        return value.endswith(argument)
    if operator == "wildcard":
        parts = re.split(r"(?<!\\)(\*)", argument)  # unescaped stars; "\\*" is a literal star
        regex = "".join(".*" if part == "*" else re.escape(part.replace("\\*", "*")) for part in parts)
        return re.fullmatch(regex, value, flags=re.DOTALL) is not None
    raise NotImplementedError(f"EventBridge filter {operator!r} is not implemented by this matcher")


def s3_object_created(key: str, bucket: str = INBOX_NAME, detail_type: str = "Object Created") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-06-01T12:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": 512,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "sequencer": "00617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


@pytest.fixture(scope="session")
def rule_pattern(synth: Synthesized) -> dict[str, Any]:
    """The deployed rule's pattern, the inbox bucket Ref replaced by a name."""
    rule = synth.resource("ManifestUploadedRule")["Properties"]
    inbox_ref = json.dumps({"Ref": synth.logical("InboxBucket")})
    text = json.dumps(rule["EventPattern"]).replace(inbox_ref, json.dumps(INBOX_NAME))
    pattern: dict[str, Any] = json.loads(text)
    return pattern


DOMAIN_ID = "Ab3dEf6hIj9kLmN0pQr5tU"  # 22 alphanumerics
MATCHING = [f"manifests/{DOMAIN_ID}/x.json", f"manifests/{DOMAIN_ID}/batch 2026-06.json",
            f"fraudsters/{DOMAIN_ID}/x.json", f"evaluations/{DOMAIN_ID}/calls 2026-07.json"]
NOT_MATCHING = [
    "audio/a.wav",
    "fraudsters/x.json",
    f"fraudsters/{DOMAIN_ID}/a.wav",
    f"manifests/{DOMAIN_ID}/a.wav",
    f"manifests/{DOMAIN_ID}/x.json.out",
    "manifests/x.json",
    "evaluations/x.json",
    f"evaluations/{DOMAIN_ID}/call.wav",
    f"other/manifests/{DOMAIN_ID}/x.json",
]


def test_rule_pattern_is_the_documented_one(rule_pattern: dict[str, Any]) -> None:
    assert rule_pattern == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [INBOX_NAME]},
                   "object": {"key": [{"wildcard": "manifests/*/*.json"}, {"wildcard": "fraudsters/*/*.json"},
                                      {"wildcard": "evaluations/*/*.json"}]}},
    }


@pytest.mark.parametrize("key", MATCHING)
def test_a_manifest_upload_matches(rule_pattern: dict[str, Any], key: str) -> None:
    assert event_matches(rule_pattern, s3_object_created(key))


@pytest.mark.parametrize("key", NOT_MATCHING)
def test_audio_and_other_keys_do_not_match(rule_pattern: dict[str, Any], key: str) -> None:
    assert not event_matches(rule_pattern, s3_object_created(key))


def test_other_buckets_and_event_types_do_not_match(rule_pattern: dict[str, Any]) -> None:
    key = f"manifests/{DOMAIN_ID}/x.json"
    assert not event_matches(rule_pattern, s3_object_created(key, bucket="someone-elses-bucket"))
    assert not event_matches(rule_pattern, s3_object_created(key, detail_type="Object Deleted"))
    assert not event_matches(rule_pattern, {"source": "aws.s3", "detail-type": "Object Created"})


def test_local_matcher_agrees_with_motos_event_pattern(rule_pattern: dict[str, Any]) -> None:
    moto_pattern = EventPattern.load(json.dumps(rule_pattern))
    events = [s3_object_created(k) for k in MATCHING + NOT_MATCHING]
    events += [s3_object_created(MATCHING[0], bucket="other"), s3_object_created(MATCHING[0], detail_type="x")]
    for event in events:
        assert event_matches(rule_pattern, event) == moto_pattern.matches_event(event), event["detail"]  # type: ignore[arg-type]


def test_rule_targets_submit_with_a_dead_letter_queue_and_retries(synth: Synthesized) -> None:
    rule = synth.resource("ManifestUploadedRule")["Properties"]
    assert rule["State"] == "ENABLED"
    assert "EventBusName" not in rule  # the default bus, where S3 sends its events
    (target,) = rule["Targets"]
    assert render(target["Arn"], synth.names) == "SubmitJobFunction.Arn"
    assert render(target["DeadLetterConfig"], synth.names) == {"Arn": "DeadLetterQueue.Arn"}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 21600, "MaximumRetryAttempts": 8}
    configs = {render(c["Properties"]["FunctionName"], synth.names): render(c["Properties"], synth.names)
               for c in synth.of_type("AWS::Lambda::EventInvokeConfig").values()}
    assert set(configs) == {"SubmitJobFunction", "FailJobFunction", SESSION_FUNCTION_ID, SCHEDULE_FUNCTION_ID}
    for config in configs.values():
        assert config["DestinationConfig"] == {"OnFailure": {"Destination": "DeadLetterQueue.Arn"}}


def test_an_execution_that_fails_times_out_or_is_aborted_fails_its_job(synth: Synthesized) -> None:
    rule = synth.resource("ExecutionFailedRule")["Properties"]
    pattern = render(rule["EventPattern"], synth.names)
    assert pattern == {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
                       "detail": {"stateMachineArn": ["StateMachine"], "status": ["FAILED", "TIMED_OUT", "ABORTED"]}}
    (target,) = rule["Targets"]
    assert render(target["Arn"], synth.names) == "FailJobFunction.Arn"
    assert render(target["DeadLetterConfig"], synth.names) == {"Arn": "DeadLetterQueue.Arn"}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 8}


def test_dead_letter_queue_is_kms_encrypted_and_tls_only(synth: Synthesized) -> None:
    queue = synth.resource("DeadLetterQueue")["Properties"]
    assert render(queue["KmsMasterKeyId"], synth.names) == "Key.Arn"
    statements = [
        s
        for p in synth.of_type("AWS::SQS::QueuePolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    tls_only = {"Bool": {"aws:SecureTransport": "false"}}
    assert any(s["Effect"] == "Deny" and s["Condition"] == tls_only for s in statements)
    sender = next(s for s in statements if s["Effect"] == "Allow")
    assert sender["Principal"] == {"Service": "events.amazonaws.com"}
    assert render(sender["Condition"], synth.names) == {"ArnEquals": {"aws:SourceArn": "ManifestUploadedRule.Arn"}}
    key_statements = synth.resource("Key")["Properties"]["KeyPolicy"]["Statement"]
    events_key = next(s for s in key_statements if s.get("Sid") == "AllowEventBridgeToUseTheDeadLetterQueue")
    assert events_key["Principal"] == {"Service": "events.amazonaws.com"}


# ------------------------------------------------------------------------------------------- outputs, cfn-lint


def test_outputs(synth: Synthesized) -> None:
    outputs = {name: render(o["Value"], synth.names) for name, o in synth.raw["Outputs"].items()}
    assert outputs == {
        "InboxBucketName": "InboxBucket",
        "OutputBucketName": "OutputBucket",
        "WorkBucketName": "WorkBucket",
        "KmsKeyArn": "Key.Arn",
        "StateMachineArn": "StateMachine",
        "MaintenanceStateMachineArn": "MaintenanceStateMachine",
        "DefaultDataAccessRoleArn": "DefaultDataAccessRole.Arn",
        "DataAccessTrustedRoleArns": (
            "PrepareJobFunctionRole.Arn,EnrollShardFunctionRole.Arn,FinalizeJobFunctionRole.Arn"
        ),
        "DomainsTableName": "DomainsTable",
        "JobsTableName": "JobsTable",
        "SpeakersTableName": "SpeakersTable",
        "WatchlistsTableName": "WatchlistsTable",
        "FraudstersTableName": "FraudstersTable",
        "SessionsTableName": "SessionsTable",
        "VoiceIdApiEndpoint": "https://RestApi.execute-api.${AWS::Region}.${AWS::URLSuffix}/Stage/",
    }


# W3005 (a DependsOn already implied by a GetAtt): CDK makes each function and the state machine depend on
# their role's default policy *and* role explicitly, so the policy exists before the first invocation.
IGNORED_CFN_LINT_RULES = {"W3005"}


def test_cfn_lint_passes_with_the_definition_resolved(synth: Synthesized, tmp_path: Path) -> None:
    template = json.loads(json.dumps(synth.raw))
    state_machine = template["Resources"][synth.logical("StateMachine")]["Properties"]
    state_machine["DefinitionString"] = resolve_definition(state_machine["DefinitionString"], synth)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template, indent=1))
    matches = lint_file(path, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    findings = [f"{m.rule.id}: {m.message}" for m in matches if m.rule.id not in IGNORED_CFN_LINT_RULES]
    assert findings == []


def test_cfn_lint_does_check_the_resolved_definition(synth: Synthesized) -> None:
    """Guard for the test above: a broken state inside the resolved definition is reported."""
    template = json.loads(json.dumps(synth.raw))
    state_machine = template["Resources"][synth.logical("StateMachine")]["Properties"]
    asl = json.loads(resolve_definition(state_machine["DefinitionString"], synth))
    asl["States"]["JobFailed"]["Type"] = "Failed"
    state_machine["DefinitionString"] = json.dumps(asl)
    assert "E3601" in {m.rule.id for m in lint(json.dumps(template), regions=["us-east-1"])}


# ------------------------------------------------------------------------------------------- the build


def test_synth_without_the_layer_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"make lambda-layer"):
        build_app(outdir=str(tmp_path / "cdk.out"), layer_dir=tmp_path / "missing")


def test_synth_without_the_voiceprint_model_says_how_to_build_it(tmp_path: Path) -> None:
    """A deploy from a clone that skipped `make model` would ship functions that fail every shard."""
    code = tmp_path / "lambdas"
    (code / "speaker_enrollment").mkdir(parents=True)
    layer = tmp_path / "layer"
    (layer / "python").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"ge2e.npz is missing: run `make model`"):
        build_app(outdir=str(tmp_path / "cdk.out"), layer_dir=layer, code_dir=code)


def test_cdk_json_runs_app_py_and_sets_feature_flags() -> None:
    config = json.loads((ROOT / "cdk.json").read_text())
    assert config["app"].endswith("python app.py")
    assert config["context"]["@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"] is True
    assert config["context"]["@aws-cdk/aws-iam:minimizePolicies"] is True


def test_shard_concurrency_is_configurable_from_the_context(tmp_path: Path) -> None:
    """New accounts often have a Lambda concurrency limit of 10: the shards' MaxConcurrency and the shard
    function's reserved concurrency are deploy-time settings (``-c shardMaxConcurrency=…``)."""
    context = {"shardMaxConcurrency": "4", "shardReservedConcurrency": "8"}
    assert workflow_capacity(App(context=context)) == WorkflowCapacity(4, 8)
    assert workflow_capacity(App()) == WorkflowCapacity(10, None)
    layer = tmp_path / "layer"
    (layer / "python").mkdir(parents=True)
    stack = SpeakerEnrollmentStack(App(outdir=str(tmp_path / "out"), context=cdk_json_context()), "Sized",
                                   code_dir=ROOT / "lambdas",
                                   layer_dir=layer, capacity=WorkflowCapacity(4, 8))
    template = Template.from_stack(stack)
    shard = stack.workflow.functions["EnrollShardFunction"].node.default_child
    assert template.to_json()["Resources"][stack.resolve(shard.logical_id)]["Properties"][
        "ReservedConcurrentExecutions"] == 8
    definition = json.dumps(template.find_resources("AWS::StepFunctions::StateMachine"))
    assert '\\"MaxConcurrency\\":4' in definition


# ------------------------------------------------------------------------------------- domain maintenance


def maintenance_definition(synth: Synthesized) -> dict[str, Any]:
    props = synth.resource("MaintenanceStateMachine")["Properties"]
    document: dict[str, Any] = json.loads(resolve_definition(props["DefinitionString"], synth))
    return document


def test_maintenance_runs_pages_until_the_task_is_done_refused_or_failed_and_records_a_failure(
    synth: Synthesized
) -> None:
    states = maintenance_definition(synth)["States"]
    assert maintenance_definition(synth)["StartAt"] == "RunPage"
    assert states["RunPage"]["Next"] == "PageDone"
    assert states["RunPage"]["Retry"] == [RETRY[0], RETRY[2]]  # every page is idempotent: retried as job tasks
    assert states["RunPage"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.Error",
                                          "Next": "RecordFailure"}]
    choices = {choice["StringEquals"]: choice["Next"] for choice in states["PageDone"]["Choices"]}
    assert choices == {"RUNNING": "RunPage", "REFUSED": "Refused"} and states["PageDone"]["Default"] == "Done"
    assert states["RecordFailure"]["Next"] == "Failed" and states["Failed"]["Type"] == "Fail"
    assert states["Refused"]["Type"] == "Fail" and states["Done"]["Type"] == "Succeed"
    for state in ("RunPage", "RecordFailure"):
        assert states[state]["Resource"] == f"arn:aws:lambda:us-east-1:123456789012:function:{MAINTAIN_FUNCTION_ID}"


def test_maintenance_is_a_standard_logged_traced_state_machine_and_runs_daily(synth: Synthesized) -> None:
    props = synth.resource("MaintenanceStateMachine")["Properties"]
    assert props["StateMachineType"] == "STANDARD" and props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False  # inputs hold no speaker ids, still
    rule = synth.resource("DailyMaintenanceRule")["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 day)"
    (target,) = rule["Targets"]
    assert render(target["Arn"], synth.names) == f"{SCHEDULE_FUNCTION_ID}.Arn"
    assert render(target["DeadLetterConfig"], synth.names) == {"Arn": "DeadLetterQueue.Arn"}


def test_maintain_domain_permissions(synth: Synthesized) -> None:
    """Purge (every table keyed by DomainId; the jobs' work files; the inbox's uploads under the domain's prefixes,
    every version; running jobs stopped), expiry (a speaker deleted with its count slot) and re-encryption."""
    purge = ("Query", "BatchWriteItem", "DeleteItem")
    tables = {
        "SpeakersTable.Arn": (*purge, "GetItem", "UpdateItem"),
        "FraudstersTable.Arn": (*purge, "GetItem", "PutItem", "UpdateItem"),
        "WatchlistsTable.Arn": (*purge, "GetItem", "UpdateItem"),
        "SessionsTable.Arn": purge,
        "JobsTable.Arn": (*purge, "GetItem"),
        "DomainsTable.Arn": ("GetItem", "UpdateItem"),
    }
    inbox = {("s3:DeleteObjectVersion", f"InboxBucket.Arn/{prefix}/*")
             for prefix in ("manifests", "fraudsters", "evaluations", "sessions")}
    executions = ("arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
                  "{'Fn::Select': [6, {'Fn::Split': [':', 'StateMachine']}]}:*")  # the job workflow's executions
    assert function_permissions(synth, MAINTAIN_FUNCTION_ID) == {
        *((f"dynamodb:{action}", table) for table, actions in tables.items() for action in actions),
        ("s3:ListBucketVersions", "WorkBucket.Arn"), ("s3:DeleteObjectVersion", "WorkBucket.Arn/jobs/*"),
        ("s3:ListBucketVersions", "InboxBucket.Arn"), *inbox,
        ("states:StopExecution", executions),
    } | kms(KMS_WRITE) | DOMAIN_KEYS


def test_schedule_maintenance_permissions(synth: Synthesized) -> None:
    assert function_permissions(synth, SCHEDULE_FUNCTION_ID) == {
        ("dynamodb:Scan", "DomainsTable.Arn"),
        ("states:StartExecution", "MaintenanceStateMachine"),
        # Its failed asynchronous invocations go to the dead-letter queue (CDK's SqsDestination grant).
        ("sqs:SendMessage", "DeadLetterQueue.Arn"),
        ("sqs:GetQueueAttributes", "DeadLetterQueue.Arn"),
        ("sqs:GetQueueUrl", "DeadLetterQueue.Arn"),
    } | kms({"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"})
