"""EvaluateSession: a recorded call's session (``domain/workflow/sessions.py``) by SessionName or SessionId, in
Voice ID's response shape. ONGOING while it is evaluated; ENDED with its AuthenticationResult and
FraudDetectionResult, or without them when the upload could not be evaluated (its ``voiceid-error`` tag says why)."""

from __future__ import annotations

from typing import Any

from ...domain.admin.errors import ResourceKind, ResourceNotFoundError
from ...domain.workflow.sessions import is_session_id, session_id_of
from ..errors import ValidationException
from ..services import ApiServices


def evaluate_session(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    if services.sessions is None:
        raise ValidationException("EvaluateSession is not available: this deployment has no Sessions table")
    name_or_id: str = params["SessionNameOrId"]
    session_id = name_or_id if is_session_id(name_or_id) else session_id_of(domain.domain_id, name_or_id)
    session = services.sessions.get(domain.domain_id, session_id)
    if session is None:
        raise ResourceNotFoundError(ResourceKind.SESSION, f"Session '{name_or_id}' does not exist in domain "
                                                          f"'{domain.domain_id}'")
    return session.to_api()


OPERATIONS = {"EvaluateSession": evaluate_session}
