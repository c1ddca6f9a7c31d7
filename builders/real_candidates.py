"""Candidate edits of real frames (GSI-Real): what an instruction may ask of a photographed object, checked in 3D.

A real frame has no simulator to carry out the edit, so a candidate is an instruction and its labels (the target's
box before and after, in the same schema as GSI-Syn, ``target_image`` None) that the 3D picture of the frame allows:

- **The picture** (:func:`frame_objects`): each object's gravity-aligned box (from a scan's mesh, else from the frame's
  depth), its visible fraction where known, and its support: the instance whose surface points lie just under the
  box's footprint (the floor, a table, a shelf; or the frame's unlabelled depth, "the surface", id 0), with that
  surface's outline at that height.
- **Operations**: CM (left / right / forward / back, 5-20 cm), OP (left of / right of / in front of / behind another
  object, 5-30 cm between centres), RP (the centre or an edge of a receptacle's top: a table, a shelf, a tray... by
  its category's last word, :data:`RECEPTACLE_WORDS`; the regions as GSI-Syn defines them on the top's smallest
  rectangle, an edge moved in by the target's half diagonal), OR (45 / 90 / 180 degrees either way, only for
  footprints with a known yaw), OS (x0.5 / 0.75 / 1.5 / 2) and SR (at least two instances in view, the extreme one
  ahead of the runner-up by 5 cm), with the parameters and phrasings of GSI-Syn (:mod:`gsi_datasets.operations`).
- **Checks**, each rejection counted by its rule: the target is a possible target (editable, large enough, inside
  the image, valid depth: :func:`~gsi_datasets.real.frames.possible_targets`) and not heavily occluded; its
  category is named once in the frame (else the referent is ambiguous; SR names its instance by position); it has a
  support; after the edit its footprint stays on that support (so it neither floats nor sinks: it stands at the
  support's height), clears the other objects' footprints at its level, and its box stays in the image.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapely import contains_xy
from shapely.geometry import MultiPoint, Polygon

from gsi_builders.operations.receptacle_place import EDGE_FACING_TOLERANCE_DEG, MIN_REGION_SEPARATION_M
from gsi_datasets.geometry import (
    ObjectMesh,
    box_corners,
    ground_direction,
    plane_basis,
    project_points,
    rotation_about_axis,
    transform_points,
)
from gsi_datasets.operations import get_operation
from gsi_datasets.operations.camera_relative_move import MoveCommand
from gsi_datasets.operations.object_relative_place import RELATIONS, PlaceCommand
from gsi_datasets.operations.object_rotate import RotateCommand
from gsi_datasets.operations.object_scale import ScaleCommand
from gsi_datasets.operations.receptacle_place import REGIONS, RegionCommand, nearest_region, rectangle_edge
from gsi_datasets.operations.spatial_remove import MIN_SEPARATION_M, POSITIONS, RemoveCommand, extreme_instance
from gsi_datasets.real.frames import RGBDFrame, TargetRules, can_be_target, possible_targets
from gsi_datasets.real.grounding import GroundedBox, camera_up, grounded_box
from gsi_datasets.schema import OPERATIONS

#: The operations real candidates are made for, in the order they are tried: every operation but the camera's (a
#: frame has no second view to label a camera move with).
REAL_OPERATIONS = tuple(operation for operation in OPERATIONS if operation != "camera_view_change")
#: A receptacle's category ends with one of these words (the surfaces a thing is put on; real labels vary).
RECEPTACLE_WORDS = (
    "table", "desk", "counter", "shelf", "shelves", "tray", "plate", "box", "basket", "board", "nightstand",
    "dresser", "cabinet", "bench", "stool", "sideboard",
)  # fmt: skip
#: A receptacle's top: its points within this much (m) of its box's top.
TOP_BAND_M = 0.02
#: A target less visible than this is heavily occluded.
MIN_VISIBLE_FRACTION = 0.6
#: Support points lie this far under (and above) the target's bottom (m), within this much around its footprint.
SUPPORT_BELOW_M, SUPPORT_ABOVE_M, SUPPORT_AROUND_M = 0.04, 0.02, 0.03
#: A support needs this many surface points under the target.
MIN_SUPPORT_POINTS = 5
#: Gap (m) kept between footprints, and between a footprint and its support's outline.
CLEARANCE_M = 0.01
#: The id of what no annotation names (its points are the frame's depth outside every instance): a support that is
#: not annotated (a shelf in a photograph whose objects alone were outlined) is "the surface".
UNLABELLED = 0
#: At most this many background depth points are kept.
MOST_BACKGROUND_POINTS = 50_000
#: The moved box stays this many pixels inside the image.
BORDER_PX = 4
#: A row's neighbour meshes: the other instances' faces whose centres fall in the target's image box widened by this
#: share of its larger side (at least ``NEIGHBOUR_MARGIN_PX``), not nearer the camera than the target's nearest point
#: less ``NEIGHBOUR_DEPTH_MARGIN_M``: what the target hides and the ring of surface around it that the photograph shows.
NEIGHBOUR_MARGIN, NEIGHBOUR_MARGIN_PX, NEIGHBOUR_DEPTH_MARGIN_M = 0.25, 8, 0.02
#: At most this many neighbour faces in a row (every k-th face of each neighbour beyond it).
MOST_NEIGHBOUR_FACES = 30_000


@dataclass
class FrameObjects:
    """The 3D picture of one frame (camera frame, metres): ``up``, every labelled instance's box and surface points,
    visible fractions (None where unknown), each possible target's support and the area of that support's surface
    it stands in (:class:`SupportArea`), and, from a scan, every instance's annotated mesh (camera frame)."""

    frame: RGBDFrame
    up: np.ndarray
    boxes: dict[int, GroundedBox]
    points: dict[int, np.ndarray]
    visible: dict[int, float | None]
    supports: dict[int, int] = field(default_factory=dict)
    areas: dict[int, SupportArea] = field(default_factory=dict)
    meshes: dict[int, ObjectMesh] = field(default_factory=dict)

    def name(self, instance_id: int) -> str:
        return self.frame.labels[instance_id] if instance_id != UNLABELLED else "surface"

    def named_once(self, instance_id: int) -> bool:
        """Whether no other instance with a box has this one's category (a name refers to it alone)."""
        name = self.name(instance_id)
        return sum(self.name(other) == name for other in self.boxes) == 1

    def flat(self, points: np.ndarray) -> np.ndarray:
        first, second = plane_basis(self.up)
        return np.column_stack([points @ first, points @ second])

    def footprint(self, box: GroundedBox) -> Polygon:
        corners = box_corners(box.centre, box.size, box.rotation)
        return MultiPoint(self.flat(corners)).convex_hull

    def bottom(self, box: GroundedBox) -> float:
        return float(box.centre @ self.up - box.size[2] / 2)


