"""Create, with boto3 against the local endpoint, the resources the CDK stack would create (as ``stack`` reads
them from the template)."""

from __future__ import annotations

import io
import json
import secrets
import string
import time
import zipfile
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from speaker_enrollment.adapters.dynamodb import DynamoDomainStore
from speaker_enrollment.domain.shared.domain import Domain
from speaker_enrollment.domain.shared.watchlist import default_watchlist, default_watchlist_id

from enrollctl.local.deploy import IndexChange
from enrollctl.local.stack import BucketSpec, FunctionSpec, KeySpec, KmsKey, StateMachineSpec, TableSpec

TRUST_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRole",
     "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"], "AWS": "*"}}]})
DOMAIN_ID_ALPHABET = string.ascii_letters + string.digits


class Clients:
    """boto3 clients bound to the local endpoint (explicit credentials: never the user's real ones)."""

    def __init__(self, endpoint: str, region: str, config: Config | None = None, access_key: str = "local") -> None:
        self._session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key="local",
                                              region_name=region)
        self._endpoint = endpoint
        self._config = config
        self._cache: dict[str, BaseClient] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = self._session.client(service, endpoint_url=self._endpoint, config=self._config)
        return self._cache[service]


def create_key(clients: Clients, spec: KeySpec) -> KmsKey:
    args = {"Description": spec.description, "KeySpec": spec.key_spec, "KeyUsage": spec.key_usage}
    meta = clients("kms").create_key(**{name: value for name, value in args.items() if value})["KeyMetadata"]
    return KmsKey(meta["KeyId"], meta["Arn"])


def create_role(clients: Clients, name: str) -> None:
    """Every local role trusts Lambda, Step Functions and any principal: moto does not enforce IAM."""
    clients("iam").create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_POLICY)


def create_bucket(clients: Clients, region: str, spec: BucketSpec) -> None:
    s3 = clients("s3")
    if region == "us-east-1":
        s3.create_bucket(Bucket=spec.name)
    else:
        s3.create_bucket(Bucket=spec.name, CreateBucketConfiguration={"LocationConstraint": region})
    if spec.versioned:
        s3.put_bucket_versioning(Bucket=spec.name, VersioningConfiguration={"Status": "Enabled"})
    if spec.encryption_rules:
        s3.put_bucket_encryption(Bucket=spec.name,
                                 ServerSideEncryptionConfiguration={"Rules": spec.encryption_rules})
    if spec.eventbridge_notifications:
        s3.put_bucket_notification_configuration(Bucket=spec.name, NotificationConfiguration={
            "EventBridgeConfiguration": {}})


def create_table(clients: Clients, spec: TableSpec) -> None:
    args: dict[str, Any] = {"TableName": spec.name, "KeySchema": spec.key_schema,
                            "AttributeDefinitions": spec.attribute_definitions,
                            "BillingMode": "PAY_PER_REQUEST"}
    if spec.global_secondary_indexes:
        args["GlobalSecondaryIndexes"] = spec.global_secondary_indexes
    if spec.local_secondary_indexes:
        args["LocalSecondaryIndexes"] = spec.local_secondary_indexes
    clients("dynamodb").create_table(**args)
    if spec.ttl_attribute:
        clients("dynamodb").update_time_to_live(TableName=spec.name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": spec.ttl_attribute})


def update_table_index(clients: Clients, change: IndexChange) -> None:
    clients("dynamodb").update_table(**change.request())


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Handlers run in-process: see enrollctl.local.lambda_runner\n")
    return buffer.getvalue()


def create_function(clients: Clients, spec: FunctionSpec, env: dict[str, str]) -> str:
    response = clients("lambda").create_function(
        FunctionName=spec.name, Runtime="python3.12", Architectures=["arm64"], Role=spec.role_arn,
        Handler=spec.handler, Code={"ZipFile": _placeholder_zip()}, MemorySize=spec.memory_mb,
        Timeout=spec.timeout_seconds, Environment={"Variables": env})
    return str(response["FunctionArn"])


def update_function_environment(clients: Clients, spec: FunctionSpec, env: dict[str, str]) -> None:
    clients("lambda").update_function_configuration(FunctionName=spec.name, Environment={"Variables": env})


def create_state_machine(clients: Clients, spec: StateMachineSpec) -> str:
    response = clients("stepfunctions").create_state_machine(
        name=spec.name, definition=json.dumps(spec.definition), roleArn=spec.role_arn, type="STANDARD")
    return str(response["stateMachineArn"])


def new_domain_id() -> str:
    return "".join(secrets.choice(DOMAIN_ID_ALPHABET) for _ in range(22))


def put_default_domain(clients: Clients, domains_table: str, watchlists_table: str, domain_id: str,
                       kms_key_id: str) -> None:
    """The runtime's domain, as CreateDomain makes one (with its default watchlist), under a chosen id."""
    now = round(time.time(), 3)
    domain = Domain(domain_id, "default", kms_key_id=kms_key_id, created_at=now, updated_at=now,
                    default_watchlist_id=default_watchlist_id(domain_id))
    store = DynamoDomainStore(clients("dynamodb"), domains_table, watchlists_table)
    store.create(domain, default_watchlist(domain_id, now), client_token=f"local-default-{domain_id}", request_hash="")
