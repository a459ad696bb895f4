"""Create, with boto3 against the local endpoint, the resources the CDK stack would create."""

from __future__ import annotations

import io
import json
import secrets
import string
import time
import zipfile
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from speaker_enrollment.adapters.dynamodb import DynamoDomainStore
from speaker_enrollment.domain.shared.domain import Domain
from speaker_enrollment.domain.shared.watchlist import default_watchlist, default_watchlist_id

from enrollctl.local.stack import BUCKET_ROLES, FunctionSpec, LocalNames, TableSpec

TRUST_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRole",
     "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"], "AWS": "*"}}]})
DOMAIN_ID_ALPHABET = string.ascii_letters + string.digits


class Clients:
    """boto3 clients bound to the local endpoint (explicit credentials: never the user's real ones)."""

    def __init__(self, endpoint: str, region: str, config: Config | None = None) -> None:
        self._session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local",
                                              region_name=region)
        self._endpoint = endpoint
        self._config = config
        self._cache: dict[str, BaseClient] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = self._session.client(service, endpoint_url=self._endpoint, config=self._config)
        return self._cache[service]


@dataclass(frozen=True)
class KmsKey:
    key_id: str
    arn: str


def create_key(clients: Clients) -> KmsKey:
    meta = clients("kms").create_key(Description="speaker-enrollment (local)")["KeyMetadata"]
    clients("kms").create_alias(AliasName="alias/speaker-enrollment", TargetKeyId=meta["KeyId"])
    return KmsKey(meta["KeyId"], meta["Arn"])


def create_mac_key(clients: Clients) -> KmsKey:
    """The HMAC_256 key that signs the Voice ID API's NextTokens (API_TOKEN_KEY_ID)."""
    meta = clients("kms").create_key(Description="speaker-enrollment API tokens (local)", KeySpec="HMAC_256",
                                     KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    return KmsKey(meta["KeyId"], meta["Arn"])


def create_roles(clients: Clients, names: LocalNames) -> None:
    for role in (names.execution_role, names.data_access_role):
        clients("iam").create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_POLICY)


def create_buckets(clients: Clients, names: LocalNames, key: KmsKey, versioned: frozenset[str]) -> None:
    s3 = clients("s3")
    for role in BUCKET_ROLES:
        bucket = names.bucket(role)
        if names.region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": names.region})
        if role in versioned:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key.arn},
             "BucketKeyEnabled": True}]})
    s3.put_bucket_notification_configuration(Bucket=names.bucket("inbox"), NotificationConfiguration={
        "EventBridgeConfiguration": {}})


def create_table(clients: Clients, spec: TableSpec) -> None:
    args: dict[str, Any] = {"TableName": spec.name, "KeySchema": spec.key_schema,
                            "AttributeDefinitions": spec.attribute_definitions,
                            "BillingMode": "PAY_PER_REQUEST"}
    if spec.global_secondary_indexes:
        args["GlobalSecondaryIndexes"] = spec.global_secondary_indexes
    clients("dynamodb").create_table(**args)
    if spec.ttl_attribute:
        clients("dynamodb").update_time_to_live(TableName=spec.name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": spec.ttl_attribute})


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Handlers run in-process: see enrollctl.local.lambda_runner\n")
    return buffer.getvalue()


def create_function(clients: Clients, names: LocalNames, spec: FunctionSpec, env: dict[str, str]) -> str:
    response = clients("lambda").create_function(
        FunctionName=spec.name, Runtime="python3.12", Architectures=["arm64"],
        Role=names.role_arn(names.execution_role), Handler=spec.handler, Code={"ZipFile": _placeholder_zip()},
        MemorySize=spec.memory_mb, Timeout=spec.timeout_seconds, Environment={"Variables": env})
    return str(response["FunctionArn"])


def create_state_machine(clients: Clients, names: LocalNames, name: str, definition: dict[str, Any]) -> str:
    response = clients("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=names.role_arn(names.execution_role),
        type="STANDARD")
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
