"""The input contract for edited images: what a prediction may be, and exactly how each kind is read.

Every way into scoring (``gsi-bench eval``, the ``evaluate`` modules, :func:`gsi_metrics.scoring.score_sample`,
the fidelity suite) reads predictions with :func:`load_prediction`. It never raises on bad input: it returns a
:class:`LoadedPrediction` whose ``status`` names what was wrong (:data:`INPUT_STATUSES`) and whose ``message``
says which input, why, and what to do, so a bad output scores 0, is counted, and the rest of the run goes on.

What a prediction may be
------------------------
- ``None``: no output (``missing``).
- A path (``str`` or ``os.PathLike``) to an image file, encoded image bytes, or a ``datasets`` Image value
  ``{"bytes": ..., "path": ...}``: decoded with Pillow (PNG, JPEG, WebP, BMP, TIFF, GIF, ...). The EXIF
  orientation of a photo is applied; of an animation, the first frame is read. A missing file or a dangling
  symbolic link is ``missing``; a directory, an empty or undecodable file is ``unreadable``.
- A PIL image in any mode: ``1``, ``L``, ``P``, ``RGB``, ``CMYK``, ``YCbCr``... are converted to RGB by
  Pillow; modes with transparency (``RGBA``, ``LA``, ``PA``, ``P`` with a transparent colour) keep it; 16-bit
  (``I;16*``), 32-bit integer (``I``) and float (``F``) images are read as arrays (below).
- An array: a numpy array, or any array-like (torch tensors are detached and moved to the CPU; bfloat16 and
  float16 become float32). Layouts: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)`` with ``C`` = 1 (gray),
  2 (gray + alpha), 3 (RGB) or 4 (RGBA); a leading batch axis of size 1 is dropped. ``(H, W, C)`` wins when
  both readings are possible.
- A batch of one: a list or tuple holding one of the above, or a pipeline's output (diffusers'
  ``ImagePipelineOutput``, whose ``images`` is a list, array or tensor) holding one image. A batch of several
  images is ``unsupported_format``: one image per sample.

Value ranges (:data:`VALUE_RANGES`)
-----------------------------------
``value_range="auto"`` (the default) reads the range from the dtype, and for floats from the whole array,
never from one pixel:

- ``uint8``: 0-255; ``uint16`` (and 16-bit images): 0-65535; ``bool``: False = black, True = white;
- other integers: 0-255 when every value lies in it, otherwise ``invalid_values`` (declare the range);
- floats: any NaN or infinity is ``invalid_values`` (never a black image). Otherwise the first of 0-1, -1-1
  and 0-255 that holds every value, each with a tolerance of ``FLOAT_RANGE_TOLERANCE`` of its width for
  the overshoot generators produce (then clipped); values outside all three are ``invalid_values``.
  Ambiguous on purpose-made inputs: a -1-1 image without a negative value reads as 0-1, and a 0-255 image
  whose brightest value is at most 1 as 0-1. Declare the range (``value_range="-1-1"``, ``--value-range``)
  when a generator's outputs can be that dark or that bright.

A declared range (``"0-1"``, ``"-1-1"``, ``"0-255"``, ``"0-65535"``) is used as given; values outside it
(beyond the tolerance, for floats) are ``invalid_values``.

Channels and size
-----------------
Gray is repeated to RGB. Transparency (any alpha below 255) is read as an edit layer over the **source
image**: a transparent pixel shows the source, as it would under the source in an editing program (an
output with every pixel transparent is the unchanged source). Predictions of another resolution with the
source's aspect ratio (within 1%) are resized to the source's, bilinearly; another aspect ratio is
``wrong_size`` (profile ``paper`` stretches it instead: ``any_aspect_ratio``). More than :data:`MAX_PIXELS` pixels
is ``too_large`` (checked from the file header, before decoding, so a decompression bomb is refused without being
decoded). What was done to read a prediction (range, layout, resize, alpha, frames, orientation) is recorded in
:attr:`LoadedPrediction.notes`.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Accepted values of ``value_range``.
VALUE_RANGES = ("auto", "0-1", "-1-1", "0-255", "0-65535")
ValueRange = Literal["auto", "0-1", "-1-1", "0-255", "0-65535"]
#: The most pixels a prediction may have (64 Mpx: 8192 x 8192).
MAX_PIXELS = 8192 * 8192
#: Overshoot allowed beyond a float range, as a fraction of its width (then clipped).
FLOAT_RANGE_TOLERANCE = 0.01
#: Largest relative difference of aspect ratios that is still resized rather than refused.
ASPECT_TOLERANCE = 0.01

#: Statuses of predictions that could not be read, and what each means. Each scores 0 on every axis.
INPUT_STATUSES: dict[str, str] = {
    "missing": "no output for the sample: None, or no file of that name",
    "unreadable": "a file or bytes that do not decode as an image (empty, truncated, corrupt, a directory)",
    "unsupported_format": "not an image of the contract: another type, array shape, batch or image mode",
    "invalid_values": "NaN or infinite values, or values outside the declared (or every accepted) range",
    "too_large": f"more than {MAX_PIXELS:,} pixels",
    "wrong_size": "an aspect ratio other than the source's",
}

_RANGE_BOUNDS: dict[str, tuple[float, float]] = {
    "0-1": (0.0, 1.0),
    "-1-1": (-1.0, 1.0),
    "0-255": (0.0, 255.0),
    "0-65535": (0.0, 65535.0),
}
#: The float ranges ``auto`` tries, in order.
_AUTO_FLOAT_RANGES = ("0-1", "-1-1", "0-255")
#: PIL modes read as arrays, keeping their bit depth; every other mode is converted by Pillow.
_ARRAY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
#: Bytes that open a rejection carried inside a stored prediction (see :class:`RejectedPrediction`).
_REJECTION_MAGIC = b"GSI-BENCH-REJECTED-PREDICTION\n"


@dataclass(frozen=True)
class LoadedPrediction:
    """A prediction as scoring reads it.

    Attributes:
        image: ``(H, W, 3)`` uint8 at the source size (``(H, W, 3 or 4)`` at its own size from
            :func:`read_pixels`), or None when the prediction could not be read.
        status: ``ok`` or one of :data:`INPUT_STATUSES`.
        message: why the status is not ``ok``: which input, what was wrong, what to do.
        notes: how it was read (value range, layout, resize, alpha, frames, orientation); JSON-ready.
    """

    image: np.ndarray | None
    status: str
    message: str = ""
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RejectedPrediction:
    """A prediction already found unreadable (status and message), e.g. when an ``evaluate`` module encoded it.

    It travels through Arrow as bytes (:meth:`to_bytes`), so the reason reaches the per-sample results
    instead of a bare "unreadable".
    """

    status: str
    message: str

    def to_bytes(self) -> bytes:
        return _REJECTION_MAGIC + json.dumps({"status": self.status, "message": self.message}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> RejectedPrediction | None:
        """The rejection stored in ``data``, or None when ``data`` is not one."""
        if not data.startswith(_REJECTION_MAGIC):
            return None
        content = json.loads(data[len(_REJECTION_MAGIC) :])
        return cls(str(content["status"]), str(content["message"]))


def _failure(status: str, message: str) -> LoadedPrediction:
    return LoadedPrediction(None, status, message)


def check_value_range(value_range: str) -> None:
    """Raises ValueError for a ``value_range`` that is not one of :data:`VALUE_RANGES`."""
    if value_range not in VALUE_RANGES:
        raise ValueError(f"unknown value_range {value_range!r}; choose one of {', '.join(VALUE_RANGES)}")


def load_prediction(
    prediction: Any,
    size: tuple[int, int],
    background: np.ndarray | None = None,
    value_range: str = "auto",
    any_aspect_ratio: bool = False,
) -> LoadedPrediction:
    """Reads an edited image as ``(H, W, 3)`` uint8 at the source ``size = (width, height)`` (module docstring).

    Args:
        prediction: anything the contract accepts; anything else gets a status, never an exception.
        size: the source image's ``(width, height)``.
        background: the source image (``(H, W, 3)`` uint8), shown through transparent pixels; without it,
            transparency is dropped (alpha ignored) and noted.
        value_range: one of :data:`VALUE_RANGES`.
        any_aspect_ratio: stretch an image of another aspect ratio to the source size (bicubic, as the reference's
            evaluation does; profile ``paper``) instead of refusing it as ``wrong_size``.

    Raises:
        ValueError: only for an unknown ``value_range`` (an argument error, not bad input).
    """
    loaded = read_pixels(prediction, value_range)
    return loaded if loaded.image is None else fit_to_source(loaded, size, background, any_aspect_ratio)


def read_pixels(prediction: Any, value_range: str = "auto") -> LoadedPrediction:
    """Reads a prediction at its own size as uint8 RGB or RGBA (``(H, W, 3)`` or ``(H, W, 4)``)."""
    check_value_range(value_range)
    try:
        return _read(prediction, value_range)
    except MemoryError:
        return _failure("too_large", "prediction: not enough memory to decode it")
    except Exception as error:  # noqa: BLE001 (any decoder failure is this input's status, never the run's)
        return _failure("unreadable", f"prediction could not be read ({type(error).__name__}: {error})")


def _read(prediction: Any, value_range: str) -> LoadedPrediction:
    if isinstance(prediction, RejectedPrediction):
        return _failure(prediction.status, prediction.message)
    if isinstance(prediction, Mapping) and ("bytes" in prediction or "path" in prediction):
        # a `datasets` Image value that was not decoded
        prediction = prediction.get("bytes") if prediction.get("bytes") is not None else prediction.get("path")
    if prediction is None:
        return _failure("missing", "no prediction was given for this sample")
    batch = _single_image_batch(prediction)
    if batch is not None:
        if len(batch) != 1:
            return _failure(
                "unsupported_format",
                f"prediction is a batch of {len(batch)} images; pass one image per sample (e.g. pipe(...).images[0])",
            )
        loaded = _read(batch[0], value_range)
        return replace(loaded, notes={**loaded.notes, "batch": "the only image of a batch of 1"})
    if isinstance(prediction, (str, os.PathLike)):
        return _read_file(Path(prediction), value_range)
    if isinstance(prediction, (bytes, bytearray, memoryview)):
        return _read_encoded(bytes(prediction), "prediction bytes", value_range)
    if isinstance(prediction, Image.Image):
        return _read_pil(prediction, value_range)
    array = _as_array(prediction)
    if array is None:
        what = f"a {type(prediction).__name__}"
        if isinstance(prediction, Mapping):
            what += f" with keys {sorted(map(str, prediction))[:6]}"
        return _failure(
            "unsupported_format",
            f"prediction is {what}, not an image; give a PIL image, an array, a path, encoded bytes or None",
        )
    return _read_array(array, value_range, {})


def _read_file(path: Path, value_range: str) -> LoadedPrediction:
    if path.is_symlink() and not path.exists():
        return _failure("missing", f"prediction file {path} is a dangling symbolic link to {os.readlink(path)}")
    if not path.exists():
        return _failure("missing", f"prediction file {path} does not exist")
    if path.is_dir():
        return _failure("unreadable", f"prediction path {path} is a directory, not an image file")
    try:
        data = path.read_bytes()
    except OSError as error:
        return _failure("unreadable", f"prediction file {path} could not be read ({error.strerror or error})")
    return _read_encoded(data, f"prediction file {path}", value_range)


def _read_encoded(data: bytes, what: str, value_range: str) -> LoadedPrediction:
    rejection = RejectedPrediction.from_bytes(data)
    if rejection is not None:
        return _failure(rejection.status, rejection.message)
    if not data:
        return _failure("unreadable", f"{what} is empty (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        return _failure("too_large", f"{what} was refused before decoding: {error}")
    except UnidentifiedImageError:
        return _failure("unreadable", f"{what} is in no image format Pillow reads (it starts with {data[:12]!r})")
    except Exception as error:  # noqa: BLE001 (Pillow raises many types for bad data)
        return _failure("unreadable", f"{what} could not be decoded as an image ({type(error).__name__}: {error})")
    width, height = image.size
    if width * height > MAX_PIXELS:
        return _failure("too_large", f"{what} is {width}x{height} pixels, more than the {MAX_PIXELS:,} allowed")
    notes: dict[str, Any] = {"format": image.format}
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        notes["frames"] = f"first of {frames} frames read"
    try:
        image.load()
        orientation = image.getexif().get(0x0112, 1)
        if orientation not in (None, 1):
            image = ImageOps.exif_transpose(image)
            notes["exif_orientation"] = int(orientation)
    except Exception as error:  # noqa: BLE001 (truncated or corrupt data surfaces while decoding)
        return _failure("unreadable", f"{what} could not be decoded as an image ({type(error).__name__}: {error})")
    loaded = _read_pil(image, value_range)
    return replace(loaded, notes={**notes, **loaded.notes}) if loaded.image is not None else loaded


def _read_pil(image: Image.Image, value_range: str) -> LoadedPrediction:
    width, height = image.size
    if width * height > MAX_PIXELS:
        return _failure("too_large", f"prediction image is {width}x{height} pixels, more than {MAX_PIXELS:,}")
    if image.mode in _ARRAY_MODES:
        array = np.asarray(image)
        return _read_array(array.astype(array.dtype.newbyteorder("=")), value_range, {"mode": image.mode})
    transparent = "A" in image.getbands() or "transparency" in image.info
    try:
        converted = image.convert("RGBA" if transparent else "RGB")
    except (ValueError, OSError) as error:
        message = f"prediction image of mode {image.mode!r} cannot be read as RGB ({error})"
        return _failure("unsupported_format", message)
    notes = {} if image.mode in ("RGB", "RGBA") else {"mode": image.mode}
    if value_range not in ("auto", "0-255"):
        notes["value_range"] = "0-255 (8-bit image; the declared range applies to arrays)"
    return _with_opaque_alpha_dropped(np.asarray(converted), notes)


def _single_image_batch(value: Any) -> list[Any] | None:
    """The images of a list or tuple of images, or of a pipeline output's ``images`` (diffusers'
    ``ImagePipelineOutput``: a list, or a 4-D array or tensor); None for anything else."""
    if isinstance(value, (list, tuple)):
        items = list(value)
    elif hasattr(value, "images") and not isinstance(value, (Image.Image, np.ndarray)):
        images = value.images
        array = None if isinstance(images, (list, tuple)) else _as_array(images)
        if array is None and not isinstance(images, (list, tuple)):
            return None
        items = list(images) if array is None else list(array) if array.ndim == 4 else [array]
    else:
        return None
    return items if items and all(_is_image_like(item) for item in items) else None


def _is_image_like(item: Any) -> bool:
    array = None if isinstance(item, (Image.Image, str, os.PathLike, bytes)) else _as_array(item)
    return isinstance(item, (Image.Image, str, os.PathLike, bytes)) or (array is not None and array.ndim >= 2)


def _as_array(value: Any) -> np.ndarray | None:
    """``value`` as a numpy array (torch tensors detached, moved to the CPU, low-precision floats widened)."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        tensor = value.detach().cpu()
        if str(tensor.dtype) in ("torch.bfloat16", "torch.float16"):
            tensor = tensor.float()
        return np.asarray(tensor.numpy())
    if hasattr(value, "__array__"):
        return np.asarray(value)
    return None


