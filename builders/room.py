"""Random furnished rooms: walls with a door and windows, furniture for the room type, small objects on the
furniture tops and shelves, room-scale objects on the floor, ceiling and window lights, and a camera standing in
the room that sees several objects.

Every draw comes from the ``rng`` passed in, so a scene is a pure function of its seed. Scenes come back
unsettled (objects released ``DROP_HEIGHT_M`` above their support); ``simulation.settle`` settles them.

Frames as in ``tabletop``: world metres, z up, the room centred on the origin (north wall at +y, east at +x).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from shapely.geometry import Point, Polygon, box

from gsi_builders.subsets import SceneUnusable
from gsi_builders.supports import DROP_HEIGHT_M, FOOTPRINT_MARGIN_M
from gsi_builders.tabletop import with_receptacle
from gsi_datasets.assets import Category, all_categories
from gsi_datasets.assets.furniture import footprint_polygon, get_furniture_category, make_furniture, piece_height
from gsi_datasets.assets.surfaces import TEXTURE_SEEDS_PER_PATTERN
from gsi_datasets.geometry import box_corners, matrix_to_quaternion, rotation_about_axis
from gsi_datasets.rendering import asset_of
from gsi_datasets.scene import (
    FLOOR_ID,
    Camera,
    Furniture,
    Light,
    Opening,
    Pose,
    Room,
    Scene,
    SceneObject,
    SupportSurface,
    SurfaceMaterial,
)

#: Room types :func:`sample_room_scene` furnishes.
ROOM_TYPES = ("living_room", "kitchen", "bedroom", "office", "dining_room")
#: Gap (m) kept between furniture footprints (chairs keep a smaller one to their table).
FURNITURE_GAP_M = 0.05
#: Gap (m) between a piece standing against a wall and the wall.
WALL_GAP_M = 0.02
#: Support surfaces higher than this (m) get no objects (a camera at eye height hardly sees them).
MAX_SURFACE_HEIGHT_M = 1.4
#: Camera clearance (m) from the walls, and from furniture and floor-object footprints.
CAMERA_WALL_MARGIN_M = 0.4
CAMERA_FURNITURE_MARGIN_M = 0.3
#: Camera clearance (m) from floor objects' footprints (a wide lens makes a near one fill the picture).
CAMERA_FLOOR_OBJECT_MARGIN_M = 0.7

_WALLS = ("north", "south", "east", "west")
_SEAT_GROUPS = ("books_and_boxes", "toys", "electronics")
_GROUP_WEIGHTS = {
    "living_room": {"decor": 3.0, "books_and_boxes": 2.0, "electronics": 2.0, "toys": 1.0, "kitchenware": 1.0},
    "kitchen": {"kitchenware": 4.0, "food": 3.0, "bottles_and_cans": 2.0, "decor": 1.0},
    "bedroom": {"decor": 3.0, "books_and_boxes": 2.5, "electronics": 1.5, "toys": 1.5},
    "office": {"electronics": 3.0, "books_and_boxes": 3.0, "decor": 2.0, "kitchenware": 1.0},
    "dining_room": {"kitchenware": 3.0, "food": 2.0, "bottles_and_cans": 1.5, "decor": 1.5},
}
_FLOORS = {
    "living_room": ("wood", "carpet", "tiles"),
    "kitchen": ("tiles", "concrete", "marble", "wood"),
    "bedroom": ("wood", "carpet"),
    "office": ("wood", "carpet", "concrete"),
    "dining_room": ("wood", "tiles", "marble"),
}
_FLOOR_COLOURS = ((0.75, 0.73, 0.70), (0.55, 0.45, 0.35), (0.40, 0.42, 0.45), (0.85, 0.80, 0.70), (0.65, 0.5, 0.38))
_WALL_COLOURS = ((0.93, 0.91, 0.87), (0.80, 0.85, 0.88), (0.88, 0.82, 0.72), (0.75, 0.80, 0.72), (0.95, 0.95, 0.95))


class RoomTooSmallError(ValueError):
    """The room cannot hold a piece of furniture its room type requires."""


@dataclass(frozen=True)
class RoomConfig:
    """Ranges of the room scene generator.

    Attributes:
        side_m: range of each side of the (rectangular) room, metres.
        wall_height_m: range of the wall height.
        room_types: the room types drawn from when no type is asked.
        min_objects: fewest small objects placed on furniture.
        max_objects: most small objects placed on furniture.
        fovy_deg: range of the camera's vertical field of view.
        camera_height_m: range of the camera height above the floor.
        width: image width (px).
        height: image height (px).
        min_objects_in_view: the camera is redrawn until at least this many small objects are in view
            (:func:`objects_in_view`).
        repeated_instances: range of the number of instances of each repeated category (spatial removal asks for
            more, :meth:`~gsi_builders.operations.OperationGenerator.scene_config`).
        group_repeats: put the instances of a repeated category on the same piece of furniture where they fit (so
            they are seen together), and repeat one category even in rooms with few objects; by default they go on
            different furniture (then "the mug on the desk" tells them apart).
        receptacle_object: make one of the objects a receptacle that others can be put on (a tray, a cutting board,
            a storage box; ``Category.receiving_part``) when none is drawn (receptacle placement asks for it).
    """

    side_m: tuple[float, float] = (3.0, 6.0)
    wall_height_m: tuple[float, float] = (2.5, 3.0)
    room_types: tuple[str, ...] = ROOM_TYPES
    min_objects: int = 8
    max_objects: int = 20
    fovy_deg: tuple[float, float] = (60.0, 90.0)
    camera_height_m: tuple[float, float] = (1.2, 1.7)
    width: int = 512
    height: int = 512
    min_objects_in_view: int = 3
    repeated_instances: tuple[int, int] = (2, 2)
    group_repeats: bool = False
    receptacle_object: bool = False

    def __post_init__(self) -> None:
        for name in ("side_m", "wall_height_m", "fovy_deg", "camera_height_m"):
            low, high = getattr(self, name)
            if not low <= high:
                raise ValueError(f"RoomConfig.{name}: the range {low}..{high} is empty (need low <= high)")
        if not (1.5 <= self.side_m[0] and self.side_m[1] <= 20.0):
            raise ValueError(f"RoomConfig.side_m must lie within 1.5..20 m, got {self.side_m}")
        if not (2.2 <= self.wall_height_m[0] and self.wall_height_m[1] <= 5.0):
            raise ValueError(f"RoomConfig.wall_height_m must lie within 2.2..5 m, got {self.wall_height_m}")
        if not (10.0 <= self.fovy_deg[0] and self.fovy_deg[1] <= 120.0):
            raise ValueError(f"RoomConfig.fovy_deg must lie within 10..120 degrees, got {self.fovy_deg}")
        if not (0.5 <= self.camera_height_m[0] and self.camera_height_m[1] <= self.wall_height_m[0] - 0.2):
            raise ValueError(
                f"RoomConfig.camera_height_m must lie within 0.5 m .. 20 cm under the lowest wall height "
                f"({self.wall_height_m[0]} m), got {self.camera_height_m}"
            )
        unknown = set(self.room_types) - set(ROOM_TYPES)
        if not self.room_types or unknown:
            raise ValueError(f"RoomConfig.room_types must be a non-empty subset of {ROOM_TYPES}, got {self.room_types}")
        if not 1 <= self.min_objects <= self.max_objects <= 60:
            raise ValueError(
                f"RoomConfig needs 1 <= min_objects <= max_objects <= 60, got {self.min_objects}, {self.max_objects}"
            )
        if not 0 <= self.min_objects_in_view <= self.min_objects:
            raise ValueError(
                f"RoomConfig.min_objects_in_view must lie within 0..min_objects ({self.min_objects}), "
                f"got {self.min_objects_in_view}"
            )
        if self.width < 16 or self.height < 16:
            raise ValueError(f"RoomConfig image size must be at least 16 x 16 px, got {self.width} x {self.height}")


# ------------------------------------------------------------------------------------------------------ geometry


def _wall_frame(wall: str, size_xy: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``(point at the wall's middle, inward normal, along-wall direction (+x or +y), wall length)``."""
    sx, sy = size_xy
    return {
        "north": (np.array([0.0, sy / 2]), np.array([0.0, -1.0]), np.array([1.0, 0.0]), sx),
        "south": (np.array([0.0, -sy / 2]), np.array([0.0, 1.0]), np.array([1.0, 0.0]), sx),
        "east": (np.array([sx / 2, 0.0]), np.array([-1.0, 0.0]), np.array([0.0, 1.0]), sy),
        "west": (np.array([-sx / 2, 0.0]), np.array([1.0, 0.0]), np.array([0.0, 1.0]), sy),
    }[wall]


