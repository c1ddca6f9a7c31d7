"""OP, object-relative placement: "Move the mug's centre to the left of the bowl's centre by 15 cm."

The target's centre goes to the reference object's centre plus the distance along one of the camera-relative
ground directions (left / right of the reference as seen in the image, in front of it = towards the camera, behind
it = away from the camera); the reference object does not move, and the target stays on its support.
"""

from __future__ import annotations

from dataclasses import dataclass

from gsi_datasets.operations import OperationSpec, register_operation_spec
from gsi_datasets.operations.camera_relative_move import MoveCommand

#: The relations, and the camera-relative ground direction of each (as in CM: forward = away from the camera).
RELATIONS = {"left": "left", "right": "right", "front": "back", "behind": "forward"}


@dataclass(frozen=True)
class PlaceCommand(MoveCommand):
    """Put the target's centre ``distance_m`` from the reference's centre on its ``direction`` side (left, right,
    front, behind)."""

    def describe(self) -> str:
        return f"{self.direction} of the reference, {self.distance_m * 100:.0f} cm"


SPEC = register_operation_spec(
    OperationSpec(
        name="object_relative_place",
        short_id="OP",
        command_type=PlaceCommand,
        change="object_pose",
        label_fields=("target_object", "reference_object", "transform.translation_m", "support"),
        templates={
            "left": (
                "Move the {object}'s centre to the left of the {reference}'s centre by {distance_cm} cm.",
                "Place the {object} so that its centre is {distance_cm} cm to the left of the {reference}'s centre.",
                "Put the {object} {distance_cm} cm to the left of the {reference}, measured centre to centre.",
                "As seen in the image, set the {object} down with its centre {distance_cm} cm to the left of the "
                "{reference}'s centre.",
            ),
            "right": (
                "Move the {object}'s centre to the right of the {reference}'s centre by {distance_cm} cm.",
                "Place the {object} so that its centre is {distance_cm} cm to the right of the {reference}'s centre.",
                "Put the {object} {distance_cm} cm to the right of the {reference}, measured centre to centre.",
                "As seen in the image, set the {object} down with its centre {distance_cm} cm to the right of the "
                "{reference}'s centre.",
            ),
            "front": (
                "Move the {object}'s centre in front of the {reference}'s centre by {distance_cm} cm.",
                "Place the {object} so that its centre is {distance_cm} cm in front of the {reference}'s centre, "
                "toward the camera.",
                "Put the {object} {distance_cm} cm in front of the {reference} (closer to the camera), measured "
                "centre to centre.",
                "Set the {object} down with its centre {distance_cm} cm in front of the {reference}'s centre, on the "
                "camera's side.",
            ),
            "behind": (
                "Move the {object}'s centre behind the {reference}'s centre by {distance_cm} cm.",
                "Place the {object} so that its centre is {distance_cm} cm behind the {reference}'s centre, away "
                "from the camera.",
                "Put the {object} {distance_cm} cm behind the {reference} (farther from the camera), measured "
                "centre to centre.",
                "Set the {object} down with its centre {distance_cm} cm behind the {reference}'s centre, on the side "
                "away from the camera.",
            ),
        },
    )
)
