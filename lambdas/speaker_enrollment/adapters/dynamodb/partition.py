"""Erasing a partition of a table (a deleted domain's items, a job's progress markers) a page at a time, with
BatchWriteItem: 25 deletes a request, what DynamoDB leaves unprocessed (throttling) sent again after a pause."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from ...domain.shared.paging import Erased
from .base import values

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

    from .base import Attributes

PAGE_ITEMS = 1000  # keys read per page (one Query response holds at most 1 MB: thousands of keys)
BATCH_WRITE_MAX = 25  # DynamoDB's limit of requests per BatchWriteItem
UNPROCESSED_ATTEMPTS = 8


class UnprocessedDeletesError(RuntimeError):
    """DynamoDB kept leaving deletes unprocessed (a throttled partition): the page is retried as a whole."""


@dataclass(frozen=True)
class DynamoPartition:
    """The items of one partition of `table` (partition key ``DomainId``, sort key `sort_key`), named `name` in
    metrics; `partition_of` maps a DomainId (or a JobId) to the partition key value."""

    client: DynamoDBClient
    table: str
    sort_key: str
    name: str
    partition_of: Callable[[str], str] = lambda owner: owner
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def erase_page(self, domain_id: str, after: str | None) -> Erased:
        partition = self.partition_of(domain_id)
        request = {"TableName": self.table, "KeyConditionExpression": "DomainId = :p", "Limit": PAGE_ITEMS,
                   "ProjectionExpression": "DomainId, #s", "ExpressionAttributeNames": {"#s": self.sort_key},
                   "ExpressionAttributeValues": values(p=partition), "ConsistentRead": True}
        if after is not None:
            request["ExclusiveStartKey"] = {"DomainId": {"S": partition}, self.sort_key: {"S": after}}
        page = self.client.query(**request)  # type: ignore[arg-type]
        keys: list[Attributes] = list(page["Items"])
        for start in range(0, len(keys), BATCH_WRITE_MAX):
            self._delete(keys[start:start + BATCH_WRITE_MAX])
        last = page.get("LastEvaluatedKey")
        return Erased(len(keys), last[self.sort_key]["S"] if last else None)

    def erase_all(self, owner: str) -> int:
        """Every item of the partition (a small one: a job's progress markers)."""
        erased, after = 0, None
        while True:
            page = self.erase_page(owner, after)
            erased += page.count
            after = page.next_position
            if after is None:
                return erased

    def _delete(self, keys: list[Attributes]) -> None:
        pending: list[WriteRequestTypeDef] = [{"DeleteRequest": {"Key": key}} for key in keys]
        for attempt in range(UNPROCESSED_ATTEMPTS):
            response = self.client.batch_write_item(RequestItems={self.table: pending})
            # The unprocessed requests are the same shapes as those sent (the stubs type them as output shapes).
            pending = cast("list[WriteRequestTypeDef]", response.get("UnprocessedItems", {}).get(self.table, []))
            if not pending:
                return
            self.sleep(random.uniform(0, min(1.0, 0.05 * 2 ** attempt)))  # full jitter, as ConflictRetries
        raise UnprocessedDeletesError(f"{len(pending)} deletes left unprocessed in {self.table}")
