"""Static room furniture: a registry of procedural furniture categories built from boxes and upright cylinders.

A furniture category registers ``build(rng) -> (blocks, materials, surfaces)``; :func:`make_furniture` turns one
draw into a :class:`~gsi_datasets.scene.Furniture` standing in a room. Furniture is stored explicitly in scenes
(its blocks, not a seed), so these builders may change without changing stored scenes.

Conventions shared by every builder:

* metres, local frame z up with the floor at z = 0, real-world sizes drawn from plausible ranges;
* the "front" (drawer fronts, the sitting side, the foot of a bed) faces -y, the back +y (against a wall);
* blocks touch the floor (except wall-mounted pieces, whose bottom edge is at z = 0 and which
  :func:`make_furniture` lifts with ``z``) and touch each other, so a piece reads as one solid;
* every top, seat and shelf board that objects can stand on is a :class:`~gsi_datasets.scene.SupportSurface`,
  inset a little from the board's edges, with nothing in the way above it up to its ``clearance``;
* :func:`make_furniture` centres the footprint on the local origin (the back is then at ``+depth / 2``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from shapely.geometry import Polygon

from gsi_datasets.assets.surfaces import TEXTURE_SEEDS_PER_PATTERN
from gsi_datasets.geometry import matrix_to_quaternion, rotation_about_axis
from gsi_datasets.registry import Registry
from gsi_datasets.scene import Block, Furniture, Pose, SupportSurface, SurfaceMaterial

BuildResult = tuple[list[Block], list[SurfaceMaterial], list[SupportSurface]]
FurnitureBuild = Callable[[np.random.Generator], BuildResult]

#: Values of ``FurnitureCategory.placement``.
FURNITURE_PLACEMENTS = ("wall", "free", "wall_mounted", "floor_flat")

#: Inset (m) of a support surface from the edges of its board.
SURFACE_INSET_M = 0.025


@dataclass(frozen=True)
class FurnitureCategory:
    """A kind of furniture.

    Attributes:
        name: identifier used in the data (snake_case, e.g. ``"kitchen_counter"``).
        display_name: what instructions call it ("kitchen counter"); unique across furniture and object categories.
        placement: where rooms put it: ``"wall"`` (back against a wall), ``"free"`` (free-standing),
            ``"wall_mounted"`` (hangs on a wall) or ``"floor_flat"`` (lies flat on the floor, a rug).
        build: ``build(rng) -> (blocks, materials, surfaces)`` in the local frame.
    """

    name: str
    display_name: str
    placement: str
    build: FurnitureBuild


FURNITURE_CATEGORIES: Registry[FurnitureCategory] = Registry(
    "furniture category", None, "unknown furniture category {name!r}. Known: {known}."
)


def _furniture(name: str, display_name: str, placement: str) -> Callable[[FurnitureBuild], FurnitureBuild]:
    """Registers a furniture builder."""

    def decorator(build: FurnitureBuild) -> FurnitureBuild:
        if placement not in FURNITURE_PLACEMENTS:
            raise ValueError(f"furniture {name!r}: placement {placement!r} is not one of {FURNITURE_PLACEMENTS}")
        if any(existing.display_name == display_name for existing in FURNITURE_CATEGORIES.values()):
            raise ValueError(f"display name {display_name!r} of {name!r} is already used by another furniture")
        FURNITURE_CATEGORIES.register(name, FurnitureCategory(name, display_name, placement, build))
        return build

    return decorator


def get_furniture_category(name: str) -> FurnitureCategory:
    """Looks a furniture category up by name, with a "did you mean" on unknown names."""
    return FURNITURE_CATEGORIES.get(name)


def all_furniture_categories(placement: str | None = None) -> list[FurnitureCategory]:
    """Every furniture category (with ``placement``, when given), sorted by name."""
    return [category for _, category in sorted(FURNITURE_CATEGORIES.items()) if placement in (None, category.placement)]


def make_furniture(
    category: str,
    instance_id: int,
    rng: np.random.Generator,
    position_xy: Sequence[float],
    yaw_deg: float,
    z: float = 0.0,
) -> Furniture:
    """Draws one piece of ``category`` and stands it with its footprint centre at ``position_xy``, turned by
    ``yaw_deg`` (counterclockwise from above; at 0 its front faces -y), its local floor at height ``z``."""
    blocks, materials, surfaces = get_furniture_category(category).build(rng)
    low = np.min([np.subtract(b.centre, np.divide(b.size, 2)) for b in blocks], axis=0)
    high = np.max([np.add(b.centre, np.divide(b.size, 2)) for b in blocks], axis=0)
    cx, cy = (low[:2] + high[:2]) / 2.0
    blocks = [
        Block(_r3((b.centre[0] - cx, b.centre[1] - cy, b.centre[2])), b.size, b.material, b.shape) for b in blocks
    ]
    surfaces = [
        SupportSurface(
            s.name, s.height, _r4((s.extent[0] - cx, s.extent[1] - cy, s.extent[2] - cx, s.extent[3] - cy)), s.clearance
        )  # fmt: skip
        for s in surfaces
    ]
    rotation = rotation_about_axis(np.array([0.0, 0.0, 1.0]), float(yaw_deg))
    pose = Pose(
        (float(position_xy[0]), float(position_xy[1]), float(z)),
        tuple(float(q) for q in matrix_to_quaternion(rotation)),
    )
    return Furniture(instance_id, category, pose, tuple(blocks), tuple(materials), tuple(surfaces))


def footprint_polygon(piece: Furniture, margin: float = 0.0) -> Polygon:
    """The world-frame footprint of ``piece``: its local bounding rectangle, turned and moved, grown by ``margin``."""
    centre, size = piece.local_box()
    half = size[:2] / 2.0 + margin
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half + centre[:2]
    rotation = piece.pose.rotation[:2, :2]
    world = corners @ rotation.T + np.array(piece.pose.position[:2])
    return Polygon(world)


def piece_height(piece: Furniture) -> float:
    """Height (m) of the top of ``piece`` above the floor."""
    centre, size = piece.local_box()
    return float(piece.pose.position[2] + centre[2] + size[2] / 2.0)


# ------------------------------------------------------------------------------------------------ shared helpers


def _r3(values: Sequence[float]) -> tuple[float, float, float]:
    return tuple(round(float(v), 6) for v in values)  # type: ignore[return-value]


def _r4(values: Sequence[float]) -> tuple[float, float, float, float]:
    return tuple(round(float(v), 6) for v in values)  # type: ignore[return-value]


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


_MATERIAL_KINDS: dict[str, tuple[str, tuple[tuple[float, float, float], ...], tuple[float, float]]] = {
    # kind: (pattern, colours, texture repeats per metre)
    "wood": (
        "wood",
        (
            (0.62, 0.42, 0.26),
            (0.45, 0.30, 0.18),
            (0.80, 0.66, 0.50),
            (0.55, 0.36, 0.22),
            (0.34, 0.22, 0.14),
            (0.86, 0.76, 0.60),
        ),
        (0.8, 1.6),
    ),  # fmt: skip
    "painted": (
        "painted",
        (
            (0.94, 0.94, 0.92),
            (0.22, 0.24, 0.27),
            (0.55, 0.65, 0.60),
            (0.35, 0.45, 0.60),
            (0.86, 0.81, 0.71),
            (0.60, 0.22, 0.20),
            (0.90, 0.85, 0.62),
            (0.72, 0.74, 0.76),
        ),
        (0.5, 1.0),
    ),  # fmt: skip
    "fabric": (
        "fabric",
        (
            (0.45, 0.47, 0.50),
            (0.25, 0.30, 0.45),
            (0.62, 0.56, 0.46),
            (0.30, 0.45, 0.36),
            (0.70, 0.36, 0.30),
            (0.80, 0.78, 0.72),
            (0.22, 0.22, 0.24),
            (0.55, 0.42, 0.55),
        ),
        (3.0, 6.0),
    ),  # fmt: skip
    "leather": (
        "leather",
        ((0.40, 0.22, 0.12), (0.14, 0.12, 0.10), (0.60, 0.40, 0.25), (0.76, 0.70, 0.62)),
        (2.0, 4.0),
    ),
    "metal": ("metal", ((0.75, 0.75, 0.77), (0.18, 0.18, 0.20), (0.70, 0.60, 0.40), (0.50, 0.50, 0.52)), (1.0, 3.0)),
    "marble": ("marble", ((0.93, 0.93, 0.91), (0.30, 0.30, 0.32), (0.86, 0.83, 0.79)), (0.8, 1.5)),
    "stone": ("concrete", ((0.60, 0.60, 0.60), (0.35, 0.35, 0.37), (0.80, 0.78, 0.74)), (1.0, 2.0)),
    "linen": ("fabric", ((0.96, 0.96, 0.95), (0.86, 0.89, 0.93), (0.92, 0.87, 0.80), (0.78, 0.82, 0.86)), (3.0, 6.0)),
    "bedding": (
        "fabric",
        (
            (0.30, 0.40, 0.60),
            (0.70, 0.45, 0.40),
            (0.45, 0.60, 0.50),
            (0.85, 0.80, 0.65),
            (0.55, 0.50, 0.65),
            (0.90, 0.90, 0.88),
        ),
        (2.0, 5.0),
    ),  # fmt: skip
    "rug": (
        "carpet",
        (
            (0.60, 0.25, 0.20),
            (0.25, 0.30, 0.50),
            (0.75, 0.70, 0.60),
            (0.35, 0.45, 0.35),
            (0.50, 0.45, 0.40),
            (0.85, 0.82, 0.75),
            (0.30, 0.30, 0.32),
        ),
        (2.0, 5.0),
    ),  # fmt: skip
    "art": (
        "canvas",
        (
            (0.85, 0.45, 0.30),
            (0.30, 0.50, 0.75),
            (0.40, 0.65, 0.45),
            (0.90, 0.80, 0.45),
            (0.70, 0.40, 0.65),
            (0.55, 0.70, 0.80),
        ),
        (0.8, 1.6),
    ),  # fmt: skip
}


def _material(rng: np.random.Generator, kind: str) -> SurfaceMaterial:
    pattern, colours, repeat = _MATERIAL_KINDS[kind]
    colour = np.array(colours[int(rng.integers(len(colours)))]) * rng.uniform(0.92, 1.05)
    return SurfaceMaterial(
        pattern=pattern,
        seed=int(rng.integers(TEXTURE_SEEDS_PER_PATTERN)),
        rgb=tuple(float(c) for c in np.clip(colour, 0.0, 1.0)),
        texture_repeat=float(rng.uniform(*repeat)),
    )


def _choice(rng: np.random.Generator, options: Sequence[str], weights: Sequence[float] | None = None) -> str:
    p = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    return str(options[int(rng.choice(len(options), p=p))])


class _Kit:
    """Collects blocks, materials and surfaces of one piece."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.materials: list[SurfaceMaterial] = []
        self.surfaces: list[SupportSurface] = []

    def material(self, material: SurfaceMaterial) -> int:
        self.materials.append(material)
        return len(self.materials) - 1

    def box(self, low: Sequence[float], high: Sequence[float], material: int) -> None:
        """A box between the corners ``low`` and ``high``."""
        lo, hi = np.asarray(low, float), np.asarray(high, float)
        if np.any(hi - lo <= 0):
            raise ValueError(f"empty block {lo} .. {hi}")
        self.blocks.append(Block(_r3((lo + hi) / 2), _r3(hi - lo), material, "box"))

    def cylinder(self, x: float, y: float, z0: float, z1: float, diameter: float, material: int) -> None:
        """An upright cylinder on the axis ``(x, y)`` from ``z0`` to ``z1``."""
        self.blocks.append(Block(_r3((x, y, (z0 + z1) / 2)), _r3((diameter, diameter, z1 - z0)), material, "cylinder"))

    def surface(
        self,
        name: str,
        height: float,
        extent: Sequence[float],
        clearance: float = 10.0,
        inset: float = SURFACE_INSET_M,
    ) -> None:
        x0, y0, x1, y1 = extent
        self.surfaces.append(
            SupportSurface(
                name,
                round(float(height), 6),
                _r4((x0 + inset, y0 + inset, x1 - inset, y1 - inset)),
                round(float(clearance), 6),
            )  # fmt: skip
        )

    def legs(
        self, sx: float, sy: float, height: float, size: float, inset: float, material: int, round_legs: bool,
        centre_y: float = 0.0,
    ) -> None:  # fmt: skip
        """Four legs from the floor to ``height`` under a ``sx x sy`` rectangle, ``inset`` from its corners."""
        for ix in (-1, 1):
            for iy in (-1, 1):
                x = ix * (sx / 2 - inset - size / 2)
                y = centre_y + iy * (sy / 2 - inset - size / 2)
                if round_legs:
                    self.cylinder(x, y, 0.0, height, size, material)
                else:
                    self.box((x - size / 2, y - size / 2, 0.0), (x + size / 2, y + size / 2, height), material)

    def result(self) -> BuildResult:
        return self.blocks, self.materials, self.surfaces


