"""DescribeFraudster, ListFraudsters (of the domain or of one watchlist), DeleteFraudster, AssociateFraudster,
DisassociateFraudster. Fraudsters are made by fraudster registration jobs; a fraudster is in at least one
watchlist."""

from __future__ import annotations

from typing import Any

from ..services import ApiServices
from .paging import listing


def describe_fraudster(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    return {"Fraudster": services.fraudster_admin.describe(domain.domain_id, params["FraudsterId"]).to_api()}


def list_fraudsters(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    watchlist_id = params.get("WatchlistId")
    items, token = listing(services, "ListFraudsters", params, lambda limit, after: services.fraudster_admin.page(
        domain.domain_id, limit, after, watchlist_id))
    return {"FraudsterSummaries": [fraudster.to_api() for fraudster in items], "NextToken": token}


def delete_fraudster(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    services.fraudster_admin.delete(domain.domain_id, params["FraudsterId"])
    return {}


def associate_fraudster(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    fraudster = services.fraudster_admin.associate(domain.domain_id, params["FraudsterId"], params["WatchlistId"])
    return {"Fraudster": fraudster.to_api()}


def disassociate_fraudster(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    fraudster = services.fraudster_admin.disassociate(domain.domain_id, params["FraudsterId"], params["WatchlistId"])
    return {"Fraudster": fraudster.to_api()}


OPERATIONS = {
    "DescribeFraudster": describe_fraudster,
    "ListFraudsters": list_fraudsters,
    "DeleteFraudster": delete_fraudster,
    "AssociateFraudster": associate_fraudster,
    "DisassociateFraudster": disassociate_fraudster,
}
