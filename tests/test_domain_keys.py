"""Per-domain keys (issue 10 item 3): every voiceprint is sealed under its domain's KMS key, bound to its record;
a key that refuses stops that domain's voiceprint reads and writes only; UpdateDomain with a new key re-encrypts
in the background. Layers: the domain's rules with fakes of the cipher and the maintenance starter; the emulated
KMS's key states through boto3; the KMS cipher and the stores on moto with real speech.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from enrollctl.local import kms_key_state
from enrollctl.local.kms_key_state import key_state_enforced
from fakes import (
    DeferredMaintenance,
    FakeCipher,
    FakeEmbedder,
    MemoryAudio,
    MemoryDomains,
    MemoryFraudsters,
    MemorySpeakers,
    MemoryWatchlists,
    fake_recording,
    run_shard_of,
)
from helpers import VoiceprintOf, plaintext_voiceprints
from moto import mock_aws
from speaker_enrollment.adapters.codecs import SEALED_VOICEPRINT, from_item, pack_voiceprint, to_item
from speaker_enrollment.adapters.dynamodb import (
    DynamoDomainStore,
    DynamoFraudsterStore,
    DynamoSpeakerStore,
    DynamoWatchlistStore,
)
from speaker_enrollment.adapters.voiceprint_cipher import (
    DOMAIN_CONTEXT_KEY,
    KmsVoiceprintCipher,
    VoiceprintIntegrityError,
)
from speaker_enrollment.api.errors import from_domain
from speaker_enrollment.domain.admin.domains import REENCRYPT, DomainAdmin, DomainRequest
from speaker_enrollment.domain.admin.errors import EncryptionUpdateLockedError
from speaker_enrollment.domain.admin.fraudsters import FraudsterAdmin
from speaker_enrollment.domain.admin.maintenance import Outcome, run_step
from speaker_enrollment.domain.admin.reencrypt import ReencryptVoiceprints
from speaker_enrollment.domain.admin.speakers import SpeakerAdmin
from speaker_enrollment.domain.ports import DomainKeys
from speaker_enrollment.domain.shared.domain import Domain, EncryptionUpdate, EncryptionUpdateStatus
from speaker_enrollment.domain.shared.errors import KeyUnusableError
from speaker_enrollment.domain.shared.fraudster import Fraudster
from speaker_enrollment.domain.shared.ids import new_generated_fraudster_id, new_generated_speaker_id, new_id
from speaker_enrollment.domain.shared.sealed import LazyVoiceprint, VoiceprintKind, VoiceprintOwner
from speaker_enrollment.domain.shared.speaker import Speaker, SpeakerStatus
from speaker_enrollment.domain.shared.watchlist import default_watchlist, default_watchlist_id
from speaker_enrollment.domain.workflow.fraud import FraudDetectionAction, FraudDetectionConfig
from speaker_enrollment.domain.workflow.kinds.enrollment import (
    SPEAKER_ENROLLMENT,
    EnrollmentConfig,
    EnrollmentRequest,
    ExistingEnrollmentAction,
)
from speaker_enrollment.domain.workflow.kinds.evaluation import SPEAKER_EVALUATION, EvaluationConfig, EvaluationRequest
from speaker_enrollment.domain.workflow.manifest import AudioSpecification
from speaker_enrollment.domain.workflow.results import JobResult, RequestError
from test_store_contracts import tables

REGION = "us-east-1"
NOW = 1_700_000_000.0


# ------------------------------------------------------------------------ the domain's rules (fakes)


@dataclass
class Admin:
    admin: DomainAdmin
    cipher: FakeCipher
    maintenance: DeferredMaintenance
    domains: MemoryDomains


@pytest.fixture
def admin() -> Admin:
    cipher = FakeCipher()
    for key in ("key-a", "key-b", "key-c"):
        cipher.add_key(key)
    maintenance = DeferredMaintenance()
    domains = MemoryDomains(MemoryWatchlists())
    return Admin(DomainAdmin(domains, lambda: NOW, cipher, maintenance), cipher, maintenance, domains)


def created(admin: Admin, key: str = "key-a") -> Domain:
    return admin.admin.create(DomainRequest("support", key, client_token=new_id()))


def test_create_domain_refuses_a_key_that_cannot_protect_voiceprints_and_writes_nothing(admin: Admin) -> None:
    admin.cipher.disabled.add("key-b")
    for key, reason in (("key-b", "DisabledException"), ("key-z", "NotFoundException")):
        request = DomainRequest("support", key, client_token=new_id())
        with pytest.raises(KeyUnusableError) as refused:
            admin.admin.create(request)
        assert refused.value.reason == reason and admin.domains.get(request.domain_id) is None
        assert from_domain(refused.value).code() == "ValidationException"  # type: ignore[union-attr]
    denied = from_domain(KeyUnusableError("k", "AccessDeniedException", "not allowed"))
    assert denied is not None and denied.code() == "AccessDeniedException"


def test_a_new_key_starts_reencryption_in_progress_and_locks_further_key_changes(admin: Admin) -> None:
    domain = created(admin)
    updated = admin.admin.update(domain.domain_id, "renamed", None, "key-b")
    assert updated.encryption_update == EncryptionUpdate("key-a", EncryptionUpdateStatus.IN_PROGRESS)
    assert admin.maintenance.started == [(domain.domain_id, REENCRYPT)]
    with pytest.raises(EncryptionUpdateLockedError) as locked:
        admin.admin.update(domain.domain_id, "renamed", None, "key-c")
    error = from_domain(locked.value)
    assert error is not None and error.body()["ConflictType"] == "DOMAIN_LOCKED_FROM_ENCRYPTION_UPDATES"
    # Other attributes may change meanwhile, with the same key; nothing starts twice.
    assert admin.admin.update(domain.domain_id, "again", "calls", "key-b").name == "again"
    assert admin.maintenance.started == [(domain.domain_id, REENCRYPT)]
    assert admin.admin.describe(domain.domain_id).kms_key_id == "key-b"


def test_an_unusable_new_key_is_refused_before_anything_changes(admin: Admin) -> None:
    domain = created(admin)
    admin.cipher.disabled.add("key-b")
    with pytest.raises(KeyUnusableError):
        admin.admin.update(domain.domain_id, "renamed", None, "key-b")
    assert admin.admin.describe(domain.domain_id) == domain and admin.maintenance.started == []


def test_the_same_key_again_retries_a_failed_reencryption(admin: Admin) -> None:
    domain = created(admin)
    admin.admin.update(domain.domain_id, "support", None, "key-b")
    task = ReencryptVoiceprints(admin.domains, (), admin.cipher)
    task.fail(domain.domain_id, "The domain's KMS key key-a is disabled")
    failed = admin.admin.describe(domain.domain_id).encryption_update
    assert failed == EncryptionUpdate("key-a", EncryptionUpdateStatus.FAILED, "The domain's KMS key key-a is disabled")
    retried = admin.admin.update(domain.domain_id, "support", None, "key-b")
    assert retried.encryption_update == EncryptionUpdate("key-a", EncryptionUpdateStatus.IN_PROGRESS)
    assert admin.maintenance.started == [(domain.domain_id, REENCRYPT)] * 2
    task.complete(domain.domain_id)
    assert admin.admin.describe(domain.domain_id).encryption_update == EncryptionUpdate("key-a")
    # A task ending for a domain that is no longer re-encrypting (or gone) changes nothing.
    task.fail(domain.domain_id, "late")
    task.complete(new_id())
    assert admin.admin.describe(domain.domain_id).encryption_update == EncryptionUpdate("key-a")


# A shard in a domain whose key refuses: every request a 403 naming the key's state, nothing written.

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/k"
REFUSAL = KeyUnusableError(KEY_ARN, "DisabledException",
                           f"The domain's KMS key {KEY_ARN} is disabled (DisabledException)")


class RefusingKey:
    """The DomainKeys port of a domain whose key refuses."""

    def current_key(self, domain_id: str) -> str:
        raise REFUSAL


def locked(speaker: Speaker) -> Speaker:
    """`speaker` as the sealed store reads it while the domain's key refuses: its voiceprint does not open."""
    def refuse() -> tuple[float, ...]:
        raise REFUSAL

    return replace(speaker, voiceprint=LazyVoiceprint(refuse) if speaker.voiceprint else ())


