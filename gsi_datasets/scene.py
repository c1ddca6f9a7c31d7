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
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from gsi_datasets.geometry import (
    intrinsics_from_fovy,
    matrix_to_quaternion,
    project_points,
    quaternion_to_matrix,
    rotation_about_axis,
)

SCENE_FORMAT_VERSION = 2
#: Scene format versions this module reads (version 1: one ``table`` field instead of furniture).
READABLE_SCENE_VERSIONS = (1, 2)

#: Instance id of pixels that show no object and no furniture (floor, walls, ceiling, background); as a
#: ``support_id`` it means the floor.
BACKGROUND_ID = 0
FLOOR_ID = BACKGROUND_ID


@dataclass(frozen=True)
class Pose:
    """A rigid pose: ``position`` (m, world) and unit quaternion ``quaternion`` (w, x, y, z)."""

    position: tuple[float, float, float]
    quaternion: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)

    @property
    def rotation(self) -> np.ndarray:
        """World-from-object rotation matrix (3x3)."""
        return self._rotation.copy()

    @functools.cached_property
    def _rotation(self) -> np.ndarray:
        """:attr:`rotation`, made once per pose (a search asks the same poses for it thousands of times)."""
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
        instance_id: the id in instance maps (unique among the scene's objects and furniture).
        category: asset category name (``gsi_datasets.assets``).
        asset_seed: seed of the asset instance (shape and texture variant).
        scale: uniform scale applied to the generated asset.
        pose: pose of the asset's bounding-box centre.
        support_id: instance id of the furniture, or of the receptacle object (:func:`receiving_surface`), it stands on
            (``FLOOR_ID`` for the floor).
    """

    instance_id: int
    category: str
    asset_seed: int
    scale: float
    pose: Pose
    support_id: int = FLOOR_ID


def receiving_surface(scene_object: SceneObject) -> SupportSurface | None:
    """The flat top that other objects can be put on, for a receptacle category (``Category.receiving_part``: a tray's
    floor, a cutting board, a box's lid, a plate's well), in the object's frame (origin at its box centre; it stands
    upright): the receiving part's top over its footprint's bounding box made symmetric about the origin (so a cutting
    board's handle tab is left out), shrunk about the origin until it lies inside the footprint (a round plate's well,
    rounded corners). None for the other categories."""
    return _receiving_surface(scene_object.category, scene_object.asset_seed, scene_object.scale)


@lru_cache(maxsize=256)
def _receiving_surface(category: str, asset_seed: int, scale: float) -> SupportSurface | None:
    """:func:`receiving_surface` of one asset variant, computed once per process (support lookups ask for it often)."""
    from scipy.spatial import ConvexHull

    from gsi_datasets.rendering import cached_asset  # rendering imports this module

    asset = cached_asset(category, asset_seed, scale)
    part_name = asset.category.receiving_part
    if part_name is None:
        return None
    vertices = next(part.vertices for part in asset.parts if part.name == part_name)
    half = np.minimum(-vertices[:, :2].min(axis=0), vertices[:, :2].max(axis=0))
    # Each hull edge is {p: normal . p <= offset}; the box's farthest corner along the normal reaches |normal| . half.
    equations = ConvexHull(vertices[:, :2]).equations
    reach = np.abs(equations[:, :2]) @ half
    half_x, half_y = half * min(1.0, float(np.min(-equations[:, 2] / reach)))
    return SupportSurface("top", float(vertices[:, 2].max()), (-half_x, -half_y, half_x, half_y))


#: Cell size of a container's inner surface map (metres).
_INNER_SURFACE_CELL_M = 0.002


def is_container(scene_object: SceneObject) -> bool:
    """Whether the object is an open vessel things are put in (``Category.container``: a bowl)."""
    from gsi_datasets.assets import get_category

    return get_category(scene_object.category).container


def resting_bottom(container: SceneObject, resting: SceneObject, position_xy: np.ndarray) -> float:
    """World height of the bottom of ``resting`` (upright, with its yaw) put in ``container`` (:func:`is_container`;
    upright) with its centre over ``position_xy``: the lowest height at which no point of its underside is under the
    container's top-most surface seen from above (its inner wall and floor; outside it, the surface it stands on).
    Physics settles it there (it may roll a little on a curved floor)."""
    heights, low_corner = _inner_surface(container.category, container.asset_seed, container.scale)
    offsets = _underside(resting.category, resting.asset_seed, resting.scale) @ np.asarray(resting.pose.rotation).T
    rotation, origin = np.asarray(container.pose.rotation), np.asarray(container.pose.position)
    world = np.column_stack([np.asarray(position_xy, float)[:2] + offsets[:, :2], np.full(len(offsets), origin[2])])
    cells = np.floor((((world - origin) @ rotation)[:, :2] - low_corner) / _INNER_SURFACE_CELL_M).astype(int)
    inside = np.all((cells >= 0) & (cells < heights.shape), axis=1)
    surface = np.full(len(cells), heights.min())  # the surface the container stands on, in its frame
    surface[inside] = heights[cells[inside, 0], cells[inside, 1]]
    above_bottom = offsets[:, 2] - offsets[:, 2].min()
    return float(origin[2] + np.max(surface - above_bottom))


#: A variant's sampled surface points are made and reduced this many at a time (a large object has millions).
_SURFACE_CHUNK_POINTS = 250_000


def _sampled_surface(category: str, asset_seed: int, scale: float) -> Iterator[np.ndarray]:
    """Points on the drawn surface of an asset variant, in its frame, no farther apart than half a cell of a
    container's surface map (its triangles sampled on a barycentric grid), chunk by chunk (about
    ``_SURFACE_CHUNK_POINTS`` each): millions for a large object, which together would take hundreds of megabytes."""
    from gsi_datasets.rendering import cached_asset  # rendering imports this module

    triangles = np.concatenate(
        [p.vertices[p.faces] for p in cached_asset(category, asset_seed, scale).parts if p.shown]
    )
    edges = np.linalg.norm(triangles - np.roll(triangles, 1, axis=1), axis=2).max(axis=1)
    steps = np.maximum(np.ceil(edges / (0.5 * _INNER_SURFACE_CELL_M)).astype(int), 1)
    yield triangles.reshape(-1, 3)
    for n in np.unique(steps):
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = i + j <= n
        weights = np.column_stack([i[keep], j[keep], n - i[keep] - j[keep]]) / n  # barycentric, (S, 3)
        sampled = triangles[steps == n]
        per_chunk = max(1, _SURFACE_CHUNK_POINTS // len(weights))
        for first in range(0, len(sampled), per_chunk):
            yield np.einsum("sk,tkd->tsd", weights, sampled[first : first + per_chunk]).reshape(-1, 3)


@lru_cache(maxsize=64)
def _surface_bounds(category: str, asset_seed: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and the highest coordinates of an asset variant's sampled surface points
    (:func:`_sampled_surface`)."""
    low, high = np.full(3, np.inf), np.full(3, -np.inf)
    for points in _sampled_surface(category, asset_seed, scale):
        low, high = np.minimum(low, points.min(axis=0)), np.maximum(high, points.max(axis=0))
    return low, high


