"""Instruction Compliance and Spatial Accuracy per operation, for both profiles.

Each operation registers one scorer per profile with :func:`register_scorer`; the four operations still
to come (OP, RP, SR, PC) plug in the same way without touching these. A scorer reads the exact source
side (:class:`~gsi_metrics.sample.SourceSample`) and what perception recovered, and returns a
:class:`Compliance`.

Profile ``gsi`` (default). With ``m`` the asked magnitude and ``e`` the error of the recovered change
(:data:`SPATIAL_ERRORS`): ``SA = clip(1 - (e / m)^2, 0, 1)``, so a perfect edit scores 1, an unchanged output
(e = m) scores 0, and an edit in the wrong direction scores 0. Recovered components below the perception
noise floor (5 mm, 3 degrees, 2% scale) count as no change. IC asks for the right target, the right kind of
change and the right direction (SPEC 6); the magnitude only has to be of the asked order (realised / asked
within ``MAGNITUDE_RATIO_RANGE`` = [1/3, 3]); how far off it is, is SA's job. Per operation:

- CM: ``e = |t_pred - t_gt|`` (full 3D displacement vector, metres), ``m = |t_gt|``.
  IC: found; ``cos(t_pred, t_gt) >= cos 30deg``; ``|t_pred| / m`` in range; no rotation over 30 degrees
  and no scaling beyond x1.25 either way (the right kind of change).
- OR: turns are compared as they look on the target: modulo its rotational symmetry (``symmetry_order``).
  ``e`` = geodesic angle between the recovered rotation and the closest rotation that looks like the asked
  one, ``m`` = the asked angle. IC: found; the turn about the support normal has the asked sense (either sense
  for a half turn of the symmetry, e.g. 180 degrees on an asymmetric object) and a magnitude in range; tilt
  at most 30 degrees; the centre stays within 5 cm; no scaling beyond x1.25.
- OS: ``e = |ln s_pred - ln s_gt|``, ``m = |ln s_gt|``.
  IC: found; ``ln s_pred / ln s_gt`` in range (so the sign is right: the inverse factor fails); no rotation
  over 30 degrees; the contact point moves less than 5 cm.

Profile ``paper`` reproduces the reference formulas of SPEC 6.1 on our recovered boxes (candidate box =
the source box moved, rotated and scaled as recovered); see each function.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gsi_datasets.geometry import (
    fold_angle_deg,
    geodesic_angle_deg,
    iou3d_upright,
    rotation_about_axis,
    symmetric_geodesic_deg,
    twist_angle_deg,
)
from gsi_metrics.perception import Perception, TargetRecovery
from gsi_metrics.sample import SourceSample

PROFILES = ("gsi", "paper")

#: Tolerances of the ``gsi`` profile's compliance rules (documented in the metric cards).
DIRECTION_TOLERANCE_DEG = 30.0
#: Realised / asked magnitude (distance, angle, log scale factor) a compliant edit stays within: compliance is
#: about the right target, kind of change and direction (SPEC 6); how far off the magnitude is, is SA's job.
MAGNITUDE_RATIO_RANGE = (1.0 / 3.0, 3.0)
#: An asked turn this close to a half turn of the target's symmetry may be carried out in either sense (the
#: realised angle of a settled 180-degree turn is a degree or two off).
HALF_TURN_TOLERANCE_DEG = 10.0
OTHER_CHANGE_MAX_ROTATION_DEG = 30.0
OTHER_CHANGE_MAX_SCALE = 1.25
OTHER_CHANGE_MAX_TRANSLATION_M = 0.05
#: Perception noise floor: recovered changes below these count as no change (an unchanged output then
#: scores exactly SA = 0 instead of a few thousandths).
NOISE_FLOOR_TRANSLATION_M = 0.005
NOISE_FLOOR_ROTATION_DEG = 3.0
NOISE_FLOOR_LOG_SCALE = 0.02


@dataclass(frozen=True)
class Compliance:
    """IC (0 or 1) and SA (in [0, 1]) of one sample, with the quantities they were computed from."""

    ic: float
    sa: float
    details: dict[str, Any] = field(default_factory=dict)


Scorer = Callable[[SourceSample, Perception], Compliance]
SCORERS: dict[tuple[str, str], Scorer] = {}


def register_scorer(operation: str, profile: str) -> Callable[[Scorer], Scorer]:
    """Decorator registering the IC/SA scorer of ``operation`` in ``profile``."""

    def decorator(scorer: Scorer) -> Scorer:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; known: {PROFILES}")
        if (operation, profile) in SCORERS:
            raise ValueError(f"scorer for {operation!r} in profile {profile!r} is registered twice")
        SCORERS[(operation, profile)] = scorer
        return scorer

    return decorator


def get_scorer(operation: str, profile: str) -> Scorer:
    """The registered scorer.

    Raises:
        KeyError: with the operations that have scorers in this profile.
    """
    if (operation, profile) not in SCORERS:
        known = sorted(op for op, p in SCORERS if p == profile)
        close = difflib.get_close_matches(operation, known, n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise KeyError(f"no {profile!r} scorer for operation {operation!r}.{hint} Scored operations: {known}")
    return SCORERS[(operation, profile)]


def _relative_quadratic(error: float, magnitude: float) -> float:
    """``clip(1 - (error / magnitude)^2, 0, 1)``, rounded to 12 decimals (an unchanged output scores exactly 0,
    not the rounding error of two routes to the same angle)."""
    return round(float(np.clip(1.0 - (error / magnitude) ** 2, 0.0, 1.0)), 12) if magnitude > 0 else 0.0


def _denoised(perception: Perception) -> Perception:
    """Snaps each recovered component below its noise floor to "no change"."""
    target = perception.target
    if not target.found:
        return perception
    translation = (
        target.translation_m if np.linalg.norm(target.translation_m) >= NOISE_FLOOR_TRANSLATION_M else np.zeros(3)
    )
    rotation = (
        target.rotation if geodesic_angle_deg(np.eye(3), target.rotation) >= NOISE_FLOOR_ROTATION_DEG else np.eye(3)
    )
    scale = target.scale_factor if abs(np.log(target.scale_factor)) >= NOISE_FLOOR_LOG_SCALE else 1.0
    return dataclasses.replace(
        perception, target=dataclasses.replace(target, translation_m=translation, rotation=rotation, scale_factor=scale)
    )


def _recovered(perception: Perception) -> dict[str, Any]:
    target = perception.target
    return {
        "translation_m": [float(v) for v in target.translation_m],
        "rotation_deg": geodesic_angle_deg(np.eye(3), target.rotation),
        "scale_factor": float(target.scale_factor),
        "inliers": int(target.inliers),
        "confidence": float(target.confidence),
    }


def _other_change_small(perception: Perception, *, translation: bool, rotation: bool, scale: bool) -> bool:
    target = perception.target
    return bool(
        (not rotation or geodesic_angle_deg(np.eye(3), target.rotation) <= OTHER_CHANGE_MAX_ROTATION_DEG)
        and (not scale or abs(np.log(target.scale_factor)) <= np.log(OTHER_CHANGE_MAX_SCALE))
        and (not translation or np.linalg.norm(target.translation_m) <= OTHER_CHANGE_MAX_TRANSLATION_M)
    )


# -- profile gsi ---------------------------------------------------------------------------------------------


SpatialError = Callable[[SourceSample, TargetRecovery], tuple[float, float]]
#: Per operation, ``(error, magnitude)`` of a recovered change against the asked one, in the operation's unit
#: (metres, degrees, log scale): profile ``gsi``'s SA is ``clip(1 - (error / magnitude)^2, 0, 1)``. The
#: fidelity suite applies the same functions to the exact change to get the true error.
SPATIAL_ERRORS: dict[str, SpatialError] = {}


def _spatial_error(operation: str) -> Callable[[SpatialError], SpatialError]:
    def decorator(function: SpatialError) -> SpatialError:
        SPATIAL_ERRORS[operation] = function
        return function

    return decorator


@_spatial_error("camera_relative_move")
def move_error(sample: SourceSample, target: TargetRecovery) -> tuple[float, float]:
    """``|t_pred - t_gt|`` and ``|t_gt|`` (metres)."""
    return float(np.linalg.norm(target.translation_m - sample.translation_m)), float(
        np.linalg.norm(sample.translation_m)
    )


def asked_yaw_deg(sample: SourceSample) -> float:
    """The asked turn about the support normal as it looks on the target (folded by its symmetry)."""
    return fold_angle_deg(twist_angle_deg(sample.rotation, sample.support_normal), sample.symmetry_order)


def either_direction(sample: SourceSample) -> bool:
    """Whether the asked turn is a half turn of the target's symmetry (180 degrees on an asymmetric object, within
    ``HALF_TURN_TOLERANCE_DEG``): it then looks the same in either sense."""
    order = sample.symmetry_order
    return order > 0 and abs(abs(asked_yaw_deg(sample)) - 180.0 / order) <= HALF_TURN_TOLERANCE_DEG


@_spatial_error("object_rotate")
def rotate_error(sample: SourceSample, target: TargetRecovery) -> tuple[float, float]:
    """Geodesic angle between the recovered rotation and the closest rotation that looks like the asked one
    (the asked turn plus any symmetry of the target), and the asked angle as it looks (degrees)."""
    error = symmetric_geodesic_deg(target.rotation, sample.rotation, sample.support_normal, sample.symmetry_order)
    return error, abs(asked_yaw_deg(sample))


@_spatial_error("object_scale")
def scale_error(sample: SourceSample, target: TargetRecovery) -> tuple[float, float]:
    """``|ln s_pred - ln s_gt|`` and ``|ln s_gt|``."""
    asked = np.log(sample.scale_factor)
    return float(abs(np.log(target.scale_factor) - asked)), float(abs(asked))


def _magnitude_in_range(ratio: float) -> bool:
    return MAGNITUDE_RATIO_RANGE[0] <= ratio <= MAGNITUDE_RATIO_RANGE[1]


@register_scorer("camera_relative_move", "gsi")
def move_gsi(sample: SourceSample, perception: Perception) -> Compliance:
    """CM, profile gsi (module docstring)."""
    perception = _denoised(perception)
    target = perception.target
    if not target.found:
        return Compliance(0.0, 0.0, {"found": False})
    error, magnitude = move_error(sample, target)
    asked, got = sample.translation_m, target.translation_m
    length = float(np.linalg.norm(got))
    cosine = float(got @ asked / (length * magnitude)) if length > 0 and magnitude > 0 else -1.0
    compliant = (
        cosine >= np.cos(np.deg2rad(DIRECTION_TOLERANCE_DEG))
        and _magnitude_in_range(length / magnitude)
        and _other_change_small(perception, translation=False, rotation=True, scale=True)
    )
    return Compliance(
        float(compliant),
        _relative_quadratic(error, magnitude),
        {**_recovered(perception), "error_m": error, "direction_cosine": cosine},
    )


@register_scorer("object_rotate", "gsi")
def rotate_gsi(sample: SourceSample, perception: Perception) -> Compliance:
    """OR, profile gsi (module docstring)."""
    perception = _denoised(perception)
    target = perception.target
    if not target.found:
        return Compliance(0.0, 0.0, {"found": False})
    error, magnitude = rotate_error(sample, target)
    asked = asked_yaw_deg(sample)
    twist = twist_angle_deg(target.rotation, sample.support_normal)
    got = fold_angle_deg(twist, sample.symmetry_order)
    tilt = geodesic_angle_deg(target.rotation, rotation_about_axis(sample.support_normal, twist))
    compliant = (
        (either_direction(sample) or np.sign(got) == np.sign(asked))
        and _magnitude_in_range(abs(got) / magnitude)
        and tilt <= OTHER_CHANGE_MAX_ROTATION_DEG
        and _other_change_small(perception, translation=True, rotation=False, scale=True)
    )
    return Compliance(
        float(compliant),
        _relative_quadratic(error, magnitude),
        {**_recovered(perception), "error_deg": error, "turn_deg": got, "asked_turn_deg": asked},
    )


@register_scorer("object_scale", "gsi")
def scale_gsi(sample: SourceSample, perception: Perception) -> Compliance:
    """OS, profile gsi (module docstring)."""
    perception = _denoised(perception)
    target = perception.target
    if not target.found:
        return Compliance(0.0, 0.0, {"found": False})
    error, magnitude = scale_error(sample, target)
    asked, got = np.log(sample.scale_factor), np.log(target.scale_factor)
    # The box centre rises with the scale about the contact point: compare contact points instead.
    contact_shift = target.translation_m - (target.scale_factor - 1.0) * _centre_height(sample) * sample.support_normal
    compliant = (
        _magnitude_in_range(float(got / asked))
        and _other_change_small(perception, translation=False, rotation=True, scale=False)
        and np.linalg.norm(contact_shift) <= OTHER_CHANGE_MAX_TRANSLATION_M
    )
    return Compliance(
        float(compliant),
        _relative_quadratic(error, magnitude),
        {**_recovered(perception), "error_log_scale": error},
    )


def _centre_height(sample: SourceSample) -> float:
    """Height of the target's box centre above the support plane (m)."""
    return float(sample.support_normal @ sample.target_box.centre + sample.support_offset_m)


