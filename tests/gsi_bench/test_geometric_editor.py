"""The instruction parser and the 2.5D geometric reference editor, on every template and on generated rows."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import io  # noqa: E402
from typing import Any  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from gsi_bench.editors.geometric import apply_edit, geometric_edit, geometric_edit_with_mask  # noqa: E402
from gsi_bench.editors.instruction_parser import parse_instruction  # noqa: E402
from gsi_datasets.operations import get_operation  # noqa: E402

#: The phrasings of the object operations the parser reads.
TEMPLATES = {
    (operation, key): options
    for operation in ("camera_relative_move", "object_relative_place", "object_rotate", "object_scale")
    for key, options in get_operation(operation).templates.items()
}
NAMES = ("coffee mug", "TV remote", "loaf of bread", "dice")
IMAGE_FIELDS = ("source_image", "target_image", "source_depth", "target_depth", "source_instances", "target_instances")
#: What the editor must not read: the labels and everything about the target.
FORBIDDEN = (
    "transform",
    "command",
    "target_object",
    "reference_object",
    "receptacle",
    "target_image",
    "target_depth",
    "target_instances",
    "scene",
    "reference_format",
    "operation",
)
SEED = 5
#: Two rows per operation (index % 3: 0 = move, 1 = rotate, 2 = scale).
INDICES = range(6)


@pytest.mark.parametrize(("operation", "direction"), list(TEMPLATES))
@pytest.mark.parametrize("name", NAMES)
def test_parser_recovers_every_template(operation: str, direction: str, name: str) -> None:
    for template in TEMPLATES[(operation, direction)]:
        for value in (5, 12, 45, 90, 180):
            reference = next(other for other in NAMES if other != name)
            text = template.format(
                object=name, reference=reference, distance_cm=value, angle_deg=value, support="table"
            )
            parsed = parse_instruction(text, ["mug", *NAMES])
            assert parsed.operation == operation, text
            assert parsed.object_name == name, text
            if operation == "object_relative_place":
                assert (parsed.direction, parsed.reference_name) == (direction, reference), text
                assert parsed.distance_m == pytest.approx(value / 100.0), text
            elif operation == "camera_relative_move":
                assert parsed.direction == direction, text
                assert parsed.distance_m == pytest.approx(value / 100.0), text
            elif operation == "object_rotate":
                assert parsed.direction == direction, text
                assert parsed.angle_deg == pytest.approx(value), text
            else:
                assert parsed.scale_factor == pytest.approx(float(direction)), text
                assert parsed.direction == ("up" if float(direction) > 1 else "down"), text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Move the mug 0.2 m to the right.", ("camera_relative_move", "right", 0.2)),
        ("Slide the mug 30 mm leftward.", ("camera_relative_move", "left", 0.03)),
        ("Turn the mug 30 degrees anticlockwise.", ("object_rotate", "counterclockwise", 30.0)),
        ("Make the mug 3 times bigger.", ("object_scale", "up", 3.0)),
        ("Make the mug 10% smaller.", ("object_scale", "down", 0.9)),
    ],
)
def test_parser_variants(text: str, expected: tuple[str, str, float]) -> None:
    parsed = parse_instruction(text, ["mug"])
    value = parsed.distance_m or parsed.angle_deg or parsed.scale_factor
    assert (parsed.operation, parsed.direction) == expected[:2]
    assert value == pytest.approx(expected[2])


def test_longest_name_wins() -> None:
    assert parse_instruction("Make the coffee mug twice as large.", ["mug", "coffee mug"]).object_name == "coffee mug"


@pytest.mark.parametrize(
    "text",
    [
        "Paint the coffee mug red.",
        "Move the coffee mug to the left.",
        "Move the coffee mug 5 cm.",
        "Move the coffee mug 5 cm left and then right.",
        "Rotate the coffee mug clockwise.",
        "Scale the coffee mug by 20%.",
        "Move the teapot 5 cm to the left.",
    ],
)
def test_unparsable_text_raises_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="cannot parse instruction") as info:
        parse_instruction(text, ["coffee mug"])
    assert text in str(info.value)


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its six PNG fields decoded to PIL images, as ``datasets`` would give them."""
    return {**row, **{field: Image.open(io.BytesIO(row[field]["bytes"])) for field in IMAGE_FIELDS}}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    from gsi_builders.generate import generate_sample

    generated = [generate_sample("tabletop", "test", SEED, index).row for index in INDICES]
    assert all(row is not None for row in generated)
    return [_decode(row) for row in generated]


