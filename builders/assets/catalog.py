"""The object catalog: one short ``build(rng) -> list[Part]`` per category, registered on import.

Conventions shared by every builder (so scenes and edits can rely on them):

* metres, z up, real-world sizes sampled from plausible ranges; the object rests on z = 0 (enforced by
  :func:`_category`, which grounds the parts after building);
* the object's "front" (label, logo, face, screen top) faces -y, towards the default camera; handles sit on +x;
  vehicles and animals in profile face +x;
* every part is a closed mesh, roughly convex where the object allows it (MuJoCo collides with each part's
  convex hull), under 3000 vertices;
* ``symmetry_order`` describes geometry *and* texture: 1 unless the whole look is rotation-invariant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike
from shapely.geometry import Polygon
from shapely.ops import unary_union

from builders.assets import textures as tx
from builders.assets.base import Material, Part, register_category
from builders.assets.primitives import (
    Mesh,
    axis_rotation,
    box,
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


def _category(name: str, display_name: str, group: str, symmetry_order: int) -> Callable[[Build], Build]:
    """Registers a builder; the registered build grounds the result (lowest vertex at z = 0)."""

    def decorator(build: Build) -> Build:
        def grounded(rng: np.random.Generator) -> list[Part]:
            parts = build(rng)
            z_min = min(float(part.vertices[:, 2].min()) for part in parts)
            offset = np.array([0.0, 0.0, -z_min])
            return [
                Part(p.name, p.vertices + offset, p.faces, p.uv, p.material)  # parts are frozen: rebuild
                for p in parts
            ]

        grounded.__doc__ = build.__doc__
        grounded.__name__ = build.__name__
        register_category(name, display_name, group, symmetry_order)(grounded)
        return build

    return decorator


# ----------------------------------------------------------------------------------------------- shared helpers


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _rgb(colour: ArrayLike) -> tuple[float, float, float, float]:
    c = np.asarray(colour, dtype=np.float64) / 255.0
    return float(c[0]), float(c[1]), float(c[2]), 1.0


def _part(
    name: str, mesh: Mesh, finish: str, colour: ArrayLike | None = None, texture: np.ndarray | None = None
) -> Part:
    """A Part with a material of the given finish; a texture is shown unmodulated (rgba white)."""
    specular, shininess = _FINISH[finish]
    rgba = (1.0, 1.0, 1.0, 1.0) if texture is not None or colour is None else _rgb(colour)
    material = Material(rgba=rgba, texture=texture, specular=specular, shininess=shininess)
    vertices, faces, uv = mesh
    return Part(name, vertices, faces, uv, material)


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
    """Round teapot 13-17 cm tall with lid and knob, spout on -x and handle on +x."""
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


@_category("bowl", "bowl", "kitchenware", 0)
def bowl(rng: np.random.Generator) -> list[Part]:
    """Round bowl 12-18 cm across, 5-8 cm deep, on a foot ring; plain or with concentric bands (round-symmetric)."""
    r, h = _u(rng, 0.06, 0.09), _u(rng, 0.05, 0.08)
    foot = r * _u(rng, 0.4, 0.5)
    s = np.linspace(0.0, 1.0, 10)
    outer = np.stack([foot + (r - foot) * np.sin(s * np.pi / 2), 0.006 + (h - 0.006) * s**1.3], axis=1)
    outer = np.concatenate([[(foot, 0.0)], outer])
    colour = tx.pick(rng, "light") if rng.random() < 0.6 else tx.pick(rng, "pastel")
    texture = tx.stripes(rng, [colour, tx.pick(rng, "bright")]) if rng.random() < 0.5 else None
    return [_part("body", _vessel(outer, 0.005, 0.012), "ceramic", colour, texture)]


@_category("plate", "plate", "kitchenware", 0)
def plate(rng: np.random.Generator) -> list[Part]:
    """Dinner plate 20-27 cm across, 1.5-2.5 cm tall, with a raised rim; plain or with a coloured rim ring."""
    r, h = _u(rng, 0.1, 0.135), _u(rng, 0.015, 0.025)
    well = r * _u(rng, 0.6, 0.7)
    profile = [(well * 0.8, 0.0), (well * 0.8, 0.004), (r, h), (r - 0.004, h), (well, 0.008), (0.0, 0.008)]
    colour = tx.pick(rng, "light")
    texture = None
    if rng.random() < 0.5:
        texture = np.empty((128, 128, 3), dtype=np.uint8)
        texture[:] = colour
        texture[20:50] = tx.pick(rng, "bright")  # the rim (walked near the middle of the profile)
    return [_part("body", revolve(profile, 64), "ceramic", colour, texture)]


@_category("wine_glass", "wine glass", "kitchenware", 0)
def wine_glass(rng: np.random.Generator) -> list[Part]:
    """Stemmed wine glass 17-22 cm tall in tinted (opaque) glass: foot + stem, and the bowl."""
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


@_category("cutting_board", "cutting board", "kitchenware", 1)
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
    stalk_dir = path[-1] - path[-2]
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
    icing_profile = np.concatenate([arc, [(major + 0.6 * minor, -0.2 * minor), arc[0]]])
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
    a = np.linspace(0.0, np.pi, 14)
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
    loaf = transform(extrude(outline, length), rotation=_TO_MINUS_Y, translation=(0.0, length / 2, 0.0))
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
