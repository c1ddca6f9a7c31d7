"""OR generation: a turn in place about the vertical by 45, 90 or 180 degrees, clockwise or counterclockwise (from
above), never by a symmetry of the object."""

from __future__ import annotations

import numpy as np

from gsi_builders.operations import (
    UP,
    CounterfactualStates,
    EditProposal,
    OperationGenerator,
    Rejected,
    moved_object,
    object_counterfactuals,
    register_generator,
)
from gsi_datasets.assets import get_category
from gsi_datasets.geometry import rotation_about_axis
from gsi_datasets.operations import Command
from gsi_datasets.operations.object_rotate import RotateCommand
from gsi_datasets.scene import Scene, SceneObject


@register_generator
class ObjectRotate(OperationGenerator):
    name = "object_rotate"

    def propose(self, scene: Scene, target: SceneObject | None, rng: np.random.Generator) -> EditProposal:
        category = get_category(target.category)
        angles = [a for a in (45, 90, 180) if not category.is_symmetry(a)]
        if not angles:
            raise Rejected("rotation_symmetric_object")
        angle = int(rng.choice(angles))
        direction = str(rng.choice(["clockwise", "counterclockwise"]))
        # Seen from above (looking down -z), a positive right-handed turn about +z is counterclockwise.
        signed = angle if direction == "counterclockwise" else -angle
        rotation = rotation_about_axis(UP, signed) @ target.pose.rotation
        target_scene = scene.with_object(moved_object(target, np.array(target.pose.position), rotation))
        return self.proposal(scene, target, target_scene, RotateCommand(direction, float(angle)), rng)

    def counterfactual_states(
        self,
        source: Scene,
        oracle: Scene,
        target_id: int | None,
        reference_id: int | None,
        command: Command,
        rng: np.random.Generator,
    ) -> CounterfactualStates:
        """Angle x0.5 / x1.5 / x2 and the opposite sense."""
        return object_counterfactuals(source, oracle, target_id, (0.5, 1.5, 2.0), "opposite")[2]