def _mask(row: dict[str, Any], field: str) -> np.ndarray:
    return np.asarray(row[field]) == row["target_object"]["instance_id"]


def _centroid(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return np.array([cols.mean(), rows.mean()])


def _without_labels(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in FORBIDDEN}


@pytest.mark.parametrize("index", INDICES)
def test_edit_keeps_size_mode_and_far_pixels(rows: list[dict[str, Any]], index: int) -> None:
    row = rows[index]
    edited = geometric_edit(_without_labels(row))
    assert edited.size == row["source_image"].size
    assert edited.mode == row["source_image"].mode == "RGB"
    source = np.asarray(row["source_image"])
    assert not np.array_equal(np.asarray(edited), source)
    # Rotations also draw a guessed back side, which may reach past the true silhouette.
    margin = 32 if index % 3 == 1 else 12
    near = _mask(row, "source_instances") | _mask(row, "target_instances")
    near = cv2.dilate(near.astype(np.uint8), np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)).astype(bool)
    np.testing.assert_array_equal(np.asarray(edited)[~near], source[~near])


def test_editor_reads_no_labels_and_takes_raw_png_rows(rows: list[dict[str, Any]]) -> None:
    row = rows[0]
    reference = np.asarray(geometric_edit(row))
    np.testing.assert_array_equal(np.asarray(geometric_edit(_without_labels(row))), reference)
    raw = {**row, **{field: {"bytes": _png(row[field]), "path": None} for field in IMAGE_FIELDS}}
    np.testing.assert_array_equal(np.asarray(geometric_edit(_without_labels(raw))), reference)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("index", [i for i in INDICES if i % 3 == 0])
def test_move_goes_where_the_target_went(rows: list[dict[str, Any]], index: int) -> None:
    row = rows[index]
    _, drawn = geometric_edit_with_mask(_without_labels(row))
    source, target = _mask(row, "source_instances"), _mask(row, "target_instances")
    shift = _centroid(drawn) - _centroid(source)
    true_shift = _centroid(target) - _centroid(source)
    # The commanded image direction: right is +u, forward (away from the camera) is up the image (-v).
    axis, sign = {"left": (0, -1), "right": (0, 1), "forward": (1, -1), "back": (1, 1)}[row["command"]["direction"]]
    assert np.sign(shift[axis]) == sign
    assert np.dot(shift, true_shift) / (np.linalg.norm(shift) * np.linalg.norm(true_shift)) > 0.9
    assert 0.5 < np.linalg.norm(shift) / np.linalg.norm(true_shift) < 2.0
    iou = (drawn & target).sum() / (drawn | target).sum()
    assert iou > 0.5
    assert iou > (source & target).sum() / (source | target).sum()


def test_scaling_grows_and_shrinks_the_changed_area(rows: list[dict[str, Any]]) -> None:
    row = _without_labels(rows[2])
    source = np.asarray(row["source_image"])
    name = rows[2]["target_object"]["display_name"]
    areas = {}
    for factor, text in ((2.0, f"Make the {name} twice as large."), (0.5, f"Make the {name} half its size.")):
        edited, drawn = geometric_edit_with_mask({**row, "instruction": text})
        areas[factor] = (np.any(np.asarray(edited) != source, axis=2), drawn)
    mask = _mask(rows[2], "source_instances")
    outside = ~cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    grown, shrunk = areas[2.0], areas[0.5]
    assert grown[1].sum() > 2.5 * mask.sum()
    assert 0 < shrunk[1].sum() < 0.4 * mask.sum()
    assert (grown[0] & outside).sum() > mask.sum()
    assert (shrunk[0] & outside).sum() < 0.02 * mask.sum()
    assert grown[0].sum() > shrunk[0].sum()


