"""The shipped ``voice-id`` model (``speaker_enrollment/api/service_model``): botocore's own, unmodified, while the
installed botocore still has one (so drift shows here); shipped in the Lambda code asset and the package; and its
extension, which only adds. A temporary extension shows what adding an operation takes (one JSON entry): the
API validates and answers it, ``enrollctl`` has a command for it, boto3 a method, the AWS CLI's model has it."""

from __future__ import annotations

import gzip
import json
import shutil
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import botocore
import botocore.session
import pytest
from enrollctl.voiceid_client import Target, voice_id_client
from speaker_enrollment.api import VoiceIdApi
from speaker_enrollment.api import model as api_model
from speaker_enrollment.api.authorization import OpenAccess, Permission, required_permissions
from speaker_enrollment.api.model import API_VERSION, DATA_PATH, MODEL_TYPES, SERVICE_NAME, load_model, operation_model
from speaker_enrollment.api.services import ApiServices
from speaker_enrollment.domain.shared.domain import Deployment
from test_voiceid_cli import credential_scope, parse, request_of, run, sent_requests
from voiceid_models import forget_loaded_models

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = DATA_PATH / SERVICE_NAME / API_VERSION
BOTOCORE_COPY = Path(botocore.__file__).parent / "data" / SERVICE_NAME / API_VERSION
EXTENDABLE = {"service-2": {"operations", "shapes"}, "paginators-1": {"pagination"}}  # model → what it may add
DOMAIN_ID = "Ab3dEf6hIj9kLmN0pQr5tU"
PROBE_ID = "Pb3dEf6hIj9kLmN0pQr5tU"