class RefusingFraudsters(MemoryFraudsters):
    def in_watchlist(self, domain_id: str, watchlist_id: str) -> list[Fraudster]:
        raise REFUSAL


NAMES = ("allison", "carlo", "june")


def enrollment_shard(speakers: MemorySpeakers, fraudsters: MemoryFraudsters | None = None,
                     config: EnrollmentConfig | None = None, keys: DomainKeys | None = None) -> list[JobResult]:
    requests = [EnrollmentRequest(f"r{i}", name, (AudioSpecification(f"s3://in/{name}.wav", 0),))
                for i, name in enumerate(NAMES)]
    audio = MemoryAudio({f"s3://in/{name}.wav": fake_recording(voice, 40)
                         for name, voice in zip(NAMES, ("allison-en", "carlo-it", "june-fr"), strict=True)})
    return run_shard_of(SPEAKER_ENROLLMENT, config or EnrollmentConfig(), requests, audio=audio,
                        embedder=FakeEmbedder(), speakers=speakers, fraudsters=fraudsters, domain_id="D" * 22,
                        keys=keys)


def refused_with_the_key_state(results: list[JobResult]) -> bool:
    return all(isinstance(r, RequestError) and r.error_code == 403 and "is disabled (DisabledException)" in
               r.error_message and "wrote nothing" in r.error_message for r in results)


