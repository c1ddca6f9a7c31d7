"""The reference implementation's scoring rules, rule for rule (SPEC 6.1): what profile ``paper`` computes.

The reference (``evaluation/eval/eval.py`` and ``aggregate.py`` of ``aim-uofa/GSI-Bench``) scores an edit from 3D
detections of the target's category in the source and the edited image, in its own formats:

- a box is ``[x, y, z, w, h, l, yaw]`` in the camera frame (OpenCV axes, metres): ``w`` along the box's x axis,
  ``h`` along its y axis (the camera's vertical when the box stands upright), ``l`` along its z axis, and ``yaw`` a
  turn about the camera's y axis; a detection also has a rotation matrix (the box's axes in the camera frame) and a
  2D box ``[x1, y1, x2, y2]`` in the detector's input frame (the image resized so that its longer side is
  :data:`DETECTOR_SIZE` pixels);
- an edit (:class:`EditMeta`) is the original box ``B0``, the expected box ``B1``, the intrinsics and the original and
  expected rotation matrices.

The functions here take those and return what the reference returns, including its quirks: the ``+ 1e-5`` guards,
candidate selection that drops every edited detection "the same" as a source detection (:func:`candidate`; defect 10 of
SPEC 6.2 follows from it), the expected 2D box projected with the image's intrinsics while detections' 2D boxes are in
the detector's frame, IoU about the camera's vertical axis (:func:`iou_3d`), and the aggregation that keeps SA for
non-compliant samples (:func:`gated`). ``benchmarks/reference_crosscheck.py`` runs the reference's own functions side
by side with these on randomized cases.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from cachetools import LRUCache

from gsi_datasets.geometry import project_points

#: Longer side of the image the reference's detector sees; detections' 2D boxes are in that frame.
DETECTOR_SIZE = 896
#: The reference's ``+ 1e-5`` guards.
GUARD = 1e-5
#: ``check_same`` thresholds (sum of squared differences): 3D boxes of a move, of a turn or a scaling; 2D boxes;
#: rotation matrices (rotation compliance).
SAME_BOX_MOVE = 0.1
SAME_BOX_TURN_OR_SCALE = 1e-3
SAME_BOX_2D = 100.0
SAME_ROTATION = 1e-4
#: A candidate's 2D box must move more than this fraction of the expected 2D move.
MIN_MOVED_FRACTION_2D = 0.2
#: Rotation SA counts a candidate within this distance (m) of ``B0`` only.
ROTATE_MAX_DISTANCE_M = 0.5
#: Removal: a detection overlapping ``B0`` by more than this IoU means the target is still there.
REMOVED_MAX_IOU = 0.1
#: Move compliance: score above this.
MOVE_MIN_SCORE = 0.05
#: Removal compliance: score at least this.
REMOVE_MIN_SCORE = 0.5
#: Scale compliance: ``||k_pred - 1||`` above this.
SCALE_MIN_CHANGE = 0.2
#: Locality gate: masked SSIM above this and (synthetic data) / or (real data) masked LPIPS below the other.
LOCALITY_MIN_SSIM = 0.6
LOCALITY_MAX_LPIPS = 0.3
#: Rotate's viewpoint gate: matches whose median displacement is under this are an unmoved camera (our guard; the
#: reference's five-point solver raises on them).
STILL_CAMERA_PX = 0.5


@dataclass(frozen=True)
class Detection:
    """One 3D detection in the reference's format: ``bbox_3d`` ``[x, y, z, w, h, l, yaw]``, ``bbox_2d`` ``[x1, y1, x2,
    y2]`` (detector frame) and ``rotation`` (3x3, the box's axes in the camera frame)."""

    bbox_3d: np.ndarray
    bbox_2d: np.ndarray
    rotation: np.ndarray

    @classmethod
    def from_reference(cls, detection: Mapping[str, Any]) -> Detection:
        """From the reference's detection dict (``bbox_3d``, ``bbox_2d``, ``rotation_matrix``)."""
        return cls(
            np.asarray(detection["bbox_3d"], float),
            np.asarray(detection["bbox_2d"], float),
            np.asarray(detection["rotation_matrix"], float),
        )

    def to_reference(self) -> dict[str, Any]:
        return {
            "bbox_3d": [float(v) for v in self.bbox_3d],
            "bbox_2d": [float(v) for v in self.bbox_2d],
            "rotation_matrix": [[float(v) for v in row] for row in self.rotation],
        }


@dataclass(frozen=True)
class EditMeta:
    """What the reference knows of an edit (the keys of its edit JSON): ``B0``, ``B1``, ``K`` and the original and
    expected rotation matrices."""

    original_box: np.ndarray
    new_box: np.ndarray
    intrinsics: np.ndarray
    rotation: np.ndarray
    new_rotation: np.ndarray

    @classmethod
    def from_reference(cls, meta: Mapping[str, Any]) -> EditMeta:
        """From a row's ``reference_format`` or the reference's edit JSON."""
        return cls(
            np.asarray(meta["original_bbox_3d"], float),
            np.asarray(meta["new_bbox_3d"], float),
            np.asarray(meta["camera_intrinsics"], float),
            np.asarray(meta["rotation_matrix"], float),
            np.asarray(meta["new_rotation_matrix"], float),
        )


@dataclass(frozen=True)
class ReferenceScore:
    """IC (0 or 1) and SA of one sample as the reference computes them, the candidate detection it chose (move, rotate,
    scale) and whether it counts the target as removed (remove; its score can be 0 all the same)."""

    ic: float
    sa: float
    candidate: Detection | None = None
    removed: bool = False


_ZERO = ReferenceScore(0.0, 0.0)


def is_same(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, threshold: float) -> bool:
    """The reference's ``check_same``: the sum of squared differences is below ``threshold``."""
    return bool(np.sum((np.asarray(a, float) - np.asarray(b, float)) ** 2) < threshold)


def box_corners(box: Sequence[float] | np.ndarray, rotation: np.ndarray | None = None) -> np.ndarray:
    """The eight corners ``(8, 3)`` of a reference box, turned by ``rotation`` or else by its yaw about the camera's y
    axis; the first four are its ``-h/2`` face, in order around it."""
    x, y, z, w, h, l, yaw = (float(v) for v in box)  # noqa: E741 (the reference's names)
    signs = np.array(
        [[1, -1, 1], [1, -1, -1], [-1, -1, -1], [-1, -1, 1], [1, 1, 1], [1, 1, -1], [-1, 1, -1], [-1, 1, 1]]
    )
    corners = signs * (0.5 * np.array([w, h, l]))
    if rotation is None:
        rotation = np.array([[np.cos(yaw), 0.0, np.sin(yaw)], [0.0, 1.0, 0.0], [-np.sin(yaw), 0.0, np.cos(yaw)]])
    return corners @ np.asarray(rotation, float).T + np.array([x, y, z])


def iou_3d(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """The reference's ``iou_3d``: footprints on the camera's x-z plane (turned by each box's yaw) times the overlap
    of the camera-y extents; 0 for a degenerate footprint."""
    from shapely.geometry import Polygon

    corners = [box_corners(a), box_corners(b)]
    footprints = [Polygon(c[:4][:, [0, 2]]) for c in corners]
    if not all(f.is_valid for f in footprints):
        return 0.0
    intersection = footprints[0].intersection(footprints[1]).area
    extents = [(c[:, 1].min(), c[:, 1].max()) for c in corners]
    overlap = max(0.0, min(extents[0][1], extents[1][1]) - max(extents[0][0], extents[1][0]))
    volumes = [f.area * (high - low) for f, (low, high) in zip(footprints, extents, strict=True)]
    union = volumes[0] + volumes[1] - intersection * overlap
    return float(intersection * overlap / union) if union > 0 else 0.0


def projected_box_2d(box: Sequence[float] | np.ndarray, rotation: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """The reference's ``bbox_3d_to_2d``: the 2D box around the projection (with ``intrinsics``) of a box turned by
    ``rotation``."""
    pixels = project_points(intrinsics, box_corners(box, rotation))
    return np.concatenate([pixels.min(axis=0), pixels.max(axis=0)])


def original_box_2d(meta: EditMeta, source: Sequence[Detection]) -> np.ndarray | None:
    """The 2D box of the first source detection "the same" as ``B0`` (3D threshold 0.1), or None."""
    for detection in source:
        if is_same(detection.bbox_3d, meta.original_box, SAME_BOX_MOVE):
            return detection.bbox_2d
    return None


def _centre_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, float)[:3] - np.asarray(b, float)[:3]))


