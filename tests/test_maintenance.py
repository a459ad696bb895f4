"""Domain maintenance, the rules (issue 15): the purge of a deleted domain, the expiry of speakers not accessed for
the retention period, the daily run that starts both, and how a task walks its sources page by page. Fakes only;
the DynamoDB and S3 adapters and the workflow are in tests/test_maintenance_e2e.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest
from fakes import DeferredMaintenance, MemoryDomains, MemoryJobs, MemorySpeakers, MemoryWatchlists
from speaker_enrollment.domain.admin.domains import DomainAdmin, DomainRequest
from speaker_enrollment.domain.admin.errors import ResourceNotFoundError
from speaker_enrollment.domain.admin.expiry import DAY_SECONDS, ExpireSpeakers
from speaker_enrollment.domain.admin.maintenance import EXPIRE, PURGE, Outcome, Passes, run_step, run_to_end
from speaker_enrollment.domain.admin.purge import STOPPED, PurgeDomain
from speaker_enrollment.domain.admin.sweep import RECHECK_SECONDS, MaintenanceSweep
from speaker_enrollment.domain.shared.ids import new_generated_speaker_id, new_id
from speaker_enrollment.domain.shared.job import BatchJob, JobStatus
from speaker_enrollment.domain.shared.paging import Erased
from speaker_enrollment.domain.shared.speaker import Speaker, SpeakerStatus, opted_out_speaker
from test_store_contracts import new_job

NOW = 1_800_000_000.0
RETENTION_DAYS = 3 * 365


# ------------------------------------------------------------------------------------------ passes


def test_a_walk_goes_through_every_source_page_by_page_and_ends_after_a_pass_that_changed_nothing() -> None:
    start = Passes()
    assert start.following("p2", changed=False, sources=2) == Passes(0, "p2")
    assert Passes(0, "p2").following(None, changed=True, sources=2) == Passes(1, None, changed=True)
    assert Passes(1, None, changed=True).following(None, changed=False, sources=2) == Passes()  # another pass
    assert Passes(1).following(None, changed=False, sources=2) is None  # a clean pass: done
    assert Passes.of(Passes(1, "x", True).to_cursor()) == Passes(1, "x", True)
    assert Passes.of(None) == Passes()


# ------------------------------------------------------------------------------------------- expiry


def speaker(name: str, *, accessed: float | None, created: float = NOW - 4000 * DAY_SECONDS,
            status: SpeakerStatus = SpeakerStatus.ENROLLED) -> Speaker:
    return Speaker("d", name, new_generated_speaker_id(), status, created, created, accessed,
                   voiceprint=(0.1, 0.2) if status is not SpeakerStatus.OPTED_OUT else (), version=1)


def expiry(speakers: MemorySpeakers, page_size: int = 500) -> ExpireSpeakers:
    return ExpireSpeakers(speakers, RETENTION_DAYS, lambda: NOW, page_size=page_size)


def test_a_speaker_not_accessed_for_the_retention_period_is_deleted_and_the_others_stay() -> None:
    speakers = MemorySpeakers()
    day = DAY_SECONDS
    for record in (speaker("old", accessed=NOW - (RETENTION_DAYS + 1) * day),
                   speaker("recent", accessed=NOW - (RETENTION_DAYS - 1) * day),
                   speaker("never-accessed-old", accessed=None),
                   speaker("never-accessed-new", accessed=None, created=NOW - day),
                   replace(opted_out_speaker("d", "opted-out", new_generated_speaker_id(), NOW - 4000 * day),
                           version=1)):
        speakers.create(record, 100)
    task = expiry(speakers)
    assert run_to_end(task, "d") is Outcome.COMPLETED
    assert sorted(c for (_, c) in speakers.speakers) == ["never-accessed-new", "opted-out", "recent"]
    assert speakers.count("d") == 3  # the deleted ones are uncounted (the quota)
    remaining = speakers.get("d", "opted-out")
    assert remaining is not None and remaining.voiceprint == ()  # only its opt-out marker


def test_expiry_reports_how_many_it_deleted_and_continues_from_its_cursor_when_time_runs_short() -> None:
    speakers = MemorySpeakers()
    for index in range(5):
        speakers.create(speaker(f"caller-{index}", accessed=None), 100)
    task = expiry(speakers, page_size=2)
    steps = [run_step(task, "d", None, lambda: 0.0)]
    while steps[-1].outcome is Outcome.RUNNING:
        steps.append(run_step(task, "d", steps[-1].page.cursor, lambda: 0.0))
    assert [step.page.counts["SpeakersExpired"] for step in steps] == [2, 2, 1]
    assert steps[-1].outcome is Outcome.COMPLETED and speakers.speakers == {}


def test_a_speaker_accessed_since_it_was_listed_is_not_expired() -> None:
    speakers = MemorySpeakers()
    speakers.create(speaker("caller", accessed=None), 100)

    class AccessedMeanwhile(MemorySpeakers):
        def delete(self, doomed: Speaker) -> None:  # an authentication moved LastAccessedAt just before
            current = speakers.get("d", "caller")
            assert current is not None
            speakers.replace(current.accessed(NOW), current)
            speakers.delete(doomed)

    page = ExpireSpeakers(AccessedMeanwhile(speakers.speakers, speakers.domains), RETENTION_DAYS,
                          lambda: NOW).run_page("d", None, lambda: 100.0)
    assert page.counts == {"SpeakersExpired": 0} and speakers.get("d", "caller") is not None


# -------------------------------------------------------------------------------------------- purge


@dataclass
class Place:
    """A DomainData holding `items` per domain, erasing `page_size` at a time, recording what it erased."""

    name: str
    items: dict[str, list[str]]
    page_size: int = 2
    log: list[str] = field(default_factory=list)
    refill: Callable[[], None] | None = None  # a writer in flight, once

    def erase_page(self, domain_id: str, after: str | None) -> Erased:
        mine = self.items.get(domain_id, [])
        erased, self.items[domain_id] = mine[:self.page_size], mine[self.page_size:]
        self.log += erased
        if self.refill is not None and not self.items[domain_id]:
            self.refill, refill = None, self.refill
            refill()
        return Erased(len(erased), "more" if self.items[domain_id] else None)


@dataclass
class Workflow:
    stopped: list[tuple[str, str]] = field(default_factory=list)

    def start(self, job: BatchJob) -> None:
        raise AssertionError("a purge starts no job")

    def stop(self, job: BatchJob, cause: str) -> None:
        self.stopped.append((job.job_id, cause))


@dataclass
class Traces:
    jobs: dict[str, int]

    def erase_job(self, job_id: str) -> int:
        return self.jobs.pop(job_id, 0)


def _job(domain_id: str, job_id: str, status: JobStatus) -> BatchJob:
    return replace(new_job(domain_id), job_id=job_id, status=status)


def test_a_purge_stops_running_jobs_erases_every_place_of_the_domain_and_the_job_records_last() -> None:
    jobs = MemoryJobs()
    for job_id, status in (("j-done", JobStatus.COMPLETED), ("j-running", JobStatus.IN_PROGRESS)):
        jobs.create(_job("d", job_id, status), new_id(), "hash")
    jobs.create(_job("other", "j-other", JobStatus.IN_PROGRESS), new_id(), "hash")
    speakers = Place("Speakers", {"d": ["s1", "s2", "s3"], "other": ["o1"]})
    sessions = Place("Sessions", {"d": ["x1"]})
    records = Place("Jobs", {"d": ["j-done", "j-running"]})
    workflow, traces = Workflow(), Traces({"j-done": 4, "j-running": 2, "j-other": 7})
    domains = MemoryDomains()
    purge = PurgeDomain(domains, jobs, workflow, [traces], [speakers, sessions], records, lambda: NOW, page_size=1)

    steps = [run_step(purge, "d", None, lambda: 0.0)]
    while steps[-1].outcome is Outcome.RUNNING:
        assert not records.log or not speakers.items["d"]  # the job records go once everything else is clean
        steps.append(run_step(purge, "d", steps[-1].page.cursor, lambda: 0.0))

    assert steps[-1].outcome is Outcome.COMPLETED
    assert set(workflow.stopped) == {("j-running", STOPPED)}  # each pass stops it again if it still runs: harmless
    assert traces.jobs == {"j-other": 7}
    assert speakers.items == {"d": [], "other": ["o1"]} and sessions.items["d"] == [] and records.items["d"] == []
    totals: dict[str, int] = {}
    for step in steps:
        for name, count in step.page.counts.items():
            totals[name] = totals.get(name, 0) + count
    assert totals == {"JobTracesErased": 6, "SpeakersErased": 3, "SessionsErased": 1, "JobsErased": 2}


def test_a_purge_passes_again_over_what_a_writer_in_flight_wrote_during_the_first_pass() -> None:
    speakers = Place("Speakers", {"d": ["s1"]})
    speakers.refill = lambda: speakers.items["d"].append("late")
    records = Place("Jobs", {})
    purge = PurgeDomain(MemoryDomains(), MemoryJobs(), Workflow(), [], [speakers], records, lambda: NOW)
    assert run_to_end(purge, "d") is Outcome.COMPLETED
    assert speakers.log == ["s1", "late"] and speakers.items["d"] == []


def test_delete_domain_leaves_a_tombstone_at_once_starts_the_purge_and_records_its_end() -> None:
    domains, maintenance = MemoryDomains(MemoryWatchlists()), DeferredMaintenance()
    admin = DomainAdmin(domains, lambda: NOW, _AnyKey(), maintenance)
    domain = admin.create(DomainRequest("support", "key", client_token=new_id()))
    admin.delete(domain.domain_id)
    with pytest.raises(ResourceNotFoundError):
        admin.describe(domain.domain_id)
    assert admin.page(10, None).items == [] and maintenance.started == [(domain.domain_id, PURGE)]
    (tombstone,) = domains.deleted_page(10, None).items
    assert tombstone.purged_at is None and tombstone.wants_purge(NOW, RECHECK_SECONDS)
    purge = PurgeDomain(domains, MemoryJobs(), Workflow(), [], [], Place("Jobs", {}), lambda: NOW + 60)
    maintenance.tasks[PURGE] = purge
    maintenance.run()
    (tombstone,) = domains.deleted_page(10, None).items
    assert (tombstone.purged_at, tombstone.purge_error) == (NOW + 60, None)


class _AnyKey:
    def check_key(self, domain_id: str, key_id: str) -> str:
        return key_id


# -------------------------------------------------------------------------------------------- sweep


def test_the_daily_run_expires_every_domain_and_purges_deleted_domains_until_two_days_after_a_clean_purge() -> None:
    domains, maintenance = MemoryDomains(MemoryWatchlists()), DeferredMaintenance()
    admin = DomainAdmin(domains, lambda: NOW, _AnyKey(), maintenance)
    live, gone_recently, gone_long_ago, failed = (
        admin.create(DomainRequest(name, "key", client_token=new_id())).domain_id
        for name in ("live", "recent", "old", "failed"))
    for domain_id in (gone_recently, gone_long_ago, failed):
        domains.delete(domain_id, NOW - 3 * 86_400 if domain_id != gone_recently else NOW - 3600)
        domains.purged(domain_id, NOW - 3000, "S3 refused" if domain_id == failed else None)
    started = MaintenanceSweep(domains, maintenance, lambda: NOW).run()
    assert sorted(maintenance.started) == sorted([(live, EXPIRE), (gone_recently, PURGE), (failed, PURGE)])
    assert (started.expiries, started.purges) == (1, 2)
