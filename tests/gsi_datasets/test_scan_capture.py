"""Scans with an annotated mesh: a simulated room written in the ScanNet++ v2 layout (tests/scannetpp_capture.py) and
read through scenezoo, as a user reads real ScanNet++; the labels checked against the simulator's truth; broken
releases give errors that name the file."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gsi_datasets.real.frames import CaptureError, frame_rejection, possible_targets, selected_frames  # noqa: E402
from gsi_datasets.real.scans import ScanCapture  # noqa: E402
from tests.scannetpp_capture import SimulatedScan, label_errors, room_scene, write_scannetpp_scene  # noqa: E402


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulatedScan]:
    root = tmp_path_factory.mktemp("scannetpp")
    return root, write_scannetpp_scene(root, room_scene(0))


def _copy(scan: tuple[Path, SimulatedScan], tmp_path: Path) -> tuple[Path, Path]:
    root, truth = scan
    shutil.copytree(root, tmp_path / "root")
    return tmp_path / "root", tmp_path / "root" / "data" / truth.scene_id


def test_frames_come_back_with_the_release_cameras_and_the_requested_size(scan) -> None:
    root, truth = scan
    capture = ScanCapture("scannetpp", root, truth.scene_id, image_size=(480, 360))
    frames = list(capture.frames())
    assert [f.frame_id for f in frames] == [f"frame_{i:06d}" for i in range(len(truth.cameras))]
    for frame, camera in zip(frames, truth.cameras, strict=True):
        assert frame.rgb.shape == (360, 480, 3) and frame.depth_m.shape == (360, 480)
        np.testing.assert_allclose(frame.camera_to_world, np.linalg.inv(camera.world_to_camera), atol=1e-5)
        np.testing.assert_allclose(frame.intrinsics[0, 0], camera.intrinsics[0, 0] / 4, rtol=1e-5)
        # The LiDAR depth (256 x 192, millimetres) matches the rendered depth where both see something.
        rendered = truth.depth_m[int(frame.frame_id[-1])][2::4, 2::4]
        valid = (frame.depth_m > 0) & (rendered > 0)
        assert valid.mean() > 0.9 and np.median(np.abs(frame.depth_m[valid] - rendered[valid])) < 0.01
    assert set(capture.labels.values()) >= {"wall", "floor", "bed"}


def test_masks_and_boxes_match_the_simulator(scan) -> None:
    root, truth = scan
    rows = label_errors(truth, ScanCapture("scannetpp", root, truth.scene_id))
    targets = [r for r in rows if r["target"]]
    assert len(targets) >= 20, len(targets)
    ious = np.array([r["mask_iou"] for r in targets])
    assert np.median(ious) > 0.95 and np.mean(ious >= 0.9) >= 0.95, sorted(ious)[:5]
    assert max(r["centre_error_m"] for r in targets) <= 0.02
    yaws = [r["yaw_error_deg"] for r in targets if r["yaw_error_deg"] is not None]
    assert len(yaws) >= 10 and np.mean(np.array(yaws) <= 5.0) >= 0.9, sorted(yaws)[-5:]


def test_an_object_taken_away_after_the_scan_is_not_labelled(scan, tmp_path: Path) -> None:
    root, truth = scan
    from gsi_datasets.rendering import asset_of

    # Something that stands up (a flat thing taken away leaves the depth of its support: depth cannot tell).
    standing = [o.instance_id for o in truth.scene.objects if asset_of(o).size[2] > 0.1]
    frames = list(ScanCapture("scannetpp", root, truth.scene_id).frames())
    shown = Counter(int(i) for f in frames for i in np.unique(f.instances))
    taken = max(standing, key=lambda instance: shown[truth.object_ids[instance] + 1])
    away = write_scannetpp_scene(tmp_path, truth.scene, truth.scene_id, taken_away=taken)
    before = sum(int(np.count_nonzero(f.instances == away.object_ids[taken] + 1)) for f in frames)
    after_frames = list(ScanCapture("scannetpp", tmp_path, away.scene_id).frames())
    after = sum(int(np.count_nonzero(f.instances == away.object_ids[taken] + 1)) for f in after_frames)
    assert before > 2000 and after < 0.05 * before, (before, after)


def test_frame_selection_rejects_the_shaken_frame(scan) -> None:
    root, truth = scan
    frames = list(ScanCapture("scannetpp", root, truth.scene_id).frames())
    assert frame_rejection(frames[truth.blurred_frame]) == "blurry"
    rejections: Counter[str] = Counter()
    kept = list(selected_frames(frames, rejections))
    assert rejections["blurry"] >= 1 and frames[truth.blurred_frame].frame_id not in {f.frame_id for f in kept}
    assert all(len(possible_targets(f)) >= 2 for f in kept)
    # Walls, the floor and the bed are never targets.
    assert not {t.category for f in kept for t in possible_targets(f)} & {"wall", "floor", "bed", "ceiling"}


def test_visible_fraction_counts_what_is_in_front(scan) -> None:
    root, truth = scan
    capture = ScanCapture("scannetpp", root, truth.scene_id)
    frame = next(capture.frames())
    fractions = {t.instance_id: capture.visible_fraction(frame, t.instance_id) for t in possible_targets(frame)}
    assert all(0.0 < value <= 1.0 for value in fractions.values())
    assert max(fractions.values()) > 0.95  # something stands in the open
    assert capture.visible_fraction(frame, 10**6) == 0.0


def test_broken_releases_name_the_file(scan, tmp_path: Path) -> None:
    root, truth = scan
    with pytest.raises(CaptureError, match="no such folder"):
        ScanCapture("scannetpp", tmp_path / "missing", truth.scene_id)
    with pytest.raises(CaptureError, match="unknown scan dataset 'scannet\\+\\+\\+'"):
        ScanCapture("scannet+++", root, truth.scene_id)

    copy, scene_dir = _copy(scan, tmp_path / "mesh")
    (scene_dir / "scans" / "mesh_aligned_0.05.ply").unlink()
    with pytest.raises(CaptureError, match="mesh"):
        list(ScanCapture("scannetpp", copy, truth.scene_id).frames())

    copy, scene_dir = _copy(scan, tmp_path / "annotation")
    annotation = json.loads((scene_dir / "scans" / "segments_anno.json").read_text())
    annotation["segGroups"][0]["segments"].append(10**6)  # a segment no vertex has
    (scene_dir / "scans" / "segments_anno.json").write_text(json.dumps(annotation))
    with pytest.raises(CaptureError, match="instance annotation.*unknown segment"):
        list(ScanCapture("scannetpp", copy, truth.scene_id).frames())

    copy, scene_dir = _copy(scan, tmp_path / "depth")
    depth = scene_dir / "iphone" / "depth.bin"
    depth.write_bytes(depth.read_bytes()[:100])
    with pytest.raises(CaptureError, match="frames frame_000000"):
        list(ScanCapture("scannetpp", copy, truth.scene_id).frames())

    copy, scene_dir = _copy(scan, tmp_path / "depth_size")  # a depth stream of 128 x 96 frames, not 256 x 192
    import lz4.block

    block = lz4.block.compress(np.zeros((96, 128), "<u2").tobytes(), store_size=False)
    (scene_dir / "iphone" / "depth.bin").write_bytes((len(block).to_bytes(4, "little") + block) * len(truth.cameras))
    with pytest.raises(CaptureError, match="cannot read its frames frame_000000.*depth"):
        list(ScanCapture("scannetpp", copy, truth.scene_id).frames())

    copy, scene_dir = _copy(scan, tmp_path / "poses")
    (scene_dir / "iphone" / "pose_intrinsic_imu.json").write_text("{ not json")
    with pytest.raises(CaptureError, match="camera poses"):
        _ = ScanCapture("scannetpp", copy, truth.scene_id).frame_ids

    capture = ScanCapture("scannetpp", root, truth.scene_id)
    with pytest.raises(CaptureError, match="no frames \\['frame_999999'\\]"):
        list(capture.frames(["frame_999999"]))
