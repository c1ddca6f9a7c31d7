"""Generation side of the operations: each one turns a settled source scene into an intended target scene.

An operation's generator (:class:`OperationGenerator`, one module of this package per operation, registered
with :func:`register_generator` and discovered on first use) draws its parameters, checks what can be checked
before simulating (the footprint stays on its support and clear of other objects, the angle is not a symmetry
of the object, the camera stays in the room) and returns an :class:`EditProposal`; the sample generator
(:mod:`gsi_builders.generate`) then settles the proposal and applies the validity rules that need physics and
rendering, calling :meth:`OperationGenerator.check_views` for the operation's own. For the metric fidelity
suite each generator also makes its counterfactual scene states (wrong magnitude, wrong direction, wrong kind).
The operation's definition (command, templates) lives in :mod:`gsi_datasets.operations`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from gsi_builders.supports import footprint_is_free, footprint_radius
from gsi_datasets.assets import get_category
from gsi_datasets.geometry import matrix_to_quaternion, twist_angle_deg
from gsi_datasets.operations import Command, OperationSpec, get_operation
from gsi_datasets.registry import Registry
from gsi_datasets.rendering import RenderOutput, StateRenderer
from gsi_datasets.scene import FLOOR_ID, Pose, Scene, SceneObject, changed_object

UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Receptacle:
    """The surface a placement (RP) puts the target on, in world coordinates.

    Attributes:
        instance_id: the furniture it belongs to.
        corners: its usable rectangle, ``(4, 3)``, in order around it.
        points: region name -> where the target's centre goes (``(3,)``).
    """

    instance_id: int
    corners: np.ndarray
    points: dict[str, np.ndarray]


@dataclass(frozen=True)
class EditProposal:
    """An intended edit, before physics.

    Attributes:
        operation: operation name.
        target_id: instance id of the edited object (None for camera operations).
        target_scene: the scene after the edit, with the edited object at its intended pose.
        command: the asked parameters.
        instruction: the instruction text.
        template: the template it was filled from.
        reference_id: instance id of the object the instruction places the target relative to (OP), if any.
        receptacle: the surface the instruction puts the target on and its regions (RP), if any.
        distractor_ids: the other instances of the target's category that the instruction chooses among (SR).
    """

    operation: str
    target_id: int | None
    target_scene: Scene
    command: Command
    instruction: str
    template: str
    reference_id: int | None = None
    receptacle: Receptacle | None = None
    distractor_ids: tuple[int, ...] = ()

    @property
    def intended_pose(self) -> Pose:
        """Where the edited object should come to rest."""
        return self.target_scene.object(self.target_id).pose


class Rejected(Exception):
    """A proposal could not be made for this target; ``reason`` names the rule (counted in build reports)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: A counterfactual's scene state and family (``None`` when it has no valid placement), by case name.
CounterfactualStates = dict[str, tuple[str, Scene | None]]


class OperationGenerator:
    """Base of the operation generators (subclass, set ``name``, implement :meth:`propose`)."""

    name: str = ""

    @property
    def spec(self) -> OperationSpec:
        return get_operation(self.name)

    def scene_config(self, config: Any) -> Any:
        """The scene sampler's config for this operation's scenes (default: the subset's, unchanged)."""
        return config

    def propose(self, scene: Scene, target: SceneObject | None, rng: np.random.Generator) -> EditProposal:
        """An intended edit of ``target`` (None for camera operations).

        Raises:
            Rejected: when this target (or scene) cannot take this edit.
        """
        raise NotImplementedError

    def check_views(
        self,
        source_scene: Scene,
        source: RenderOutput,
        target: RenderOutput,
        proposal: EditProposal,
        rules: Any,
        renderer: StateRenderer,
    ) -> None:
        """The operation's own validity rules on the rendered views (raise :class:`Rejected`); ``renderer`` renders
        the source scene and, through ``add_state``, other states of it made of its object variants where a rule
        needs them. None by default."""

    def counterfactual_states(
        self,
        source: Scene,
        oracle: Scene,
        target_id: int | None,
        reference_id: int | None,
        command: Command,
        rng: np.random.Generator,
    ) -> CounterfactualStates:
        """Scene states of the wrong-magnitude, wrong-direction and wrong-kind counterfactuals (fidelity suite);
        ``reference_id``: the object a placement is relative to (OP), as the row labels it."""
        raise NotImplementedError

    def phrase(
        self,
        scene: Scene,
        target: SceneObject | None,
        command: Command,
        rng: np.random.Generator,
        reference: SceneObject | None = None,
    ) -> tuple[str, str]:
        """The instruction for ``command`` on ``target`` (relative to ``reference``) and its template."""
        values = {}
        if target is not None:
            values = {"object": referring_expression(scene, target), "support": support_name(scene, target)}
        if reference is not None:
            values["reference"] = referring_expression(scene, reference)
        return self.spec.phrase(command, rng, **values)

    def proposal(
        self,
        scene: Scene,
        target: SceneObject | None,
        target_scene: Scene,
        command: Command,
        rng: np.random.Generator,
        reference: SceneObject | None = None,
    ) -> EditProposal:
        """An :class:`EditProposal` with the instruction phrased for ``command``."""
        instruction, template = self.phrase(scene, target, command, rng, reference)
        target_id = None if target is None else target.instance_id
        reference_id = None if reference is None else reference.instance_id
        return EditProposal(self.name, target_id, target_scene, command, instruction, template, reference_id)


