"""What the operations work with: the stores and quotas, the workflow starter, the NextToken signer, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..domain.domain import Deployment
from ..domain.domain_admin import DomainAdmin
from ..domain.fraudster_admin import DEFAULT_FRAUDSTER_QUOTA, FraudsterAdmin
from ..domain.ports import DomainRegistry, FraudsterStore, JobCatalog, SpeakerDirectory, WatchlistRegistry, Workflow
from ..domain.speaker_admin import SpeakerAdmin
from ..domain.submission import Submitter
from ..domain.watchlist_admin import DEFAULT_WATCHLIST_QUOTA, WatchlistAdmin
from .tokens import PageTokens

DEFAULT_SPEAKER_QUOTA = 100_000


@dataclass(frozen=True)
class ApiServices:
    domains: DomainRegistry
    jobs: JobCatalog
    speakers: SpeakerDirectory
    watchlists: WatchlistRegistry
    fraudsters: FraudsterStore
    workflow: Workflow
    tokens: PageTokens
    clock: Callable[[], float]
    deployment: Deployment
    speaker_quota: int = DEFAULT_SPEAKER_QUOTA
    watchlist_quota: int = DEFAULT_WATCHLIST_QUOTA  # per domain, the default watchlist included
    fraudster_quota: int = DEFAULT_FRAUDSTER_QUOTA  # per watchlist

    @property
    def domain_admin(self) -> DomainAdmin:
        return DomainAdmin(self.domains, self.clock)

    @property
    def speaker_admin(self) -> SpeakerAdmin:
        return SpeakerAdmin(self.speakers, self.speaker_quota, self.clock)

    @property
    def watchlist_admin(self) -> WatchlistAdmin:
        return WatchlistAdmin(self.watchlists, self.clock, self.watchlist_quota)

    @property
    def fraudster_admin(self) -> FraudsterAdmin:
        return FraudsterAdmin(self.fraudsters, self.watchlists, self.fraudster_quota)

    @property
    def submitter(self) -> Submitter:
        return Submitter(self.jobs, self.domains, self.workflow, self.clock, self.watchlists)
