"""The object catalog: one short ``build(rng) -> list[Part]`` per category, registered on import.

Conventions shared by every builder (so scenes and edits can rely on them):

* metres, z up, real-world sizes sampled from plausible ranges; the object rests on z = 0 (enforced by
  :func:`_category`, which grounds the parts after building);
* the object's "front" (label, logo, face, screen top) faces -y, towards the default camera; handles sit on +x;
  vehicles and animals in profile face +x;
* every part is a closed mesh, roughly convex where the object allows it (MuJoCo collides with each part's
  convex hull), under 3000 vertices; a hollow receptacle (a plate) is drawn as one part that does not collide and
  collides as convex parts that are not drawn (``Part.shown`` / ``Part.collides``);
* ``symmetry_order`` describes geometry *and* texture: 1 unless the whole look is rotation-invariant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike
from shapely.affinity import rotate, scale, translate
from shapely.geometry import Point, Polygon
from shapely.ops import unary_union

from gsi_datasets.assets import textures as tx
from gsi_datasets.assets.base import Material, Part, register_category
from gsi_datasets.assets.primitives import (
    Mesh,
    axis_rotation,
    box,
    convex_hull,
    ellipsoid,
    extrude,
    merge,
    revolve,
    torus,
    transform,
    tube_along,
)

Build = Callable[[np.random.Generator], list[Part]]

# (specular, shininess) per surface kind: glass and metal are shiny, paper and fabric matte.
_FINISH: dict[str, tuple[float, float]] = {
    "ceramic": (0.5, 0.7),
    "plastic": (0.4, 0.5),
    "rubber": (0.15, 0.2),
    "metal": (0.9, 0.85),
    "glass": (0.9, 0.95),
    "paper": (0.08, 0.1),
    "fabric": (0.02, 0.05),
    "food": (0.2, 0.3),
    "wood": (0.15, 0.2),
    "wax": (0.3, 0.4),
}

_FRONT = axis_rotation("z", np.pi / 2)
"""Turns a revolved texture's centre column (u = 0.5, at -x) to face -y, the front."""

_TO_MINUS_Y = axis_rotation("x", np.pi / 2)
"""Maps +z to -y and +y to +z: turns an extruded outline (drawn in x-y) into an upright face looking at -y."""


def _category(
    name: str, display_name: str, group: str, symmetry_order: int, **options: str | bool
) -> Callable[[Build], Build]:
    """Registers a builder (``options``: ``register_category``'s placement, receiving part and container flag); the
    registered build
    grounds the result (lowest vertex at z = 0)."""

    def decorator(build: Build) -> Build:
        def grounded(rng: np.random.Generator) -> list[Part]:
            parts = build(rng)
            z_min = min(float(part.vertices[:, 2].min()) for part in parts)
            offset = np.array([0.0, 0.0, -z_min])
            return [dataclasses.replace(p, vertices=p.vertices + offset) for p in parts]

        grounded.__doc__ = build.__doc__
        grounded.__name__ = build.__name__
        register_category(name, display_name, group, symmetry_order, **options)(grounded)
        return build

    return decorator


# ----------------------------------------------------------------------------------------------- shared helpers


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _rgb(colour: ArrayLike) -> tuple[float, float, float, float]:
    c = np.asarray(colour, dtype=np.float64) / 255.0
    return float(c[0]), float(c[1]), float(c[2]), 1.0


def _part(
    name: str,
    mesh: Mesh,
    finish: str,
    colour: ArrayLike | None = None,
    texture: np.ndarray | None = None,
    **uses: bool,
) -> Part:
    """A Part with a material of the given finish; a texture is shown unmodulated (rgba white). ``uses``: the Part's
    ``shown`` / ``collides``."""
    specular, shininess = _FINISH[finish]
    rgba = (1.0, 1.0, 1.0, 1.0) if texture is not None or colour is None else _rgb(colour)
    material = Material(rgba=rgba, texture=texture, specular=specular, shininess=shininess)
    vertices, faces, uv = mesh
    return Part(name, vertices, faces, uv, material, **uses)


def _circle(radius: float, n: int = 40) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1)


def _rounded_rect(sx: float, sy: float, radius: float, n: int = 6) -> np.ndarray:
    """Counter-clockwise outline of a ``sx x sy`` rectangle centred on the origin with rounded corners."""
    radius = min(radius, 0.49 * min(sx, sy))
    points = []
    for cx, cy, start in ((1, 1, 0.0), (-1, 1, 0.5), (-1, -1, 1.0), (1, -1, 1.5)):
        t = np.linspace(start * np.pi, (start + 0.5) * np.pi, n)
        centre = np.array([cx * (sx / 2 - radius), cy * (sy / 2 - radius)])
        points.append(centre + radius * np.stack([np.cos(t), np.sin(t)], axis=1))
    return np.concatenate(points)


def _cylinder(radius: float, height: float, z0: float = 0.0, segments: int = 40) -> Mesh:
    return revolve([(radius, z0), (radius, z0 + height)], segments)


def _vessel(outer: ArrayLike, wall: float, floor: float, segments: int = 48) -> Mesh:
    """Open container (mug, bowl, pot): the outer profile bottom -> rim, then the same profile offset inwards by
    ``wall`` walked back down to an inner floor at height ``floor``."""
    outer = np.asarray(outer, dtype=np.float64)
    inner = outer[::-1].copy()
    inner[:, 0] = np.maximum(inner[:, 0] - wall, 0.0)
    inner = inner[inner[:, 1] > floor]
    inner_floor = [(max(inner[-1, 0], wall), floor), (0.0, floor)]
    return revolve(np.concatenate([outer, inner, inner_floor]), segments)


def _round_pieces(mesh: Mesh, core_radius: float, sectors: int, bands: int = 1) -> tuple[Mesh, list[Mesh]]:
    """A round dish as convex pieces for physics (MuJoCo collides with each part's convex hull, and one hull would fill
    the dish): the hull of the faces within ``core_radius`` of the axis (its flat centre) and the hulls of the rest in
    ``sectors`` equal angular sectors (the rim), each cut into ``bands`` equal height bands (a bowl's curved wall:
    the hull of a whole wall sector would cut across the curve into the bowl). Neighbouring pieces share their
    boundary vertices, so the hulls tile the rim."""
    vertices, faces, uv = mesh
    centres = vertices[faces].mean(axis=1)
    angle = np.arctan2(centres[:, 1], centres[:, 0]) % (2.0 * np.pi)
    sector = np.minimum((angle / (2.0 * np.pi / sectors)).astype(int), sectors - 1)
    low, high = vertices[:, 2].min(), vertices[:, 2].max()
    band = np.minimum(((centres[:, 2] - low) / (high - low) * bands).astype(int), bands - 1)
    labels = np.where(np.hypot(centres[:, 0], centres[:, 1]) < core_radius, -1, sector * bands + band)
    # Each piece is the hull of the vertices of its faces (label -1, the centre, first).
    used = (np.unique(faces[labels == label]) for label in np.unique(labels))
    core, *rim = (convex_hull(vertices[indices], uv[indices]) for indices in used)
    return core, rim


def _label_band(r_bottom: float, r_top: float, z0: float, z1: float) -> Mesh:
    """A printed label hugging a (conical) wall 0.5 mm proud of it, front (texture centre) towards -y."""
    band = revolve([(r_bottom + 5e-4, z0), (r_top + 5e-4, z1)], 48)
    return transform(band, rotation=_FRONT)


def _flatten_bottom(mesh: Mesh, depth: float) -> Mesh:
    """Squashes everything within ``depth`` of the lowest point onto one plane, so round things sit flat."""
    vertices, faces, uv = mesh
    floor = vertices[:, 2].min() + depth
    flat = vertices.copy()
    flat[:, 2] = np.maximum(flat[:, 2], floor)
    return flat, faces, uv


def _c_handle(x_wall: float, z_low: float, z_high: float, reach: float, radius: float) -> Mesh:
    """A C-shaped handle on the +x side joining a wall at ``x_wall`` between two heights."""
    t = np.linspace(0.0, np.pi, 20)
    zc, half = (z_low + z_high) / 2, (z_high - z_low) / 2
    path = np.stack([x_wall - radius + reach * np.sin(t), np.zeros_like(t), zc + half * np.cos(t)], axis=1)
    return tube_along(path, radius, sides=12)


def _surface_texture(rng: np.random.Generator, shape: tuple[int, int] = (128, 256)) -> np.ndarray:
    """One of the decorative all-over patterns (for mugs, gift paper, vases)."""
    light, dark = tx.pick(rng, "light"), tx.pick(rng, "bright")
    kind = int(rng.integers(4))
    if kind == 0:
        return tx.stripes(rng, [light, dark], shape, vertical=bool(rng.integers(2)))
    if kind == 1:
        return tx.polka_dots(rng, light, dark, shape)
    if kind == 2:
        return tx.checker(rng, light, dark, shape)
    return tx.marble(rng, light, dark, shape)


# ------------------------------------------------------------------------------------------------- kitchenware