_HANDLE_DEPTH = 0.022
_FRONT_THICKNESS = 0.018
_GAP = 0.004


def _front(
    kit: _Kit, x0: float, x1: float, z0: float, z1: float, y_face: float, front: int, handle: int, kind: str,
    handle_side: int = 0, handle_style: str = "bar",
) -> None:  # fmt: skip
    """A drawer or door front in the cell ``[x0, x1] x [z0, z1]``, its back on the carcass face ``y_face``, with a
    handle in front of it (``handle_side`` -1 / 1: near that edge, vertical; 0: centred near the top, horizontal)."""
    fx0, fx1, fz0, fz1 = x0 + _GAP, x1 - _GAP, z0 + _GAP, z1 - _GAP
    yf = y_face - _FRONT_THICKNESS
    kit.box((fx0, yf, fz0), (fx1, y_face, fz1), front)
    yh = yf - _HANDLE_DEPTH
    width, height = fx1 - fx0, fz1 - fz0
    if handle_style == "knob":
        k = 0.026
        if handle_side == 0:
            hx, hz = (fx0 + fx1) / 2, fz1 - min(0.5 * height, 0.09)
        else:
            hx, hz = (fx1 - 0.05 if handle_side > 0 else fx0 + 0.05), (fz0 + fz1) / 2
        kit.box((hx - k / 2, yh, hz - k / 2), (hx + k / 2, yf, hz + k / 2), handle)
        return
    if handle_side == 0 or kind == "drawer":
        length = min(0.16, 0.45 * width)
        hz = fz1 - min(0.5 * height, 0.06) if kind == "drawer" else fz1 - 0.06
        hx = (fx0 + fx1) / 2
        kit.box((hx - length / 2, yh, hz - 0.007), (hx + length / 2, yf, hz + 0.007), handle)
    else:
        length = min(0.18, 0.5 * height)
        hx = fx1 - 0.04 if handle_side > 0 else fx0 + 0.04
        hz = fz1 - 0.05 - length / 2 if fz1 > 0.7 else fz1 - min(0.35 * height, 0.1)
        hz = min(max(hz, fz0 + length / 2 + 0.01), fz1 - length / 2 - 0.01)
        kit.box((hx - 0.007, yh, hz - length / 2), (hx + 0.007, yf, hz + length / 2), handle)


