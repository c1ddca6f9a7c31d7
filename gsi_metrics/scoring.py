"""Per-sample scoring and aggregation: the plain-Python core behind the ``evaluate`` modules and the CLI.

Functional form: :func:`score_sample` (one row and one edited image -> :class:`SampleScore`; :func:`score_profiles`
for several profiles from one perception, :func:`score_perceived` from a perception already made) and
:func:`summarize` (scores -> headline numbers with 95% bootstrap intervals, per operation). Stateful
form: :class:`GSIBenchScorer` (``update`` then ``compute``), the torchmetrics pattern.

Per sample, both profiles produce raw IC (0/1), SA, EL and AC in [0, 1]:
- IC and SA come from the operation's scorer (:mod:`gsi_metrics.operations`);
- EL is :func:`~gsi_metrics.functional.edit_locality` outside the edit region. Profile ``gsi``: the
  target's source mask, its mask in the rendered target (synthetic rows) and its recovered mask in the
  edited image, each dilated by ``EDIT_REGION_PAD_PX`` px, at full resolution. Profile ``paper``: the
  reference's region, the 2D boxes of the original target and of the last edited detection that is not "the same" as
  it (:func:`~gsi_metrics.reference_protocol.locality_boxes`). Camera operations
  change every pixel: their EL compares the edited image with the rendered target view over the whole frame
  (0 without one, i.e. on real data);
- AC is :func:`~gsi_metrics.functional.appearance_consistency` of the target before and after (0 when
  the target is not found), after :func:`~gsi_metrics.functional.match_photometry` has undone the image-wide colour
  change measured outside the edit region (a colour cast, exposure or white balance of the whole image is not a
  change of the target's identity); for camera operations, of the whole frame against the rendered target view; for a
  removal, of the vacated region against the true background (the rendered target image; on real data, the source
  inpainted there, :func:`removal_background`). The
  paper's multimodal judge is not available offline; both profiles use this weight-free measure and say so in
  their results.

Nothing about one sample stops the others, and no sample is dropped: :func:`score_profiles` never raises
for a sample's content. A prediction that cannot be read gets the status of
:data:`~gsi_metrics.predictions.INPUT_STATUSES` (how predictions are read is the input contract of
:mod:`gsi_metrics.predictions`); a row that cannot be decoded is ``bad_reference``; an exception inside
perception or scoring is ``scoring_error`` (a bug of the benchmark, reported with its message). Every such
sample scores 0 on every axis in profile ``gsi`` and is counted in ``status_counts``
(:data:`STATUS_DESCRIPTIONS` says what each status means).
"""

from __future__ import annotations

import os
import traceback
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gsi_datasets.operations import get_operation
from gsi_metrics import reference_protocol
from gsi_metrics.functional import (
    appearance_consistency,
    bootstrap_mean_ci,
    dilate_mask,
    edit_locality,
    match_photometry,
    without_object,
)
from gsi_metrics.judge import Judge
from gsi_metrics.learned import LearnedMeasures, LearnedSpecs, feature_consistency
from gsi_metrics.operations import PROFILES, get_scorer, get_scoring, reference_detections, reference_edit
from gsi_metrics.perception import (
    CameraRecovery,
    Perception,
    PerceptionBackend,
    TargetRecovery,
    create_backend,
    perceive,
)
from gsi_metrics.predictions import INPUT_STATUSES, LoadedPrediction, check_value_range, load_prediction
from gsi_metrics.sample import ScoringSample

EDIT_REGION_PAD_PX = 5
#: Paper profile locality gate on synthetic data (SPEC 6.1): masked SSIM above this (LPIPS unavailable).
PAPER_LOCALITY_SSIM = 0.6
#: What each per-sample status means. Every status but ``ok`` scores 0 on every axis (profile ``gsi``).
STATUS_DESCRIPTIONS: dict[str, str] = {
    "ok": "the edited image was read and perceived, and the target (or, for camera operations, the camera) was found",
    "target_not_found": "the edited image was read, but the target was not found in it (the model's failure)",
    "camera_not_found": "the edited image was read, but its camera could not be located against the source view "
    "(a camera operation; the model's failure)",
    **INPUT_STATUSES,
    "undecidable": "the source view cannot tell the asked change from one it could be mistaken for (a turn from no "
    "turn, the opposite or the double turn, or the recovered turn from itself plus a half turn judged otherwise; "
    "scene-free perception): not counted in the means",
    "bad_reference": "the dataset row could not be decoded (a damaged or malformed row; check the dataset)",
    "scoring_error": "perception or scoring raised an exception (a bug of gsi-bench; the message has the details), or "
    "the worker process scoring the row died even when the row was run alone (a crash in native code, killed, out of "
    "memory)",
}
STATUSES = tuple(STATUS_DESCRIPTIONS)
#: Statuses of samples whose edited image was never perceived (profile ``paper`` skips them, as the reference).
UNPERCEIVED_STATUSES = (*INPUT_STATUSES, "bad_reference", "scoring_error")
#: Statuses of items the edited image cannot decide (``gsi``; never counted in the means).
UNDECIDED_STATUSES = ("undecidable",)
#: Statuses that are not the model's doing: the numbers of a run with any of them are a lower bound.
BENCHMARK_SIDE_STATUSES = ("bad_reference", "scoring_error")
AXES = ("IC", "SA", "EL", "AC")