@_category("coffee_mug", "coffee mug", "kitchenware", 1)
def coffee_mug(rng: np.random.Generator) -> list[Part]:
    """Mug 8-10.5 cm tall, 7.6-9.2 cm wide, slightly tapered, handle on +x, optional printed decal."""
    h, r = _u(rng, 0.08, 0.105), _u(rng, 0.038, 0.046)
    r_base = r * _u(rng, 0.85, 1.0)
    colour = tx.pick(rng, "light") if rng.random() < 0.5 else tx.pick(rng, "bright")
    parts = [_part("body", _vessel([(r_base, 0.0), (r, h)], 0.004, 0.008), "ceramic", colour)]
    if rng.random() < 0.75:
        decal = tx.motif(rng, colour, tx.pick(rng, "bright")) if rng.random() < 0.5 else _surface_texture(rng)
        z0, z1 = 0.2 * h, 0.85 * h
        band = _label_band(r_base + (r - r_base) * 0.2, r_base + (r - r_base) * 0.85, z0, z1)
        parts.append(_part("decal", band, "ceramic", texture=decal))
    handle = _c_handle(r_base + (r - r_base) * 0.5, 0.2 * h, 0.8 * h, _u(rng, 0.025, 0.035), _u(rng, 0.005, 0.007))
    parts.append(_part("handle", handle, "ceramic", colour))
    return parts


@_category("teapot", "teapot", "kitchenware", 1)
def teapot(rng: np.random.Generator) -> list[Part]:
    """Round teapot 11-14 cm tall with lid and knob, spout on -x and handle on +x."""
    r, rz = _u(rng, 0.065, 0.08), _u(rng, 0.05, 0.065)
    colour = tx.pick(rng, "light") if rng.random() < 0.5 else tx.pick(rng, "bright")
    texture = tx.motif(rng, colour, tx.pick(rng, "bright")) if rng.random() < 0.5 else None
    body = transform(ellipsoid((r, r, rz), z_min=-0.8, z_max=0.75), rotation=_FRONT, translation=(0, 0, 0.8 * rz))
    top = 0.8 * rz + 0.75 * rz
    lid_r = r * np.sqrt(1 - 0.75**2) + 0.004
    lid = revolve(
        [
            (lid_r, top - 0.004),
            (lid_r * 0.8, top + 0.012),
            (0.008, top + 0.018),
            (0.012, top + 0.03),
            (0.0, top + 0.034),
        ]
    )
    t = np.linspace(0.0, 1.0, 12)
    spout_path = np.stack([-(r * 0.8 + 0.06 * t), np.zeros_like(t), 0.5 * rz + 0.9 * rz * t**1.5], axis=1)
    spout = tube_along(spout_path, np.linspace(0.016, 0.007, 12), sides=14)
    handle = _c_handle(r * 0.9, 0.5 * rz, 1.35 * rz, _u(rng, 0.04, 0.05), 0.007)
    return [
        _part("body", body, "ceramic", colour, texture),
        _part("lid", lid, "ceramic", colour),
        _part("spout", spout, "ceramic", colour),
        _part("handle", handle, "ceramic", colour),
    ]


@_category("bowl", "bowl", "kitchenware", 0, receiving_part="floor", container=True)
def bowl(rng: np.random.Generator) -> list[Part]:
    """Round bowl 12-18 cm across, 5-8 cm deep, on a foot ring; plain or with concentric bands (round-symmetric).
    Physics sees its floor (the foot's disc up to the inner floor) and its wall in 16 sectors x 4 height bands as
    convex parts that are not drawn, so what is put in it rests on its inner wall."""
    r, h = _u(rng, 0.06, 0.09), _u(rng, 0.05, 0.08)
    foot = r * _u(rng, 0.4, 0.5)
    s = np.linspace(0.0, 1.0, 10)
    outer = np.stack([foot + (r - foot) * np.sin(s * np.pi / 2), 0.006 + (h - 0.006) * s**1.3], axis=1)
    outer = np.concatenate([[(foot, 0.0)], outer])
    colour = tx.pick(rng, "light") if rng.random() < 0.6 else tx.pick(rng, "pastel")
    texture = tx.stripes(rng, [colour, tx.pick(rng, "bright")]) if rng.random() < 0.5 else None
    body = _vessel(outer, 0.005, 0.012)
    floor, wall = _round_pieces(body, foot, 16, bands=4)
    return [
        _part("body", body, "ceramic", colour, texture, collides=False),
        _part("floor", floor, "ceramic", colour, shown=False),
        *(_part(f"wall {i}", piece, "ceramic", colour, shown=False) for i, piece in enumerate(wall)),
    ]


@_category("plate", "plate", "kitchenware", 0, receiving_part="well")
def plate(rng: np.random.Generator) -> list[Part]:
    """Dinner plate 20-27 cm across, 1.5-2.5 cm tall, with a raised rim; plain or with a coloured rim ring. Physics
    sees its flat well and the rim's 24 sectors as convex parts that are not drawn, so what is put on it rests in the
    well."""
    r, h = _u(rng, 0.1, 0.135), _u(rng, 0.015, 0.025)
    well = r * _u(rng, 0.6, 0.7)
    profile = [(well * 0.8, 0.0), (well * 0.8, 0.004), (r, h), (r - 0.004, h), (well, 0.008), (0.0, 0.008)]
    colour = tx.pick(rng, "light")
    texture = None
    if rng.random() < 0.5:
        texture = np.empty((128, 128, 3), dtype=np.uint8)
        texture[:] = colour
        # Paint the inner rim slope, from the rim edge (profile point 3) down to the well (point 4).
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(np.array(profile), axis=0), axis=1))])
        v = arc / arc[-1]
        texture[int((1 - v[4]) * 128) + 2 : int((1 - v[3]) * 128) - 1] = tx.pick(rng, "bright")
    body = revolve(profile, 64)
    well_piece, rim = _round_pieces(body, well, 24)
    return [
        _part("body", body, "ceramic", colour, texture, collides=False),
        _part("well", well_piece, "ceramic", colour, shown=False),
        *(_part(f"rim {i}", piece, "ceramic", colour, shown=False) for i, piece in enumerate(rim)),
    ]


@_category("wine_glass", "wine glass", "kitchenware", 0)
def wine_glass(rng: np.random.Generator) -> list[Part]:
    """Stemmed wine glass 16-21 cm tall in tinted (opaque) glass: foot + stem, and the bowl."""
    foot_r, stem_h = _u(rng, 0.032, 0.04), _u(rng, 0.07, 0.09)
    bowl_r, bowl_h = _u(rng, 0.035, 0.045), _u(rng, 0.09, 0.12)
    colour = tx.pick(rng, "glass")
    stem = revolve([(foot_r, 0.0), (foot_r, 0.003), (0.006, 0.008), (0.004, 0.02), (0.004, stem_h), (0.0, stem_h)])
    s = np.linspace(0.0, 1.0, 12)
    outer = np.stack([0.004 + bowl_r * np.sin(s * np.pi * 0.62) / np.sin(np.pi * 0.62), stem_h + bowl_h * s], axis=1)
    outer[0] = (0.004, stem_h - 0.002)
    return [
        _part("stem", stem, "glass", colour),
        _part("bowl", _vessel(outer, 0.002, stem_h + 0.02), "glass", colour),
    ]


@_category("kettle", "kettle", "kitchenware", 1)
def kettle(rng: np.random.Generator) -> list[Part]:
    """Stovetop kettle 18-24 cm tall: tapered body, lid knob, spout on -x, arched handle over the top."""
    r_bottom, h = _u(rng, 0.08, 0.095), _u(rng, 0.12, 0.15)
    r_top = r_bottom * _u(rng, 0.55, 0.7)
    colour = tx.pick(rng, "metal") if rng.random() < 0.6 else tx.pick(rng, "bright")
    finish = "metal"
    body = revolve(
        [
            (r_bottom - 0.005, 0.0),
            (r_bottom, 0.008),
            (r_bottom * 0.97, h * 0.6),
            (r_top, h),
            (r_top * 0.6, h + 0.01),
            (0.012, h + 0.012),
            (0.014, h + 0.03),
            (0.0, h + 0.033),
        ]
    )
    t = np.linspace(0.0, 1.0, 12)
    spout = tube_along(
        np.stack([-(r_bottom * 0.85 + 0.07 * t), np.zeros_like(t), 0.25 * h + 0.65 * h * t], axis=1),
        np.linspace(0.015, 0.008, 12),
        sides=14,
    )
    a = np.linspace(0.0, np.pi, 24)
    arch = np.stack([np.zeros_like(a), -r_top * 0.9 * np.cos(a), h * 0.95 + _u(rng, 0.06, 0.08) * np.sin(a)], axis=1)
    handle = tube_along(arch, 0.008, sides=12)
    return [
        _part("body", body, finish, colour),
        _part("spout", spout, finish, colour),
        _part("handle", handle, "plastic", tx.pick(rng, "dark")),
    ]


@_category("saucepan", "saucepan", "kitchenware", 1)
def saucepan(rng: np.random.Generator) -> list[Part]:
    """Metal saucepan 14-17 cm across with a long handle on +x (up to 33 cm long overall)."""
    r, h = _u(rng, 0.07, 0.085), _u(rng, 0.07, 0.1)
    body = _vessel([(r - 0.004, 0.0), (r, 0.006), (r, h)], 0.003, 0.005)
    length = _u(rng, 0.13, 0.16)
    t = np.linspace(0.0, 1.0, 8)
    path = np.stack([r - 0.005 + length * t, np.zeros_like(t), h * 0.85 + 0.03 * t], axis=1)
    handle_colour = tx.pick(rng, "dark") if rng.random() < 0.7 else tx.pick(rng, "metal")
    return [
        _part("body", body, "metal", tx.pick(rng, "metal")),
        _part("handle", tube_along(path, 0.009, sides=12), "plastic", handle_colour),
    ]


