"""The CDK stack as the local runtime mirrors it, all of it read from the synthesized template (there is no
list here to keep in step with ``stacks/``): the stack's own functions, its tables, buckets, roles and KMS
keys, each under a local name derived from its construct id; the functions' environment resolved to those
local resources; every state machine; the EventBridge rules (on events, and on a schedule) and the function each
one targets; the function behind the API Gateway method."""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from speaker_enrollment.settings import Settings

from enrollctl.local.schedules import rate_seconds
from enrollctl.local.template import (
    Resolver,
    TemplateError,
    UnresolvedReferenceError,
    construct_id,
    resources_of_type,
    scope_id,
    without_hash,
)

LOG = logging.getLogger(__name__)
HOST = "127.0.0.1"
DEFAULT_PORT = 4599
DEFAULT_REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
PREFIX = "speaker-enrollment"
# The state machine of the construct JOB_WORKFLOW runs the jobs; locally it is named STATE_MACHINE_NAME, every other
# state machine after the construct it belongs to (docs/architecture.md; the template leaves names to CloudFormation).
JOB_WORKFLOW = "Workflow"
STATE_MACHINE_NAME = "EnrollmentWorkflow"
STATE_MACHINE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")  # what a Step Functions name may not contain
STATE_MACHINE_NAME_LENGTH = 80
# The stack's own functions are those whose Handler is in this package; CDK adds helper functions (log
# retention, bucket notifications, custom resources) with handlers of their own, which have no local meaning.
HANDLER_PACKAGE = "speaker_enrollment"
LOCAL_RETRY_INTERVAL_SECONDS = 1
# Locally every Map iteration is a thread of this one process: iterations beyond the cores only interleave
# on them. On 2 cores a 200-request job took 43.5 s with MaxConcurrency 2 against 45.6 s with the
# template's 10 (mean of 4 runs each, 5 % less CPU; bench/job.py); 0 (unlimited) is capped too.
LOCAL_MAX_CONCURRENCY = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
LAMBDA_DEFAULT_MEMORY_MB = 128  # what Lambda gives a function whose template omits MemorySize / Timeout
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3
LAMBDA_DEFAULT_ASYNC_RETRY_ATTEMPTS = 2  # Lambda's retries of a failed asynchronous invocation, unless configured
EVENTBRIDGE_DEFAULT_RETRY_ATTEMPTS = 185  # EventBridge's retries of an undeliverable event, unless configured
FUNCTION_TYPE = "AWS::Lambda::Function"
EVENT_INVOKE_CONFIG_TYPE = "AWS::Lambda::EventInvokeConfig"
TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
BUCKET_TYPE = "AWS::S3::Bucket"
ROLE_TYPE = "AWS::IAM::Role"
KEY_TYPE = "AWS::KMS::Key"
STATE_MACHINE_TYPE = "AWS::StepFunctions::StateMachine"
RULE_TYPE = "AWS::Events::Rule"
API_METHOD_TYPE = "AWS::ApiGateway::Method"
INDEX_PROPERTIES = ("IndexName", "KeySchema", "Projection")  # what an on-demand table's index is created with

Resource = tuple[str, dict[str, Any]]  # (logical id, resource)


@dataclass(frozen=True)
class KmsKey:
    key_id: str
    arn: str


NO_KEY = KmsKey("", "")


@dataclass(frozen=True)
class KeySpec:
    logical_id: str
    description: str
    key_spec: str | None
    key_usage: str | None


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    construct_id: str
    name: str
    arn: str
    handler: str
    memory_mb: int
    timeout_seconds: int
    role_arn: str
    environment: dict[str, str]  # the template's variables, resolved to local resources
    async_retry_attempts: int = LAMBDA_DEFAULT_ASYNC_RETRY_ATTEMPTS  # its EventInvokeConfig's MaximumRetryAttempts


@dataclass(frozen=True)
class TableSpec:
    name: str
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    global_secondary_indexes: list[dict[str, Any]]
    local_secondary_indexes: list[dict[str, Any]]
    ttl_attribute: str | None


