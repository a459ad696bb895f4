"""Fraudsters (pk DomainId, sk GeneratedFraudsterId). A watchlist's FraudsterCount is one item, written with each
fraudster that joins or leaves it in one transaction: its writers are registration jobs (at most 500 requests, so
at most a few shards at once) and administrative calls, and a conflict between them is retried with jitter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ...domain.shared.errors import FraudsterChangedError, QuotaExceededError, WatchlistGoneError
from ...domain.shared.fraudster import Fraudster
from ...domain.shared.paging import Page
from ...domain.shared.sealed import StoredVoiceprint
from ..codecs import FraudsterCodec, from_item, to_item
from .base import CONFLICTS, ConflictRetries, cancelled_by_condition, collect, values

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from ...domain.ports import VoiceprintCipher
    from .base import Attributes

FRAUDSTER_SUMMARY = "DomainId, GeneratedFraudsterId, WatchlistIds, CreatedAt, Version"  # no voiceprint


class DynamoFraudsterStore:
    """Fraudsters (pk DomainId, sk GeneratedFraudsterId; WatchlistIds a string set). Every write changes the
    fraudster and the ``FraudsterCount`` of each watchlist it joins or leaves in one transaction, so a watchlist's
    quota and "only an empty watchlist is deleted" hold under concurrent writers. Voiceprints are sealed under the
    domain's key by `cipher` (codecs.VoiceprintFields): never stored in plaintext."""

    def __init__(self, client: DynamoDBClient, table: str, watchlists_table: str, cipher: VoiceprintCipher,
                 conflicts: ConflictRetries = CONFLICTS) -> None:
        self._fraudsters = FraudsterCodec(cipher)
        self._db = client
        self._table = table
        self._watchlists = watchlists_table
        self._conflicts = conflicts

    def _key(self, domain_id: str, fraudster_id: str) -> Attributes:
        return {"DomainId": {"S": domain_id}, "GeneratedFraudsterId": {"S": fraudster_id}}

    def get(self, domain_id: str, fraudster_id: str) -> Fraudster | None:
        item = self._db.get_item(TableName=self._table, ConsistentRead=True,
                                 Key=self._key(domain_id, fraudster_id)).get("Item")
        return self._fraudsters.decode(from_item(item)) if item else None

    def in_watchlist(self, domain_id: str, watchlist_id: str) -> list[Fraudster]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table, KeyConditionExpression="DomainId = :d", ConsistentRead=True,
            FilterExpression="contains(WatchlistIds, :w)", ExpressionAttributeValues=values(d=domain_id,
                                                                                          w=watchlist_id),
        )
        return [self._fraudsters.decode(from_item(item)) for page in pages for item in page["Items"]]

    def page(self, domain_id: str, limit: int, after: str | None, watchlist_id: str | None = None
             ) -> Page[Fraudster]:
        request: dict[str, Any] = {"ExpressionAttributeValues": values(d=domain_id)}
        if watchlist_id is not None:
            request = {"FilterExpression": "contains(WatchlistIds, :w)",
                       "ExpressionAttributeValues": values(d=domain_id, w=watchlist_id)}
        items, last = collect(
            self._db.query, limit, self._key(domain_id, after) if after else None, TableName=self._table,
            KeyConditionExpression="DomainId = :d", ProjectionExpression=FRAUDSTER_SUMMARY, **request,
        )
        position = last["GeneratedFraudsterId"]["S"] if last else None
        return Page([self._fraudsters.decode(from_item(i)) for i in items], position)

    def create(self, fraudster: Fraudster, quota: int) -> None:
        put: TransactWriteItemTypeDef = {"Put": {
            "TableName": self._table, "Item": to_item(self._fraudsters.encode(fraudster)),
            "ConditionExpression": "attribute_not_exists(GeneratedFraudsterId)"}}
        self._transact(fraudster, put, fraudster.watchlist_ids, frozenset(), quota)

    def replace(self, fraudster: Fraudster, expected: Fraudster, quota: int) -> None:
        put: TransactWriteItemTypeDef = {"Put": {
            "TableName": self._table, "Item": to_item(self._fraudsters.encode(fraudster)),
            "ConditionExpression": "Version = :v", "ExpressionAttributeValues": values(v=expected.version)}}
        self._transact(fraudster, put, fraudster.watchlist_ids - expected.watchlist_ids,
                       expected.watchlist_ids - fraudster.watchlist_ids, quota)

    def delete(self, fraudster: Fraudster) -> None:
        delete: TransactWriteItemTypeDef = {"Delete": {"TableName": self._table,
                             "Key": self._key(fraudster.domain_id, fraudster.generated_fraudster_id),
                             "ConditionExpression": "Version = :v",
                             "ExpressionAttributeValues": values(v=fraudster.version)}}
        self._transact(fraudster, delete, frozenset(), fraudster.watchlist_ids, 0)

    def voiceprint_keys(self, domain_id: str, limit: int, after: str | None) -> Page[StoredVoiceprint]:
        items, last = collect(
            self._db.query, limit, self._key(domain_id, after) if after else None, TableName=self._table,
            KeyConditionExpression="DomainId = :d",
            FilterExpression="attribute_exists(SealedVoiceprint) OR attribute_exists(Voiceprint)",
            ProjectionExpression="GeneratedFraudsterId, VoiceprintKeyArn, Version",
            ExpressionAttributeValues=values(d=domain_id),
        )
        stored = [StoredVoiceprint(domain_id, i["GeneratedFraudsterId"]["S"],
                                   i.get("VoiceprintKeyArn", {}).get("S"), int(i.get("Version", {}).get("N", "0")))
                  for i in items]
        return Page(stored, last["GeneratedFraudsterId"]["S"] if last else None)

    def reseal(self, stored: StoredVoiceprint) -> bool:
        fraudster = self.get(stored.domain_id, stored.record_key)
        if fraudster is None or fraudster.version != stored.version:
            return False
        try:
            self.replace(fraudster, fraudster, 0)  # the same watchlists: no count changes; the version stays
        except FraudsterChangedError:
            return False
        return True

    def _transact(self, fraudster: Fraudster, write: TransactWriteItemTypeDef, joined: frozenset[str],
                  left: frozenset[str], quota: int) -> None:
        joins = sorted(joined)
        items = [write, *(self._count(fraudster.domain_id, w, +1, quota) for w in joins),
                 *(self._count(fraudster.domain_id, w, -1, quota) for w in sorted(left))]
        try:
            self._conflicts.run(lambda: self._db.transact_write_items(TransactItems=items))
        except ClientError as error:
            if cancelled_by_condition(error, 0):
                raise FraudsterChangedError(fraudster.generated_fraudster_id) from None
            failed = [w for i, w in enumerate(joins, start=1) if cancelled_by_condition(error, i)]
            if not failed:
                raise
            if self._exists(fraudster.domain_id, failed[0]):
                raise QuotaExceededError(failed[0]) from None
            raise WatchlistGoneError(failed[0]) from None

    def _count(self, domain_id: str, watchlist_id: str, change: int, quota: int) -> TransactWriteItemTypeDef:
        """Update of a watchlist's FraudsterCount by `change`; joining it requires room under `quota`."""
        condition = "attribute_exists(WatchlistId)"
        named = {"change": change}
        if change > 0:
            condition += " AND (attribute_not_exists(FraudsterCount) OR FraudsterCount < :quota)"
            named["quota"] = quota
        return {"Update": {"TableName": self._watchlists,
                           "Key": {"DomainId": {"S": domain_id}, "WatchlistId": {"S": watchlist_id}},
                           "UpdateExpression": "ADD FraudsterCount :change", "ConditionExpression": condition,
                           "ExpressionAttributeValues": values(**named)}}

    def _exists(self, domain_id: str, watchlist_id: str) -> bool:
        return "Item" in self._db.get_item(
            TableName=self._watchlists, Key={"DomainId": {"S": domain_id}, "WatchlistId": {"S": watchlist_id}},
            ConsistentRead=True, ProjectionExpression="WatchlistId")
