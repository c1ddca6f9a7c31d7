"""Deterministic procedural textures: ``(H, W, 3)`` uint8 images with visible detail.

Every generator takes an ``rng`` (its only source of randomness) and palette colours, and is vectorised numpy
(a few milliseconds at most). Images are drawn upright in numpy order (row 0 = top); the mesh builders in
:mod:`gsi_datasets.assets.primitives` map row 0 to the top of the object. Images meant to wrap around a surface of
revolution (``u`` = angle) are periodic left-to-right, so the seam does not show; on labels, the "front" (logo,
title) is centred on column ``W / 2``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from gsi_datasets.assets.primitives import BOX_FACES

Colour = ArrayLike
"""An RGB colour: 3 values in 0..255."""

PALETTES: dict[str, np.ndarray] = {
    name: np.array(colours, dtype=np.uint8)
    for name, colours in {
        "bright": [
            (214, 40, 40),
            (247, 127, 0),
            (252, 191, 73),
            (42, 157, 143),
            (38, 70, 173),
            (131, 56, 236),
            (230, 57, 140),
            (46, 160, 67),
            (0, 150, 199),
        ],
        "pastel": [
            (255, 179, 186),
            (255, 223, 186),
            (255, 255, 186),
            (186, 255, 201),
            (186, 225, 255),
            (214, 194, 255),
            (250, 218, 221),
        ],
        "earth": [(121, 85, 61), (166, 124, 82), (94, 80, 63), (188, 158, 130), (140, 110, 80), (110, 120, 80)],
        "dark": [(30, 30, 35), (45, 52, 64), (60, 40, 40), (25, 45, 70), (40, 60, 45), (70, 70, 75)],
        "light": [(245, 245, 240), (235, 230, 220), (250, 248, 235), (225, 232, 240), (240, 235, 245)],
        "metal": [(192, 192, 198), (170, 172, 178), (205, 190, 160), (150, 150, 155), (184, 115, 51)],
        "glass": [(70, 130, 80), (120, 80, 40), (60, 100, 140), (150, 190, 170), (100, 60, 30)],
    }.items()
}
"""Named colour tables; categories pick from these so colour variety is defined in one place."""

_FONT: dict[str, tuple[str, ...]] = {
    "A": ("01110", "10001", "10001", "11111", "10001", "10001", "10001"),
    "B": ("11110", "10001", "10001", "11110", "10001", "10001", "11110"),
    "C": ("01111", "10000", "10000", "10000", "10000", "10000", "01111"),
    "D": ("11110", "10001", "10001", "10001", "10001", "10001", "11110"),
    "E": ("11111", "10000", "10000", "11110", "10000", "10000", "11111"),
    "F": ("11111", "10000", "10000", "11110", "10000", "10000", "10000"),
    "K": ("10001", "10010", "10100", "11000", "10100", "10010", "10001"),
    "L": ("10000", "10000", "10000", "10000", "10000", "10000", "11111"),
    "P": ("11110", "10001", "10001", "11110", "10000", "10000", "10000"),
    "R": ("11110", "10001", "10001", "11110", "10100", "10010", "10001"),
    "2": ("01110", "10001", "00001", "00110", "01000", "10000", "11111"),
    "3": ("11110", "00001", "00001", "01110", "00001", "00001", "11110"),
    "4": ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    "7": ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
}
"""5x7 bitmap glyphs for toy-block letters (chosen so none looks the same upside down)."""


def pick(rng: np.random.Generator, palette: str, n: int = 1) -> np.ndarray:
    """``n`` distinct colours from a named palette, ``(n, 3)`` uint8 (``(3,)`` when ``n == 1``)."""
    colours = PALETTES[palette]
    chosen = colours[rng.choice(len(colours), size=n, replace=False)]
    return chosen[0] if n == 1 else chosen


def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(y, x)`` normalised to [0, 1), each ``(H, W)``."""
    h, w = shape
    y = (np.arange(h) + 0.5) / h
    x = (np.arange(w) + 0.5) / w
    return np.meshgrid(y, x, indexing="ij")


