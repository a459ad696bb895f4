"""How each DynamoDB table stores its records: one item codec per table, separate from the Voice ID wire shapes.

Every item a codec writes carries ``SchemaVersion``; items without it were written before the codecs existed
(version 1) and still read. A change of the API's shapes is not a change of the stored items, and a change of
the stored items is a new version here with its reader of the old one.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from ..domain.shared.domain import Domain, DomainStatus, EncryptionUpdate, EncryptionUpdateStatus
from ..domain.shared.fraudster import Fraudster
from ..domain.shared.job import BatchJob, FailureDetails, JobStatus, JobSummary
from ..domain.shared.sealed import LazyVoiceprint, SealedVoiceprint, VoiceprintKind, VoiceprintOwner
from ..domain.shared.speaker import EnrollmentStatus, Speaker, SpeakerStatus
from ..domain.shared.watchlist import Watchlist
from ..domain.workflow.jobtype import JobTypes
from ..domain.workflow.kinds.enrollment import SPEAKER_ENROLLMENT

if TYPE_CHECKING:  # the stubs are dev-only: the Lambda runtime never imports them
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from ..domain.ports import VoiceprintCipher

SCHEMA_VERSION = "SchemaVersion"
LEGACY_VERSION = 1  # items written before the codecs: no SchemaVersion attribute
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class UnknownSchemaVersionError(ValueError):
    """An item was written by a newer release than this one (roll back the table, or roll forward the code)."""


# ------------------------------------------------------------------------------------- attribute values


def _to_dynamo(value: Any) -> Any:
    """Plain values as boto3's TypeSerializer takes them: floats as Decimal (it refuses floats), no None members."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def to_item(document: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    """A document of plain values as a DynamoDB item (attributes whose value is None are left out)."""
    return {k: _serializer.serialize(v) for k, v in _to_dynamo(dict(document)).items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo(_deserializer.deserialize(v)) for k, v in item.items()}


def to_value(value: Any) -> AttributeValueTypeDef:
    """One plain value as a DynamoDB attribute value (for expressions)."""
    # boto3's TypeSerializer is untyped; what it returns is an attribute value ({"S": ...}, {"N": ...}, ...).
    return cast("AttributeValueTypeDef", dict(_serializer.serialize(_to_dynamo(value))))


def pack_voiceprint(vector: Sequence[float]) -> bytes | None:
    """Voiceprints are stored as little-endian float32: exact and a quarter of a number list's size."""
    return struct.pack(f"<{len(vector)}f", *vector) if vector else None


def unpack_voiceprint(blob: Any) -> tuple[float, ...]:
    data = bytes(blob.value if hasattr(blob, "value") else blob or b"")
    return struct.unpack(f"<{len(data) // 4}f", data)


# Version 3 of speakers and fraudsters: the voiceprint sealed under the domain's key (never in plaintext).
SEALED_VOICEPRINT = "SealedVoiceprint"  # nonce + AES-256-GCM ciphertext + tag
VOICEPRINT_DATA_KEY = "VoiceprintDataKey"  # the data key as KMS wrapped it
VOICEPRINT_KEY_ARN = "VoiceprintKeyArn"  # the KMS key that wrapped it
PLAINTEXT_VOICEPRINT = "Voiceprint"  # versions 1 and 2: little-endian float32, in plaintext