def frame_objects(frame: RGBDFrame, capture: Any = None) -> FrameObjects | None:
    """The 3D picture of ``frame``: from ``capture``'s mesh when it has one (a
    :class:`~gsi_datasets.real.scans.ScanCapture`), else from the frame's depth; None without gravity."""
    up = camera_up(frame)
    if up is None or frame.instances is None or not frame.labels:
        return None
    world_to_camera = None if frame.camera_to_world is None else np.linalg.inv(frame.camera_to_world)
    boxes, points, visible, meshes = {}, {}, {}, {}
    for instance_id in frame.labels:
        if capture is not None and hasattr(capture, "surface_points"):
            world = capture.surface_points(instance_id)
            if len(world) < 4:
                continue
            points[instance_id] = transform_points(world_to_camera, world)
            boxes[instance_id] = capture.box(frame, instance_id)
            # Ray casting the unoccluded instance costs: only what a candidate may name (targets, references).
            editable = can_be_target(frame.labels[instance_id])
            visible[instance_id] = capture.visible_fraction(frame, instance_id) if editable else None
            # A target's mesh goes into its rows; any instance's (walls and floors too) may be hidden behind one.
            meshes[instance_id] = capture.instance_mesh(instance_id).transformed(world_to_camera)
        else:
            box = grounded_box(frame, instance_id, up)
            if box is None:
                continue
            boxes[instance_id] = box
            points[instance_id] = _depth_points(frame, instance_id)
            visible[instance_id] = None
    background = _depth_points(frame, UNLABELLED)
    if len(background) > MOST_BACKGROUND_POINTS:
        background = background[np.random.default_rng(0).choice(len(background), MOST_BACKGROUND_POINTS, replace=False)]
    points[UNLABELLED] = background
    objects = FrameObjects(frame, up, boxes, points, visible, meshes=meshes)
    for target in (i for i in boxes if can_be_target(frame.labels[i])):
        support = _support(objects, target)
        if support is not None:
            objects.supports[target], objects.areas[target] = support
    return objects


