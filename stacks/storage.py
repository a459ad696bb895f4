"""Where a job's data lives: one customer-managed KMS key, the S3 buckets and the DynamoDB tables.

Names follow docs/architecture.md (section "Storage").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct
from speaker_enrollment.adapters.dynamodb.speakers import (
    GENERATED_SPEAKER_ID_INDEX,
    LEGACY_GENERATED_SPEAKER_ID_INDEX,
)
from speaker_enrollment.adapters.s3 import OPT_IN_TAG, OPT_IN_VALUE

from stacks.nag import acknowledge_wildcard, logical_id

WORK_OBJECTS_EXPIRE_AFTER = Duration.days(30)
ACCESS_LOGS_EXPIRE_AFTER = Duration.days(365)


@dataclass(frozen=True)
class DataRetention:
    """How long raw caller audio and replaced object versions stay (CDK context ``inboxRetentionDays``,
    ``noncurrentVersionDays``). Voiceprints are made within minutes of an upload; the audio is not needed after."""

    inbox_days: int = 30
    noncurrent_version_days: int = 7


class SpeakerIndexStep(Enum):
    """The speakers' GeneratedSpeakerId index on its way to keys only (CDK context ``speakerIndexMigration``, README
    "Upgrading"). The first releases' index projected every attribute, voiceprints included; CloudFormation can
    neither change a projection in place nor create one index and delete another in one update, so a deployment
    made before takes two: ``add``, then (once the new index is ACTIVE) the default."""

    ADD = "add"  # the keys-only index beside the old one, which the code reads until the new one is ACTIVE
    DROP = "drop"  # the keys-only index alone: the default, and what a fresh deployment gets

    @property
    def indexes(self) -> tuple[str, ...]:
        """The names of the indexes the speakers table has in this step."""
        old = (LEGACY_GENERATED_SPEAKER_ID_INDEX,) if self is SpeakerIndexStep.ADD else ()
        return (GENERATED_SPEAKER_ID_INDEX, *old)


class EnrollmentStorage(Construct):
    """KMS keys (data, NextToken HMAC), inbox / output / work buckets (+ their access-log bucket), Domains / Jobs /
    Speakers / Watchlists / Fraudsters / Sessions tables."""

    def __init__(self, scope: Construct, construct_id: str, *, retention: DataRetention | None = None,
                 speaker_index: SpeakerIndexStep = SpeakerIndexStep.DROP) -> None:
        super().__init__(scope, construct_id)
        self.retention = retention or DataRetention()
        self.speaker_index = speaker_index
        self.key = self._key()
        self.token_key = self._token_key()
        self.access_log_bucket = self._access_log_bucket()
        self.inbox_bucket = self._data_bucket("InboxBucket", versioned=True,
                                              expire_after=Duration.days(self.retention.inbox_days))
        self._enable_eventbridge_notifications(self.inbox_bucket)
        self.output_bucket = self._data_bucket("OutputBucket", versioned=True)
        self.work_bucket = self._data_bucket("WorkBucket", versioned=False, expire_after=WORK_OBJECTS_EXPIRE_AFTER)
        self.domains_table = self._table("DomainsTable", partition_key="DomainId")
        # Progress markers (DomainId progress#<JobId>) expire; job records have no ExpiresAt and stay.
        self.jobs_table = self._table("JobsTable", partition_key="DomainId", sort_key="JobId",
                                      time_to_live_attribute="ExpiresAt")
        self.speakers_table = self._table("SpeakersTable", partition_key="DomainId", sort_key="CustomerSpeakerId")
        self._add_speaker_indexes()
        self.watchlists_table = self._table("WatchlistsTable", partition_key="DomainId", sort_key="WatchlistId")
        self.fraudsters_table = self._table("FraudstersTable", partition_key="DomainId",
                                            sort_key="GeneratedFraudsterId")
        # Recorded calls' sessions and their EvaluateSession results expire (SESSION_RETENTION_DAYS, from the
        # evaluation): TTL on ExpiresAt.
        self.sessions_table = self._table("SessionsTable", partition_key="DomainId", sort_key="SessionId",
                                          time_to_live_attribute="ExpiresAt")
        self._default_data_access_role: iam.Role | None = None

    # -- KMS ---------------------------------------------------------------------------------------

    def _key(self) -> kms.Key:
        key = kms.Key(
            self,
            "Key",
            description="Speaker enrollment: buckets, tables, queues and logs",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        stack = Stack.of(self)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        return key

    def _token_key(self) -> kms.Key:
        """HMAC key of the Voice ID API's NextTokens (KMS GenerateMac / VerifyMac; never leaves KMS).

        No rotation: KMS rotates symmetric encryption keys only. Tokens expire after 24 h, so a replaced key
        invalidates nothing but pages in flight; it is retained anyway like every other key of the stack.
        """
        return kms.Key(
            self,
            "TokenKey",
            description="Speaker enrollment: HMAC of the Voice ID API's pagination tokens (NextToken)",
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def grant_key_read(self, grantee: iam.IGrantable) -> None:
        """Decrypt objects and items encrypted with the key."""
        self.key.grant(grantee, "kms:Decrypt", "kms:DescribeKey")

    def grant_key_read_write(self, grantee: iam.IGrantable) -> None:
        """Decrypt, and encrypt new objects (S3 SSE-KMS data keys) and items (DynamoDB)."""
        self.key.grant(grantee, "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")

    # -- S3 ----------------------------------------------------------------------------------------

    def _access_log_bucket(self) -> s3.Bucket:
        # Not logged itself; cdk-nag's S1 exempts a bucket that is other buckets' access log destination.
        return s3.Bucket(
            self,
            "AccessLogBucket",
            # S3 server access logging can only deliver to SSE-S3 buckets (SSE-KMS targets are unsupported).
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=ACCESS_LOGS_EXPIRE_AFTER)],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _data_bucket(self, construct_id: str, *, versioned: bool, expire_after: Duration | None = None) -> s3.Bucket:
        rules = [s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(1))]
        if expire_after is not None:
            rules.append(s3.LifecycleRule(expiration=expire_after))
        if versioned:  # a replaced or deleted object's old version is personal data too
            rules.append(s3.LifecycleRule(
                noncurrent_version_expiration=Duration.days(self.retention.noncurrent_version_days),
                expired_object_delete_marker=expire_after is None))
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=versioned,
            lifecycle_rules=rules,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix=f"{construct_id}/",
            removal_policy=RemovalPolicy.RETAIN,
        )

    @staticmethod
    def _enable_eventbridge_notifications(bucket: s3.Bucket) -> None:
        """Send the bucket's events to EventBridge natively (no notifications custom resource Lambda)."""
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )

    # -- DynamoDB ----------------------------------------------------------------------------------

    def _table(self, construct_id: str, *, partition_key: str, sort_key: str | None = None,
               time_to_live_attribute: str | None = None) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=_string(partition_key),
            sort_key=_string(sort_key) if sort_key else None,
            time_to_live_attribute=time_to_live_attribute,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _add_speaker_indexes(self) -> None:
        """By GeneratedSpeakerId: keys only (a lookup reads the speaker itself), so no index copies a voiceprint;
        the first releases' ALL index only while a deployment moves off it (``SpeakerIndexStep.ADD``)."""
        for name in self.speaker_index.indexes:
            self.speakers_table.add_global_secondary_index(
                index_name=name,
                partition_key=_string("DomainId"),
                sort_key=_string("GeneratedSpeakerId"),
                projection_type=(dynamodb.ProjectionType.KEYS_ONLY if name == GENERATED_SPEAKER_ID_INDEX
                                 else dynamodb.ProjectionType.ALL),
            )

    def grant_speaker_lookup(self, grantee: iam.IGrantable) -> None:
        """Query of the speakers' GeneratedSpeakerId index(es) of this step: exactly those the code may read."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["dynamodb:Query"],
            resource_arns=[f"{self.speakers_table.table_arn}/index/{name}" for name in self.speaker_index.indexes],
        )

    # -- The default data access role (jobs started by an S3 upload) -------------------------------

    def create_default_data_access_role(self, trusted_by: Sequence[iam.IRole]) -> iam.Role:
        """The role S3-upload jobs run with: read the inbox, write the output bucket. Created once.

        It is trusted by exactly the roles given (the workflow functions that assume a job's role), which
        exist only after the workflow's roles are made, hence a method instead of the constructor.
        """
        if self._default_data_access_role is not None:
            raise RuntimeError("the default data access role already exists")
        # Opted in (the tag) like any customer role, trusting the functions with this stack's ExternalId, and
        # letting them tag their sessions (sts:TagSession): the trust policy README's sample shows.
        role = iam.Role(
            self,
            "DefaultDataAccessRole",
            description="Speaker enrollment: data access role of jobs started by an upload to the inbox bucket",
            assumed_by=iam.CompositePrincipal(*(iam.SessionTagsPrincipal(iam.ArnPrincipal(r.role_arn))
                                                for r in trusted_by)),
            external_ids=[Stack.of(self).stack_name],
        )
        Tags.of(role).add(OPT_IN_TAG, OPT_IN_VALUE)
        self._grant_default_data_access(role)
        self._default_data_access_role = role
        return role

    @property
    def default_data_access_role(self) -> iam.Role:
        if self._default_data_access_role is None:
            raise RuntimeError("create_default_data_access_role() has not been called yet")
        return self._default_data_access_role

    def _grant_default_data_access(self, role: iam.Role) -> None:
        self.inbox_bucket.grant_read(role)
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[self.output_bucket.arn_for_objects("*")])
        )
        self.key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        acknowledge_wildcard(
            role,
            "Action::s3:GetObject*",
            "CDK's read grant: GetObject plus its version/ACL/attribute variants on the inbox, which holds "
            "nothing but what S3-upload jobs are meant to read (manifests and audio).",
        )
        acknowledge_wildcard(
            role,
            "Action::s3:GetBucket*",
            "CDK's read grant: bucket location/versioning lookups on the inbox bucket only.",
        )
        acknowledge_wildcard(
            role,
            "Action::s3:List*",
            "CDK's read grant: listing the inbox bucket only, so a missing audio file reads as NoSuchKey "
            "(a precise 400 for the request) instead of AccessDenied.",
        )
        acknowledge_wildcard(
            role,
            f"Resource::<{logical_id(self.inbox_bucket)}.Arn>/*",
            "Jobs started by an upload read any manifest and audio object in the inbox bucket; object keys "
            "are chosen by the uploader, so the grant is on every key of that one bucket.",
        )
        acknowledge_wildcard(
            role,
            f"Resource::<{logical_id(self.output_bucket)}.Arn>/*",
            "Output files go to <DomainId>/<JobId>/<manifest>.out; the domain and job ids are only known at "
            "run time, so the write grant covers every key of the output bucket (and no other bucket).",
        )


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)
