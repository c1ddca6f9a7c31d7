"""CM generation: a move of 5-20 cm (whole centimetres) left / right / forward / back in the support plane."""

from __future__ import annotations

import dataclasses

import numpy as np

from gsi_builders.operations import (
    CounterfactualStates,
    EditProposal,
    OperationGenerator,
    Rejected,
    ground_directions,
    moved_object,
    object_counterfactuals,
    register_generator,
)
from gsi_builders.supports import footprint_is_free, footprint_radius
from gsi_datasets.geometry import rotation_about_axis
from gsi_datasets.operations import Command
from gsi_datasets.operations.camera_relative_move import MoveCommand
from gsi_datasets.scene import Scene, SceneObject


@register_generator
class CameraRelativeMove(OperationGenerator):
    name = "camera_relative_move"

    def propose(self, scene: Scene, target: SceneObject | None, rng: np.random.Generator) -> EditProposal:
        direction = str(rng.choice(["left", "right", "forward", "back"]))
        distance_cm = int(rng.integers(5, 21))
        position = np.array(target.pose.position) + ground_directions(scene)[direction] * distance_cm / 100.0
        if not footprint_is_free(scene, target, position[:2], footprint_radius(target)):
            raise Rejected("move_blocked")
        command = MoveCommand(direction, distance_cm / 100.0)
        return self.proposal(scene, target, scene.with_object(moved_object(target, position)), command, rng)

    def counterfactual_states(
        self,
        source: Scene,
        oracle: Scene,
        target_id: int | None,
        reference_id: int | None,
        command: Command,
        rng: np.random.Generator,
    ) -> CounterfactualStates:
        """Distance x0.5 / x1.5 / x2, the opposite direction and an orthogonal one."""
        change, target, states = object_counterfactuals(source, oracle, target_id, (0.5, 1.5, 2.0), "opposite")
        turn = rotation_about_axis(np.array([0.0, 0.0, 1.0]), float(rng.choice([-90.0, 90.0])))[:2, :2]
        orthogonal = dataclasses.replace(change, shift_xy=turn @ change.shift_xy)
        states["direction/orthogonal"] = ("direction", orthogonal.applied(source, target))
        return states