#: What a prediction may be (the full contract, including array-likes such as tensors: :mod:`gsi_metrics.predictions`).
Prediction = Image.Image | np.ndarray | str | os.PathLike | bytes | Mapping[str, Any] | None


@dataclass
class SampleScore:
    """Raw per-sample scores (in [0, 1]) and what they were computed from.

    Attributes:
        sample_id: the row's id.
        operation: operation name.
        status: one of ``STATUSES``.
        ic: instruction compliance (0 or 1).
        sa: spatial accuracy.
        el: edit locality (ungated).
        ac: appearance consistency (ungated).
        message: why the status is not ``ok``.
        details: recovered change and intermediate quantities (JSON-ready).
    """

    sample_id: str
    operation: str
    status: str
    ic: float = 0.0
    sa: float = 0.0
    el: float = 0.0
    ac: float = 0.0
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def edit_region(sample: ScoringSample, perception: Perception | None, profile: str) -> np.ndarray:
    """Pixels allowed to change (see module docstring), before padding; ``perception`` None: nothing recovered."""
    view = sample.view
    if profile == "paper":
        return _reference_region(sample, perception)
    region = view.target_mask | sample.truth.expected_target_mask(view.target_id, view)
    if perception is not None and perception.target.mask is not None:
        region |= perception.target.mask
    return region


def _reference_region(sample: ScoringSample, perception: Perception | None) -> np.ndarray:
    """The reference's edit region (:func:`~gsi_metrics.reference_protocol.locality_boxes`), from the detector's frame
    to the image's pixels."""
    view = sample.view
    if perception is None:
        perception = Perception(TargetRecovery(False), CameraRecovery(False))
    source, edited = reference_detections(view, perception)
    height, width = view.target_mask.shape
    frame = reference_protocol.DETECTOR_SIZE / max(height, width)
    region = np.zeros((height, width), bool)
    for box in reference_protocol.locality_boxes(reference_edit(view, sample.truth), source, edited):
        left, top, right, bottom = (int(v) for v in np.floor(box / frame + 1e-6))  # the reference truncates too
        region[max(0, top) : min(height, bottom), max(0, left) : min(width, right)] = True
    return region


def score_sample(
    row: Mapping[str, Any] | ScoringSample,
    prediction: Prediction,
    backend: PerceptionBackend | None = None,
    profile: str = "gsi",
    value_range: str = "auto",
) -> SampleScore:
    """Scores one edited image against its dataset row (raw per-sample values; see module docstring).

    ``value_range`` declares the range of array predictions (:data:`~gsi_metrics.predictions.VALUE_RANGES`).
    """
    return score_profiles(row, prediction, backend, (profile,), value_range)[0]


def score_profiles(
    row: Mapping[str, Any] | ScoringSample,
    prediction: Prediction,
    backend: PerceptionBackend | None = None,
    profiles: Sequence[str] = PROFILES,
    value_range: str = "auto",
    measures: LearnedMeasures | None = None,
) -> list[SampleScore]:
    """:func:`score_sample` in each of ``profiles`` (same order), decoding and perceiving once: perception, the
    expensive step, does not depend on the profile. With learned ``measures`` (:mod:`gsi_metrics.learned`), AC is the
    judge's (:func:`judged`) and profile ``paper`` gates and reports EL with LPIPS.

    Never raises for the sample's content (see the module docstring); only for bad arguments.

    Raises:
        ValueError: an unknown profile or ``value_range``.
    """
    for profile in profiles:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    check_value_range(value_range)
    try:
        sample = row if isinstance(row, ScoringSample) else ScoringSample.from_row(row)
        for profile in profiles:
            get_scorer(sample.operation, profile)
    except Exception as error:  # noqa: BLE001 (a damaged row is that row's status)
        message = f"the dataset row could not be decoded ({describe_error(error)})"
        return unscored(row, profiles, "bad_reference", message)
    height, width = sample.view.image.shape[:2]
    loaded = load_prediction(prediction, (width, height), background=sample.view.image, value_range=value_range)
    if loaded.status == "wrong_size" and "paper" in profiles:
        # The reference stretches an output of another aspect ratio to the source's and scores it; profile gsi refuses
        # it (an editor that changed the framing did not edit this image).
        stretched = load_prediction(prediction, (width, height), sample.view.image, value_range, any_aspect_ratio=True)
        scores = unscored(sample, profiles, loaded.status, loaded.message)
        paper = _perceived_scores(sample, stretched, backend, ("paper",), measures)[0]
        scores[list(profiles).index("paper")] = paper
        return scores
    if loaded.image is None:
        return unscored(sample, profiles, loaded.status, loaded.message)
    return _perceived_scores(sample, loaded, backend, profiles, measures)


