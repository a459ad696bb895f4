"""AWS projection (issue 18 item 3): how long one enrollment job takes in AWS, what it costs, what limits it.

Run: ``make bench-aws`` (``python -m bench.aws``; needs ``make speech``): about 20 s of measurement on one core,
then a discrete-event simulation of the deployed workflow for 1,000 / 10,000 / 100,000 callers with 60 s of audio
each, at today's deployed settings and at the best settings of a small search, for an account with 1,000 and one
with 10,000 concurrent executions. ``--concurrency 3000 --table-wru 40000 ...`` re-runs it with your account's limits;
``--help`` lists every figure that can be set.

Fed with figures measured here (``measure``, in fresh processes pinned to one core, BLAS 1 thread): CPU seconds per
request through the real ``VoiceprintEngine`` by audio length (8 requests pooled as a shard pools them), the cold
start (import of the shard handler + model load) and the peak RSS of a shard (after load + per pooled request).
The published limits and prices are in ``Limits`` and ``Prices``, each with its source
(``../shared/reference/aws-limits-and-prices.md`` collects most of them).

The model, one job alone in the account and Region (us-east-1 prices):
* PrepareJob (1,024 MB, cold): manifest GET and parse, one PUT per shard file (``--prepare-writers`` at a time; the
  code writes them one by one today), the shard list, the job record.
* The Distributed Map starts after a fixed overhead and keeps ``MaxConcurrency`` children in flight. A child start
  spends state transitions from the account's StateTransition token bucket (it waits when the bucket is empty).
* Each child invokes EnrollShard. An invocation needs a free unit of the function's concurrency (the account's
  limit) and, when no warm environment is idle, a new environment from the per-function scaling bucket (1,000 per
  10 s, refilled continuously); otherwise Lambda throttles it and Step Functions retries (the stack's policy: 6
  retries from 2 s, doubling, at most 60 s, full jitter); a child throttled past its retries fails its shard.
* A new environment pays the cold start (single-threaded, at the vCPU share its memory buys), billed as duration.
* An invocation gathers requests (audio GET, speaker GetItem, compute) while its time allows (the shard processor's
  own rule: 1.5 x the slowest request plus a reserve of 15 % of the invocation, at most 30 s, must still fit), then
  writes: per new speaker a GetItem of the domain and a 2-item transaction (speaker + count slot), the result file,
  the progress marker, the markers' Query and the job update. The rest of the shard is a continuation (a new
  invocation, usually on the same warm environment). Compute scales with memory: 1,769 MB buys one vCPU; the
  LSTM's share of the CPU time (``--parallel-share``) runs on every vCPU, the rest on one.
* Rate limits are token buckets that make callers wait (writes, GETs) rather than refuse: the speakers table's
  writes of one domain land on one partition key (``DomainId``) and so on one partition (1,000 WRU/s) unless
  DynamoDB splits it for heat (``--split-seconds``; AWS publishes no timing, so the default is never), the new
  table's 4,000 WRU/s, S3 GETs per audio prefix. The shards writing at once take turns; a write whose turn comes
  later than botocore's DynamoDB retries reach (10 attempts, 25.6 s of backoff) fails its request, and so does an
  invocation past its timeout: such settings are reported as failing. KMS is counted, not limited: one data key per
  environment a minute stays far under the 10,000-100,000 requests/s quota (kms/latest/developerguide/
  requests-per-second.html); the buckets use S3 Bucket Keys and DynamoDB caches its table keys.
* FinalizeJob (1,024 MB, cold): one GET per shard result (``--finalize-readers`` at a time), the merge, the output
  file (multipart parts of 8 MiB), the job record.
* Cost: Lambda GB-s (init included) + requests, state transitions (a Map child start is one, then each of its
  states, retries included), DynamoDB read/write units, S3 requests, KMS requests (a data key per domain per
  container every 60 s, ``VOICEPRINT_KEY_CACHE_SECONDS``). No free tier, no CloudWatch Logs or X-Ray, no storage.

What it leaves out: other traffic in the account (it has the whole concurrency and table to itself), Lambda's
memory-to-vCPU mapping beyond the linear rule, arm64 vs x86 speed (both are costed at the speed measured here:
``--arm64-speed`` scales arm64's compute), network variance (latencies are fixed figures below), S3 prefix
auto-partitioning (30-60 min, longer than a job), STS AssumeRole rates, the watchlist screen (an empty watchlist),
failures other than throttling, whether Distributed Map child starts also spend StartExecution tokens
(unpublished), and the Standard execution's 25,000-event history (the parent's history stays small: children have
their own).
"""

from __future__ import annotations

import argparse
import heapq
import importlib
import json
import math
import os
import random
import statistics
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from speaker_enrollment.domain.workflow.shards import MAX_RESERVE_SECONDS, RESERVE_SHARE, SLOWEST_MARGIN
from speaker_enrollment.settings import Tunables
from speaker_enrollment.voiceprint.engine import VoiceprintEngine
from threadpoolctl import threadpool_limits

