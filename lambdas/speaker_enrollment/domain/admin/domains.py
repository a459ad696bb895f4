"""Administering domains: create (idempotent per ClientToken), describe, list, update, delete, tag."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..ports import DomainRegistry
from ..shared.domain import Domain, DomainStatus, Tags
from ..shared.errors import ClientTokenReusedError, DomainChangedError
from ..shared.ids import stable_id
from ..shared.paging import Page
from ..shared.watchlist import default_watchlist, default_watchlist_id
from .errors import (
    ConcurrentChangeError,
    DomainNotActiveError,
    InvalidRequestError,
    ResourceKind,
    ResourceNotFoundError,
)
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
    registry: DomainRegistry
    clock: Callable[[], float]

    def create(self, request: DomainRequest) -> Domain:
        """The new domain with its default watchlist; the same token and request again give the same domain."""
        now = self.clock()
        domain = request.new_domain(now)
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
        return self._change(domain_id, lambda d: d.reconfigured(name, description, kms_key_id, self.clock()))

    def tag(self, domain_id: str, tags: Sequence[tuple[str, str]]) -> Domain:
        return self._change(domain_id, lambda d: d.with_tags(tagged(d.tags, tags)))

    def untag(self, domain_id: str, keys: Sequence[str]) -> Domain:
        return self._change(domain_id, lambda d: d.with_tags(untagged(d.tags, keys)))

    def delete(self, domain_id: str) -> None:
        if not self.registry.delete(domain_id, self.clock()):
            raise ResourceNotFoundError(ResourceKind.DOMAIN, f"Domain '{domain_id}' does not exist")

    def _change(self, domain_id: str, change: Callable[[Domain], Domain]) -> Domain:
        """Read, change, write unless someone else wrote in between (then again, a few times)."""
        for _ in range(MAX_ATTEMPTS):
            current = self.describe(domain_id)
            updated = change(current)
            try:
                self.registry.update(updated, current)
            except DomainChangedError:
                continue
            return updated
        raise ConcurrentChangeError(f"Domain '{domain_id}' kept changing concurrently; retry")
