"""OS scoring: the target's uniform scale factor about its contact with the support."""

from __future__ import annotations

import numpy as np

from gsi_metrics.operations import (
    OTHER_CHANGE_MAX_TRANSLATION_M,
    Compliance,
    OperationScoring,
    denoised,
    magnitude_in_range,
    other_change_small,
    recovered_details,
    register_scoring,
    relative_quadratic,
)
from gsi_metrics.perception import Perception
from gsi_metrics.sample import EditTruth, SourceView


def _centre_height(view: SourceView) -> float:
    """Height of the target's box centre above the support plane (m)."""
    return float(view.support_normal @ view.target_box.centre + view.support_offset_m)


@register_scoring
class ObjectScaleScoring(OperationScoring):
    name = "object_scale"

    def spatial_error(self, view: SourceView, truth: EditTruth, perception: Perception) -> tuple[float, float]:
        """``|ln s_pred - ln s_gt|`` and ``|ln s_gt|``."""
        asked = np.log(truth.scale_factor)
        return float(abs(np.log(perception.target.scale_factor) - asked)), float(abs(asked))

    def gsi(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """``e = |ln s_pred - ln s_gt|``, ``m = |ln s_gt|``. IC: found; ``ln s_pred / ln s_gt`` in [1/3, 3] (so the sign
        is right: the inverse factor fails); no rotation over 30 degrees (modulo its symmetry); the contact point moves
        less than 5 cm. An unchanged output scores 0 (the reference's scale loophole, defect 2, is closed)."""
        perception = denoised(perception)
        target = perception.target
        if not target.found:
            return Compliance(0.0, 0.0, {"found": False})
        error, magnitude = self.spatial_error(view, truth, perception)
        asked, got = np.log(truth.scale_factor), np.log(target.scale_factor)
        # The box centre rises with the scale about the contact point: compare contact points instead.
        contact_shift = target.translation_m - (target.scale_factor - 1.0) * _centre_height(view) * view.support_normal
        compliant = (
            magnitude_in_range(float(got / asked))
            and other_change_small(perception, view, translation=False, rotation=True, scale=False)
            and np.linalg.norm(contact_shift) <= OTHER_CHANGE_MAX_TRANSLATION_M
        )
        return Compliance(
            float(compliant),
            relative_quadratic(error, magnitude),
            {**recovered_details(perception), "error_log_scale": error},
        )

    def paper(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """Per-axis ratios ``k = size / size_B0``: ``SA = exp(-mean(ln(k_pred / k_gt)^2))`` with ``k_pred = 1``
        when there is no candidate; IC = ``|k_pred - 1| > 0.2``. (An unchanged output earns exp(-(ln k_gt)^2):
        the reference's scale loophole, kept here on purpose.)"""
        target = perception.target
        k_predicted = target.scale_factor if target.found else 1.0
        k_asked = truth.expected_box.size / view.target_box.size
        sa = float(np.exp(-np.mean(np.log(k_predicted / k_asked) ** 2)))
        details = {**recovered_details(perception), "k_predicted": float(k_predicted)}
        return Compliance(float(abs(k_predicted - 1.0) > 0.2), sa, details)