@dataclass(frozen=True)
class BucketSpec:
    name: str
    versioned: bool
    eventbridge_notifications: bool
    encryption_rules: list[dict[str, Any]]  # S3 PutBucketEncryption ``Rules``, keys resolved to local keys


@dataclass(frozen=True)
class StateMachineSpec:
    scope: str  # the id of the construct it belongs to (``Workflow``, ``DomainMaintenance``)
    name: str
    arn: str
    role_arn: str
    definition: dict[str, Any]  # resolved, adapted for moto (localize_definition)


@dataclass(frozen=True, kw_only=True)
class RuleTarget:
    """A function an EventBridge rule of the stack targets: the target's ``RetryPolicy.MaximumRetryAttempts`` and
    its constant ``Input`` (JSON text the function receives instead of the event), if it has one."""

    function_name: str
    retry_attempts: int = EVENTBRIDGE_DEFAULT_RETRY_ATTEMPTS
    input: str | None = None


@dataclass(frozen=True, kw_only=True)
class EventRoute(RuleTarget):
    """A rule on events: its pattern (resolved) and one of its targets."""

    pattern: dict[str, Any]

    def on(self, source: str) -> bool:
        """Whether the rule watches events of ``source`` (``aws.s3``, ``aws.states``)."""
        return source in self.pattern.get("source", [])


@dataclass(frozen=True, kw_only=True)
class Schedule(RuleTarget):
    """A rule on a schedule (``rate(1 day)``, ``cron(...)``): its local name and ARN, and one of its targets."""

    rule_name: str
    rule_arn: str
    expression: str


# ---------------------------------------------------------------------------------------------- names


def local_words(identifier: str, kind: str = "") -> str:
    """``SubmitJobFunction`` → ``submit-job`` (with ``kind`` ``Function``); ``JobsTable`` → ``jobs``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", identifier.removesuffix(kind))
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")


def _unique_words(resources: Iterable[Resource], kind: str) -> dict[str, str]:
    """Logical id → local words, from the construct id; from the logical id where construct ids of this kind
    collide (they are unique among siblings only: two constructs may each have a ``Role``) or name the kind
    alone."""
    words = {logical_id: local_words(construct_id(logical_id, resource), kind) for logical_id, resource in resources}
    counts = Counter(words.values())
    return {logical_id: word if word and counts[word] == 1 else local_words(without_hash(logical_id), kind)
            for logical_id, word in words.items()}


def _prefixed(resources: Iterable[Resource], kind: str, suffix: str = "") -> dict[str, str]:
    return {logical_id: f"{PREFIX}-{words}{suffix}" for logical_id, words in _unique_words(resources, kind).items()}


@dataclass(frozen=True)
class LocalNames:
    """The local name of every resource the runtime creates, by logical id: ``speaker-enrollment-`` and the
    construct id in kebab case without its kind (``JobsTable`` → ``speaker-enrollment-jobs``); bucket names,
    global in S3, end in ``-<account>-<region>``."""

    region: str
    functions: dict[str, str]
    tables: dict[str, str]
    buckets: dict[str, str]
    roles: dict[str, str]
    state_machines: dict[str, str]
    rules: dict[str, str]
    account: str = ACCOUNT_ID

    @classmethod
    def of(cls, template: dict[str, Any], region: str, account: str = ACCOUNT_ID) -> LocalNames:
        return cls(region=region, account=account,
                   functions=_prefixed(handler_functions(template), "Function"),
                   tables=_prefixed(_tables(template), "Table"),
                   buckets=_prefixed(resources_of_type(template, BUCKET_TYPE), "Bucket", f"-{account}-{region}"),
                   roles=_prefixed(resources_of_type(template, ROLE_TYPE), "Role"),
                   state_machines=_state_machine_names(template),
                   rules=_prefixed(resources_of_type(template, RULE_TYPE), "Rule"))

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"

    def table_arn(self, name: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"

    def role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{name}"

    def state_machine_arn(self, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"

    def rule_arn(self, name: str) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:rule/{name}"


def state_machine_scopes(template: dict[str, Any]) -> dict[str, str]:
    """Logical id → the id of the construct each state machine belongs to (``Workflow``); without path metadata,
    its logical id without hash and ``StateMachine``; where two share a scope, their logical ids without hash."""
    scopes = {logical_id: scope_id(resource) or without_hash(logical_id).removesuffix("StateMachine")
              or without_hash(logical_id) for logical_id, resource in resources_of_type(template, STATE_MACHINE_TYPE)}
    counts = Counter(scopes.values())
    return {logical_id: scope if counts[scope] == 1 else without_hash(logical_id)
            for logical_id, scope in scopes.items()}


def _state_machine_names(template: dict[str, Any]) -> dict[str, str]:
    names = {logical_id: STATE_MACHINE_NAME if scope == JOB_WORKFLOW
             else STATE_MACHINE_NAME_CHARACTERS.sub("-", scope)[:STATE_MACHINE_NAME_LENGTH]
             for logical_id, scope in state_machine_scopes(template).items()}
    if len(set(names.values())) != len(names):
        raise TemplateError(f"two state machines would have the same local name: {sorted(names.values())}")
    return names


# -------------------------------------------------------------------------------------------- resources


def handler_functions(template: dict[str, Any]) -> list[Resource]:
    """The stack's own functions (see ``HANDLER_PACKAGE``)."""
    found = [(logical_id, resource) for logical_id, resource in resources_of_type(template, FUNCTION_TYPE)
             if str(resource.get("Properties", {}).get("Handler", "")).startswith(f"{HANDLER_PACKAGE}.")]
    if not found:
        raise TemplateError(f"no {FUNCTION_TYPE} with a handler in the {HANDLER_PACKAGE} package in the template")
    return found