def candidate(
    source: Sequence[Detection],
    edited: Sequence[Detection],
    origin_2d: np.ndarray,
    same_3d: float,
    expected_2d: np.ndarray,
    nearest_to: np.ndarray,
) -> Detection | None:
    """The reference's choice of the edited target: among the edited detections that are not "the same" as any source
    detection (3D boxes within ``same_3d``, 2D boxes within 100), those whose 2D box moved more than 0.2 of the
    expected 2D move (``expected_2d - origin_2d``), the one whose centre is nearest ``nearest_to`` (the first of
    equals)."""
    expected_move = float(np.linalg.norm(expected_2d - origin_2d))
    best, best_distance = None, float("inf")
    for detection in edited:
        if any(
            is_same(detection.bbox_3d, other.bbox_3d, same_3d) or is_same(detection.bbox_2d, other.bbox_2d, SAME_BOX_2D)
            for other in source
        ):
            continue
        moved = float(np.linalg.norm(detection.bbox_2d - origin_2d)) / (expected_move + GUARD)
        distance = _centre_distance(detection.bbox_3d, nearest_to)
        if distance < best_distance and moved > MIN_MOVED_FRACTION_2D:
            best, best_distance = detection, distance
    return best


def move(meta: EditMeta, source: Sequence[Detection], edited: Sequence[Detection], local: bool) -> ReferenceScore:
    """Move (CM, OP, RP): ``score = 0.3 IoU3D(B1, cand) + 0.7 exp(-(ln(sqrt(r) + 1e-5))^2)``, ``r = |c_cand - c_B0| /
    (|c_B1 - c_B0| + 1e-5)`` (no candidate: IoU 0, r 0), halved when the number of detections changed; IC = score >
    0.05, SA = score; 0 without locality, without detections or without ``B0`` among the source detections."""
    origin_2d = original_box_2d(meta, source)
    if not local or not edited or origin_2d is None:
        return _ZERO
    expected_2d = projected_box_2d(meta.new_box, meta.rotation, meta.intrinsics)
    chosen = candidate(source, edited, origin_2d, SAME_BOX_MOVE, expected_2d, meta.new_box)
    overlap = iou_3d(meta.new_box, chosen.bbox_3d) if chosen is not None else 0.0
    moved = _centre_distance(meta.original_box, chosen.bbox_3d) if chosen is not None else 0.0
    ratio = moved / (_centre_distance(meta.original_box, meta.new_box) + GUARD)
    score = 0.3 * overlap + 0.7 * float(np.exp(-(np.log(np.sqrt(ratio) + GUARD) ** 2)))
    if len(edited) != len(source):
        score *= 0.5
    return ReferenceScore(float(score > MOVE_MIN_SCORE), score, chosen)


