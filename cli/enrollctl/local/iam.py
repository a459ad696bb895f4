"""IAM in the local runtime (``enrollctl serve --iam``): identities, signatures and policies, as in AWS.

- ``LocalIam.start`` creates the one administrator (an IAM user with an Allow ``*`` on ``*`` inline policy, the
  effect of AdministratorAccess) whose access key ``serve`` prints; every other identity is made through the
  emulated IAM API by that administrator.
- ``authenticate`` is what API Gateway's IAM auth does for the Voice ID API: the SigV4 signature is checked with
  moto's own code (``moto.iam.access_control``), and the access key names its IAM user (or assumed-role session),
  whose ARN is the caller the API authorizes.
- The API authorizes with the same ``IamAuthorizer`` and ``IamPolicySimulator`` adapter as in AWS: moto has no
  ``SimulatePrincipalPolicy``, so ``install`` teaches its IAM one, decided by moto's policy evaluation
  (``IAMPolicy``) over the principal's inline, attached and group policies and its permission boundary.
- moto's own IAM enforcement (``moto.core.authorization``) is switched on for the emulated services (S3, DynamoDB,
  KMS, IAM, STS, ...), for requests signed by IAM users' keys: the runtime's own identities (the functions'
  ``local`` key, the event bus's) and STS sessions (the functions' data access sessions among them) are not
  checked, because moto's evaluator would judge them by resources it does not name (``*`` for KMS).
- The functions' ``sts:AssumeRole`` of a job's DataAccessRoleArn is checked against their role's own policies
  from the template (mirrored into moto's IAM with the roles' tags by ``mirror_roles``), with the target role's
  tags as ``aws:ResourceTag/<key>``: a role that does not opt in is refused as AWS refuses it.

moto's evaluator knows ``StringEquals`` conditions only, and counts an Allow whose condition fails as a Deny. So the
conditions are resolved here first, failing closed: a statement whose condition moto cannot evaluate (another
operator, or a key the request does not carry) never allows, and always denies; one whose condition moto finds
false is left out; one whose condition holds is kept without it. ``NotResource`` and ``NotPrincipal`` are not
evaluated by moto: a statement with them never allows and always denies.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from botocore import handlers
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.responses import ActionResult
from moto.iam.access_control import IAMPolicy, IAMRequest, PermissionResult
from moto.iam.exceptions import IAMException, NoSuchEntity, NotFoundException
from moto.iam.models import IAMBackend, Policy, iam_backends
from moto.iam.policy_conditions import CONDITION_OPERATIONS, TrustCondition
from moto.iam.responses import IamResponse

from enrollctl.local import invocations
from enrollctl.local.fault_responses import response
from enrollctl.local.resources import Clients
from enrollctl.local.stack import ROLE_TYPE, LocalStack
from enrollctl.local.template import UnresolvedReferenceError, resources_of_type

ADMIN_USER = "enrollctl-admin"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
SESSION_TOKEN_HEADER = "X-Amz-Security-Token"
ALLOWED, IMPLICIT_DENY, EXPLICIT_DENY = "allowed", "implicitDeny", "explicitDeny"
UNCHECKED_CONDITION_KEYS = ("NotResource", "NotPrincipal")
POLICY_TYPE = "AWS::IAM::Policy"
ASSUME_ROLE_EVENT = "before-send.sts.AssumeRole"
STS_ERROR = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
             "<Code>AccessDenied</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
             "</ErrorResponse>")


@dataclass(frozen=True)
class AdminKeys:
    access_key_id: str
    secret_access_key: str


class AuthenticationError(Exception):
    """The request's signature or key is not valid: API Gateway's 403 before the function runs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ------------------------------------------------------------------------------------------ evaluation


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, list[str]]) -> bool | None:
    """moto's verdict on a Condition block (True/False), or None where moto cannot evaluate it."""
    for operator, keys in condition.items():
        if operator not in CONDITION_OPERATIONS or not isinstance(keys, dict):
            return None
        for key, expected in keys.items():
            values = context.get(key)
            if not values or len(values) != 1:
                return None
            if not TrustCondition(operator, [expected], [key]).verify_condition(values):
                return False
    return True


