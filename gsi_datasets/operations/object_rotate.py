"""OR, object rotation: "Rotate the mug 90 degrees clockwise, as seen from above." (about the vertical)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gsi_datasets.operations import Command, OperationSpec, register_operation_spec

#: A turn looks different from another when, on at least this fraction of the pixels where the target shows in either
#: view, the two views differ by more than ``DIFFERENT_LEVELS`` (8-bit) in some channel. The generators ask only such
#: turns (rendered from the stored scene); the scene-free scorer calls a turn it cannot tell apart ``undecidable``.
MIN_VISIBLE_DIFFERENCE = 0.15
DIFFERENT_LEVELS = 24


def visible_difference(a: np.ndarray, a_shows: np.ndarray, b: np.ndarray, b_shows: np.ndarray) -> float:
    """The fraction of the pixels where the target shows in either view (``a_shows | b_shows``) at which the RGB
    images ``a`` and ``b`` differ by more than ``DIFFERENT_LEVELS`` in some channel (0 when it shows in neither)."""
    return float(visible_differences(a, a_shows, np.asarray(b)[None], np.asarray(b_shows)[None])[0])


def visible_differences(a: np.ndarray, a_shows: np.ndarray, others: np.ndarray, others_shows: np.ndarray) -> np.ndarray:
    """:func:`visible_difference` of view ``a`` against each of the views ``others`` (``(N, H, W, 3)``, with
    ``others_shows`` ``(N, H, W)``) at once."""
    shows = np.asarray(others_shows, bool) | np.asarray(a_shows, bool)
    # A pixel differs where any channel does (three planes or-ed: numpy reduces a last axis of three slowly).
    channels = np.abs(np.asarray(others, np.float32) - np.asarray(a, np.float32)) > DIFFERENT_LEVELS
    differs = channels[..., 0] | channels[..., 1] | channels[..., 2]
    counted = shows.sum(axis=(1, 2))
    return np.where(counted > 0, (differs & shows).sum(axis=(1, 2)) / np.maximum(counted, 1), 0.0)


#: A turn at least this large is a half turn (a turn read back from a rotation matrix is 180 degrees only to rounding).
HALF_TURN_DEG = 179.5


def look_alikes(angle_deg: float, signed_deg: float) -> dict[str, float]:
    """What an asked turn (``signed_deg``, of size ``angle_deg``) could be mistaken for, as signed turns from the
    source: the unturned object, the opposite turn and the double turn (a half turn is its own opposite, and its double
    is the unturned object)."""
    if angle_deg >= HALF_TURN_DEG:
        return {"unturned": 0.0}
    return {"unturned": 0.0, "opposite": -signed_deg, "doubled": 2.0 * signed_deg}


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
        in_place=True,
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
