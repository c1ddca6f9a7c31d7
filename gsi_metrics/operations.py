"""Instruction Compliance and Spatial Accuracy per operation, for both profiles.

Each operation registers one scorer per profile with :func:`register_scorer`; the four operations still
to come (OP, RP, SR, PC) plug in the same way without touching these. A scorer reads the exact source
side (:class:`~gsi_metrics.sample.SourceSample`) and what perception recovered, and returns a
:class:`Compliance`.

Profile ``gsi`` (default). With ``m`` the asked magnitude and ``e`` the error of the recovered change:
``SA = clip(1 - (e / m)^2, 0, 1)``, so a perfect edit scores 1, an unchanged output (e = m) scores 0, and
an edit in the wrong direction scores 0. Recovered components below the perception noise floor (5 mm,
3 degrees, 2% scale) count as no change. Per operation:

- CM: ``e = |t_pred - t_gt|`` (full 3D displacement vector, metres), ``m = |t_gt|``.
  IC: found; ``cos(t_pred, t_gt) >= cos 30deg``; ``0.5 <= |t_pred| / m <= 1.5``; no rotation over 30 degrees
  and no scaling beyond x1.25 either way (the right kind of change).
- OR: ``e`` = geodesic angle between recovered and asked relative rotations, ``m`` = asked angle.
  IC: found; ``e <= max(15deg, m / 3)`` (so the wrong direction fails); the centre stays within 5 cm; no
  scaling beyond x1.25.
- OS: ``e = |ln s_pred - ln s_gt|``, ``m = |ln s_gt|``.
  IC: found; ``ln s_pred`` has the sign of ``ln s_gt`` and ``e <= m / 2``; no rotation over 30 degrees;
  the contact point moves less than 5 cm.

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

from gsi_datasets.geometry import geodesic_angle_deg, iou3d_upright
from gsi_metrics.perception import Perception
from gsi_metrics.sample import SourceSample

PROFILES = ("gsi", "paper")

#: Tolerances of the ``gsi`` profile's compliance rules (documented in the metric cards).
DIRECTION_TOLERANCE_DEG = 30.0
MAGNITUDE_RATIO_RANGE = (0.5, 1.5)
ROTATION_TOLERANCE_DEG = 15.0
ROTATION_TOLERANCE_FRACTION = 1.0 / 3.0
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
    """``clip(1 - (error / magnitude)^2, 0, 1)``."""
    return float(np.clip(1.0 - (error / magnitude) ** 2, 0.0, 1.0)) if magnitude > 0 else 0.0


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


@register_scorer("camera_relative_move", "gsi")
def move_gsi(sample: SourceSample, perception: Perception) -> Compliance:
    """CM, profile gsi (module docstring)."""
    perception = _denoised(perception)
    target = perception.target
    if not target.found:
        return Compliance(0.0, 0.0, {"found": False})
    asked, got = sample.translation_m, target.translation_m
    magnitude = float(np.linalg.norm(asked))
    length = float(np.linalg.norm(got))
    error = float(np.linalg.norm(got - asked))
    cosine = float(got @ asked / (length * magnitude)) if length > 0 and magnitude > 0 else -1.0
    compliant = (
        cosine >= np.cos(np.deg2rad(DIRECTION_TOLERANCE_DEG))
        and MAGNITUDE_RATIO_RANGE[0] <= length / magnitude <= MAGNITUDE_RATIO_RANGE[1]
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
    error = geodesic_angle_deg(target.rotation, sample.rotation)
    tolerance = max(ROTATION_TOLERANCE_DEG, ROTATION_TOLERANCE_FRACTION * sample.rotation_deg)
    compliant = error <= tolerance and _other_change_small(perception, translation=True, rotation=False, scale=True)
    return Compliance(
        float(compliant),
        _relative_quadratic(error, sample.rotation_deg),
        {**_recovered(perception), "error_deg": error},
    )


@register_scorer("object_scale", "gsi")
def scale_gsi(sample: SourceSample, perception: Perception) -> Compliance:
    """OS, profile gsi (module docstring)."""
    perception = _denoised(perception)
    target = perception.target
    if not target.found:
        return Compliance(0.0, 0.0, {"found": False})
    asked, got = np.log(sample.scale_factor), np.log(target.scale_factor)
    error = float(abs(got - asked))
    # The box centre rises with the scale about the contact point: compare contact points instead.
    contact_shift = target.translation_m - (target.scale_factor - 1.0) * _centre_height(sample) * sample.support_normal
    compliant = (
        np.sign(got) == np.sign(asked)
        and error <= abs(asked) / 2
        and _other_change_small(perception, translation=False, rotation=True, scale=False)
        and np.linalg.norm(contact_shift) <= OTHER_CHANGE_MAX_TRANSLATION_M
    )
    return Compliance(
        float(compliant),
        _relative_quadratic(error, float(abs(asked))),
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
