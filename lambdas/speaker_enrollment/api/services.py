"""What the operations work with: the stores and quotas, the job submitter, the NextToken signer, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..domain.admin.domains import DomainAdmin
from ..domain.admin.fraudsters import FraudsterAdmin
from ..domain.admin.maintenance import MaintenanceStarter
from ..domain.admin.speakers import SpeakerAdmin
from ..domain.admin.watchlists import WatchlistAdmin
from ..domain.ports import (
    DomainRegistry,
    FraudsterStore,
    JobCatalog,
    SpeakerDirectory,
    VoiceprintCipher,
    WatchlistRegistry,
)
from ..domain.shared.domain import Deployment
from ..domain.workflow.sessions import SessionStore
from ..domain.workflow.submission import Submitter
from .tokens import PageTokens


@dataclass(frozen=True)
class ApiServices:
    domains: DomainRegistry
    jobs: JobCatalog
    speakers: SpeakerDirectory
    watchlists: WatchlistRegistry
    fraudsters: FraudsterStore
    submitter: Submitter
    tokens: PageTokens
    clock: Callable[[], float]
    deployment: Deployment
    speaker_quota: int  # per domain
    watchlist_quota: int  # per domain, the default watchlist included
    fraudster_quota: int  # per watchlist
    keys: VoiceprintCipher  # checks a domain's KMS key (CreateDomain, UpdateDomain)
    maintenance: MaintenanceStarter  # background work over a domain's data (re-encryption)
    sessions: SessionStore | None = None  # EvaluateSession (a deployment with the Sessions table)

    @property
    def domain_admin(self) -> DomainAdmin:
        return DomainAdmin(self.domains, self.clock, self.keys, self.maintenance)

    @property
    def speaker_admin(self) -> SpeakerAdmin:
        return SpeakerAdmin(self.speakers, self.speaker_quota, self.clock)

    @property
    def watchlist_admin(self) -> WatchlistAdmin:
        return WatchlistAdmin(self.watchlists, self.clock, self.watchlist_quota)

    @property
    def fraudster_admin(self) -> FraudsterAdmin:
        return FraudsterAdmin(self.fraudsters, self.watchlists, self.fraudster_quota)


Operation = Callable[[ApiServices, dict[str, Any]], dict[str, Any]]  # (services, validated request) → response
