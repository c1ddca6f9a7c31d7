"""Furnished room scenes: layout validity, objects on their supports, camera, determinism and config errors."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from shapely.geometry import Point, box

from gsi_builders.room import (
    CAMERA_FURNITURE_MARGIN_M,
    CAMERA_WALL_MARGIN_M,
    ROOM_TYPES,
    RoomConfig,
    RoomTooSmallError,
    objects_in_view,
    sample_room_scene,
)
from gsi_builders.supports import DROP_HEIGHT_M
from gsi_datasets.assets import get_category
from gsi_datasets.assets.furniture import footprint_polygon, get_furniture_category
from gsi_datasets.rendering import asset_of
from gsi_datasets.scene import FLOOR_ID, Scene, surface_contains

SEEDS = range(3)
FIFTEEN = {
    "dining_table", "coffee_table", "desk", "kitchen_counter", "bookshelf", "dresser", "nightstand", "tv_stand",
    "sideboard", "sofa", "armchair", "chair", "bed", "bench", "side_table",
}  # fmt: skip


@pytest.fixture(scope="module")
def scenes() -> dict[tuple[str, int], Scene]:
    return {
        (kind, seed): sample_room_scene(np.random.default_rng(seed), room_type=kind)
        for kind in ROOM_TYPES
        for seed in SEEDS
    }


def _standing(scene: Scene) -> list:
    return [p for p in scene.furniture if get_furniture_category(p.category).placement in ("wall", "free")]


def test_same_rng_state_gives_the_same_scene() -> None:
    a = sample_room_scene(np.random.default_rng(11))
    b = sample_room_scene(np.random.default_rng(11))
    assert a.to_json() == b.to_json()
    assert a.to_json() != sample_room_scene(np.random.default_rng(12)).to_json()
    assert Scene.from_json(a.to_json()) == a


def test_room_walls_openings_lights_and_ids(scenes: dict[tuple[str, int], Scene]) -> None:
    for key, scene in scenes.items():
        room = scene.room
        assert all(3.0 <= side <= 6.0 for side in room.size_xy), key
        assert room.ceiling is not None and 2.5 <= room.wall_height <= 3.0
        doors = [o for o in room.openings if o.kind == "door"]
        assert len(doors) >= 1 and all(o.bottom == 0.0 and 1.9 < o.top < 2.2 for o in doors), key
        for o in room.openings:
            length = room.size_xy[0] if o.wall in ("north", "south") else room.size_xy[1]
            assert abs(o.offset) + o.width / 2 <= length / 2, key
            assert 0.0 <= o.bottom < o.top < room.wall_height, key
        assert sum(light.cast_shadow for light in scene.lights) == 1, key
        ceiling = [light for light in scene.lights if light.position[2] > room.wall_height - 0.1]
        assert ceiling and all(light.direction[2] < -0.9 for light in ceiling), key
        if any(o.kind == "window" for o in room.openings):
            assert len(scene.lights) > len(ceiling), key  # a window light
        ids = [p.instance_id for p in scene.furniture] + [o.instance_id for o in scene.objects]
        assert ids == list(range(1, len(ids) + 1)), key


def test_furniture_footprints_are_inside_the_room_apart_and_off_the_door(scenes: dict[tuple[str, int], Scene]) -> None:
    for key, scene in scenes.items():
        sx, sy = scene.room.size_xy
        room = box(-sx / 2, -sy / 2, sx / 2, sy / 2)
        standing = _standing(scene)
        for piece in scene.furniture:
            assert room.contains(footprint_polygon(piece)), (key, piece.category)
        for i, a in enumerate(standing):
            for b in standing[i + 1 :]:
                gap = footprint_polygon(a).distance(footprint_polygon(b))
                assert gap >= 0.0199, (key, a.category, b.category, gap)
        for door in (o for o in scene.room.openings if o.kind == "door"):
            # The door leaf sweeps a square of its width in front of the opening.
            w, o = door.width, door.offset
            swing = {
                "north": box(o - w / 2, sy / 2 - w, o + w / 2, sy / 2),
                "south": box(o - w / 2, -sy / 2, o + w / 2, -sy / 2 + w),
                "east": box(sx / 2 - w, o - w / 2, sx / 2, o + w / 2),
                "west": box(-sx / 2, o - w / 2, -sx / 2 + w, o + w / 2),
            }[door.wall]
            for piece in scene.furniture:
                if get_furniture_category(piece.category).placement != "wall_mounted":
                    assert not footprint_polygon(piece).intersects(swing), (key, piece.category)
        for piece in scene.furniture:
            if piece.category == "wall_picture":
                assert 0.8 < piece.pose.position[2] < 1.8, key  # hung at eye height


def test_objects_stand_on_their_support(scenes: dict[tuple[str, int], Scene]) -> None:
    for key, scene in scenes.items():
        sx, sy = scene.room.size_xy
        for obj in scene.objects:
            size = asset_of(obj).size
            radius = float(np.hypot(size[0], size[1]) / 2)
            height = scene.support_height(obj)
            assert obj.pose.position[2] - size[2] / 2 == pytest.approx(height + DROP_HEIGHT_M, abs=1e-6), key
            placement = get_category(obj.category).placement
            if obj.support_id == FLOOR_ID:
                assert placement == "floor" and height == 0.0, key
                disc = Point(obj.pose.position[:2]).buffer(radius)
                assert box(-sx / 2, -sy / 2, sx / 2, sy / 2).contains(disc), key
                assert not any(disc.intersects(footprint_polygon(p)) for p in scene.furniture), key
            else:
                assert placement in ("tabletop", "surface"), key
                piece = scene.furniture_piece(obj.support_id)
                surface = scene.support_surface(obj)  # (two columns of a bookshelf have boards at one height)
                # The whole footprint lies on the surface, and the object fits under the next board.
                assert surface_contains(piece, surface, np.array(obj.pose.position), margin=radius), (key, obj)
                assert size[2] + DROP_HEIGHT_M < surface.clearance, key
        # Small objects on surfaces do not overlap.
        small = [o for o in scene.objects if o.support_id != FLOOR_ID]
        for i, a in enumerate(small):
            for b in small[i + 1 :]:
                if a.support_id == b.support_id and scene.support_height(a) == scene.support_height(b):
                    ra = np.hypot(*asset_of(a).size[:2]) / 2
                    rb = np.hypot(*asset_of(b).size[:2]) / 2
                    assert np.linalg.norm(np.subtract(a.pose.position[:2], b.pose.position[:2])) >= ra + rb, key


def test_object_counts_and_repeated_categories(scenes: dict[tuple[str, int], Scene]) -> None:
    repeated = 0
    for key, scene in scenes.items():
        small = [o for o in scene.objects if o.support_id != FLOOR_ID]
        assert 6 <= len(small) <= 20, key
        counts = Counter(o.category for o in small)
        assert max(counts.values()) <= 2, key
        if max(counts.values()) == 2:
            repeated += 1
            twins = [c for c, n in counts.items() if n == 2]
            supports = {o.support_id for o in small if o.category == twins[0]}
            assert supports, key
    assert repeated >= 0.7 * len(scenes)
    kitchens = [scene for (kind, _), scene in scenes.items() if kind == "kitchen"]
    assert all(any(o.category == "trash_bin" for o in scene.objects) for scene in kitchens)


def test_camera_stands_in_the_room_clear_of_furniture_and_sees_objects(scenes: dict[tuple[str, int], Scene]) -> None:
    config = RoomConfig()
    for key, scene in scenes.items():
        camera = scene.camera
        x, y, z = camera.position
        sx, sy = scene.room.size_xy
        assert abs(x) <= sx / 2 - CAMERA_WALL_MARGIN_M + 1e-9 and abs(y) <= sy / 2 - CAMERA_WALL_MARGIN_M + 1e-9, key
        assert 1.2 <= z <= 1.7 and 60.0 <= camera.fovy_deg <= 90.0, key
        assert (camera.width, camera.height) == (512, 512)
        for piece in _standing(scene):
            assert footprint_polygon(piece).distance(Point(x, y)) >= CAMERA_FURNITURE_MARGIN_M - 1e-9, key
        forward = np.array(camera.rotation)[:, 2]
        assert -np.sin(np.radians(55)) < forward[2] < -np.sin(np.radians(4)), key  # looking slightly down
        visible = objects_in_view(scene)
        assert len(visible) >= config.min_objects_in_view, key
        assert set(visible) <= {o.instance_id for o in scene.objects}


def test_objects_in_view_projects_boxes() -> None:
    scene = sample_room_scene(np.random.default_rng(3), room_type="office")
    visible = objects_in_view(scene, margin_px=0, occlusion=False)
    assert set(objects_in_view(scene)) <= set(visible)
    assert set(objects_in_view(scene, margin_px=200)) <= set(visible)
    turned = scene.camera.moved(np.diag([-1.0, 1.0, -1.0, 1.0]))  # half a turn about the camera's y axis
    behind = objects_in_view(Scene(scene.objects, scene.furniture, scene.room, scene.lights, turned))
    assert not set(behind) & set(visible)  # what the turned camera sees is behind the camera
    for instance_id in behind:
        centre = scene.camera.world_to_camera @ np.array([*scene.object(instance_id).pose.position, 1.0])
        assert centre[2] < 0.0


def test_every_room_type_and_furniture_category_occurs(scenes: dict[tuple[str, int], Scene]) -> None:
    seen = {piece.category for scene in scenes.values() for piece in scene.furniture}
    assert FIFTEEN <= seen, FIFTEEN - seen
    assert {"rug", "wall_picture"} <= seen
    required = {
        "living_room": {"sofa", "coffee_table", "tv_stand"},
        "kitchen": {"kitchen_counter"},
        "bedroom": {"bed", "nightstand", "dresser"},
        "office": {"desk", "chair", "bookshelf"},
        "dining_room": {"dining_table", "chair", "sideboard"},
    }
    for (kind, _), scene in scenes.items():
        assert required[kind] <= {p.category for p in scene.furniture}, kind
    drawn = {sample_room_scene(np.random.default_rng(seed)).furniture[0].category for seed in range(12)}
    assert len(drawn) >= 3  # the room type is drawn when not asked


def test_a_room_too_small_for_its_furniture_raises() -> None:
    config = RoomConfig(side_m=(2.0, 2.0), camera_height_m=(1.2, 1.5))
    with pytest.raises(RoomTooSmallError, match=r"bedroom of 2\.00 x 2\.00 m cannot fit its bed"):
        sample_room_scene(np.random.default_rng(0), config, room_type="bedroom")
    assert issubclass(RoomTooSmallError, ValueError)
    with pytest.raises(ValueError, match="unknown room type 'garage'"):
        sample_room_scene(np.random.default_rng(0), room_type="garage")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"side_m": (5.0, 4.0)}, "side_m: the range 5.0..4.0 is empty"),
        ({"side_m": (1.0, 4.0)}, "side_m must lie within"),
        ({"fovy_deg": (60.0, 170.0)}, "fovy_deg must lie within"),
        ({"camera_height_m": (1.2, 2.6)}, "camera_height_m must lie within"),
        ({"room_types": ("garage",)}, "room_types must be a non-empty subset"),
        ({"min_objects": 10, "max_objects": 5}, "min_objects <= max_objects"),
        ({"min_objects_in_view": 9}, "min_objects_in_view must lie within"),
        ({"width": 8}, "image size"),
    ],
)
def test_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RoomConfig(**kwargs)


def test_a_scene_no_camera_can_frame_is_a_counted_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sampler that cannot finish a draw (no camera framing enough objects) costs a scene attempt, not the build."""
    from gsi_builders import subsets
    from gsi_builders.generate import generate_sample
    from gsi_builders.subsets import SceneSampler, SceneUnusable

    real = subsets.SCENE_SAMPLERS["tabletop"]()
    calls = []

    def flaky(rng, config):
        calls.append(1)
        if len(calls) == 1:
            raise SceneUnusable("found no camera position inside the room clear of the furniture")
        return real.sample(rng, config)

    monkeypatch.setitem(subsets.SCENE_SAMPLERS, "tabletop", lambda: SceneSampler(flaky, real.config))
    result = generate_sample("tabletop", "test", 0, 0)
    assert result.row is not None and result.rejections["scene_unframeable"] == 1


