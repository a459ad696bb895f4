"""Conflicts DynamoDB reports under concurrency are retried with jittered, bounded backoff; answers (a failed
condition) are not; the retries are counted."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from speaker_enrollment.adapters.dynamodb.base import ConflictRetries, is_conflict


def cancelled(*reasons: str) -> ClientError:
    return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                        "CancellationReasons": [{"Code": reason} for reason in reasons]}, "TransactWriteItems")


def single_write_conflict() -> ClientError:
    return ClientError({"Error": {"Code": "TransactionConflictException", "Message": "in a transaction"}},
                       "UpdateItem")


class Flaky:
    """Fails with `errors` in turn, then answers "written"."""

    def __init__(self, *errors: ClientError) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "written"


@pytest.fixture
def retries() -> ConflictRetries:
    waits: list[float] = []
    policy = ConflictRetries(attempts=4, base_seconds=0.1, cap_seconds=0.25, sleep=waits.append)
    policy.waits = waits  # type: ignore[attr-defined]
    return policy


def test_conflicts_are_retried_until_the_write_is_decided(retries: ConflictRetries) -> None:
    write = Flaky(cancelled("None", "TransactionConflict"), single_write_conflict())
    assert retries.run(write) == "written"
    assert write.calls == 3 and retries.retried == 2 and retries.exhausted == 0
    waits: list[Any] = retries.waits  # type: ignore[attr-defined]
    assert 0 <= waits[0] <= 0.1 and 0 <= waits[1] <= 0.2  # full jitter under the exponential ceiling


def test_retries_are_bounded_and_the_last_conflict_is_raised(retries: ConflictRetries) -> None:
    write = Flaky(*(cancelled("TransactionConflict") for _ in range(10)))
    with pytest.raises(ClientError) as raised:
        retries.run(write)
    assert is_conflict(raised.value) and write.calls == 4 and retries.exhausted == 1
    assert all(wait <= 0.25 for wait in retries.waits)  # type: ignore[attr-defined]


@pytest.mark.parametrize("answer", [cancelled("ConditionalCheckFailed", "TransactionConflict"),
                                    cancelled("None", "ConditionalCheckFailed"),
                                    ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem"),
                                    ClientError({"Error": {"Code": "ValidationException"}}, "PutItem")])
def test_an_answer_is_not_retried(retries: ConflictRetries, answer: ClientError) -> None:
    write = Flaky(answer)
    with pytest.raises(ClientError):
        retries.run(write)
    assert write.calls == 1 and retries.retried == 0
