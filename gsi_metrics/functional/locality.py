"""Edit Locality (EL): is everything outside the intended edit left unchanged?

The region compared is the complement of the edit region, given as an instance mask at full image
resolution (SPEC 6.2, defect 6: the reference protocol uses 2D boxes and a crop, and returns NaN when
the mask covers the whole image). Callers usually pass the union of the target's source mask and its
expected mask in the edited image, padded with :func:`dilate_mask` so that anti-aliased edges and
moved shadows do not count as damage.

SSIM follows Wang et al. (2004) exactly as ``skimage.metrics.structural_similarity(reference,
candidate, channel_axis=-1, data_range=255, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, full=True)`` computes its SSIM map (11x11 Gaussian window, sigma 1.5,
K1 = 0.01, K2 = 0.03, ``reflect`` borders, per RGB channel), but with OpenCV filters in float32: about
8x faster (some 10 ms for 512x512), and within 2e-4 of scikit-image per pixel (the tests pin this down).
:func:`masked_ssim` computes the map only around the pixels that differ (about 1 ms for a local edit).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "LocalityResult",
    "MaskedDistance",
    "dilate_mask",
    "edit_locality",
    "masked_psnr",
    "masked_ssim",
    "ssim_map",
    "validate_mask",
    "validate_rgb_image",
]

#: A learned perceptual distance restricted to a region: ``(reference, candidate, mask) -> distance``,
#: lower is more similar, nominally in [0, 1] (LPIPS). Plugged into :func:`edit_locality` by callers.
MaskedDistance = Callable[[np.ndarray, np.ndarray, np.ndarray], float]

#: PSNR reported for identical regions (and the cap for nearly identical ones), in dB.
PSNR_CAP_DB = 60.0

_DATA_RANGE = 255.0
_SSIM_C1 = (0.01 * _DATA_RANGE) ** 2
_SSIM_C2 = (0.03 * _DATA_RANGE) ** 2
_SSIM_SIGMA = 1.5
# scikit-image's window: radius int(3.5 * sigma + 0.5) = 5, as scipy.ndimage truncates the Gaussian.
_SSIM_WIN = 2 * int(3.5 * _SSIM_SIGMA + 0.5) + 1


@dataclass(frozen=True)
class LocalityResult:
    """Edit locality of one edited image against its source.

    Attributes:
        ssim: Mean SSIM over the pixels outside the edit region, in [-1, 1]; NaN when that region is empty.
        psnr_db: PSNR over the same pixels in dB, capped at 60; NaN when the region is empty.
        lpips: The learned distance over the same pixels when a ``lpips`` callable was given, else None.
        score: The locality score in [0, 1] (see :func:`edit_locality`).
        region_fraction: Fraction of the image's pixels outside the edit region, in [0, 1].
        empty: True when the edit region covers every pixel, so nothing was compared.
    """

    ssim: float
    psnr_db: float
    lpips: float | None
    score: float
    region_fraction: float
    empty: bool


def validate_rgb_image(image: np.ndarray, name: str) -> None:
    """Raise ValueError unless ``image`` is an RGB uint8 array of shape (H, W, 3).

    Args:
        image: The array to check.
        name: The argument's name, quoted in the error message.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(
            f"{name} must be an RGB uint8 array of shape (H, W, 3), got a {got}; "
            "convert with np.asarray(PIL_image.convert('RGB'))"
        )


def validate_mask(mask: np.ndarray, shape: tuple[int, ...], name: str) -> None:
    """Raise ValueError unless ``mask`` is a boolean array whose shape is ``shape`` (the image's H, W).

    Args:
        mask: The array to check.
        shape: The expected (H, W).
        name: The argument's name, quoted in the error message.
    """
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        got = mask.dtype if isinstance(mask, np.ndarray) else type(mask).__name__
        raise ValueError(f"{name} must be a boolean array, got {got}; threshold it first (e.g. mask > 0)")
    if mask.shape != shape:
        raise ValueError(f"{name} has shape {mask.shape} but the image is {shape}; masks must be full resolution")


