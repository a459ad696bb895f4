"""The shard processor every job kind shares: replay what an earlier attempt decided, gather speech into one
pool (with less speech than the kind needs, the kind decides), screen against the watchlist (read once per
invocation), write; the kind's ``ShardRules`` supply the decisions. Results come back in request order, one per request.

A shard runs inside one Lambda invocation, whose time is limited: before each request the processor checks that
the slowest request so far (with a margin) and a reserve for the final writes still fit, and otherwise stops; the
requests from there on are left to a continuation (another invocation). A request that cannot be finished even
by an invocation of its own is refused with a 500 that says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from ...voiceprint.engine import Voiceprint
from ..ports import Embedder, SpeechPool
from ..shared.errors import KeyUnusableError
from .fraud import FraudScreen
from .manifest import ManifestRequest
from .results import JobResult, RequestError
from .speech import NotEnoughSpeech, OutOfTime, SpeechGathering

RequestT = TypeVar("RequestT", bound=ManifestRequest)
RequestT_contra = TypeVar("RequestT_contra", bound=ManifestRequest, contravariant=True)
SLOWEST_MARGIN = 1.5  # the next request is assumed to take up to 1.5 × the slowest one so far
RESERVE_SHARE = 0.15  # of the time an invocation starts with, kept for the last voiceprints and the writes
MAX_RESERVE_SECONDS = 30.0


class ShardRules(Protocol, Generic[RequestT_contra]):
    """A job kind's decisions for the requests of one shard."""

    def decided(self, request: RequestT_contra) -> JobResult | None:
        """The result when no voiceprint is needed: what an earlier attempt of this request wrote (so a retried
        shard reports the same and writes nothing twice), or what the stored state decides without audio."""
        ...

    def not_enough_speech(self, request: RequestT_contra, shortfall: NotEnoughSpeech) -> JobResult:
        """The result of a request with less net speech than the kind needs (enrollment: the 400 refusal)."""
        ...

    def screen(self) -> FraudScreen | None:
        """The watchlist to compare voiceprints with (read once per shard, only when a voiceprint is made)."""
        ...

    def write(self, request: RequestT_contra, voiceprint: Voiceprint, screen: FraudScreen | None) -> JobResult:
        """Decide with the voiceprint (and the screen) and write what the request makes."""
        ...


class Deadline(Protocol):
    def remaining_seconds(self) -> float:
        """Seconds left before the invocation is stopped."""
        ...


class NoDeadline:
    def remaining_seconds(self) -> float:
        return float("inf")


@dataclass(frozen=True)
class Segment:
    """What one invocation did: results for ``requests[start:stop]``; a continuation starts at `stop`."""

    start: int
    stop: int
    results: list[JobResult]

    def done(self, total: int) -> bool:
        return self.stop >= total


@dataclass
class _Budget:
    deadline: Deadline
    clock: Callable[[], float] = time.monotonic
    initial: float = field(init=False)
    reserve: float = field(init=False)
    slowest: float = 0.0

    def __post_init__(self) -> None:
        self.initial = self.deadline.remaining_seconds()
        self.reserve = min(MAX_RESERVE_SECONDS, RESERVE_SHARE * self.initial)

    def room_for_another(self) -> bool:
        return self.deadline.remaining_seconds() > self.reserve + SLOWEST_MARGIN * self.slowest

    def room_for_a_file(self) -> bool:
        return self.deadline.remaining_seconds() > self.reserve

    def timed(self, started: float) -> None:
        self.slowest = max(self.slowest, self.clock() - started)


@dataclass(frozen=True)
class ShardProcessor:
    embedder: Embedder
    speech: SpeechGathering

    def run(self, rules: ShardRules[RequestT], requests: Sequence[RequestT], start: int = 0,
            deadline: Deadline | None = None) -> Segment:
        """Process ``requests[start:]`` until done or out of time."""
        budget = _Budget(deadline or NoDeadline())
        results: dict[int, JobResult] = {}
        pending: list[int] = []
        pool = self.embedder.pool()
        stop = len(requests)
        for index in range(start, len(requests)):
            if index > start and not budget.room_for_another():
                stop = index
                break
            began = budget.clock()
            try:
                outcome = rules.decided(requests[index]) or self.speech.gather(
                    index, requests[index], pool, lambda: not budget.room_for_a_file())
                if isinstance(outcome, NotEnoughSpeech):
                    outcome = rules.not_enough_speech(requests[index], outcome)
            except OutOfTime as out:
                if index > start:  # a continuation gets the whole invocation for it
                    stop = index
                    break
                outcome = _too_long(requests[index], out, budget.initial)
            except KeyUnusableError as refused:
                outcome = key_refused(requests[index], refused)
            budget.timed(began)
            if outcome is None:
                pending.append(index)
            else:
                results[index] = outcome
        if pending:
            self._write(rules, requests, pending, pool, results)
        return Segment(start, stop, [results[i] for i in range(start, stop)])

    @staticmethod
    def _write(rules: ShardRules[RequestT], requests: Sequence[RequestT], pending: list[int], pool: SpeechPool,
               results: dict[int, JobResult]) -> None:
        try:
            screen = rules.screen()
        except KeyUnusableError as refused:  # the watchlist's voiceprints cannot be read: nothing is written
            results.update((index, key_refused(requests[index], refused)) for index in pending)
            return
        for index in pending:
            try:
                results[index] = rules.write(requests[index], pool.voiceprint(index), screen)
            except KeyUnusableError as refused:
                results[index] = key_refused(requests[index], refused)



def key_refused(request: ManifestRequest, refused: KeyUnusableError) -> RequestError:
    """The 403 entry of a request whose domain's key refused: nothing of it was written (and nothing in plaintext)."""
    return RequestError(request.request_id, 403, f"{refused}; this request wrote nothing")


def _too_long(request: ManifestRequest, out: OutOfTime, seconds: float) -> RequestError:
    return RequestError(
        request.request_id, 500,
        f"The request's audio takes longer to process than one shard invocation ({seconds:.0f} s) allows: stopped "
        f"after {out.files_read} of {len(request.audio)} file(s); split its recordings over fewer or shorter files "
        "or raise the shard function's timeout; the speaker was not enrolled by this request",
    )
