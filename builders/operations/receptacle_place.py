"""RP generation: the target goes to the centre or to an edge (nearest, farthest, leftmost, rightmost as seen from
the camera) of the surface it stands on (a table top, a counter, a shelf board).

Regions (:mod:`gsi_datasets.operations.receptacle_place`) are computed on the surface's usable rectangle; an edge's
point is the middle of the side facing the asked camera-relative direction, moved in by the target's footprint
radius and the margin, so the whole target stays on the surface. Rules of its own: the target stands on a surface
(not the floor: it has no edges) that it fits on with room to move (``receptacle_too_small``); the asked edge faces
the asked direction within 35 degrees (an edge seen at 45 degrees is neither the nearest nor the leftmost;
``edge_not_facing_camera_direction`` when no region is left); the target is not already in the asked region (then
an unchanged image would look compliant) and moves at least 5 cm; the region's point is clear of other objects
(``region_occupied``). Regions are tried in a random order until one is feasible.
"""

from __future__ import annotations

import numpy as np

from gsi_builders.operations import (
    UP,
    CounterfactualStates,
    EditProposal,
    OperationGenerator,
    Receptacle,
    Rejected,
    ground_directions,
    referring_expression,
    register_generator,
    support_name,
)
from gsi_builders.operations.object_relative_place import placed
from gsi_builders.supports import FOOTPRINT_MARGIN_M, footprint_radius
from gsi_datasets.operations import Command
from gsi_datasets.operations.receptacle_place import REGIONS, RegionCommand, nearest_region
from gsi_datasets.scene import Scene, SceneObject

#: An edge counts as facing a camera-relative direction when its outward normal is within this angle of it.
EDGE_FACING_TOLERANCE_DEG = 35.0
MIN_MOVE_M = 0.05


def receptacle_regions(scene: Scene, target: SceneObject) -> Receptacle:
    """The surface ``target`` stands on, as a :class:`Receptacle` with the point of each region where the target's
    centre goes (regions whose edge faces no camera-relative direction are left out).

    Raises:
        Rejected: ``no_receptacle_surface`` (the floor), ``receptacle_too_small`` (the target does not fit with
            room to move).
    """
    surface = scene.support_surface(target)
    if surface is None:
        raise Rejected("no_receptacle_surface")
    piece = scene.furniture_piece(target.support_id)
    rotation, origin = piece.pose.rotation, np.array(piece.pose.position)
    x_min, y_min, x_max, y_max = surface.extent
    inset = footprint_radius(target) + FOOTPRINT_MARGIN_M
    if min(x_max - x_min, y_max - y_min) < 2.0 * inset + MIN_MOVE_M:
        raise Rejected("receptacle_too_small")
    height = surface.height

    def world(local_x: float, local_y: float, z: float = height) -> np.ndarray:
        return origin + rotation @ np.array([local_x, local_y, z])

    corners = np.array([world(x, y) for x, y in ((x_min, y_min), (x_max, y_min), (x_max, y_max), (x_min, y_max))])
    centre_x, centre_y = (x_min + x_max) / 2.0, (y_min + y_max) / 2.0
    # Each side: its outward normal (world) and its inset midpoint (local).
    sides = [
        (rotation[:, 0], (x_max - inset, centre_y)),
        (-rotation[:, 0], (x_min + inset, centre_y)),
        (rotation[:, 1], (centre_x, y_max - inset)),
        (-rotation[:, 1], (centre_x, y_min + inset)),
    ]
    directions = ground_directions(scene)
    centre_z = target.pose.position[2] - origin[2]  # the target's centre, in the piece's frame
    points = {}
    for region, direction in REGIONS.items():
        if direction is None:
            points[region] = world(centre_x, centre_y, centre_z)
            continue
        normal, (x, y) = max(sides, key=lambda side: float(side[0] @ directions[direction]))
        if normal @ directions[direction] >= np.cos(np.deg2rad(EDGE_FACING_TOLERANCE_DEG)):
            points[region] = world(x, y, centre_z)
    return Receptacle(piece.instance_id, corners, points)


@register_generator
class ReceptaclePlace(OperationGenerator):
    name = "receptacle_place"

    def propose(self, scene: Scene, target: SceneObject | None, rng: np.random.Generator) -> EditProposal:
        receptacle = receptacle_regions(scene, target)
        start = np.array(target.pose.position)
        current = nearest_region(receptacle.points, start, UP)
        reason = "edge_not_facing_camera_direction"
        for region in rng.permutation(list(REGIONS)):
            region = str(region)
            if region not in receptacle.points:
                continue
            point = receptacle.points[region]
            if region == current or np.linalg.norm(point[:2] - start[:2]) < MIN_MOVE_M:
                reason = "already_in_region"
                continue
            target_scene = placed(scene, target, point[:2])
            if target_scene is None:
                reason = "region_occupied"
                continue
            command = RegionCommand(region)
            instruction, template = self.spec.phrase(
                command,
                rng,
                object=referring_expression(scene, target),
                receptacle=support_name(scene, target),
            )
            return EditProposal(
                self.name, target.instance_id, target_scene, command, instruction, template, receptacle=receptacle
            )
        raise Rejected(reason)

    def counterfactual_states(
        self,
        source: Scene,
        oracle: Scene,
        target_id: int | None,
        reference_id: int | None,
        command: Command,
        rng: np.random.Generator,
    ) -> CounterfactualStates:
        """The target at every other region's point (``wrong_region/<region>``), and short of or past the asked
        point by 0.5 / 0.8 / 1.2 of the move (``magnitude/x<f>``: compliant only if that point is still nearest
        to the asked region's)."""
        target = source.object(target_id)
        receptacle = receptacle_regions(source, target)
        start, final = np.array(target.pose.position[:2]), np.array(oracle.object(target_id).pose.position[:2])
        states: CounterfactualStates = {
            f"magnitude/x{factor:g}": ("magnitude", placed(source, target, start + factor * (final - start)))
            for factor in (0.5, 0.8, 1.2)
        }
        for region, point in receptacle.points.items():
            if region != command.direction:
                states[f"wrong_region/{region}"] = ("wrong_region", placed(source, target, point[:2]))
        return states
