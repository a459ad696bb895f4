"""The shard processor every job kind shares: replay what an earlier attempt decided, gather speech into one
pool, screen against the watchlist (read once per shard), write; the kind's ``ShardRules`` supply the
decisions. Results come back in request order, one per request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from ...voiceprint.engine import Voiceprint
from ..ports import Embedder
from .fraud import FraudScreen
from .manifest import ManifestRequest
from .results import JobResult
from .speech import SpeechGathering

RequestT = TypeVar("RequestT", bound=ManifestRequest)
RequestT_contra = TypeVar("RequestT_contra", bound=ManifestRequest, contravariant=True)


class ShardRules(Protocol, Generic[RequestT_contra]):
    """A job kind's decisions for the requests of one shard."""

    def decided(self, request: RequestT_contra) -> JobResult | None:
        """The result when no voiceprint is needed: what an earlier attempt of this request wrote (so a retried
        shard reports the same and writes nothing twice), or what the stored state decides without audio."""
        ...

    def screen(self) -> FraudScreen | None:
        """The watchlist to compare voiceprints with (read once per shard, only when a voiceprint is made)."""
        ...

    def write(self, request: RequestT_contra, voiceprint: Voiceprint, screen: FraudScreen | None) -> JobResult:
        """Decide with the voiceprint (and the screen) and write what the request makes."""
        ...


@dataclass(frozen=True)
class ShardProcessor:
    embedder: Embedder
    speech: SpeechGathering

    def run(self, rules: ShardRules[RequestT], requests: Sequence[RequestT]) -> list[JobResult]:
        results: dict[int, JobResult] = {}
        pending: list[int] = []
        pool = self.embedder.pool()
        for index, request in enumerate(requests):
            outcome = rules.decided(request) or self.speech.gather(index, request, pool)
            if outcome is None:
                pending.append(index)
            else:
                results[index] = outcome
        if pending:
            screen = rules.screen()
            for index in pending:
                results[index] = rules.write(requests[index], pool.voiceprint(index), screen)
        return [results[i] for i in range(len(requests))]