def _cabinet(
    kit: _Kit,
    sx: float,
    sy: float,
    z0: float,
    z1: float,
    columns: Sequence[Sequence[tuple[str, float]]],
    body: int,
    front: int,
    handle: int,
    handle_style: str,
    top: int | None = None,
    top_thickness: float = 0.025,
    board: float = 0.018,
    column_widths: Sequence[float] | None = None,
) -> float:
    """A case from ``z0`` to ``z1`` over ``[-sx/2, sx/2] x [-sy/2, sy/2]`` with columns of rows (top to bottom), each
    ``(kind, height fraction)``, kind one of ``"drawer"``, ``"door"``, ``"doors"`` (a pair) or ``"open"`` (an
    open shelf compartment, a support surface). A top plate (material ``top``, default ``body``) covers it from
    ``z1`` to ``z1 + top_thickness`` and becomes the "top" surface. Returns the height of the top."""
    y_back = sy / 2
    y_face = -sy / 2 + _HANDLE_DEPTH + _FRONT_THICKNESS
    back = 0.008
    # Sides, bottom board, back.
    kit.box((-sx / 2, y_face, z0), (-sx / 2 + board, y_back, z1), body)
    kit.box((sx / 2 - board, y_face, z0), (sx / 2, y_back, z1), body)
    kit.box((-sx / 2 + board, y_face, z0), (sx / 2 - board, y_back, z0 + board), body)
    kit.box((-sx / 2 + board, y_back - back, z0 + board), (sx / 2 - board, y_back, z1), body)
    inner = sx - 2 * board
    widths = np.asarray(column_widths if column_widths is not None else np.ones(len(columns)), float)
    widths = widths / widths.sum() * (inner - board * (len(columns) - 1))
    x = -sx / 2 + board
    shelves: list[tuple[float, float, tuple[float, float, float, float], float]] = []
    for index, (rows, width) in enumerate(zip(columns, widths, strict=True)):
        xa, xb = x, x + width
        if index + 1 < len(columns):  # divider
            kit.box((xb, y_face, z0 + board), (xb + board, y_back - back, z1), body)
        x = xb + board
        fractions = np.array([f for _, f in rows], float)
        available = (z1 - z0 - board) - board * (len(rows) - 1)
        heights = fractions / fractions.sum() * available
        z_top = z1
        for row, ((kind, _), height) in enumerate(zip(rows, heights, strict=True)):
            za, zb = z_top - height, z_top
            if kind == "open":
                shelves.append((za, xa, (xa, y_face, xb, y_back - back), zb - za))
            else:
                kit.box((xa, y_face, za), (xb, y_back - back, zb), body)  # closed: solid behind the fronts
                side = 1 if (index % 2 == 0) == (len(columns) > 1) else -1
                if kind == "doors":
                    mid = (xa + xb) / 2
                    _front(kit, xa, mid, za, zb, y_face, front, handle, "door", 1, handle_style)
                    _front(kit, mid, xb, za, zb, y_face, front, handle, "door", -1, handle_style)
                elif kind == "door":
                    _front(kit, xa, xb, za, zb, y_face, front, handle, "door", side, handle_style)
                else:
                    _front(kit, xa, xb, za, zb, y_face, front, handle, "drawer", 0, handle_style)
            if row + 1 < len(rows):  # board under this row
                kit.box((xa, y_face, za - board), (xb, y_back - back, za), body)
            z_top = za - board
    for number, (height, _, extent, clearance) in enumerate(sorted(shelves), start=1):
        kit.surface(f"shelf {number}", height, extent, clearance=clearance, inset=0.02)
    top_material = body if top is None else top
    y_top_front = y_face - _FRONT_THICKNESS - 0.004
    overhang = 0.01 if top is not None else 0.0
    kit.box((-sx / 2 - overhang, y_top_front, z1), (sx / 2 + overhang, y_back, z1 + top_thickness), top_material)
    kit.surface("top", z1 + top_thickness, (-sx / 2 - overhang, y_top_front, sx / 2 + overhang, y_back))
    return z1 + top_thickness


def _base(kit: _Kit, rng: np.random.Generator, sx: float, sy: float, kind: str, height: float, material: int) -> None:
    """What a case stands on: ``"legs"`` (four short legs) or ``"plinth"`` (a recessed solid base)."""
    y_face = -sy / 2 + _HANDLE_DEPTH + _FRONT_THICKNESS
    depth = sy / 2 - y_face
    centre_y = (sy / 2 + y_face) / 2
    if kind == "legs":
        kit.legs(sx, depth, height, _u(rng, 0.03, 0.05), 0.02, material, bool(rng.random() < 0.4), centre_y)
    else:
        recess = 0.04
        kit.box((-sx / 2 + 0.02, y_face + recess, 0.0), (sx / 2 - 0.02, sy / 2 - 0.01, height), material)