def neighbour_meshes(objects: FrameObjects, target_id: int) -> list[tuple[int, ObjectMesh]]:
    """The other instances' annotated surfaces around and behind the target in the frame, ``(instance id, mesh)`` in
    the camera frame (empty without a scan): each instance's faces whose centres project into the target's image box
    widened by ``NEIGHBOUR_MARGIN`` and lie no nearer the camera than the target (``NEIGHBOUR_DEPTH_MARGIN_M``), at
    most ``MOST_NEIGHBOUR_FACES`` in all. Scoring draws the surfaces a move or a removal uncovers from them, instead of
    guessing them from the pixels around the target."""
    target = objects.meshes.get(target_id)
    rows, columns = np.nonzero(objects.frame.instances == target_id)
    if target is None or rows.size == 0 or len(target.vertices) == 0:
        return []
    margin = max(NEIGHBOUR_MARGIN * max(np.ptp(columns), np.ptp(rows)), NEIGHBOUR_MARGIN_PX)
    left, right = columns.min() - margin, columns.max() + 1 + margin
    top, bottom = rows.min() - margin, rows.max() + 1 + margin
    nearest = max(float(target.vertices[:, 2].min()) - NEIGHBOUR_DEPTH_MARGIN_M, 1e-3)
    parts = []
    for instance_id, mesh in sorted(objects.meshes.items()):
        if instance_id == target_id or len(mesh.faces) == 0:
            continue
        centres = mesh.vertices[mesh.faces].mean(axis=1)
        behind = np.flatnonzero(centres[:, 2] > nearest)
        u, v = project_points(objects.frame.intrinsics, centres[behind]).T
        kept = behind[(u >= left) & (u < right) & (v >= top) & (v < bottom)]
        if kept.size:
            parts.append((instance_id, mesh, kept))
    stride = max(1, int(np.ceil(sum(len(kept) for *_, kept in parts) / MOST_NEIGHBOUR_FACES)))
    return [(instance_id, mesh.with_faces(kept[::stride])) for instance_id, mesh, kept in parts]


def _depth_points(frame: RGBDFrame, instance_id: int) -> np.ndarray:
    from gsi_datasets.geometry import unproject_pixels

    rows, columns = np.nonzero((frame.instances == instance_id) & (frame.depth_m > 0))
    return unproject_pixels(frame.intrinsics, np.column_stack([columns, rows]), frame.depth_m[rows, columns])


def _support(objects: FrameObjects, target: int) -> tuple[int, SupportArea] | None:
    """The instance the target stands on and the area of its surface the target stands in, or None."""
    box = objects.boxes[target]
    bottom = objects.bottom(box)
    footprint = objects.footprint(box)
    around = footprint.buffer(SUPPORT_AROUND_M)
    best, best_count = None, MIN_SUPPORT_POINTS - 1
    for instance_id, points in objects.points.items():
        if instance_id == target:
            continue
        heights = points @ objects.up
        level = (heights > bottom - SUPPORT_BELOW_M) & (heights < bottom + SUPPORT_ABOVE_M)
        if np.count_nonzero(level) <= best_count:
            continue
        flat = objects.flat(points[level])
        count = int(np.count_nonzero(contains_xy(around, flat[:, 0], flat[:, 1])))
        if count > best_count:
            best, best_count = (instance_id, flat), count
    if best is None:
        return None
    return best[0], SupportArea.around(best[1], footprint)