def _mix(a: Colour, b: Colour, t: np.ndarray) -> np.ndarray:
    """Per-pixel blend ``a * (1 - t) + b * t`` of two colours; ``t`` is ``(H, W)`` in [0, 1]."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a + (b - a) * np.clip(t, 0.0, 1.0)[..., None]


def _u8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _solid(shape: tuple[int, int], colour: Colour) -> np.ndarray:
    return np.broadcast_to(np.asarray(colour, dtype=np.float64), (*shape, 3)).copy()


def _fill(image: np.ndarray, y0: float, x0: float, y1: float, x1: float, colour: Colour) -> None:
    """Paints the rectangle given in normalised coordinates (rows y, columns x) in place."""
    h, w = image.shape[:2]
    image[round(y0 * h) : max(round(y1 * h), round(y0 * h) + 1),
          round(x0 * w) : max(round(x1 * w), round(x0 * w) + 1)] = colour  # fmt: skip


def _blob(shape: tuple[int, int], cy: float, cx: float, radius: float, lobes: int, phase: float) -> np.ndarray:
    """Mask of a star/flower-like blob (a "logo"); radius in units of the image height, aspect-corrected."""
    y, x = _grid(shape)
    aspect = shape[1] / shape[0]
    dy, dx = y - cy, (x - cx) * aspect
    r = np.hypot(dy, dx)
    boundary = radius * (1.0 + 0.3 * np.sin(lobes * np.arctan2(dy, dx) + phase))
    return r < boundary


def text_block(
    rng: np.random.Generator, image: np.ndarray, box: tuple[float, float, float, float], colour: Colour, lines: int
) -> None:
    """Draws ``lines`` rows of blocky pseudo-words inside ``box = (y0, x0, y1, x1)`` (normalised), in place."""
    y0, x0, y1, x1 = box
    pitch = (y1 - y0) / lines
    for line in range(lines):
        x = x0
        end = x1 - (x1 - x0) * rng.uniform(0.0, 0.35)  # ragged right edge, like real text
        while x < end:
            word = (x1 - x0) * rng.uniform(0.08, 0.25)
            _fill(image, y0 + line * pitch, x, y0 + (line + 0.6) * pitch, min(x + word, end), colour)
            x += word + (x1 - x0) * 0.04


def value_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int = 8, octaves: int = 3) -> np.ndarray:
    """Smooth fractal noise in [0, 1], periodic in both directions (wraps around revolved surfaces, and tiles
    on large surfaces, without a seam)."""
    h, w = shape
    total = np.zeros(shape)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        nx = cells * 2**octave
        ny = max(2, round(nx * h / w))
        lattice = rng.random((ny, nx))
        y = np.linspace(0.0, ny, h, endpoint=False)
        x = np.linspace(0.0, nx, w, endpoint=False)
        yi, xi = np.floor(y).astype(int), np.floor(x).astype(int)
        ty, tx = y - yi, x - xi
        ty, tx = ty * ty * (3 - 2 * ty), tx * tx * (3 - 2 * tx)  # smoothstep: no grid creases
        x0, x1 = xi % nx, (xi + 1) % nx
        y0, y1 = yi % ny, (yi + 1) % ny
        # Along x on the lattice's rows first (ny rows, not h): each pixel's value is the same sum of the same products.
        across = lattice[:, x0] * (1 - tx) + lattice[:, x1] * tx
        total += amplitude * (across[y0] * (1 - ty[:, None]) + across[y1] * ty[:, None])
        norm += amplitude
        amplitude *= 0.5
    total /= norm
    return (total - total.min()) / max(total.max() - total.min(), 1e-9)


def stripes(
    rng: np.random.Generator, colours: ArrayLike, shape: tuple[int, int] = (128, 128), vertical: bool = False
) -> np.ndarray:
    """Bands cycling through ``colours`` (``(k, 3)``); horizontal bands, or vertical ones (a whole number per turn)."""
    colours = np.asarray(colours, dtype=np.float64)
    count = int(rng.integers(3, 7)) * len(colours)
    y, x = _grid(shape)
    t = x if vertical else y
    index = np.floor(t * count).astype(int) % len(colours)
    return _u8(colours[index])


def checker(rng: np.random.Generator, light: Colour, dark: Colour, shape: tuple[int, int] = (128, 128)) -> np.ndarray:
    """Checkerboard with an even number of cells across (periodic when wrapped)."""
    cells = 2 * int(rng.integers(2, 6))
    y, x = _grid(shape)
    rows = max(1, round(cells * shape[0] / shape[1]))
    mask = (np.floor(x * cells) + np.floor(y * rows)) % 2 == 1
    return _u8(_mix(light, dark, mask.astype(float)))


def polka_dots(
    rng: np.random.Generator, background: Colour, dot: Colour, shape: tuple[int, int] = (128, 128)
) -> np.ndarray:
    """Staggered round dots (periodic across)."""
    per_row = int(rng.integers(4, 9))
    y, x = _grid(shape)
    aspect = shape[0] / shape[1]
    rows = max(2, round(per_row * aspect))
    # Cell-local coordinates, odd rows shifted by half a cell.
    gy = y * rows
    gx = x * per_row + 0.5 * (np.floor(gy) % 2)
    fy, fx = gy % 1.0 - 0.5, gx % 1.0 - 0.5
    radius = rng.uniform(0.22, 0.35)
    mask = np.hypot(fy * aspect * per_row / rows, fx) < radius
    return _u8(_mix(background, dot, mask.astype(float)))


def wood_grain(
    rng: np.random.Generator, light: Colour = (196, 150, 100), dark: Colour = (130, 85, 50),
    shape: tuple[int, int] = (128, 128),
) -> np.ndarray:  # fmt: skip
    """Wood: wavy growth rings running along the image's x axis, with noise."""
    y, x = _grid(shape)
    noise = value_noise(rng, shape, cells=4, octaves=3)
    rings = np.sin((y * rng.uniform(8, 14) + 1.5 * noise + 0.3 * np.sin(2 * np.pi * x)) * 2 * np.pi)
    t = 0.5 + 0.5 * np.sign(rings) * np.abs(rings) ** 0.4
    fine = value_noise(rng, shape, cells=32, octaves=1)
    return _u8(_mix(light, dark, 0.75 * t + 0.25 * fine))