def _case_materials(rng: np.random.Generator, kit: _Kit) -> tuple[int, int, int, str]:
    """Body, front and handle materials of a case piece, and its handle style."""
    body = kit.material(_material(rng, _choice(rng, ("wood", "painted"), (0.55, 0.45))))
    front = body if rng.random() < 0.6 else kit.material(_material(rng, _choice(rng, ("wood", "painted"))))
    handle = kit.material(_material(rng, "metal"))
    return body, front, handle, _choice(rng, ("bar", "knob"), (0.7, 0.3))


# ------------------------------------------------------------------------------------------------------- tables


@_furniture("dining_table", "dining table", "free")
def dining_table(rng: np.random.Generator) -> BuildResult:
    """Dining table 1.2-2.0 x 0.8-1.0 m, 73-77 cm tall: four square legs with an apron, four round legs, or
    trestle ends with a stretcher; wood, painted or marble top."""
    kit = _Kit()
    sx, sy, h, t = _u(rng, 1.2, 2.0), _u(rng, 0.8, 1.0), _u(rng, 0.73, 0.77), _u(rng, 0.03, 0.05)
    top = kit.material(_material(rng, _choice(rng, ("wood", "marble", "painted"), (0.6, 0.2, 0.2))))
    base = top if rng.random() < 0.4 else kit.material(_material(rng, _choice(rng, ("wood", "metal", "painted"))))
    kit.box((-sx / 2, -sy / 2, h - t), (sx / 2, sy / 2, h), top)
    variant = int(rng.integers(3))
    if variant == 2:  # trestle
        inset, slab = _u(rng, 0.12, 0.25), _u(rng, 0.05, 0.08)
        for ix in (-1, 1):
            x = ix * (sx / 2 - inset)
            kit.box((x - slab / 2, -sy * 0.35, 0.0), (x + slab / 2, sy * 0.35, h - t), base)
            kit.box((x - 0.05, -sy * 0.4, 0.0), (x + 0.05, sy * 0.4, 0.05), base)
        kit.box((-sx / 2 + inset, -0.03, 0.25), (sx / 2 - inset, 0.03, 0.33), base)
    else:
        leg, inset = _u(rng, 0.05, 0.08), _u(rng, 0.03, 0.08)
        kit.legs(sx, sy, h - t, leg, inset, base, variant == 1)
        if variant == 0:  # apron between the legs, under the top
            a = inset + leg
            kit.box((-sx / 2 + a, -sy / 2 + inset, h - t - 0.09), (sx / 2 - a, -sy / 2 + inset + 0.02, h - t), base)
            kit.box((-sx / 2 + a, sy / 2 - inset - 0.02, h - t - 0.09), (sx / 2 - a, sy / 2 - inset, h - t), base)
    kit.surface("top", h, (-sx / 2, -sy / 2, sx / 2, sy / 2))
    return kit.result()


@_furniture("coffee_table", "coffee table", "free")
def coffee_table(rng: np.random.Generator) -> BuildResult:
    """Coffee table 38-48 cm tall: rectangular 0.9-1.3 x 0.5-0.7 m on legs (with or without a lower shelf) or on a
    solid plinth, or round 0.7-1.0 m across on a pedestal."""
    kit = _Kit()
    h, t = _u(rng, 0.38, 0.48), _u(rng, 0.03, 0.05)
    top = kit.material(_material(rng, _choice(rng, ("wood", "marble", "painted"), (0.6, 0.2, 0.2))))
    base = top if rng.random() < 0.5 else kit.material(_material(rng, _choice(rng, ("wood", "metal", "painted"))))
    variant = int(rng.integers(4))
    if variant == 3:  # round on a pedestal
        d = _u(rng, 0.7, 1.0)
        kit.cylinder(0.0, 0.0, h - t, h, d, top)
        kit.cylinder(0.0, 0.0, 0.0, h - t, _u(rng, 0.2, 0.3), base)
        kit.cylinder(0.0, 0.0, 0.0, 0.03, d * 0.55, base)
        half = d / 2 / np.sqrt(2)
        kit.surface("top", h, (-half, -half, half, half))
        return kit.result()
    sx, sy = _u(rng, 0.9, 1.3), _u(rng, 0.5, 0.7)
    kit.box((-sx / 2, -sy / 2, h - t), (sx / 2, sy / 2, h), top)
    if variant == 2:  # solid plinth
        inset = _u(rng, 0.05, 0.1)
        kit.box((-sx / 2 + inset, -sy / 2 + inset, 0.0), (sx / 2 - inset, sy / 2 - inset, h - t), base)
    else:
        leg, inset = _u(rng, 0.04, 0.07), _u(rng, 0.02, 0.05)
        kit.legs(sx, sy, h - t, leg, inset, base, bool(rng.random() < 0.4))
        if variant == 1:  # lower shelf between the legs
            z0, board = _u(rng, 0.08, 0.14), 0.02
            a = inset + leg
            kit.box((-sx / 2 + inset, -sy / 2 + a, z0), (sx / 2 - inset, sy / 2 - a, z0 + board), base)
            kit.surface(
                "shelf", z0 + board, (-sx / 2 + a, -sy / 2 + a, sx / 2 - a, sy / 2 - a), clearance=h - t - z0 - board
            )
    kit.surface("top", h, (-sx / 2, -sy / 2, sx / 2, sy / 2))
    return kit.result()


@_furniture("side_table", "side table", "free")
def side_table(rng: np.random.Generator) -> BuildResult:
    """Side table 50-65 cm tall: square 40-60 cm on four legs (maybe with a lower shelf), or round on a pedestal."""
    kit = _Kit()
    h, t = _u(rng, 0.5, 0.65), _u(rng, 0.025, 0.04)
    top = kit.material(_material(rng, _choice(rng, ("wood", "marble", "painted"), (0.6, 0.2, 0.2))))
    base = top if rng.random() < 0.5 else kit.material(_material(rng, _choice(rng, ("wood", "metal", "painted"))))
    if rng.random() < 0.4:  # round
        d = _u(rng, 0.4, 0.6)
        kit.cylinder(0.0, 0.0, h - t, h, d, top)
        kit.cylinder(0.0, 0.0, 0.0, h - t, _u(rng, 0.05, 0.09), base)
        kit.cylinder(0.0, 0.0, 0.0, 0.025, d * 0.6, base)
        half = d / 2 / np.sqrt(2)
        kit.surface("top", h, (-half, -half, half, half))
        return kit.result()
    s = _u(rng, 0.4, 0.6)
    sy = s * _u(rng, 0.85, 1.0)
    kit.box((-s / 2, -sy / 2, h - t), (s / 2, sy / 2, h), top)
    leg, inset = _u(rng, 0.03, 0.05), _u(rng, 0.015, 0.03)
    kit.legs(s, sy, h - t, leg, inset, base, bool(rng.random() < 0.4))
    if rng.random() < 0.5:
        z0, board, a = _u(rng, 0.1, 0.2), 0.018, inset + leg
        kit.box((-s / 2 + inset, -sy / 2 + a, z0), (s / 2 - inset, sy / 2 - a, z0 + board), base)
        kit.surface("shelf", z0 + board, (-s / 2 + a, -sy / 2 + a, s / 2 - a, sy / 2 - a), clearance=h - t - z0 - board)
    kit.surface("top", h, (-s / 2, -sy / 2, s / 2, sy / 2))
    return kit.result()