@_category("cutting_board", "cutting board", "kitchenware", 1, receiving_part="board")
def cutting_board(rng: np.random.Generator) -> list[Part]:
    """Wooden board 20-26 x 15-21 cm, 1.5-2.5 cm thick, with a handle tab on +x; wood grain along x."""
    sx, sy, h = _u(rng, 0.2, 0.26), _u(rng, 0.15, 0.21), _u(rng, 0.015, 0.025)
    main = _rounded_rect(sx, sy, 0.015)
    tab = _rounded_rect(_u(rng, 0.05, 0.07), sy * 0.35, 0.012) + np.array([sx / 2, 0.0])
    board = unary_union([Polygon(main), Polygon(tab)])
    outline = np.asarray(board.exterior.coords)[:-1]
    tint = _u(rng, 0.75, 1.1)  # from pale beech to dark walnut
    texture = tx.wood_grain(rng, np.array([205, 160, 110]) * tint, np.array([140, 95, 55]) * tint)
    return [_part("board", extrude(outline, h), "wood", texture=texture)]


@_category("tray", "tray", "kitchenware", 1, receiving_part="floor")
def tray(rng: np.random.Generator) -> list[Part]:
    """Small serving tray 28-35 x 20-26 cm, 3-4.5 cm tall: a flat floor inside four low walls (five convex parts, so
    what is put on it rests on the floor); wood or painted plastic."""
    sx, sy, h = _u(rng, 0.28, 0.35), _u(rng, 0.20, 0.26), _u(rng, 0.03, 0.045)
    wall, floor = 0.012, 0.008
    inner_x, inner_y = sx - 2 * wall, sy - 2 * wall
    if rng.random() < 0.5:
        tint = _u(rng, 0.75, 1.1)
        texture = tx.wood_grain(rng, np.array([205, 160, 110]) * tint, np.array([140, 95, 55]) * tint)
        finish, colour = "wood", None
    else:
        texture, finish, colour = None, "plastic", tx.pick(rng, "bright" if rng.random() < 0.5 else "dark")
    walls = [transform(box((sx, wall, h)), translation=(0.0, side * (sy - wall) / 2, 0.0)) for side in (-1, 1)] + [
        transform(box((wall, inner_y, h)), translation=(side * (sx - wall) / 2, 0.0, 0.0)) for side in (-1, 1)
    ]
    return [
        _part("floor", box((inner_x, inner_y, floor)), finish, colour, texture),
        *(_part(f"wall {i}", mesh, finish, colour, texture) for i, mesh in enumerate(walls)),
    ]


# ------------------------------------------------------------------------------------------------------- food


def _stem(rng: np.random.Generator, top: float, lean: float) -> Part:
    """A short brown fruit stem rising from ``top``, leaning ``lean`` metres towards +x."""
    t = np.linspace(0.0, 1.0, 6)
    path = np.stack([lean * t**2, np.zeros_like(t), top - 0.004 + _u(rng, 0.012, 0.02) * t], axis=1)
    return _part("stem", tube_along(path, 0.0018, sides=8), "wood", (95, 65, 35))


@_category("apple", "apple", "food", 1)
def apple(rng: np.random.Generator) -> list[Part]:
    """Apple 6.5-9 cm across with a flat-ish base, top dimple, stem, an optional leaf and a blush on one side."""
    r = _u(rng, 0.033, 0.045)
    rz = r * _u(rng, 0.85, 1.0)
    phi = np.linspace(-1.1, 1.35, 16)
    profile = np.stack([r * np.cos(phi) * (1 + 0.06 * np.sin(phi)), rz * np.sin(phi)], axis=1)
    profile = np.concatenate([profile, [(0.0, rz * np.sin(1.35) - 0.008)]])
    base, blush = (
        np.array(c)
        for c in [((200, 30, 35), (240, 200, 60)), ((140, 190, 60), (220, 60, 40)), ((230, 200, 70), (230, 110, 40))][
            int(rng.integers(3))
        ]
    )
    skin = tx.fruit_skin(rng, base, (250, 240, 190), blush=blush)
    body = transform(revolve(profile, 40), rotation=_FRONT)
    top = rz * np.sin(1.35) - 0.008
    parts = [_part("body", body, "food", texture=skin), _stem(rng, top, 0.004)]
    if rng.random() < 0.6:
        leaf = transform(ellipsoid((0.016, 0.007, 0.0015), 12, 8), axis_rotation("y", -0.5), (0.014, 0.0, top + 0.01))
        parts.append(_part("leaf", leaf, "food", (60, 140, 50)))
    return parts


@_category("orange", "orange", "food", 0)
def orange(rng: np.random.Generator) -> list[Part]:
    """Orange 6.5-8.5 cm across, dimpled peel, flattened base, small green calyx on top (round-symmetric)."""
    r = _u(rng, 0.033, 0.042)
    colour = np.array((240, 140, 20)) * _u(rng, 0.9, 1.05)
    peel = tx.fruit_skin(rng, colour, (200, 100, 10))
    body = ellipsoid((r, r, r * 0.95), z_min=-0.75, z_max=1.0)
    calyx = _cylinder(0.004, 0.003, r * 0.95 - 0.001, 12)
    return [_part("body", body, "food", texture=peel), _part("calyx", calyx, "food", (90, 120, 40))]


@_category("banana", "banana", "food", 1)
def banana(rng: np.random.Generator) -> list[Part]:
    """Banana 17-22 cm long lying on its side: a curved tapering tube with a dark stalk at one end."""
    bend = _u(rng, 0.12, 0.16)
    span = _u(rng, 0.17, 0.22) / bend
    a = np.linspace(-span / 2, span / 2, 24) - np.pi / 2
    s = np.linspace(0.0, 1.0, 24)
    radius = _u(rng, 0.016, 0.02) * (0.35 + 0.65 * np.sin(np.pi * s) ** 0.5)
    # Each cross-section touches the table, so the banana lies flat instead of resting on its tips.
    path = np.stack([bend * np.cos(a), bend * np.sin(a) + bend, radius], axis=1)
    skin = tx.fruit_skin(rng, (240, 205, 60) if rng.random() < 0.7 else (180, 200, 70), (110, 80, 30))
    skin[:8] = skin[-8:] = (90, 70, 35)  # bruised tips
    stalk_dir = (path[-1] - path[-2]) * np.array([1.0, 1.0, 0.0])  # level, so the stalk cannot prop the tip up
    stalk_path = np.stack([path[-1], path[-1] + 0.025 * stalk_dir / np.linalg.norm(stalk_dir)])
    return [
        _part("body", tube_along(path, radius, sides=14), "food", texture=skin),
        _part("stalk", tube_along(stalk_path, radius[-1] * 0.9, sides=8), "food", (100, 85, 45)),
    ]


@_category("lemon", "lemon", "food", 1)
def lemon(rng: np.random.Generator) -> list[Part]:
    """Lemon 7-9 cm long lying on its side (long axis x), pointed tips, green stem nub on the +x tip."""
    length, r = _u(rng, 0.035, 0.045), _u(rng, 0.026, 0.032)
    z = np.linspace(-length, length, 18)
    radius = r * np.sqrt(np.clip(1 - (z / length) ** 2, 0, 1)) ** 0.8
    profile = np.concatenate(
        [
            [(0.0, -length - 0.006), (0.006, -length - 0.003)],
            np.stack([radius, z], axis=1)[1:-1],
            [(0.006, length + 0.003), (0.0, length + 0.006)],
        ]
    )
    peel = tx.fruit_skin(rng, (245, 215, 50), (200, 170, 20))
    body = _flatten_bottom(transform(revolve(profile, 32), axis_rotation("y", np.pi / 2)), 0.004)
    nub = transform(_cylinder(0.003, 0.004, length + 0.005, 10), axis_rotation("y", np.pi / 2))
    return [_part("body", body, "food", texture=peel), _part("stem", nub, "food", (110, 130, 40))]


@_category("donut", "donut", "food", 0)
def donut(rng: np.random.Generator) -> list[Part]:
    """Ring donut 8-11 cm across with an icing cap (plain or with concentric drizzle; round-symmetric)."""
    major, minor = _u(rng, 0.026, 0.034), _u(rng, 0.014, 0.02)
    dough = tx.fruit_skin(rng, (205, 145, 80), (170, 110, 60))
    alpha = np.linspace(0.0, np.pi, 14)  # outer equator over the top to the inner one (solid on the left)
    cap = 1.08 * minor
    arc = np.stack([major + cap * np.cos(alpha), cap * np.sin(alpha)], axis=1)
    icing_profile = np.concatenate([arc, [(major, -0.3 * minor), arc[0]]])
    icing_colour = np.asarray(tx.pick(rng, "pastel" if rng.random() < 0.6 else "earth"), dtype=np.float64)
    icing_texture = None
    if rng.random() < 0.5:
        icing_texture = tx.stripes(rng, [icing_colour, tx.pick(rng, "bright")])
    return [
        _part("dough", transform(torus(major, minor), translation=(0, 0, minor)), "food", texture=dough),
        _part(
            "icing",
            transform(revolve(icing_profile, 40, caps=False), translation=(0, 0, minor)),
            "food",
            icing_colour,
            icing_texture,
        ),
    ]


