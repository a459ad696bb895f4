"""The storage ports' contract (domain/ports.py, errors in domain/shared/errors.py), one suite per port.

Every test runs on the in-memory stores of tests/fakes.py (`memory`) and on the AWS adapters over moto
(`dynamodb`: tables with the stack's key schemas and GSI; `s3`: the work bucket), so the fakes the domain tests
use keep the adapters' rules: conditional creates, optimistic locking by `version`, the counts behind the quotas
kept in the same transaction as the write, a job's life cycle, and paging by an opaque position. The last section
reads items the previous release wrote (no ``SchemaVersion``) through the DynamoDB adapters.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, TypeVar

import boto3
import pytest
from botocore.exceptions import ClientError
from enrollctl.local.kms_key_state import key_state_enforced
from enrollctl.local.stack import PREFIX, TableSpec, mirror, placeholder_keys
from enrollctl.local.template import load_template
from fakes import MemoryDomains, MemoryFraudsters, MemoryJobs, MemorySpeakers, MemoryWatchlists, MemoryWorkStore
from helpers import release_n_speakers_table
from moto import mock_aws
from speaker_enrollment.adapters.codecs import UnknownSchemaVersionError, to_item
from speaker_enrollment.adapters.dynamodb import (
    DynamoDomainStore,
    DynamoFraudsterStore,
    DynamoJobStore,
    DynamoSpeakerStore,
    DynamoWatchlistStore,
)
from speaker_enrollment.adapters.dynamodb.speakers import GENERATED_SPEAKER_ID_INDEX
from speaker_enrollment.adapters.s3 import S3WorkStore
from speaker_enrollment.adapters.voiceprint_cipher import KmsVoiceprintCipher
from speaker_enrollment.domain.ports import (
    DomainRegistry,
    FraudsterStore,
    JobCatalog,
    SpeakerDirectory,
    WatchlistRegistry,
    WorkStore,
)
from speaker_enrollment.domain.shared.domain import Domain, DomainStatus, EncryptionUpdate, EncryptionUpdateStatus
from speaker_enrollment.domain.shared.errors import (
    DomainChangedError,
    FraudsterChangedError,
    QuotaExceededError,
    SpeakerChangedError,
    SpeakerQuotaExceededError,
    WatchlistGoneError,
    WatchlistNotEmptyError,
)
from speaker_enrollment.domain.shared.fraudster import Fraudster
from speaker_enrollment.domain.shared.ids import new_generated_fraudster_id, new_generated_speaker_id, new_id
from speaker_enrollment.domain.shared.job import BatchJob, FailureDetails, JobConfig, JobStatus, JobSummary
from speaker_enrollment.domain.shared.paging import Page
from speaker_enrollment.domain.shared.speaker import EnrollmentStatus, Speaker, SpeakerStatus
from speaker_enrollment.domain.shared.watchlist import Watchlist, default_watchlist, default_watchlist_id
from speaker_enrollment.domain.workflow.fraud import FraudDetectionAction, FraudDetectionConfig
from speaker_enrollment.domain.workflow.kinds.enrollment import (
    SPEAKER_ENROLLMENT,
    EnrollmentConfig,
    ExistingEnrollmentAction,
)
from speaker_enrollment.domain.workflow.kinds.evaluation import SPEAKER_EVALUATION, EvaluationConfig
from speaker_enrollment.domain.workflow.kinds.registration import (
    FRAUDSTER_REGISTRATION,
    DuplicateRegistrationAction,
    RegistrationConfig,
)

T = TypeVar("T")
REGION = "us-east-1"
WORK_BUCKET = "work"
NOW = 1_700_000_000.0
ROLE = "arn:aws:iam::123456789012:role/data"
ROOM = 1_000  # a quota that does not bind
LIMIT = 2  # page size of the paging tests


# ------------------------------------------------------------------------------------------ the two stacks


@cache
def tables() -> dict[str, TableSpec]:
    """The stack's tables as the synthesized template defines them (key schemas, indexes), by role."""
    template = load_template()
    mirrored = mirror(template, REGION, placeholder_keys(template, REGION))
    return {spec.name.removeprefix(f"{PREFIX}-"): spec for spec in mirrored.tables}


@dataclass(frozen=True)
class Stores:
    """One implementation of every store port, sharing its tables (counts cross stores)."""

    domains: DomainRegistry
    watchlists: WatchlistRegistry
    speakers: SpeakerDirectory
    fraudsters: FraudsterStore
    jobs: JobCatalog


def memory_stores() -> Stores:
    watchlists = MemoryWatchlists()
    domains = MemoryDomains(watchlists)
    return Stores(domains, watchlists, MemorySpeakers(domains=domains), MemoryFraudsters(watchlists=watchlists),
                  MemoryJobs())


def moto_cipher() -> KmsVoiceprintCipher:
    """Voiceprints sealed under one key of moto's KMS (call inside ``mock_aws``): the contracts are about records."""
    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    return KmsVoiceprintCipher(kms, lambda _domain_id: key_id)


def dynamodb_stores(client: Any) -> Stores:
    table = {role: spec.name for role, spec in tables().items()}
    cipher = moto_cipher()
    return Stores(
        DynamoDomainStore(client, table["domains"], table["watchlists"]),
        DynamoWatchlistStore(client, table["watchlists"], table["domains"]),
        DynamoSpeakerStore(client, table["speakers"], table["domains"], cipher),
        DynamoFraudsterStore(client, table["fraudsters"], table["watchlists"], cipher),
        DynamoJobStore(client, table["jobs"]),
    )


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    """A DynamoDB client on moto, with the stack's tables (and moto's KMS, strict about key state)."""
    with mock_aws(), key_state_enforced():
        client = boto3.client("dynamodb", region_name=REGION)
        for spec in tables().values():
            indexes = {"GlobalSecondaryIndexes": spec.global_secondary_indexes} if spec.global_secondary_indexes else {}
            client.create_table(TableName=spec.name, KeySchema=spec.key_schema, BillingMode="PAY_PER_REQUEST",
                                AttributeDefinitions=spec.attribute_definitions, **indexes)
        yield client


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Stores:
    if request.param == "memory":
        return memory_stores()
    return dynamodb_stores(request.getfixturevalue("dynamodb"))


@pytest.fixture
def domains(stores: Stores) -> DomainRegistry:
    return stores.domains


@pytest.fixture
def watchlists(stores: Stores) -> WatchlistRegistry:
    return stores.watchlists


@pytest.fixture
def speakers(stores: Stores) -> SpeakerDirectory:
    return stores.speakers


@pytest.fixture
def fraudsters(stores: Stores) -> FraudsterStore:
    return stores.fraudsters


@pytest.fixture
def jobs(stores: Stores) -> JobCatalog:
    return stores.jobs


# ------------------------------------------------------------------------------------------------ records