@_furniture("desk", "writing desk", "wall")
def desk(rng: np.random.Generator) -> BuildResult:
    """Desk 1.0-1.6 x 0.55-0.75 m, 72-76 cm tall: on four legs, with a drawer pedestal on one side, or on two side
    panels with a modesty panel at the back."""
    kit = _Kit()
    sx, sy, h, t = _u(rng, 1.0, 1.6), _u(rng, 0.55, 0.75), _u(rng, 0.72, 0.76), _u(rng, 0.025, 0.04)
    top = kit.material(_material(rng, _choice(rng, ("wood", "painted"), (0.7, 0.3))))
    base = top if rng.random() < 0.5 else kit.material(_material(rng, _choice(rng, ("wood", "metal", "painted"))))
    handle = kit.material(_material(rng, "metal"))
    kit.box((-sx / 2, -sy / 2, h - t), (sx / 2, sy / 2, h), top)
    variant = int(rng.integers(3))
    leg = _u(rng, 0.04, 0.06)
    if variant == 0:
        kit.legs(sx, sy, h - t, leg, 0.02, base, bool(rng.random() < 0.3))
    elif variant == 1:  # drawer pedestal on one side, two legs on the other
        side = 1 if rng.random() < 0.5 else -1
        width = _u(rng, 0.38, 0.45)
        x0, x1 = (sx / 2 - 0.02 - width, sx / 2 - 0.02) if side > 0 else (-sx / 2 + 0.02, -sx / 2 + 0.02 + width)
        y_face = -sy / 2 + 0.02 + _HANDLE_DEPTH + _FRONT_THICKNESS
        kit.box((x0, y_face, 0.0), (x1, sy / 2 - 0.02, h - t), base)
        rows = int(rng.integers(2, 4))
        edges = np.linspace(0.03, h - t, rows + 1)
        for za, zb in zip(edges[:-1], edges[1:], strict=True):
            _front(kit, x0, x1, za, zb, y_face, base, handle, "drawer")
        x_leg = -side * (sx / 2 - 0.02 - leg / 2)
        for y in (-sy / 2 + 0.02 + leg / 2, sy / 2 - 0.02 - leg / 2):
            kit.box((x_leg - leg / 2, y - leg / 2, 0.0), (x_leg + leg / 2, y + leg / 2, h - t), base)
    else:  # panel ends and a modesty panel
        panel = _u(rng, 0.025, 0.04)
        for ix in (-1, 1):
            kit.box((ix * sx / 2 - (panel if ix > 0 else 0.0), -sy / 2 + 0.02, 0.0),
                    (ix * sx / 2 + (0.0 if ix > 0 else panel), sy / 2, h - t), base)  # fmt: skip
        kit.box((-sx / 2 + panel, sy / 2 - 0.1, h - t - 0.35), (sx / 2 - panel, sy / 2 - 0.08, h - t), base)
    kit.surface("top", h, (-sx / 2, -sy / 2, sx / 2, sy / 2))
    return kit.result()


# ----------------------------------------------------------------------------------------------------- storage


@_furniture("kitchen_counter", "kitchen counter", "wall")
def kitchen_counter(rng: np.random.Generator) -> BuildResult:
    """Run of base kitchen cabinets 1.2-2.4 m long, 60-65 cm deep, 88-92 cm tall: recessed plinth, doors and
    drawers with handles on the front, worktop (wood, marble or stone) overhanging the fronts."""
    kit = _Kit()
    sx, sy, h = _u(rng, 1.2, 2.4), _u(rng, 0.58, 0.62), _u(rng, 0.88, 0.92)
    body, front, handle, style = _case_materials(rng, kit)
    worktop = kit.material(_material(rng, _choice(rng, ("wood", "marble", "stone"), (0.35, 0.35, 0.3))))
    plinth = kit.material(_material(rng, "painted"))
    t = _u(rng, 0.03, 0.045)
    units = max(2, int(round(sx / _u(rng, 0.45, 0.6))))
    layouts = (
        [("drawer", 0.2), ("door", 0.8)],
        [("door", 1.0)],
        [("drawer", 1.0), ("drawer", 1.0), ("drawer", 1.4)],
        [("doors", 1.0)],
    )
    columns = [layouts[int(rng.choice(len(layouts), p=(0.35, 0.3, 0.2, 0.15)))] for _ in range(units)]
    plinth_h = _u(rng, 0.09, 0.12)
    y_face = -sy / 2 + _HANDLE_DEPTH + _FRONT_THICKNESS
    kit.box((-sx / 2 + 0.01, y_face + 0.06, 0.0), (sx / 2 - 0.01, sy / 2, plinth_h), plinth)
    n_surfaces = len(kit.surfaces)
    _cabinet(kit, sx, sy, plinth_h, h - t, columns, body, front, handle, style, top=worktop, top_thickness=t)
    del kit.surfaces[n_surfaces:]  # the case's top becomes the worktop, which overhangs the handles by 2 cm
    kit.blocks[-1] = Block(_r3((0.0, -0.01, h - t / 2)), _r3((sx, sy + 0.02, t)), worktop)
    kit.surface("top", h, (-sx / 2, -sy / 2 - 0.02, sx / 2, sy / 2))
    return kit.result()


@_furniture("bookshelf", "bookshelf", "wall")
def bookshelf(rng: np.random.Generator) -> BuildResult:
    """Bookcase 0.6-1.2 m wide, 28-40 cm deep, 1.2-2.0 m tall: 3-6 open shelves (each a surface whose clearance
    is the free height to the next board), one or two bays, sometimes closed doors at the bottom."""
    kit = _Kit()
    sx, sy, h = _u(rng, 0.6, 1.2), _u(rng, 0.28, 0.4), _u(rng, 1.2, 2.0)
    body, front, handle, style = _case_materials(rng, kit)
    plinth_h = _u(rng, 0.05, 0.1)
    kit.box(
        (-sx / 2 + 0.02, -sy / 2 + _HANDLE_DEPTH + _FRONT_THICKNESS + 0.02, 0.0),
        (sx / 2 - 0.02, sy / 2, plinth_h),
        body,
    )
    shelves = int(np.clip(round((h - plinth_h) / _u(rng, 0.3, 0.4)), 3, 6))
    rows = [("open", 1.0)] * shelves
    if rng.random() < 0.3:
        rows[-1] = ("doors", 1.2)
    bays = 2 if sx > 0.9 and rng.random() < 0.5 else 1
    _cabinet(kit, sx, sy, plinth_h, h - 0.02, [rows] * bays, body, front, handle, style, top_thickness=0.02)
    return kit.result()


