"""Random tabletop scenes: a table (the support of every object) in a room, 3-8 distinct objects on it, a camera
and lights.

Every draw comes from the ``rng`` passed in, so a scene is a pure function of its seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from gsi_builders.supports import footprint_is_free, footprint_radius, resting_pose
from gsi_datasets.assets import all_categories
from gsi_datasets.scene import (
    Camera,
    Light,
    Pose,
    Room,
    Scene,
    SceneObject,
    SurfaceMaterial,
    table_furniture,
)

#: Instance id of the table: the first piece of furniture.
TABLE_INSTANCE_ID = 1

_TABLE_COLOURS = ((0.62, 0.42, 0.26), (0.45, 0.30, 0.18), (0.80, 0.68, 0.52), (0.92, 0.92, 0.90), (0.30, 0.30, 0.32))
_FLOOR_COLOURS = ((0.75, 0.73, 0.70), (0.55, 0.45, 0.35), (0.40, 0.42, 0.45), (0.85, 0.80, 0.70))
_WALL_COLOURS = ((0.93, 0.91, 0.87), (0.80, 0.85, 0.88), (0.88, 0.82, 0.72), (0.75, 0.80, 0.72))


@dataclass(frozen=True)
class TabletopConfig:
    """Ranges of the tabletop scene generator (defaults follow SPEC section 4 and issue 2).

    Attributes:
        min_objects: fewest objects on the table.
        max_objects: most objects on the table.
        width: image width (px).
        height: image height (px).
        elevation_deg: camera elevation above the table plane.
        distance_m: camera distance to its look-at point.
        fovy_deg: vertical field of view.
        scatter_half_extent_m: objects are placed within this half-size box around the table centre.
        repeated_instances: range of the number of instances of one drawn category ((1, 1): every category once;
            spatial removal asks for several, :meth:`~gsi_builders.operations.OperationGenerator.scene_config`).
        group_repeats: unused on a tabletop (every object shares the table); rooms place repeated instances on one
            piece of furniture with it.
        receptacle_object: make one of the objects a receptacle that others can be put on (a tray, a cutting
            board; ``Category.receiving_part``) when none is drawn (receptacle placement asks for it).
    """

    min_objects: int = 3
    max_objects: int = 8
    width: int = 512
    height: int = 512
    elevation_deg: tuple[float, float] = (20.0, 60.0)
    distance_m: tuple[float, float] = (0.75, 1.15)
    fovy_deg: tuple[float, float] = (40.0, 55.0)
    scatter_half_extent_m: tuple[float, float] = (0.30, 0.20)
    repeated_instances: tuple[int, int] = (1, 1)
    group_repeats: bool = False
    receptacle_object: bool = False


def _surface(
    rng: np.random.Generator,
    patterns: tuple[str, ...],
    colours: tuple[tuple[float, ...], ...],
    repeat: tuple[float, float],
) -> SurfaceMaterial:
    colour = np.array(colours[rng.integers(len(colours))]) * rng.uniform(0.9, 1.05)
    return SurfaceMaterial(
        pattern=str(rng.choice(patterns)),
        seed=int(rng.integers(2**31)),
        rgb=tuple(float(c) for c in np.clip(colour, 0.0, 1.0)),
        texture_repeat=float(rng.uniform(*repeat)),
    )


def with_receptacle(rng: np.random.Generator, chosen: list[int], receptacles: list[bool]) -> list[int]:
    """``chosen`` (indices into a category list whose receptacles are flagged in ``receptacles``) with its last entry
    replaced by a receptacle drawn uniformly, unless one is chosen already."""
    if any(receptacles[i] for i in chosen):
        return chosen
    return [*chosen[:-1], int(rng.choice(np.flatnonzero(receptacles)))]


def sample_tabletop_scene(rng: np.random.Generator, config: TabletopConfig = TabletopConfig()) -> Scene:
    """Draws an unsettled tabletop scene (objects released just above the table; see ``simulation.settle``).

    Objects have distinct categories, so every object's display name is a unique referring expression, unless
    ``config.repeated_instances`` asks for several instances of one category (spatial removal).
    """
    size_xy = (float(rng.uniform(0.9, 1.6)), float(rng.uniform(0.7, 1.0)))
    height = float(rng.uniform(0.70, 0.80))
    thickness = float(rng.uniform(0.03, 0.06))
    material = _surface(rng, ("wood", "marble", "concrete", "plaster"), _TABLE_COLOURS, (0.8, 2.0))
    table = table_furniture(TABLE_INSTANCE_ID, size_xy, height, thickness, material)
    floor = _surface(rng, ("tiles", "wood", "carpet", "concrete"), _FLOOR_COLOURS, (0.5, 1.5))
    wall = _surface(rng, ("plaster", "concrete", "tiles"), _WALL_COLOURS, (0.3, 1.0))
    wall_distance = float(rng.uniform(2.2, 3.2))
    room = Room(floor=floor, wall=wall, size_xy=(2 * wall_distance, 2 * wall_distance))

    categories = all_categories("tabletop")
    count = int(rng.integers(config.min_objects, config.max_objects + 1))
    chosen = list(rng.choice(len(categories), size=min(count, len(categories)), replace=False))
    if config.repeated_instances != (1, 1):  # (no draw otherwise: the scenes of other operations stay as they were)
        repeats = int(rng.integers(config.repeated_instances[0], config.repeated_instances[1] + 1))
        chosen = [chosen[0]] * repeats + chosen[1 : max(count - repeats + 1, 1)]
    if config.receptacle_object:  # (no draw otherwise, as above)
        chosen = with_receptacle(rng, chosen, [c.receiving_part is not None for c in categories])
    scene = Scene(objects=(), furniture=(table,), room=room, lights=(), camera=_placeholder_camera(config))
    half_x = min(config.scatter_half_extent_m[0], size_xy[0] / 2 - 0.1)
    half_y = min(config.scatter_half_extent_m[1], size_xy[1] / 2 - 0.1)
    for index in chosen:
        scene_object = SceneObject(
            instance_id=TABLE_INSTANCE_ID + 1 + len(scene.objects),
            category=categories[index].name,
            asset_seed=int(rng.integers(2**62)),
            scale=1.0,
            pose=Pose((0.0, 0.0, 0.0)),
            support_id=TABLE_INSTANCE_ID,
        )
        radius = footprint_radius(scene_object)
        for _ in range(30):
            xy = rng.uniform((-half_x, -half_y), (half_x, half_y))
            candidate = dataclasses.replace(scene_object, pose=resting_pose(scene_object, height, xy, 0.0))
            if footprint_is_free(scene, candidate, xy, radius):
                placed = dataclasses.replace(
                    scene_object, pose=resting_pose(scene_object, height, xy, float(rng.uniform(0.0, 360.0)))
                )
                scene = dataclasses.replace(scene, objects=(*scene.objects, placed))
                break

    centroid = np.mean([o.pose.position for o in scene.objects], axis=0) if scene.objects else np.zeros(3)
    look_at = np.array([centroid[0], centroid[1], height]) + rng.normal(0.0, 0.03, 3) * (1, 1, 0)
    elevation = np.deg2rad(rng.uniform(*config.elevation_deg))
    azimuth = np.deg2rad(-90.0 + rng.uniform(-50.0, 50.0))  # in front of the table (-y), give or take
    distance = rng.uniform(*config.distance_m)
    position = look_at + distance * np.array(
        [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
    )
    camera = Camera.looking_at(position, look_at, float(rng.uniform(*config.fovy_deg)), config.width, config.height)
    lights = [_key_light(rng, look_at)]
    if rng.random() < 0.6:
        lights.append(_key_light(rng, look_at, diffuse=(0.15, 0.3), cast_shadow=False))
    return Scene(scene.objects, (table,), room, tuple(lights), camera)


def _key_light(
    rng: np.random.Generator, look_at: np.ndarray, diffuse: tuple[float, float] = (0.45, 0.75), cast_shadow: bool = True
) -> Light:
    azimuth = rng.uniform(0.0, 2 * np.pi)
    offset = np.array([np.cos(azimuth), np.sin(azimuth), 0.0]) * rng.uniform(0.3, 1.2)
    position = look_at + offset + np.array([0.0, 0.0, rng.uniform(1.2, 2.0)])
    direction = (look_at - position) / np.linalg.norm(look_at - position)
    warmth = rng.uniform(-0.05, 0.05)
    level = rng.uniform(*diffuse)
    return Light(
        position=tuple(float(p) for p in position),
        direction=tuple(float(d) for d in direction),
        diffuse=(float(level * (1 + warmth)), float(level), float(level * (1 - warmth))),
        cast_shadow=cast_shadow,
    )


def _placeholder_camera(config: TabletopConfig) -> Camera:
    return Camera(
        (0.0, 0.0, 1.0), ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)), 45.0, config.width, config.height
    )