def test_a_scene_whose_every_proposal_the_generator_rejects_makes_no_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The source view is rendered only when a proposal needs it: SR's scenes whose candidates have no second instance
    in view (``single_instance``) cost no renderer, and the sample that follows is the one the build always made."""
    import gsi_builders.generate as generate

    made = []
    real_renderer = generate.StateRenderer

    def counted(states):
        made.append(len(states))
        return real_renderer(states)

    expected = generate.generate_sample("room", "test", 123, 4)  # SR, rejected single instances on the way
    assert expected.row is not None and expected.rejections["single_instance"] > 0
    monkeypatch.setattr(generate, "StateRenderer", counted)
    again = generate.generate_sample("room", "test", 123, 4)
    assert again.rejections == expected.rejections and again.row["sample_id"] == expected.row["sample_id"]
    assert again.row["source_image"] == expected.row["source_image"]
    attempts = again.rejections["no_valid_target_in_scene"] + 1
    assert len(made) <= attempts

    def refuse(self, source, target, rng):
        raise generate.Rejected("single_instance")

    made.clear()
    monkeypatch.setattr(type(generate.get_generator("spatial_remove")), "propose", refuse)
    monkeypatch.setattr(generate, "MAX_SCENE_ATTEMPTS", 3)
    refused = generate.generate_sample("room", "test", 123, 4)
    assert refused.row is None and refused.rejections["no_valid_target_in_scene"] == 3 and made == []