def _tables(template: dict[str, Any]) -> list[Resource]:
    found = list(resources_of_type(template, *TABLE_TYPES))
    if not found:
        raise TemplateError("no AWS::DynamoDB::Table in the template")
    return found


def key_specs(template: dict[str, Any]) -> tuple[KeySpec, ...]:
    """The KMS keys to create locally (before the rest: their ids are moto's, not ours to choose)."""
    specs = []
    for logical_id, resource in resources_of_type(template, KEY_TYPE):
        props = resource.get("Properties", {})
        specs.append(KeySpec(logical_id, str(props.get("Description", logical_id)), props.get("KeySpec"),
                             props.get("KeyUsage")))
    return tuple(specs)


def placeholder_keys(template: dict[str, Any], region: str) -> dict[str, KmsKey]:
    """Stand-ins for the KMS keys, where only names matter (nothing is created)."""
    return {logical_id: KmsKey(logical_id, f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{logical_id}")
            for logical_id, _ in resources_of_type(template, KEY_TYPE)}


def build_resolver(template: dict[str, Any], names: LocalNames, keys: Mapping[str, KmsKey]) -> Resolver:
    """Every template resource the runtime mirrors → its local name (Ref), ARN (Fn::GetAtt .Arn) and the
    other attributes the stack refers to; ``keys``: the local KMS key of each template key, by logical id."""
    resolver = Resolver(refs={"AWS::Region": names.region, "AWS::AccountId": names.account,
                              "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
                              "AWS::StackName": "SpeakerEnrollmentStack"})
    for name, parameter in template.get("Parameters", {}).items():
        if "Default" in parameter:
            resolver.refs[name] = str(parameter["Default"])
    for logical_id, name in names.functions.items():
        resolver.add(logical_id, name, names.function_arn(name))
    for logical_id, name in names.tables.items():
        resolver.add(logical_id, name, names.table_arn(name))
    for logical_id, name in names.buckets.items():
        resolver.add(logical_id, name, f"arn:aws:s3:::{name}", DomainName=f"{name}.s3.amazonaws.com",
                     RegionalDomainName=f"{name}.s3.{names.region}.amazonaws.com")
    for logical_id, name in names.roles.items():
        resolver.add(logical_id, name, names.role_arn(name))
    for logical_id, key in keys.items():
        resolver.add(logical_id, key.key_id, key.arn, KeyId=key.key_id)
    for logical_id, name in names.state_machines.items():
        arn = names.state_machine_arn(name)
        resolver.add(logical_id, arn, arn, Name=name)
    for logical_id, name in names.rules.items():
        resolver.add(logical_id, name, names.rule_arn(name))
    return resolver


def _function_environment(props: dict[str, Any], resolver: Resolver) -> dict[str, str]:
    env: dict[str, str] = {}
    for key, value in props.get("Environment", {}).get("Variables", {}).items():
        try:
            env[key] = str(resolver.resolve(value))
        except UnresolvedReferenceError as exc:
            LOG.warning("environment variable %s not mirrored locally: %s", key, exc)
    return env


def _function(logical_id: str, resource: dict[str, Any], names: LocalNames, resolver: Resolver,
              async_retries: Mapping[str, int]) -> FunctionSpec:
    props = resource.get("Properties", {})
    name = names.functions[logical_id]
    return FunctionSpec(logical_id=logical_id, construct_id=construct_id(logical_id, resource), name=name,
                        arn=names.function_arn(name), handler=str(props["Handler"]),
                        memory_mb=int(props.get("MemorySize", LAMBDA_DEFAULT_MEMORY_MB)),
                        timeout_seconds=int(props.get("Timeout", LAMBDA_DEFAULT_TIMEOUT_SECONDS)),
                        role_arn=str(resolver.resolve(_required(props, "Role", logical_id))),
                        environment=_function_environment(props, resolver),
                        async_retry_attempts=async_retries.get(name, LAMBDA_DEFAULT_ASYNC_RETRY_ATTEMPTS))


def _async_retry_attempts(template: dict[str, Any], resolver: Resolver) -> dict[str, int]:
    """Function name → the MaximumRetryAttempts of its EventInvokeConfig (asynchronous invocations)."""
    attempts: dict[str, int] = {}
    for _, config in resources_of_type(template, EVENT_INVOKE_CONFIG_TYPE):
        props = config.get("Properties", {})
        try:
            name = str(resolver.resolve(props.get("FunctionName")))
        except UnresolvedReferenceError:
            continue
        if "MaximumRetryAttempts" in props:
            attempts[name] = int(props["MaximumRetryAttempts"])
    return attempts


def _required(props: dict[str, Any], name: str, logical_id: str) -> Any:
    if name not in props:
        raise TemplateError(f"{logical_id} has no {name} in the template")
    return props[name]


def _index(index: dict[str, Any]) -> dict[str, Any]:
    return {key: index[key] for key in INDEX_PROPERTIES if key in index}


def _is_true(value: Any) -> bool:  # CloudFormation booleans may be written as strings
    return str(value).lower() == "true"


def _table(logical_id: str, resource: dict[str, Any], names: LocalNames) -> TableSpec:
    props = resource.get("Properties", {})
    ttl = props.get("TimeToLiveSpecification", {})
    return TableSpec(name=names.tables[logical_id], key_schema=_required(props, "KeySchema", logical_id),
                     attribute_definitions=_required(props, "AttributeDefinitions", logical_id),
                     global_secondary_indexes=[_index(g) for g in props.get("GlobalSecondaryIndexes", [])],
                     local_secondary_indexes=[_index(i) for i in props.get("LocalSecondaryIndexes", [])],
                     ttl_attribute=ttl.get("AttributeName") if _is_true(ttl.get("Enabled")) else None)


def _encryption_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation ``ServerSideEncryptionRule`` as S3's PutBucketEncryption takes it."""
    result: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": rule.get("ServerSideEncryptionByDefault", {})}
    if "BucketKeyEnabled" in rule:
        result["BucketKeyEnabled"] = _is_true(rule["BucketKeyEnabled"])
    return result


def _bucket(logical_id: str, resource: dict[str, Any], names: LocalNames, resolver: Resolver) -> BucketSpec:
    props = resource.get("Properties", {})
    notifications = props.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {})
    rules = resolver.resolve(props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []))
    return BucketSpec(name=names.buckets[logical_id],
                      versioned=props.get("VersioningConfiguration", {}).get("Status") == "Enabled",
                      eventbridge_notifications=_is_true(notifications.get("EventBridgeEnabled")),
                      encryption_rules=[_encryption_rule(rule) for rule in rules])


