"""Compiled (numba) inner loops of perception: loops that run hundreds of times per sample over a few thousand
pixels, where some thirty array operations per call cost more in Python than their arithmetic.

- The scene-free search's hypothesis cost (:mod:`gsi_metrics.perception.scene_free`; ~370 hypotheses per sample):
  project the target's points (:func:`pixels_of`), draw them over the background nearest first and close the gaps
  between them (:func:`draw_points`, which also says where the drawing only guesses), compare the smoothed change with
  the observed one, each pixel's distance truncated (a guessed pixel's at the unchanged view's distance there):
  :func:`hypothesis_distance`, which smooths only the difference the drawn target makes, near it, and adds the
  background's smoothed change, computed once per sample (:func:`smoothed_difference`, in float64). The arithmetic is
  OpenCV's, step for step: the Gaussian smoothing is ``cv2.GaussianBlur(change, (0, 0), sigma)`` of a float32 image
  (its 4-sigma float kernel, borders reflected without repeating the edge pixel; the drawn difference is smoothed in
  float32 too, which vectorises twice as wide as float64), the gap closing
  ``cv2.morphologyEx(MORPH_CLOSE)`` with a 3 x 3 square (nothing outside the window counts), the gap colours a 3 x 3
  mean of the drawn neighbours (``cv2.blur``'s borders). Costs agree with the OpenCV version to about 1e-7 relative.
- The level histograms and inlier sums of the global photometric fit (:func:`joint_level_counts`,
  :func:`inlier_sums`, for :func:`~gsi_metrics.perception.render_compare.photometrically_matched`).

Compiled on first use and cached next to this file (numba's ``cache=True``; a few seconds once per installation).
"""

from __future__ import annotations

import cv2
import numba
import numpy as np


def gaussian_taps(sigma: float) -> np.ndarray:
    """The 1D kernel of ``cv2.GaussianBlur(float32 image, (0, 0), sigma)`` (a single 1 for no smoothing)."""
    if sigma <= 0:
        return np.ones(1)
    size = int(round(sigma * 4 * 2 + 1)) | 1
    return cv2.getGaussianKernel(size, sigma, cv2.CV_32F).ravel().astype(np.float64)


@numba.njit(cache=True, inline="always")
def _reflected(index: int, size: int) -> int:
    """OpenCV's BORDER_REFLECT_101 (``gfedcb|abcdefgh|gfedcba``)."""
    if size == 1:
        return 0
    while index < 0 or index >= size:
        index = -index if index < 0 else 2 * size - 2 - index
    return index


@numba.njit(cache=True, inline="always")
def _add_scaled(written: np.ndarray, read: np.ndarray, weight: float) -> None:
    """``written += weight * read``, element by element: one straight (vectorisable) loop, in a fixed order."""
    for j in range(written.size):
        written[j] += weight * read[j]


