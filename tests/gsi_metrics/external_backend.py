"""A perception backend defined outside gsi-bench (imported by worker processes through its import path)."""

from __future__ import annotations

from typing import Any

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