def _yaw_facing(direction: np.ndarray) -> float:
    """Yaw (degrees) that turns a piece's front (local -y) towards the horizontal ``direction``."""
    return float(np.degrees(np.arctan2(direction[0], -direction[1])))


def _front_direction(piece: Furniture) -> np.ndarray:
    return (piece.pose.rotation @ np.array([0.0, -1.0, 0.0]))[:2]


def _wall_zone(wall: str, size_xy: Sequence[float], offset: float, width: float, depth: float) -> Polygon:
    """The floor rectangle in front of a stretch of wall (``width`` along it around ``offset``, ``depth`` in)."""
    middle, normal, along, _ = _wall_frame(wall, size_xy)
    a, b = middle + along * (offset - width / 2), middle + along * (offset + width / 2)
    return Polygon([a, b, b + normal * depth, a + normal * depth])


def _posed(piece: Furniture, xy: Sequence[float], yaw_deg: float, z: float = 0.0) -> Furniture:
    rotation = rotation_about_axis(np.array([0.0, 0.0, 1.0]), float(yaw_deg))
    pose = Pose((float(xy[0]), float(xy[1]), float(z)), tuple(float(q) for q in matrix_to_quaternion(rotation)))
    return dataclasses.replace(piece, pose=pose)


def _local_to_world(piece: Furniture, local_xy: Sequence[float]) -> np.ndarray:
    rotation = piece.pose.rotation[:2, :2]
    return rotation @ np.asarray(local_xy, float) + np.array(piece.pose.position[:2])


# ---------------------------------------------------------------------------------------------------- furniture