def _to_hwc(array: np.ndarray) -> tuple[np.ndarray | None, str]:
    """``array`` as ``(H, W, C)`` with C in 1..4, and the layout it had (or None and why not)."""
    shape = array.shape
    if array.ndim == 4 and shape[0] == 1:
        array, shape = array[0], shape[1:]
    if array.ndim == 2:
        return array[..., None], "HW"
    if array.ndim == 3:
        if 1 <= shape[2] <= 4:
            return array, "HWC"
        if 1 <= shape[0] <= 4:
            return np.moveaxis(array, 0, -1), "CHW"
    if array.ndim == 4:
        return None, f"a batch of {shape[0]} images {tuple(shape)}; pass one image per sample"
    return None, f"shape {tuple(shape)}; expected (H, W), (H, W, C) or (C, H, W) with C in 1-4"


def _read_array(array: np.ndarray, value_range: str, notes: dict[str, Any]) -> LoadedPrediction:
    hwc, layout = _to_hwc(array)
    if hwc is None:
        return _failure("unsupported_format", f"prediction array has {layout}")
    if hwc.shape[0] == 0 or hwc.shape[1] == 0:
        return _failure("unsupported_format", f"prediction array {tuple(array.shape)} has no pixels")
    if hwc.shape[0] * hwc.shape[1] > MAX_PIXELS:
        height, width = hwc.shape[:2]
        return _failure("too_large", f"prediction array is {width}x{height} pixels, more than {MAX_PIXELS:,}")
    notes = {**notes, **({"layout": layout} if layout != "HWC" else {})}
    kind = hwc.dtype.kind
    if kind not in "biuf":
        return _failure("unsupported_format", f"prediction array has dtype {hwc.dtype}; expected integers or floats")
    if kind == "b":
        pixels, used = hwc.astype(np.uint8) * np.uint8(255), "bool"
    else:
        used, problem = _value_range_of(hwc, value_range)
        if problem:
            return _failure("invalid_values", f"prediction array ({hwc.dtype}) {problem}")
        if used == "0-255" and hwc.dtype == np.uint8:
            pixels = hwc  # already what scoring reads: no float round trip
        else:
            low, high = _RANGE_BOUNDS[used]
            scaled = np.clip((hwc.astype(np.float64) - low) / (high - low), 0.0, 1.0)
            pixels = np.round(scaled * 255.0).astype(np.uint8)
    channels = pixels.shape[2]
    if channels in (1, 2):  # gray (+ alpha): gray repeated to RGB
        pixels = np.concatenate([np.repeat(pixels[..., :1], 3, axis=2), pixels[..., 1:]], axis=2)
    notes["value_range"] = used
    return _with_opaque_alpha_dropped(np.ascontiguousarray(pixels), notes)


