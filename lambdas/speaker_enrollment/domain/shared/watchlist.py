"""Watchlists of fraudsters. Every domain has a default one, made with the domain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from .ids import stable_id

DEFAULT_WATCHLIST_NAME = "Default"
DEFAULT_WATCHLIST_DESCRIPTION = "The domain's default watchlist"


@dataclass(frozen=True)
class Watchlist:
    domain_id: str
    watchlist_id: str
    name: str
    created_at: float
    updated_at: float
    description: str | None = None
    default: bool = False

    def to_api(self) -> dict[str, Any]:
        """Voice ID's Watchlist shape."""
        shape: dict[str, Any] = {
            "DomainId": self.domain_id, "WatchlistId": self.watchlist_id, "Name": self.name,
            "DefaultWatchlist": self.default, "CreatedAt": self.created_at, "UpdatedAt": self.updated_at,
        }
        if self.description:
            shape["Description"] = self.description
        return shape

    def renamed(self, name: str | None, description: str | None, now: float) -> Watchlist:
        """UpdateWatchlist: an omitted Name or Description keeps its value."""
        return replace(self, name=name or self.name, description=description or self.description, updated_at=now)


@dataclass(frozen=True)
class WatchlistRequest:
    """What CreateWatchlist carries; the WatchlistId derives from the domain and the ClientToken."""

    domain_id: str
    name: str
    client_token: str
    description: str | None = None

    @property
    def watchlist_id(self) -> str:
        return stable_id("voice-id-watchlist", self.domain_id, self.client_token)

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps([self.name, self.description]).encode()).hexdigest()

    def new_watchlist(self, now: float) -> Watchlist:
        return Watchlist(self.domain_id, self.watchlist_id, self.name, now, now, self.description)


def default_watchlist_id(domain_id: str) -> str:
    return stable_id("voice-id-default-watchlist", domain_id)


def default_watchlist(domain_id: str, now: float) -> Watchlist:
    return Watchlist(domain_id, default_watchlist_id(domain_id), DEFAULT_WATCHLIST_NAME, now, now,
                     DEFAULT_WATCHLIST_DESCRIPTION, default=True)
