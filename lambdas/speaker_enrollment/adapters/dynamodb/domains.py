"""Domains (pk DomainId), each created with its default watchlist."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ...domain.shared.domain import DeletedDomain, Domain
from ...domain.shared.errors import DomainChangedError
from ...domain.shared.paging import Page
from ...domain.shared.watchlist import Watchlist
from ..codecs import DomainCodec, WatchlistCodec, from_item, to_item
from .base import CONFLICTS, ConflictRetries, cancelled_by_condition, collect, condition_failed, set_or_remove, values

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from .base import Attributes

_domains = DomainCodec()
_watchlists = WatchlistCodec()


class DynamoDomainStore:
    """Domains (pk DomainId) and, with `watchlists_table`, the default watchlist made with each domain.

    A deleted domain leaves a tombstone (``DeletedAt``, the ClientToken and request hash, no name, tags or
    description), so its DomainId, which is derived from the ClientToken, is never handed out again.
    """

    def __init__(self, client: DynamoDBClient, table: str, watchlists_table: str,
                 conflicts: ConflictRetries = CONFLICTS) -> None:
        self._db = client
        self._table = table
        self._watchlists = watchlists_table
        self._conflicts = conflicts

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
            self._conflicts.run(lambda: self._db.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": to_item(document),
                         "ConditionExpression": "attribute_not_exists(DomainId)"}},
                {"Put": {"TableName": self._watchlists, "Item": to_item(_watchlists.encode(watchlist)),
                         "ConditionExpression": "attribute_not_exists(WatchlistId)"}},
            ]))
        except ClientError as error:
            if cancelled_by_condition(error, 0):
                return False
            raise
        return True

    def request_hash(self, domain_id: str) -> str | None:
        data = self._item(domain_id)
        return str(data["RequestHash"]) if data and "RequestHash" in data else None

    def update(self, domain: Domain, expected: Domain) -> None:
        changes = {key: value for key, value in _domains.encode(domain).items() if key not in ("DomainId", "CreatedAt")}
        expression, names, attribute_values = set_or_remove(changes | {"Version": expected.version + 1})
        condition = "attribute_not_exists(DeletedAt) AND " + (
            "(attribute_not_exists(Version) OR Version = :expected)" if expected.version == 0
            else "Version = :expected")
        try:
            self._conflicts.run(lambda: self._db.update_item(
                TableName=self._table, Key=self._key(domain.domain_id), UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(DomainId) AND {condition}", ExpressionAttributeNames=names,
                ExpressionAttributeValues=attribute_values | values(expected=expected.version),
            ))
        except ClientError as error:
            if condition_failed(error):
                raise DomainChangedError(domain.domain_id) from None
            raise

    def delete(self, domain_id: str, now: float) -> bool:
        tombstone = {"DeletedAt": now, "Name": None, "Description": None, "Tags": None}
        expression, names, attribute_values = set_or_remove(tombstone)
        items: list[TransactWriteItemTypeDef] = [{"Update": {
            "TableName": self._table, "Key": self._key(domain_id), "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(DomainId) AND attribute_not_exists(DeletedAt)",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": attribute_values}}]
        items += [{"Delete": {"TableName": self._watchlists, "Key": key}}
                  for key in self._watchlist_keys(domain_id)]
        try:
            self._conflicts.run(lambda: self._db.transact_write_items(TransactItems=items))
        except ClientError as error:
            if cancelled_by_condition(error, 0):
                return False
            raise
        return True

    def page(self, limit: int, after: str | None) -> Page[Domain]:
        items, last = collect(
            self._db.scan, limit, {"DomainId": {"S": after}} if after else None, TableName=self._table,
            ConsistentRead=True, FilterExpression="attribute_not_exists(DeletedAt)",
        )
        return Page([_domains.decode(from_item(i)) for i in items], last["DomainId"]["S"] if last else None)

    def deleted_page(self, limit: int, after: str | None) -> Page[DeletedDomain]:
        items, last = collect(
            self._db.scan, limit, {"DomainId": {"S": after}} if after else None, TableName=self._table,
            ConsistentRead=True, FilterExpression="attribute_exists(DeletedAt)",
            ProjectionExpression="DomainId, DeletedAt, PurgedAt, PurgeError",
        )
        tombstones = [from_item(item) for item in items]
        return Page([DeletedDomain(t["DomainId"], float(t["DeletedAt"]), t.get("PurgedAt"), t.get("PurgeError"))
                     for t in tombstones], last["DomainId"]["S"] if last else None)

    def purged(self, domain_id: str, now: float, error: str | None = None) -> None:
        expression, names, attribute_values = set_or_remove({"PurgedAt": now, "PurgeError": error})
        try:
            self._db.update_item(
                TableName=self._table, Key=self._key(domain_id), UpdateExpression=expression,
                ConditionExpression="attribute_exists(DeletedAt)", ExpressionAttributeNames=names,
                ExpressionAttributeValues=attribute_values)
        except ClientError as refused:
            if not condition_failed(refused):  # else no such tombstone: nothing to record
                raise

    def _watchlist_keys(self, domain_id: str) -> list[Attributes]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self._watchlists, KeyConditionExpression="DomainId = :d",
            ProjectionExpression="DomainId, WatchlistId", ExpressionAttributeValues=values(d=domain_id),
        )
        return [item for page in pages for item in page["Items"]]
