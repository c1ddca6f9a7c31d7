"""SR (spatial removal) in the instruction parser and the 2.5D geometric reference editor, on hand-made rows."""

from __future__ import annotations

import io
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from gsi_bench.editors.geometric import geometric_edit_with_mask
from gsi_bench.editors.instruction_parser import REMOVE, parse_instruction
from gsi_datasets.images import row_image
from gsi_datasets.operations.spatial_remove import POSITION_PHRASES, POSITIONS, SPEC

NAMES = ["mug", "coffee mug", "bowl"]
WIDTH, HEIGHT = 128, 96
INTRINSICS = [[100.0, 0.0, 64.0], [0.0, 100.0, 48.0], [0.0, 0.0, 1.0]]
#: A camera 0.6 m above the table, pitched down by 40 degrees: the world up in the camera frame (y down, z forward).
PITCH = np.radians(40.0)
UP = np.array([0.0, -np.cos(PITCH), -np.sin(PITCH)])
CAMERA_HEIGHT_M = 0.6
TABLE = (128, 128, 128)
SUPPORT_ID = 1
#: Objects as (instance id, display name, u0, u1, v0, v1, contact row, colour): upright, fronto-parallel patches
#: covering pixels [v0, v1) x [u0, u1) at the depth of the table at the contact row (where they stand).
SCENE = (
    (2, "mug", 8, 20, 50, 62, 61, (200, 40, 40)),  # leftmost
    (3, "mug", 38, 50, 74, 86, 85, (40, 200, 40)),  # closest
    (4, "mug", 72, 82, 22, 32, 31, (40, 40, 200)),  # farthest
    (5, "mug", 108, 120, 46, 58, 57, (200, 200, 40)),  # rightmost
    (6, "bowl", 86, 100, 66, 74, 73, (40, 200, 200)),
)
EXPECTED = {"leftmost": 2, "rightmost": 5, "closest": 3, "farthest": 4}
#: Two mugs at the same depth, one standing on the table and one held 20 rows higher in the image (on a shelf).
STACKED = (
    (2, "mug", 30, 42, 50, 62, 61, (200, 40, 40)),  # lowest
    (3, "mug", 80, 92, 20, 32, 61, (40, 200, 40)),  # highest
    (4, "bowl", 56, 66, 64, 72, 71, (40, 200, 200)),
)
EXPECTED_STACKED = {"highest": 3, "lowest": 2}


@pytest.mark.parametrize("position", list(POSITIONS))
@pytest.mark.parametrize("template", SPEC.templates["remove"])
@pytest.mark.parametrize("name", ["coffee mug", "mug", "bowl"])
def test_parser_reads_every_removal_template_and_position(template: str, position: str, name: str) -> None:
    text = template.format(object=name, position=position, position_phrase=POSITION_PHRASES[position])
    parsed = parse_instruction(text, NAMES)
    assert (parsed.operation, parsed.object_name, parsed.direction) == (REMOVE, name, position), text


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("Remove the nearest mug.", "closest"),
        ("Erase the furthest mug.", "farthest"),
        ("Get rid of the topmost mug.", "highest"),
        ("Delete the bottommost mug.", "lowest"),
        ("Please take away the left-most mug.", "leftmost"),
        ("Remove the mug closest to the camera.", "closest"),
        ("Remove the mug nearest to the viewer.", "closest"),
        ("Remove the mug furthest to the right.", "rightmost"),
        ("Remove the mug farthest to the left.", "leftmost"),
        ("Delete the mug that is furthest from the camera.", "farthest"),
        ("Remove the mug that is highest up.", "highest"),
        ("Remove the mug that is lowest down.", "lowest"),
        ("REMOVE THE RIGHTMOST MUG.", "rightmost"),
    ],
)
def test_parser_reads_removal_synonyms(text: str, position: str) -> None:
    parsed = parse_instruction(text, NAMES)
    assert (parsed.operation, parsed.object_name, parsed.direction) == (REMOVE, "mug", position)
    assert parsed.distance_m is parsed.angle_deg is parsed.scale_factor is None


@pytest.mark.parametrize(
    ("text", "operation", "direction"),
    [
        ("Move the mug to the farthest edge of the table.", "receptacle_place", "farthest_edge"),
        ("Move the mug to the leftmost edge of the table.", "receptacle_place", "leftmost_edge"),
        ("Put the mug by the nearest edge of the table's top, as seen from the camera.", "receptacle_place", None),
        ("Move the mug 10 cm away from the camera.", "camera_relative_move", "forward"),
        ("Move the mug 10 cm closer to the camera.", "camera_relative_move", "back"),
    ],
)
def test_other_operations_with_position_words_are_no_removal(text: str, operation: str, direction: str | None) -> None:
    parsed = parse_instruction(text, NAMES)
    assert parsed.operation == operation
    assert direction is None or parsed.direction == direction


@pytest.mark.parametrize(
    "text",
    [
        "Remove the mug.",
        "Delete the mug on the table.",
        "Remove the mug at the leftmost or the rightmost position.",
        "Remove the teapot at the leftmost position.",
    ],
)
def test_unparsable_removal_raises_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="cannot parse instruction") as info:
        parse_instruction(text, NAMES)
    assert text in str(info.value)


