"""Tests of the procedural asset library: catalog contract, mesh validity, textures, physical stability."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gsi_datasets.assets import Asset, Part, all_categories, get_category, make_asset
from gsi_datasets.assets import primitives as prim
from gsi_datasets.assets import textures as tx

CATEGORIES = all_categories()
NAMES = [category.name for category in CATEGORIES]
SEEDS = range(5)
GROUPS = {"kitchenware", "food", "books_and_boxes", "bottles_and_cans", "toys", "decor", "electronics"}


def _signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Divergence-theorem volume: positive when the faces wind counter-clockwise seen from outside."""
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _open_edges(faces: np.ndarray) -> int:
    """Number of directed edges without a matching opposite edge (0 for a closed, consistently wound mesh).

    Vertices are compared by index, so meshes with duplicated seam vertices are first welded by position.
    """
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    forward = {tuple(e) for e in edges.tolist()}
    return sum((b, a) not in forward for a, b in forward)


def _welded(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    _, inverse = np.unique(np.round(vertices, 9), axis=0, return_inverse=True)
    welded = inverse.reshape(-1)[faces]
    return welded[(welded[:, 0] != welded[:, 1]) & (welded[:, 1] != welded[:, 2]) & (welded[:, 2] != welded[:, 0])]


@pytest.fixture(scope="module")
def assets() -> dict[tuple[str, int], Asset]:
    return {(name, seed): make_asset(name, seed) for name in NAMES for seed in SEEDS}


# ------------------------------------------------------------------------------------------------ catalog


def test_catalog_is_large_and_mostly_asymmetric() -> None:
    assert len(CATEGORIES) >= 36
    assert sum(category.symmetry_order == 1 for category in CATEGORIES) >= 24


def test_names_groups_and_display_names() -> None:
    display = [category.display_name for category in CATEGORIES]
    assert len(set(display)) == len(display)
    for category in CATEGORIES:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", category.name), category.name
        assert category.group in GROUPS, category.name
        assert category.symmetry_order >= 0
        assert get_category(category.name) is category
    # No display name may contain another as a whole word sequence ("cup" vs "coffee cup").
    for a in display:
        for b in display:
            if a != b:
                assert not re.search(rf"\b{re.escape(a)}\b", b), (a, b)


def test_unknown_category_suggests_close_names() -> None:
    with pytest.raises(KeyError, match="coffee_mug"):
        get_category("coffee_mugg")


@pytest.mark.parametrize("name", NAMES)
def test_make_asset_is_deterministic(name: str) -> None:
    first, second = make_asset(name, 3), make_asset(name, 3)
    assert len(first.parts) == len(second.parts)
    for a, b in zip(first.parts, second.parts, strict=True):
        assert a.name == b.name
        np.testing.assert_array_equal(a.vertices, b.vertices)
        np.testing.assert_array_equal(a.faces, b.faces)
        np.testing.assert_array_equal(a.uv, b.uv)
        assert a.material == b.material
        assert (a.material.texture is None) == (b.material.texture is None)
        if a.material.texture is not None:
            assert a.material.texture.tobytes() == b.material.texture.tobytes()


def _signature(asset: Asset) -> bytes:
    chunks = []
    for part in asset.parts:
        chunks.append(np.round(part.vertices, 9).tobytes())
        chunks.append(np.asarray(part.material.rgba).tobytes())
        if part.material.texture is not None:
            chunks.append(part.material.texture.tobytes())
    return b"".join(chunks)


@pytest.mark.parametrize("name", NAMES)
def test_seeds_give_variety(name: str, assets: dict[tuple[str, int], Asset]) -> None:
    signatures = {_signature(assets[name, seed]) for seed in SEEDS}
    assert len(signatures) == len(SEEDS)


def test_scale_is_uniform() -> None:
    small, large = make_asset("coffee_mug", 1), make_asset("coffee_mug", 1, scale=2.0)
    np.testing.assert_allclose(large.size, 2.0 * small.size)


def test_cached_scales_are_the_generated_ones_bit_for_bit() -> None:
    # The renderer's cache scales one generated instance for every scale; a dataset built with it must not change.
    from gsi_datasets.rendering import cached_asset

    for scale in (0.4, 0.93, 1.0, 1.2618):
        made, cached = make_asset("teapot", 7, scale), cached_asset("teapot", 7, scale)
        assert cached.scale == made.scale == scale
        for made_part, cached_part in zip(made.parts, cached.parts, strict=True):
            assert made_part.vertices.tobytes() == cached_part.vertices.tobytes()
            assert made_part.faces.tobytes() == cached_part.faces.tobytes()


# ------------------------------------------------------------------------------------------------ geometry


@pytest.mark.parametrize("name", NAMES)
def test_sizes_are_tabletop(name: str, assets: dict[tuple[str, int], Asset]) -> None:
    if get_category(name).placement == "floor":
        for seed in SEEDS:  # room-scale objects (a floor lamp, a basket): under 2 m, over 15 cm
            size = assets[name, seed].size
            assert 0.15 <= size.max() <= 2.0 and max(size[:2]) <= 1.0, (seed, size)
        return
    for seed in SEEDS:
        size = assets[name, seed].size
        assert np.all(size[:2] >= 0.02) and np.all(size <= 0.45), (seed, size)
        assert size[2] >= 0.006, (seed, size)  # thin flat things (phone, plate) may be below 2 cm tall
        assert max(size[:2]) <= 0.35, (seed, size)
        if size[2] < 0.02:  # ...but only if they really are flat
            assert min(size[:2]) >= 3 * size[2], (seed, size)


@pytest.mark.parametrize("name", NAMES)
def test_raw_build_rests_on_table_and_asset_is_centred(name: str, assets: dict[tuple[str, int], Asset]) -> None:
    category = get_category(name)
    for seed in SEEDS:
        parts = category.build(np.random.default_rng(seed))
        z_min = min(float(part.vertices[:, 2].min()) for part in parts)
        assert abs(z_min) < 1e-3, (seed, z_min)
        vertices = np.concatenate([part.vertices for part in assets[name, seed].parts])
        np.testing.assert_allclose(vertices.max(axis=0) + vertices.min(axis=0), 0.0, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_parts_are_valid_closed_outward_meshes(name: str, assets: dict[tuple[str, int], Asset]) -> None:
    for seed in SEEDS:
        parts = assets[name, seed].parts
        assert len({part.name for part in parts}) == len(parts)
        for part in parts:
            label = f"{name}/{seed}/{part.name}"
            assert part.vertices.dtype == np.float64 and part.faces.dtype == np.int32, label
            assert np.isfinite(part.vertices).all(), label
            assert 4 <= len(part.vertices) < 3000, label
            assert part.faces.min() >= 0 and part.faces.max() < len(part.vertices), label
            a, b, c = (part.vertices[part.faces[:, k]] for k in range(3))
            areas = np.linalg.norm(np.cross(b - a, c - a), axis=1) / 2
            assert (areas > 1e-12).mean() > 0.99, label
            assert _signed_volume(part.vertices, part.faces) > 0, label
            assert _open_edges(_welded(part.vertices, part.faces)) == 0, label


@pytest.mark.parametrize("name", NAMES)
def test_uv_and_materials(name: str, assets: dict[tuple[str, int], Asset]) -> None:
    for seed in SEEDS:
        for part in assets[name, seed].parts:
            label = f"{name}/{seed}/{part.name}"
            assert part.uv is not None and part.uv.shape == (len(part.vertices), 2), label
            assert part.uv.min() >= 0.0 and part.uv.max() <= 1.0, label
            material = part.material
            assert all(0.0 <= c <= 1.0 for c in material.rgba) and material.rgba[3] == 1.0, label
            assert 0.0 <= material.specular <= 1.0 and 0.0 <= material.shininess <= 1.0, label
            assert material.reflectance == 0.0, label
            texture = material.texture
            if texture is not None:
                assert texture.dtype == np.uint8 and texture.ndim == 3 and texture.shape[2] == 3, label
                assert min(texture.shape[:2]) >= 8, label


def test_most_categories_are_textured(assets: dict[tuple[str, int], Asset]) -> None:
    textured = {name for (name, _), asset in assets.items() if any(p.material.texture is not None for p in asset.parts)}
    assert len(textured) >= 0.75 * len(NAMES)


# ------------------------------------------------------------------------------------------------ stability


def _settle(asset: Asset, seconds: float = 1.0) -> tuple[float, float, float]:
    """Drops the asset from 2 mm onto a plane; returns (tilt in degrees, xy drift in metres, final speed)."""
    mujoco = pytest.importorskip("mujoco")
    spec = mujoco.MjSpec()
    floor = spec.worldbody.add_geom()
    floor.type = mujoco.mjtGeom.mjGEOM_PLANE
    floor.size = [2.0, 2.0, 0.01]
    body = spec.worldbody.add_body()
    body.pos = [0.0, 0.0, asset.size[2] / 2 + 0.002]
    body.add_freejoint()
    for i, part in enumerate(asset.parts):
        mesh = spec.add_mesh()
        mesh.name = f"m{i}"
        mesh.uservert = part.vertices.ravel().tolist()
        mesh.userface = part.faces.ravel().tolist()
        geom = body.add_geom()
        geom.type = mujoco.mjtGeom.mjGEOM_MESH
        geom.meshname = mesh.name
        geom.density = 500.0
    model = spec.compile()
    data = mujoco.MjData(model)
    for _ in range(int(seconds / model.opt.timestep)):
        mujoco.mj_step(model, data)
    rotation = np.zeros(9)
    mujoco.mju_quat2Mat(rotation, data.qpos[3:7])
    tilt = float(np.degrees(np.arccos(np.clip(rotation[8], -1.0, 1.0))))
    return tilt, float(np.linalg.norm(data.qpos[:2])), float(np.linalg.norm(data.qvel))


@pytest.mark.parametrize("name", NAMES)
def test_stable_upright_on_table(name: str, assets: dict[tuple[str, int], Asset]) -> None:
    for seed in SEEDS:
        tilt, drift, speed = _settle(assets[name, seed])
        assert tilt < 5.0, (seed, tilt)
        assert drift < 0.01, (seed, drift)
        assert speed < 0.05, (seed, speed)


# ------------------------------------------------------------------------------------------------ primitives


def _check_mesh(mesh: prim.Mesh) -> float:
    vertices, faces, uv = mesh
    assert vertices.dtype == np.float64 and faces.dtype == np.int32 and uv.dtype == np.float64
    assert uv.shape == (len(vertices), 2) and uv.min() >= 0.0 and uv.max() <= 1.0
    assert _open_edges(_welded(vertices, faces)) == 0
    return _signed_volume(vertices, faces)


def test_primitive_volumes() -> None:
    assert _check_mesh(prim.box((0.1, 0.2, 0.3))) == pytest.approx(0.006)
    assert _check_mesh(prim.box((0.1, 0.2, 0.3), uv_layout="atlas")) == pytest.approx(0.006)
    cylinder = np.pi * 0.05**2 * 0.1
    assert _check_mesh(prim.revolve([(0.05, 0.0), (0.05, 0.1)], 128)) == pytest.approx(cylinder, rel=1e-2)
    assert _check_mesh(prim.extrude(0.05 * np.c_[np.cos(np.arange(128) / 128 * 2 * np.pi),
                                                 np.sin(np.arange(128) / 128 * 2 * np.pi)], 0.1)) == pytest.approx(
        cylinder, rel=1e-2)  # fmt: skip
    sphere = 4 / 3 * np.pi * 0.02 * 0.03 * 0.04
    assert _check_mesh(prim.ellipsoid((0.02, 0.03, 0.04), 64, 32)) == pytest.approx(sphere, rel=1e-2)
    assert _check_mesh(prim.torus(0.05, 0.01, 96, 48)) == pytest.approx(2 * np.pi**2 * 0.05 * 0.01**2, rel=1e-2)
    tube = prim.tube_along([(0, 0, 0), (0, 0, 0.05), (0, 0, 0.1)], 0.01, sides=96)
    assert _check_mesh(tube) == pytest.approx(np.pi * 0.01**2 * 0.1, rel=1e-2)


def test_clockwise_polygon_extrudes_outwards() -> None:
    square = np.array([(0.0, 0.0), (0.1, 0.0), (0.1, 0.1), (0.0, 0.1)])
    assert _check_mesh(prim.extrude(square[::-1], 0.02)) == pytest.approx(2e-4)


def test_revolve_seam_is_duplicated() -> None:
    vertices, _, uv = prim.revolve([(0.05, 0.0), (0.05, 0.1)], 16, caps=False)
    seam = np.isclose(vertices[:, 1], 0.0) & (vertices[:, 0] > 0)
    assert set(np.round(uv[seam, 0], 6)) == {0.0, 1.0}


def test_transform_rejects_mirroring() -> None:
    mesh = prim.box((0.1, 0.1, 0.1))
    with pytest.raises(ValueError):
        prim.transform(mesh, rotation=np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(ValueError):
        prim.transform(mesh, scale=(1.0, -1.0, 1.0))
    moved = prim.transform(mesh, prim.axis_rotation("z", np.pi / 2), (0.0, 0.0, 1.0))
    assert _signed_volume(moved[0], moved[1]) == pytest.approx(0.001)


# ------------------------------------------------------------------------------------------------ textures

TEXTURES = {
    "stripes": lambda rng: tx.stripes(rng, [(250, 250, 250), (200, 30, 30)]),
    "checker": lambda rng: tx.checker(rng, (250, 250, 250), (20, 20, 20)),
    "polka_dots": lambda rng: tx.polka_dots(rng, (250, 250, 250), (200, 30, 30)),
    "wood_grain": lambda rng: tx.wood_grain(rng),
    "marble": lambda rng: tx.marble(rng),
    "woven_fabric": lambda rng: tx.woven_fabric(rng, (200, 40, 40), (240, 220, 200)),
    "printed_label": lambda rng: tx.printed_label(rng, (240, 240, 230), (30, 60, 200)),
    "package_front": lambda rng: tx.package_front(rng, (30, 60, 200), (250, 200, 40)),
    "book_cover": lambda rng: tx.book_cover(rng, (30, 60, 120), (240, 180, 40)),
    "book_spine": lambda rng: tx.book_spine(rng, (30, 60, 120), (240, 180, 40)),
    "text_panel": lambda rng: tx.text_panel(rng, (250, 250, 250)),
    "cardboard": lambda rng: tx.cardboard(rng),
    "fruit_skin": lambda rng: tx.fruit_skin(rng, (200, 30, 30), (250, 230, 150), blush=(240, 200, 60)),
    "page_edges": lambda rng: tx.page_edges(rng),
    "screen": lambda rng: tx.screen(rng),
    "keypad": lambda rng: tx.keypad(rng, (40, 40, 45), (180, 180, 185)),
    "clock_face": lambda rng: tx.clock_face(rng, (250, 250, 245), (20, 20, 20)),
    "photo": lambda rng: tx.photo(rng),
    "motif": lambda rng: tx.motif(rng, (240, 240, 240), (200, 30, 30)),
    "dice_face": lambda rng: tx.dice_face(5, (250, 250, 250), (20, 20, 20)),
    "glyph_face": lambda rng: tx.glyph_face("R", (250, 220, 80), (30, 60, 200)),
}


@pytest.mark.parametrize("name", sorted(TEXTURES))
def test_texture_has_visible_detail_and_is_deterministic(name: str) -> None:
    image = TEXTURES[name](np.random.default_rng(7))
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert 64 <= min(image.shape[:2]) and max(image.shape[:2]) <= 512
    assert image.std() > 10.0  # visible detail, not a flat colour
    assert TEXTURES[name](np.random.default_rng(7)).tobytes() == image.tobytes()


def test_value_noise_wraps_left_to_right() -> None:
    noise = tx.value_noise(np.random.default_rng(0), (64, 128), cells=8)
    assert noise.min() == 0.0 and noise.max() == 1.0
    wrap_step = np.abs(noise[:, 0] - noise[:, -1]).mean()
    inner_step = np.abs(np.diff(noise, axis=1)).mean()
    assert wrap_step < 3 * inner_step


def test_box_atlas_layout() -> None:
    faces = {face: np.full((16, 16, 3), i * 40, dtype=np.uint8) for i, face in enumerate(prim.BOX_FACES)}
    atlas = tx.box_atlas(faces, cell=32)
    assert atlas.shape == (64, 96, 3)
    _, _, uv = prim.box((1.0, 1.0, 1.0), uv_layout="atlas")
    for i, face in enumerate(prim.BOX_FACES):
        corners = uv[4 * i : 4 * i + 4]
        column, row = (corners.mean(axis=0) * [3, 2]).astype(int)
        assert atlas[row * 32 + 16, column * 32 + 16, 0] == i * 40, face


def test_part_rejects_texture_without_uv() -> None:
    from gsi_datasets.assets import Material

    vertices, faces, _ = prim.box((0.1, 0.1, 0.1))
    with pytest.raises(ValueError):
        Part("p", vertices, faces, None, Material(texture=np.zeros((8, 8, 3), dtype=np.uint8)))


def test_part_rejects_being_neither_shown_nor_collided_with() -> None:
    from gsi_datasets.assets import Material

    vertices, faces, uv = prim.box((0.1, 0.1, 0.1))
    with pytest.raises(ValueError, match="neither shown nor collided with"):
        Part("p", vertices, faces, uv, Material(), shown=False, collides=False)


def test_convex_hull_is_closed_outward_and_keeps_texture_coordinates() -> None:
    # A hollow cup: its hull is the solid cylinder around it.
    cup = prim.revolve([(0.05, 0.0), (0.05, 0.1), (0.045, 0.1), (0.045, 0.01)], 64)
    vertices, _, uv = cup
    hull = prim.convex_hull(vertices, uv)
    assert _check_mesh(hull) == pytest.approx(np.pi * 0.05**2 * 0.1, rel=2e-2)
    # Each hull vertex is a vertex of the mesh and carries that vertex's texture coordinate.
    index = [int(np.flatnonzero(np.all(vertices == v, axis=1))[0]) for v in hull[0]]
    np.testing.assert_array_equal(hull[2], uv[index])


def test_a_plate_is_drawn_as_one_body_and_collides_as_a_flat_well_inside_a_rim() -> None:
    from gsi_datasets.rendering import add_object_body, new_spec

    plate = make_asset("plate", 0)
    parts = {part.name: part for part in plate.parts}
    assert [name for name, part in parts.items() if part.shown] == ["body"] and not parts["body"].collides
    pieces = [part for part in plate.parts if part.collides]
    assert len(pieces) == 25 and not any(part.shown for part in pieces)
    # Drawn models get the body only, physics models the pieces only.
    for mocap, count in ((True, 1), (False, 25)):
        spec = new_spec(64, 64)
        assert len(add_object_body(spec, "plate", plate, mocap=mocap)) == count
        spec.compile()
    # The pieces are the dish's shape: the well's top lies below the rim's, so a thing put on it sits in the dish,
    # and together they cover the body's footprint.
    rim_top = max(part.vertices[:, 2].max() for name, part in parts.items() if name.startswith("rim"))
    assert parts["well"].vertices[:, 2].max() < rim_top - 0.005
    body_radius = np.hypot(*parts["body"].vertices[:, :2].T).max()
    pieces_radius = max(np.hypot(*part.vertices[:, :2].T).max() for part in pieces)
    assert pieces_radius == pytest.approx(body_radius, rel=1e-6)


def test_a_containers_sampled_surface_is_reduced_chunk_by_chunk_to_what_all_of_it_at_once_gives() -> None:
    """A large bowl's sampled surface has up to millions of points (hundreds of megabytes at once took a room build's
    worker past 1 GB): it comes in chunks of about ``_SURFACE_CHUNK_POINTS``, and its inner surface map and the
    underside of a resting object, reduced chunk by chunk, are exactly those of all the points taken together."""
    from gsi_datasets import scene

    variant = ("bowl", 3, 2.2)
    chunks = list(scene._sampled_surface(*variant))
    points = np.concatenate(chunks)
    assert len(points) > 500_000 and len(chunks) >= 3
    assert max(len(chunk) for chunk in chunks[1:]) <= scene._SURFACE_CHUNK_POINTS
    # The reductions of all points at once (what the chunked ones replaced).
    half_cell = 0.5 * scene._INNER_SURFACE_CELL_M
    bins = np.floor((points[:, :2] - points[:, :2].min(axis=0)) / half_cell).astype(np.int64)
    key = bins[:, 0] * (bins[:, 1].max() + 1) + bins[:, 1]
    order = np.lexsort((points[:, 2], key))
    first = np.concatenate([[True], key[order][1:] != key[order][:-1]])
    assert np.array_equal(scene._underside(*variant), points[order[first]])
    low_corner = points[:, :2].min(axis=0)
    cells = np.floor((points[:, :2] - low_corner) / scene._INNER_SURFACE_CELL_M).astype(int)
    heights = np.full(cells.max(axis=0) + 1, points[:, 2].min())
    np.maximum.at(heights, (cells[:, 0], cells[:, 1]), points[:, 2])
    inner, corner = scene._inner_surface(*variant)
    assert np.array_equal(inner, heights) and np.array_equal(corner, low_corner)
