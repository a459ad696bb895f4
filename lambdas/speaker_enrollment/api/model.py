"""Voice ID's API model as botocore ships it: the oracle for operations, request constraints and response shapes.

botocore dropped nothing of it when Voice ID reached end of support; should a future botocore do so, pin the
version that has it (boto3 1.44.8 / botocore with ``botocore/data/voice-id/2021-09-27``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

SERVICE_NAME = "voice-id"


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


def operation_model(name: str) -> OperationModel | None:
    model = service_model()
    return model.operation_model(name) if name in model.operation_names else None


def project(shape: Shape | None, value: Any) -> Any:
    """`value` reduced to what `shape` has: unknown and null members are dropped (a Job becomes a
    SpeakerEnrollmentJobSummary, a Domain a DomainSummary, and nothing unmodeled ever goes out)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        return {name: project(members[name], item) for name, item in value.items()
                if name in members and item is not None}
    if shape.type_name == "list" and isinstance(value, list | tuple):
        return [project(shape.member, item) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: project(shape.value, item) for key, item in value.items()}
    return value
