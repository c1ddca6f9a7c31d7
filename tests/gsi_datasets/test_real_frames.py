"""Frame selection for real captures: the paper's sharpness criterion on a real photograph and its blurred copies,
the never-target list, and which objects of a frame may be edited."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from gsi_datasets.real.frames import (
    BLURRY_BELOW,
    RGBDFrame,
    TargetRules,
    can_be_target,
    every_nth,
    frame_rejection,
    is_blurry,
    possible_targets,
    selected_frames,
    sharpness,
)
from gsi_datasets.real.rgbd_folder import RGBDFolder
from tests.real_captures import middlebury_motorcycle_folder


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory) -> RGBDFrame:
    """The Middlebury motorcycle frame (a real photograph, real depth, five hand-outlined shelf objects)."""
    folder = middlebury_motorcycle_folder(tmp_path_factory.mktemp("middlebury") / "capture")
    return RGBDFolder(Path(folder)).frame("motorcycle")


def test_a_sharp_photograph_passes_and_its_blurred_copies_do_not(frame: RGBDFrame) -> None:
    blurred = [cv2.GaussianBlur(frame.rgb, (0, 0), sigma) for sigma in (1, 2)]
    scores = [sharpness(image) for image in (frame.rgb, *blurred)]
    assert scores[0] > BLURRY_BELOW > scores[1] > scores[2] > 0  # more blur, less high-frequency energy
    assert not is_blurry(frame.rgb) and is_blurry(blurred[0])


def test_sharpness_does_not_depend_on_brightness_or_channels(frame: RGBDFrame) -> None:
    grey = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2GRAY)
    assert sharpness(grey) == pytest.approx(sharpness(frame.rgb))
    assert sharpness(grey.astype(np.float64) * 0.5) == pytest.approx(sharpness(grey))  # a ratio: exposure cancels
    assert sharpness(np.zeros((8, 8))) == 0.0
    with pytest.raises(ValueError, match="at least 2 x 2"):
        sharpness(np.zeros((1, 5)))


def test_fixed_parts_of_a_room_are_never_targets() -> None:
    for label in ("wall", "Floor", "ceiling_light", "door-frame", "blinds", "bed", "kitchen cabinet", "object",
                  "wall /other room", ""):  # fmt: skip
        assert not can_be_target(label), label
    for label in ("cardboard box", "Coffee_Mug", "table lamp", "bottle", "chair"):
        assert can_be_target(label), label


def test_the_frames_objects_and_its_rejection_rules(frame: RGBDFrame) -> None:
    targets = possible_targets(frame)
    assert sorted(item.instance_id for item in targets) == [1, 2, 3, 4, 5]
    assert all(item.valid_depth > 0.9 and not item.touches_border for item in targets)
    assert frame_rejection(frame) is None
    assert [item.instance_id for item in possible_targets(frame, TargetRules(min_pixels=2000))] == [5, 1]
    walls = dataclasses.replace(frame, labels=dict.fromkeys(frame.labels, "wall"))
    blurred = dataclasses.replace(frame, rgb=cv2.GaussianBlur(frame.rgb, (0, 0), 2))
    no_depth = dataclasses.replace(frame, depth_m=np.zeros_like(frame.depth_m))
    rejections: Counter[str] = Counter()
    kept = list(selected_frames([frame, walls, blurred, no_depth], rejections))
    assert kept == [frame] and rejections == {"too_few_targets": 2, "blurry": 1}


def test_the_stride() -> None:
    assert every_nth([str(i) for i in range(10)], 4) == ["0", "4", "8"]
    with pytest.raises(ValueError, match="stride"):
        every_nth(["a", "b"], 0)
