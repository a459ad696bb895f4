"""The job workflow: the five Lambda functions and the Standard state machine of docs/architecture.md."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct
from speaker_enrollment.adapters.s3 import OPT_IN_TAG, OPT_IN_VALUE, SESSION_TAG_DOMAIN, SESSION_TAG_JOB
from speaker_enrollment.domain.workflow.errors import JobFailure
from speaker_enrollment.domain.workflow.kinds import JOB_TYPES
from speaker_enrollment.settings import Tunables
from speaker_enrollment.voiceprint.model import MODEL_ARTIFACT
from speaker_enrollment.voiceprint.vad import SILERO_ARTIFACT

from stacks.domain_keys import grant_domain_keys
from stacks.nag import acknowledge, acknowledge_wildcard, logical_id
from stacks.storage import EnrollmentStorage

LOG_RETENTION = logs.RetentionDays.ONE_YEAR
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
CODE_EXCLUDES = [
    "__pycache__",
    "**/__pycache__",
    "*.pyc",
    "**/*.pyc",
    ".mypy_cache",
    "**/.mypy_cache",
    ".pytest_cache",
    "**/.pytest_cache",
    ".ruff_cache",
    "**/.ruff_cache",
    "*.egg-info",
]
UPLOAD_PREFIXES = tuple(f"{job_type.upload_prefix}/*" for job_type in JOB_TYPES)  # one per kind of job
SHARD_OBJECTS = "jobs/*/shards/*"
RESULT_OBJECTS = "jobs/*/results/*"
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
# Every step is idempotent (conditional writes, results keyed by shard), so a function stopped at its timeout
# (Sandbox.Timedout) or by the task's own timeout is simply run again.
RETRIED_ERRORS = [*LAMBDA_SERVICE_ERRORS, "Sandbox.Timedout", sfn.Errors.TIMEOUT]
# What a retry cannot change: the job's own failures (a bad manifest, an unknown domain...), which register
# themselves by class name (speaker_enrollment.domain.workflow.errors). Anything else a function raises (a crashed
# runtime, a conflict or throttle still there after the adapters' own retries) is tried again a few times.
PERMANENT_ERRORS = sorted(JobFailure.known)
UNEXPECTED_ERROR_ATTEMPTS = 3


@dataclass(frozen=True)
class RetryPolicy:
    """CDK's LambdaInvoke default (6 attempts from 2 s, backoff 2) with full jitter and a ceiling, so throttled
    shards of many jobs do not retry in step: about 2 minutes of retries before a shard is given up."""

    interval_seconds: int = 2
    max_attempts: int = 6
    backoff_rate: float = 2.0
    max_delay_seconds: int = 60


@dataclass(frozen=True)
class WorkflowCapacity:
    """How many shards run at once, and the shard function's reserved concurrency (None: the account's pool).
    New accounts often have a concurrency limit of 10 for all functions: keep max_concurrency below it."""

    shard_max_concurrency: int = 10
    shard_reserved_concurrency: int | None = None


@dataclass(frozen=True)
class FunctionSpec:
    construct_id: str
    handler: str
    memory_mb: int
    timeout: Duration
    description: str


SUBMIT = FunctionSpec(
    "SubmitJobFunction",
    "speaker_enrollment.handlers.submit_job.handler",
    256,
    Duration.minutes(1),
    "S3 Object Created event for a manifest -> job record (SUBMITTED) -> StartExecution named after the JobId",
)
PREPARE = FunctionSpec(
    "PrepareJobFunction",
    "speaker_enrollment.handlers.prepare_job.handler",
    1024,
    Duration.minutes(5),
    "Reads and validates the manifest, marks the job IN_PROGRESS, writes the request shards",
)
ENROLL_SHARD = FunctionSpec(
    "EnrollShardFunction",
    "speaker_enrollment.handlers.enroll_shard.handler",
    3008,
    Duration.minutes(15),
    "Enrolls the requests of one shard, writes the shard's result file, adds to the job's progress",
)
FINALIZE = FunctionSpec(
    "FinalizeJobFunction",
    "speaker_enrollment.handlers.finalize_job.handler",
    1024,
    Duration.minutes(5),
    "Merges the shard results, writes the output file (SSE-KMS), sets the final job status",
)
FAIL = FunctionSpec(
    "FailJobFunction",
    "speaker_enrollment.handlers.fail_job.handler",
    256,
    Duration.minutes(1),
    "Catch-all: marks the job FAILED with FailureDetails",
)
ALL_FUNCTIONS = (SUBMIT, PREPARE, ENROLL_SHARD, FINALIZE, FAIL)
# The functions that read or write customer data through the job's DataAccessRoleArn (sts:AssumeRole).
DATA_ACCESS_FUNCTIONS = (PREPARE, ENROLL_SHARD, FINALIZE)


class FunctionFactory:
    """python3.12 arm64 functions from the one code asset and dependency layer, each with its own execution
    role and KMS-encrypted log group, X-Ray tracing and a KMS-encrypted environment (the workflow's functions
    and the Voice ID API's)."""

    def __init__(self, storage: EnrollmentStorage, code: lambda_.Code, layer: lambda_.ILayerVersion) -> None:
        self._storage = storage
        self._code = code
        self._layer = layer

    @staticmethod
    def role(scope: Construct, spec: FunctionSpec) -> iam.Role:
        return iam.Role(
            scope,
            f"{spec.construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Speaker enrollment {spec.construct_id} execution role",
        )

    def function(
        self, scope: Construct, spec: FunctionSpec, role: iam.Role, environment: dict[str, str]
    ) -> lambda_.Function:
        """The function ``spec`` in ``scope``, with its log group ``<construct id>Logs`` next to it."""
        log_group = encrypted_log_group(scope, f"{spec.construct_id}Logs", self._storage.key)
        log_group.grant_write(role)
        function = lambda_.Function(
            scope,
            spec.construct_id,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=self._code,
            layers=[self._layer],
            memory_size=spec.memory_mb,
            timeout=spec.timeout,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment=environment,
            environment_encryption=self._storage.key,
            description=spec.description,
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to python3.12: the dependency layer's wheels (numpy, soundfile, soxr, webrtcvad) are built "
            "for cp312 manylinux aarch64 by tools/build-lambda-layer.sh; the runtime moves with that build.",
        )
        acknowledge_wildcard(
            role,
            "Resource::*",
            "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support "
            "resource-level permissions.",
        )
        return function


def encrypted_log_group(scope: Construct, construct_id: str, key: kms.IKey) -> logs.LogGroup:
    """A log group kept a year, encrypted with the stack's key, retained like the stack's data."""
    return logs.LogGroup(
        scope, construct_id, retention=LOG_RETENTION, encryption_key=key, removal_policy=RemovalPolicy.RETAIN
    )


class EnrollmentWorkflow(Construct):
    """Lambda functions (one least-privilege role each), one dependency layer, and the state machine."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: EnrollmentStorage,
        code_dir: Path,
        layer_dir: Path,
        settings: Tunables | None = None,
        capacity: WorkflowCapacity | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._storage = storage
        self._capacity = capacity or WorkflowCapacity()
        self._retry = retry or RetryPolicy()
        self.layer = self._layer(layer_dir)
        code = lambda_.Code.from_asset(str(_with_model(code_dir)), exclude=CODE_EXCLUDES)
        self.function_factory = FunctionFactory(storage, code, self.layer)
        self.roles = {spec.construct_id: self.function_factory.role(self, spec) for spec in ALL_FUNCTIONS}
        data_role = storage.create_default_data_access_role([self.roles[s.construct_id] for s in DATA_ACCESS_FUNCTIONS])
        # The Settings variables every function gets (the API adds its own on top).
        self.environment = self._environment(settings or Tunables(), data_role)
        factory = self.function_factory
        self.functions = {
            spec.construct_id: factory.function(self, spec, self.roles[spec.construct_id], self.environment)
            for spec in ALL_FUNCTIONS
        }
        if self._capacity.shard_reserved_concurrency is not None:
            shard = self.functions[ENROLL_SHARD.construct_id].node.default_child
            assert isinstance(shard, lambda_.CfnFunction)
            shard.reserved_concurrent_executions = self._capacity.shard_reserved_concurrency
        self._grant_function_permissions()
        self.state_machine = self._state_machine()
        self._connect_submit_function()

    @property
    def submit_job_function(self) -> lambda_.Function:
        return self.functions[SUBMIT.construct_id]

    @property
    def fail_job_function(self) -> lambda_.Function:
        return self.functions[FAIL.construct_id]

    @property
    def data_access_role_arns(self) -> list[str]:
        """The execution roles that assume a job's DataAccessRoleArn (to read input and write output)."""
        return [self.roles[spec.construct_id].role_arn for spec in DATA_ACCESS_FUNCTIONS]

    # -- Lambda ------------------------------------------------------------------------------------

    def _layer(self, layer_dir: Path) -> lambda_.LayerVersion:
        if not (layer_dir / "python").is_dir():
            raise FileNotFoundError(
                f"Lambda layer directory {layer_dir}/python is missing: run `make lambda-layer` "
                "(tools/build-lambda-layer.sh) before synthesizing the stack."
            )
        return lambda_.LayerVersion(
            self,
            "DependenciesLayer",
            code=lambda_.Code.from_asset(str(layer_dir)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Speaker enrollment: third-party wheels (requirements.txt) for python3.12 arm64",
        )

    def _environment(self, settings: Tunables, data_role: iam.IRole) -> dict[str, str]:
        storage = self._storage
        return {
            "JOBS_TABLE": storage.jobs_table.table_name,
            "SPEAKERS_TABLE": storage.speakers_table.table_name,
            "DOMAINS_TABLE": storage.domains_table.table_name,
            "WATCHLISTS_TABLE": storage.watchlists_table.table_name,
            "FRAUDSTERS_TABLE": storage.fraudsters_table.table_name,
            "WORK_BUCKET": storage.work_bucket.bucket_name,
            "INBOX_BUCKET": storage.inbox_bucket.bucket_name,
            "OUTPUT_BUCKET": storage.output_bucket.bucket_name,
            "KMS_KEY_ID": storage.key.key_arn,
            "DEFAULT_DATA_ACCESS_ROLE_ARN": data_role.role_arn,
            "DATA_ACCESS_EXTERNAL_ID": Stack.of(self).stack_name,
            **settings.environment(),
            "POWERTOOLS_SERVICE_NAME": "speaker-enrollment",
            "POWERTOOLS_METRICS_NAMESPACE": "SpeakerEnrollment",
            "LOG_LEVEL": "INFO",
        }

    # -- Least-privilege grants per function -------------------------------------------------------

    def _grant_function_permissions(self) -> None:
        self._grant_submit(self.roles[SUBMIT.construct_id])
        self._grant_prepare(self.roles[PREPARE.construct_id])
        self._grant_enroll_shard(self.roles[ENROLL_SHARD.construct_id])
        self._grant_finalize(self.roles[FINALIZE.construct_id])
        self._grant_fail(self.roles[FAIL.construct_id])
        for spec in DATA_ACCESS_FUNCTIONS:
            self._grant_assume_data_access_roles(self.roles[spec.construct_id])

    # The actions below are exactly the calls the handlers make (speaker_enrollment.adapters); a
    # TransactWriteItems needs the permission of each item action it contains (Put -> PutItem, ...).

    def _grant_submit(self, role: iam.Role) -> None:
        storage = self._storage
        allow(role, "dynamodb", ["GetItem", "PutItem"], storage.jobs_table.table_arn)
        allow(role, "dynamodb", ["GetItem"], storage.domains_table.table_arn)
        # Watchlists: the watchlist-id metadata must name a watchlist of the domain.
        allow(role, "dynamodb", ["GetItem"], storage.watchlists_table.table_arn)
        # HeadObject of the uploaded manifest (metadata overrides) is authorized by s3:GetObject, of the version
        # the event names by s3:GetObjectVersion.
        for prefix in UPLOAD_PREFIXES:
            allow(role, "s3", ["GetObject", "GetObjectVersion"], storage.inbox_bucket.arn_for_objects(prefix))
            acknowledge_wildcard(
                role,
                f"Resource::<{logical_id(storage.inbox_bucket)}.Arn>/{prefix}",
                "Reads the metadata of the manifest whose upload triggered the event; manifests are uploaded as "
                f"{prefix[:-1]}<DomainId>/<name>.json (one prefix per kind of job) with keys chosen by the uploader.",
            )
        storage.grant_key_read_write(role)

    def _grant_prepare(self, role: iam.Role) -> None:
        storage = self._storage
        # GetItem (load), UpdateItem (IN_PROGRESS), PutItem + Query + UpdateItem (progress of invalid requests).
        allow(role, "dynamodb", ["GetItem", "PutItem", "UpdateItem", "Query"], storage.jobs_table.table_arn)
        allow(role, "s3", ["PutObject"], storage.work_bucket.arn_for_objects("jobs/*"))
        storage.grant_key_read_write(role)
        self._acknowledge_work_prefix(
            role, "jobs/*", "writes jobs/<JobId>/shards.json, jobs/<JobId>/shards/ and validation-errors.json"
        )

    def _grant_enroll_shard(self, role: iam.Role) -> None:
        storage = self._storage
        work = storage.work_bucket
        allow(role, "s3", ["GetObject"], work.arn_for_objects(SHARD_OBJECTS))
        # A continuation reads the results its shard recorded so far; a missing file must read as 404.
        allow(role, "s3", ["GetObject", "PutObject"], work.arn_for_objects(RESULT_OBJECTS))
        allow(role, "s3", ["ListBucket"], work.bucket_arn)
        # Speakers: GetItem (rules), PutItem (a new speaker, in a transaction with +1 on a count slot:
        # UpdateItem), UpdateItem (OVERWRITE of an existing one; an evaluation's ACCEPT moves LastAccessedAt);
        # Query of the GeneratedSpeakerId index (an evaluation naming the speaker by its GeneratedSpeakerId).
        allow(role, "dynamodb", ["GetItem", "PutItem", "UpdateItem"], storage.speakers_table.table_arn)
        storage.grant_speaker_lookup(role)
        # Domains: GetItem (the speakers the first release counted on the domain item, under the quota).
        allow(role, "dynamodb", ["GetItem"], storage.domains_table.table_arn)
        # Fraudsters: the fraud check and the duplicate check read the fraudsters of one watchlist once per shard
        # (Query); registration reads a request's earlier result (GetItem) and writes a new fraudster (PutItem)
        # in a transaction with its watchlist's FraudsterCount (Watchlists UpdateItem; GetItem tells a full
        # watchlist from a deleted one).
        allow(role, "dynamodb", ["Query", "GetItem", "PutItem"], storage.fraudsters_table.table_arn)
        allow(role, "dynamodb", ["GetItem", "UpdateItem"], storage.watchlists_table.table_arn)
        # Jobs: GetItem (load), PutItem (a segment's progress marker), Query (the markers' sum), UpdateItem
        # (PercentComplete).
        allow(role, "dynamodb", ["GetItem", "PutItem", "Query", "UpdateItem"], storage.jobs_table.table_arn)
        storage.grant_key_read_write(role)
        grant_domain_keys(role)  # seals new voiceprints, opens the watchlist's and the stored speakers'
        self._acknowledge_work_prefix(role, SHARD_OBJECTS, "reads its shard jobs/<JobId>/shards/<index>.json")
        self._acknowledge_work_prefix(role, RESULT_OBJECTS, "writes jobs/<JobId>/results/<index>.json (and a "
                                      "continuation reads what it wrote so far)")

    def _grant_finalize(self, role: iam.Role) -> None:
        storage = self._storage
        work = storage.work_bucket
        allow(role, "s3", ["GetObject"], work.arn_for_objects("jobs/*"))
        # A shard without a result file must read as 404 (not 403) so its requests become 500 entries.
        allow(role, "s3", ["ListBucket"], work.bucket_arn)
        allow(role, "dynamodb", ["GetItem", "UpdateItem"], storage.jobs_table.table_arn)
        # A request its shard did not record is reported from its speaker or fraudster, if that was written.
        allow(role, "dynamodb", ["GetItem"], storage.speakers_table.table_arn)
        allow(role, "dynamodb", ["GetItem"], storage.fraudsters_table.table_arn)
        storage.grant_key_read_write(role)
        grant_domain_keys(role)  # a speaker or fraudster read back opens its voiceprint
        self._acknowledge_work_prefix(role, "jobs/*", "reads the shards, results and validation errors of its job")

    def _grant_fail(self, role: iam.Role) -> None:
        storage = self._storage
        allow(role, "dynamodb", ["UpdateItem"], storage.jobs_table.table_arn)
        storage.grant_key_read_write(role)

    def _grant_assume_data_access_roles(self, role: iam.Role) -> None:
        """A job's DataAccessRoleArn is the caller's choice (as in Voice ID), so it is not known at deploy time: the
        functions may assume only roles of this account that opt in with the tag ``OPT_IN_TAG`` = ``true``, and tag
        their sessions with the job's DomainId and JobId only (the role's trust policy must allow both, and may pin
        ``sts:ExternalId`` to this stack's name and ``aws:RequestTag/DomainId`` to its domains)."""
        account_roles = Stack.of(self).format_arn(service="iam", region="", resource="role", resource_name="*")
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sts:AssumeRole"], resources=[account_roles],
            conditions={"StringEquals": {f"aws:ResourceTag/{OPT_IN_TAG}": OPT_IN_VALUE}},
        ))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sts:TagSession"], resources=[account_roles],
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [SESSION_TAG_DOMAIN, SESSION_TAG_JOB]}},
        ))
        acknowledge_wildcard(
            role,
            "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*",
            "Reads audio and manifests and writes the output file with the job's DataAccessRoleArn, which the "
            f"caller chooses per job (as in Voice ID), so the role is not known at deploy time. Only roles of this "
            f"account tagged {OPT_IN_TAG}=true can be assumed, and session tags are limited to DomainId and JobId; "
            "the API lets a job name a role only if its caller may iam:PassRole it, and the role's own trust policy "
            "must admit this function's role.",
        )

    def _acknowledge_work_prefix(self, role: iam.Role, prefix: str, what: str) -> None:
        acknowledge_wildcard(
            role,
            f"Resource::<{logical_id(self._storage.work_bucket)}.Arn>/{prefix}",
            f"Work bucket objects are keyed by JobId, known only at run time; this function {what}.",
        )

    # -- State machine -----------------------------------------------------------------------------

    def _state_machine(self) -> sfn.StateMachine:
        definition = Construct(self, "Definition")
        log_group = encrypted_log_group(self, "StateMachineLogs", self._storage.key)
        state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(definition)),
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
            comment="Speaker enrollment job: PrepareJob -> EnrollShards (distributed map) -> FinalizeJob",
        )
        self._grant_state_machine(state_machine)
        return state_machine

    def _definition(self, scope: Construct) -> sfn.IChainable:
        fail_job = self._invoke(scope, "FailJob", FAIL).next(
            sfn.Fail(
                scope,
                "JobFailed",
                error="SpeakerEnrollmentJobFailed",
                cause="The job was marked FAILED; its FailureDetails say why.",
            )
        )
        prepare = self._invoke(scope, "PrepareJob", PREPARE)
        enroll_shards = self._enroll_shards(scope)
        finalize = self._invoke(
            scope,
            "FinalizeJob",
            FINALIZE,
            payload=sfn.TaskInput.from_object(
                {
                    "DomainId": sfn.JsonPath.string_at("$.DomainId"),
                    "JobId": sfn.JsonPath.string_at("$.JobId"),
                    "ShardCount": sfn.JsonPath.number_at("$.ShardCount"),
                }
            ),
        )
        for state in (prepare, enroll_shards, finalize):
            state.add_catch(fail_job, errors=[sfn.Errors.ALL], result_path="$.Error")
        return sfn.Chain.start(prepare).next(enroll_shards).next(finalize)

    def _enroll_shards(self, scope: Construct) -> sfn.DistributedMap:
        """Each child runs EnrollShard until the shard is done (a shard short of time returns Done false and
        is continued from where it stopped) and ends with an empty output, whatever happened: the Map collects
        its children's outputs, which must stay far under the 256 KiB state limit for 10,000 shards."""
        enroll_shard = self._invoke(scope, "EnrollShard", ENROLL_SHARD)
        shard_ended = sfn.Pass(scope, "ShardEnded", result=sfn.Result.from_object({}))
        # The caught error is in the execution history; the shard's unrecorded requests become 500 entries.
        enroll_shard.add_catch(sfn.Pass(scope, "ShardFailed", result=sfn.Result.from_object({})),
                               errors=[sfn.Errors.ALL], result_path=sfn.JsonPath.DISCARD)
        shard_done = sfn.Choice(scope, "ShardDone").when(
            sfn.Condition.boolean_equals("$.Done", False), enroll_shard).otherwise(shard_ended)
        enroll_shards = sfn.DistributedMap(
            scope,
            "EnrollShards",
            item_reader=sfn.S3JsonItemReader(
                bucket=self._storage.work_bucket,
                key=sfn.JsonPath.string_at("$.ShardsKey"),
            ),
            max_concurrency=self._capacity.shard_max_concurrency,
            result_path=sfn.JsonPath.DISCARD,
        )
        enroll_shards.item_processor(enroll_shard.next(shard_done))
        return enroll_shards

    def _invoke(
        self,
        scope: Construct,
        state_name: str,
        spec: FunctionSpec,
        *,
        payload: sfn.TaskInput | None = None,
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            scope,
            state_name,
            lambda_function=self.functions[spec.construct_id],
            payload=payload,
            payload_response_only=True,
            retry_on_service_exceptions=False,
            task_timeout=sfn.Timeout.duration(spec.timeout.plus(Duration.minutes(1))),
        )
        policy = self._retry
        for errors, attempts in ((RETRIED_ERRORS, policy.max_attempts), (PERMANENT_ERRORS, 0),
                                 ([sfn.Errors.ALL], UNEXPECTED_ERROR_ATTEMPTS)):
            task.add_retry(errors=errors, interval=Duration.seconds(policy.interval_seconds), max_attempts=attempts,
                           backoff_rate=policy.backoff_rate, max_delay=Duration.seconds(policy.max_delay_seconds),
                           jitter_strategy=sfn.JitterType.FULL)
        return task

    def _grant_state_machine(self, state_machine: sfn.StateMachine) -> None:
        storage = self._storage
        role = state_machine.role
        # CDK grants the S3 ItemReader s3:GetObject on the work bucket but no KMS decrypt (aws-cdk#32144).
        storage.grant_key_read(role)
        self._acknowledge_state_machine(state_machine)

    def _acknowledge_state_machine(self, state_machine: sfn.StateMachine) -> None:
        role = state_machine.role
        for spec in (PREPARE, ENROLL_SHARD, FINALIZE, FAIL):
            function = self.functions[spec.construct_id]
            acknowledge_wildcard(
                role,
                f"Resource::<{logical_id(function)}.Arn>:*",
                f"CDK's LambdaInvoke grant for {spec.construct_id}: the function ARN and its versions/aliases.",
            )
        acknowledge_wildcard(
            role,
            "Resource::*",
            "Step Functions log delivery (logs:CreateLogDelivery and related) and X-Ray tracing actions do not "
            "support resource-level permissions.",
        )
        acknowledge_wildcard(
            role,
            f"Resource::arn:<AWS::Partition>:s3:::<{logical_id(self._storage.work_bucket)}>/*",
            "CDK's S3JsonItemReader grant (s3:GetObject on the work bucket): the shard list key is the "
            "JSONPath $.ShardsKey (jobs/<JobId>/shards.json), known only at run time.",
        )
        executions = (
            "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{logical_id(state_machine)}"}}]}}]}}'
        )
        child_execution_grants = {
            ":*": "states:DescribeExecution and states:StopExecution",
            "/*:*": "states:RedriveExecution",
        }
        for suffix, actions in child_execution_grants.items():
            acknowledge_wildcard(
                state_machine,  # the DistributedMapPolicy is a sibling of the role
                f"Resource::{executions}{suffix}",
                f"CDK's DistributedMap grant ({actions}) on this state machine's own executions and map-run "
                "children only, whose names Step Functions generates at run time.",
            )

    # -- Submit: S3 event -> StartExecution --------------------------------------------------------

    def _connect_submit_function(self) -> None:
        self.submit_job_function.add_environment("STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
        self.state_machine.grant_start_execution(self.roles[SUBMIT.construct_id])


def _with_model(code_dir: Path) -> Path:
    """The code asset, refused without the voiceprint and VAD models: functions shipped without them fail every
    shard."""
    for artifact in (MODEL_ARTIFACT, SILERO_ARTIFACT):
        model = code_dir / artifact.relative_to(artifact.parents[2])
        if not model.is_file():
            raise FileNotFoundError(f"The model {model} is missing: run `make model` (tools/build_model.py) "
                                    "before synthesizing the stack.")
    return code_dir


def allow(role: iam.IRole, service: str, actions: list[str], resource: str) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=[f"{service}:{action}" for action in actions], resources=[resource])
    )
