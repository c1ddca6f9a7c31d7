"""The default perception backend: classical geometry, no learned weights, CPU only.

Method (all in the source camera frame; the source side is exact: depth, K, masks, boxes, support plane):

1. SIFT features in the source and the edited image, matched with Lowe's ratio test.
2. **Camera motion**: source background features (not on the target) have metric 3D positions from the
   source depth; RANSAC PnP of their matches gives the edited camera's pose relative to the source
   camera, ``delta``, in metres. Motions below ``static_rotation_deg`` / ``static_translation_m`` count
   as a static camera (they are estimation noise). Before any feature is computed, a background that did not change
   (:func:`unchanged_background`: textured pixels away from the target, after a global colour change is undone) is a
   still camera at once: the usual case, and two of the four SIFT passes saved. An image that a shift and zoom of
   the whole frame explains better than any camera motion (a generator's crop or resize: every pixel moves alike,
   where a moved camera's parallax moves near and far points differently) is reframed, not a moved camera: the
   warp is recovered (``CameraRecovery.image_warp``), the camera is still, and the target is searched in the edited
   image brought back to the source frame (its features taken as given and mapped back, its mask mapped forward).
3. **Target pose**: target features are lifted the same way; RANSAC PnP of their matches gives a rigid
   motion ``T`` (source object points -> edited camera). With the camera motion removed, ``M =
   delta^-1 T`` is the target's motion, up to the scale-depth ambiguity of a single view: the object
   scaled by ``s`` about the edited camera centre projects identically. The support plane fixes ``s``:
   a standing object's lowest box corner lies on the plane. This recovers translation, rotation and
   uniform scale in one step, metric.
4. The target's edited-image mask is predicted by re-projecting its lifted source pixels with the
   recovered motion (used by edit locality and appearance).

Known limits (reported as ``found=False``, never guessed): targets with too few textured, matchable
pixels, and faces that were invisible in the source (e.g. the back of an object after a 180 degree turn).

5. **Render-and-compare** (synthetic rows, whenever the camera motion was recovered): the feature estimate,
   when there is one and the target may stand elsewhere (a move, a placement; not a turn, a scaling or a
   removal), seeds a search over the target's support-plane shift, yaw and scale that re-renders the stored source
   scene from the recovered camera; the search also starts from "no change" and from every large region of change,
   so it never needs to know how much was asked
   (:mod:`gsi_metrics.perception.render_compare`); its result replaces the feature estimate. This is what
   makes rotations of bodies of revolution and faces hidden in the source recoverable, and keeps a slightly
   moved, zoomed or shifted output scorable.
6. **Removal**: render-and-compare also renders the scene without the target; when that explains the edited image at
   least as well as the best pose (to within a tenth of what the target's own pixels weigh: a target that is there
   explains them all, and a pose that gains less is fitting the scene-free inpainting's errors), or nearly as well
   while the best pose's target does not match the image where it would show (or the best pose hides the target),
   the target was removed
   (``TargetRecovery.removed``). Without a scene, a target that is not located and whose source pixels mostly
   changed under a still camera counts as removed. Removal is a hypothesis only where the instruction asks for one
   (the operation is no secret; ``SourceView.removal_asked``): elsewhere a target that is gone is not found, and the
   search's result is exactly what it was before removal existed.

Measured by the metric fidelity suite (``gsi-bench validate``, 837 counterfactual edits of 50 tabletop test scenes
and 1,666 of 100 room scenes; README, "Validating the metrics"), without ever seeing the asked change: target not
found 0% on correct edits; translation error median / 90th percentile 0.07 / 0.96 cm (tabletop moves), 0.12 / 1.27
cm (room moves), rotation and scale errors 0.0 degrees and 0.6% (medians); camera drift recovered to 0.19 cm and
0.09 degrees (90th percentile); camera view changes recovered to 0.25 / 0.68 cm and 0.07 / 0.21 degrees. Render-and-
compare renders on the order of a hundred hypotheses per image (throughput: ``benchmarks/scoring_throughput.py``).
These are renders of the stored scene, which the search re-renders exactly. Features alone
(``perception="features"``) miss more targets and get most rotations of bodies of revolution wrong: their
rotation-invariant parts agree on "no rotation".

7. **Scene-free** (rows without a stored scene, such as photographs, or any row with ``perception="scene-free"``): the
   same search, without the feature estimate as a start (steps 3 and 4 are skipped), each hypothesis drawn in 2.5D
   from the source view's own pixels and depth
   (:mod:`gsi_metrics.perception.scene_free`); where a turn is asked, it also reports how well the source view tells
   turns apart (``TargetRecovery.turn_distinctness``), so that a turn no image could show is scored ``undecidable``.
   A real row from a scan carries the target's annotated mesh: the target is then drawn from the mesh (``mesh``: its
   true shape and the sides the photograph does not show) over the same 2.5D background; ``perception="scene-free"``
   leaves the mesh out (the photograph alone). ``TargetRecovery.method`` records the path of every estimate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from cachetools import LRUCache

from gsi_datasets.geometry import box_corners, mask_box, project_points, transform_points, unproject_pixels
from gsi_metrics.perception.base import (
    CameraRecovery,
    Perception,
    TargetRecovery,
    aligned_to_source,
    register_backend,
)
from gsi_metrics.perception.experts import TargetProposal, expert_request, load_experts, target_proposals
from gsi_metrics.perception.render_compare import PoseSearch, RenderComparer, photometrically_matched
from gsi_metrics.perception.scene_free import SceneFreeComparer
from gsi_metrics.sample import Box3D, SourceView


@dataclass(frozen=True)
class _Features:
    points: np.ndarray  # (N, 2) float32 pixel positions
    descriptors: np.ndarray  # (N, 128) float32


def _lift(pixels: np.ndarray, depth_m: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """3D camera-frame points of pixel positions ``(N, 2)`` (nearest-pixel depth)."""
    cols = np.clip(np.round(pixels[:, 0]).astype(int), 0, depth_m.shape[1] - 1)
    rows = np.clip(np.round(pixels[:, 1]).astype(int), 0, depth_m.shape[0] - 1)
    return unproject_pixels(intrinsics, pixels, depth_m[rows, cols])


def _rigid(rotation_vector: np.ndarray, translation: np.ndarray) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = cv2.Rodrigues(rotation_vector)[0]
    matrix[:3, 3] = translation.ravel()
    return matrix


def resolve_scale_on_support(
    rigid_motion: np.ndarray,
    camera_delta: np.ndarray,
    box: Box3D,
    support_normal: np.ndarray,
    support_offset_m: float,
    scale_range: tuple[float, float] = (0.2, 5.0),
) -> tuple[np.ndarray, float, np.ndarray] | None:
    """Turns a single-view rigid pose into the metric similarity of an object standing on its support.

    ``rigid_motion`` maps source-camera points of the object to the edited camera (as PnP returns it).
    A single view fixes the object only up to a scale ``s`` about the edited camera centre ``c``: every
    ``c + s (X - c)`` projects the same. With the camera motion removed (``M = delta^-1 rigid_motion``),
    ``s`` is the one that puts the lowest corner ``L`` of the moved box on the support plane
    ``n . X + d = 0``: ``s = -(d + n . c) / (n . (L - c))``.

    Returns:
        ``(M, s, translation)``: the rigid part (4x4, source camera frame), the uniform scale relative to
        the source, and the displacement of the box centre; None when ``s`` falls outside ``scale_range``.
    """
    camera_inverse = np.linalg.inv(camera_delta)
    motion = camera_inverse @ rigid_motion
    camera_centre = camera_inverse[:3, 3]
    corners = box_corners(box.centre, box.size, box.rotation) @ motion[:3, :3].T + motion[:3, 3]
    lowest = corners[int(np.argmin(corners @ support_normal))]
    denominator = float(support_normal @ (lowest - camera_centre))
    if abs(denominator) < 1e-9:
        return None
    scale = float(-(support_offset_m + support_normal @ camera_centre) / denominator)
    if not scale_range[0] < scale < scale_range[1]:
        return None
    moved_centre = motion[:3, :3] @ box.centre + motion[:3, 3]
    return motion, scale, camera_centre + scale * (moved_centre - camera_centre) - box.centre


#: Background pixels whose source gradient is at least this (grey levels per pixel, Sobel / 8) show a camera motion.
_TEXTURE_LEVELS = 12.0
#: At most this share of them may change for the camera to count as still, and at least this many must be seen.
_STILL_CHANGED_SHARE = 0.02
_STILL_MIN_PIXELS = 500


def unchanged_background(
    source: np.ndarray,
    edited: np.ndarray,
    background: np.ndarray,
    threshold: float,
    object_size_px: tuple[float, float] | None = None,
) -> bool:
    """Whether the edited image shows the source camera's view outside the edit: at half size, after a global
    brightness or colour change is undone (:func:`~gsi_metrics.perception.render_compare.photometrically_matched`),
    at most ``_STILL_CHANGED_SHARE`` of the textured ``background`` pixels changed by more than ``threshold`` (in any
    channel). A camera motion that the feature path would not call still (0.5 degrees, 5 mm) shifts the image by two
    pixels or more; an edit changes its own region only. Measured on 60 GSI-Syn tabletop rows: the oracle edit changes
    0-14% of those pixels, a shift of the whole source image by one pixel 4-33%, by two pixels 13-46%. Without enough
    texture to tell, the answer is no (the features decide).

    ``object_size_px``: the edited object's source ``(width, height)`` (full-size pixels), for an object operation.
    Its new place lies outside ``background``'s hole (a moved or enlarged object): the largest connected region of
    change no more than ``_MOVED_OBJECT_SPAN`` times the object's size across is not counted. One region only: a
    camera motion changes every object's outline, each as large as an object."""
    size = (source.shape[1] // 2, source.shape[0] // 2)
    source_small = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
    edited_small = photometrically_matched(cv2.resize(edited, size, interpolation=cv2.INTER_AREA), source_small)
    source_small = source_small.astype(np.float32)
    grey = cv2.cvtColor(source_small, cv2.COLOR_RGB2GRAY)
    gradient = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)) / 8.0
    away = cv2.resize(background.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    textured = away & (gradient > _TEXTURE_LEVELS)
    if np.count_nonzero(textured) < _STILL_MIN_PIXELS:
        return False
    changed = np.abs(edited_small - source_small).max(axis=2) > threshold
    still = np.mean(changed[textured]) <= _STILL_CHANGED_SHARE
    if not still and object_size_px is not None:
        changed &= ~_moved_object_region(changed & away, object_size_px)
        still = np.mean(changed[textured]) <= _STILL_CHANGED_SHARE
    return bool(still)


#: A connected region of change at most this many times the edited object's source size across (both ways) can be
#: the object at its new place (a doubled object, its shadow).
_MOVED_OBJECT_SPAN = 2.5


def _shift_and_zoom(source: np.ndarray, edited: np.ndarray) -> np.ndarray:
    """The least-squares ``edited ~ zoom * source + shift`` of matched pixels ``(N, 2)``, as a 2x3 matrix."""
    source_mean, edited_mean = source.mean(axis=0), edited.mean(axis=0)
    spread = float(((source - source_mean) ** 2).sum())
    zoom = float(((source - source_mean) * (edited - edited_mean)).sum()) / max(spread, 1e-9)
    return np.array(
        [[zoom, 0.0, edited_mean[0] - zoom * source_mean[0]], [0.0, zoom, edited_mean[1] - zoom * source_mean[1]]]
    )


def _warped(warp: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """``pixels`` ``(N, 2)`` through the 2x3 image warp ``warp``."""
    return pixels @ warp[:, :2].T + warp[:, 2]


def _moved_object_region(changed: np.ndarray, object_size_px: tuple[float, float]) -> np.ndarray:
    """The largest connected region of ``changed`` (half-size pixels, joined across a pixel's gap) that is at most
    ``_MOVED_OBJECT_SPAN`` times the object's ``(width, height)`` (full-size pixels) across; none when no region is."""
    joined = cv2.dilate(changed.astype(np.uint8), np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(joined)
    most_width, most_height = (_MOVED_OBJECT_SPAN * extent / 2 for extent in object_size_px)
    compact = [
        label
        for label in range(1, count)
        if stats[label, cv2.CC_STAT_WIDTH] <= most_width and stats[label, cv2.CC_STAT_HEIGHT] <= most_height
    ]
    if not compact:
        return np.zeros(changed.shape, bool)
    largest = max(compact, key=lambda label: stats[label, cv2.CC_STAT_AREA])
    return labels == largest


#: What the ``perception`` option chooses: ``auto`` (render-and-compare with the stored scene where a row has one,
#: scene-free otherwise), ``render-compare``, ``scene-free`` (2.5D drawings of the source view,
#: :mod:`gsi_metrics.perception.scene_free`: how a photograph is scored) or ``features`` (SIFT and PnP only).
PERCEPTION_PATHS = ("auto", "render-compare", "scene-free", "features")


@register_backend("classical")
class ClassicalBackend:
    """SIFT + RANSAC PnP with the source depth, plus the support-plane constraint (see module docstring)."""

    name = "classical"

    def __init__(
        self,
        max_features: int = 3000,
        ratio: float = 0.8,
        reprojection_px: float = 3.0,
        min_target_inliers: int = 6,
        min_camera_inliers: int = 20,
        static_rotation_deg: float = 0.5,
        static_translation_m: float = 0.005,
        ransac_iterations: int = 500,
        target_size_px: int = 200,
        change_threshold: int = 25,
        max_search_pixels: int = 1_500_000,
        contrast_threshold: float = 0.005,
        perception: str = "auto",
        experts: str | Mapping[str, Any] | None = None,
    ) -> None:
        if perception not in PERCEPTION_PATHS:
            raise ValueError(f"unknown perception path {perception!r}; choose one of {list(PERCEPTION_PATHS)}")
        self._config = {
            "max_features": max_features,
            "ratio": ratio,
            "reprojection_px": reprojection_px,
            "min_target_inliers": min_target_inliers,
            "min_camera_inliers": min_camera_inliers,
            "static_rotation_deg": static_rotation_deg,
            "static_translation_m": static_translation_m,
            "ransac_iterations": ransac_iterations,
            "target_size_px": target_size_px,
            "change_threshold": change_threshold,
            "max_search_pixels": max_search_pixels,
            "contrast_threshold": contrast_threshold,
            "perception": perception,
            "experts": experts,
        }
        self._sift = cv2.SIFT_create(nfeatures=max_features, contrastThreshold=contrast_threshold)
        self._matcher = cv2.BFMatcher(cv2.NORM_L2)
        self._source_cache: LRUCache[tuple[str, int | None], dict[bool, _Features]] = LRUCache(maxsize=256)

    def config(self) -> dict[str, Any]:
        return dict(self._config)

    # -- features ------------------------------------------------------------------------------------------

    def _features(
        self, image: np.ndarray, box: tuple[int, int, int, int] | None = None, factor: float = 1.0
    ) -> _Features:
        """SIFT features of ``image`` (or of its ``box = (x0, y0, x1, y1)`` upsampled by ``factor``), in the
        full image's pixel coordinates."""
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        x0, y0 = 0, 0
        if box is not None:
            x0, y0, x1, y1 = box
            gray = gray[y0:y1, x0:x1]
        if factor != 1.0:
            gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        keypoints, descriptors = self._sift.detectAndCompute(gray, None)
        if descriptors is None:
            return _Features(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32))
        # Upsampled pixel centres map back as (p + 0.5) / factor - 0.5.
        points = (np.array([k.pt for k in keypoints], np.float32) + 0.5) / factor - 0.5 + np.array([x0, y0])
        return _Features(points.astype(np.float32), descriptors)

    def _target_zoom(self, sample: SourceView) -> tuple[tuple[int, int, int, int], float]:
        """Crop around the source target and the upsampling factor that makes it ~``target_size_px`` wide.

        Rendered objects are often 30-60 px wide, too small for SIFT to find enough keypoints at 1x.
        """
        rows, cols = np.nonzero(sample.target_mask)
        height, width = sample.target_mask.shape
        size = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1
        margin = max(16, size // 2)
        box = (
            max(0, cols.min() - margin),
            max(0, rows.min() - margin),
            min(width, cols.max() + 1 + margin),
            min(height, rows.max() + 1 + margin),
        )
        return box, float(np.clip(self._config["target_size_px"] / size, 1.0, 4.0))

    def _source_features(self, sample: SourceView, zoomed: bool) -> _Features:
        """The source image's whole-image features (for the camera) or zoomed target features, each computed when first
        asked for and cached per sample: the same source is scored against many editors."""
        key = (sample.sample_id, sample.target_id)
        cached = self._source_cache.get(key)
        if cached is None:
            cached = self._source_cache[key] = {}
        if zoomed not in cached:
            if not zoomed:
                cached[zoomed] = self._features(sample.image)
            elif sample.object_target:
                cached[zoomed] = self._features(sample.image, *self._target_zoom(sample))
            else:
                cached[zoomed] = _Features(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32))
        return cached[zoomed]

    def _edited_search_box(self, sample: SourceView, edited: np.ndarray) -> tuple[int, int, int, int]:
        """Where to look for the target in the edited image: its source crop plus every changed pixel nearby."""
        box, _ = self._target_zoom(sample)
        difference = cv2.GaussianBlur(
            np.abs(edited.astype(np.int16) - sample.image.astype(np.int16)).max(axis=2).astype(np.uint8), (5, 5), 0
        )
        rows, cols = np.nonzero(difference > self._config["change_threshold"])
        if len(rows) == 0:
            return box
        return (
            min(box[0], int(cols.min())),
            min(box[1], int(rows.min())),
            max(box[2], int(cols.max()) + 1),
            max(box[3], int(rows.max()) + 1),
        )

    def _match(self, source: _Features, edited: _Features, subset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ratio-test matches of the source features selected by ``subset``: ``(source_index, edited_index)``, one to
        one (an edited feature claimed by several source features keeps the closest: in a blurred image many source
        features can fall on one edited feature, and PnP then finds a consensus of identical pixels)."""
        indices = np.flatnonzero(subset)
        if len(indices) < 2 or len(edited.points) < 2:
            return np.zeros(0, int), np.zeros(0, int)
        pairs = self._matcher.knnMatch(source.descriptors[indices], edited.descriptors, k=2)
        closest: dict[int, tuple[float, int]] = {}  # edited index -> (distance, source index)
        for m, n in (p for p in pairs if len(p) == 2):
            if m.distance < self._config["ratio"] * n.distance and m.distance < closest.get(m.trainIdx, (np.inf,))[0]:
                closest[m.trainIdx] = (m.distance, indices[m.queryIdx])
        if not closest:
            return np.zeros(0, int), np.zeros(0, int)
        edited_index = np.array(sorted(closest))
        source_index = np.array([closest[i][1] for i in edited_index])
        return source_index, edited_index

    def _pnp(
        self, object_points: np.ndarray, image_points: np.ndarray, intrinsics: np.ndarray, min_inliers: int
    ) -> tuple[np.ndarray | None, int]:
        """RANSAC PnP then least-squares refinement on the inliers. Returns ``(4x4 or None, inliers)``."""
        if len(object_points) < max(min_inliers, 4):
            return None, 0
        ok, rotation_vector, translation, inliers = cv2.solvePnPRansac(
            object_points.astype(np.float64),
            image_points.astype(np.float64),
            intrinsics,
            None,
            iterationsCount=self._config["ransac_iterations"],
            reprojectionError=self._config["reprojection_px"],
            confidence=0.999,
            flags=cv2.SOLVEPNP_EPNP,
        )
        if not ok or inliers is None or len(inliers) < min_inliers:
            return None, 0 if inliers is None else len(inliers)
        inliers = inliers.ravel()
        points, pixels = object_points[inliers].astype(np.float64), image_points[inliers].astype(np.float64)

        def reprojection_px(pose: tuple[np.ndarray, np.ndarray]) -> float:
            projected, _ = cv2.projectPoints(points, *pose, intrinsics, None)
            return float(np.median(np.linalg.norm(projected.reshape(-1, 2) - pixels, axis=1)))

        ransac = (rotation_vector, translation)
        refined = cv2.solvePnPRefineLM(points, pixels, intrinsics, None, rotation_vector.copy(), translation.copy())
        # Levenberg-Marquardt can run off on nearly degenerate inliers (few points, nearly collinear): keep the
        # RANSAC pose unless the refinement fits the inliers better.
        best = refined if reprojection_px(refined) <= reprojection_px(ransac) else ransac
        return _rigid(*best), len(inliers)

    # -- recovery ------------------------------------------------------------------------------------------

    def _batching_experts(self) -> Any:
        """The experts, when they batch (have ``prefetch``) and perception will ask them; else None."""
        if not self._config["experts"] or self._config["perception"] == "features":
            return None
        experts = load_experts(self._config["experts"])
        return experts if callable(getattr(experts, "prefetch", None)) else None

    def prefetch_rows(self) -> int:
        """How many rows :meth:`prefetch` should be given at once: the experts' batch size, 1 without batching."""
        experts = self._batching_experts()
        return max(1, int(getattr(experts, "batch_size", 1))) if experts is not None else 1

    def prefetch(self, pairs: Sequence[tuple[SourceView, np.ndarray]]) -> None:
        """Lets batching experts answer for the coming rows ``(view, edited image)`` at once; perceiving those rows
        then reads the answers (same results, fewer forward passes). Does nothing without batching experts."""
        experts = self._batching_experts()
        if experts is not None:
            experts.prefetch([expert_request(view, edited) for view, edited in pairs if view.object_target])

    def perceive(self, sample: SourceView, edited: np.ndarray) -> Perception:
        if self._config["perception"] == "scene-free" and sample.target_mesh is not None:
            sample = dataclasses.replace(sample, target_mesh=None, neighbour_meshes=())  # a photograph alone
        if not sample.object_target:  # a camera operation: only the camera motion is asked for
            everywhere = np.ones(sample.image.shape[:2], bool)
            return Perception(target=TargetRecovery(found=False), camera=self._camera(sample, edited, everywhere))
        near_target = cv2.dilate(sample.target_mask.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
        camera = self._camera(sample, edited, ~near_target)
        return Perception(target=self._perceive_target(sample, edited, camera), camera=camera)

    def _perceive_target(self, sample: SourceView, edited: np.ndarray, camera: CameraRecovery) -> TargetRecovery:
        """The target's change (steps 3-7), seen from ``camera``. A reframed image (``camera.image_warp``) is searched
        brought back to the source frame, its features are taken as given (a second resampling would blur them) and
        mapped back, and the target's mask is mapped to the edited frame."""
        warp = camera.image_warp
        aligned = edited if warp is None else aligned_to_source(edited, warp, sample.image)
        path = self._config["perception"]
        if path == "auto":
            path = "render-compare" if sample.scene is not None else "scene-free"
        searched = path != "features" and camera.found
        # The target's feature match: the estimate of the features path, and one more start of render-and-compare's
        # search, for a target that may stand elsewhere now (a move, a placement). The search always starts at the
        # target's own place too, which is where an in-place change (a turn, a scaling) leaves it, and from the regions
        # of change, where a removal's wrong edit (the target moved instead) puts it; a removed target has nothing to
        # match. On the 100-scene tabletop fidelity suite, render-and-compare, the start changed 15 of the 2,374 cases
        # without it on turns and scalings (none's IC; errors by over 1 cm, 5 degrees or 5% better in 3, worse in 1)
        # for 15% of the suite's time (30 room scenes of removals: 9 of 563 cases, EL by under 1e-4, -17%), and 26
        # recoveries got worse (8 better) without it on moves. The scene-free search does without it altogether: on
        # the 300-row tabletop split (oracle and geometric edits) no IC changed and every mean moved by 0.05 points at
        # most, for a fifth of a scene-free row's time.
        target = (
            TargetRecovery(found=False)
            if searched and (path == "scene-free" or sample.in_place_asked or sample.removal_asked)
            else self._feature_target(sample, edited, aligned, camera)
        )
        if searched:
            comparer_type = RenderComparer if path == "render-compare" else SceneFreeComparer
            proposals = (
                target_proposals(load_experts(self._config["experts"]), sample, aligned)
                if self._config["experts"]
                else []
            )
            target = self._render_compare(comparer_type, sample, aligned, target, camera, proposals)
        elif not target.found and sample.removal_asked:
            target = dataclasses.replace(target, removed=self._vacated(sample, aligned, camera))
        if warp is not None and target.mask is not None:
            height, width = edited.shape[:2]
            mask = cv2.warpAffine(target.mask.astype(np.uint8), warp, (width, height), flags=cv2.INTER_NEAREST)
            target = dataclasses.replace(target, mask=mask > 0)
        return target

    def _feature_target(
        self, sample: SourceView, edited: np.ndarray, aligned: np.ndarray, camera: CameraRecovery
    ) -> TargetRecovery:
        """The target's change from SIFT matches on it (zoomed in) and PnP with the source depth (steps 3 and 4):
        looked for where ``aligned`` (``edited`` in the source frame) changed, in ``edited`` itself."""
        source_zoomed = self._source_features(sample, zoomed=True)
        on_target = cv2.erode(sample.target_mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        _, factor = self._target_zoom(sample)
        box = self._edited_search_box(sample, aligned)
        # Keep the zoomed search affordable when a global change (a shift, a colour cast) flags everything.
        area = (box[2] - box[0]) * (box[3] - box[1]) * factor**2
        factor = max(1.0, min(factor, float(np.sqrt(self._config["max_search_pixels"] / max(area / factor**2, 1)))))
        warp = camera.image_warp
        if warp is None:
            edited_features = self._features(edited, box, factor)
        else:  # the box's corners through the warp; the features found there back through its inverse
            corners = _warped(warp, np.array(box, float).reshape(2, 2))
            height, width = edited.shape[:2]
            left, top = np.clip(np.floor(corners[0]).astype(int), 0, None)
            right, bottom = np.minimum(np.ceil(corners[1]).astype(int), (width, height))
            if right <= left or bottom <= top:  # the place to look for it is out of the reframed image
                return TargetRecovery(found=False)
            found = self._features(edited, (int(left), int(top), int(right), int(bottom)), factor)
            points = (found.points - warp[:, 2]) / warp[0, 0]
            edited_features = _Features(points.astype(np.float32), found.descriptors)
        return self._target(
            sample, source_zoomed, edited_features, self._selectable(sample, source_zoomed, on_target), camera
        )

    def _vacated(self, sample: SourceView, edited: np.ndarray, camera: CameraRecovery) -> bool:
        """Without a scene to render: whether most of the target's source pixels changed (the target, not located,
        is gone rather than hidden by a failed match). Only for a still camera."""
        if not np.array_equal(camera.delta, np.eye(4)):
            return False
        inside = cv2.erode(sample.target_mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        if not inside.any():
            return False
        difference = np.abs(edited.astype(np.int16) - sample.image.astype(np.int16)).max(axis=2)
        return bool(np.mean(difference[inside] > self._config["change_threshold"]) >= 0.5)

    @staticmethod
    def _render_compare(
        comparer_type: type[PoseSearch],
        sample: SourceView,
        edited: np.ndarray,
        features: TargetRecovery,
        camera: CameraRecovery,
        proposals: list[TargetProposal],
    ) -> TargetRecovery:
        """Refines (or finds) the target change by drawing hypotheses (a re-render of the stored scene, or 2.5D
        drawings of the source view), seen from the recovered camera."""
        static = np.array_equal(camera.delta, np.eye(4))
        comparer = comparer_type(sample, edited, camera_delta=None if static else camera.delta, proposals=proposals)
        method = comparer.method
        try:
            # Starts: the feature estimate; the search adds "no change" and the changed regions, and the image
            # decides between them.
            starts = []
            if features.found:
                starts.append(
                    comparer.hypothesis_from_camera_frame(
                        features.translation_m, features.rotation, features.scale_factor
                    )
                )
            best, cost = comparer.search(starts)
            removed = sample.removal_asked and comparer.removed(best, cost)
            # What the view can tell of a turn (the operation is no secret; the asked turn is, and is not used).
            distinctness = (
                comparer.turn_distinctness()
                if isinstance(comparer, SceneFreeComparer) and sample.operation == "object_rotate"
                else None
            )
            translation, rotation, scale = comparer.to_camera_frame(best)
            mask = comparer.mask(best, sample.image.shape[:2])
            evidence = comparer.evidence(best) if not removed else {}
        finally:
            comparer.close()
        if removed:
            return TargetRecovery(found=False, inliers=features.inliers, removed=True, method=method)
        # A target that the best pose hides (out of frame, behind another object) is not found (gone, when a removal
        # was asked).
        found = bool(mask.any())
        return TargetRecovery(
            found=found,
            translation_m=translation,
            rotation=rotation,
            scale_factor=scale,
            confidence=float(found),
            inliers=features.inliers,
            mask=mask,
            removed=sample.removal_asked and not found,
            method=method,
            turn_distinctness=distinctness,
            evidence=evidence,
        )

    @staticmethod
    def _selectable(sample: SourceView, features: _Features, region: np.ndarray) -> np.ndarray:
        """Features inside ``region`` that have a source depth (so they can be lifted to 3D)."""
        rows = np.clip(np.round(features.points[:, 1]).astype(int), 0, sample.image.shape[0] - 1)
        cols = np.clip(np.round(features.points[:, 0]).astype(int), 0, sample.image.shape[1] - 1)
        return region[rows, cols] & (sample.depth_m[rows, cols] > 0)

    def _matched_pose(
        self, sample: SourceView, source: _Features, edited: _Features, subset: np.ndarray, min_inliers: int
    ) -> tuple[np.ndarray | None, int]:
        """PnP of the source features in ``subset``, lifted with the source depth, against their matches."""
        source_index, edited_index = self._match(source, edited, subset)
        points = _lift(source.points[source_index], sample.depth_m, sample.intrinsics)
        return self._pnp(points, edited.points[edited_index], sample.intrinsics, min_inliers)

    def _camera(self, sample: SourceView, edited: np.ndarray, background: np.ndarray) -> CameraRecovery:
        """The camera motion, from the ``background`` pixels (those the edit should leave alone): none when they did
        not change (:func:`unchanged_background`), else PnP of their features, lifted with the source depth."""
        object_size = None
        if sample.object_target:
            left, top, right, bottom = mask_box(sample.target_mask)
            object_size = (right - left, bottom - top)
        if unchanged_background(sample.image, edited, background, self._config["change_threshold"], object_size):
            return CameraRecovery(found=True, delta=np.eye(4), confidence=1.0)
        source, edited_features = self._source_features(sample, zoomed=False), self._features(edited)
        source_index, edited_index = self._match(source, edited_features, self._selectable(sample, source, background))
        points = _lift(source.points[source_index], sample.depth_m, sample.intrinsics)
        pixels = edited_features.points[edited_index]
        delta, inliers = self._pnp(points, pixels, sample.intrinsics, self._config["min_camera_inliers"])
        if delta is None:
            return CameraRecovery(found=False, inliers=inliers)
        confidence = float(min(1.0, inliers / (4 * self._config["min_camera_inliers"])))
        height, width = sample.image.shape[:2]
        warp = self._image_warp(source.points[source_index], pixels, points, delta, sample.intrinsics, (width, height))
        if warp is not None:
            return CameraRecovery(found=True, confidence=confidence, inliers=inliers, image_warp=warp)
        recovered = CameraRecovery(found=True, delta=delta, confidence=confidence, inliers=inliers)
        if (
            recovered.rotation_deg < self._config["static_rotation_deg"]
            and recovered.translation_m < self._config["static_translation_m"]
        ):
            return CameraRecovery(found=True, delta=np.eye(4), confidence=confidence, inliers=inliers)
        return recovered

    def _image_warp(
        self,
        source_pixels: np.ndarray,
        edited_pixels: np.ndarray,
        points: np.ndarray,
        delta: np.ndarray,
        intrinsics: np.ndarray,
        image_size: tuple[int, int],
    ) -> np.ndarray | None:
        """The shift and zoom of the image plane (2x3, source -> edited pixels) that maps the background matches
        closer than the camera motion ``delta`` does (median distance over the matches ``delta`` explains, within
        ``reprojection_px``), or None: a generator that reframes its output (a crop, a shift, a resize) moves every
        pixel by the same shift and zoom, which no rigid camera motion does exactly (it moves near and far points by
        different amounts), while a moved camera's parallax is what no shift and zoom explains. A warp that moves no
        corner of the image (``image_size``: width, height) by half a pixel is none.

        On the room fidelity suite's background matches, the shifted and zoomed images' warp leaves 0.11-0.16 px (the
        camera motion 0.27-0.76), a camera moved 1.5-3 cm and turned 0.5-1.5 degrees 0.39-1.09 px (the camera
        motion 0.15-0.35)."""
        motion_residual = np.linalg.norm(
            project_points(intrinsics, transform_points(delta, points)) - edited_pixels, axis=1
        )
        explained = motion_residual < self._config["reprojection_px"]
        source, edited = source_pixels[explained].astype(np.float64), edited_pixels[explained].astype(np.float64)
        for _ in range(2):  # least squares, then again without the matches it leaves beyond reprojection_px
            if len(source) < self._config["min_camera_inliers"]:
                return None
            warp = _shift_and_zoom(source, edited)
            kept = np.linalg.norm(_warped(warp, source) - edited, axis=1) < self._config["reprojection_px"]
            source, edited = source[kept], edited[kept]
        warp_residual = np.linalg.norm(_warped(warp, source_pixels[explained]) - edited_pixels[explained], axis=1)
        if np.median(warp_residual) >= np.median(motion_residual[explained]):
            return None
        corners = np.array([[0.0, 0.0], image_size], float)
        if np.abs(_warped(warp, corners) - corners).max() < 0.5:
            return None
        return warp

    def _target(
        self, sample: SourceView, source: _Features, edited: _Features, on_target: np.ndarray, camera: CameraRecovery
    ) -> TargetRecovery:
        motion, inliers = self._matched_pose(sample, source, edited, on_target, self._config["min_target_inliers"])
        if motion is None:
            return TargetRecovery(found=False, inliers=inliers)
        change = resolve_scale_on_support(
            motion, camera.delta, sample.target_box, sample.support_normal, sample.support_offset_m
        )
        if change is None:
            return TargetRecovery(found=False, inliers=inliers)
        object_motion, scale, translation = change
        confidence = float(min(1.0, inliers / (4 * self._config["min_target_inliers"])))
        camera_centre = np.linalg.inv(camera.delta)[:3, 3]
        return TargetRecovery(
            found=True,
            translation_m=translation,
            rotation=object_motion[:3, :3],
            scale_factor=scale,
            confidence=confidence,
            inliers=inliers,
            mask=self._predicted_mask(sample, object_motion, camera_centre, scale, camera.delta),
        )

    @staticmethod
    def _predicted_mask(
        sample: SourceView, motion: np.ndarray, camera_centre: np.ndarray, scale: float, camera_delta: np.ndarray
    ) -> np.ndarray:
        """Target pixels in the edited image: the lifted source mask moved, scaled, re-projected, closed."""
        rows, cols = np.nonzero(sample.target_mask & (sample.depth_m > 0))
        points = _lift(np.column_stack([cols, rows]).astype(np.float64), sample.depth_m, sample.intrinsics)
        moved = points @ motion[:3, :3].T + motion[:3, 3]
        moved = camera_centre + scale * (moved - camera_centre)
        in_edited = moved @ camera_delta[:3, :3].T + camera_delta[:3, 3]
        mask = np.zeros(sample.target_mask.shape, np.uint8)
        valid = in_edited[:, 2] > 1e-6
        pixels = in_edited[valid] @ sample.intrinsics.T
        u = np.round(pixels[:, 0] / pixels[:, 2]).astype(int)
        v = np.round(pixels[:, 1] / pixels[:, 2]).astype(int)
        inside = (u >= 0) & (u < mask.shape[1]) & (v >= 0) & (v < mask.shape[0])
        mask[v[inside], u[inside]] = 1
        radius = max(1, int(np.ceil(scale)))  # an enlarged object leaves gaps between splatted pixels
        return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)) > 0
