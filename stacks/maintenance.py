"""Domain maintenance: background work over all of one domain's data (speaker_enrollment.domain.admin.maintenance)
run by the Standard state machine ``DomainMaintenance``, one execution per task run: the purge of a deleted domain
(started by DeleteDomain), the re-encryption under a domain's new KMS key (UpdateDomain) and the expiry of speakers
not accessed for the retention period (started for every domain by a daily schedule, which also purges deleted
domains again for two days). docs/architecture.md, section "Domain maintenance"."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct
from speaker_enrollment.domain.workflow.kinds import JOB_TYPES
from speaker_enrollment.domain.workflow.sessions import SESSION_UPLOAD_PREFIX

from stacks.api import VoiceIdRestApi
from stacks.domain_keys import grant_domain_keys
from stacks.ingest import EVENT_MAX_AGE, EVENT_RETRY_ATTEMPTS, send_async_failures
from stacks.nag import acknowledge_wildcard, logical_id
from stacks.storage import EnrollmentStorage
from stacks.workflow import (
    RETRIED_ERRORS,
    UNEXPECTED_ERROR_ATTEMPTS,
    EnrollmentWorkflow,
    FunctionSpec,
    RetryPolicy,
    allow,
    encrypted_log_group,
)

MAINTAIN = FunctionSpec(
    "MaintainDomainFunction",
    "speaker_enrollment.handlers.maintain_domain.handler",
    512,
    Duration.minutes(5),  # a page stops when its time runs short; the workflow calls again with its cursor
    "One page of a domain maintenance task (purge, expire, reencrypt) for the DomainMaintenance workflow",
)
SCHEDULE = FunctionSpec(
    "ScheduleMaintenanceFunction",
    "speaker_enrollment.handlers.schedule_maintenance.handler",
    256,
    Duration.minutes(5),
    "Daily: starts the expiry of every domain's speakers and the purge of deleted domains",
)
SCHEDULE_RATE = Duration.days(1)
INBOX_PREFIXES = (*(job_type.upload_prefix for job_type in JOB_TYPES), SESSION_UPLOAD_PREFIX)
DOMAIN_PARTITION_TABLES = ("speakers_table", "fraudsters_table", "watchlists_table", "sessions_table", "jobs_table")


class DomainMaintenance(Construct):
    """The maintenance function and state machine, the daily schedule and its function; lets the API start tasks."""

    def __init__(self, scope: Construct, construct_id: str, *, storage: EnrollmentStorage,
                 workflow: EnrollmentWorkflow, api: VoiceIdRestApi, dead_letter_queue: sqs.IQueue,
                 retry: RetryPolicy | None = None) -> None:
        super().__init__(scope, construct_id)
        self._storage = storage
        self._workflow = workflow
        self._retry = retry or RetryPolicy()
        factory = workflow.function_factory
        environment = {**workflow.environment, "SESSIONS_TABLE": storage.sessions_table.table_name,
                       "STATE_MACHINE_ARN": workflow.state_machine.state_machine_arn}
        self.role = factory.role(self, MAINTAIN)
        self.function = factory.function(self, MAINTAIN, self.role, environment)
        self._grant_maintenance()
        self.state_machine = self._state_machine()
        self.schedule_role = factory.role(self, SCHEDULE)
        self.schedule_function = factory.function(self, SCHEDULE, self.schedule_role, workflow.environment)
        self._schedule(dead_letter_queue)
        self._let_start(api.function, api.role)

    # -- the maintenance function ------------------------------------------------------------------

    def _grant_maintenance(self) -> None:
        """Exactly the calls the tasks make through the adapters (speaker_enrollment.composition: purge, expire,
        reencrypt)."""
        storage, role = self._storage, self.role
        # purge: Query a domain's partition (keys only), BatchWriteItem its deletes (DeleteItem), in every table
        # keyed by DomainId; the jobs' progress markers are partitions of the jobs table.
        for table in DOMAIN_PARTITION_TABLES:
            allow(role, "dynamodb", ["Query", "BatchWriteItem", "DeleteItem"], getattr(storage, table).table_arn)
        # expire: a speaker's deletion reads its count slot (GetItem) and deletes it with -1 on the slot
        # (TransactWriteItems: DeleteItem + UpdateItem); reencrypt: reads (GetItem) and rewrites (UpdateItem) a
        # speaker, a fraudster with its watchlists' counts (PutItem, UpdateItem).
        allow(role, "dynamodb", ["GetItem", "UpdateItem"], storage.speakers_table.table_arn)
        allow(role, "dynamodb", ["GetItem", "PutItem", "UpdateItem"], storage.fraudsters_table.table_arn)
        allow(role, "dynamodb", ["GetItem", "UpdateItem"], storage.watchlists_table.table_arn)
        # Domains: GetItem (the domain's key; the first release's SpeakerCount), UpdateItem (the end of a
        # re-encryption; a purge's end on the tombstone; a deletion uncounted on the first release's count).
        allow(role, "dynamodb", ["GetItem", "UpdateItem"], storage.domains_table.table_arn)
        # purge: the jobs (GetItem, Query) still running are stopped; their work files and the inbox's uploads
        # under the domain's prefixes are deleted, every version (ListBucketVersions, DeleteObjectVersion).
        allow(role, "dynamodb", ["GetItem"], storage.jobs_table.table_arn)
        self._workflow.state_machine.grant_execution(role, "states:StopExecution")
        allow(role, "s3", ["ListBucketVersions"], storage.work_bucket.bucket_arn)
        allow(role, "s3", ["DeleteObjectVersion"], storage.work_bucket.arn_for_objects("jobs/*"))
        allow(role, "s3", ["ListBucketVersions"], storage.inbox_bucket.bucket_arn)
        for prefix in INBOX_PREFIXES:
            allow(role, "s3", ["DeleteObjectVersion"], storage.inbox_bucket.arn_for_objects(f"{prefix}/*"))
            acknowledge_wildcard(
                role, f"Resource::<{logical_id(storage.inbox_bucket)}.Arn>/{prefix}/*",
                f"Purges a deleted domain's uploads under {prefix}/<DomainId>/ (every version); the DomainId is known "
                "only at run time.")
        acknowledge_wildcard(
            role, f"Resource::<{logical_id(storage.work_bucket)}.Arn>/jobs/*",
            "Purges the work files of a deleted domain's jobs (jobs/<JobId>/); the JobIds are known only at run time.")
        acknowledge_wildcard(
            role, "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{logical_id(self._workflow.state_machine)}"}}]}}]}}:*',
            "Stops the running jobs of a deleted domain: executions of the job workflow only, named after JobIds "
            "known only at run time.")
        storage.grant_key_read_write(role)
        grant_domain_keys(role)  # reencrypt opens each voiceprint under the old key and seals it under the new one

    # -- the state machine -------------------------------------------------------------------------

    def _state_machine(self) -> sfn.StateMachine:
        definition = Construct(self, "Definition")
        state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(definition)),
            logs=sfn.LogOptions(destination=encrypted_log_group(self, "StateMachineLogs", self._storage.key),
                                level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
            comment="Domain maintenance: RunPage until the task is done (purge, expire, reencrypt)",
        )
        self._storage.grant_key_read(state_machine.role)  # its log group is encrypted with the stack key
        acknowledge_wildcard(
            state_machine.role, f"Resource::<{logical_id(self.function)}.Arn>:*",
            f"CDK's LambdaInvoke grant for {MAINTAIN.construct_id}: the function ARN and its versions/aliases.")
        acknowledge_wildcard(
            state_machine.role, "Resource::*",
            "Step Functions log delivery (logs:CreateLogDelivery and related) and X-Ray tracing actions do not "
            "support resource-level permissions.")
        return state_machine

    def _definition(self, scope: Construct) -> sfn.IChainable:
        """RunPage → PageDone (Outcome RUNNING: RunPage again from its cursor; COMPLETED: Done; REFUSED: a key
        refused, recorded by the task: Refused). Anything else caught → RecordFailure → Failed."""
        record_failure = self._invoke(scope, "RecordFailure", payload=sfn.TaskInput.from_object({
            "DomainId": sfn.JsonPath.string_at("$.DomainId"), "Task": sfn.JsonPath.string_at("$.Task"),
            "Error": sfn.JsonPath.object_at("$.Error")}))
        record_failure.next(sfn.Fail(scope, "Failed", error="DomainMaintenanceFailed",
                                     cause="The task failed after its retries; the failure is recorded"))
        run_page = self._invoke(scope, "RunPage")
        run_page.add_catch(record_failure, errors=[sfn.Errors.ALL], result_path="$.Error")
        page_done = sfn.Choice(scope, "PageDone")
        page_done.when(sfn.Condition.string_equals("$.Outcome", "RUNNING"), run_page)
        page_done.when(sfn.Condition.string_equals("$.Outcome", "REFUSED"),
                       sfn.Fail(scope, "Refused", error="KeyUnusable",
                                cause="A KMS key refused; the task recorded why (e.g. the domain's UpdateStatus)"))
        page_done.otherwise(sfn.Succeed(scope, "Done"))
        return sfn.Chain.start(run_page).next(page_done)

    def _invoke(self, scope: Construct, state_name: str, *, payload: sfn.TaskInput | None = None
                ) -> tasks.LambdaInvoke:
        """Retried like the job workflow's tasks (stacks/workflow.py), every page being idempotent."""
        task = tasks.LambdaInvoke(
            scope, state_name, lambda_function=self.function, payload=payload, payload_response_only=True,
            retry_on_service_exceptions=False,
            task_timeout=sfn.Timeout.duration(MAINTAIN.timeout.plus(Duration.minutes(1))),
        )
        policy = self._retry
        for errors, attempts in ((RETRIED_ERRORS, policy.max_attempts), ([sfn.Errors.ALL], UNEXPECTED_ERROR_ATTEMPTS)):
            task.add_retry(errors=errors, interval=Duration.seconds(policy.interval_seconds), max_attempts=attempts,
                           backoff_rate=policy.backoff_rate, max_delay=Duration.seconds(policy.max_delay_seconds),
                           jitter_strategy=sfn.JitterType.FULL)
        return task

    # -- the schedule ------------------------------------------------------------------------------

    def _schedule(self, dead_letter_queue: sqs.IQueue) -> None:
        storage, role = self._storage, self.schedule_role
        # Scan: every domain and every tombstone (MaintenanceSweep); the items are encrypted with the stack key.
        allow(role, "dynamodb", ["Scan"], storage.domains_table.table_arn)
        storage.grant_key_read(role)
        self.rule = events.Rule(
            self, "DailyMaintenanceRule", schedule=events.Schedule.rate(SCHEDULE_RATE),
            description="Daily domain maintenance: speakers not accessed for the retention period are deleted, "
                        "deleted domains purged")
        self.rule.add_target(targets.LambdaFunction(
            self.schedule_function, dead_letter_queue=dead_letter_queue, retry_attempts=EVENT_RETRY_ATTEMPTS,
            max_event_age=EVENT_MAX_AGE))
        send_async_failures(self.schedule_function, dead_letter_queue)
        self._let_start(self.schedule_function, role)

    def _let_start(self, function: lambda_.Function, role: iam.Role) -> None:
        """`function` starts maintenance tasks (the API: DeleteDomain's purge, UpdateDomain's re-encryption)."""
        function.add_environment("MAINTENANCE_STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
        self.state_machine.grant_start_execution(role)
