"""Movable objects of room scenes, registered in the catalog on import (``_load_catalog`` imports this module).

Room-scale things that stand on the floor (placement ``"floor"``) and small things for furniture tops
(placement ``"surface"``, rooms only, so tabletop scenes keep drawing from the same categories). Conventions
as in :mod:`gsi_datasets.assets.catalog`: metres, z up, front towards -y, closed parts under 3000 vertices, and a
``symmetry_order`` that holds for geometry and texture.
"""

from __future__ import annotations

import numpy as np

from gsi_datasets.assets import textures as tx
from gsi_datasets.assets.base import Part
from gsi_datasets.assets.catalog import (
    _FRONT,
    _c_handle,
    _category,
    _cylinder,
    _part,
    _rounded_rect,
    _u,
    _vessel,
)
from gsi_datasets.assets.primitives import axis_rotation, box, ellipsoid, extrude, merge, revolve, transform, tube_along

# ------------------------------------------------------------------------------------------------------- floor


@_category("potted_plant", "potted plant", "decor", 1, placement="floor")
def potted_plant(rng: np.random.Generator) -> list[Part]:
    """House plant 0.5-1.2 m tall in a floor pot 25-40 cm across: a bushy crown of leaf clusters on a trunk, or a
    fan of long leaves."""
    pot_r, pot_h = _u(rng, 0.12, 0.2), _u(rng, 0.22, 0.38)
    z = np.linspace(0.0, pot_h, 8)
    outer = np.stack([pot_r * (0.78 + 0.22 * z / pot_h), z], axis=1)
    outer = np.concatenate([outer, [(pot_r + 0.008, pot_h), (pot_r + 0.008, pot_h + 0.02)]])
    pot = _vessel(outer, 0.01, 0.03)
    pot_colour = (185, 95, 60) if rng.random() < 0.4 else tx.pick(rng, "light" if rng.random() < 0.5 else "dark")
    soil = _cylinder(pot_r - 0.004, 0.01, pot_h - 0.02, 40)
    green = np.array((55, 125, 55)) * _u(rng, 0.75, 1.15)
    leaves_texture = tx.stripes(rng, [green, green * 0.75], (64, 128), vertical=True)
    height = _u(rng, 0.5, 1.2)
    parts = [_part("pot", pot, "ceramic", pot_colour), _part("soil", soil, "food", (70, 50, 35))]
    if rng.random() < 0.5:  # trunk with a bushy crown
        crown_r = _u(rng, 0.2, 0.3)
        crown_z = height - crown_r
        trunk = tube_along([(0, 0, pot_h - 0.03), (0.01, 0, crown_z)], 0.015, sides=10)
        blobs = []
        for _ in range(int(rng.integers(6, 10))):
            direction = rng.normal(size=3) * np.array([1.0, 1.0, 0.6])
            direction /= np.linalg.norm(direction)
            r = crown_r * _u(rng, 0.45, 0.65)
            centre = np.array([0.0, 0.0, crown_z]) + direction * (crown_r - r)
            blobs.append(transform(ellipsoid((r, r, r * 0.85), 14, 8), translation=centre))
        parts += [
            _part("trunk", trunk, "wood", (95, 70, 45)),
            _part("crown", merge(blobs), "food", texture=leaves_texture),
        ]
    else:  # fan of long leaves from the soil
        leaves = []
        for i in range(int(rng.integers(6, 10))):
            angle = 2 * np.pi * i / 8 + _u(rng, -0.3, 0.3)
            tilt = _u(rng, 0.15, 0.5)
            length = (height - pot_h) * _u(rng, 0.7, 1.0)
            leaf = ellipsoid((_u(rng, 0.04, 0.07), 0.008, length / 2), 12, 8)
            leaf = transform(leaf, translation=(0.0, 0.0, length / 2))
            leaf = transform(leaf, axis_rotation("y", tilt))
            leaf = transform(leaf, axis_rotation("z", angle), (0.0, 0.0, pot_h - 0.02))
            leaves.append(leaf)
        parts.append(_part("leaves", merge(leaves), "food", texture=leaves_texture))
    return parts


