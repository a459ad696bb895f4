"""A botocore that dropped Voice ID's model (as SDKs drop retired services'): the API, the local runtime,
``enrollctl`` and its boto3 client still work, on the model shipped with the API.

botocore is hidden the way a release without ``voice-id`` would look: its data directory is replaced by one
with every other service's data linked in and no ``voice-id``; ``~/.aws/models`` and ``AWS_DATA_PATH`` are
out of the way. Every cached model is dropped first, so everything here loads it under those conditions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError, ParamValidationError, UnknownServiceError
from botocore.loaders import Loader
from enrollctl.local.runtime import LocalRuntime
from enrollctl.voiceid_client import Target, voice_id_client
from speaker_enrollment.api.model import SERVICE_NAME
from test_voiceid_cli import parse, request_of, run
from voiceid_models import forget_loaded_models

UNKNOWN_DOMAIN = "Zz" * 11


@pytest.fixture(scope="module")
def without_botocore_voice_id(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    data = tmp_path_factory.mktemp("botocore-data")
    for entry in Path(Loader.BUILTIN_DATA_PATH).iterdir():
        if entry.name != SERVICE_NAME:
            (data / entry.name).symlink_to(entry)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Loader, "BUILTIN_DATA_PATH", str(data))
        patch.setattr(Loader, "CUSTOMER_DATA_PATH", str(tmp_path_factory.mktemp("no-aws-models")))
        for name in ("AWS_DATA_PATH", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            patch.delenv(name, raising=False)
        forget_loaded_models()
        yield
        forget_loaded_models()


@pytest.fixture(scope="module")
def runtime(without_botocore_voice_id: None) -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0) as rt:
        yield rt


def test_botocore_has_no_voice_id_model_here(without_botocore_voice_id: None) -> None:
    with pytest.raises(UnknownServiceError):
        botocore.session.Session().get_service_model(SERVICE_NAME)
    with pytest.raises(UnknownServiceError):
        boto3.Session(region_name="us-east-1").client(SERVICE_NAME)


def test_the_api_validates_and_answers(runtime: LocalRuntime) -> None:
    assert runtime.api is not None
    answer = runtime.api.handle("VoiceID.DescribeDomain", json.dumps({"DomainId": runtime.domain_id}))
    assert (answer.status, answer.body["Domain"]["DomainId"]) == (200, runtime.domain_id)
    refused = runtime.api.handle("VoiceID.DescribeDomain", json.dumps({"DomainId": "short"}))
    assert (refused.status, refused.body["__type"]) == (400, "ValidationException")


def test_enrollctl_builds_its_commands(without_botocore_voice_id: None) -> None:
    assert request_of("describe-domain", "--domain-id", UNKNOWN_DOMAIN) == {"DomainId": UNKNOWN_DOMAIN}
    assert parse("list-domains", "--no-paginate").no_paginate  # its paginator, from the shipped model


def test_enrollctl_calls_the_local_runtime(runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "describe-domain", "--domain-id", runtime.domain_id,
                           "--endpoint-url", runtime.endpoint)
    assert (status, err) == (0, "")
    assert json.loads(out)["Domain"]["DomainId"] == runtime.domain_id
    status, out, _ = run(capsys, "list-domains", "--endpoint-url", runtime.endpoint)  # every page: the paginator
    assert status == 0
    assert runtime.domain_id in {domain["DomainId"] for domain in json.loads(out)["DomainSummaries"]}


def test_the_boto3_client_of_enrollctl_works_against_the_local_runtime(runtime: LocalRuntime) -> None:
    client = voice_id_client(Target.resolve(runtime.endpoint, runtime.region))
    assert client.describe_domain(DomainId=runtime.domain_id)["Domain"]["DomainStatus"] == "ACTIVE"
    pages = client.get_paginator("list_domains").paginate(PaginationConfig={"PageSize": 1})
    assert runtime.domain_id in {domain["DomainId"] for domain in pages.build_full_result()["DomainSummaries"]}
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        client.describe_domain(DomainId=UNKNOWN_DOMAIN)
    with pytest.raises(ParamValidationError):
        client.describe_domain(DomainId="short")


def test_the_aws_cli_model_gives_botocore_the_model_it_lacks(
    runtime: LocalRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `aws voice-id` does with AWS_DATA_PATH set, on a botocore without Voice ID."""
    assert run(capsys, "aws-cli-model", str(tmp_path))[0] == 0
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    client = botocore.session.Session().create_client(
        SERVICE_NAME, region_name=runtime.region, endpoint_url=runtime.endpoint,
        aws_access_key_id="local", aws_secret_access_key="local")  # signed for execute-api: moto does not check
    assert client.describe_domain(DomainId=runtime.domain_id)["Domain"]["DomainId"] == runtime.domain_id