def _value_range_of(array: np.ndarray, value_range: str) -> tuple[str, str]:
    """The range to read ``array`` in, and a problem (empty when none): non-finite or out-of-range values."""
    floating = array.dtype.kind == "f"
    if floating:
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            return "", f"has {bad} NaN or infinite value(s) of {array.size}; a generator produced invalid pixels"
    if value_range == "auto" and array.dtype in (np.uint8, np.uint16):
        return ("0-255" if array.dtype == np.uint8 else "0-65535"), ""  # the dtype says it: no pass over the pixels
    low, high = float(array.min()), float(array.max())
    if value_range != "auto":
        bound_low, bound_high = _RANGE_BOUNDS[value_range]
        slack = FLOAT_RANGE_TOLERANCE * (bound_high - bound_low) if floating else 0.0
        if low < bound_low - slack or high > bound_high + slack:
            return "", f"has values in [{low:g}, {high:g}], outside the declared range {value_range}"
        return value_range, ""
    if not floating:
        if low >= 0 and high <= 255:
            return "0-255", ""
        return "", (
            f"has integer values in [{low:g}, {high:g}], outside 0-255; cast to uint16 for 16-bit images or declare"
            " the range (value_range / --value-range)"
        )
    for candidate in _AUTO_FLOAT_RANGES:
        bound_low, bound_high = _RANGE_BOUNDS[candidate]
        slack = FLOAT_RANGE_TOLERANCE * (bound_high - bound_low)
        if low >= bound_low - slack and high <= bound_high + slack:
            return candidate, ""
    return "", (
        f"has float values in [{low:g}, {high:g}], outside 0-1, -1-1 and 0-255; rescale them or declare the range"
    )