def new_domain(domains: DomainRegistry, name: str = "support") -> Domain:
    """A domain created with its default watchlist."""
    domain_id = new_id()
    domain = Domain(domain_id, name, description="calls", kms_key_id="key-1", created_at=NOW, updated_at=NOW,
                    default_watchlist_id=default_watchlist_id(domain_id), tags=(("team", "fraud"),))
    assert domains.create(domain, default_watchlist(domain_id, NOW), f"token-{domain_id}", "hash-1")
    return domain


@pytest.fixture
def domain(domains: DomainRegistry) -> Domain:
    return new_domain(domains)


def new_speaker(domain_id: str, customer_speaker_id: str) -> Speaker:
    return Speaker(domain_id, customer_speaker_id, new_generated_speaker_id(), SpeakerStatus.ENROLLED, NOW, NOW,
                   last_accessed_at=NOW, voiceprint=(0.5, -0.25, 1.0), model_id="model-1", net_speech_seconds=31.5,
                   enrolled_by="J/r1", enrollment_status=EnrollmentStatus.NEW_ENROLLMENT, version=1)


def reenrolled(speaker: Speaker) -> Speaker:
    return speaker.enrolled(voiceprint=(0.25, 0.25, 0.5), model_id="model-1", net_speech_seconds=40.0, by="K/r1",
                            status=EnrollmentStatus.ENROLLMENT_OVERWRITE, now=NOW + 60)


def new_watchlist(domain_id: str, name: str = "known") -> Watchlist:
    return Watchlist(domain_id, new_id(), name, NOW, NOW, "known fraudsters")


def new_fraudster(domain_id: str, *watchlist_ids: str) -> Fraudster:
    return Fraudster(domain_id, new_generated_fraudster_id(), frozenset(watchlist_ids), NOW, (0.5, 0.25),
                     "model-1", version=1, registered_by="J/r1", registration_score=12)


JOB_CONFIGS: dict[str, JobConfig] = {
    SPEAKER_ENROLLMENT.name: EnrollmentConfig(ExistingEnrollmentAction.OVERWRITE,
                                              FraudDetectionConfig(risk_threshold=40)),
    FRAUDSTER_REGISTRATION.name: RegistrationConfig(DuplicateRegistrationAction.REGISTER_AS_NEW),
    SPEAKER_EVALUATION.name: EvaluationConfig(75, FraudDetectionConfig(FraudDetectionAction.IGNORE, 30, ("W" * 22,))),
}
KINDS = list(JOB_CONFIGS)


def new_job(domain_id: str, kind: str = SPEAKER_ENROLLMENT.name) -> BatchJob:
    return BatchJob(new_id(), domain_id, kind, JOB_CONFIGS[kind], ROLE, "s3://inbox/manifests/m.json", "s3://out/", NOW,
                    job_name="nightly", output_kms_key_id="key-1")


def pages_of(read: Callable[[str | None], Page[T]], limit: int) -> list[list[T]]:
    """Every page from the first on: each but the last holds `limit` items, the last has no next position."""
    pages: list[list[T]] = []
    position = None
    while len(pages) < 100:
        page = read(position)
        pages.append(page.items)
        if page.next_position is None:
            return pages
        assert len(page.items) == limit
        position = page.next_position
    raise AssertionError("the listing never ends")


def assert_pages(read: Callable[[str | None], Page[T]], key: Callable[[T], str], expected: list[str]) -> None:
    """At least three pages of LIMIT, nothing repeated or lost, and a page read again from its position is the
    same page."""
    pages = pages_of(read, LIMIT)
    assert len(pages) >= 3
    assert sorted(key(item) for page in pages for item in page) == sorted(expected)
    second = read(read(None).next_position)
    assert read(read(None).next_position) == second and second.items == pages[1]


# ----------------------------------------------------------------------------------------------- speakers


def test_a_created_speaker_is_read_back_and_counted_in_its_domain(
    speakers: SpeakerDirectory, domains: DomainRegistry, domain: Domain
) -> None:
    speaker = new_speaker(domain.domain_id, "allison")
    speakers.create(speaker, ROOM)
    assert speakers.get(domain.domain_id, "allison") == speaker
    assert speakers.get(new_id(), "allison") is None
    assert domains.get(domain.domain_id) == domain and speakers.count(domain.domain_id) == 1


def test_creating_a_speaker_that_exists_is_a_change(
    speakers: SpeakerDirectory, domains: DomainRegistry, domain: Domain
) -> None:
    first = new_speaker(domain.domain_id, "allison")
    speakers.create(first, ROOM)
    with pytest.raises(SpeakerChangedError):
        speakers.create(new_speaker(domain.domain_id, "allison"), ROOM)
    assert speakers.get(domain.domain_id, "allison") == first
    assert domains.get(domain.domain_id) == domain and speakers.count(domain.domain_id) == 1


def test_the_speaker_quota_counts_creates_and_deletes(
    speakers: SpeakerDirectory, domains: DomainRegistry, domain: Domain
) -> None:
    allison, carlo, june = (new_speaker(domain.domain_id, name) for name in ("allison", "carlo", "june"))
    speakers.create(allison, 2)
    speakers.create(carlo, 2)
    with pytest.raises(SpeakerQuotaExceededError):
        speakers.create(june, 2)
    assert speakers.get(domain.domain_id, "june") is None
    speakers.replace(reenrolled(carlo), carlo)  # a replace is not a new speaker
    speakers.delete(allison)
    speakers.create(june, 2)
    assert domains.get(domain.domain_id) == domain and speakers.count(domain.domain_id) == 2


def test_the_existing_speaker_is_reported_before_the_quota(speakers: SpeakerDirectory, domain: Domain) -> None:
    speaker = new_speaker(domain.domain_id, "allison")
    speakers.create(speaker, 1)
    with pytest.raises(SpeakerChangedError):  # a retried enrollment finds its speaker, even in a full domain
        speakers.create(speaker, 1)


def test_replace_writes_over_the_expected_version_only(speakers: SpeakerDirectory, domain: Domain) -> None:
    speaker = new_speaker(domain.domain_id, "allison")
    speakers.create(speaker, ROOM)
    newer = reenrolled(speaker)
    speakers.replace(newer, speaker)
    with pytest.raises(SpeakerChangedError):  # `speaker` is stale now
        speakers.replace(replace(newer, status=SpeakerStatus.EXPIRED, version=newer.version + 1), speaker)
    assert speakers.get(domain.domain_id, "allison") == newer


def test_replace_compares_the_version_not_the_whole_record(speakers: SpeakerDirectory, domain: Domain) -> None:
    speaker = new_speaker(domain.domain_id, "allison")
    speakers.create(speaker, ROOM)
    as_read = replace(speaker, last_accessed_at=NOW + 5, voiceprint=())  # e.g. read from a listing's projection
    speakers.replace(reenrolled(speaker), as_read)
    assert speakers.get(domain.domain_id, "allison") == reenrolled(speaker)


def test_replacing_a_speaker_that_is_gone_is_a_change(speakers: SpeakerDirectory, domain: Domain) -> None:
    speaker = new_speaker(domain.domain_id, "allison")
    with pytest.raises(SpeakerChangedError):
        speakers.replace(reenrolled(speaker), speaker)
    assert speakers.get(domain.domain_id, "allison") is None


