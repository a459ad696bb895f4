"""The purge's adapters against moto (issue 15): a table's partition erased a page at a time with BatchWriteItem
(what DynamoDB leaves unprocessed sent again), every version and delete marker under an inbox prefix deleted, a
job's work files and progress markers erased, a tombstone's purge recorded, a running job's execution stopped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from speaker_enrollment.adapters.dynamodb import DynamoDomainStore
from speaker_enrollment.adapters.dynamodb.partition import PAGE_ITEMS, DynamoPartition, UnprocessedDeletesError
from speaker_enrollment.adapters.s3 import InboxPrefix, S3WorkStore
from speaker_enrollment.adapters.stepfunctions import StepFunctionsWorkflow, execution_arn
from speaker_enrollment.domain.shared.domain import DeletedDomain, Domain
from speaker_enrollment.domain.shared.watchlist import default_watchlist
from test_store_contracts import new_job

REGION = "us-east-1"
TABLE = "speakers"


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        dynamodb, s3 = boto3.client("dynamodb", region_name=REGION), boto3.client("s3", region_name=REGION)
        for table, sort_key in ((TABLE, "CustomerSpeakerId"), ("domains", None), ("watchlists", "WatchlistId")):
            keys = [("DomainId", "HASH"), *([(sort_key, "RANGE")] if sort_key else [])]
            dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                  KeySchema=[{"AttributeName": n, "KeyType": t} for n, t in keys],
                                  AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n, _ in keys])
        for bucket in ("inbox", "work"):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket="inbox", VersioningConfiguration={"Status": "Enabled"})
        yield dynamodb, s3


def put_speakers(dynamodb: Any, domain_id: str, count: int) -> None:
    for start in range(0, count, 25):
        dynamodb.batch_write_item(RequestItems={TABLE: [
            {"PutRequest": {"Item": {"DomainId": {"S": domain_id}, "CustomerSpeakerId": {"S": f"c{index:05d}"},
                                     "SealedVoiceprint": {"B": b"x" * 1100}}}}
            for index in range(start, min(count, start + 25))]})


def count(dynamodb: Any, domain_id: str) -> int:
    return int(dynamodb.query(TableName=TABLE, KeyConditionExpression="DomainId = :d", Select="COUNT",
                              ExpressionAttributeValues={":d": {"S": domain_id}})["Count"])


def test_a_partition_is_erased_page_by_page_and_other_partitions_stay(aws: tuple[Any, Any]) -> None:
    dynamodb, _ = aws
    put_speakers(dynamodb, "doomed", PAGE_ITEMS + 30)
    put_speakers(dynamodb, "kept", 3)
    place = DynamoPartition(dynamodb, TABLE, "CustomerSpeakerId", "Speakers")
    pages = [place.erase_page("doomed", None)]
    while pages[-1].next_position is not None:
        pages.append(place.erase_page("doomed", pages[-1].next_position))
    # A page is at most PAGE_ITEMS keys, and less when the Query's 1 MB limit comes first (items are read whole).
    assert len(pages) >= 2 and all(0 < page.count <= PAGE_ITEMS for page in pages[:-1])
    assert sum(page.count for page in pages) == PAGE_ITEMS + 30
    assert (count(dynamodb, "doomed"), count(dynamodb, "kept")) == (0, 3)
    assert place.erase_page("doomed", None).count == 0  # idempotent


class Throttled:
    """A DynamoDB client leaving the first `times` batches' deletes unprocessed, as a throttled partition does."""

    def __init__(self, client: Any, times: int) -> None:
        self._client, self.times = client, times

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        if self.times > 0:
            self.times -= 1
            return {"UnprocessedItems": RequestItems}
        return dict(self._client.batch_write_item(RequestItems=RequestItems))


