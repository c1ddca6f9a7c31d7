"""Candidate edits of real frames: `gsi-bench build real` on a simulated room in the ScanNet++ layout (the simulator
knows what each object stands on) and on the Middlebury photograph through the generic RGB-D folder; the 3D checks
on hand-made frames; bad sources."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gsi_bench.cli import main  # noqa: E402
from gsi_builders.real_candidates import FrameObjects, Rejected, SupportArea, check_placement, propose  # noqa: E402
from gsi_datasets.geometry import plane_basis  # noqa: E402
from gsi_datasets.operations.receptacle_place import nearest_region  # noqa: E402
from gsi_datasets.operations.spatial_remove import position_coordinate  # noqa: E402
from gsi_datasets.real.frames import RGBDFrame  # noqa: E402
from gsi_datasets.real.grounding import GroundedBox  # noqa: E402
from gsi_datasets.schema import FEATURES  # noqa: E402
from tests.real_captures import middlebury_motorcycle_folder  # noqa: E402
from tests.scannetpp_capture import room_scene, true_edit, write_scannetpp_scene  # noqa: E402


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "candidates.jsonl").read_text().splitlines()]


def _with_images(folder: Path, row: dict) -> dict:
    row = dict(row)
    for key in ("source_image", "source_depth", "source_instances"):
        row[key] = {"bytes": (folder / row[key]["path"]).read_bytes(), "path": None}
    return row


@pytest.fixture(scope="module")
def scan_build(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("scannetpp")
    truth = write_scannetpp_scene(root, room_scene(0))
    out = tmp_path_factory.mktemp("candidates")
    code = main(["build", "real", "--source", f"scannetpp:{root}", "--frame-stride", "1", "--num-frames", "5",
                 "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    return truth, out


def test_scan_candidates_are_counted_previewed_and_in_the_schema(scan_build) -> None:
    truth, out = scan_build
    report = json.loads((out / "report.json").read_text())
    assert report["frames_read"] == 6 and report["frames_kept"] == 5
    assert report["frame_rejections"] == {"blurry": 1}  # the shaken frame
    rows = _rows(out)
    assert len(rows) == sum(report["candidates"].values()) >= 20
    assert set(report["candidates"]) >= {"camera_relative_move", "receptacle_place", "object_rotate", "object_scale"}
    assert all(v >= 1 for v in report["candidates_per_frame"].values())
    assert all(key.count("/") == 1 for key in report["check_rejections"])
    assert (out / "previews" / "sheet.png").is_file()
    for row in rows:
        assert (out / "previews" / f"{row['sample_id']}.jpg").is_file()
        assert row["target_image"] is None and row["reference_format"]["dataset"] == "fine"
    assert len({row["sample_id"] for row in rows}) == len(rows)
    FEATURES.encode_example(_with_images(out, rows[0]))


def test_scan_candidates_stand_on_what_the_simulator_says(scan_build) -> None:
    truth, out = scan_build
    simulator_id = {object_id + 1: instance for instance, object_id in truth.object_ids.items()}
    checked = Counter()
    for row in _rows(out):
        target = row["target_object"]
        instance = simulator_id[target["instance_id"]]
        support = row["support"]["instance_id"]
        expected = truth.scene.object(instance).support_id
        assert simulator_id.get(support, 0) == expected or (expected == 0 and row["support"]["category"] == "floor")
        before, after = (target[k] for k in ("box3d_before", "box3d_after"))
        up = np.array(row["support"]["normal"])
        bottom = [np.array(b["centre"]) @ up - b["size"][2] / 2 for b in (before, after)]
        assert abs(bottom[0] + row["support"]["offset_m"]) < 1e-9  # the support plane is at the target's bottom
        if row["operation"] == "receptacle_place":  # it stands on the receptacle's top, in the asked region
            receptacle = row["receptacle"]
            top = np.array(receptacle["corners"]) @ up
            assert np.allclose(top, bottom[1], atol=1e-6), row["instruction"]
            points = {r["region"]: np.array(r["point"]) for r in receptacle["regions"]}
            after_centre = np.array(after["centre"])
            assert nearest_region(points, after_centre, up) == row["command"]["direction"]
            assert simulator_id[receptacle["instance_id"]] != instance
        else:
            assert abs(bottom[1] - bottom[0]) < 1e-6, row["instruction"]  # neither floats nor sinks
        if row["operation"] == "camera_relative_move":
            assert np.linalg.norm(row["transform"]["translation_m"]) == pytest.approx(row["command"]["distance_m"])
        if row["operation"] == "object_rotate":
            assert row["transform"]["rotation_deg"] == pytest.approx(row["command"]["angle_deg"], abs=0.05)
        checked[row["operation"]] += 1
    assert checked["camera_relative_move"] >= 5 and checked["receptacle_place"] >= 2, checked


def _frame_objects(centres: list[tuple[float, float]], names: list[str]) -> FrameObjects:
    """A camera 1.5 m above a floor (up = -y), looking along +z; unit-height 10 cm cubes standing at ``centres``
    ((x, z) in metres), the floor's points everywhere from x -5..5, z 1..8 (the image ends at |x| = 3.2 m at z = 5)."""
    up = np.array([0.0, -1.0, 0.0])
    intrinsics = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    labels = {i + 1: name for i, name in enumerate(names)} | {99: "floor"}
    frame = RGBDFrame("f", np.zeros((480, 640, 3), np.uint8), np.ones((480, 640), np.float32), intrinsics, None,
                      np.zeros((480, 640), np.int32), labels)  # fmt: skip
    rotation = np.column_stack([[1.0, 0, 0], [0, 0, -1.0], up])
    boxes = {i + 1: GroundedBox(np.array([x, 1.45, z]), np.array([0.1, 0.1, 0.1]), rotation, 100)
             for i, (x, z) in enumerate(centres)}  # fmt: skip
    grid = np.stack(np.meshgrid(np.arange(-5, 5, 0.015), np.arange(1, 8, 0.015)), -1).reshape(-1, 2)
    floor = np.column_stack([grid[:, 0], np.full(len(grid), 1.5), grid[:, 1]])
    objects = FrameObjects(frame, up, boxes, {99: floor}, dict.fromkeys(boxes))
    first, second = plane_basis(up)
    flat = np.column_stack([floor @ first, floor @ second])
    for target in boxes:
        objects.supports[target], objects.areas[target] = 99, SupportArea.around(flat, objects.footprint(boxes[target]))
    return objects