def _perceived_scores(
    sample: ScoringSample,
    loaded: LoadedPrediction,
    backend: PerceptionBackend | None,
    profiles: Sequence[str],
    measures: LearnedMeasures | None = None,
) -> list[SampleScore]:
    """Perceives a read edited image once and scores it in each of ``profiles`` (``scoring_error`` if that raises)."""
    assert loaded.image is not None
    try:
        measures = measures or LearnedMeasures()
        perception = perceive(backend or create_backend(), sample.view, loaded.image)
        scores = [score_perceived(sample, loaded.image, perception, profile, measures) for profile in profiles]
    except Exception as error:  # noqa: BLE001 (one sample's failure must not stop the run)
        message = f"perception or scoring raised {describe_error(error)}; please report this as a gsi-bench bug"
        return unscored(sample, profiles, "scoring_error", message)
    if measures.judge is not None:
        scores = [
            judged(score, sample, loaded.image, measures.judge, profile)
            for score, profile in zip(scores, profiles, strict=True)
        ]
    return [_with_input_notes(score, loaded) for score in scores]


def judged(score: SampleScore, sample: ScoringSample, edited: np.ndarray, judge: Judge, profile: str) -> SampleScore:
    """``score`` with the judge's AC (its 0-10 score / 10), the weight-free AC kept in ``details["ac_weight_free"]``
    and the judgement in ``details["judge"]``.

    The judge is asked only when the sample complies (IC > 0): AC counts for no other sample, in either profile. An
    unreadable answer or a failed request is AC 0 in profile ``paper`` (the reference's rule, which then zeroes the
    sample) and, in profile ``gsi``, leaves the AC it had in place (weight-free, or from image features); either way
    the judgement says so.
    """
    if not score.ic > 0:
        return replace(score, details={**score.details, "judge": {"status": "not_asked"}})
    judgement = judge.rate(sample.view.image, edited, sample.view.instruction, profile)
    details = {
        **score.details,
        "judge": judgement.to_dict(),
        "ac_weight_free": score.details.get("ac_weight_free", score.ac),
    }
    if judgement.status == "ok":
        return replace(score, ac=judgement.score / 10.0, details=details)
    return replace(score, ac=0.0 if profile == "paper" else score.ac, details=details)


