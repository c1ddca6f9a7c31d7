"""RP, receptacle placement, end to end: its regions and generation rules, its labels, both profiles' scores, the
instruction parser and the geometric editor, the fidelity counterfactuals and the contact sheet."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import dataclasses  # noqa: E402
import json  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gsi_builders.operations import Rejected, get_generator, ground_directions  # noqa: E402
from gsi_builders.operations.receptacle_place import MIN_REGION_SEPARATION_M, receptacle_regions  # noqa: E402
from gsi_builders.supports import FOOTPRINT_MARGIN_M, footprint_radius  # noqa: E402
from gsi_datasets.operations import get_operation  # noqa: E402
from gsi_datasets.operations.receptacle_place import REGION_WORDS, REGIONS, nearest_region  # noqa: E402
from gsi_datasets.scene import FLOOR_ID, Scene  # noqa: E402
from gsi_metrics.operations import get_scorer  # noqa: E402
from gsi_metrics.perception import CameraRecovery, Perception, TargetRecovery  # noqa: E402
from gsi_metrics.sample import ScoringSample  # noqa: E402
from tests.generated import decoded, operation_rows, png_image  # noqa: E402

RP = "receptacle_place"
#: Rows of tabletop test seed 0 with the mix forced to RP that use the table (three regions) ...
INDICES = (0, 2, 3)
#: ... and rows that put the target onto a receptacle object (a tray, a cutting board, a plate).
OBJECT_INDICES = (5, 8, 41)
#: Rows of room test seed 0 with the mix forced to RP that put the target on another piece of furniture (a bed, a
#: nightstand).
FURNITURE_INDICES = (0, 38)
#: Rows of tabletop test seed 0 with the mix forced to RP that put the target in a bowl.
BOWL_INDICES = (1, 6, 15)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return operation_rows(RP, INDICES)


@pytest.fixture(scope="module")
def object_rows() -> list[dict[str, Any]]:
    return operation_rows(RP, OBJECT_INDICES)


@pytest.fixture(scope="module")
def bowl_rows() -> list[dict[str, Any]]:
    return operation_rows(RP, BOWL_INDICES)


@pytest.fixture(scope="module")
def furniture_rows() -> list[dict[str, Any]]:
    return operation_rows(RP, FURNITURE_INDICES, config="room")


def _source(row: dict[str, Any]) -> Scene:
    return Scene.from_dict(json.loads(row["scene"])["source"])


def test_regions_are_the_centre_and_the_inset_middles_of_the_sides_facing_each_camera_direction(
    rows: list[dict[str, Any]],
) -> None:
    source = _source(rows[0])
    target = source.objects[0]
    receptacle = receptacle_regions(source, target)
    table = source.furniture_piece(target.support_id)
    assert receptacle.instance_id == table.instance_id
    inset = footprint_radius(target) + FOOTPRINT_MARGIN_M
    x_min, y_min, x_max, y_max = table.surface("top").extent
    local = {r: table.pose.rotation.T @ (p - np.array(table.pose.position)) for r, p in receptacle.points.items()}
    np.testing.assert_allclose(local["centre"][:2], [(x_min + x_max) / 2, (y_min + y_max) / 2], atol=1e-9)
    directions = ground_directions(source)
    for region, point in receptacle.points.items():
        assert point[2] == pytest.approx(target.pose.position[2])  # the target's centre height on the surface
        if region == "centre":
            continue
        # On the inset rectangle's border, on the side whose outward normal is within 35 degrees of the direction.
        x, y = local[region][:2]
        on_side = [
            abs(x - (x_max - inset)) < 1e-9,
            abs(x - (x_min + inset)) < 1e-9,
            abs(y - (y_max - inset)) < 1e-9,
            abs(y - (y_min + inset)) < 1e-9,
        ]
        assert sum(on_side) == 1, region
        normals = [table.pose.rotation[:, 0], -table.pose.rotation[:, 0], table.pose.rotation[:, 1],
                   -table.pose.rotation[:, 1]]  # fmt: skip
        assert normals[on_side.index(True)] @ directions[REGIONS[region]] >= np.cos(np.deg2rad(35.0)) - 1e-9
    # The corners bound the surface at its height.
    assert np.allclose(receptacle.corners[:, 2], table.pose.position[2] + table.surface("top").height)


def test_an_edge_too_near_the_centre_to_be_told_from_it_is_not_a_region(rows: list[dict[str, Any]]) -> None:
    """A region is the set of positions nearest its point: an edge whose point lies a few centimetres from the centre's
    would be crossed by an edit placed that much off, or by its measurement. As the target grows, the edges move in
    towards the centre; each one is a region exactly while its point stays 10 cm or more from the centre's."""
    source = _source(rows[0])
    target = source.objects[0]
    table = source.furniture_piece(target.support_id)
    x_min, y_min, x_max, y_max = table.surface("top").extent
    half_rooms = []  # per scale: the edges' distances from the centre along the table's two axes
    dropped_near_centre = 0
    for factor in np.linspace(1.0, 12.0, 45):
        grown = dataclasses.replace(target, scale=target.scale * float(factor))
        try:
            receptacle = receptacle_regions(source.with_object(grown), grown)
        except Rejected:
            break
        inset = footprint_radius(grown) + FOOTPRINT_MARGIN_M
        half_rooms.append(((x_max - x_min) / 2 - inset, (y_max - y_min) / 2 - inset))
        centre = receptacle.points["centre"]
        edges = {r: p for r, p in receptacle.points.items() if r != "centre"}
        assert all(np.linalg.norm(p - centre) >= MIN_REGION_SEPARATION_M - 1e-9 for p in edges.values())
        if len(edges) < 4 and min(half_rooms[-1]) < MIN_REGION_SEPARATION_M <= max(half_rooms[-1]):
            dropped_near_centre += 1
            assert edges, "the long axis still has room for its edges"
    # The growth passed through sizes whose short axis had room to move (the old rule's 5 cm) but not 10 cm.
    assert any(0.025 <= min(h) < MIN_REGION_SEPARATION_M for h in half_rooms), half_rooms
    assert dropped_near_centre > 0


