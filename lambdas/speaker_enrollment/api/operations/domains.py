"""CreateDomain (with its default watchlist), DescribeDomain, ListDomains, UpdateDomain, DeleteDomain."""

from __future__ import annotations

import uuid
from typing import Any

from ...domain.admin.domains import DomainRequest
from ...domain.shared.domain import Domain
from ..services import ApiServices
from .paging import listing


def create_domain(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    request = DomainRequest(
        name=params["Name"], kms_key_id=params["ServerSideEncryptionConfiguration"]["KmsKeyId"],
        client_token=params.get("ClientToken") or str(uuid.uuid4()), description=params.get("Description"),
        tags=tuple((tag["Key"], tag["Value"]) for tag in params.get("Tags", [])),
    )
    return _domain(services, services.domain_admin.create(request))


def describe_domain(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    return _domain(services, services.domain_admin.describe(params["DomainId"]))


def list_domains(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    items, token = listing(services, "ListDomains", params, services.domain_admin.page)
    return {"DomainSummaries": [domain.to_api(services.deployment) for domain in items], "NextToken": token}


def update_domain(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    """Every attribute is replaced: an omitted Description is removed, as in Voice ID."""
    domain = services.domain_admin.update(
        params["DomainId"], params["Name"], params.get("Description"),
        params["ServerSideEncryptionConfiguration"]["KmsKeyId"],
    )
    return _domain(services, domain)


def delete_domain(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    services.domain_admin.delete(params["DomainId"])
    return {}


def _domain(services: ApiServices, domain: Domain) -> dict[str, Any]:
    return {"Domain": domain.to_api(services.deployment)}


OPERATIONS = {
    "CreateDomain": create_domain,
    "DescribeDomain": describe_domain,
    "ListDomains": list_domains,
    "UpdateDomain": update_domain,
    "DeleteDomain": delete_domain,
}
