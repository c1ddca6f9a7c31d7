"""PC generation: the camera moves 10-30 cm (forward / back / left / right at constant height), turns left or right
by 15 or 30 degrees about the vertical, or tilts up or down by 15 or 30 degrees; the scene stays as it is.

Validity rules of its own: the moved camera stays inside the room (``WALL_CLEARANCE_M`` from every wall) and
outside every piece of furniture (``FURNITURE_CLEARANCE_M``), and at least ``MIN_VIEW_OVERLAP`` of the source
view's furniture and object pixels stay visible in the target view (so the motion can be recovered and scored).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gsi_builders.operations import (
    UP,
    CounterfactualStates,
    EditProposal,
    OperationGenerator,
    Rejected,
    register_generator,
)
from gsi_datasets.geometry import transform_points, unproject_pixels
from gsi_datasets.operations.camera_view_change import CAMERA_MOTIONS, CameraCommand
from gsi_datasets.rendering import RenderOutput, StateRenderer
from gsi_datasets.scene import BACKGROUND_ID, Camera, Scene, SceneObject

WALL_CLEARANCE_M = 0.25
FURNITURE_CLEARANCE_M = 0.15
#: Share of the source view's pixels that must stay visible in the target view.
MIN_VIEW_OVERLAP = 0.5
DISTANCES_CM = (10, 15, 20, 25, 30)
ANGLES_DEG = (15, 30)


def moved_camera(camera: Camera, command: CameraCommand) -> Camera:
    """``camera`` after the motion ``command`` asks (:meth:`CameraCommand.camera_delta`, world up = +z)."""
    up_camera = camera.world_to_camera[:3, :3] @ UP
    return camera.moved(command.camera_delta(up_camera))


def camera_blocked(scene: Scene, camera: Camera) -> str | None:
    """Why ``camera`` cannot be where it is (the rule's name), or None."""
    position = np.array(camera.position)
    half = np.array(scene.room.size_xy) / 2.0 - WALL_CLEARANCE_M
    if np.any(np.abs(position[:2]) > half) or not 0.1 < position[2] < scene.room.wall_height - WALL_CLEARANCE_M:
        return "camera_leaves_room"
    for piece in scene.furniture:
        centre, size = piece.local_box()
        local = piece.pose.rotation.T @ (position - np.array(piece.pose.position)) - centre
        if np.all(np.abs(local) <= size / 2 + FURNITURE_CLEARANCE_M):
            return "camera_inside_furniture"
    return None


def view_overlap(source: RenderOutput, target: RenderOutput, intrinsics: np.ndarray, delta: np.ndarray) -> float:
    """Share of the source pixels showing furniture or objects (what a camera motion is recovered from; bare walls
    and floor carry few features) that stay visible, in frame and not occluded, from the moved camera."""
    rows, cols = np.nonzero((source.depth_m > 0) & (source.instances != BACKGROUND_ID))
    if len(rows) == 0:
        return 0.0
    step = max(1, len(rows) // 20000)
    rows, cols = rows[::step], cols[::step]
    points = unproject_pixels(intrinsics, np.column_stack([cols, rows]).astype(float), source.depth_m[rows, cols])
    moved = transform_points(delta, points)
    in_front = moved[:, 2] > 1e-3
    pixels = moved[in_front] @ intrinsics.T
    u = np.round(pixels[:, 0] / pixels[:, 2]).astype(int)
    v = np.round(pixels[:, 1] / pixels[:, 2]).astype(int)
    height, width = target.depth_m.shape
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    seen = target.depth_m[v[inside], u[inside]]
    visible = np.abs(seen - moved[in_front][inside, 2]) <= 0.02 + 0.02 * seen
    return float(visible.sum() / len(rows))


@register_generator
class CameraViewChange(OperationGenerator):
    name = "camera_view_change"

    def propose(self, scene: Scene, target: SceneObject | None, rng: np.random.Generator) -> EditProposal:
        motion = str(rng.choice(list(CAMERA_MOTIONS)))
        direction = str(rng.choice(CAMERA_MOTIONS[motion]))
        if motion == "move":
            command = CameraCommand(direction, motion, distance_m=int(rng.choice(DISTANCES_CM)) / 100.0)
        else:
            command = CameraCommand(direction, motion, angle_deg=float(rng.choice(ANGLES_DEG)))
        moved = moved_camera(scene.camera, command)
        if reason := camera_blocked(scene, moved):
            raise Rejected(reason)
        return self.proposal(scene, None, dataclasses.replace(scene, camera=moved), command, rng)

    def check_views(
        self,
        source_scene: Scene,
        source: RenderOutput,
        target: RenderOutput,
        proposal: EditProposal,
        rules: object,
        renderer: StateRenderer,
    ) -> None:
        delta = proposal.target_scene.camera.world_to_camera @ np.linalg.inv(source_scene.camera.world_to_camera)
        if view_overlap(source, target, proposal.target_scene.camera.intrinsics, delta) < MIN_VIEW_OVERLAP:
            raise Rejected("camera_view_overlap_too_small")

    def counterfactual_states(
        self,
        source: Scene,
        oracle: Scene,
        target_id: int | None,
        reference_id: int | None,
        command: CameraCommand,
        rng: np.random.Generator,
    ) -> CounterfactualStates:
        """Wrong magnitude (x0.5, x1.5), wrong direction (the opposite motion) and wrong kind (a turn instead of a move,
        a sideways move instead of a turn or tilt), each with a camera that stays in the room."""
        variants: dict[str, tuple[str, CameraCommand]] = {}
        for factor in (0.5, 1.5):
            amount = (
                {"distance_m": command.distance_m * factor}
                if command.motion == "move"
                else {"angle_deg": command.angle_deg * factor}
            )
            variants[f"magnitude/x{factor:g}"] = ("magnitude", dataclasses.replace(command, **amount))
        opposite = {"forward": "back", "back": "forward", "left": "right", "right": "left", "up": "down", "down": "up"}
        variants["direction/opposite"] = (
            "direction",
            dataclasses.replace(command, direction=opposite[command.direction]),
        )
        if command.motion == "move":
            wrong_kind = CameraCommand(str(rng.choice(["left", "right"])), "turn", angle_deg=15.0)
        else:
            wrong_kind = CameraCommand(str(rng.choice(["left", "right"])), "move", distance_m=0.2)
        variants["kind/wrong_motion"] = ("kind", wrong_kind)
        states: CounterfactualStates = {}
        for name, (family, variant) in variants.items():
            moved = moved_camera(source.camera, variant)
            states[name] = (
                family,
                None if camera_blocked(source, moved) else dataclasses.replace(source, camera=moved),
            )
        return states
