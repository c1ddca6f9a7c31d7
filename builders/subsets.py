"""Scene samplers of the GSI-Syn subsets (the generation side of ``gsi_datasets.schema.SUBSETS``).

A subset's sampler draws an unsettled scene from an rng: objects released just above their supports, a camera
and lights (``gsi_builders.simulation.settle`` settles them). Its config class holds the sampler's ranges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gsi_datasets.scene import Scene
from gsi_datasets.schema import get_subset


class SceneUnusable(RuntimeError):
    """A scene sampler could not finish this draw (no camera frames enough of it); the sample generator counts it
    as a rejection and draws another scene."""


@dataclass(frozen=True)
class SceneSampler:
    """How a subset's scenes are drawn: ``sample(rng, config) -> Scene`` and its default ``config``."""

    sample: Callable[[np.random.Generator, Any], Scene]
    config: Any


def _tabletop() -> SceneSampler:
    from gsi_builders.tabletop import TabletopConfig, sample_tabletop_scene

    return SceneSampler(sample_tabletop_scene, TabletopConfig())


def _room() -> SceneSampler:
    from gsi_builders.room import RoomConfig, sample_room_scene

    return SceneSampler(sample_room_scene, RoomConfig())


#: Subset name -> its scene sampler (made on first use).
SCENE_SAMPLERS: dict[str, Callable[[], SceneSampler]] = {"tabletop": _tabletop, "room": _room}


def scene_sampler(subset: str) -> SceneSampler:
    """The scene sampler of ``subset`` (ValueError for an unknown subset)."""
    get_subset(subset)
    if subset not in SCENE_SAMPLERS:
        raise ValueError(f"subset {subset!r} has no scene sampler (real data is built from captures)")
    return SCENE_SAMPLERS[subset]()
