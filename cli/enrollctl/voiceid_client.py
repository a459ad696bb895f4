"""boto3's own ``voice-id`` client, pointed at this service: a local runtime, or a deployed stack's API stage.

The client speaks the model shipped with the API (``speaker_enrollment.api.model``: botocore's ``voice-id``
model and this project's extension), first on its botocore session's data path: a botocore without a
``voice-id`` model of its own (SDKs drop retired services' models) still makes the client, and the extension's
operations are methods of it.

A deployed stack's API Gateway authorizes with IAM, which checks a SigV4 signature for the service
``execute-api``; botocore signs ``voice-id`` requests for ``voiceid``. One ``before-sign`` hook changes the
signing name and nothing else (the request, its X-Amz-Target and the client-side validation stay boto3's).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from speaker_enrollment.api import model as api_model

from enrollctl.local.jobs import default_endpoint
from enrollctl.local.stack import DEFAULT_REGION

SERVICE = api_model.SERVICE_NAME
EXECUTE_API = "execute-api"
SIGNING_EVENT = f"before-sign.{SERVICE}.*"
EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def sign_for_api_gateway(request: AWSRequest, **_: Any) -> None:
    """botocore ``before-sign`` handler: SigV4 for ``execute-api`` (API Gateway IAM auth) instead of ``voiceid``."""
    request.context.setdefault("signing", {})["signing_name"] = EXECUTE_API


def use_api_gateway_signing(client: Any) -> Any:
    """Register :func:`sign_for_api_gateway` on a ``voice-id`` client; returns the client."""
    client.meta.events.register(SIGNING_EVENT, sign_for_api_gateway)
    return client


def botocore_session(profile: str | None = None) -> botocore.session.Session:
    """A botocore session whose loader finds ``voice-id`` in the shipped model (extension merged) before any
    other data path: ``AWS_DATA_PATH``'s, ``~/.aws/models`` and botocore's own are not used for it."""
    session = botocore.session.Session(profile=profile)
    session.get_component("data_loader").search_paths.insert(0, str(api_model.DATA_PATH))
    return session


def boto3_session(profile: str | None = None, **options: Any) -> boto3.Session:
    """A boto3 session on :func:`botocore_session`; ``options`` as ``boto3.Session``'s (region, credentials)."""
    return boto3.Session(botocore_session=botocore_session(profile), **options)


def write_execute_api_model(data_path: Path) -> Path:
    """For the AWS CLI, which has no signing-name option: the shipped voice-id models (extension merged), the
    service model with signingName ``execute-api``, as ``<data_path>/voice-id/<version>/<type>.json``.
    ``AWS_DATA_PATH=<data_path>`` makes botocore (and so ``aws voice-id``) load them instead of its own, or
    where it has none; returns the service model's file."""
    directory = data_path / SERVICE / api_model.API_VERSION
    directory.mkdir(parents=True, exist_ok=True)
    for type_name in api_model.MODEL_TYPES:
        model = api_model.load_model(type_name)
        if type_name == api_model.SERVICE_MODEL:
            model["metadata"]["signingName"] = EXECUTE_API
        (directory / f"{type_name}.json").write_text(json.dumps(model, indent=1))
    return directory / f"{api_model.SERVICE_MODEL}.json"


def execute_api_region(endpoint_url: str) -> str | None:
    """The region of an ``https://<id>.execute-api.<region>.amazonaws.com/<stage>`` URL, else None."""
    match = EXECUTE_API_HOST.match(urlsplit(endpoint_url).hostname or "")
    return match["region"] if match else None


@dataclass(frozen=True)
class Target:
    """Where requests go and how they are signed."""

    endpoint_url: str
    region: str
    deployed: bool  # an API Gateway stage: real credentials, execute-api signatures
    profile: str | None = None

    @classmethod
    def resolve(
        cls,
        endpoint_url: str | None = None,
        region: str | None = None,
        deployed: bool = False,
        profile: str | None = None,
    ) -> Target:
        """``endpoint_url`` defaults to ``$ENROLLCTL_ENDPOINT``, else the local runtime's; an execute-api URL
        means ``deployed`` and names the region, unless ``region`` is given."""
        url = endpoint_url or default_endpoint()
        url_region = execute_api_region(url)
        is_deployed = deployed or url_region is not None
        chosen = region or url_region or (_configured_region(profile) if is_deployed else None) or DEFAULT_REGION
        return cls(url, chosen, is_deployed, profile)


def _configured_region(profile: str | None) -> str | None:
    region = boto3.Session(profile_name=profile).region_name
    return str(region) if region else None


def voice_id_client(target: Target, config: Config | None = None) -> Any:
    """The client: local runtime (nothing to re-sign; any credentials unless it runs with ``--iam``, where a
    profile holding an IAM user's keys signs) or a deployed stage."""
    if not target.deployed:
        credentials = {} if target.profile else LOCAL_CREDENTIALS
        session = boto3_session(target.profile, region_name=target.region, **credentials)
        return session.client(SERVICE, endpoint_url=target.endpoint_url, config=config)
    session = boto3_session(target.profile, region_name=target.region)
    return use_api_gateway_signing(session.client(SERVICE, endpoint_url=target.endpoint_url, config=config))
