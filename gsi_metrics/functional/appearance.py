"""Appearance Consistency (AC) without weights: does the edited object keep its colour and texture?

The object is given by a mask in the source image and a mask in the edited image; the two may differ in
position, in-plane rotation and size, since moving, turning and scaling the object are the edits being
scored. Both statistics are therefore computed on distributions of pixels, which do not depend on
where the pixels are, and at a common scale:

1. Each object is cropped to its mask's bounding box and, if needed, shrunk with area averaging so that
   ``sqrt(mask area)`` equals ``min(sqrt(area_source), sqrt(area_edited), 96)`` pixels. Comparing at the
   coarser of the two resolutions (never upsampling) makes a uniformly scaled object look the same.
2. The resampled mask is eroded by 3 pixels so that pixels mixed with the background (anti-aliasing,
   and the footprint of the gradient filters) are left out: the background changes when the object moves.
3. Colour: per-channel 1D Wasserstein-1 distances between the CIE Lab values of the two objects' pixels.
4. Texture: the distribution of lightness gradient magnitudes (Lab L units per pixel at the common
   scale, after a Gaussian blur of 1 pixel that makes resampled and original edges alike), compared by
   histogram intersection. Gradient magnitude does not depend on direction, so in-plane rotation leaves
   it unchanged; the common scale makes it comparable across sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from gsi_metrics.functional.locality import validate_mask, validate_rgb_image

__all__ = ["AppearanceResult", "appearance_consistency", "match_photometry"]

#: Side, in pixels, of the square with the objects' common area above which both are shrunk (speed cap).
MAX_COMMON_SIDE_PX = 96
#: Weight of colour in the combined score; texture gets the rest.
COLOUR_WEIGHT = 0.6
#: Lab distance (Delta E units) at which the colour similarity falls to 1/e.
COLOUR_SCALE_LAB = 20.0
#: Weight of the lightness distance relative to the chroma distances: moving an object under the scene's
#: lights changes its shading, which is not a change of identity.
LIGHTNESS_WEIGHT = 0.5

#: Histogram of lightness gradient magnitudes: bin width and number of bins (the last bin takes all above).
GRADIENT_BIN_LAB_PER_PX = 2.0
GRADIENT_BINS = 30

#: Fewest unchanged pixels from which :func:`match_photometry` estimates the image-wide colour mapping ...
MIN_UNCHANGED_PIXELS = 2000
#: ... and the median quantile difference (8-bit levels) up to which it leaves the image as it is.
MATCHED_LEVELS = 1.0

_EROSION_RADIUS_PX = 3
_EROSION_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _EROSION_RADIUS_PX + 1,) * 2)
_TEXTURE_BLUR_SIGMA_PX = 1.0
# OpenCV's 8-bit Lab stores L * 255 / 100, a + 128 and b + 128; these turn a code step into Lab units.
_LAB_UNITS_PER_CODE = np.array([100.0 / 255.0, 1.0, 1.0])


@dataclass(frozen=True)
class AppearanceResult:
    """Appearance consistency of one object between the source and the edited image.

    Attributes:
        score: ``COLOUR_WEIGHT * colour + (1 - COLOUR_WEIGHT) * texture``, in [0, 1]; 0 when not found.
        colour: Colour similarity ``exp(-colour_distance_lab / 20)``, in (0, 1]; 0 when not found.
        texture: Histogram intersection of the two gradient-magnitude histograms, in [0, 1].
        colour_distance_lab: ``sqrt((0.5 * W_L)^2 + W_a^2 + W_b^2)`` in Lab units (Delta E); NaN when not found.
        found: False when either mask is empty (then every other field is 0 or NaN).
    """

    score: float
    colour: float
    texture: float
    colour_distance_lab: float
    found: bool


def _common_scale_object(image: np.ndarray, mask: np.ndarray, side_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Crop the object to its mask's box and shrink it so that ``sqrt(mask area) == side_px``.

    Returns:
        The Lab crop (uint8, OpenCV's 8-bit Lab encoding) and its eroded boolean mask.
    """
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    crop = image[y : y + h, x : x + w]
    crop_mask = mask[y : y + h, x : x + w].view(np.uint8)
    factor = side_px / math.sqrt(np.count_nonzero(crop_mask))
    if factor < 1.0:
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        # Area-averaged coverage >= 1/2 keeps the mask's area in step with the resized pixels.
        crop_mask = (cv2.resize(crop_mask * np.uint8(255), size, interpolation=cv2.INTER_AREA) >= 128).view(np.uint8)
    # A zero border erodes pixels on the crop's edge too: the gradient filters' footprint leaves the crop.
    eroded = cv2.erode(crop_mask, _EROSION_KERNEL, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    # A sliver thinner than 7 pixels erodes away entirely; its boundary pixels are all there is.
    keep = eroded if eroded.any() else crop_mask
    return cv2.cvtColor(crop, cv2.COLOR_RGB2LAB), keep.view(bool)


def _channel_histograms(lab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalised 256-bin histograms of the three Lab channels over the masked pixels, shape (3, 256)."""
    pixels = lab[mask]
    counts = np.stack([np.bincount(pixels[:, channel], minlength=256) for channel in range(3)])
    return counts / len(pixels)


def _gradient_histogram(lab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalised histogram of lightness gradient magnitudes (Lab L units per pixel) over ``mask``."""
    lightness = lab[..., 0].astype(np.float32) * np.float32(_LAB_UNITS_PER_CODE[0])
    lightness = cv2.GaussianBlur(lightness, (0, 0), _TEXTURE_BLUR_SIGMA_PX, borderType=cv2.BORDER_REPLICATE)
    # Scharr is the most rotation-invariant 3x3 derivative; its weights sum to 32 per unit slope.
    gx = cv2.Scharr(lightness, cv2.CV_32F, 1, 0, scale=1.0 / 32.0)
    gy = cv2.Scharr(lightness, cv2.CV_32F, 0, 1, scale=1.0 / 32.0)
    magnitude = cv2.magnitude(gx, gy)[mask]
    bins = np.minimum((magnitude / GRADIENT_BIN_LAB_PER_PX).astype(np.intp), GRADIENT_BINS - 1)
    return np.bincount(bins, minlength=GRADIENT_BINS) / len(bins)


def appearance_consistency(
    source: np.ndarray,
    source_mask: np.ndarray,
    edited: np.ndarray,
    edited_mask: np.ndarray,
) -> AppearanceResult:
    """Score whether the object keeps its colour and texture, tolerating translation, rotation and scale.

    With both objects brought to a common scale (module docstring) and their eroded masks:

    - ``W_c = sum_v |F_src,c(v) - F_edit,c(v)| * unit_c`` is the Wasserstein-1 distance between the
      distributions of Lab channel ``c`` (``F`` the cumulative histograms over OpenCV's 8-bit codes,
      ``unit`` = 100/255 for L and 1 for a and b, so ``W_c`` is in Lab units);
    - ``colour_distance_lab = sqrt((0.5 * W_L)^2 + W_a^2 + W_b^2)`` and
      ``colour = exp(-colour_distance_lab / 20)``: 1 for the same colours, 0.37 at Delta E 20;
    - ``texture = sum_k min(h_src(k), h_edit(k))`` with ``h`` the normalised histograms of
      ``|grad(G_1 * L)|`` (Scharr, Lab L units per pixel, 30 bins of 2 units, the last one open-ended);
    - ``score = 0.6 * colour + 0.4 * texture``.

    A translation or an in-plane rotation by a multiple of 90 degrees leaves the score at 1 (up to
    rounding); other rotations and rescaling resample the pixels and cost a few percent. The measure is
    blind to where colours sit on the object (a pattern rearranged on the same object scores high): it
    checks identity of appearance, not geometry, which the spatial axes score.

    Args:
        source: The source image, RGB uint8 (H, W, 3).
        source_mask: Boolean (H, W), the object in ``source``.
        edited: The edited image, RGB uint8 (H', W', 3); its size may differ from the source's.
        edited_mask: Boolean (H', W'), the object as found in ``edited``.

    Returns:
        The :class:`AppearanceResult`. If either mask is empty (the object was not found), ``score=0.0``,
        ``colour=0.0``, ``texture=0.0``, ``colour_distance_lab=nan`` and ``found=False``.

    Raises:
        ValueError: On non-uint8 or non-RGB images, or a mask that is not boolean or not its image's (H, W).
    """
    validate_rgb_image(source, "source")
    validate_rgb_image(edited, "edited")
    validate_mask(source_mask, source.shape[:2], "source_mask")
    validate_mask(edited_mask, edited.shape[:2], "edited_mask")
    source_area, edited_area = np.count_nonzero(source_mask), np.count_nonzero(edited_mask)
    if source_area == 0 or edited_area == 0:
        return AppearanceResult(score=0.0, colour=0.0, texture=0.0, colour_distance_lab=math.nan, found=False)

    side_px = min(math.sqrt(source_area), math.sqrt(edited_area), MAX_COMMON_SIDE_PX)
    source_lab, source_keep = _common_scale_object(source, source_mask, side_px)
    edited_lab, edited_keep = _common_scale_object(edited, edited_mask, side_px)

    cdf_gap = np.abs(
        np.cumsum(_channel_histograms(source_lab, source_keep), axis=1)
        - np.cumsum(_channel_histograms(edited_lab, edited_keep), axis=1)
    )
    w_l, w_a, w_b = cdf_gap.sum(axis=1) * _LAB_UNITS_PER_CODE
    colour_distance = math.sqrt((LIGHTNESS_WEIGHT * w_l) ** 2 + w_a**2 + w_b**2)
    colour = math.exp(-colour_distance / COLOUR_SCALE_LAB)
    texture_histograms = _gradient_histogram(source_lab, source_keep), _gradient_histogram(edited_lab, edited_keep)
    texture = float(np.minimum(*texture_histograms).sum())
    return AppearanceResult(
        score=COLOUR_WEIGHT * colour + (1.0 - COLOUR_WEIGHT) * texture,
        colour=colour,
        texture=texture,
        colour_distance_lab=colour_distance,
        found=True,
    )


def match_photometry(reference: np.ndarray, edited: np.ndarray, unchanged: np.ndarray) -> np.ndarray:
    """``edited`` with the image-wide colour change from ``reference`` undone: each RGB channel gets the gain and offset
    that map the quantiles (2nd to 98th percentile) of its values over the ``unchanged`` pixels (those the edit should
    leave alone) onto the reference's there, fitted robustly (Theil-Sen) over the quantile pairs that neither image
    clips. A global colour cast, exposure or white-balance change is a change of the whole image, not of the edited
    object's identity: mapped back, the object is compared with its source appearance relative to how the rest of the
    image changed, and a change of its own colour or texture stays. The map is linear, so it extends to colours the
    background does not show. When the quantiles already agree (median difference at most ``MATCHED_LEVELS`` in every
    channel: a shadow or a small shift moves only a few of them), ``edited`` is returned as it is.

    Args:
        reference: RGB uint8 (H, W, 3), the image the object's appearance is compared against.
        edited: RGB uint8 of the same size.
        unchanged: Boolean (H, W), pixels outside the edit.

    Returns:
        The mapped ``edited`` (uint8); ``edited`` itself when it already matches, when fewer than
        ``MIN_UNCHANGED_PIXELS`` are unchanged or when a channel has too few unclipped quantiles to fit.
    """
    validate_rgb_image(reference, "reference")
    validate_rgb_image(edited, "edited")
    validate_mask(unchanged, reference.shape[:2], "unchanged")
    if edited.shape != reference.shape:
        raise ValueError(f"edited {edited.shape} and reference {reference.shape} differ in size")
    if np.count_nonzero(unchanged) < MIN_UNCHANGED_PIXELS:
        return edited
    percentiles = np.arange(2.0, 98.5, 2.0)
    edited_q = _channel_percentiles(edited, unchanged, percentiles)  # (3, Q)
    reference_q = _channel_percentiles(reference, unchanged, percentiles)
    if np.all(np.median(np.abs(edited_q - reference_q), axis=1) <= MATCHED_LEVELS):
        return edited
    gains, offsets = np.ones(3), np.zeros(3)
    for channel in range(3):
        x, y = edited_q[channel], reference_q[channel]
        usable = (x > 0) & (x < 255) & (y > 0) & (y < 255)
        if np.count_nonzero(usable) < 5 or np.ptp(x[usable]) < 1.0:
            return edited
        gains[channel], offsets[channel] = _theil_sen(x[usable], y[usable])
    return np.clip(np.rint(edited * gains + offsets), 0, 255).astype(np.uint8)


def _theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Theil-Sen ``(slope, intercept)`` of ``y ~ slope * x + intercept``: the median of the slopes between every two
    points of different ``x``, and the median of ``y`` less the slope times the median of ``x`` (what
    ``scipy.stats.theilslopes`` returns first, the same floats, without importing ``scipy.stats``: 0.6 s in every
    scoring process)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    delta_x, delta_y = x[:, None] - x, y[:, None] - y
    rising = delta_x > 0
    slope = float(np.median(delta_y[rising] / delta_x[rising]))
    return slope, float(np.median(y) - slope * np.median(x))


def _channel_percentiles(image: np.ndarray, mask: np.ndarray, percentiles: np.ndarray) -> np.ndarray:
    """``np.percentile(image[mask], percentiles, axis=0).T`` (linear interpolation, the same floats) of a uint8
    ``(H, W, C)`` image, read from each channel's cumulative histogram over ``mask`` instead of a partial sort (20 times
    faster on an image; the histogram is OpenCV's, 10 times faster than selecting the pixels)."""
    selected = mask.astype(np.uint8)
    count = int(np.count_nonzero(selected))
    rank = np.asarray(percentiles, float) / 100.0 * (count - 1)
    lower = np.floor(rank).astype(np.int64)
    upper = np.minimum(lower + 1, count - 1)
    fraction = rank - lower
    result = np.empty((image.shape[2], len(rank)))
    for channel in range(image.shape[2]):
        histogram = cv2.calcHist([image], [channel], selected, [256], [0, 256]).ravel()
        cumulative = np.cumsum(np.rint(histogram).astype(np.int64))
        low = np.searchsorted(cumulative, lower, side="right").astype(float)
        high = np.searchsorted(cumulative, upper, side="right").astype(float)
        # numpy's interpolation, term for term: from the nearer end.
        result[channel] = np.where(fraction >= 0.5, high - (high - low) * (1 - fraction), low + (high - low) * fraction)
    return result