def test_removal_names_the_extreme_instance_only_when_it_leads_by_5_cm() -> None:
    objects = _frame_objects([(-0.5, 5.0), (0.0, 5.0), (0.3, 5.02)], ["cup", "cup", "cup"])
    rng = np.random.default_rng(0)
    candidate = propose(objects, "spatial_remove", 1, rng)
    assert candidate.command.direction == "leftmost" and set(candidate.distractor_ids) == {2, 3}
    with pytest.raises(Rejected, match="not_extreme"):  # 2 is extreme on no axis
        propose(objects, "spatial_remove", 2, rng)
    # 3 is the rightmost (30 cm ahead) and the farthest by only 2 cm: only "rightmost" may name it.
    directions = {propose(objects, "spatial_remove", 3, np.random.default_rng(s)).command.direction for s in range(20)}
    assert directions == {"rightmost"}
    assert position_coordinate("rightmost", objects.boxes[3].centre, objects.up) > 0.25


def test_moves_are_checked_for_collisions_support_and_frame() -> None:
    objects = _frame_objects([(0.0, 5.0), (0.15, 5.0)], ["cup", "bowl"])
    with pytest.raises(Rejected, match="ambiguous_referent"):
        propose(_frame_objects([(0.0, 5.0), (0.5, 5.0)], ["cup", "cup"]), "camera_relative_move", 1,
                np.random.default_rng(0))  # fmt: skip
    box = objects.boxes[1]
    with pytest.raises(Rejected, match="collides"):
        check_placement(objects, 1, GroundedBox(box.centre + [0.1, 0, 0], box.size, box.rotation, 1))
    with pytest.raises(Rejected, match="leaves_support"):  # beyond the floor's points (x < -5)
        check_placement(objects, 1, GroundedBox(box.centre + [-5.5, 0, 0], box.size, box.rotation, 1))
    with pytest.raises(Rejected, match="leaves_frame"):  # the floor goes on, the image ends
        check_placement(objects, 1, GroundedBox(box.centre + [-3.5, 0, 0.0], box.size, box.rotation, 1))
    check_placement(objects, 1, GroundedBox(box.centre + [-0.2, 0, 0], box.size, box.rotation, 1))