def _plane_depth_m(v: np.ndarray | float) -> np.ndarray:
    """Depth (camera z, metres) of the table plane along image row ``v`` (the plane does not vary along u)."""
    y = (np.asarray(v, dtype=np.float64) - INTRINSICS[1][2]) / INTRINSICS[1][1]
    return CAMERA_HEIGHT_M / (np.cos(PITCH) * y + np.sin(PITCH))


def _png(image: Image.Image) -> dict[str, Any]:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": None}


def _row(objects: tuple[tuple[Any, ...], ...], instruction: str, raw: bool = False) -> dict[str, Any]:
    """A row with only the fields the editor may read: a grey table plane seen from above at an angle, with
    ``objects`` standing on it (or held above it)."""
    rgb = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    rgb[:] = TABLE
    depth_m = np.repeat(_plane_depth_m(np.arange(HEIGHT))[:, None], WIDTH, axis=1)
    instances = np.full((HEIGHT, WIDTH), SUPPORT_ID, np.uint8)
    entries = [{"instance_id": SUPPORT_ID, "category": "dining_table", "display_name": "dining table", "support_id": 0}]
    for instance_id, name, u0, u1, v0, v1, contact_row, colour in objects:
        rgb[v0:v1, u0:u1] = colour
        depth_m[v0:v1, u0:u1] = _plane_depth_m(contact_row)
        instances[v0:v1, u0:u1] = instance_id
        category = name.replace(" ", "_")
        entries.append(
            {"instance_id": instance_id, "category": category, "display_name": name, "support_id": SUPPORT_ID}
        )
    images = {
        "source_image": Image.fromarray(rgb, mode="RGB"),
        "source_depth": Image.fromarray(np.rint(depth_m * 1000.0).astype(np.uint16)),
        "source_instances": Image.fromarray(instances),
    }
    if raw:
        images = {field: _png(image) for field, image in images.items()}
    return {
        "instruction": instruction,
        **images,
        "instances": entries,
        "camera": {"intrinsics": INTRINSICS, "width": WIDTH, "height": HEIGHT},
        "support": {"instance_id": SUPPORT_ID, "normal": UP.tolist(), "offset_m": CAMERA_HEIGHT_M},
    }


def test_fixture_is_consistent_with_its_plane() -> None:
    from gsi_datasets.geometry import unproject_pixels

    row = _row(SCENE, "")
    depth_m = np.asarray(row["source_depth"], dtype=np.float64) / 1000.0
    v, u = np.nonzero(np.asarray(row["source_instances"]) == SUPPORT_ID)
    points = unproject_pixels(np.asarray(INTRINSICS), np.column_stack([u, v]), depth_m[v, u])
    np.testing.assert_allclose(points @ UP + CAMERA_HEIGHT_M, 0.0, atol=2e-3)


def _check_removed(row: dict[str, Any], removed_id: int) -> None:
    source = np.asarray(row_image(row["source_image"])).astype(np.int64)
    instances = np.asarray(row_image(row["source_instances"]))
    edited, drawn = geometric_edit_with_mask(row)
    assert edited.mode == "RGB" and edited.size == (WIDTH, HEIGHT)
    assert drawn.shape == (HEIGHT, WIDTH) and drawn.dtype == bool and not drawn.any()
    edited = np.asarray(edited).astype(np.int64)
    mask = instances == removed_id
    # The removed instance's pixels are filled from the table around it.
    assert np.abs(edited[mask] - np.array(TABLE)).max() <= 20
    assert np.abs(edited[mask] - source[mask]).max(axis=1).min() > 50
    # Everything more than 6 px from it (the other mugs, the bowl, the table) is untouched.
    near = cv2.dilate(mask.astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
    np.testing.assert_array_equal(edited[~near], source[~near])


@pytest.mark.parametrize("position", list(EXPECTED))
@pytest.mark.parametrize("template", SPEC.templates["remove"])
def test_editor_removes_the_instance_at_the_position(position: str, template: str) -> None:
    text = template.format(object="mug", position=position, position_phrase=POSITION_PHRASES[position])
    _check_removed(_row(SCENE, text), EXPECTED[position])


@pytest.mark.parametrize("position", list(EXPECTED_STACKED))
def test_editor_removes_the_highest_and_lowest_along_the_world_up(position: str) -> None:
    _check_removed(_row(STACKED, f"Remove the {position} mug."), EXPECTED_STACKED[position])


def test_editor_takes_raw_png_rows_and_a_single_instance() -> None:
    _check_removed(_row(SCENE, "Remove the mug at the leftmost position.", raw=True), EXPECTED["leftmost"])
    # A lone instance is at every position.
    _check_removed(_row(SCENE, "Remove the bowl at the rightmost position."), 6)
    _check_removed(_row(SCENE, "Remove the bowl at the leftmost position."), 6)


def test_editor_raises_when_no_instance_of_the_name_has_pixels() -> None:
    row = _row(SCENE[:1], "Remove the leftmost coffee mug.")
    row["instances"] = [
        *row["instances"],
        {"instance_id": 7, "category": "coffee_mug", "display_name": "coffee mug", "support_id": SUPPORT_ID},
    ]
    with pytest.raises(ValueError, match="no instance of that name has pixels"):
        geometric_edit_with_mask(row)
