"""A perception backend defined outside gsi-bench (imported by worker processes through its import path)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from gsi_metrics.perception import Perception, create_backend
from gsi_metrics.sample import SourceView


class FeaturesOnlyBackend:
    """The classical backend on features alone (SIFT and PnP), under another name."""

    name = "features-only"

    def __init__(self, min_target_inliers: int = 6) -> None:
        self._inner = create_backend("classical", perception="features", min_target_inliers=min_target_inliers)
        self._config = {"min_target_inliers": min_target_inliers}

    def config(self) -> dict[str, Any]:
        return dict(self._config)

    def perceive(self, view: SourceView, edited: np.ndarray) -> Perception:
        return self._inner.perceive(view, edited)


class ChangeSegmenter:
    """Experts for scene-free perception (:mod:`gsi_metrics.perception.experts`) without weights: the "segment" of a
    category is the largest region that changed from the last source image seen by ``features``; counts its calls."""

    calls = 0

    def __init__(self) -> None:
        self._source: np.ndarray | None = None

    def features(self, image: np.ndarray) -> np.ndarray:
        if self._source is None:
            self._source = image
        return image[::8, ::8].astype(np.float32)

    def segment(self, edited: np.ndarray, category: str) -> list[np.ndarray]:
        type(self).calls += 1
        if self._source is None:
            return []
        changed = (np.abs(edited.astype(int) - self._source.astype(int)).max(axis=2) > 40).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(changed)
        if count < 2:
            return []
        largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        return [labels == largest]


def change_segmenter() -> ChangeSegmenter:
    """The factory ``experts="tests.gsi_metrics.external_backend:change_segmenter"`` names."""
    return ChangeSegmenter()