def describe_error(error: BaseException) -> str:
    """``Type: message (at file:line)`` of an exception, naming the innermost frame."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"


def _with_input_notes(score: SampleScore, loaded: LoadedPrediction) -> SampleScore:
    if loaded.notes:
        score.details["input"] = loaded.notes
    return score


def unscored(
    row: Mapping[str, Any] | ScoringSample, profiles: Sequence[str], status: str, message: str
) -> list[SampleScore]:
    """The scores (0 on every axis) of a sample that was not perceived, one per profile."""
    if isinstance(row, ScoringSample):
        sample_id, operation = row.sample_id, row.operation
    else:
        sample_id, operation = _row_identity(row)
    return [SampleScore(sample_id, operation, status, message=message) for _ in profiles]


def _row_identity(row: Any) -> tuple[str, str]:
    """Sample id and operation name of a row that may be damaged (``?`` for what cannot be read)."""
    from gsi_datasets.schema import operation_name

    try:
        sample_id = str(row["sample_id"])
    except Exception:  # noqa: BLE001
        sample_id = "?"
    try:
        operation = operation_name(row["operation"])
    except Exception:  # noqa: BLE001
        operation = "?"
    return sample_id, operation


def removal_background(sample: ScoringSample) -> np.ndarray:
    """What the vacated region of a removal should look like: the rendered target image (synthetic rows, the true
    background), else the source with the target's pixels inpainted from their surroundings (Telea), a plausible
    fill when no truth exists."""
    if sample.truth.expected_image is not None:
        return sample.truth.expected_image
    return without_object(sample.view.image, sample.view.target_mask)


def score_perceived(
    sample: ScoringSample,
    edited: np.ndarray,
    perception: Perception,
    profile: str,
    measures: LearnedMeasures | None = None,
) -> SampleScore:
    """Scores a decoded edited image (``(H, W, 3)`` uint8 at the source size) from what perception recovered. With
    learned ``measures`` (:mod:`gsi_metrics.learned`): LPIPS makes profile ``paper``'s locality gate and EL the
    reference's, image features give AC (the weight-free AC is kept in ``details["ac_weight_free"]``)."""
    measures = measures or LearnedMeasures()
    view, truth = sample.view, sample.truth
    scoring = get_scoring(sample.operation)
    compliance = scoring.scorer(profile)(view, truth, perception, edited)
    compliance = scoring.with_learned(compliance, truth, edited, profile, measures)
    if view.object_target:
        region = dilate_mask(edit_region(sample, perception, profile), EDIT_REGION_PAD_PX)
        locality = edit_locality(view.image, edited, region)
        found = perception.target.found
        # AC is judged relative to how the rest of the image changed: an image-wide colour change is undone first.
        matched = match_photometry(view.image, edited, ~region)
        if get_operation(sample.operation).change == "object_removed":
            # The vacated region against what was behind the target (or, without it, a plausible fill).
            found = True
            compared = (removal_background(sample), view.target_mask, matched, view.target_mask)
        elif found and perception.target.mask is not None:
            compared = (view.image, view.target_mask, matched, perception.target.mask)
        else:
            compared = None
        missing = "target_not_found", "the target was not found in the edited image"
    else:
        # A camera operation changes every pixel: compare the whole frame with the rendered target view.
        whole = np.ones(edited.shape[:2], bool)
        expected = truth.expected_image
        locality = edit_locality(expected, edited, ~whole) if expected is not None else None
        found = perception.camera.found
        compared = (expected, whole, edited, whole) if expected is not None and found else None
        missing = "camera_not_found", "the edited image's camera could not be located against the source view"
    ac = float(appearance_consistency(*compared).score) if compared is not None else 0.0
    learned_ac = {}
    if compared is not None and measures.features is not None:
        learned_ac = {"ac_weight_free": ac, "ac_features": feature_consistency(measures.features, *compared)}
        ac = learned_ac["ac_features"]
    ic = compliance.ic
    el = float(locality.score) if locality is not None else 0.0
    distance = None
    if profile == "paper" and view.object_target and not locality.empty:
        if measures.lpips is None:  # SSIM alone: LPIPS needs weights
            passes = locality.ssim > PAPER_LOCALITY_SSIM
        else:
            distance = float(measures.lpips(view.image, edited, ~region))
            photograph = truth.expected_instances is None  # no rendered target: a real capture (GSI-Real)
            passes = reference_protocol.locality_passes(locality.ssim, distance, real=photograph)
            el = 1.0 - min(max(distance, 0.0), 1.0)
        if not passes:
            ic, compliance = 0.0, type(compliance)(0.0, 0.0, {**compliance.details, "locality_gate": "failed"})
    details = {
        **compliance.details,
        "el_lpips": distance,
        **learned_ac,
        "el_ssim": None if locality is None else locality.ssim,
        "el_psnr_db": None if locality is None else locality.psnr_db,
        "camera_rotation_deg": perception.camera.rotation_deg,
        "camera_translation_m": perception.camera.translation_m,
        # A reframed output (cropped, shifted, resized): the shift and zoom that brings the source frame onto it.
        "image_warp": None if perception.camera.image_warp is None else perception.camera.image_warp.tolist(),
    }
    return SampleScore(
        sample_id=sample.sample_id,
        operation=sample.operation,
        status=compliance.status or ("ok" if found else missing[0]),
        ic=float(ic),
        sa=float(compliance.sa),
        el=el,
        ac=ac,
        message=STATUS_DESCRIPTIONS[compliance.status] if compliance.status else "" if found else missing[1],
        details=details,
    )


def _headline(score: SampleScore, profile: str) -> dict[str, float] | None:
    """Per-sample headline values (in [0, 1]) after the profile's gating; None = not counted (paper skips)."""
    if score.status in UNDECIDED_STATUSES:
        return None  # no answer is right or wrong here; counted in the summary
    if profile == "paper":
        if score.status in UNPERCEIVED_STATUSES:
            return None  # the reference silently skips these (SPEC 6.2, defect 4); counted in the summary
        return dict(zip(AXES, reference_protocol.gated(score.ic, score.sa, score.el, score.ac), strict=True))
    return {"IC": score.ic, "SA": score.sa, "EL": score.el * score.ic, "AC": score.ac * score.ic}