def test_labels_put_the_target_on_the_asked_regions_point(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        receptacle, target = row["receptacle"], row["target_object"]
        command = row["command"]
        assert command["direction"] in REGIONS
        assert REGION_WORDS[command["direction"]] in row["instruction"] or command["direction"] == "centre"
        assert receptacle["instance_id"] == row["support"]["instance_id"]
        assert receptacle["display_name"] in row["instruction"]
        points = {r["region"]: np.array(r["point"]) for r in receptacle["regions"]}
        final = np.array(target["box3d_after"]["centre"])
        assert np.linalg.norm(final - points[command["direction"]]) < 0.011, row["instruction"]
        # The target did not start in the asked region (an unchanged image cannot comply), and moved 5 cm or more.
        start = np.array(target["box3d_before"]["centre"])
        assert nearest_region(points, start, np.array(row["support"]["normal"])) != command["direction"]
        assert np.linalg.norm(final - start) >= 0.05
        assert row["reference_object"] is None


def test_proposals_follow_the_rules_or_name_the_rule_they_break(rows: list[dict[str, Any]]) -> None:
    source = _source(rows[0])
    generator = get_generator(RP)
    reasons, made = set(), 0
    for seed in range(30):
        target = source.objects[seed % len(source.objects)]
        try:
            proposal = generator.propose(source, target, np.random.default_rng(seed))
        except Rejected as rejection:
            reasons.add(rejection.reason)
            continue
        made += 1
        moved = proposal.target_scene.object(target.instance_id)
        point = proposal.receptacle.points[proposal.command.direction]
        np.testing.assert_allclose(moved.pose.position[:2], point[:2], atol=1e-9)
        assert moved.pose.quaternion == target.pose.quaternion
        if moved.support_id == target.support_id:
            assert moved.pose.position[2] == target.pose.position[2]
        else:  # dropped onto a receptacle object (the scenes of RP have one)
            assert source.object(moved.support_id).support_id == target.support_id
            assert moved.pose.position[2] > target.pose.position[2]
    assert made > 0
    assert reasons <= {"already_in_region", "region_occupied", "edge_not_facing_camera_direction"}, reasons
    # The floor has no edges; a surface the target cannot move on is too small.
    on_floor = dataclasses.replace(source.objects[0], support_id=FLOOR_ID)
    with pytest.raises(Rejected, match="no_receptacle_surface"):
        receptacle_regions(dataclasses.replace(source, objects=(on_floor,)), on_floor)
    huge = dataclasses.replace(source.objects[0], scale=source.objects[0].scale * 12.0)
    with pytest.raises(Rejected, match="receptacle_too_small"):
        receptacle_regions(source.with_object(huge), huge)


def _perception(translation: np.ndarray, yaw_deg: float = 0.0) -> Perception:
    from gsi_datasets.geometry import rotation_about_axis

    rotation = rotation_about_axis([0.0, -1.0, 0.0], yaw_deg)
    return Perception(TargetRecovery(True, np.asarray(translation, float), rotation), CameraRecovery(True))


def test_gsi_scores_the_region_and_the_distance_to_its_point(rows: list[dict[str, Any]]) -> None:
    sample = ScoringSample.from_row(rows[0])
    view, truth = sample.view, sample.truth
    edited = np.asarray(png_image(rows[0], "target_image"))
    score = get_scorer(RP, "gsi")
    exact = score(view, truth, _perception(truth.translation_m), edited)
    assert (exact.ic, exact.sa) == (1.0, 1.0) and exact.details["region"] == truth.command.direction
    unchanged = score(view, truth, _perception(np.zeros(3)), edited)
    assert (unchanged.ic, unchanged.sa) == (0.0, 0.0)
    # Every other region's point: the wrong region, SA 0 (the magnitude is at most the distance to it).
    start = view.target_box.centre
    for region, point in truth.region_points.items():
        if region != truth.command.direction:
            wrong = score(view, truth, _perception(point - start), edited)
            assert wrong.ic == 0.0 and wrong.sa == 0.0 and wrong.details["region"] == region
    # 3 cm off the point, still in the region: complies, with a lower SA.
    near = score(view, truth, _perception(truth.translation_m + np.array([0.03, 0.0, 0.0])), edited)
    assert near.ic == 1.0 and 0.5 < near.sa < 1.0
    # The right place, but turned by 90 degrees: the wrong kind of change.
    assert score(view, truth, _perception(truth.translation_m, 90.0), edited).ic == 0.0
    # Off the surface: beyond the asked edge by a metre.
    asked_point = truth.region_points[truth.command.direction]
    beyond = asked_point + (asked_point - truth.region_points["centre"]) / np.linalg.norm(
        asked_point - truth.region_points["centre"]
    )
    off = score(view, truth, _perception(beyond - start), edited)
    assert off.ic == 0.0 and off.details["on_receptacle"] is False
    # Profile paper: the reference's move rule; on exact detections a move under 32 cm has no candidate (defect 10).
    paper = get_scorer(RP, "paper")(view, truth, _perception(truth.translation_m), edited)
    long_move = np.linalg.norm(truth.translation_m) >= np.sqrt(0.1)
    assert paper.ic == float(long_move) and paper.sa == pytest.approx(float(long_move), abs=1e-3)


@pytest.mark.parametrize("region", list(REGIONS))
def test_parser_reads_every_template_of_every_region(region: str) -> None:
    from gsi_bench.editors.instruction_parser import parse_instruction

    spec = get_operation(RP)
    key = region if region in ("centre", "inside") else "edge"
    receptacle = "fruit bowl" if region == "inside" else "dining table"  # a container is named (a candidate)
    for template in spec.templates[key]:
        text = template.format(object="coffee mug", receptacle=receptacle, region=REGION_WORDS[region])
        parsed = parse_instruction(text, ["mug", "coffee mug", "bowl", "fruit bowl"])
        assert (parsed.operation, parsed.object_name, parsed.direction) == (RP, "coffee mug", region), text
        assert parsed.reference_name == (receptacle if region == "inside" else None), text


def test_parser_takes_the_object_before_the_region_and_the_receptacle_after_it() -> None:
    from gsi_bench.editors.instruction_parser import parse_instruction

    names = ["toy block", "cutting board", "writing desk"]
    parsed = parse_instruction("Place the toy block in the middle of the cutting board.", names)
    assert (parsed.operation, parsed.object_name, parsed.direction, parsed.reference_name) == (
        RP,
        "toy block",
        "centre",
        "cutting board",
    )
    # The surface the object stands on is no candidate: no receptacle is named.
    text = "Put the toy block by the leftmost edge of the table's top, as seen from the camera."
    parsed = parse_instruction(text, names)
    assert (parsed.object_name, parsed.direction, parsed.reference_name) == ("toy block", "leftmost_edge", None)


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
        assert geometric[0].details["region"] == row["command"]["direction"], geometric[0].details


def test_counterfactuals_put_the_target_in_every_other_region_and_those_must_not_comply(
    rows: list[dict[str, Any]],
) -> None:
    from gsi_bench.fidelity.counterfactuals import make_counterfactuals

    seen: set[str] = set()
    for row in rows:
        cases = {case.name: case for case in make_counterfactuals(row).cases}
        seen |= set(cases)
        assert cases["correct/oracle"].truth.should_comply and cases["correct/oracle"].truth.relative_error < 0.1
        assert cases["identity/source"].truth.relative_error >= 1.0 - 1e-9  # SA 0
        for name, case in cases.items():
            if name.startswith("wrong_region/"):
                assert not case.truth.should_comply and case.truth.relative_error >= 1.0, name
    assert any(name.startswith("wrong_region/") for name in seen) and any(n.startswith("magnitude/") for n in seen)


def test_contact_sheets_outline_the_receptacle_and_mark_its_regions(rows: list[dict[str, Any]]) -> None:
    from gsi_datasets.visualize import REFERENCE_COLOUR, contact_sheet

    row = decoded(rows[0])
    tile = 320

    def blue_pixels(sample: dict[str, Any]) -> int:
        sheet = np.asarray(contact_sheet([sample], columns=1, tile=tile)).astype(int)
        return int(np.all(np.abs(sheet - np.array(REFERENCE_COLOUR)) <= 30, axis=2).sum())

    assert blue_pixels(row) > 4 * max(blue_pixels({**row, "receptacle": None}), 25)


def test_a_receptacle_object_receives_on_its_flat_top_and_other_objects_receive_nothing(
    object_rows: list[dict[str, Any]],
) -> None:
    from scipy.spatial import ConvexHull

    from gsi_datasets.rendering import asset_of
    from gsi_datasets.scene import Pose, SceneObject, receiving_surface

    for category, part in (("tray", "floor"), ("cutting_board", "board"), ("storage_box", "lid"), ("plate", "well")):
        for seed in range(3):
            holder = SceneObject(1, category, seed, 1.0, Pose((0.0, 0.0, 0.0)))
            surface = receiving_surface(holder)
            vertices = next(p.vertices for p in asset_of(holder).parts if p.name == part)
            assert surface.height == pytest.approx(vertices[:, 2].max())
            x_min, y_min, x_max, y_max = surface.extent
            assert x_min == -x_max and y_min == -y_max and x_max > 0.04 and y_max > 0.04
            # Every corner lies on the part (inside its footprint), and the rectangle touches the footprint's outline.
            corners = np.array([(x, y) for x in (x_min, x_max) for y in (y_min, y_max)])
            equations = ConvexHull(vertices[:, :2]).equations
            outside = corners @ equations[:, :2].T + equations[:, 2]
            assert outside.max() <= 1e-9 and outside.max() > -1e-3, (category, seed)
    for category in ("coffee_mug", "basket"):  # an inside that a convex hull would fill receives nothing
        assert receiving_surface(SceneObject(1, category, 0, 1.0, _source(object_rows[0]).objects[0].pose)) is None


def test_a_target_put_on_a_receptacle_object_rests_on_its_top_at_the_asked_regions_point(
    object_rows: list[dict[str, Any]],
) -> None:
    from gsi_builders.supports import lowest_point_z
    from gsi_datasets.scene import receiving_surface

    categories = set()
    for row in object_rows:
        scenes = json.loads(row["scene"])
        source, target_scene = Scene.from_dict(scenes["source"]), Scene.from_dict(scenes["target"])
        target_id, receptacle = row["target_object"]["instance_id"], row["receptacle"]
        moved, holder = target_scene.object(target_id), target_scene.object(receptacle["instance_id"])
        categories.add(holder.category)
        assert moved.support_id == holder.instance_id != source.object(target_id).support_id
        assert holder.pose == source.object(holder.instance_id).pose  # the receptacle did not move
        top = holder.pose.position[2] + receiving_surface(holder).height
        assert abs(lowest_point_z(moved) - top) < 0.005, row["instruction"]
        assert receptacle["display_name"] in row["instruction"]
        points = {r["region"]: np.array(r["point"]) for r in receptacle["regions"]}
        final = np.array(row["target_object"]["box3d_after"]["centre"])
        assert np.linalg.norm(final - points[row["command"]["direction"]]) < 0.011, row["instruction"]
    assert categories == {"tray", "cutting_board", "plate"}


def _assert_reference_editors_put_it_on_the_receptacle(row: dict[str, Any]) -> None:
    """The oracle complies, the unchanged image does not, and the geometric editor reads the receptacle's name and
    puts the target on its top, in the asked region."""
    from gsi_bench.editors import get_editor
    from gsi_metrics.scoring import score_profiles

    oracle = score_profiles(row, png_image(row, "target_image"))[0]
    assert oracle.ic == 1.0 and oracle.sa > 0.95 and oracle.details["on_receptacle"], oracle.details
    assert score_profiles(row, png_image(row, "source_image"))[0].ic == 0.0
    geometric = score_profiles(row, get_editor("geometric")(row))[0]
    assert geometric.details["on_receptacle"], (row["instruction"], geometric.details)
    assert geometric.details["region"] == row["command"]["direction"], (row["instruction"], geometric.details)


def test_on_a_receptacle_object_the_oracle_complies_and_next_to_it_never_does(
    object_rows: list[dict[str, Any]],
) -> None:
    from gsi_bench.fidelity.counterfactuals import make_counterfactuals

    score = get_scorer(RP, "gsi")
    beside_seen = 0
    for row in object_rows:
        _assert_reference_editors_put_it_on_the_receptacle(row)
        sample = ScoringSample.from_row(row)
        edited = np.asarray(png_image(row, "target_image"))
        beside = [case for case in make_counterfactuals(row).cases if case.name.startswith("next_to/")]
        beside_seen += len(beside)
        for case in beside:
            assert not case.truth.should_comply
            wrong = score(sample.view, sample.truth, _perception(case.truth.translation_m), edited)
            assert wrong.ic == 0.0 and wrong.details["on_receptacle"] is False, case.name
    assert beside_seen >= 2  # where the surface around the receptacle is free


def test_a_move_short_of_a_receptacle_object_complies_only_once_it_is_over_it(
    object_rows: list[dict[str, Any]],
) -> None:
    from gsi_bench.fidelity.counterfactuals import should_comply

    for row in object_rows:
        sample = ScoringSample.from_row(row)
        asked = sample.truth.translation_m
        assert should_comply(sample, "magnitude", asked, np.eye(3))
        # Stopping a quarter of the way leaves the target on its own surface, beside the receptacle: not on it.
        assert not should_comply(sample, "magnitude", 0.25 * asked, np.eye(3)), row["instruction"]


def test_a_target_put_on_another_piece_of_furniture_rests_on_its_top_which_shows_whole(
    furniture_rows: list[dict[str, Any]],
) -> None:
    from gsi_builders.operations.receptacle_place import in_view, other_furniture
    from gsi_builders.supports import lowest_point_z

    for row in furniture_rows:
        scenes = json.loads(row["scene"])
        source, target_scene = Scene.from_dict(scenes["source"]), Scene.from_dict(scenes["target"])
        target_id, receptacle = row["target_object"]["instance_id"], row["receptacle"]
        piece = source.furniture_piece(receptacle["instance_id"])
        moved = target_scene.object(target_id)
        assert moved.support_id == piece.instance_id != source.object(target_id).support_id
        assert piece.instance_id in [p.instance_id for p in other_furniture(source, source.object(target_id))]
        assert abs(lowest_point_z(moved) - (piece.pose.position[2] + piece.top.height)) < 0.005, row["instruction"]
        regions = receptacle_regions(source, source.object(target_id), piece.instance_id)
        assert in_view(source, regions.corners)  # (the row's corners are in the camera frame)
        assert receptacle["display_name"] in row["instruction"]
        final = np.array(moved.pose.position)
        assert np.linalg.norm(final[:2] - regions.points[row["command"]["direction"]][:2]) < 0.011, row["instruction"]


def test_on_another_piece_of_furniture_the_oracle_complies_and_the_own_surface_never_does(
    furniture_rows: list[dict[str, Any]],
) -> None:
    from gsi_bench.fidelity.counterfactuals import make_counterfactuals
    from gsi_metrics.scoring import score_profiles

    own_surface_seen = 0
    for row in furniture_rows:
        _assert_reference_editors_put_it_on_the_receptacle(row)
        for case in make_counterfactuals(row).cases:
            if case.name == "wrong_reference/own_surface":
                own_surface_seen += 1
                assert not case.truth.should_comply
                wrong = score_profiles(row, case.image)[0]
                assert wrong.ic == 0.0 and wrong.details["on_receptacle"] is False, wrong.details
    assert own_surface_seen >= 1


def test_a_target_put_in_a_bowl_rests_inside_it_on_its_inner_wall(bowl_rows: list[dict[str, Any]]) -> None:
    """A bowl is an open container: its only region is its inside; what is put in it sinks below its rim, rests on
    its inner wall or floor over the middle of its floor, and physics agrees (the bowl collides as convex pieces)."""
    from gsi_builders.operations.receptacle_place import MIN_SINK_M
    from gsi_builders.simulation import settle
    from gsi_builders.supports import lowest_point_z
    from gsi_datasets.rendering import asset_of
    from gsi_datasets.scene import is_container, resting_bottom

    for row in bowl_rows:
        assert row["command"]["direction"] == "inside" and [r["region"] for r in row["receptacle"]["regions"]] == [
            "inside"
        ]
        scenes = json.loads(row["scene"])
        source, target_scene = Scene.from_dict(scenes["source"]), Scene.from_dict(scenes["target"])
        target_id, bowl_id = row["target_object"]["instance_id"], row["receptacle"]["instance_id"]
        moved, bowl = target_scene.object(target_id), target_scene.object(bowl_id)
        assert bowl.category == "bowl" and is_container(bowl) and moved.support_id == bowl_id
        assert bowl.pose == source.object(bowl_id).pose
        rim = bowl.pose.position[2] + asset_of(bowl).size[2] / 2.0
        bottom = lowest_point_z(moved)
        base = bowl.pose.position[2] - asset_of(bowl).size[2] / 2.0
        assert base < bottom <= rim - MIN_SINK_M + 0.005, row["instruction"]
        # It rests where the bowl's inner surface holds it (physics moved it less than a centimetre from there) ...
        assert abs(bottom - resting_bottom(bowl, moved, np.array(moved.pose.position[:2]))) < 0.01
        assert np.linalg.norm(np.subtract(moved.pose.position[:2], bowl.pose.position[:2])) < 0.02
        # ... and stays there: settled again, it touches the bowl and nothing else.
        again = settle(target_scene)
        assert again.displacement_m[target_id] < 0.005 and again.supports[target_id] == {bowl_id}
        assert "bowl" in row["instruction"]


def test_in_a_bowl_the_oracle_complies_next_to_it_never_does_and_the_parser_reads_it(
    bowl_rows: list[dict[str, Any]],
) -> None:
    from gsi_bench.editors.instruction_parser import parse_instruction
    from gsi_bench.fidelity.counterfactuals import make_counterfactuals
    from gsi_metrics.scoring import score_profiles

    score = get_scorer(RP, "gsi")
    for row in bowl_rows:
        names = [i["display_name"] for i in row["instances"]]
        parsed = parse_instruction(row["instruction"], names)
        assert (parsed.direction, parsed.reference_name) == ("inside", row["receptacle"]["display_name"])
        assert parsed.object_name == row["target_object"]["display_name"]
        oracle = score_profiles(row, png_image(row, "target_image"))[0]
        assert oracle.ic == 1.0 and oracle.sa > 0.95 and oracle.details["on_receptacle"], oracle.details
        assert score_profiles(row, png_image(row, "source_image"))[0].ic == 0.0
        sample = ScoringSample.from_row(row)
        edited = np.asarray(png_image(row, "target_image"))
        for case in make_counterfactuals(row).cases:
            if case.name.startswith("next_to/"):
                assert not case.truth.should_comply
                wrong = score(sample.view, sample.truth, _perception(case.truth.translation_m), edited)
                assert wrong.ic == 0.0 and wrong.details["on_receptacle"] is False, case.name