def test_delete_uncounts_the_speaker_and_a_stale_or_repeated_delete_is_a_change(
    speakers: SpeakerDirectory, domains: DomainRegistry, domain: Domain
) -> None:
    speaker = new_speaker(domain.domain_id, "allison")
    speakers.create(speaker, ROOM)
    speakers.replace(reenrolled(speaker), speaker)
    with pytest.raises(SpeakerChangedError):
        speakers.delete(speaker)
    speakers.delete(reenrolled(speaker))
    assert speakers.get(domain.domain_id, "allison") is None
    assert domains.get(domain.domain_id) == domain and speakers.count(domain.domain_id) == 0
    with pytest.raises(SpeakerChangedError):
        speakers.delete(reenrolled(speaker))
    assert domains.get(domain.domain_id) == domain and speakers.count(domain.domain_id) == 0


def test_a_speaker_is_found_by_customer_or_generated_id(speakers: SpeakerDirectory, domain: Domain) -> None:
    allison, carlo = new_speaker(domain.domain_id, "allison"), new_speaker(domain.domain_id, "carlo")
    speakers.create(allison, ROOM)
    speakers.create(carlo, ROOM)
    assert speakers.find(domain.domain_id, "allison") == allison
    assert speakers.find(domain.domain_id, carlo.generated_speaker_id) == carlo
    assert speakers.find(domain.domain_id, new_generated_speaker_id()) is None
    assert speakers.find(new_id(), carlo.generated_speaker_id) is None


def test_speakers_are_listed_in_pages_by_customer_id(speakers: SpeakerDirectory, domain: Domain) -> None:
    names = [f"speaker-{i}" for i in (5, 2, 7, 1, 3, 6, 4)]
    for name in names:
        speakers.create(new_speaker(domain.domain_id, name), ROOM)
    speakers.create(new_speaker(new_id(), "elsewhere"), ROOM)

    def read(after: str | None) -> Page[Speaker]:
        return speakers.page(domain.domain_id, LIMIT, after)

    assert_pages(read, lambda s: s.customer_speaker_id, names)
    listed = [s for page in pages_of(read, LIMIT) for s in page]
    assert [s.customer_speaker_id for s in listed] == sorted(names)
    stored = [speakers.get(domain.domain_id, name) for name in sorted(names)]
    assert [s.to_api() for s in listed] == [s.to_api() for s in stored if s is not None]
    assert all(s.voiceprint == () for s in listed)  # a listing does not read voiceprints


def test_a_speaker_page_position_outlives_the_speaker_it_names(speakers: SpeakerDirectory, domain: Domain) -> None:
    names = [f"speaker-{i}" for i in range(1, 6)]
    for name in names:
        speakers.create(new_speaker(domain.domain_id, name), ROOM)
    first = speakers.page(domain.domain_id, LIMIT, None)
    last_read = speakers.get(domain.domain_id, first.items[-1].customer_speaker_id)
    assert last_read is not None
    speakers.delete(last_read)
    rest = pages_of(lambda after: speakers.page(domain.domain_id, LIMIT, after or first.next_position), LIMIT)
    assert [s.customer_speaker_id for page in rest for s in page] == names[2:]


# ------------------------------------------------------------------------------------------------ domains


def test_a_domain_is_created_once_with_its_default_watchlist(
    domains: DomainRegistry, watchlists: WatchlistRegistry
) -> None:
    domain = new_domain(domains)
    assert domains.get(domain.domain_id) == domain
    assert watchlists.get(domain.domain_id, default_watchlist_id(domain.domain_id)) == default_watchlist(
        domain.domain_id, NOW)
    assert domains.request_hash(domain.domain_id) == "hash-1"
    again = replace(domain, name="other")
    assert not domains.create(again, default_watchlist(domain.domain_id, NOW), "token", "hash-2")
    assert domains.get(domain.domain_id) == domain
    assert domains.request_hash(domain.domain_id) == "hash-1"
    assert domains.get(new_id()) is None and domains.request_hash(new_id()) is None


def test_update_writes_over_the_expected_version_and_keeps_the_speaker_count(
    domains: DomainRegistry, speakers: SpeakerDirectory, domain: Domain
) -> None:
    speakers.create(new_speaker(domain.domain_id, "allison"), ROOM)
    counted = domains.get(domain.domain_id)
    assert counted is not None
    changed = replace(counted.reconfigured("renamed", None, "key-2", NOW + 60), status=DomainStatus.SUSPENDED,
                      created_at=NOW + 60, tags=())
    domains.update(changed, counted)
    stored = domains.get(domain.domain_id)
    assert stored == replace(changed, created_at=NOW, version=counted.version + 1)
    assert speakers.count(domain.domain_id) == 1
    assert stored.encryption_update == EncryptionUpdate("key-1", EncryptionUpdateStatus.IN_PROGRESS)
    assert stored.description is None
    with pytest.raises(DomainChangedError):  # `counted` is stale now
        domains.update(replace(changed, name="lost"), counted)
    assert domains.get(domain.domain_id) == stored


def test_a_deleted_domain_leaves_a_tombstone(
    domains: DomainRegistry, watchlists: WatchlistRegistry, domain: Domain
) -> None:
    other = new_watchlist(domain.domain_id)
    assert watchlists.create(other, "w-hash", ROOM)
    assert domains.delete(domain.domain_id, NOW + 60)
    assert domains.get(domain.domain_id) is None
    assert watchlists.page(domain.domain_id, ROOM, None) == Page([], None)  # its watchlists went with it
    assert not domains.delete(domain.domain_id, NOW + 120)
    assert not domains.create(domain, default_watchlist(domain.domain_id, NOW), "token", "hash-2")
    assert domains.get(domain.domain_id) is None
    assert domains.request_hash(domain.domain_id) == "hash-1"  # kept, so its ClientToken is still recognized
    with pytest.raises(DomainChangedError):
        domains.update(domain, domain)
    assert not domains.delete(new_id(), NOW)


def test_domains_are_listed_in_pages_without_the_deleted(domains: DomainRegistry) -> None:
    created = [new_domain(domains, f"d{i}") for i in range(9)]
    for gone in created[::4]:
        assert domains.delete(gone.domain_id, NOW + 60)
    live = [d for d in created if d not in created[::4]]
    assert_pages(lambda after: domains.page(LIMIT, after), lambda d: d.domain_id, [d.domain_id for d in live])
    listed = [d for page in pages_of(lambda after: domains.page(LIMIT, after), LIMIT) for d in page]
    assert sorted(listed, key=lambda d: d.domain_id) == sorted(live, key=lambda d: d.domain_id)


# --------------------------------------------------------------------------------------------- watchlists


