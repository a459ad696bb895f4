"""Administering a domain's watchlists: create (idempotent per ClientToken), describe, list, update, delete.

The default watchlist, made with the domain, is never updated or deleted; a domain has at most
`watchlist_quota` watchlists (its default one included); a watchlist with fraudsters cannot be deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..ports import WatchlistRegistry
from ..shared.errors import ClientTokenReusedError, QuotaExceededError, WatchlistGoneError, WatchlistNotEmptyError
from ..shared.paging import Page
from ..shared.watchlist import Watchlist, WatchlistRequest
from .errors import InvalidRequestError, ResourceKind, ResourceNotFoundError


@dataclass(frozen=True)
class WatchlistAdmin:
    watchlists: WatchlistRegistry
    clock: Callable[[], float]
    quota: int  # watchlists per domain, the default one included

    def create(self, request: WatchlistRequest) -> Watchlist:
        watchlist = request.new_watchlist(self.clock())
        try:
            created = self.watchlists.create(watchlist, request.fingerprint(), self.quota)
        except QuotaExceededError:
            raise QuotaExceededError(f"Domain '{request.domain_id}' already has its quota of {self.quota} "
                                     "watchlists (the default watchlist included)") from None
        if created:
            return watchlist
        if self.watchlists.request_hash(request.domain_id, watchlist.watchlist_id) != request.fingerprint():
            raise ClientTokenReusedError(f"ClientToken '{request.client_token}' was already used for a different "
                                         f"request (watchlist {watchlist.watchlist_id})")
        return self.describe(request.domain_id, watchlist.watchlist_id)

    def describe(self, domain_id: str, watchlist_id: str) -> Watchlist:
        watchlist = self.watchlists.get(domain_id, watchlist_id)
        if watchlist is None:
            raise watchlist_not_found(domain_id, watchlist_id)
        return watchlist

    def page(self, domain_id: str, limit: int, after: str | None) -> Page[Watchlist]:
        return self.watchlists.page(domain_id, limit, after)

    def update(self, domain_id: str, watchlist_id: str, name: str | None, description: str | None) -> Watchlist:
        updated = self._not_default(self.describe(domain_id, watchlist_id), "updated").renamed(
            name, description, self.clock())
        try:
            self.watchlists.update(updated)
        except WatchlistGoneError:
            raise watchlist_not_found(domain_id, watchlist_id) from None
        return updated

    def delete(self, domain_id: str, watchlist_id: str) -> None:
        watchlist = self._not_default(self.describe(domain_id, watchlist_id), "deleted")
        try:
            self.watchlists.delete(watchlist)
        except WatchlistGoneError:
            raise watchlist_not_found(domain_id, watchlist_id) from None
        except WatchlistNotEmptyError:
            raise WatchlistNotEmptyError(f"Watchlist '{watchlist_id}' still has fraudsters: disassociate or delete "
                                         "them first") from None

    @staticmethod
    def _not_default(watchlist: Watchlist, what: str) -> Watchlist:
        if watchlist.default:
            raise InvalidRequestError(f"Watchlist '{watchlist.watchlist_id}' is the domain's default watchlist, "
                                      f"which cannot be {what}")
        return watchlist


def watchlist_not_found(domain_id: str, watchlist_id: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(ResourceKind.WATCHLIST, f"Watchlist '{watchlist_id}' does not exist in domain "
                                                         f"'{domain_id}'")
