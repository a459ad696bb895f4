"""Watchlists (pk DomainId, sk WatchlistId); the domain item counts those other than its default one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ...domain.shared.errors import QuotaExceededError, WatchlistGoneError, WatchlistNotEmptyError
from ...domain.shared.paging import Page
from ...domain.shared.watchlist import Watchlist
from ..codecs import WatchlistCodec, from_item, to_item
from .base import CONFLICTS, ConflictRetries, cancelled_by_condition, collect, condition_failed, set_or_remove, values

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from .base import Attributes

_watchlists = WatchlistCodec()


class DynamoWatchlistStore:
    """Watchlists (pk DomainId, sk WatchlistId). Each keeps a ``FraudsterCount`` (DynamoFraudsterStore keeps it);
    the domain item counts its watchlists other than the default one in ``WatchlistCount``."""

    def __init__(self, client: DynamoDBClient, table: str, domains_table: str,
                 conflicts: ConflictRetries = CONFLICTS) -> None:
        self._db = client
        self._table = table
        self._domains = domains_table
        self._conflicts = conflicts

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
            self._conflicts.run(lambda: self._db.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": to_item(document),
                         "ConditionExpression": "attribute_not_exists(WatchlistId)"}},
                {"Update": {"TableName": self._domains, "Key": {"DomainId": {"S": watchlist.domain_id}},
                            "UpdateExpression": "ADD WatchlistCount :one",
                            "ConditionExpression": room, "ExpressionAttributeValues": values(one=1, most=most)}},
            ]))
        except ClientError as error:
            if cancelled_by_condition(error, 0):
                return False
            if cancelled_by_condition(error, 1):
                raise QuotaExceededError(watchlist.domain_id) from None
            raise
        return True

    def update(self, watchlist: Watchlist) -> None:
        expression, names, attribute_values = set_or_remove({
            "Name": watchlist.name, "Description": watchlist.description, "UpdatedAt": watchlist.updated_at})
        try:
            self._conflicts.run(lambda: self._db.update_item(
                TableName=self._table, Key=self._key(watchlist.domain_id, watchlist.watchlist_id),
                UpdateExpression=expression, ConditionExpression="attribute_exists(WatchlistId)",
                ExpressionAttributeNames=names, ExpressionAttributeValues=attribute_values,
            ))
        except ClientError as error:
            if condition_failed(error):
                raise WatchlistGoneError(watchlist.watchlist_id) from None
            raise

    def delete(self, watchlist: Watchlist) -> None:
        try:
            self._conflicts.run(lambda: self._db.transact_write_items(TransactItems=[
                {"Delete": {"TableName": self._table, "Key": self._key(watchlist.domain_id, watchlist.watchlist_id),
                            "ConditionExpression": "attribute_exists(WatchlistId) AND "
                                                   "(attribute_not_exists(FraudsterCount) OR FraudsterCount = :zero)",
                            "ExpressionAttributeValues": values(zero=0)}},
                {"Update": {"TableName": self._domains, "Key": {"DomainId": {"S": watchlist.domain_id}},
                            "UpdateExpression": "ADD WatchlistCount :minus_one",
                            "ExpressionAttributeValues": values(minus_one=-1)}},
            ]))
        except ClientError as error:
            if not cancelled_by_condition(error, 0):
                raise
            if self._item(watchlist.domain_id, watchlist.watchlist_id) is None:
                raise WatchlistGoneError(watchlist.watchlist_id) from None
            raise WatchlistNotEmptyError(watchlist.watchlist_id) from None

    def page(self, domain_id: str, limit: int, after: str | None) -> Page[Watchlist]:
        items, last = collect(
            self._db.query, limit, self._key(domain_id, after) if after else None, TableName=self._table,
            KeyConditionExpression="DomainId = :d", ExpressionAttributeValues=values(d=domain_id),
        )
        return Page([_watchlists.decode(from_item(i)) for i in items], last["WatchlistId"]["S"] if last else None)