@_category("floor_lamp", "floor lamp", "decor", 1, placement="floor")
def floor_lamp(rng: np.random.Generator) -> list[Part]:
    """Floor lamp 1.4-1.8 m tall: heavy round base, pole with an inline switch on the cord side (+x), drum or cone
    shade."""
    height = _u(rng, 1.4, 1.8)
    base_r = _u(rng, 0.14, 0.18)
    colour = tx.pick(rng, "metal" if rng.random() < 0.6 else "dark")
    base = revolve([(base_r, 0.0), (base_r, 0.025), (base_r * 0.8, 0.035), (0.0, 0.04)], 48)
    shade_h = _u(rng, 0.25, 0.35)
    pole = _cylinder(0.012, height - shade_h * 0.5 - 0.03, 0.03, 16)
    r_bottom = _u(rng, 0.18, 0.24)
    r_top = r_bottom * (_u(rng, 0.6, 0.8) if rng.random() < 0.5 else 1.0)
    z0 = height - shade_h
    shade = revolve(
        [(r_bottom, z0), (r_top, height), (r_top - 0.004, height), (r_bottom - 0.004, z0 + 0.002), (r_bottom, z0)],
        48,
        caps=False,
    )
    switch = transform(box((0.03, 0.02, 0.05)), translation=(0.027, 0.0, 0.7))
    shade_colour = tx.pick(rng, "light" if rng.random() < 0.7 else "pastel")
    return [
        _part("base", base, "metal", colour),
        _part("pole", pole, "metal", colour),
        _part("switch", switch, "plastic", (30, 30, 30)),
        _part("shade", shade, "fabric", shade_colour),
    ]


@_category("basket", "basket", "decor", 1, placement="floor")
def basket(rng: np.random.Generator) -> list[Part]:
    """Wicker storage basket 35-50 cm across, 25-40 cm tall, with a leather tag on the front (-y)."""
    r, h = _u(rng, 0.175, 0.25), _u(rng, 0.25, 0.4)
    light = np.array((200, 160, 105)) * _u(rng, 0.8, 1.1)
    weave = tx.woven_fabric(rng, light, light * 0.75)
    z = np.linspace(0.0, h, 8)
    body = _vessel(np.stack([r * (0.85 + 0.15 * z / h), z], axis=1), 0.012, 0.015)
    rim_profile = [(r - 0.014, h - 0.02), (r + 0.01, h - 0.02), (r + 0.01, h), (r - 0.014, h), (r - 0.014, h - 0.02)]
    rim = revolve(rim_profile, 48, caps=False)
    tag = transform(box((0.07, 0.006, 0.05)), translation=(0.0, -(r * 0.96 + 0.003), h * 0.55))
    return [
        _part("body", transform(body, rotation=_FRONT), "fabric", texture=weave),
        _part("rim", rim, "fabric", light * 0.7),
        _part("tag", tag, "fabric", (110, 70, 40)),
    ]


@_category("trash_bin", "trash bin", "decor", 1, placement="floor")
def trash_bin(rng: np.random.Generator) -> list[Part]:
    """Pedal bin 30-65 cm tall, 25-35 cm across: round or rectangular, lid, foot pedal at the front (-y)."""
    h = _u(rng, 0.3, 0.65)
    colour = tx.pick(rng, "metal" if rng.random() < 0.5 else "bright")
    if rng.random() < 0.5:
        r = _u(rng, 0.125, 0.175)
        body = revolve([(r * 0.95, 0.0), (r, h)], 48)
        lid = revolve([(r + 0.004, h), (r + 0.004, h + 0.015), (r * 0.9, h + 0.03), (0.0, h + 0.035)], 48)
        front = r
    else:
        sx, sy = _u(rng, 0.25, 0.35), _u(rng, 0.22, 0.3)
        body = extrude(_rounded_rect(sx, sy, 0.03), h)
        lid = extrude(_rounded_rect(sx + 0.008, sy + 0.008, 0.034), 0.03, z0=h)
        front = sy / 2
    pedal = transform(box((0.1, 0.05, 0.02)), translation=(0.0, -(front + 0.02), 0.01))
    return [
        _part("body", body, "metal", colour),
        _part("lid", lid, "metal", colour if rng.random() < 0.5 else tx.pick(rng, "dark")),
        _part("pedal", pedal, "plastic", (40, 40, 40)),
    ]


