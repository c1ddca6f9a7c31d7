"""CM scoring: the target's full 3D displacement against the asked one."""

from __future__ import annotations

import numpy as np

from gsi_datasets.geometry import iou3d_upright
from gsi_metrics.operations import (
    DIRECTION_TOLERANCE_DEG,
    Compliance,
    OperationScoring,
    box_tuple,
    candidate_box,
    denoised,
    magnitude_in_range,
    other_change_small,
    recovered_details,
    register_scoring,
    relative_quadratic,
)
from gsi_metrics.perception import Perception
from gsi_metrics.sample import EditTruth, SourceView


@register_scoring
class CameraRelativeMoveScoring(OperationScoring):
    name = "camera_relative_move"

    def spatial_error(self, view: SourceView, truth: EditTruth, perception: Perception) -> tuple[float, float]:
        """``|t_pred - t_gt|`` and ``|t_gt|`` (metres)."""
        error = float(np.linalg.norm(perception.target.translation_m - truth.translation_m))
        return error, float(np.linalg.norm(truth.translation_m))

    def gsi(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """``e = |t_pred - t_gt|`` (full 3D displacement vector, metres), ``m = |t_gt|``. IC: found; ``cos(t_pred, t_gt)
        >= cos 30deg``; ``|t_pred| / m`` in [1/3, 3]; no rotation over 30 degrees (modulo the target's symmetry) and no
        scaling beyond x1.25 either way (the right kind of change).

        Defect 1 of the reference (direction barely scored) is what this fixes."""
        perception = denoised(perception)
        target = perception.target
        if not target.found:
            return Compliance(0.0, 0.0, {"found": False})
        error, magnitude = self.spatial_error(view, truth, perception)
        asked, got = truth.translation_m, target.translation_m
        length = float(np.linalg.norm(got))
        cosine = float(got @ asked / (length * magnitude)) if length > 0 and magnitude > 0 else -1.0
        compliant = (
            cosine >= np.cos(np.deg2rad(DIRECTION_TOLERANCE_DEG))
            and magnitude_in_range(length / magnitude)
            and other_change_small(perception, view, translation=False, rotation=True, scale=True)
        )
        return Compliance(
            float(compliant),
            relative_quadratic(error, magnitude),
            {**recovered_details(perception), "error_m": error, "direction_cosine": cosine},
        )

    def paper(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """``score = 0.3 IoU3D(B1, cand) + 0.7 exp(-(ln sqrt r)^2)``, ``r = |c_cand - c_B0| / |c_B1 - c_B0|``;
        halved if the number of detections changed (no candidate: score 0); IC = score > 0.05; SA = score."""
        if not perception.target.found:
            return Compliance(0.0, 0.0, {"found": False})
        candidate = candidate_box(view, perception)
        ratio = float(
            np.linalg.norm(candidate[0] - view.target_box.centre)
            / np.linalg.norm(truth.expected_box.centre - view.target_box.centre)
        )
        iou = iou3d_upright(box_tuple(truth.expected_box), candidate, view.support_normal)
        distance_term = float(np.exp(-(np.log(np.sqrt(ratio)) ** 2))) if ratio > 0 else 0.0
        score = 0.3 * iou + 0.7 * distance_term
        details = {**recovered_details(perception), "iou3d": iou, "distance_ratio": ratio}
        return Compliance(float(score > 0.05), score, details)