def _with_opaque_alpha_dropped(pixels: np.ndarray, notes: dict[str, Any]) -> LoadedPrediction:
    """RGB(A) uint8 pixels; an alpha channel that is opaque everywhere carries nothing and is dropped."""
    if pixels.shape[2] == 4 and bool((pixels[..., 3] == 255).all()):
        pixels = np.ascontiguousarray(pixels[..., :3])
    return LoadedPrediction(pixels, "ok", "", notes)


def fit_to_source(
    loaded: LoadedPrediction, size: tuple[int, int], background: np.ndarray | None, any_aspect_ratio: bool = False
) -> LoadedPrediction:
    """A read prediction at the source ``size = (width, height)``, transparency composited over ``background``
    (``any_aspect_ratio``: see :func:`load_prediction`)."""
    assert loaded.image is not None
    pixels, notes = loaded.image, dict(loaded.notes)
    width, height = size
    own_height, own_width = pixels.shape[:2]
    if (own_height, own_width) != (height, width):
        if abs((own_width / own_height) / (width / height) - 1.0) <= ASPECT_TOLERANCE:
            pixels = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_LINEAR)
        elif any_aspect_ratio:
            pixels = np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.BICUBIC))
            notes["stretched"] = "another aspect ratio, stretched to the source's as the reference does"
        else:
            return _failure(
                "wrong_size",
                f"prediction is {own_width}x{own_height}, the source is {width}x{height}: aspect ratios differ"
                " (outputs are resized only when the aspect ratio matches within 1%)",
            )
        notes["resized_from"] = [own_width, own_height]
    if pixels.shape[2] == 4:
        alpha = pixels[..., 3:].astype(np.float32) / 255.0
        notes["transparent_fraction"] = round(float((alpha < 1.0).mean()), 4)
        if background is None:
            notes["alpha"] = "dropped: no source image to show through"
            pixels = pixels[..., :3]
        else:
            notes["alpha"] = "composited over the source image"
            pixels = np.round(pixels[..., :3] * alpha + background[..., :3] * (1.0 - alpha)).astype(np.uint8)
    return LoadedPrediction(np.ascontiguousarray(pixels), "ok", "", notes)
