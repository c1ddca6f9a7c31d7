"""The generic RGB-D folder (a user's own captures): a real photograph with real metric depth read back, and every
kind of bad input named by its file or counted as a skipped frame."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gsi_datasets.real.frames import CaptureError
from gsi_datasets.real.rgbd_folder import RGBDFolder
from tests.real_captures import FOCAL_PX, middlebury_depth_m, middlebury_motorcycle_folder


@pytest.fixture(scope="module")
def middlebury(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return middlebury_motorcycle_folder(tmp_path_factory.mktemp("middlebury") / "capture")


@pytest.fixture
def capture(middlebury: Path, tmp_path: Path) -> Path:
    """A copy to damage."""
    return Path(shutil.copytree(middlebury, tmp_path / "capture"))


def test_the_middlebury_frame_reads_back_with_metric_depth_and_its_objects(middlebury: Path) -> None:
    import skimage.data

    folder = RGBDFolder(middlebury)
    (frame,) = list(folder.frames())
    assert folder.frame_ids == ["motorcycle"] and folder.skipped == {}
    np.testing.assert_array_equal(frame.rgb, skimage.data.stereo_motorcycle()[0])
    np.testing.assert_allclose(frame.depth_m, middlebury_depth_m(), atol=0.0006)  # stored as whole millimetres
    assert frame.intrinsics[0, 0] == FOCAL_PX and frame.camera_to_world is None
    assert frame.labels == {1: "cardboard box", 2: "cardboard box", 3: "bottle", 4: "plastic container",
                            5: "cardboard box"}  # fmt: skip
    for instance in frame.labels:
        inside = frame.instances == instance
        depth = frame.depth_m[inside]
        assert (depth > 0).mean() > 0.9  # the ground truth covers the outlined objects
        rows, columns = np.nonzero(inside)
        metres_per_pixel = np.median(depth[depth > 0]) / FOCAL_PX
        width, height = (np.ptp(columns) * metres_per_pixel, np.ptp(rows) * metres_per_pixel)
        assert 0.04 < width < 0.5 and 0.04 < height < 0.5  # shelf objects of household size, 3.5-4 m away
    assert 3.0 < np.median(frame.depth_m[frame.instances == 1]) < 4.5


def test_a_missing_or_mis_sized_depth_is_named_and_the_frame_skipped(capture: Path) -> None:
    (capture / "depth" / "motorcycle.png").unlink()
    folder = RGBDFolder(capture)
    assert list(folder.frames()) == [] and "depth/motorcycle.png" in folder.skipped["motorcycle"]
    Image.fromarray(np.ones((100, 100), np.uint16)).save(capture / "depth" / "motorcycle.png")
    with pytest.raises(CaptureError, match=r"depth/motorcycle.png: depth is 100 x 100, the RGB 741 x 500"):
        RGBDFolder(capture).frame("motorcycle")


def test_lower_resolution_depth_of_the_same_aspect_is_resized_and_float_metres_read(capture: Path) -> None:
    (capture / "depth" / "motorcycle.png").unlink()
    depth = middlebury_depth_m()[::2, ::2].astype(np.float32)
    depth[0, 0] = np.nan
    np.save(capture / "depth" / "motorcycle.npy", depth)
    frame = RGBDFolder(capture).frame("motorcycle")
    assert frame.depth_m.shape == (500, 741) and frame.depth_m[0, 0] == 0.0
    np.testing.assert_allclose(frame.depth_m[2, 4], depth[1, 2])


def test_labels_and_instances_must_agree(capture: Path) -> None:
    labels = json.loads((capture / "labels.json").read_text())
    del labels["3"]
    (capture / "labels.json").write_text(json.dumps(labels))
    with pytest.raises(CaptureError, match=r"instances/motorcycle.png: instance id\(s\) \[3\] have no category"):
        RGBDFolder(capture).frame("motorcycle")
    (capture / "labels.json").write_text(json.dumps({"one": "box"}))
    with pytest.raises(CaptureError, match=r"labels.json: 'one' is not an instance id"):
        RGBDFolder(capture)
    (capture / "labels.json").write_text("{not json")
    with pytest.raises(CaptureError, match="labels.json: not readable JSON"):
        RGBDFolder(capture)


def test_empty_folders_corrupt_images_and_missing_intrinsics_are_named(capture: Path, tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no such folder"):
        RGBDFolder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CaptureError, match=r"empty/rgb: no frames"):
        RGBDFolder(tmp_path / "empty")
    (capture / "intrinsics.json").unlink()
    with pytest.raises(CaptureError, match=r"intrinsics.json: missing"):
        RGBDFolder(capture).frame("motorcycle")
    (capture / "rgb" / "motorcycle.png").write_bytes(b"not a png")
    with pytest.raises(CaptureError, match=r"rgb/motorcycle.png: not a readable image"):
        RGBDFolder(capture).frame("motorcycle")
