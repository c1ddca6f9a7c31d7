"""RP scoring: whether the target's recovered final centre lies on the receptacle's surface and in the asked region
(the region whose point is nearest), graded by its distance to the asked region's point."""

from __future__ import annotations

import numpy as np

from gsi_datasets.geometry import on_plane
from gsi_datasets.operations.receptacle_place import nearest_region
from gsi_metrics.operations import (
    Compliance,
    denoised,
    other_change_small,
    recovered_details,
    register_scoring,
    relative_quadratic,
)
from gsi_metrics.operations.camera_relative_move import CameraRelativeMoveScoring
from gsi_metrics.perception import Perception
from gsi_metrics.sample import EditTruth, SourceView


def inside_polygon(point: np.ndarray, corners: np.ndarray, normal: np.ndarray) -> bool:
    """Whether ``point`` lies over the convex polygon ``corners`` (in order around it), seen along ``normal``."""
    turns = [
        float(np.cross(b - a, point - a) @ normal) for a, b in zip(corners, np.roll(corners, -1, axis=0), strict=True)
    ]
    return all(t >= 0 for t in turns) or all(t <= 0 for t in turns)


def region_reached(view: SourceView, truth: EditTruth, translation_m: np.ndarray) -> str:
    """The region the target's centre is in after moving by ``translation_m`` (the one whose point is nearest, on the
    support plane)."""
    return nearest_region(truth.region_points, view.target_box.centre + translation_m, view.support_normal)


def on_receptacle(view: SourceView, translation_m: np.ndarray) -> bool:
    """Whether the target's centre, moved by ``translation_m``, lies over the receptacle's surface."""
    normal = view.support_normal
    final = on_plane(view.target_box.centre + translation_m, normal)
    return inside_polygon(final, on_plane(view.receptacle_corners, normal), normal)


@register_scoring
class ReceptaclePlaceScoring(CameraRelativeMoveScoring):
    name = "receptacle_place"

    def spatial_error(self, view: SourceView, truth: EditTruth, perception: Perception) -> tuple[float, float]:
        """``|p - g|``, the distance on the support plane between the target's recovered final centre ``p`` and the
        asked one ``g``, and ``min(|t_gt|, s)`` with ``s`` the distance from ``g`` to the nearest other region's point
        (metres): the unchanged image and the neighbouring region both score 0."""
        normal = view.support_normal
        asked = on_plane(view.target_box.centre + truth.translation_m, normal)
        final = on_plane(view.target_box.centre + perception.target.translation_m, normal)
        others = [
            float(np.linalg.norm(on_plane(point, normal) - asked))
            for region, point in truth.region_points.items()
            if region != truth.command.direction
        ]
        magnitude = min([float(np.linalg.norm(on_plane(truth.translation_m, normal))), *others])
        return float(np.linalg.norm(final - asked)), magnitude

    def gsi(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """``e = |p - g|`` (recovered against asked final centre, on the support plane, metres), ``m = min(|t_gt|, s)``
        (``s``: from ``g`` to the nearest other region's point). IC: found; the final centre over the receptacle's
        surface; the asked region's point the nearest of all regions' points; no turn over 30 degrees (modulo its
        symmetry) and no scaling beyond x1.25 (of its source size and of the size that shows it as large as before)."""
        perception = denoised(perception)
        target = perception.target
        if not target.found:
            return Compliance(0.0, 0.0, {"found": False})
        region = region_reached(view, truth, target.translation_m)
        on_surface = on_receptacle(view, target.translation_m)
        error, magnitude = self.spatial_error(view, truth, perception)
        compliant = (
            on_surface
            and region == truth.command.direction
            and other_change_small(perception, view, translation=False, rotation=True, scale=True)
        )
        details = {**recovered_details(perception), "error_m": error, "region": region, "on_receptacle": on_surface}
        return Compliance(float(compliant), relative_quadratic(error, magnitude), details)
