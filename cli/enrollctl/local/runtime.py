"""``LocalRuntime``: the whole stack, emulated in-process on 127.0.0.1 (moto server + in-process Lambda
handlers + the synthesized state machines + the stack's EventBridge rules on S3 uploads and execution status
changes, and its scheduled rules when asked (``run_schedules``) + the Voice ID API on the same port), every
resource and variable as the synthesized template says (``stack``); optionally with faults injected as the real
services produce them (``faults``). One per process: moto's backends, its config and ``MOTO_PORT`` are
process-wide."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import boto3
from botocore.config import Config
from moto.core.base_backend import BackendDict
from moto.core.config import default_user_config
from moto.core.model_instances import reset_model_data
from speaker_enrollment.api import VoiceIdApi
from speaker_enrollment.api.authorization import OpenAccess
from speaker_enrollment.composition import Composition, api_from_env
from speaker_enrollment.settings import Settings

from enrollctl.local import deploy, kms_key_state, resources, stack
from enrollctl.local.call_guard import CallGuard
from enrollctl.local.concurrency import ConcurrencyLimits
from enrollctl.local.events import Deliveries, LambdaTarget, LocalEventBus, Rule
from enrollctl.local.execution_events import ExecutionStatusEvents
from enrollctl.local.faults import Fault, FaultCount, FaultInjector
from enrollctl.local.iam import AdminKeys, LocalIam
from enrollctl.local.lambda_runner import EVENTBRIDGE_ACCESS_KEY, InProcessLambda, cold_start
from enrollctl.local.map_runner import MapRunner
from enrollctl.local.resources import Clients
from enrollctl.local.s3_trigger import S3Trigger
from enrollctl.local.schedules import ScheduleClock, rate_seconds, scheduled_event
from enrollctl.local.stack import (
    ACCOUNT_ID,
    DEFAULT_PORT,
    DEFAULT_REGION,
    HOST,
    JOB_WORKFLOW,
    NO_KEY,
    FunctionSpec,
    KmsKey,
    LocalStack,
    RuleTarget,
    Schedule,
)
from enrollctl.local.template import TemplateError, load_template
from enrollctl.local.voiceid import EmulatorServer

LOG = logging.getLogger(__name__)
MOTO_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
# Local-only overrides of the template's variables, each for a reason:
# - tracing off: the functions have X-Ray active tracing, and there is no X-Ray daemon here to send segments to;
# - VOICEPRINT_THREADS 1: every shard runs as a thread of this one process, and the Distributed Map's
#   concurrent shards already keep every core busy; BLAS threads on top oversubscribe the cores (a 200-request
#   job took 75 s with 2 BLAS threads, 50 s with 1, on 2 cores: bench/job.py).
# The endpoint variables (AWS_ENDPOINT_URL, MOTO_PORT, region, dummy credentials) are the process's own.
LOCAL_ENV = {"POWERTOOLS_TRACE_DISABLED": "true", "AWS_XRAY_SDK_ENABLED": "false", "VOICEPRINT_THREADS": "1"}
# moto logs every failed state with the repr of its whole parse tree; the execution history has it all.
NOISY_LOGGERS = ("werkzeug", "moto.stepfunctions.parser.asl.component.eval_component")
HANDLER_PACKAGES = (stack.HANDLER_PACKAGE,)
WARM_SERVICES = ("s3", "dynamodb", "stepfunctions", "sts", "kms", "lambda")
DROPPED_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
               "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS")
Faults = FaultInjector | Mapping[Fault, float] | str | None
# Keys of the runtime's own calls (the functions', the CLI's provisioning, the event bus's, and "ak": moto's Step
# Functions engine invoking the state machine's tasks): with --iam, moto does not check them (they stand for the
# stack's roles, whose grants the CDK tests check).
OWN_ACCESS_KEYS = ("local", EVENTBRIDGE_ACCESS_KEY, "ak")
# botocore keeps 10 connections per client and discards the others: clients shared by many threads (the
# functions' clients, the API's, moto's engine's, a rule's event deliveries, each holding a connection while its
# invocation waits for a slot) keep enough for a burst instead of reconnecting on every call.
POOL_CONNECTIONS = 256


@dataclass(frozen=True)
class RuntimeInfo:
    """What ``enrollctl serve`` prints (one JSON line) and what clients need to talk to the runtime."""

    endpoint: str
    region: str
    inbox_bucket: str
    output_bucket: str
    domain_id: str
    kms_key_id: str
    data_access_role_arn: str
    admin: AdminKeys | None = None  # with --iam: the one administrator every other identity is made by

    def as_dict(self) -> dict[str, str]:
        info = {"Endpoint": self.endpoint, "Region": self.region, "InboxBucket": self.inbox_bucket,
                "OutputBucket": self.output_bucket, "DomainId": self.domain_id,
                "KmsKeyId": self.kms_key_id, "DataAccessRoleArn": self.data_access_role_arn,
                "Authorization": "iam" if self.admin is not None else "none"}
        if self.admin is not None:
            info |= {"AdminAccessKeyId": self.admin.access_key_id,
                     "AdminSecretAccessKey": self.admin.secret_access_key}
        return info

    def json_line(self) -> str:
        return json.dumps(self.as_dict())


class _Environment:
    """Process environment overlay, restored on exit."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def drop(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            self._saved.setdefault(key, os.environ.get(key))
            os.environ.pop(key, None)

    def restore(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved.clear()


def reset_moto() -> None:
    BackendDict.reset()
    reset_model_data()


class LocalRuntime:
    """``with LocalRuntime.start(port=0) as rt: ...`` — port 0 picks a free port."""

    _active: ClassVar[LocalRuntime | None] = None
    _active_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, port: int = DEFAULT_PORT, region: str = DEFAULT_REGION,
                 template: dict[str, Any] | Path | None = None, domain_id: str | None = None,
                 environment: dict[str, str] | None = None, *, faults: Faults = None,
                 fault_seed: int | None = None, function_timeouts: Mapping[str, int] | None = None,
                 iam: bool = False, concurrency: ConcurrencyLimits | None = None) -> None:
        self.port = port
        self.concurrency = concurrency or ConcurrencyLimits.for_cores()
        # iam: the Voice ID API authorizes every request as in AWS, and moto enforces IAM (``iam.LocalIam``)
        self.iam = LocalIam(ACCOUNT_ID, OWN_ACCESS_KEYS) if iam else None
        self.environment_overrides = dict(environment or {})
        self.region = region
        self.domain_id = domain_id or resources.new_domain_id()
        self.faults = faults if isinstance(faults, FaultInjector) else FaultInjector(faults, fault_seed)
        self.function_timeouts = dict(function_timeouts or {})  # construct id → seconds
        self._template_source = template
        self._server: EmulatorServer | None = None
        self._env = _Environment()
        self._saved_config: dict[str, Any] = {}
        self._guard = CallGuard(self.faults)
        self._bus: LocalEventBus | None = None
        self._trigger: S3Trigger | None = None
        self._status_events: ExecutionStatusEvents | None = None
        self._scheduled: dict[str, list[Rule]] = {}  # rule name → a bus rule per target
        self._clock: ScheduleClock | None = None
        self._log_levels: dict[str, int] = {}
        self._saved_session: boto3.Session | bool | None = False  # False: nothing saved
        self._kms_strict = False  # kms_key_state installed by this runtime
        self.key = NO_KEY  # the key KMS_KEY_ID names
        self.mac_key = NO_KEY  # signs the Voice ID API's NextTokens (API_TOKEN_KEY_ID)
        self._keys: dict[str, KmsKey] = {}  # the local key of each template key, by logical id
        self.api: VoiceIdApi | None = None  # the Voice ID API the endpoint answers X-Amz-Target: VoiceID.* with
        self.functions: tuple[FunctionSpec, ...] = ()
        self.state_machine_arn = ""  # the job workflow's (stack.JOB_WORKFLOW)
        self.definition: dict[str, Any] = {}  # the job workflow's, as created
        self.state_machine_arns: dict[str, str] = {}  # construct the state machine belongs to → its ARN
        self._local_stack: LocalStack | None = None
        self._settings: Settings | None = None

    # ------------------------------------------------------------------------------------ lifecycle

    @classmethod
    def start(cls, port: int = DEFAULT_PORT, region: str = DEFAULT_REGION,
              template: dict[str, Any] | Path | None = None, domain_id: str | None = None,
              environment: dict[str, str] | None = None, *, faults: Faults = None, fault_seed: int | None = None,
              function_timeouts: Mapping[str, int] | None = None, iam: bool = False,
              concurrency: ConcurrencyLimits | None = None) -> LocalRuntime:
        """`environment` overrides the functions' variables (e.g. LOG_LEVEL, SHARD_SIZE, SPEAKER_QUOTA); `faults`
        (``"dynamodb-throttle=0.2,lambda-crash=0.05"``, see ``faults.Fault``) are injected with a random source
        seeded with `fault_seed`; `function_timeouts` (construct id → seconds, e.g. ``{"EnrollShardFunction": 4}``)
        override the template's timeouts; `iam` authorizes the Voice ID API and the emulated services with IAM,
        starting with one administrator (``info().admin``); `concurrency` bounds the invocations running at once
        (default: the cores per function, twice that in all; the others queue, see ``concurrency``)."""
        runtime = cls(port=port, region=region, template=template, domain_id=domain_id, environment=environment,
                      faults=faults, fault_seed=fault_seed, function_timeouts=function_timeouts, iam=iam,
                      concurrency=concurrency)
        runtime._start()
        return runtime

    def __enter__(self) -> LocalRuntime:
        if self._server is None:
            self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _claim(self) -> None:
        with LocalRuntime._active_lock:
            if LocalRuntime._active is not None:
                raise RuntimeError("a LocalRuntime is already running in this process")
            LocalRuntime._active = self

    def _start(self) -> None:
        template = self._load_template()
        self._claim()
        try:
            self._start_server()
            self._provision(template)
        except BaseException:
            self.stop()
            raise

    def _load_template(self) -> dict[str, Any]:
        source = self._template_source
        if isinstance(source, dict):
            return source
        return load_template(source)

    def _start_server(self) -> None:
        self._saved_config = {key: default_user_config.get(key) for key in MOTO_CONFIG}
        default_user_config.update(MOTO_CONFIG)  # type: ignore[typeddict-item]
        reset_moto()
        kms_key_state.install()  # as AWS: a disabled key (or one pending deletion) refuses to encrypt and decrypt
        self._kms_strict = True
        for name in NOISY_LOGGERS:
            logger = logging.getLogger(name)
            self._log_levels[name] = logger.level
            logger.setLevel(logging.CRITICAL)
        if self.iam is not None:
            self.iam.install()
        self._server = EmulatorServer(lambda: self.api, ip_address=HOST, port=self.port, iam=self.iam)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        self._env.drop(DROPPED_ENV)
        self._env.set({"MOTO_PORT": str(self.port), "AWS_ENDPOINT_URL": self.endpoint,
                       "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region,
                       "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
        self._guard.install()  # before the handlers' session is made: its hooks are registered at creation
        self._fresh_default_session()
        cold_start(HANDLER_PACKAGES)
        InProcessLambda.install(self.faults, self.concurrency)
        MapRunner.install()  # moto's Map state stalls after ~985 items per worker

    def _fresh_default_session(self) -> None:
        """Handlers call ``boto3.client`` (the default session) from concurrent server threads; creating
        the first clients of a session concurrently races in botocore, so a new default session bound to
        the local environment is made and warmed up here, once."""
        self._saved_session = boto3.DEFAULT_SESSION
        boto3.setup_default_session()
        boto3.DEFAULT_SESSION._session.set_default_client_config(
            Config(max_pool_connections=POOL_CONNECTIONS))
        for service in WARM_SERVICES:
            boto3.client(service)

    def stop(self) -> None:
        """Stop serving and restore the process (environment, moto config, patches); idempotent. Executions still
        running are stopped without publishing their status change (the runtime goes, not the jobs)."""
        self._stop_events()
        if self._server is not None:
            self._stop_executions()
            InProcessLambda.uninstall()
            MapRunner.uninstall()
            cold_start(HANDLER_PACKAGES)
            self._server.stop()
            self._server = None
            self.api = None
            reset_moto()
        if self._kms_strict:
            kms_key_state.uninstall()
            self._kms_strict = False
        self._guard.uninstall()
        if self.iam is not None:
            self.iam.uninstall()
        self._env.restore()
        if self._saved_session is not False:
            boto3.DEFAULT_SESSION = self._saved_session
            self._saved_session = False
        default_user_config.update(self._saved_config)  # type: ignore[typeddict-item]
        self._saved_config = {}
        for name, level in self._log_levels.items():
            logging.getLogger(name).setLevel(level)
        self._log_levels.clear()
        with LocalRuntime._active_lock:
            if LocalRuntime._active is self:
                LocalRuntime._active = None

    def _stop_events(self) -> None:
        if self._clock is not None:
            self._clock.stop()
            self._clock = None
        self._scheduled.clear()
        if self._status_events is not None:
            self._status_events.uninstall()
            self._status_events = None
        if self._trigger is not None:
            self._trigger.uninstall()
            self._trigger = None
        if self._bus is not None:
            self._bus.close()
            self._bus.wait_idle(timeout=5)
            self._bus = None

    def _stop_executions(self) -> None:
        for arn in self.state_machine_arns.values():
            try:
                sfn = self.client("stepfunctions")
                running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
                for execution in running["executions"]:
                    sfn.stop_execution(executionArn=execution["executionArn"], cause="local runtime stopped")
            except Exception:
                LOG.debug("could not stop running executions of %s", arn, exc_info=True)

    def serve_forever(self) -> None:
        """Block until interrupted (Ctrl-C), then stop."""
        try:
            threading.Event().wait()
        finally:
            self.stop()

    # ---------------------------------------------------------------------------------- provisioning

    def _provision(self, template: dict[str, Any]) -> None:
        clients = self._clients()
        keys = {spec.logical_id: resources.create_key(clients, spec) for spec in stack.key_specs(template)}
        self._keys = keys
        mirrored = stack.mirror(template, self.region, keys).with_timeouts(self.function_timeouts)
        self._local_stack = mirrored
        self.functions = mirrored.functions
        environment = {**stack.merged_environment(self.functions), **self.local_environment()}
        self._env.set(environment)
        self._settings = stack.settings_of(environment)
        self.key = stack.key_for(keys.values(), self.settings.kms_key_id)
        self.mac_key = stack.key_for(keys.values(), self.settings.api_token_key_id)
        self._create_storage(clients, mirrored)
        if self.iam is not None:
            self.iam.mirror_roles(clients, template, mirrored)
        self._create_workflow(clients, mirrored)
        self._serve(mirrored)

    def _create_storage(self, clients: Clients, mirrored: LocalStack) -> None:
        for role in mirrored.roles:
            resources.create_role(clients, role)
        for bucket in mirrored.buckets:
            resources.create_bucket(clients, self.region, bucket)
        for table in mirrored.tables:
            resources.create_table(clients, table)
        resources.put_default_domain(clients, self.domains_table, self.watchlists_table, self.domain_id,
                                     self.key.key_id)

    def _create_workflow(self, clients: Clients, mirrored: LocalStack) -> None:
        for spec in self.functions:
            resources.create_function(clients, spec, self.function_environment(spec))
        self.state_machine_arns = {machine.scope: resources.create_state_machine(clients, machine)
                                   for machine in mirrored.state_machines}
        self.definition = mirrored.job_workflow.definition
        self.state_machine_arn = self.state_machine_arns[JOB_WORKFLOW]

    def _serve(self, mirrored: LocalStack) -> None:
        """The stack's EventBridge rules deliver S3 uploads and execution status changes to their functions (and
        scheduled events when ``run_schedules`` says); the Voice ID API is served in-process (on the emulator's
        port, not through a Lambda proxy event) with the environment of the function behind the API Gateway
        method."""
        if mirrored.api_function is None:
            raise TemplateError("no API Gateway method integrates a function of the stack: no Voice ID API to serve")
        self._bus = LocalEventBus([self._rule(route, mirrored, route.pattern) for route in mirrored.event_routes],
                                  self.faults)
        for schedule in mirrored.schedules:
            self._scheduled.setdefault(schedule.rule_name, []).append(self._rule(schedule, mirrored))
        self._trigger = S3Trigger(self._bus)
        self._trigger.install()
        self._status_events = ExecutionStatusEvents(self._bus.publish)
        self._status_events.install()
        if self.iam is not None:
            self.iam.create_admin(self._clients())
        self.api = self._api(mirrored.api_function)

    def _api(self, spec: FunctionSpec) -> VoiceIdApi:
        return api_from_env(self.function_environment(spec), authorizer=None if self.iam is not None else OpenAccess())

    def _rule(self, target: RuleTarget, mirrored: LocalStack, pattern: dict[str, Any] | None = None) -> Rule:
        """A rule of the local bus invoking the target's function as EventBridge does (signed as EventBridge)."""
        function = next(spec for spec in mirrored.functions if spec.name == target.function_name)
        lam = Clients(self.endpoint, self.region, Config(read_timeout=900, retries={"total_max_attempts": 1},
                                                             max_pool_connections=POOL_CONNECTIONS),
                      access_key=EVENTBRIDGE_ACCESS_KEY)("lambda")
        invoke = LambdaTarget(lam, function.name, throttle_retries=target.retry_attempts,
                              error_retries=function.async_retry_attempts, input=target.input)
        return Rule(pattern, function.name, invoke)

    # ------------------------------------------------------------------------------------- schedules

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        """The stack's scheduled rules, one per function target (moto's EventBridge fires none of them)."""
        return self.local_stack.schedules

    def fire_schedule(self, rule_name: str) -> Deliveries:
        """Send, now, the ``Scheduled Event`` of the scheduled rule ``rule_name`` (its local name) to its targets, as
        EventBridge does when the schedule comes (each target's retries, asynchronous invocation, constant Input);
        wait for the invocations with ``.wait()``."""
        if self._bus is None:
            raise RuntimeError("the local runtime has not started")
        if rule_name not in self._scheduled:
            raise KeyError(f"no scheduled rule {rule_name!r} (the stack's: {', '.join(self._scheduled) or 'none'})")
        names = self.local_stack.names
        event = scheduled_event(names.account, names.region, names.rule_arn(rule_name))
        deliveries = Deliveries()
        for rule in self._scheduled[rule_name]:
            deliveries += self._bus.send(event, rule)
        return deliveries

    def run_schedules(self) -> Deliveries:
        """Fire every scheduled rule of the stack now (``fire_schedule``)."""
        deliveries = Deliveries()
        for rule_name in self._scheduled:
            deliveries += self.fire_schedule(rule_name)
        return deliveries

    def start_schedule_clock(self) -> list[str]:
        """Fire each ``rate(...)`` rule at its rate from now on, until stopped (``cron(...)`` ones only on
        ``fire_schedule``); returns the names of the rules on the clock."""
        periods = {schedule.rule_name: rate_seconds(schedule.expression) for schedule in self.schedules}
        clocked = [(name, float(period)) for name, period in periods.items() if period is not None]
        if self._clock is None and clocked:
            self._clock = ScheduleClock(clocked, self.fire_schedule).start()
        return [name for name, _ in clocked]

    # -------------------------------------------------------------------------------------------- updates

    def deploy(self, template: dict[str, Any]) -> None:
        """Update the running stack to ``template`` as a CloudFormation stack update would: each table's global
        secondary indexes become the template's, and the functions (and the Voice ID API) run with its environment;
        everything else stays as started. Refused (``deploy.DeploymentRefusedError``) before anything changes where
        CloudFormation refuses, e.g. more than one index creation or deletion on one table."""
        mirrored = stack.mirror(template, self.region, self._keys).with_timeouts(self.function_timeouts)
        changes = deploy.index_changes(self.local_stack.tables, mirrored.tables)
        changed = deploy.changed_functions(self.functions, mirrored.functions)
        clients = self._clients()
        for change in changes:
            resources.update_table_index(clients, change)
        for spec in changed:
            resources.update_function_environment(clients, spec, self.function_environment(spec))
        self._switch_to(mirrored)
        if changed:  # Lambda runs a changed configuration in new execution environments
            cold_start(HANDLER_PACKAGES)

    def _switch_to(self, mirrored: LocalStack) -> None:
        environment = {**stack.merged_environment(mirrored.functions), **self.local_environment()}
        self._env.drop(tuple(set(stack.merged_environment(self.functions)) - set(environment)))
        self._env.set(environment)
        self._settings = stack.settings_of(environment)
        self._local_stack, self.functions = mirrored, mirrored.functions
        if mirrored.api_function is not None:
            self.api = self._api(mirrored.api_function)

    def local_environment(self) -> dict[str, str]:
        """The local-only variables (``LOCAL_ENV``) and the caller's overrides."""
        return {**LOCAL_ENV, **self.environment_overrides}

    def function_environment(self, spec: FunctionSpec) -> dict[str, str]:
        """The template's variables of ``spec`` (references resolved to local resources), locally overridden."""
        return {**spec.environment, **self.local_environment()}

    # ---------------------------------------------------------------------------------------- access

    def _clients(self, read_timeout: int = 60) -> Clients:
        return Clients(self.endpoint, self.region,
                       Config(read_timeout=read_timeout, max_pool_connections=POOL_CONNECTIONS))

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` bound to the local endpoint."""
        return self._clients(read_timeout=900)(service)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def local_stack(self) -> LocalStack:
        """What the runtime created, as the template says."""
        if self._local_stack is None:
            raise RuntimeError("the local runtime has not started")
        return self._local_stack

    @property
    def settings(self) -> Settings:
        """The local resources the functions' variables name (the template's variables, resolved)."""
        if self._settings is None:
            raise RuntimeError("the local runtime has not started")
        return self._settings

    @property
    def inbox_bucket(self) -> str:
        return self.settings.inbox_bucket

    @property
    def output_bucket(self) -> str:
        return self.settings.output_bucket

    @property
    def work_bucket(self) -> str:
        return self.settings.work_bucket

    @property
    def jobs_table(self) -> str:
        return self.settings.jobs_table

    @property
    def speakers_table(self) -> str:
        return self.settings.speakers_table

    @property
    def domains_table(self) -> str:
        return self.settings.domains_table

    @property
    def watchlists_table(self) -> str:
        return self.settings.watchlists_table

    @property
    def fraudsters_table(self) -> str:
        return self.settings.fraudsters_table

    @property
    def data_access_role_arn(self) -> str:
        return self.settings.default_data_access_role_arn

    @property
    def trigger(self) -> S3Trigger | None:
        return self._trigger

    @property
    def bus(self) -> LocalEventBus | None:
        """The local default event bus (every event delivered to a rule's target)."""
        return self._bus

    def fault_counts(self) -> dict[str, FaultCount]:
        """Per fault that is on: how often it was injected, and how often it reached the caller's code."""
        return self.faults.counts()

    def composition(self) -> Composition:
        """The functions' adapters and services over the local resources (for inspection and tests)."""
        return Composition(self.settings, self.client)

    def info(self) -> RuntimeInfo:
        return RuntimeInfo(endpoint=self.endpoint, region=self.region, inbox_bucket=self.inbox_bucket,
                           output_bucket=self.output_bucket, domain_id=self.domain_id,
                           kms_key_id=self.key.key_id, data_access_role_arn=self.data_access_role_arn,
                           admin=self.iam.admin if self.iam is not None else None)