@_furniture("dresser", "dresser", "wall")
def dresser(rng: np.random.Generator) -> BuildResult:
    """Chest of drawers 0.8-1.4 m wide, 45-55 cm deep, 75-100 cm tall: 3-5 rows of drawers in one or two columns,
    on short legs or a plinth."""
    kit = _Kit()
    sx, sy, h = _u(rng, 0.8, 1.4), _u(rng, 0.45, 0.55), _u(rng, 0.75, 1.0)
    body, front, handle, style = _case_materials(rng, kit)
    base_kind = _choice(rng, ("legs", "plinth"))
    base_h = _u(rng, 0.1, 0.16) if base_kind == "legs" else _u(rng, 0.05, 0.09)
    _base(kit, rng, sx, sy, base_kind, base_h, body)
    rows = int(rng.integers(3, 6))
    drawers = [("drawer", 1.0)] * rows
    columns = [drawers, drawers] if sx > 1.0 and rng.random() < 0.6 else [drawers]
    top = None if rng.random() < 0.6 else kit.material(_material(rng, _choice(rng, ("wood", "marble"))))
    _cabinet(kit, sx, sy, base_h, h - 0.025, columns, body, front, handle, style, top=top)
    return kit.result()


@_furniture("nightstand", "nightstand", "wall")
def nightstand(rng: np.random.Generator) -> BuildResult:
    """Bedside table 40-55 cm wide, 35-45 cm deep, 50-65 cm tall: one to three drawers, or a drawer over an open
    shelf; on legs or a plinth."""
    kit = _Kit()
    sx, sy, h = _u(rng, 0.4, 0.55), _u(rng, 0.35, 0.45), _u(rng, 0.5, 0.65)
    body, front, handle, style = _case_materials(rng, kit)
    base_kind = _choice(rng, ("legs", "plinth"))
    base_h = _u(rng, 0.12, 0.2) if base_kind == "legs" else _u(rng, 0.04, 0.07)
    _base(kit, rng, sx, sy, base_kind, base_h, body)
    variant = int(rng.integers(3))
    rows = ([("drawer", 0.35), ("open", 0.65)], [("drawer", 1.0)] * int(rng.integers(1, 4)), [("door", 1.0)])[variant]
    _cabinet(kit, sx, sy, base_h, h - 0.02, [rows], body, front, handle, style, top_thickness=0.02)
    return kit.result()


@_furniture("tv_stand", "TV stand", "wall")
def tv_stand(rng: np.random.Generator) -> BuildResult:
    """Low media unit 1.2-2.0 m wide, 35-50 cm deep, 40-60 cm tall: two to four bays, open, with doors or drawers."""
    kit = _Kit()
    sx, sy, h = _u(rng, 1.2, 2.0), _u(rng, 0.35, 0.5), _u(rng, 0.4, 0.6)
    body, front, handle, style = _case_materials(rng, kit)
    base_kind = _choice(rng, ("legs", "plinth"))
    base_h = _u(rng, 0.08, 0.15) if base_kind == "legs" else _u(rng, 0.03, 0.06)
    _base(kit, rng, sx, sy, base_kind, base_h, body)
    bays = int(rng.integers(2, 5))
    options = ([("open", 1.0)], [("door", 1.0)], [("drawer", 1.0), ("drawer", 1.0)], [("open", 1.0), ("open", 1.0)])
    columns = [options[int(rng.choice(len(options), p=(0.4, 0.3, 0.2, 0.1)))] for _ in range(bays)]
    _cabinet(kit, sx, sy, base_h, h - 0.025, columns, body, front, handle, style)
    return kit.result()


@_furniture("sideboard", "sideboard", "wall")
def sideboard(rng: np.random.Generator) -> BuildResult:
    """Sideboard 1.4-2.0 m wide, 40-50 cm deep, 75-90 cm tall on legs: two to four bays of doors, sometimes with a
    row of drawers on top."""
    kit = _Kit()
    sx, sy, h = _u(rng, 1.4, 2.0), _u(rng, 0.4, 0.5), _u(rng, 0.75, 0.9)
    body, front, handle, style = _case_materials(rng, kit)
    base_kind = _choice(rng, ("legs", "plinth"), (0.7, 0.3))
    base_h = _u(rng, 0.12, 0.22) if base_kind == "legs" else _u(rng, 0.05, 0.08)
    _base(kit, rng, sx, sy, base_kind, base_h, body)
    bays = int(rng.integers(2, 5))
    with_drawers = rng.random() < 0.5
    column = [("drawer", 0.3), ("door", 1.0)] if with_drawers else [("door", 1.0)]
    top = None if rng.random() < 0.6 else kit.material(_material(rng, _choice(rng, ("wood", "marble"))))
    _cabinet(kit, sx, sy, base_h, h - 0.025, [column] * bays, body, front, handle, style, top=top)
    return kit.result()


# ------------------------------------------------------------------------------------------------------ seating


def _upholstered(
    kit: _Kit, rng: np.random.Generator, sx: float, sy: float, seat_h: float, back_h: float, arm_h: float,
    arm_w: float, cushions: int,
) -> None:  # fmt: skip
    """Sofa / armchair body: legs or plinth, seat frame and cushions, back with back cushions, two arms."""
    cover = kit.material(_material(rng, _choice(rng, ("fabric", "leather"), (0.75, 0.25))))
    cushion = cover if rng.random() < 0.7 else kit.material(_material(rng, "fabric"))
    legs = kit.material(_material(rng, _choice(rng, ("wood", "metal"))))
    leg_h = _u(rng, 0.08, 0.15) if rng.random() < 0.7 else 0.0
    if leg_h > 0:
        kit.legs(sx, sy, leg_h, _u(rng, 0.035, 0.05), 0.03, legs, bool(rng.random() < 0.5))
    else:
        leg_h = 0.0
    back_t = _u(rng, 0.14, 0.22)
    cushion_t = _u(rng, 0.1, 0.16)
    base = leg_h if leg_h > 0 else 0.0
    y_back = sy / 2 - back_t
    x_in = sx / 2 - arm_w
    kit.box((-sx / 2, y_back, base), (sx / 2, sy / 2, back_h), cover)  # back
    for ix in (-1, 1):  # arms
        x0, x1 = (x_in, sx / 2) if ix > 0 else (-sx / 2, -x_in)
        kit.box((x0, -sy / 2, base), (x1, y_back, arm_h), cover)
    kit.box((-x_in, -sy / 2, base), (x_in, y_back, seat_h - cushion_t), cover)  # seat frame
    edges = np.linspace(-x_in, x_in, cushions + 1)
    for x0, x1 in zip(edges[:-1], edges[1:], strict=True):
        kit.box((x0, -sy / 2 + 0.01, seat_h - cushion_t), (x1, y_back, seat_h), cushion)
    back_cushion = _u(rng, 0.1, 0.16) if rng.random() < 0.7 else 0.0
    y_seat_back = y_back
    if back_cushion > 0:
        y_seat_back = y_back - back_cushion
        top = min(back_h - 0.03, seat_h + _u(rng, 0.35, 0.45))
        for x0, x1 in zip(edges[:-1], edges[1:], strict=True):
            kit.box((x0 + 0.005, y_seat_back, seat_h), (x1 - 0.005, y_back, top), cushion)
    kit.surface("seat", seat_h, (-x_in, -sy / 2 + 0.01, x_in, y_seat_back), inset=0.04)


