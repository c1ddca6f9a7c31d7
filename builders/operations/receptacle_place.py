"""RP generation: the target goes to the centre or to an edge (nearest, farthest, leftmost, rightmost as seen from
the camera) of a receptacle: the surface it stands on (a table top, a counter, a shelf board), a receptacle object
standing on that surface (a tray, a cutting board, a plate, a lidded storage box: ``Category.receiving_part``) or the
top of another piece of furniture (rooms); or the inside of an open container standing on that surface (a bowl:
``Category.container``; the target rests on its inner wall, at :func:`gsi_datasets.scene.resting_bottom`).

Regions (:mod:`gsi_datasets.operations.receptacle_place`) are computed on the receptacle's usable rectangle; an edge's
point is the middle of the side facing the asked camera-relative direction, moved in by the target's footprint radius
and the margin, so the whole target stays on the receptacle. Rules of its own: the target stands on a surface (not the
floor: it has no edges) and fits on the receptacle (``receptacle_too_small``; an edge only where its point lies at least
``MIN_REGION_SEPARATION_M`` from the centre's, so that no region is narrower than an image shows positions: a tray's or
a shelf board's near edge is often not asked); the asked edge faces the asked direction within 35 degrees (an edge seen
at 45 degrees is neither the nearest nor the leftmost; ``edge_not_facing_camera_direction`` when no region is left); the
target is not already in the asked region (then an unchanged image would look compliant) and moves at least 5 cm; the
region's point is clear of other objects (``region_occupied``); a receptacle other than the target's own surface shows
its whole top in the image (``receptacle_out_of_view``: a person judges its centre and edges on all of it), and another
piece of furniture is one with an open top seen from above and a name of its own (:func:`other_furniture`). The
receptacle objects on the target's surface are tried first (in a random order), then the surface itself and the other
pieces of furniture (in a random order), each with its regions in a random order, until one is feasible; on a receptacle
object or another piece of furniture the target is dropped onto its top and settles there (physics). Receptacle
placement asks its scenes for a receptacle object (``scene_config``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from gsi_builders.operations import (
    UP,
    CounterfactualStates,
    EditProposal,
    OperationGenerator,
    Receptacle,
    Rejected,
    display_name,
    ground_directions,
    moved_object,
    referring_expression,
    register_generator,
    support_name,
)
from gsi_builders.operations.object_relative_place import neighbours, placed
from gsi_builders.supports import (
    DROP_HEIGHT_M,
    FOOTPRINT_MARGIN_M,
    footprint_is_free,
    footprint_radius,
    resting_pose,
)
from gsi_datasets.operations import Command
from gsi_datasets.operations.receptacle_place import REGIONS, RegionCommand, nearest_region
from gsi_datasets.rendering import asset_of
from gsi_datasets.scene import (
    Furniture,
    Scene,
    SceneObject,
    SupportSurface,
    is_container,
    receiving_surface,
    resting_bottom,
    surface_contains,
)

#: An edge counts as facing a camera-relative direction when its outward normal is within this angle of it.
EDGE_FACING_TOLERANCE_DEG = 35.0
MIN_MOVE_M = 0.05
#: An edge region is asked only when its point lies at least this far (m) from the centre's. Each region is the set of
#: positions nearer its point than any other's, so this is twice the least distance from a region's point to a position
#: that reads as another region: well above how precisely an image shows where an object stands (a centimetre or
#: two), and the edges of a tray or a shelf board too narrow for it are not asked.
MIN_REGION_SEPARATION_M = 0.10
#: Another piece of furniture receives on its top when that is open above by this much (not a bookcase's board) ...
OPEN_ABOVE_M = 1.0
#: ... and the camera looks down on it from at least this much higher.
MIN_VIEW_HEIGHT_M = 0.15
#: What is put in an open container sinks at least this much below its rim (else it would sit on it, not in it).
MIN_SINK_M = 0.015
#: ... and is at most this many times as tall as the container.
MAX_HEIGHT_IN_CONTAINER = 2.0


def receptacle_regions(scene: Scene, target: SceneObject, receptacle_id: int | None = None) -> Receptacle:
    """The receptacle ``receptacle_id`` (default: the surface ``target`` stands on) as a :class:`Receptacle` with the
    point of each region where the target's centre goes (regions whose edge faces no camera-relative direction are
    left out, and so are edges whose point lies closer than ``MIN_REGION_SEPARATION_M`` to the centre's: only the
    centre when the target fits but has no such room to move).

    Raises:
        Rejected: ``no_receptacle_surface`` (the floor), ``receptacle_too_small`` (the target does not fit).
    """
    own = receptacle_id is None or receptacle_id == target.support_id
    if not own and scene.has_object(receptacle_id) and is_container(scene.object(receptacle_id)):
        return _container_inside(scene, target, scene.object(receptacle_id))
    if own:
        surface = scene.support_surface(target)
        if surface is None:
            raise Rejected("no_receptacle_surface")
        piece = scene.support_piece(target.support_id)
        centre_z = target.pose.position[2] - piece.pose.position[2]  # the target's centre, in the piece's frame
    else:
        piece = scene.support_piece(receptacle_id)
        surface = piece.top
        centre_z = surface.height + asset_of(target).size[2] / 2.0 + DROP_HEIGHT_M
    rotation, origin = piece.pose.rotation, np.array(piece.pose.position)
    x_min, y_min, x_max, y_max = surface.extent
    inset = footprint_radius(target) + FOOTPRINT_MARGIN_M
    room = min(x_max - x_min, y_max - y_min) - 2.0 * inset
    if room < (MIN_MOVE_M if own else 0.0):
        raise Rejected("receptacle_too_small")
    height = surface.height

    def world(local_x: float, local_y: float, z: float = height) -> np.ndarray:
        return origin + rotation @ np.array([local_x, local_y, z])

    corners = surface_corners(piece, surface)
    centre_x, centre_y = (x_min + x_max) / 2.0, (y_min + y_max) / 2.0
    # Each side: its outward normal (world) and its inset midpoint (local).
    sides = [
        (rotation[:, 0], (x_max - inset, centre_y)),
        (-rotation[:, 0], (x_min + inset, centre_y)),
        (rotation[:, 1], (centre_x, y_max - inset)),
        (-rotation[:, 1], (centre_x, y_min + inset)),
    ]
    directions = ground_directions(scene)
    points = {}
    for region, direction in REGIONS.items():
        if region == "inside":  # an open container's only region (:func:`_container_inside`)
            continue
        if direction is None:
            points[region] = world(centre_x, centre_y, centre_z)
            continue
        normal, (x, y) = max(sides, key=lambda side: float(side[0] @ directions[direction]))
        facing = normal @ directions[direction] >= np.cos(np.deg2rad(EDGE_FACING_TOLERANCE_DEG))
        if facing and np.hypot(x - centre_x, y - centre_y) >= MIN_REGION_SEPARATION_M:
            points[region] = world(x, y, centre_z)
    return Receptacle(piece.instance_id, corners, points)


def surface_corners(piece: Furniture, surface: SupportSurface) -> np.ndarray:
    """The corners of ``surface``'s usable rectangle on ``piece``, in world coordinates, in order around it."""
    x_min, y_min, x_max, y_max = surface.extent
    local = np.array(
        [(x, y, surface.height) for x, y in ((x_min, y_min), (x_max, y_min), (x_max, y_max), (x_min, y_max))]
    )
    return np.asarray(piece.pose.position) + local @ np.asarray(piece.pose.rotation).T