@lru_cache(maxsize=64)
def _underside(category: str, asset_seed: int, scale: float) -> np.ndarray:
    """The lowest surface point of an asset variant in each half-cell square of its own footprint, in its frame: the
    points that can touch what it rests on (a higher point over the same spot never does; computed once per
    variant, a few thousand points where the sampled surface has millions), in the order of their squares."""
    low, high = _surface_bounds(category, asset_seed, scale)
    half_cell = 0.5 * _INNER_SURFACE_CELL_M
    rows = int(np.floor((high[1] - low[1]) / half_cell)) + 1
    keys, lowest = np.zeros(0, np.int64), np.zeros((0, 3))
    for points in _sampled_surface(category, asset_seed, scale):
        bins = np.floor((points[:, :2] - low[:2]) / half_cell).astype(np.int64)
        # The lowest point of each square so far, the earlier point of equal height first (a stable sort).
        keys = np.concatenate([keys, bins[:, 0] * rows + bins[:, 1]])
        lowest = np.concatenate([lowest, points])
        order = np.lexsort((lowest[:, 2], keys))
        first = np.concatenate([[True], keys[order][1:] != keys[order][:-1]])
        keys, lowest = keys[order[first]], lowest[order[first]]
    return lowest


@lru_cache(maxsize=64)
def _inner_surface(category: str, asset_seed: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """A container's top-most surface seen from above, in its frame: the highest of its surface points in each
    ``_INNER_SURFACE_CELL_M`` cell of a grid (its bottom where it has none), and the grid's low corner."""
    low, high = _surface_bounds(category, asset_seed, scale)
    low_corner = low[:2].copy()  # the bounds are cached: a caller gets its own corner
    heights = np.full(np.floor((high[:2] - low_corner) / _INNER_SURFACE_CELL_M).astype(int) + 1, low[2])
    for points in _sampled_surface(category, asset_seed, scale):
        cells = np.floor((points[:, :2] - low_corner) / _INNER_SURFACE_CELL_M).astype(int)
        np.maximum.at(heights, (cells[:, 0], cells[:, 1]), points[:, 2])
    return heights, low_corner


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
class Block:
    """A solid piece of furniture: a box, or an upright cylinder, in the furniture's local frame.

    Attributes:
        centre: centre (m) in the local frame (z up, the floor at z = 0 under the furniture's origin).
        size: full extents (m); a cylinder's diameter is ``size[0]`` and its height ``size[2]``.
        material: index into the furniture's ``materials``.
        shape: ``"box"`` or ``"cylinder"``.
    """

    centre: tuple[float, float, float]
    size: tuple[float, float, float]
    material: int = 0
    shape: str = "box"


@dataclass(frozen=True)
class SupportSurface:
    """A horizontal rectangle that objects can stand on (a table top, a shelf board, a seat), local frame.

    Attributes:
        name: what it is, unique within its furniture ("top", "shelf 2", "seat").
        height: z (m) of the surface.
        extent: ``(x_min, y_min, x_max, y_max)`` (m) of the usable area.
        clearance: free height (m) above the surface (the next board of a shelf; large for open tops).
    """

    name: str
    height: float
    extent: tuple[float, float, float, float]
    clearance: float = 10.0


@dataclass(frozen=True)
class Furniture:
    """A static piece of furniture: solid blocks, their materials and the surfaces that support objects.

    Furniture is stored explicitly (not regenerated from a seed), so a scene re-renders it exactly.

    Attributes:
        instance_id: the id in instance maps.
        category: furniture category (``gsi_datasets.assets.furniture``; ``"table"`` for tabletop scenes).
        pose: pose of the local frame (origin on the floor; turned about the vertical only).
        blocks: the solid pieces.
        materials: surface materials referenced by the blocks.
        surfaces: where objects can stand.
    """

    instance_id: int
    category: str
    pose: Pose
    blocks: tuple[Block, ...]
    materials: tuple[SurfaceMaterial, ...]
    surfaces: tuple[SupportSurface, ...] = ()

    def surface(self, name: str) -> SupportSurface:
        """The support surface called ``name`` (KeyError when there is none)."""
        for surface in self.surfaces:
            if surface.name == name:
                return surface
        raise KeyError(f"{self.category} {self.instance_id} has no support surface {name!r}")

    @property
    def top(self) -> SupportSurface:
        """The highest surface: what a thing put "on" the piece stands on (a table's top, a bed's mattress)."""
        return max(self.surfaces, key=lambda surface: surface.height)

    def local_box(self) -> tuple[np.ndarray, np.ndarray]:
        """``(centre, size)`` of the axis-aligned local box around every block."""
        low = np.min([np.subtract(b.centre, np.divide(b.size, 2)) for b in self.blocks], axis=0)
        high = np.max([np.add(b.centre, np.divide(b.size, 2)) for b in self.blocks], axis=0)
        return (low + high) / 2.0, high - low


def table_furniture(
    instance_id: int, size_xy: tuple[float, float], height: float, thickness: float, material: SurfaceMaterial
) -> Furniture:
    """The plain four-legged table of tabletop scenes, centred on the world origin."""
    sx, sy = size_xy
    leg = 0.05
    blocks = [Block((0.0, 0.0, height - thickness / 2), (sx, sy, thickness))]
    for ix in (-1, 1):
        for iy in (-1, 1):
            position = (ix * (sx / 2 - leg), iy * (sy / 2 - leg), (height - thickness) / 2)
            blocks.append(Block(position, (leg, leg, height - thickness)))
    top = SupportSurface("top", height, (-sx / 2, -sy / 2, sx / 2, sy / 2))
    return Furniture(instance_id, "table", Pose((0.0, 0.0, 0.0)), tuple(blocks), (material,), (top,))


@dataclass(frozen=True)
class Opening:
    """A door or window in a wall: a gap in the wall, framed.

    Attributes:
        wall: ``"north"`` (+y), ``"south"`` (-y), ``"east"`` (+x) or ``"west"`` (-x).
        offset: centre of the opening along the wall (m, from the wall's middle, along +x or +y).
        width: width (m).
        bottom: height of the sill (0 for a door).
        top: height of the lintel.
        kind: ``"door"`` or ``"window"`` (a window lets the sky's light in).
    """

    wall: str
    offset: float
    width: float
    bottom: float
    top: float
    kind: str


@dataclass(frozen=True)
class Room:
    """A rectangular room centred on the world origin: floor at z = 0, four walls, optional ceiling.

    Attributes:
        floor: floor material.
        wall: wall material.
        size_xy: inner size (m) along x and y.
        wall_height: height of the walls (m).
        openings: doors and windows.
        ceiling: ceiling material, or None for an open top.
    """

    floor: SurfaceMaterial
    wall: SurfaceMaterial
    size_xy: tuple[float, float]
    wall_height: float = 3.0
    openings: tuple[Opening, ...] = ()
    ceiling: SurfaceMaterial | None = None


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


def look_at_rotation(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-from-camera rotation (OpenCV axes) of a camera at ``position`` looking at ``target``, roll-free."""
    forward = target - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.column_stack([right, down, forward])


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
        return self._matrices[0].copy()

    @property
    def world_to_camera(self) -> np.ndarray:
        """4x4 matrix mapping world points into the OpenCV camera frame."""
        return self._matrices[1].copy()

    @functools.cached_property
    def _matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """``(intrinsics, world_to_camera)``, made once per camera (a search projects through one camera thousands of
        times); the properties hand out copies."""
        rotation = np.array(self.rotation)
        matrix = np.eye(4)
        matrix[:3, :3] = rotation.T
        matrix[:3, 3] = -rotation.T @ np.array(self.position)
        return intrinsics_from_fovy(self.fovy_deg, self.width, self.height), matrix

    def project(self, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(pixels (N, 2), depth along the optical axis (N,))`` of world points ``(N, 3)``; pixels are meaningless
        where the depth is not positive (behind the camera)."""
        intrinsics, world_to_camera = self._matrices
        in_camera = np.asarray(points_world, float) @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
        return project_points(intrinsics, in_camera), in_camera[:, 2]

    @classmethod
    def looking_at(cls, position: np.ndarray, target: np.ndarray, fovy_deg: float, width: int, height: int) -> Camera:
        """A roll-free camera at ``position`` looking at ``target`` (world points)."""
        rotation = look_at_rotation(np.asarray(position, float), np.asarray(target, float))
        return cls(
            position=tuple(float(p) for p in position),
            rotation=tuple(tuple(float(v) for v in row) for row in rotation),
            fovy_deg=fovy_deg,
            width=width,
            height=height,
        )

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
    """Everything needed to simulate and render one state of a scene.

    Attributes:
        objects: the movable objects (catalog assets), each standing on a support.
        furniture: static furniture; its support surfaces carry objects (a tabletop scene has one table).
        room: floor, walls, openings and ceiling.
        lights: the lights.
        camera: the camera.
        version: scene format version it was written with.
    """

    objects: tuple[SceneObject, ...]
    furniture: tuple[Furniture, ...]
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

    def furniture_piece(self, instance_id: int) -> Furniture:
        """The furniture with ``instance_id`` (KeyError when there is none)."""
        for piece in self.furniture:
            if piece.instance_id == instance_id:
                return piece
        raise KeyError(f"scene has no furniture with instance id {instance_id}")

    def support_piece(self, instance_id: int) -> Furniture:
        """What objects with ``support_id == instance_id`` stand on: that furniture, or that receptacle object seen as
        furniture without blocks (its pose, its :func:`receiving_surface`).

        Raises:
            KeyError: when no furniture or object has that id, or the object is no receptacle.
        """
        if any(piece.instance_id == instance_id for piece in self.furniture):
            return self.furniture_piece(instance_id)
        receptacle = self.object(instance_id)
        surface = receiving_surface(receptacle)
        if surface is None:
            raise KeyError(f"{receptacle.category} {instance_id} is no receptacle: nothing stands on it")
        return Furniture(instance_id, receptacle.category, receptacle.pose, (), (), (surface,))

    def category_of(self, instance_id: int) -> str:
        """Category of an object or piece of furniture; ``"floor"`` for ``FLOOR_ID``."""
        if instance_id == FLOOR_ID:
            return "floor"
        try:
            return self.object(instance_id).category
        except KeyError:
            return self.furniture_piece(instance_id).category

    def support_surface(self, scene_object: SceneObject, position: np.ndarray | None = None) -> SupportSurface | None:
        """The surface ``scene_object`` stands on (at ``position``, default its own; the object need not be in the
        scene): the highest surface of its support below its centre whose area contains it; None for the floor.

        Raises:
            ValueError: when no surface of its support is under that point.
        """
        if scene_object.support_id == FLOOR_ID:
            return None
        position = np.asarray(scene_object.pose.position if position is None else position, float)
        piece = self.support_piece(scene_object.support_id)
        below = [
            surface
            for surface in piece.surfaces
            if piece.pose.position[2] + surface.height <= position[2] and surface_contains(piece, surface, position)
        ]
        if not below:
            raise ValueError(
                f"object {scene_object.instance_id} is not above any surface of its support {piece.category} "
                f"{piece.instance_id}"
            )
        return max(below, key=lambda surface: surface.height)

    def support_height(self, scene_object: SceneObject, position: np.ndarray | None = None) -> float:
        """World z of :meth:`support_surface` (0 for the floor)."""
        surface = self.support_surface(scene_object, position)
        if surface is None:
            return 0.0
        return float(self.support_piece(scene_object.support_id).pose.position[2] + surface.height)

    def with_object(self, replacement: SceneObject) -> Scene:
        """A copy in which the object with ``replacement.instance_id`` is replaced."""
        self.object(replacement.instance_id)
        objects = tuple(replacement if o.instance_id == replacement.instance_id else o for o in self.objects)
        return dataclasses.replace(self, objects=objects)

    def has_object(self, instance_id: int) -> bool:
        """Whether the scene has the object ``instance_id``."""
        return any(o.instance_id == instance_id for o in self.objects)

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
        """Inverse of :meth:`to_dict`; also reads version-1 scenes (their table becomes furniture 1, the table
        of every object).

        Raises:
            ValueError: when the dictionary was written by an unknown scene format version.
        """
        version = data.get("version", SCENE_FORMAT_VERSION)
        if version not in READABLE_SCENE_VERSIONS:
            raise ValueError(
                f"scene format version {version} is not supported (this gsi-bench reads versions "
                f"{', '.join(map(str, READABLE_SCENE_VERSIONS))}); upgrade gsi-bench to read it"
            )
        if version == 1:
            data = _upgrade_version_1(data)

        def surface(d: dict[str, Any] | None) -> SurfaceMaterial | None:
            if d is None:
                return None
            return SurfaceMaterial(d["pattern"], d["seed"], tuple(d["rgb"]), d["texture_repeat"])

        def pose(d: dict[str, Any]) -> Pose:
            return Pose(tuple(d["position"]), tuple(d["quaternion"]))

        camera, room = data["camera"], data["room"]
        return cls(
            objects=tuple(
                SceneObject(
                    o["instance_id"], o["category"], o["asset_seed"], o["scale"], pose(o["pose"]), o["support_id"]
                )
                for o in data["objects"]
            ),
            furniture=tuple(
                Furniture(
                    f["instance_id"],
                    f["category"],
                    pose(f["pose"]),
                    tuple(Block(tuple(b["centre"]), tuple(b["size"]), b["material"], b["shape"]) for b in f["blocks"]),
                    tuple(surface(m) for m in f["materials"]),
                    tuple(
                        SupportSurface(u["name"], u["height"], tuple(u["extent"]), u["clearance"])
                        for u in f["surfaces"]
                    ),
                )
                for f in data["furniture"]
            ),
            room=Room(
                surface(room["floor"]),
                surface(room["wall"]),
                tuple(room["size_xy"]),
                room["wall_height"],
                tuple(Opening(**o) for o in room["openings"]),
                surface(room["ceiling"]),
            ),
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
        )

    @classmethod
    def from_json(cls, text: str) -> Scene:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


#: Instance id of the table in version-1 scenes.
_VERSION_1_TABLE_ID = 1


def _upgrade_version_1(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 scene dictionary in version-2 form: the table becomes furniture, every object stands on it,
    the room's ``wall_distance`` becomes its size."""
    table = data["table"]
    material = table["material"]
    furniture = table_furniture(
        _VERSION_1_TABLE_ID,
        tuple(table["size_xy"]),
        table["height"],
        table["thickness"],
        SurfaceMaterial(material["pattern"], material["seed"], tuple(material["rgb"]), material["texture_repeat"]),
    )
    room = data["room"]
    distance = room["wall_distance"]
    upgraded = {key: value for key, value in data.items() if key != "table"}
    upgraded["furniture"] = [dataclasses.asdict(furniture)]
    upgraded["objects"] = [{**o, "support_id": _VERSION_1_TABLE_ID} for o in data["objects"]]
    upgraded["room"] = {
        "floor": room["floor"],
        "wall": room["wall"],
        "size_xy": [2 * distance, 2 * distance],
        "wall_height": 3.0,
        "openings": [],
        "ceiling": None,
    }
    return upgraded


def surface_contains(piece: Furniture, surface: SupportSurface, position: np.ndarray, margin: float = 0.0) -> bool:
    """Whether the world point ``position`` (its x, y) lies over ``surface`` of ``piece``, ``margin`` (m) inside."""
    local = piece.pose.rotation.T @ (np.asarray(position, float) - np.array(piece.pose.position))
    x_min, y_min, x_max, y_max = surface.extent
    return bool(x_min + margin <= local[0] <= x_max - margin and y_min + margin <= local[1] <= y_max - margin)
