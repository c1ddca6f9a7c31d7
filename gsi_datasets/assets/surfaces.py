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


# Patterns of furniture (upholstery, lacquer, steel) and wall art; added after the room patterns above, whose
# outputs stay unchanged.


def _fabric(rng: np.random.Generator) -> np.ndarray:
    y, x = np.indices((_SIZE, _SIZE))
    weave = ((x // 2 + y // 2) % 2).astype(float)
    return 0.82 + 0.06 * weave + 0.12 * _noise(rng, 8, 3)


def _leather(rng: np.random.Generator) -> np.ndarray:
    grain = _noise(rng, 32, 2)
    creases = np.abs(_noise(rng, 4, 3) - 0.5) < 0.03
    return 0.8 + 0.14 * grain + 0.06 * _noise(rng, 4, 2) - 0.08 * creases


def _painted(rng: np.random.Generator) -> np.ndarray:
    return 0.95 + 0.05 * _noise(rng, 4, 3)


def _metal(rng: np.random.Generator) -> np.ndarray:
    streaks = np.repeat(rng.random((_SIZE, 1)), _SIZE, axis=1)
    return 0.86 + 0.08 * streaks + 0.06 * _noise(rng, 4, 2)


def _canvas(rng: np.random.Generator) -> np.ndarray:
    """Abstract painting: a few broad tones with soft brush-stroke edges."""
    field = 0.6 * _noise(rng, 2, 2) + 0.4 * _noise(rng, 4, 3)
    tones = np.minimum(np.floor(field * 4.0), 3.0) / 3.0
    return 0.3 + 0.6 * tones + 0.1 * _noise(rng, 32, 1)


SURFACE_PATTERNS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "wood": _wood,
    "tiles": _tiles,
    "plaster": _plaster,
    "carpet": _carpet,
    "marble": _marble,
    "concrete": _concrete,
    "fabric": _fabric,
    "leather": _leather,
    "painted": _painted,
    "metal": _metal,
    "canvas": _canvas,
}


#: Furniture and rooms draw their texture seeds from this many per pattern, so the shading of a pattern is computed
#: once per process and reused (colours still vary freely).
TEXTURE_SEEDS_PER_PATTERN = 16


@lru_cache(maxsize=256)
def _shading(pattern: str, seed: int) -> np.ndarray:
    return SURFACE_PATTERNS[pattern](np.random.default_rng(seed))


@lru_cache(maxsize=512)
def surface_texture(material: SurfaceMaterial) -> np.ndarray:
    """The ``(256, 256, 3)`` uint8 texture of a surface material: its pattern's shading times its colour.

    Raises:
        KeyError: for an unknown pattern name.
    """
    if material.pattern not in SURFACE_PATTERNS:
        raise KeyError(f"unknown surface pattern {material.pattern!r}; known: {sorted(SURFACE_PATTERNS)}")
    shading = _shading(material.pattern, material.seed)
    image = np.clip(shading[..., None] * np.asarray(material.rgb)[None, None, :], 0.0, 1.0)
    texture = (image * 255).round().astype(np.uint8)
    texture.setflags(write=False)
    return texture
