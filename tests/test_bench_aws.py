"""The AWS projection's arithmetic (bench/aws.py) on cases small enough to work out by hand, with fixed figures:
no measurement, no AWS. Latencies are zero unless a case needs one, so every second below is a cold start or a
request's compute."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from speaker_enrollment.domain.workflow.shards import _Budget

from bench.aws import (
    VCPU_MB,
    Cost,
    Environment,
    Latencies,
    Limits,
    Measured,
    Model,
    Outcome,
    Prices,
    Settings,
    Simulation,
    TokenBucket,
    Usage,
    binding_limit,
    choose,
    compute_seconds,
    cost,
    requests_per_invocation,
    simulate,
)

FIGURES = Measured(cpu_s_per_request={30: 0.5, 60: 1.0}, import_s=0.5, model_load_s=0.1, base_mb=100.0,
                   mb_per_request=10.0, parallel_share=0.5)
NO_LATENCY = Latencies(runtime_init_s=0, invoke_s=0, s3_small_s=0, s3_mb_s=0, dynamodb_s=0, kms_s=0, map_overhead_s=0,
                       manifest_cpu_per_request_s=0, merge_cpu_per_request_s=0)
ROOMY = Limits(partition_wru=1e9, table_wru=1e9, s3_get_per_prefix=1e9)
ONE_VCPU = VCPU_MB
SHARD_COLD_S = 0.5 + 0.1  # import + model load on one vCPU
SINGLE_COLD_S = 0.5 * VCPU_MB / 1024  # Prepare and Finalize: the import alone at 1,024 MB (0.58 vCPU)


def model(**limits: Any) -> Model:
    return Model(FIGURES, replace(ROOMY, **limits), latencies=NO_LATENCY)


def test_one_shard_on_one_environment() -> None:
    outcome = simulate(model(account_concurrency=1), Settings(4, ONE_VCPU, 1), callers=4)

    shard_s = SHARD_COLD_S + 4 * 1.0
    assert outcome.phases["map"] == pytest.approx(shard_s)
    assert outcome.wall_s == pytest.approx(SINGLE_COLD_S + shard_s + SINGLE_COLD_S)
    usage = outcome.usage
    assert usage.lambda_gb_s == pytest.approx(VCPU_MB / 1024 * shard_s + 2 * SINGLE_COLD_S)
    assert usage.invocations == 3
    assert usage.transitions == 3 + 2 + 2  # parent's states; child start + task; choice + pass
    assert usage.write_units == 4 * 6 + 3 + 2 + 2  # speakers; marker + job; Prepare; Finalize
    assert usage.read_units == 4 * 2 + 2 + 1 + 1 + 1  # speaker + domain; job twice; markers' Query; Prepare; Finalize
    assert (usage.s3_gets, usage.s3_puts, usage.kms_requests) == (4 + 1 + 1 + 1 + 2, 3 + 1 + 1, 1 + 1)
    assert (outcome.cold_starts, outcome.peak_concurrency, outcome.failed_requests) == (1, 1, 0)


@pytest.mark.parametrize(("max_concurrency", "account"), [(2, 1000), (1000, 2)])
def test_four_shards_two_at_a_time_reuse_warm_environments(max_concurrency: int, account: int) -> None:
    """Two cold waves would take 3.2 s; the second wave runs on the first's environments."""
    outcome = simulate(model(account_concurrency=account), Settings(1, ONE_VCPU, max_concurrency), callers=4)

    if account < max_concurrency:  # the Map outruns Lambda: two children are throttled and retried
        assert outcome.failed_requests == 0
        assert outcome.usage.transitions > 3 + 4 * 4
        return
    assert outcome.phases["map"] == pytest.approx((SHARD_COLD_S + 1.0) + 1.0)
    assert (outcome.cold_starts, outcome.peak_concurrency, outcome.usage.invocations) == (2, 2, 4 + 2)
    assert outcome.usage.transitions == 3 + 4 * 4


class FakeInvocation:
    """An invocation's clock and deadline, moved by hand."""

    def __init__(self, timeout: float) -> None:
        self.timeout, self.now = timeout, 0.0

    def remaining_seconds(self) -> float:
        return self.timeout - self.now

    def clock(self) -> float:
        return self.now


@pytest.mark.parametrize(("timeout", "request_s"), [(10.0, 1.0), (900.0, 0.5), (900.0, 7.3), (60.0, 0.41), (5.0, 9.0)])
def test_requests_per_invocation_follows_the_shard_processors_budget(timeout: float, request_s: float) -> None:
    """The closed form against the processor's own rule (domain/workflow/shards.py), run on a fake clock."""
    invocation = FakeInvocation(timeout)
    budget = _Budget(invocation, clock=invocation.clock)
    started = 0
    while started == 0 or budget.room_for_another():
        began = invocation.now
        invocation.now += request_s
        budget.timed(began)
        started += 1
    assert requests_per_invocation(timeout, request_s) == started


def test_requests_per_invocation_by_hand() -> None:
    assert requests_per_invocation(10.0, 1.0) == 7  # 10 - i > 1.5 (reserve) + 1.5 (slowest) for i = 0..6


