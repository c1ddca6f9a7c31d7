"""OS scoring: the target's uniform scale factor about its contact with the support."""

from __future__ import annotations

import numpy as np

from gsi_metrics import reference_protocol
from gsi_metrics.operations import (
    OTHER_CHANGE_MAX_TRANSLATION_M,
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
        """The reference's scale rule on exact detections: the candidate nearest ``B1`` (not "the same" as a source
        detection: squared 7-vector difference >= 1e-3); ``k = size / (size_B0 + 1e-5)`` per axis, ``k_pred = 1``
        without a candidate; ``SA = exp(-mean(ln(k_pred / (k_gt + 1e-5) + 1e-5)^2))``; IC = ``||k_pred - 1|| > 0.2``
        (the vector norm); 0 without any detection. An unchanged output earns ``exp(-(ln k_gt)^2)`` (defect 2)."""
        score = reference_protocol.scale(reference_edit(view, truth), *reference_detections(view, perception), True)
        return Compliance(score.ic, score.sa, reference_details(score, perception))
