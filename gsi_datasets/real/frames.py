"""Frames of real captures: the frame every reader returns (:class:`RGBDFrame`), and which frames and objects may
become benchmark rows.

- **Sharp**: the paper's criterion, as the reference pipeline computes it (GSI-Bench,
  ``evaluation/utils/img_utils.py``): the magnitude of the grey image's centred 2D Fourier transform summed outside a
  disc of radius ``0.1 * min(h, w)`` (whole pixels) around the zero frequency, over its sum on the whole spectrum; a
  frame below 0.6 is blurry. On the Middlebury motorcycle frame (``skimage.data.stereo_motorcycle``) the score is
  0.73; a Gaussian blur of 1 pixel brings it to 0.52.
- **One frame per** ``stride`` of a capture (neighbouring video frames repeat each other).
- **Enough targets**: objects that may be edited (not in :data:`NEVER_TARGETS`: walls, floors, doors, windows,
  blinds, lights, beds and other fixed furniture, as the reference's list and more), large enough in the image, not
  cut by its border, with valid depth on most of their pixels.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: The disc of low frequencies left out, as a fraction of the image's shorter side (its radius).
LOW_FREQUENCY_RADIUS = 0.1
#: Frames whose high-frequency share is below this are blurry.
BLURRY_BELOW = 0.6
#: Categories that are never edited: the reference's list (``evaluation/gen_data/generate.py``: door, floor, ceiling,
#: wall, window frame, window, doorframe, blinds, ceiling light, object, bed) and the other fixed parts of a room
#: and its furniture, plus labels that name no object.
NEVER_TARGETS = frozenset(
    {
        "wall", "floor", "ceiling", "door", "doorframe", "door frame", "window", "window frame", "windowsill",
        "blinds", "curtain", "shower curtain", "ceiling light", "light", "lamp shade", "bed", "bunk bed",
        "cabinet", "kitchen cabinet", "bath cabinet", "cupboard", "wardrobe", "closet", "armoire", "dresser",
        "chest of drawers", "counter", "kitchen counter", "shelf", "shelves", "bookshelf", "bookcase", "refrigerator",
        "fridge", "sink", "bathtub",
        "toilet", "shower", "shower wall", "shower floor", "shower door", "radiator", "heater", "fireplace", "stair",
        "stairs", "pipe", "socket", "hood", "kitchen hood", "extractor fan", "ventilator", "carpet", "rug",
        "object", "objects", "item", "clutter", "structure", "unknown",
    }
)  # fmt: skip


class CaptureError(ValueError):
    """A capture cannot be read: the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class RGBDFrame:
    """One frame of a real capture, in the conventions every reader returns.

    Attributes:
        frame_id: the frame's name in its capture.
        rgb: ``(H, W, 3)`` uint8.
        depth_m: ``(H, W)`` float32 metres at the RGB size, 0 where unknown.
        intrinsics: ``(3, 3)`` pinhole matrix at the RGB size.
        camera_to_world: ``(4, 4)`` pose of the OpenCV camera (x right, y down, z forward) in the capture's world, or
            None when the capture has no poses.
        instances: ``(H, W)`` int32 instance ids (0: none), or None when the frame has no instance image.
        labels: the category of each instance id (None without instances).
    """

    frame_id: str
    rgb: np.ndarray
    depth_m: np.ndarray
    intrinsics: np.ndarray
    camera_to_world: np.ndarray | None = None
    instances: np.ndarray | None = None
    labels: dict[int, str] | None = None


@dataclass(frozen=True)
class ObjectInView:
    """An annotated instance as a frame shows it."""

    instance_id: int
    category: str
    pixels: int
    valid_depth: float
    touches_border: bool


@dataclass(frozen=True)
class TargetRules:
    """What makes an object of a frame a possible target, and a frame worth keeping."""

    min_pixels: int = 400
    min_valid_depth: float = 0.8
    min_targets: int = 2
    blurry_below: float = BLURRY_BELOW


