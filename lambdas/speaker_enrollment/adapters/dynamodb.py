"""DynamoDB adapters: jobs, speakers and domains, with the conditional writes idempotency rests on."""

from __future__ import annotations

import struct
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..domain.domain import Domain, DomainStatus
from ..domain.job import FailureDetails, JobStatus, SpeakerEnrollmentJob, percent
from ..domain.ports import SpeakerChangedError, SpeakerQuotaExceededError
from ..domain.speaker import EnrollmentStatus, Speaker, SpeakerStatus

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
FINAL_STATUSES = [s.value for s in JobStatus if s.is_final]


def _to_dynamo(value: Any) -> Any:
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


def to_item(document: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in _to_dynamo(document).items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo(_deserializer.deserialize(v)) for k, v in item.items()}


def _values(**values: Any) -> dict[str, Any]:
    return {f":{k}": _serializer.serialize(_to_dynamo(v)) for k, v in values.items()}


def _condition_failed(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


class DynamoJobStore:
    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    def _key(self, domain_id: str, sort_key: str) -> dict[str, Any]:
        return {"DomainId": {"S": domain_id}, "JobId": {"S": sort_key}}

    def get(self, domain_id: str, job_id: str) -> SpeakerEnrollmentJob | None:
        item = self._db.get_item(TableName=self._table, Key=self._key(domain_id, job_id), ConsistentRead=True)
        return SpeakerEnrollmentJob.from_api(from_item(item["Item"])) if "Item" in item else None

    def list(self, domain_id: str) -> list[SpeakerEnrollmentJob]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table, KeyConditionExpression="DomainId = :d",
            ExpressionAttributeValues=_values(d=domain_id),
        )
        items = [from_item(i) for page in pages for i in page["Items"] if "#" not in i["JobId"]["S"]]
        return [SpeakerEnrollmentJob.from_api(i) for i in items]

    def create(self, job: SpeakerEnrollmentJob, client_token: str, request_hash: str) -> bool:
        document = job.to_api() | {"ClientToken": client_token, "RequestHash": request_hash, "ProcessedRequests": 0}
        try:
            self._db.put_item(
                TableName=self._table, Item=to_item(document), ConditionExpression="attribute_not_exists(JobId)"
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def request_hash(self, domain_id: str, job_id: str) -> str | None:
        item = self._db.get_item(
            TableName=self._table, Key=self._key(domain_id, job_id), ProjectionExpression="RequestHash",
            ConsistentRead=True,
        ).get("Item")
        return item["RequestHash"]["S"] if item and "RequestHash" in item else None

    def start(self, domain_id: str, job_id: str, total_requests: int) -> None:
        try:
            self._db.update_item(
                TableName=self._table, Key=self._key(domain_id, job_id),
                UpdateExpression="SET JobStatus = :running, TotalRequests = :total",
                ConditionExpression="JobStatus = :submitted",
                ExpressionAttributeValues=_values(
                    running=JobStatus.IN_PROGRESS.value, submitted=JobStatus.SUBMITTED.value, total=total_requests
                ),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise

    def record_shard(self, domain_id: str, job_id: str, shard_index: int, requests: int) -> int:
        marker = {"DomainId": domain_id, "JobId": f"{job_id}#shard#{shard_index:05d}", "Requests": requests}
        try:
            self._db.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": to_item(marker),
                         "ConditionExpression": "attribute_not_exists(JobId)"}},
                {"Update": {"TableName": self._table, "Key": self._key(domain_id, job_id),
                            "UpdateExpression": "ADD ProcessedRequests :n",
                            "ExpressionAttributeValues": _values(n=requests)}},
            ])
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
        return self._raise_progress(domain_id, job_id)

    def _raise_progress(self, domain_id: str, job_id: str) -> int:
        item = from_item(self._db.get_item(
            TableName=self._table, Key=self._key(domain_id, job_id), ConsistentRead=True)["Item"])
        # 100 % is reserved for the finished job: the output file is not written yet.
        done = min(99, percent(int(item.get("ProcessedRequests", 0)), int(item.get("TotalRequests", 0))))
        try:
            self._db.update_item(
                TableName=self._table, Key=self._key(domain_id, job_id),
                UpdateExpression="SET JobProgress.PercentComplete = :p",
                ConditionExpression="JobProgress.PercentComplete < :p AND JobStatus = :running",
                ExpressionAttributeValues=_values(p=done, running=JobStatus.IN_PROGRESS.value),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
        return done

    def finish(self, domain_id: str, job_id: str, status: JobStatus, ended_at: float) -> None:
        self._db.update_item(
            TableName=self._table, Key=self._key(domain_id, job_id),
            UpdateExpression="SET JobStatus = :s, EndedAt = :e, JobProgress.PercentComplete = :p",
            ConditionExpression="JobStatus = :running OR JobStatus = :s",
            ExpressionAttributeValues=_values(s=status.value, e=ended_at, p=100, running=JobStatus.IN_PROGRESS.value),
        )

    def fail(self, domain_id: str, job_id: str, details: FailureDetails, ended_at: float) -> None:
        try:
            self._db.update_item(
                TableName=self._table, Key=self._key(domain_id, job_id),
                UpdateExpression="SET JobStatus = :failed, EndedAt = :e, FailureDetails = :d",
                ConditionExpression="attribute_exists(JobId) AND NOT JobStatus IN (:c, :cwe)",
                ExpressionAttributeValues=_values(
                    failed=JobStatus.FAILED.value, e=ended_at, d=details.to_api(),
                    c=JobStatus.COMPLETED.value, cwe=JobStatus.COMPLETED_WITH_ERRORS.value,
                ),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise


class DynamoDomainStore:
    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    def get(self, domain_id: str) -> Domain | None:
        item = self._db.get_item(TableName=self._table, Key={"DomainId": {"S": domain_id}}).get("Item")
        if item is None:
            return None
        data = from_item(item)
        return Domain(domain_id, data.get("Name", ""), DomainStatus(data.get("DomainStatus", "ACTIVE")),
                      int(data.get("SpeakerCount", 0)))

    def put(self, domain: Domain) -> None:
        self._db.put_item(TableName=self._table, Item=to_item({
            "DomainId": domain.domain_id, "Name": domain.name, "DomainStatus": domain.status.value,
            "SpeakerCount": domain.speaker_count,
        }))


def _pack(vector: tuple[float, ...]) -> bytes | None:
    """Voiceprints are stored as little-endian float32: exact and a quarter of a number list's size."""
    return struct.pack(f"<{len(vector)}f", *vector) if vector else None


def _unpack(blob: Any) -> tuple[float, ...]:
    data = bytes(blob.value if hasattr(blob, "value") else blob or b"")
    return struct.unpack(f"<{len(data) // 4}f", data)


def _speaker_document(speaker: Speaker) -> dict[str, Any]:
    return speaker.to_api() | {
        "Voiceprint": _pack(speaker.voiceprint), "ModelId": speaker.model_id,
        "NetSpeechSeconds": speaker.net_speech_seconds, "EnrolledBy": speaker.enrolled_by,
        "EnrollmentStatus": speaker.enrollment_status.value if speaker.enrollment_status else None,
        "Version": speaker.version,
    }


def _speaker(data: dict[str, Any]) -> Speaker:
    return Speaker(
        domain_id=data["DomainId"], customer_speaker_id=data["CustomerSpeakerId"],
        generated_speaker_id=data["GeneratedSpeakerId"], status=SpeakerStatus(data["Status"]),
        created_at=float(data["CreatedAt"]), updated_at=float(data["UpdatedAt"]),
        last_accessed_at=float(data["LastAccessedAt"]) if data.get("LastAccessedAt") is not None else None,
        voiceprint=_unpack(data.get("Voiceprint")), model_id=data.get("ModelId"),
        net_speech_seconds=data.get("NetSpeechSeconds"), enrolled_by=data.get("EnrolledBy"),
        enrollment_status=EnrollmentStatus(data["EnrollmentStatus"]) if data.get("EnrollmentStatus") else None,
        version=int(data.get("Version", 0)),
    )


class DynamoSpeakerStore:
    def __init__(self, client: Any, speakers_table: str, domains_table: str) -> None:
        self._db = client
        self._table = speakers_table
        self._domains = domains_table

    def get(self, domain_id: str, customer_speaker_id: str) -> Speaker | None:
        item = self._db.get_item(
            TableName=self._table, ConsistentRead=True,
            Key={"DomainId": {"S": domain_id}, "CustomerSpeakerId": {"S": customer_speaker_id}},
        ).get("Item")
        return _speaker(from_item(item)) if item else None

    def create(self, speaker: Speaker, quota: int) -> None:
        try:
            self._db.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": to_item(_speaker_document(speaker)),
                         "ConditionExpression": "attribute_not_exists(CustomerSpeakerId)"}},
                {"Update": {"TableName": self._domains, "Key": {"DomainId": {"S": speaker.domain_id}},
                            "UpdateExpression": "ADD SpeakerCount :one",
                            "ConditionExpression": "attribute_not_exists(SpeakerCount) OR SpeakerCount < :quota",
                            "ExpressionAttributeValues": _values(one=1, quota=quota)}},
            ])
        except ClientError as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                raise SpeakerChangedError(speaker.customer_speaker_id) from None
            if reasons[1:2] == ["ConditionalCheckFailed"]:
                raise SpeakerQuotaExceededError(speaker.domain_id) from None
            raise

    def put(self, speaker: Speaker) -> None:
        """Write a speaker record as is (opt-out, administration); enrollment uses create/replace."""
        self._db.put_item(TableName=self._table, Item=to_item(_speaker_document(speaker)))

    def replace(self, speaker: Speaker, expected: Speaker) -> None:
        try:
            self._db.put_item(
                TableName=self._table, Item=to_item(_speaker_document(speaker)),
                ConditionExpression="Version = :v", ExpressionAttributeValues=_values(v=expected.version),
            )
        except ClientError as error:
            if _condition_failed(error):
                raise SpeakerChangedError(speaker.customer_speaker_id) from None
            raise