#: Cell side (m) of a support's area grid.
AREA_CELL_M = 0.02


@dataclass(frozen=True)
class SupportArea:
    """Where a support's surface is, at the height a target stands on it: the cells (:data:`AREA_CELL_M`, plane
    coordinates from ``origin``) that hold surface points, small gaps closed, joined to the cells under the target (its
    support is there even where the target hides it), and only the part connected to them: a wall or another shelf at
    the same height is not somewhere the target can slide to."""

    origin: np.ndarray
    cells: np.ndarray

    @classmethod
    def around(cls, flat: np.ndarray, footprint: Polygon) -> SupportArea:
        import cv2

        low = np.minimum(flat.min(axis=0), np.array(footprint.bounds[:2])) - 2 * AREA_CELL_M
        high = np.maximum(flat.max(axis=0), np.array(footprint.bounds[2:])) + 2 * AREA_CELL_M
        shape = tuple(int(v) for v in np.ceil((high - low) / AREA_CELL_M)[::-1])  # rows (second axis), columns
        occupied = np.zeros(shape, np.uint8)
        columns, rows = ((flat - low) / AREA_CELL_M).astype(int).T
        occupied[rows, columns] = 1
        occupied = cv2.morphologyEx(occupied, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        under = _cells(footprint, low, shape)
        occupied |= under
        _, components = cv2.connectedComponents(occupied, connectivity=8)
        keep = np.unique(components[under.astype(bool)])
        return cls(low, np.isin(components, keep[keep > 0]))

    def holds(self, polygon: Polygon) -> bool:
        """Whether every cell ``polygon`` covers is in the area."""
        covered = _cells(polygon, self.origin, self.cells.shape).astype(bool)
        inside = polygon.difference(_grid_box(self.origin, self.cells.shape)).is_empty
        return inside and bool(np.all(self.cells[covered]))


def _grid_box(origin: np.ndarray, shape: tuple[int, int]) -> Polygon:
    from shapely.geometry import box

    return box(*origin, *(origin + np.array(shape[::-1]) * AREA_CELL_M))


def _cells(polygon: Polygon, origin: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    cells = np.zeros(shape, np.uint8)
    if polygon.is_empty:
        return cells
    corners = (np.asarray(polygon.exterior.coords) - origin) / AREA_CELL_M
    cv2.fillPoly(cells, [np.round(corners * 16).astype(np.int32)], 1, shift=4)
    return cells


@dataclass(frozen=True)
class Candidate:
    """A candidate edit: what to ask and its 3D labels (camera frame of the frame)."""

    frame_id: str
    operation: str
    command: Any
    instruction: str
    template: str
    target_id: int
    box_before: GroundedBox
    box_after: GroundedBox
    support_id: int
    reference_id: int | None = None
    distractor_ids: tuple[int, ...] = ()
    receptacle: dict[str, Any] | None = None


class Rejected(Exception):
    """A candidate fails a check (the message is the rule)."""


def _changed(box: GroundedBox, shift: np.ndarray = 0.0, turn_deg: float = 0.0, factor: float = 1.0, up=None):
    rotation = box.rotation if not turn_deg else rotation_about_axis(up, turn_deg) @ box.rotation
    centre = box.centre + shift
    if factor != 1.0:  # scaled about its bottom: it keeps standing on its support
        centre = centre + (factor - 1.0) * box.size[2] / 2 * box.rotation[:, 2]
    return GroundedBox(centre, box.size * factor, rotation, box.points, box.yaw_known)


def check_placement(
    objects: FrameObjects, target: int, after: GroundedBox, onto: tuple[int, SupportArea] | None = None
) -> None:
    """Raises :class:`Rejected` when the changed box leaves its support (``onto``: another support and its area),
    meets another object or leaves the image."""
    support, area = onto if onto is not None else (objects.supports[target], objects.areas[target])
    footprint = objects.footprint(after)
    if not area.holds(footprint.buffer(-CLEARANCE_M)):
        raise Rejected("leaves_support")
    low, high = objects.bottom(after), objects.bottom(after) + after.size[2]
    for other, box in objects.boxes.items():
        if other in (target, support) or not can_be_target(objects.name(other)):
            continue
        other_low = objects.bottom(box)
        if (
            other_low < high
            and other_low + box.size[2] > low
            and objects.footprint(box).distance(footprint) < CLEARANCE_M
        ):
            raise Rejected("collides")
    corners = box_corners(after.centre, after.size, after.rotation)
    height, width = objects.frame.depth_m.shape
    if np.any(corners[:, 2] <= 0.05):
        raise Rejected("leaves_frame")
    pixels = project_points(objects.frame.intrinsics, corners)
    if (
        pixels.min() < BORDER_PX
        or np.any(pixels[:, 0] > width - BORDER_PX)
        or np.any(pixels[:, 1] > height - BORDER_PX)
    ):
        raise Rejected("leaves_frame")


def propose(objects: FrameObjects, operation: str, target: int, rng: np.random.Generator) -> Candidate:
    """One candidate of ``operation`` on ``target``, with drawn parameters; :class:`Rejected` names the failed rule."""
    frame, box = objects.frame, objects.boxes[target]
    if objects.visible.get(target) is not None and objects.visible[target] < MIN_VISIBLE_FRACTION:
        raise Rejected("target_occluded")
    if target not in objects.supports:
        raise Rejected("no_support")
    name = objects.name(target)
    namesakes = [i for i in objects.boxes if i != target and objects.name(i) == name]  # an SR's other instances
    spec = get_operation(operation)
    values = {"object": name, "support": objects.name(objects.supports[target])}
    reference, distractors, label = None, (), None
    if operation == "spatial_remove":
        if not namesakes:
            raise Rejected("single_instance")
        centres = {i: objects.boxes[i].centre for i in [target, *namesakes]}
        positions = [p for p in POSITIONS if extreme_instance(p, centres, objects.up)[0] == target]
        leads = {p: extreme_instance(p, centres, objects.up)[1] for p in positions}
        positions = [p for p in positions if leads[p] >= MIN_SEPARATION_M]
        if not positions:
            raise Rejected("not_extreme")
        command, after, distractors = RemoveCommand(str(rng.choice(positions))), box, tuple(namesakes)
    elif namesakes:
        raise Rejected("ambiguous_referent")
    elif operation == "camera_relative_move":
        direction, distance_cm = str(rng.choice(["left", "right", "forward", "back"])), int(rng.integers(5, 21))
        command = MoveCommand(direction, distance_cm / 100.0)
        after = _changed(box, ground_direction(direction, objects.up) * command.distance_m)
    elif operation == "object_relative_place":
        references = [
            i for i in objects.boxes
            if i != target and objects.supports.get(i) == objects.supports[target] and can_be_target(objects.name(i))
            and objects.named_once(i)
        ]  # fmt: skip
        if not references:
            raise Rejected("no_reference")
        reference = int(rng.choice(references))
        relation = str(rng.choice(list(RELATIONS)))
        command = PlaceCommand(relation, int(rng.integers(5, 31)) / 100.0)
        goal = objects.boxes[reference].centre + ground_direction(RELATIONS[relation], objects.up) * command.distance_m
        shift = goal - box.centre
        shift -= (shift @ objects.up) * objects.up  # the target keeps its height (it stays on its support)
        if np.linalg.norm(shift) < 0.05:
            raise Rejected("already_there")
        after = _changed(box, shift)
        values["reference"] = objects.name(reference)
    elif operation == "receptacle_place":
        receptacles = [i for i in objects.boxes if i != target and _is_receptacle(objects.name(i))
                       and objects.named_once(i)]  # fmt: skip
        if not receptacles:
            raise Rejected("no_receptacle")
        receptacle = int(rng.choice(receptacles))
        top = _receptacle_top(objects, receptacle, box)
        if top is None:
            raise Rejected("receptacle_top_unseen")
        area, height, corners, points = top
        region = str(rng.choice(list(points)))
        if objects.supports[target] == receptacle and nearest_region(points, box.centre, objects.up) == region:
            raise Rejected("already_in_region")
        command = RegionCommand(region)
        goal = points[region] + box.size[2] / 2 * objects.up
        after = _changed(box, goal - box.centre)
        check_placement(objects, target, after, (receptacle, area))
        values["receptacle"] = objects.name(receptacle)
        label = {
            "instance_id": receptacle,
            "category": objects.name(receptacle),
            "display_name": objects.name(receptacle),
            "corners": [_floats(c) for c in corners],
            "regions": [{"region": r, "point": _floats(p)} for r, p in points.items()],
        }
    elif operation == "object_rotate":
        if not box.yaw_known:
            raise Rejected("yaw_unknown")
        angle, direction = int(rng.choice([45, 90, 180])), str(rng.choice(["clockwise", "counterclockwise"]))
        command = RotateCommand(direction, float(angle))
        after = _changed(box, turn_deg=angle if direction == "counterclockwise" else -angle, up=objects.up)
    elif operation == "object_scale":
        command = ScaleCommand.of(float(rng.choice([0.5, 0.75, 1.5, 2.0])))
        after = _changed(box, factor=command.scale_factor)
    else:
        raise ValueError(f"no real candidates for {operation!r}; known: {', '.join(REAL_OPERATIONS)}")
    if operation not in ("spatial_remove", "receptacle_place"):
        check_placement(objects, target, after)
    instruction, template = spec.phrase(command, rng, **values)
    return Candidate(
        frame.frame_id, operation, command, instruction, template, target, box, after, objects.supports[target],
        reference, distractors, label,
    )  # fmt: skip


def _is_receptacle(category: str) -> bool:
    return category.split(" ")[-1] in RECEPTACLE_WORDS


def _receptacle_top(
    objects: FrameObjects, receptacle: int, target: GroundedBox
) -> tuple[SupportArea, float, np.ndarray, dict[str, np.ndarray]] | None:
    """A receptacle's top as the regions of RP define it (:mod:`gsi_datasets.operations.receptacle_place`): its area,
    height, the corners of the smallest rectangle around it (camera frame) and each askable region's point: the
    centre, and the middle of each side that faces a camera-relative ground direction within
    ``EDGE_FACING_TOLERANCE_DEG`` (as generation asks), moved in by the target's half diagonal and the clearance, and
    at least ``MIN_REGION_SEPARATION_M`` from the centre.
    None without a seen top."""
    import cv2

    box, up = objects.boxes[receptacle], objects.up
    height = float(box.centre @ up + box.size[2] / 2)
    points = objects.points[receptacle]
    top = points[np.abs(points @ up - height) < TOP_BAND_M]
    if len(top) < 4 * MIN_SUPPORT_POINTS:
        return None
    flat = objects.flat(top)
    (cx, cy), (width, length), angle = cv2.minAreaRect(flat.astype(np.float32))
    middle = np.median(flat, axis=0)
    area = SupportArea.around(flat, Polygon(middle + AREA_CELL_M * np.array([[0, 0], [1, 0], [1, 1], [0, 1]])))
    first, second = plane_basis(up)
    to_3d = lambda p: p[0] * first + p[1] * second + height * up  # noqa: E731
    corners_2d = cv2.boxPoints(((cx, cy), (width, length), angle)).astype(float)
    inset = float(np.hypot(*target.size[:2]) / 2 + CLEARANCE_M)
    points_3d = {"centre": to_3d(np.array([cx, cy]))}
    for region, direction in REGIONS.items():
        if direction is None:
            continue
        along = ground_direction(direction, up)
        wanted = np.array([along @ first, along @ second])
        middle, outward, facing = rectangle_edge(corners_2d, wanted / np.linalg.norm(wanted))
        point = middle - outward * inset
        if facing < np.cos(np.radians(EDGE_FACING_TOLERANCE_DEG)) or np.linalg.norm(point - (cx, cy)) < (
            MIN_REGION_SEPARATION_M
        ):
            continue  # no side faces that way, or too small a top for an edge well apart from its centre
        points_3d[region] = to_3d(point)
    corners = np.array([to_3d(c) for c in corners_2d])
    return area, height, corners, points_3d


def frame_candidates(
    objects: FrameObjects,
    rng: np.random.Generator,
    rejections: Counter[str],
    operations: tuple[str, ...] = REAL_OPERATIONS,
    rules: TargetRules = TargetRules(),  # noqa: B008 (frozen)
) -> list[Candidate]:
    """At most one candidate per operation and target of a frame (targets in random order); each failed check is
    counted in ``rejections`` as ``<operation>/<rule>``."""
    targets = [item.instance_id for item in possible_targets(objects.frame, rules) if item.instance_id in objects.boxes]
    found = []
    for operation in operations:
        for target in rng.permutation(targets):
            try:
                found.append(propose(objects, operation, int(target), rng))
            except Rejected as rule:
                rejections[f"{operation}/{rule}"] += 1
    return found


def _box_label(box: GroundedBox) -> dict[str, Any]:
    return {"centre": _floats(box.centre), "size": _floats(box.size), "rotation": [_floats(r) for r in box.rotation]}


def _floats(values: Any) -> list[float]:
    return [float(v) for v in values]


def _object_label(objects: FrameObjects, instance_id: int, after: GroundedBox | None = None) -> dict[str, Any]:
    """An object's label (the schema's ``OBJECT_LABEL``): ``after`` is its box after the edit (default: unmoved); the
    2D box after is the projection of that box (there is no edited image to measure it in)."""
    from gsi_datasets.geometry import mask_box, projected_box_2d

    before = objects.boxes[instance_id]
    after = before if after is None else after
    return {
        "instance_id": instance_id,
        "category": objects.name(instance_id),
        "display_name": objects.name(instance_id),
        "box3d_before": _box_label(before),
        "box3d_after": _box_label(after),
        "box2d_before": _floats(mask_box(objects.frame.instances == instance_id)),
        "box2d_after": _floats(projected_box_2d(objects.frame.intrinsics, after.centre, after.size, after.rotation)),
        "visible_fraction_before": objects.visible.get(instance_id),
        "visible_fraction_after": None,
    }


def turn_look_alike(row: dict[str, Any]) -> str | None:
    """For a turn (OR row): the look-alike (``unturned``, ``opposite`` or ``doubled``) that the row's own view cannot
    tell from the asked turn, else None. The generators' rule (:data:`~gsi_datasets.operations.object_rotate.
    MIN_VISIBLE_DIFFERENCE`), applied to the drawings the scorer makes of this row: the target's annotated mesh where
    the row has one, its source pixels otherwise (what a row without a mesh is scored ``undecidable`` by)."""
    from gsi_metrics.operations.object_rotate import turn_undecidable
    from gsi_metrics.perception.scene_free import SceneFreeComparer
    from gsi_metrics.sample import ScoringSample

    sample = ScoringSample.from_row(row)
    comparer = SceneFreeComparer(sample.view, sample.view.image)
    return turn_undecidable(sample.view, sample.truth, comparer.turn_distinctness())


def frame_images(frame: RGBDFrame) -> dict[str, dict[str, Any]]:
    """A frame's source image columns (PNG): RGB, depth in millimetres, instance ids."""
    from gsi_builders.generate import _depth_png, _encode_png

    instances = np.clip(frame.instances, 0, 65535).astype(np.uint16)
    return {
        "source_image": {"bytes": _encode_png(frame.rgb), "path": None},
        "source_depth": {"bytes": _depth_png(frame.depth_m), "path": None},
        "source_instances": {"bytes": _encode_png(instances), "path": None},
    }


def candidate_row(
    candidate: Candidate,
    objects: FrameObjects,
    sample_id: str,
    split: str,
    seed: int,
    images: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The dataset row of a candidate, in GSI-Syn's schema (:data:`gsi_datasets.schema.FEATURES`): ``target_image``,
    ``target_depth``, ``target_instances`` and ``scene`` None, ``target_mesh`` the target's annotated mesh and
    ``neighbour_meshes`` the surfaces around and behind it (:func:`neighbour_meshes`) where the frame comes from a
    scan, ``reference_format``'s dataset ``fine``; ``images``: the frame's :func:`frame_images` (encoded once for all
    its candidates)."""
    from gsi_datasets.geometry import axis_angle_from_rotation, reference_box

    frame, removal = objects.frame, candidate.operation == "spatial_remove"
    world_to_camera = np.eye(4) if frame.camera_to_world is None else np.linalg.inv(frame.camera_to_world)
    before, after = candidate.box_before, candidate.box_after
    axis, angle = axis_angle_from_rotation(after.rotation @ before.rotation.T)
    bottom = objects.bottom(before)
    target = _object_label(objects, candidate.target_id, None if removal else after)
    if removal:
        target["visible_fraction_after"] = 0.0
    boxes = {"before": reference_box(before.centre, before.size, before.rotation)}
    boxes["after"] = reference_box(after.centre, after.size, after.rotation)
    support = candidate.support_id
    return {
        "sample_id": sample_id,
        "subset": "real",
        "split": split,
        "operation": candidate.operation,
        "instruction": candidate.instruction,
        "instruction_template": candidate.template,
        "seed": seed,
        **(images or frame_images(frame)),
        "target_image": None,
        "target_depth": None,
        "target_instances": None,
        "instances": [
            {"instance_id": i, "category": name, "display_name": name, "support_id": objects.supports.get(i, 0)}
            for i, name in sorted(frame.labels.items())
        ],
        "camera": {
            "intrinsics": [_floats(r) for r in frame.intrinsics],
            "width": int(frame.rgb.shape[1]),
            "height": int(frame.rgb.shape[0]),
            "source_world_to_camera": [_floats(r) for r in world_to_camera],
            "target_world_to_camera": [_floats(r) for r in world_to_camera],
        },
        "target_object": target,
        "reference_object": None if candidate.reference_id is None else _object_label(objects, candidate.reference_id),
        "receptacle": candidate.receptacle,
        "distractors": [_object_label(objects, i) for i in candidate.distractor_ids],
        "transform": {
            "translation_m": _floats(after.centre - before.centre),
            "rotation_axis": _floats(axis),
            "rotation_deg": float(angle),
            "scale_factor": float(after.size[2] / before.size[2]) if before.size[2] > 0 else 1.0,
            "camera_delta": [_floats(r) for r in np.eye(4)],
        },
        "command": candidate.command.to_row(),
        "support": {
            "instance_id": support,
            "category": objects.name(support),
            "normal": _floats(objects.up),
            "offset_m": -bottom,
        },
        "scene": None,
        "target_mesh": objects.meshes[candidate.target_id].to_row() if candidate.target_id in objects.meshes else None,
        "neighbour_meshes": [
            {"instance_id": instance_id, **mesh.to_row()}
            for instance_id, mesh in neighbour_meshes(objects, candidate.target_id)
        ]
        if candidate.target_id in objects.meshes
        else None,
        "reference_format": {
            "dataset": "fine",
            "prompt": candidate.instruction,
            "target": objects.name(candidate.target_id),
            "original_bbox_3d": _floats(boxes["before"][0]),
            "new_bbox_3d": _floats(boxes["after"][0]),
            "camera_intrinsics": [_floats(r) for r in frame.intrinsics],
            "rotation_matrix": [_floats(r) for r in boxes["before"][1]],
            "new_rotation_matrix": [_floats(r) for r in boxes["after"][1]],
        },
    }
