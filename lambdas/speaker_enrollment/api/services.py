"""What the operations work with: the stores, the workflow starter, the NextToken signer, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..domain.domain import Deployment
from ..domain.domain_admin import DomainAdmin
from ..domain.ports import DomainRegistry, JobCatalog, SpeakerDirectory, WatchlistStore, Workflow
from ..domain.speaker_admin import SpeakerAdmin
from ..domain.submission import Submitter
from .tokens import PageTokens

DEFAULT_SPEAKER_QUOTA = 100_000


@dataclass(frozen=True)
class ApiServices:
    domains: DomainRegistry
    jobs: JobCatalog
    speakers: SpeakerDirectory
    watchlists: WatchlistStore
    workflow: Workflow
    tokens: PageTokens
    clock: Callable[[], float]
    deployment: Deployment
    speaker_quota: int = DEFAULT_SPEAKER_QUOTA

    @property
    def domain_admin(self) -> DomainAdmin:
        return DomainAdmin(self.domains, self.clock)

    @property
    def speaker_admin(self) -> SpeakerAdmin:
        return SpeakerAdmin(self.speakers, self.speaker_quota, self.clock)

    @property
    def submitter(self) -> Submitter:
        return Submitter(self.jobs, self.domains, self.workflow, self.clock)