def _validate_pair(reference: np.ndarray, candidate: np.ndarray) -> None:
    validate_rgb_image(reference, "reference")
    validate_rgb_image(candidate, "candidate")
    if reference.shape != candidate.shape:
        raise ValueError(
            f"reference and candidate must have the same shape, got {reference.shape} and {candidate.shape}; "
            "resize the candidate to the reference's size first"
        )


def _validate_masked_pair(reference: np.ndarray, candidate: np.ndarray, mask: np.ndarray) -> None:
    _validate_pair(reference, candidate)
    validate_mask(mask, reference.shape[:2], "mask")


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> float:
    """Mean of a (H, W, 3) float array over the pixels where ``mask`` is True and over its channels."""
    # cv2.mean accumulates in float64 and skips the boolean gather that numpy indexing would copy.
    per_channel = cv2.mean(values, mask=mask.view(np.uint8))
    return float(np.mean(per_channel[:3]))


def ssim_map(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Per-pixel, per-channel SSIM map of two RGB uint8 images.

    ``S = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))``
    with Gaussian-weighted (sigma 1.5, 11x11, reflected borders) local means, population variances and
    covariance, C1 = (0.01 * 255)^2 and C2 = (0.03 * 255)^2: scikit-image's ``full=True`` map for the
    settings in the module docstring.

    Args:
        reference: RGB uint8 image, (H, W, 3), H and W at least 11.
        candidate: RGB uint8 image of the same shape.

    Returns:
        The float32 map, (H, W, 3), values in [-1, 1].

    Raises:
        ValueError: On non-uint8 or non-RGB input, mismatched shapes, or an image smaller than the window.
    """
    _validate_pair(reference, candidate)
    if min(reference.shape[:2]) < _SSIM_WIN:
        raise ValueError(
            f"SSIM needs images of at least {_SSIM_WIN}x{_SSIM_WIN} pixels (its Gaussian window), "
            f"got {reference.shape[:2]}"
        )
    x = reference.astype(np.float32)
    y = candidate.astype(np.float32)

    def blur(image: np.ndarray) -> np.ndarray:
        # BORDER_REFLECT (dcba|abcd) is scipy.ndimage's "reflect", which scikit-image uses.
        return cv2.GaussianBlur(image, (_SSIM_WIN, _SSIM_WIN), _SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)

    # In-place arithmetic below: fresh 3 MB temporaries per operation would double the run time.
    mu_x, mu_y = blur(x), blur(y)
    sigma_xy = blur(x * y)
    sigma_x2 = blur(np.multiply(x, x, out=x))
    sigma_y2 = blur(np.multiply(y, y, out=y))
    mu_xy = mu_x * mu_y
    mu_x2_plus_y2 = np.add(np.multiply(mu_x, mu_x, out=mu_x), np.multiply(mu_y, mu_y, out=mu_y), out=mu_x)
    sigma_xy -= mu_xy  # E[xy] - mu_x mu_y
    sigma_x2 += sigma_y2
    sigma_x2 -= mu_x2_plus_y2  # sigma_x^2 + sigma_y^2
    mu_xy *= 2.0
    mu_xy += _SSIM_C1
    sigma_xy *= 2.0
    sigma_xy += _SSIM_C2
    mu_xy *= sigma_xy  # the numerator
    mu_x2_plus_y2 += _SSIM_C1
    sigma_x2 += _SSIM_C2
    mu_x2_plus_y2 *= sigma_x2  # the denominator
    return np.divide(mu_xy, mu_x2_plus_y2, out=mu_xy)


def masked_ssim(reference: np.ndarray, candidate: np.ndarray, mask: np.ndarray) -> float:
    """Mean SSIM over the masked pixels.

    ``masked_ssim = mean over (p in mask, c in RGB) of S[p, c]`` with ``S`` from :func:`ssim_map`. Windows
    centred on masked pixels may reach up to 5 pixels into the unmasked region, as in any windowed SSIM.
    With ``mask`` everything but a 5-pixel border this equals scikit-image's mean SSIM.

    Args:
        reference: RGB uint8 image, (H, W, 3).
        candidate: RGB uint8 image of the same shape.
        mask: Boolean (H, W), True on the pixels to compare.

    Returns:
        The mean SSIM in [-1, 1], or ``math.nan`` when ``mask`` is empty (the caller decides what that means).

    Raises:
        ValueError: On non-uint8 or non-RGB input, or mismatched image or mask shapes.
    """
    _validate_masked_pair(reference, candidate, mask)
    if not mask.any():
        return math.nan
    # A window whose pixels are the same in both images has an SSIM of exactly 1 (numerator and denominator are the
    # same floats), so the map is computed only around the pixels that differ: the window's reach, and its reach again
    # for the blurs' borders there to be the whole image's. An editor that leaves most of the image alone costs a
    # fraction of the full map.
    around = _differing_window(reference, candidate, margin=_SSIM_WIN - 1)
    if around is None:
        return 1.0
    top, bottom, left, right = around
    inside = np.ascontiguousarray(mask[top:bottom, left:right])
    count, inside_count = int(np.count_nonzero(mask)), int(np.count_nonzero(inside))
    if inside_count == 0:
        return 1.0
    window_map = ssim_map(reference[top:bottom, left:right], candidate[top:bottom, left:right])
    return (_masked_mean(window_map, inside) * inside_count + (count - inside_count)) / count


def _differing_window(reference: np.ndarray, candidate: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    """``(top, bottom, left, right)`` around the pixels where the two images differ, ``margin`` pixels wider on each
    side and clipped to the image (None where they are the same)."""
    height, width = reference.shape[:2]
    difference = cv2.absdiff(reference, candidate).reshape(height, width * 3)
    rows = np.flatnonzero(difference.max(axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(difference.max(axis=0).reshape(width, 3).max(axis=1))
    return (
        max(int(rows[0]) - margin, 0),
        min(int(rows[-1]) + 1 + margin, height),
        max(int(columns[0]) - margin, 0),
        min(int(columns[-1]) + 1 + margin, width),
    )


def masked_psnr(reference: np.ndarray, candidate: np.ndarray, mask: np.ndarray) -> float:
    """Peak signal-to-noise ratio over the masked pixels, in dB.

    ``PSNR = min(10 * log10(255^2 / MSE), 60)`` with ``MSE`` the mean squared difference over the masked
    pixels and their three channels; identical regions (MSE = 0) give 60 dB.

    Args:
        reference: RGB uint8 image, (H, W, 3).
        candidate: RGB uint8 image of the same shape.
        mask: Boolean (H, W), True on the pixels to compare.

    Returns:
        PSNR in dB, in (-inf, 60], or ``math.nan`` when ``mask`` is empty.

    Raises:
        ValueError: On non-uint8 or non-RGB input, or mismatched image or mask shapes.
    """
    _validate_masked_pair(reference, candidate, mask)
    if not mask.any():
        return math.nan
    difference = cv2.absdiff(reference, candidate).astype(np.float32)
    mse = _masked_mean(difference * difference, mask)
    if mse == 0.0:
        return PSNR_CAP_DB
    return min(10.0 * math.log10(_DATA_RANGE**2 / mse), PSNR_CAP_DB)


def dilate_mask(mask: np.ndarray, radius_px: int) -> np.ndarray:
    """Grow a boolean mask by ``radius_px`` pixels with an elliptical (disc) structuring element.

    Used to pad instance masks so that anti-aliased edges and shadows next to an edited object are not
    counted as damage outside the edit.

    Args:
        mask: Boolean (H, W) mask.
        radius_px: Radius of the disc in pixels, >= 0; 0 returns a copy.

    Returns:
        The dilated boolean (H, W) mask.

    Raises:
        ValueError: If ``mask`` is not a 2D boolean array or ``radius_px`` is negative.
    """
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise ValueError(f"mask must be a 2D boolean array, got {getattr(mask, 'shape', type(mask).__name__)}")
    validate_mask(mask, mask.shape, "mask")
    if radius_px < 0:
        raise ValueError(f"radius_px must be >= 0, got {radius_px}")
    if radius_px == 0:
        return mask.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1, 2 * radius_px + 1))
    return cv2.dilate(mask.view(np.uint8), kernel).view(bool)


#: :func:`without_object` fills the object's pixels and this many around them (its anti-aliased edge), with an
#: inpainting radius of ``INPAINT_RADIUS_PX``.
OBJECT_PAD_PX = 2
INPAINT_RADIUS_PX = 5


def object_hole(mask: np.ndarray) -> np.ndarray:
    """The pixels :func:`without_object` fills: the object's ``mask`` padded by ``OBJECT_PAD_PX``."""
    return dilate_mask(np.asarray(mask, bool), OBJECT_PAD_PX)