def marble(
    rng: np.random.Generator, base: Colour = (235, 235, 230), vein: Colour = (90, 90, 100),
    shape: tuple[int, int] = (128, 128),
) -> np.ndarray:  # fmt: skip
    """Marble: sharp dark veins along a turbulent sine."""
    y, x = _grid(shape)
    noise = value_noise(rng, shape, cells=4, octaves=4)
    phase = 2 * np.pi * (2 * x + y * rng.uniform(1, 3)) + 6.0 * noise
    veins = 1.0 - np.abs(np.sin(phase))
    return _u8(_mix(base, vein, veins**6))


def woven_fabric(
    rng: np.random.Generator, warp: Colour, weft: Colour, shape: tuple[int, int] = (128, 128)
) -> np.ndarray:
    """Plain weave: alternating over/under threads with shading across each thread."""
    threads = 2 * int(rng.integers(8, 16))
    y, x = _grid(shape)
    ty, tx = y * threads, x * threads
    over = (np.floor(ty) + np.floor(tx)) % 2 == 0
    shade_warp = np.sin(np.pi * (tx % 1.0))  # bright in the middle of a thread, dark at its edges
    shade_weft = np.sin(np.pi * (ty % 1.0))
    image = np.where(over[..., None], _mix((0, 0, 0), warp, 0.5 + 0.5 * shade_warp),
                     _mix((0, 0, 0), weft, 0.5 + 0.5 * shade_weft))  # fmt: skip
    slub = value_noise(rng, shape, cells=8, octaves=2)
    return _u8(image * (0.85 + 0.3 * slub[..., None]))