# ---------------------------------------------------------------------------------------- state machine


def _state_machines(template: dict[str, Any], names: LocalNames, resolver: Resolver) -> tuple[StateMachineSpec, ...]:
    scopes = state_machine_scopes(template)
    if JOB_WORKFLOW not in scopes.values():
        raise TemplateError(f"no {STATE_MACHINE_TYPE} of construct {JOB_WORKFLOW} (the job workflow) in the template")
    specs = []
    for logical_id, resource in resources_of_type(template, STATE_MACHINE_TYPE):
        props, name = resource.get("Properties", {}), names.state_machines[logical_id]
        specs.append(StateMachineSpec(scopes[logical_id], name, names.state_machine_arn(name),
                                      str(resolver.resolve(_required(props, "RoleArn", logical_id))),
                                      state_machine_definition(props, resolver)))
    return tuple(specs)


def state_machine_definition(props: dict[str, Any], resolver: Resolver) -> dict[str, Any]:
    """The synthesized ASL with every reference resolved to a local resource, adapted for moto."""
    if "DefinitionString" in props:
        text = str(resolver.resolve(props["DefinitionString"]))
    elif "Definition" in props:
        text = json.dumps(resolver.resolve(props["Definition"]))
    else:
        raise TemplateError("the state machine has neither DefinitionString nor Definition")
    for key, value in props.get("DefinitionSubstitutions", {}).items():
        text = text.replace("${" + key + "}", str(resolver.resolve(value)))
    definition: dict[str, Any] = localize_definition(json.loads(text))
    return definition