def content(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def is_extension(path: Path) -> bool:
    return path.name.endswith(".sdk-extras.json")


def model_files(directory: Path) -> dict[str, Path]:
    return {path.name: path for path in directory.iterdir() if not is_extension(path)}


def unextended(type_name: str) -> dict[str, Any]:
    """A shipped model file as botocore wrote it (no extension merged)."""
    (path,) = SHIPPED.glob(f"{type_name}.json*")
    model: dict[str, Any] = json.loads(content(path))
    return model


def extension(directory: Path, type_name: str) -> dict[str, Any]:
    merge: dict[str, Any] = json.loads((directory / f"{type_name}.sdk-extras.json").read_text())["merge"]
    return merge


# ------------------------------------------------------------------------------------------- the shipped copy


def test_the_shipped_copy_is_botocores_own_unmodified() -> None:
    if not BOTOCORE_COPY.is_dir():
        pytest.skip(f"botocore {botocore.__version__} has no voice-id model: the shipped copy is the only one")
    ours, theirs = model_files(SHIPPED), model_files(BOTOCORE_COPY)
    assert ours.keys() == theirs.keys()
    differing = [name for name, path in ours.items() if content(path) != content(theirs[name])]
    assert differing == [], (f"botocore {botocore.__version__}'s voice-id model differs from the shipped copy "
                             f"(api/service_model/NOTICE: botocore 1.44.8) in {differing}")


def test_the_copy_comes_with_its_notice_and_license() -> None:
    notice = (DATA_PATH / "NOTICE").read_text()
    assert "botocore 1.44.8" in notice
    assert "Apache License, Version 2.0" in notice
    assert "Copyright 2012-2022 Amazon.com, Inc. or its affiliates" in notice
    assert "Apache License\n                           Version 2.0" in (DATA_PATH / "LICENSE.txt").read_text()


def test_every_model_a_client_loads_is_shipped() -> None:
    assert {name.split(".")[0] for name in model_files(SHIPPED)} == set(MODEL_TYPES)


def test_the_extension_only_adds_operations_shapes_and_paginators() -> None:
    for type_name, sections in EXTENDABLE.items():
        merge = extension(SHIPPED, type_name)
        assert set(merge) <= sections
        base = unextended(type_name)
        assert {section: set(entries) & set(base[section]) for section, entries in merge.items()} == {
            section: set() for section in merge}


def test_the_apis_model_is_botocores_plus_the_extension() -> None:
    expected = unextended("service-2")
    for section, entries in extension(SHIPPED, "service-2").items():
        expected[section] = {**expected[section], **entries}
    assert load_model("service-2") == expected


def test_the_lambda_code_asset_ships_the_model() -> None:
    """``Code.from_asset("lambdas", exclude=CODE_EXCLUDES)``, with CDK's own reading of the patterns."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from aws_cdk import CopyOptions, IgnoreStrategy  # noqa: PLC0415 (jsii: only this test needs it)

    from stacks.workflow import CODE_EXCLUDES  # noqa: PLC0415

    code_dir = ROOT / "lambdas"
    ignores = IgnoreStrategy.from_copy_options(CopyOptions(exclude=CODE_EXCLUDES), str(code_dir))
    shipped = [path for path in DATA_PATH.rglob("*") if path.is_file()]
    assert shipped
    assert [path for path in shipped if ignores.ignores(str(path))] == []


def test_the_package_data_ships_the_model() -> None:
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package_dir = DATA_PATH.parent
    declared = {path for pattern in package_data["speaker_enrollment.api"] for path in package_dir.glob(pattern)}
    assert {path for path in DATA_PATH.rglob("*") if path.is_file()} <= declared


# ------------------------------------------------------------------------------------------- an extension

PROBE = {"ProbeId": {"shape": "ProbeId"}, "DomainId": {"shape": "DomainId"}}
OPERATIONS = {
    "DescribeProbe": {"name": "DescribeProbe", "http": {"method": "POST", "requestUri": "/"},
                      "input": {"shape": "DescribeProbeRequest"}, "output": {"shape": "DescribeProbeResponse"},
                      "errors": [{"shape": "ValidationException"}], "documentation": "<p>Describes a probe.</p>"},
    "ListProbes": {"name": "ListProbes", "http": {"method": "POST", "requestUri": "/"},
                   "input": {"shape": "ListProbesRequest"}, "output": {"shape": "ListProbesResponse"},
                   "errors": [{"shape": "ValidationException"}], "documentation": "<p>Lists probes.</p>"},
}
SHAPES = {
    "ProbeId": {"type": "string", "max": 22, "min": 22, "pattern": "^[a-zA-Z0-9]{22}$"},
    "Probe": {"type": "structure", "members": PROBE},
    "Probes": {"type": "list", "member": {"shape": "Probe"}},
    "DescribeProbeRequest": {"type": "structure", "required": ["DomainId", "ProbeId"], "members": PROBE},
    "DescribeProbeResponse": {"type": "structure", "members": {"Probe": {"shape": "Probe"}}},
    "ListProbesRequest": {"type": "structure", "required": ["DomainId"], "members": {
        "DomainId": {"shape": "DomainId"}, "MaxResults": {"shape": "MaxResultsForList"},
        "NextToken": {"shape": "NextToken"}}},
    "ListProbesResponse": {"type": "structure", "members": {
        "Probes": {"shape": "Probes"}, "NextToken": {"shape": "String"}}},
}
PAGINATORS = {"ListProbes": {"input_token": "NextToken", "output_token": "NextToken", "limit_key": "MaxResults",
                             "result_key": "Probes"}}
ADDITIONS = {"service-2": {"operations": OPERATIONS, "shapes": SHAPES}, "paginators-1": {"pagination": PAGINATORS}}


def add_to_extension(directory: Path, type_name: str, additions: dict[str, dict[str, Any]]) -> None:
    """What adding an operation takes: entries in the extension file's ``merge`` sections."""
    path = directory / f"{type_name}.sdk-extras.json"
    extras = json.loads(path.read_text())
    for section, entries in additions.items():
        extras["merge"].setdefault(section, {}).update(entries)
    path.write_text(json.dumps(extras, indent=2))


@pytest.fixture
def extended(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The shipped model with DescribeProbe and ListProbes added to its extension (a copy: the package's own
    directory is left alone), as the API and ``enrollctl`` load it; returns the copy's directory."""
    data = tmp_path / "service_model"
    shutil.copytree(DATA_PATH, data)
    for type_name, additions in ADDITIONS.items():
        add_to_extension(data / SERVICE_NAME / API_VERSION, type_name, additions)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_DATA_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(api_model, "DATA_PATH", data)
    forget_loaded_models()
    yield data
    forget_loaded_models()


def describe_probe(_: ApiServices, request: dict[str, Any]) -> dict[str, Any]:
    return {"Probe": {**request, "Unmodeled": "never sent"}}


def test_an_extension_operation_is_an_operation_of_the_apis_model(extended: Path) -> None:
    model = operation_model("DescribeProbe")
    assert model is not None
    assert model.input_shape is not None
    assert model.input_shape.required_members == ["DomainId", "ProbeId"]
    assert set(unextended("service-2")["operations"]) < set(api_model.service_model().operation_names)


def test_the_api_validates_and_answers_an_extension_operation(extended: Path) -> None:
    api = VoiceIdApi(cast(ApiServices, None), {"DescribeProbe": describe_probe}, authorizer=OpenAccess())
    answer = api.handle("VoiceID.DescribeProbe", json.dumps({"DomainId": DOMAIN_ID, "ProbeId": PROBE_ID}))
    assert (answer.status, answer.body) == (200, {"Probe": {"DomainId": DOMAIN_ID, "ProbeId": PROBE_ID}})
    refused = api.handle("VoiceID.DescribeProbe", json.dumps({"DomainId": DOMAIN_ID, "ProbeId": "short"}))
    assert (refused.status, refused.body["__type"]) == (400, "ValidationException")
    assert "ProbeId" in refused.body["message"]


def test_an_extension_operation_is_authorized_as_its_voiceid_action_on_its_domain(extended: Path) -> None:
    model = operation_model("DescribeProbe")
    assert model is not None
    needed = required_permissions(model, {"DomainId": DOMAIN_ID, "ProbeId": PROBE_ID},
                                  Deployment("us-east-1", "123456789012"))
    assert needed == (Permission("voiceid:DescribeProbe",
                                 f"arn:aws:voiceid:us-east-1:123456789012:domain/{DOMAIN_ID}"),)


def test_an_unimplemented_extension_operation_is_known_but_not_supported(extended: Path) -> None:
    answer = VoiceIdApi(cast(ApiServices, None), authorizer=OpenAccess()).handle("VoiceID.DescribeProbe", "{}")
    assert (answer.status, answer.body["__type"]) == (400, "ValidationException")
    assert answer.body["message"].startswith("DescribeProbe is not supported yet by this service")


def test_enrollctl_has_a_command_for_each_extension_operation(extended: Path) -> None:
    assert request_of("describe-probe", "--domain-id", DOMAIN_ID, "--probe-id", PROBE_ID) == {
        "DomainId": DOMAIN_ID, "ProbeId": PROBE_ID}
    assert parse("list-probes", "--domain-id", DOMAIN_ID, "--no-paginate").no_paginate  # it has a paginator


def test_the_boto3_client_of_enrollctl_calls_extension_operations(extended: Path) -> None:
    client = voice_id_client(Target.resolve("http://127.0.0.1:1", "us-east-1"))
    sent = sent_requests(client, {"Probe": {"DomainId": DOMAIN_ID, "ProbeId": PROBE_ID}, "Probes": []})
    assert client.describe_probe(DomainId=DOMAIN_ID, ProbeId=PROBE_ID)["Probe"]["ProbeId"] == PROBE_ID
    assert client.get_paginator("list_probes").paginate(DomainId=DOMAIN_ID).build_full_result() == {"Probes": []}
    assert [request.headers["X-Amz-Target"] for request in sent] == [b"VoiceID.DescribeProbe", b"VoiceID.ListProbes"]
    assert json.loads(sent[0].body or b"") == {"DomainId": DOMAIN_ID, "ProbeId": PROBE_ID}


def test_the_aws_cli_model_has_the_extension(
    extended: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "aws-cli-model", str(tmp_path / "models"))[0] == 0
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))
    session = botocore.session.Session()
    assert "DescribeProbe" in session.get_service_model(SERVICE_NAME).operation_names
    assert session.get_paginator_model(SERVICE_NAME).get_paginator("ListProbes") == PAGINATORS["ListProbes"]
    client = session.create_client(SERVICE_NAME, region_name="eu-west-1", endpoint_url="https://a.example/prod",
                                   aws_access_key_id="AKID", aws_secret_access_key="secret")
    sent = sent_requests(client, {})
    client.describe_probe(DomainId=DOMAIN_ID, ProbeId=PROBE_ID)
    assert credential_scope(sent[0]) == "eu-west-1/execute-api/aws4_request"