def test_a_watchlist_is_created_once_with_its_request_hash(watchlists: WatchlistRegistry, domain: Domain) -> None:
    watchlist = new_watchlist(domain.domain_id)
    assert watchlists.create(watchlist, "w-hash", ROOM)
    assert watchlists.get(domain.domain_id, watchlist.watchlist_id) == watchlist
    assert watchlists.request_hash(domain.domain_id, watchlist.watchlist_id) == "w-hash"
    assert not watchlists.create(replace(watchlist, name="other"), "w-hash-2", ROOM)
    assert watchlists.get(domain.domain_id, watchlist.watchlist_id) == watchlist
    assert watchlists.request_hash(domain.domain_id, watchlist.watchlist_id) == "w-hash"
    assert watchlists.get(domain.domain_id, new_id()) is None


@pytest.mark.parametrize("quota", [1, 3])
def test_the_watchlist_quota_counts_the_default_watchlist(
    watchlists: WatchlistRegistry, domain: Domain, quota: int
) -> None:
    created = [new_watchlist(domain.domain_id, f"w{i}") for i in range(quota - 1)]
    for watchlist in created:
        assert watchlists.create(watchlist, "w-hash", quota)
    extra = new_watchlist(domain.domain_id, "extra")
    with pytest.raises(QuotaExceededError):
        watchlists.create(extra, "w-hash", quota)
    assert watchlists.get(domain.domain_id, extra.watchlist_id) is None
    for watchlist in created:
        watchlists.delete(watchlist)
    if created:
        assert watchlists.create(extra, "w-hash", quota)


def test_the_existing_watchlist_is_reported_before_the_quota(watchlists: WatchlistRegistry, domain: Domain) -> None:
    watchlist = new_watchlist(domain.domain_id)
    assert watchlists.create(watchlist, "w-hash", 2)
    assert not watchlists.create(watchlist, "w-hash", 2)  # a retried CreateWatchlist, in a full domain


def test_update_renames_a_watchlist_unless_it_is_gone(watchlists: WatchlistRegistry, domain: Domain) -> None:
    watchlist = new_watchlist(domain.domain_id)
    watchlists.create(watchlist, "w-hash", ROOM)
    renamed = replace(watchlist, name="renamed", description=None, updated_at=NOW + 60, created_at=NOW + 60,
                      default=True)
    watchlists.update(renamed)
    assert watchlists.get(domain.domain_id, watchlist.watchlist_id) == replace(
        watchlist, name="renamed", description=None, updated_at=NOW + 60)
    watchlists.delete(watchlist)
    with pytest.raises(WatchlistGoneError):
        watchlists.update(renamed)
    assert watchlists.get(domain.domain_id, watchlist.watchlist_id) is None


def test_deleting_a_watchlist_twice_finds_it_gone(watchlists: WatchlistRegistry, domain: Domain) -> None:
    watchlist = new_watchlist(domain.domain_id)
    watchlists.create(watchlist, "w-hash", ROOM)
    watchlists.delete(watchlist)
    assert watchlists.get(domain.domain_id, watchlist.watchlist_id) is None
    with pytest.raises(WatchlistGoneError):
        watchlists.delete(watchlist)


def test_watchlists_are_listed_in_pages(watchlists: WatchlistRegistry, domain: Domain) -> None:
    created = [new_watchlist(domain.domain_id, f"w{i}") for i in range(6)]
    for watchlist in created:
        watchlists.create(watchlist, "w-hash", ROOM)
    watchlists.create(new_watchlist(new_id()), "w-hash", ROOM)
    expected = [default_watchlist_id(domain.domain_id), *(w.watchlist_id for w in created)]
    assert_pages(lambda after: watchlists.page(domain.domain_id, LIMIT, after), lambda w: w.watchlist_id, expected)


# --------------------------------------------------------------------------------------------- fraudsters


@pytest.fixture
def watchlist(watchlists: WatchlistRegistry, domain: Domain) -> Watchlist:
    """A second watchlist of `domain`, next to its default one."""
    watchlist = new_watchlist(domain.domain_id)
    assert watchlists.create(watchlist, "w-hash", ROOM)
    return watchlist


def default_of(domain: Domain) -> str:
    return default_watchlist_id(domain.domain_id)


def test_a_created_fraudster_is_in_each_of_its_watchlists(
    fraudsters: FraudsterStore, domain: Domain, watchlist: Watchlist
) -> None:
    fraudster = new_fraudster(domain.domain_id, default_of(domain), watchlist.watchlist_id)
    fraudsters.create(fraudster, ROOM)
    assert fraudsters.get(domain.domain_id, fraudster.generated_fraudster_id) == fraudster
    assert fraudsters.in_watchlist(domain.domain_id, watchlist.watchlist_id) == [fraudster]
    assert fraudsters.in_watchlist(domain.domain_id, default_of(domain)) == [fraudster]
    assert fraudsters.in_watchlist(domain.domain_id, new_id()) == []
    assert fraudsters.get(domain.domain_id, new_generated_fraudster_id()) is None


def test_creating_a_fraudster_that_exists_is_a_change(fraudsters: FraudsterStore, domain: Domain) -> None:
    fraudster = new_fraudster(domain.domain_id, default_of(domain))
    fraudsters.create(fraudster, 1)
    with pytest.raises(FraudsterChangedError):  # reported before the full watchlist: a retried registration
        fraudsters.create(replace(fraudster, registration_score=99), 1)
    assert fraudsters.get(domain.domain_id, fraudster.generated_fraudster_id) == fraudster


def test_a_full_watchlist_refuses_the_whole_write(
    fraudsters: FraudsterStore, domain: Domain, watchlist: Watchlist
) -> None:
    for _ in range(2):
        fraudsters.create(new_fraudster(domain.domain_id, default_of(domain)), 2)
    refused = new_fraudster(domain.domain_id, default_of(domain), watchlist.watchlist_id)
    with pytest.raises(QuotaExceededError):
        fraudsters.create(refused, 2)
    assert fraudsters.get(domain.domain_id, refused.generated_fraudster_id) is None
    for _ in range(2):  # `watchlist` was not counted for the refused fraudster
        fraudsters.create(new_fraudster(domain.domain_id, watchlist.watchlist_id), 2)
    with pytest.raises(QuotaExceededError):
        fraudsters.create(new_fraudster(domain.domain_id, watchlist.watchlist_id), 2)


@pytest.mark.parametrize("write", ["create", "replace"])
def test_a_watchlist_that_does_not_exist_is_gone(
    fraudsters: FraudsterStore, watchlists: WatchlistRegistry, domain: Domain, watchlist: Watchlist, write: str
) -> None:
    fraudster = new_fraudster(domain.domain_id, default_of(domain))
    if write == "replace":
        fraudsters.create(fraudster, ROOM)
    watchlists.delete(watchlist)
    moved = fraudster.with_watchlists(frozenset({default_of(domain), watchlist.watchlist_id}))
    with pytest.raises(WatchlistGoneError):
        fraudsters.create(moved, ROOM) if write == "create" else fraudsters.replace(moved, fraudster, ROOM)
    assert fraudsters.get(domain.domain_id, fraudster.generated_fraudster_id) == (
        fraudster if write == "replace" else None)


