"""What the local runtime mirrors of the CDK stack (docs/architecture.md), read from the synthesized
template where it says more (key schemas, memory, timeouts, environment, the state machine, the rule)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field, replace
from typing import Any

from enrollctl.local.template import (
    Resolver,
    TemplateError,
    UnresolvedReferenceError,
    construct_id,
    find_by_construct,
    find_function,
    keyword_matcher,
    resources_of_type,
)

LOG = logging.getLogger(__name__)
HOST = "127.0.0.1"
DEFAULT_PORT = 4599
DEFAULT_REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
PREFIX = "speaker-enrollment"
STATE_MACHINE_NAME = "EnrollmentWorkflow"
SUBMIT_FUNCTION = "SubmitJobFunction"
MANIFEST_PREFIX = "manifests/"
FRAUDSTER_MANIFEST_PREFIX = "fraudsters/"
LOCAL_RETRY_INTERVAL_SECONDS = 1
# Locally every Map iteration is a thread of this one process: iterations beyond the cores only interleave
# on them. On 2 cores a 200-request job took 43.5 s with MaxConcurrency 2 against 45.6 s with the
# template's 10 (mean of 4 runs each, 5 % less CPU; bench/job.py); 0 (unlimited) is capped too.
LOCAL_MAX_CONCURRENCY = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")


@dataclass(frozen=True)
class FunctionSpec:
    construct_id: str
    handler: str
    memory_mb: int
    timeout_seconds: int = 900
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:  # SubmitJobFunction -> speaker-enrollment-submit-job
        words = "".join(f"-{c.lower()}" if c.isupper() else c for c in self.construct_id).strip("-")
        return f"{PREFIX}-{words.removesuffix('-function')}"


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(SUBMIT_FUNCTION, "speaker_enrollment.handlers.submit_job.handler", 256),
    FunctionSpec("PrepareJobFunction", "speaker_enrollment.handlers.prepare_job.handler", 1024),
    FunctionSpec("EnrollShardFunction", "speaker_enrollment.handlers.enroll_shard.handler", 3008),
    FunctionSpec("FinalizeJobFunction", "speaker_enrollment.handlers.finalize_job.handler", 1024),
    FunctionSpec("FailJobFunction", "speaker_enrollment.handlers.fail_job.handler", 256),
)


@dataclass(frozen=True)
class TableSpec:
    role: str  # "jobs" | "speakers" | "domains" | "watchlists" | "fraudsters" (matched against the construct id)
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    global_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)
    ttl_attribute: str | None = None

    @property
    def name(self) -> str:
        return f"{PREFIX}-{self.role}"


def _keys(*names: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    schema = [{"AttributeName": n, "KeyType": t} for n, t in zip(names, ("HASH", "RANGE"), strict=False)]
    return schema, [{"AttributeName": n, "AttributeType": "S"} for n in names]


def default_tables() -> tuple[TableSpec, ...]:
    speakers_schema, speakers_attrs = _keys("DomainId", "CustomerSpeakerId")
    gsi = {"IndexName": "GeneratedSpeakerId", "KeySchema": [{"AttributeName": "DomainId", "KeyType": "HASH"},
                                                               {"AttributeName": "GeneratedSpeakerId",
                                                                "KeyType": "RANGE"}],
           "Projection": {"ProjectionType": "ALL"}}
    return (
        TableSpec("domains", *_keys("DomainId")),
        TableSpec("jobs", *_keys("DomainId", "JobId")),
        TableSpec("speakers", speakers_schema,
                  [*speakers_attrs, {"AttributeName": "GeneratedSpeakerId", "AttributeType": "S"}], [gsi]),
        TableSpec("watchlists", *_keys("DomainId", "WatchlistId")),
        TableSpec("fraudsters", *_keys("DomainId", "GeneratedFraudsterId")),
    )


BUCKET_ROLES = ("inbox", "output", "work")


@dataclass(frozen=True)
class LocalNames:
    region: str
    account: str = ACCOUNT_ID

    def bucket(self, role: str) -> str:
        return f"{PREFIX}-{role}-{self.account}-{self.region}"

    def function_arn(self, spec: FunctionSpec) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{spec.name}"

    def table_arn(self, name: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"

    def role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{name}"

    @property
    def state_machine_arn(self) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{STATE_MACHINE_NAME}"

    data_access_role = f"{PREFIX}-default-data-access"
    execution_role = f"{PREFIX}-local-execution"


# ------------------------------------------------------------------------------- template → local specs


def _table_from_template(spec: TableSpec, resource: dict[str, Any]) -> TableSpec:
    props = resource.get("Properties", {})
    gsis = [{"IndexName": g["IndexName"], "KeySchema": g["KeySchema"],
             "Projection": g.get("Projection", {"ProjectionType": "ALL"})}
            for g in props.get("GlobalSecondaryIndexes", [])]
    ttl = props.get("TimeToLiveSpecification", {})
    return replace(spec, key_schema=props.get("KeySchema", spec.key_schema),
                   attribute_definitions=props.get("AttributeDefinitions", spec.attribute_definitions),
                   global_secondary_indexes=gsis,
                   ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") else None)


def tables(template: dict[str, Any]) -> tuple[TableSpec, ...]:
    result = []
    for spec in default_tables():
        found = find_by_construct(template, TABLE_TYPES, keyword_matcher(spec.role.rstrip("s")))
        if not found:
            LOG.warning("no %s table in the template; using the documented key schema", spec.role)
        result.append(_table_from_template(spec, found[0][1]) if found else spec)
    return tuple(result)


def versioned_buckets(template: dict[str, Any]) -> frozenset[str]:
    """The bucket roles whose template bucket has versioning enabled (versioned buckets put a
    ``version-id`` in their events)."""
    result = set()
    for role in BUCKET_ROLES:
        for _, resource in find_by_construct(template, ("AWS::S3::Bucket",), keyword_matcher(role)):
            status = resource.get("Properties", {}).get("VersioningConfiguration", {}).get("Status")
            if status == "Enabled":
                result.add(role)
    return frozenset(result)


def _function_environment(resource: dict[str, Any], resolver: Resolver) -> dict[str, str]:
    env: dict[str, str] = {}
    variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
    for key, value in variables.items():
        try:
            env[key] = str(resolver.resolve(value))
        except UnresolvedReferenceError as exc:
            LOG.warning("environment variable %s not mirrored locally: %s", key, exc)
    return env


def functions(template: dict[str, Any], resolver: Resolver) -> tuple[FunctionSpec, ...]:
    result = []
    for spec in FUNCTIONS:
        found = find_function(template, spec.construct_id)
        if found is None:
            raise TemplateError(f"no Lambda function {spec.construct_id} in the template")
        props = found[1].get("Properties", {})
        result.append(replace(spec, memory_mb=int(props.get("MemorySize", spec.memory_mb)),
                              timeout_seconds=int(props.get("Timeout", spec.timeout_seconds)),
                              environment=_function_environment(found[1], resolver)))
    return tuple(result)


def build_resolver(template: dict[str, Any], names: LocalNames, key_id: str, key_arn: str,
                   mac_key: tuple[str, str] | None = None) -> Resolver:
    """Every template resource the runtime mirrors → its local name (Ref) and ARN (Fn::GetAtt .Arn).

    KMS keys map to the local key, HMAC keys (KeySpec HMAC_*) to the local `mac_key` (id, arn) if given."""
    resolver = Resolver(refs={"AWS::Region": names.region, "AWS::AccountId": names.account,
                              "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
                              "AWS::StackName": "SpeakerEnrollmentStack"})
    for name, parameter in template.get("Parameters", {}).items():
        if "Default" in parameter:
            resolver.refs[name] = str(parameter["Default"])

    def add(logical_id: str, ref: str, arn: str, **extra: str) -> None:
        resolver.refs[logical_id] = ref
        resolver.attrs[(logical_id, "Arn")] = arn
        resolver.attrs.update({(logical_id, attr): value for attr, value in extra.items()})

    for spec in FUNCTIONS:
        found = find_function(template, spec.construct_id)
        if found:
            add(found[0], spec.name, names.function_arn(spec))
    for role in BUCKET_ROLES:
        for logical_id, _ in find_by_construct(template, ("AWS::S3::Bucket",), keyword_matcher(role)):
            bucket = names.bucket(role)
            add(logical_id, bucket, f"arn:aws:s3:::{bucket}", DomainName=f"{bucket}.s3.amazonaws.com")
    for table in default_tables():
        for logical_id, _ in find_by_construct(template, TABLE_TYPES, keyword_matcher(table.role.rstrip("s"))):
            add(logical_id, table.name, names.table_arn(table.name))
    for logical_id, resource in resources_of_type(template, "AWS::KMS::Key"):
        is_mac = str(resource.get("Properties", {}).get("KeySpec", "")).startswith("HMAC_")
        local_id, local_arn = mac_key if is_mac and mac_key else (key_id, key_arn)
        add(logical_id, local_id, local_arn, KeyId=local_id)
    for logical_id, resource in resources_of_type(template, "AWS::IAM::Role"):
        is_data_access = "dataaccess" in construct_id(logical_id, resource).lower()
        role = names.data_access_role if is_data_access else names.execution_role
        add(logical_id, role, names.role_arn(role))
    for logical_id, _ in resources_of_type(template, "AWS::StepFunctions::StateMachine"):
        add(logical_id, names.state_machine_arn, names.state_machine_arn, Name=STATE_MACHINE_NAME)
    return resolver


# ---------------------------------------------------------------------------------------- state machine


def _state_machine_resource(template: dict[str, Any]) -> dict[str, Any]:
    machines = list(resources_of_type(template, "AWS::StepFunctions::StateMachine"))
    if not machines:
        raise TemplateError("no AWS::StepFunctions::StateMachine in the template")
    preferred = [m for m in machines if "workflow" in construct_id(*m).lower()]
    return (preferred or machines)[0][1]


def state_machine_definition(template: dict[str, Any], resolver: Resolver) -> dict[str, Any]:
    """The synthesized ASL with every reference resolved to a local resource, adapted for moto."""
    props = _state_machine_resource(template).get("Properties", {})
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


# ------------------------------------------------------------------------------------------ ingest rule


def default_ingest_pattern(inbox_bucket: str) -> dict[str, Any]:
    return {"source": ["aws.s3"], "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [inbox_bucket]},
                       "object": {"key": [{"wildcard": f"{prefix}*/*.json"}
                                          for prefix in (MANIFEST_PREFIX, FRAUDSTER_MANIFEST_PREFIX)]}}}


def ingest_pattern(template: dict[str, Any], resolver: Resolver, inbox_bucket: str) -> dict[str, Any]:
    """The EventPattern of the stack's S3 → submit-job rule, resolved; the documented match otherwise."""
    for _, resource in resources_of_type(template, "AWS::Events::Rule"):
        pattern = resource.get("Properties", {}).get("EventPattern")
        if isinstance(pattern, dict) and "aws.s3" in json.dumps(pattern.get("source", [])):
            try:
                return resolver.resolve(pattern)  # type: ignore[no-any-return]
            except UnresolvedReferenceError as exc:
                LOG.warning("ingest rule pattern not resolvable (%s); using the documented match", exc)
    return default_ingest_pattern(inbox_bucket)