def _axis_summary(values: list[dict[str, float]], seed: int) -> dict[str, Any]:
    summary: dict[str, Any] = {"n": len(values)}
    for axis in AXES:
        mean, low, high = bootstrap_mean_ci([v[axis] for v in values], seed=seed)
        summary[axis] = 100 * mean
        summary[f"{axis}_ci95"] = [100 * low, 100 * high]
    summary["Avg"] = float(np.mean([summary[axis] for axis in AXES])) if values else float("nan")
    return summary


def summarize(scores: Iterable[SampleScore], profile: str = "gsi", seed: int = 0) -> dict[str, Any]:
    """Headline IC / SA / EL / AC / Avg (0-100) overall and per operation, with 95% bootstrap intervals,
    status counts, (profile ``gsi``) EL and AC conditional on compliance, and ``warnings`` (a list of sentences)
    when samples failed for reasons that are not the model's (:data:`BENCHMARK_SIDE_STATUSES`)."""
    scores = list(scores)
    counted = [(s, _headline(s, profile)) for s in scores]
    counted = [(s, h) for s, h in counted if h is not None]
    result: dict[str, Any] = {
        "profile": profile,
        "num_samples": len(scores),
        "num_counted": len(counted),
        "status_counts": dict(Counter(s.status for s in scores)),
        "overall": _axis_summary([h for _, h in counted], seed),
        "per_operation": {
            operation: _axis_summary([h for s, h in counted if s.operation == operation], seed)
            for operation in sorted({s.operation for s in scores})
        },
    }
    compliant = [s for s, _ in counted if s.ic > 0]
    result["conditional_on_compliance"] = {
        "n": len(compliant),
        "EL": 100 * float(np.mean([s.el for s in compliant])) if compliant else float("nan"),
        "AC": 100 * float(np.mean([s.ac for s in compliant])) if compliant else float("nan"),
    }
    result["warnings"] = [
        f"{count} sample(s) have status {status} ({STATUS_DESCRIPTIONS[status]}); they score 0, so these numbers are a"
        " lower bound for the model"
        for status, count in sorted(result["status_counts"].items())
        if status in BENCHMARK_SIDE_STATUSES
    ]
    judged_counts = Counter(s.details["judge"]["status"] for s in scores if "judge" in s.details)
    if judged_counts:
        result["judge_counts"] = dict(judged_counts)
        unanswered = judged_counts["unparsable"] + judged_counts["failed"]
        if unanswered:
            fallback = "AC 0, as the reference scores them" if profile == "paper" else "the weight-free AC"
            result["warnings"].append(
                f"the judge gave no readable score for {unanswered} compliant sample(s) ({judged_counts['unparsable']}"
                f" unparsable, {judged_counts['failed']} failed); they have {fallback} (see details.judge)"
            )
    return result


class GSIBenchScorer:
    """Stateful accumulator: ``update(row, prediction)`` per sample, then ``compute()``; with a ``judge`` (a spec of
    :func:`~gsi_metrics.judge.create_judge` and its options), ``lpips`` (the import path of a masked distance's
    factory) or ``ac_features`` (an image encoder's model source), the learned measures of :mod:`gsi_metrics.learned`
    apply.

    ``value_range`` declares the range of array predictions (:data:`~gsi_metrics.predictions.VALUE_RANGES`).
    """

    def __init__(
        self,
        profile: str = "gsi",
        backend: str | PerceptionBackend = "classical",
        value_range: str = "auto",
        judge: str | None = None,
        judge_options: Mapping[str, Any] | None = None,
        lpips: str | None = None,
        ac_features: str | None = None,
        **backend_config: Any,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
        check_value_range(value_range)
        self.profile = profile
        self.value_range = value_range
        self.backend = create_backend(backend, **backend_config) if isinstance(backend, str) else backend
        self.measures = LearnedSpecs(judge, dict(judge_options or {}), lpips, ac_features).create()
        self.scores: list[SampleScore] = []

    def update(self, row: Mapping[str, Any], prediction: Prediction) -> SampleScore:
        (score,) = score_profiles(row, prediction, self.backend, (self.profile,), self.value_range, self.measures)
        self.scores.append(score)
        return score

    def compute(self) -> dict[str, Any]:
        return summarize(self.scores, self.profile)

    def reset(self) -> None:
        self.scores.clear()