# -- profile paper (SPEC 6.1) ---------------------------------------------------------------------------------


def candidate_box(sample: SourceSample, perception: Perception) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The recovered box after the edit: the source box moved, rotated and scaled as perception says."""
    box, target = sample.target_box, perception.target
    return box.centre + target.translation_m, box.size * target.scale_factor, target.rotation @ box.rotation


def _box(b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return b.centre, b.size, b.rotation


@register_scorer("camera_relative_move", "paper")
def move_paper(sample: SourceSample, perception: Perception) -> Compliance:
    """``score = 0.3 IoU3D(B1, cand) + 0.7 exp(-(ln sqrt r)^2)``, ``r = |c_cand - c_B0| / |c_B1 - c_B0|``;
    halved if the number of detections changed (no candidate: score 0); IC = score > 0.05; SA = score."""
    if not perception.target.found:
        return Compliance(0.0, 0.0, {"found": False})
    candidate = candidate_box(sample, perception)
    ratio = float(
        np.linalg.norm(candidate[0] - sample.target_box.centre)
        / np.linalg.norm(sample.expected_box.centre - sample.target_box.centre)
    )
    iou = iou3d_upright(_box(sample.expected_box), candidate, sample.support_normal)
    distance_term = float(np.exp(-(np.log(np.sqrt(ratio)) ** 2))) if ratio > 0 else 0.0
    score = 0.3 * iou + 0.7 * distance_term
    return Compliance(float(score > 0.05), score, {**_recovered(perception), "iou3d": iou, "distance_ratio": ratio})


@register_scorer("object_rotate", "paper")
def rotate_paper(sample: SourceSample, perception: Perception) -> Compliance:
    """``SA = 0.5 exp(-(ln(th_pred / th_gt))^2) + 0.5 exp(-dth)`` (geodesic angles from B0; dth in radians
    between expected and predicted rotation), candidate within 0.5 m; IC = a rotated candidate exists
    (``th_pred`` > 5 degrees)."""
    target = perception.target
    if not target.found or np.linalg.norm(target.translation_m) > 0.5:
        return Compliance(0.0, 0.0, {"found": target.found})
    predicted = geodesic_angle_deg(np.eye(3), target.rotation)
    asked = sample.rotation_deg
    delta = np.deg2rad(geodesic_angle_deg(target.rotation, sample.rotation))
    ratio_term = float(np.exp(-(np.log(predicted / asked) ** 2))) if predicted > 0 else 0.0
    score = 0.5 * ratio_term + 0.5 * float(np.exp(-delta))
    return Compliance(float(predicted > 5.0), score, {**_recovered(perception), "error_rad": float(delta)})


@register_scorer("object_scale", "paper")
def scale_paper(sample: SourceSample, perception: Perception) -> Compliance:
    """Per-axis ratios ``k = size / size_B0``: ``SA = exp(-mean(ln(k_pred / k_gt)^2))`` with ``k_pred = 1``
    when there is no candidate; IC = ``|k_pred - 1| > 0.2``. (An unchanged output earns exp(-(ln k_gt)^2):
    the reference's scale loophole, kept here on purpose.)"""
    target = perception.target
    k_predicted = target.scale_factor if target.found else 1.0
    k_asked = sample.expected_box.size / sample.target_box.size
    sa = float(np.exp(-np.mean(np.log(k_predicted / k_asked) ** 2)))
    return Compliance(
        float(abs(k_predicted - 1.0) > 0.2), sa, {**_recovered(perception), "k_predicted": float(k_predicted)}
    )