@_category("birthday_cake", "birthday cake", "food", 1)
def birthday_cake(rng: np.random.Generator) -> list[Part]:
    """Round cake 16-24 cm across, 7-10 cm tall, frosted, with 1-4 candles at random spots on top."""
    r, h = _u(rng, 0.08, 0.12), _u(rng, 0.07, 0.1)
    frosting = tx.pick(rng, "pastel")
    side = tx.stripes(rng, [frosting, tx.pick(rng, "bright")])
    parts = [
        _part("cake", _cylinder(r, h, segments=56), "food", texture=side),
        _part(
            "frosting", revolve([(r + 0.003, h - 0.01), (r + 0.003, h + 0.004), (0.0, h + 0.006)], 56), "food", frosting
        ),
    ]
    candles, flames = [], []
    for _ in range(int(rng.integers(1, 5))):
        angle, dist = _u(rng, 0, 2 * np.pi), _u(rng, 0.3, 0.75) * r
        xy = (dist * np.cos(angle), dist * np.sin(angle), 0.0)
        candle_h = _u(rng, 0.04, 0.06)
        candles.append(transform(_cylinder(0.004, candle_h, h, 12), translation=xy))
        flames.append(transform(_flame(h + candle_h), translation=xy))
    # Candles share one part (and flames another): their joint convex hull only matters for things on the cake.
    parts.append(_part("candles", merge(candles), "wax", tx.pick(rng, "bright")))
    parts.append(_part("flames", merge(flames), "wax", (255, 200, 60)))
    return parts


def _flame(z: float) -> Mesh:
    """Teardrop flame standing at height ``z``."""
    return revolve([(0.0, z), (0.004, z + 0.005), (0.003, z + 0.01), (0.0, z + 0.016)], 12)


@_category("bread_loaf", "loaf of bread", "food", 2)
def bread_loaf(rng: np.random.Generator) -> list[Part]:
    """Sandwich loaf 20-28 cm long (along y), domed top with evenly spaced score marks (looks the same at 180°)."""
    w, length = _u(rng, 0.1, 0.13), _u(rng, 0.2, 0.28)
    wall_h, dome_h = _u(rng, 0.04, 0.06), _u(rng, 0.03, 0.05)
    a = np.linspace(0.12, np.pi - 0.12, 14)  # starts above the wall top: the overhang has no collinear corners
    dome = np.stack([(w / 2 + 0.006) * np.cos(a), wall_h + dome_h * np.sin(a)], axis=1)
    outline = np.concatenate([[(-w / 2, 0.0), (w / 2, 0.0), (w / 2, wall_h)], dome, [(-w / 2, wall_h)]])
    crust = tx.fruit_skin(rng, (205, 145, 75), (160, 105, 50))
    # The dome's share of the perimeter (walked after the bottom and right wall) gets the score marks.
    edges = np.linalg.norm(np.diff(np.concatenate([outline, outline[:1]]), axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(edges)]) / edges.sum()
    cols = slice(int(cum[3] * 128) + 4, int(cum[3 + len(dome) - 1] * 128) - 4)
    cuts = int(rng.integers(3, 6))
    for i in range(cuts):
        row = int((i + 0.5) / cuts * 128)
        crust[row - 3 : row + 3, cols] = (235, 205, 150)
    # The cut ends map to a patch of the texture's bottom-of-loaf columns: plain crust, no score marks.
    ends = (0.02, 0.3, 0.1, 0.7)
    loaf = transform(extrude(outline, length, cap_region=ends), rotation=_TO_MINUS_Y, translation=(0, length / 2, 0))
    return [_part("loaf", loaf, "food", texture=crust)]


@_category("cheese_wedge", "cheese wedge", "food", 1)
def cheese_wedge(rng: np.random.Generator) -> list[Part]:
    """Wedge of holey cheese 8-12 cm long, 4-6 cm tall, cut at 25-45 degrees."""
    radius, angle, h = _u(rng, 0.08, 0.12), np.radians(_u(rng, 25, 45)), _u(rng, 0.04, 0.06)
    arc = np.linspace(-angle / 2, angle / 2, 8)
    outline = np.concatenate([[(0.0, 0.0)], np.stack([radius * np.cos(arc), radius * np.sin(arc)], axis=1)])
    outline -= outline.mean(axis=0)
    colour = np.array((245, 200, 80)) * _u(rng, 0.9, 1.05)
    texture = tx.polka_dots(rng, colour, colour * 0.75)
    wedge = transform(extrude(outline, h), axis_rotation("z", _u(rng, 0, 2 * np.pi)))
    return [_part("wedge", wedge, "food", texture=texture)]


# ------------------------------------------------------------------------------------------- books and boxes


def _printed_box(
    name: str,
    size: Sequence[float],
    faces: dict[str, np.ndarray],
    finish: str,
    fallback: ArrayLike = (200, 200, 200),
    z0: float = 0.0,
) -> Part:
    """A box part whose faces show the given images (missing faces take ``fallback``)."""
    mesh = transform(box(size, uv_layout="atlas"), translation=(0.0, 0.0, z0))
    return _part(name, mesh, finish, texture=tx.box_atlas(faces, fallback))


@_category("book", "book", "books_and_boxes", 1)
def book(rng: np.random.Generator) -> list[Part]:
    """Hardback lying flat, 15-25 cm long, 1.5-5 cm thick: cover on top, spine on -x, page edges elsewhere."""
    size = (_u(rng, 0.11, 0.17), _u(rng, 0.15, 0.25), _u(rng, 0.015, 0.05))
    cover, accent = tx.pick(rng, "dark" if rng.random() < 0.5 else "bright"), tx.pick(rng, "light")
    pages = tx.page_edges(rng)
    faces = {
        "+z": tx.book_cover(rng, cover, accent),
        "-x": tx.book_spine(rng, cover, accent),
        "-z": tx.text_panel(rng, cover, accent),
        "+x": pages,
        "+y": pages,
        "-y": pages,
    }
    return [_printed_box("book", size, faces, "paper")]


@_category("cereal_box", "cereal box", "books_and_boxes", 1)
def cereal_box(rng: np.random.Generator) -> list[Part]:
    """Upright cereal box 26-31 cm tall, 19-23 cm wide, 6-8 cm deep; printed front (-y), nutrition panels."""
    size = (_u(rng, 0.19, 0.23), _u(rng, 0.06, 0.08), _u(rng, 0.26, 0.31))
    background, accent = tx.pick(rng, "bright", 2)
    panel = tx.text_panel(rng, tx.pick(rng, "light"))
    faces = {"-y": tx.package_front(rng, background, accent), "+y": panel, "+x": panel, "-x": panel}
    return [_printed_box("box", size, faces, "paper", background)]


@_category("tissue_box", "tissue box", "books_and_boxes", 1)
def tissue_box(rng: np.random.Generator) -> list[Part]:
    """Tissue box (cube 11-12.5 cm or long 22-25 cm), patterned, brand logo on the front, a tissue popping out."""
    if rng.random() < 0.5:
        side = _u(rng, 0.11, 0.125)
        size = (side, side, side * _u(rng, 1.0, 1.15))
    else:
        size = (_u(rng, 0.22, 0.25), _u(rng, 0.115, 0.125), _u(rng, 0.08, 0.1))
    pattern = _surface_texture(rng, (128, 128))
    top = pattern.copy()
    y, x = np.mgrid[0:128, 0:128] / 128.0
    top[((y - 0.5) / 0.12) ** 2 + ((x - 0.5) / 0.35) ** 2 < 1.0] = (40, 40, 45)  # the dispenser slot
    faces = {
        "+z": top,
        "-y": tx.motif(rng, pattern, tx.pick(rng, "dark"), (128, 128)),
        "+y": pattern,
        "+x": pattern,
        "-x": pattern,
        "-z": pattern,
    }
    tissue = transform(
        ellipsoid((0.035, 0.006, 0.03), 16, 10), axis_rotation("z", _u(rng, -0.3, 0.3)), (0.0, 0.0, size[2] + 0.005)
    )
    return [_printed_box("box", size, faces, "paper"), _part("tissue", tissue, "fabric", (250, 250, 250))]


@_category("shoebox", "shoebox", "books_and_boxes", 1)
def shoebox(rng: np.random.Generator) -> list[Part]:
    """Shoebox 30-34 x 18-21 x 10-13 cm with a separate lid; brand print on the lid."""
    sx, sy, sz = _u(rng, 0.3, 0.33), _u(rng, 0.18, 0.21), _u(rng, 0.1, 0.13)
    lid_h = _u(rng, 0.03, 0.04)
    if rng.random() < 0.5:
        colour, base_texture = (181, 140, 94), tx.cardboard(rng)
    else:
        colour = tx.pick(rng, "bright")
        base_texture = np.broadcast_to(np.asarray(colour, dtype=np.uint8), (8, 8, 3)).copy()
    lid_faces = {"+z": tx.package_front(rng, colour, tx.pick(rng, "dark"))}
    return [
        _part("base", box((sx, sy, sz - 0.005)), "paper", texture=base_texture),
        _printed_box("lid", (sx + 0.004, sy + 0.004, lid_h), lid_faces, "paper", colour, z0=sz - lid_h),
    ]


