"""Where objects can stand: footprints on any support surface (a table top, a shelf board, a seat, the floor).

An object's footprint is the vertical cylinder that contains it in every yaw; it fits on a surface when the
cylinder lies inside the surface's area (a margin in) and clears the footprints of the other objects on the
same surface, and, on the floor, stays inside the room and off the furniture. Every check works on any support
(``SceneObject.support_id``), so operations and scene samplers never special-case a table.
"""

from __future__ import annotations

import numpy as np

from gsi_datasets.geometry import matrix_to_quaternion, rotation_about_axis
from gsi_datasets.rendering import asset_of
from gsi_datasets.scene import Furniture, Pose, Scene, SceneObject

#: Gap (m) kept between object footprints and between footprints and the edge of their surface.
FOOTPRINT_MARGIN_M = 0.015
#: Height (m) above its support at which an object is released before settling.
DROP_HEIGHT_M = 0.002


def footprint_radius(scene_object: SceneObject) -> float:
    """Radius (m) of the vertical cylinder that contains the object in every yaw."""
    size = asset_of(scene_object).size
    return float(np.hypot(size[0], size[1]) / 2.0)


def _inside_rectangle(local_xy: np.ndarray, extent: tuple[float, float, float, float], inset: float) -> bool:
    x_min, y_min, x_max, y_max = extent
    return bool(x_min + inset <= local_xy[0] <= x_max - inset and y_min + inset <= local_xy[1] <= y_max - inset)


def _local_xy(piece: Furniture, world_xy: np.ndarray) -> np.ndarray:
    offset = np.array([world_xy[0] - piece.pose.position[0], world_xy[1] - piece.pose.position[1], 0.0])
    return (piece.pose.rotation.T @ offset)[:2]


def _clear_of_furniture(piece: Furniture, world_xy: np.ndarray, radius: float) -> bool:
    """Whether a floor footprint circle clears the furniture's footprint rectangle (with the margin)."""
    centre, size = piece.local_box()
    local = _local_xy(piece, world_xy) - centre[:2]
    outside = np.maximum(np.abs(local) - size[:2] / 2, 0.0)
    return bool(np.hypot(*outside) >= radius + FOOTPRINT_MARGIN_M)


def footprint_is_free(scene: Scene, scene_object: SceneObject, centre_xy: np.ndarray, radius: float) -> bool:
    """Whether a footprint circle at ``centre_xy`` fits on the surface ``scene_object`` stands on (at its pose; it
    need not be in ``scene`` yet) and clears every other object there."""
    centre_xy = np.asarray(centre_xy, float)[:2]
    try:
        surface = scene.support_surface(scene_object)
    except ValueError:
        return False
    if surface is None:  # the floor
        half = np.array(scene.room.size_xy) / 2.0 - FOOTPRINT_MARGIN_M - radius
        if np.any(np.abs(centre_xy) > half):
            return False
        if not all(_clear_of_furniture(piece, centre_xy, radius) for piece in scene.furniture):
            return False
    else:
        piece = scene.support_piece(scene_object.support_id)
        if not _inside_rectangle(_local_xy(piece, centre_xy), surface.extent, radius + FOOTPRINT_MARGIN_M):
            return False
    for other in scene.objects:
        if other.instance_id == scene_object.instance_id or other.support_id != scene_object.support_id:
            continue
        if scene.support_surface(other) != surface:
            continue  # another shelf of the same bookcase
        gap = np.linalg.norm(np.array(other.pose.position[:2]) - centre_xy) - radius - footprint_radius(other)
        if gap < FOOTPRINT_MARGIN_M:
            return False
    return True


def fits_under_clearance(scene: Scene, scene_object: SceneObject, height_m: float) -> bool:
    """Whether an object ``height_m`` tall fits under whatever is above the surface it stands on (a shelf board)."""
    surface = scene.support_surface(scene_object)
    if surface is None:
        return height_m < scene.room.wall_height
    return height_m + DROP_HEIGHT_M < surface.clearance


def resting_pose(scene_object: SceneObject, surface_height: float, xy: np.ndarray, yaw_deg: float) -> Pose:
    """An upright pose with the object's bottom ``DROP_HEIGHT_M`` above a surface at world z ``surface_height``."""
    half_height = asset_of(scene_object).size[2] / 2.0
    rotation = rotation_about_axis(np.array([0.0, 0.0, 1.0]), yaw_deg)
    position = (float(xy[0]), float(xy[1]), float(surface_height + half_height + DROP_HEIGHT_M))
    return Pose(position, tuple(float(q) for q in matrix_to_quaternion(rotation)))


def lowest_point_z(scene_object: SceneObject) -> float:
    """World z of the lowest vertex of the object at its pose (its contact with the support)."""
    asset = asset_of(scene_object)
    rotation = scene_object.pose.rotation
    lowest = min(float((part.vertices @ rotation.T)[:, 2].min()) for part in asset.parts)
    return scene_object.pose.position[2] + lowest
