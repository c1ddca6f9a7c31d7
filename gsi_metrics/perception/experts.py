"""Learned experts for scene-free perception: one small interface through which models (a metric depth estimator, an
open-vocabulary segmenter, a dense feature extractor; ``transformers`` models, say) tell the estimator where the target
may be in the edited image. Weight-free stays the default: without experts nothing here runs.

An experts object implements any of :class:`PerceptionExperts`' three methods (a missing one, or one returning None,
is "not provided"). The classical backend loads it from the import path of a factory that takes no arguments
(``create_backend("classical", experts="my_package.experts:build")``, or ``--backend-option
experts=my_package.experts:build`` on the command line), once per process; the path is part of the backend's
configuration, so results record which experts scored them. ``transformers`` models (metric depth, open-vocabulary
detection, image features) plug in ready-made: ``--backend-option 'experts={depth: hf-hub:<id>, detector: ...}'``
(:mod:`gsi_metrics.perception.transformers_experts`).

What the estimator does with them (:func:`target_proposals`): each segment of the target's category, and the place
whose features best match the target's source features, is a proposal where the target shows; a depth map of the
edited image puts each proposal at its measured depth instead of on the support plane. Proposals only start the search
(:class:`~gsi_metrics.perception.render_compare.PoseSearch`); the image still decides between them and every other
start, so a wrong proposal costs renders, not accuracy.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from gsi_metrics.perception.base import imported
from gsi_metrics.sample import SourceView


@dataclass(frozen=True)
class TargetProposal:
    """Where the target may show in the edited image: a pixel ``(u, v)`` of the full-size image, and its depth (m)
    when a depth expert measured it."""

    pixel: tuple[float, float]
    depth_m: float | None = None


@dataclass(frozen=True)
class ExpertRequest:
    """What perceiving one row may ask the experts: features of the source and edited images, the edited image's
    depth, and segments of each category in it (the target's, the reference object's)."""

    source: np.ndarray
    edited: np.ndarray
    categories: tuple[str, ...]


@runtime_checkable
class PerceptionExperts(Protocol):
    """Optional learned components (implement any subset; return None for "not provided"). Experts that batch may
    also have ``prefetch(requests: Sequence[ExpertRequest])``, called with the coming rows before they are perceived
    one by one."""

    def edited_depth(self, edited: np.ndarray) -> np.ndarray | None:
        """Metric depth (m, ``(H, W)`` float) of the edited RGB image ``(H, W, 3)`` uint8."""
        ...

    def segment(self, edited: np.ndarray, category: str) -> list[np.ndarray] | None:
        """Masks ``(H, W)`` bool of the instances of ``category`` in the edited image, best first."""
        ...

    def features(self, image: np.ndarray) -> np.ndarray | None:
        """Dense descriptors ``(h, w, C)`` of an RGB image (any grid; it is stretched over the image)."""
        ...


def load_experts(spec: str | Mapping[str, Any]) -> PerceptionExperts:
    """The experts of ``spec``, once per process: built by the factory at an import path (``"package.module:factory"``,
    called with no arguments), or ``transformers`` models named by a mapping (``{depth: hf-hub:..., detector: ...}``;
    :mod:`gsi_metrics.perception.transformers_experts`).

    Raises:
        ValueError: a path without ``:``, a module or factory that cannot be imported, a factory that returns
            something with none of the three methods, or a bad mapping.
    """
    if isinstance(spec, Mapping):
        from gsi_metrics.perception.transformers_experts import load_transformers_experts

        return load_transformers_experts(spec)
    return _load(spec)


@functools.lru_cache(maxsize=4)
def _load(path: str) -> PerceptionExperts:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"experts {path!r}: expected 'package.module:factory'")
    try:
        factory = imported(path)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"experts {path!r} cannot be imported: {error}") from error
    experts = factory()
    if not any(callable(getattr(experts, name, None)) for name in ("edited_depth", "segment", "features")):
        raise ValueError(
            f"experts {path!r} built {type(experts).__name__}, which has none of edited_depth, segment, features"
        )
    return experts


def expert_request(view: SourceView, edited: np.ndarray) -> ExpertRequest:
    """What perceiving ``edited`` against ``view`` asks the experts (see :func:`target_proposals`)."""
    categories = (view.target_category, view.reference_category)
    return ExpertRequest(view.image, edited, tuple(dict.fromkeys(c for c in categories if c)))


def _call(experts: Any, name: str, *args: Any) -> Any:
    method = getattr(experts, name, None)
    return method(*args) if callable(method) else None


def target_proposals(experts: Any, view: SourceView, edited: np.ndarray, limit: int = 3) -> list[TargetProposal]:
    """Where the experts say the target shows in ``edited``: the centroids of the ``limit`` largest segments of its
    category, and the best match of its source features; each at the edited depth there, when a depth map is given."""
    height, width = edited.shape[:2]
    regions: list[np.ndarray] = []
    if view.target_category:
        masks = _call(experts, "segment", edited, view.target_category) or []
        for mask in masks[:limit]:
            mask = np.asarray(mask, bool)
            if mask.shape != (height, width):
                raise ValueError(f"segment returned a mask of shape {mask.shape}; expected {(height, width)}")
            if mask.any():
                regions.append(mask)
    source_features = _call(experts, "features", view.image)
    edited_features = _call(experts, "features", edited) if source_features is not None else None
    if edited_features is not None:
        regions.append(_best_feature_match(source_features, edited_features, view.target_mask, (height, width)))
    depth = _call(experts, "edited_depth", edited)
    if depth is not None and np.shape(depth) != (height, width):
        raise ValueError(f"edited_depth returned shape {np.shape(depth)}; expected {(height, width)}")
    proposals = []
    for region in regions:
        rows, columns = np.nonzero(region)
        measured = None
        if depth is not None:
            values = np.asarray(depth, float)[rows, columns]
            values = values[np.isfinite(values) & (values > 0)]
            measured = float(np.median(values)) if values.size else None
        proposals.append(TargetProposal((float(columns.mean()), float(rows.mean())), measured))
    return proposals


def masked_descriptor(grid: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mean of a descriptor grid ``(h, w, C)`` (stretched over the image) over the pixels of ``mask`` (``(H, W)``
    bool), each cell weighted by the share of it the mask covers; a mask smaller than one cell takes the cell under
    its centroid."""
    grid = np.asarray(grid, np.float32)
    height, width = mask.shape
    small = cv2.resize(mask.astype(np.uint8), (grid.shape[1], grid.shape[0]), interpolation=cv2.INTER_AREA)
    weights = small.astype(np.float32)
    if weights.sum() == 0:
        rows, columns = np.nonzero(mask)
        weights[int(rows.mean() * grid.shape[0] / height), int(columns.mean() * grid.shape[1] / width)] = 1.0
    return (grid * weights[..., None]).sum(axis=(0, 1)) / weights.sum()


def _best_feature_match(
    source: np.ndarray, edited: np.ndarray, target_mask: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """The pixels (a small disc, full size) where the edited descriptors are most similar (cosine) to the mean
    descriptor of the target's source pixels."""
    height, width = shape
    descriptor = masked_descriptor(source, target_mask)
    edited = np.asarray(edited, np.float32)
    similarity = edited @ descriptor / (np.linalg.norm(edited, axis=2) * np.linalg.norm(descriptor) + 1e-9)
    row, column = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
    centre = ((column + 0.5) * width / similarity.shape[1], (row + 0.5) * height / similarity.shape[0])
    disc = np.zeros(shape, np.uint8)
    cv2.circle(disc, (int(centre[0]), int(centre[1])), 2, 1, -1)
    return disc > 0