def test_the_middlebury_photograph_gives_candidates_on_its_unlabelled_shelves(tmp_path: Path) -> None:
    folder = middlebury_motorcycle_folder(tmp_path / "capture")
    out = tmp_path / "candidates"
    assert main(["build", "real", "--source", f"rgbd:{folder}", "--frame-stride", "1", "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    rows = _rows(out)
    assert rows and all(row["support"]["category"] == "surface" for row in rows)
    removals = [row for row in rows if row["operation"] == "spatial_remove"]
    assert removals
    for row in removals:  # the named box leads the other cardboard boxes by 5 cm on its axis
        up = np.array(row["support"]["normal"])
        position = row["command"]["direction"]
        value = position_coordinate(position, np.array(row["target_object"]["box3d_before"]["centre"]), up)
        others = [position_coordinate(position, np.array(d["box3d_before"]["centre"]), up) for d in row["distractors"]]
        assert len(others) == 2 and value >= max(others) + 0.05
    # The bottle and the container stand on different shelves: no placement of one relative to the other.
    assert not [row for row in rows if row["operation"] == "object_relative_place"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("nowhere", "expected rgbd:<folder> or <dataset>:<root>"),
        ("rgbd:{tmp}/missing", "no such folder"),
        ("rgbd:{tmp}", "no frames"),
        ("scannet+++:{tmp}", "unknown scan dataset"),
    ],
)
def test_bad_sources_are_clear_errors(tmp_path: Path, source: str, message: str, capsys) -> None:
    code = main(["build", "real", "--source", source.format(tmp=tmp_path), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 2 and message in capsys.readouterr().err


def test_reviewed_scan_rows_are_scored_from_their_images(scan_build, tmp_path: Path) -> None:
    """Real rows have no target image and no scene: they are scored scene-free, the expected target region being the
    projection of the asked box. Nothing edited scores 0; the geometric editor's moves comply."""
    from gsi_bench.evaluation import run_evaluation
    from gsi_bench.review import ReviewStore
    from gsi_builders.real_writer import write_reviewed_split

    _, candidates = scan_build
    store = ReviewStore(candidates, "tests")
    for sample_id in store.candidates:
        store.decide(sample_id, "accepted")
    count, disagreements = write_reviewed_split(candidates, tmp_path / "dataset")
    assert count == len(store.candidates) and not disagreements
    scores = {}
    for editor, limit in (("identity", None), ("geometric", 12)):
        run_evaluation(tmp_path / "dataset", "real", "test", editor, tmp_path / editor, limit=limit, progress=False)
        lines = (tmp_path / editor / "samples.jsonl").read_text().splitlines()
        scores[editor] = [json.loads(line) for line in lines]
    assert {s["status"] for s in scores["identity"]} == {"ok"} and max(s["ic"] for s in scores["identity"]) == 0
    moves = [s for s in scores["geometric"] if s["operation"] == "camera_relative_move"]
    # A turn the images cannot decide is "undecidable" (the scene-free rule), and a target the edit lost (the editor's
    # turn of a box leaves a few specks of it) is not found: statuses of the edit, never a scoring error.
    statuses = {s["status"] for s in scores["geometric"]}
    assert statuses <= {"ok", "undecidable", "target_not_found"} and len(moves) >= 2
    assert np.mean([s["ic"] for s in moves]) >= 0.75, moves


def test_scan_rows_carry_the_target_mesh_and_are_scored_with_it(scan_build) -> None:
    """A row from a scan carries the target's annotated mesh (source camera frame, in its box); perception draws the
    target from it (method ``mesh``) and finds true moves, rendered by the simulator; ``perception="scene-free"``
    scores the photograph alone."""
    import re

    from gsi_metrics.perception import create_backend, perceive
    from gsi_metrics.sample import ScoringSample
    from gsi_metrics.scoring import score_perceived

    truth, candidates = scan_build
    rows = [_with_images(candidates, row) for row in _rows(candidates)]
    for row in rows:
        mesh, box = row["target_mesh"], row["target_object"]["box3d_before"]
        local = (np.asarray(mesh["vertices"]) - box["centre"]) @ np.asarray(box["rotation"])
        assert np.all(np.abs(local) <= np.asarray(box["size"]) / 2 + 0.005), row["sample_id"]
        assert len(mesh["colours"]) == len(mesh["vertices"]) and len(mesh["faces"]) >= 4
    backends = {path: create_backend("classical", perception=path) for path in ("auto", "scene-free")}
    moves = [row for row in rows if row["operation"] == "camera_relative_move"][:6]
    assert len(moves) >= 4
    scores = {path: [] for path in backends}
    for row in moves:
        sample = ScoringSample.from_row(row)
        edited = true_edit(truth, int(re.search(r"frame_(\d+)", row["sample_id"]).group(1)), row, sample.view.image)
        for path, backend in backends.items():
            perception = perceive(backend, sample.view, edited)
            assert perception.target.method == ("mesh" if path == "auto" else "scene-free")
            scores[path].append(score_perceived(sample, edited, perception, "gsi").ic)
    assert np.mean(scores["auto"]) >= 0.8, scores


def test_scan_rows_carry_the_surfaces_the_target_hides(scan_build) -> None:
    """A row from a scan carries its neighbours' annotated faces around and behind the target (never the target's own;
    their centres in its widened image box; a bounded number). Scoring draws the background a removal uncovers from
    them: true removals, rendered by the simulator, cost less against it than against the hole inpainted."""
    import dataclasses
    import re

    from gsi_builders.real_candidates import MOST_NEIGHBOUR_FACES, NEIGHBOUR_MARGIN, NEIGHBOUR_MARGIN_PX
    from gsi_metrics.perception.scene_free import SceneFreeComparer
    from gsi_metrics.sample import ScoringSample

    truth, candidates = scan_build
    rows = [_with_images(candidates, row) for row in _rows(candidates)]
    costs, targets = {"neighbour meshes": [], "inpainted": []}, set()
    for row in rows:
        neighbours, target = row["neighbour_meshes"], row["target_object"]
        assert neighbours and target["instance_id"] not in {mesh["instance_id"] for mesh in neighbours}
        assert sum(len(mesh["faces"]) for mesh in neighbours) <= MOST_NEIGHBOUR_FACES
        left, top, right, bottom = target["box2d_before"]
        margin = max(NEIGHBOUR_MARGIN * max(right - left, bottom - top), NEIGHBOUR_MARGIN_PX) + 1
        intrinsics = np.asarray(row["camera"]["intrinsics"])
        for mesh in neighbours:
            centres = np.asarray(mesh["vertices"])[np.asarray(mesh["faces"])].mean(axis=1)
            pixels = centres @ intrinsics.T
            u, v = pixels[:, 0] / pixels[:, 2], pixels[:, 1] / pixels[:, 2]
            assert np.all((u >= left - margin) & (u <= right + margin) & (v >= top - margin) & (v <= bottom + margin))
        frame = int(re.search(r"frame_(\d+)", row["sample_id"]).group(1))
        if (frame, target["instance_id"]) in targets:
            continue
        targets.add((frame, target["instance_id"]))
        sample = ScoringSample.from_row(row)
        removed = true_edit(truth, frame, {**row, "operation": "spatial_remove"}, sample.view.image)
        if removed is None:
            continue
        for name, view in (
            ("neighbour meshes", sample.view),
            ("inpainted", dataclasses.replace(sample.view, neighbour_meshes=())),
        ):
            costs[name].append(SceneFreeComparer(view, removed).removal_cost())
    with_meshes, inpainted = (np.array(costs[name]) for name in ("neighbour meshes", "inpainted"))
    assert len(with_meshes) >= 8
    assert with_meshes.mean() <= 0.9 * inpainted.mean() and np.mean(with_meshes < inpainted) >= 0.6, costs


def test_true_turns_explain_the_edit_better_than_no_turn_on_the_mesh_path(scan_build) -> None:
    """The surfaces of the target's mesh that the photograph never showed are drawn in the scan's colours, a guess (a
    scan is lit where the scanner saw it), whose pixels cost at most what the unchanged view costs there: a true turn,
    rendered by the simulator, explains the edit better than no turn, on average and on most of the scan's turns (with
    the scan's colours charged in full, no turn explains them better on average)."""
    import re

    from gsi_datasets.geometry import twist_angle_deg
    from gsi_metrics.perception.render_compare import Hypothesis
    from gsi_metrics.perception.scene_free import SceneFreeComparer
    from gsi_metrics.sample import ScoringSample

    truth, candidates = scan_build
    turns = [_with_images(candidates, row) for row in _rows(candidates) if row["operation"] == "object_rotate"]
    margins = []
    for row in turns:
        sample = ScoringSample.from_row(row)
        edited = true_edit(truth, int(re.search(r"frame_(\d+)", row["sample_id"]).group(1)), row, sample.view.image)
        comparer = SceneFreeComparer(sample.view, edited)
        asked = twist_angle_deg(sample.truth.rotation, sample.view.support_normal)
        unturned, turned = (comparer.cost(Hypothesis(0.0, 0.0, yaw, comparer.identity_index)) for yaw in (0.0, asked))
        margins.append(unturned - turned)
    margins = np.array(margins)
    assert len(margins) >= 8 and margins.mean() > 0 and np.mean(margins > 0) >= 0.6, margins


def test_a_turn_the_view_cannot_show_is_not_asked(scan_build) -> None:
    """The decidability rule on a real row: the target drawn as the scorer draws it (from its mesh) turned as asked
    must differ visibly from the unturned target. A plain cylinder in one colour turns invisibly; the row's own
    object (a kettle, a carton: not round) does not."""
    import cv2
    import trimesh

    from gsi_builders.real_candidates import turn_look_alike
    from gsi_datasets.geometry import ObjectMesh
    from gsi_datasets.images import row_image

    _, candidates = scan_build
    turns = [_with_images(candidates, row) for row in _rows(candidates) if row["operation"] == "object_rotate"]
    assert turns and all(turn_look_alike(row) is None for row in turns)
    row = turns[0]
    box = row["target_object"]["box3d_before"]
    axes = np.asarray(box["rotation"])
    cylinder = trimesh.creation.cylinder(radius=min(box["size"][:2]) / 2, height=box["size"][2], sections=48)
    vertices = cylinder.vertices @ axes.T + box["centre"]
    plain = ObjectMesh(vertices, np.asarray(cylinder.faces), np.full((len(vertices), 3), 90, np.uint8))
    image = np.asarray(row_image(row["source_image"]))[..., :3].copy()
    instances = np.asarray(row_image(row["source_instances"]))
    image[instances == row["target_object"]["instance_id"]] = 90  # the photograph shows it in that one colour
    encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].tobytes()
    painted = {**row, "target_mesh": plain.to_row(), "source_image": {"bytes": encoded, "path": None}}
    assert turn_look_alike(painted) == "unturned"


def test_the_middlebury_photograph_is_scored_end_to_end(tmp_path: Path) -> None:
    """A real photograph (Middlebury, through the generic RGB-D folder) from candidates to a reviewed `real` config to
    scores: every row scored (no mesh: the scene-free path), nothing edited complies with nothing, and the geometric
    editor's removals of the real cardboard boxes are recognised."""
    from gsi_bench.evaluation import run_evaluation
    from gsi_bench.review import ReviewStore
    from gsi_builders.real_writer import write_reviewed_split

    folder = middlebury_motorcycle_folder(tmp_path / "capture")
    candidates = tmp_path / "candidates"
    assert main(["build", "real", "--source", f"rgbd:{folder}", "--frame-stride", "1", "--out", str(candidates),
                 "--quiet"]) == 0  # fmt: skip
    store = ReviewStore(candidates, "tests")
    for sample_id in store.candidates:
        store.decide(sample_id, "accepted")
    count, _ = write_reviewed_split(candidates, tmp_path / "dataset")
    assert count >= 4
    scores = {}
    for editor in ("identity", "geometric"):
        run_evaluation(tmp_path / "dataset", "real", "test", editor, tmp_path / editor, progress=False)
        scores[editor] = [json.loads(line) for line in (tmp_path / editor / "samples.jsonl").read_text().splitlines()]
        assert len(scores[editor]) == count
        assert {s["status"] for s in scores[editor]} <= {"ok", "undecidable"}
    assert max(s["ic"] for s in scores["identity"]) == 0
    edited = [s for s in scores["geometric"] if s["operation"] != "spatial_remove"]
    assert edited and {s["details"]["method"] for s in edited} == {"scene-free"}
    removals = [s["ic"] for s in scores["geometric"] if s["operation"] == "spatial_remove"]
    assert removals and min(removals) == 1.0


def test_the_judge_gate_drops_flags_and_rewrites_keeping_numbers(fake_api, tmp_path: Path) -> None:
    folder = middlebury_motorcycle_folder(tmp_path / "capture")
    plain = tmp_path / "plain"
    assert main(["build", "real", "--source", f"rgbd:{folder}", "--frame-stride", "1", "--out", str(plain),
                 "--quiet"]) == 0  # fmt: skip
    plain_rows = _rows(plain)
    count = len(plain_rows)
    assert count >= 4

    def gated(answers: str, name: str) -> tuple[list[dict], dict[str, dict], dict, Any]:
        server = fake_api("ok", "--answers", answers)
        out = tmp_path / name
        command = ["build", "real", "--source", f"rgbd:{folder}", "--frame-stride", "1", "--out", str(out), "--quiet",
                   "--judge", f"openai-compatible:{server.url}", "--judge-option", "model=judge",
                   "--judge-option", f"cache_dir={tmp_path / name / 'cache'}", "--rewrite"]  # fmt: skip
        assert main(command) == 0
        decisions = [json.loads(line) for line in (out / "gate.jsonl").read_text().splitlines()]
        rows = {row["sample_id"]: row for row in _rows(out)}
        return decisions, rows, json.loads((out / "report.json").read_text()), server

    # In turn: kept (rewritten); dropped; label disputed; no verdict (decides nothing).
    decisions, rows, report, server = gated("gate:1:1,gate:0:1,gate:1:0,prose", "gated")
    assert [d["status"] for d in decisions[:4]] == ["kept", "dropped", "kept", "unparsable"]
    assert len(decisions) == count and server.stats()["chat"] == count
    assert decisions[2]["label_correct"] is False
    assert decisions[1]["sample_id"] not in rows and decisions[3]["sample_id"] in rows
    first = rows[decisions[0]["sample_id"]]
    assert first["instruction"].startswith("Please ") and first["reference_format"]["prompt"] == first["instruction"]
    assert report["gate"]["dropped"] == report["gate"]["label_disputed"] == 1
    assert sum(report["candidates"].values()) == len(rows) == count - report["gate"]["dropped"]

    # Rewrites that lose their digits: used only where the template had no number to lose.
    decisions, rows, _, _ = gated("gate:1:1:drop", "digits")
    originals = {row["sample_id"]: row["instruction"] for row in plain_rows}
    with_numbers = [any(c.isdigit() for c in originals[d["sample_id"]]) for d in decisions]
    assert any(with_numbers)
    for decision, numbered in zip(decisions, with_numbers, strict=True):
        assert decision["rewrite_used"] is not numbered
        assert ("numbers" in decision["reason"]) is numbered
        assert rows[decision["sample_id"]]["instruction"] == (
            originals[decision["sample_id"]] if numbered else decision["rewrite"]
        )
    assert main(["build", "real", "--source", f"rgbd:{folder}", "--out", str(tmp_path / "x"), "--rewrite"]) == 2
