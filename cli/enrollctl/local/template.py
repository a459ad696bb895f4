"""The synthesized CloudFormation template: find it (synthesize when missing or stale), pick out the
resources the local runtime mirrors, and resolve CloudFormation intrinsics against local resources."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]
STACK_NAME = "SpeakerEnrollmentStack"
TEMPLATE_ENV = "ENROLLCTL_TEMPLATE"
SYNTH_SOURCES = ("app.py", "cdk.json", "stacks")
LOCAL_OUTDIR = REPO_ROOT / "build" / "local-runtime" / "cdk.out"
# Construct paths in each resource's metadata: the local runtime names what it creates after the construct ids.
# The CDK CLI turns this on by default; ``python app.py`` alone does not.
PATH_METADATA = "aws:cdk:path"
PATH_METADATA_CONTEXT = {"aws:cdk:enable-path-metadata": True}


class TemplateError(RuntimeError):
    """The template is missing, cannot be synthesized, or lacks something the runtime needs."""


class UnresolvedReferenceError(TemplateError):
    """An intrinsic refers to something the local runtime does not create."""


# ---------------------------------------------------------------------------------------------- loading


def _template_in(outdir: Path) -> Path:
    return outdir / f"{STACK_NAME}.template.json"


def _newest_source_mtime(root: Path) -> float:
    newest = 0.0
    for name in SYNTH_SOURCES:
        path = root / name
        files = path.rglob("*.py") if path.is_dir() else [path]
        for file in files:
            if file.exists():
                newest = max(newest, file.stat().st_mtime)
    return newest


def is_stale(template: Path, root: Path = REPO_ROOT) -> bool:
    return not template.exists() or template.stat().st_mtime < _newest_source_mtime(root)


def has_path_metadata(template: Path) -> bool:
    return template.exists() and f'"{PATH_METADATA}"' in template.read_text()


def is_usable(template: Path, root: Path = REPO_ROOT) -> bool:
    """Fresh, and synthesized with construct paths (see ``PATH_METADATA``)."""
    return not is_stale(template, root) and has_path_metadata(template)


def _layer_context(root: Path) -> dict[str, Any]:
    """The stack wants its dependency layer built (``make lambda-layer``, a network download); locally the
    layer is irrelevant (handlers run in-process), so an empty placeholder stands in when it is missing."""
    if (root / "build" / "lambda-layer" / "python").is_dir():
        return {}
    placeholder = root / "build" / "local-runtime" / "placeholder-layer"
    (placeholder / "python").mkdir(parents=True, exist_ok=True)
    return {"lambdaLayerDir": str(placeholder)}


def synthesize(root: Path = REPO_ROOT, outdir: Path = LOCAL_OUTDIR) -> Path:
    """Run ``python app.py`` (offline CDK synth) into ``outdir``; returns the template's path."""
    if not (root / "app.py").exists():
        raise TemplateError(f"{root / 'app.py'} not found: cannot synthesize the CDK app")
    context = {**PATH_METADATA_CONTEXT, **_layer_context(root)}
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CDK_OUTDIR": str(outdir),
           "CDK_CONTEXT_JSON": json.dumps(context)}
    result = subprocess.run([sys.executable, "app.py"], cwd=root, env=env, capture_output=True,
                            text=True, check=False)
    if result.returncode != 0 or not _template_in(outdir).exists():
        raise TemplateError(f"CDK synth failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return _template_in(outdir)


def _synth_lock(root: Path) -> Path:
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"enrollctl-synth-{digest}.lock"


def find_template(synth: bool = True) -> Path:
    """``$ENROLLCTL_TEMPLATE``; else a usable ``cdk.out`` template (``cdk synth``'s); else our own synth of the
    app (into ``build/local-runtime/cdk.out``, leaving the shared ``cdk.out`` alone), redone when not usable."""
    override = os.environ.get(TEMPLATE_ENV)
    if override:
        return Path(override)
    shared = _template_in(REPO_ROOT / "cdk.out")
    if is_usable(shared):
        return shared
    local = _template_in(LOCAL_OUTDIR)
    if synth and (REPO_ROOT / "app.py").exists():
        with _synth_lock(REPO_ROOT).open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not is_usable(local):
                synthesize(REPO_ROOT, LOCAL_OUTDIR)
    for candidate in (local, shared):
        if candidate.exists():
            return candidate
    raise TemplateError(f"no synthesized template ({shared}); synthesize the CDK app: python app.py")


def load_template(path: Path | None = None, synth: bool = True) -> dict[str, Any]:
    """The stack template at ``path``, or the one :func:`find_template` picks."""
    template = path or find_template(synth)
    if not template.exists():
        raise TemplateError(f"{template} not found")
    return json.loads(template.read_text())  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------ inspection


def without_hash(logical_id: str) -> str:
    """A CDK logical id without its 8-hex-digit hash (``StorageInboxBucketDB5F90E7`` → ``StorageInboxBucket``:
    the construct ids of the path, concatenated)."""
    return re.sub(r"[0-9A-F]{8}$", "", logical_id)


def _construct_path(resource: dict[str, Any]) -> list[str]:
    """The construct ids of a resource's path metadata, from the stack's down to its own."""
    path = str(resource.get("Metadata", {}).get(PATH_METADATA, ""))
    return [s for s in path.split("/") if s and s not in {"Resource", "Default"}]


def construct_id(logical_id: str, resource: dict[str, Any]) -> str:
    """The CDK construct id of a resource: from its path metadata (``.../InboxBucket/Resource`` →
    ``InboxBucket``) when synthesized with it, else :func:`without_hash` of its logical id."""
    segments = _construct_path(resource)
    if len(segments) > 1:
        return segments[-1]
    return without_hash(logical_id)


def scope_id(resource: dict[str, Any]) -> str | None:
    """The id of the construct a resource belongs to (``.../Workflow/StateMachine/Resource`` → ``Workflow``);
    None for a child of the stack itself, or without path metadata."""
    segments = _construct_path(resource)
    return segments[-2] if len(segments) > 2 else None


def resources_of_type(template: dict[str, Any], *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") in types:
            yield logical_id, resource


# ------------------------------------------------------------------------------------------- resolution


@dataclass
class Resolver:
    """Resolves Ref / Fn::GetAtt / Fn::Join / Fn::Sub / Fn::Select / Fn::Split against local values."""

    refs: dict[str, str]
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, logical_id: str, ref: str, arn: str, **attributes: str) -> None:
        """A local counterpart of a template resource: its ``Ref``, ``Fn::GetAtt .Arn`` and other attributes."""
        self.refs[logical_id] = ref
        self.attrs[(logical_id, "Arn")] = arn
        self.attrs.update({(logical_id, name): value for name, value in attributes.items()})

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), = node.items()
            handler = self._intrinsics().get(key)
            if handler is not None:
                return handler(value)
            if key.startswith("Fn::") or key == "Condition":
                raise UnresolvedReferenceError(f"unsupported intrinsic {key}")
        return {key: self.resolve(value) for key, value in node.items()}

    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        return {"Ref": self._ref, "Fn::GetAtt": self._get_att, "Fn::Join": self._join,
                "Fn::Sub": self._sub, "Fn::Select": self._select, "Fn::Split": self._split}

    def _ref(self, name: str) -> str:
        if name not in self.refs:
            raise UnresolvedReferenceError(f"Ref {name} has no local counterpart")
        return self.refs[name]

    def _get_att(self, value: Any) -> str:
        logical_id, attribute = value.split(".", 1) if isinstance(value, str) else value
        key = (logical_id, self.resolve(attribute))
        if key not in self.attrs:
            raise UnresolvedReferenceError(f"Fn::GetAtt {logical_id}.{attribute} has no local counterpart")
        return self.attrs[key]

    def _join(self, value: list[Any]) -> str:
        separator, parts = value
        return str(separator).join(str(self.resolve(part)) for part in self.resolve(parts))

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else value
        local = {key: str(self.resolve(val)) for key, val in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return local[name]
            if "." in name:
                return self._get_att(name)
            return self._ref(name)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _select(self, value: list[Any]) -> Any:
        index, items = value
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, value: list[Any]) -> list[str]:
        separator, text = value
        return str(self.resolve(text)).split(separator)
