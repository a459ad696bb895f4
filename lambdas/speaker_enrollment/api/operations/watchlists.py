"""CreateWatchlist, DescribeWatchlist, ListWatchlists, UpdateWatchlist, DeleteWatchlist. The default watchlist
(made with the domain) cannot be updated or deleted; a watchlist with fraudsters cannot be deleted."""

from __future__ import annotations

import uuid
from typing import Any

from ...domain.shared.watchlist import Watchlist, WatchlistRequest
from ..services import ApiServices
from .paging import listing


def create_watchlist(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.active(params["DomainId"])
    request = WatchlistRequest(domain.domain_id, params["Name"], params.get("ClientToken") or str(uuid.uuid4()),
                               params.get("Description"))
    return _watchlist(services.watchlist_admin.create(request))


def describe_watchlist(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    return _watchlist(services.watchlist_admin.describe(domain.domain_id, params["WatchlistId"]))


def list_watchlists(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    items, token = listing(services, "ListWatchlists", params,
                           lambda limit, after: services.watchlist_admin.page(domain.domain_id, limit, after))
    return {"WatchlistSummaries": [watchlist.to_api() for watchlist in items], "NextToken": token}


def update_watchlist(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    """An omitted Name or Description keeps its value."""
    domain = services.domain_admin.describe(params["DomainId"])
    return _watchlist(services.watchlist_admin.update(domain.domain_id, params["WatchlistId"], params.get("Name"),
                                                      params.get("Description")))


def delete_watchlist(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    services.watchlist_admin.delete(domain.domain_id, params["WatchlistId"])
    return {}


def _watchlist(watchlist: Watchlist) -> dict[str, Any]:
    return {"Watchlist": watchlist.to_api()}


OPERATIONS = {
    "CreateWatchlist": create_watchlist,
    "DescribeWatchlist": describe_watchlist,
    "ListWatchlists": list_watchlists,
    "UpdateWatchlist": update_watchlist,
    "DeleteWatchlist": delete_watchlist,
}
