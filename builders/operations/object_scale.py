"""OS generation: uniform scaling by 0.5, 0.75, 1.5 or 2 about the object's contact point, so it stays on its
support (and, on a shelf, under the board above)."""

from __future__ import annotations

import numpy as np

from gsi_builders.operations import (
    CounterfactualStates,
    EditProposal,
    OperationGenerator,
    Rejected,
    moved_object,
    object_counterfactuals,
    register_generator,
)
from gsi_builders.supports import fits_under_clearance, footprint_is_free, footprint_radius, lowest_point_z
from gsi_datasets.operations import Command
from gsi_datasets.operations.object_scale import ScaleCommand
from gsi_datasets.rendering import asset_of
from gsi_datasets.scene import Scene, SceneObject


@register_generator
class ObjectScale(OperationGenerator):
    name = "object_scale"

    def propose(self, scene: Scene, target: SceneObject | None, rng: np.random.Generator) -> EditProposal:
        factor = float(rng.choice([0.5, 0.75, 1.5, 2.0]))
        centre = np.array(target.pose.position)
        contact_z = lowest_point_z(target)
        position = centre.copy()
        position[2] = contact_z + factor * (centre[2] - contact_z)
        scaled = moved_object(target, position, scale=target.scale * factor)
        if not footprint_is_free(scene, target, position[:2], footprint_radius(scaled)):
            raise Rejected("scaled_footprint_blocked")
        if factor < 1.0 and asset_of(scaled).size.min() < 0.006:
            raise Rejected("scaled_too_small")
        if not fits_under_clearance(scene, target, float(asset_of(scaled).size[2])):
            raise Rejected("scaled_above_clearance")
        return self.proposal(scene, target, scene.with_object(scaled), ScaleCommand.of(factor), rng)

    def counterfactual_states(
        self,
        source: Scene,
        oracle: Scene,
        target_id: int | None,
        reference_id: int | None,
        command: Command,
        rng: np.random.Generator,
    ) -> CounterfactualStates:
        """Log factor x0.5 / x1.5 and the inverse factor."""
        return object_counterfactuals(source, oracle, target_id, (0.5, 1.5), "inverse")[2]