@pytest.mark.parametrize("index", [i for i in INDICES if i % 3 == 1])
def test_rotation_stays_in_place(rows: list[dict[str, Any]], index: int) -> None:
    row = rows[index]
    _, drawn = geometric_edit_with_mask(_without_labels(row))
    target = _mask(row, "target_instances")
    assert np.linalg.norm(_centroid(drawn) - _centroid(target)) < 0.25 * np.sqrt(target.sum())


@pytest.mark.parametrize(
    ("phrase", "axis", "sign"),
    [
        ("to the left", 0, -1),
        ("to the right", 0, 1),
        ("forward, away from the camera", 1, -1),
        ("back, toward the camera", 1, 1),
    ],
)
def test_every_move_direction_moves_the_right_way_in_the_image(
    rows: list[dict[str, Any]], phrase: str, axis: int, sign: int
) -> None:
    row = _without_labels(rows[0])
    name = rows[0]["target_object"]["display_name"]
    _, drawn = geometric_edit_with_mask({**row, "instruction": f"Move the {name} 10 cm {phrase}."})
    shift = _centroid(drawn) - _centroid(_mask(rows[0], "source_instances"))
    # Left / right is along the image rows and forward / back mostly up / down the image.
    assert np.sign(shift[axis]) == sign
    assert abs(shift[axis]) > 2.0 * abs(shift[1 - axis])


def test_clockwise_from_above_turns_right_into_back() -> None:
    # A level camera: up is -y. Seen from above with forward (+z) at the top, clockwise takes right to back.
    up, pivot = np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.5, 1.0])
    edit = parse_instruction("Rotate the dice 90 degrees clockwise, as seen from above.", ["dice"])
    turned = apply_edit(edit, pivot + np.array([[0.1, 0.0, 0.0]]), pivot, up)
    np.testing.assert_allclose(turned[0] - pivot, [0.0, 0.0, -0.1], atol=1e-12)


@pytest.mark.parametrize("key", list(get_operation("camera_view_change").templates))
def test_parser_reads_every_camera_template(key: str) -> None:
    motion, direction = key.split("_")
    for template in get_operation("camera_view_change").templates[key]:
        for value in (10, 15, 30):
            text = template.format(distance_cm=value, angle_deg=value)
            parsed = parse_instruction(text, list(NAMES))
            assert (parsed.operation, parsed.motion, parsed.direction) == ("camera_view_change", motion, direction), (
                text
            )
            assert (parsed.distance_m if motion == "move" else parsed.angle_deg) == pytest.approx(
                value / 100.0 if motion == "move" else value
            ), text
    # A move of an object "away from the camera" is not a camera change.
    assert (
        parse_instruction("Move the dice 12 cm away from the camera.", list(NAMES)).operation == "camera_relative_move"
    )


def test_geometric_view_change_reprojects_the_source_as_the_command_asks() -> None:
    """The editor's view change is the source re-projected through the commanded motion: the camera recovered
    from its output is the asked one, so it complies with full accuracy (it has the source depth; a model has not)."""
    from gsi_builders.generate import generate_sample
    from gsi_metrics.scoring import score_sample

    row = generate_sample("tabletop", "test", 21, 0, operation_mix={"camera_view_change": 1.0}).row
    edited = geometric_edit(row)
    assert edited.size == (row["camera"]["width"], row["camera"]["height"])
    score = score_sample(row, edited)
    assert score.status == "ok" and score.ic == 1.0 and score.sa > 0.9, score.details
    assert score_sample(row, row["source_image"]).ic == 0.0


def test_the_editor_picks_the_instance_the_qualifier_names() -> None:
    from gsi_bench.editors.geometric import _referent

    row = {
        "instruction": "Move the coffee mug on the bookshelf 10 cm to the left.",
        "instances": [
            {"instance_id": 1, "category": "dining_table", "display_name": "dining table", "support_id": 0},
            {"instance_id": 2, "category": "bookshelf", "display_name": "bookshelf", "support_id": 0},
            {"instance_id": 3, "category": "coffee_mug", "display_name": "coffee mug", "support_id": 1},
            {"instance_id": 4, "category": "coffee_mug", "display_name": "coffee mug", "support_id": 2},
        ],
    }
    assert _referent(row, "coffee mug") == 4
    assert _referent({**row, "instruction": "Move the coffee mug on the dining table 5 cm back."}, "coffee mug") == 3
