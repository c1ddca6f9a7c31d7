"""SR scoring: whether the asked instance disappeared while the other instances of its category stayed.

The target's recovery says whether it was removed (:attr:`~gsi_metrics.perception.TargetRecovery.removed`: the edited
image is best explained without it); each distractor's, whether it is still there and unchanged. Removing the wrong
instance, removing two, removing none and moving the target instead all break compliance. How plausibly the vacated
region is filled is the job of AC (against the true background for synthetic rows; :mod:`gsi_metrics.scoring`).
"""

from __future__ import annotations

import numpy as np

from gsi_datasets.geometry import iou3d_upright, mask_box
from gsi_metrics.operations import (
    Compliance,
    OperationScoring,
    box_tuple,
    candidate_box,
    denoised,
    other_change_small,
    register_scoring,
    relative_quadratic,
)
from gsi_metrics.perception import CameraRecovery, Perception, TargetRecovery
from gsi_metrics.sample import EditTruth, SourceView

#: Profile ``paper``: a detection overlapping the original box by more than this IoU3D means "not removed".
PAPER_REMOVED_IOU = 0.1
#: Profile ``paper``: a detection whose 2D box is "same" as the original's (sum of squared differences below this).
PAPER_SAME_BOX2D = 100.0
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


def _mask_box(mask: np.ndarray | None) -> np.ndarray | None:
    return None if mask is None or not mask.any() else mask_box(mask)


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
        """Removed iff no detection of the category has IoU3D > 0.1 with the original box ``B0`` or a 2D box "same" as
        the original's (squared differences < 100); ``score = clip(1 - 0.3 (N_src - N_edit - 1), 0, 1)`` if removed,
        else 0 (``N``: instances of the category found in the source and the edited image); IC = score >= 0.5; SA =
        score."""
        original = box_tuple(view.target_box)
        original_2d = _mask_box(view.target_mask)
        detections = [(view, perception.target)] + [
            (view.of_distractor(index), perception.distractors.get(instance_id, TargetRecovery(False)))
            for index, instance_id in enumerate(view.distractor_ids)
        ]
        present = [(own, recovery) for own, recovery in detections if recovery.found]
        overlaps = [
            iou3d_upright(original, candidate_box(own, Perception(recovery, _STILL)), view.support_normal)
            for own, recovery in present
        ]
        same_2d = [
            box is not None and float(np.sum((box - original_2d) ** 2)) < PAPER_SAME_BOX2D
            for box in (_mask_box(recovery.mask) for _, recovery in present)
        ]
        removed = not any(iou > PAPER_REMOVED_IOU for iou in overlaps) and not any(same_2d)
        n_source, n_edited = len(detections), len(present)
        score = float(np.clip(1.0 - 0.3 * (n_source - n_edited - 1), 0.0, 1.0)) if removed else 0.0
        details = {"removed": removed, "instances_source": n_source, "instances_edited": n_edited}
        return Compliance(float(score >= 0.5), score, details)
