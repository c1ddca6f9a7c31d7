"""OR, object rotation: "Rotate the mug 90 degrees clockwise, as seen from above." (about the vertical)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gsi_datasets.operations import Command, OperationSpec, register_operation_spec


@dataclass(frozen=True)
class RotateCommand(Command):
    """Turn the target ``angle_deg`` about the vertical, ``direction`` clockwise or counterclockwise from above."""

    angle_deg: float

    def values(self) -> dict[str, Any]:
        return {"angle_deg": round(self.angle_deg)}

    def describe(self) -> str:
        return f"{self.direction} {self.angle_deg:.0f} deg"


SPEC = register_operation_spec(
    OperationSpec(
        name="object_rotate",
        short_id="OR",
        command_type=RotateCommand,
        change="object_pose",
        label_fields=("target_object", "transform.rotation_axis", "transform.rotation_deg", "support"),
        templates={
            "clockwise": (
                "Rotate the {object} {angle_deg} degrees clockwise, as seen from above.",
                "Turn the {object} clockwise by {angle_deg} degrees (viewed from above).",
                "Looking down at the {support}, spin the {object} {angle_deg} degrees clockwise.",
                "Rotate the {object} in place by {angle_deg} degrees clockwise when seen from the top.",
            ),
            "counterclockwise": (
                "Rotate the {object} {angle_deg} degrees counterclockwise, as seen from above.",
                "Turn the {object} counterclockwise by {angle_deg} degrees (viewed from above).",
                "Looking down at the {support}, spin the {object} {angle_deg} degrees counterclockwise.",
                "Rotate the {object} in place by {angle_deg} degrees counterclockwise when seen from the top.",
            ),
        },
    )
)
