"""Pure, weight-free metric functions of GSI-Bench (the functional half of the torchmetrics-style split).

- :func:`edit_locality`, :func:`masked_ssim`, :func:`masked_psnr`, :func:`dilate_mask`: Edit Locality;
  :func:`without_object` inpaints an object away.
- :func:`appearance_consistency`: Appearance Consistency without a judge; :func:`match_photometry` undoes an
  image-wide colour change before it.
- :func:`bootstrap_mean_ci`: confidence intervals for aggregated scores.
"""

from gsi_metrics.functional.appearance import AppearanceResult, appearance_consistency, match_photometry
from gsi_metrics.functional.bootstrap import bootstrap_mean_ci
from gsi_metrics.functional.locality import (
    LocalityResult,
    MaskedDistance,
    dilate_mask,
    edit_locality,
    masked_psnr,
    masked_ssim,
    ssim_map,
    without_object,
)

__all__ = [
    "AppearanceResult",
    "LocalityResult",
    "MaskedDistance",
    "appearance_consistency",
    "bootstrap_mean_ci",
    "dilate_mask",
    "edit_locality",
    "masked_psnr",
    "match_photometry",
    "masked_ssim",
    "ssim_map",
    "without_object",
]
