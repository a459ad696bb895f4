"""The fraudster record: a voiceprint kept to catch a known fraudster's voice, in one or more watchlists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Fraudster:
    domain_id: str
    generated_fraudster_id: str
    watchlist_ids: frozenset[str]
    created_at: float
    voiceprint: Sequence[float] = ()  # as read from the store, a LazyVoiceprint: opened only where it is used
    model_id: str | None = None
    version: int = 0  # optimistic lock: every write bumps it
    registered_by: str | None = None  # "<JobId>/<RequestId>" of the registration job request that created it
    registration_score: int | None = None  # its FraudsterSimilarityScore when that request registered it

    def to_api(self) -> dict[str, Any]:
        """Voice ID's Fraudster (and FraudsterSummary) shape."""
        return {"DomainId": self.domain_id, "GeneratedFraudsterId": self.generated_fraudster_id,
                "WatchlistIds": sorted(self.watchlist_ids), "CreatedAt": self.created_at}

    def with_watchlists(self, watchlist_ids: frozenset[str]) -> Fraudster:
        return replace(self, watchlist_ids=watchlist_ids, version=self.version + 1)
