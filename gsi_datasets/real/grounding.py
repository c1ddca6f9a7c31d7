"""3D boxes of a real frame's objects from its depth: gravity-aligned boxes in the camera frame, as GSI-Syn labels them.

- **Up**: with a pose, the world's +z (ScanNet++ and other scans are z-up and gravity-aligned; so must be the poses of a
  generic folder); without one, the normal of the largest plane whose normal lies within
  :data:`MAX_PLANE_TILT_DEG` of the camera's up (-y in the OpenCV camera), fitted by RANSAC to the depth of the pixels
  outside every instance (the floor or a table top).
- **Box**: the instance's pixels, eroded by a pixel (mixed depth at its outline), back-projected with their depth;
  points farther than :data:`OUTLIER_MADS` median absolute deviations from the median depth are dropped. Height is
  the extent along up; the footprint is the smallest rectangle around the points on the plane (its yaw is the box's).

From one view only the visible surface is measured: a box seen from the front comes out shallow. Captures with an
annotated mesh (ScanNet++) give whole boxes from the mesh instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from gsi_datasets.geometry import plane_basis, unproject_pixels
from gsi_datasets.real.frames import RGBDFrame

#: The support plane's normal is at most this far from the camera's up when no pose gives gravity.
MAX_PLANE_TILT_DEG = 60.0
#: RANSAC inlier distance (m) and iterations of the plane fit.
PLANE_INLIER_M = 0.02
PLANE_ITERATIONS = 300
#: Depth outliers of an instance, in median absolute deviations from its median depth.
OUTLIER_MADS = 4.0
#: A footprint whose convex hull fills this share of its smallest rectangle is boxy (its sides give the yaw).
BOXY_FILL = 0.9
#: Below this elongation ((major - minor) / (major + minor) of the hull's second moments) a footprint has no axis.
MIN_ELONGATION = 0.1
#: An instance needs this many valid depth points for a box.
MIN_POINTS = 30


@dataclass(frozen=True)
class GroundedBox:
    """A gravity-aligned 3D box in the camera frame: ``centre`` (3,), ``size`` (3,) along its axes, ``rotation`` (3, 3)
    whose columns are its axes (the third is up), how many points it was fitted to, and whether the footprint showed
    its yaw (False for a round footprint, whose yaw is the smallest rectangle's, arbitrary: no turn of it can be
    measured from geometry)."""

    centre: np.ndarray
    size: np.ndarray
    rotation: np.ndarray
    points: int
    yaw_known: bool = True


def camera_up(frame: RGBDFrame, seed: int = 0) -> np.ndarray | None:
    """Gravity's up direction (unit, camera frame) of ``frame``: from its pose, else from its support plane; None when
    neither exists (no pose, and no plane of enough pixels near the camera's up)."""
    if frame.camera_to_world is not None:
        up = np.asarray(frame.camera_to_world, float)[:3, :3].T @ np.array([0.0, 0.0, 1.0])
        return up / np.linalg.norm(up)
    rng = np.random.default_rng(seed)
    background = frame.depth_m > 0
    if frame.instances is not None:
        background &= frame.instances == 0
    points = _depth_points(frame, background, rng)
    if len(points) < 3 * MIN_POINTS:
        return None
    plane = _support_plane(points, rng)
    if plane is None:
        return None
    normal, anchor = plane
    inliers = points[np.abs((points - anchor) @ normal) < PLANE_INLIER_M]
    refined = np.linalg.svd(inliers - inliers.mean(axis=0), full_matrices=False)[2][-1]  # least-squares normal
    return refined if refined @ normal > 0 else -refined


def _depth_points(frame: RGBDFrame, mask: np.ndarray, rng: np.random.Generator, most: int = 20_000) -> np.ndarray:
    """Camera-frame points of (at most ``most`` randomly chosen) pixels of ``mask`` with depth."""
    rows, columns = np.nonzero(mask & (frame.depth_m > 0))
    if len(rows) > most:
        keep = rng.choice(len(rows), size=most, replace=False)
        rows, columns = rows[keep], columns[keep]
    return unproject_pixels(frame.intrinsics, np.column_stack([columns, rows]), frame.depth_m[rows, columns])


def _support_plane(points: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """``(unit normal pointing up, a point)`` of the RANSAC plane with the most inliers among those that could be a
    floor or a table top: normal within ``MAX_PLANE_TILT_DEG`` of the camera's up (-y), camera at least 5 cm above it
    (a wall ahead of a camera that looks down also has a normal near its up, but the camera is behind it)."""
    towards_up = np.array([0.0, -1.0, 0.0])
    cos_limit = np.cos(np.radians(MAX_PLANE_TILT_DEG))
    best, best_count = None, 3 * MIN_POINTS - 1
    for _ in range(PLANE_ITERATIONS):
        a, b, c = points[rng.choice(len(points), 3, replace=False)]
        normal = np.cross(b - a, c - a)
        length = np.linalg.norm(normal)
        if length < 1e-9:
            continue
        normal = normal / length if normal @ towards_up >= 0 else -normal / length
        if normal @ towards_up < cos_limit or -(a @ normal) < 0.05:  # the camera (the origin) must be above it
            continue
        count = int(np.count_nonzero(np.abs((points - a) @ normal) < PLANE_INLIER_M))
        if count > best_count:
            best, best_count = (normal, a), count
    return best


def grounded_box(frame: RGBDFrame, instance_id: int, up: np.ndarray) -> GroundedBox | None:
    """The gravity-aligned box of instance ``instance_id`` (module docstring), or None with too few depth points."""
    if frame.instances is None:
        raise ValueError(f"frame {frame.frame_id} has no instance image")
    mask = cv2.erode((frame.instances == instance_id).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    mask &= frame.depth_m > 0
    rows, columns = np.nonzero(mask)
    depth = frame.depth_m[rows, columns].astype(np.float64)
    if len(depth) < MIN_POINTS:
        return None
    deviation = np.median(np.abs(depth - np.median(depth))) + 1e-6
    keep = np.abs(depth - np.median(depth)) <= OUTLIER_MADS * deviation
    if np.count_nonzero(keep) < MIN_POINTS:
        return None
    points = unproject_pixels(frame.intrinsics, np.column_stack([columns[keep], rows[keep]]), depth[keep])
    return gravity_box(points, up)


def gravity_box(points: np.ndarray, up: np.ndarray) -> GroundedBox:
    """The gravity-aligned box around ``points`` (N, 3) in the points' frame: height is their extent along ``up``; the
    footprint is a rectangle around them on the plane (:func:`footprint_axis` gives its yaw)."""
    points = np.asarray(points, float)
    up = np.asarray(up, float) / np.linalg.norm(up)
    first, second = plane_basis(up)
    flat = np.column_stack([points @ first, points @ second])
    angle, yaw_known = footprint_axis(flat)
    axis_2d = np.array([np.cos(angle), np.sin(angle)])
    along, across = flat @ axis_2d, flat @ np.array([-axis_2d[1], axis_2d[0]])
    middle = np.array([along.min() + along.max(), across.min() + across.max()]) / 2
    x_axis = axis_2d[0] * first + axis_2d[1] * second
    y_axis = np.cross(up, x_axis)
    heights = points @ up
    centre = middle[0] * x_axis + middle[1] * y_axis + 0.5 * (heights.min() + heights.max()) * up
    size = np.array([np.ptp(along), np.ptp(across), np.ptp(heights)])
    return GroundedBox(centre, size, np.column_stack([x_axis, y_axis, up]), int(len(points)), yaw_known)


def footprint_axis(flat: np.ndarray) -> tuple[float, bool]:
    """The direction (radians, in the plane's basis) of a footprint's first side, from its points ``(N, 2)``, and
    whether the footprint has one.

    A boxy footprint (its convex hull fills at least :data:`BOXY_FILL` of the smallest rectangle around it) takes
    that rectangle's side; any other (a kettle: a round body, a spout and a handle) takes the major axis of its
    hull's area, where the smallest rectangle turns with every bump of the outline; a footprint without a major
    axis (round: a basket, a lamp's base) keeps the smallest rectangle, and has none.
    """
    hull = cv2.convexHull(flat.astype(np.float32))
    (_, _), (width, length), angle = cv2.minAreaRect(hull)
    rectangle_angle = np.radians(angle)
    if width * length <= 0:
        return float(rectangle_angle), False
    if cv2.contourArea(hull) >= BOXY_FILL * width * length:
        return float(rectangle_angle), True
    moments = cv2.moments(hull)
    spread = np.array([[moments["mu20"], moments["mu11"]], [moments["mu11"], moments["mu02"]]])
    values, vectors = np.linalg.eigh(spread)
    if values[1] <= 0 or (values[1] - values[0]) / (values[1] + values[0]) < MIN_ELONGATION:
        return float(rectangle_angle), False
    return float(np.arctan2(vectors[1, 1], vectors[0, 1])), True