@pytest.mark.parametrize("action", list(ExistingEnrollmentAction))
def test_a_refusing_domain_key_makes_every_request_of_the_shard_a_403_and_writes_nothing(
    action: ExistingEnrollmentAction
) -> None:
    # Reading a stored speaker no longer opens its voiceprint: a duplicate to skip and an opted-out speaker are
    # refused like a new one, because enrollment asks the key first.
    speakers = MemorySpeakers()
    stored = {"allison": locked(speaker_of("D" * 22, "allison", (0.5,) * 4)),
              "carlo": locked(speaker_of("D" * 22, "carlo", (0.5,) * 4).opted_out(NOW))}
    speakers.speakers.update({("D" * 22, name): speaker for name, speaker in stored.items()})
    before = dict(speakers.speakers)
    results = enrollment_shard(speakers, config=EnrollmentConfig(action), keys=RefusingKey())
    assert len(results) == len(NAMES) and refused_with_the_key_state(results)
    assert speakers.speakers == before


def test_a_watchlist_whose_voiceprints_do_not_open_refuses_the_shards_requests() -> None:
    screened = EnrollmentConfig(fraud_detection=FraudDetectionConfig(FraudDetectionAction.FAIL))
    speakers = MemorySpeakers()
    assert refused_with_the_key_state(enrollment_shard(speakers, RefusingFraudsters(), screened))
    assert speakers.speakers == {}


# ----------------------------------------------------------------- the emulated KMS honours key state


def kms_error(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return str(raised.value.response["Error"]["Code"])


def test_the_emulated_kms_refuses_a_disabled_key_or_one_pending_deletion_as_aws_does() -> None:
    with mock_aws(), key_state_enforced():
        kms = boto3.client("kms", region_name=REGION)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        other = kms.create_key()["KeyMetadata"]["KeyId"]
        mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key, Plaintext=b"voiceprint")["CiphertextBlob"]
        calls = {
            "Encrypt": (kms.encrypt, {"KeyId": key, "Plaintext": b"x"}),
            "Decrypt": (kms.decrypt, {"CiphertextBlob": blob}),
            "GenerateDataKey": (kms.generate_data_key, {"KeyId": key, "KeySpec": "AES_256"}),
            "GenerateDataKeyWithoutPlaintext": (kms.generate_data_key_without_plaintext,
                                                {"KeyId": key, "KeySpec": "AES_256"}),
            "ReEncrypt (source)": (kms.re_encrypt, {"CiphertextBlob": blob, "DestinationKeyId": other}),
        }
        kms.disable_key(KeyId=key)
        assert {name: kms_error(call, **kw) for name, (call, kw) in calls.items()} == dict.fromkeys(
            calls, "DisabledException")
        blob_other = kms.encrypt(KeyId=other, Plaintext=b"x")["CiphertextBlob"]
        assert kms_error(kms.re_encrypt, CiphertextBlob=blob_other, DestinationKeyId=key) == "DisabledException"
        kms.enable_key(KeyId=key)
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"voiceprint"
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
        assert {name: kms_error(call, **kw) for name, (call, kw) in calls.items()} == dict.fromkeys(
            calls, "KMSInvalidStateException")
        with pytest.raises(ClientError, match="pending deletion"):
            kms.decrypt(CiphertextBlob=blob)
        mac = {"KeyId": mac_key, "Message": b"page", "MacAlgorithm": "HMAC_SHA_256"}
        signature = kms.generate_mac(**mac)["Mac"]
        assert kms_error(kms.generate_data_key, KeyId=mac_key, KeySpec="AES_256") == "InvalidKeyUsageException"
        kms.disable_key(KeyId=mac_key)
        assert kms_error(kms.generate_mac, **mac) == "DisabledException"
        assert kms_error(kms.verify_mac, Mac=signature, **mac) == "DisabledException"
    with mock_aws():  # uninstalled: moto's own (lax) KMS again, so the strictness above is the patch's doing
        kms = boto3.client("kms", region_name=REGION)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.disable_key(KeyId=key)
        assert kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]


def test_key_state_installs_nest() -> None:
    with key_state_enforced(), key_state_enforced():
        pass
    kms_key_state.uninstall()  # one too many is harmless
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.disable_key(KeyId=key)
        assert kms.encrypt(KeyId=key, Plaintext=b"x")


# -------------------------------------------------------------------------- the KMS cipher on moto