@_furniture("sofa", "sofa", "wall")
def sofa(rng: np.random.Generator) -> BuildResult:
    """Sofa 1.6-2.4 m wide, 80-100 cm deep: seat at 40-46 cm with two or three cushions, back 75-90 cm, arms;
    fabric or leather, on legs or a plinth."""
    kit = _Kit()
    sx, sy = _u(rng, 1.6, 2.4), _u(rng, 0.8, 1.0)
    seat_h, back_h = _u(rng, 0.4, 0.46), _u(rng, 0.75, 0.9)
    arm_h, arm_w = _u(rng, 0.55, 0.68), _u(rng, 0.1, 0.25)
    _upholstered(kit, rng, sx, sy, seat_h, back_h, arm_h, arm_w, 2 if sx < 2.0 else int(rng.integers(2, 4)))
    return kit.result()


@_furniture("armchair", "armchair", "free")
def armchair(rng: np.random.Generator) -> BuildResult:
    """Upholstered armchair 70-95 cm wide, 75-90 cm deep: seat at 40-45 cm, back 80-100 cm, arms."""
    kit = _Kit()
    sx, sy = _u(rng, 0.7, 0.95), _u(rng, 0.75, 0.9)
    seat_h, back_h = _u(rng, 0.4, 0.45), _u(rng, 0.8, 1.0)
    arm_h, arm_w = _u(rng, 0.55, 0.68), _u(rng, 0.1, 0.18)
    _upholstered(kit, rng, sx, sy, seat_h, back_h, arm_h, arm_w, 1)
    return kit.result()


@_furniture("chair", "chair", "free")
def chair(rng: np.random.Generator) -> BuildResult:
    """Dining / desk chair 42-50 cm wide: four legs, seat at 44-48 cm (sometimes with a cushion), back posts with a
    solid back panel, a top rail over slats, or an upholstered back, 80-95 cm tall."""
    kit = _Kit()
    sx, sy = _u(rng, 0.42, 0.5), _u(rng, 0.45, 0.55)
    seat_h, back_h, t = _u(rng, 0.44, 0.48), _u(rng, 0.8, 0.95), _u(rng, 0.03, 0.045)
    frame = kit.material(_material(rng, _choice(rng, ("wood", "painted", "metal"), (0.6, 0.3, 0.1))))
    leg = _u(rng, 0.03, 0.045)
    round_legs = bool(rng.random() < 0.3)
    seat_top = seat_h
    cushion = rng.random() < 0.4
    if cushion:
        seat_top = seat_h
        seat_h = seat_h - 0.03
    kit.box((-sx / 2, -sy / 2, seat_h - t), (sx / 2, sy / 2, seat_h), frame)
    for ix in (-1, 1):
        x = ix * (sx / 2 - leg / 2)
        y = -sy / 2 + leg / 2
        if round_legs:
            kit.cylinder(x, y, 0.0, seat_h - t, leg, frame)
        else:
            kit.box((x - leg / 2, y - leg / 2, 0.0), (x + leg / 2, y + leg / 2, seat_h - t), frame)
        kit.box((x - leg / 2, sy / 2 - leg, 0.0), (x + leg / 2, sy / 2, back_h), frame)  # rear leg and back post
    variant = int(rng.integers(3))
    if variant == 0:  # solid panel between the posts
        kit.box(
            (-sx / 2 + leg, sy / 2 - leg * 0.8, back_h - _u(rng, 0.18, 0.3)),
            (sx / 2 - leg, sy / 2 - 0.2 * leg, back_h),
            frame,
        )
    elif variant == 1:  # top rail over vertical slats
        rail = _u(rng, 0.05, 0.08)
        kit.box((-sx / 2 + leg, sy / 2 - leg * 0.8, back_h - rail), (sx / 2 - leg, sy / 2 - 0.2 * leg, back_h), frame)
        slats = int(rng.integers(2, 5))
        for x in np.linspace(-sx / 2 + leg, sx / 2 - leg, slats + 2)[1:-1]:
            kit.box((x - 0.012, sy / 2 - leg * 0.7, seat_h), (x + 0.012, sy / 2 - 0.3 * leg, back_h - rail), frame)
    else:  # upholstered back
        back = kit.material(_material(rng, _choice(rng, ("fabric", "leather"))))
        kit.box((-sx / 2 + leg, sy / 2 - leg, seat_h), (sx / 2 - leg, sy / 2, back_h - 0.02), back)
    if cushion:
        pad = kit.material(_material(rng, "fabric"))
        kit.box((-sx / 2 + 0.01, -sy / 2 + 0.01, seat_h), (sx / 2 - 0.01, sy / 2 - leg, seat_top), pad)
    kit.surface("seat", seat_top, (-sx / 2 + 0.01, -sy / 2 + 0.01, sx / 2 - 0.01, sy / 2 - leg), inset=0.03)
    return kit.result()