def cardboard(rng: np.random.Generator, shape: tuple[int, int] = (128, 128)) -> np.ndarray:
    """Brown corrugated cardboard: fibre noise, faint flutes and a strip of packing tape."""
    y, x = _grid(shape)
    base = np.asarray((181, 140, 94), dtype=np.float64) * rng.uniform(0.9, 1.05)
    fibre = value_noise(rng, shape, cells=16, octaves=3)
    flutes = 0.5 + 0.5 * np.sin(2 * np.pi * y * rng.integers(20, 30))
    image = base * (0.85 + 0.2 * fibre[..., None] - 0.06 * flutes[..., None])
    tape = np.abs(x - rng.uniform(0.3, 0.7)) < 0.08
    image[tape] = image[tape] * 0.7 + np.array([220, 200, 160]) * 0.3
    text_block(rng, image, (0.1, 0.08, 0.3, 0.4), (60, 45, 35), 2)  # a shipping stamp
    return _u8(image)


def fruit_skin(
    rng: np.random.Generator, base: Colour, speckle: Colour, shape: tuple[int, int] = (128, 128),
    blush: Colour | None = None,
) -> np.ndarray:  # fmt: skip
    """Fruit skin: mottled base colour, small speckles, and an optional blush patch on one side."""
    y, x = _grid(shape)
    mottle = value_noise(rng, shape, cells=6, octaves=3)
    image = _mix(np.asarray(base) * 0.8, base, mottle)
    if blush is not None:
        # A blush on one side (centred at u = 0.5, the front) makes the fruit's rotation visible.
        side = np.exp(-(((x - 0.5) / 0.18) ** 2) - ((y - 0.45) / 0.35) ** 2)
        image = _mix(image, blush, 0.85 * side)
    dots = value_noise(rng, shape, cells=64, octaves=1) > 0.88
    image[dots] = image[dots] * 0.5 + np.asarray(speckle, dtype=np.float64) * 0.5
    return _u8(image)


def printed_label(
    rng: np.random.Generator, background: Colour, accent: Colour, shape: tuple[int, int] = (128, 256),
    ink: Colour = (25, 25, 30),
) -> np.ndarray:  # fmt: skip
    """A wrap-around product label: top/bottom colour bands, a logo and title on the front (centre column),
    and a small text panel and barcode on the back."""
    image = _solid(shape, background)
    band = rng.uniform(0.08, 0.16)
    _fill(image, 0.0, 0.0, band, 1.0, accent)
    _fill(image, 1.0 - band, 0.0, 1.0, 1.0, accent)
    logo = _blob(
        shape, rng.uniform(0.38, 0.45), 0.5, rng.uniform(0.14, 0.2), int(rng.integers(3, 7)), rng.uniform(0, 6)
    )
    image[logo] = np.asarray(accent, dtype=np.float64) * 0.6
    _fill(image, 0.66, 0.36, 0.76, 0.64, ink)  # the product name, bold
    text_block(rng, image, (0.79, 0.38, 0.86, 0.62), ink, 1)
    text_block(rng, image, (0.25, 0.04, 0.7, 0.2), ink, 6)  # ingredients panel on the back
    bars = rng.random(24) < 0.5
    for i, bar in enumerate(bars):  # barcode
        if bar:
            _fill(image, 0.3, 0.8 + i * 0.005, 0.6, 0.8 + (i + 1) * 0.005, ink)
    return _u8(image)