def test_only_an_empty_watchlist_is_deleted(
    fraudsters: FraudsterStore, watchlists: WatchlistRegistry, domain: Domain, watchlist: Watchlist
) -> None:
    fraudster = new_fraudster(domain.domain_id, watchlist.watchlist_id)
    fraudsters.create(fraudster, ROOM)
    with pytest.raises(WatchlistNotEmptyError):
        watchlists.delete(watchlist)
    assert watchlists.get(domain.domain_id, watchlist.watchlist_id) == watchlist
    fraudsters.delete(fraudster)
    watchlists.delete(watchlist)
    assert watchlists.get(domain.domain_id, watchlist.watchlist_id) is None


def test_replace_moves_the_counts_to_the_new_watchlists(
    fraudsters: FraudsterStore, watchlists: WatchlistRegistry, domain: Domain, watchlist: Watchlist
) -> None:
    fraudster = new_fraudster(domain.domain_id, watchlist.watchlist_id)
    fraudsters.create(fraudster, 1)
    moved = fraudster.with_watchlists(frozenset({default_of(domain)}))
    fraudsters.replace(moved, fraudster, 1)
    assert fraudsters.get(domain.domain_id, fraudster.generated_fraudster_id) == moved
    watchlists.delete(watchlist)  # empty again
    with pytest.raises(QuotaExceededError):  # the default watchlist holds `moved`
        fraudsters.create(new_fraudster(domain.domain_id, default_of(domain)), 1)


def test_replace_needs_room_only_in_the_watchlists_joined(
    fraudsters: FraudsterStore, domain: Domain, watchlist: Watchlist
) -> None:
    fraudster = new_fraudster(domain.domain_id, default_of(domain))
    fraudsters.create(fraudster, 1)
    both = fraudster.with_watchlists(frozenset({default_of(domain), watchlist.watchlist_id}))
    fraudsters.replace(both, fraudster, 1)  # the full default watchlist is not joined again
    other = new_fraudster(domain.domain_id)
    fraudsters.create(other, 1)
    with pytest.raises(QuotaExceededError):
        fraudsters.replace(other.with_watchlists(frozenset({watchlist.watchlist_id})), other, 1)
    assert fraudsters.get(domain.domain_id, other.generated_fraudster_id) == other


def test_replace_and_delete_write_over_the_expected_version_only(
    fraudsters: FraudsterStore, domain: Domain, watchlist: Watchlist
) -> None:
    fraudster = new_fraudster(domain.domain_id, default_of(domain))
    fraudsters.create(fraudster, ROOM)
    moved = fraudster.with_watchlists(frozenset({watchlist.watchlist_id}))
    fraudsters.replace(moved, replace(fraudster, voiceprint=()), ROOM)  # the version decides, not the record
    with pytest.raises(FraudsterChangedError):  # `fraudster` is stale now
        fraudsters.replace(moved.with_watchlists(frozenset()), fraudster, ROOM)
    with pytest.raises(FraudsterChangedError):
        fraudsters.delete(fraudster)
    assert fraudsters.get(domain.domain_id, fraudster.generated_fraudster_id) == moved


def test_a_deleted_fraudster_is_gone_and_deleting_it_again_is_a_change(
    fraudsters: FraudsterStore, domain: Domain
) -> None:
    fraudster = new_fraudster(domain.domain_id, default_of(domain))
    fraudsters.create(fraudster, 1)
    fraudsters.delete(fraudster)
    assert fraudsters.get(domain.domain_id, fraudster.generated_fraudster_id) is None
    assert fraudsters.in_watchlist(domain.domain_id, default_of(domain)) == []
    with pytest.raises(FraudsterChangedError):
        fraudsters.delete(fraudster)
    with pytest.raises(FraudsterChangedError):
        fraudsters.replace(fraudster.with_watchlists(frozenset()), fraudster, 1)
    fraudsters.create(new_fraudster(domain.domain_id, default_of(domain)), 1)  # its place in the quota is free


@pytest.mark.parametrize("in_watchlist", [False, True])
def test_fraudsters_are_listed_in_pages(
    fraudsters: FraudsterStore, domain: Domain, watchlist: Watchlist, in_watchlist: bool
) -> None:
    created = [new_fraudster(domain.domain_id, *([watchlist.watchlist_id] if i % 3 else [default_of(domain)]))
               for i in range(10)]
    for fraudster in created:
        fraudsters.create(fraudster, ROOM)
    fraudsters.create(new_fraudster(new_id()), ROOM)
    only = watchlist.watchlist_id if in_watchlist else None
    expected = [f for f in created if only is None or only in f.watchlist_ids]

    def read(after: str | None) -> Page[Fraudster]:
        return fraudsters.page(domain.domain_id, LIMIT, after, only)

    assert_pages(read, lambda f: f.generated_fraudster_id, [f.generated_fraudster_id for f in expected])
    listed = {f.generated_fraudster_id: f for page in pages_of(read, LIMIT) for f in page}
    assert all(listed[f.generated_fraudster_id].to_api() == f.to_api() for f in expected)
    assert all(listed[f.generated_fraudster_id].version == f.version for f in expected)
    assert all(f.voiceprint == () for f in listed.values())  # a listing does not read voiceprints


# --------------------------------------------------------------------------------------------------- jobs


@pytest.mark.parametrize("kind", KINDS)
def test_a_job_is_created_once_per_id(jobs: JobCatalog, kind: str) -> None:
    job = new_job(new_id(), kind)
    assert jobs.create(job, "token", "job-hash")
    assert jobs.get(job.domain_id, job.job_id) == job
    assert jobs.request_hash(job.domain_id, job.job_id) == "job-hash"
    assert not jobs.create(replace(job, job_name="other"), "token", "job-hash-2")
    assert jobs.get(job.domain_id, job.job_id) == job
    assert jobs.request_hash(job.domain_id, job.job_id) == "job-hash"
    assert jobs.get(job.domain_id, new_id()) is None and jobs.request_hash(job.domain_id, new_id()) is None


def started(jobs: JobCatalog, total_requests: int = 10) -> BatchJob:
    job = new_job(new_id())
    jobs.create(job, "token", "job-hash")
    jobs.start(job.domain_id, job.job_id, total_requests)
    return job


def status_of(jobs: JobCatalog, job: BatchJob) -> tuple[JobStatus, int]:
    stored = jobs.get(job.domain_id, job.job_id)
    assert stored is not None
    return stored.status, stored.percent_complete


def test_a_job_starts_once_from_submitted(jobs: JobCatalog) -> None:
    job = started(jobs, 10)
    assert status_of(jobs, job) == (JobStatus.IN_PROGRESS, 0)
    jobs.start(job.domain_id, job.job_id, 1_000)  # no-op: the count stays 10
    assert jobs.record_shard(job.domain_id, job.job_id, 0, 5) == 50
    jobs.start(job.domain_id, new_id(), 10)  # a job that does not exist stays so
    assert jobs.list(job.domain_id) == [jobs.get(job.domain_id, job.job_id)]


