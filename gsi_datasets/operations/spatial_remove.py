"""SR, spatial removal: "Remove the mug at the leftmost position."

The instruction names a category and a position; at least two instances of the category are visible and the one at
that position beats the runner-up by at least :data:`MIN_SEPARATION_M` on the position's axis (SPEC section 3), so
the instance is unambiguous. Positions are measured on the instances' 3D centres in the source camera frame
(documented in the README):

- ``leftmost`` / ``rightmost``: the camera's x axis (image right);
- ``closest`` / ``farthest``: the camera's z axis (depth along the optical axis);
- ``highest`` / ``lowest``: the up direction of the world (height above the floor).

The target image is the scene without the instance; the other instances and objects stay where they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gsi_datasets.operations import Command, OperationSpec, register_operation_spec

#: How far the extreme instance must beat the runner-up on the position's axis (metres).
MIN_SEPARATION_M = 0.05
#: Each position: its axis ("x", "depth" or "height") and the sign of the extreme (+1: the largest coordinate).
POSITIONS = {
    "leftmost": ("x", -1.0),
    "rightmost": ("x", 1.0),
    "closest": ("depth", -1.0),
    "farthest": ("depth", 1.0),
    "highest": ("height", 1.0),
    "lowest": ("height", -1.0),
}
#: How the instructions describe each position in a relative clause ("the mug that is furthest to the left").
POSITION_PHRASES = {
    "leftmost": "furthest to the left",
    "rightmost": "furthest to the right",
    "closest": "closest to the camera",
    "farthest": "farthest from the camera",
    "highest": "highest up",
    "lowest": "lowest down",
}


def position_coordinate(position: str, centre: np.ndarray, up: np.ndarray) -> float:
    """The coordinate of a camera-frame point on ``position``'s axis, signed so that the extreme is the largest
    (``up``: unit world up in the camera frame).

    Raises:
        KeyError: an unknown position.
    """
    axis, sign = POSITIONS[position]
    centre = np.asarray(centre, dtype=np.float64)
    value = {"x": centre[0], "depth": centre[2], "height": float(centre @ up)}[axis]
    return sign * float(value)


def extreme_instance(position: str, centres: Mapping[int, np.ndarray], up: np.ndarray) -> tuple[int, float]:
    """The instance at ``position`` among ``centres`` (instance id -> camera-frame centre) and its lead over the
    runner-up on that axis (metres; infinite for a single instance). Generation (the 5 cm rule), the reference
    editor and the tests all use this definition."""
    ranked = sorted(centres, key=lambda i: position_coordinate(position, centres[i], up), reverse=True)
    if len(ranked) == 1:
        return ranked[0], float("inf")
    first, second = (position_coordinate(position, centres[i], up) for i in ranked[:2])
    return ranked[0], first - second


@dataclass(frozen=True)
class RemoveCommand(Command):
    """Remove the instance of the named category at position ``direction`` (a key of :data:`POSITIONS`)."""

    def describe(self) -> str:
        return f"the {self.direction} one"

    @property
    def template_key(self) -> str:
        return "remove"

    def values(self) -> dict[str, str]:
        return {"position": self.direction, "position_phrase": POSITION_PHRASES[self.direction]}


SPEC = register_operation_spec(
    OperationSpec(
        name="spatial_remove",
        short_id="SR",
        command_type=RemoveCommand,
        change="object_removed",
        label_fields=("target_object", "distractors", "support"),
        templates={
            "remove": (
                "Remove the {object} at the {position} position.",
                "Remove the {position} {object}.",
                "Delete the {object} that is {position_phrase}, and leave the others.",
                "Take away the {position} {object} from the scene, as seen in the image.",
            ),
        },
    )
)