def test_unprocessed_deletes_are_sent_again_and_a_partition_that_stays_throttled_fails_the_page(
    aws: tuple[Any, Any]
) -> None:
    dynamodb, _ = aws
    put_speakers(dynamodb, "d", 10)
    pauses: list[float] = []
    DynamoPartition(Throttled(dynamodb, 3), TABLE, "CustomerSpeakerId", "Speakers", sleep=pauses.append
                    ).erase_page("d", None)
    assert count(dynamodb, "d") == 0 and len(pauses) == 3
    put_speakers(dynamodb, "d", 10)
    with pytest.raises(UnprocessedDeletesError):
        DynamoPartition(Throttled(dynamodb, 100), TABLE, "CustomerSpeakerId", "Speakers",
                        sleep=lambda _: None).erase_page("d", None)


def test_every_version_and_delete_marker_under_the_domains_prefix_is_deleted(aws: tuple[Any, Any]) -> None:
    _, s3 = aws
    for key in ("sessions/D/call-1.wav", "sessions/D/call-1.wav", "sessions/D/call-2.wav", "sessions/E/call.wav",
                "sessions/DX/call.wav"):
        s3.put_object(Bucket="inbox", Key=key, Body=b"audio")
    s3.delete_object(Bucket="inbox", Key="sessions/D/call-2.wav")  # a delete marker over its version
    erased = InboxPrefix(s3, "inbox", "sessions").erase_page("D", None)
    assert (erased.count, erased.next_position) == (4, None)  # 3 versions and the marker
    listing = s3.list_object_versions(Bucket="inbox", Prefix="sessions/")
    assert sorted(v["Key"] for v in listing["Versions"]) == ["sessions/DX/call.wav", "sessions/E/call.wav"]
    assert "DeleteMarkers" not in listing


def test_a_jobs_work_files_are_erased(aws: tuple[Any, Any]) -> None:
    _, s3 = aws
    work = S3WorkStore(s3, "work")
    work.put_shards("D", "job-1", [[{"RequestId": "r"}]] * 3)
    work.put_results("job-1", 0, [{"RequestId": "r"}])
    work.put_shards("D", "job-2", [[{"RequestId": "r"}]])
    assert work.erase_job("job-1") == 5  # shards.json, 3 shards, 1 result
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="work")["Contents"]] == [
        "jobs/job-2/shards.json", "jobs/job-2/shards/00000.json"]


def test_a_tombstone_records_how_its_purge_ended_and_lists_with_the_other_tombstones(aws: tuple[Any, Any]) -> None:
    dynamodb, _ = aws
    domains = DynamoDomainStore(dynamodb, "domains", "watchlists")
    for domain_id in ("A" * 22, "B" * 22, "C" * 22):
        domains.create(Domain(domain_id, "calls"), default_watchlist(domain_id, 1.0), domain_id, "hash")
    assert domains.delete("A" * 22, 10.0) and domains.delete("B" * 22, 20.0)
    domains.purged("A" * 22, 30.0)
    domains.purged("B" * 22, 40.0, "S3 refused")
    domains.purged("C" * 22, 50.0)  # not deleted: nothing recorded
    assert domains.deleted_page(10, None).items == [DeletedDomain("A" * 22, 10.0, 30.0),
                                                    DeletedDomain("B" * 22, 20.0, 40.0, "S3 refused")]
    domains.purged("B" * 22, 60.0)  # a later purge succeeded: the error goes
    assert domains.deleted_page(10, "A" * 22).items == [DeletedDomain("B" * 22, 20.0, 60.0)]
    assert domains.get("C" * 22) is not None


def test_a_running_jobs_execution_is_stopped_and_stopping_one_that_never_started_is_harmless() -> None:
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name=REGION)
        definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}
        arn = sfn.create_state_machine(name="EnrollmentWorkflow", definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/workflow")["stateMachineArn"]
        workflow = StepFunctionsWorkflow(sfn, arn)
        running, never_started = (replace(new_job("D" * 22), job_id=job_id) for job_id in ("job-1", "job-2"))
        workflow.start(running)
        workflow.stop(running, "The job's domain was deleted (DeleteDomain)")
        workflow.stop(never_started, "The job's domain was deleted (DeleteDomain)")
        (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
        assert (execution["name"], execution["status"]) == ("job-1", "ABORTED")
        assert execution_arn(arn, "job-1") == execution["executionArn"]