from bench.voiceprint import batch, max_rss_mb, ours, pin_to_one_cpu, timed
from stacks.workflow import RetryPolicy

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Figures = TypeVar("Figures", bound="DataclassInstance")

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "bench" / "aws-measured.json"
CALLERS = (1_000, 10_000, 100_000)
ACCOUNTS = (1_000, 10_000)
MIB = 2**20
# "At 1,769 MB, a function has the equivalent of one vCPU"
# (docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
VCPU_MB = 1769


# ------------------------------------------------------------------------------------------- published figures


@dataclass(frozen=True)
class Prices:
    """us-east-1, USD, first pricing tier, no free tier."""

    # aws.amazon.com/lambda/pricing (first 6 B / 7.5 B GB-s a month), as quoted in the reference file §1.
    lambda_gb_s_arm64: float = 0.0000133334
    lambda_gb_s_x86: float = 0.0000166667
    lambda_request: float = 0.20 / 1e6
    # aws.amazon.com/step-functions/pricing: Standard, per state transition (retries count).
    transition: float = 0.025 / 1000
    # aws.amazon.com/dynamodb/pricing/on-demand (after the Nov 2024 cut), via the reference file §3.
    write_unit: float = 0.625 / 1e6
    read_unit: float = 0.125 / 1e6
    # aws.amazon.com/s3/pricing, S3 Standard: PUT/COPY/POST/LIST and GET, via the reference file §4.
    s3_put: float = 0.005 / 1000
    s3_get: float = 0.0004 / 1000
    # aws.amazon.com/kms/pricing: symmetric requests.
    kms_request: float = 0.03 / 10_000


@dataclass(frozen=True)
class Limits:
    # docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html: 1,000 per Region by default (new accounts less).
    account_concurrency: int = 1_000
    # docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html: per function, 1,000 execution environments every
    # 10 s, refilled continuously.
    scale_per_10s: int = 1_000
    # docs.aws.amazon.com/step-functions/latest/dg/concepts-orchestrate-large-scale-parallel-workloads.html:
    # up to 10,000 parallel child executions.
    map_max_concurrency: int = 10_000
    # EnrollShard's timeout (stacks/workflow.py), Lambda's maximum (gettingstarted-limits).
    function_timeout_s: float = 900.0
    # StateTransition throttle, Standard, us-east-1: bucket 5,000, refill 1,500/s (archived awsdocs
    # aws-step-functions-developer-guide doc_source/limits-overview.md; the current page may be higher).
    transition_burst: int = 5_000
    transition_rate: float = 1_500.0
    # A new on-demand table takes 4,000 WRU/s at once (repost.aws/knowledge-center/on-demand-table-throttling-dynamodb).
    table_wru: float = 4_000.0
    # 1,000 WRU/s per partition (repost.aws/knowledge-center/dynamodb-spiky-workloads-short-intervals); a domain's
    # speakers share one partition key until split for heat (throttling-key-range-limit-exceeded-mitigation.html:
    # no published timing). 0: never split during the job.
    partition_wru: float = 1_000.0
    split_seconds: float = 0.0
    # 5,500 GET/s per partitioned prefix (docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html).
    s3_get_per_prefix: float = 5_500.0
    audio_prefixes: int = 1


