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
  reference's region, the 2D boxes of the original target and of the recovered target;
- AC is :func:`~gsi_metrics.functional.appearance_consistency` of the target before and after (0 when
  the target is not found). The paper's multimodal judge is not available offline; both profiles use
  this weight-free measure and say so in their results.

Bad predictions never crash a run and are never dropped: a missing file or ``None`` is ``missing``, an
undecodable file ``unreadable``, an image whose aspect ratio differs from the source ``wrong_size``; each
scores 0 on every axis and is counted. (Images of the source's aspect ratio but another resolution are
resized to the source's, bilinearly.)
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from gsi_metrics.functional import appearance_consistency, bootstrap_mean_ci, dilate_mask, edit_locality
from gsi_metrics.operations import PROFILES, get_scorer
from gsi_metrics.perception import Perception, PerceptionBackend, create_backend
from gsi_metrics.sample import SourceSample

EDIT_REGION_PAD_PX = 5
#: Paper profile locality gate on synthetic data (SPEC 6.1): masked SSIM above this (LPIPS unavailable).
PAPER_LOCALITY_SSIM = 0.6
STATUSES = ("ok", "missing", "unreadable", "wrong_size", "target_not_found")
AXES = ("IC", "SA", "EL", "AC")

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


def load_prediction(prediction: Prediction, size: tuple[int, int]) -> tuple[np.ndarray | None, str, str]:
    """Decodes an edited image to ``(H, W, 3)`` uint8 at the source ``size = (width, height)``.

    Returns:
        ``(image or None, status, message)`` with status ``ok``, ``missing``, ``unreadable`` or ``wrong_size``.
    """
    if isinstance(prediction, Mapping):  # a `datasets` Image value that was not decoded: {"bytes", "path"}
        prediction = prediction.get("bytes") or prediction.get("path")
    if prediction is None:
        return None, "missing", "no prediction was given for this sample"
    if isinstance(prediction, (str, os.PathLike)):
        path = Path(prediction)
        if not path.is_file():
            return None, "missing", f"prediction file {path} does not exist"
        prediction = path.read_bytes()
    if isinstance(prediction, bytes):
        try:
            image = Image.open(io.BytesIO(prediction))
            image.load()
        except (UnidentifiedImageError, OSError, ValueError) as error:
            return None, "unreadable", f"prediction could not be decoded as an image ({error})"
        prediction = image
    if isinstance(prediction, Image.Image):
        array = np.array(prediction.convert("RGB"))
    elif isinstance(prediction, np.ndarray):
        array = prediction
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            return None, "unreadable", f"prediction array has shape {array.shape}; expected (H, W, 3)"
        if array.dtype != np.uint8:
            if np.issubdtype(array.dtype, np.floating) and array.size and array.max() <= 1.0:
                array = array * 255.0
            array = np.clip(np.round(array), 0, 255).astype(np.uint8)
        array = array[..., :3]
    else:
        return None, "unreadable", f"prediction of type {type(prediction).__name__} is not an image"
    width, height = size
    if array.shape[:2] != (height, width):
        if abs(array.shape[1] / array.shape[0] - width / height) > 0.01:
            return (
                None,
                "wrong_size",
                (
                    f"prediction is {array.shape[1]}x{array.shape[0]}, the source is "
                    f"{width}x{height}: aspect ratios differ"
                ),
            )
        array = cv2.resize(array, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(array), "ok", ""


def _box_region(shape: tuple[int, int], masks: Iterable[np.ndarray | None]) -> np.ndarray:
    region = np.zeros(shape, bool)
    for mask in masks:
        if mask is not None and mask.any():
            rows, cols = np.nonzero(mask)
            region[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = True
    return region


def edit_region(sample: SourceSample, recovered_mask: np.ndarray | None, profile: str) -> np.ndarray:
    """Pixels allowed to change (see module docstring), before padding."""
    masks = [sample.target_mask, recovered_mask]
    if profile == "paper":
        return _box_region(sample.target_mask.shape, masks)
    region = np.zeros(sample.target_mask.shape, bool)
    for mask in (*masks, sample.expected_target_mask):
        if mask is not None:
            region |= mask
    return region


def score_sample(
    row: Mapping[str, Any] | SourceSample,
    prediction: Prediction,
    backend: PerceptionBackend | None = None,
    profile: str = "gsi",
) -> SampleScore:
    """Scores one edited image against its dataset row (raw per-sample values; see module docstring)."""
    return score_profiles(row, prediction, backend, (profile,))[0]


def score_profiles(
    row: Mapping[str, Any] | SourceSample,
    prediction: Prediction,
    backend: PerceptionBackend | None = None,
    profiles: Sequence[str] = PROFILES,
) -> list[SampleScore]:
    """:func:`score_sample` in each of ``profiles`` (same order), decoding and perceiving once: perception, the
    expensive step, does not depend on the profile."""
    for profile in profiles:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    sample = row if isinstance(row, SourceSample) else SourceSample.from_row(row)
    for profile in profiles:
        get_scorer(sample.operation, profile)  # an unscored operation fails before any work
    height, width = sample.image.shape[:2]
    edited, status, message = load_prediction(prediction, (width, height))
    if edited is None:
        return [SampleScore(sample.sample_id, sample.operation, status, message=message) for _ in profiles]
    perception = (backend or create_backend()).perceive(sample, edited)
    return [score_perceived(sample, edited, perception, profile) for profile in profiles]


def score_perceived(sample: SourceSample, edited: np.ndarray, perception: Perception, profile: str) -> SampleScore:
    """Scores a decoded edited image (``(H, W, 3)`` uint8 at the source size) from what perception recovered."""
    scorer = get_scorer(sample.operation, profile)
    compliance = scorer(sample, perception)
    region = dilate_mask(edit_region(sample, perception.target.mask, profile), EDIT_REGION_PAD_PX)
    locality = edit_locality(sample.image, edited, region)
    ic = compliance.ic
    if profile == "paper" and not locality.ssim > PAPER_LOCALITY_SSIM and not locality.empty:
        ic, compliance = 0.0, type(compliance)(0.0, 0.0, {**compliance.details, "locality_gate": "failed"})
    found = perception.target.found and perception.target.mask is not None
    appearance = (
        appearance_consistency(sample.image, sample.target_mask, edited, perception.target.mask) if found else None
    )
    details = {
        **compliance.details,
        "el_ssim": locality.ssim,
        "el_psnr_db": locality.psnr_db,
        "camera_rotation_deg": perception.camera.rotation_deg,
        "camera_translation_m": perception.camera.translation_m,
    }
    return SampleScore(
        sample_id=sample.sample_id,
        operation=sample.operation,
        status="ok" if perception.target.found else "target_not_found",
        ic=float(ic),
        sa=float(compliance.sa),
        el=float(locality.score),
        ac=float(appearance.score) if appearance is not None else 0.0,
        message="" if perception.target.found else "the target was not found in the edited image",
        details=details,
    )


def _headline(score: SampleScore, profile: str) -> dict[str, float] | None:
    """Per-sample headline values (in [0, 1]) after the profile's gating; None = not counted (paper skips)."""
    if profile == "paper":
        if score.status in ("missing", "unreadable", "wrong_size"):
            return None  # the reference silently skips these (SPEC 6.2, defect 4); counted in the summary
        ic, sa, el, ac = score.ic, score.sa, score.el * (score.ic > 0), score.ac * (score.ic > 0)
        if score.ac == 0.0:
            ic, el = 0.0, 0.0  # reference: an AC of 0 zeroes IC, SA and EL
            sa = 0.0
        return {"IC": ic, "SA": sa, "EL": el, "AC": ac}
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
    status counts, and (profile ``gsi``) EL and AC conditional on compliance."""
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
    return result


class GSIBenchScorer:
    """Stateful accumulator: ``update(row, prediction)`` per sample, then ``compute()``."""

    def __init__(
        self, profile: str = "gsi", backend: str | PerceptionBackend = "classical", **backend_config: Any
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
        self.profile = profile
        self.backend = create_backend(backend, **backend_config) if isinstance(backend, str) else backend
        self.scores: list[SampleScore] = []

    def update(self, row: Mapping[str, Any], prediction: Prediction) -> SampleScore:
        score = score_sample(row, prediction, self.backend, self.profile)
        self.scores.append(score)
        return score

    def compute(self) -> dict[str, Any]:
        return summarize(self.scores, self.profile)

    def reset(self) -> None:
        self.scores.clear()
