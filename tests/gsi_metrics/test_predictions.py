"""The input contract of predictions (``gsi_metrics.predictions``): a corpus of bad and unusual inputs.

Every case states what must come out: a status naming the problem (never an exception, never a black or white
image scored as the model's failure), and for accepted inputs, exactly the pixels a person would see.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gsi_metrics.predictions import (
    INPUT_STATUSES,
    MAX_PIXELS,
    RejectedPrediction,
    load_prediction,
    read_pixels,
)

SIZE = (48, 32)  # width, height of the "source"
#: A colourful RGB image at the source size (the "correct edit").
PICTURE = (np.indices((32, 48)).sum(axis=0)[..., None] * np.array([5, 3, 1]) % 256).astype(np.uint8)
SOURCE = np.full((32, 48, 3), 90, np.uint8)
#: Incompressible pixels (a PNG of several kilobytes, to truncate).
NOISE = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _load(prediction: Any, value_range: str = "auto"):
    return load_prediction(prediction, SIZE, background=SOURCE, value_range=value_range)


def _assert_status(prediction: Any, status: str, *words: str, value_range: str = "auto") -> None:
    loaded = _load(prediction, value_range)
    assert loaded.status == status, (loaded.status, loaded.message)
    assert loaded.image is None and status in INPUT_STATUSES
    for word in words:
        assert word in loaded.message, loaded.message


def _assert_pixels(prediction: Any, expected: np.ndarray, value_range: str = "auto", tolerance: int = 1) -> dict:
    loaded = _load(prediction, value_range)
    assert loaded.status == "ok", loaded.message
    assert loaded.image.shape == (32, 48, 3) and loaded.image.dtype == np.uint8
    assert np.abs(loaded.image.astype(int) - expected.astype(int)).max() <= tolerance
    return loaded.notes


# ---------------------------------------------------------------------------------------------------------
# Files and bytes


def _flip_chunk_length(data: bytes) -> bytes:
    """A PNG with one bit of its IHDR chunk's length flipped."""
    corrupt = bytearray(data)
    corrupt[8 + 3] ^= 0x40
    return bytes(corrupt)