def resolved(document: Mapping[str, Any], context: Mapping[str, list[str]]) -> dict[str, Any]:
    """`document` with its conditions decided for `context`, failing closed (see the module's docstring)."""
    kept = []
    for statement in _statements(document):
        deny = statement.get("Effect") == "Deny"
        unchecked = any(key in statement for key in UNCHECKED_CONDITION_KEYS)
        holds = _condition_holds(statement.get("Condition") or {}, context)
        if unchecked or holds is None:
            if deny:
                kept.append({key: value for key, value in statement.items()
                             if key not in ("Condition", *UNCHECKED_CONDITION_KEYS)} | {"Resource": "*"})
            continue
        if holds:
            kept.append({key: value for key, value in statement.items() if key != "Condition"})
    return {"Version": "2012-10-17", "Statement": kept}


def decide(documents: list[dict[str, Any]], boundary: dict[str, Any] | None, action: str, resource: str,
           context: Mapping[str, list[str]]) -> str:
    """IAM's decision (as SimulatePrincipalPolicy reports it) from identity policies and a permission boundary."""
    results = [IAMPolicy(json.dumps(resolved(document, context))).is_action_permitted(action, resource)
               for document in documents]
    if PermissionResult.DENIED in results:
        return EXPLICIT_DENY
    if PermissionResult.PERMITTED not in results:
        return IMPLICIT_DENY
    if boundary is not None:
        within = IAMPolicy(json.dumps(resolved(boundary, context))).is_action_permitted(action, resource)
        if within != PermissionResult.PERMITTED:
            return EXPLICIT_DENY if within == PermissionResult.DENIED else IMPLICIT_DENY
    return ALLOWED


def _document(policy: Any) -> dict[str, Any]:
    """An inline policy (JSON text or moto's dict) or a managed one (its default version) as a dict."""
    if isinstance(policy, Policy):
        version = next(v for v in policy.versions if v.is_default)
        return dict(json.loads(version.document))
    if isinstance(policy, dict):
        policy = policy["policy_document"]
    return dict(json.loads(policy))


