"""The scheduled maintenance run (once a day): every domain's speakers are checked for expiry, and every deleted
domain whose data may not be all gone is purged (again). Each task runs in the background, one execution of the
maintenance workflow per domain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from ..ports import DomainRegistry
from ..shared.paging import Page
from .maintenance import EXPIRE, PURGE, MaintenanceStarter

PAGE_SIZE = 100
# A writer in flight when its domain was deleted (a shard runs at most 15 minutes) may write after the first purge:
# deleted domains are purged again on the scheduled runs of the next two days.
RECHECK_SECONDS = 2 * 86_400.0
T = TypeVar("T")


@dataclass(frozen=True)
class SweepCounts:
    expiries: int
    purges: int


@dataclass(frozen=True)
class MaintenanceSweep:
    domains: DomainRegistry
    maintenance: MaintenanceStarter
    clock: Callable[[], float]

    def run(self) -> SweepCounts:
        expiries = 0
        for domain in _every(self.domains.page):
            self.maintenance.start(domain.domain_id, EXPIRE)
            expiries += 1
        purges = 0
        now = self.clock()
        for deleted in _every(self.domains.deleted_page):
            if deleted.wants_purge(now, RECHECK_SECONDS):
                self.maintenance.start(deleted.domain_id, PURGE)
                purges += 1
        return SweepCounts(expiries, purges)


def _every(page_of: Callable[[int, str | None], Page[T]]) -> Iterator[T]:
    after: str | None = None
    while True:
        page = page_of(PAGE_SIZE, after)
        yield from page.items
        after = page.next_position
        if after is None:
            return