def _container_inside(scene: Scene, target: SceneObject, container: SceneObject) -> Receptacle:
    """An open container's only region, ``inside``: the target's centre over the container's, resting on its inner
    wall (its rectangle: the square in its floor).

    Raises:
        Rejected: ``receptacle_too_small`` when the target would not sink at least ``MIN_SINK_M`` below the rim,
            ``target_too_tall_for_container`` when it is more than ``MAX_HEIGHT_IN_CONTAINER`` times as tall as the
            container (a vase standing in a bowl is no placement people ask for).
    """
    if asset_of(target).size[2] > MAX_HEIGHT_IN_CONTAINER * asset_of(container).size[2]:
        raise Rejected("target_too_tall_for_container")
    piece = scene.support_piece(container.instance_id)
    centre = np.array(container.pose.position)
    bottom = resting_bottom(container, target, centre[:2])
    if bottom > centre[2] + asset_of(container).size[2] / 2.0 - MIN_SINK_M:
        raise Rejected("receptacle_too_small")
    point = np.array(resting_pose(target, bottom, centre[:2], 0.0).position)  # (only its centre is used)
    return Receptacle(container.instance_id, surface_corners(piece, piece.top), {"inside": point})


def receptacle_objects(scene: Scene, target: SceneObject) -> list[SceneObject]:
    """The receptacle objects (``Category.receiving_part``) standing on the surface ``target`` stands on."""
    return [o for o in neighbours(scene, target) if receiving_surface(o) is not None]


