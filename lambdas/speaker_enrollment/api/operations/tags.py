"""TagResource, UntagResource, ListTagsForResource: the resources are domains, named by their ARN."""

from __future__ import annotations

from typing import Any

from ...domain.admin.errors import ResourceKind, ResourceNotFoundError
from ..services import ApiServices


def tag_resource(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    tags = [(tag["Key"], tag["Value"]) for tag in params["Tags"]]
    services.domain_admin.tag(_domain_id(services, params["ResourceArn"]), tags)
    return {}


def untag_resource(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    services.domain_admin.untag(_domain_id(services, params["ResourceArn"]), params["TagKeys"])
    return {}


def list_tags_for_resource(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(_domain_id(services, params["ResourceArn"]))
    return {"Tags": [{"Key": key, "Value": value} for key, value in domain.tags]}


def _domain_id(services: ApiServices, arn: str) -> str:
    domain_id = services.deployment.domain_id_of(arn)
    if domain_id is None:
        raise ResourceNotFoundError(
            ResourceKind.DOMAIN, f"'{arn}' is not a domain of this service (partition "
                                 f"{services.deployment.partition}, region {services.deployment.region}, account "
                                 f"{services.deployment.account})")
    return domain_id


OPERATIONS = {
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
