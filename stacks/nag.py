"""cdk-nag 3.x acknowledgements: every suppressed finding carries a reason specific to it."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope`` and below."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_wildcard(scope: IConstruct, target: str, reason: str) -> None:
    """Acknowledge one IAM5 wildcard finding; ``target`` is e.g. ``Resource::*`` or ``Action::kms:ReEncrypt*``."""
    acknowledge(scope, f"AwsSolutions-IAM5[{target}]", reason)


def logical_id(resource: IConstruct) -> str:
    """The CloudFormation logical id of an L2 construct's main resource, as cdk-nag names it in findings."""
    default_child = resource.node.default_child
    if not isinstance(default_child, CfnElement):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource")
    return str(Stack.of(resource).resolve(default_child.logical_id))