class VoiceprintFields:
    """The voiceprint attributes of speakers and fraudsters: version 3 writes them sealed under the domain's key
    (``VoiceprintCipher``); an item of version 1 or 2 holds ``Voiceprint`` in plaintext, which still reads, and
    is sealed when it is next written (any write, or the domain's re-encryption). A sealed voiceprint decodes as a
    ``LazyVoiceprint``: the cipher opens it only when it is used, so a record read for its ids or status (describe,
    list, delete, opt out) does not need the domain's key. Writing a record that has a voiceprint opens and seals it
    again (under the domain's current key); a record without one (opted out) is written without the key."""

    VERSION = 3

    def __init__(self, cipher: VoiceprintCipher, kind: VoiceprintKind) -> None:
        self._cipher = cipher
        self._kind = kind

    def owner(self, domain_id: str, record_id: str) -> VoiceprintOwner:
        return VoiceprintOwner(domain_id, self._kind, record_id)

    def encode(self, domain_id: str, record_id: str, vector: Sequence[float]) -> dict[str, Any]:
        packed = pack_voiceprint(vector)
        if packed is None:
            return {SEALED_VOICEPRINT: None, VOICEPRINT_DATA_KEY: None, VOICEPRINT_KEY_ARN: None}
        sealed = self._cipher.seal(self.owner(domain_id, record_id), packed)
        return {SEALED_VOICEPRINT: sealed.ciphertext, VOICEPRINT_DATA_KEY: sealed.wrapped_key,
                VOICEPRINT_KEY_ARN: sealed.key_arn}

    def decode(self, document: Mapping[str, Any], domain_id: str, record_id: str) -> Sequence[float]:
        sealed = sealed_of(document)
        if sealed is None:  # versions 1 and 2 (plaintext), or no voiceprint (opted out, or a listing's projection)
            return unpack_voiceprint(document.get(PLAINTEXT_VOICEPRINT))
        owner = self.owner(domain_id, record_id)
        return LazyVoiceprint(lambda: unpack_voiceprint(self._cipher.open(owner, sealed)))


def _binary(value: Any) -> bytes:
    return bytes(value.value if hasattr(value, "value") else value)


def sealed_of(document: Mapping[str, Any]) -> SealedVoiceprint | None:
    if SEALED_VOICEPRINT not in document:
        return None
    return SealedVoiceprint(str(document[VOICEPRINT_KEY_ARN]), _binary(document[VOICEPRINT_DATA_KEY]),
                            _binary(document[SEALED_VOICEPRINT]))


def _version(document: Mapping[str, Any], current: int, table: str) -> int:
    version = int(document.get(SCHEMA_VERSION, LEGACY_VERSION))
    if version > current:
        raise UnknownSchemaVersionError(f"a {table} item has SchemaVersion {version}; this release reads up to "
                                        f"{current}")
    return version


def _optional_float(value: Any) -> float | None:
    return float(value) if value is not None else None


# -------------------------------------------------------------------------------------------------- jobs


class JobCodec:
    """Jobs: version 2 stores the configuration under ``Config`` and the data locations flat; version 1 items
    held the wire shapes (``EnrollmentConfig``/``RegistrationConfig``, ``InputDataConfig``, ``OutputDataConfig``).
    The attributes the workflow updates in place (``JobStatus``, ``JobProgress.PercentComplete``, ``EndedAt``,
    ``FailureDetails``, ``ProcessedRequests``, ``TotalRequests``) are the same in both, so a job started by one
    release can be finished by the next."""

    VERSION = 2
    SUMMARY = "Summary"  # set when the job is finalized (absent before, and on items of earlier releases)
    LEGACY_KIND = SPEAKER_ENROLLMENT.name  # version 1 items of speaker enrollment jobs had no JobKind

    def __init__(self, job_types: JobTypes) -> None:
        self._job_types = job_types

    def encode(self, job: BatchJob) -> dict[str, Any]:
        return {
            SCHEMA_VERSION: self.VERSION, "DomainId": job.domain_id, "JobId": job.job_id, "JobKind": job.kind,
            "JobName": job.job_name, "JobStatus": job.status.value, "DataAccessRoleArn": job.data_access_role_arn,
            "Config": job.config.to_api(), "InputS3Uri": job.input_s3_uri, "OutputS3Uri": job.output_s3_uri,
            "OutputKmsKeyId": job.output_kms_key_id, "CreatedAt": job.created_at, "EndedAt": job.ended_at,
            "JobProgress": {"PercentComplete": job.percent_complete},
            "FailureDetails": job.failure_details.to_api() if job.failure_details else None,
            "InputVersionId": job.input_version_id,
            self.SUMMARY: self.encode_summary(job.summary) if job.summary else None,
        }

    @staticmethod
    def encode_summary(summary: JobSummary) -> dict[str, Any]:
        """``Summary``: ``{<the kind's wire member>: <its content>}`` (written by ``finish``)."""
        return summary.to_json()

    def decode(self, document: Mapping[str, Any]) -> BatchJob:
        version = _version(document, self.VERSION, "Jobs")
        job_type = self._job_types[str(document.get("JobKind", self.LEGACY_KIND))]
        if version == LEGACY_VERSION:
            config_shape = document.get(job_type.config_member)
            input_uri, output = document["InputDataConfig"]["S3Uri"], document["OutputDataConfig"]
            output_uri, output_key = output["S3Uri"], output.get("KmsKeyId")
        else:
            config_shape = document.get("Config")
            input_uri, output_uri = document["InputS3Uri"], document["OutputS3Uri"]
            output_key = document.get("OutputKmsKeyId")
        failure = document.get("FailureDetails")
        return BatchJob(
            job_id=document["JobId"], domain_id=document["DomainId"], kind=job_type.name,
            config=job_type.config_from_api(config_shape), data_access_role_arn=document["DataAccessRoleArn"],
            input_s3_uri=input_uri, output_s3_uri=output_uri, output_kms_key_id=output_key,
            created_at=float(document["CreatedAt"]), job_name=document.get("JobName"),
            status=JobStatus(document["JobStatus"]),
            percent_complete=int(document.get("JobProgress", {}).get("PercentComplete", 0)),
            ended_at=_optional_float(document.get("EndedAt")),
            failure_details=FailureDetails(int(failure["StatusCode"]), failure["Message"]) if failure else None,
            input_version_id=document.get("InputVersionId"),
            summary=JobSummary.from_json(summary) if (summary := document.get(self.SUMMARY)) else None,
        )