# ----------------------------------------------------------------------------------------------------- surface


@_category("table_lamp", "table lamp", "decor", 1, placement="surface")
def table_lamp(rng: np.random.Generator) -> list[Part]:
    """Bedside / table lamp 30-45 cm tall: turned ceramic or metal base, switch on the front (-y), drum shade."""
    height = _u(rng, 0.3, 0.44)
    base_r = _u(rng, 0.05, 0.075)
    base_h = height * _u(rng, 0.45, 0.6)
    z = np.linspace(0.0, 1.0, 10)
    bulge = _u(rng, 0.6, 1.0)
    radius = base_r * (0.55 + 0.45 * bulge * np.sin(np.pi * np.clip(z * 1.1, 0, 1)))
    radius[0] = base_r * 0.8
    base = revolve(np.stack([radius, z * base_h], axis=1), 40)
    stem = _cylinder(0.008, height * 0.2, base_h - 0.005, 12)
    shade_h = height - base_h - 0.05
    r_bottom = _u(rng, 0.1, 0.15)
    r_top = r_bottom * _u(rng, 0.65, 1.0)
    z0 = height - shade_h
    shade = revolve(
        [(r_bottom, z0), (r_top, height), (r_top - 0.003, height), (r_bottom - 0.003, z0 + 0.002), (r_bottom, z0)],
        48,
        caps=False,
    )
    switch = transform(box((0.018, 0.012, 0.012)), translation=(0.0, -(base_r * 0.8 + 0.004), 0.0))
    colour = tx.pick(rng, "bright" if rng.random() < 0.5 else "light")
    return [
        _part("base", base, "ceramic", colour),
        _part("stem", stem, "metal", tx.pick(rng, "metal")),
        _part("shade", shade, "fabric", tx.pick(rng, "light" if rng.random() < 0.7 else "pastel")),
        _part("switch", switch, "plastic", (30, 30, 30)),
    ]


@_category("storage_box", "storage box", "books_and_boxes", 1, placement="surface", receiving_part="lid")
def storage_box(rng: np.random.Generator) -> list[Part]:
    """Fabric storage box 25-35 x 18-28 cm, 15-25 cm tall, with a lid and a label holder on the front (-y)."""
    sx, sy, h = _u(rng, 0.24, 0.33), _u(rng, 0.18, 0.26), _u(rng, 0.15, 0.25)
    colour = tx.pick(rng, "earth" if rng.random() < 0.5 else "pastel")
    cloth = tx.woven_fabric(rng, colour, np.asarray(colour) * 0.8)
    lid_h = 0.03
    body = box((sx, sy, h - lid_h))
    lid = transform(box((sx + 0.008, sy + 0.008, lid_h)), translation=(0.0, 0.0, h - lid_h))
    label = transform(box((0.08, 0.004, 0.045)), translation=(0.0, -sy / 2 - 0.002, (h - lid_h) * 0.5))
    return [
        _part("body", body, "fabric", texture=cloth),
        _part("lid", lid, "fabric", np.asarray(colour) * 0.85),
        _part("label", label, "metal", tx.pick(rng, "metal")),
    ]


