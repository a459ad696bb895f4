"""The speakers' GeneratedSpeakerId index moved to keys only, deployed onto a running local runtime as a deployment
made before this release is upgraded (README "Upgrading"): release N's table (its ALL index), then
``-c speakerIndexMigration=add`` (both indexes), then the default template (the keys-only index alone).

Release N's template is this release's ``add`` template with the Speakers table as release N synthesized it
(tests/golden/speakers_table_release_n.json, copied from its template): the functions run this release's code, as
they do after the first ``cdk deploy`` of the upgrade, which must read the old index until the new one exists.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from enrollctl.local import LocalRuntime
from enrollctl.local.deploy import DeploymentRefusedError, changed_functions, index_changes
from enrollctl.local.stack import TableSpec, mirror, placeholder_keys
from enrollctl.local.template import PATH_METADATA_CONTEXT, construct_id, load_template
from enrollctl.voiceid_client import Target, voice_id_client
from helpers import release_n_speakers_table
from speaker_enrollment.handlers.runtime import composition

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the CDK app is not an installed package (as in test_stack.py)
    sys.path.insert(0, str(REPO))

from stacks.enrollment_app import build_app  # noqa: E402

OLD, NEW = "GeneratedSpeakerId", "GeneratedSpeakerIdKeys"
SPEAKERS = "speaker-enrollment-speakers"


@pytest.fixture(scope="module")
def final_template() -> dict[str, Any]:
    return load_template()  # the default: synthesized when no fresh template exists


@pytest.fixture(scope="module")
def add_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    layer = tmp_path_factory.mktemp("lambda-layer")  # the layer's contents do not matter locally
    (layer / "python").mkdir()
    app, stack = build_app(outdir=str(tmp_path_factory.mktemp("cdk.out")), layer_dir=layer,
                           context={**PATH_METADATA_CONTEXT, "speakerIndexMigration": "add"})
    template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    return template


@pytest.fixture(scope="module")
def release_n_template(add_template: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(add_template)
    (logical_id,) = [lid for lid, resource in template["Resources"].items()
                     if construct_id(lid, resource) == "SpeakersTable"]
    template["Resources"][logical_id] |= release_n_speakers_table()  # keeps its construct path metadata
    return template


@pytest.fixture
def release_n(release_n_template: dict[str, Any]) -> Iterator[LocalRuntime]:
    with LocalRuntime.start(port=0, template=release_n_template) as rt:
        yield rt


def indexes(rt: LocalRuntime) -> dict[str, str]:
    table = rt.client("dynamodb").describe_table(TableName=rt.speakers_table)["Table"]
    return {index["IndexName"]: index["Projection"]["ProjectionType"]
            for index in table.get("GlobalSecondaryIndexes", [])}


def described(rt: LocalRuntime, speakers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    voice_id = voice_id_client(Target.resolve(rt.endpoint, rt.region))
    return [voice_id.describe_speaker(DomainId=rt.domain_id, SpeakerId=s["GeneratedSpeakerId"])["Speaker"]
            for s in speakers]


def opt_out(rt: LocalRuntime, *customer_speaker_ids: str) -> list[dict[str, Any]]:
    voice_id = voice_id_client(Target.resolve(rt.endpoint, rt.region))
    return [voice_id.opt_out_speaker(DomainId=rt.domain_id, SpeakerId=c)["Speaker"] for c in customer_speaker_ids]


def test_speakers_are_found_by_generated_id_at_every_step_of_the_upgrade(
        release_n: LocalRuntime, add_template: dict[str, Any], final_template: dict[str, Any]) -> None:
    rt = release_n
    speakers = opt_out(rt, "caller-1", "caller-2")  # new speakers: OPTED_OUT records with a GeneratedSpeakerId
    assert indexes(rt) == {OLD: "ALL"}
    assert described(rt, speakers) == speakers  # the keys-only index does not exist yet: the old one is read

    refusal = rf"table {SPEAKERS}: Cannot perform more than one GSI creation or deletion in a single update "
    with pytest.raises(DeploymentRefusedError, match=refusal + rf"\(creates \['{NEW}'\], deletes \['{OLD}'\]\)"):
        rt.deploy(final_template)
    assert indexes(rt) == {OLD: "ALL"}  # refused before anything changed

    rt.deploy(add_template)
    assert indexes(rt) == {OLD: "ALL", NEW: "KEYS_ONLY"}
    speakers += opt_out(rt, "caller-3")
    assert described(rt, speakers) == speakers

    rt.deploy(final_template)
    assert indexes(rt) == {NEW: "KEYS_ONLY"}
    speakers += opt_out(rt, "caller-4")
    assert described(rt, speakers) == speakers
    with pytest.raises(ClientError, match=OLD):  # gone, as in DynamoDB
        rt.client("dynamodb").query(TableName=rt.speakers_table, IndexName=OLD,
                                    KeyConditionExpression="DomainId = :d",
                                    ExpressionAttributeValues={":d": {"S": rt.domain_id}})


def with_variable(template: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    for resource in changed["Resources"].values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if name in variables:
            variables[name] = value
    return changed


def test_a_deployment_runs_the_functions_with_the_new_environment(
        release_n: LocalRuntime, release_n_template: dict[str, Any]) -> None:
    rt = release_n
    assert composition().settings.tunables.speaker_quota > 1  # a warm function's settings
    rt.deploy(with_variable(release_n_template, "SPEAKER_QUOTA", "1"))
    assert rt.settings.tunables.speaker_quota == 1
    assert composition().settings.tunables.speaker_quota == 1  # new execution environments
    assert rt.local_stack.api_function is not None
    config = rt.client("lambda").get_function_configuration(FunctionName=rt.local_stack.api_function.name)
    assert config["Environment"]["Variables"]["SPEAKER_QUOTA"] == "1"
    opt_out(rt, "caller-1")
    with pytest.raises(ClientError, match="ServiceQuotaExceededException"):  # the API runs with the new quota
        opt_out(rt, "caller-2")


# -------------------------------------------------------------------------------- what a deployment may change


@pytest.fixture(scope="module")
def tables(final_template: dict[str, Any]) -> tuple[TableSpec, ...]:
    return mirror(final_template, "us-east-1", placeholder_keys(final_template, "us-east-1")).tables


def changed(tables: tuple[TableSpec, ...], **fields: Any) -> tuple[TableSpec, ...]:
    return tuple(TableSpec(**{**vars(t), **fields}) if t.name == SPEAKERS else t for t in tables)


def test_an_unchanged_template_changes_nothing(final_template: dict[str, Any], tables: tuple[TableSpec, ...]) -> None:
    functions = mirror(final_template, "us-east-1", placeholder_keys(final_template, "us-east-1")).functions
    assert index_changes(tables, tables) == []
    assert changed_functions(functions, functions) == []


def test_an_index_changed_in_place_is_refused(tables: tuple[TableSpec, ...]) -> None:
    (index,) = next(t for t in tables if t.name == SPEAKERS).global_secondary_indexes
    all_attributes = {**index, "Projection": {"ProjectionType": "ALL"}}
    with pytest.raises(DeploymentRefusedError, match=rf"table {SPEAKERS}: index {NEW} changes in place"):
        index_changes(tables, changed(tables, global_secondary_indexes=[all_attributes]))


def test_a_new_key_schema_or_table_is_refused(tables: tuple[TableSpec, ...]) -> None:
    with pytest.raises(DeploymentRefusedError, match="key schema"):
        index_changes(tables, changed(tables, key_schema=[{"AttributeName": "DomainId", "KeyType": "HASH"}]))
    with pytest.raises(DeploymentRefusedError, match=r"removes \['speaker-enrollment-speakers'\] tables"):
        index_changes(tables, tuple(t for t in tables if t.name != SPEAKERS))