def principal_policies(backend: IAMBackend, arn: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The identity policies of the user or role `arn` names (inline, attached, its groups'), and its permission
    boundary's, read from moto's IAM as moto's own ``collect_policies`` does."""
    kind, _, path_and_name = arn.split(":", 5)[5].partition("/")
    name = path_and_name.rsplit("/", 1)[-1]
    policies: list[Any] = []
    if kind == "user":
        principal: Any = backend.get_user(name)
        policies += [backend.get_user_policy(name, p) for p in backend.list_user_policies(name)]
        policies += list(backend.list_attached_user_policies(name)[0])
        for group in backend.get_groups_for_user(name):
            policies += [backend.get_group_policy(group.name, p) for p in backend.list_group_policies(group.name)]
            policies += list(backend.list_attached_group_policies(group.name)[0])
    elif kind == "role":
        principal = backend.get_role(name)
        policies += [backend.get_role_policy(name, p)[1] for p in backend.list_role_policies(name)]
        policies += list(backend.list_attached_role_policies(name)[0])
    else:
        raise ValueError(f"{arn} is not an IAM user or role")
    if principal.arn != arn:  # the ARN names the path too
        raise ValueError(f"{arn} does not exist")
    boundary_arn = getattr(principal, "permissions_boundary_arn", None)
    boundary = _document(backend.get_policy(boundary_arn)) if boundary_arn else None
    return [_document(policy) for policy in policies], boundary


def _members(params: Mapping[str, Any], name: str) -> list[Any]:
    value = params.get(name) or []
    return list(value) if isinstance(value, list) else [value]


def simulate_principal_policy(self: IamResponse) -> ActionResult:
    """moto's IAM answering ``SimulatePrincipalPolicy`` (installed on ``IamResponse`` by ``install``)."""
    source = self._get_param("PolicySourceArn")
    context = {str(entry["ContextKeyName"]): [str(v) for v in _members(entry, "ContextKeyValues")]
               for entry in _members(self._get_params(), "ContextEntries")}
    try:
        documents, boundary = principal_policies(self.backend, source)
    except (IAMException, ValueError):  # moto's NoSuchEntity for a name it lacks; ValueError for another path
        raise NoSuchEntity(f"PolicySourceArn {source} does not exist") from None
    results = [{"EvalActionName": action, "EvalResourceName": resource,
                "EvalDecision": decide(documents, boundary, action, resource, context)}
               for action in _members(self._get_params(), "ActionNames")
               for resource in _members(self._get_params(), "ResourceArns") or ["*"]]
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


# ---------------------------------------------------------------------------------------- enforcement


def _access_key(headers: Mapping[str, str]) -> str:
    authorization = headers.get("Authorization") or headers.get("authorization") or ""
    return authorization.partition("Credential=")[2].partition("/")[0]


class LocalIam:
    """While installed: moto answers SimulatePrincipalPolicy and enforces IAM for IAM users' requests."""

    _active: ClassVar[LocalIam | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, account: str, own_keys: tuple[str, ...]) -> None:
        self.account = account
        self.own_keys = frozenset(own_keys)
        self.admin: AdminKeys | None = None
        self.function_roles: dict[str, str] = {}  # function name → its role's ARN (``mirror_roles``)
        self._saved: tuple[Any, Any, int | float] | None = None

    def install(self) -> None:
        with LocalIam._lock:
            if LocalIam._active is not None:
                raise RuntimeError("local IAM is already installed in this process")
            LocalIam._active = self
            original = ActionAuthenticatorMixin._authenticate_and_authorize_action
            self._saved = (original, getattr(IamResponse, "simulate_principal_policy", None),
                           moto_settings.INITIAL_NO_AUTH_ACTION_COUNT)
            ActionAuthenticatorMixin._authenticate_and_authorize_action = _enforced(original)  # type: ignore[method-assign]
            IamResponse.simulate_principal_policy = simulate_principal_policy  # type: ignore[attr-defined]
            moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
            handlers.BUILTIN_HANDLERS.append(ASSUME_ROLE_HOOK)  # the sessions made from now on have it

    def uninstall(self) -> None:
        with LocalIam._lock:
            if LocalIam._active is not self or self._saved is None:
                return
            original, simulate, count = self._saved
            ActionAuthenticatorMixin._authenticate_and_authorize_action = original  # type: ignore[method-assign]
            if simulate is None:
                del IamResponse.simulate_principal_policy  # type: ignore[attr-defined]
            moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = count
            if ASSUME_ROLE_HOOK in handlers.BUILTIN_HANDLERS:
                handlers.BUILTIN_HANDLERS.remove(ASSUME_ROLE_HOOK)
            self._saved = None
            LocalIam._active = None

    def create_admin(self, clients: Clients) -> AdminKeys:
        iam = clients("iam")
        iam.create_user(UserName=ADMIN_USER)
        iam.put_user_policy(UserName=ADMIN_USER, PolicyName="AdministratorAccess",
                            PolicyDocument=json.dumps(ADMIN_POLICY))
        key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
        self.admin = AdminKeys(key["AccessKeyId"], key["SecretAccessKey"])
        return self.admin

    def mirror_roles(self, clients: Clients, template: dict[str, Any], stack: LocalStack) -> None:
        """The template's roles as IAM knows them in AWS: their tags, and each identity-policy statement whose
        resources resolve locally (those naming resources the runtime does not mirror, such as log groups, are
        left out)."""
        iam = clients("iam")
        for logical_id, role in resources_of_type(template, ROLE_TYPE):
            tags = role.get("Properties", {}).get("Tags") or []
            if tags and logical_id in stack.names.roles:
                iam.tag_role(RoleName=stack.names.roles[logical_id], Tags=stack.resolver.resolve(tags))
        for logical_id, policy in resources_of_type(template, POLICY_TYPE):
            props = policy.get("Properties", {})
            statements = []
            for statement in props.get("PolicyDocument", {}).get("Statement", []):
                try:
                    statements.append(stack.resolver.resolve(statement))
                except UnresolvedReferenceError:
                    continue
            for role in props.get("Roles", []):
                name = str(stack.resolver.resolve(role))
                iam.put_role_policy(RoleName=name, PolicyName=logical_id, PolicyDocument=json.dumps(
                    {"Version": "2012-10-17", "Statement": statements}))
        self.function_roles = {spec.name: spec.role_arn for spec in stack.functions}

    def function_may_assume(self, function_role_arn: str, role_arn: str) -> bool:
        """What IAM decides for a function's sts:AssumeRole: its role's policies, the target role's tags."""
        backend = iam_backends[self.account]["aws"]
        try:
            target = backend.get_role_by_arn(role_arn)
        except NotFoundException:  # AWS refuses an unknown role alike
            return False
        tags = backend.list_role_tags(target.name, None, 100)[0]
        context = {f"{prefix}:ResourceTag/{tag['Key']}": [tag["Value"]] for tag in tags for prefix in ("aws", "iam")}
        documents, boundary = principal_policies(backend, function_role_arn)
        return decide(documents, boundary, "sts:AssumeRole", role_arn, context) == ALLOWED

    def exempt(self, headers: Mapping[str, str]) -> bool:
        """The runtime's own identities and STS sessions are not checked by moto (see the module's docstring)."""
        return _access_key(headers) in self.own_keys or SESSION_TOKEN_HEADER in headers

    def authenticate(self, method: str, path: str, headers: Mapping[str, str], body: bytes, action: str) -> str:
        """The ARN of the principal that signed the request (API Gateway's ``userArn``); AuthenticationError if
        the signature is missing or wrong, or the key is unknown."""
        if not _access_key(headers):
            raise AuthenticationError("MissingAuthenticationTokenException", "Missing Authentication Token")
        if _access_key(headers) in self.own_keys:
            raise AuthenticationError("UnrecognizedClientException",
                                      "The security token included in the request is invalid.")
        try:
            request = IAMRequest(account_id=self.account, method=method, path=path, data={}, body=body,
                                 headers=dict(headers), action=action)
            request.check_signature()
        except Exception as error:  # moto's InvalidClientTokenId / SignatureDoesNotMatch (RESTError)
            code = getattr(error, "error_type", "") or type(error).__name__
            if "Signature" in code:
                raise AuthenticationError("InvalidSignatureException", "The request signature we calculated does "
                                          "not match the signature you provided.") from None
            raise AuthenticationError("UnrecognizedClientException",
                                      "The security token included in the request is invalid.") from None
        return str(request._access_key.arn)


def _check_function_assume_role(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
    """botocore ``before-send`` of sts:AssumeRole: a function (an invocation runs in this thread) may assume only
    what its role's policies allow; refused as STS refuses (403 AccessDenied), without sending."""
    local, invocation = LocalIam._active, invocations.current()
    if local is None or invocation is None:
        return None
    function_role = local.function_roles.get(invocation.function_name)
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
    role_arn = (parse_qs(body).get("RoleArn") or [""])[0]
    if function_role is None or local.function_may_assume(function_role, role_arn):
        return None
    session = function_role.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")
    caller = f"{session}/{invocation.function_name}"
    message = f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    body_out = STS_ERROR.format(message=escape(message), request_id=uuid.uuid4())
    return response(request.url, 403, {"Content-Type": "text/xml"}, body_out.encode())


ASSUME_ROLE_HOOK: tuple[str, Callable[..., Any]] = (ASSUME_ROLE_EVENT, _check_function_assume_role)


def _enforced(original: Callable[..., None]) -> Callable[..., None]:
    def authenticate_and_authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        local = LocalIam._active
        if local is None or local.exempt(self.headers):
            return None
        return original(self, iam_request_cls, resource)

    return authenticate_and_authorize
