"""Procedural textures for large surfaces: table tops, floors and walls.

A :class:`~builders.scene.SurfaceMaterial` names a pattern; :func:`surface_texture` turns it into a
tileable ``(256, 256, 3)`` uint8 image, deterministically from its seed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from builders.scene import SurfaceMaterial

_SIZE = 256


def _tileable_noise(rng: np.random.Generator, cells: int) -> np.ndarray:
    """Smooth value noise in [0, 1] that tiles seamlessly (periodic bilinear-cosine interpolation)."""
    lattice = rng.random((cells, cells))
    coords = np.arange(_SIZE) * cells / _SIZE
    i0 = np.floor(coords).astype(int)
    t = coords - i0
    t = (1 - np.cos(np.pi * t)) / 2
    i1 = (i0 + 1) % cells
    top = lattice[i0][:, i0] * (1 - t)[None, :] + lattice[i0][:, i1] * t[None, :]
    bottom = lattice[i1][:, i0] * (1 - t)[None, :] + lattice[i1][:, i1] * t[None, :]
    return top * (1 - t)[:, None] + bottom * t[:, None]


def _fractal_noise(rng: np.random.Generator, base_cells: int = 4, octaves: int = 4) -> np.ndarray:
    total = sum(0.5**o * _tileable_noise(rng, base_cells * 2**o) for o in range(octaves))
    return total / sum(0.5**o for o in range(octaves))


def _wood(rng: np.random.Generator) -> np.ndarray:
    y = np.arange(_SIZE)[:, None] / _SIZE
    warp = _fractal_noise(rng, 2, 3)
    rings = np.sin(2 * np.pi * (rng.integers(10, 18) * y + 1.5 * warp)) * 0.5 + 0.5
    planks = (np.arange(_SIZE)[None, :] % (_SIZE // 4) < 2).astype(float)
    return 0.75 + 0.25 * rings - 0.25 * planks


def _tiles(rng: np.random.Generator) -> np.ndarray:
    count = int(rng.choice([4, 8]))
    step = _SIZE // count
    grid = np.arange(_SIZE) % step < max(2, step // 24)
    grout = np.logical_or(grid[:, None], grid[None, :])
    shade = rng.uniform(0.85, 1.0, (count, count))
    per_tile = shade[np.arange(_SIZE)[:, None] // step, np.arange(_SIZE)[None, :] // step]
    return np.where(grout, 0.55, per_tile * (0.92 + 0.08 * _fractal_noise(rng, 8, 2)))


def _plaster(rng: np.random.Generator) -> np.ndarray:
    return 0.88 + 0.12 * _fractal_noise(rng, 8, 4)


def _carpet(rng: np.random.Generator) -> np.ndarray:
    weave = (np.indices((_SIZE, _SIZE)).sum(axis=0) % 4 < 2).astype(float)
    return 0.8 + 0.1 * weave + 0.1 * _fractal_noise(rng, 16, 2)


def _marble(rng: np.random.Generator) -> np.ndarray:
    x = np.arange(_SIZE)[None, :] / _SIZE
    veins = np.abs(np.sin(2 * np.pi * (2 * x + 3 * _fractal_noise(rng, 4, 4))))
    return 0.75 + 0.25 * veins**0.3


def _concrete(rng: np.random.Generator) -> np.ndarray:
    speckle = rng.random((_SIZE, _SIZE)) > 0.97
    return 0.8 + 0.15 * _fractal_noise(rng, 16, 3) - 0.2 * speckle


SURFACE_PATTERNS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "wood": _wood,
    "tiles": _tiles,
    "plaster": _plaster,
    "carpet": _carpet,
    "marble": _marble,
    "concrete": _concrete,
}


@lru_cache(maxsize=64)
def surface_texture(material: SurfaceMaterial) -> np.ndarray:
    """The ``(256, 256, 3)`` uint8 texture of a surface material: its pattern's shading times its colour.

    Raises:
        KeyError: for an unknown pattern name.
    """
    if material.pattern not in SURFACE_PATTERNS:
        raise KeyError(f"unknown surface pattern {material.pattern!r}; known: {sorted(SURFACE_PATTERNS)}")
    shading = SURFACE_PATTERNS[material.pattern](np.random.default_rng(material.seed))
    image = np.clip(shading[..., None] * np.asarray(material.rgb)[None, None, :], 0.0, 1.0)
    texture = (image * 255).round().astype(np.uint8)
    texture.setflags(write=False)
    return texture
