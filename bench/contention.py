"""Contention benchmark (issue #9): concurrent shard writers enrolling speakers into one domain.

Run: ``make bench-contention`` (``python -m bench.contention``), about a minute. No AWS, no speech.

DynamoDB cancels a transaction that touches an item another in-flight transaction holds (reason
``TransactionConflict``) and fails a single write to such an item (``TransactionConflictException``); moto never
does. Here a thin client in front of moto behaves as DynamoDB does: each TransactWriteItems holds its items for
HOLD_MS (a transaction's latency in AWS is ~10-25 ms) and whatever touches a held item meanwhile is refused the
way DynamoDB refuses it. WRITERS threads (the concurrent shards) each create SPEAKERS_EACH new speakers in the
same domain through ``DynamoSpeakerStore``, whose count is spread over ``count_slots`` items; the first release's
design is the same store with one slot: every new speaker of the domain wrote the same counter item.

Printed per design, side by side: conflicts met (each retried with jittered backoff), writes given up after the
retries (each would have been a 500 for its request), speakers created, the wall time and creates per second.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from speaker_enrollment.adapters.dynamodb.base import ConflictRetries
from speaker_enrollment.adapters.dynamodb.speakers import COUNT_SLOTS, DynamoSpeakerStore
from speaker_enrollment.adapters.voiceprint_cipher import KmsVoiceprintCipher
from speaker_enrollment.domain.shared.ids import new_generated_speaker_id, new_id
from speaker_enrollment.domain.shared.speaker import Speaker, SpeakerStatus

WRITERS = 100
SPEAKERS_EACH = 5
HOLD_MS = 10
QUOTA = 100_000
REGION = "us-east-1"
KEYS = {"speakers": ("DomainId", "CustomerSpeakerId"), "domains": ("DomainId",)}


class ContendedDynamoDB:
    """A DynamoDB client with DynamoDB's transaction conflicts, in front of moto's (which has none)."""

    def __init__(self, client: Any, hold_seconds: float) -> None:
        self._client = client
        self._hold = hold_seconds
        self._held_until: dict[tuple[str, ...], float] = {}
        self._state = threading.Lock()
        self._moto = threading.Lock()  # moto's backend is not made for concurrent writers

    def _busy(self, item: tuple[str, ...]) -> bool:
        return self._held_until.get(item, 0.0) > time.monotonic()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _identity(self, table: str, item: dict[str, Any]) -> tuple[str, ...]:
        role = "speakers" if "speakers" in table else "domains"
        return (table, *(str(item[attribute]) for attribute in KEYS[role]))

    def _items(self, operation: dict[str, Any]) -> tuple[str, ...]:
        (kind, body), = operation.items()
        return self._identity(body["TableName"], body["Item"] if kind == "Put" else body["Key"])

    def transact_write_items(self, **request: Any) -> Any:
        items = [self._items(operation) for operation in request["TransactItems"]]
        with self._state:
            busy = [self._busy(item) for item in items]
            if any(busy):
                raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                                   "CancellationReasons": [{"Code": "TransactionConflict" if b else "None"}
                                                           for b in busy]}, "TransactWriteItems")
            # Held for the transaction's latency, whatever moto's own queue adds (a benchmark artefact).
            self._held_until.update(dict.fromkeys(items, time.monotonic() + self._hold))
        with self._moto:
            response = self._client.transact_write_items(**request)
        time.sleep(self._hold)  # the caller waits for its transaction as long as it holds its items
        return response

    def _single(self, operation: str, request: dict[str, Any]) -> Any:
        item = self._identity(request["TableName"], request.get("Key") or request["Item"])
        with self._state:
            if self._busy(item):
                raise ClientError({"Error": {"Code": "TransactionConflictException", "Message": "in a transaction"}},
                                  operation)
        with self._moto:
            return getattr(self._client, operation)(**request)

    def update_item(self, **request: Any) -> Any:
        return self._single("update_item", request)

    def put_item(self, **request: Any) -> Any:
        return self._single("put_item", request)

    def get_item(self, **request: Any) -> Any:
        with self._moto:
            return self._client.get_item(**request)


@dataclass(frozen=True)
class Outcome:
    slots: int
    created: int
    conflicts: int
    given_up: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.created / self.seconds


def create_tables(client: Any) -> None:
    client.create_table(TableName="speakers", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "DomainId", "KeyType": "HASH"},
                                   {"AttributeName": "CustomerSpeakerId", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "DomainId", "AttributeType": "S"},
                                              {"AttributeName": "CustomerSpeakerId", "AttributeType": "S"}])
    client.create_table(TableName="domains", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "DomainId", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "DomainId", "AttributeType": "S"}])


def run(slots: int, writers: int, each: int, hold_ms: int, think_ms: int) -> Outcome:
    with mock_aws():
        raw = boto3.client("dynamodb", region_name=REGION)
        create_tables(raw)
        conflicts = ConflictRetries()
        kms = boto3.client("kms", region_name=REGION)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        store = DynamoSpeakerStore(ContendedDynamoDB(raw, hold_ms / 1000), "speakers", "domains",  # type: ignore[arg-type]
                                   KmsVoiceprintCipher(kms, lambda _domain_id: key_id), conflicts=conflicts,
                                   count_slots=slots)
        domain = new_id()

        def writer(index: int) -> int:
            created = 0
            for n in range(each):
                time.sleep(think_ms / 1000)  # the shard computing its next voiceprint
                speaker = Speaker(domain, f"caller-{index}-{n}", new_generated_speaker_id(), SpeakerStatus.ENROLLED,
                                  1.0, 1.0)
                try:
                    store.create(speaker, QUOTA)
                    created += 1
                except ClientError:
                    pass  # given up after the retries: counted by `conflicts.exhausted`
            return created

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=writers) as pool:
            created = sum(pool.map(writer, range(writers)))
        seconds = time.perf_counter() - started
        assert store.count(domain) == created, "the count must match the speakers written"
        return Outcome(slots, created, conflicts.retried + conflicts.exhausted, conflicts.exhausted, seconds)


def report(outcomes: Sequence[Outcome], args: argparse.Namespace) -> None:
    print(f"\n{args.writers} concurrent writers x {args.each} new speakers, one domain; transactions hold their items "
          f"{args.hold_ms} ms; {args.think_ms} ms between a writer's speakers; median of {args.repeat} run(s)")
    print(f"{'count design':<26}{'conflicts':>10}{'given up':>10}{'created':>9}{'seconds':>9}{'creates/s':>11}")
    for outcome in outcomes:
        name = "one counter item (v1)" if outcome.slots == 1 else f"{outcome.slots} count slots"
        print(f"{name:<26}{outcome.conflicts:>10}{outcome.given_up:>10}{outcome.created:>9}"
              f"{outcome.seconds:>9.2f}{outcome.rate:>11.1f}")


def median_run(slots: int, args: argparse.Namespace) -> Outcome:
    runs = sorted((run(slots, args.writers, args.each, args.hold_ms, args.think_ms) for _ in range(args.repeat)),
                  key=lambda o: o.seconds)
    return runs[len(runs) // 2]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.contention", description=__doc__.split("\n")[0])
    parser.add_argument("--writers", type=int, default=WRITERS)
    parser.add_argument("--each", type=int, default=SPEAKERS_EACH)
    parser.add_argument("--hold-ms", type=int, default=HOLD_MS)
    parser.add_argument("--think-ms", type=int, default=0, help="a writer's pause between speakers")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slots", type=int, nargs="+", default=[1, COUNT_SLOTS])
    args = parser.parse_args(argv)
    report([median_run(slots, args) for slots in args.slots], args)


if __name__ == "__main__":
    main()
