"""OR generation: a turn in place about the vertical by 45, 90 or 180 degrees, clockwise or counterclockwise (from
above), never by a symmetry of the object, and only where the image can tell the asked turn apart from what it could
be mistaken for (:meth:`ObjectRotate.check_views`): the unturned object, the opposite turn and the double turn
(``turn_looks_unturned``, ``turn_looks_opposite``, ``turn_looks_doubled``)."""

from __future__ import annotations

from typing import Any

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
from gsi_datasets.geometry import mask_box, rotation_about_axis
from gsi_datasets.operations import Command
from gsi_datasets.operations.object_rotate import (
    MIN_VISIBLE_DIFFERENCE,
    RotateCommand,
    look_alikes,
    visible_difference,
)
from gsi_datasets.rendering import RenderOutput, StateRenderer
from gsi_datasets.scene import Scene, SceneObject


def turned(scene: Scene, target: SceneObject, signed_deg: float) -> Scene:
    """``scene`` with ``target`` turned in place by ``signed_deg`` about the vertical (counterclockwise from above)."""
    rotation = rotation_about_axis(UP, signed_deg) @ target.pose.rotation
    return scene.with_object(moved_object(target, np.array(target.pose.position), rotation))


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
        target_scene = turned(scene, target, signed)
        return self.proposal(scene, target, target_scene, RotateCommand(direction, float(angle)), rng)

    def check_views(
        self,
        source_scene: Scene,
        source: RenderOutput,
        target: RenderOutput,
        proposal: EditProposal,
        rules: Any,
        renderer: StateRenderer,
    ) -> None:
        """The asked turn, rendered in place from the source, differs visibly (:func:`visible_difference` at least
        ``MIN_VISIBLE_DIFFERENCE``) from each of its :func:`look_alikes` rendered alike: a turn that a person could
        not tell from no turn, from the other sense or from twice the turn is not asked (``turn_looks_<look-alike>``;
        a body whose turn shows little, such as a plain can seen from its side, or one that looks alike from the front
        and the back)."""
        command = proposal.command
        signed = command.angle_deg if command.direction == "counterclockwise" else -command.angle_deg
        original = source_scene.object(proposal.target_id)
        target_id = proposal.target_id
        # Only the pixels where the target shows in some view are compared: the ids are drawn whole (cheap, no
        # shadows), the colours in the box around those pixels only (the same pixels as a whole render, at a
        # fraction of the drawing and reading).
        alikes = look_alikes(command.angle_deg, signed)
        turns = {"asked": signed, **alikes}
        states = {name: turned(source_scene, original, turn) for name, turn in turns.items() if turn != 0.0}
        shows = {name: renderer.render_instances(state) == target_id for name, state in states.items()}
        # (Every look-alike set holds the unturned target, which the source view shows: the box is never empty.)
        shows |= {name: source.instances == target_id for name, turn in turns.items() if turn == 0.0}
        left, top, right, bottom = (int(v) for v in mask_box(np.logical_or.reduce(list(shows.values()))))
        window = (slice(top, bottom), slice(left, right))
        colours = {
            name: renderer.render_rgb(state, window=(left, top, right, bottom)) for name, state in states.items()
        }
        colours |= {name: source.rgb[window] for name, turn in turns.items() if turn == 0.0}
        for name in alikes:
            difference = visible_difference(
                colours["asked"], shows["asked"][window], colours[name], shows[name][window]
            )
            if difference < MIN_VISIBLE_DIFFERENCE:
                raise Rejected(f"turn_looks_{name}")

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
