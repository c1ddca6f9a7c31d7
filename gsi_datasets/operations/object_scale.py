"""OS, object scaling: "Make the mug twice as large." (uniform, about its contact with its support)."""

from __future__ import annotations

from dataclasses import dataclass

from gsi_datasets.operations import Command, OperationSpec, register_operation_spec


@dataclass(frozen=True)
class ScaleCommand(Command):
    """Scale the target uniformly by ``scale_factor``; ``direction`` is ``"up"`` or ``"down"``."""

    scale_factor: float

    @classmethod
    def of(cls, factor: float) -> ScaleCommand:
        return cls("up" if factor > 1 else "down", factor)

    @property
    def template_key(self) -> str:
        return f"{self.scale_factor:g}"

    def describe(self) -> str:
        return f"x{self.scale_factor:g}"


SPEC = register_operation_spec(
    OperationSpec(
        name="object_scale",
        short_id="OS",
        command_type=ScaleCommand,
        change="object_scale",
        label_fields=("target_object", "transform.scale_factor", "support"),
        in_place=True,
        templates={
            "0.5": (
                "Make the {object} half its size.",
                "Shrink the {object} to half of its current size.",
                "Scale down the {object} by 50%.",
                "Halve the size of the {object}, keeping it where it stands.",
            ),
            "0.75": (
                "Scale down the {object} by 25%.",
                "Make the {object} 25% smaller.",
                "Shrink the {object} to three quarters of its size.",
                "Reduce the size of the {object} by a quarter, keeping it where it stands.",
            ),
            "1.5": (
                "Make the {object} 50% larger.",
                "Scale up the {object} by 50%.",
                "Enlarge the {object} to 1.5 times its current size.",
                "Increase the size of the {object} by half, keeping it where it stands.",
            ),
            "2": (
                "Make the {object} twice as large.",
                "Double the size of the {object}.",
                "Scale the {object} up to twice its current size.",
                "Enlarge the {object} to 2 times its size, keeping it where it stands.",
            ),
        },
    )
)
