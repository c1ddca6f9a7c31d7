"""Real captures for tests, written in the generic RGB-D folder layout (:mod:`gsi_datasets.real.rgbd_folder`).

The Middlebury 2014 Motorcycle pair that scikit-image ships (``skimage.data.stereo_motorcycle``: the left image, the
ground-truth disparity and, in its docstring, the calibration of the 4x down-sampled images) gives a real photograph
with real metric depth: ``depth = focal * baseline / (disparity + doffs)``. Its instance image is drawn from the
hand-made outlines in ``tests/fixtures/middlebury_motorcycle_objects.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

OBJECTS_FILE = Path(__file__).parent / "fixtures" / "middlebury_motorcycle_objects.json"
#: Calibration of the down-sampled pair (skimage.data.stereo_motorcycle's docstring).
FOCAL_PX = 994.978
PRINCIPAL_POINT_PX = (311.193, 254.877)
DISPARITY_OFFSET_PX = 31.086
BASELINE_MM = 193.001


def middlebury_depth_m() -> np.ndarray:
    """The left image's metric depth (m) from the ground-truth disparity; 0 where the disparity is unknown."""
    import skimage.data

    disparity = skimage.data.stereo_motorcycle()[2].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        depth = FOCAL_PX * BASELINE_MM / (disparity + DISPARITY_OFFSET_PX) / 1000.0
    return np.where(np.isfinite(depth) & (depth > 0), depth, 0.0)


def middlebury_instances(shape: tuple[int, int]) -> tuple[np.ndarray, dict[int, str]]:
    """The instance image drawn from the hand-made outlines, and each id's category."""
    objects = json.loads(OBJECTS_FILE.read_text())["objects"]
    instances = np.zeros(shape, np.uint8)
    for item in objects:
        cv2.fillPoly(instances, [np.array(item["polygon"], np.int32)], int(item["id"]))
    return instances, {int(item["id"]): item["category"] for item in objects}


def middlebury_motorcycle_folder(folder: Path) -> Path:
    """Writes the Middlebury frame as ``<folder>`` (one frame, ``motorcycle``) and returns the folder."""
    import skimage.data

    left = skimage.data.stereo_motorcycle()[0]
    for sub in ("rgb", "depth", "instances"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    Image.fromarray(left).save(folder / "rgb" / "motorcycle.png")
    millimetres = np.round(middlebury_depth_m() * 1000.0).astype(np.uint16)
    Image.fromarray(millimetres).save(folder / "depth" / "motorcycle.png")
    instances, labels = middlebury_instances(left.shape[:2])
    Image.fromarray(instances).save(folder / "instances" / "motorcycle.png")
    (folder / "labels.json").write_text(json.dumps({str(k): v for k, v in labels.items()}, indent=1))
    cx, cy = PRINCIPAL_POINT_PX
    (folder / "intrinsics.json").write_text(json.dumps({"fx": FOCAL_PX, "fy": FOCAL_PX, "cx": cx, "cy": cy}))
    return folder