def localize_definition(node: Any) -> Any:
    """Local-only adaptations: short Retry intervals (moto really sleeps them), a float
    ToleratedFailurePercentage (moto's ASL grammar rejects an integer) and MaxConcurrency at most the cores."""
    if isinstance(node, list):
        return [localize_definition(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: localize_definition(value) for key, value in node.items()}
    if isinstance(result.get("ToleratedFailurePercentage"), int):
        result["ToleratedFailurePercentage"] = float(result["ToleratedFailurePercentage"])
    if isinstance(result.get("MaxConcurrency"), int):
        result["MaxConcurrency"] = min(result["MaxConcurrency"] or LOCAL_MAX_CONCURRENCY, LOCAL_MAX_CONCURRENCY)
    for retrier in result.get("Retry", []) if isinstance(result.get("Retry"), list) else []:
        _shorten_retrier(retrier)
    return result


def _shorten_retrier(retrier: dict[str, Any]) -> None:
    retrier["IntervalSeconds"] = min(int(retrier.get("IntervalSeconds", 1)), LOCAL_RETRY_INTERVAL_SECONDS)
    retrier["BackoffRate"] = 1.0
    if "MaxDelaySeconds" in retrier:
        retrier["MaxDelaySeconds"] = LOCAL_RETRY_INTERVAL_SECONDS
    retrier.pop("JitterStrategy", None)


# ---------------------------------------------------------------------------------- rules and the API


def _function_named_by(reference: Any, resolver: Resolver, functions: Iterable[FunctionSpec]) -> str | None:
    """The local function whose ARN ``reference`` (a rule target's Arn) resolves to, if it is one."""
    try:
        arn = resolver.resolve(reference)
    except UnresolvedReferenceError:
        return None
    return next((function.name for function in functions if function.arn == arn), None)


def _enabled_rules(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, properties) of each rule EventBridge acts on (a DISABLED one it ignores)."""
    for logical_id, rule in resources_of_type(template, RULE_TYPE):
        props = rule.get("Properties", {})
        if props.get("State", "ENABLED") != "DISABLED":
            yield logical_id, props


def _input(target: dict[str, Any], resolver: Resolver, logical_id: str) -> str | None:
    if "Input" not in target:
        return None
    text = str(resolver.resolve(target["Input"]))
    try:
        json.loads(text)
    except ValueError:
        raise TemplateError(f"a target of rule {logical_id} has an Input that is not JSON (EventBridge refuses it)"
                            ) from None
    return text


def _rule_targets(logical_id: str, props: dict[str, Any], resolver: Resolver,
                  functions: tuple[FunctionSpec, ...]) -> Iterator[RuleTarget]:
    """The targets of a rule that the runtime delivers to (moto's EventBridge never invokes a target)."""
    for target in props.get("Targets", []):
        name = _function_named_by(target.get("Arn"), resolver, functions)
        if name is None or {"InputPath", "InputTransformer"} & set(target):
            LOG.warning("a target of rule %s is not a function the local runtime runs, or transforms the event; "
                        "skipped", logical_id)
            continue
        retries = target.get("RetryPolicy", {}).get("MaximumRetryAttempts", EVENTBRIDGE_DEFAULT_RETRY_ATTEMPTS)
        yield RuleTarget(function_name=name, retry_attempts=int(retries), input=_input(target, resolver, logical_id))


def _event_routes(template: dict[str, Any], resolver: Resolver,
                  functions: tuple[FunctionSpec, ...]) -> tuple[EventRoute, ...]:
    """The rules with an event pattern and their function targets."""
    routes = []
    for logical_id, props in _enabled_rules(template):
        pattern = props.get("EventPattern")
        if isinstance(pattern, dict):
            routes += [EventRoute(**asdict(target), pattern=resolver.resolve(pattern))
                       for target in _rule_targets(logical_id, props, resolver, functions)]
    return tuple(routes)


def _schedule_expression(props: dict[str, Any], resolver: Resolver, logical_id: str) -> str:
    expression = str(resolver.resolve(props["ScheduleExpression"]))
    try:
        rate_seconds(expression)
    except ValueError as exc:
        raise TemplateError(f"rule {logical_id}: {exc}") from None
    return expression


def _schedules(template: dict[str, Any], names: LocalNames, resolver: Resolver,
               functions: tuple[FunctionSpec, ...]) -> tuple[Schedule, ...]:
    """The rules with a schedule expression and their function targets (fired by ``LocalRuntime.run_schedules``)."""
    schedules = []
    for logical_id, props in _enabled_rules(template):
        if "ScheduleExpression" in props:
            name, expression = names.rules[logical_id], _schedule_expression(props, resolver, logical_id)
            schedules += [Schedule(**asdict(target), rule_name=name, rule_arn=names.rule_arn(name),
                                   expression=expression)
                          for target in _rule_targets(logical_id, props, resolver, functions)]
    return tuple(schedules)


def _api_function(template: dict[str, Any], resolver: Resolver,
                  functions: tuple[FunctionSpec, ...]) -> FunctionSpec | None:
    """The function an API Gateway method integrates with (its Uri names the function's ARN)."""
    for _, method in resources_of_type(template, API_METHOD_TYPE):
        try:
            uri = str(resolver.resolve(method.get("Properties", {}).get("Integration", {}).get("Uri", "")))
        except UnresolvedReferenceError:
            continue
        found = next((function for function in functions if f"/functions/{function.arn}/" in uri), None)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------------------- the whole stack


@dataclass(frozen=True)
class LocalStack:
    """Everything the local runtime creates, as the template says."""

    names: LocalNames
    resolver: Resolver
    functions: tuple[FunctionSpec, ...]
    tables: tuple[TableSpec, ...]
    buckets: tuple[BucketSpec, ...]
    state_machines: tuple[StateMachineSpec, ...]
    event_routes: tuple[EventRoute, ...]
    schedules: tuple[Schedule, ...]
    api_function: FunctionSpec | None

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.names.roles.values())

    @property
    def ingest_routes(self) -> tuple[EventRoute, ...]:
        """The rules on S3 events (uploads that start jobs)."""
        return tuple(route for route in self.event_routes if route.on("aws.s3"))

    @property
    def job_workflow(self) -> StateMachineSpec:
        """The state machine that runs the jobs (see ``JOB_WORKFLOW``)."""
        return self.state_machine(JOB_WORKFLOW)

    def state_machine(self, scope: str) -> StateMachineSpec:
        """The state machine of construct ``scope`` (``Workflow``, ``DomainMaintenance``)."""
        found = next((spec for spec in self.state_machines if spec.scope == scope), None)
        if found is None:
            known = ", ".join(spec.scope for spec in self.state_machines)
            raise TemplateError(f"no state machine of construct {scope!r} in the template (its own: {known})")
        return found

    def function(self, construct: str) -> FunctionSpec:
        found = next((spec for spec in self.functions if spec.construct_id == construct), None)
        if found is None:
            known = ", ".join(spec.construct_id for spec in self.functions)
            raise TemplateError(f"no function {construct!r} in the template (its functions: {known})")
        return found

    def with_timeouts(self, timeouts: Mapping[str, int]) -> LocalStack:
        """The stack with the timeout of some functions (by construct id) changed."""
        for construct in timeouts:
            self.function(construct)
        functions = tuple(replace(spec, timeout_seconds=timeouts.get(spec.construct_id, spec.timeout_seconds))
                          for spec in self.functions)
        api = next((spec for spec in functions if self.api_function and spec.name == self.api_function.name), None)
        return replace(self, functions=functions, api_function=api)


def mirror(template: dict[str, Any], region: str, keys: Mapping[str, KmsKey]) -> LocalStack:
    """The template's resources under local names; ``keys``: the local key of each template KMS key."""
    names = LocalNames.of(template, region)
    resolver = build_resolver(template, names, keys)
    async_retries = _async_retry_attempts(template, resolver)
    functions = tuple(_function(logical_id, resource, names, resolver, async_retries)
                      for logical_id, resource in handler_functions(template))
    return LocalStack(
        names=names, resolver=resolver, functions=functions,
        tables=tuple(_table(logical_id, resource, names) for logical_id, resource in _tables(template)),
        buckets=tuple(_bucket(logical_id, resource, names, resolver)
                      for logical_id, resource in resources_of_type(template, BUCKET_TYPE)),
        state_machines=_state_machines(template, names, resolver),
        event_routes=_event_routes(template, resolver, functions),
        schedules=_schedules(template, names, resolver, functions),
        api_function=_api_function(template, resolver, functions),
    )


def merged_environment(functions: Iterable[FunctionSpec]) -> dict[str, str]:
    """All functions' variables as one environment (locally the handlers are threads of one process, reading
    ``os.environ``); a variable that two functions set differently keeps the first value, with a warning."""
    merged: dict[str, str] = {}
    for function in functions:
        for key, value in function.environment.items():
            if merged.setdefault(key, value) != value:
                LOG.warning("%s differs between functions locally; using %r", key, merged[key])
    return merged


def settings_of(environment: Mapping[str, str]) -> Settings:
    """What the variables of ``environment`` point at, read as the handlers read them."""
    try:
        return Settings.from_env(environment)
    except KeyError as exc:
        raise TemplateError(f"no function of the template sets {exc}") from exc


def local_settings(template: dict[str, Any], region: str) -> Settings:
    """The local resources the functions' variables name, without creating anything (keys are stand-ins)."""
    return settings_of(merged_environment(mirror(template, region, placeholder_keys(template, region)).functions))


def key_for(keys: Iterable[KmsKey], reference: str | None) -> KmsKey:
    """The local key a variable names (by id or ARN); ``NO_KEY`` for an unset variable."""
    if not reference:
        return NO_KEY
    found = next((key for key in keys if reference in (key.key_id, key.arn)), None)
    if found is None:
        raise TemplateError(f"{reference} is not a KMS key of the template")
    return found
