"""Administering domains: create (idempotent per ClientToken), describe, list, update, delete, tag."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..ports import DomainRegistry, VoiceprintCipher
from ..shared.domain import Domain, DomainStatus, EncryptionUpdateStatus, Tags
from ..shared.errors import ClientTokenReusedError, DomainChangedError
from ..shared.ids import stable_id
from ..shared.paging import Page
from ..shared.watchlist import default_watchlist, default_watchlist_id
from .errors import (
    ConcurrentChangeError,
    DomainNotActiveError,
    EncryptionUpdateLockedError,
    InvalidRequestError,
    ResourceKind,
    ResourceNotFoundError,
)
from .maintenance import PURGE, REENCRYPT, MaintenanceStarter
from .tags import tagged, untagged

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class DomainRequest:
    """What CreateDomain carries."""

    name: str
    kms_key_id: str
    client_token: str
    description: str | None = None
    tags: Tags = ()

    @property
    def domain_id(self) -> str:
        return stable_id("voice-id-domain", self.client_token)

    def fingerprint(self) -> str:
        body = [self.name, self.kms_key_id, self.description, sorted(self.tags)]
        return hashlib.sha256(json.dumps(body).encode()).hexdigest()

    def new_domain(self, now: float) -> Domain:
        return Domain(
            self.domain_id, self.name, DomainStatus.ACTIVE, description=self.description,
            kms_key_id=self.kms_key_id, created_at=now, updated_at=now,
            default_watchlist_id=default_watchlist_id(self.domain_id), tags=tagged((), self.tags),
        )


@dataclass(frozen=True)
class DomainAdmin:
    """`keys` checks that a domain's KMS key can protect its voiceprints; `maintenance` starts the background
    re-encryption when the key changes, and the purge of a deleted domain's data."""

    registry: DomainRegistry
    clock: Callable[[], float]
    keys: VoiceprintCipher
    maintenance: MaintenanceStarter

    def create(self, request: DomainRequest) -> Domain:
        """The new domain with its default watchlist; the same token and request again give the same domain.
        The key must be usable (KeyUnusableError otherwise) before anything is written."""
        now = self.clock()
        domain = request.new_domain(now)
        self.keys.check_key(domain.domain_id, request.kms_key_id)
        if self.registry.create(domain, default_watchlist(domain.domain_id, now), request.client_token,
                                request.fingerprint()):
            return domain
        existing = self.registry.get(domain.domain_id)
        if existing is None:
            raise InvalidRequestError(f"ClientToken '{request.client_token}' created domain "
                                      f"'{domain.domain_id}', which has been deleted; use a new ClientToken")
        if self.registry.request_hash(domain.domain_id) != request.fingerprint():
            raise ClientTokenReusedError(f"ClientToken '{request.client_token}' was already used for a different "
                                         f"request (domain {domain.domain_id})")
        return existing

    def describe(self, domain_id: str) -> Domain:
        domain = self.registry.get(domain_id)
        if domain is None:
            raise ResourceNotFoundError(ResourceKind.DOMAIN, f"Domain '{domain_id}' does not exist")
        return domain

    def active(self, domain_id: str) -> Domain:
        """The domain, which must be ACTIVE to take new work."""
        domain = self.describe(domain_id)
        if domain.status is not DomainStatus.ACTIVE:
            raise DomainNotActiveError(f"Domain '{domain_id}' is {domain.status.value}, not ACTIVE")
        return domain

    def page(self, limit: int, after: str | None) -> Page[Domain]:
        return self.registry.page(limit, after)

    def update(self, domain_id: str, name: str, description: str | None, kms_key_id: str) -> Domain:
        """A new key (checked first) re-encrypts the domain's voiceprints in the background: the update is
        IN_PROGRESS until every one is under the new key; meanwhile another change of key is refused. The same key
        again retries a FAILED re-encryption."""
        current = self.describe(domain_id)

        def reconfigure(domain: Domain) -> Domain:
            if kms_key_id != domain.kms_key_id and domain.reencrypting:
                raise EncryptionUpdateLockedError(
                    f"Domain '{domain_id}' is being re-encrypted under its new KMS key; its key can change again "
                    "once ServerSideEncryptionUpdateDetails.UpdateStatus is no longer IN_PROGRESS")
            return domain.reconfigured(name, description, kms_key_id, self.clock())

        starts = reconfigure(current).reencrypting and not current.reencrypting
        if kms_key_id != current.kms_key_id or starts:
            self.keys.check_key(domain_id, kms_key_id)
        updated = self._change(domain_id, reconfigure)
        if starts:
            try:
                self.maintenance.start(domain_id, REENCRYPT)
            except Exception:
                end_reencryption(self.registry, domain_id, EncryptionUpdateStatus.FAILED,
                                 "The re-encryption could not be started; call UpdateDomain with the same KMS key "
                                 "to retry")
                raise
        return updated

    def tag(self, domain_id: str, tags: Sequence[tuple[str, str]]) -> Domain:
        return self._change(domain_id, lambda d: d.with_tags(tagged(d.tags, tags)))

    def untag(self, domain_id: str, keys: Sequence[str]) -> Domain:
        return self._change(domain_id, lambda d: d.with_tags(untagged(d.tags, keys)))

    def delete(self, domain_id: str) -> None:
        """The domain is gone at once (a tombstone keeps its DomainId from reuse); its speakers, fraudsters, jobs,
        sessions and inbox objects are purged in the background. Should the purge not start, the scheduled
        maintenance run starts it (admin/sweep.py)."""
        if not self.registry.delete(domain_id, self.clock()):
            raise ResourceNotFoundError(ResourceKind.DOMAIN, f"Domain '{domain_id}' does not exist")
        self.maintenance.start(domain_id, PURGE)

    def _change(self, domain_id: str, change: Callable[[Domain], Domain]) -> Domain:
        updated = change_domain(self.registry, domain_id, change)
        if updated is None:
            raise ResourceNotFoundError(ResourceKind.DOMAIN, f"Domain '{domain_id}' does not exist")
        return updated


def change_domain(registry: DomainRegistry, domain_id: str, change: Callable[[Domain], Domain]) -> Domain | None:
    """Read, change, write unless someone else wrote in between (then again, a few times); None when the domain
    does not exist."""
    for _ in range(MAX_ATTEMPTS):
        current = registry.get(domain_id)
        if current is None:
            return None
        updated = change(current)
        try:
            registry.update(updated, current)
        except DomainChangedError:
            continue
        return updated
    raise ConcurrentChangeError(f"Domain '{domain_id}' kept changing concurrently; retry")


def end_reencryption(registry: DomainRegistry, domain_id: str, status: EncryptionUpdateStatus,
                     message: str | None = None) -> None:
    """Record the end of the domain's re-encryption (COMPLETED, or FAILED saying why); nothing when the domain is
    gone or not re-encrypting."""
    change_domain(registry, domain_id, lambda domain: domain.reencryption_ended(status, message))
