"""SR generation: the target is the instance of its category at one position (leftmost, rightmost, closest,
farthest, highest, lowest; :mod:`gsi_datasets.operations.spatial_remove`) among the instances in view, and the target
scene is the scene without it.

Rules of its own: nothing rests on the target (``object_rests_on_target``; removing it would drop what stands on it);
another instance of its category is in view (``single_instance``: the instances counted are those whose centre
projects into the image, and :meth:`SpatialRemove.check_views` makes sure each of them is clearly visible and no other
instance shows at all); the target beats the runner-up by at least 5 cm on the position's axis
(``not_extreme_by_5cm``). The positions are tried in a random order. The scene samplers repeat a category for this
operation (:meth:`SpatialRemove.scene_config`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from gsi_builders.operations import (
    CounterfactualStates,
    EditProposal,
    OperationGenerator,
    Rejected,
    display_name,
    register_generator,
)
from gsi_builders.operations.object_relative_place import placed
from gsi_datasets.geometry import project_points, transform_points
from gsi_datasets.operations import Command
from gsi_datasets.operations.spatial_remove import MIN_SEPARATION_M, POSITIONS, RemoveCommand, extreme_instance
from gsi_datasets.rendering import RenderOutput, StateRenderer
from gsi_datasets.scene import Scene, SceneObject

#: How many instances of one category the scene samplers put in an SR scene (at least two must be in view).
REPEATED_INSTANCES = (2, 3)
#: The "moved instead of removed" counterfactual moves the target this far (metres), in the first free direction.
MOVED_INSTEAD_M = 0.15


def camera_centres(scene: Scene, objects: list[SceneObject]) -> dict[int, np.ndarray]:
    """Camera-frame centres of ``objects``, by instance id."""
    points = transform_points(scene.camera.world_to_camera, np.array([o.pose.position for o in objects]))
    return {o.instance_id: point for o, point in zip(objects, points, strict=True)}


def instances_in_view(scene: Scene, target: SceneObject) -> list[SceneObject]:
    """The instances of ``target``'s category (itself included) whose centre projects into the image."""
    camera = scene.camera
    instances = [o for o in scene.objects if o.category == target.category]
    centres = np.array(list(camera_centres(scene, instances).values()))
    (u, v), ahead = project_points(camera.intrinsics, centres).T, centres[:, 2] > 0
    inside = ahead & (u >= 0) & (u < camera.width) & (v >= 0) & (v < camera.height)
    return [scene_object for scene_object, seen in zip(instances, inside, strict=True) if seen]


@register_generator
class SpatialRemove(OperationGenerator):
    name = "spatial_remove"

    def scene_config(self, config: Any) -> Any:
        """The subset's scene config with one category repeated (:data:`REPEATED_INSTANCES` times), the instances
        free to share a piece of furniture."""
        return dataclasses.replace(config, repeated_instances=REPEATED_INSTANCES, group_repeats=True)

    def propose(self, scene: Scene, target: SceneObject | None, rng: np.random.Generator) -> EditProposal:
        if any(o.support_id == target.instance_id for o in scene.objects):
            raise Rejected("object_rests_on_target")
        instances = instances_in_view(scene, target)
        if len(instances) < 2:
            raise Rejected("single_instance")
        up = scene.camera.world_to_camera[:3, :3] @ np.array([0.0, 0.0, 1.0])
        centres = camera_centres(scene, instances)
        for position in rng.permutation(list(POSITIONS)):
            chosen, lead = extreme_instance(str(position), centres, up)
            if chosen == target.instance_id and lead >= MIN_SEPARATION_M:
                break
        else:
            raise Rejected("not_extreme_by_5cm")
        command = RemoveCommand(str(position))
        instruction, template = self.spec.phrase(command, rng, object=display_name(scene, target.instance_id))
        others = tuple(o.instance_id for o in instances if o.instance_id != target.instance_id)
        return EditProposal(
            self.name,
            target.instance_id,
            scene.without_object(target.instance_id),
            command,
            instruction,
            template,
            distractor_ids=others,
        )

    def check_views(
        self,
        source_scene: Scene,
        source: RenderOutput,
        target: RenderOutput,
        proposal: EditProposal,
        rules: Any,
        renderer: StateRenderer,
    ) -> None:
        """Every counted instance is clearly visible (``distractor_too_small`` / the usual visibility rules, checked
        when labelling); an instance that was not counted shows no pixel (``uncounted_instance_in_view``)."""
        category = source_scene.object(proposal.target_id).category
        counted = {proposal.target_id, *proposal.distractor_ids}
        for scene_object in source_scene.objects:
            if scene_object.category == category and scene_object.instance_id not in counted:
                if np.any(source.instances == scene_object.instance_id):
                    raise Rejected("uncounted_instance_in_view")

    def counterfactual_states(
        self,
        source: Scene,
        oracle: Scene,
        target_id: int | None,
        reference_id: int | None,
        command: Command,
        rng: np.random.Generator,
    ) -> CounterfactualStates:
        """Another instance removed instead (``wrong_instance/<id>``), the target and another instance removed
        (``two_removed/target_and_other``), and the target moved 15 cm instead of removed (``moved_instead/15cm``, the
        first free one of eight directions)."""
        target = source.object(target_id)
        distractor_ids = [o.instance_id for o in instances_in_view(source, target) if o.instance_id != target_id]
        states: CounterfactualStates = {}
        for other in distractor_ids:
            states[f"wrong_instance/{other}"] = ("wrong_instance", source.without_object(other))
        if distractor_ids:
            states["two_removed/target_and_other"] = ("two_removed", oracle.without_object(distractor_ids[0]))
        start = np.array(target.pose.position[:2])
        moved = None
        for angle in rng.permutation(8) * np.pi / 4:
            moved = placed(source, target, start + MOVED_INSTEAD_M * np.array([np.cos(angle), np.sin(angle)]))
            if moved is not None:
                break
        states["moved_instead/15cm"] = ("moved_instead", moved)
        return states
