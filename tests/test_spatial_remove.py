"""SR, spatial removal, end to end: the positions and the 5 cm rule, the "something rests on it" rule, scenes with
repeated categories, the labels, both profiles' scores, the reference editors and the fidelity counterfactuals."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import dataclasses  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
from collections import Counter  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from gsi_builders.operations import Rejected, get_generator, ground_directions  # noqa: E402
from gsi_builders.operations.spatial_remove import camera_centres  # noqa: E402
from gsi_builders.room import RoomConfig, sample_room_scene  # noqa: E402
from gsi_builders.tabletop import TabletopConfig, sample_tabletop_scene  # noqa: E402
from gsi_datasets.geometry import mask_box  # noqa: E402
from gsi_datasets.operations.spatial_remove import MIN_SEPARATION_M, POSITIONS, extreme_instance  # noqa: E402
from gsi_datasets.scene import Scene  # noqa: E402
from gsi_metrics.operations import get_scorer, reference_detections  # noqa: E402
from gsi_metrics.perception import CameraRecovery, Perception, TargetRecovery  # noqa: E402
from gsi_metrics.sample import ScoringSample  # noqa: E402
from tests.generated import operation_rows, png_image  # noqa: E402

SR = "spatial_remove"
#: Rows of tabletop test seed 0 with the mix forced to SR (one with a single other instance, one with two).
INDICES = (0, 2, 1)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return operation_rows(SR, INDICES)


def _source(row: dict[str, Any]) -> Scene:
    return Scene.from_dict(json.loads(row["scene"])["source"])


def _up(scene: Scene) -> np.ndarray:
    return scene.camera.world_to_camera[:3, :3] @ np.array([0.0, 0.0, 1.0])


def test_extreme_instance_is_ranked_on_the_position_axis_with_its_lead() -> None:
    up = np.array([0.0, -1.0, 0.0])  # camera y points down
    centres = {1: np.array([-0.20, 0.0, 1.0]), 2: np.array([0.10, -0.30, 1.5]), 3: np.array([0.0, 0.1, 0.8])}
    assert extreme_instance("leftmost", centres, up) == (1, pytest.approx(0.20))
    assert extreme_instance("rightmost", centres, up) == (2, pytest.approx(0.10))
    assert extreme_instance("closest", centres, up) == (3, pytest.approx(0.20))
    assert extreme_instance("farthest", centres, up) == (2, pytest.approx(0.50))
    assert extreme_instance("highest", centres, up) == (2, pytest.approx(0.30))
    assert extreme_instance("lowest", centres, up) == (3, pytest.approx(0.10))
    assert extreme_instance("leftmost", {7: np.zeros(3)}, up) == (7, float("inf"))
    with pytest.raises(KeyError):
        extreme_instance("middle", centres, up)


def _pair_scene(row: dict[str, Any], offset_m: float) -> tuple[Scene, Any]:
    """The row's source scene reduced to the target and one other instance, put ``offset_m`` to the target's right
    (as seen from the camera), at the same height."""
    source = _source(row)
    target = source.object(row["target_object"]["instance_id"])
    other = source.object(row["distractors"][0]["instance_id"])
    keep = [o for o in source.objects if o.category != target.category or o.instance_id == other.instance_id]
    keep = [o for o in keep if o.instance_id != target.instance_id]
    right = ground_directions(source)["right"]
    position = np.array(target.pose.position) + offset_m * right
    moved = dataclasses.replace(other, pose=dataclasses.replace(other.pose, position=tuple(float(p) for p in position)))
    objects = [target, *(moved if o.instance_id == other.instance_id else o for o in keep)]
    return dataclasses.replace(source, objects=tuple(objects)), target


def test_the_removed_instance_beats_the_runner_up_by_5_cm(rows: list[dict[str, Any]]) -> None:
    generator = get_generator(SR)
    near, target = _pair_scene(rows[0], 0.04)  # 4 cm apart across, same height: no position is 5 cm clear
    for seed in range(5):
        with pytest.raises(Rejected, match="not_extreme_by_5cm"):
            generator.propose(near, target, np.random.default_rng(seed))
    far, target = _pair_scene(rows[0], 0.07)
    proposal = generator.propose(far, target, np.random.default_rng(0))
    centres = camera_centres(far, [o for o in far.objects if o.category == target.category])
    chosen, lead = extreme_instance(proposal.command.direction, centres, _up(far))
    assert chosen == target.instance_id and lead >= MIN_SEPARATION_M
    assert proposal.command.direction in ("leftmost", "closest", "farthest")  # the other is to its right
    assert not proposal.target_scene.has_object(target.instance_id)
    assert len(proposal.distractor_ids) == 1


def test_nothing_may_rest_on_the_removed_instance(rows: list[dict[str, Any]]) -> None:
    source = _source(rows[0])
    target = source.object(rows[0]["target_object"]["instance_id"])
    bystander = next(o for o in source.objects if o.category != target.category)
    resting = source.with_object(dataclasses.replace(bystander, support_id=target.instance_id))
    with pytest.raises(Rejected, match="object_rests_on_target"):
        get_generator(SR).propose(resting, target, np.random.default_rng(0))


def test_a_single_instance_cannot_be_chosen_by_position(rows: list[dict[str, Any]]) -> None:
    source = _source(rows[0])
    target = source.object(rows[0]["target_object"]["instance_id"])
    alone = dataclasses.replace(
        source,
        objects=tuple(
            o for o in source.objects if o.category != target.category or o.instance_id == target.instance_id
        ),
    )
    with pytest.raises(Rejected, match="single_instance"):
        get_generator(SR).propose(alone, target, np.random.default_rng(0))


def test_scene_samplers_repeat_a_category_only_when_asked() -> None:
    config = get_generator(SR).scene_config(TabletopConfig())
    repeated = Counter(o.category for o in sample_tabletop_scene(np.random.default_rng(3), config).objects)
    assert max(repeated.values()) >= 2
    plain = [sample_tabletop_scene(np.random.default_rng(seed)) for seed in range(4)]
    assert all(len({o.category for o in s.objects}) == len(s.objects) for s in plain)
    # Rooms: the instances of a repeated category share a piece of furniture.
    room = sample_room_scene(np.random.default_rng(5), get_generator(SR).scene_config(RoomConfig()))
    by_category: dict[str, set[int]] = {}
    for scene_object in room.objects:
        by_category.setdefault(scene_object.category, set()).add(scene_object.support_id)
    counts = Counter(o.category for o in room.objects)
    grouped = [c for c, n in counts.items() if n >= 2]
    assert grouped and all(len(by_category[c]) == 1 for c in grouped)


def _decode(png: dict[str, Any]) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(png["bytes"])))


def test_labels_name_the_instances_and_the_target_image_lacks_only_the_target(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        target, distractors = row["target_object"], row["distractors"]
        assert distractors and all(d["category"] == target["category"] for d in distractors)
        assert target["visible_fraction_after"] == 0.0 and target["box3d_after"] == target["box3d_before"]
        assert row["instruction"].count(target["display_name"]) == 1 and " on the " not in row["instruction"]
        before, after = _decode(row["source_instances"]), _decode(row["target_instances"])
        assert (before == target["instance_id"]).any() and not (after == target["instance_id"]).any()
        for distractor in distractors:
            assert (after == distractor["instance_id"]).sum() >= (before == distractor["instance_id"]).sum()
            assert distractor["box3d_after"] == distractor["box3d_before"]
        # The asked position picks the target among the labelled instances, 5 cm clear.
        centres = {d["instance_id"]: np.array(d["box3d_before"]["centre"]) for d in [target, *distractors]}
        chosen, lead = extreme_instance(row["command"]["direction"], centres, np.array(row["support"]["normal"]))
        assert chosen == target["instance_id"] and lead >= MIN_SEPARATION_M
        assert row["command"]["direction"] in POSITIONS
        assert not Scene.from_dict(json.loads(row["scene"])["target"]).has_object(target["instance_id"])


def _perception(target: TargetRecovery, distractors: dict[int, TargetRecovery]) -> Perception:
    return Perception(target, CameraRecovery(found=True), distractors=distractors)


def test_gsi_scores_the_right_instance_removed_and_the_others_kept(rows: list[dict[str, Any]]) -> None:
    sample = ScoringSample.from_row(rows[1])  # two other instances
    view, truth = sample.view, sample.truth
    first, second = view.distractor_ids
    score = get_scorer(SR, "gsi")
    gone, kept = TargetRecovery(found=False, removed=True), TargetRecovery(found=True)
    edited = view.image
    clean = score(view, truth, _perception(gone, {first: kept, second: kept}), edited)
    assert (clean.ic, clean.sa) == (1.0, 1.0)
    cases = {
        "nothing removed": _perception(kept, {first: kept, second: kept}),
        "wrong instance": _perception(kept, {first: gone, second: kept}),
        "two removed": _perception(gone, {first: gone, second: kept}),
        "moved instead": _perception(
            TargetRecovery(found=True, translation_m=np.array([0.15, 0.0, 0.0])), {first: kept, second: kept}
        ),
        "another instance moved": _perception(
            gone, {first: TargetRecovery(found=True, translation_m=np.array([0.0, 0.0, 0.1])), second: kept}
        ),
        "target not located": _perception(TargetRecovery(found=False), {first: kept, second: kept}),
    }
    for name, perception in cases.items():
        result = score(view, truth, perception, edited)
        # SA: the asked instance removed, with another one disturbed, keeps 0.75; every other case scores 0.
        spatial_choice_right = name in ("two removed", "another instance moved")
        assert (result.ic, result.sa) == (0.0, 0.75 if spatial_choice_right else 0.0), name
    # Profile paper: one instance too many missing costs 0.3; a target moved off its box counts as removed (defect).
    paper = get_scorer(SR, "paper")
    assert paper(view, truth, _perception(gone, {first: kept, second: kept}), edited).sa == 1.0
    two = paper(view, truth, _perception(gone, {first: gone, second: kept}), edited)
    assert (two.ic, two.sa) == (1.0, pytest.approx(0.7))
    assert paper(view, truth, cases["nothing removed"], edited).sa == 0.0
    assert paper(view, truth, cases["moved instead"], edited).ic == 1.0  # 15 cm off its box: "removed"
    # What the reference's rules see: every labelled instance in the source, those still found in the edited image, with
    # 2D boxes around their pixels in the detector's frame (896 px on the longer side).
    source, edited_detections = reference_detections(view, _perception(gone, {first: kept, second: gone}))
    frame = 896 / max(view.image.shape[:2])
    assert len(source) == 3 and len(edited_detections) == 1
    assert np.allclose(source[0].bbox_2d, mask_box(view.target_mask) * frame)
    assert np.allclose(edited_detections[0].bbox_3d, source[1].bbox_3d)  # the first other instance, unchanged


def test_oracle_identity_and_geometric_editor_in_both_profiles(rows: list[dict[str, Any]]) -> None:
    from gsi_bench.editors import get_editor
    from gsi_metrics.scoring import score_profiles

    for row in rows[:2]:
        oracle = score_profiles(row, png_image(row, "target_image"))
        identity = score_profiles(row, png_image(row, "source_image"))
        geometric = score_profiles(row, get_editor("geometric")(row))
        assert [s.status for s in oracle] == ["ok", "ok"]
        assert (oracle[0].ic, oracle[0].sa, oracle[1].ic) == (1.0, 1.0, 1.0), oracle[0].details
        assert oracle[0].ac > 0.95  # the vacated region is the true background
        assert (identity[0].ic, identity[0].sa, identity[1].ic) == (0.0, 0.0, 0.0)
        assert identity[0].ac < oracle[0].ac
        assert geometric[0].ic == 1.0, geometric[0].details


def test_counterfactuals_have_the_removal_families(rows: list[dict[str, Any]]) -> None:
    from gsi_bench.fidelity.counterfactuals import make_counterfactuals

    result = make_counterfactuals(rows[1])
    by_name = {case.name: case for case in result.cases}
    distractors = [d["instance_id"] for d in rows[1]["distractors"]]
    assert {f"wrong_instance/{i}" for i in distractors} <= set(by_name)
    assert "two_removed/target_and_other" in by_name
    assert "wrong_target/other_object" not in by_name and "wrong_target/other_object" not in result.skipped
    for name, case in by_name.items():
        assert case.truth.should_comply == case.correct_edit, name
    assert by_name["correct/oracle"].truth.relative_error == 0.0
    assert by_name["two_removed/target_and_other"].truth.relative_error == 0.5
    assert by_name[f"wrong_instance/{distractors[0]}"].truth.relative_error == 1.5


def test_unchanged_in_place_tells_a_kept_instance_from_a_removed_one(rows: list[dict[str, Any]]) -> None:
    import cv2

    from gsi_bench.fidelity.counterfactuals import make_counterfactuals
    from gsi_metrics.perception.base import unchanged_in_place

    row = rows[1]
    view = ScoringSample.from_row(row).view
    cases = {case.name: case.image for case in make_counterfactuals(row).cases}
    other = view.of_distractor(0)
    source = view.image
    brighter = np.clip(source.astype(int) + 15, 0, 255).astype(np.uint8)
    for kept in (source, cases["correct/oracle"], brighter, cv2.GaussianBlur(source, (0, 0), 1.2)):
        assert unchanged_in_place(other, kept)
    assert not unchanged_in_place(other, cases[f"wrong_instance/{view.distractor_ids[0]}"])
    assert not unchanged_in_place(view, cases["correct/oracle"])  # the removed target itself


def test_removal_is_weighed_only_where_the_instruction_asks_for_one(rows: list[dict[str, Any]]) -> None:
    from gsi_metrics.perception import create_backend

    row = rows[0]
    view = ScoringSample.from_row(row).view
    oracle = png_image(row, "target_image")
    backend = create_backend()
    assert view.removal_asked
    removal = backend.perceive(view, np.array(oracle))
    assert removal.target.removed and not removal.target.found
    as_a_move = dataclasses.replace(view, operation="camera_relative_move", distractor_ids=(), distractor_boxes=())
    assert not as_a_move.removal_asked
    assert not backend.perceive(as_a_move, np.array(oracle)).target.removed
