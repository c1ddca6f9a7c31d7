"""The operation registry: one definition per edit operation, shared by generation and scoring.

An :class:`OperationSpec` holds what every layer needs to know about an operation: its name (the value in the
data) and short id, its typed command (a frozen dataclass of what the instruction asks: direction, distance,
angle, factor, camera motion...), the kind of change it makes to the scene, the label fields it fills and its
instruction templates. Each operation is defined in one module of this package, registered on import;
generation (``gsi_builders.operations``) and scoring (``gsi_metrics.operations``) each add one module per
operation in the same way. Modules are discovered, so adding an operation never touches a list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from gsi_datasets.registry import Registry

#: Kinds of change an operation makes (``OperationSpec.change``).
CHANGE_KINDS = ("object_pose", "object_scale", "object_removed", "camera")
#: Fields of the ``command`` column (the union of every typed command; unused ones are None).
COMMAND_FIELDS = ("direction", "distance_m", "angle_deg", "scale_factor", "motion")


@dataclass(frozen=True)
class Command:
    """Base of the typed commands: what an instruction asks, in its own units.

    A command maps onto the row's ``command`` column (:data:`COMMAND_FIELDS`) with :meth:`to_row`; its
    ``template_key`` picks the instruction templates; its ``values`` fill them.
    """

    direction: str

    def to_row(self) -> dict[str, Any]:
        """The ``command`` column of a row (fields this command does not have are None)."""
        row = dict.fromkeys(COMMAND_FIELDS)
        for item in fields(self):
            row[item.name] = getattr(self, item.name)
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Command:
        """The command of a row's ``command`` column."""
        return cls(**{item.name: row.get(item.name) for item in fields(cls)})

    @property
    def template_key(self) -> str:
        """Which templates phrase this command (default: its direction)."""
        return self.direction

    def values(self) -> dict[str, Any]:
        """Values the templates are filled with (besides ``object``)."""
        return {}

    def describe(self) -> str:
        """A short human-readable summary ("left 12 cm")."""
        return self.direction


@dataclass(frozen=True)
class OperationSpec:
    """Everything about an operation that is not generation or scoring.

    Attributes:
        name: value in the data (``operation`` column), e.g. ``"camera_relative_move"``.
        short_id: the paper's id, e.g. ``"CM"``.
        command_type: its typed command class.
        change: what it changes in the scene (:data:`CHANGE_KINDS`).
        label_fields: the row fields (dotted paths) its labels fill beyond the common ones.
        templates: template key -> phrasings; templates use ``{object}`` and the command's ``values()``.
        object_target: whether an object is edited (False for camera motions).
        in_place: whether the asked change keeps the target where it stands (a turn, a scaling).
    """

    name: str
    short_id: str
    command_type: type[Command]
    change: str
    label_fields: tuple[str, ...]
    templates: Mapping[str, tuple[str, ...]]
    object_target: bool = True
    in_place: bool = False

    def phrase(self, command: Command, rng: np.random.Generator, **values: Any) -> tuple[str, str]:
        """Draws a phrasing of ``command`` and fills it in. Returns ``(instruction, template)``.

        Raises:
            KeyError: when no template exists for the command.
        """
        try:
            options = self.templates[command.template_key]
        except KeyError:
            raise KeyError(f"no instruction templates for {self.name} {command.template_key!r}") from None
        template = options[int(rng.integers(len(options)))]
        return _with_qualified_possessives(template, values).format(**values, **command.values()), template

    def command_from_row(self, row: Mapping[str, Any]) -> Command:
        """The typed command of a row's ``command`` column."""
        return self.command_type.from_row(row)


_POSSESSIVE = re.compile(r"\bthe \{(\w+)\}'s (\w+)")


def _with_qualified_possessives(template: str, values: Mapping[str, Any]) -> str:
    """``template`` with "the {x}'s centre" turned into "the centre of the {x}" where the name filled in for ``x``
    carries a qualifier ("the centre of the mug on the desk", not "the mug on the desk's centre")."""

    def rewrite(match: re.Match[str]) -> str:
        field, noun = match.groups()
        return f"the {noun} of the {{{field}}}" if " on the " in str(values.get(field, "")) else match.group(0)

    return _POSSESSIVE.sub(rewrite, template)


#: The registered operations, by name (each module of this package registers one on import).
OPERATION_SPECS: Registry[OperationSpec] = Registry(
    "definition", __name__, "unknown operation {name!r}. Known: {known}."
)


def register_operation_spec(spec: OperationSpec) -> OperationSpec:
    """Registers an operation (once per name and short id)."""
    from gsi_datasets.schema import OPERATION_SHORT_IDS

    if spec.name in OPERATION_SHORT_IDS and spec.short_id != OPERATION_SHORT_IDS[spec.name]:
        paper = OPERATION_SHORT_IDS[spec.name]
        raise ValueError(f"operation {spec.name!r}: short id {spec.short_id!r} is not the paper's {paper!r}")
    if spec.change not in CHANGE_KINDS:
        raise ValueError(f"operation {spec.name!r}: change {spec.change!r} is not one of {CHANGE_KINDS}")
    if any(existing.short_id == spec.short_id for _, existing in OPERATION_SPECS.items()):
        raise ValueError(f"operation {spec.name!r}: short id {spec.short_id!r} is taken")
    return OPERATION_SPECS.register(spec.name, spec)


def unregister_operation_spec(name: str) -> None:
    """Removes an operation (tests register toy operations and remove them again)."""
    OPERATION_SPECS.unregister(name)


def get_operation(name: str) -> OperationSpec:
    """The registered operation ``name`` (KeyError with close matches when unknown)."""
    return OPERATION_SPECS.get(name)


def short_id(name: str) -> str:
    """Short id of an operation, or the name itself for one that is not registered."""
    return OPERATION_SPECS.get(name).short_id if name in OPERATION_SPECS else name
