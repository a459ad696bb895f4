"""A new template deployed onto a running local runtime, as CloudFormation updates the stack: what changes in the
tables' global secondary indexes and in the functions' environments, refused where CloudFormation refuses. Locally
an index is ACTIVE (and backfilled) as soon as it is created: moto has no CREATING state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from enrollctl.local.stack import FunctionSpec, TableSpec
from enrollctl.local.template import TemplateError


class DeploymentRefusedError(TemplateError):
    """The new template changes something the update cannot (CloudFormation's update would fail)."""


@dataclass(frozen=True)
class IndexChange:
    """One UpdateTable: CloudFormation creates or deletes at most one global secondary index of a table per update
    (DynamoDB too, per call)."""

    table: str
    update: dict[str, Any]  # one GlobalSecondaryIndexUpdates entry: {"Create": index} or {"Delete": {"IndexName"}}
    attribute_definitions: list[dict[str, str]]

    def request(self) -> dict[str, Any]:
        request: dict[str, Any] = {"TableName": self.table, "GlobalSecondaryIndexUpdates": [self.update]}
        if "Create" in self.update:  # the new index's key attributes must be defined
            request["AttributeDefinitions"] = self.attribute_definitions
        return request


def _indexes(table: TableSpec) -> dict[str, dict[str, Any]]:
    return {index["IndexName"]: index for index in table.global_secondary_indexes}


def _same_names(kind: str, current: Mapping[str, object], new: Mapping[str, object]) -> None:
    if current.keys() != new.keys():
        raise DeploymentRefusedError(
            f"the new template adds {sorted(new.keys() - current.keys())} and removes "
            f"{sorted(current.keys() - new.keys())} {kind}: a local deployment only changes tables' global secondary "
            "indexes and functions' environments")


def _table_index_change(current: TableSpec, new: TableSpec) -> IndexChange | None:
    if (current.key_schema, current.local_secondary_indexes) != (new.key_schema, new.local_secondary_indexes):
        raise DeploymentRefusedError(f"table {new.name}: its key schema or local secondary indexes change, which "
                                     "CloudFormation does by replacing the table")
    before, after = _indexes(current), _indexes(new)
    changed = sorted(name for name in before.keys() & after.keys() if before[name] != after[name])
    if changed:
        raise DeploymentRefusedError(f"table {new.name}: index {', '.join(changed)} changes in place; only its "
                                     "throughput may (create an index under another name instead)")
    created, deleted = sorted(after.keys() - before.keys()), sorted(before.keys() - after.keys())
    if len(created) + len(deleted) > 1:
        raise DeploymentRefusedError(
            f"table {new.name}: Cannot perform more than one GSI creation or deletion in a single update "
            f"(creates {created or 'none'}, deletes {deleted or 'none'}); deploy one change at a time")
    if created:
        return IndexChange(new.name, {"Create": after[created[0]]}, new.attribute_definitions)
    if deleted:
        return IndexChange(new.name, {"Delete": {"IndexName": deleted[0]}}, new.attribute_definitions)
    return None


def index_changes(current: Sequence[TableSpec], new: Sequence[TableSpec]) -> list[IndexChange]:
    """The UpdateTable calls that bring the tables to the new template's indexes; refused before any is made."""
    before, after = {spec.name: spec for spec in current}, {spec.name: spec for spec in new}
    _same_names("tables", before, after)
    changes = (_table_index_change(before[name], after[name]) for name in sorted(after))
    return [change for change in changes if change is not None]


def changed_functions(current: Sequence[FunctionSpec], new: Sequence[FunctionSpec]) -> list[FunctionSpec]:
    """The new template's functions whose environment differs from the running one's."""
    before, after = {spec.name: spec for spec in current}, {spec.name: spec for spec in new}
    _same_names("functions", before, after)
    return [spec for name, spec in sorted(after.items()) if spec.environment != before[name].environment]