def test_a_shard_longer_than_an_invocation_is_continued() -> None:
    outcome = simulate(model(function_timeout_s=10), Settings(10, ONE_VCPU, 1), callers=10)

    assert outcome.phases["map"] == pytest.approx(SHARD_COLD_S + 7 * 1.0 + 3 * 1.0)
    assert outcome.usage.invocations == 2 + 2
    assert outcome.usage.transitions == 3 + 2 + 2 + 2  # ... + ShardDone, EnrollShard again


def test_a_domain_partition_paces_the_writes() -> None:
    """100 speakers x 6 WRU through a 60 WRU/s partition with a second of burst: the writes end 9 s after compute."""
    outcome = simulate(model(partition_wru=60), Settings(100, ONE_VCPU, 1), callers=100)

    assert outcome.phases["map"] == pytest.approx(SHARD_COLD_S + 100 * 1.0 + (600 - 60) / 60)
    assert outcome.failed_requests == 0


def test_writes_queued_past_the_sdk_retries_fail() -> None:
    """Each of 10 writes of 6 WRU waits about 60 s for a 0.1 WRU/s partition: past botocore's 25.6 s of retries."""
    outcome = simulate(model(partition_wru=0.1), Settings(10, ONE_VCPU, 1), callers=10)

    assert outcome.failed_requests == 10
    assert not outcome.feasible


def test_a_child_throttled_past_its_retries_fails_its_shard() -> None:
    """Retries wait at most 2 + 4 + 8 + 16 + 32 + 60 s; the one environment is busy for 200 s."""
    outcome = simulate(model(account_concurrency=1), Settings(200, ONE_VCPU, 2), callers=400)

    assert outcome.failed_requests == 200
    assert outcome.usage.transitions == 3 + 2 * 2 + 2 + 6  # the first child, the second's start and 6 retries


def test_token_bucket_queues_its_callers() -> None:
    bucket = TokenBucket(rate=10, burst=10)
    assert bucket.take(0, 30) == pytest.approx(2.0)  # 10 at once, 20 more at 10/s
    assert bucket.take(0, 10) == pytest.approx(3.0)  # behind the first caller
    assert bucket.take(100, 10) == 0.0  # refilled (to its burst, no more)
    assert not bucket.try_take(100)


def test_a_data_key_serves_an_environment_a_minute() -> None:
    simulation = Simulation(model(), Settings(1, ONE_VCPU, 1), callers=1)
    env = Environment()
    assert simulation._data_keys(env, 0.0, 130.0) == 3  # at 0, 60 and 120
    assert simulation._data_keys(env, 130.0, 150.0) == 0  # the key made at 120 still serves
    assert simulation._data_keys(env, 200.0, 210.0) == 1


def test_compute_scales_with_memory() -> None:
    assert compute_seconds(1.0, 2 * VCPU_MB, 0.5) == pytest.approx(0.5 + 0.25)  # serial half on one of two vCPUs
    assert compute_seconds(1.0, VCPU_MB // 2, 0.5) == pytest.approx(1.0 / (VCPU_MB // 2 / VCPU_MB))


def test_cost_of_known_usage() -> None:
    usage = Usage(lambda_gb_s=1000, invocations=1_000_000, transitions=1000, read_units=1e6, write_units=1e6,
                  s3_puts=1000, s3_gets=1000, kms_requests=10_000)
    c = cost(usage, Prices())

    assert c.lambda_arm64 == pytest.approx(1000 * 0.0000133334 + 0.20)
    assert c.lambda_x86 == pytest.approx(1000 * 0.0000166667 + 0.20)
    assert c.step_functions == pytest.approx(0.025)
    assert c.dynamodb == pytest.approx(0.625 + 0.125)
    assert c.s3 == pytest.approx(0.005 + 0.0004)
    assert c.kms == pytest.approx(0.03)
    assert c.total == pytest.approx(0.2133334 + 0.025 + 0.75 + 0.0054 + 0.03)
    assert c.per_thousand(10_000).total == pytest.approx(c.total / 10)


def _outcome(wall_s: float, total: float, failed: int = 0) -> Outcome:
    return Outcome(Settings(1, ONE_VCPU, 1), 1000, wall_s, {}, Usage(), Cost(total, total, 0, 0, 0, 0), failed, 1, 1,
                   1, 0.0)


def test_best_is_the_cheapest_near_the_fastest_that_completes() -> None:
    fastest_but_failing = _outcome(50, 0.01, failed=1)
    fastest, near_and_cheap, slow_and_cheapest = _outcome(100, 0.05), _outcome(109, 0.03), _outcome(200, 0.01)

    assert choose([fastest_but_failing, fastest, near_and_cheap, slow_and_cheapest]) is near_and_cheap
    assert choose([fastest_but_failing]) is None


def test_binding_limit_names_the_cap_that_queued_the_shards() -> None:
    queued = model()
    assert binding_limit(queued, simulate(queued, Settings(1, ONE_VCPU, 1), callers=10)).startswith("MaxConcurrency 1 ")
    one_wave = simulate(queued, Settings(1, ONE_VCPU, 10), callers=10)
    assert binding_limit(queued, one_wave) == "none: one wave of shards"
    too_big = simulate(queued, Settings(200, ONE_VCPU, 1), callers=200)  # 100 MB + 200 x 10 MB
    assert binding_limit(queued, too_big).startswith("memory")
    assert not too_big.feasible
