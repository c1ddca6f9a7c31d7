"""PC, camera view change: the camera moves (forward / back / left / right, 0.1-0.3 m at constant height), turns
(left / right about the vertical, 15 or 30 degrees) or tilts (up / down, 15 or 30 degrees); the scene stays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gsi_datasets.geometry import rotation_about_axis
from gsi_datasets.operations import Command, OperationSpec, register_operation_spec

#: Camera motions and their directions.
CAMERA_MOTIONS = {"move": ("forward", "back", "left", "right"), "turn": ("left", "right"), "pitch": ("up", "down")}


@dataclass(frozen=True)
class CameraCommand(Command):
    """Move the camera ``distance_m`` (``motion="move"``) or turn it by ``angle_deg`` (``"turn"``: about the
    vertical, ``"pitch"``: up or down about its horizontal axis), in ``direction``."""

    motion: str
    distance_m: float | None = None
    angle_deg: float | None = None

    def __post_init__(self) -> None:
        if self.direction not in CAMERA_MOTIONS.get(self.motion, ()):
            raise ValueError(f"camera motion {self.motion!r} {self.direction!r} is not one of {CAMERA_MOTIONS}")

    @property
    def template_key(self) -> str:
        return f"{self.motion}_{self.direction}"

    def values(self) -> dict[str, Any]:
        if self.motion == "move":
            return {"distance_cm": round(self.distance_m * 100)}
        return {"angle_deg": round(self.angle_deg)}

    def describe(self) -> str:
        amount = f"{self.distance_m * 100:.0f} cm" if self.motion == "move" else f"{self.angle_deg:.0f} deg"
        return f"{self.motion} {self.direction} {amount}"

    def camera_delta(self, up: np.ndarray) -> np.ndarray:
        """The motion this command asks, as the 4x4 map from the source camera frame to the moved camera's (a row's
        ``transform.camera_delta``), given the world's up direction in the source camera frame (OpenCV axes).

        A move shifts the camera along its horizontal forward or right direction, at constant height; a turn
        rotates it about the vertical through its centre (left = counterclockwise seen from above); a tilt
        rotates it about its own horizontal axis (up = the optical axis rises).
        """
        up = np.asarray(up, float) / np.linalg.norm(up)
        delta = np.eye(4)
        if self.motion == "move":
            forward = np.array([0.0, 0.0, 1.0]) - up[2] * up
            right = np.array([1.0, 0.0, 0.0]) - up[0] * up
            directions = {"forward": forward, "back": -forward, "right": right, "left": -right}
            shift = self.distance_m * directions[self.direction] / np.linalg.norm(directions[self.direction])
            delta[:3, 3] = -shift  # points move opposite to the camera
        elif self.motion == "turn":
            # The camera turns by +angle about up (left); points turn the other way in its frame.
            sign = 1.0 if self.direction == "left" else -1.0
            delta[:3, :3] = rotation_about_axis(up, -sign * self.angle_deg)
        else:
            # Tilting up turns the optical axis (z) towards up (-y): a turn about the camera's x axis.
            sign = 1.0 if self.direction == "up" else -1.0
            delta[:3, :3] = rotation_about_axis(np.array([1.0, 0.0, 0.0]), -sign * self.angle_deg)
        return delta


def _moves(words: str) -> tuple[str, ...]:
    return (
        f"Move the camera {{distance_cm}} cm {words}.",
        f"Shift the viewpoint {{distance_cm}} centimeters {words}, keeping its height and viewing direction.",
        f"Step the camera {words} by {{distance_cm}} cm without turning it.",
    )


SPEC = register_operation_spec(
    OperationSpec(
        name="camera_view_change",
        short_id="PC",
        command_type=CameraCommand,
        change="camera",
        label_fields=("camera.target_world_to_camera", "transform.camera_delta"),
        object_target=False,
        templates={
            "move_forward": _moves("forward, toward the scene"),
            "move_back": _moves("back, away from the scene"),
            "move_left": _moves("to the left"),
            "move_right": _moves("to the right"),
            "turn_left": (
                "Turn the camera {angle_deg} degrees to the left.",
                "Pan the view {angle_deg} degrees to the left, turning the camera in place.",
                "Rotate the viewpoint {angle_deg} degrees leftward about the vertical, staying in the same spot.",
            ),
            "turn_right": (
                "Turn the camera {angle_deg} degrees to the right.",
                "Pan the view {angle_deg} degrees to the right, turning the camera in place.",
                "Rotate the viewpoint {angle_deg} degrees rightward about the vertical, staying in the same spot.",
            ),
            "pitch_up": (
                "Tilt the camera up by {angle_deg} degrees.",
                "Look {angle_deg} degrees higher, tilting the camera upward in place.",
                "Raise the camera's viewing angle by {angle_deg} degrees without moving it.",
            ),
            "pitch_down": (
                "Tilt the camera down by {angle_deg} degrees.",
                "Look {angle_deg} degrees lower, tilting the camera downward in place.",
                "Lower the camera's viewing angle by {angle_deg} degrees without moving it.",
            ),
        },
    )
)