@_category("gift_box", "gift box", "books_and_boxes", 1)
def gift_box(rng: np.random.Generator) -> list[Part]:
    """Wrapped present 10-25 cm wide: patterned paper, crossed ribbon, a bow and a gift tag at one corner."""
    sx, sy, sz = _u(rng, 0.1, 0.25), _u(rng, 0.1, 0.25), _u(rng, 0.06, 0.15)
    ribbon_colour = tx.pick(rng, "bright")
    width = _u(rng, 0.012, 0.025)
    ribbons = merge([box((sx + 0.002, width, sz + 0.002)), box((width, sy + 0.002, sz + 0.002))])
    loops = [
        transform(ellipsoid((0.025, 0.01, 0.015), 16, 8), axis_rotation("y", s * 0.5), (s * 0.02, 0, sz + 0.01))
        for s in (-1.0, 1.0)
    ]
    tag = transform(
        box((0.04, 0.025, 0.002)), axis_rotation("z", _u(rng, -0.6, 0.6)), (sx / 2 - 0.03, -sy / 2 + 0.025, sz)
    )
    return [
        _part("box", box((sx, sy, sz)), "paper", texture=_surface_texture(rng, (128, 128))),
        _part("ribbon", ribbons, "fabric", ribbon_colour),
        _part("bow", merge(loops), "fabric", ribbon_colour),
        _part("tag", tag, "paper", (235, 225, 200)),
    ]


@_category("milk_carton", "milk carton", "books_and_boxes", 1)
def milk_carton(rng: np.random.Generator) -> list[Part]:
    """Gable-top carton 20-25 cm tall, 7-9.5 cm square; printed front (-y), screw cap on the -x slope."""
    s, h, gable = _u(rng, 0.07, 0.095), _u(rng, 0.16, 0.2), _u(rng, 0.025, 0.035)
    accent = tx.pick(rng, "bright")
    label = tx.printed_label(rng, (250, 250, 250), accent, (128, 128))
    panel = tx.text_panel(rng, (250, 250, 250))
    faces = {
        "-y": tx.package_front(rng, (250, 250, 250), accent, ink=(30, 30, 30)),
        "+y": panel,
        "+x": label,
        "-x": label,
    }
    roof = extrude([(-s / 2, h), (s / 2, h), (0.0, h + gable)], s)
    roof = transform(roof, rotation=_TO_MINUS_Y, translation=(0.0, s / 2, 0.0))
    fin = box((0.006, s, 0.015))
    fin = transform(fin, translation=(0.0, 0.0, h + gable - 0.004))
    normal_angle = np.arctan2(-gable, s / 2)
    cap = transform(
        _cylinder(0.011, 0.012, 0.0, 20),
        axis_rotation("y", normal_angle),
        (-s / 4 + 0.001 * np.sin(normal_angle), 0.0, h + gable / 2),
    )
    return [
        _printed_box("body", (s, s, h), faces, "paper", (250, 250, 250)),
        _part("roof", merge([roof, fin]), "paper", accent),
        _part("cap", cap, "plastic", tx.pick(rng, "bright")),
    ]


@_category("pizza_box", "pizza box", "books_and_boxes", 1)
def pizza_box(rng: np.random.Generator) -> list[Part]:
    """Flat square cardboard pizza box 30-34 cm wide, 3.5-5 cm tall, with a printed logo and slogan on the lid."""
    side, h = _u(rng, 0.3, 0.34), _u(rng, 0.035, 0.05)
    card = tx.cardboard(rng)
    ink = tx.pick(rng, "bright")
    lid = tx.motif(rng, card, ink, (128, 128))
    tx.text_block(rng, lid, (0.82, 0.2, 0.9, 0.8), ink, 1)
    return [_printed_box("box", (side, side, h), {"+z": lid}, "paper", (181, 140, 94))]


# ------------------------------------------------------------------------------------------- bottles and cans


@_category("glass_bottle", "glass bottle", "bottles_and_cans", 1)
def glass_bottle(rng: np.random.Generator) -> list[Part]:
    """Tinted glass bottle 22-32 cm tall: body, rounded shoulder, long neck with a lip, printed label, cap."""
    r, body_h = _u(rng, 0.03, 0.04), _u(rng, 0.13, 0.19)
    neck_r, neck_h = _u(rng, 0.011, 0.014), _u(rng, 0.06, 0.09)
    shoulder_h = _u(rng, 0.03, 0.05)
    t = np.linspace(0.0, 1.0, 8)
    shoulder = np.stack([neck_r + (r - neck_r) * np.cos(t * np.pi / 2), body_h + shoulder_h * t], axis=1)
    top = body_h + shoulder_h + neck_h
    profile = np.concatenate(
        [
            [(r - 0.003, 0.0), (r, 0.004)],
            shoulder,
            [(neck_r, top - 0.006), (neck_r + 0.002, top - 0.004), (neck_r + 0.002, top), (0.0, top)],
        ]
    )
    label = tx.printed_label(rng, tx.pick(rng, "light"), tx.pick(rng, "bright"))
    parts = [
        _part("bottle", revolve(profile, 40), "glass", tx.pick(rng, "glass")),
        _part("label", _label_band(r, r, 0.2 * body_h, 0.8 * body_h), "paper", texture=label),
    ]
    if rng.random() < 0.7:
        parts.append(_part("cap", _cylinder(neck_r + 0.003, 0.012, top - 0.01, 20), "metal", tx.pick(rng, "metal")))
    return parts


@_category("water_bottle", "water bottle", "bottles_and_cans", 1)
def water_bottle(rng: np.random.Generator) -> list[Part]:
    """Plastic water bottle 20-26 cm tall with grip ridges, a coloured screw cap and a wrap label."""
    r, h = _u(rng, 0.03, 0.035), _u(rng, 0.17, 0.22)
    z = np.linspace(0.01, 0.7 * h, 15)
    ridges = r - 0.0025 * (np.arange(len(z)) % 2)  # alternating grooves, like a crushable PET bottle
    shoulder = np.stack(
        [0.014 + (r - 0.014) * np.cos(np.linspace(0, np.pi / 2, 6)), np.linspace(0.7 * h, h, 6)], axis=1
    )
    profile = np.concatenate([[(r - 0.005, 0.0)], np.stack([ridges, z], axis=1), shoulder[1:], [(0.0, h)]])
    tint = np.array((200, 225, 240)) * _u(rng, 0.85, 1.0)
    label = tx.printed_label(rng, (250, 250, 250), tx.pick(rng, "bright"))
    return [
        _part("bottle", revolve(profile, 40), "glass", tint),
        _part("label", _label_band(r, r, 0.35 * h, 0.6 * h), "paper", texture=label),
        _part("cap", _cylinder(0.016, 0.02, h - 0.004, 24), "plastic", tx.pick(rng, "bright")),
    ]


@_category("soda_can", "soda can", "bottles_and_cans", 1)
def soda_can(rng: np.random.Generator) -> list[Part]:
    """Aluminium drink can 11.5-12.2 cm tall, 6.6 cm wide, printed all round with a logo, ring-pull off centre."""
    r, h = 0.033, _u(rng, 0.115, 0.122)
    profile = [(0.8 * r, 0.0), (r, 0.01), (r, h - 0.012), (0.85 * r, h - 0.002), (0.84 * r, h), (0.0, h - 0.003)]
    background, accent = tx.pick(rng, "bright", 2)
    label = tx.printed_label(rng, background, accent, ink=(250, 250, 250))
    tab = transform(box((0.012, 0.02, 0.0015)), translation=(0.0, -0.01, h - 0.003))
    return [
        _part("can", revolve(profile, 40), "metal", tx.pick(rng, "metal")),
        _part("print", _label_band(r, r, 0.012, h - 0.014), "metal", texture=label),
        _part("tab", tab, "metal", (200, 200, 205)),
    ]


@_category("jam_jar", "jam jar", "bottles_and_cans", 1)
def jam_jar(rng: np.random.Generator) -> list[Part]:
    """Glass jar of jam 9-12 cm tall: coloured contents, metal or gingham-cloth lid, a paper label."""
    r, h = _u(rng, 0.035, 0.045), _u(rng, 0.08, 0.1)
    profile = [(r - 0.004, 0.0), (r, 0.005), (r, 0.82 * h), (0.85 * r, 0.9 * h), (0.85 * r, h), (0.0, h)]
    jam = np.array([(120, 20, 40), (200, 110, 20), (70, 20, 70), (180, 40, 30)][int(rng.integers(4))])
    lid_profile = [(0.88 * r, 0.92 * h), (0.88 * r, h + 0.012), (0.0, h + 0.014)]
    if rng.random() < 0.5:
        lid = _part("lid", revolve(lid_profile, 40), "metal", tx.pick(rng, "metal"))
    else:
        cloth = tx.checker(rng, (245, 245, 245), tx.pick(rng, "bright"))
        lid = _part("lid", revolve(lid_profile, 40), "fabric", texture=cloth)
    label = tx.printed_label(rng, tx.pick(rng, "light"), tx.pick(rng, "bright"))
    return [
        _part("jar", revolve(profile, 40), "glass", jam),
        _part("label", _label_band(r, r, 0.2 * h, 0.65 * h), "paper", texture=label),
        lid,
    ]