def test_each_shard_is_counted_once_and_progress_stays_under_100_until_finished(jobs: JobCatalog) -> None:
    job = started(jobs, 10)
    assert jobs.record_shard(job.domain_id, job.job_id, -1, 2) == 20  # the manifest's invalid requests
    assert jobs.record_shard(job.domain_id, job.job_id, 0, 4) == 60
    assert jobs.record_shard(job.domain_id, job.job_id, 0, 4) == 60  # a retried shard
    assert status_of(jobs, job) == (JobStatus.IN_PROGRESS, 60)
    assert jobs.record_shard(job.domain_id, job.job_id, 1, 4) == 99
    assert status_of(jobs, job) == (JobStatus.IN_PROGRESS, 99)


def test_a_retried_segment_counts_each_request_once_whatever_its_boundaries(jobs: JobCatalog) -> None:
    job = started(jobs, 40)
    jobs.record_shard(job.domain_id, job.job_id, 0, 10)  # an attempt stopped after 10 requests, then died
    assert jobs.record_shard(job.domain_id, job.job_id, 0, 20) == 50  # its retry went on to 20: 20 counted
    assert jobs.record_shard(job.domain_id, job.job_id, 0, 5, start=15) == 50  # a stale continuation adds none


def test_each_segment_of_a_continued_shard_is_counted_once(jobs: JobCatalog) -> None:
    job = started(jobs, 10)
    assert jobs.record_shard(job.domain_id, job.job_id, 0, 3) == 30  # requests 0-2, then out of time
    assert jobs.record_shard(job.domain_id, job.job_id, 0, 7, start=3) == 99  # the continuation: 3-9
    assert jobs.record_shard(job.domain_id, job.job_id, 0, 7, start=3) == 99  # a retried continuation
    assert jobs.record_shard(job.domain_id, job.job_id, 0, 5) == 99  # a late retry of the first segment
    jobs.finish(job.domain_id, job.job_id, JobStatus.COMPLETED, NOW + 60)
    assert status_of(jobs, job) == (JobStatus.COMPLETED, 100)


def test_progress_of_a_job_not_running_is_not_recorded(jobs: JobCatalog) -> None:
    job = new_job(new_id())
    jobs.create(job, "token", "job-hash")
    jobs.record_shard(job.domain_id, job.job_id, 0, 1)
    assert status_of(jobs, job) == (JobStatus.SUBMITTED, 0)


SUMMARY = JobSummary("EvaluationSummary", {"AuthenticationDecisions": {"ACCEPT": 3, "REJECT": 1}, "Errors": 0,
                                            "AcceptRate": 0.75, "Scores": {"Count": 4, "Median": 93.5}})


def test_a_finished_job_keeps_its_kinds_summary(jobs: JobCatalog) -> None:
    job = new_job(new_id(), SPEAKER_EVALUATION.name)
    jobs.create(job, "token", "job-hash")
    jobs.start(job.domain_id, job.job_id, 4)
    assert jobs.get(job.domain_id, job.job_id).summary is None  # type: ignore[union-attr]
    jobs.finish(job.domain_id, job.job_id, JobStatus.COMPLETED, NOW + 60, SUMMARY)
    jobs.finish(job.domain_id, job.job_id, JobStatus.COMPLETED, NOW + 60, SUMMARY)  # a retried finalize
    finished = replace(job, status=JobStatus.COMPLETED, percent_complete=100, ended_at=NOW + 60, summary=SUMMARY)
    assert jobs.get(job.domain_id, job.job_id) == finished
    assert jobs.list(job.domain_id) == [finished]
    assert finished.to_api()["EvaluationSummary"] == SUMMARY.content


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS])
def test_a_finished_job_is_complete_and_fail_does_not_overwrite_it(jobs: JobCatalog, status: JobStatus) -> None:
    job = started(jobs)
    jobs.finish(job.domain_id, job.job_id, status, NOW + 60)
    jobs.finish(job.domain_id, job.job_id, status, NOW + 60)  # a retried finalize
    finished = replace(job, status=status, percent_complete=100, ended_at=NOW + 60)
    assert jobs.get(job.domain_id, job.job_id) == finished
    jobs.fail(job.domain_id, job.job_id, FailureDetails(500, "late"), NOW + 120)
    assert jobs.get(job.domain_id, job.job_id) == finished


@pytest.mark.parametrize("stage", ["submitted", "running"])
def test_fail_marks_an_unfinished_job_failed(jobs: JobCatalog, stage: str) -> None:
    job = new_job(new_id())
    jobs.create(job, "token", "job-hash")
    if stage != "submitted":
        jobs.start(job.domain_id, job.job_id, 10)
    jobs.fail(job.domain_id, job.job_id, FailureDetails(403, "no access"), NOW + 60)
    stored = jobs.get(job.domain_id, job.job_id)
    assert stored is not None
    assert (stored.status, stored.failure_details, stored.ended_at) == (
        JobStatus.FAILED, FailureDetails(403, "no access"), NOW + 60)


def test_the_first_failure_recorded_wins(jobs: JobCatalog) -> None:
    """The catch-all marks the job, then the execution's FAILED status change reports it again: the job keeps the
    reason the catch-all gave."""
    job = started(jobs)
    jobs.fail(job.domain_id, job.job_id, FailureDetails(400, "the manifest is not JSON"), NOW + 30)
    jobs.fail(job.domain_id, job.job_id, FailureDetails(500, "SpeakerEnrollmentJobFailed"), NOW + 60)
    stored = jobs.get(job.domain_id, job.job_id)
    assert stored is not None
    assert (stored.status, stored.failure_details, stored.ended_at) == (
        JobStatus.FAILED, FailureDetails(400, "the manifest is not JSON"), NOW + 30)


def test_failing_a_job_that_does_not_exist_writes_nothing(jobs: JobCatalog) -> None:
    domain_id = new_id()
    jobs.fail(domain_id, new_id(), FailureDetails(500, "boom"), NOW)
    assert jobs.list(domain_id) == []


def test_jobs_are_listed_per_domain_without_their_shard_markers(jobs: JobCatalog) -> None:
    domain_id = new_id()
    created = [new_job(domain_id, kind) for kind in KINDS]
    for job in created:
        jobs.create(job, "token", "job-hash")
        jobs.start(domain_id, job.job_id, 4)
        jobs.record_shard(domain_id, job.job_id, 0, 2)
    jobs.create(new_job(new_id()), "token", "job-hash")
    listed = {job.job_id: job for job in jobs.list(domain_id)}
    assert listed == {job.job_id: jobs.get(domain_id, job.job_id) for job in created}
    assert [(j.status, j.percent_complete) for j in listed.values()] == [(JobStatus.IN_PROGRESS, 50)] * len(KINDS)


# ---------------------------------------------------------------------------------------------- work store


@dataclass(frozen=True)
class Work:
    store: WorkStore
    read: Callable[[str], Any]  # a work bucket object's JSON, by key