#: The operations' generators, by operation name (each module of this package registers one on import).
GENERATORS: Registry[OperationGenerator] = Registry("generator", __name__, "no generator for operation {name!r}.")


def register_generator(cls: type[OperationGenerator]) -> type[OperationGenerator]:
    """Class decorator registering an operation's generator under its ``name`` (a registered operation)."""
    get_operation(cls.name)
    GENERATORS.register(cls.name, cls())
    return cls


def unregister_generator(name: str) -> None:
    """Removes a generator (tests register toy operations and remove them again)."""
    GENERATORS.unregister(name)


def get_generator(operation: str) -> OperationGenerator:
    """The generator of ``operation`` (KeyError for an unknown operation, with close matches)."""
    return GENERATORS.get(operation)


def propose_edit(operation: str, scene: Scene, target: SceneObject | None, rng: np.random.Generator) -> EditProposal:
    """Runs the registered generator of ``operation`` (raises KeyError or :class:`Rejected`)."""
    return get_generator(operation).propose(scene, target, rng)


# -- helpers shared by the generators -------------------------------------------------------------------------


def display_name(scene: Scene, instance_id: int) -> str:
    """Natural name of an object or piece of furniture ("coffee mug", "bookshelf"); "floor" for the floor."""
    from gsi_datasets.assets.furniture import FURNITURE_CATEGORIES

    if instance_id == FLOOR_ID:
        return "floor"
    try:
        return get_category(scene.object(instance_id).category).display_name
    except KeyError:
        category = scene.furniture_piece(instance_id).category
        # The tabletop table (and furniture of other scene sources) is not a registered category: its own words.
        if category in FURNITURE_CATEGORIES:
            return FURNITURE_CATEGORIES.get(category).display_name
        return category.replace("_", " ")


def support_name(scene: Scene, target: SceneObject) -> str:
    """What the target stands on, by name ("table", "bookshelf", "floor")."""
    return display_name(scene, target.support_id)


def referring_expression(scene: Scene, target: SceneObject) -> str:
    """The target's name, with "on the <support>" when another object of its category is in the scene.

    Raises:
        Rejected: ``ambiguous_referent`` when another object of its category stands on a support of the same name.
    """
    name = display_name(scene, target.instance_id)
    namesakes = [o for o in scene.objects if o.category == target.category and o.instance_id != target.instance_id]
    if not namesakes:
        return name
    where = support_name(scene, target)
    if any(support_name(scene, o) == where for o in namesakes):
        raise Rejected("ambiguous_referent")
    return f"{name} on the {where}"


def ground_directions(scene: Scene) -> dict[str, np.ndarray]:
    """Unit world vectors in the ground plane for left / right / forward / back as seen from the camera."""
    rotation = np.array(scene.camera.rotation)
    right = rotation[:, 0] - rotation[:, 0] @ UP * UP
    forward = rotation[:, 2] - rotation[:, 2] @ UP * UP
    right /= np.linalg.norm(right)
    forward /= np.linalg.norm(forward)
    return {"left": -right, "right": right, "forward": forward, "back": -forward}


def moved_object(
    target: SceneObject, position: np.ndarray, rotation: np.ndarray | None = None, scale: float | None = None
) -> SceneObject:
    """``target`` at a new position (and rotation, scale)."""
    quaternion = target.pose.quaternion if rotation is None else tuple(float(q) for q in matrix_to_quaternion(rotation))
    pose = Pose(tuple(float(p) for p in position), quaternion)
    return dataclasses.replace(target, pose=pose, scale=target.scale if scale is None else scale)


@dataclass(frozen=True)
class ObjectChange:
    """A change of an upright object on its support: shift in the support plane (m, world), yaw (deg), scale."""

    shift_xy: np.ndarray
    yaw_deg: float
    scale: float

    @classmethod
    def between(cls, before: SceneObject, after: SceneObject) -> ObjectChange:
        """The change that turns ``before`` into ``after``."""
        shift = np.subtract(after.pose.position, before.pose.position)[:2]
        yaw = twist_angle_deg(after.pose.rotation @ before.pose.rotation.T, UP)
        return cls(shift, yaw, after.scale / before.scale)

    def times(self, factor: float) -> ObjectChange:
        """The change ``factor`` times as large (distance, angle and log scale)."""
        return ObjectChange(self.shift_xy * factor, self.yaw_deg * factor, self.scale**factor)

    def applied(self, scene: Scene, scene_object: SceneObject) -> Scene | None:
        """``scene`` with ``scene_object`` changed, or None when its footprint leaves its surface or meets another
        object's."""
        changed = changed_object(
            scene_object, scene.support_height(scene_object), tuple(self.shift_xy), self.yaw_deg, self.scale
        )
        free = footprint_is_free(scene, scene_object, np.array(changed.pose.position[:2]), footprint_radius(changed))
        return scene.with_object(changed) if free else None


def object_counterfactuals(
    source: Scene, oracle: Scene, target_id: int, factors: tuple[float, ...], opposite: str
) -> tuple[ObjectChange, SceneObject, CounterfactualStates]:
    """The realised change, the target, and its ``magnitude/x<f>`` cases and ``direction/<opposite>`` case."""
    target = source.object(target_id)
    change = ObjectChange.between(target, oracle.object(target_id))
    states: CounterfactualStates = {
        f"magnitude/x{factor:g}": ("magnitude", change.times(factor).applied(source, target)) for factor in factors
    }
    states[f"direction/{opposite}"] = ("direction", change.times(-1.0).applied(source, target))
    return change, target, states