@_category("spray_bottle", "spray bottle", "bottles_and_cans", 1)
def spray_bottle(rng: np.random.Generator) -> list[Part]:
    """Trigger spray bottle 22-28 cm tall: round body with label, a pump head whose nozzle points to -x."""
    r, h = _u(rng, 0.035, 0.042), _u(rng, 0.14, 0.18)
    neck = h + 0.03
    t = np.linspace(0.0, 1.0, 6)
    shoulder = np.stack([0.015 + (r - 0.015) * np.cos(t * np.pi / 2), h + 0.025 * t], axis=1)
    body = revolve(np.concatenate([[(r - 0.004, 0.0), (r, 0.005)], shoulder, [(0.015, neck), (0.0, neck)]]), 40)
    head_outline = [
        (-0.02, 0.0),
        (0.022, 0.0),
        (0.025, 0.035),
        (0.012, 0.055),
        (-0.055, 0.055),
        (-0.062, 0.045),
        (-0.062, 0.035),
        (-0.02, 0.03),
    ]
    width = 0.026
    head = transform(extrude(head_outline, width), rotation=_TO_MINUS_Y, translation=(0.0, width / 2, neck))
    trigger = transform(box((0.008, 0.014, 0.035)), axis_rotation("y", 0.35), (-0.035, 0.0, neck - 0.015))
    colour = tx.pick(rng, "bright")
    label = tx.printed_label(rng, (250, 250, 250), colour)
    return [
        _part("bottle", body, "plastic", tx.pick(rng, "pastel")),
        _part("label", _label_band(r, r, 0.15 * h, 0.7 * h), "paper", texture=label),
        _part("head", head, "plastic", colour),
        _part("trigger", trigger, "plastic", colour),
    ]


# -------------------------------------------------------------------------------------------------------- toys


def _wheel(radius: float, width: float, x: float, y: float) -> Mesh:
    """A wheel with its axle along y, touching z = 0."""
    tyre = revolve([(radius, -width / 2), (radius, width / 2)], 24)
    return transform(tyre, axis_rotation("x", np.pi / 2), (x, y, radius))


@_category("toy_car", "toy car", "toys", 1)
def toy_car(rng: np.random.Generator) -> list[Part]:
    """Toy car 10-16 cm long facing +x: body with head/tail lights, a cabin set back, four wheels."""
    length, width = _u(rng, 0.1, 0.16), _u(rng, 0.05, 0.07)
    wheel_r, body_h = _u(rng, 0.012, 0.017), _u(rng, 0.02, 0.03)
    colour = tx.pick(rng, "bright")
    front = np.empty((64, 64, 3), dtype=np.uint8)
    front[:] = colour
    rear = front.copy()
    front[16:36, 4:16] = front[16:36, 48:60] = (255, 240, 160)  # headlights
    rear[16:32, 4:18] = rear[16:32, 46:60] = (200, 20, 20)  # tail lights
    z0 = wheel_r * 0.7
    parts = [_printed_box("body", (length, width, body_h), {"+x": front, "-x": rear}, "plastic", colour, z0=z0)]
    cab_len, cab_h = length * _u(rng, 0.4, 0.55), _u(rng, 0.018, 0.026)
    back = -length / 2 + length * 0.1
    cabin_outline = [(back, 0.0), (back + cab_len, 0.0), (back + cab_len * 0.8, cab_h), (back + cab_len * 0.1, cab_h)]
    cabin = extrude(cabin_outline, width * 0.84)
    cabin = transform(cabin, rotation=_TO_MINUS_Y, translation=(0.0, width * 0.42, z0 + body_h))
    parts.append(_part("cabin", cabin, "glass", (60, 80, 110)))
    roof = box((cab_len * 0.72, width * 0.86, 0.003))
    parts.append(
        _part("roof", transform(roof, translation=(back + cab_len * 0.45, 0, z0 + body_h + cab_h)), "plastic", colour)
    )
    wheel_width = 0.01
    for i, (sx, sy) in enumerate(((1, 1), (1, -1), (-1, 1), (-1, -1))):
        wheel = _wheel(wheel_r, wheel_width, sx * length * 0.32, sy * (width / 2 - wheel_width * 0.3))
        parts.append(_part(f"wheel{i}", wheel, "rubber", (25, 25, 25)))
    return parts


@_category("rubber_duck", "rubber duck", "toys", 1)
def rubber_duck(rng: np.random.Generator) -> list[Part]:
    """Bath duck 8-12 cm long facing +x: body, head, orange beak, eyes, perky tail."""
    s = _u(rng, 0.85, 1.25)
    colour = (250, 215, 30) if rng.random() < 0.75 else tx.pick(rng, "bright")
    body = _flatten_bottom(ellipsoid((0.045 * s, 0.034 * s, 0.028 * s), z_min=-0.8), 0.004 * s)
    body = transform(body, translation=(0, 0, 0.022 * s))
    tail = transform(
        ellipsoid((0.015 * s, 0.014 * s, 0.01 * s), 16, 8), axis_rotation("y", 0.6), (-0.038 * s, 0, 0.04 * s)
    )
    head = transform(ellipsoid((0.022 * s, 0.021 * s, 0.021 * s), 24, 12), translation=(0.022 * s, 0, 0.066 * s))
    beak = transform(ellipsoid((0.014 * s, 0.01 * s, 0.005 * s), 16, 8), translation=(0.042 * s, 0, 0.062 * s))
    eyes = merge(
        [
            transform(ellipsoid((0.0035 * s,) * 3, 10, 6), translation=(0.036 * s, y * 0.011 * s, 0.073 * s))
            for y in (-1, 1)
        ]
    )
    return [
        _part("body", merge([body, tail]), "rubber", colour),
        _part("head", head, "rubber", colour),
        _part("beak", beak, "rubber", (245, 120, 20)),
        _part("eyes", eyes, "plastic", (15, 15, 15)),
    ]


@_category("toy_block", "toy block", "toys", 1)
def toy_block(rng: np.random.Generator) -> list[Part]:
    """Wooden alphabet block, a 4-6 cm cube with a different coloured letter on every face."""
    side = _u(rng, 0.04, 0.06)
    letters = rng.choice(tx.letters(), size=6, replace=False)
    colours = tx.PALETTES["bright"][rng.choice(len(tx.PALETTES["bright"]), size=6)]
    faces = {
        face: tx.glyph_face(str(letter), tx.pick(rng, "light"), colour)
        for face, letter, colour in zip(("+x", "-x", "+y", "-y", "+z", "-z"), letters, colours, strict=True)
    }
    return [_printed_box("block", (side, side, side), faces, "wood")]


@_category("dice", "dice", "toys", 1)
def dice(rng: np.random.Generator) -> list[Part]:
    """A large die, 2-3 cm cube; opposite faces sum to seven, random orientation."""
    side = _u(rng, 0.02, 0.03)
    pairs = [(1, 6), (2, 5), (3, 4)]
    order = rng.permutation(3)
    body, pip = [((250, 250, 250), (20, 20, 20)), ((200, 30, 30), (250, 250, 250)), ((20, 20, 20), (250, 250, 250))][
        int(rng.integers(3))
    ]
    faces = {}
    for axis, pair_index in zip("xyz", order, strict=True):
        low, high = pairs[pair_index] if rng.random() < 0.5 else pairs[pair_index][::-1]
        faces[f"+{axis}"] = tx.dice_face(low, body, pip)
        faces[f"-{axis}"] = tx.dice_face(high, body, pip)
    return [_printed_box("die", (side, side, side), faces, "plastic")]


@_category("teddy_bear", "teddy bear", "toys", 1)
def teddy_bear(rng: np.random.Generator) -> list[Part]:
    """Sitting plush bear 15-24 cm tall facing -y: body, head, ears, snout, arms, legs stretched forward."""
    s = _u(rng, 0.75, 1.15)
    fur = np.array([(150, 100, 60), (200, 160, 110), (235, 225, 210), (120, 75, 45)][int(rng.integers(4))])
    plush = tx.woven_fabric(rng, fur, fur * 0.85)

    def blob(radii: tuple[float, float, float], centre: tuple[float, float, float], tilt: float = 0.0) -> Mesh:
        mesh = ellipsoid(np.array(radii) * s, 24, 12)
        return transform(mesh, axis_rotation("x", tilt), np.array(centre) * s)

    # Sunk so that, once flattened, the seat is level with the bottom of the legs: the bear sits on both.
    body = _flatten_bottom(blob((0.055, 0.045, 0.065), (0, 0, 0.057)), 0.008 * s)
    return [
        _part("body", body, "fabric", texture=plush),
        _part("head", blob((0.045, 0.042, 0.042), (0, -0.005, 0.16)), "fabric", texture=plush),
        _part(
            "ears",
            merge([blob((0.017, 0.008, 0.017), (x, 0, 0.198)) for x in (-0.034, 0.034)]),
            "fabric",
            texture=plush,
        ),
        _part("snout", blob((0.02, 0.016, 0.014), (0, -0.043, 0.15)), "fabric", fur * 0.6 + 100),
        _part(
            "face",
            merge(
                [
                    blob((0.006, 0.004, 0.005), (0, -0.059, 0.155)),
                    blob((0.005, 0.004, 0.005), (-0.016, -0.038, 0.177)),
                    blob((0.005, 0.004, 0.005), (0.016, -0.038, 0.177)),
                ]
            ),
            "plastic",
            (20, 15, 10),
        ),
        _part("arm_left", blob((0.018, 0.018, 0.045), (-0.055, -0.012, 0.082), 0.4), "fabric", texture=plush),
        _part("arm_right", blob((0.018, 0.018, 0.045), (0.055, -0.012, 0.082), 0.4), "fabric", texture=plush),
        _part("leg_left", blob((0.022, 0.042, 0.022), (-0.03, -0.045, 0.022)), "fabric", texture=plush),
        _part("leg_right", blob((0.022, 0.042, 0.022), (0.03, -0.045, 0.022)), "fabric", texture=plush),
    ]