def package_front(
    rng: np.random.Generator, background: Colour, accent: Colour, shape: tuple[int, int] = (128, 128),
    ink: Colour = (250, 250, 245),
) -> np.ndarray:  # fmt: skip
    """Front of a package or cover (image top = object top): title block, illustration blob, a line of small print."""
    image = _solid(shape, background)
    _fill(image, 0.08, 0.14, 0.3, 0.9, accent)  # title block
    text_block(rng, image, (0.13, 0.2, 0.27, 0.84), ink, 2)
    art = _blob(shape, 0.6, 0.55, rng.uniform(0.13, 0.2), int(rng.integers(3, 8)), rng.uniform(0, 6))
    image[art] = accent
    text_block(rng, image, (0.86, 0.3, 0.93, 0.8), ink, 1)
    return _u8(image)


def book_cover(
    rng: np.random.Generator, cover: Colour, accent: Colour, shape: tuple[int, int] = (128, 128),
    ink: Colour = (250, 250, 245),
) -> np.ndarray:  # fmt: skip
    """Front cover of a book: a package front plus a darker hinge band along the left (spine) edge."""
    image = package_front(rng, cover, accent, shape, ink).astype(np.float64)
    _fill(image, 0.0, 0.0, 1.0, 0.08, np.asarray(cover, dtype=np.float64) * 0.6)
    return _u8(image)


def text_panel(
    rng: np.random.Generator, background: Colour, ink: Colour = (30, 30, 30), shape: tuple[int, int] = (128, 128)
) -> np.ndarray:
    """A side/back panel of small print (nutrition facts, instructions) under a heading bar."""
    image = _solid(shape, background)
    _fill(image, 0.08, 0.1, 0.16, 0.6, ink)
    text_block(rng, image, (0.24, 0.1, 0.9, 0.9), ink, 9)
    return _u8(image)


def motif(
    rng: np.random.Generator, background: Colour | np.ndarray, colour: Colour, shape: tuple[int, int] = (128, 256)
) -> np.ndarray:
    """A single painted flower/logo blob on the front (centre column) of ``background`` (a colour or an image)."""
    base = np.asarray(background, dtype=np.float64)
    image = _solid(shape, base) if base.ndim == 1 else base.copy()
    shape = image.shape[:2]
    blob = _blob(shape, 0.5, 0.5, rng.uniform(0.2, 0.3), int(rng.integers(4, 7)), rng.uniform(0, 6))
    centre = _blob(shape, 0.5, 0.5, 0.08, 1, 0.0)
    image[blob] = colour
    image[centre] = np.asarray(colour, dtype=np.float64) * 0.5 + 127
    return _u8(image)


def book_spine(
    rng: np.random.Generator, cover: Colour, accent: Colour, shape: tuple[int, int] = (128, 128),
    ink: Colour = (250, 250, 245),
) -> np.ndarray:  # fmt: skip
    """Spine: cover colour with a title running along it and publisher band at one end."""
    image = _solid(shape, cover)
    _fill(image, 0.25, 0.0, 0.75, 0.12, accent)
    text_block(rng, image, (0.35, 0.2, 0.65, 0.85), ink, 1)
    return _u8(image)


def page_edges(rng: np.random.Generator, shape: tuple[int, int] = (128, 128)) -> np.ndarray:
    """Stacked paper seen from the side: off-white with fine horizontal lines."""
    y, _ = _grid(shape)
    lines = 0.5 + 0.5 * np.sin(2 * np.pi * y * rng.integers(30, 45))
    return _u8(_mix((245, 240, 225), (200, 195, 180), 0.6 * lines))


