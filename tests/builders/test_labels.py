"""Labels of generated splits (tabletop and room) are geometrically consistent and say what the images show."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.ndimage import binary_erosion

from gsi_datasets.geometry import box_corners, project_points, rotation_about_axis
from gsi_datasets.schema import OPERATIONS
from tests.conftest import ROOM_SAMPLES, SPLIT_SAMPLES


@pytest.fixture(scope="module")
def object_rows(split_rows: list[dict], room_rows: list[dict]) -> list[dict]:
    """The rows of both subsets whose operation edits an object."""
    rows = [row for row in [*split_rows, *room_rows] if row["target_object"] is not None]
    assert {row["subset"] for row in rows} == {"tabletop", "room"}
    return rows


@pytest.fixture(scope="module")
def camera_rows(room_rows: list[dict]) -> list[dict]:
    rows = [row for row in room_rows if OPERATIONS[row["operation"]] == "camera_view_change"]
    assert rows
    return rows


def _mask(row: dict, key: str, instance_id: int) -> np.ndarray:
    return np.array(row[key]) == instance_id


def _box(label: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.array(label["centre"]), np.array(label["size"]), np.array(label["rotation"])


def test_split_has_every_sample_and_a_balanced_operation_mix(split_rows: list[dict], room_rows: list[dict]) -> None:
    from gsi_builders.generate import operation_for_index

    assert len(split_rows) == SPLIT_SAMPLES
    assert len({row["sample_id"] for row in split_rows}) == SPLIT_SAMPLES
    counts = {
        op: sum(OPERATIONS[row["operation"]] == op for row in split_rows)
        for op in ("camera_relative_move", "object_rotate", "object_scale")
    }
    assert set(counts.values()) == {SPLIT_SAMPLES // 3}
    assert len(room_rows) == ROOM_SAMPLES
    assert [OPERATIONS[row["operation"]] for row in room_rows] == [operation_for_index("room", i) for i in range(8)]


def test_any_prefix_of_a_split_holds_the_configured_operation_mix() -> None:
    from gsi_builders.generate import operation_for_index
    from gsi_datasets.schema import SUBSETS

    for subset in SUBSETS.values():
        sequence = [operation_for_index(subset.name, i) for i in range(600)]
        for length in (10, 37, 200, 600):
            for operation, share in subset.operation_mix.items():
                assert abs(sequence[:length].count(operation) - share * length) <= 1.0, (subset.name, length, operation)


@pytest.mark.parametrize(
    "when,image_key,mask_key",
    [("before", "source_image", "source_instances"), ("after", "target_image", "target_instances")],
)
def test_projected_3d_box_encloses_instance_mask(
    object_rows: list[dict], when: str, image_key: str, mask_key: str
) -> None:
    for row in object_rows:
        target = row["target_object"]
        mask = _mask(row, mask_key, target["instance_id"])
        if when == "after" and OPERATIONS[row["operation"]] == "spatial_remove":
            assert not mask.any() and target["visible_fraction_after"] == 0.0, row["sample_id"]  # removed
            continue
        assert mask.sum() > 0, row["sample_id"]
        corners = project_points(np.array(row["camera"]["intrinsics"]), box_corners(*_box(target[f"box3d_{when}"])))
        rows, cols = np.nonzero(mask)
        tolerance = 1.0  # pixel: rasterisation samples pixel centres, the box is continuous
        assert cols.min() >= corners[:, 0].min() - tolerance, row["sample_id"]
        assert cols.max() <= corners[:, 0].max() + tolerance, row["sample_id"]
        assert rows.min() >= corners[:, 1].min() - tolerance, row["sample_id"]
        assert rows.max() <= corners[:, 1].max() + tolerance, row["sample_id"]
        # The labelled 2D box is the mask's tight box.
        assert target[f"box2d_{when}"] == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]


def test_depth_agrees_with_the_3d_box(object_rows: list[dict]) -> None:
    for row in object_rows:
        target = row["target_object"]
        depth_m = np.array(row["source_depth"]).astype(np.float64) / 1000.0
        # Silhouette pixels mix object and background samples (multisampling): compare the interior.
        mask = binary_erosion(_mask(row, "source_instances", target["instance_id"]))
        corners = box_corners(*_box(target["box3d_before"]))
        seen = depth_m[mask]
        assert seen.min() >= corners[:, 2].min() - 0.002, row["sample_id"]
        assert seen.max() <= corners[:, 2].max() + 0.002, row["sample_id"]


def test_transform_maps_the_before_box_onto_the_after_box(object_rows: list[dict]) -> None:
    for row in object_rows:
        centre, size, rotation = _box(row["target_object"]["box3d_before"])
        after_centre, after_size, after_rotation = _box(row["target_object"]["box3d_after"])
        phi = row["transform"]
        assert np.allclose(centre + np.array(phi["translation_m"]), after_centre, atol=1e-9)
        assert np.allclose(
            rotation_about_axis(phi["rotation_axis"], phi["rotation_deg"]) @ rotation, after_rotation, atol=1e-6
        )
        assert np.allclose(size * phi["scale_factor"], after_size, atol=1e-9)


def test_camera_is_identical_in_source_and_target(object_rows: list[dict]) -> None:
    for row in object_rows:
        assert row["camera"]["source_world_to_camera"] == row["camera"]["target_world_to_camera"]
        assert np.allclose(row["transform"]["camera_delta"], np.eye(4))


def test_camera_view_changes_move_the_camera_as_asked_and_nothing_else(camera_rows: list[dict]) -> None:
    """PC: ``target_world_to_camera = camera_delta @ source_world_to_camera``; the delta is what the command
    means; the scene is unchanged and the target view re-renders from the stored scene."""
    import json

    from gsi_datasets.operations import get_operation
    from gsi_datasets.rendering import StateRenderer
    from gsi_datasets.scene import Scene

    spec = get_operation("camera_view_change")
    for row in camera_rows:
        camera, phi = row["camera"], row["transform"]
        delta = np.array(phi["camera_delta"])
        source, target = np.array(camera["source_world_to_camera"]), np.array(camera["target_world_to_camera"])
        np.testing.assert_allclose(target, delta @ source, atol=1e-9)
        command = spec.command_from_row(row["command"])
        np.testing.assert_allclose(delta, command.camera_delta(_up(row)), atol=1e-9)
        if command.motion == "move":
            assert np.linalg.norm(-delta[:3, :3].T @ delta[:3, 3]) == pytest.approx(command.distance_m)
            assert np.allclose(delta[:3, :3], np.eye(3))
        else:
            angle = np.rad2deg(np.arccos(np.clip((np.trace(delta[:3, :3]) - 1) / 2, -1, 1)))
            assert angle == pytest.approx(command.angle_deg) and np.allclose(delta[:3, 3], 0.0)
        assert row["target_object"] is None and phi["translation_m"] == [0.0, 0.0, 0.0]
        scenes = json.loads(row["scene"])
        before, after = Scene.from_dict(scenes["source"]), Scene.from_dict(scenes["target"])
        assert before.objects == after.objects and before.furniture == after.furniture
        with StateRenderer([after]) as renderer:
            assert np.array_equal(renderer.render(0).rgb, np.array(row["target_image"]))


def _up(row: dict) -> np.ndarray:
    return np.array(row["support"]["normal"])


def test_camera_relative_moves_go_the_asked_distance_and_direction(object_rows: list[dict]) -> None:
    rows = [r for r in object_rows if OPERATIONS[r["operation"]] == "camera_relative_move"]
    assert rows
    for row in rows:
        translation = np.array(row["transform"]["translation_m"])
        command = row["command"]
        up = _up(row)
        assert abs(translation @ up) < 0.005, "a move stays on its support"
        assert np.linalg.norm(translation) == pytest.approx(command["distance_m"], abs=0.01)
        assert f"{command['distance_m'] * 100:.0f}" in row["instruction"]
        # Directions in the table plane, from the camera axes (x right, z forward).
        right = np.array([1.0, 0, 0]) - up[0] * up
        forward = np.array([0, 0, 1.0]) - up[2] * up
        expected = {"right": right, "left": -right, "forward": forward, "back": -forward}[command["direction"]]
        cosine = translation @ expected / (np.linalg.norm(translation) * np.linalg.norm(expected))
        assert cosine > 0.99, (row["sample_id"], command["direction"], cosine)
        assert row["transform"]["rotation_deg"] < 2.0
        assert row["transform"]["scale_factor"] == 1.0


def test_rotations_turn_the_asked_angle_about_the_vertical(object_rows: list[dict]) -> None:
    rows = [r for r in object_rows if OPERATIONS[r["operation"]] == "object_rotate"]
    assert rows
    for row in rows:
        phi, command = row["transform"], row["command"]
        axis = np.array(phi["rotation_axis"])
        # Counterclockwise from above is a right-handed turn about "up"; clockwise about "down".
        sign = 1.0 if command["direction"] == "counterclockwise" else -1.0
        if command["angle_deg"] < 179.0:
            assert sign * axis @ _up(row) > 0.99, (row["sample_id"], axis)
        else:
            assert abs(axis @ _up(row)) > 0.99
        assert phi["rotation_deg"] == pytest.approx(command["angle_deg"], abs=2.0)
        assert np.linalg.norm(phi["translation_m"]) < 0.01
        assert f"{command['angle_deg']:.0f} degrees" in row["instruction"]
        assert ("counterclockwise" in row["instruction"]) == (command["direction"] == "counterclockwise")


def test_scaled_objects_keep_standing_on_their_support(object_rows: list[dict]) -> None:
    rows = [r for r in object_rows if OPERATIONS[r["operation"]] == "object_scale"]
    assert rows
    for row in rows:
        factor = row["command"]["scale_factor"]
        assert row["transform"]["scale_factor"] == pytest.approx(factor)
        up, offset = _up(row), row["support"]["offset_m"]
        for key in ("box3d_before", "box3d_after"):
            lowest = min(box_corners(*_box(row["target_object"][key])) @ up) + offset
            # The box bottom rests on the support plane (the box is the mesh's tight box).
            assert abs(lowest) < 0.004, (row["sample_id"], key, lowest)


def test_target_is_visible_unoccluded_and_the_edit_is_visible(object_rows: list[dict]) -> None:
    for row in object_rows:
        target = row["target_object"]
        removal = OPERATIONS[row["operation"]] == "spatial_remove"
        assert target["visible_fraction_before"] >= 0.6 and (removal or target["visible_fraction_after"] >= 0.6)
        before = np.array(row["source_image"]).astype(int)
        after = np.array(row["target_image"]).astype(int)
        assert (np.abs(before - after).max(axis=2) > 25).sum() >= 300
        # Outside the target's before/after masks, the images are identical: nothing else moved.
        outside = ~(
            _mask(row, "source_instances", target["instance_id"])
            | _mask(row, "target_instances", target["instance_id"])
        )
        changed_outside = (np.abs(before - after).max(axis=2) > 40) & outside
        # Only shadows of the edited object may change outside its masks.
        assert changed_outside.mean() < 0.05


def test_referring_expressions_are_unique_and_human_readable(object_rows: list[dict]) -> None:
    repeated = 0
    for row in object_rows:
        names = [entry["display_name"] for entry in row["instances"]]
        display = row["target_object"]["display_name"]
        assert display in row["instruction"]
        entries = {entry["instance_id"]: entry for entry in row["instances"]}
        target = entries[row["target_object"]["instance_id"]]
        assert target["support_id"] == row["support"]["instance_id"]
        if OPERATIONS[row["operation"]] == "spatial_remove":  # the asked position tells the instances apart
            from gsi_datasets.operations.spatial_remove import POSITION_PHRASES

            position = row["command"]["direction"]
            assert position in row["instruction"] or POSITION_PHRASES[position] in row["instruction"]
        elif names.count(display) > 1:  # a repeated category: "the <name> on the <support>" tells them apart
            repeated += 1
            support_name = entries[target["support_id"]]["display_name"] if target["support_id"] else "floor"
            assert f"{display} on the {support_name}" in row["instruction"], row["instruction"]
            for other in entries.values():
                if other["display_name"] == display and other is not target and other["support_id"]:
                    assert entries[other["support_id"]]["display_name"] != support_name, row["instruction"]
        if row["subset"] == "tabletop":
            assert len(names) == len(set(names))
        assert "_" not in display and not re.search(r"[a-z][A-Z]", display), display
        assert row["reference_format"]["target"] == display
        assert row["reference_format"]["prompt"] == row["instruction"]
    assert repeated, "no fixture row has a target whose category is repeated: the qualifier went unchecked"