def sharpness(image: np.ndarray) -> float:
    """The share of the spectrum's magnitude outside the low-frequency disc of ``image`` (``(H, W, 3)`` RGB or
    ``(H, W)`` grey, any dtype), in [0, 1]; 0 for an image without any variation."""
    grey = np.asarray(image)
    if grey.ndim == 3:
        grey = cv2.cvtColor(grey.astype(np.uint8) if grey.dtype != np.uint8 else grey, cv2.COLOR_RGB2GRAY)
    if grey.ndim != 2 or min(grey.shape) < 2:
        raise ValueError(f"sharpness needs an (H, W) or (H, W, 3) image of at least 2 x 2 pixels, got {grey.shape}")
    magnitude = np.abs(np.fft.fftshift(np.fft.fft2(grey.astype(np.float64))))
    height, width = grey.shape
    disc = np.zeros((height, width), np.uint8)
    cv2.circle(disc, (width // 2, height // 2), int(min(height, width) * LOW_FREQUENCY_RADIUS), 1, -1)
    total = float(magnitude.sum())
    return float(magnitude[disc == 0].sum()) / total if total > 0 else 0.0


def is_blurry(image: np.ndarray, threshold: float = BLURRY_BELOW) -> bool:
    """Whether ``image`` scores below ``threshold`` in :func:`sharpness`."""
    return sharpness(image) < threshold


def every_nth(frame_ids: Sequence[str], stride: int) -> list[str]:
    """One frame per ``stride`` of ``frame_ids`` (in their order, starting with the first).

    Raises:
        ValueError: a stride below 1.
    """
    if stride < 1:
        raise ValueError(f"the frame stride must be >= 1, got {stride}")
    return list(frame_ids)[::stride]


def normalized_category(label: str) -> str:
    """A category as people write it: lower case, words separated by single spaces, no ``/other room`` suffix."""
    label = re.sub(r"/.*$", "", str(label)).replace("_", " ").replace("-", " ")
    return " ".join(label.lower().split())


def can_be_target(label: str) -> bool:
    """Whether an object of this category may be edited (not a fixed part of the room, and a named object)."""
    category = normalized_category(label)
    return bool(category) and category not in NEVER_TARGETS


def objects_in_view(frame: RGBDFrame) -> list[ObjectInView]:
    """Every labelled instance the frame shows, largest first."""
    if frame.instances is None or not frame.labels:
        return []
    height, width = frame.instances.shape
    ids, counts = np.unique(frame.instances, return_counts=True)
    found = []
    for instance_id, pixels in zip(ids.tolist(), counts.tolist(), strict=True):
        if instance_id == 0 or instance_id not in frame.labels:
            continue
        rows, columns = np.nonzero(frame.instances == instance_id)
        border = rows.min() == 0 or columns.min() == 0 or rows.max() == height - 1 or columns.max() == width - 1
        valid = float(np.mean(frame.depth_m[rows, columns] > 0))
        found.append(ObjectInView(instance_id, frame.labels[instance_id], pixels, valid, bool(border)))
    return sorted(found, key=lambda item: -item.pixels)


def possible_targets(frame: RGBDFrame, rules: TargetRules = TargetRules()) -> list[ObjectInView]:
    """The objects of ``frame`` an edit may name: editable, at least ``min_pixels`` large, inside the image, with
    valid depth on at least ``min_valid_depth`` of their pixels."""
    return [
        item
        for item in objects_in_view(frame)
        if can_be_target(item.category)
        and item.pixels >= rules.min_pixels
        and not item.touches_border
        and item.valid_depth >= rules.min_valid_depth
    ]


def frame_rejection(frame: RGBDFrame, rules: TargetRules = TargetRules()) -> str | None:
    """Why ``frame`` cannot give rows (``blurry``, ``too_few_targets``), or None when it can."""
    if sharpness(frame.rgb) < rules.blurry_below:
        return "blurry"
    if len(possible_targets(frame, rules)) < rules.min_targets:
        return "too_few_targets"
    return None


def selected_frames(
    frames: Iterable[RGBDFrame], rejections: Counter[str], rules: TargetRules = TargetRules()
) -> Iterator[RGBDFrame]:
    """The frames that pass :func:`frame_rejection`; each rejected one is counted in ``rejections`` by its rule."""
    for frame in frames:
        reason = frame_rejection(frame, rules)
        if reason is None:
            yield frame
        else:
            rejections[reason] += 1
