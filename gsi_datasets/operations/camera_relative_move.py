"""CM, camera-relative move: "Move the mug 12 cm to the left." (left / right / forward / back in the support plane,
as seen from the camera)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gsi_datasets.operations import Command, OperationSpec, register_operation_spec


@dataclass(frozen=True)
class MoveCommand(Command):
    """Move the target ``distance_m`` in ``direction`` (left, right, forward = away from the camera, back)."""

    distance_m: float

    def values(self) -> dict[str, Any]:
        return {"distance_cm": round(self.distance_m * 100)}

    def describe(self) -> str:
        return f"{self.direction} {self.distance_m * 100:.0f} cm"


SPEC = register_operation_spec(
    OperationSpec(
        name="camera_relative_move",
        short_id="CM",
        command_type=MoveCommand,
        change="object_pose",
        label_fields=("target_object", "transform.translation_m", "support"),
        templates={
            "left": (
                "Move the {object} {distance_cm} cm to the left.",
                "Shift the {object} {distance_cm} centimeters to the left, as seen in the image.",
                "Slide the {object} to the left by {distance_cm} cm.",
                "Push the {object} {distance_cm} centimeters leftward from the camera's point of view.",
                "Move the {object} {distance_cm} cm to the left in the picture.",
            ),
            "right": (
                "Move the {object} {distance_cm} cm to the right.",
                "Shift the {object} {distance_cm} centimeters to the right, as seen in the image.",
                "Slide the {object} to the right by {distance_cm} cm.",
                "Push the {object} {distance_cm} centimeters rightward from the camera's point of view.",
                "Move the {object} {distance_cm} cm to the right in the picture.",
            ),
            "forward": (
                "Move the {object} {distance_cm} cm forward, away from the camera.",
                "Push the {object} {distance_cm} centimeters farther away from the camera.",
                "Slide the {object} {distance_cm} cm away from the viewer along the {support}.",
                "Move the {object} {distance_cm} centimeters deeper into the scene, away from the camera.",
            ),
            "back": (
                "Move the {object} {distance_cm} cm back, toward the camera.",
                "Pull the {object} {distance_cm} centimeters closer to the camera.",
                "Slide the {object} {distance_cm} cm toward the viewer along the {support}.",
                "Bring the {object} {distance_cm} centimeters nearer to the camera.",
            ),
        },
    )
)