@pytest.fixture(params=["memory", "s3"])
def work(request: pytest.FixtureRequest) -> Iterator[Work]:
    if request.param == "memory":
        memory = MemoryWorkStore()
        yield Work(memory, memory.read)
        return
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=WORK_BUCKET)
        yield Work(S3WorkStore(s3, WORK_BUCKET),
                   lambda key: json.loads(s3.get_object(Bucket=WORK_BUCKET, Key=key)["Body"].read()))


SHARDS: list[list[dict[str, Any]]] = [[{"RequestId": "a", "SpeakerId": "s-a"}, {"RequestId": "b", "SpeakerId": "s-b"}],
          [{"RequestId": "c", "SpeakerId": "s-c", "AudioSpecifications": [{"S3Uri": "s3://i/c.wav", "ChannelId": 1}]}]]


def test_shards_are_written_with_the_map_items_listing_them(work: Work) -> None:
    key = work.store.put_shards("D", "J", SHARDS)
    assert key == "jobs/J/shards.json"
    listing = work.read(key)
    assert [{k: v for k, v in item.items() if k != "ShardKey"} for item in listing] == [
        {"DomainId": "D", "JobId": "J", "ShardIndex": index} for index in range(len(SHARDS))]
    assert [work.read(item["ShardKey"]) for item in listing] == SHARDS
    assert [work.store.shard_requests("J", index) for index in range(len(SHARDS))] == SHARDS


def test_a_shards_results_are_none_until_recorded(work: Work) -> None:
    work.store.put_shards("D", "J", SHARDS)
    assert work.store.results("J", 0) is None
    work.store.put_results("J", 0, [{"RequestId": "a", "ErrorCode": 400}])
    work.store.put_results("J", 0, [{"RequestId": "a", "Status": "NEW_ENROLLMENT"}])  # a retried shard
    work.store.put_results("J", 1, [])
    assert work.store.results("J", 0) == [{"RequestId": "a", "Status": "NEW_ENROLLMENT"}]
    assert work.store.results("J", 1) == []
    assert work.store.results("K", 0) is None


@pytest.mark.parametrize("errors", [[], [{"RequestId": "x", "ErrorCode": 400, "ErrorMessage": "no audio"}]])
def test_validation_errors_round_trip(work: Work, errors: list[dict[str, Any]]) -> None:
    work.store.put_validation_errors("J", errors)
    assert work.store.validation_errors("J") == errors


# -------------------------------------------------------------------------------- items of the last release


DOMAIN_ID = "L" * 22
# Jobs as the previous release stored them: the Voice ID wire shapes, no JobKind for enrollment, no SchemaVersion.
LEGACY_JOBS: dict[str, dict[str, Any]] = {
    SPEAKER_ENROLLMENT.name: {
        "EnrollmentConfig": {"ExistingEnrollmentAction": "OVERWRITE", "FraudDetectionConfig": {
            "FraudDetectionAction": "IGNORE", "RiskThreshold": 40, "WatchlistIds": ["W" * 22]}},
        "OutputDataConfig": {"S3Uri": "s3://out/results/", "KmsKeyId": "key-1"},
    },
    FRAUDSTER_REGISTRATION.name: {
        "JobKind": FRAUDSTER_REGISTRATION.name,
        "RegistrationConfig": {"DuplicateRegistrationAction": "REGISTER_AS_NEW", "FraudsterSimilarityThreshold": 75},
        "OutputDataConfig": {"S3Uri": "s3://out/results/"},
    },
}
LEGACY_CONFIGS: dict[str, JobConfig] = {
    SPEAKER_ENROLLMENT.name: EnrollmentConfig(ExistingEnrollmentAction.OVERWRITE, FraudDetectionConfig(
        FraudDetectionAction.IGNORE, 40, ("W" * 22,))),
    FRAUDSTER_REGISTRATION.name: RegistrationConfig(DuplicateRegistrationAction.REGISTER_AS_NEW, 75),
}


def put_raw(client: Any, role: str, document: dict[str, Any]) -> None:
    client.put_item(TableName=tables()[role].name, Item=to_item(document))


@pytest.mark.parametrize("kind", list(LEGACY_JOBS))
def test_a_job_of_the_last_release_is_read_and_finished(dynamodb: Any, kind: str) -> None:
    put_raw(dynamodb, "jobs", {
        "DomainId": DOMAIN_ID, "JobId": "J" * 22, "JobName": "nightly", "JobStatus": "IN_PROGRESS",
        "DataAccessRoleArn": ROLE, "InputDataConfig": {"S3Uri": "s3://inbox/manifests/m.json"},
        "CreatedAt": NOW, "JobProgress": {"PercentComplete": 0}, "ClientToken": "token", "RequestHash": "job-hash",
        "ProcessedRequests": 0, "TotalRequests": 4, **LEGACY_JOBS[kind],
    })
    jobs = dynamodb_stores(dynamodb).jobs
    output = LEGACY_JOBS[kind]["OutputDataConfig"]
    expected = BatchJob("J" * 22, DOMAIN_ID, kind, LEGACY_CONFIGS[kind], ROLE, "s3://inbox/manifests/m.json",
                        output["S3Uri"], NOW, job_name="nightly", output_kms_key_id=output.get("KmsKeyId"),
                        status=JobStatus.IN_PROGRESS)
    assert jobs.get(DOMAIN_ID, "J" * 22) == expected
    assert jobs.list(DOMAIN_ID) == [expected]
    assert jobs.request_hash(DOMAIN_ID, "J" * 22) == "job-hash"
    assert jobs.record_shard(DOMAIN_ID, "J" * 22, 0, 2) == 50  # started by the last release, finished by this one
    jobs.finish(DOMAIN_ID, "J" * 22, JobStatus.COMPLETED, NOW + 60)
    assert jobs.get(DOMAIN_ID, "J" * 22) == replace(expected, status=JobStatus.COMPLETED, percent_complete=100,
                                                    ended_at=NOW + 60)


def test_a_speaker_of_the_last_release_is_read_found_and_replaced(dynamodb: Any) -> None:
    put_raw(dynamodb, "speakers", {
        "DomainId": DOMAIN_ID, "CustomerSpeakerId": "allison", "GeneratedSpeakerId": "id#" + "G" * 22,
        "Status": "ENROLLED", "CreatedAt": NOW, "UpdatedAt": NOW + 1, "LastAccessedAt": NOW + 2,
        "Voiceprint": struct.pack("<3f", 0.5, -0.25, 1.0), "ModelId": "model-1", "NetSpeechSeconds": 31.5,
        "EnrolledBy": "J/r1", "EnrollmentStatus": "NEW_ENROLLMENT", "Version": 3,
    })
    speakers = dynamodb_stores(dynamodb).speakers
    expected = Speaker(DOMAIN_ID, "allison", "id#" + "G" * 22, SpeakerStatus.ENROLLED, NOW, NOW + 1, NOW + 2,
                       (0.5, -0.25, 1.0), "model-1", 31.5, "J/r1", EnrollmentStatus.NEW_ENROLLMENT, version=3)
    assert speakers.get(DOMAIN_ID, "allison") == expected
    assert speakers.find(DOMAIN_ID, "id#" + "G" * 22) == expected
    assert speakers.page(DOMAIN_ID, LIMIT, None).items[0].to_api() == expected.to_api()
    speakers.replace(reenrolled(expected), expected)
    assert speakers.get(DOMAIN_ID, "allison") == reenrolled(expected)