# ---------------------------------------------------------------------------------------------- speakers


class SpeakerCodec:
    """Speakers (the GSI ``GeneratedSpeakerId`` and the listing's projection name these attributes). Version 3
    seals the voiceprint (``VoiceprintFields``, bound to the GeneratedSpeakerId); versions 1 and 2 stored the
    same attributes with the voiceprint in plaintext."""

    VERSION = VoiceprintFields.VERSION

    def __init__(self, cipher: VoiceprintCipher) -> None:
        self.voiceprints = VoiceprintFields(cipher, VoiceprintKind.SPEAKER)

    def encode(self, speaker: Speaker) -> dict[str, Any]:
        return {
            SCHEMA_VERSION: self.VERSION, "DomainId": speaker.domain_id,
            "CustomerSpeakerId": speaker.customer_speaker_id, "GeneratedSpeakerId": speaker.generated_speaker_id,
            "Status": speaker.status.value, "CreatedAt": speaker.created_at, "UpdatedAt": speaker.updated_at,
            "LastAccessedAt": speaker.last_accessed_at, PLAINTEXT_VOICEPRINT: None,
            **self.voiceprints.encode(speaker.domain_id, speaker.generated_speaker_id, speaker.voiceprint),
            "ModelId": speaker.model_id, "NetSpeechSeconds": speaker.net_speech_seconds,
            "EnrolledBy": speaker.enrolled_by,
            "EnrollmentStatus": speaker.enrollment_status.value if speaker.enrollment_status else None,
            "Version": speaker.version,
        }

    def decode(self, document: Mapping[str, Any]) -> Speaker:
        _version(document, self.VERSION, "Speakers")
        status = document.get("EnrollmentStatus")
        domain_id, generated_id = document["DomainId"], document["GeneratedSpeakerId"]
        return Speaker(
            domain_id=domain_id, customer_speaker_id=document["CustomerSpeakerId"],
            generated_speaker_id=generated_id, status=SpeakerStatus(document["Status"]),
            created_at=float(document["CreatedAt"]), updated_at=float(document["UpdatedAt"]),
            last_accessed_at=_optional_float(document.get("LastAccessedAt")),
            voiceprint=self.voiceprints.decode(document, domain_id, generated_id), model_id=document.get("ModelId"),
            net_speech_seconds=document.get("NetSpeechSeconds"), enrolled_by=document.get("EnrolledBy"),
            enrollment_status=EnrollmentStatus(status) if status else None,
            version=int(document.get("Version", 0)),
        )


# ----------------------------------------------------------------------------------------------- domains