@numba.njit(cache=True)
def pixels_of(
    points: np.ndarray, matrix: np.ndarray, offset: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(u, v, depth, shown)``: the integer pixels (rounded half to even) and depths of the points whose homogeneous
    pixels are ``matrix @ p + offset`` (``K`` times the points' camera coordinates), of those in front of the camera
    and inside a ``width`` x ``height`` image, and which points those are (their indices)."""
    count = points.shape[0]
    u = np.empty(count, np.int64)
    v = np.empty(count, np.int64)
    depth = np.empty(count)
    shown = np.empty(count, np.int64)
    kept = 0
    for i in range(count):
        x, y, z = points[i, 0], points[i, 1], points[i, 2]
        w = matrix[2, 0] * x + matrix[2, 1] * y + matrix[2, 2] * z + offset[2]
        if not w > 1e-6:
            continue
        column = np.rint((matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2] * z + offset[0]) / w)
        row = np.rint((matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2] * z + offset[1]) / w)
        if column < 0 or column >= width or row < 0 or row >= height:
            continue
        u[kept], v[kept], depth[kept], shown[kept] = int(column), int(row), w, i
        kept += 1
    return u[:kept], v[:kept], depth[:kept], shown[:kept]


@numba.njit(cache=True)
def draw_points(
    background: np.ndarray,
    depth: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    z: np.ndarray,
    point_index: np.ndarray,
    colours: np.ndarray,
    left: int,
    top: int,
    right: int,
    bottom: int,
    tolerance: float,
    first_guessed: int,
    widest_gap: int,
    deepest_gap: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``background[top:bottom, left:right]`` window (float32 RGB) with the projected points ``(u, v, z)`` drawn
    where nothing nearer in ``depth`` (plus ``tolerance``) hides them, nearest first (the last of equal depths), each in
    ``colours[point_index]``; gaps between drawn pixels closed and coloured from their drawn neighbours. Returns
    ``(image, shows, guessed)``: the window, where the target shows in it, and where it shows a guessed point (one of
    index ``first_guessed`` or above: a surface the source never saw; a closed gap when most of its drawn neighbours
    are; and, with ``widest_gap`` > 0, each row's gaps of at most that many pixels between two drawn points whose
    depths differ by at most ``deepest_gap``, where nothing nearer hides the surface between them: a turned target
    shows there the surfaces the source saw edge-on, which no point stands for; those pixels keep the background)."""
    height, width = bottom - top, right - left
    image = background[top:bottom, left:right].copy()
    nearest = np.full((height, width), np.inf)
    which = np.full((height, width), -1, np.int64)
    tolerance32 = np.float32(tolerance)
    low_row, high_row, low_column, high_column = height, -1, width, -1  # the drawn pixels' bounds
    for i in range(u.size):
        column, row = u[i], v[i]
        if column < left or column >= right or row < top or row >= bottom:
            continue
        if z[i] > np.float32(depth[row, column] + tolerance32):
            continue
        if z[i] <= nearest[row - top, column - left]:
            nearest[row - top, column - left] = z[i]
            which[row - top, column - left] = i
            low_row, high_row = min(low_row, row - top), max(high_row, row - top)
            low_column, high_column = min(low_column, column - left), max(high_column, column - left)
    shows = which >= 0
    guessed = np.zeros((height, width), np.bool_)
    for row in range(low_row, high_row + 1):
        for column in range(low_column, high_column + 1):
            if shows[row, column]:
                point = point_index[which[row, column]]
                guessed[row, column] = point >= first_guessed
                for channel in range(3):  # (a per-pixel slice assignment costs as much as the rest of the drawing)
                    image[row, column, channel] = colours[point, channel]
    # Closing (3 x 3): a pixel joins the target when every neighbour inside the window is next to a drawn pixel (only
    # pixels within one of the drawn ones can be).
    first_row, last_row = max(low_row - 1, 0), min(high_row + 2, height)
    first_column, last_column = max(low_column - 1, 0), min(high_column + 2, width)
    # Dilation, separably: across the row, then down the column (rows and columns outside the window don't count).
    across = np.zeros((height, width), np.bool_)
    for row in range(max(first_row - 1, 0), min(last_row + 1, height)):
        for column in range(first_column, last_column):
            across[row, column] = (
                shows[row, column]
                or (column > 0 and shows[row, column - 1])
                or (column + 1 < width and shows[row, column + 1])
            )
    near = np.zeros((height, width), np.bool_)
    for row in range(first_row, last_row):
        for column in range(first_column, last_column):
            near[row, column] = (
                across[row, column]
                or (row > 0 and across[row - 1, column])
                or (row + 1 < height and across[row + 1, column])
            )
    # Erosion of ``near``, separably (neighbours outside the window count as near).
    eroded = np.zeros((height, width), np.bool_)
    for row in range(max(first_row - 1, 0), min(last_row + 1, height)):
        for column in range(first_column, last_column):
            eroded[row, column] = (
                near[row, column]
                and (column == 0 or near[row, column - 1])
                and (column + 1 == width or near[row, column + 1])
            )
    # The gaps are filled in place: they read drawn pixels only, which no fill changes.
    closed = shows.copy()
    filled_guesses = np.zeros((height, width), np.bool_)
    for row in range(first_row, last_row):
        for column in range(first_column, last_column):
            if shows[row, column] or not near[row, column]:
                continue
            if not (
                eroded[row, column]
                and (row == 0 or eroded[row - 1, column])
                and (row + 1 == height or eroded[row + 1, column])
            ):
                continue
            closed[row, column] = True
            count = red = green = blue = guesses = 0.0
            for dr in range(-1, 2):
                for dc in range(-1, 2):
                    r, c = _reflected(row + dr, height), _reflected(column + dc, width)
                    if shows[r, c]:
                        count += 1.0
                        guesses += guessed[r, c]
                        red += image[r, c, 0]
                        green += image[r, c, 1]
                        blue += image[r, c, 2]
            filled_guesses[row, column] = 2.0 * guesses > count
            count = max(count, 9e-6)
            image[row, column, 0] = red / count
            image[row, column, 1] = green / count
            image[row, column, 2] = blue / count
    guessed |= filled_guesses
    if widest_gap > 0:
        for row in range(low_row, high_row + 1):
            previous = -1
            for column in range(low_column, high_column + 1):
                if not shows[row, column]:
                    continue
                gap = column - previous - 1
                if previous >= 0 and 0 < gap <= widest_gap:
                    near_depth, far_depth = nearest[row, previous], nearest[row, column]
                    if abs(far_depth - near_depth) <= deepest_gap:
                        for between in range(previous + 1, column):
                            t = (between - previous) / (gap + 1.0)
                            unseen_depth = near_depth + t * (far_depth - near_depth)
                            if not closed[row, between] and unseen_depth <= np.float32(
                                depth[row + top, between + left] + tolerance32
                            ):
                                guessed[row, between] = True
                previous = column
    return image, closed, guessed


@numba.njit(cache=True)
def smoothed_difference(image: np.ndarray, reference: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """``image - reference`` (float64) smoothed by the separable kernel ``taps`` over the whole image, borders reflected
    without repeating the edge pixel: the whole change that :func:`hypothesis_distance` adds its window's to. The sums
    run in the same order as there, so a drawing that undoes this difference exactly leaves exactly no change."""
    height, width = image.shape[0], image.shape[1]
    reach = taps.size // 2
    padded_width = width + 2 * reach
    across = np.zeros((height, width * 3))
    padded = np.empty(padded_width * 3)
    for row in range(height):
        for column in range(padded_width):
            source = _reflected(column - reach, width)
            for channel in range(3):
                padded[3 * column + channel] = np.float64(image[row, source, channel]) - reference[row, source, channel]
        for tap in range(taps.size):
            _add_scaled(across[row], padded[3 * tap : 3 * tap + width * 3], taps[tap])
    smoothed = np.zeros((height, width, 3))
    for row in range(height):
        written = smoothed[row].reshape(width * 3)
        for tap in range(taps.size):
            _add_scaled(written, across[_reflected(row + tap - reach, height)], taps[tap])
    return smoothed


@numba.njit(cache=True)
def hypothesis_distance(
    u: np.ndarray,
    v: np.ndarray,
    z: np.ndarray,
    point_index: np.ndarray,
    colours: np.ndarray,
    background: np.ndarray,
    depth: np.ndarray,
    background_change: np.ndarray,
    observed: np.ndarray,
    background_distance: np.ndarray,
    unchanged_pixels: np.ndarray,
    taps: np.ndarray,
    truncation: float,
    tolerance: float,
    first_guessed: int,
    widest_gap: int,
    deepest_gap: float,
) -> float:
    """The scene-free search's cost of one hypothesis: the mean over the image of the per-pixel RGB L1 distance,
    truncated at ``truncation``, between the smoothed change of the drawing with the target's projected points ``(u, v,
    z)`` (:func:`draw_points` over ``background``) and the ``observed`` change.

    Smoothing is linear, so the drawing's smoothed change is the background's (``background_change``: the background
    minus the reference, smoothed, computed once: :func:`smoothed_difference`) plus the smoothed difference the drawn
    target makes to the background. Only that difference is smoothed here, and only where it reaches (the drawn points'
    bounds, plus the gap closing's two pixels, plus the ``taps``' reach) is the distance computed; elsewhere it is the
    background's, read from the summed-area table ``background_distance``. The smoothing is the whole image's: borders
    reflected without repeating the edge pixel.

    A pixel that shows a guessed point (index ``first_guessed`` or above: the target's unseen back, drawn as its seen
    front mirrored), or a row gap of a turned drawing (``widest_gap``, ``deepest_gap``: see :func:`draw_points`), costs
    at most what the unchanged view costs there (``unchanged_pixels``): a guess may explain the image, but its wrong
    details are not charged twice (once for the colour it drew, once for the one it missed), which would favour "no
    turn" over any turn that shows a surface the source never saw."""
    height, width = depth.shape
    whole = background_distance[height, width]
    if u.size == 0:
        return whole / (width * height)
    # The drawing's window: the gap closing reads a pixel beyond a drawn one, and that pixel's neighbours.
    left, top = max(0, u.min() - 2), max(0, v.min() - 2)
    right, bottom = min(width, u.max() + 3), min(height, v.max() + 3)
    drawn, _, guessed = draw_points(
        background,
        depth,
        u,
        v,
        z,
        point_index,
        colours,
        left,
        top,
        right,
        bottom,
        tolerance,
        first_guessed,
        widest_gap,
        deepest_gap,
    )
    drawn_height, drawn_width = bottom - top, right - left
    reach = taps.size // 2
    # The window the smoothed difference reaches.
    near_left, near_top = max(0, left - reach), max(0, top - reach)
    near_right, near_bottom = min(width, right + reach), min(height, bottom + reach)
    near_width = near_right - near_left
    total = whole - (
        background_distance[near_bottom, near_right]
        - background_distance[near_top, near_right]
        - background_distance[near_bottom, near_left]
        + background_distance[near_top, near_left]
    )
    # Rows first (the drawing's rows, which alone differ), then columns. A row's difference is read through a padded
    # copy whose columns are the window's, widened by the reach and reflected at the image's borders; pixels and
    # channels flattened, so that each tap is one straight (vectorisable) loop over its non-zero stretch.
    padded_width = near_width + 2 * reach
    # The padded columns that read a drawn column (the rest are zero in every row: the drawing leaves them alone).
    read = np.empty(padded_width, np.int64)
    sources = np.empty(padded_width, np.int64)
    count = 0
    for column in range(padded_width):
        source = _reflected(near_left - reach + column, width) - left
        if 0 <= source < drawn_width:
            read[count], sources[count] = column, source
            count += 1
    across = np.zeros((drawn_height, near_width * 3), np.float32)
    padded = np.zeros(padded_width * 3, np.float32)
    taps32 = taps.astype(np.float32)
    for row in range(drawn_height):
        low, high = padded.size, 0
        for k in range(count):
            column, source = read[k], sources[k]
            for channel in range(3):
                value = drawn[row, source, channel] - background[top + row, left + source, channel]  # float32
                padded[3 * column + channel] = value
                if value != 0.0:
                    low, high = min(low, 3 * column + channel), max(high, 3 * column + channel + 1)
        for tap in range(taps.size):
            offset = 3 * tap
            start, stop = max(low - offset, 0), min(high - offset, near_width * 3)
            _add_scaled(across[row, start:stop], padded[offset + start : offset + stop], taps32[tap])
    smoothed = np.empty(near_width * 3, np.float32)
    for row in range(near_top, near_bottom):
        smoothed[:] = 0.0
        for tap in range(taps.size):
            source_row = _reflected(row + tap - reach, height) - top
            if 0 <= source_row < drawn_height:
                _add_scaled(smoothed, across[source_row], taps32[tap])
        for column in range(near_width):
            image_column = near_left + column
            distance = 0.0
            for channel in range(3):
                change = background_change[row, image_column, channel] + smoothed[3 * column + channel]
                distance += abs(change - observed[row, image_column, channel])
            limit = truncation
            drawn_row, drawn_column = row - top, image_column - left
            if 0 <= drawn_row < drawn_height and 0 <= drawn_column < drawn_width and guessed[drawn_row, drawn_column]:
                limit = min(truncation, unchanged_pixels[row, image_column])
            total += min(distance, limit)
    return total / (width * height)


@numba.njit(cache=True)
def inlier_sums(
    x: np.ndarray, y: np.ndarray, counts: np.ndarray, gain: float, offset: float, tolerance: float
) -> tuple[int, float, float, float, float]:
    """``(count, sum x, sum y, sum x^2, sum xy)`` over the pairs ``(x, y)``, each counted ``counts`` times, where ``|y -
    (gain x + offset)| < tolerance``, the test done in float32 as numpy does it for float32 ``x`` and ``y`` (the sums in
    float64)."""
    gain32, offset32, tolerance32 = np.float32(gain), np.float32(offset), np.float32(tolerance)
    count = 0
    sum_x = sum_y = sum_xx = sum_xy = 0.0
    for i in range(x.size):
        residual = np.float32(y[i] - np.float32(np.float32(gain32 * x[i]) + offset32))
        if abs(residual) < tolerance32:
            weight = counts[i]
            count += weight
            xi, yi = np.float64(x[i]), np.float64(y[i])
            sum_x += weight * xi
            sum_y += weight * yi
            sum_xx += weight * xi * xi
            sum_xy += weight * xi * yi
    return count, sum_x, sum_y, sum_xx, sum_xy


@numba.njit(cache=True)
def joint_level_counts(source: np.ndarray, edited: np.ndarray) -> np.ndarray:
    """How many pixels show each pair of levels, per channel, of two uint8 images of the same shape: ``counts[c,
    256 * s + e]`` for source level ``s`` and edited level ``e`` in channel ``c`` (one pass over both images)."""
    channels = source.shape[2]
    counts = np.zeros((channels, 256 * 256), np.int64)
    for row in range(source.shape[0]):
        for column in range(source.shape[1]):
            for channel in range(channels):
                counts[channel, 256 * np.int64(source[row, column, channel]) + edited[row, column, channel]] += 1
    return counts


def warm_up() -> None:
    """Loads (or compiles) every kernel for the argument types scoring passes, so that a process forked after this
    starts its first row warm: the scoring workers' fork server calls it once (:mod:`gsi_bench.workers`), instead of
    each worker loading them on its first row (about half a second)."""
    image = np.zeros((4, 4, 3), np.float32)
    pixels = np.zeros(1, np.int64)
    pixels_of(np.zeros((1, 3)), np.eye(3), np.zeros(3), 4, 4)
    draw_points(
        image,
        np.ones((4, 4), np.float32),
        pixels,
        pixels,
        np.ones(1),
        pixels,
        np.zeros((1, 3), np.float32),
        0,
        0,
        4,
        4,
        0.01,
        1,
        2,
        0.1,
    )
    inlier_sums(np.zeros(4, np.float32), np.zeros(4, np.float32), np.ones(4, np.int64), 1.0, 0.0, 1.0)
    joint_level_counts(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8))
    smoothed_difference(image, image, gaussian_taps(0.5))
    hypothesis_distance(
        pixels,
        pixels,
        np.ones(1),
        pixels,
        np.zeros((1, 3), np.float32),
        image,
        np.ones((4, 4), np.float32),
        np.zeros((4, 4, 3)),
        image,
        np.zeros((5, 5)),
        np.zeros((4, 4)),
        gaussian_taps(0.5),
        1.0,
        0.01,
        1,
        2,
        0.1,
    )
