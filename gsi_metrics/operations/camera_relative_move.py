"""CM scoring: the target's full 3D displacement against the asked one."""

from __future__ import annotations

import numpy as np

from gsi_metrics import reference_protocol
from gsi_metrics.operations import (
    DIRECTION_TOLERANCE_DEG,
    Compliance,
    OperationScoring,
    denoised,
    magnitude_in_range,
    other_change_small,
    recovered_details,
    reference_details,
    reference_detections,
    reference_edit,
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
        scaling beyond x1.25 either way of both its source size and the size that shows it as large as before (a move
        pasted without perspective: the right kind of change).

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
        """The reference's move rule on exact detections: ``score = 0.3 IoU3D(B1, cand) + 0.7 exp(-(ln(sqrt(r) +
        1e-5))^2)``, ``r = |c_cand - c_B0| / (|c_B1 - c_B0| + 1e-5)``, halved if the number of detections changed; the
        candidate is an edited detection not "the same" as a source one (squared 7-vector difference >= 0.1), so a
        correct move shorter than ~32 cm has none and scores ~0 (defect 10); IC = score > 0.05; SA = score."""
        score = reference_protocol.move(reference_edit(view, truth), *reference_detections(view, perception), True)
        return Compliance(score.ic, score.sa, reference_details(score, perception))
