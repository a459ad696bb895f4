"""Voice ID's API model, shipped with the code: the oracle for operations, request constraints and response shapes.

``service_model/`` is a botocore data directory (the ``AWS_DATA_PATH`` layout): botocore's own ``voice-id``
2021-09-27 model, unmodified (``NOTICE``), and this project's extension of it (``*.sdk-extras.json``: operations
Voice ID never had), which botocore's loader merges in as it loads the model. The loader here searches that
directory only: Voice ID has reached end of support, SDKs drop retired services' models, and the Lambda
runtime's botocore (the layer leaves botocore out) need not have it. ``enrollctl`` puts the same directory on
its boto3 client's data path (``enrollctl.voiceid_client``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape

SERVICE_NAME = "voice-id"
API_VERSION = "2021-09-27"
DATA_PATH = Path(__file__).with_name("service_model")  # read at each load (a test may point it at a copy)
SERVICE_MODEL = "service-2"
MODEL_TYPES = (SERVICE_MODEL, "paginators-1", "endpoint-rule-set-1", "examples-1")  # what a client loads


def load_model(type_name: str) -> dict[str, Any]:
    """One model of the shipped ``voice-id`` (``service-2``, ``paginators-1``, ...), its extension merged in;
    from ``DATA_PATH`` alone, never from botocore's own data."""
    loader = Loader(extra_search_paths=[str(DATA_PATH)], include_default_search_paths=False)
    model: dict[str, Any] = loader.load_service_model(SERVICE_NAME, type_name, API_VERSION)
    return model


@cache
def service_model() -> ServiceModel:
    return ServiceModel(load_model(SERVICE_MODEL), SERVICE_NAME)


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
