"""OR scoring: the target's turn about its support normal, judged as it looks (modulo the target's symmetry)."""

from __future__ import annotations

import numpy as np

from gsi_datasets.geometry import (
    fold_angle_deg,
    geodesic_angle_deg,
    rotation_about_axis,
    symmetric_geodesic_deg,
    twist_angle_deg,
)
from gsi_datasets.operations.object_rotate import MIN_VISIBLE_DIFFERENCE, look_alikes
from gsi_metrics import reference_protocol
from gsi_metrics.operations import (
    HALF_TURN_TOLERANCE_DEG,
    MAGNITUDE_RATIO_RANGE,
    OTHER_CHANGE_MAX_ROTATION_DEG,
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

#: Realised / asked turn of a compliant turn: the band of every magnitude (``MAGNITUDE_RATIO_RANGE``), ending at 2.5
#: instead of 3. The opposite of an asked 45-degree turn, read as its half-turn alias (by a view that cannot tell the
#: target's front from its back), is a 135-degree turn in the asked sense: 3 times the asked angle, which the common
#: band accepts. At 2.5 that alias lies as far outside the band as a doubled turn (x2, of the asked order) lies inside.
TURN_RATIO_RANGE = (MAGNITUDE_RATIO_RANGE[0], 2.5)


def asked_yaw_deg(view: SourceView, truth: EditTruth) -> float:
    """The asked turn about the support normal as it looks on the target (folded by its symmetry)."""
    return fold_angle_deg(twist_angle_deg(truth.rotation, view.support_normal), view.symmetry_order)


def either_direction(view: SourceView, truth: EditTruth) -> bool:
    """Whether the asked turn is a half turn of the target's symmetry (180 degrees on an asymmetric object, within
    ``HALF_TURN_TOLERANCE_DEG``): it then looks the same in either sense."""
    order = view.symmetry_order
    return order > 0 and abs(abs(asked_yaw_deg(view, truth)) - 180.0 / order) <= HALF_TURN_TOLERANCE_DEG


def turn_undecidable(view: SourceView, truth: EditTruth, distinctness: np.ndarray | None) -> str | None:
    """The look-alike (``unturned``, ``opposite`` or ``doubled``) that the source view cannot tell from the asked turn
    by the scene-free drawings' :attr:`~gsi_metrics.perception.TargetRecovery.turn_distinctness` (the generators' rule
    on rendered views, :data:`~gsi_datasets.operations.object_rotate.MIN_VISIBLE_DIFFERENCE`), or None when it tells
    each apart or nothing was measured (render-and-compare: the generator ruled on the stored scene)."""
    if distinctness is None:
        return None
    signed = twist_angle_deg(truth.rotation, view.support_normal)
    for name, look_alike in look_alikes(abs(signed), signed).items():
        if _look_alike(distinctness, signed, look_alike):
            return name
    return None


def _look_alike(distinctness: np.ndarray, turn_deg: float, other_deg: float) -> bool:
    """Whether the drawings of the two turns (the nearest of the ``distinctness`` grid's) differ by less than the
    generators' :data:`~gsi_datasets.operations.object_rotate.MIN_VISIBLE_DIFFERENCE`."""
    step = 360.0 / len(distinctness)
    i, j = (int(round(turn / step)) % len(distinctness) for turn in (turn_deg, other_deg))
    return bool(distinctness[i, j] < MIN_VISIBLE_DIFFERENCE)


def indistinct_half_turn(twist_deg: float, distinctness: np.ndarray | None) -> float | None:
    """The recovered turn ``twist_deg`` plus a half turn, when the source view cannot tell the two apart (their
    scene-free drawings differ by less than :data:`~gsi_datasets.operations.object_rotate.MIN_VISIBLE_DIFFERENCE`: the
    unseen back is drawn as the seen front mirrored, so a box-like object turned either way shows the same faces), else
    None (and always for render-and-compare, which measures nothing)."""
    if distinctness is None:
        return None
    alias = twist_deg + 180.0
    return alias if _look_alike(distinctness, twist_deg, alias) else None


@register_scoring
class ObjectRotateScoring(OperationScoring):
    name = "object_rotate"

    def spatial_error(self, view: SourceView, truth: EditTruth, perception: Perception) -> tuple[float, float]:
        """Geodesic angle between the recovered rotation and the closest rotation that looks like the asked one
        (the asked turn plus any symmetry of the target), and the asked angle as it looks (degrees)."""
        error = symmetric_geodesic_deg(
            perception.target.rotation, truth.rotation, view.support_normal, view.symmetry_order
        )
        return error, abs(asked_yaw_deg(view, truth))

    def gsi(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """``e`` = geodesic angle between the recovered rotation and the closest rotation that looks like the asked
        one (modulo the target's symmetry), ``m`` = the asked angle. IC: found; the turn about the support normal
        has the asked sense (either sense for a half turn of the symmetry) and a magnitude in [1/3, 2.5] of the
        asked (``TURN_RATIO_RANGE``: an asked 45-degree turn's opposite, read as its half-turn alias, is 135 degrees);
        tilt at most 30 degrees; the centre stays within 5 cm; no scaling beyond x1.25."""
        perception = denoised(perception)
        target = perception.target
        if not target.found:
            return Compliance(0.0, 0.0, {"found": False})
        if (undecidable := turn_undecidable(view, truth, target.turn_distinctness)) is not None:
            return Compliance(0.0, 0.0, {**recovered_details(perception), "undecidable": undecidable}, "undecidable")
        error, magnitude = self.spatial_error(view, truth, perception)
        asked = asked_yaw_deg(view, truth)
        twist = twist_angle_deg(target.rotation, view.support_normal)
        got = fold_angle_deg(twist, view.symmetry_order)
        tilt = geodesic_angle_deg(target.rotation, rotation_about_axis(view.support_normal, twist))

        def turn_complies(turn_deg: float) -> bool:
            return bool(
                (either_direction(view, truth) or np.sign(turn_deg) == np.sign(asked))
                and magnitude_in_range(abs(turn_deg) / magnitude, TURN_RATIO_RANGE)
            )

        compliant = (
            turn_complies(got)
            and tilt <= OTHER_CHANGE_MAX_ROTATION_DEG
            and other_change_small(perception, view, translation=True, rotation=False, scale=True)
        )
        details = {**recovered_details(perception), "error_deg": error, "turn_deg": got, "asked_turn_deg": asked}
        # A recovered turn the source view cannot tell from itself plus a half turn is read either way; when the two
        # readings disagree on the asked sense and size, the image does not say whether the edit complied.
        alias = indistinct_half_turn(twist, target.turn_distinctness)
        if alias is not None and turn_complies(fold_angle_deg(alias, view.symmetry_order)) != turn_complies(got):
            return Compliance(0.0, 0.0, {**details, "undecidable": "half_turn_alias"}, "undecidable")
        return Compliance(float(compliant), relative_quadratic(error, magnitude), details)

    def paper(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """The reference's rotate rule on exact detections: the candidate nearest ``B0`` (not "the same" as a source
        detection: squared 7-vector difference >= 1e-3); ``SA = 0.5 exp(-(ln(th_pred / (th_gt + 1e-5) + 1e-5))^2) +
        0.5 exp(-dth)`` when it is within 0.5 m of ``B0``; IC = its rotation matrix differs from the original's by a
        squared sum over 1e-4, any turn (defect 11); 0 when the camera turned 10 degrees or more (the reference's SIFT
        and essential-matrix check)."""
        still = reference_protocol.viewpoint_unchanged(view.image, edited)
        score = reference_protocol.rotate(reference_edit(view, truth), *reference_detections(view, perception), still)
        return Compliance(score.ic, score.sa, {**reference_details(score, perception), "viewpoint_unchanged": still})