def other_furniture(scene: Scene, target: SceneObject) -> list[Furniture]:
    """The pieces of furniture other than ``target``'s support whose top it could be put on: a top (not a seat: a
    lamp put on a chair is no placement people ask for) open above (no board over it), seen from above (the camera at
    least 15 cm higher), and the piece is the only one of its name (the instruction names it)."""
    names = [display_name(scene, piece.instance_id) for piece in scene.furniture]
    camera_z = scene.camera.position[2]
    return [
        piece
        for piece, name in zip(scene.furniture, names, strict=True)
        if piece.instance_id != target.support_id
        and piece.surfaces
        and piece.top.name == "top"
        and piece.top.clearance >= OPEN_ABOVE_M
        and piece.pose.position[2] + piece.top.height + MIN_VIEW_HEIGHT_M <= camera_z
        and names.count(name) == 1
    ]


def in_view(scene: Scene, points: np.ndarray, margin: float = 0.04) -> bool:
    """Whether every world point lies in front of the camera and inside the image, ``margin`` (a fraction of the
    image size) in from its border."""
    camera = scene.camera
    pixels, depth = camera.project(points)
    if np.any(depth <= 0.0):
        return False
    size = np.array([camera.width, camera.height])
    return bool(np.all((pixels >= margin * size) & (pixels <= (1.0 - margin) * size)))


def placed_on(scene: Scene, target: SceneObject, receptacle_id: int, point: np.ndarray) -> Scene | None:
    """``scene`` with ``target`` at ``point`` (its centre) on the receptacle ``receptacle_id`` (the surface it stands on
    or a receptacle object), or None when its footprint does not fit there."""
    if receptacle_id == target.support_id:
        return placed(scene, target, point[:2])
    if scene.has_object(receptacle_id) and is_container(container := scene.object(receptacle_id)):
        # In an open container (empty in every scene), at the height it rests at there; physics tells the rest.
        point = np.array(resting_pose(target, resting_bottom(container, target, point[:2]), point[:2], 0.0).position)
        return scene.with_object(dataclasses.replace(moved_object(target, point), support_id=receptacle_id))
    moved = dataclasses.replace(moved_object(target, point), support_id=receptacle_id)
    if not footprint_is_free(scene, moved, point[:2], footprint_radius(target)):
        return None
    return scene.with_object(moved)