def _bomb_png(width: int, height: int) -> bytes:
    """A valid, tiny PNG header claiming ``width x height`` 1-bit pixels (the data is not needed to refuse it)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = zlib.compress(b"\x00" * 64)
    idat = struct.pack(">I", len(data)) + b"IDAT" + data + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat


def test_a_png_file_and_its_bytes_read_exactly(tmp_path: Path) -> None:
    path = tmp_path / "edit.PNG"  # upper-case extension
    path.write_bytes(_png(Image.fromarray(PICTURE)))
    _assert_pixels(path, PICTURE, tolerance=0)
    _assert_pixels(str(path), PICTURE, tolerance=0)
    _assert_pixels(path.read_bytes(), PICTURE, tolerance=0)
    _assert_pixels({"bytes": None, "path": str(path)}, PICTURE, tolerance=0)


@pytest.mark.parametrize(
    ("make", "status", "words"),
    [
        (lambda p: p.write_bytes(b""), "unreadable", ("empty",)),
        (lambda p: p.write_bytes(b"hello, not an image"), "unreadable", ("no image format",)),
        (lambda p: p.write_bytes(_png(Image.fromarray(NOISE))[:600]), "unreadable", ("could not be decoded",)),
        (lambda p: p.write_bytes(_flip_chunk_length(_png(Image.fromarray(PICTURE)))), "unreadable", ()),
        (lambda p: p.mkdir(), "unreadable", ("is a directory",)),
        (lambda p: p.symlink_to(p.parent / "elsewhere.png"), "missing", ("dangling symbolic link",)),
        (lambda p: None, "missing", ("does not exist",)),
        (lambda p: p.write_bytes(_bomb_png(20000, 20000)), "too_large", ("before decoding",)),
        (lambda p: p.write_bytes(_bomb_png(8200, 8200)), "too_large", ("more than",)),
        (lambda p: Image.new("RGB", (96, 32)).save(p, format="PNG"), "wrong_size", ("aspect ratios differ",)),
    ],
    ids=["empty", "text", "truncated", "flipped-chunk-length", "directory", "dangling-link", "absent", "bomb",
         "over-limit", "wrong-aspect"],
)  # fmt: skip
def test_bad_files_get_a_status_and_a_reason(make: Any, status: str, words: tuple[str, ...], tmp_path: Path) -> None:
    path = tmp_path / "edit.png"
    make(path)
    _assert_status(path, status, *words)
    if path.is_file():
        _assert_status(path.read_bytes(), status, *words[1:] if status == "unreadable" else words)


def test_sixteen_bit_grey_png_is_scaled_not_clipped_to_white() -> None:
    grey = (np.indices((32, 48))[1] * 1365).astype(np.uint16)  # 0 .. 64155
    data = _png(Image.fromarray(grey))
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    expected = np.repeat(np.round(grey / 257.0).astype(np.uint8)[..., None], 3, axis=2)
    _assert_pixels(data, expected)


def test_exif_orientation_is_applied() -> None:
    upright = Image.fromarray(PICTURE)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera stores for orientation 6 (90 deg CW)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=98, exif=exif.tobytes())
    loaded = _load(buffer.getvalue())  # unrotated, 32x48 would be refused: another aspect ratio
    assert loaded.status == "ok" and loaded.notes["exif_orientation"] == 6
    assert np.abs(loaded.image.astype(int) - PICTURE).mean() < 8  # JPEG noise; a wrong turn differs by ~70


def test_transparency_shows_the_source_image() -> None:
    rgba = np.dstack([PICTURE, np.full((32, 48), 255, np.uint8)])
    rgba[:, :24, 3] = 0  # left half transparent
    expected = PICTURE.copy()
    expected[:, :24] = SOURCE[:, :24]
    notes = _assert_pixels(_png(Image.fromarray(rgba)), expected, tolerance=0)
    assert notes["alpha"] == "composited over the source image" and notes["transparent_fraction"] == 0.5
    half = rgba.copy()
    half[..., 3] = 128
    blend = np.round(PICTURE * (128 / 255) + SOURCE * (127 / 255))
    _assert_pixels(half, blend)
    opaque = np.dstack([PICTURE, np.full((32, 48), 255, np.uint8)])
    assert "alpha" not in _assert_pixels(opaque, PICTURE, tolerance=0)


def test_palette_with_a_transparent_colour_and_grey_with_alpha() -> None:
    palette = Image.fromarray(PICTURE).quantize(8)
    palette.info["transparency"] = 0
    loaded = _load(_png(palette))
    assert loaded.status == "ok" and "alpha" in loaded.notes
    la = Image.fromarray(np.dstack([PICTURE[..., 0], np.zeros((32, 48), np.uint8)]), mode="LA")
    _assert_pixels(la, SOURCE, tolerance=0)  # fully transparent: the unchanged source


def test_animation_first_frame_cmyk_and_webp() -> None:
    frames = [Image.fromarray(PICTURE), Image.fromarray(255 - PICTURE)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    loaded = _load(buffer.getvalue())
    assert loaded.status == "ok" and loaded.notes["frames"] == "first of 2 frames read"
    cmyk = io.BytesIO()
    Image.fromarray(PICTURE).convert("CMYK").save(cmyk, format="JPEG", quality=98)
    _assert_pixels(cmyk.getvalue(), PICTURE, tolerance=40)
    webp = io.BytesIO()
    Image.fromarray(PICTURE).save(webp, format="WEBP", lossless=True)
    _assert_pixels(webp.getvalue(), PICTURE, tolerance=0)


def test_other_resolutions_of_the_same_aspect_are_resized_and_noted() -> None:
    notes = _assert_pixels(Image.new("RGB", (96, 64), (10, 20, 30)), np.full((32, 48, 3), (10, 20, 30)), tolerance=0)
    assert notes["resized_from"] == [96, 64]


# ---------------------------------------------------------------------------------------------------------
# Arrays


def test_float_ranges_are_detected_from_the_whole_array() -> None:
    unit = PICTURE / 255.0
    assert _assert_pixels(unit, PICTURE)["value_range"] == "0-1"
    assert _assert_pixels(unit * 2 - 1, PICTURE)["value_range"] == "-1-1"
    assert _assert_pixels(PICTURE.astype(np.float32), PICTURE)["value_range"] == "0-255"
    assert _assert_pixels((unit * 2 - 1).astype(np.float16), PICTURE, tolerance=2)["value_range"] == "-1-1"
    overshoot = unit.copy()
    overshoot[0, 0] = [-0.004, 1.008, 0.5]  # a generator's small overshoot: clipped, not refused
    assert _assert_pixels(overshoot, np.clip(np.round(overshoot * 255), 0, 255))["value_range"] == "0-1"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_a_status_not_a_black_image(bad: float) -> None:
    image = PICTURE / 255.0
    image[5, 5, 1] = bad
    _assert_status(image, "invalid_values", "1 NaN or infinite")


def test_declared_ranges_are_used_and_enforced() -> None:
    bright_half = PICTURE / 255.0  # in [0, 1]: also a dark -1..1 image
    _assert_pixels(bright_half, np.round((bright_half + 1) / 2 * 255), value_range="-1-1")
    _assert_pixels(PICTURE / 255.0 * 65535, PICTURE, value_range="0-65535")
    _assert_status(PICTURE.astype(np.float32) * 2, "invalid_values", "declared range 0-255", value_range="0-255")
    _assert_status(PICTURE / 255.0 * 3, "invalid_values", "declared range 0-1", value_range="0-1")
    with pytest.raises(ValueError, match="unknown value_range '0-100'"):
        _load(PICTURE, value_range="0-100")


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.full((32, 48, 3), 1000.0), ("outside 0-1, -1-1 and 0-255",)),
        (np.full((32, 48, 3), 300, np.int64), ("outside 0-255", "uint16")),
        (np.full((32, 48, 3), -3, np.int32), ("outside 0-255",)),
    ],
    ids=["float-1000", "int-300", "negative-int"],
)
def test_values_outside_every_range_are_refused(array: np.ndarray, words: tuple[str, ...]) -> None:
    _assert_status(array, "invalid_values", *words)


def test_integer_bool_and_sixteen_bit_arrays() -> None:
    _assert_pixels(PICTURE.astype(np.int64), PICTURE, tolerance=0)
    mask = np.zeros((32, 48), bool)
    mask[:, 24:] = True
    expected = np.repeat((mask * 255).astype(np.uint8)[..., None], 3, axis=2)
    assert _assert_pixels(mask, expected, tolerance=0)["value_range"] == "bool"
    _assert_pixels(PICTURE.astype(np.uint16) * 257, PICTURE, tolerance=0)


def test_layouts_chw_gray_and_a_batch_of_one() -> None:
    assert _assert_pixels(np.moveaxis(PICTURE, -1, 0), PICTURE, tolerance=0)["layout"] == "CHW"
    grey = PICTURE[..., :1]
    _assert_pixels(grey, np.repeat(grey, 3, axis=2), tolerance=0)
    _assert_pixels(grey[..., 0], np.repeat(grey, 3, axis=2), tolerance=0)
    _assert_pixels(PICTURE[None], PICTURE, tolerance=0)
    _assert_pixels(np.moveaxis(PICTURE, -1, 0)[None], PICTURE, tolerance=0)


@pytest.mark.parametrize(
    ("prediction", "words"),
    [
        (np.zeros((2, 32, 48, 3), np.uint8), ("batch of 2",)),
        (np.zeros((32, 48, 5), np.uint8), ("shape (32, 48, 5)",)),
        (np.zeros(48, np.uint8), ("shape (48,)",)),
        (np.zeros((0, 0, 3), np.uint8), ("no pixels",)),
        (np.zeros((32, 48, 3), np.complex64), ("dtype complex64",)),
        (np.array([[object()] * 48] * 32), ("dtype object",)),
        ({"image": PICTURE}, ("dict with keys ['image']",)),
        (42, ("is a int",)),
        ([[0, 1], [2, 3]], ("is a list",)),
    ],
    ids=["batch", "five-channels", "1d", "empty", "complex", "object", "dict", "int", "list"],
)
def test_objects_that_are_not_images(prediction: Any, words: tuple[str, ...]) -> None:
    _assert_status(prediction, "unsupported_format", *words)


def test_too_large_arrays_are_refused_before_reading_a_value() -> None:
    huge = np.broadcast_to(np.uint8(0), (8193, 8193, 3))  # no memory behind it
    assert huge.shape[0] * huge.shape[1] > MAX_PIXELS
    _assert_status(huge, "too_large", "more than")


# ---------------------------------------------------------------------------------------------------------
# PIL modes


def test_pil_float_and_integer_modes() -> None:
    grey = PICTURE[..., 0]
    expected = np.repeat(grey[..., None], 3, axis=2)
    _assert_pixels(Image.fromarray(grey.astype(np.float32) / 255.0), expected)  # mode F in [0, 1]
    _assert_pixels(Image.fromarray(grey.astype(np.uint16) * 257), expected, tolerance=0)  # mode I;16
    _assert_pixels(Image.fromarray(grey.astype(np.int32)), expected, tolerance=0)  # mode I, 8-bit values
    _assert_status(Image.fromarray(np.full((32, 48), 5000, np.int32)), "invalid_values")
    _assert_pixels(Image.fromarray(grey > 128), np.repeat(((grey > 128) * 255)[..., None], 3, axis=2), tolerance=0)


# ---------------------------------------------------------------------------------------------------------
# Tensors


def test_tensors_in_every_common_layout_and_dtype() -> None:
    torch = pytest.importorskip("torch")
    chw = torch.from_numpy(np.moveaxis(PICTURE, -1, 0).copy())
    _assert_pixels(chw, PICTURE, tolerance=0)
    _assert_pixels(chw.float() / 255.0, PICTURE)
    _assert_pixels((chw.float() / 127.5 - 1.0)[None], PICTURE)  # diffusers-style batch of one in [-1, 1]
    _assert_pixels((chw.float() / 255.0).to(torch.bfloat16), PICTURE, tolerance=2)
    _assert_pixels((chw.float() / 255.0).requires_grad_(), PICTURE)
    nan = chw.float() / 255.0
    nan[0, 0, 0] = float("nan")
    _assert_status(nan, "invalid_values", "NaN")


def test_a_batch_of_one_from_a_list_or_a_pipeline_output_and_larger_batches_refused() -> None:
    torch = pytest.importorskip("torch")
    from types import SimpleNamespace

    chw = torch.from_numpy(np.moveaxis(PICTURE, -1, 0).copy()).float() / 255.0
    notes = _assert_pixels([Image.fromarray(PICTURE)], PICTURE, tolerance=0)
    assert notes["batch"] == "the only image of a batch of 1"
    _assert_pixels((chw,), PICTURE)
    _assert_pixels(SimpleNamespace(images=[Image.fromarray(PICTURE)]), PICTURE, tolerance=0)  # output_type="pil"
    _assert_pixels(SimpleNamespace(images=chw[None].to(torch.bfloat16)), PICTURE, tolerance=2)  # output_type="pt"
    _assert_pixels(SimpleNamespace(images=(PICTURE[None] / 255.0)), PICTURE)  # output_type="np"
    _assert_status([Image.fromarray(PICTURE)] * 2, "unsupported_format", "batch of 2 images", "images[0]")
    _assert_status(SimpleNamespace(images=np.zeros((3, 32, 48, 3))), "unsupported_format", "batch of 3 images")
    _assert_status(SimpleNamespace(images=None), "unsupported_format", "SimpleNamespace")
    _assert_status([], "unsupported_format", "is a list")


# ---------------------------------------------------------------------------------------------------------
# Rejections carried through storage


def test_a_rejection_keeps_its_status_and_reason_through_bytes() -> None:
    rejected = RejectedPrediction("invalid_values", "prediction array has 3 NaN")
    _assert_status(rejected, "invalid_values", "3 NaN")
    _assert_status(rejected.to_bytes(), "invalid_values", "3 NaN")
    assert read_pixels(None).status == "missing"
