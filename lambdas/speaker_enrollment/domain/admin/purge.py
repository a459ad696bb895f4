"""The ``purge`` maintenance task: after DeleteDomain, every item and inbox object of the domain is deleted.

DeleteDomain leaves a tombstone at once (the domain is gone from List and Describe); this task then erases, a page
at a time, what the domain had everywhere else:

1. its jobs' traces: a job still running is stopped first (its execution; FailJob then finds no job to mark),
   then its work files (shards and results, with speaker ids and audio URIs) and its progress markers;
2. the domain's partition of every table: speakers and their count slots, fraudsters, watchlists, sessions with
   their EvaluateSession results;
3. the inbox's audio and manifests under the domain's prefixes (every object version);
4. last, the job records: they are how step 1 finds the traces, so they go once everything else is clean.

Steps 1-3 are repeated until a pass erases nothing (a writer in flight at the deletion may have written since),
then step 4 runs. Output files stay: they are the customer's, in the customer's bucket. Pages are idempotent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..ports import DomainData, DomainRegistry, JobCatalog, JobTraces, Workflow
from ..shared.paging import Erased
from .maintenance import PURGE, PageDone, Passes

PAGE_SIZE = 100  # jobs per page of step 1
RESERVE_SECONDS = 10.0  # kept for the last page's deletes and the return
STOPPED = "The job's domain was deleted (DeleteDomain)"


@dataclass(frozen=True)
class PurgeDomain:
    """The DomainTask (admin/maintenance.py) named ``purge``. `places` are steps 2 and 3, `records` step 4."""

    domains: DomainRegistry
    jobs: JobCatalog
    workflow: Workflow
    job_traces: Sequence[JobTraces]
    places: Sequence[DomainData]
    records: DomainData
    clock: Callable[[], float]
    page_size: int = PAGE_SIZE

    @property
    def name(self) -> str:
        return PURGE

    def run_page(self, domain_id: str, cursor: str | None, time_left: Callable[[], float]) -> PageDone:
        position = Passes.of(cursor)
        erased: Counter[str] = Counter()
        sources = 1 + len(self.places) + 1  # the jobs' traces, the places, the job records
        while True:
            name, page = self._erase(domain_id, position, sources)
            erased[name] += page.count
            if position.source == sources - 1:  # the job records, after a clean pass: no more passes
                following = Passes(position.source, page.next_position) if page.next_position else None
            else:
                following = position.following(page.next_position, page.count > 0, sources - 1)
                if following is None:
                    following = Passes(sources - 1)
            if following is None or time_left() < RESERVE_SECONDS:
                counts = {f"{name}Erased": count for name, count in erased.items() if count}
                return PageDone(following.to_cursor() if following else None, counts)
            position = following

    def _erase(self, domain_id: str, position: Passes, sources: int) -> tuple[str, Erased]:
        if position.source == 0:
            return "JobTraces", self._erase_job_traces(domain_id, position.after)
        place = self.records if position.source == sources - 1 else self.places[position.source - 1]
        return place.name, place.erase_page(domain_id, position.after)

    def _erase_job_traces(self, domain_id: str, after: str | None) -> Erased:
        page = self.jobs.page(domain_id, self.page_size, after)
        count = 0
        for job in page.items:
            if not job.status.is_final:
                self.workflow.stop(job, STOPPED)
            count += sum(traces.erase_job(job.job_id) for traces in self.job_traces)
        return Erased(count, page.next_position)

    def complete(self, domain_id: str) -> None:
        self.domains.purged(domain_id, self.clock())

    def fail(self, domain_id: str, message: str) -> None:
        self.domains.purged(domain_id, self.clock(), message)
