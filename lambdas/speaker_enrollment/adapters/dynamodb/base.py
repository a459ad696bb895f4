"""What every DynamoDB store shares: attribute values, condition outcomes, paging, and retries of the conflicts
DynamoDB reports under concurrency (botocore retries throttling by itself, but not these)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from ..codecs import to_value

if TYPE_CHECKING:  # the stubs are dev-only: the Lambda runtime never imports them
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, QueryOutputTypeDef, ScanOutputTypeDef

    # An item, a key or ExpressionAttributeValues, as the low-level client takes and returns them.
    Attributes = dict[str, AttributeValueTypeDef]

T = TypeVar("T")
# A single-item write to an item inside a pending transaction; a transaction already running on the item.
CONFLICT_CODES = frozenset({"TransactionConflictException", "TransactionInProgressException"})


def values(**named: Any) -> Attributes:
    return {f":{k}": to_value(v) for k, v in named.items()}


def condition_failed(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


def cancellation_reasons(error: ClientError) -> list[str | None]:
    return [r.get("Code") for r in error.response.get("CancellationReasons", [])]


def cancelled_by_condition(error: ClientError, index: int) -> bool:
    """A cancelled transaction whose item `index` failed its condition."""
    reasons = cancellation_reasons(error)
    return len(reasons) > index and reasons[index] == "ConditionalCheckFailed"


def is_conflict(error: ClientError) -> bool:
    """Lost a race with another transaction on the same item: nothing was written, the same write may be retried.
    A transaction cancelled for a failed condition is an answer, not a conflict, even if another item conflicted."""
    code = error.response["Error"]["Code"]
    if code in CONFLICT_CODES:
        return True
    reasons = cancellation_reasons(error)
    return code == "TransactionCanceledException" and "TransactionConflict" in reasons and (
        "ConditionalCheckFailed" not in reasons)


@dataclass
class ConflictRetries:
    """Jittered, bounded exponential backoff for conflicts ("full jitter": each wait is uniform in [0, the
    exponential ceiling]), and how many retries it took (for metrics and the contention benchmark)."""

    attempts: int = 8
    base_seconds: float = 0.02
    cap_seconds: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    retried: int = 0
    exhausted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def delays(self) -> Iterator[float]:
        for attempt in range(self.attempts - 1):
            yield random.uniform(0, min(self.cap_seconds, self.base_seconds * 2 ** attempt))

    def run(self, write: Callable[[], T]) -> T:
        """`write`, again after each conflict until it is decided; the last conflict is raised."""
        for delay in self.delays():
            try:
                return write()
            except ClientError as error:
                if not is_conflict(error):
                    raise
                self._count("retried")
            self.sleep(delay)
        try:
            return write()
        except ClientError as error:
            if is_conflict(error):
                self._count("exhausted")
            raise

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


CONFLICTS = ConflictRetries()  # one per container: its counts are the container's


def set_or_remove(attributes: dict[str, Any]) -> tuple[str, dict[str, str], Attributes]:
    """An UpdateExpression setting every attribute with a value and removing every one that is None."""
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    present = {f":a{i}": value for i, value in enumerate(attributes.values()) if value is not None}
    sets = [f"#a{i} = :a{i}" for i, value in enumerate(attributes.values()) if value is not None]
    removes = [f"#a{i}" for i, value in enumerate(attributes.values()) if value is None]
    expression = " ".join(part for part in (
        "SET " + ", ".join(sets) if sets else "", "REMOVE " + ", ".join(removes) if removes else "") if part)
    return expression, names, {key: to_value(v) for key, v in present.items()}


def collect(
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