def dice_face(pips: int, body: Colour, pip: Colour, size: int = 128) -> np.ndarray:
    """A die face with ``pips`` (1..6) dots in the standard layout."""
    layouts = {
        1: [(0.5, 0.5)],
        2: [(0.25, 0.25), (0.75, 0.75)],
        3: [(0.25, 0.25), (0.5, 0.5), (0.75, 0.75)],
        4: [(0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75)],
        5: [(0.25, 0.25), (0.25, 0.75), (0.5, 0.5), (0.75, 0.25), (0.75, 0.75)],
        6: [(0.25, 0.25), (0.5, 0.25), (0.75, 0.25), (0.25, 0.75), (0.5, 0.75), (0.75, 0.75)],
    }
    y, x = _grid((size, size))
    mask = np.zeros((size, size), dtype=bool)
    for cy, cx in layouts[pips]:
        mask |= np.hypot(y - cy, x - cx) < 0.1
    return _u8(_mix(body, pip, mask.astype(float)))


def glyph_face(letter: str, background: Colour, ink: Colour, size: int = 128) -> np.ndarray:
    """A toy-block face: a bold bitmap letter inside a border."""
    image = _solid((size, size), background)
    border = np.ones((size, size), dtype=bool)
    border[12:-12, 12:-12] = False
    image[border] = np.asarray(ink, dtype=np.float64) * 0.7 + np.asarray(background, dtype=np.float64) * 0.3
    bitmap = np.array([[c == "1" for c in row] for row in _FONT[letter]])
    cell = size // 11
    glyph = np.kron(bitmap, np.ones((cell, cell), dtype=bool))
    top, left = (size - glyph.shape[0]) // 2, (size - glyph.shape[1]) // 2
    region = image[top : top + glyph.shape[0], left : left + glyph.shape[1]]
    region[glyph] = ink
    return _u8(image)


def letters() -> list[str]:
    """The letters :func:`glyph_face` can draw."""
    return sorted(_FONT)


def screen(rng: np.random.Generator, shape: tuple[int, int] = (256, 128)) -> np.ndarray:
    """A phone home screen (portrait): wallpaper gradient, status bar, a grid of app icons and a dock."""
    y, x = _grid(shape)
    top, bottom = pick(rng, "bright", 2)
    image = _mix(top, bottom, y + 0.2 * np.sin(2 * np.pi * x))
    image *= 0.75
    _fill(image, 0.0, 0.0, 0.05, 1.0, (15, 15, 20))  # status bar
    _fill(image, 0.015, 0.07, 0.035, 0.25, (230, 230, 230))  # clock
    icons = PALETTES["bright"]
    for row in range(int(rng.integers(3, 6))):
        for col in range(4):
            colour = icons[rng.integers(len(icons))]
            _fill(image, 0.1 + row * 0.12, 0.08 + col * 0.23, 0.18 + row * 0.12, 0.24 + col * 0.23, colour)
    _fill(image, 0.86, 0.05, 0.97, 0.95, (220, 220, 225))  # dock
    for col in range(4):
        _fill(image, 0.88, 0.1 + col * 0.22, 0.95, 0.24 + col * 0.22, icons[rng.integers(len(icons))])
    return _u8(image)


def keypad(
    rng: np.random.Generator, body: Colour, key: Colour, shape: tuple[int, int] = (256, 96), rows: int = 6,
    cols: int = 3,
) -> np.ndarray:  # fmt: skip
    """Top of a remote / calculator (portrait, image top = device top): a red power key or display at the top
    and a grid of keys below it."""
    image = _solid(shape, body)
    y, x = _grid(shape)
    power = np.hypot((y - 0.08) * shape[0] / shape[1], x - 0.22) < 0.1
    image[power] = (200, 30, 30)
    _fill(image, 0.05, 0.45, 0.12, 0.85, np.asarray(key, dtype=np.float64) * 0.8)
    ring = np.abs(np.hypot((y - 0.26) * shape[0] / shape[1], x - 0.5) - 0.28) < 0.06  # navigation ring
    image[ring] = key
    for r in range(rows):
        for c in range(cols):
            colour = key if rng.random() > 0.15 else pick(rng, "bright")
            _fill(image, 0.42 + r * 0.09, 0.12 + c * 0.27, 0.48 + r * 0.09, 0.32 + c * 0.27, colour)
    return _u8(image)


