"""3D boxes from one RGB-D frame without a pose: gravity from the support plane and the object's height, checked against
the simulator's truth on GSI-Syn source views, and on the Middlebury photograph."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gsi_datasets.real.frames import RGBDFrame  # noqa: E402
from gsi_datasets.real.grounding import camera_up, grounded_box  # noqa: E402
from gsi_datasets.real.rgbd_folder import RGBDFolder  # noqa: E402
from gsi_metrics.sample import ScoringSample  # noqa: E402
from tests.generated import operation_rows  # noqa: E402
from tests.real_captures import middlebury_motorcycle_folder  # noqa: E402


def _as_real_frame(row: dict) -> tuple[RGBDFrame, ScoringSample]:
    """A GSI-Syn source view as a real capture would give it: RGB, depth, intrinsics, instances; no pose."""
    sample = ScoringSample.from_row(row)
    view = sample.view
    labels = {int(i): "object" for i in np.unique(view.instances) if i != 0}
    frame = RGBDFrame(view.sample_id, view.image, view.depth_m, view.intrinsics, None, view.instances.astype(np.int32),
                      labels)  # fmt: skip
    return frame, sample


@pytest.mark.parametrize("config", ["tabletop", "room"])
def test_gravity_and_heights_from_depth_alone_match_the_simulator(config: str) -> None:
    up_errors, height_errors, top_errors = [], [], []
    for row in operation_rows("object_rotate", (0, 1, 2, 3, 4), config=config):
        frame, sample = _as_real_frame(row)
        view = sample.view
        up = camera_up(frame)
        up_errors.append(np.degrees(np.arccos(np.clip(up @ view.support_normal, -1, 1))))
        box = grounded_box(frame, view.target_id, up)
        truth = view.target_box
        true_height = np.abs(truth.rotation.T @ view.support_normal) @ truth.size
        height_errors.append(abs(box.size[2] - true_height))
        top_errors.append(
            abs((box.centre @ up + box.size[2] / 2) - (truth.centre @ view.support_normal + true_height / 2))
        )
        assert np.allclose(box.rotation.T @ box.rotation, np.eye(3), atol=1e-9) and np.allclose(box.rotation[:, 2], up)
    assert np.median(up_errors) < 1.0 and max(up_errors) < 5.0, up_errors
    assert np.median(height_errors) < 0.015, height_errors  # the visible top and the support: a few mm
    assert np.median(top_errors) < 0.01, top_errors


def test_a_pose_gives_gravity_directly() -> None:
    frame, _ = _as_real_frame(operation_rows("object_rotate", (0,))[0])
    tilt = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # camera y (down) is the world's -z
    pose = np.eye(4)
    pose[:3, :3] = tilt
    up = camera_up(RGBDFrame(frame.frame_id, frame.rgb, frame.depth_m, frame.intrinsics, pose))
    np.testing.assert_allclose(up, [0.0, -1.0, 0.0], atol=1e-12)


def test_the_middlebury_shelf_objects_get_boxes_of_their_measured_size(tmp_path) -> None:
    frame = RGBDFolder(middlebury_motorcycle_folder(tmp_path / "capture")).frame("motorcycle")
    up = camera_up(frame)
    assert np.degrees(np.arccos(up @ [0.0, -1.0, 0.0])) < 30  # the garage floor, seen by a camera looking down a bit
    heights = {instance: grounded_box(frame, instance, up).size[2] for instance in frame.labels}
    assert 0.2 < heights[1] < 0.3 and 0.1 < heights[3] < 0.2  # a 24 cm box, a 15 cm bottle
    assert camera_up(RGBDFrame("empty", frame.rgb, np.zeros_like(frame.depth_m), frame.intrinsics)) is None