@register_generator
class ReceptaclePlace(OperationGenerator):
    name = "receptacle_place"

    def scene_config(self, config: Any) -> Any:
        """The subset's scene config with a receptacle object in every scene (the target may go onto it)."""
        return dataclasses.replace(config, receptacle_object=True)

    def propose(self, scene: Scene, target: SceneObject | None, rng: np.random.Generator) -> EditProposal:
        if scene.support_surface(target) is None:
            raise Rejected("no_receptacle_surface")
        # A receptacle object the target fits on first (in a random order), then the surface it stands on and the tops
        # of the other pieces of furniture (in a random order).
        holders = [o.instance_id for o in receptacle_objects(scene, target)]
        holders = [holders[i] for i in rng.permutation(len(holders))]
        pieces = [piece.instance_id for piece in other_furniture(scene, target)]
        surfaces = [target.support_id, *pieces]
        if pieces:  # (no draw otherwise: a tabletop has one table)
            surfaces = [surfaces[i] for i in rng.permutation(len(surfaces))]
        candidates = [*holders, *surfaces]
        start = np.array(target.pose.position)
        reason = "edge_not_facing_camera_direction"
        for receptacle_id in candidates:
            try:
                receptacle = receptacle_regions(scene, target, receptacle_id)
            except Rejected as rejection:
                reason = rejection.reason
                continue
            own = receptacle_id == target.support_id
            if not own and not in_view(scene, receptacle.corners):
                reason = "receptacle_out_of_view"  # a person judges its centre and edges on the whole top
                continue
            current = nearest_region(receptacle.points, start, UP) if own else None
            for region in rng.permutation(list(REGIONS)):
                region = str(region)
                if region not in receptacle.points:
                    continue
                point = receptacle.points[region]
                if region == current or np.linalg.norm(point[:2] - start[:2]) < MIN_MOVE_M:
                    reason = "already_in_region"
                    continue
                target_scene = placed_on(scene, target, receptacle_id, point)
                if target_scene is None:
                    reason = "region_occupied"
                    continue
                command = RegionCommand(region)
                if own:
                    name = support_name(scene, target)
                elif scene.has_object(receptacle_id):
                    name = referring_expression(scene, scene.object(receptacle_id))
                else:
                    name = display_name(scene, receptacle_id)
                instruction, template = self.spec.phrase(
                    command, rng, object=referring_expression(scene, target), receptacle=name
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
        """The target at every other region's point of the same receptacle (``wrong_region/<region>``); short of or
        past the asked point by 0.5 / 0.8 / 1.2 of the move (``magnitude/x<f>``: compliant only if that point is still
        nearest to the asked region's; on the receptacle where the point is over it, else on the surface beside it);
        for a receptacle object, the target put next to it instead of on it, on the surface they share, on each side
        as seen from the camera (``next_to/<side>``: never compliant); for another piece of furniture, the target put
        at the asked region of the surface it stands on, or at another region of it where the asked one has no room
        (``wrong_reference/own_surface``: never compliant)."""
        target = source.object(target_id)
        receptacle_id = oracle.object(target_id).support_id
        receptacle = receptacle_regions(source, target, receptacle_id)
        start, final = np.array(target.pose.position), np.array(oracle.object(target_id).pose.position)
        piece = source.support_piece(receptacle_id)

        def put(point: np.ndarray) -> Scene | None:
            on_receptacle = surface_contains(piece, piece.top, point) if receptacle_id != target.support_id else True
            return placed_on(source, target, receptacle_id if on_receptacle else target.support_id, point)

        states: CounterfactualStates = {
            f"magnitude/x{factor:g}": ("magnitude", put(start + factor * (final - start))) for factor in (0.5, 0.8, 1.2)
        }
        for region, point in receptacle.points.items():
            if region != command.direction:
                states[f"wrong_region/{region}"] = ("wrong_region", placed_on(source, target, receptacle_id, point))
        if receptacle_id != target.support_id and not source.has_object(receptacle_id):
            try:
                own = receptacle_regions(source, target).points
            except Rejected:
                own = {}
            # The asked region of the surface it stands on, else another region of it where there is room.
            order = sorted(own, key=lambda region: region != command.direction)
            moves = (
                placed(source, target, own[r][:2])
                for r in order
                if np.linalg.norm(own[r][:2] - start[:2]) >= MIN_MOVE_M
            )
            states["wrong_reference/own_surface"] = ("wrong_reference", next((s for s in moves if s is not None), None))
        elif receptacle_id != target.support_id:
            holder = source.object(receptacle_id)
            gap = footprint_radius(holder) + footprint_radius(target) + FOOTPRINT_MARGIN_M
            for side, direction in ground_directions(source).items():
                beside = np.array(holder.pose.position[:2]) + gap * direction[:2]
                states[f"next_to/{side}"] = ("next_to", placed(source, target, beside))
        return states
