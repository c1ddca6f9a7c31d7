"""Tests of the weight-free metric functions, against scikit-image references where one exists."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gsi_metrics.functional import (
    LocalityResult,
    appearance_consistency,
    bootstrap_mean_ci,
    dilate_mask,
    edit_locality,
    masked_psnr,
    masked_ssim,
    match_photometry,
    ssim_map,
)

SIZE = 128
SSIM_WINDOW_RADIUS_PX = 5


def _scene(seed: int, size: int = SIZE) -> np.ndarray:
    """A smooth random RGB image: blurred noise, like a defocused tabletop."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def _box_mask(top: int, left: int, height: int, width: int, size: int = SIZE) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[top : top + height, left : left + width] = True
    return mask


def _skimage_ssim(reference: np.ndarray, candidate: np.ndarray) -> tuple[float, np.ndarray]:
    return structural_similarity(
        reference,
        candidate,
        channel_axis=-1,
        data_range=255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        full=True,
    )


@pytest.fixture(scope="module")
def damaged_pair() -> tuple[np.ndarray, np.ndarray]:
    source = _scene(0)
    edited = source.copy()
    edited[20:50, 30:70] = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    edited[90:95] = 0
    return source, edited


# ---------------------------------------------------------------------------------------- locality


def test_ssim_map_matches_skimage(damaged_pair: tuple[np.ndarray, np.ndarray]) -> None:
    _, reference_map = _skimage_ssim(*damaged_pair)
    np.testing.assert_allclose(ssim_map(*damaged_pair), reference_map, atol=5e-4)


def test_masked_ssim_matches_skimage_mean(damaged_pair: tuple[np.ndarray, np.ndarray]) -> None:
    reference_mean, reference_map = _skimage_ssim(*damaged_pair)
    # scikit-image's mean leaves out the window's radius at the borders.
    interior = np.zeros((SIZE, SIZE), dtype=bool)
    interior[SSIM_WINDOW_RADIUS_PX:-SSIM_WINDOW_RADIUS_PX, SSIM_WINDOW_RADIUS_PX:-SSIM_WINDOW_RADIUS_PX] = True
    assert masked_ssim(*damaged_pair, interior) == pytest.approx(reference_mean, abs=1e-5)
    region = _box_mask(10, 10, 60, 90)
    assert masked_ssim(*damaged_pair, region) == pytest.approx(reference_map[region].mean(), abs=1e-5)


@pytest.mark.parametrize(
    "damaged",
    [
        (slice(20, 50), slice(30, 70)),
        (slice(0, 3), slice(0, 5)),
        (slice(125, 128), slice(100, 128)),
        (slice(60, 61),) * 2,
    ],
)
def test_masked_ssim_over_the_changed_window_is_the_whole_maps(damaged: tuple[slice, slice]) -> None:
    """SSIM is computed only around the pixels that differ (elsewhere it is exactly 1): the same mean as the whole
    image's map, for a change in the middle, in a corner, along an edge, of one pixel, with the masked region
    beside it, around it or away from it."""
    source = _scene(0)
    edited = source.copy()
    edited[damaged] = 255 - edited[damaged]
    for mask in (
        _box_mask(0, 0, SIZE, SIZE),
        _box_mask(10, 10, 60, 90),
        _box_mask(100, 0, 28, 40),
        ~_box_mask(20, 30, 30, 40),
    ):
        whole = float(np.mean(ssim_map(source, edited)[mask]))
        assert masked_ssim(source, edited, mask) == pytest.approx(whole, rel=1e-7, abs=1e-9)
    assert masked_ssim(source, source, _box_mask(10, 10, 60, 90)) == 1.0


def test_masked_psnr_matches_skimage(damaged_pair: tuple[np.ndarray, np.ndarray]) -> None:
    source, edited = damaged_pair
    everything = np.ones((SIZE, SIZE), dtype=bool)
    assert masked_psnr(source, edited, everything) == pytest.approx(
        peak_signal_noise_ratio(source, edited, data_range=255), abs=1e-6
    )
    region = _box_mask(10, 10, 60, 90)
    assert masked_psnr(source, edited, region) == pytest.approx(
        peak_signal_noise_ratio(source[region], edited[region], data_range=255), abs=1e-6
    )