class UnreadableKeysOnlyIndex:
    """A DynamoDB client on which the keys-only index answers as DynamoDB does while it is created."""

    def __init__(self, client: Any, message: str) -> None:
        self._client, self._message = client, message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **kwargs: Any) -> Any:
        if kwargs.get("IndexName") == GENERATED_SPEAKER_ID_INDEX:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": self._message}}, "Query")
        return self._client.query(**kwargs)


def with_release_n_speakers_table(client: Any) -> None:
    """The speakers table as the releases before the keys-only index made it (its ALL index only)."""
    props = release_n_speakers_table()["Properties"]
    client.delete_table(TableName=tables()["speakers"].name)
    client.create_table(TableName=tables()["speakers"].name, BillingMode="PAY_PER_REQUEST",
                        **{key: props[key] for key in ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes")})


@pytest.mark.parametrize("message", [None, "The table does not have the specified index: ",
                                     "Cannot read from backfilling global secondary index: "])
def test_find_reads_the_old_index_until_the_keys_only_one_is_active(dynamodb: Any, message: str | None) -> None:
    """DynamoDB's answers while the keys-only index does not exist yet or is being created (None: moto's own)."""
    with_release_n_speakers_table(dynamodb)
    client = UnreadableKeysOnlyIndex(dynamodb, message + GENERATED_SPEAKER_ID_INDEX) if message else dynamodb
    speakers = dynamodb_stores(client).speakers
    allison = new_speaker(DOMAIN_ID, "allison")
    speakers.create(allison, ROOM)
    assert speakers.find(DOMAIN_ID, allison.generated_speaker_id) == allison
    assert speakers.find(DOMAIN_ID, new_generated_speaker_id()) is None


def test_find_does_not_hide_other_refusals_of_the_index(dynamodb: Any) -> None:
    client = UnreadableKeysOnlyIndex(dynamodb, "Query condition missed key schema element: GeneratedSpeakerId")
    with pytest.raises(ClientError, match="missed key schema element"):
        dynamodb_stores(client).speakers.find(DOMAIN_ID, new_generated_speaker_id())


def write_speaker(stores: Stores, domain: Domain) -> tuple[dict[str, str], Callable[[], object]]:
    speaker = new_speaker(domain.domain_id, "allison")
    stores.speakers.create(speaker, ROOM)
    return {"CustomerSpeakerId": "allison"}, lambda: stores.speakers.get(domain.domain_id, "allison")


def write_domain(stores: Stores, domain: Domain) -> tuple[dict[str, str], Callable[[], object]]:
    return {}, lambda: stores.domains.get(domain.domain_id)


def write_watchlist(stores: Stores, domain: Domain) -> tuple[dict[str, str], Callable[[], object]]:
    watchlist_id = default_of(domain)
    return {"WatchlistId": watchlist_id}, lambda: stores.watchlists.get(domain.domain_id, watchlist_id)


def write_fraudster(stores: Stores, domain: Domain) -> tuple[dict[str, str], Callable[[], object]]:
    fraudster = new_fraudster(domain.domain_id, default_of(domain))
    stores.fraudsters.create(fraudster, ROOM)
    fraudster_id = fraudster.generated_fraudster_id
    return {"GeneratedFraudsterId": fraudster_id}, lambda: stores.fraudsters.get(domain.domain_id, fraudster_id)


def write_job(stores: Stores, domain: Domain) -> tuple[dict[str, str], Callable[[], object]]:
    job = new_job(domain.domain_id)
    stores.jobs.create(job, "token", "job-hash")
    return {"JobId": job.job_id}, lambda: stores.jobs.get(domain.domain_id, job.job_id)


@pytest.mark.parametrize(("role", "write"), [("speakers", write_speaker), ("domains", write_domain),
                                              ("watchlists", write_watchlist), ("fraudsters", write_fraudster),
                                              ("jobs", write_job)])
def test_an_item_of_a_newer_release_is_refused(
    dynamodb: Any, role: str, write: Callable[[Stores, Domain], tuple[dict[str, str], Callable[[], object]]]
) -> None:
    stores = dynamodb_stores(dynamodb)
    domain = new_domain(stores.domains)
    key, read = write(stores, domain)
    assert read() is not None
    dynamodb.update_item(TableName=tables()[role].name, Key=to_item({"DomainId": domain.domain_id, **key}),
                         UpdateExpression="SET SchemaVersion = :v", ExpressionAttributeValues={":v": {"N": "99"}})
    with pytest.raises(UnknownSchemaVersionError, match="SchemaVersion 99"):
        read()


# ------------------------------------------------------------------------------- concurrency, DynamoDB only


@pytest.mark.parametrize("quota", [1, 20, 37])
def test_the_speaker_quota_holds_exactly_however_it_is_spread(speakers: SpeakerDirectory, domain: Domain,
                                                              quota: int) -> None:
    """The count is kept in slots (dynamodb/speakers.py): the quota still admits exactly `quota` speakers."""
    for index in range(quota):
        speakers.create(new_speaker(domain.domain_id, f"caller-{index}"), quota)
    with pytest.raises(SpeakerQuotaExceededError):
        speakers.create(new_speaker(domain.domain_id, "one-too-many"), quota)
    assert speakers.count(domain.domain_id) == quota
    assert [s.customer_speaker_id for s in speakers.page(domain.domain_id, quota + 5, None).items] == sorted(
        f"caller-{index}" for index in range(quota))  # the count slots are not speakers


def test_progress_markers_stay_out_of_the_domains_job_listing_and_expire(dynamodb: Any) -> None:
    jobs = DynamoJobStore(dynamodb, tables()["jobs"].name)
    job = started(jobs, 10)
    jobs.record_shard(job.domain_id, job.job_id, 0, 4)
    in_domain = dynamodb.query(TableName=tables()["jobs"].name, KeyConditionExpression="DomainId = :d",
                               ExpressionAttributeValues={":d": {"S": job.domain_id}})["Items"]
    assert [item["JobId"]["S"] for item in in_domain] == [job.job_id]
    (marker,) = dynamodb.query(TableName=tables()["jobs"].name, KeyConditionExpression="DomainId = :p",
                               ExpressionAttributeValues={":p": {"S": f"progress#{job.job_id}"}})["Items"]
    assert tables()["jobs"].ttl_attribute == "ExpiresAt"
    assert 29 * 86400 < int(marker["ExpiresAt"]["N"]) - time.time() <= 30 * 86400