@_category("pen_holder", "pen holder", "decor", 1, placement="surface")
def pen_holder(rng: np.random.Generator) -> list[Part]:
    """Desk pen cup 8-11 cm tall, 7-9 cm across, holding three to six pens and pencils leaning at random."""
    r, h = _u(rng, 0.035, 0.045), _u(rng, 0.08, 0.11)
    colour = tx.pick(rng, "dark" if rng.random() < 0.5 else "bright")
    texture = tx.stripes(rng, [colour, tx.pick(rng, "light")]) if rng.random() < 0.4 else None
    cup = _vessel([(r, 0.0), (r, h)], 0.003, 0.006)
    pens = []
    pen_colours = []
    for _ in range(int(rng.integers(3, 7))):
        angle, dist = _u(rng, 0, 2 * np.pi), _u(rng, 0.0, r * 0.55)
        foot = np.array([dist * np.cos(angle), dist * np.sin(angle), 0.007])
        lean = np.array([np.cos(angle), np.sin(angle), 0.0]) * _u(rng, 0.01, 0.025)
        tip = foot + lean + np.array([0.0, 0.0, _u(rng, 0.13, 0.16)])
        pens.append(tube_along([foot, tip], 0.004, sides=8))
        pen_colours.append(tx.pick(rng, "bright"))
    return [
        _part("cup", transform(cup, rotation=_FRONT), "plastic", colour, texture),
        _part("pens", merge(pens), "plastic", pen_colours[0]),
    ]


@_category("hourglass", "hourglass", "decor", 3, placement="surface")
def hourglass(rng: np.random.Generator) -> list[Part]:
    """Hourglass 15-22 cm tall: two round wooden plates joined by three posts around a glass double bulb (looks the
    same after a third of a turn)."""
    h, r = _u(rng, 0.15, 0.22), _u(rng, 0.04, 0.055)
    plate = 0.014
    wood = (np.array((150, 100, 60)) * _u(rng, 0.7, 1.2)).clip(0, 255)
    plates = merge([_cylinder(r, plate, 0.0, 48), _cylinder(r, plate, h - plate, 48)])
    inner = h - 2 * plate
    t = np.linspace(0.0, 1.0, 17)
    bulb_r = (r * 0.62) * (0.12 + 0.88 * np.abs(np.sin(np.pi * t * 2)) ** 0.7)
    bulb_r[8] = 0.006
    bulb_r[0] = bulb_r[-1] = r * 0.45
    bulb = revolve(np.stack([bulb_r, plate + t * inner], axis=1), 32)
    posts = merge(
        [
            transform(_cylinder(0.005, inner, plate, 10), translation=(r * 0.8 * np.cos(a), r * 0.8 * np.sin(a), 0))
            for a in (np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3)
        ]
    )
    sand = revolve(np.stack([bulb_r[:6] * 0.9, plate + 0.001 + t[:6] * inner * 0.95], axis=1)[:5], 32)
    return [
        _part("plates", plates, "wood", wood),
        _part("posts", posts, "wood", wood),
        _part("bulb", bulb, "glass", (200, 225, 230)),
        _part("sand", sand, "food", (225, 195, 140)),
    ]


@_category("ceramic_jug", "ceramic jug", "kitchenware", 1, placement="surface")
def ceramic_jug(rng: np.random.Generator) -> list[Part]:
    """Milk / water jug 15-22 cm tall: bellied body, a pouring lip towards -x and a handle on +x."""
    h, r = _u(rng, 0.15, 0.22), _u(rng, 0.05, 0.065)
    z = np.linspace(0.0, 1.0, 12)
    radius = r * (0.8 + 0.25 * np.sin(np.pi * np.clip(z * 1.2, 0, 1))) * (1 - 0.2 * z**3)
    outer = np.stack([radius, z * h], axis=1)
    colour = tx.pick(rng, "light" if rng.random() < 0.5 else "pastel")
    texture = tx.motif(rng, colour, tx.pick(rng, "bright")) if rng.random() < 0.5 else None
    body = transform(_vessel(outer, 0.004, 0.01, 40), rotation=_FRONT)
    lip = extrude(np.array([(0.006, -0.022), (0.006, 0.022), (-0.03, 0.0)]), 0.014, z0=h - 0.012)
    lip = transform(lip, translation=(-radius[-1], 0.0, 0.0))
    handle = _c_handle(radius[6] * 0.95, 0.35 * h, 0.85 * h, _u(rng, 0.035, 0.045), 0.007)
    return [
        _part("body", body, "ceramic", colour, texture),
        _part("lip", lip, "ceramic", colour),
        _part("handle", handle, "ceramic", colour),
    ]