class DomainCodec:
    """Domains. ``WatchlistCount`` is kept by the watchlist store's transactions (and ``SpeakerCount``, the first
    release's speaker count, by deletions of the speakers it counted: dynamodb/speakers.py);
    ``ClientToken``, ``RequestHash`` and ``DeletedAt`` by the domain store."""

    VERSION = 2

    def encode(self, domain: Domain) -> dict[str, Any]:
        return {
            SCHEMA_VERSION: self.VERSION, "DomainId": domain.domain_id, "Name": domain.name,
            "DomainStatus": domain.status.value,
            "Description": domain.description, "KmsKeyId": domain.kms_key_id, "CreatedAt": domain.created_at,
            "UpdatedAt": domain.updated_at, "DefaultWatchlistId": domain.default_watchlist_id,
            "Tags": dict(domain.tags),
            "EncryptionUpdate": domain.encryption_update.to_api() if domain.encryption_update else None,
            "Version": domain.version,
        }

    def decode(self, document: Mapping[str, Any]) -> Domain:
        _version(document, self.VERSION, "Domains")  # version 1 stored the same attributes
        update = document.get("EncryptionUpdate")
        return Domain(
            domain_id=document["DomainId"], name=document.get("Name", ""),
            status=DomainStatus(document.get("DomainStatus", DomainStatus.ACTIVE)),
            description=document.get("Description"),
            kms_key_id=document.get("KmsKeyId"), created_at=float(document.get("CreatedAt", 0)),
            updated_at=float(document.get("UpdatedAt", 0)), default_watchlist_id=document.get("DefaultWatchlistId"),
            tags=tuple(sorted(document.get("Tags", {}).items())),
            encryption_update=EncryptionUpdate(
                update["OldKmsKeyId"], EncryptionUpdateStatus(update["UpdateStatus"]), update.get("Message"),
            ) if update else None,
            version=int(document.get("Version", 0)),
        )


# -------------------------------------------------------------------------------------------- watchlists


class WatchlistCodec:
    """Watchlists. ``FraudsterCount`` is kept by the fraudster store's transactions, ``RequestHash`` by the
    watchlist store."""

    VERSION = 2

    def encode(self, watchlist: Watchlist) -> dict[str, Any]:
        return {
            SCHEMA_VERSION: self.VERSION, "DomainId": watchlist.domain_id, "WatchlistId": watchlist.watchlist_id,
            "Name": watchlist.name, "Description": watchlist.description, "DefaultWatchlist": watchlist.default,
            "CreatedAt": watchlist.created_at, "UpdatedAt": watchlist.updated_at,
        }

    def decode(self, document: Mapping[str, Any]) -> Watchlist:
        _version(document, self.VERSION, "Watchlists")  # version 1 stored the same attributes
        return Watchlist(document["DomainId"], document["WatchlistId"], document["Name"],
                         float(document["CreatedAt"]), float(document["UpdatedAt"]), document.get("Description"),
                         bool(document.get("DefaultWatchlist")))


# -------------------------------------------------------------------------------------------- fraudsters


class FraudsterCodec:
    """Fraudsters (``WatchlistIds`` a string set, so a watchlist's members are found with ``contains``). Version 3
    seals the voiceprint (bound to the GeneratedFraudsterId); versions 1 and 2 held it in plaintext."""

    VERSION = VoiceprintFields.VERSION

    def __init__(self, cipher: VoiceprintCipher) -> None:
        self.voiceprints = VoiceprintFields(cipher, VoiceprintKind.FRAUDSTER)

    def encode(self, fraudster: Fraudster) -> dict[str, Any]:
        return {
            SCHEMA_VERSION: self.VERSION, "DomainId": fraudster.domain_id,
            "GeneratedFraudsterId": fraudster.generated_fraudster_id, "WatchlistIds": set(fraudster.watchlist_ids),
            "CreatedAt": fraudster.created_at,
            **self.voiceprints.encode(fraudster.domain_id, fraudster.generated_fraudster_id, fraudster.voiceprint),
            "ModelId": fraudster.model_id, "Version": fraudster.version, "RegisteredBy": fraudster.registered_by,
            "RegistrationScore": fraudster.registration_score,
        }

    def decode(self, document: Mapping[str, Any]) -> Fraudster:
        _version(document, self.VERSION, "Fraudsters")
        domain_id, fraudster_id = document["DomainId"], document["GeneratedFraudsterId"]
        return Fraudster(
            domain_id=domain_id, generated_fraudster_id=fraudster_id,
            watchlist_ids=frozenset(document.get("WatchlistIds", ())), created_at=float(document["CreatedAt"]),
            voiceprint=self.voiceprints.decode(document, domain_id, fraudster_id), model_id=document.get("ModelId"),
            version=int(document.get("Version", 0)), registered_by=document.get("RegisteredBy"),
            registration_score=document.get("RegistrationScore"),
        )
