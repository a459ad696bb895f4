"""IAM's decision for a caller: ``iam:SimulatePrincipalPolicy`` (identity-based policies and the permission
boundary of a user or role; not SCPs, resource policies or session policies)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..domain.shared.patterns import whole

if TYPE_CHECKING:  # the stubs are dev-only: the Lambda runtime never imports them
    from mypy_boto3_iam.client import IAMClient
    from mypy_boto3_iam.type_defs import ContextEntryTypeDef

# An assumed role arrives as its session, without the role's path: arn:aws:sts::<acct>:assumed-role/<name>/<session>
ASSUMED_ROLE = whole(r"arn:(?P<partition>[^:]+):sts::(?P<account>[0-9]{12}):assumed-role/(?P<name>[^/]+)/.+")
ACCOUNT_ROOT = whole(r"arn:[^:]+:iam::[0-9]{12}:root")
ALLOWED = "allowed"
ALL_RESOURCES = "*"
UNKNOWN_PRINCIPAL = frozenset({"NoSuchEntity", "InvalidInput"})
MULTI_VALUED_KEYS = frozenset({"aws:TagKeys"})


class IamPolicySimulator:
    """``PolicySimulator`` on IAM. A session of an assumed role is simulated as its role, whose ARN (with its path)
    comes from ``iam:GetRole`` by name, remembered for the life of the container (a role's path never changes)."""

    def __init__(self, client: IAMClient) -> None:
        self._client = client
        self._roles: dict[str, str] = {}
        self._lock = threading.Lock()

    def allowed(self, principal_arn: str, action: str, resource: str,
                context: Mapping[str, Sequence[str]]) -> bool:
        """A principal IAM does not know (deleted since it signed, a role gone) or cannot simulate (a federated
        user) is denied; the account's root user is allowed everything, as IAM allows it."""
        if ACCOUNT_ROOT.fullmatch(principal_arn):
            return True
        try:
            entries = [_context_entry(key, values) for key, values in context.items()]
            source = self.policy_source(principal_arn)
            if resource == ALL_RESOURCES:  # IAM's default: the action on every resource
                response = self._client.simulate_principal_policy(
                    PolicySourceArn=source, ActionNames=[action], ContextEntries=entries)
            else:
                response = self._client.simulate_principal_policy(
                    PolicySourceArn=source, ActionNames=[action], ResourceArns=[resource], ContextEntries=entries)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in UNKNOWN_PRINCIPAL:
                return False
            raise
        results = response["EvaluationResults"]
        return bool(results) and all(result["EvalDecision"] == ALLOWED for result in results)

    def policy_source(self, principal_arn: str) -> str:
        """The user or role whose policies apply to `principal_arn`."""
        match = ASSUMED_ROLE.fullmatch(principal_arn)
        if match is None:
            return principal_arn
        name = match["name"]
        with self._lock:
            known = self._roles.get(name)
        if known is None:
            known = self._client.get_role(RoleName=name)["Role"]["Arn"]
            with self._lock:
                self._roles[name] = known
        return known


def _context_entry(key: str, values: Sequence[str]) -> ContextEntryTypeDef:
    return {"ContextKeyName": key, "ContextKeyValues": list(values),
            "ContextKeyType": "stringList" if key in MULTI_VALUED_KEYS or len(values) > 1 else "string"}
