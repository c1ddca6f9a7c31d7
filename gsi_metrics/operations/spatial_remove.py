"""SR scoring: whether the asked instance disappeared while the other instances of its category stayed.

The target's recovery says whether it was removed (:attr:`~gsi_metrics.perception.TargetRecovery.removed`: the edited
image is best explained without it); each distractor's, whether it is still there and unchanged. Removing the wrong
instance, removing two, removing none and moving the target instead all break compliance. How plausibly the vacated
region is filled is the job of AC (against the true background for synthetic rows; :mod:`gsi_metrics.scoring`).
"""

from __future__ import annotations

import numpy as np

from gsi_metrics import reference_protocol
from gsi_metrics.operations import (
    Compliance,
    OperationScoring,
    denoised,
    other_change_small,
    reference_detections,
    reference_edit,
    register_scoring,
    relative_quadratic,
)
from gsi_metrics.perception import CameraRecovery, Perception, TargetRecovery
from gsi_metrics.sample import EditTruth, SourceView

#: Weight of each other instance removed or changed in SR's error (the asked instance's removal weighs 1).
DISTURBED_WEIGHT = 0.5
#: The camera of a single object's recovery (the distractors are judged on their own change).
_STILL = CameraRecovery(found=True)


def _disturbed(view: SourceView, recovery: TargetRecovery) -> bool:
    """Whether a distractor was removed, not found or changed (moved over 5 cm, turned over 30 degrees modulo its
    symmetry, scaled beyond x1.25)."""
    if not recovery.found:
        return True
    alone = denoised(Perception(recovery, _STILL))
    return not other_change_small(alone, view, translation=True, rotation=True, scale=True)


def _disturbed_count(view: SourceView, perception: Perception) -> int:
    """How many other instances of the target's category were removed or changed."""
    return sum(
        _disturbed(view.of_distractor(index), perception.distractors.get(instance_id, TargetRecovery(False)))
        for index, instance_id in enumerate(view.distractor_ids)
    )


def _error(removed: bool, disturbed: int) -> float:
    """SR's spatial error: 1 for a target not removed, ``DISTURBED_WEIGHT`` per other instance disturbed."""
    return (0.0 if removed else 1.0) + DISTURBED_WEIGHT * disturbed


@register_scoring
class SpatialRemoveScoring(OperationScoring):
    name = "spatial_remove"

    def spatial_error(self, view: SourceView, truth: EditTruth, perception: Perception) -> tuple[float, float]:
        """``e = [target not removed] + 0.5 (number of other instances removed or changed)`` and ``m = 1``: a clean
        removal of the asked instance scores 1, the asked one and another removed 0.75, anything else 0."""
        return _error(perception.target.removed, _disturbed_count(view, perception)), 1.0

    def gsi(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """``e = [target not removed] + 0.5 (other instances of its category removed or changed)``, ``m = 1`` (the
        asked instance removed with another one: SA 0.75). IC: the target removed (the edited image is best explained
        without it) and every other instance found where it was (no shift over 5 cm, turn over 30 degrees or scaling
        beyond x1.25). Removing the wrong instance, two of them, none, or moving the target instead all get IC 0."""
        removed, disturbed = bool(perception.target.removed), _disturbed_count(view, perception)
        error = _error(removed, disturbed)
        details = {"removed": removed, "distractors_disturbed": disturbed}
        return Compliance(float(error == 0.0), relative_quadratic(error, 1.0), details)

    def paper(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """The reference's remove rule on exact detections: removed iff no edited detection of the category overlaps
        ``B0`` by IoU3D > 0.1 or has a 2D box "the same" as the original's (squared differences < 100); ``score =
        clip(1 - 0.3 (N_src - N_edit - 1), 0, 1)`` if removed, else 0 (extra detections are not penalised: defect 12);
        IC = score >= 0.5; SA = score."""
        source, edited_detections = reference_detections(view, perception)
        score = reference_protocol.remove(reference_edit(view, truth), source, edited_detections, True)
        details = {
            "removed": score.removed,
            "instances_source": len(source),
            "instances_edited": len(edited_detections),
        }
        return Compliance(score.ic, score.sa, details)