def rotation_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Geodesic angle (radians) between two rotation matrices, as the reference computes it."""
    return float(np.arccos(np.clip((np.trace(np.asarray(a, float).T @ np.asarray(b, float)) - 1.0) / 2.0, -1.0, 1.0)))


def rotate(meta: EditMeta, source: Sequence[Detection], edited: Sequence[Detection], local: bool) -> ReferenceScore:
    """Rotate (OR): the candidate nearest ``B0`` (the expected 2D box is ``B0`` turned to the expected rotation); SA =
    ``0.5 exp(-(ln(th_pred / (th_gt + 1e-5) + 1e-5))^2) + 0.5 exp(-dth)`` when it is within 0.5 m of ``B0``, else 0;
    IC = its rotation matrix is not "the same" as the original's (threshold 1e-4); 0 without locality (which
    includes a camera that did not turn), detections or ``B0``."""
    origin_2d = original_box_2d(meta, source)
    if not local or not edited or origin_2d is None:
        return _ZERO
    expected_2d = projected_box_2d(meta.original_box, meta.new_rotation, meta.intrinsics)
    chosen = candidate(source, edited, origin_2d, SAME_BOX_TURN_OR_SCALE, expected_2d, meta.original_box)
    if chosen is None:
        return _ZERO
    sa = 0.0
    if _centre_distance(chosen.bbox_3d, meta.original_box) < ROTATE_MAX_DISTANCE_M:
        asked = rotation_angle(meta.rotation, meta.new_rotation)
        turned = rotation_angle(meta.rotation, chosen.rotation)
        off = rotation_angle(meta.new_rotation, chosen.rotation)
        sa = 0.5 * float(np.exp(-(np.log(turned / (asked + GUARD) + GUARD) ** 2))) + 0.5 * float(np.exp(-abs(off)))
    ic = float(not is_same(meta.rotation, chosen.rotation, SAME_ROTATION))
    return ReferenceScore(ic, sa, chosen)


def remove(meta: EditMeta, source: Sequence[Detection], edited: Sequence[Detection], local: bool) -> ReferenceScore:
    """Remove (SR): removed iff no edited detection overlaps ``B0`` by IoU3D > 0.1 or has a 2D box "the same" as the
    original's (100); ``score = clip(1 - 0.3 (N_src - N_edit - 1), 0, 1)`` if removed, else 0; IC = score >= 0.5,
    SA = score; 0 without locality or ``B0``. Extra detections in the edited image are not penalised (defect 12)."""
    origin_2d = original_box_2d(meta, source)
    if not local or origin_2d is None:
        return _ZERO
    removed = not any(
        iou_3d(meta.original_box, d.bbox_3d) > REMOVED_MAX_IOU or is_same(origin_2d, d.bbox_2d, SAME_BOX_2D)
        for d in edited
    )
    score = float(np.clip(1.0 - 0.3 * (len(source) - len(edited) - 1), 0.0, 1.0)) if removed else 0.0
    return ReferenceScore(float(score >= REMOVE_MIN_SCORE), score, removed=removed)


def scale(meta: EditMeta, source: Sequence[Detection], edited: Sequence[Detection], local: bool) -> ReferenceScore:
    """Scale (OS): the candidate nearest ``B1``; per-axis ratios ``k = size / (size_B0 + 1e-5)``, ``k_pred = (1, 1, 1)``
    without a candidate; SA = ``exp(-mean(ln(k_pred / (k_gt + 1e-5) + 1e-5)^2))``; IC = ``||k_pred - 1|| > 0.2``
    (the vector norm); 0 without locality, detections or ``B0`` (an unchanged output scores SA > 0: defect 2)."""
    origin_2d = original_box_2d(meta, source)
    if not local or not edited or origin_2d is None:
        return _ZERO
    expected_2d = projected_box_2d(meta.new_box, meta.rotation, meta.intrinsics)
    chosen = candidate(source, edited, origin_2d, SAME_BOX_TURN_OR_SCALE, expected_2d, meta.new_box)
    original_size = meta.original_box[3:6] + GUARD
    asked = meta.new_box[3:6] / original_size
    got = chosen.bbox_3d[3:6] / original_size if chosen is not None else np.ones(3)
    sa = float(np.exp(-np.mean(np.log(got / (asked + GUARD) + GUARD) ** 2)))
    return ReferenceScore(float(np.linalg.norm(got - 1.0) > SCALE_MIN_CHANGE), sa, chosen)


#: The SIFT features of the last source images :func:`viewpoint_unchanged` saw (by content), at most this many.
_KEPT_SOURCE_FEATURES = 4
_source_features: LRUCache[bytes, tuple[Any, Any]] = LRUCache(maxsize=_KEPT_SOURCE_FEATURES)


def _source_sift(source: np.ndarray) -> tuple[Any, Any]:
    """SIFT keypoints and descriptors of a source image, kept for its next edits: the fidelity suite checks some two
    dozen edits of each source, and a run of several editors or profiles the same source again (SIFT of a 512 x 512
    image is about 30 ms; its key, a hash of the pixels, under 1 ms)."""
    import cv2

    key = hashlib.blake2b(np.ascontiguousarray(source).data, digest_size=16).digest() + repr(source.shape).encode()
    features = _source_features.get(key)
    if features is None:
        features = _source_features[key] = cv2.SIFT_create().detectAndCompute(source, None)
    return features


def viewpoint_unchanged(source: np.ndarray, edited: np.ndarray, max_angle_deg: float = 10.0) -> bool:
    """The reference's ``check_viewpoint_similarity`` (rotate's extra gate): SIFT matches with Lowe's ratio 0.75, an
    essential matrix (RANSAC, focal 1000 px, principal point at the image centre) and the recovered camera rotation
    under ``max_angle_deg``; False with fewer than 10 matches."""
    import cv2

    points_a, descriptors_a = _source_sift(source)
    points_b, descriptors_b = cv2.SIFT_create().detectAndCompute(edited, None)
    if descriptors_a is None or descriptors_b is None or len(descriptors_b) < 2:
        return False
    pairs = cv2.BFMatcher().knnMatch(descriptors_a, descriptors_b, k=2)
    good = [pair[0] for pair in pairs if len(pair) == 2 and pair[0].distance < 0.75 * pair[1].distance]
    if len(good) < 10:
        return False
    a = np.float32([points_a[m.queryIdx].pt for m in good])
    b = np.float32([points_b[m.trainIdx].pt for m in good])
    if np.median(np.linalg.norm(a - b, axis=1)) < STILL_CAMERA_PX:
        return True  # no motion at all: the five-point solver has no solution to find (OpenCV raises), the view is same
    centre = (source.shape[1] / 2, source.shape[0] / 2)
    cv2.setRNGSeed(0)  # RANSAC draws from OpenCV's global generator: seed it so a sample's verdict ignores call order
    try:
        essential, _ = cv2.findEssentialMat(a, b, focal=1000.0, pp=centre, method=cv2.RANSAC, prob=0.999, threshold=1.0)
    except cv2.error:  # a degenerate sample (e.g. most matches on one unmoved plane): no pose, as with no matrix
        return False
    if essential is None or essential.shape != (3, 3):
        return False
    _, rotation, _, _ = cv2.recoverPose(essential, a, b)
    return bool(np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1.0, 1.0))) < max_angle_deg)


def locality_boxes(meta: EditMeta, source: Sequence[Detection], edited: Sequence[Detection]) -> list[np.ndarray]:
    """The reference's edit region for EL and the locality gate (its ``eval_locality``), as 2D boxes in the detector's
    frame: the original's (the source detection matching ``B0``) and that of the last edited detection not "the same"
    as ``B0`` (3D threshold 0.1, or its 2D box within 100 of ``B0`` projected with the image's intrinsics)."""
    boxes = []
    origin_2d = original_box_2d(meta, source)
    if origin_2d is not None:
        boxes.append(origin_2d)
    projected = projected_box_2d(meta.original_box, meta.rotation, meta.intrinsics)
    new = None
    for detection in edited:
        if not (
            is_same(detection.bbox_3d, meta.original_box, SAME_BOX_MOVE)
            or is_same(detection.bbox_2d, projected, SAME_BOX_2D)
        ):
            new = detection.bbox_2d
    return boxes if new is None else [*boxes, new]


def locality_passes(ssim: float, lpips: float, real: bool) -> bool:
    """The reference's locality gate: masked SSIM > 0.6 and (synthetic data) / or (real data) masked LPIPS < 0.3."""
    if real:
        return ssim > LOCALITY_MIN_SSIM or lpips < LOCALITY_MAX_LPIPS
    return ssim > LOCALITY_MIN_SSIM and lpips < LOCALITY_MAX_LPIPS


def gated(ic: float, sa: float, el: float, ac: float | None) -> tuple[float, float, float, float]:
    """One sample's ``(IC, SA, EL, AC)`` as the reference's aggregation counts them: EL and AC count only for a
    compliant sample (else 0, while SA is kept); a compliant sample whose AC is 0 or missing (an unparsable judge
    answer) counts 0 on every axis."""
    if ic <= 0:
        return 0.0, sa, 0.0, 0.0
    if not ac:
        return 0.0, 0.0, 0.0, 0.0
    return ic, sa, el, ac


def aggregate(samples: Iterable[tuple[float, float, float, float | None]]) -> dict[str, float]:
    """The reference's headline numbers (0-100) from per-sample ``(IC, SA, EL, AC)`` in [0, 1] (EL = 1 - LPIPS, AC =
    the judge's score / 10): each axis the mean of :func:`gated` values over all samples, ``Avg`` their mean."""
    rows = [gated(*sample) for sample in samples]
    means = {axis: 100.0 * float(np.mean([row[i] for row in rows])) if rows else 0.0 for i, axis in enumerate(_AXES)}
    return {**means, "Avg": sum(means.values()) / 4.0}


_AXES = ("IC", "SA", "EL", "AC")
