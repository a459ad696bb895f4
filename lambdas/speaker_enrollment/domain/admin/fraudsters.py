"""Administering a domain's fraudsters: describe, list (optionally by watchlist), delete, and moving them
between watchlists. A fraudster is in at least one watchlist; a watchlist holds at most `quota` fraudsters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..ports import FraudsterStore, WatchlistStore
from ..shared.errors import FraudsterChangedError, QuotaExceededError, WatchlistGoneError
from ..shared.fraudster import Fraudster
from ..shared.paging import Page
from .errors import ConcurrentChangeError, LastWatchlistError, ResourceKind, ResourceNotFoundError
from .watchlists import watchlist_not_found

MAX_ATTEMPTS = 3
T = TypeVar("T")


@dataclass(frozen=True)
class FraudsterAdmin:
    fraudsters: FraudsterStore
    watchlists: WatchlistStore
    quota: int  # fraudsters per watchlist

    def describe(self, domain_id: str, fraudster_id: str) -> Fraudster:
        fraudster = self.fraudsters.get(domain_id, fraudster_id)
        if fraudster is None:
            raise ResourceNotFoundError(ResourceKind.FRAUDSTER, f"Fraudster '{fraudster_id}' does not exist in "
                                                                f"domain '{domain_id}'")
        return fraudster

    def page(self, domain_id: str, limit: int, after: str | None, watchlist_id: str | None) -> Page[Fraudster]:
        if watchlist_id is not None:
            self._watchlist(domain_id, watchlist_id)
        return self.fraudsters.page(domain_id, limit, after, watchlist_id)

    def delete(self, domain_id: str, fraudster_id: str) -> None:
        """Delete the fraudster and its voiceprint; it leaves every watchlist it was in."""
        self._retry(fraudster_id, lambda: self.fraudsters.delete(self.describe(domain_id, fraudster_id)))

    def associate(self, domain_id: str, fraudster_id: str, watchlist_id: str) -> Fraudster:
        self._watchlist(domain_id, watchlist_id)
        return self._move(domain_id, fraudster_id, watchlist_id, lambda ids: ids | {watchlist_id})

    def disassociate(self, domain_id: str, fraudster_id: str, watchlist_id: str) -> Fraudster:
        self._watchlist(domain_id, watchlist_id)
        return self._move(domain_id, fraudster_id, watchlist_id, lambda ids: ids - {watchlist_id})

    def _move(self, domain_id: str, fraudster_id: str, watchlist_id: str,
              change: Callable[[frozenset[str]], frozenset[str]]) -> Fraudster:
        def once() -> Fraudster:
            current = self.describe(domain_id, fraudster_id)
            watchlist_ids = change(current.watchlist_ids)
            if watchlist_ids == current.watchlist_ids:
                return current
            if not watchlist_ids:
                raise LastWatchlistError(f"Fraudster '{fraudster_id}' must belong to at least one watchlist: "
                                         f"'{watchlist_id}' is its only one")
            updated = current.with_watchlists(watchlist_ids)
            self.fraudsters.replace(updated, current, self.quota)
            return updated

        try:
            return self._retry(fraudster_id, once)
        except QuotaExceededError:
            raise QuotaExceededError(f"Watchlist '{watchlist_id}' already has its quota of {self.quota:,} "
                                     "fraudsters") from None
        except WatchlistGoneError:
            raise watchlist_not_found(domain_id, watchlist_id) from None

    def _watchlist(self, domain_id: str, watchlist_id: str) -> None:
        if self.watchlists.get(domain_id, watchlist_id) is None:
            raise watchlist_not_found(domain_id, watchlist_id)

    @staticmethod
    def _retry(fraudster_id: str, attempt: Callable[[], T]) -> T:
        for _ in range(MAX_ATTEMPTS):
            try:
                return attempt()
            except FraudsterChangedError:
                continue
        raise ConcurrentChangeError(f"Fraudster '{fraudster_id}' kept changing concurrently; retry")
