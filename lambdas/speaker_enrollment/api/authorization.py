"""Who may call what: every operation is Voice ID's IAM action ``voiceid:<Operation>`` on the resource Voice ID
used, evaluated for the calling principal before anything is read or written.

The permissions a request needs are derived from the operation's model and the request alone, so an operation
added to the shipped model (its ``*.sdk-extras.json``) is authorized like every other without a line here:

- ``voiceid:<Operation>`` on ``arn:<partition>:voiceid:<region>:<account>:domain/<DomainId>`` when the request
  names a domain (``DomainId``), on the ``ResourceArn`` it names (TagResource, UntagResource,
  ListTagsForResource), else on ``*`` (CreateDomain, ListDomains: Voice ID's Service Authorization Reference
  gives them no resource type). Tags in the request are the context keys ``aws:RequestTag/<key>`` and
  ``aws:TagKeys``, as Voice ID documented for CreateDomain and TagResource.
- ``iam:PassRole`` on every ``DataAccessRoleArn`` the request carries (any job kind's Start), with
  ``iam:PassedToService`` = ``voiceid.amazonaws.com``: the role is handed to the service, which assumes it.

A ``PolicySimulator`` (``iam:SimulatePrincipalPolicy`` in AWS, the emulated IAM locally) decides; decisions are
cached for ``ttl`` seconds (IAM's API rate limits are low), so a revoked permission keeps working up to that long.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.model import OperationModel, Shape

from ..domain.ports import PolicySimulator
from ..domain.shared.domain import Deployment
from .errors import AccessDeniedException

SERVICE_PREFIX = "voiceid"
PASSED_TO_SERVICE = "voiceid.amazonaws.com"  # the service principal DataAccessRole trust policies name
ROLE_MEMBER = "DataAccessRoleArn"
DOMAIN_MEMBER = "DomainId"
RESOURCE_MEMBER = "ResourceArn"
ALL_RESOURCES = "*"
DECISION_TTL_SECONDS = 60.0
DECISION_CACHE_SIZE = 4096

Context = tuple[tuple[str, tuple[str, ...]], ...]  # (condition key, values), sorted: hashable for the cache


@dataclass(frozen=True)
class Permission:
    """One IAM action on one resource, with the request's condition context."""

    action: str
    resource: str
    context: Context = ()

    def describe(self) -> str:
        return f"{self.action} on {self.resource}"


def required_permissions(operation: OperationModel, params: Mapping[str, Any],
                         deployment: Deployment) -> tuple[Permission, ...]:
    """What a validated request of `operation` needs, from the model's members: never a list of operations."""
    members = operation.input_shape.members if operation.input_shape is not None else {}
    if DOMAIN_MEMBER in members and isinstance(params.get(DOMAIN_MEMBER), str):
        resource = deployment.domain_arn(params[DOMAIN_MEMBER])
    elif RESOURCE_MEMBER in members and isinstance(params.get(RESOURCE_MEMBER), str):
        resource = params[RESOURCE_MEMBER]
    else:
        resource = ALL_RESOURCES
    needed = [Permission(f"{SERVICE_PREFIX}:{operation.name}", resource, _tag_context(params))]
    needed += [Permission("iam:PassRole", role, (("iam:PassedToService", (PASSED_TO_SERVICE,)),))
               for role in sorted(set(_passed_roles(operation.input_shape, params)))]
    return tuple(needed)


def _tag_context(params: Mapping[str, Any]) -> Context:
    """``aws:RequestTag/<key>`` and ``aws:TagKeys`` of the request's ``Tags`` (and UntagResource's ``TagKeys``)."""
    tags = [tag for tag in params.get("Tags") or () if isinstance(tag, dict)]
    keys = [str(tag.get("Key")) for tag in tags] + [str(key) for key in params.get("TagKeys") or ()]
    context: dict[str, tuple[str, ...]] = {f"aws:RequestTag/{tag.get('Key')}": (str(tag.get("Value")),)
                                           for tag in tags}
    if keys:
        context["aws:TagKeys"] = tuple(sorted(set(keys)))
    return tuple(sorted(context.items()))


def _passed_roles(shape: Shape | None, value: Any) -> Iterator[str]:
    """Every ``DataAccessRoleArn`` in the request, at any depth of its structures."""
    if shape is None or shape.type_name != "structure" or not isinstance(value, dict):
        return
    for name, member in shape.members.items():
        if name not in value:
            continue
        if name == ROLE_MEMBER and isinstance(value[name], str):
            yield value[name]
        else:
            yield from _passed_roles(member, value[name])


class Authorizer(Protocol):
    def authorize(self, caller: str | None, operation: OperationModel, params: Mapping[str, Any]) -> None:
        """Return if `caller` (an IAM principal ARN) may make this request, else raise AccessDeniedException."""
        ...


class OpenAccess:
    """No authorization: the local runtime without ``--iam`` (chosen by the composition, never by a request)."""

    def authorize(self, caller: str | None, operation: OperationModel, params: Mapping[str, Any]) -> None:
        return None


class DecisionCache:
    """Bounded, time-limited memory of decisions: (principal, permission) → allowed, for `ttl` seconds; the oldest
    entry goes first when full. Thread-safe (the local runtime serves requests on threads)."""

    def __init__(self, ttl: float, max_size: int, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._clock = clock
        self._entries: OrderedDict[tuple[str, Permission], tuple[float, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, principal: str, permission: Permission) -> bool | None:
        key = (principal, permission)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, allowed = entry
            if self._clock() >= expires:
                del self._entries[key]
                return None
            return allowed

    def put(self, principal: str, permission: Permission, allowed: bool) -> None:
        key = (principal, permission)
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (self._clock() + self.ttl, allowed)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class IamAuthorizer:
    """Each permission the request needs, simulated for the caller's identity policies (cached)."""

    def __init__(self, simulator: PolicySimulator, deployment: Deployment, cache: DecisionCache) -> None:
        self._simulator = simulator
        self._deployment = deployment
        self._cache = cache

    def authorize(self, caller: str | None, operation: OperationModel, params: Mapping[str, Any]) -> None:
        if not caller:
            raise AccessDeniedException("The request carries no IAM identity; sign it with SigV4 (IAM auth)")
        for permission in required_permissions(operation, params, self._deployment):
            if not self._allowed(caller, permission):
                raise AccessDeniedException(f"User: {caller} is not authorized to perform: "
                                            f"{permission.describe()}")

    def _allowed(self, caller: str, permission: Permission) -> bool:
        allowed = self._cache.get(caller, permission)
        if allowed is None:
            allowed = self._simulator.allowed(caller, permission.action, permission.resource, dict(permission.context))
            self._cache.put(caller, permission, allowed)
        return allowed