@dataclass(frozen=True)
class StepRetry:
    """The shard task's Retry on Lambda's service errors: the stack's own RetryPolicy (stacks/workflow.py)."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def max_attempts(self) -> int:
        return self.policy.max_attempts

    def delay(self, attempt: int, rng: random.Random) -> float:
        """FULL jitter: uniform between 0 and the backed-off interval."""
        p = self.policy
        return rng.uniform(0.0, min(p.max_delay_seconds, p.interval_seconds * p.backoff_rate ** (attempt - 1)))


# botocore's legacy retries for DynamoDB (botocore/data/_retry.json): 10 attempts, 0.05 s doubling: 25.55 s of backoff.
SDK_RETRY_WINDOW_S = sum(0.05 * 2**n for n in range(9))


# ------------------------------------------------------------------------------------------- measured / assumed


@dataclass(frozen=True)
class Measured:
    """Figures of this machine, one core, BLAS 1 thread (``measure``)."""

    cpu_s_per_request: dict[int, float]  # audio seconds -> CPU seconds (decode, VAD, mel, LSTM), pooled by 8
    import_s: float  # import of the shard handler (boto3, Powertools, ours) in a fresh process
    model_load_s: float  # VoiceprintEngine(): the GE2E weights
    base_mb: float  # RSS after import + model load
    mb_per_request: float  # RSS high-water added per pooled 60 s request
    parallel_share: float = 0.93  # of the CPU time in the batched LSTM (2.90 of 3.11 s, issue 18; bench-voiceprint)
    arm64_speed: float = 1.0  # Lambda arm64 compute speed relative to this machine's core (not measured)


@dataclass(frozen=True)
class Latencies:
    """Assumed service latencies (not published; in-Region medians of the order seen in practice)."""

    runtime_init_s: float = 0.25  # Lambda's python3.12 runtime start before our imports
    invoke_s: float = 0.05  # Step Functions -> Lambda task round trip, per invocation
    s3_small_s: float = 0.025  # GET or PUT of a small object
    s3_mb_s: float = 0.012  # per MiB transferred (about 80 MiB/s)
    dynamodb_s: float = 0.008  # one call
    kms_s: float = 0.015
    # MapRunStarted -> MapRunSucceeded for 100 Pass items (repost.aws/questions/QUn5oKgcnjRTemt39V9hdtyw).
    map_overhead_s: float = 7.0
    manifest_cpu_per_request_s: float = 30e-6  # parse + validate + shard (Prepare)
    merge_cpu_per_request_s: float = 40e-6  # read + merge + write (Finalize)


@dataclass(frozen=True)
class Workload:
    """What a request costs in storage operations (the code's calls for a new speaker, adapters/dynamodb)."""

    audio_mb_per_second: float = 8_000 * 2 / MIB  # 8 kHz PCM16 mono
    # GetItem of the speaker (rules) + GetItem of the domain (legacy count), both consistent: 1 RRU each.
    read_units: float = 2.0
    # TransactWriteItems: speaker (~1.6 KB sealed voiceprint: 2 KB) + count slot: 2 units per KB each.
    write_units: float = 2 * 2 + 2 * 1
    # Per invocation: the job GetItem (1 RRU), the marker UpdateItem (1 WRU), the job GetItem again (1 RRU) and the
    # job's conditional PercentComplete update (2 WRU); the markers' Query reads every marker so far (~80 B each).
    invocation_read_units: float = 2.0
    invocation_write_units: float = 2.0 + 1.0
    marker_bytes: float = 80.0
    manifest_bytes_per_request: float = 160.0
    output_bytes_per_request: float = 200.0
    output_part_mb: float = 8.0
    prepare_writers: int = 1  # shard files written at once (today: one by one)
    finalize_readers: int = 1  # result files read at once (today: one by one)


@dataclass(frozen=True)
class Settings:
    shard_size: int
    memory_mb: int
    max_concurrency: int

    def label(self) -> str:
        return f"{self.shard_size}, {self.memory_mb}, {self.max_concurrency}"


# The stack's defaults today: Tunables.shard_size, EnrollShard's memory, WorkflowCapacity.shard_max_concurrency.
DEPLOYED = Settings(Tunables().shard_size, 3008, 10)
PREPARE_MB = FINALIZE_MB = 1024


@dataclass(frozen=True)
class Model:
    measured: Measured
    limits: Limits = Limits()
    prices: Prices = Prices()
    latencies: Latencies = Latencies()
    workload: Workload = Workload()
    retry: StepRetry = StepRetry()
    audio_seconds: int = 60
    key_cache_s: float = float(Tunables().voiceprint_key_cache_seconds)


# --------------------------------------------------------------------------------------------------- arithmetic


def vcpus(memory_mb: int) -> float:
    return memory_mb / VCPU_MB


def compute_seconds(cpu_s: float, memory_mb: int, parallel_share: float) -> float:
    """Wall seconds of ``cpu_s`` of one core's work: the serial part on at most one vCPU, the rest on all of them."""
    v = vcpus(memory_mb)
    return cpu_s * ((1 - parallel_share) / min(1.0, v) + parallel_share / v)


def serial_seconds(cpu_s: float, memory_mb: int) -> float:
    return cpu_s / min(1.0, vcpus(memory_mb))


def requests_per_invocation(initial_s: float, request_s: float) -> int:
    """How many requests the shard processor starts in one invocation (domain/workflow/shards.py ``_Budget``)."""
    reserve = min(MAX_RESERVE_SECONDS, RESERVE_SHARE * initial_s)
    room = initial_s - reserve - SLOWEST_MARGIN * request_s
    return max(1, math.ceil(room / request_s)) if room > 0 else 1


def peak_mb(measured: Measured, shard_size: int) -> float:
    return measured.base_mb + measured.mb_per_request * shard_size


@dataclass
class Usage:
    lambda_gb_s: float = 0.0
    invocations: int = 0
    transitions: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    s3_puts: int = 0
    s3_gets: int = 0
    kms_requests: int = 0

    def add(self, other: Usage) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


@dataclass(frozen=True)
class Cost:
    lambda_arm64: float
    lambda_x86: float
    step_functions: float
    dynamodb: float
    s3: float
    kms: float

    @property
    def total(self) -> float:
        """The deployed architecture (arm64)."""
        return self.lambda_arm64 + self.step_functions + self.dynamodb + self.s3 + self.kms

    def per_thousand(self, callers: int) -> Cost:
        scale = 1000 / callers
        return Cost(*(value * scale for value in asdict(self).values()))


def cost(usage: Usage, prices: Prices) -> Cost:
    requests = usage.invocations * prices.lambda_request
    return Cost(
        lambda_arm64=usage.lambda_gb_s * prices.lambda_gb_s_arm64 + requests,
        lambda_x86=usage.lambda_gb_s * prices.lambda_gb_s_x86 + requests,
        step_functions=usage.transitions * prices.transition,
        dynamodb=usage.write_units * prices.write_unit + usage.read_units * prices.read_unit,
        s3=usage.s3_puts * prices.s3_put + usage.s3_gets * prices.s3_get,
        kms=usage.kms_requests * prices.kms_request,
    )


class TokenBucket:
    """A rate limit whose callers queue: taking more than is there leaves a debt the rate pays off, and the caller
    waits until its last unit is covered (throttled SDK calls retrying until they get through)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._tokens, self._at = burst, 0.0

    def _refill(self, now: float) -> None:
        now = max(now, self._at)
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self, now: float, units: float) -> float:
        """Seconds until the last of `units` is paid for."""
        self._refill(now)
        self._tokens -= units
        return max(0.0, -self._tokens) / self.rate

    def try_take(self, now: float) -> bool:
        """One unit if one is there now (Lambda refuses rather than queues)."""
        self._refill(now)
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class SplittingBucket(TokenBucket):
    """A hot key range whose partitions DynamoDB doubles every `split_s` of heat (0: never)."""

    def __init__(self, rate: float, split_s: float) -> None:
        super().__init__(rate, rate)
        self._base, self._split_s = rate, split_s

    def _refill(self, now: float) -> None:
        super()._refill(now)
        if self._split_s > 0:
            self.rate = self.burst = self._base * 2 ** math.floor(now / self._split_s)


# --------------------------------------------------------------------------------------------------- simulation


@dataclass
class Child:
    """One Distributed Map child: one shard, run by one or more invocations."""

    shard: int
    requests: int
    done: int = 0
    throttled: int = 0  # attempts of the current task state throttled so far


@dataclass
class Environment:
    key_born: float = -math.inf  # when its cached data key of the domain's KMS key was made


@dataclass
class Invocation:
    child: Child
    env: Environment
    started: float
    init_s: float
    requests: int


@dataclass
class Outcome:
    settings: Settings
    callers: int
    wall_s: float
    phases: dict[str, float]
    usage: Usage
    cost: Cost
    failed_requests: int
    invocations: int
    cold_starts: int
    peak_concurrency: int
    peak_mb: float

    @property
    def fits_memory(self) -> bool:
        return self.peak_mb <= self.settings.memory_mb

    @property
    def feasible(self) -> bool:
        return self.failed_requests == 0 and self.fits_memory


class Simulation:
    """One job: Prepare, the Map's children on Lambda under the account's limits, Finalize."""

    def __init__(self, model: Model, settings: Settings, callers: int, seed: int = 0) -> None:
        self.m, self.s, self.callers = model, settings, callers
        limits = model.limits
        self.rng = random.Random(seed)
        self.usage = Usage()
        self.events: list[tuple[float, int, Callable[[float], None]]] = []
        self.sequence = 0
        self.idle: list[Environment] = []
        self.inflight = self.peak = self.cold = self.failed = self.markers = 0
        self.shards = math.ceil(callers / settings.shard_size)
        self.scaling = TokenBucket(limits.scale_per_10s / 10, limits.scale_per_10s)
        self.transitions = TokenBucket(limits.transition_rate, limits.transition_burst)
        self.partition = SplittingBucket(limits.partition_wru, limits.split_seconds)
        self.table = TokenBucket(limits.table_wru, limits.table_wru)
        self.audio = TokenBucket(limits.s3_get_per_prefix * limits.audio_prefixes, limits.s3_get_per_prefix)
        self.request_s = self._request_seconds()
        self.per_invocation = requests_per_invocation(limits.function_timeout_s, self.request_s)
        self.pending: deque[Child] = deque()
        self.last_done = 0.0

    # -- figures per request and per invocation

    def _request_seconds(self) -> float:
        """Gathering (audio GET, speaker GetItem, compute) and writing (domain GetItem, transaction) one request."""
        m = self.m
        cpu = m.measured.cpu_s_per_request[m.audio_seconds] / m.measured.arm64_speed
        audio_mb = m.audio_seconds * m.workload.audio_mb_per_second
        fetch = m.latencies.s3_small_s + audio_mb * m.latencies.s3_mb_s
        calls = 3 * m.latencies.dynamodb_s
        return compute_seconds(cpu, self.s.memory_mb, m.measured.parallel_share) + fetch + calls

    def _cold_start_s(self, memory_mb: int, with_model: bool) -> float:
        measured = self.m.measured
        cpu = measured.import_s + (measured.model_load_s if with_model else 0.0)
        return self.m.latencies.runtime_init_s + serial_seconds(cpu, memory_mb)

    def _shard_io_s(self, continuation: bool) -> float:
        """Job GetItem, shard GET (and a continuation's results GET) before; results PUT, 4 progress calls after."""
        lat = self.m.latencies
        return lat.invoke_s + lat.dynamodb_s + lat.s3_small_s * (3 if continuation else 2) + 4 * lat.dynamodb_s

    # -- the event loop

    def at(self, time: float, action: Callable[[float], None]) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (time, self.sequence, action))

    def run(self) -> Outcome:
        prepared = self._prepare()
        size = self.s.shard_size
        self.pending.extend(Child(i, min(size, self.callers - i * size)) for i in range(self.shards))
        map_start = prepared + self.m.latencies.map_overhead_s
        self.usage.s3_gets += 1  # the ItemReader's shard list
        self.usage.transitions += 3  # PrepareJob, EnrollShards, FinalizeJob
        for _ in range(min(self.s.max_concurrency, self.m.limits.map_max_concurrency, self.shards)):
            self._launch(map_start)
        while self.events:
            time, _, action = heapq.heappop(self.events)
            action(time)
        ended = max(self.last_done, map_start)
        finalized = self._finalize(ended)
        return self._outcome(finalized, {"prepare": prepared, "map": ended - prepared, "finalize": finalized - ended})

    def _launch(self, now: float) -> None:
        """The next pending shard takes the Map slot: its child starts (one transition) and enters its task."""
        if not self.pending:
            return
        child = self.pending.popleft()
        wait = self.transitions.take(now, 2)
        self.usage.transitions += 2
        self.at(now + wait, lambda t: self._invoke(t, child))

    def _invoke(self, now: float, child: Child) -> None:
        if self.inflight >= self.m.limits.account_concurrency:
            self._throttled(now, child)
            return
        env = self.idle.pop() if self.idle else None
        init = 0.0
        if env is None:
            if not self.scaling.try_take(now):
                self._throttled(now, child)
                return
            env, init = Environment(), self._cold_start_s(self.s.memory_mb, True)
            self.cold += 1
        child.throttled = 0
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        requests = min(self.per_invocation, child.requests - child.done)
        audio_wait = self.audio.take(now, requests)
        gather = init + self._shard_io_s(child.done > 0) + requests * self.request_s + audio_wait
        invocation = Invocation(child, env, now, init, requests)
        self.at(now + gather, lambda t: self._write(t, invocation))

    def _write(self, now: float, inv: Invocation) -> None:
        """The shard's writes: every new speaker of the domain through its one partition, and the table's rate.
        A write that would wait longer than botocore retries fails; so does an invocation past its timeout."""
        units = inv.requests * self.m.workload.write_units
        last = max(self.partition.take(now, units), self.table.take(now, units))
        ends = now + last
        # The shards writing at once share the rate in turns: each write waits about its share of the queue.
        each_write = last / inv.requests
        if each_write > SDK_RETRY_WINDOW_S or ends - inv.started - inv.init_s > self.m.limits.function_timeout_s:
            self.failed += inv.requests
        self.at(ends, lambda t: self._done(t, inv))

    def _done(self, now: float, inv: Invocation) -> None:
        child = inv.child
        self._bill_invocation(inv, now)
        self.inflight -= 1
        self.idle.append(inv.env)
        child.done += inv.requests
        self.usage.transitions += 2  # ShardDone, then EnrollShard again or ShardEnded
        if child.done < child.requests:
            self.at(now, lambda t: self._invoke(t, child))
            return
        self.last_done = max(self.last_done, now)
        self._launch(now)

    def _throttled(self, now: float, child: Child) -> None:
        """Lambda refused (429): the task's Retry, or past its attempts the Catch (the shard's requests: 500s)."""
        child.throttled += 1
        if child.throttled > self.m.retry.max_attempts:
            self.failed += child.requests - child.done
            self.last_done = max(self.last_done, now)
            self._launch(now)
            return
        self.usage.transitions += 1  # a retry is a transition
        self.at(now + self.m.retry.delay(child.throttled, self.rng), lambda t: self._invoke(t, child))

    # -- billing

    def _bill_invocation(self, inv: Invocation, now: float) -> None:
        w, u = self.m.workload, self.usage
        u.lambda_gb_s += self.s.memory_mb / 1024 * (now - inv.started)
        u.invocations += 1
        u.read_units += inv.requests * w.read_units + w.invocation_read_units + self._marker_query_units()
        u.write_units += inv.requests * w.write_units + w.invocation_write_units
        u.s3_gets += inv.requests + (2 if inv.child.done > 0 else 1)
        u.s3_puts += 1
        keys = self._data_keys(inv.env, inv.started + inv.init_s, now)
        u.kms_requests += keys

    def _marker_query_units(self) -> float:
        """A consistent Query reads every marker so far: 1 RRU per 4 KB."""
        self.markers = min(self.markers + 1, self.shards)
        return math.ceil(self.markers * self.m.workload.marker_bytes / 4096)

    def _data_keys(self, env: Environment, start: float, end: float) -> int:
        """GenerateDataKey calls of one environment between `start` and `end`: a data key serves key_cache_s."""
        period = self.m.key_cache_s
        if period <= 0:
            return 1
        calls = 0
        if start - env.key_born >= period:
            env.key_born, calls = start, 1
        renewals = math.floor((end - env.key_born) / period)
        env.key_born += renewals * period
        return calls + renewals

    # -- Prepare and Finalize

    def _single(self, memory_mb: int, seconds: float) -> float:
        """A one-off cold invocation (no model): its wall seconds, billed."""
        wall = self._cold_start_s(memory_mb, False) + self.m.latencies.invoke_s + seconds
        self.usage.lambda_gb_s += memory_mb / 1024 * wall
        self.usage.invocations += 1
        return wall

    def _prepare(self) -> float:
        lat, w, n = self.m.latencies, self.m.workload, self.callers
        manifest_mb = n * w.manifest_bytes_per_request / MIB
        work = (lat.s3_small_s + manifest_mb * lat.s3_mb_s
                + serial_seconds(n * lat.manifest_cpu_per_request_s, PREPARE_MB)
                + (math.ceil(self.shards / w.prepare_writers) + 2) * lat.s3_small_s + 2 * lat.dynamodb_s)
        self.usage.add(Usage(s3_gets=1, s3_puts=self.shards + 2, read_units=1, write_units=2))
        return self._single(PREPARE_MB, work)

    def _finalize(self, start: float) -> float:
        lat, w, n = self.m.latencies, self.m.workload, self.callers
        parts = max(1, math.ceil(n * w.output_bytes_per_request / MIB / w.output_part_mb))
        work = (math.ceil(self.shards / w.finalize_readers) * lat.s3_small_s
                + serial_seconds(n * lat.merge_cpu_per_request_s, FINALIZE_MB)
                + (parts + 1) * lat.s3_small_s + lat.kms_s + 2 * lat.dynamodb_s)
        multipart = 2 if parts > 1 else 0  # CreateMultipartUpload and CompleteMultipartUpload
        self.usage.add(Usage(s3_gets=self.shards + 1, s3_puts=parts + multipart, kms_requests=1, read_units=1,
                             write_units=2))
        return start + self._single(FINALIZE_MB, work)

    def _outcome(self, wall: float, phases: dict[str, float]) -> Outcome:
        return Outcome(self.s, self.callers, wall, phases, self.usage, cost(self.usage, self.m.prices), self.failed,
                       self.usage.invocations, self.cold, self.peak, peak_mb(self.m.measured, self.s.shard_size))


def simulate(model: Model, settings: Settings, callers: int, seed: int = 0) -> Outcome:
    return Simulation(model, settings, callers, seed).run()


# ----------------------------------------------------------------------------------------- binding limit, search

UNLIMITED = 1e12
Lift = Callable[[Model, Settings], tuple[Model, Settings]]


def _lift_limits(**changes: Any) -> Lift:
    return lambda model, settings: (replace(model, limits=replace(model.limits, **changes)), settings)


def _lift_concurrency(model: Model, settings: Settings) -> tuple[Model, Settings]:
    lifted = replace(model.limits, account_concurrency=int(UNLIMITED), map_max_concurrency=int(UNLIMITED))
    return replace(model, limits=lifted), replace(settings, max_concurrency=int(UNLIMITED))


LIFTS: dict[str, Lift] = {
    "concurrency": _lift_concurrency,
    "Lambda scaling rate (1,000 environments per 10 s)": _lift_limits(scale_per_10s=UNLIMITED),
    "Step Functions state transitions": _lift_limits(transition_rate=UNLIMITED, transition_burst=UNLIMITED),
    "DynamoDB partition (a domain's speakers)": _lift_limits(partition_wru=UNLIMITED),
    "DynamoDB new table's write rate": _lift_limits(table_wru=UNLIMITED),
    "S3 GETs per audio prefix": _lift_limits(s3_get_per_prefix=UNLIMITED),
}
MIN_SAVING = 0.03  # a limit binds when lifting it alone saves at least this share of the wall time


def concurrency_label(model: Model, settings: Settings) -> str:
    """The smallest of the caps on shards in flight."""
    caps = {f"MaxConcurrency {settings.max_concurrency:,}": settings.max_concurrency,
            f"Lambda account concurrency {model.limits.account_concurrency:,}": model.limits.account_concurrency,
            f"Distributed Map {model.limits.map_max_concurrency:,} children": model.limits.map_max_concurrency}
    return min(caps, key=lambda label: caps[label])


def binding_limit(model: Model, outcome: Outcome) -> str:
    """The limit whose lifting alone shortens the job most; none when the job is one wave of shards."""
    if not outcome.fits_memory:
        return f"memory: a shard peaks at {outcome.peak_mb:,.0f} MB"
    savings = {}
    for name, lift in LIFTS.items():
        lifted_model, lifted_settings = lift(model, outcome.settings)
        savings[name] = outcome.wall_s - simulate(lifted_model, lifted_settings, outcome.callers).wall_s
    name = max(savings, key=lambda n: savings[n])
    if savings[name] < MIN_SAVING * outcome.wall_s:
        return "none: one wave of shards"
    label = concurrency_label(model, outcome.settings) if name == "concurrency" else name
    return f"{label} (-{savings[name] / outcome.wall_s:.0%} without it)"


SHARD_SIZES = (5, 10, 20, 50)
MEMORIES_MB = (VCPU_MB, 3008, 5307, 10_240)
NEAR_FASTEST = 1.10  # the best settings: the cheapest whose wall time is within 10 % of the fastest


MAX_CONCURRENCIES = (100, 250, 500, 1_000, 2_500, 5_000, 10_000)


def concurrency_options(account: int) -> list[int]:
    """The round figures up to the account's limit, and 90 % of it (room for the account's other functions)."""
    return sorted({c for c in MAX_CONCURRENCIES if c <= account} | {max(1, account * 9 // 10)})


def grid(account: int) -> list[Settings]:
    return [Settings(size, memory, concurrency) for size in SHARD_SIZES for memory in MEMORIES_MB
            for concurrency in concurrency_options(account)]


def choose(outcomes: Iterable[Outcome]) -> Outcome | None:
    """The cheapest feasible outcome within NEAR_FASTEST of the fastest feasible one."""
    feasible = [o for o in outcomes if o.feasible]
    if not feasible:
        return None
    fastest = min(o.wall_s for o in feasible)
    return min((o for o in feasible if o.wall_s <= fastest * NEAR_FASTEST), key=lambda o: o.cost.total)


def with_account(model: Model, account: int) -> Model:
    return replace(model, limits=replace(model.limits, account_concurrency=account))


def best(model: Model, callers: int) -> Outcome | None:
    return choose(simulate(model, settings, callers) for settings in grid(model.limits.account_concurrency))


# ------------------------------------------------------------------------------------------------- measurement

COLD_START = (
    "import time; start = time.perf_counter(); import speaker_enrollment.handlers.enroll_shard; "
    "loaded = time.perf_counter(); from speaker_enrollment.voiceprint.engine import VoiceprintEngine; "
    "VoiceprintEngine(threads=1); print(loaded - start, time.perf_counter() - loaded)"
)
COLD_START_RUNS = 3
TIMED_ROUNDS = 2
BLAS_ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def measure_in_process() -> dict[str, Any]:
    """CPU per request by audio length (8 requests pooled as a shard pools them) and the RSS they add."""
    importlib.import_module("speaker_enrollment.handlers.enroll_shard")  # its imports count in a shard's RSS
    pin_to_one_cpu()
    threadpool_limits(limits=1)
    engine = VoiceprintEngine(threads=1)
    loaded = max_rss_mb()
    cpu: dict[int, float] = {}
    for seconds, part in ((30, 0), (60, 1)):
        files = batch(seconds, part)
        run = partial(ours, engine, files)
        run()  # warm-up
        cpu[seconds] = min(timed(run)[1].cpu for _ in range(TIMED_ROUNDS)) / len(files)
    return {"cpu_s_per_request": cpu, "base_mb": loaded, "mb_per_request": (max_rss_mb() - loaded) / len(files)}


def measure_cold_start() -> tuple[float, float]:
    """Medians of the shard handler's import and of the model load, each in a fresh process."""
    runs = [subprocess.run([sys.executable, "-c", COLD_START], cwd=ROOT, env=os.environ | BLAS_ONE_THREAD,
                           capture_output=True, text=True, check=True).stdout.split()
            for _ in range(COLD_START_RUNS)]
    imports, loads = zip(*((float(a), float(b)) for a, b in runs), strict=True)
    return statistics.median(imports), statistics.median(loads)


def measure() -> Measured:
    """About 20 s on one core: everything in fresh processes pinned to one CPU (bench.voiceprint's way)."""
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    child = subprocess.run([sys.executable, "-m", "bench.aws", "--measure-child"], cwd=ROOT,
                           env=os.environ | BLAS_ONE_THREAD, stdout=subprocess.PIPE, text=True, check=True)
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    import_s, model_load_s = measure_cold_start()
    return Measured({int(k): v for k, v in figures["cpu_s_per_request"].items()}, import_s, model_load_s,
                    figures["base_mb"], figures["mb_per_request"])


def save(measured: Measured, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(measured), indent=2) + "\n")


def load(path: Path) -> Measured:
    figures = json.loads(path.read_text())
    figures["cpu_s_per_request"] = {int(k): v for k, v in figures["cpu_s_per_request"].items()}
    return Measured(**figures)


# ------------------------------------------------------------------------------------------------------ report


def duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"


HEADER = (f"{'callers':>8}  {'settings':<9} {'shard':>5} {'MB':>6} {'MaxConc':>7}  {'wall':>8}  {'$/1k':>6}  "
          f"{'Lambda':>6} {'(x86)':>6} {'SFN':>6} {'DDB':>6} {'S3':>6} {'KMS':>6}  binding limit")


def row(model: Model, name: str, outcome: Outcome) -> str:
    s, c = outcome.settings, outcome.cost.per_thousand(outcome.callers)
    failed = f"; {outcome.failed_requests:,} requests FAIL" if outcome.failed_requests else ""
    money = " ".join(f"{value:>6.3f}" for value in (c.lambda_arm64, c.lambda_x86, c.step_functions, c.dynamodb, c.s3,
                                                     c.kms))
    return (f"{outcome.callers:>8,}  {name:<9} {s.shard_size:>5} {s.memory_mb:>6} {s.max_concurrency:>7,}  "
            f"{duration(outcome.wall_s):>8}  {c.total:>6.3f}  {money}  {binding_limit(model, outcome)}{failed}")


def describe(model: Model) -> list[str]:
    m, lim = model.measured, model.limits
    cpu = ", ".join(f"{seconds} s audio {value:.3f} s" for seconds, value in sorted(m.cpu_s_per_request.items()))
    split = f"split for heat every {lim.split_seconds:.0f} s" if lim.split_seconds else "never split during the job"
    return [
        f"Measured (one core, BLAS 1 thread): CPU per request {cpu}; cold start: handler import {m.import_s:.2f} s + "
        f"model load {m.model_load_s:.2f} s; shard RSS {m.base_mb:.0f} MB + {m.mb_per_request:.1f} MB per request",
        f"Limits: Lambda scaling {lim.scale_per_10s:,} per 10 s, timeout {lim.function_timeout_s:.0f} s; Distributed "
        f"Map {lim.map_max_concurrency:,}; transitions {lim.transition_burst:,} + {lim.transition_rate:,.0f}/s; "
        f"DynamoDB new table {lim.table_wru:,.0f} WRU/s, partition {lim.partition_wru:,.0f} WRU/s ({split}); "
        f"S3 {lim.s3_get_per_prefix:,.0f} GET/s x {lim.audio_prefixes} audio prefix",
        f"Each caller: {model.audio_seconds} s of audio. Cost per 1,000 enrollments in USD (us-east-1, no free tier); "
        "the total is arm64, (x86) is Lambda on x86_64 instead",
        "settings = SHARD_SIZE, shard function memory MB, MaxConcurrency; deployed = today's stack defaults; best = "
        f"the cheapest within {NEAR_FASTEST - 1:.0%} of the fastest of {len(SHARD_SIZES)} shard sizes x "
        f"{len(MEMORIES_MB)} memories x MaxConcurrency {', '.join(map(str, MAX_CONCURRENCIES))} (up to the account's "
        "limit, and 90 % of it)",
    ]


def report(model: Model, accounts: Sequence[int], callers: Sequence[int]) -> None:
    print("AWS projection of one enrollment job (bench/aws.py: a discrete-event simulation; see its docstring)")
    for line in describe(model):
        print(line)
    for account in accounts:
        account_model = with_account(model, account)
        print(f"\nAccount with {account:,} concurrent executions\n{HEADER}")
        for n in callers:
            print(row(account_model, "deployed", simulate(account_model, DEPLOYED, n)))
            found = best(account_model, n)
            print(row(account_model, "best", found) if found else f"{n:>8,}  best      no setting completes the job")


# ----------------------------------------------------------------------------------------------------- options


def add_fields(parser: argparse.ArgumentParser, cls: type[DataclassInstance], skip: Iterable[str] = ()) -> None:
    """One option per numeric field of a figures dataclass (``--table-wru``), default: the field's."""
    for spec in fields(cls):
        if spec.name in skip or not isinstance(spec.default, int | float):
            continue
        kind = int if isinstance(spec.default, int) else float
        parser.add_argument(f"--{spec.name.replace('_', '-')}", type=kind, metavar="N",
                            help=f"{cls.__name__}.{spec.name} (default {spec.default})")


def overridden(instance: Figures, args: argparse.Namespace) -> Figures:
    given = {spec.name: getattr(args, spec.name) for spec in fields(instance)
             if getattr(args, spec.name, None) is not None}
    return replace(instance, **given)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.aws", description=__doc__.split("\n\n")[0])
    p.add_argument("--concurrency", type=int, nargs="+", default=list(ACCOUNTS), metavar="N",
                   help="the accounts' Lambda concurrency limits to project (default: 1000 10000)")
    p.add_argument("--callers", type=int, nargs="+", default=list(CALLERS), metavar="N")
    p.add_argument("--audio-seconds", type=int, choices=(30, 60), default=60)
    p.add_argument("--reuse", action="store_true", help=f"use the figures measured last time ({CACHE.name})")
    p.add_argument("--figures", type=Path, help="measured figures from this JSON file (as written to build/bench)")
    p.add_argument("--cpu-30", type=float, metavar="S", help="CPU s per request of 30 s audio on one core")
    p.add_argument("--cpu-60", type=float, metavar="S", help="CPU s per request of 60 s audio on one core")
    p.add_argument("--measure-child", action="store_true", help=argparse.SUPPRESS)
    for cls in (Limits, Measured, Latencies, Workload):
        add_fields(p, cls, skip=("account_concurrency",))
    return p


def measured_figures(args: argparse.Namespace) -> Measured:
    path = args.figures or (CACHE if args.reuse and CACHE.exists() else None)
    if path is not None:
        measured = load(path)
    else:
        print("[bench] measuring on one core (about 20 s)", file=sys.stderr, flush=True)
        measured = measure()
        save(measured, CACHE)
    cpu = measured.cpu_s_per_request | {s: v for s, v in ((30, args.cpu_30), (60, args.cpu_60)) if v is not None}
    return overridden(replace(measured, cpu_s_per_request=cpu), args)


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.measure_child:
        print(json.dumps(measure_in_process()))
        return
    model = Model(overridden(measured_figures(args), args), overridden(Limits(), args),
                  latencies=overridden(Latencies(), args), workload=overridden(Workload(), args),
                  audio_seconds=args.audio_seconds)
    report(model, args.concurrency, args.callers)


if __name__ == "__main__":
    main()