class _Layout:
    """Places furniture one piece at a time; every piece is checked against the room, the other pieces, the door
    swing areas and the windows."""

    def __init__(self, rng: np.random.Generator, room_type: str, size_xy: tuple[float, float], openings: list[Opening]):
        self.rng = rng
        self.room_type = room_type
        self.size_xy = size_xy
        self.openings = openings
        self.pieces: list[Furniture] = []
        self.room_polygon = box(-size_xy[0] / 2, -size_xy[1] / 2, size_xy[0] / 2, size_xy[1] / 2)
        self.doors = [
            _wall_zone(o.wall, size_xy, o.offset, o.width + 0.1, o.width + 0.1) for o in openings if o.kind == "door"
        ]
        self.windows = [
            (_wall_zone(o.wall, size_xy, o.offset, o.width + 0.1, 0.5), o.bottom)
            for o in openings
            if o.kind == "window"
        ]

    # -- checks

    def fits(self, piece: Furniture, gap: float = FURNITURE_GAP_M, gap_exempt: Furniture | None = None) -> bool:
        placement = get_furniture_category(piece.category).placement
        footprint = footprint_polygon(piece)
        if not self.room_polygon.buffer(-0.005).contains(footprint):
            return False
        if any(footprint.intersects(door) for door in self.doors):
            return False
        if placement == "floor_flat":
            return not any(
                footprint.intersects(footprint_polygon(other))
                for other in self.pieces
                if get_furniture_category(other.category).placement == "floor_flat"
            )
        height = piece_height(piece)
        if any(footprint.intersects(zone) and height > sill - 0.02 for zone, sill in self.windows):
            return False
        for other in self.pieces:
            if get_furniture_category(other.category).placement in ("floor_flat", "wall_mounted"):
                continue
            margin = gap if other is gap_exempt else FURNITURE_GAP_M
            if footprint.distance(footprint_polygon(other)) < margin:
                return False
        return True

    def add(self, piece: Furniture) -> Furniture:
        self.pieces.append(piece)
        return piece

    def draw(self, category: str) -> Furniture:
        """A new piece of ``category`` at the origin (its id is the next furniture id)."""
        return make_furniture(category, len(self.pieces) + 1, self.rng, (0.0, 0.0), 0.0)

    def _try(self, category: str, place: Callable[[Furniture], Furniture | None], tries: int = 40) -> Furniture | None:
        piece = None
        for attempt in range(tries):
            if attempt % 8 == 0:  # a fresh draw (other dimensions) now and then
                piece = self.draw(category)
            placed = place(piece)
            if placed is not None:
                return self.add(placed)
        return None

    # -- placements

    def against_wall(self, category: str, walls: Sequence[str] = _WALLS, near: float | None = None) -> Furniture | None:
        def place(piece: Furniture) -> Furniture | None:
            wall = str(walls[int(self.rng.integers(len(walls)))])
            middle, normal, along, length = _wall_frame(wall, self.size_xy)
            _, size = piece.local_box()
            room = length / 2 - size[0] / 2 - 0.01
            if room < 0:
                return None
            offset = float(self.rng.uniform(-room, room))
            if near is not None:
                offset = float(np.clip(near + self.rng.normal(0.0, 0.3), -room, room))
            xy = middle + along * offset + normal * (size[1] / 2 + WALL_GAP_M)
            candidate = _posed(piece, xy, _yaw_facing(normal))
            return candidate if self.fits(candidate) else None

        return self._try(category, place)

    def in_front_of(
        self, category: str, ref: Furniture, gap: tuple[float, float], facing: bool = False
    ) -> Furniture | None:
        """In front of ``ref`` (same orientation, or turned to face it)."""
        _, ref_size = ref.local_box()
        yaw = _yaw_from(ref)

        def place(piece: Furniture) -> Furniture | None:
            _, size = piece.local_box()
            distance = ref_size[1] / 2 + float(self.rng.uniform(*gap)) + size[1] / 2
            xy = _local_to_world(ref, (float(self.rng.normal(0.0, 0.05)), -distance))
            candidate = _posed(piece, xy, yaw + (180.0 if facing else 0.0))
            return candidate if self.fits(candidate, gap=min(gap[0], FURNITURE_GAP_M), gap_exempt=ref) else None

        return self._try(category, place, tries=16)

    def beside(self, category: str, ref: Furniture, side: int) -> Furniture | None:
        """Next to ``ref`` on its ``side`` (-1 left, +1 right of its local x), backs aligned (against the same wall)."""
        _, ref_size = ref.local_box()

        def place(piece: Furniture) -> Furniture | None:
            _, size = piece.local_box()
            x = side * (ref_size[0] / 2 + float(self.rng.uniform(0.06, 0.15)) + size[0] / 2)
            xy = _local_to_world(ref, (x, ref_size[1] / 2 - size[1] / 2))
            candidate = _posed(piece, xy, _yaw_from(ref))
            return candidate if self.fits(candidate) else None

        return self._try(category, place, tries=8)

    def around(self, category: str, table: Furniture, count: int, gap: tuple[float, float], ends_only: bool = False):
        """Up to ``count`` pieces around ``table``, each facing it."""
        _, size = table.local_box()
        slots: list[tuple[float, float, np.ndarray]] = []
        if not ends_only:
            per_side = max(1, int(size[0] // 0.6))
            for i in range(per_side):
                x = (i + 0.5) / per_side * size[0] - size[0] / 2
                slots += [(x, size[1] / 2, np.array([0.0, 1.0])), (x, -size[1] / 2, np.array([0.0, -1.0]))]
        slots += [(size[0] / 2, 0.0, np.array([1.0, 0.0])), (-size[0] / 2, 0.0, np.array([-1.0, 0.0]))]
        placed = []
        for index in self.rng.permutation(len(slots)):
            if len(placed) >= count:
                break
            x, y, direction = slots[int(index)]
            for _ in range(4):
                piece = self.draw(category)
                _, chair = piece.local_box()
                distance = float(self.rng.uniform(*gap)) + chair[1] / 2
                local = np.array([x, y]) + direction * distance
                world_direction = table.pose.rotation[:2, :2] @ direction
                candidate = _posed(piece, _local_to_world(table, local), _yaw_facing(-world_direction))
                if self.fits(candidate, gap=gap[0], gap_exempt=table):
                    placed.append(self.add(candidate))
                    break
        return placed

    def free(self, category: str, spread: float = 1.0) -> Furniture | None:
        """Free-standing near the middle of the room, turned by a multiple of 90 degrees."""

        def place(piece: Furniture) -> Furniture | None:
            half = np.array(self.size_xy) / 2
            xy = np.clip(self.rng.normal(0.0, spread, 2) * half * 0.5, -half, half)
            candidate = _posed(piece, xy, 90.0 * int(self.rng.integers(4)))
            return candidate if self.fits(candidate) else None

        return self._try(category, place)

    def rug(self, under: Furniture | None = None) -> Furniture | None:
        def place(piece: Furniture) -> Furniture | None:
            if under is not None:
                xy = np.array(under.pose.position[:2]) + self.rng.normal(0.0, 0.1, 2)
                yaw = _yaw_from(under)
            else:
                xy = self.rng.uniform(-0.5, 0.5, 2) * np.array(self.size_xy) * 0.5
                yaw = 90.0 * int(self.rng.integers(2))
            candidate = _posed(piece, xy, yaw)
            return candidate if self.fits(candidate) else None

        return self._try("rug", place, tries=16)

    def picture(self, wall: str | None = None, near: float | None = None) -> Furniture | None:
        def place(piece: Furniture) -> Furniture | None:
            side = wall if wall is not None else str(_WALLS[int(self.rng.integers(4))])
            middle, normal, along, length = _wall_frame(side, self.size_xy)
            _, size = piece.local_box()
            room = length / 2 - size[0] / 2 - 0.2
            if room < 0:
                return None
            offset = float(self.rng.uniform(-room, room)) if near is None else float(np.clip(near, -room, room))
            bottom = float(self.rng.uniform(1.4, 1.7)) - size[2] / 2
            for opening in self.openings:
                if opening.wall == side and abs(opening.offset - offset) < (opening.width + size[0]) / 2 + 0.15:
                    return None
            zone = _wall_zone(side, self.size_xy, offset, size[0] + 0.1, 0.6)
            for other in self.pieces:
                if footprint_polygon(other).intersects(zone) and piece_height(other) > bottom - 0.08:
                    return None  # a tall piece (or another picture) in front of that stretch of wall
            xy = middle + along * offset + normal * (size[1] / 2 + 0.002)
            return _posed(piece, xy, _yaw_facing(normal), z=bottom)

        return self._try("wall_picture", place, tries=16)


def _yaw_from(piece: Furniture) -> float:
    return _yaw_facing(_front_direction(piece))


def _furnish(layout: _Layout) -> str | None:
    """Furnishes ``layout`` for its room type; returns the name of a required piece that did not fit, else None."""
    rng = layout.rng

    kind = layout.room_type
    if kind == "living_room":
        sofa = layout.against_wall("sofa")
        if sofa is None:
            return "sofa"
        table = layout.in_front_of("coffee_table", sofa, (0.35, 0.5))
        if table is None:
            return "coffee table"
        opposite = {"north": "south", "south": "north", "east": "west", "west": "east"}
        facing_wall = _wall_of(sofa, layout.size_xy)
        tv = layout.against_wall("tv_stand", walls=(opposite[facing_wall],)) or layout.against_wall("tv_stand")
        if tv is None:
            return "TV stand"
        if rng.random() < 0.6:
            layout.rug(under=table)
        if rng.random() < 0.6:
            layout.beside("side_table", sofa, int(rng.choice([-1, 1])))
        if rng.random() < 0.5:
            layout.around("armchair", table, 1, (0.3, 0.5), ends_only=True) or layout.against_wall("armchair")
        if rng.random() < 0.5:
            layout.against_wall("bookshelf")
        if rng.random() < 0.6:
            layout.picture(facing_wall, near=_offset_along(sofa, facing_wall, layout.size_xy))
    elif kind == "kitchen":
        counter = layout.against_wall("kitchen_counter")
        if counter is None:
            return "kitchen counter"
        if rng.random() < 0.6:
            layout.against_wall("kitchen_counter")
        table = layout.free("dining_table", spread=0.6)
        if table is not None:
            layout.around("chair", table, int(rng.integers(2, 5)), (0.02, 0.12))
        elif rng.random() < 0.5:
            layout.against_wall("bench")
        if rng.random() < 0.3:
            layout.against_wall("sideboard")
        if rng.random() < 0.3:
            layout.picture()
    elif kind == "bedroom":
        bed = layout.against_wall("bed")
        if bed is None:
            return "bed"
        sides = [-1, 1] if rng.random() < 0.7 else [int(rng.choice([-1, 1]))]
        stands = [layout.beside("nightstand", bed, side) for side in sides]
        if not any(stands):
            return "nightstand"
        if layout.against_wall("dresser") is None:
            return "dresser"
        if rng.random() < 0.4:
            layout.in_front_of("bench", bed, (0.05, 0.15))
        if rng.random() < 0.5:
            layout.rug(under=None)
        if rng.random() < 0.3:
            layout.against_wall("armchair")
        if rng.random() < 0.6:
            wall = _wall_of(bed, layout.size_xy)
            layout.picture(wall, near=_offset_along(bed, wall, layout.size_xy))
    elif kind == "office":
        desk = layout.against_wall("desk")
        if desk is None:
            return "writing desk"
        if layout.in_front_of("chair", desk, (0.02, 0.15), facing=True) is None:
            return "chair"
        if layout.against_wall("bookshelf") is None:
            return "bookshelf"
        if rng.random() < 0.5:
            layout.against_wall("bookshelf")
        if rng.random() < 0.5:
            layout.against_wall("side_table")
        if rng.random() < 0.4:
            layout.against_wall("armchair")
        if rng.random() < 0.4:
            layout.rug(under=None)
        if rng.random() < 0.5:
            layout.picture()
    else:  # dining room
        table = layout.free("dining_table", spread=0.4)
        if table is None:
            return "dining table"
        if len(layout.around("chair", table, int(rng.integers(4, 7)), (0.02, 0.12))) < 2:
            return "chair"
        if layout.against_wall("sideboard") is None:
            return "sideboard"
        if rng.random() < 0.4:
            layout.against_wall("bookshelf")
        if rng.random() < 0.3:
            layout.against_wall("side_table")
        if rng.random() < 0.6:
            layout.picture()
    return None


def _wall_of(piece: Furniture, size_xy: Sequence[float]) -> str:
    """The wall that ``piece`` backs onto (the one behind its front)."""
    back = -_front_direction(piece)
    return max(_WALLS, key=lambda wall: float(-_wall_frame(wall, size_xy)[1] @ back))


def _offset_along(piece: Furniture, wall: str, size_xy: Sequence[float]) -> float:
    middle, _, along, _ = _wall_frame(wall, size_xy)
    return float((np.array(piece.pose.position[:2]) - middle) @ along)


# ----------------------------------------------------------------------------------------------------- openings


def _sample_openings(rng: np.random.Generator, size_xy: tuple[float, float], wall_height: float) -> list[Opening]:
    openings: list[Opening] = []

    def free_offset(wall: str, width: float) -> float | None:
        length = _wall_frame(wall, size_xy)[3]
        room = length / 2 - width / 2 - 0.2
        if room < 0:
            return None
        for _ in range(20):
            offset = float(rng.uniform(-room, room))
            if all(o.wall != wall or abs(o.offset - offset) > (o.width + width) / 2 + 0.3 for o in openings):
                return offset
        return None

    door_wall = str(_WALLS[int(rng.integers(4))])
    width = float(rng.uniform(0.8, 0.95))
    offset = free_offset(door_wall, width)
    openings.append(
        Opening(door_wall, 0.0 if offset is None else offset, width, 0.0, float(rng.uniform(2.0, 2.1)), "door")
    )
    windows = int(rng.choice([0, 1, 2], p=[0.1, 0.55, 0.35]))
    for _ in range(windows):
        wall = str(_WALLS[int(rng.integers(4))])
        width = float(rng.uniform(0.8, 1.6))
        offset = free_offset(wall, width)
        if offset is None:
            continue
        bottom = float(rng.uniform(0.85, 1.05))
        top = float(min(wall_height - 0.25, rng.uniform(2.0, 2.3)))
        openings.append(Opening(wall, offset, width, bottom, top, "window"))
    return openings


# ------------------------------------------------------------------------------------------------------ objects


def _material(
    rng: np.random.Generator, patterns: Sequence[str], colours: Sequence[Sequence[float]], repeat: tuple[float, float]
) -> SurfaceMaterial:
    colour = np.array(colours[int(rng.integers(len(colours)))]) * rng.uniform(0.9, 1.05)
    return SurfaceMaterial(
        pattern=str(patterns[int(rng.integers(len(patterns)))]),
        seed=int(rng.integers(TEXTURE_SEEDS_PER_PATTERN)),
        rgb=tuple(float(c) for c in np.clip(colour, 0.0, 1.0)),
        texture_repeat=float(rng.uniform(*repeat)),
    )


@dataclass
class _Spot:
    """A support surface that can take objects."""

    piece: Furniture
    surface: SupportSurface
    weight: float

    @property
    def is_seat(self) -> bool:
        return self.surface.name == "seat"


def _spots(pieces: Sequence[Furniture]) -> list[_Spot]:
    spots = []
    for piece in pieces:
        for surface in piece.surfaces:
            height = piece.pose.position[2] + surface.height
            if height > MAX_SURFACE_HEIGHT_M or height < 0.15:
                continue
            x0, y0, x1, y1 = surface.extent
            weight = (x1 - x0) * (y1 - y0)
            if surface.name == "seat":
                weight *= 0.15
            elif piece.category == "bed":
                weight *= 0.2
            spots.append(_Spot(piece, surface, weight))
    return spots


def _size(scene_object: SceneObject) -> np.ndarray:
    return asset_of(scene_object).size


def _radius(size: np.ndarray) -> float:
    return float(np.hypot(size[0], size[1]) / 2.0)


def _upright(xy: Sequence[float], z: float, yaw_deg: float) -> Pose:
    rotation = rotation_about_axis(np.array([0.0, 0.0, 1.0]), yaw_deg)
    return Pose((float(xy[0]), float(xy[1]), float(z)), tuple(float(q) for q in matrix_to_quaternion(rotation)))


def _place_on(
    rng: np.random.Generator,
    scene_object: SceneObject,
    spot: _Spot,
    placed: list[tuple[SceneObject, _Spot]],
) -> SceneObject | None:
    """The object standing on ``spot`` at a free place, or None."""
    size = _size(scene_object)
    radius = _radius(size)
    if size[2] + DROP_HEIGHT_M + 0.01 > spot.surface.clearance:
        return None
    x0, y0, x1, y1 = spot.surface.extent
    inset = radius + FOOTPRINT_MARGIN_M
    if x1 - x0 < 2 * inset or y1 - y0 < 2 * inset:
        return None
    neighbours = [
        (np.array(o.pose.position[:2]), _radius(_size(o)))
        for o, s in placed
        if s.piece is spot.piece and s.surface.name == spot.surface.name
    ]
    for _ in range(12):
        local = rng.uniform((x0 + inset, y0 + inset), (x1 - inset, y1 - inset))
        xy = _local_to_world(spot.piece, local)
        if all(np.linalg.norm(xy - c) >= radius + r + FOOTPRINT_MARGIN_M for c, r in neighbours):
            z = spot.piece.pose.position[2] + spot.surface.height + size[2] / 2 + DROP_HEIGHT_M
            pose = _upright(xy, z, float(rng.uniform(0.0, 360.0)))
            return dataclasses.replace(scene_object, pose=pose, support_id=spot.piece.instance_id)
    return None


def _choose_categories(rng: np.random.Generator, room_type: str, count: int, config: RoomConfig) -> list[Category]:
    """``count`` categories: distinct, weighted by the room type, one or two of them repeated
    (``config.repeated_instances`` times; by default twice, and only in rooms of 12 objects or more)."""
    pool = all_categories("tabletop") + all_categories("surface")
    weights = np.array([_GROUP_WEIGHTS[room_type].get(c.group, 0.5) for c in pool])
    repeats = 1 if count < 12 and not config.group_repeats else int(rng.integers(1, 3))
    low, high = config.repeated_instances
    copies = low if low == high else int(rng.integers(low, high + 1))
    distinct = min(count - repeats * (copies - 1), len(pool))
    indices = [int(i) for i in rng.choice(len(pool), size=distinct, replace=False, p=weights / weights.sum())]
    if config.receptacle_object:  # (no draw otherwise)
        indices = with_receptacle(rng, indices, [c.receiving_part is not None for c in pool])
    chosen = [pool[i] for i in indices]
    return chosen[:repeats] * copies + chosen[repeats:]  # the repeated ones first, so they find room


def _place_objects(
    rng: np.random.Generator, room_type: str, pieces: Sequence[Furniture], count: int, config: RoomConfig
) -> list[SceneObject]:
    spots = _spots(pieces)
    if not spots:
        return []
    weights = np.array([s.weight for s in spots])
    placed: list[tuple[SceneObject, _Spot]] = []
    first_id = len(pieces) + 1
    for category in _choose_categories(rng, room_type, count, config):
        scene_object = SceneObject(
            instance_id=first_id + len(placed),
            category=category.name,
            asset_seed=int(rng.integers(2**62)),
            scale=1.0,
            pose=Pose((0.0, 0.0, 0.0)),
        )
        twins = [s.piece.instance_id for o, s in placed if o.category == category.name]
        if config.group_repeats and twins:  # on the first instance's piece of furniture
            allowed = np.array([s.piece.instance_id == twins[0] for s in spots])
        else:
            allowed = np.array(
                [(not s.is_seat or category.group in _SEAT_GROUPS) and s.piece.instance_id not in twins for s in spots]
            )
        if not allowed.any():
            allowed = np.ones(len(spots), bool)
        p = weights * allowed
        for _ in range(8):
            spot = spots[int(rng.choice(len(spots), p=p / p.sum()))]
            standing = _place_on(rng, scene_object, spot, placed)
            if standing is not None:
                placed.append((standing, spot))
                break
    return [o for o, _ in placed]


def _place_floor_objects(rng: np.random.Generator, room_type: str, layout: _Layout, first_id: int) -> list[SceneObject]:
    floor = [c.name for c in all_categories("floor")]
    names: list[str] = []
    if room_type == "kitchen" and "trash_bin" in floor:
        names.append("trash_bin")
    others = [n for n in floor if n not in names]
    extra = int(rng.integers(1, 4)) if room_type != "kitchen" else int(rng.integers(0, 2))
    names += [others[int(i)] for i in rng.choice(len(others), size=min(extra, len(others)), replace=False)]
    obstacles = [footprint_polygon(p) for p in layout.pieces] + layout.doors
    half = np.array(layout.size_xy) / 2
    objects: list[SceneObject] = []
    for name in names:
        scene_object = SceneObject(first_id + len(objects), name, int(rng.integers(2**62)), 1.0, Pose((0.0, 0.0, 0.0)))
        size = _size(scene_object)
        radius = _radius(size)
        for _ in range(40):
            if rng.random() < 0.7:  # along a wall
                wall = str(_WALLS[int(rng.integers(4))])
                middle, normal, along, length = _wall_frame(wall, layout.size_xy)
                xy = middle + along * rng.uniform(-length / 2, length / 2) + normal * (radius + rng.uniform(0.03, 0.3))
            else:
                xy = rng.uniform(-half, half)
            if np.any(np.abs(xy) > half - radius - FOOTPRINT_MARGIN_M):
                continue
            disc = Point(xy).buffer(radius + FOOTPRINT_MARGIN_M)
            if any(disc.intersects(o) for o in obstacles):
                continue
            pose = _upright(xy, size[2] / 2 + DROP_HEIGHT_M, float(rng.uniform(0.0, 360.0)))
            objects.append(dataclasses.replace(scene_object, pose=pose, support_id=FLOOR_ID))
            obstacles.append(disc)
            break
    return objects


# ------------------------------------------------------------------------------------------------------ camera


def _segment_hits_piece(piece: Furniture, start: np.ndarray, end: np.ndarray) -> bool:
    """Whether the segment ``start -> end`` (world) passes through a block of ``piece`` (cylinders as boxes)."""
    rotation, origin = piece.pose.rotation, np.array(piece.pose.position)
    p0 = rotation.T @ (start - origin)
    direction = rotation.T @ (end - origin) - p0
    centres = np.array([b.centre for b in piece.blocks])
    halves = np.array([b.size for b in piece.blocks]) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.where(np.abs(direction) > 1e-12, 1.0 / direction, np.inf)
        t1 = (centres - halves - p0) * inverse
        t2 = (centres + halves - p0) * inverse
    t1 = np.nan_to_num(t1, nan=-np.inf)
    t2 = np.nan_to_num(t2, nan=np.inf)
    near = np.minimum(t1, t2).max(axis=1)
    far = np.maximum(t1, t2).min(axis=1)
    return bool(np.any((far >= np.maximum(near, 0.0)) & (near <= 0.97)))


#: An object counts as in view when its projected 3D box covers at least this many pixels (about twice the
#: generator's minimum visible area: a smaller one is rarely a usable target).
MIN_VIEW_AREA_PX = 1000.0


def objects_in_view(
    scene: Scene, margin_px: float = 8, occlusion: bool = True, min_area_px: float = MIN_VIEW_AREA_PX
) -> list[int]:
    """Instance ids of the objects whose 3D box lies wholly in front of the camera and projects inside the image,
    ``margin_px`` in from its border, onto at least ``min_area_px`` pixels (its 2D box); with ``occlusion``, also
    only those whose centre the camera sees past the furniture blocks (geometry only: other objects do not
    occlude)."""
    camera = scene.camera
    position = np.array(camera.position)
    visible = []
    for scene_object in scene.objects:
        corners = box_corners(np.array(scene_object.pose.position), _size(scene_object), scene_object.pose.rotation)
        pixels, depth = camera.project(corners)
        if np.any(depth <= 0.05):
            continue
        if np.any(pixels < margin_px) or np.any(pixels[:, 0] > camera.width - 1 - margin_px):
            continue
        if np.any(pixels[:, 1] > camera.height - 1 - margin_px):
            continue
        if np.prod(pixels.max(axis=0) - pixels.min(axis=0)) < min_area_px:
            continue
        centre = np.array(scene_object.pose.position)
        if occlusion and any(_segment_hits_piece(piece, position, centre) for piece in scene.furniture):
            continue
        visible.append(scene_object.instance_id)
    return visible


def _sample_camera(
    rng: np.random.Generator, scene: Scene, config: RoomConfig, floor_objects: Sequence[SceneObject]
) -> tuple[Camera, int]:
    """The camera with the most objects in view among draws (stops at the first with enough); and that count."""
    half = np.array(scene.room.size_xy) / 2 - CAMERA_WALL_MARGIN_M
    blocked = [
        footprint_polygon(p).buffer(CAMERA_FURNITURE_MARGIN_M)
        for p in scene.furniture
        if get_furniture_category(p.category).placement not in ("floor_flat", "wall_mounted")
    ]
    blocked += [
        Point(o.pose.position[:2]).buffer(_radius(_size(o)) + CAMERA_FLOOR_OBJECT_MARGIN_M) for o in floor_objects
    ]
    small = [o for o in scene.objects if o.support_id != FLOOR_ID]
    holders: dict[int, list[SceneObject]] = {}
    for o in small:
        holders.setdefault(o.support_id, []).append(o)
    ids = sorted(holders)
    counts = np.array([len(holders[i]) for i in ids], float)
    best: tuple[Camera, int] | None = None
    for _ in range(400):
        if not ids:
            target = np.array([0.0, 0.0, 0.7])
            front = rng.normal(size=2)
        else:
            holder = ids[int(rng.choice(len(ids), p=counts / counts.sum()))]
            piece = scene.furniture_piece(holder)
            target = np.mean([o.pose.position for o in holders[holder]], axis=0)
            target[:2] += rng.normal(0.0, 0.15, 2)
            placement = get_furniture_category(piece.category).placement
            front = _front_direction(piece) if placement == "wall" else rng.normal(size=2)
        angle = math.atan2(front[1], front[0]) + rng.uniform(-1.2, 1.2)
        distance = rng.uniform(0.8, 2.4)
        xy = target[:2] + distance * np.array([math.cos(angle), math.sin(angle)])
        if np.any(np.abs(xy) > half):
            continue
        point = Point(xy)
        if any(zone.contains(point) for zone in blocked):
            continue
        height = float(rng.uniform(*config.camera_height_m))
        pitch = math.degrees(math.atan2(height - target[2], distance))
        if not 5.0 <= pitch <= 50.0:
            continue
        position = np.array([xy[0], xy[1], height])
        camera = Camera.looking_at(position, target, float(rng.uniform(*config.fovy_deg)), config.width, config.height)
        seen = len(objects_in_view(dataclasses.replace(scene, camera=camera)))
        if best is None or seen > best[1]:
            best = (camera, seen)
        if seen >= config.min_objects_in_view:
            break
    if best is None:
        raise SceneUnusable("found no camera position inside the room clear of the furniture")
    return best


# -------------------------------------------------------------------------------------------------------- lights


def _lights(rng: np.random.Generator, room: Room) -> list[Light]:
    sx, sy = room.size_xy
    long_axis = np.array([1.0, 0.0]) if sx >= sy else np.array([0.0, 1.0])
    count = 1 if max(sx, sy) < 4.5 else 2
    lights = []
    for i in range(count):
        along = 0.0 if count == 1 else (i - 0.5) * max(sx, sy) / 2
        xy = long_axis * along + rng.normal(0.0, 0.2, 2)
        level = float(rng.uniform(0.45, 0.65)) / (1.0 if count == 1 else 1.25)
        warmth = float(rng.uniform(0.0, 0.08))
        tilt = rng.normal(0.0, 0.08, 2)
        direction = np.array([tilt[0], tilt[1], -1.0])
        lights.append(
            Light(
                position=(float(xy[0]), float(xy[1]), float(room.wall_height - 0.05)),
                direction=tuple(float(d) for d in direction / np.linalg.norm(direction)),
                diffuse=(level * (1 + warmth), level, level * (1 - warmth)),
                cast_shadow=i == 0,  # the key light
            )
        )
    windows = [o for o in room.openings if o.kind == "window"]
    if windows:
        window = windows[int(rng.integers(len(windows)))]
        middle, normal, along, _ = _wall_frame(window.wall, room.size_xy)
        xy = middle + along * window.offset + normal * 0.3
        direction = np.array([normal[0], normal[1], -0.5])
        level = float(rng.uniform(0.25, 0.4))
        lights.append(
            Light(
                position=(float(xy[0]), float(xy[1]), float((window.bottom + window.top) / 2)),
                direction=tuple(float(d) for d in direction / np.linalg.norm(direction)),
                diffuse=(level * 0.92, level * 0.96, level),
                cast_shadow=False,
            )
        )
    return lights


# --------------------------------------------------------------------------------------------------------- scene


def sample_room_scene(
    rng: np.random.Generator,
    config: RoomConfig = RoomConfig(),  # noqa: B008 (frozen)
    room_type: str | None = None,
) -> Scene:
    """Draws an unsettled furnished room of ``room_type`` (default: drawn from ``config.room_types``).

    Furniture has instance ids 1..F (in placement order), then the objects: small ones on furniture surfaces,
    then room-scale ones on the floor. Most object categories occur once; one or two occur twice (on different
    furniture where possible).

    Raises:
        RoomTooSmallError: when a piece of furniture the room type requires does not fit (after retries).
        SceneUnusable: when no camera inside the room frames enough objects (the sample generator draws again).
        ValueError: for an unknown ``room_type``.
    """
    if room_type is None:
        room_type = str(config.room_types[int(rng.integers(len(config.room_types)))])
    elif room_type not in ROOM_TYPES:
        raise ValueError(f"unknown room type {room_type!r}; known: {', '.join(ROOM_TYPES)}")
    size_xy = (float(rng.uniform(*config.side_m)), float(rng.uniform(*config.side_m)))
    wall_height = float(rng.uniform(*config.wall_height_m))
    missing = None
    for _ in range(6):
        openings = _sample_openings(rng, size_xy, wall_height)
        layout = _Layout(rng, room_type, size_xy, openings)
        missing = _furnish(layout)
        if missing is None:
            break
    else:
        raise RoomTooSmallError(
            f"a {room_type.replace('_', ' ')} of {size_xy[0]:.2f} x {size_xy[1]:.2f} m cannot fit its {missing} "
            f"(together with the door and the other furniture) after 6 layouts; use larger RoomConfig.side_m"
        )
    room = Room(
        floor=_material(rng, _FLOORS[room_type], _FLOOR_COLOURS, (0.5, 1.5)),
        wall=_material(rng, ("plaster", "painted"), _WALL_COLOURS, (0.3, 1.0)),
        size_xy=size_xy,
        wall_height=wall_height,
        openings=tuple(openings),
        ceiling=_material(rng, ("plaster",), ((0.96, 0.96, 0.95),), (0.3, 0.6)),
    )
    pieces = tuple(layout.pieces)
    count = int(rng.integers(config.min_objects, config.max_objects + 1))
    lights = tuple(_lights(rng, room))
    placeholder = Camera((0.0, 0.0, 1.5), ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)), 60.0, 16, 16)
    for _ in range(4):
        small = _place_objects(rng, room_type, pieces, count, config)
        floor = _place_floor_objects(rng, room_type, layout, len(pieces) + len(small) + 1)
        scene = Scene(tuple(small + floor), pieces, room, lights, placeholder)
        camera, seen = _sample_camera(rng, scene, config, floor)
        if seen >= config.min_objects_in_view:
            return dataclasses.replace(scene, camera=camera)
    raise SceneUnusable(
        f"no camera in this {room_type.replace('_', ' ')} sees {config.min_objects_in_view} objects (best: {seen})"
    )
