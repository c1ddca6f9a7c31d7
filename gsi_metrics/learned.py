"""Learned measures, plugged in when a user has the models: the multimodal judge of AC (:mod:`gsi_metrics.judge`),
LPIPS of EL (any masked distance ``(source, edited, outside_mask) -> float``, e.g. LPIPS with AlexNet weights, built by
a factory named by its import path), and image features for AC (a ``transformers`` image encoder, e.g. DINOv2: AC is
the cosine similarity of the target's mean descriptor before and after, clipped to [0, 1]). Without them, scoring is
weight-free. A judge, when given, decides AC over the features.

With LPIPS, profile ``paper`` applies the reference's locality gate to both measures (synthetic rows: masked SSIM
> 0.6 and LPIPS < 0.3; photographs: SSIM > 0.6 or LPIPS < 0.3; :func:`~gsi_metrics.reference_protocol.locality_passes`)
and reports EL as ``1 - LPIPS``, as Table 2 does; profile ``gsi`` keeps its SSIM-based EL and records the distance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gsi_metrics.functional.locality import MaskedDistance
from gsi_metrics.judge import Judge, create_judge

__all__ = ["LearnedMeasures", "LearnedSpecs", "feature_consistency", "load_distance"]


@dataclass(frozen=True)
class LearnedMeasures:
    """The judge of AC and the learned distance of EL, each None when not given."""

    judge: Judge | None = None
    lpips: MaskedDistance | None = None
    features: Callable[[np.ndarray], np.ndarray | None] | None = None


def feature_consistency(
    features: Callable[[np.ndarray], np.ndarray | None],
    reference: np.ndarray,
    reference_mask: np.ndarray,
    compared: np.ndarray,
    compared_mask: np.ndarray,
) -> float:
    """AC from image features: the cosine similarity of the mean descriptors of ``reference`` over ``reference_mask``
    and of ``compared`` over ``compared_mask``, clipped to [0, 1]."""
    from gsi_metrics.perception.experts import masked_descriptor

    before = masked_descriptor(features(reference), reference_mask)
    after = masked_descriptor(features(compared), compared_mask)
    cosine = float(before @ after / (np.linalg.norm(before) * np.linalg.norm(after) + 1e-12))
    return min(max(cosine, 0.0), 1.0)


def load_distance(path: str) -> MaskedDistance:
    """The masked distance built by the factory at ``path`` (``"package.module:factory"``, called with no arguments).

    Raises:
        ValueError: a path without ``:``, or one that cannot be imported, or a factory that returns no callable.
    """
    from gsi_metrics.perception.base import imported

    if ":" not in path:
        raise ValueError(f"lpips {path!r}: expected 'package.module:factory'")
    try:
        distance = imported(path)()
    except (ImportError, AttributeError) as error:
        raise ValueError(f"lpips {path!r} cannot be imported: {error}") from error
    if not callable(distance):
        raise ValueError(f"lpips {path!r} built a {type(distance).__name__}, not a distance (source, edited, mask)")
    return distance


@dataclass(frozen=True)
class LearnedSpecs:
    """The learned measures by name, which scoring workers re-create (the objects may hold models).

    Attributes:
        judge: a judge spec (:func:`~gsi_metrics.judge.create_judge`), with ``judge_options``.
        lpips: the import path of a factory of the masked distance.
        ac_features: the model source of an image encoder for AC (``hf-hub:<id>`` or ``local-dir:<path>``;
            :mod:`gsi_metrics.perception.transformers_experts`).
    """

    judge: str | None = None
    judge_options: Mapping[str, Any] = field(default_factory=dict)
    lpips: str | None = None
    ac_features: str | None = None

    def create(self) -> LearnedMeasures:
        """Raises what :func:`~gsi_metrics.judge.create_judge`, :func:`load_distance` and the model sources raise
        for bad specs."""
        judge = create_judge(self.judge, self.judge_options) if self.judge else None
        features = None
        if self.ac_features:
            from gsi_metrics.perception.transformers_experts import load_transformers_experts

            features = load_transformers_experts({"features": self.ac_features}).features
        return LearnedMeasures(judge, load_distance(self.lpips) if self.lpips else None, features)

    def record(self) -> dict[str, Any] | None:
        """What a results manifest and run key record (None when nothing is learned)."""
        if not self.judge and not self.lpips and not self.ac_features:
            return None
        return {"judge": self.judge, "judge_options": dict(self.judge_options), "lpips": self.lpips,
                "ac_features": self.ac_features}  # fmt: skip