# ------------------------------------------------------------------------------------------------------- decor


@_category("vase", "vase", "decor", 1)
def vase(rng: np.random.Generator) -> list[Part]:
    """Flower vase 15-30 cm tall: foot, bulging body, neck and flared lip; glazed pattern with a painted flower
    on the front."""
    h, bulge = _u(rng, 0.15, 0.3), _u(rng, 0.05, 0.08)
    neck, lip = bulge * _u(rng, 0.35, 0.6), bulge * _u(rng, 0.5, 0.8)
    z = np.linspace(0.0, 1.0, 16)
    widest = _u(rng, 0.3, 0.5)
    radius = np.interp(z, [0.0, 0.02, widest, 0.8, 1.0], [bulge * 0.55, bulge * 0.6, bulge, neck, lip])
    outer = np.stack([radius, z * h], axis=1)
    glaze = _surface_texture(rng) if rng.random() < 0.6 else tx.marble(rng, tx.pick(rng, "light"), tx.pick(rng, "dark"))
    texture = tx.motif(rng, glaze, tx.pick(rng, "bright"))
    body = transform(_vessel(outer, 0.005, 0.75 * h), rotation=_FRONT)
    return [_part("body", body, "ceramic", texture=texture)]


@_category("candle", "candle", "decor", 0)
def candle(rng: np.random.Generator) -> list[Part]:
    """Plain pillar candle 7-15 cm tall, 6-9 cm wide, with a melted dip and a centred wick (round-symmetric)."""
    r, h = _u(rng, 0.03, 0.045), _u(rng, 0.07, 0.15)
    profile = [(r, 0.0), (r, h), (r - 0.004, h), (0.7 * r, h - 0.006), (0.0, h - 0.008)]
    wick = _cylinder(0.0012, 0.014, h - 0.009, 8)
    return [
        _part("wax", revolve(profile, 48), "wax", tx.pick(rng, "light" if rng.random() < 0.5 else "pastel")),
        _part("wick", wick, "fabric", (30, 25, 20)),
    ]


@_category("picture_frame", "picture frame", "decor", 1)
def picture_frame(rng: np.random.Generator) -> list[Part]:
    """Photo frame 10-25 cm, leaning back on a rear leg; the photo faces -y."""
    w, h, d = _u(rng, 0.13, 0.2), _u(rng, 0.1, 0.25), _u(rng, 0.012, 0.02)
    colour = tx.pick(rng, "dark" if rng.random() < 0.5 else "earth")
    front = np.empty((128, 128, 3), dtype=np.uint8)
    front[:] = colour
    photo = tx.photo(rng)
    ys = np.arange(100) * photo.shape[0] // 100
    xs = np.arange(100) * photo.shape[1] // 100
    front[14:114, 14:114] = photo[ys][:, xs]
    tilt = axis_rotation("x", -np.radians(_u(rng, 10, 16)))  # lean back (top towards +y)
    frame = transform(box((w, d, h), uv_layout="atlas"), tilt)
    attach = tilt @ np.array([0.0, d / 2, 0.62 * h])
    foot = attach + np.array([0.0, 0.45 * attach[2], -attach[2]])
    leg_v, leg_f, leg_uv = tube_along([attach, foot], 0.004, sides=8)
    # Drop the leg so its foot is level with the frame's bottom edge: the frame stands on edge + foot.
    leg_v = leg_v + np.array([0.0, 0.0, frame[0][:, 2].min() - leg_v[:, 2].min()])
    return [
        _part("frame", frame, "wood", texture=tx.box_atlas({"-y": front}, colour)),
        _part("leg", (leg_v, leg_f, leg_uv), "wood", colour),
    ]


@_category("potted_cactus", "potted cactus", "decor", 1)
def potted_cactus(rng: np.random.Generator) -> list[Part]:
    """Cactus in a pot, 14-30 cm tall: tapered pot with soil, ribbed column and one or two side arms."""
    pot_r, pot_h = _u(rng, 0.04, 0.055), _u(rng, 0.06, 0.09)
    pot = _vessel(
        [(pot_r * 0.75, 0.0), (pot_r, pot_h), (pot_r + 0.004, pot_h), (pot_r + 0.004, pot_h + 0.012)], 0.005, 0.01
    )
    pot_colour = (190, 100, 60) if rng.random() < 0.5 else tx.pick(rng, "pastel")
    soil = _cylinder(pot_r - 0.002, 0.004, pot_h - 0.006, 32)
    green = np.array((60, 130, 60)) * _u(rng, 0.8, 1.1)
    skin = tx.stripes(rng, [green, green * 0.7], (64, 128), vertical=True)
    cr, ch = _u(rng, 0.018, 0.028), _u(rng, 0.06, 0.16)
    column = transform(ellipsoid((cr, cr, ch), 24, 16, z_min=-0.2), translation=(0, 0, pot_h - 0.004 + 0.2 * ch))
    parts = [
        _part("pot", pot, "ceramic", pot_colour),
        _part("soil", soil, "food", (70, 50, 35)),
        _part("column", column, "food", texture=skin),
    ]
    side = _u(rng, 0, 2 * np.pi)
    for i in range(int(rng.integers(1, 3))):
        out = cr + _u(rng, 0.015, 0.025)
        z0 = pot_h + ch * _u(rng, 0.3, 0.6)
        path = [(0.0, 0, z0), (out * 0.7, 0, z0), (out, 0, z0 + 0.01), (out, 0, z0 + _u(rng, 0.025, 0.045))]
        arm = transform(tube_along(path, cr * 0.45, sides=12), axis_rotation("z", side + i * np.pi))
        parts.append(_part(f"arm{i}", arm, "food", texture=skin))
    return parts


@_category("alarm_clock", "alarm clock", "decor", 1)
def alarm_clock(rng: np.random.Generator) -> list[Part]:
    """Twin-bell alarm clock 11-16 cm tall on two feet, dial facing -y."""
    r, depth, foot_h = _u(rng, 0.045, 0.06), _u(rng, 0.04, 0.055), 0.01
    colour = tx.pick(rng, "bright" if rng.random() < 0.6 else "metal")
    centre = (0.0, depth / 2, r + foot_h)
    body = transform(extrude(_circle(r), depth), rotation=_TO_MINUS_Y, translation=centre)
    dial = tx.clock_face(rng, (250, 248, 240), (20, 20, 20))
    face = transform(extrude(_circle(r * 0.86), 0.002), rotation=_TO_MINUS_Y, translation=(0.0, -depth / 2, r + foot_h))
    bells = merge(
        [
            transform(
                ellipsoid((0.022, 0.022, 0.022), 20, 10, z_min=0.0),
                axis_rotation("y", sx * 0.6),
                (sx * r * 0.6, 0, 2 * r + foot_h - 0.01),
            )
            for sx in (-1, 1)
        ]
    )
    feet = merge(
        [transform(box((0.014, depth * 0.8, foot_h + 0.004)), translation=(sx * r * 0.6, 0, 0)) for sx in (-1, 1)]
    )
    return [
        _part("body", body, "metal", colour),
        _part("face", face, "plastic", texture=dial),
        _part("bells", bells, "metal", tx.pick(rng, "metal")),
        _part("feet", feet, "metal", (40, 40, 40)),
    ]


@_category("desk_lamp", "desk lamp", "decor", 1)
def desk_lamp(rng: np.random.Generator) -> list[Part]:
    """Articulated desk lamp 30-40 cm tall: heavy round base, two arm segments, a cone shade aimed down to -x."""
    base_r = _u(rng, 0.065, 0.08)
    colour = tx.pick(rng, "bright" if rng.random() < 0.5 else "dark")
    base = revolve([(base_r, 0.0), (base_r, 0.02), (base_r * 0.85, 0.028), (0.0, 0.03)], 48)
    elbow = np.array([_u(rng, 0.02, 0.05), 0.0, _u(rng, 0.22, 0.28)])
    head = np.array([-_u(rng, 0.03, 0.06), 0.0, elbow[2] + _u(rng, 0.03, 0.08)])
    arms = merge([tube_along([(0.0, 0.0, 0.025), elbow], 0.006, sides=10), tube_along([elbow, head], 0.006, sides=10)])
    shade_texture = np.empty((64, 64, 3), dtype=np.uint8)
    shade_texture[:] = colour
    shade_texture[-6:] = (255, 245, 200)  # the lit mouth (the bottom cap takes the last row)
    shade = revolve([(0.05, -0.07), (0.045, -0.05), (0.015, -0.005), (0.0, 0.0)], 32)
    shade = transform(shade, axis_rotation("y", -0.5), head)
    return [
        _part("base", base, "metal", colour),
        _part("arms", arms, "metal", tx.pick(rng, "metal")),
        _part("shade", shade, "metal", texture=shade_texture),
    ]


