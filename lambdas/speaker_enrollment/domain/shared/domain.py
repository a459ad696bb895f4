"""A Voice ID domain: the unit of isolation of speakers and jobs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from .patterns import whole

Tags = tuple[tuple[str, str], ...]
DOMAIN_ARN_PATTERN = whole(
    r"arn:(?P<partition>aws(-[^:]+)?):voiceid:(?P<region>[^:]+):(?P<account>[0-9]{12}):"
    r"domain/(?P<domain_id>[a-zA-Z0-9]{22})"
)


class DomainStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PENDING = "PENDING"
    SUSPENDED = "SUSPENDED"


class EncryptionUpdateStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class EncryptionUpdate:
    """The last change of the domain's KmsKeyId (ServerSideEncryptionUpdateDetails)."""

    old_kms_key_id: str
    status: EncryptionUpdateStatus = EncryptionUpdateStatus.COMPLETED
    message: str | None = None

    @property
    def in_progress(self) -> bool:
        return self.status is EncryptionUpdateStatus.IN_PROGRESS

    def to_api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"OldKmsKeyId": self.old_kms_key_id, "UpdateStatus": self.status.value}
        if self.message:
            shape["Message"] = self.message
        return shape


@dataclass(frozen=True)
class Deployment:
    """Where this service runs: the region and account domain ARNs name."""

    region: str
    account: str

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    def domain_arn(self, domain_id: str) -> str:
        return f"arn:{self.partition}:voiceid:{self.region}:{self.account}:domain/{domain_id}"

    def domain_id_of(self, arn: str) -> str | None:
        """The DomainId an ARN names, if it is a domain ARN of this deployment (else None)."""
        match = DOMAIN_ARN_PATTERN.fullmatch(arn)
        if match is None or (match["partition"], match["region"], match["account"]) != (
            self.partition, self.region, self.account
        ):
            return None
        return match["domain_id"]


@dataclass(frozen=True)
class DeletedDomain:
    """The tombstone DeleteDomain leaves (the DomainId is never handed out again) and how its purge went."""

    domain_id: str
    deleted_at: float
    purged_at: float | None = None  # when a purge of its data last ended
    purge_error: str | None = None  # why that purge failed, if it did

    def wants_purge(self, now: float, recheck_seconds: float) -> bool:
        """Never purged, last purge failed, or deleted so recently that a writer in flight at the deletion may have
        written since the last purge."""
        return self.purged_at is None or self.purge_error is not None or now - self.deleted_at < recheck_seconds


@dataclass(frozen=True)
class Domain:
    domain_id: str
    name: str
    status: DomainStatus = DomainStatus.ACTIVE
    description: str | None = None
    kms_key_id: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    default_watchlist_id: str | None = None
    tags: Tags = ()
    encryption_update: EncryptionUpdate | None = None
    version: int = 0  # optimistic lock of administrative changes

    def to_api(self, deployment: Deployment) -> dict[str, Any]:
        """Voice ID's Domain shape (DomainSummary has the same members)."""
        shape: dict[str, Any] = {
            "DomainId": self.domain_id, "Arn": deployment.domain_arn(self.domain_id), "Name": self.name,
            "DomainStatus": self.status.value, "CreatedAt": self.created_at, "UpdatedAt": self.updated_at,
        }
        if self.description:
            shape["Description"] = self.description
        if self.kms_key_id:
            shape["ServerSideEncryptionConfiguration"] = {"KmsKeyId": self.kms_key_id}
        if self.encryption_update is not None:
            shape["ServerSideEncryptionUpdateDetails"] = self.encryption_update.to_api()
        if self.default_watchlist_id:
            shape["WatchlistDetails"] = {"DefaultWatchlistId": self.default_watchlist_id}
        return shape

    def reconfigured(self, name: str, description: str | None, kms_key_id: str, now: float) -> Domain:
        """UpdateDomain: every attribute is replaced; an omitted Description is removed (as in Voice ID). A new key
        starts re-encryption (IN_PROGRESS, from the key before); the same key again retries a FAILED one."""
        update = self.encryption_update
        if self.kms_key_id and kms_key_id != self.kms_key_id:
            update = EncryptionUpdate(self.kms_key_id, EncryptionUpdateStatus.IN_PROGRESS)
        elif update is not None and update.status is EncryptionUpdateStatus.FAILED:
            update = EncryptionUpdate(update.old_kms_key_id, EncryptionUpdateStatus.IN_PROGRESS)
        return replace(self, name=name, description=description, kms_key_id=kms_key_id,
                       encryption_update=update, updated_at=now)

    @property
    def reencrypting(self) -> bool:
        return self.encryption_update is not None and self.encryption_update.in_progress

    def reencryption_ended(self, status: EncryptionUpdateStatus, message: str | None = None) -> Domain:
        """The end of an IN_PROGRESS re-encryption (COMPLETED, or FAILED saying why)."""
        if self.encryption_update is None or not self.encryption_update.in_progress:
            return self
        return replace(self, encryption_update=EncryptionUpdate(self.encryption_update.old_kms_key_id, status,
                                                                message))

    def with_tags(self, tags: Tags) -> Domain:
        return replace(self, tags=tags)