def test_psnr_is_capped_at_60_db() -> None:
    source = _scene(0)
    nearly = source.copy()
    nearly[0, 0, 0] ^= 1  # one grey level on one value: ~117 dB uncapped
    everything = np.ones((SIZE, SIZE), dtype=bool)
    assert masked_psnr(source, source, everything) == 60.0
    assert masked_psnr(source, nearly, everything) == 60.0


def test_identical_images_score_one() -> None:
    source = _scene(0)
    result = edit_locality(source, source.copy(), _box_mask(40, 40, 30, 30))
    assert result.ssim == pytest.approx(1.0, abs=1e-9)
    assert result.psnr_db == 60.0
    assert result.score == pytest.approx(1.0, abs=1e-9)
    assert not result.empty
    assert result.region_fraction == pytest.approx(1.0 - 900 / SIZE**2)


@pytest.mark.parametrize("damage", ["noise", "pasted patch"])
def test_damage_outside_the_edit_lowers_the_score_with_its_size(damage: str) -> None:
    source = _scene(0)
    other = np.random.default_rng(3).integers(0, 256, source.shape, dtype=np.uint8) if damage == "noise" else _scene(9)
    edit_region = _box_mask(10, 10, 30, 30)
    results = []
    for side in (0, 8, 16, 32, 64):
        edited = source.copy()
        edited[60 : 60 + side, 50 : 50 + side] = other[:side, :side]
        results.append(edit_locality(source, edited, edit_region))
    scores = [result.score for result in results]
    assert scores[0] == pytest.approx(1.0)
    assert all(later < earlier for earlier, later in zip(scores, scores[1:], strict=False)), scores
    assert all(later.psnr_db < earlier.psnr_db for earlier, later in zip(results, results[1:], strict=False))
    assert scores[-1] < 0.9  # a quarter of the image replaced


def test_damage_inside_the_edit_does_not_change_the_score() -> None:
    source = _scene(0)
    edit_region = _box_mask(20, 20, 70, 70)
    baseline = source.copy()
    baseline[110:120, 5:15] = 0  # some damage outside, so the score is not trivially 1
    inside = baseline.copy()
    # Keep the damage a window radius away from the region's edge: SSIM windows of outside pixels reach 5 px in.
    margin = SSIM_WINDOW_RADIUS_PX
    inside[20 + margin : 90 - margin, 20 + margin : 90 - margin] = 255
    assert edit_locality(source, inside, edit_region) == edit_locality(source, baseline, edit_region)


def test_empty_outside_region_is_defined() -> None:
    source = _scene(0)
    result = edit_locality(source, 255 - source, np.ones((SIZE, SIZE), dtype=bool))
    assert result.empty
    assert result.score == 1.0
    assert result.region_fraction == 0.0
    assert math.isnan(result.ssim) and math.isnan(result.psnr_db)
    assert result.lpips is None


def test_empty_mask_gives_nan() -> None:
    source = _scene(0)
    nothing = np.zeros((SIZE, SIZE), dtype=bool)
    assert math.isnan(masked_ssim(source, source, nothing))
    assert math.isnan(masked_psnr(source, source, nothing))


