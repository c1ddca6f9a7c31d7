"""Procedural textures for large surfaces: table tops, floors and walls.

A :class:`~gsi_datasets.scene.SurfaceMaterial` names a pattern; :func:`surface_texture` turns it into a
tileable ``(256, 256, 3)`` uint8 image, deterministically from its seed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from gsi_datasets.assets.textures import value_noise
from gsi_datasets.scene import SurfaceMaterial

_SIZE = 256


def _noise(rng: np.random.Generator, cells: int, octaves: int) -> np.ndarray:
    return value_noise(rng, (_SIZE, _SIZE), cells=cells, octaves=octaves)


def _wood(rng: np.random.Generator) -> np.ndarray:
    y = np.arange(_SIZE)[:, None] / _SIZE
    warp = _noise(rng, 2, 3)
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
    return np.where(grout, 0.55, per_tile * (0.92 + 0.08 * _noise(rng, 8, 2)))


def _plaster(rng: np.random.Generator) -> np.ndarray:
    return 0.88 + 0.12 * _noise(rng, 8, 4)


def _carpet(rng: np.random.Generator) -> np.ndarray:
    weave = (np.indices((_SIZE, _SIZE)).sum(axis=0) % 4 < 2).astype(float)
    return 0.8 + 0.1 * weave + 0.1 * _noise(rng, 16, 2)


def _marble(rng: np.random.Generator) -> np.ndarray:
    x = np.arange(_SIZE)[None, :] / _SIZE
    veins = np.abs(np.sin(2 * np.pi * (2 * x + 3 * _noise(rng, 4, 4))))
    return 0.75 + 0.25 * veins**0.3


def _concrete(rng: np.random.Generator) -> np.ndarray:
    speckle = rng.random((_SIZE, _SIZE)) > 0.97
    return 0.8 + 0.15 * _noise(rng, 16, 3) - 0.2 * speckle


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
