"""OP generation: the target's centre goes 5-30 cm (whole centimetres) to the left / right / front / back of another
object's centre on the same support surface, along the camera-relative ground directions.

Rules of its own: the reference object stands on the target's surface (the target stays on its support); the
distance is drawn from the range in which both footprints clear each other, so no placement is forced; the target
is not already on the asked side of the reference (within 45 degrees of the asked direction: then an unchanged
image would look compliant), and it moves at least 5 cm. The (reference, side) pairs are tried in a random order
until one is feasible.
"""

from __future__ import annotations

import numpy as np

from gsi_builders.operations import (
    CounterfactualStates,
    EditProposal,
    OperationGenerator,
    Rejected,
    ground_directions,
    moved_object,
    register_generator,
)
from gsi_builders.supports import FOOTPRINT_MARGIN_M, footprint_is_free, footprint_radius
from gsi_datasets.geometry import rotation_about_axis
from gsi_datasets.operations import Command
from gsi_datasets.operations.object_relative_place import RELATIONS, PlaceCommand
from gsi_datasets.scene import Scene, SceneObject

DISTANCE_RANGE_CM = (5, 30)
MIN_MOVE_M = 0.05


def _xy(scene_object: SceneObject) -> np.ndarray:
    return np.array(scene_object.pose.position[:2])


def placed(scene: Scene, target: SceneObject, xy: np.ndarray) -> Scene | None:
    """``scene`` with ``target`` at ``xy`` on its surface, or None when its footprint does not fit there."""
    if not footprint_is_free(scene, target, xy, footprint_radius(target)):
        return None
    return scene.with_object(moved_object(target, np.array([*xy, target.pose.position[2]])))


def neighbours(scene: Scene, target: SceneObject) -> list[SceneObject]:
    """The other objects on the surface ``target`` stands on."""
    surface = scene.support_surface(target)
    return [
        o
        for o in scene.objects
        if o.instance_id != target.instance_id
        and o.support_id == target.support_id
        and scene.support_surface(o) == surface
    ]


@register_generator
class ObjectRelativePlace(OperationGenerator):
    name = "object_relative_place"

    def propose(self, scene: Scene, target: SceneObject | None, rng: np.random.Generator) -> EditProposal:
        """Tries the (reference, side) pairs in a random order and places the target by the first one that works
        (each with its own distance); raises the rule the last pair broke when none does."""
        references = neighbours(scene, target)
        if not references:
            raise Rejected("no_reference_object")
        pairs = [(reference, relation) for reference in references for relation in RELATIONS]
        reason = "no_reference_object"
        for index in rng.permutation(len(pairs)):
            reference, relation = pairs[index]
            try:
                target_scene, distance_cm = self._placement(scene, target, reference, relation, rng)
            except Rejected as rejection:
                reason = rejection.reason
                continue
            command = PlaceCommand(relation, distance_cm / 100.0)
            return self.proposal(scene, target, target_scene, command, rng, reference)
        raise Rejected(reason)

    @staticmethod
    def _placement(
        scene: Scene, target: SceneObject, reference: SceneObject, relation: str, rng: np.random.Generator
    ) -> tuple[Scene, int]:
        """The scene with the target ``relation`` of ``reference`` at a drawn distance, and that distance (cm)."""
        direction = ground_directions(scene)[RELATIONS[relation]][:2]
        clear_cm = int(np.ceil(100 * (footprint_radius(target) + footprint_radius(reference) + FOOTPRINT_MARGIN_M)))
        low = max(DISTANCE_RANGE_CM[0], clear_cm)
        if low > DISTANCE_RANGE_CM[1]:
            raise Rejected("reference_too_close_for_placement")
        distance_cm = int(rng.integers(low, DISTANCE_RANGE_CM[1] + 1))
        offset = _xy(target) - _xy(reference)
        if offset @ direction > np.linalg.norm(offset) * np.cos(np.deg2rad(45.0)):
            raise Rejected("already_on_that_side")
        xy = _xy(reference) + direction * distance_cm / 100.0
        if np.linalg.norm(xy - _xy(target)) < MIN_MOVE_M:
            raise Rejected("already_on_that_side")
        target_scene = placed(scene, target, xy)
        if target_scene is None:
            raise Rejected("placement_blocked")
        return target_scene, distance_cm

    def counterfactual_states(
        self,
        source: Scene,
        oracle: Scene,
        target_id: int | None,
        reference_id: int | None,
        command: Command,
        rng: np.random.Generator,
    ) -> CounterfactualStates:
        """The realised offset from the reference x0.75 / x1.25 / x1.5 (half of it mostly runs into the reference, twice
        it off the support), on the opposite side, turned 90 degrees (an orthogonal side), and the right offset from
        another object on the surface (the wrong reference)."""
        target = source.object(target_id)
        reference = source.object(reference_id)
        offset = _xy(oracle.object(target_id)) - _xy(reference)
        turn = rotation_about_axis(np.array([0.0, 0.0, 1.0]), float(rng.choice([-90.0, 90.0])))[:2, :2]
        states: CounterfactualStates = {
            f"magnitude/x{factor:g}": ("magnitude", placed(source, target, _xy(reference) + factor * offset))
            for factor in (0.75, 1.25, 1.5)
        }
        states["direction/opposite"] = ("direction", placed(source, target, _xy(reference) - offset))
        states["direction/orthogonal"] = ("direction", placed(source, target, _xy(reference) + turn @ offset))
        wrong = None
        for other in neighbours(source, target):
            if other.instance_id != reference.instance_id and np.linalg.norm(_xy(other) - _xy(reference)) > 0.05:
                wrong = placed(source, target, _xy(other) + offset)
                if wrong is not None:
                    break
        states["wrong_reference/other_object"] = ("wrong_reference", wrong)
        return states