@_furniture("bench", "bench", "free")
def bench(rng: np.random.Generator) -> BuildResult:
    """Bench 1.0-1.6 m long, 35-45 cm deep, 42-48 cm tall: a board on four legs, on two solid ends, or an
    upholstered top on a wooden base."""
    kit = _Kit()
    sx, sy, h = _u(rng, 1.0, 1.6), _u(rng, 0.35, 0.45), _u(rng, 0.42, 0.48)
    wood = kit.material(_material(rng, _choice(rng, ("wood", "painted"), (0.75, 0.25))))
    variant = int(rng.integers(3))
    t = _u(rng, 0.03, 0.05)
    if variant == 2:  # upholstered
        pad = kit.material(_material(rng, _choice(rng, ("fabric", "leather"))))
        t = _u(rng, 0.06, 0.1)
        kit.box((-sx / 2, -sy / 2, h - t), (sx / 2, sy / 2, h), pad)
        kit.legs(sx, sy, h - t, _u(rng, 0.035, 0.05), 0.03, wood, bool(rng.random() < 0.5))
    else:
        kit.box((-sx / 2, -sy / 2, h - t), (sx / 2, sy / 2, h), wood)
        if variant == 0:
            kit.legs(sx, sy, h - t, _u(rng, 0.04, 0.06), _u(rng, 0.03, 0.08), wood, bool(rng.random() < 0.3))
        else:
            inset, slab = _u(rng, 0.05, 0.15), _u(rng, 0.03, 0.05)
            for ix in (-1, 1):
                x = ix * (sx / 2 - inset)
                kit.box((x - slab / 2, -sy / 2 + 0.01, 0.0), (x + slab / 2, sy / 2 - 0.01, h - t), wood)
    kit.surface("seat", h, (-sx / 2, -sy / 2, sx / 2, sy / 2))
    return kit.result()


@_furniture("bed", "bed", "wall")
def bed(rng: np.random.Generator) -> BuildResult:
    """Single, double, queen or king bed, 2.0-2.15 m mattress: frame (on legs or a solid base), mattress, duvet,
    one or two pillows, headboard against the wall (+y), sometimes a footboard."""
    kit = _Kit()
    width = (_u(rng, 0.9, 1.0), _u(rng, 1.35, 1.45), _u(rng, 1.5, 1.6), _u(rng, 1.75, 1.85))[
        int(rng.choice(4, p=(0.25, 0.35, 0.25, 0.15)))
    ]
    length = _u(rng, 2.0, 2.15)
    frame = kit.material(_material(rng, _choice(rng, ("wood", "painted", "fabric"), (0.5, 0.25, 0.25))))
    mattress = kit.material(_material(rng, "linen"))
    duvet = kit.material(_material(rng, "bedding"))
    pillow = mattress if rng.random() < 0.5 else kit.material(_material(rng, "linen"))
    leg_h = _u(rng, 0.1, 0.2) if rng.random() < 0.5 else 0.0
    frame_top = _u(rng, 0.25, 0.38)
    fx, fy = width / 2 + 0.04, length / 2 + 0.03
    if leg_h > 0:
        kit.legs(2 * fx, 2 * fy, leg_h, 0.06, 0.02, frame, False)
    kit.box((-fx, -fy, leg_h), (fx, fy, frame_top), frame)
    m_top = frame_top + _u(rng, 0.18, 0.25)
    kit.box((-width / 2, -length / 2, frame_top), (width / 2, length / 2, m_top), mattress)
    hb_t, hb_h = _u(rng, 0.05, 0.1), _u(rng, 0.9, 1.3)
    kit.box((-fx - 0.02, fy, 0.0), (fx + 0.02, fy + hb_t, hb_h), frame)
    if rng.random() < 0.35:  # footboard
        kit.box((-fx, -fy - 0.04, 0.0), (fx, -fy, m_top + _u(rng, 0.0, 0.15)), frame)
    pillows = 1 if width < 1.2 else 2
    p_depth, p_h = _u(rng, 0.35, 0.45), _u(rng, 0.1, 0.15)
    y_p1 = length / 2 - 0.05
    y_p0 = y_p1 - p_depth
    p_width = min(_u(rng, 0.5, 0.7), width / pillows - 0.06)
    for i in range(pillows):
        x = (i - (pillows - 1) / 2) * (width / pillows)
        kit.box((x - p_width / 2, y_p0, m_top), (x + p_width / 2, y_p1, m_top + p_h), pillow)
    d_top = m_top + _u(rng, 0.03, 0.05)
    y_duvet = y_p0 - _u(rng, 0.02, 0.15)
    kit.box(
        (-width / 2 - 0.02, -length / 2 - 0.02, m_top - _u(rng, 0.08, 0.15)), (width / 2 + 0.02, y_duvet, d_top), duvet
    )
    kit.surface("top", d_top, (-width / 2, -length / 2, width / 2, y_duvet), inset=0.08)
    return kit.result()


# ------------------------------------------------------------------------------------------------------- decor


@_furniture("rug", "rug", "floor_flat")
def rug(rng: np.random.Generator) -> BuildResult:
    """Rug 1.2-3.0 x 0.8-2.2 m, about 1 cm thick: plain, with a contrasting border, or round."""
    kit = _Kit()
    t = _u(rng, 0.008, 0.012)
    field = kit.material(_material(rng, "rug"))
    variant = int(rng.integers(3))
    if variant == 2:
        d = _u(rng, 1.2, 2.0)
        kit.cylinder(0.0, 0.0, 0.0, t, d, field)
        return kit.result()
    sx, sy = _u(rng, 1.2, 3.0), _u(rng, 0.8, 2.2)
    kit.box((-sx / 2, -sy / 2, 0.0), (sx / 2, sy / 2, t), field)
    if variant == 1:
        inner = kit.material(_material(rng, "rug"))
        border = _u(rng, 0.06, 0.15)
        kit.box((-sx / 2 + border, -sy / 2 + border, 0.0), (sx / 2 - border, sy / 2 - border, t + 0.002), inner)
    return kit.result()


@_furniture("wall_picture", "wall picture", "wall_mounted")
def wall_picture(rng: np.random.Generator) -> BuildResult:
    """Framed picture 0.4-1.2 x 0.3-0.9 m, 2.5-4 cm deep, its back at +y (on the wall) and its bottom edge at z = 0
    (hung with ``make_furniture(..., z=...)``): an abstract canvas in a wood, painted or metal frame, or frameless."""
    kit = _Kit()
    w, h, d = _u(rng, 0.4, 1.2), _u(rng, 0.3, 0.9), _u(rng, 0.025, 0.04)
    canvas = kit.material(_material(rng, "art"))
    if rng.random() < 0.25:  # frameless canvas
        kit.box((-w / 2, -d / 2, 0.0), (w / 2, d / 2, h), canvas)
        return kit.result()
    frame = kit.material(_material(rng, _choice(rng, ("wood", "painted", "metal"))))
    f = _u(rng, 0.02, 0.06)
    kit.box((-w / 2, -d / 2, 0.0), (w / 2, d / 2, f), frame)
    kit.box((-w / 2, -d / 2, h - f), (w / 2, d / 2, h), frame)
    kit.box((-w / 2, -d / 2, f), (-w / 2 + f, d / 2, h - f), frame)
    kit.box((w / 2 - f, -d / 2, f), (w / 2, d / 2, h - f), frame)
    kit.box((-w / 2 + f, -d / 2 + 0.008, f), (w / 2 - f, d / 2, h - f), canvas)
    return kit.result()