def clock_face(rng: np.random.Generator, dial: Colour, ink: Colour, size: int = 128) -> np.ndarray:
    """An analogue dial: 12 tick marks (12 o'clock longer) and hour/minute hands at a random time."""
    y, x = _grid((size, size))
    dy, dx = y - 0.5, x - 0.5
    r, angle = np.hypot(dy, dx), np.arctan2(dx, -dy)  # angle 0 at 12 o'clock, clockwise
    image = _solid((size, size), dial)
    tick = (np.abs(((angle / (2 * np.pi / 12)) + 0.5) % 1.0 - 0.5) < 0.08) & (r > 0.36) & (r < 0.44)
    twelve = (np.abs(dx) < 0.025) & (dy < -0.3) & (dy > -0.45)
    image[tick | twelve] = ink
    hour, minute = rng.uniform(0, 2 * np.pi, size=2)
    for hand_angle, length, width in ((hour, 0.22, 0.03), (minute, 0.34, 0.018)):
        along = dx * np.sin(hand_angle) - dy * np.cos(hand_angle)
        across = dx * np.cos(hand_angle) + dy * np.sin(hand_angle)
        image[(along > -0.03) & (along < length) & (np.abs(across) < width)] = ink
    image[r > 0.48] = np.asarray(ink, dtype=np.float64) * 0.5 + np.asarray(dial, dtype=np.float64) * 0.5
    return _u8(image)


def photo(rng: np.random.Generator, shape: tuple[int, int] = (128, 160)) -> np.ndarray:
    """A landscape snapshot: sky gradient, sun, two hill layers and a white photo border."""
    y, x = _grid(shape)
    sky = _mix((90, 150, 230), (200, 225, 250), y * 1.6)
    hills = np.asarray(pick(rng, "earth"), dtype=np.float64)
    ridge1 = 0.55 + 0.08 * np.sin(2 * np.pi * (x * rng.uniform(0.8, 1.6) + rng.uniform()))
    ridge2 = 0.72 + 0.05 * np.sin(2 * np.pi * (x * rng.uniform(1.5, 2.5) + rng.uniform()))
    image = sky
    image[y > ridge1] = (70, 130, 70)
    image[y > ridge2] = hills
    sun = np.hypot((y - 0.22) * shape[0] / shape[1], x - rng.uniform(0.2, 0.8)) < 0.08
    image[sun] = (255, 220, 90)
    border = (y < 0.06) | (y > 0.94) | (x < 0.05) | (x > 0.95)
    image[border] = (245, 245, 240)
    return _u8(image)


def box_atlas(faces: Mapping[str, np.ndarray], fallback: Colour = (200, 200, 200), cell: int = 128) -> np.ndarray:
    """Packs per-face images into the 3 x 2 atlas used by ``primitives.box(..., uv_layout="atlas")``.

    Args:
        faces: images keyed by face name (``"+x"``, ``"-x"``, ``"+y"``, ``"-y"``, ``"+z"``, ``"-z"``), any size
            (nearest-neighbour resampled to ``cell``); a missing face is filled with ``fallback``.
        fallback: RGB colour of faces not given.
        cell: side of one atlas cell in pixels.

    Returns:
        ``(2 * cell, 3 * cell, 3)`` uint8.
    """
    atlas = np.empty((2 * cell, 3 * cell, 3), dtype=np.uint8)
    for index, name in enumerate(BOX_FACES):
        row, col = index // 3, index % 3
        if name in faces:
            image = faces[name]
            ys = np.arange(cell) * image.shape[0] // cell
            xs = np.arange(cell) * image.shape[1] // cell
            tile = image[ys][:, xs]
        else:
            tile = np.asarray(fallback, dtype=np.uint8)
        atlas[row * cell : (row + 1) * cell, col * cell : (col + 1) * cell] = tile
    return atlas
