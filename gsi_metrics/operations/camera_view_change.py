"""PC scoring: the camera motion recovered from the edited image against the commanded one.

A camera motion is compared as the image displacement it causes at the scene: a rotation by ``theta`` (radians)
moves what the camera sees at the source's median depth ``D`` by about ``D * theta`` metres, so a move, a turn and
a tilt share one unit (apparent metres) and a move carried out as a turn is an error of its full size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gsi_datasets.geometry import geodesic_angle_deg, twist_angle_deg
from gsi_metrics.functional import masked_ssim
from gsi_metrics.operations import (
    DIRECTION_TOLERANCE_DEG,
    Compliance,
    OperationScoring,
    magnitude_in_range,
    register_scoring,
    relative_quadratic,
)
from gsi_metrics.perception import Perception
from gsi_metrics.sample import EditTruth, SourceView

#: The camera's horizontal axis (OpenCV camera frame): tilts turn about it.
_CAMERA_X = np.array([1.0, 0.0, 0.0])


def scene_depth_m(view: SourceView) -> float:
    """Median depth (m) of the source pixels: the lever arm that turns camera rotations into apparent metres."""
    depth = view.depth_m[view.depth_m > 0]
    return float(np.median(depth)) if depth.size else 1.0


def camera_centre_shift(delta: np.ndarray) -> np.ndarray:
    """Where the moved camera's centre is, in the source camera frame (m)."""
    return -delta[:3, :3].T @ delta[:3, 3]


def motion_components(view: SourceView, delta: np.ndarray) -> dict[str, float]:
    """Apparent size (m at the scene depth) of a motion's three kinds: ``move`` (centre shift), ``turn`` (about
    the up axis, the support normal) and ``pitch`` (about the camera's horizontal axis)."""
    depth = scene_depth_m(view)
    return {
        "move": float(np.linalg.norm(camera_centre_shift(delta))),
        "turn": depth * np.deg2rad(abs(twist_angle_deg(delta[:3, :3], view.support_normal))),
        "pitch": depth * np.deg2rad(abs(twist_angle_deg(delta[:3, :3], _CAMERA_X))),
    }


def motion_error(view: SourceView, asked: np.ndarray, got: np.ndarray) -> tuple[float, float]:
    """``(error, magnitude)`` in apparent metres: ``|c_got - c_asked| + D * angle(R_got, R_asked)`` and
    ``|c_asked| + D * angle(R_asked)``."""
    depth = scene_depth_m(view)
    error = float(np.linalg.norm(camera_centre_shift(got) - camera_centre_shift(asked))) + depth * np.deg2rad(
        geodesic_angle_deg(got[:3, :3], asked[:3, :3])
    )
    magnitude = float(np.linalg.norm(camera_centre_shift(asked))) + depth * np.deg2rad(
        geodesic_angle_deg(np.eye(3), asked[:3, :3])
    )
    return error, magnitude


@register_scoring
class CameraViewChangeScoring(OperationScoring):
    name = "camera_view_change"

    def spatial_error(self, view: SourceView, truth: EditTruth, perception: Perception) -> tuple[float, float]:
        """Camera motion error and asked magnitude in apparent metres (module docstring)."""
        return motion_error(view, truth.camera_delta, perception.camera.delta)

    def gsi(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """The camera motion recovered metrically from the edited image (PnP against the source depth):
        ``e = |c_pred - c_gt| + D angle(R_pred, R_gt)``, ``m = |c_gt| + D angle(R_gt)`` in apparent metres (D the
        source's median depth). IC: the recovered motion's dominant kind (move, turn, tilt) is the asked one, in the
        asked direction (within 30 degrees for moves; the same sense for turns and tilts) and of the asked order
        (ratio in [1/3, 3]). An unchanged output scores 0 (the reference's view loophole, defect 3, is closed)."""
        del edited  # the recovered camera motion is all this profile needs
        camera = perception.camera
        if not camera.found:
            return Compliance(0.0, 0.0, {"camera_found": False})
        error, magnitude = self.spatial_error(view, truth, perception)
        asked, got = truth.camera_delta, camera.delta
        parts = motion_components(view, got)
        kind = max(parts, key=parts.get) if max(parts.values()) > 0 else "none"
        motion = truth.command.motion
        asked_size = motion_components(view, asked)[motion]
        if kind != motion:
            right_direction = False
        elif motion == "move":
            asked_shift, got_shift = camera_centre_shift(asked), camera_centre_shift(got)
            cosine = got_shift @ asked_shift / (np.linalg.norm(got_shift) * np.linalg.norm(asked_shift))
            right_direction = bool(cosine >= np.cos(np.deg2rad(DIRECTION_TOLERANCE_DEG)))
        else:
            axis = view.support_normal if motion == "turn" else _CAMERA_X
            right_direction = bool(
                np.sign(twist_angle_deg(got[:3, :3], axis)) == np.sign(twist_angle_deg(asked[:3, :3], axis))
            )
        compliant = right_direction and magnitude_in_range(parts.get(motion, 0.0) / asked_size)
        details = {
            "camera_translation_m": [float(v) for v in camera_centre_shift(got)],
            "camera_rotation_deg": camera.rotation_deg,
            "recovered_kind": kind,
            "error_apparent_m": error,
        }
        return Compliance(float(compliant), relative_quadratic(error, magnitude), details)

    def paper(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """The reference's view score against the rendered target view, used as both IC and SA:
        ``0.5 SSIM + 0.5 (1 - LPIPS)``. LPIPS needs AlexNet weights that are not available offline: without a
        distance (``--lpips``) the score is SSIM alone (an unchanged output still earns its similarity to the target
        view: the reference's loophole, kept on purpose)."""
        if truth.expected_image is None:
            return Compliance(0.0, 0.0, {"view_score": None, "note": "no rendered target view (real data)"})
        ssim = float(np.clip(masked_ssim(truth.expected_image, edited, np.ones(edited.shape[:2], bool)), 0.0, 1.0))
        return Compliance(ssim, ssim, {"view_score": ssim, "view_ssim": ssim, "view_lpips": None})

    def with_learned(
        self, compliance: Compliance, truth: EditTruth, edited: np.ndarray, profile: str, measures: Any
    ) -> Compliance:
        """Profile ``paper`` with a masked LPIPS: the reference's whole view score (see :meth:`paper`)."""
        if profile != "paper" or measures.lpips is None or compliance.details.get("view_ssim") is None:
            return compliance
        distance = float(measures.lpips(truth.expected_image, edited, np.ones(edited.shape[:2], bool)))
        score = 0.5 * compliance.details["view_ssim"] + 0.5 * (1.0 - min(max(distance, 0.0), 1.0))
        return Compliance(score, score, {**compliance.details, "view_score": score, "view_lpips": distance})