def without_object(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` (RGB uint8) with an object's :func:`object_hole` inpainted from its surroundings (Telea): a plausible
    view of what was behind the object where no truth exists (the background a removal should leave, the background a
    scene-free drawing moves the object over)."""
    hole = object_hole(mask).astype(np.uint8)
    return cv2.inpaint(np.ascontiguousarray(image), hole, INPAINT_RADIUS_PX, cv2.INPAINT_TELEA)


def edit_locality(
    source: np.ndarray,
    edited: np.ndarray,
    edit_region: np.ndarray,
    *,
    lpips: MaskedDistance | None = None,
) -> LocalityResult:
    """Score how well an edit left everything outside its intended region unchanged.

    The compared region is ``outside = ~edit_region``. Then

    - ``ssim = masked_ssim(source, edited, outside)``, ``psnr_db = masked_psnr(source, edited, outside)``;
    - without ``lpips``: ``score = clip(ssim, 0, 1)``;
    - with ``lpips``: ``d = lpips(source, edited, outside)`` and
      ``score = (clip(ssim, 0, 1) + 1 - clip(d, 0, 1)) / 2``.

    Empty region: when ``edit_region`` covers every pixel, nothing outside the edit could be damaged, so
    the result has ``empty=True``, ``score=1.0``, ``ssim`` and ``psnr_db`` NaN, ``lpips`` None, and
    ``region_fraction=0.0`` (the reference protocol returns NaN here).

    Args:
        source: The source image, RGB uint8 (H, W, 3).
        edited: The edited image, RGB uint8 of the same shape (resize it first if the editor changed it).
        edit_region: Boolean (H, W), True where the edit is allowed to change pixels.
        lpips: Optional learned distance over the region, ``(source, edited, outside_mask) -> float``.

    Returns:
        The :class:`LocalityResult`.

    Raises:
        ValueError: On non-uint8 or non-RGB input, mismatched image or mask shapes, or a non-finite ``lpips``.
    """
    _validate_masked_pair(source, edited, edit_region)
    outside = ~edit_region
    region_fraction = float(np.count_nonzero(outside)) / outside.size
    if region_fraction == 0.0:
        return LocalityResult(ssim=math.nan, psnr_db=math.nan, lpips=None, score=1.0, region_fraction=0.0, empty=True)
    ssim = masked_ssim(source, edited, outside)
    psnr_db = masked_psnr(source, edited, outside)
    structural = min(max(ssim, 0.0), 1.0)
    distance = None if lpips is None else float(lpips(source, edited, outside))
    if distance is None:
        score = structural
    elif math.isfinite(distance):
        score = (structural + 1.0 - min(max(distance, 0.0), 1.0)) / 2.0
    else:
        raise ValueError(f"the lpips callable returned {distance}; it must return a finite distance")
    return LocalityResult(
        ssim=ssim, psnr_db=psnr_db, lpips=distance, score=score, region_fraction=region_fraction, empty=False
    )
