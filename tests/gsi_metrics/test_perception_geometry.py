"""The plane-constrained similarity recovery, on exact synthetic correspondences (no feature matching)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gsi_datasets.geometry import box_corners, geodesic_angle_deg, rotation_about_axis
from gsi_metrics.perception import config_hash, create_backend
from gsi_metrics.perception.classical import resolve_scale_on_support
from gsi_metrics.sample import Box3D

# A camera 1 m above a table, looking down at 40 degrees; the table plane in the camera frame.
_TILT = rotation_about_axis([1.0, 0.0, 0.0], -50.0)
UP = _TILT @ np.array([0.0, -1.0, 0.0])
TABLE_POINT = np.array([0.0, 0.0, 1.3])
OFFSET = float(-UP @ TABLE_POINT)
K = np.array([[500.0, 0.0, 255.5], [0.0, 500.0, 255.5], [0.0, 0.0, 1.0]])


def _standing_box(size: np.ndarray, xy: tuple[float, float], yaw_deg: float) -> Box3D:
    right = np.array([1.0, 0.0, 0.0])
    forward = np.cross(UP, right)
    rotation = rotation_about_axis(UP, yaw_deg) @ np.column_stack([right, forward, UP])
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    # Box axes (x, y, z=up) with z along the support normal; its bottom face lies on the table.
    bottom_centre = TABLE_POINT + xy[0] * right + xy[1] * forward
    return Box3D(bottom_centre + UP * size[2] / 2, size, rotation)


def _pnp_like_motion(box: Box3D, translation: np.ndarray, rotation: np.ndarray, scale: float) -> np.ndarray:
    """The rigid motion PnP would return for the true similarity: fit on exact projections of the moved points."""
    rng = np.random.default_rng(0)
    points = box_corners(box.centre, box.size * rng.uniform(0.2, 1.0, 3), box.rotation)
    points = np.concatenate([points, box.centre + (rng.uniform(-0.5, 0.5, (30, 3)) * box.size) @ box.rotation.T])
    contact = box.centre - UP * box.size[2] / 2
    moved = contact + translation + scale * (points - contact) @ rotation.T
    pixels = moved @ K.T
    pixels = pixels[:, :2] / pixels[:, 2:]
    ok, rvec, tvec = cv2.solvePnP(points, pixels, K, None, flags=cv2.SOLVEPNP_ITERATIVE)
    assert ok
    motion = np.eye(4)
    motion[:3, :3], motion[:3, 3] = cv2.Rodrigues(rvec)[0], tvec.ravel()
    return motion


@pytest.mark.parametrize("scale", [0.5, 0.75, 1.0, 1.5, 2.0])
@pytest.mark.parametrize("yaw", [0.0, 45.0, -90.0])
def test_similarity_on_the_support_plane_is_recovered(scale: float, yaw: float) -> None:
    box = _standing_box(np.array([0.08, 0.05, 0.12]), (0.05, 0.1), 20.0)
    right = np.array([1.0, 0.0, 0.0])
    translation = 0.07 * right - 0.04 * np.cross(UP, right)
    rotation = rotation_about_axis(UP, yaw)
    motion = _pnp_like_motion(box, translation, rotation, scale)
    result = resolve_scale_on_support(motion, np.eye(4), box, UP, OFFSET)
    assert result is not None
    rigid, recovered_scale, recovered_translation = result
    assert recovered_scale == pytest.approx(scale, rel=1e-4)
    # The box centre rises with the scale: it is scaled about the contact point.
    expected = translation + (scale - 1.0) * UP * box.size[2] / 2
    assert np.allclose(recovered_translation, expected, atol=1e-4)
    assert geodesic_angle_deg(rigid[:3, :3], rotation) < 0.01


def test_implausible_scales_are_refused() -> None:
    box = _standing_box(np.array([0.08, 0.05, 0.12]), (0.0, 0.0), 0.0)
    motion = _pnp_like_motion(box, np.zeros(3), np.eye(3), 1.0)
    assert resolve_scale_on_support(motion, np.eye(4), box, UP, OFFSET, scale_range=(1.5, 3.0)) is None


def test_backends_are_created_by_name_with_a_stable_configuration_hash() -> None:
    backend = create_backend("classical")
    assert config_hash(backend) == config_hash(create_backend("classical"))
    assert config_hash(backend) != config_hash(create_backend("classical", ratio=0.7))
    with pytest.raises(KeyError, match="Did you mean classical"):
        create_backend("clasical")
