"""DynamoDB adapters: jobs, speakers, domains, watchlists and fraudsters, with the conditional writes
idempotency and quotas rest on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..domain.shared.domain import Domain
from ..domain.shared.errors import (
    DomainChangedError,
    FraudsterChangedError,
    QuotaExceededError,
    SpeakerChangedError,
    SpeakerQuotaExceededError,
    WatchlistGoneError,
    WatchlistNotEmptyError,
)
from ..domain.shared.fraudster import Fraudster
from ..domain.shared.ids import GENERATED_SPEAKER_ID_PATTERN
from ..domain.shared.job import BatchJob, FailureDetails, JobStatus, percent
from ..domain.shared.paging import Page
from ..domain.shared.speaker import Speaker
from ..domain.shared.watchlist import Watchlist
from ..domain.workflow.jobtype import JobTypes
from ..domain.workflow.kinds import JOB_TYPES
from .codecs import DomainCodec, FraudsterCodec, JobCodec, SpeakerCodec, WatchlistCodec, from_item, to_item, to_value

if TYPE_CHECKING:  # the stubs are dev-only: the Lambda runtime never imports them
    from collections.abc import Callable

    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        QueryOutputTypeDef,
        ScanOutputTypeDef,
        TransactWriteItemTypeDef,
    )

    # An item, a key or ExpressionAttributeValues, as the low-level client takes and returns them.
    Attributes = dict[str, AttributeValueTypeDef]

GENERATED_SPEAKER_ID_INDEX = "GeneratedSpeakerId"  # Speakers GSI: pk DomainId, sk GeneratedSpeakerId
SPEAKER_SUMMARY = "DomainId, CustomerSpeakerId, GeneratedSpeakerId, #status, CreatedAt, UpdatedAt, LastAccessedAt"
FRAUDSTER_SUMMARY = "DomainId, GeneratedFraudsterId, WatchlistIds, CreatedAt, Version"  # no voiceprint
_domains = DomainCodec()
_speakers = SpeakerCodec()
_watchlists = WatchlistCodec()
_fraudsters = FraudsterCodec()


def _values(**values: Any) -> Attributes:
    return {f":{k}": to_value(v) for k, v in values.items()}


def _condition_failed(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


class DynamoJobStore:
    def __init__(self, client: DynamoDBClient, table: str, job_types: JobTypes = JOB_TYPES) -> None:
        self._db = client
        self._table = table
        self._codec = JobCodec(job_types)

    def _key(self, domain_id: str, sort_key: str) -> Attributes:
        return {"DomainId": {"S": domain_id}, "JobId": {"S": sort_key}}

    def get(self, domain_id: str, job_id: str) -> BatchJob | None:
        item = self._db.get_item(TableName=self._table, Key=self._key(domain_id, job_id), ConsistentRead=True)
        return self._codec.decode(from_item(item["Item"])) if "Item" in item else None

    def list(self, domain_id: str) -> list[BatchJob]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table, KeyConditionExpression="DomainId = :d",
            ExpressionAttributeValues=_values(d=domain_id),
        )
        items = [from_item(i) for page in pages for i in page["Items"] if "#" not in i["JobId"]["S"]]
        return [self._codec.decode(i) for i in items]

    def create(self, job: BatchJob, client_token: str, request_hash: str) -> bool:
        document = self._codec.encode(job) | {"ClientToken": client_token, "RequestHash": request_hash,
                                              "ProcessedRequests": 0}
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

    def record_shard(self, domain_id: str, job_id: str, shard_index: int, requests: int, start: int = 0) -> int:
        segment = f"{shard_index:05d}" if start == 0 else f"{shard_index:05d}@{start:05d}"
        marker = {"DomainId": domain_id, "JobId": f"{job_id}#shard#{segment}", "Requests": requests}
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
                ConditionExpression="JobStatus IN (:submitted, :running)",  # the first ending recorded wins
                ExpressionAttributeValues=_values(
                    failed=JobStatus.FAILED.value, e=ended_at, d=details.to_api(),
                    submitted=JobStatus.SUBMITTED.value, running=JobStatus.IN_PROGRESS.value,
                ),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise


class DynamoDomainStore:
    """Domains (pk DomainId) and, with `watchlists_table`, the default watchlist made with each domain.

    A deleted domain leaves a tombstone (``DeletedAt``, the ClientToken and request hash, no name, tags or
    description), so its DomainId, which is derived from the ClientToken, is never handed out again.
    """

    def __init__(self, client: DynamoDBClient, table: str, watchlists_table: str) -> None:
        self._db = client
        self._table = table
        self._watchlists = watchlists_table

    def _key(self, domain_id: str) -> Attributes:
        return {"DomainId": {"S": domain_id}}

    def _item(self, domain_id: str) -> dict[str, Any] | None:
        item = self._db.get_item(TableName=self._table, Key=self._key(domain_id), ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def get(self, domain_id: str) -> Domain | None:
        data = self._item(domain_id)
        return _domains.decode(data) if data is not None and "DeletedAt" not in data else None

    def put(self, domain: Domain) -> None:
        """Write the domain as is (set-up and tests); the API goes through create / update / delete."""
        self._db.put_item(TableName=self._table, Item=to_item(_domains.encode(domain)))

    def create(self, domain: Domain, watchlist: Watchlist, client_token: str, request_hash: str) -> bool:
        document = _domains.encode(domain) | {"ClientToken": client_token, "RequestHash": request_hash}
        try:
            self._db.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": to_item(document),
                         "ConditionExpression": "attribute_not_exists(DomainId)"}},
                {"Put": {"TableName": self._watchlists, "Item": to_item(_watchlists.encode(watchlist)),
                         "ConditionExpression": "attribute_not_exists(WatchlistId)"}},
            ])
        except ClientError as error:
            if _cancelled_by_condition(error, 0):
                return False
            raise
        return True

    def request_hash(self, domain_id: str) -> str | None:
        data = self._item(domain_id)
        return str(data["RequestHash"]) if data and "RequestHash" in data else None

    def update(self, domain: Domain, expected: Domain) -> None:
        changes = {key: value for key, value in _domains.encode(domain).items()
                   if key not in ("DomainId", "SpeakerCount", "CreatedAt")}
        expression, names, values = _set_or_remove(changes | {"Version": expected.version + 1})
        condition = "attribute_not_exists(DeletedAt) AND " + (
            "(attribute_not_exists(Version) OR Version = :expected)" if expected.version == 0
            else "Version = :expected")
        try:
            self._db.update_item(
                TableName=self._table, Key=self._key(domain.domain_id), UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(DomainId) AND {condition}", ExpressionAttributeNames=names,
                ExpressionAttributeValues=values | _values(expected=expected.version),
            )
        except ClientError as error:
            if _condition_failed(error):
                raise DomainChangedError(domain.domain_id) from None
            raise

    def delete(self, domain_id: str, now: float) -> bool:
        tombstone = {"DeletedAt": now, "Name": None, "Description": None, "Tags": None}
        expression, names, values = _set_or_remove(tombstone)
        items: list[TransactWriteItemTypeDef] = [{"Update": {
            "TableName": self._table, "Key": self._key(domain_id), "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(DomainId) AND attribute_not_exists(DeletedAt)",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}]
        items += [{"Delete": {"TableName": self._watchlists, "Key": key}}
                  for key in self._watchlist_keys(domain_id)]
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _cancelled_by_condition(error, 0):
                return False
            raise
        return True

    def page(self, limit: int, after: str | None) -> Page[Domain]:
        items, last = _collect(
            self._db.scan, limit, {"DomainId": {"S": after}} if after else None, TableName=self._table,
            ConsistentRead=True, FilterExpression="attribute_not_exists(DeletedAt)",
        )
        return Page([_domains.decode(from_item(i)) for i in items], last["DomainId"]["S"] if last else None)

    def _watchlist_keys(self, domain_id: str) -> list[Attributes]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self._watchlists, KeyConditionExpression="DomainId = :d",
            ProjectionExpression="DomainId, WatchlistId", ExpressionAttributeValues=_values(d=domain_id),
        )
        return [item for page in pages for item in page["Items"]]


class DynamoWatchlistStore:
    """Watchlists (pk DomainId, sk WatchlistId). Each keeps a ``FraudsterCount`` (DynamoFraudsterStore keeps it);
    the domain item counts its watchlists other than the default one in ``WatchlistCount``."""

    def __init__(self, client: DynamoDBClient, table: str, domains_table: str) -> None:
        self._db = client
        self._table = table
        self._domains = domains_table

    def _key(self, domain_id: str, watchlist_id: str) -> Attributes:
        return {"DomainId": {"S": domain_id}, "WatchlistId": {"S": watchlist_id}}

    def _item(self, domain_id: str, watchlist_id: str) -> dict[str, Any] | None:
        item = self._db.get_item(TableName=self._table, ConsistentRead=True,
                                 Key=self._key(domain_id, watchlist_id)).get("Item")
        return from_item(item) if item else None

    def get(self, domain_id: str, watchlist_id: str) -> Watchlist | None:
        data = self._item(domain_id, watchlist_id)
        return _watchlists.decode(data) if data is not None else None

    def request_hash(self, domain_id: str, watchlist_id: str) -> str | None:
        data = self._item(domain_id, watchlist_id)
        return str(data["RequestHash"]) if data and "RequestHash" in data else None

    def create(self, watchlist: Watchlist, request_hash: str, quota: int) -> bool:
        document = _watchlists.encode(watchlist) | {"RequestHash": request_hash, "FraudsterCount": 0}
        most = quota - 1  # the default watchlist is not counted
        # A domain without WatchlistCount has counted none: room unless the default one fills the quota.
        room = "WatchlistCount < :most" + (" OR attribute_not_exists(WatchlistCount)" if most > 0 else "")
        try:
            self._db.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": to_item(document),
                         "ConditionExpression": "attribute_not_exists(WatchlistId)"}},
                {"Update": {"TableName": self._domains, "Key": {"DomainId": {"S": watchlist.domain_id}},
                            "UpdateExpression": "ADD WatchlistCount :one",
                            "ConditionExpression": room, "ExpressionAttributeValues": _values(one=1, most=most)}},
            ])
        except ClientError as error:
            if _cancelled_by_condition(error, 0):
                return False
            if _cancelled_by_condition(error, 1):
                raise QuotaExceededError(watchlist.domain_id) from None
            raise
        return True

    def update(self, watchlist: Watchlist) -> None:
        expression, names, values = _set_or_remove({
            "Name": watchlist.name, "Description": watchlist.description, "UpdatedAt": watchlist.updated_at})
        try:
            self._db.update_item(
                TableName=self._table, Key=self._key(watchlist.domain_id, watchlist.watchlist_id),
                UpdateExpression=expression, ConditionExpression="attribute_exists(WatchlistId)",
                ExpressionAttributeNames=names, ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _condition_failed(error):
                raise WatchlistGoneError(watchlist.watchlist_id) from None
            raise

    def delete(self, watchlist: Watchlist) -> None:
        try:
            self._db.transact_write_items(TransactItems=[
                {"Delete": {"TableName": self._table, "Key": self._key(watchlist.domain_id, watchlist.watchlist_id),
                            "ConditionExpression": "attribute_exists(WatchlistId) AND "
                                                   "(attribute_not_exists(FraudsterCount) OR FraudsterCount = :zero)",
                            "ExpressionAttributeValues": _values(zero=0)}},
                {"Update": {"TableName": self._domains, "Key": {"DomainId": {"S": watchlist.domain_id}},
                            "UpdateExpression": "ADD WatchlistCount :minus_one",
                            "ExpressionAttributeValues": _values(minus_one=-1)}},
            ])
        except ClientError as error:
            if not _cancelled_by_condition(error, 0):
                raise
            if self._item(watchlist.domain_id, watchlist.watchlist_id) is None:
                raise WatchlistGoneError(watchlist.watchlist_id) from None
            raise WatchlistNotEmptyError(watchlist.watchlist_id) from None

    def page(self, domain_id: str, limit: int, after: str | None) -> Page[Watchlist]:
        items, last = _collect(
            self._db.query, limit, self._key(domain_id, after) if after else None, TableName=self._table,
            KeyConditionExpression="DomainId = :d", ExpressionAttributeValues=_values(d=domain_id),
        )
        return Page([_watchlists.decode(from_item(i)) for i in items], last["WatchlistId"]["S"] if last else None)










def _set_or_remove(attributes: dict[str, Any]) -> tuple[str, dict[str, str], Attributes]:
    """An UpdateExpression setting every attribute with a value and removing every one that is None."""
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    values = {f":a{i}": value for i, value in enumerate(attributes.values()) if value is not None}
    sets = [f"#a{i} = :a{i}" for i, value in enumerate(attributes.values()) if value is not None]
    removes = [f"#a{i}" for i, value in enumerate(attributes.values()) if value is None]
    expression = " ".join(part for part in (
        "SET " + ", ".join(sets) if sets else "", "REMOVE " + ", ".join(removes) if removes else "") if part)
    return expression, names, {key: to_value(v) for key, v in values.items()}


def _cancelled_by_condition(error: ClientError, index: int) -> bool:
    """A cancelled transaction whose item `index` failed its condition."""
    reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
    return len(reasons) > index and reasons[index] == "ConditionalCheckFailed"


def _collect(
    call: Callable[..., QueryOutputTypeDef | ScanOutputTypeDef], limit: int, start: Attributes | None, **request: Any
) -> tuple[list[Attributes], Attributes | None]:
    """Up to `limit` items of a Query or Scan from `start` on, and the key to go on from (None at the end)."""
    items: list[Attributes] = []
    while True:
        page = call(**request, Limit=limit - len(items), **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if start is None or len(items) >= limit:
            return items, start










class DynamoSpeakerStore:
    def __init__(self, client: DynamoDBClient, speakers_table: str, domains_table: str) -> None:
        self._db = client
        self._table = speakers_table
        self._domains = domains_table

    def _key(self, domain_id: str, customer_speaker_id: str) -> Attributes:
        return {"DomainId": {"S": domain_id}, "CustomerSpeakerId": {"S": customer_speaker_id}}

    def get(self, domain_id: str, customer_speaker_id: str) -> Speaker | None:
        item = self._db.get_item(
            TableName=self._table, ConsistentRead=True, Key=self._key(domain_id, customer_speaker_id),
        ).get("Item")
        return _speakers.decode(from_item(item)) if item else None

    def find(self, domain_id: str, speaker_id: str) -> Speaker | None:
        if not GENERATED_SPEAKER_ID_PATTERN.match(speaker_id):
            return self.get(domain_id, speaker_id)
        found = self._db.query(
            TableName=self._table, IndexName=GENERATED_SPEAKER_ID_INDEX, ProjectionExpression="CustomerSpeakerId",
            KeyConditionExpression="DomainId = :d AND GeneratedSpeakerId = :g",
            ExpressionAttributeValues=_values(d=domain_id, g=speaker_id),
        )["Items"]
        # The index is eventually consistent: read the speaker itself for its current state.
        return self.get(domain_id, found[0]["CustomerSpeakerId"]["S"]) if found else None

    def delete(self, speaker: Speaker) -> None:
        try:
            self._db.transact_write_items(TransactItems=[
                {"Delete": {"TableName": self._table, "Key": self._key(speaker.domain_id, speaker.customer_speaker_id),
                            "ConditionExpression": "Version = :v", "ExpressionAttributeValues": _values(
                                v=speaker.version)}},
                {"Update": {"TableName": self._domains, "Key": {"DomainId": {"S": speaker.domain_id}},
                            "UpdateExpression": "ADD SpeakerCount :minus_one",
                            "ExpressionAttributeValues": _values(minus_one=-1)}},
            ])
        except ClientError as error:
            if _cancelled_by_condition(error, 0):
                raise SpeakerChangedError(speaker.customer_speaker_id) from None
            raise

    def page(self, domain_id: str, limit: int, after: str | None) -> Page[Speaker]:
        items, last = _collect(
            self._db.query, limit, self._key(domain_id, after) if after else None, TableName=self._table,
            KeyConditionExpression="DomainId = :d", ExpressionAttributeValues=_values(d=domain_id),
            ProjectionExpression=SPEAKER_SUMMARY, ExpressionAttributeNames={"#status": "Status"},
        )
        return Page([_speakers.decode(from_item(i)) for i in items], last["CustomerSpeakerId"]["S"] if last else None)

    def create(self, speaker: Speaker, quota: int) -> None:
        try:
            self._db.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": to_item(_speakers.encode(speaker)),
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
        self._db.put_item(TableName=self._table, Item=to_item(_speakers.encode(speaker)))

    def replace(self, speaker: Speaker, expected: Speaker) -> None:
        try:
            self._db.put_item(
                TableName=self._table, Item=to_item(_speakers.encode(speaker)),
                ConditionExpression="Version = :v", ExpressionAttributeValues=_values(v=expected.version),
            )
        except ClientError as error:
            if _condition_failed(error):
                raise SpeakerChangedError(speaker.customer_speaker_id) from None
            raise






class DynamoFraudsterStore:
    """Fraudsters (pk DomainId, sk GeneratedFraudsterId; WatchlistIds a string set). Every write changes the
    fraudster and the ``FraudsterCount`` of each watchlist it joins or leaves in one transaction, so a watchlist's
    quota and "only an empty watchlist is deleted" hold under concurrent writers."""

    def __init__(self, client: DynamoDBClient, table: str, watchlists_table: str) -> None:
        self._db = client
        self._table = table
        self._watchlists = watchlists_table

    def _key(self, domain_id: str, fraudster_id: str) -> Attributes:
        return {"DomainId": {"S": domain_id}, "GeneratedFraudsterId": {"S": fraudster_id}}

    def get(self, domain_id: str, fraudster_id: str) -> Fraudster | None:
        item = self._db.get_item(TableName=self._table, ConsistentRead=True,
                                 Key=self._key(domain_id, fraudster_id)).get("Item")
        return _fraudsters.decode(from_item(item)) if item else None

    def in_watchlist(self, domain_id: str, watchlist_id: str) -> list[Fraudster]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table, KeyConditionExpression="DomainId = :d",
            FilterExpression="contains(WatchlistIds, :w)", ExpressionAttributeValues=_values(d=domain_id,
                                                                                          w=watchlist_id),
        )
        return [_fraudsters.decode(from_item(item)) for page in pages for item in page["Items"]]

    def page(self, domain_id: str, limit: int, after: str | None, watchlist_id: str | None = None
             ) -> Page[Fraudster]:
        request: dict[str, Any] = {"ExpressionAttributeValues": _values(d=domain_id)}
        if watchlist_id is not None:
            request = {"FilterExpression": "contains(WatchlistIds, :w)",
                       "ExpressionAttributeValues": _values(d=domain_id, w=watchlist_id)}
        items, last = _collect(
            self._db.query, limit, self._key(domain_id, after) if after else None, TableName=self._table,
            KeyConditionExpression="DomainId = :d", ProjectionExpression=FRAUDSTER_SUMMARY, **request,
        )
        position = last["GeneratedFraudsterId"]["S"] if last else None
        return Page([_fraudsters.decode(from_item(i)) for i in items], position)

    def create(self, fraudster: Fraudster, quota: int) -> None:
        put: TransactWriteItemTypeDef = {"Put": {
            "TableName": self._table, "Item": to_item(_fraudsters.encode(fraudster)),
            "ConditionExpression": "attribute_not_exists(GeneratedFraudsterId)"}}
        self._transact(fraudster, put, fraudster.watchlist_ids, frozenset(), quota)

    def replace(self, fraudster: Fraudster, expected: Fraudster, quota: int) -> None:
        put: TransactWriteItemTypeDef = {"Put": {
            "TableName": self._table, "Item": to_item(_fraudsters.encode(fraudster)),
            "ConditionExpression": "Version = :v", "ExpressionAttributeValues": _values(v=expected.version)}}
        self._transact(fraudster, put, fraudster.watchlist_ids - expected.watchlist_ids,
                       expected.watchlist_ids - fraudster.watchlist_ids, quota)

    def delete(self, fraudster: Fraudster) -> None:
        delete: TransactWriteItemTypeDef = {"Delete": {"TableName": self._table,
                             "Key": self._key(fraudster.domain_id, fraudster.generated_fraudster_id),
                             "ConditionExpression": "Version = :v",
                             "ExpressionAttributeValues": _values(v=fraudster.version)}}
        self._transact(fraudster, delete, frozenset(), fraudster.watchlist_ids, 0)

    def _transact(self, fraudster: Fraudster, write: TransactWriteItemTypeDef, joined: frozenset[str],
                  left: frozenset[str], quota: int) -> None:
        joins = sorted(joined)
        items = [write, *(self._count(fraudster.domain_id, w, +1, quota) for w in joins),
                 *(self._count(fraudster.domain_id, w, -1, quota) for w in sorted(left))]
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _cancelled_by_condition(error, 0):
                raise FraudsterChangedError(fraudster.generated_fraudster_id) from None
            failed = [w for i, w in enumerate(joins, start=1) if _cancelled_by_condition(error, i)]
            if not failed:
                raise
            if self._exists(fraudster.domain_id, failed[0]):
                raise QuotaExceededError(failed[0]) from None
            raise WatchlistGoneError(failed[0]) from None

    def _count(self, domain_id: str, watchlist_id: str, change: int, quota: int) -> TransactWriteItemTypeDef:
        """Update of a watchlist's FraudsterCount by `change`; joining it requires room under `quota`."""
        condition = "attribute_exists(WatchlistId)"
        values = {"change": change}
        if change > 0:
            condition += " AND (attribute_not_exists(FraudsterCount) OR FraudsterCount < :quota)"
            values["quota"] = quota
        return {"Update": {"TableName": self._watchlists,
                           "Key": {"DomainId": {"S": domain_id}, "WatchlistId": {"S": watchlist_id}},
                           "UpdateExpression": "ADD FraudsterCount :change", "ConditionExpression": condition,
                           "ExpressionAttributeValues": _values(**values)}}

    def _exists(self, domain_id: str, watchlist_id: str) -> bool:
        return "Item" in self._db.get_item(
            TableName=self._watchlists, Key={"DomainId": {"S": domain_id}, "WatchlistId": {"S": watchlist_id}},
            ConsistentRead=True, ProjectionExpression="WatchlistId")