# ------------------------------------------------------------------------------------------------- electronics


@_category("smartphone", "smartphone", "electronics", 1)
def smartphone(rng: np.random.Generator) -> list[Part]:
    """Phone lying screen-up, 14-16 x 6.8-7.8 x 0.75-0.9 cm; the home screen reads upright towards +y."""
    w, length, t = _u(rng, 0.068, 0.078), _u(rng, 0.14, 0.16), _u(rng, 0.0075, 0.009)
    body = extrude(_rounded_rect(w, length, 0.009), t, z0=0.0)
    screen = extrude(_rounded_rect(w - 0.004, length - 0.004, 0.007), 0.0006, z0=t - 0.0003)
    return [
        _part("body", body, "metal", tx.pick(rng, "dark" if rng.random() < 0.6 else "metal")),
        _part("screen", screen, "glass", texture=tx.screen(rng)),
    ]


@_category("laptop", "laptop", "electronics", 1)
def laptop(rng: np.random.Generator) -> list[Part]:
    """Closed laptop 30-34 x 21-24 cm, 1.6-2 cm thick: base, lid with a logo, hinge along the back (+y)."""
    sx, sy = _u(rng, 0.3, 0.34), _u(rng, 0.21, 0.24)
    base_t, lid_t = _u(rng, 0.008, 0.01), _u(rng, 0.007, 0.009)
    colour = tx.pick(rng, "metal" if rng.random() < 0.6 else "dark")
    outline = _rounded_rect(sx, sy, 0.012)
    hinge = tube_along([(-sx * 0.4, sy / 2 - 0.004, base_t), (sx * 0.4, sy / 2 - 0.004, base_t)], 0.005, sides=12)
    return [
        _part("base", extrude(outline, base_t, z0=0.0), "metal", colour),
        _part("lid", extrude(outline, lid_t, z0=base_t + 0.0005), "metal", np.asarray(colour) * 0.92),
        _part(
            "logo", extrude(_circle(0.013, 24), 0.0006, z0=base_t + lid_t + 0.0003), "plastic", tx.pick(rng, "light")
        ),
        _part("hinge", hinge, "metal", (40, 40, 45)),
    ]


@_category("tv_remote", "TV remote", "electronics", 1)
def tv_remote(rng: np.random.Generator) -> list[Part]:
    """TV remote lying flat, 17-21 cm long (along y, power key towards +y), 2-2.4 cm thick."""
    w, length, t = _u(rng, 0.045, 0.055), _u(rng, 0.17, 0.21), _u(rng, 0.02, 0.024)
    body_colour = tx.pick(rng, "dark")
    keys = tx.keypad(rng, body_colour, tx.pick(rng, "metal"))
    return [
        _part("body", extrude(_rounded_rect(w, length, 0.014), t, z0=0.0), "plastic", body_colour),
        _part(
            "keys",
            extrude(_rounded_rect(w - 0.006, length - 0.01, 0.01), 0.0008, z0=t - 0.0003),
            "plastic",
            texture=keys,
        ),
    ]


@_category("computer_mouse", "computer mouse", "electronics", 1)
def computer_mouse(rng: np.random.Generator) -> list[Part]:
    """Computer mouse 10-12 cm long pointing -y, 3.5-4 cm tall: domed shell narrower at the front, button split,
    scroll wheel."""
    rx, ry, rz = _u(rng, 0.029, 0.034), _u(rng, 0.05, 0.06), _u(rng, 0.035, 0.04)
    colour = tx.pick(rng, "dark" if rng.random() < 0.6 else "light")
    shell_texture = np.empty((64, 128, 3), dtype=np.uint8)
    shell_texture[:] = colour
    shell_texture[24:, 94:97] = np.asarray(colour) * 0.4 + 20  # the button split runs over the front (u = 0.75)
    vertices, faces, uv = ellipsoid((rx, ry, rz), 40, 16, z_min=0.0)
    vertices = vertices * np.stack(
        [1.0 + 0.12 * vertices[:, 1] / ry, np.ones(len(vertices)), np.ones(len(vertices))], axis=1
    )  # narrower at the front (-y)
    wheel = revolve([(0.007, -0.003), (0.007, 0.003)], 20)
    wheel_y = -0.45 * ry
    wheel = transform(wheel, axis_rotation("y", np.pi / 2), (0.0, wheel_y, rz * np.sqrt(1 - 0.45**2) - 0.002))
    return [
        _part("shell", (vertices, faces, uv), "plastic", texture=shell_texture),
        _part("wheel", wheel, "rubber", (50, 50, 55)),
    ]


@_category("speaker", "speaker", "electronics", 1)
def speaker(rng: np.random.Generator) -> list[Part]:
    """Bookshelf / Bluetooth speaker 12-20 cm tall: rounded cabinet, perforated grille on the front, status light."""
    sx, sy, h = _u(rng, 0.1, 0.16), _u(rng, 0.07, 0.1), _u(rng, 0.12, 0.2)
    colour = tx.pick(rng, "dark" if rng.random() < 0.6 else "earth")
    grille_texture = tx.polka_dots(rng, (150, 150, 155), (30, 30, 30))
    grille = transform(box((sx * 0.8, 0.003, h * 0.65)), translation=(0.0, -sy / 2, h * 0.25))
    light = transform(box((0.012, 0.003, 0.004)), translation=(sx * 0.25, -sy / 2, h * 0.1))
    return [
        _part("cabinet", extrude(_rounded_rect(sx, sy, 0.015), h, z0=0.0), "wood", colour),
        _part("grille", grille, "fabric", texture=grille_texture),
        _part("light", light, "plastic", (80, 220, 255)),
    ]


@_category("headphones", "headphones", "electronics", 1)
def headphones(rng: np.random.Generator) -> list[Part]:
    """Over-ear headphones lying flat: two cups on ear cushions, the headband curving out towards +y."""
    d, cup_r = _u(rng, 0.07, 0.085), _u(rng, 0.035, 0.045)
    cup_h, band_r = _u(rng, 0.022, 0.03), _u(rng, 0.007, 0.009)
    colour, accent = tx.pick(rng, "dark"), tx.pick(rng, "bright" if rng.random() < 0.5 else "metal")
    cushion_r = 0.008
    parts = []
    for i, sx in enumerate((-1, 1)):
        cushion = transform(torus(cup_r * 0.75, cushion_r, 32, 10), translation=(sx * d, 0.0, cushion_r))
        shell = revolve(
            [(cup_r * 0.95, 0.0), (cup_r, 0.004), (cup_r, cup_h * 0.6), (cup_r * 0.75, cup_h), (0.0, cup_h)], 40
        )
        shell = transform(shell, translation=(sx * d, 0.0, cushion_r))
        parts += [_part(f"cushion{i}", cushion, "fabric", (35, 35, 35)), _part(f"cup{i}", shell, "plastic", colour)]
    t = np.linspace(np.pi, 0.0, 24)
    band_path = np.stack([d * np.cos(t), _u(rng, 0.09, 0.11) * np.sin(t), np.full_like(t, band_r)], axis=1)
    parts.append(_part("band", tube_along(band_path, band_r, sides=12), "plastic", accent))
    return parts


@_category("game_controller", "game controller", "electronics", 1)
def game_controller(rng: np.random.Generator) -> list[Part]:
    """Gamepad lying flat, 15-17 cm wide: body with two grips (towards -y), d-pad left, four buttons right,
    two thumbsticks."""
    s = _u(rng, 0.95, 1.08)
    centre = Point(0.0, 0.0).buffer(1.0, 24)
    shapes = [scale(centre, 0.06 * s, 0.034 * s)]
    for sx in (-1, 1):
        grip = rotate(scale(centre, 0.024 * s, 0.04 * s), sx * 25.0, origin=(0, 0))
        shapes.append(translate(grip, sx * 0.05 * s, -0.024 * s))
    outline = np.asarray(unary_union(shapes).simplify(1e-4).exterior.coords)[:-1]
    t = _u(rng, 0.026, 0.032)
    colour = tx.pick(rng, "dark" if rng.random() < 0.6 else "light")
    button_colours = [(40, 170, 70), (210, 40, 40), (40, 90, 210), (240, 200, 30)]
    buttons = [
        _part(
            f"button{i}",
            extrude(_circle(0.0055 * s, 16) + np.array([bx, by]) * s + np.array([0.038 * s, 0.006 * s]), 0.004, z0=t),
            "plastic",
            button_colours[i],
        )
        for i, (bx, by) in enumerate(((0.0, -0.01), (0.01, 0.0), (-0.01, 0.0), (0.0, 0.01)))
    ]
    dpad = merge(
        [
            extrude(_rounded_rect(a, b, 0.001) + np.array([-0.038 * s, 0.006 * s]), 0.003, z0=t)
            for a, b in ((0.024 * s, 0.008 * s), (0.008 * s, 0.024 * s))
        ]
    )
    sticks = merge(
        [extrude(_circle(0.009 * s, 20) + np.array([sx * 0.018 * s, -0.014 * s]), 0.008, z0=t) for sx in (-1, 1)]
    )
    return [
        _part("body", extrude(outline, t, z0=0.0), "plastic", colour),
        _part("dpad", dpad, "plastic", (30, 30, 30)),
        _part("sticks", sticks, "rubber", (45, 45, 50)),
        *buttons,
    ]
