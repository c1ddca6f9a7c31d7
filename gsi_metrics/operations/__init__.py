"""Instruction Compliance and Spatial Accuracy per operation, for both profiles: the scoring side of the operations.

Each operation has one module in this package with an :class:`OperationScoring` subclass (registered with
:func:`register_scoring`, discovered on first use): its spatial error (what the fidelity suite also applies to
the exact change), its ``gsi`` scorer and its ``paper`` scorer. A scorer reads the source view and the edit
truth (:class:`~gsi_metrics.sample.ScoringSample`) and what perception recovered, and returns a
:class:`Compliance`. The metric cards' formula tables are generated from the scorers' docstrings
(:func:`formula_table`).

Profile ``gsi`` (default). With ``m`` the asked magnitude and ``e`` the error of the recovered change
(``OperationScoring.spatial_error``): ``SA = clip(1 - (e / m)^2, 0, 1)``, so a perfect edit scores 1, an
unchanged output (e = m) scores 0, and an edit in the wrong direction scores 0. Recovered components below the
perception noise floor (5 mm, 3 degrees, 2% scale) count as no change. IC asks for the right target, the right
kind of change and the right direction (SPEC 6); the magnitude only has to be of the asked order (realised /
asked within ``MAGNITUDE_RATIO_RANGE`` = [1/3, 3]; turns within [1/3, 2.5]: :mod:`.object_rotate`); how far off it
is, is SA's job.

Profile ``paper`` applies the reference's rules (:mod:`gsi_metrics.reference_protocol`) to what an exact detector would
report (:func:`reference_detections`): in the source, the dataset's boxes of the target and of the other labelled
instances of its category; in the edited image, the boxes perception recovered for those still found (the source box
moved, rotated and scaled as recovered), each with the 2D box around its pixels; see each operation's module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gsi_datasets.geometry import (
    geodesic_angle_deg,
    mask_box,
    reference_box,
    symmetric_geodesic_deg,
    transform_points,
)
from gsi_datasets.registry import Registry
from gsi_metrics import reference_protocol
from gsi_metrics.perception import Perception, TargetRecovery
from gsi_metrics.sample import EditTruth, SourceView

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
#: An unasked component beyond those limits fails IC only when the image needs it: dropping it costs at least this
#: (:attr:`~gsi_metrics.perception.TargetRecovery.evidence`, in units of the target's size in the image).
SIDE_CHANGE_MIN_EVIDENCE = 0.3
#: Perception noise floor: recovered changes below these count as no change (an unchanged output then
#: scores exactly SA = 0 instead of a few thousandths).
NOISE_FLOOR_TRANSLATION_M = 0.005
NOISE_FLOOR_ROTATION_DEG = 3.0
NOISE_FLOOR_LOG_SCALE = 0.02


@dataclass(frozen=True)
class Compliance:
    """IC (0 or 1) and SA (in [0, 1]) of one sample, with the quantities they were computed from; ``status`` names
    an outcome other than a score (``undecidable``: the item cannot be judged from this view; None for a score)."""

    ic: float
    sa: float
    details: dict[str, Any] = field(default_factory=dict)
    status: str | None = None


#: ``scorer(view, truth, perception, edited) -> Compliance`` (``edited``: the edited image at the source size).
Scorer = Callable[[SourceView, EditTruth, Perception, np.ndarray], Compliance]


class OperationScoring:
    """Base of the operations' scoring (subclass, set ``name``, implement the three methods)."""

    name: str = ""

    def spatial_error(self, view: SourceView, truth: EditTruth, perception: Perception) -> tuple[float, float]:
        """``(error, magnitude)`` of the recovered change against the asked one, in the operation's unit; profile
        ``gsi``'s SA is ``clip(1 - (error / magnitude)^2, 0, 1)``. The fidelity suite applies it to the exact change
        to get the true error."""
        raise NotImplementedError

    def gsi(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """IC and SA in profile ``gsi``."""
        raise NotImplementedError

    def paper(self, view: SourceView, truth: EditTruth, perception: Perception, edited: np.ndarray) -> Compliance:
        """IC and SA in profile ``paper`` (the reference's formulas, SPEC 6.1)."""
        raise NotImplementedError

    def with_learned(
        self, compliance: Compliance, truth: EditTruth, edited: np.ndarray, profile: str, measures: Any
    ) -> Compliance:
        """``compliance`` revised with the learned measures (:class:`~gsi_metrics.learned.LearnedMeasures`) where the
        operation's rule in ``profile`` uses one; as it is by default."""
        return compliance

    def scorer(self, profile: str) -> Scorer:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; known: {PROFILES}")
        return getattr(self, profile)


#: The operations' scoring, by operation name (each module of this package registers one on import).
SCORINGS: Registry[OperationScoring] = Registry(
    "scorer", __name__, "no scorer for operation {name!r}. Scored operations: {known}."
)


def register_scoring(cls: type[OperationScoring]) -> type[OperationScoring]:
    """Class decorator registering an operation's scoring under its ``name``."""
    SCORINGS.register(cls.name, cls())
    return cls


def unregister_scoring(name: str) -> None:
    """Removes an operation's scoring (tests register toy operations and remove them again)."""
    SCORINGS.unregister(name)


def get_scoring(operation: str) -> OperationScoring:
    """The scoring of ``operation`` (KeyError for an unknown operation, with close matches)."""
    return SCORINGS.get(operation)


def get_scorer(operation: str, profile: str) -> Scorer:
    """The scorer of ``operation`` in ``profile`` (KeyError for an unknown operation, ValueError for a profile)."""
    return get_scoring(operation).scorer(profile)


_TABLE_START = "<!-- formula table: profile {profile} (generated from the scorers; refresh_formula_tables) -->"
_TABLE_END = "<!-- end of formula table -->"


def refresh_formula_tables(text: str) -> str:
    """``text`` (a metric card) with every generated formula table block replaced by :func:`formula_table`'s
    current output. A test checks that the cards are up to date."""
    for profile in PROFILES:
        start = _TABLE_START.format(profile=profile)
        while start in text:
            head, rest = text.split(start, 1)
            if _TABLE_END not in rest:
                raise ValueError(f"formula table of profile {profile!r} has no end marker {_TABLE_END!r}")
            _, tail = rest.split(_TABLE_END, 1)
            text = f"{head}{start.replace('<!--', '<!-~')}\n{formula_table(profile)}\n{_TABLE_END}{tail}"
        text = text.replace(start.replace("<!--", "<!-~"), start)
    return text


def formula_table(profile: str) -> str:
    """A Markdown table of each scored operation's formula in ``profile`` (the first paragraph of its scorer's
    docstring): the metric cards embed it, so the cards cannot drift from the code."""
    from gsi_datasets.operations import short_id

    lines = ["| operation | formula |", "|---|---|"]
    for name, scoring in sorted(SCORINGS.items(), key=lambda item: short_id(item[0])):
        doc = (getattr(type(scoring), profile).__doc__ or "").strip().split("\n\n")[0]
        cell = " ".join(doc.split()).replace("``", "`").replace("|", "\\|")  # Markdown code, escaped table pipes
        lines.append(f"| {short_id(name)} (`{name}`) | {cell} |")
    return "\n".join(lines)


def relative_quadratic(error: float, magnitude: float) -> float:
    """``clip(1 - (error / magnitude)^2, 0, 1)``, rounded to 9 decimals (an unchanged output scores exactly 0,
    not the rounding error of two routes to the same angle or point, which labels stored in float32 can push to
    1e-11)."""
    return round(float(np.clip(1.0 - (error / magnitude) ** 2, 0.0, 1.0)), 9) if magnitude > 0 else 0.0


def denoised(perception: Perception) -> Perception:
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


def recovered_details(perception: Perception) -> dict[str, Any]:
    target = perception.target
    return {
        "translation_m": [float(v) for v in target.translation_m],
        "rotation_deg": geodesic_angle_deg(np.eye(3), target.rotation),
        "scale_factor": float(target.scale_factor),
        "inliers": int(target.inliers),
        "confidence": float(target.confidence),
        "method": target.method,
        "evidence": dict(target.evidence),
    }


def other_change_small(
    perception: Perception, view: SourceView, *, translation: bool, rotation: bool, scale: bool
) -> bool:
    """Whether the target's recovered change has no unasked component that is both large and plain, for the
    components named: a turn over 30 degrees (compared modulo the target's symmetry about the support normal: a round
    object turned any way is unturned), a scaling beyond x1.25 of both the source size and the size at which the
    target shows as large in the image as in the source (:func:`flat_paste_scale`: a move drawn as a 2D paste,
    without perspective), a shift over 5 cm; each counts only when the image needs it (its
    :attr:`~gsi_metrics.perception.TargetRecovery.evidence` at least ``SIDE_CHANGE_MIN_EVIDENCE``). A re-drawn,
    mirrored or flat-pasted object that the search can only explain as a turn or a scaling is no unasked change; SA
    still pays for what it recovered."""
    target = perception.target

    def plain(component: str) -> bool:
        return target.evidence.get(component, np.inf) >= SIDE_CHANGE_MIN_EVIDENCE

    turn = symmetric_geodesic_deg(np.eye(3), target.rotation, view.support_normal, view.symmetry_order)
    log_scale = np.log(target.scale_factor)
    unscaled = min(abs(log_scale), abs(log_scale - np.log(flat_paste_scale(view, perception))))
    return bool(
        (not rotation or turn <= OTHER_CHANGE_MAX_ROTATION_DEG or not plain("turn"))
        and (not scale or unscaled <= np.log(OTHER_CHANGE_MAX_SCALE) or not plain("scale"))
        and (
            not translation
            or np.linalg.norm(target.translation_m) <= OTHER_CHANGE_MAX_TRANSLATION_M
            or not plain("shift")
        )
    )


def flat_paste_scale(view: SourceView, perception: Perception) -> float:
    """The scale factor at which the target, where it was recovered, shows as large in the edited image as in the
    source: its distance from the (edited) camera over its distance in the source. A generator that pastes the object's
    pixels at their new place without perspective (moving it away from the camera without shrinking it) leaves the
    recovered object this much larger, an appearance change rather than an unasked scaling."""
    centre = view.target_box.centre
    moved = transform_points(perception.camera.delta, (centre + perception.target.translation_m)[None])[0]
    return float(moved[2] / centre[2]) if centre[2] > 0 and moved[2] > 0 else 1.0


def magnitude_in_range(ratio: float, ratio_range: tuple[float, float] = MAGNITUDE_RATIO_RANGE) -> bool:
    """Whether realised / asked magnitude is of the asked order (``ratio_range``: ``MAGNITUDE_RATIO_RANGE``, or an
    operation's own)."""
    return ratio_range[0] <= ratio <= ratio_range[1]


def recovered_box(view: SourceView, recovery: TargetRecovery) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The box of ``view``'s target after the edit as ``recovery`` says: its source box moved, rotated and scaled."""
    box = view.target_box
    return box.centre + recovery.translation_m, box.size * recovery.scale_factor, recovery.rotation @ box.rotation


def box_tuple(box: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(centre, size, rotation)`` of a :class:`~gsi_metrics.sample.Box3D`."""
    return box.centre, box.size, box.rotation


def reference_edit(view: SourceView, truth: EditTruth) -> reference_protocol.EditMeta:
    """The edit as the reference knows it: ``B0``, the expected box ``B1``, ``K`` and both rotations, in its format."""
    (before, rotation), (after, new_rotation) = (
        reference_box(*box_tuple(b)) for b in (view.target_box, truth.expected_box)
    )
    return reference_protocol.EditMeta(np.array(before), np.array(after), view.intrinsics, rotation, new_rotation)


def _detection(
    box: tuple[np.ndarray, np.ndarray, np.ndarray], pixels: np.ndarray | None, intrinsics: np.ndarray, frame: float
) -> reference_protocol.Detection:
    """A detection of ``box`` whose 2D box is the one around ``pixels`` (else around the box's projection), in the
    detector's frame (``frame`` = its size / the image's)."""
    values, rotation = reference_box(*box)
    if pixels is not None and pixels.any():
        box_2d = mask_box(pixels)
    else:
        box_2d = reference_protocol.projected_box_2d(values, rotation, intrinsics)
    return reference_protocol.Detection(np.array(values), box_2d * frame, rotation)


def reference_detections(
    view: SourceView, perception: Perception
) -> tuple[list[reference_protocol.Detection], list[reference_protocol.Detection]]:
    """What an exact detector of the target's category would report in the source and in the edited image: the target
    and the other instances of its category in view (the row's ``distractors``), from the dataset's boxes and pixels
    in the source and from the recovered boxes and pixels of those still found in the edited image."""
    frame = reference_protocol.DETECTOR_SIZE / max(view.image.shape[:2])
    objects = [(view, perception.target)] + [
        (view.of_distractor(index), perception.distractors.get(instance_id, TargetRecovery(False)))
        for index, instance_id in enumerate(view.distractor_ids)
    ]
    source = [_detection(box_tuple(own.target_box), own.target_mask, view.intrinsics, frame) for own, _ in objects]
    edited = [
        _detection(recovered_box(own, recovery), recovery.mask, view.intrinsics, frame)
        for own, recovery in objects
        if recovery.found
    ]
    return source, edited


def reference_details(score: reference_protocol.ReferenceScore, perception: Perception) -> dict[str, Any]:
    """A ``paper`` score's details: the recovered change and whether the reference's rules kept a candidate."""
    details = recovered_details(perception) if perception.target.found else {"found": False}
    return {**details, "candidate": score.candidate is not None}
