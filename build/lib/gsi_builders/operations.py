"""Spatial edit operations: each one turns a settled source scene into an intended target scene.

An operation draws its parameters, checks what can be checked before simulating (the footprint stays
on the table and clear of other objects, the angle is not a symmetry of the object), and returns an
:class:`EditProposal`. The sample generator then settles the proposal and applies the validity rules
that need physics and rendering. New operations register with :func:`register_operation` and touch
nothing else.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gsi_builders.instructions import phrase, scale_key
from gsi_builders.tabletop import footprint_is_free, footprint_radius
from gsi_datasets.assets import get_category
from gsi_datasets.geometry import matrix_to_quaternion, rotation_about_axis
from gsi_datasets.rendering import asset_of
from gsi_datasets.scene import Pose, Scene, SceneObject

_UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Command:
    """What the instruction asks, in its own units (unused fields are None)."""

    direction: str
    distance_m: float | None = None
    angle_deg: float | None = None
    scale_factor: float | None = None


@dataclass(frozen=True)
class EditProposal:
    """An intended edit, before physics.

    Attributes:
        operation: operation name (``gsi_datasets.schema.OPERATIONS``).
        target_id: instance id of the edited object.
        target_scene: the scene after the edit, with the edited object at its intended pose.
        command: the asked parameters.
        instruction: the instruction text.
        template: the template it was filled from.
    """

    operation: str
    target_id: int
    target_scene: Scene
    command: Command
    instruction: str
    template: str

    @property
    def intended_pose(self) -> Pose:
        """Where the edited object should come to rest."""
        return self.target_scene.object(self.target_id).pose


class Rejected(Exception):
    """A proposal could not be made for this target; ``reason`` names the rule (counted in build reports)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Proposer = Callable[[Scene, SceneObject, np.random.Generator], EditProposal]
OPERATION_PROPOSERS: dict[str, Proposer] = {}


def register_operation(name: str) -> Callable[[Proposer], Proposer]:
    """Decorator registering ``propose(scene, target, rng) -> EditProposal`` for an operation."""

    def decorator(propose: Proposer) -> Proposer:
        if name in OPERATION_PROPOSERS:
            raise ValueError(f"operation {name!r} is registered twice")
        OPERATION_PROPOSERS[name] = propose
        return propose

    return decorator


def propose_edit(operation: str, scene: Scene, target: SceneObject, rng: np.random.Generator) -> EditProposal:
    """Runs the registered proposer of ``operation``.

    Raises:
        KeyError: unknown operation (with close matches).
        Rejected: when this target cannot take this edit.
    """
    if operation not in OPERATION_PROPOSERS:
        close = difflib.get_close_matches(operation, OPERATION_PROPOSERS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"no generator for operation {operation!r}.{hint} Known: {sorted(OPERATION_PROPOSERS)}")
    return OPERATION_PROPOSERS[operation](scene, target, rng)


def ground_directions(scene: Scene) -> dict[str, np.ndarray]:
    """Unit world vectors in the table plane for left / right / forward / back as seen from the camera."""
    rotation = np.array(scene.camera.rotation)
    right = rotation[:, 0] - rotation[:, 0] @ _UP * _UP
    forward = rotation[:, 2] - rotation[:, 2] @ _UP * _UP
    right /= np.linalg.norm(right)
    forward /= np.linalg.norm(forward)
    return {"left": -right, "right": right, "forward": forward, "back": -forward}


def _moved(
    target: SceneObject, position: np.ndarray, rotation: np.ndarray | None = None, scale: float | None = None
) -> SceneObject:
    quaternion = target.pose.quaternion if rotation is None else tuple(float(q) for q in matrix_to_quaternion(rotation))
    pose = Pose(tuple(float(p) for p in position), quaternion)
    return dataclasses.replace(target, pose=pose, scale=target.scale if scale is None else scale)


@register_operation("camera_relative_move")
def propose_camera_relative_move(scene: Scene, target: SceneObject, rng: np.random.Generator) -> EditProposal:
    """Move 5-20 cm (whole centimetres) left / right / forward / back in the table plane, camera-relative."""
    direction = str(rng.choice(["left", "right", "forward", "back"]))
    distance_cm = int(rng.integers(5, 21))
    position = np.array(target.pose.position) + ground_directions(scene)[direction] * distance_cm / 100.0
    if not footprint_is_free(scene, target.instance_id, position[:2], footprint_radius(target)):
        raise Rejected("move_blocked")
    instruction, template = phrase(
        "camera_relative_move",
        direction,
        rng,
        object=get_category(target.category).display_name,
        distance_cm=distance_cm,
    )
    return EditProposal(
        "camera_relative_move",
        target.instance_id,
        scene.with_object(_moved(target, position)),
        Command(direction, distance_m=distance_cm / 100.0),
        instruction,
        template,
    )


@register_operation("object_rotate")
def propose_object_rotate(scene: Scene, target: SceneObject, rng: np.random.Generator) -> EditProposal:
    """Rotate in place about the vertical axis by 45, 90 or 180 degrees, clockwise or counterclockwise (from above)."""
    category = get_category(target.category)
    angles = [a for a in (45, 90, 180) if not category.is_symmetry(a)]
    if not angles:
        raise Rejected("rotation_symmetric_object")
    angle = int(rng.choice(angles))
    direction = str(rng.choice(["clockwise", "counterclockwise"]))
    # Seen from above (looking down -z), a positive right-handed turn about +z is counterclockwise.
    signed = angle if direction == "counterclockwise" else -angle
    rotation = rotation_about_axis(_UP, signed) @ target.pose.rotation
    instruction, template = phrase("object_rotate", direction, rng, object=category.display_name, angle_deg=angle)
    return EditProposal(
        "object_rotate",
        target.instance_id,
        scene.with_object(_moved(target, np.array(target.pose.position), rotation)),
        Command(direction, angle_deg=float(angle)),
        instruction,
        template,
    )


@register_operation("object_scale")
def propose_object_scale(scene: Scene, target: SceneObject, rng: np.random.Generator) -> EditProposal:
    """Uniform scaling by 0.5, 0.75, 1.5 or 2 about the object's contact point, so it stays on its support."""
    factor = float(rng.choice([0.5, 0.75, 1.5, 2.0]))
    centre = np.array(target.pose.position)
    corners_z = _lowest_point_z(target)
    position = centre.copy()
    position[2] = corners_z + factor * (centre[2] - corners_z)
    scaled = _moved(target, position, scale=target.scale * factor)
    if not footprint_is_free(scene, target.instance_id, position[:2], footprint_radius(scaled)):
        raise Rejected("scaled_footprint_blocked")
    if factor < 1.0 and asset_of(scaled).size.min() < 0.006:
        raise Rejected("scaled_too_small")
    instruction, template = phrase(
        "object_scale", scale_key(factor), rng, object=get_category(target.category).display_name
    )
    return EditProposal(
        "object_scale",
        target.instance_id,
        scene.with_object(scaled),
        Command("up" if factor > 1 else "down", scale_factor=factor),
        instruction,
        template,
    )


def _lowest_point_z(scene_object: SceneObject) -> float:
    """World z of the lowest vertex of the object at its pose (its contact with the support)."""
    asset = asset_of(scene_object)
    rotation = scene_object.pose.rotation
    lowest = min(float((part.vertices @ rotation.T)[:, 2].min()) for part in asset.parts)
    return scene_object.pose.position[2] + lowest
