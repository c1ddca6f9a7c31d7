"""Tests of the procedural furniture: registry, real-world sizes, solid construction and support surfaces."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gsi_datasets.assets import all_categories
from gsi_datasets.assets.furniture import (
    FURNITURE_CATEGORIES,
    FURNITURE_PLACEMENTS,
    footprint_polygon,
    get_furniture_category,
    make_furniture,
)
from gsi_datasets.assets.surfaces import SURFACE_PATTERNS, surface_texture
from gsi_datasets.scene import Block, Furniture, Scene

NAMES = sorted(FURNITURE_CATEGORIES)
SEEDS = range(8)

REQUIRED = {
    "dining_table", "coffee_table", "desk", "kitchen_counter", "bookshelf", "dresser", "nightstand", "tv_stand",
    "sideboard", "sofa", "armchair", "chair", "bed", "bench", "side_table", "rug", "wall_picture",
}  # fmt: skip

#: Plausible real-world (width x, depth y, height z) ranges in metres, after centring.
SIZES = {
    "dining_table": ((1.2, 2.0), (0.8, 1.0), (0.72, 0.78)),
    "coffee_table": ((0.7, 1.3), (0.5, 1.0), (0.37, 0.49)),
    "side_table": ((0.39, 0.61), (0.33, 0.61), (0.49, 0.66)),
    "desk": ((1.0, 1.6), (0.55, 0.75), (0.71, 0.77)),
    "kitchen_counter": ((1.2, 2.4), (0.58, 0.66), (0.87, 0.93)),
    "bookshelf": ((0.6, 1.2), (0.28, 0.4), (1.2, 2.0)),
    "dresser": ((0.8, 1.45), (0.45, 0.55), (0.74, 1.01)),
    "nightstand": ((0.4, 0.55), (0.35, 0.45), (0.49, 0.66)),
    "tv_stand": ((1.2, 2.0), (0.35, 0.5), (0.39, 0.61)),
    "sideboard": ((1.4, 2.05), (0.4, 0.5), (0.74, 0.91)),
    "sofa": ((1.6, 2.4), (0.8, 1.0), (0.74, 0.91)),
    "armchair": ((0.7, 0.95), (0.75, 0.9), (0.79, 1.01)),
    "chair": ((0.42, 0.5), (0.45, 0.55), (0.79, 0.96)),
    "bed": ((0.9, 1.95), (2.0, 2.4), (0.85, 1.35)),
    "bench": ((1.0, 1.6), (0.35, 0.45), (0.41, 0.49)),
    "rug": ((0.8, 3.0), (0.8, 2.2), (0.007, 0.015)),
    "wall_picture": ((0.3, 1.2), (0.02, 0.05), (0.3, 0.9)),
}


@pytest.fixture(scope="module")
def pieces() -> dict[tuple[str, int], Furniture]:
    return {
        (name, seed): make_furniture(name, 1, np.random.default_rng(seed), (0.0, 0.0), 0.0)
        for name in NAMES
        for seed in SEEDS
    }


def _bounds(block: Block) -> tuple[np.ndarray, np.ndarray]:
    half = np.array(block.size) / 2
    return np.array(block.centre) - half, np.array(block.centre) + half


def _touch(a: Block, b: Block, tolerance: float = 1e-5) -> bool:
    lo_a, hi_a = _bounds(a)
    lo_b, hi_b = _bounds(b)
    return bool(np.all(lo_a <= hi_b + tolerance) and np.all(lo_b <= hi_a + tolerance))


def _covers(block: Block, x: float, y: float) -> bool:
    cx, cy, _ = block.centre
    if block.shape == "cylinder":
        return bool(np.hypot(x - cx, y - cy) <= block.size[0] / 2 + 1e-6)
    return bool(abs(x - cx) <= block.size[0] / 2 + 1e-6 and abs(y - cy) <= block.size[1] / 2 + 1e-6)


def test_registry_has_every_category_and_placements() -> None:
    assert REQUIRED <= set(FURNITURE_CATEGORIES)
    assert {c.placement for c in FURNITURE_CATEGORIES.values()} <= set(FURNITURE_PLACEMENTS)
    assert get_furniture_category("rug").placement == "floor_flat"
    assert get_furniture_category("wall_picture").placement == "wall_mounted"
    with pytest.raises(KeyError, match="bookshelf"):
        get_furniture_category("bookshelve")


def test_display_names_are_unique_natural_and_do_not_contain_each_other() -> None:
    furniture = [c.display_name for c in FURNITURE_CATEGORIES.values()]
    display = furniture + [c.display_name for c in all_categories()]
    assert len(set(display)) == len(display)
    for name in furniture:
        assert re.fullmatch(r"[A-Za-z]+( [A-Za-z]+)*", name), name
    # "the chair" must not also name an "armchair"-like phrase: no display name inside another as whole words.
    for a in furniture:
        for b in display:
            if a != b:
                assert not re.search(rf"\b{re.escape(a)}\b", b), (a, b)
                assert not re.search(rf"\b{re.escape(b)}\b", a), (a, b)


@pytest.mark.parametrize("name", NAMES)
def test_sizes_are_real_world(name: str, pieces: dict[tuple[str, int], Furniture]) -> None:
    for seed in SEEDS:
        centre, size = pieces[name, seed].local_box()
        for axis, (low, high) in enumerate(SIZES[name]):
            assert low - 1e-6 <= size[axis] <= high + 1e-6, (seed, "xyz"[axis], size)
        np.testing.assert_allclose(centre[:2], 0.0, atol=1e-5)  # footprint centred on the origin


@pytest.mark.parametrize("name", NAMES)
def test_blocks_are_valid_touch_the_floor_and_form_one_solid(
    name: str, pieces: dict[tuple[str, int], Furniture]
) -> None:
    mounted = get_furniture_category(name).placement == "wall_mounted"
    for seed in SEEDS:
        piece = pieces[name, seed]
        blocks = piece.blocks
        assert 1 <= len(blocks) <= 80
        for block in blocks:
            assert block.shape in ("box", "cylinder")
            assert all(s > 0 for s in block.size) and 0 <= block.material < len(piece.materials)
            if block.shape == "cylinder":
                assert block.size[0] == block.size[1]
            assert _bounds(block)[0][2] >= -1e-6, (seed, block)
        lowest = min(_bounds(b)[0][2] for b in blocks)
        assert abs(lowest) < 1e-6, (seed, lowest)  # on the floor (a picture's bottom edge at z = 0)
        if not mounted:
            assert sum(abs(_bounds(b)[0][2]) < 1e-6 for b in blocks) >= 1
        # Connected: every block reaches every other through touching blocks.
        reached, frontier = {0}, [0]
        while frontier:
            i = frontier.pop()
            for j in range(len(blocks)):
                if j not in reached and _touch(blocks[i], blocks[j]):
                    reached.add(j)
                    frontier.append(j)
        assert len(reached) == len(blocks), (seed, [blocks[j] for j in set(range(len(blocks))) - reached])


@pytest.mark.parametrize("name", NAMES)
def test_surfaces_lie_on_blocks_inside_the_footprint_with_free_space_above(
    name: str, pieces: dict[tuple[str, int], Furniture]
) -> None:
    for seed in SEEDS:
        piece = pieces[name, seed]
        centre, size = piece.local_box()
        names = [s.name for s in piece.surfaces]
        assert len(set(names)) == len(names)
        for surface in piece.surfaces:
            label = (seed, surface.name)
            x0, y0, x1, y1 = surface.extent
            assert x1 - x0 >= 0.1 and y1 - y0 >= 0.1, label
            assert -size[0] / 2 < x0 and x1 < size[0] / 2 and -size[1] / 2 < y0 and y1 < size[1] / 2, label
            assert surface.clearance > 0.1, label
            tops = [b for b in piece.blocks if abs(_bounds(b)[1][2] - surface.height) < 2e-5]
            for x in np.linspace(x0, x1, 5):
                for y in np.linspace(y0, y1, 5):
                    assert any(_covers(b, x, y) for b in tops), (label, x, y)
            # Nothing above the usable area up to its clearance (or 30 cm).
            ceiling = surface.height + min(surface.clearance, 0.3)
            for block in piece.blocks:
                lo, hi = _bounds(block)
                overlaps = lo[0] < x1 and hi[0] > x0 and lo[1] < y1 and hi[1] > y0
                assert not (overlaps and lo[2] < ceiling - 2e-5 and hi[2] > surface.height + 2e-5), (label, block)
            if surface.name.startswith("shelf") and surface.clearance < 5.0:
                boards = [b for b in piece.blocks if abs(_bounds(b)[0][2] - surface.height - surface.clearance) < 2e-5]
                assert boards, label  # the clearance ends at the next board


def test_surfaces_by_category() -> None:
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        shelf = make_furniture("bookshelf", 1, rng, (0.0, 0.0), 0.0)
        shelves = sorted((s for s in shelf.surfaces if s.name.startswith("shelf")), key=lambda s: s.height)
        assert len(shelves) >= 2 and [s.name for s in shelves] == [f"shelf {i + 1}" for i in range(len(shelves))]
        assert all(0.2 < s.clearance < 0.6 for s in shelves)
        assert shelf.surface("top").height == pytest.approx(shelf.local_box()[1][2])
        for name in ("sofa", "armchair", "chair", "bench"):
            seat = make_furniture(name, 1, rng, (0.0, 0.0), 0.0).surface("seat")
            assert 0.38 < seat.height < 0.5
        for name in ("dining_table", "coffee_table", "desk", "kitchen_counter", "dresser", "sideboard", "bed"):
            make_furniture(name, 1, rng, (0.0, 0.0), 0.0).surface("top")
        for name in ("rug", "wall_picture"):
            assert make_furniture(name, 1, rng, (0.0, 0.0), 0.0).surfaces == ()


def test_variants_differ_across_seeds(pieces: dict[tuple[str, int], Furniture]) -> None:
    for name in NAMES:
        counts = {len(pieces[name, seed].blocks) for seed in SEEDS}
        if name not in ("rug",):
            assert len(counts) >= 2, name  # structural variants, not only resized copies


def test_make_furniture_pose_footprint_and_determinism() -> None:
    a = make_furniture("sofa", 3, np.random.default_rng(5), (1.0, -0.5), 90.0)
    b = make_furniture("sofa", 3, np.random.default_rng(5), (1.0, -0.5), 90.0)
    assert a == b and a.instance_id == 3 and a.category == "sofa"
    _, size = a.local_box()
    footprint = footprint_polygon(a)
    min_x, min_y, max_x, max_y = footprint.bounds
    # Turned by 90 degrees: the width lies along y, the depth along x, and the front (local -y) faces +x.
    assert max_x - min_x == pytest.approx(size[1]) and max_y - min_y == pytest.approx(size[0])
    assert (min_x + max_x) / 2 == pytest.approx(1.0) and (min_y + max_y) / 2 == pytest.approx(-0.5)
    assert a.pose.rotation @ np.array([0.0, -1.0, 0.0]) == pytest.approx(np.array([1.0, 0.0, 0.0]))
    hung = make_furniture("wall_picture", 4, np.random.default_rng(0), (0.0, 2.0), 0.0, z=1.4)
    assert hung.pose.position[2] == 1.4


def test_furniture_survives_the_scene_json_round_trip(pieces: dict[tuple[str, int], Furniture]) -> None:
    scene = Scene.from_json(
        '{"objects":[],"furniture":[],"room":{"floor":{"pattern":"wood","seed":1,"rgb":[0.5,0.5,0.5],'
        '"texture_repeat":1.0},"wall":{"pattern":"plaster","seed":2,"rgb":[0.9,0.9,0.9],"texture_repeat":1.0},'
        '"size_xy":[4.0,4.0],"wall_height":2.7,"openings":[],"ceiling":null},"lights":[],"camera":{"position":[0,0,1],'
        '"rotation":[[1,0,0],[0,1,0],[0,0,1]],"fovy_deg":60,"width":64,"height":64},"version":2}'
    )
    furnished = Scene(scene.objects, tuple(pieces[name, 0] for name in NAMES), scene.room, (), scene.camera)
    assert Scene.from_json(furnished.to_json()) == furnished


def test_new_surface_patterns_render_and_keep_old_ones() -> None:
    from gsi_datasets.scene import SurfaceMaterial

    for pattern in ("fabric", "leather", "painted", "metal", "canvas"):
        assert pattern in SURFACE_PATTERNS
        texture = surface_texture(SurfaceMaterial(pattern, 3, (0.6, 0.5, 0.4), 2.0))
        assert texture.shape == (256, 256, 3) and texture.std() > 1.0
    materials = {
        m.pattern for name in NAMES for m in make_furniture(name, 1, np.random.default_rng(0), (0, 0), 0).materials
    }
    assert materials <= set(SURFACE_PATTERNS)
