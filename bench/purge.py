"""Purge benchmark (issue 15): DeleteDomain of a domain of 10,000 and 100,000 enrolled speakers on the local runtime.

Run: ``make bench-purge`` (``python -m bench.purge [--speakers 10000 100000] [--runs N]``), a few minutes.

What is measured, per domain size, on the local runtime (moto, in-process functions):

* the workflow: from DeleteDomain (boto3 voice-id) to the DomainMaintenance execution's SUCCEEDED, i.e. every
  speaker item, count slot, watchlist and job item of the domain deleted by the synthesized state machine's pages
  (RunPage → PageDone loop, each page stopping when its invocation's time runs short);
* the baseline, in the same run on the same data: the purge task's pages called directly in this process
  (``run_to_end``, no workflow, no Lambda emulation), so the ratio is the workflow's own cost.

The speakers are real records: each one sealed under the domain's KMS key with a 256-float voiceprint (one
voiceprint sealed once and copied under new ids, which the purge never opens; written 25 at a time), counted on
the count slots as enrollment counts them. Reported: seconds, items per second, and workflow / baseline (median
of the runs).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Iterator
from typing import Any

from enrollctl.local.runtime import LocalRuntime
from enrollctl.voiceid_client import Target, voice_id_client
from speaker_enrollment.adapters.codecs import SpeakerCodec, to_item
from speaker_enrollment.adapters.dynamodb.speakers import COUNT_SLOTS, SLOT_PREFIX
from speaker_enrollment.domain.admin.maintenance import Outcome, run_to_end
from speaker_enrollment.domain.shared.ids import new_generated_speaker_id, new_id
from speaker_enrollment.domain.shared.speaker import EnrollmentStatus, Speaker, SpeakerStatus

QUIET = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
MAINTENANCE = "DomainMaintenance"
BATCH = 25


def new_domain(runtime: LocalRuntime, voice_id: Any) -> str:
    domain = voice_id.create_domain(Name="bench", ClientToken=new_id(),
                                    ServerSideEncryptionConfiguration={"KmsKeyId": runtime.key.key_id})
    return str(domain["Domain"]["DomainId"])


def speaker_items(runtime: LocalRuntime, domain_id: str, count: int) -> Iterator[dict[str, Any]]:
    """`count` enrolled speakers (one voiceprint sealed once, under new ids) and the count slots holding them."""
    rng = random.Random(7)
    voiceprint = tuple(rng.uniform(-0.1, 0.1) for _ in range(256))
    template = Speaker(domain_id, "template", new_generated_speaker_id(), SpeakerStatus.ENROLLED, time.time(),
                       time.time(), time.time(), voiceprint, "resemblyzer-ge2e-0.1.4", 35.0, "bench/1",
                       EnrollmentStatus.NEW_ENROLLMENT, 1)
    sealed = SpeakerCodec(runtime.composition().cipher).encode(template)
    for index in range(count):
        yield sealed | {"CustomerSpeakerId": f"caller-{index:07d}", "GeneratedSpeakerId": new_generated_speaker_id(),
                        "CountSlot": index % COUNT_SLOTS}
    for slot in range(COUNT_SLOTS):
        yield {"DomainId": domain_id, "CustomerSpeakerId": f"{SLOT_PREFIX}{slot:02d}",
               "Count": len(range(slot, count, COUNT_SLOTS))}


def seed(runtime: LocalRuntime, domain_id: str, count: int) -> float:
    dynamodb, table = runtime.client("dynamodb"), runtime.speakers_table
    started = time.perf_counter()
    batch: list[Any] = []
    for item in speaker_items(runtime, domain_id, count):
        batch.append({"PutRequest": {"Item": to_item(item)}})
        if len(batch) == BATCH:
            dynamodb.batch_write_item(RequestItems={table: batch})
            batch = []
    if batch:
        dynamodb.batch_write_item(RequestItems={table: batch})
    return time.perf_counter() - started


def workflow_purge(runtime: LocalRuntime, voice_id: Any, domain_id: str) -> float:
    """DeleteDomain → the purge execution SUCCEEDED, in seconds."""
    sfn = runtime.client("stepfunctions")
    arn = runtime.state_machine_arns[MAINTENANCE]
    started = time.perf_counter()
    voice_id.delete_domain(DomainId=domain_id)
    while True:
        runs = [e for e in sfn.list_executions(stateMachineArn=arn)["executions"]
                if e["name"].startswith(f"purge-{domain_id}-")]
        if runs and runs[0]["status"] != "RUNNING":
            assert runs[0]["status"] == "SUCCEEDED", runs[0]
            return time.perf_counter() - started
        time.sleep(0.1)


def direct_purge(runtime: LocalRuntime, domain_id: str) -> float:
    """The same task's pages in this process (the baseline): DeleteDomain's tombstone, then ``run_to_end``."""
    root = runtime.composition()
    started = time.perf_counter()
    assert root.domains.delete(domain_id, time.time())
    assert run_to_end(root.purge, domain_id) is Outcome.COMPLETED
    return time.perf_counter() - started


def remaining(runtime: LocalRuntime, domain_id: str) -> int:
    return int(runtime.client("dynamodb").query(
        TableName=runtime.speakers_table, KeyConditionExpression="DomainId = :d", Select="COUNT",
        ExpressionAttributeValues={":d": {"S": domain_id}})["Count"])


def measure(runtime: LocalRuntime, voice_id: Any, speakers: int, runs: int) -> dict[str, float]:
    workflow, direct = [], []
    for _ in range(runs):
        for purge, times in ((lambda d: workflow_purge(runtime, voice_id, d), workflow),
                             (lambda d: direct_purge(runtime, d), direct)):
            domain_id = new_domain(runtime, voice_id)
            seed(runtime, domain_id, speakers)
            times.append(purge(domain_id))
            assert remaining(runtime, domain_id) == 0
    items = speakers + COUNT_SLOTS + 1  # + the slots and the default watchlist
    return {"workflow": statistics.median(workflow), "direct": statistics.median(direct), "items": items}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=1, help="runs per size (the median is reported)")
    args = parser.parse_args()
    with LocalRuntime.start(port=0, environment=QUIET) as runtime:
        voice_id = voice_id_client(Target.resolve(runtime.endpoint, runtime.region))
        print(f"{'speakers':>9} | {'workflow s':>10} | {'items/s':>8} | {'direct s (baseline)':>19} | ratio")
        for speakers in args.speakers:
            figures = measure(runtime, voice_id, speakers, args.runs)
            print(f"{speakers:>9,} | {figures['workflow']:>10.1f} | {figures['items'] / figures['workflow']:>8,.0f} | "
                  f"{figures['direct']:>19.1f} | {figures['workflow'] / figures['direct']:.2f}", flush=True)


if __name__ == "__main__":
    main()