def test_lpips_hook_is_called_on_the_outside_region_and_combined() -> None:
    source = _scene(0)
    edit_region = _box_mask(10, 10, 30, 30)
    seen: list[np.ndarray] = []

    def fake_lpips(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
        seen.append(mask)
        return 0.4

    result = edit_locality(source, source.copy(), edit_region, lpips=fake_lpips)
    np.testing.assert_array_equal(seen[0], ~edit_region)
    assert result.lpips == 0.4
    assert result.score == pytest.approx((1.0 + 0.6) / 2)
    # The distance is clipped to [0, 1] in the score but reported as returned.
    clipped = edit_locality(source, source.copy(), edit_region, lpips=lambda a, b, m: 1.7)
    assert clipped.lpips == 1.7 and clipped.score == pytest.approx(0.5)
    with pytest.raises(ValueError, match="finite"):
        edit_locality(source, source.copy(), edit_region, lpips=lambda a, b, m: math.nan)


def test_result_is_frozen() -> None:
    result = edit_locality(_scene(0), _scene(0), _box_mask(0, 0, 4, 4))
    assert isinstance(result, LocalityResult)
    with pytest.raises(AttributeError):
        result.score = 0.0  # type: ignore[misc]


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(128, 128, 3\) and \(64, 128, 3\)"):
        edit_locality(_scene(0), _scene(0)[:64], np.zeros((SIZE, SIZE), dtype=bool))
    with pytest.raises(ValueError, match=r"mask has shape \(64, 64\) but the image is \(128, 128\)"):
        masked_ssim(_scene(0), _scene(1), np.zeros((64, 64), dtype=bool))


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (_scene(0).astype(np.float32), "float32"),
        (_scene(0)[..., 0], r"shape \(128, 128\)"),
        (np.dstack([_scene(0), _scene(1)[..., :1]]), r"shape \(128, 128, 4\)"),
    ],
)
def test_rejects_non_rgb_uint8(image: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        masked_psnr(image, image, np.ones((SIZE, SIZE), dtype=bool))


def test_rejects_non_boolean_mask() -> None:
    with pytest.raises(ValueError, match="boolean"):
        masked_ssim(_scene(0), _scene(1), np.ones((SIZE, SIZE), dtype=np.uint8))


def test_dilate_mask_grows_a_disc() -> None:
    point = np.zeros((41, 41), dtype=bool)
    point[20, 20] = True
    disc = dilate_mask(point, 10)
    assert disc.dtype == bool
    assert disc[20, 10] and disc[20, 30] and disc[10, 20] and not disc[11, 11]
    assert np.count_nonzero(disc) == pytest.approx(math.pi * 10**2, rel=0.1)
    unchanged = dilate_mask(point, 0)
    assert unchanged is not point and np.array_equal(unchanged, point)
    with pytest.raises(ValueError, match="radius_px"):
        dilate_mask(point, -1)


# -------------------------------------------------------------------------------------- appearance


def _textured_object(kind: str, side: int = 64, hue_shift_deg: int = 0) -> np.ndarray:
    """A two-colour textured object with a little shading and sensor noise."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:side, :side]
    if kind == "blobs":
        pattern = cv2.GaussianBlur(rng.random((side, side)), (0, 0), 3.0) > 0.5
    elif kind == "stripes":
        pattern = (xx // 3) % 2 == 0
    else:
        raise ValueError(kind)
    image = np.where(pattern[..., None], (200, 60, 40), (235, 190, 90)).astype(np.float32)
    image *= (0.85 + 0.15 * yy / side)[..., None]
    image += rng.normal(0.0, 3.0, image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    if hue_shift_deg:
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(int) + hue_shift_deg // 2) % 180  # OpenCV hue is in 2-degree units
        image = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return image


def _place(
    obj: np.ndarray, top: int, left: int, background_seed: int, size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    image = _scene(background_seed, size)
    image[top : top + obj.shape[0], left : left + obj.shape[1]] = obj
    return image, _box_mask(top, left, obj.shape[0], obj.shape[1], size)


@pytest.fixture(scope="module")
def source_object() -> tuple[np.ndarray, np.ndarray]:
    return _place(_textured_object("blobs"), 30, 40, background_seed=10)


def test_appearance_tolerates_translation_rotation_and_scale(source_object: tuple[np.ndarray, np.ndarray]) -> None:
    obj = _textured_object("blobs")
    moved = appearance_consistency(*source_object, *_place(obj, 150, 170, background_seed=11))
    assert moved.found and moved.score == pytest.approx(1.0, abs=1e-6)
    rotated = appearance_consistency(*source_object, *_place(np.rot90(obj).copy(), 100, 60, background_seed=11))
    assert rotated.score == pytest.approx(1.0, abs=1e-6)
    doubled = cv2.resize(obj, (128, 128), interpolation=cv2.INTER_LINEAR)
    scaled = appearance_consistency(*source_object, *_place(doubled, 100, 100, background_seed=11))
    assert scaled.score > 0.8


def test_appearance_ranks_changed_objects_lower(source_object: tuple[np.ndarray, np.ndarray]) -> None:
    obj = _textured_object("blobs")
    kept = [
        appearance_consistency(*source_object, *_place(candidate, 120, 120, background_seed=11)).score
        for candidate in (obj, np.rot90(obj).copy(), cv2.resize(obj, (96, 96), interpolation=cv2.INTER_LINEAR))
    ]
    hue_shifted = appearance_consistency(
        *source_object, *_place(_textured_object("blobs", hue_shift_deg=60), 120, 120, background_seed=11)
    )
    other_texture = appearance_consistency(
        *source_object, *_place(_textured_object("stripes"), 120, 120, background_seed=11)
    )
    assert min(kept) > max(hue_shifted.score, other_texture.score) + 0.1
    # Each change shows in its own component.
    assert hue_shifted.colour < 0.5 and other_texture.texture < 0.7
    assert hue_shifted.colour_distance_lab > 10.0


def test_appearance_accepts_images_of_different_sizes(source_object: tuple[np.ndarray, np.ndarray]) -> None:
    result = appearance_consistency(*source_object, *_place(_textured_object("blobs"), 10, 10, 11, size=200))
    assert result.score == pytest.approx(1.0, abs=1e-6)


def test_appearance_of_a_missing_object_is_zero(source_object: tuple[np.ndarray, np.ndarray]) -> None:
    image, mask = source_object
    nothing = np.zeros_like(mask)
    for result in (
        appearance_consistency(image, mask, image, nothing),
        appearance_consistency(image, nothing, image, mask),
    ):
        assert not result.found
        assert result.score == 0.0
        assert math.isnan(result.colour_distance_lab)


def test_appearance_rejects_a_mask_of_the_wrong_size(source_object: tuple[np.ndarray, np.ndarray]) -> None:
    image, mask = source_object
    with pytest.raises(ValueError, match="edited_mask has shape"):
        appearance_consistency(image, mask, image, mask[:100])


def _cast(image: np.ndarray, gains: tuple[float, float, float], offsets: tuple[float, float, float]) -> np.ndarray:
    return np.clip(np.rint(image * np.array(gains) + np.array(offsets)), 0, 255).astype(np.uint8)


def test_match_photometry_undoes_an_image_wide_cast_and_keeps_a_change_inside_the_edit(
    source_object: tuple[np.ndarray, np.ndarray],
) -> None:
    image, mask = source_object
    unchanged = ~dilate_mask(mask, 4)
    # Nothing changed outside the edit: the image comes back as it is, also where the object itself changed.
    recoloured = _place(_textured_object("blobs", hue_shift_deg=90), 30, 40, background_seed=10)[0]
    assert np.array_equal(match_photometry(image, recoloured, unchanged), recoloured)
    # A colour cast of the whole image is undone (to rounding), on the object too ...
    cast = _cast(image, (0.85, 1.1, 1.2), (8.0, -6.0, 0.0))
    back = match_photometry(image, cast, unchanged)
    assert np.abs(back.astype(int) - image.astype(int)).mean() < 1.5 and np.abs(cast.astype(int) - image).mean() > 10
    # ... and AC after it is that of the unchanged image, while a recoloured object under the same cast stays low.
    kept = appearance_consistency(image, mask, back, mask).score
    assert kept == pytest.approx(appearance_consistency(image, mask, image, mask).score, abs=0.03)
    assert appearance_consistency(image, mask, cast, mask).score < kept - 0.1
    recast = match_photometry(image, _cast(recoloured, (0.85, 1.1, 1.2), (8.0, -6.0, 0.0)), unchanged)
    assert appearance_consistency(image, mask, recast, mask).score < kept - 0.3


def test_match_photometry_needs_unchanged_pixels_and_images_of_one_size(
    source_object: tuple[np.ndarray, np.ndarray],
) -> None:
    image, mask = source_object
    cast = _cast(image, (1.2, 1.2, 1.2), (0.0, 0.0, 0.0))
    assert np.array_equal(match_photometry(image, cast, np.zeros_like(mask)), cast)  # nothing to estimate it from
    with pytest.raises(ValueError, match="differ in size"):
        match_photometry(image, cast[:100], mask)
    with pytest.raises(ValueError, match="unchanged"):
        match_photometry(image, cast, mask[:100])


@pytest.mark.parametrize("seed", range(6))
def test_the_photometric_fit_is_scipys_theil_sen_to_the_last_bit(seed: int) -> None:
    from scipy.stats import theilslopes

    from gsi_metrics.functional.appearance import _theil_sen

    rng = np.random.default_rng(seed)
    # Quantile pairs as the fit sees them: repeated levels (ties in x and y), a line with noise, some outliers.
    x = np.sort(rng.integers(1, 255, 40)).astype(float)
    y = np.round(1.15 * x - 7.0 + rng.normal(0.0, 2.0, x.size))
    y[rng.choice(x.size, 5, replace=False)] = rng.integers(1, 255, 5)
    slope, intercept = theilslopes(y, x)[:2]
    assert _theil_sen(x, y) == (slope, intercept)
    assert abs(slope - 1.15) < 0.1  # the outliers do not pull it


# --------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    values = np.random.default_rng(0).random(300)
    assert bootstrap_mean_ci(values, seed=4) == bootstrap_mean_ci(values.tolist(), seed=4)
    assert bootstrap_mean_ci(values, seed=4) != bootstrap_mean_ci(values, seed=5)


def test_bootstrap_interval_contains_the_mean_and_matches_the_normal_approximation() -> None:
    values = np.random.default_rng(1).normal(0.6, 0.2, 2000)
    mean, low, high = bootstrap_mean_ci(values)
    assert mean == pytest.approx(values.mean())
    assert low < mean < high
    # For a sum of 2000 draws the bootstrap interval is close to mean +- 1.96 standard errors.
    half_width = 1.959964 * values.std() / math.sqrt(values.size)
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.1)


def test_bootstrap_width_shrinks_as_one_over_sqrt_n() -> None:
    rng = np.random.default_rng(2)
    small = bootstrap_mean_ci(rng.random(400))
    large = bootstrap_mean_ci(rng.random(1600))
    ratio = (small[2] - small[1]) / (large[2] - large[1])
    assert ratio == pytest.approx(2.0, rel=0.2)


def test_bootstrap_wider_for_higher_confidence() -> None:
    values = np.random.default_rng(3).random(200)
    _, low_90, high_90 = bootstrap_mean_ci(values, confidence=0.9)
    _, low_99, high_99 = bootstrap_mean_ci(values, confidence=0.99)
    assert low_99 < low_90 and high_99 > high_90


def test_bootstrap_edge_cases() -> None:
    assert all(math.isnan(v) for v in bootstrap_mean_ci([]))
    assert bootstrap_mean_ci([0.25]) == (0.25, 0.25, 0.25)
    assert bootstrap_mean_ci([0.5] * 10) == (0.5, 0.5, 0.5)
    mean, low, high = bootstrap_mean_ci(np.random.default_rng(4).random(10_000), n_resamples=2000)
    assert low < mean < high and high - low < 0.02


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confidence": 1.0}, "confidence"),
        ({"confidence": 0.0}, "confidence"),
        ({"n_resamples": 0}, "n_resamples"),
    ],
)
def test_bootstrap_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bootstrap_mean_ci([0.1, 0.2], **kwargs)


def test_bootstrap_rejects_non_finite_values() -> None:
    with pytest.raises(ValueError, match="1 NaN or infinite of 3"):
        bootstrap_mean_ci([0.1, math.nan, 0.3])


@pytest.mark.parametrize("count", [1, 2, 7, 4096, 250_001])
def test_photometry_quantiles_from_histograms_are_numpys_percentiles(count: int) -> None:
    from gsi_metrics.functional.appearance import _channel_percentiles

    rng = np.random.default_rng(count)
    values = np.concatenate(
        [rng.integers(0, 256, (count, 1)), np.clip(rng.normal(128, 9, (count, 1)), 0, 255), np.full((count, 1), 7)],
        axis=1,
    ).astype(np.uint8)
    percentiles = np.arange(2.0, 98.5, 2.0)
    image = np.concatenate([values, rng.integers(0, 256, (count, 3)).astype(np.uint8)])[:, None, :]  # (2 count, 1, 3)
    first_half = np.arange(2 * count)[:, None] < count
    expected = np.percentile(values, percentiles, axis=0).T
    assert np.array_equal(_channel_percentiles(image, first_half, percentiles), expected)
