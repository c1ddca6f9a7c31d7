"""The validity rules that rooms and camera view changes add, each on a constructed case."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gsi_builders.operations import Rejected, referring_expression
from gsi_builders.operations.camera_view_change import camera_blocked, moved_camera, view_overlap
from gsi_builders.operations.object_scale import ObjectScale
from gsi_builders.supports import fits_under_clearance, footprint_is_free, footprint_radius, resting_pose
from gsi_datasets.assets.furniture import make_furniture
from gsi_datasets.operations.camera_view_change import CameraCommand
from gsi_datasets.rendering import StateRenderer
from gsi_datasets.scene import (
    FLOOR_ID,
    Camera,
    Pose,
    Room,
    Scene,
    SceneObject,
    SurfaceMaterial,
)

PLAIN = SurfaceMaterial("plaster", 0, (0.8, 0.8, 0.8))


def _shelf_scene() -> Scene:
    """A bookshelf (id 1) against the north wall of a 4 x 4 m room, a mug on two of its shelves, a camera in front."""
    shelf = make_furniture("bookshelf", 1, np.random.default_rng(0), (0.0, 1.6), 180.0)
    lowest = min(shelf.surfaces, key=lambda s: s.height)
    x_min, y_min, x_max, y_max = lowest.extent
    local = np.array([(x_min + x_max) / 2, (y_min + y_max) / 2, 0.0])
    above = min(
        (s for s in shelf.surfaces if s.height > lowest.height + 0.05 and s.extent[0] <= local[0] <= s.extent[2]),
        key=lambda s: s.height,
    )
    xy = (np.array(shelf.pose.position) + shelf.pose.rotation @ local)[:2]
    objects = []
    for index, board in enumerate((lowest, above)):
        mug = SceneObject(2 + index, "coffee_mug", 5, 1.0, Pose((0.0, 0.0, 0.0)), support_id=1)
        height = shelf.pose.position[2] + board.height
        objects.append(dataclasses.replace(mug, pose=resting_pose(mug, height, xy, 0.0)))
    camera = Camera.looking_at(np.array([0.0, -0.4, 1.4]), np.array([0.0, 1.6, 0.6]), 70.0, 256, 256)
    room = Room(PLAIN, PLAIN, (4.0, 4.0))
    return Scene(tuple(objects), (shelf,), room, (), camera)


def test_shelf_footprints_are_checked_per_board_and_scaling_respects_the_board_above() -> None:
    scene = _shelf_scene()
    lower, upper = scene.objects
    assert scene.support_height(lower) < scene.support_height(upper)
    # Each mug stands alone on its board: the other board's mug does not block it, its own board's area does.
    assert lower.pose.position[:2] == upper.pose.position[:2]  # one above the other
    assert footprint_is_free(scene, lower, np.array(lower.pose.position[:2]), footprint_radius(lower))
    assert not footprint_is_free(scene, lower, np.array([3.0, 1.6]), footprint_radius(lower))
    # A mug as tall as the gap to the next board does not fit under it; the mug itself does.
    board = min(scene.furniture[0].surfaces, key=lambda s: s.height)
    assert fits_under_clearance(scene, lower, 0.1)
    assert not fits_under_clearance(scene, lower, board.clearance)
    # A bottle on the lowest board: enlarged by half or doubled it would not fit under the next one.
    bottle = dataclasses.replace(lower, category="glass_bottle", asset_seed=3)
    bottle = dataclasses.replace(
        bottle, pose=resting_pose(bottle, scene.support_height(lower), np.array(lower.pose.position[:2]), 0.0)
    )
    assert fits_under_clearance(scene, bottle, 0.9 * board.clearance) and board.clearance < 1.5 * 0.25
    rng = np.random.default_rng(0)
    reasons, factors = set(), set()
    for _ in range(40):
        try:
            factors.add(ObjectScale().propose(scene.with_object(bottle), bottle, rng).command.scale_factor)
        except Rejected as rejection:
            reasons.add(rejection.reason)
    assert "scaled_above_clearance" in reasons and factors <= {0.5, 0.75}


def test_repeated_categories_are_qualified_by_their_support_or_rejected() -> None:
    scene = _shelf_scene()
    lower, upper = scene.objects
    # Both mugs stand on the bookshelf: "the coffee mug on the bookshelf" would not tell them apart.
    with pytest.raises(Rejected, match="ambiguous_referent"):
        referring_expression(scene, lower)
    on_floor = dataclasses.replace(upper, support_id=FLOOR_ID, pose=resting_pose(upper, 0.0, np.array([1.0, 0.5]), 0))
    scene = scene.with_object(on_floor)
    assert referring_expression(scene, lower) == "coffee mug on the bookshelf"
    assert referring_expression(scene, on_floor) == "coffee mug on the floor"
    alone = scene.without_object(on_floor.instance_id)
    assert referring_expression(alone, lower) == "coffee mug"


def test_a_moved_camera_must_stay_in_the_room_and_out_of_the_furniture() -> None:
    scene = _shelf_scene()
    assert camera_blocked(scene, scene.camera) is None
    far = moved_camera(scene.camera, CameraCommand("back", "move", distance_m=1.6))
    assert camera_blocked(scene, far) == "camera_leaves_room"
    inside = dataclasses.replace(scene.camera, position=(0.0, 1.6, 0.8))
    assert camera_blocked(scene, inside) == "camera_inside_furniture"


def test_view_overlap_is_what_the_moved_camera_still_sees() -> None:
    scene = _shelf_scene()
    up = scene.camera.world_to_camera[:3, :3] @ np.array([0.0, 0.0, 1.0])
    small_turn = CameraCommand("left", "turn", angle_deg=30.0)
    away = CameraCommand("left", "turn", angle_deg=120.0)
    states = [scene, *(dataclasses.replace(scene, camera=moved_camera(scene.camera, c)) for c in (small_turn, away))]
    with StateRenderer(states) as renderer:
        source, turned, turned_away = (renderer.render(i) for i in range(3))
    intrinsics = scene.camera.intrinsics
    assert view_overlap(source, source, intrinsics, np.eye(4)) > 0.99
    assert 0.3 < view_overlap(source, turned, intrinsics, small_turn.camera_delta(up)) < 0.999
    assert view_overlap(source, turned_away, intrinsics, away.camera_delta(up)) < 0.05


def test_settled_objects_must_touch_their_own_support_only() -> None:
    from gsi_builders.generate import _on_own_support
    from gsi_builders.simulation import SettleResult

    scene = _shelf_scene()
    lower = scene.objects[0]

    def settled(supports: set[int], walls: frozenset[int] = frozenset()) -> SettleResult:
        return SettleResult(scene, {}, {}, (), {lower.instance_id: frozenset(supports)}, walls, 0.0, 0.0, 0.0)

    assert _on_own_support(settled({1}), lower)
    assert not _on_own_support(settled({1, FLOOR_ID}), lower)  # fell through to the floor as well
    assert not _on_own_support(settled(set()), lower)  # floating
    assert not _on_own_support(settled({1}, frozenset({lower.instance_id})), lower)  # leaning on a wall
