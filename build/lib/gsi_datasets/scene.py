"""Renderer-agnostic scene description.

A :class:`Scene` is plain data: which asset instances stand where, the table, the room around it, the
lights and the camera. It serialises to JSON (stored in every dataset row) and is everything a
simulator or renderer needs: MuJoCo rendering (``gsi_datasets.rendering``) and physics
(``gsi_builders.simulation``) consume it, a path tracer can be another consumer, and the operations code only
ever edits scenes.

Frames: world metres, z up; the camera's rotation maps OpenCV camera axes (x right, y down, z forward)
to world axes.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gsi_datasets.geometry import (
    intrinsics_from_fovy,
    matrix_to_quaternion,
    quaternion_to_matrix,
    rotation_about_axis,
)

SCENE_FORMAT_VERSION = 1

#: Instance id of pixels that show no object and no support (floor, walls, background).
BACKGROUND_ID = 0
#: Instance id of the table (the support of every tabletop object).
TABLE_ID = 1
#: First instance id given to objects.
FIRST_OBJECT_ID = 2


@dataclass(frozen=True)
class Pose:
    """A rigid pose: ``position`` (m, world) and unit quaternion ``quaternion`` (w, x, y, z)."""

    position: tuple[float, float, float]
    quaternion: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)

    @property
    def rotation(self) -> np.ndarray:
        """World-from-object rotation matrix (3x3)."""
        return quaternion_to_matrix(np.array(self.quaternion))


@dataclass(frozen=True)
class SurfaceMaterial:
    """Appearance of a large surface (table top, floor, wall): a named procedural pattern.

    Attributes:
        pattern: texture pattern name understood by ``gsi_datasets.assets.textures.surface_texture``.
        seed: seed of the pattern.
        rgb: base colour in [0, 1].
        texture_repeat: how many times the texture tiles per metre.
    """

    pattern: str
    seed: int
    rgb: tuple[float, float, float]
    texture_repeat: float = 2.0


@dataclass(frozen=True)
class SceneObject:
    """One asset instance placed in the scene.

    Attributes:
        instance_id: the id in instance maps (>= ``FIRST_OBJECT_ID``).
        category: asset category name (``gsi_datasets.assets``).
        asset_seed: seed of the asset instance (shape and texture variant).
        scale: uniform scale applied to the generated asset.
        pose: pose of the asset's bounding-box centre.
    """

    instance_id: int
    category: str
    asset_seed: int
    scale: float
    pose: Pose


def changed_object(
    scene_object: SceneObject,
    support_height: float,
    shift_xy: tuple[float, float] = (0.0, 0.0),
    yaw_deg: float = 0.0,
    scale: float = 1.0,
) -> SceneObject:
    """An upright object resting on a horizontal support at ``support_height`` (world z), changed rigidly:
    shifted in the support plane by ``shift_xy`` (m), turned about the vertical through its centre by
    ``yaw_deg`` (counterclockwise from above) and scaled by ``scale`` about its contact with the support
    (its centre's height above the support grows by ``scale``)."""
    x, y, z = scene_object.pose.position
    position = (
        float(x + shift_xy[0]),
        float(y + shift_xy[1]),
        float(support_height + scale * (z - support_height)),
    )
    rotation = rotation_about_axis(np.array([0.0, 0.0, 1.0]), yaw_deg) @ scene_object.pose.rotation
    pose = Pose(position, tuple(float(q) for q in matrix_to_quaternion(rotation)))
    return dataclasses.replace(scene_object, scale=scene_object.scale * scale, pose=pose)


@dataclass(frozen=True)
class Table:
    """A rectangular table centred on the world origin; its top surface is at z = ``height``."""

    size_xy: tuple[float, float]
    height: float
    thickness: float
    material: SurfaceMaterial


@dataclass(frozen=True)
class Room:
    """Floor at z = 0 and a back wall and side walls at ``wall_distance`` from the origin."""

    floor: SurfaceMaterial
    wall: SurfaceMaterial
    wall_distance: float


@dataclass(frozen=True)
class Light:
    """A spot or directional light.

    Attributes:
        position: world position (m).
        direction: unit direction the light points to.
        diffuse: RGB intensity in [0, 1].
        cast_shadow: whether it casts shadows.
        directional: a directional light (like the sun) instead of a spot.
    """

    position: tuple[float, float, float]
    direction: tuple[float, float, float]
    diffuse: tuple[float, float, float]
    cast_shadow: bool = True
    directional: bool = False


@dataclass(frozen=True)
class Camera:
    """A pinhole camera with square pixels and a centred principal point.

    Attributes:
        position: world position of the optical centre (m).
        rotation: 3x3 world-from-camera rotation, OpenCV camera axes (row-major nested tuples).
        fovy_deg: vertical field of view in degrees.
        width: image width in pixels.
        height: image height in pixels.
    """

    position: tuple[float, float, float]
    rotation: tuple[tuple[float, float, float], ...]
    fovy_deg: float
    width: int
    height: int

    @property
    def intrinsics(self) -> np.ndarray:
        """3x3 ``K`` in this camera's own pixel frame."""
        return intrinsics_from_fovy(self.fovy_deg, self.width, self.height)

    @property
    def world_to_camera(self) -> np.ndarray:
        """4x4 matrix mapping world points into the OpenCV camera frame."""
        rotation = np.array(self.rotation)
        matrix = np.eye(4)
        matrix[:3, :3] = rotation.T
        matrix[:3, 3] = -rotation.T @ np.array(self.position)
        return matrix

    def moved(self, camera_delta: np.ndarray) -> Camera:
        """This camera after the motion ``camera_delta`` (4x4, from this camera's frame to the moved camera's
        frame, as ``transform.camera_delta`` of a row): its world-to-camera matrix is ``camera_delta @
        world_to_camera``."""
        world_to_camera = np.asarray(camera_delta) @ self.world_to_camera
        rotation = world_to_camera[:3, :3].T
        position = -rotation @ world_to_camera[:3, 3]
        return dataclasses.replace(
            self,
            position=tuple(float(p) for p in position),
            rotation=tuple(tuple(float(v) for v in row) for row in rotation),
        )


@dataclass(frozen=True)
class Scene:
    """Everything needed to simulate and render one state of a scene."""

    objects: tuple[SceneObject, ...]
    table: Table
    room: Room
    lights: tuple[Light, ...]
    camera: Camera
    version: int = field(default=SCENE_FORMAT_VERSION)

    def object(self, instance_id: int) -> SceneObject:
        """The object with ``instance_id``.

        Raises:
            KeyError: when no object has that id.
        """
        for scene_object in self.objects:
            if scene_object.instance_id == instance_id:
                return scene_object
        raise KeyError(f"scene has no object with instance id {instance_id}")

    def with_object(self, replacement: SceneObject) -> Scene:
        """A copy in which the object with ``replacement.instance_id`` is replaced."""
        self.object(replacement.instance_id)
        objects = tuple(replacement if o.instance_id == replacement.instance_id else o for o in self.objects)
        return dataclasses.replace(self, objects=objects)

    def without_object(self, instance_id: int) -> Scene:
        """A copy without the object ``instance_id`` (raises KeyError when there is none)."""
        self.object(instance_id)
        return dataclasses.replace(self, objects=tuple(o for o in self.objects if o.instance_id != instance_id))

    def with_poses(self, poses: dict[int, Pose]) -> Scene:
        """A copy with the poses of the objects named in ``poses`` replaced."""
        objects = tuple(
            dataclasses.replace(o, pose=poses[o.instance_id]) if o.instance_id in poses else o for o in self.objects
        )
        return dataclasses.replace(self, objects=objects)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (tuples become lists)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Compact JSON with sorted keys (stable bytes for the same scene)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: when the dictionary was written by an unknown scene format version.
        """
        version = data.get("version", SCENE_FORMAT_VERSION)
        if version != SCENE_FORMAT_VERSION:
            raise ValueError(f"scene format version {version} is not supported (expected {SCENE_FORMAT_VERSION})")

        def surface(d: dict[str, Any]) -> SurfaceMaterial:
            return SurfaceMaterial(d["pattern"], d["seed"], tuple(d["rgb"]), d["texture_repeat"])

        def pose(d: dict[str, Any]) -> Pose:
            return Pose(tuple(d["position"]), tuple(d["quaternion"]))

        camera = data["camera"]
        return cls(
            objects=tuple(
                SceneObject(o["instance_id"], o["category"], o["asset_seed"], o["scale"], pose(o["pose"]))
                for o in data["objects"]
            ),
            table=Table(
                tuple(data["table"]["size_xy"]),
                data["table"]["height"],
                data["table"]["thickness"],
                surface(data["table"]["material"]),
            ),
            room=Room(surface(data["room"]["floor"]), surface(data["room"]["wall"]), data["room"]["wall_distance"]),
            lights=tuple(
                Light(
                    tuple(li["position"]),
                    tuple(li["direction"]),
                    tuple(li["diffuse"]),
                    li["cast_shadow"],
                    li["directional"],
                )
                for li in data["lights"]
            ),
            camera=Camera(
                tuple(camera["position"]),
                tuple(tuple(row) for row in camera["rotation"]),
                camera["fovy_deg"],
                camera["width"],
                camera["height"],
            ),
            version=version,
        )

    @classmethod
    def from_json(cls, text: str) -> Scene:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))
