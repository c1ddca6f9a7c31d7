"""OP scoring: where the target's centre ended up relative to the reference object's centre, both recovered from the
edited image."""

from __future__ import annotations

import dataclasses

import numpy as np

from gsi_datasets.geometry import on_plane
from gsi_metrics.operations import (
    DIRECTION_TOLERANCE_DEG,
    Compliance,
    denoised,
    magnitude_in_range,
    other_change_small,
    recovered_details,
    register_scoring,
    relative_quadratic,
)
from gsi_metrics.operations.camera_relative_move import CameraRelativeMoveScoring
from gsi_metrics.perception import Perception
from gsi_metrics.sample import EditTruth, SourceView


def _reference_shift(perception: Perception) -> np.ndarray:
    """The reference object's recovered displacement (none when it was not perceived or not found)."""
    reference = perception.reference
    return reference.translation_m if reference is not None and reference.found else np.zeros(3)


@register_scoring
class ObjectRelativePlaceScoring(CameraRelativeMoveScoring):
    name = "object_relative_place"

    def spatial_error(self, view: SourceView, truth: EditTruth, perception: Perception) -> tuple[float, float]:
        """``|(t_pred - t_ref) - t_gt|``: the error of the target's final centre relative to the reference's recovered
        centre, and ``min(|t_gt|, d)`` with ``d`` the asked offset's length on the support plane (metres): the
        unchanged image (error ``|t_gt|``) and the other side of the reference (error ``2 d``) both score 0."""
        error = perception.target.translation_m - _reference_shift(perception) - truth.translation_m
        asked_final = view.target_box.centre + truth.translation_m
        offset = on_plane(asked_final - view.reference_box.centre, view.support_normal)
        scale = min(float(np.linalg.norm(truth.translation_m)), float(np.linalg.norm(offset)))
        return float(np.linalg.norm(error)), scale

    def gsi(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """``e = |(t_pred - t_ref) - t_gt|`` (the target's final centre relative to the reference's, against the asked
        one, metres), ``m = min(|t_gt|, d)`` (``d``: the asked centre-to-centre offset on the support plane). IC: target
        and reference found; the reference unmoved (no shift over 5 cm, turn over 30 degrees or scaling beyond x1.25; a
        reference that looks as it did where it stood, seen from the source camera, is unmoved without a search);
        the target's final offset from the reference, on the support plane, within 30 degrees of the asked side and of
        the asked order of length ([1/3, 3]); the target neither turned over 30 degrees (modulo its symmetry) nor scaled
        beyond x1.25 (of its source size and of the size that shows it as large as before)."""
        perception = denoised(perception)
        target, reference = perception.target, perception.reference
        if not target.found:
            return Compliance(0.0, 0.0, {"found": False})
        error, magnitude = self.spatial_error(view, truth, perception)
        normal = view.support_normal
        asked = on_plane(view.target_box.centre + truth.translation_m - view.reference_box.centre, normal)
        final = on_plane(
            view.target_box.centre + target.translation_m - view.reference_box.centre - _reference_shift(perception),
            normal,
        )
        length, asked_length = float(np.linalg.norm(final)), float(np.linalg.norm(asked))
        cosine = float(final @ asked / (length * asked_length)) if length > 0 and asked_length > 0 else -1.0
        reference_still = (
            reference is not None
            and reference.found
            and other_change_small(
                dataclasses.replace(perception, target=reference),
                view.of_reference(),
                translation=True,
                rotation=True,
                scale=True,
            )
        )
        compliant = (
            reference_still
            and cosine >= np.cos(np.deg2rad(DIRECTION_TOLERANCE_DEG))
            and magnitude_in_range(length / asked_length)
            and other_change_small(perception, view, translation=False, rotation=True, scale=True)
        )
        details = {
            **recovered_details(perception),
            "error_m": error,
            "offset_cosine": cosine,
            "offset_m": length,
            "reference_found": bool(reference is not None and reference.found),
            "reference_translation_m": [float(v) for v in _reference_shift(perception)],
        }
        return Compliance(float(compliant), relative_quadratic(error, magnitude), details)
