"""OP, object-relative placement, end to end: its generation rules and labels, both profiles' scores, the geometric
editor and the fidelity counterfactuals."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import dataclasses  # noqa: E402
import json  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gsi_builders.generate import generate_sample  # noqa: E402
from gsi_builders.operations import Rejected, get_generator, ground_directions  # noqa: E402
from gsi_builders.operations.object_relative_place import neighbours  # noqa: E402
from gsi_datasets.operations.object_relative_place import RELATIONS  # noqa: E402
from gsi_datasets.scene import Scene  # noqa: E402
from gsi_metrics.operations import get_scorer  # noqa: E402
from gsi_metrics.perception import CameraRecovery, Perception, TargetRecovery  # noqa: E402
from gsi_metrics.sample import ScoringSample  # noqa: E402
from tests.generated import decoded, operation_rows, png_image  # noqa: E402

OP = "object_relative_place"
#: Rows of tabletop test seed 0 that place an object (the mix forced to OP).
INDICES = (1, 2, 3)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return operation_rows(OP, INDICES)


def _ground(vector: np.ndarray, normal: np.ndarray) -> np.ndarray:
    return vector - (vector @ normal) * normal


def test_labels_put_the_target_at_the_asked_offset_from_the_unmoved_reference(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        target, reference = row["target_object"], row["reference_object"]
        assert reference is not None and reference["instance_id"] != target["instance_id"]
        assert reference["display_name"] in row["instruction"] and target["display_name"] in row["instruction"]
        assert reference["box3d_before"] == reference["box3d_after"]  # the reference does not move
        assert reference["visible_fraction_before"] >= 0.6 and reference["visible_fraction_after"] >= 0.6
        command = row["command"]
        assert command["direction"] in RELATIONS and 0.05 <= command["distance_m"] <= 0.30
        # The realised centre is the reference's centre plus the asked offset along the camera-relative side.
        scene = json.loads(row["scene"])
        source = Scene.from_dict(scene["source"])
        side = ground_directions(source)[RELATIONS[command["direction"]]]
        world_to_camera = np.array(row["camera"]["source_world_to_camera"])[:3, :3]
        normal = np.array(row["support"]["normal"])
        offset = np.subtract(target["box3d_after"]["centre"], reference["box3d_before"]["centre"])
        asked = world_to_camera @ side * command["distance_m"]
        assert np.linalg.norm(_ground(offset, normal) - asked) < 0.011, row["instruction"]
        # Both stand on the same support, and the target did not start on the asked side (identity cannot comply).
        ids = {e["instance_id"]: e for e in row["instances"]}
        assert ids[target["instance_id"]]["support_id"] == ids[reference["instance_id"]]["support_id"]
        start = _ground(np.subtract(target["box3d_before"]["centre"], reference["box3d_before"]["centre"]), normal)
        assert start @ asked < np.linalg.norm(start) * np.linalg.norm(asked) * np.cos(np.deg2rad(45.0))


def test_proposals_follow_the_rules_or_name_the_rule_they_break(rows: list[dict[str, Any]]) -> None:
    source = Scene.from_dict(json.loads(rows[0]["scene"])["source"])
    generator = get_generator(OP)
    reasons, made = set(), 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        target = source.objects[seed % len(source.objects)]
        try:
            proposal = generator.propose(source, target, rng)
        except Rejected as rejection:
            reasons.add(rejection.reason)
            continue
        made += 1
        reference = source.object(proposal.reference_id)
        assert reference in neighbours(source, target)
        moved = proposal.target_scene.object(target.instance_id)
        side = ground_directions(source)[RELATIONS[proposal.command.direction]]
        offset = np.subtract(moved.pose.position, reference.pose.position)[:2]
        np.testing.assert_allclose(offset, side[:2] * proposal.command.distance_m, atol=1e-9)
        assert moved.pose.position[2] == target.pose.position[2]  # stays on its surface
    assert made > 0
    assert reasons <= {
        "no_reference_object",
        "reference_too_close_for_placement",
        "already_on_that_side",
        "placement_blocked",
    }, reasons


def _perception(translation: np.ndarray, reference_shift: np.ndarray | None = (0.0, 0.0, 0.0)) -> Perception:
    reference = None if reference_shift is None else TargetRecovery(True, np.asarray(reference_shift, float))
    return Perception(TargetRecovery(True, np.asarray(translation, float)), CameraRecovery(True), reference)


def test_gsi_scores_the_final_offset_from_the_reference(rows: list[dict[str, Any]]) -> None:
    sample = ScoringSample.from_row(rows[0])
    view, truth = sample.view, sample.truth
    edited = np.asarray(png_image(rows[0], "target_image"))
    score = get_scorer(OP, "gsi")
    asked = truth.translation_m
    exact = score(view, truth, _perception(asked), edited)
    assert (exact.ic, exact.sa) == (1.0, 1.0)
    unchanged = score(view, truth, _perception(np.zeros(3)), edited)
    assert (unchanged.ic, unchanged.sa) == (0.0, 0.0)
    # The reference moved instead (by the same shift, so the offset is wrong and the reference is not still).
    moved_reference = score(view, truth, _perception(np.zeros(3), -asked), edited)
    assert moved_reference.ic == 0.0
    # Both moved together by 8 cm: the offset is right, but the reference did not stay: no compliance, SA kept.
    drift = np.array([0.08, 0.0, 0.0])
    together = score(view, truth, _perception(asked + drift, drift), edited)
    assert together.ic == 0.0 and together.sa == pytest.approx(1.0)
    # The other side of the reference: no compliance, SA 0.
    reference_centre, target_centre = view.reference_box.centre, view.target_box.centre
    mirrored = 2 * reference_centre - (target_centre + asked) - target_centre
    other_side = score(view, truth, _perception(mirrored), edited)
    assert other_side.ic == 0.0 and other_side.sa == 0.0
    # A reference that was not recovered cannot be checked: no compliance.
    assert score(view, truth, _perception(asked, None), edited).ic == 0.0
    # Profile paper: the reference's move rule; on exact detections a move under 32 cm has no candidate (defect 10).
    paper = get_scorer(OP, "paper")(view, truth, _perception(asked), edited)
    long_move = np.linalg.norm(asked) >= np.sqrt(0.1)
    assert paper.ic == float(long_move) and paper.sa == pytest.approx(float(long_move), abs=1e-3)


def test_oracle_identity_and_geometric_editor_in_both_profiles(rows: list[dict[str, Any]]) -> None:
    from gsi_bench.editors import get_editor
    from gsi_metrics.scoring import score_profiles

    for row in rows:
        oracle = score_profiles(row, png_image(row, "target_image"))
        identity = score_profiles(row, png_image(row, "source_image"))
        geometric = score_profiles(row, get_editor("geometric")(row))
        assert [s.status for s in oracle] == ["ok", "ok"]
        assert oracle[0].ic == 1.0 and oracle[0].sa > 0.95, oracle[0].details
        assert identity[0].ic == 0.0 and identity[0].sa == 0.0
        assert geometric[0].ic == 1.0 and geometric[0].sa > 0.8, geometric[0].details
        assert oracle[0].details["reference_found"] is True


def test_counterfactuals_include_a_wrong_reference_that_must_not_comply(rows: list[dict[str, Any]]) -> None:
    from gsi_bench.fidelity.counterfactuals import make_counterfactuals

    seen: set[str] = set()
    for row in rows:
        cases = {case.name: case for case in make_counterfactuals(row).cases}
        seen |= set(cases)
        assert cases["correct/oracle"].truth.should_comply and cases["correct/oracle"].truth.relative_error < 1e-6
        assert cases["identity/source"].truth.relative_error >= 1.0  # SA 0
        for name, case in cases.items():
            if name.startswith(("direction/", "wrong_reference/")):
                assert not case.truth.should_comply and case.truth.relative_error > 0.3, name
    assert "wrong_reference/other_object" in seen and any(name.startswith("magnitude/") for name in seen), seen


def test_contact_sheets_outline_the_reference_object(rows: list[dict[str, Any]]) -> None:
    from gsi_datasets.visualize import REFERENCE_COLOUR, contact_sheet

    row = decoded(rows[0])
    tile = 320
    sheet = np.asarray(contact_sheet([row], columns=1, tile=tile)).astype(int)
    blue = np.all(np.abs(sheet - np.array(REFERENCE_COLOUR)) <= 30, axis=2)
    # Drawn on the source and on the target half (the reference is in both, unmoved).
    assert blue[:, 4 : 4 + tile].sum() > 50 and blue[:, 8 + tile : 8 + 2 * tile].sum() > 50
    without = np.asarray(contact_sheet([{**row, "reference_object": None}], columns=1, tile=tile)).astype(int)
    assert np.all(np.abs(without - np.array(REFERENCE_COLOUR)) <= 30, axis=2).sum() < blue.sum() / 4


def test_a_scene_without_a_second_object_on_the_surface_is_rejected(rows: list[dict[str, Any]]) -> None:
    source = Scene.from_dict(json.loads(rows[0]["scene"])["source"])
    target = source.objects[0]
    alone = dataclasses.replace(source, objects=(target,))
    with pytest.raises(Rejected, match="no_reference_object"):
        get_generator(OP).propose(alone, target, np.random.default_rng(0))


@pytest.mark.parametrize(("index", "category"), [(3, "desk_lamp"), (25, "hourglass")])
def test_a_thin_or_see_through_target_is_found_where_it_went(index: int, category: str) -> None:
    """Room OP rows (test seed 0) of a desk lamp (a shade on a stem) and an hourglass (glass in a thin frame) change
    little more than their outlines: the changed region falls apart into fragments unless it is closed first, and
    its centroid, some point of the object rather than its centre, says little about its depth. The correct edit is
    recovered to within a centimetre (3 and 7 cm off before both were handled)."""
    from gsi_metrics.scoring import score_profiles

    row = generate_sample("room", "test", 0, index, operation_mix={OP: 1.0}).row
    assert row["target_object"]["category"] == category  # (the catalog or the sampler changed: pick new rows)
    gsi = score_profiles(row, png_image(row, "target_image"))[0]
    assert gsi.ic == 1.0 and gsi.details["error_m"] < 0.01, gsi.details
