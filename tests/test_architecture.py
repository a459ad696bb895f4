"""The rooms of the code and what each may import (docs/architecture.md): checked on the source, so a shortcut
across a boundary fails here rather than in review."""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lambdas" / "speaker_enrollment"
ROOT_NAME = "speaker_enrollment"
AWS_SDK = ("boto3", "botocore")
KIND_MODULES = "speaker_enrollment.domain.workflow.kinds"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


@cache
def imports() -> dict[str, set[str]]:
    """Every module of the package → the modules it imports (absolute names; `from x import y` counts as x.y
    too, so importing a submodule through its package is seen)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = module_name(path)
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(module, node, path.name == "__init__.py")
                names.add(target)
                names.update(f"{target}.{alias.name}" for alias in node.names)
        found[module] = names
    return found


def violations(room: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{module} imports {name}" for module, names in imports().items()
                  if module == room or module.startswith(f"{room}.")
                  for name in names if any(name == f or name.startswith(f"{f}.") for f in forbidden))


@pytest.mark.parametrize(("room", "forbidden"), [
    ("speaker_enrollment.domain", (*AWS_SDK, "speaker_enrollment.adapters", "speaker_enrollment.api",
                                   "speaker_enrollment.handlers", "speaker_enrollment.composition",
                                   "speaker_enrollment.settings")),
    ("speaker_enrollment.voiceprint", (*AWS_SDK, "speaker_enrollment.domain")),
    ("speaker_enrollment.domain.shared", ("speaker_enrollment.domain.workflow", "speaker_enrollment.domain.admin",
                                          "speaker_enrollment.domain.ports")),
    ("speaker_enrollment.domain.admin", ("speaker_enrollment.domain.workflow",)),
    ("speaker_enrollment.domain.workflow", ("speaker_enrollment.domain.admin",)),
    ("speaker_enrollment.domain.workflow.results", ("speaker_enrollment",)),  # a leaf
    ("speaker_enrollment.api", ("boto3", "speaker_enrollment.adapters", "speaker_enrollment.handlers")),
    ("speaker_enrollment.handlers", ("boto3", "speaker_enrollment.adapters")),
])
def test_each_room_imports_only_what_it_may(room: str, forbidden: tuple[str, ...]) -> None:
    assert violations(room, forbidden) == []


# The voiceprint room runs in every Lambda and in the CLI: its third-party imports are what the layer must carry.
VOICEPRINT_LIBRARIES = {"numpy", "soundfile", "soxr", "webrtcvad", "onnxruntime", "threadpoolctl"}


def test_the_voiceprint_room_imports_only_its_libraries() -> None:
    room = f"{ROOT_NAME}.voiceprint"
    third_party = {name.split(".")[0] for module, names in imports().items()
                   if module == room or module.startswith(f"{room}.") for name in names
                   if name and not name.startswith(ROOT_NAME)} - set(sys.stdlib_module_names)
    assert third_party <= VOICEPRINT_LIBRARIES, third_party - VOICEPRINT_LIBRARIES


def test_only_the_registry_and_the_composition_edges_name_the_job_kinds() -> None:
    """The workflow's generic modules never import a kind: adding one touches kinds/ and nothing else."""
    allowed = {KIND_MODULES, "speaker_enrollment.composition", "speaker_enrollment.api.operations.jobs",
               "speaker_enrollment.adapters.dynamodb.jobs", "speaker_enrollment.adapters.codecs"}
    users = {module for module, names in imports().items()
             if any(n == KIND_MODULES or n.startswith(f"{KIND_MODULES}.") for n in names)
             and not module.startswith(f"{KIND_MODULES}.") and module not in allowed}
    assert users == set()


KIND_WORDS = {"SPEAKER_ENROLLMENT", "FRAUDSTER_REGISTRATION", "SuccessfulEnrollments", "SuccessfulRegistrations",
              "EnrollmentConfig", "RegistrationConfig", "EnrollmentRequest", "RegistrationRequest", "manifests",
              "SPEAKER_EVALUATION", "SuccessfulEvaluations", "EvaluationConfig", "EvaluationRequest", "evaluations",
              "EvaluationSummary"}


def _docstrings(tree: ast.AST) -> set[int]:
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)]
    return {id(n.body[0].value) for n in nodes
            if n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def kind_words(path: Path) -> list[str]:
    """Where a module's code (not its prose) names a job kind: a string, a name or an attribute."""
    tree = ast.parse(path.read_text())
    prose = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        word = (node.value if isinstance(node, ast.Constant) and id(node) not in prose else
                node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None)
        if isinstance(word, str) and word in KIND_WORDS:
            found.append(f"{path.relative_to(PACKAGE)}:{getattr(node, 'lineno', '?')} {word}")
    return found


def test_no_code_outside_the_kinds_names_a_kind() -> None:
    """Adding a kind of job is one module in domain/workflow/kinds/ and one registry line: nothing else switches
    on a kind (items of the first release without a JobKind read as speaker enrollment jobs: that default is
    the kind's own constant, imported)."""
    kinds_dir = PACKAGE / "domain" / "workflow" / "kinds"
    offenders = [re.sub(r":\d+ ", " ", where) for path in PACKAGE.rglob("*.py") if kinds_dir not in path.parents
                 for where in kind_words(path)]
    assert offenders == ["adapters/codecs.py SPEAKER_ENROLLMENT"]