class CountingKms:
    """KMS calls by operation, counted from the client's own events."""

    def __init__(self, client: Any) -> None:
        self.calls: dict[str, int] = {}
        client.meta.events.register("before-call.kms.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] = self.calls.get(model.name, 0) + 1


@dataclass
class Moto:
    kms: Any
    dynamodb: Any
    counted: CountingKms
    keys: dict[str, str]  # name → KeyId

    def new_key(self, name: str) -> str:
        self.keys[name] = self.kms.create_key(Description=name)["KeyMetadata"]["KeyId"]
        return self.keys[name]

    def arn(self, name: str) -> str:
        return str(self.kms.describe_key(KeyId=self.keys[name])["KeyMetadata"]["Arn"])


@pytest.fixture
def moto() -> Iterator[Moto]:
    with mock_aws(), key_state_enforced():
        kms = boto3.client("kms", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for spec in tables().values():
            indexes = {"GlobalSecondaryIndexes": spec.global_secondary_indexes} if spec.global_secondary_indexes else {}
            dynamodb.create_table(TableName=spec.name, KeySchema=spec.key_schema, BillingMode="PAY_PER_REQUEST",
                                  AttributeDefinitions=spec.attribute_definitions, **indexes)
        yield Moto(kms, dynamodb, CountingKms(kms), {})


def owner(domain_id: str, record_id: str) -> VoiceprintOwner:
    return VoiceprintOwner(domain_id, VoiceprintKind.SPEAKER, record_id)


def test_a_sealed_voiceprint_is_ciphertext_that_opens_only_for_its_domain_and_record(
    moto: Moto, voiceprint_of: VoiceprintOf
) -> None:
    key = moto.new_key("a")
    cipher = KmsVoiceprintCipher(moto.kms, lambda _domain: key)
    vector = pack_voiceprint(tuple(voiceprint_of("allison-en", 30, 0).as_list()))
    assert vector is not None
    speaker = owner("D1", new_generated_speaker_id())
    sealed = cipher.seal(speaker, vector)
    assert sealed.key_arn == moto.arn("a")
    assert vector not in sealed.ciphertext and vector not in sealed.wrapped_key
    assert len(sealed.ciphertext) == 12 + len(vector) + 16  # nonce, ciphertext, GCM tag
    assert cipher.open(speaker, sealed) == vector
    for stranger in (owner("D1", new_generated_speaker_id()), owner("D2", speaker.record_id),
                     VoiceprintOwner("D1", VoiceprintKind.FRAUDSTER, speaker.record_id)):
        with pytest.raises(VoiceprintIntegrityError):
            KmsVoiceprintCipher(moto.kms, lambda _domain: key).open(stranger, sealed)
    # The data key itself is bound to the domain by KMS's encryption context.
    wrong = {DOMAIN_CONTEXT_KEY: "D2"}
    assert kms_error(moto.kms.decrypt, CiphertextBlob=sealed.wrapped_key, EncryptionContext=wrong) == (
        "InvalidCiphertextException")


def test_data_keys_are_cached_within_bounds_and_a_disabled_key_is_honoured_once_they_expire(moto: Moto) -> None:
    key = moto.new_key("a")
    now = [0.0]
    cipher = KmsVoiceprintCipher(moto.kms, lambda _domain: key, max_age_seconds=60, max_uses=250,
                                 clock=lambda: now[0])
    sealed = [cipher.seal(owner("D1", f"id#{i}"), b"\x00" * 1024) for i in range(1000)]
    sealed += [cipher.seal(owner("D2", f"id#{i}"), b"\x00" * 1024) for i in range(10)]
    reader = KmsVoiceprintCipher(moto.kms, lambda _domain: key, clock=lambda: now[0])
    for index, item in enumerate(sealed[:1000]):
        reader.open(owner("D1", f"id#{index}"), item)
    # 1,000 voiceprints of one domain: one data key per 250 (max_uses), one per domain; the reader unwraps each once.
    assert moto.counted.calls == {"CreateKey": 1, "GenerateDataKey": 4 + 1, "Decrypt": 4}
    moto.kms.disable_key(KeyId=key)
    assert cipher.open(owner("D1", "id#0"), sealed[0])  # within max_age the unwrapped key is still used
    now[0] = 61.0
    for call in (lambda: cipher.seal(owner("D1", "id#x"), b"\x00"), lambda: cipher.open(owner("D1", "id#0"),
                                                                                       sealed[0])):
        with pytest.raises(KeyUnusableError) as refused:
            call()
        assert refused.value.reason == "DisabledException" and "is disabled" in str(refused.value)


def speaker_of(domain_id: str, customer_id: str, vector: tuple[float, ...]) -> Speaker:
    return Speaker(domain_id, customer_id, new_generated_speaker_id(), SpeakerStatus.ENROLLED, NOW, NOW,
                   voiceprint=vector, model_id="ge2e", version=1)


@dataclass
class Stores:
    domains: DynamoDomainStore
    speakers: DynamoSpeakerStore
    fraudsters: DynamoFraudsterStore
    cipher: KmsVoiceprintCipher
    table: dict[str, str]


def stores_on(moto: Moto, max_age: float = 60.0) -> Stores:
    table = {role: spec.name for role, spec in tables().items()}
    domains = DynamoDomainStore(moto.dynamodb, table["domains"], table["watchlists"])

    def key_of(domain_id: str) -> str:
        domain = domains.get(domain_id)
        assert domain is not None and domain.kms_key_id
        return domain.kms_key_id

    cipher = KmsVoiceprintCipher(moto.kms, key_of, max_age_seconds=max_age)
    return Stores(domains, DynamoSpeakerStore(moto.dynamodb, table["speakers"], table["domains"], cipher),
                  DynamoFraudsterStore(moto.dynamodb, table["fraudsters"], table["watchlists"], cipher), cipher,
                  table)


def new_domain(stores: Stores, key_id: str) -> Domain:
    domain_id = new_id()
    domain = Domain(domain_id, "support", kms_key_id=key_id, created_at=NOW, updated_at=NOW,
                    default_watchlist_id=default_watchlist_id(domain_id))
    stores.domains.create(domain, default_watchlist(domain_id, NOW), new_id(), "hash")
    return domain


def plaintext_in(moto: Moto, stores: Stores, vectors: list[tuple[float, ...]]) -> list[str]:
    return plaintext_voiceprints(moto.dynamodb, stores.table.values(), vectors)


def put_legacy_speaker(moto: Moto, stores: Stores, speaker: Speaker) -> Speaker:
    """`speaker` as the previous release wrote it: SchemaVersion 2, the voiceprint in plaintext."""
    item = {"SchemaVersion": 2, "DomainId": speaker.domain_id, "CustomerSpeakerId": speaker.customer_speaker_id,
            "GeneratedSpeakerId": speaker.generated_speaker_id, "Status": speaker.status.value,
            "CreatedAt": speaker.created_at, "UpdatedAt": speaker.updated_at,
            "Voiceprint": pack_voiceprint(speaker.voiceprint), "ModelId": speaker.model_id, "Version": speaker.version}
    moto.dynamodb.put_item(TableName=stores.table["speakers"], Item=to_item(item))
    return speaker


def test_stored_speakers_and_fraudsters_hold_ciphertext_only_and_old_plaintext_items_still_read(
    moto: Moto, voiceprint_of: VoiceprintOf
) -> None:
    stores = stores_on(moto)
    domain = new_domain(stores, moto.new_key("a"))
    allison = tuple(voiceprint_of("allison-en", 30, 0).as_list())
    carlo = tuple(voiceprint_of("carlo-it", 30, 0).as_list())
    speaker = speaker_of(domain.domain_id, "allison", allison)
    stores.speakers.create(speaker, 100)
    watchlists = frozenset({domain.default_watchlist_id or ""})
    fraudster = Fraudster(domain.domain_id, new_generated_fraudster_id(), watchlists, NOW, carlo, "ge2e")
    stores.fraudsters.create(fraudster, 10)
    assert plaintext_in(moto, stores, [allison, carlo]) == []
    item = from_item(moto.dynamodb.get_item(TableName=stores.table["speakers"], Key={
        "DomainId": {"S": domain.domain_id}, "CustomerSpeakerId": {"S": "allison"}})["Item"])
    assert item["SchemaVersion"] == 3 and item["VoiceprintKeyArn"] == moto.arn("a") and SEALED_VOICEPRINT in item
    assert stores.speakers.get(domain.domain_id, "allison") == replace(speaker, version=1)
    assert stores.fraudsters.in_watchlist(domain.domain_id, domain.default_watchlist_id or "")[0].voiceprint == carlo

    # A speaker the previous release wrote (SchemaVersion 2, plaintext) reads, and is sealed when written again.
    legacy = put_legacy_speaker(moto, stores, speaker_of(domain.domain_id, "carlo", carlo))
    assert stores.speakers.get(domain.domain_id, "carlo") == legacy
    assert plaintext_in(moto, stores, [carlo]) == [f"{stores.table['speakers']}:Voiceprint"]
    rewritten = replace(legacy, updated_at=NOW + 1, version=2)
    stores.speakers.replace(rewritten, legacy)
    assert stores.speakers.get(domain.domain_id, "carlo") == rewritten
    assert plaintext_in(moto, stores, [allison, carlo]) == []


def test_a_disabled_domain_key_stops_that_domains_voiceprints_only_and_nothing_is_written(
    moto: Moto, voiceprint_of: VoiceprintOf
) -> None:
    stores = stores_on(moto, max_age=0)
    a, b = new_domain(stores, moto.new_key("a")), new_domain(stores, moto.new_key("b"))
    vector = tuple(voiceprint_of("allison-en", 30, 0).as_list())
    stores.speakers.create(speaker_of(a.domain_id, "allison", vector), 100)
    moto.kms.disable_key(KeyId=moto.keys["a"])
    with pytest.raises(KeyUnusableError):
        stores.speakers.create(speaker_of(a.domain_id, "carlo", vector), 100)
    stored = stores.speakers.get(a.domain_id, "allison")  # its ids and status read without the key
    assert stored is not None and stored.status is SpeakerStatus.ENROLLED
    with pytest.raises(KeyUnusableError):
        tuple(stored.voiceprint)  # the voiceprint itself does not open
    assert stores.speakers.count(a.domain_id) == 1  # the refused speaker was not written, nor counted
    assert stores.speakers.page(a.domain_id, 10, None).items[0].customer_speaker_id == "allison"  # no voiceprint read
    stores.speakers.create(speaker_of(b.domain_id, "carlo", vector), 100)
    assert stores.speakers.get(b.domain_id, "carlo") is not None


def test_reencryption_moves_every_voiceprint_to_the_new_key_while_reads_go_on(
    moto: Moto, voiceprint_of: VoiceprintOf
) -> None:
    stores = stores_on(moto)
    domain = new_domain(stores, moto.new_key("old"))
    moto.new_key("new")
    vectors = [tuple(voiceprint_of(voice, 30, 0).as_list()) for voice in ("allison-en", "carlo-it", "june-fr")]
    for index, vector in enumerate(vectors):
        stores.speakers.create(speaker_of(domain.domain_id, f"caller-{index}", vector), 100)
    watchlist = domain.default_watchlist_id or ""
    stores.fraudsters.create(Fraudster(domain.domain_id, new_generated_fraudster_id(), frozenset({watchlist}), NOW,
                                       vectors[0], "ge2e"), 10)
    stores.speakers.put(replace(speaker_of(domain.domain_id, "opted-out", ()), status=SpeakerStatus.OPTED_OUT))
    legacy = put_legacy_speaker(moto, stores, speaker_of(domain.domain_id, "legacy", vectors[1]))
    maintenance = DeferredMaintenance()
    admin = DomainAdmin(stores.domains, lambda: NOW, stores.cipher, maintenance)
    task = ReencryptVoiceprints(stores.domains, (stores.speakers, stores.fraudsters), stores.cipher, page_size=1)
    maintenance.tasks[task.name] = task

    admin.update(domain.domain_id, "support", None, moto.keys["new"])
    assert admin.describe(domain.domain_id).encryption_update == EncryptionUpdate(
        moto.keys["old"], EncryptionUpdateStatus.IN_PROGRESS)
    page = task.run_page(domain.domain_id, None, lambda: 0.0)  # one page: one speaker under the new key
    assert page.cursor is not None and page.counts == {"VoiceprintsResealed": 1}
    keys = {s.record_key: s.key_arn for s in stores.speakers.voiceprint_keys(domain.domain_id, 10, None).items}
    assert keys == {"caller-0": moto.arn("new"), "caller-1": moto.arn("old"), "caller-2": moto.arn("old"),
                    "legacy": None}  # the opted-out speaker has no voiceprint; the legacy one is in plaintext
    assert [stores.speakers.get(domain.domain_id, f"caller-{i}").voiceprint for i in range(3)] == vectors  # type: ignore[union-attr]

    maintenance.run()
    assert admin.describe(domain.domain_id).encryption_update == EncryptionUpdate(moto.keys["old"])  # COMPLETED
    for vault in (stores.speakers, stores.fraudsters):
        assert {s.key_arn for s in vault.voiceprint_keys(domain.domain_id, 10, None).items} == {moto.arn("new")}
    assert stores.speakers.get(domain.domain_id, "legacy") == legacy
    assert plaintext_in(moto, stores, vectors) == []
    moto.kms.disable_key(KeyId=moto.keys["old"])  # the old key no longer matters
    fresh = stores_on(moto)  # no cached data keys
    assert [fresh.speakers.get(domain.domain_id, f"caller-{i}").voiceprint for i in range(3)] == vectors  # type: ignore[union-attr]
    assert fresh.fraudsters.in_watchlist(domain.domain_id, watchlist)[0].voiceprint == vectors[0]


def test_reencryption_fails_with_a_message_when_the_old_key_refuses_and_a_retry_completes(
    moto: Moto, voiceprint_of: VoiceprintOf
) -> None:
    stores = stores_on(moto, max_age=0)
    domain = new_domain(stores, moto.new_key("old"))
    moto.new_key("new")
    stores.speakers.create(speaker_of(domain.domain_id, "allison",
                                      tuple(voiceprint_of("allison-en", 30, 0).as_list())), 100)
    maintenance = DeferredMaintenance()
    admin = DomainAdmin(stores.domains, lambda: NOW, stores.cipher, maintenance)
    maintenance.tasks[REENCRYPT] = ReencryptVoiceprints(stores.domains, (stores.speakers, stores.fraudsters),
                                                        stores.cipher)
    admin.update(domain.domain_id, "support", None, moto.keys["new"])
    moto.kms.disable_key(KeyId=moto.keys["old"])
    maintenance.run()
    update = admin.describe(domain.domain_id).encryption_update
    assert update is not None and update.status is EncryptionUpdateStatus.FAILED
    assert update.message is not None and "is disabled (DisabledException)" in update.message
    assert update.to_api()["Message"] == update.message
    moto.kms.enable_key(KeyId=moto.keys["old"])
    admin.update(domain.domain_id, "support", None, moto.keys["new"])  # the same key again: retry
    maintenance.run()
    assert admin.describe(domain.domain_id).encryption_update == EncryptionUpdate(moto.keys["old"])
    assert [s.key_arn for s in stores.speakers.voiceprint_keys(domain.domain_id, 10, None).items] == [
        moto.arn("new")]



def test_reencryption_pages_stop_when_time_runs_short_and_continue_from_their_cursor_to_the_end(
    moto: Moto, voiceprint_of: VoiceprintOf
) -> None:
    """No time cap: each page of the maintenance workflow stops when its invocation runs short of time, and the
    next one goes on from its cursor until the update is COMPLETED."""
    stores = stores_on(moto)
    domain = new_domain(stores, moto.new_key("old"))
    moto.new_key("new")
    vector = tuple(voiceprint_of("allison-en", 30, 0).as_list())
    for name in ("a", "b", "c"):
        stores.speakers.create(speaker_of(domain.domain_id, name, vector), 100)
    task = ReencryptVoiceprints(stores.domains, (stores.speakers, stores.fraudsters), stores.cipher, page_size=1)
    maintenance = DeferredMaintenance()
    DomainAdmin(stores.domains, lambda: NOW, stores.cipher, maintenance).update(domain.domain_id, "support", None,
                                                                                moto.keys["new"])
    steps = []
    cursor: str | None = None
    while not steps or steps[-1].outcome is Outcome.RUNNING:
        steps.append(run_step(task, domain.domain_id, cursor, lambda: 0.0))  # always short of time: one page each
        cursor = steps[-1].page.cursor
        if len(steps) == 1:
            arns = [s.key_arn for s in stores.speakers.voiceprint_keys(domain.domain_id, 10, None).items]
            assert arns == [moto.arn("new"), moto.arn("old"), moto.arn("old")]
            assert stores.domains.get(domain.domain_id).reencrypting  # type: ignore[union-attr]
    assert steps[-1].outcome is Outcome.COMPLETED and len(steps) > 3  # a second, clean pass after the first
    assert sum(step.page.counts["VoiceprintsResealed"] for step in steps) == 3
    assert stores.domains.get(domain.domain_id).encryption_update == EncryptionUpdate(moto.keys["old"])  # type: ignore[union-attr]
    assert {s.key_arn for s in stores.speakers.voiceprint_keys(domain.domain_id, 10, None).items} == {
        moto.arn("new")}


# ------------------------------------------- deleting biometric data never needs the key (issue 15 item 5)


def make_refuse(moto: Moto, name: str, state: str) -> str:
    """Put key `name` in `state`; the refusal's wording KMS's answer gives."""
    if state == "disabled":
        moto.kms.disable_key(KeyId=moto.keys[name])
        return "is disabled (DisabledException)"
    moto.kms.schedule_key_deletion(KeyId=moto.keys[name], PendingWindowInDays=7)
    return "is pending deletion (KMSInvalidStateException)"


def raw_speaker(moto: Moto, stores: Stores, domain_id: str, name: str) -> dict[str, Any] | None:
    item = moto.dynamodb.get_item(TableName=stores.table["speakers"], ConsistentRead=True, Key={
        "DomainId": {"S": domain_id}, "CustomerSpeakerId": {"S": name}}).get("Item")
    return from_item(item) if item else None


@pytest.mark.parametrize("state", ["disabled", "pending deletion"])
def test_a_refusing_domain_key_still_lets_speakers_and_fraudsters_be_read_deleted_and_opted_out(
    moto: Moto, voiceprint_of: VoiceprintOf, state: str
) -> None:
    stores = stores_on(moto, max_age=0)
    domain = new_domain(stores, moto.new_key("a"))
    domain_id, watchlist = domain.domain_id, domain.default_watchlist_id or ""
    vector = tuple(voiceprint_of("allison-en", 30, 0).as_list())
    for name in ("allison", "carlo", "june"):
        stores.speakers.create(speaker_of(domain_id, name, vector), 100)
    fraudster = Fraudster(domain_id, new_generated_fraudster_id(), frozenset({watchlist}), NOW, vector, "ge2e")
    stores.fraudsters.create(fraudster, 10)
    refusal = make_refuse(moto, "a", state)
    speakers = SpeakerAdmin(stores.speakers, 100, lambda: NOW + 1)
    fraudsters = FraudsterAdmin(stores.fraudsters, DynamoWatchlistStore(moto.dynamodb, stores.table["watchlists"],
                                                                        stores.table["domains"]), 10)

    # Describe and list answer; only the voiceprint itself stays locked.
    allison = speakers.describe(domain_id, "allison")
    assert speakers.describe(domain_id, allison.generated_speaker_id).to_api() == allison.to_api()
    assert [s.customer_speaker_id for s in speakers.page(domain_id, 10, None).items] == ["allison", "carlo", "june"]
    with pytest.raises(KeyUnusableError, match=re.escape(refusal)):
        tuple(allison.voiceprint)
    assert fraudsters.describe(domain_id, fraudster.generated_fraudster_id).watchlist_ids == {watchlist}
    assert [f.generated_fraudster_id for f in fraudsters.page(domain_id, 10, None, watchlist).items] == [
        fraudster.generated_fraudster_id]

    # Opting out drops the sealed voiceprint; a new id gets its OPTED_OUT record; both counted, no key used.
    assert speakers.opt_out(domain_id, "allison").status is SpeakerStatus.OPTED_OUT
    assert speakers.opt_out(domain_id, "armelle").status is SpeakerStatus.OPTED_OUT
    sealed_attributes = {SEALED_VOICEPRINT, "VoiceprintDataKey", "VoiceprintKeyArn", "Voiceprint"}
    for name in ("allison", "armelle"):
        item = raw_speaker(moto, stores, domain_id, name)
        assert item is not None and item["Status"] == "OPTED_OUT" and not sealed_attributes & item.keys()
    assert stores.speakers.count(domain_id) == 4

    # Deleting a speaker (enrolled or opted out) and a fraudster frees their count slots and watchlist room.
    speakers.delete(domain_id, "carlo")
    speakers.delete(domain_id, allison.generated_speaker_id)
    assert raw_speaker(moto, stores, domain_id, "carlo") is None and raw_speaker(moto, stores, domain_id,
                                                                                  "allison") is None
    assert stores.speakers.count(domain_id) == 2  # june and armelle
    fraudsters.delete(domain_id, fraudster.generated_fraudster_id)
    assert stores.fraudsters.get(domain_id, fraudster.generated_fraudster_id) is None
    counted = moto.dynamodb.get_item(TableName=stores.table["watchlists"], Key={
        "DomainId": {"S": domain_id}, "WatchlistId": {"S": watchlist}})["Item"]
    assert counted["FraudsterCount"] == {"N": "0"}

    # Whatever needs a voiceprint is still refused, and writes nothing.
    with pytest.raises(KeyUnusableError, match=re.escape(refusal)):
        stores.speakers.create(speaker_of(domain_id, "carlo", vector), 100)
    june = stores.speakers.voiceprint_keys(domain_id, 10, None).items
    with pytest.raises(KeyUnusableError, match=re.escape(refusal)):
        stores.speakers.reseal(june[0])
    assert stores.speakers.count(domain_id) == 2 and raw_speaker(moto, stores, domain_id, "carlo") is None
    assert plaintext_in(moto, stores, [vector]) == []


def test_an_evaluation_shard_whose_voiceprints_do_not_open_refuses_each_request_a_short_call_included() -> None:
    # A short call is decided with the fraud screen too: its refusal is a 403 entry, not a failed shard.
    speakers = MemorySpeakers()
    speakers.speakers[("D" * 22, "allison")] = locked(speaker_of("D" * 22, "allison", (0.5,) * 4))
    requests = [EvaluationRequest("short", "allison", (AudioSpecification("s3://in/short.wav", 0),)),
                EvaluationRequest("long", "allison", (AudioSpecification("s3://in/long.wav", 0),))]
    audio = MemoryAudio({"s3://in/short.wav": fake_recording("allison-en", 5),
                         "s3://in/long.wav": fake_recording("allison-en", 40)})
    results = run_shard_of(SPEAKER_EVALUATION, EvaluationConfig(), requests, audio=audio, embedder=FakeEmbedder(),
                           speakers=speakers, fraudsters=RefusingFraudsters(), domain_id="D" * 22)
    assert len(results) == 2 and refused_with_the_key_state(results)
