"""Builds the CDK app (used by app.py and the tests, so both synthesize the same thing)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks
from speaker_enrollment.settings import Tunables

from stacks.enrollment_stack import SpeakerEnrollmentStack
from stacks.storage import DataRetention, SpeakerIndexStep
from stacks.workflow import WorkflowCapacity

ROOT = Path(__file__).resolve().parents[1]
STACK_NAME = "SpeakerEnrollmentStack"
DEFAULT_LAYER_DIR = ROOT / "build" / "lambda-layer"
CODE_DIR = ROOT / "lambdas"


def cdk_json_context() -> dict[str, Any]:
    """The feature flags of cdk.json, so `python app.py` (without the CDK CLI) synthesizes like `cdk synth`."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def workflow_capacity(app: App) -> WorkflowCapacity:
    """``-c shardMaxConcurrency=N`` / ``-c shardReservedConcurrency=N`` (or cdk.json's context) size the shards."""
    defaults = WorkflowCapacity()
    reserved = app.node.try_get_context("shardReservedConcurrency")
    return WorkflowCapacity(
        shard_max_concurrency=int(app.node.try_get_context("shardMaxConcurrency") or defaults.shard_max_concurrency),
        shard_reserved_concurrency=int(reserved) if reserved not in (None, "") else None,
    )


def data_retention(app: App) -> DataRetention:
    """``-c inboxRetentionDays=N`` / ``-c noncurrentVersionDays=N`` (or cdk.json's context)."""
    defaults = DataRetention()
    return DataRetention(
        inbox_days=int(app.node.try_get_context("inboxRetentionDays") or defaults.inbox_days),
        noncurrent_version_days=int(app.node.try_get_context("noncurrentVersionDays")
                                    or defaults.noncurrent_version_days),
    )


def tunables(app: App) -> Tunables:
    """``-c speakerRetentionDays=N`` (or cdk.json's context): a speaker not accessed this long is deleted."""
    retention = app.node.try_get_context("speakerRetentionDays")
    return Tunables(speaker_retention_days=int(retention)) if retention not in (None, "") else Tunables()


def speaker_index_step(app: App) -> SpeakerIndexStep:
    """``-c speakerIndexMigration=add`` (README "Upgrading"); the default is the migration's end."""
    value = app.node.try_get_context("speakerIndexMigration") or SpeakerIndexStep.DROP.value
    try:
        return SpeakerIndexStep(value)
    except ValueError:
        choices = ", ".join(step.value for step in SpeakerIndexStep)
        raise ValueError(f"speakerIndexMigration is {value!r}; expected one of: {choices}") from None


def build_app(*, outdir: str | None = None, layer_dir: Path | None = None, code_dir: Path = CODE_DIR,
              context: Mapping[str, Any] | None = None) -> tuple[App, SpeakerEnrollmentStack]:
    """The app with its one stack and cdk-nag's AWS Solutions checks (run at synth); ``context`` as ``-c`` gives it
    (over cdk.json's)."""
    # The CDK CLI sets CDK_OUTDIR; `python app.py` alone would otherwise synthesize into a temp directory.
    app = App(outdir=outdir or os.environ.get("CDK_OUTDIR") or str(ROOT / "cdk.out"),
              context={**cdk_json_context(), **(context or {})})
    layer = layer_dir or Path(str(app.node.try_get_context("lambdaLayerDir") or DEFAULT_LAYER_DIR))
    stack = SpeakerEnrollmentStack(
        app,
        STACK_NAME,
        code_dir=code_dir,
        capacity=workflow_capacity(app),
        settings=tunables(app),
        retention=data_retention(app),
        speaker_index=speaker_index_step(app),
        layer_dir=layer if layer.is_absolute() else ROOT / layer,
        description="Self-hosted speaker enrollment jobs (replacement for Amazon Connect Voice ID batch enrollment)",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack
