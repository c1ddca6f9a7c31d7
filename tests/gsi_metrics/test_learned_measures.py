"""LPIPS plugged into profile ``paper`` (``gsi_metrics.learned``): the reference's locality gate on SSIM and the
learned distance, EL = 1 - LPIPS, profile ``gsi`` unchanged, and the distance named by an import path."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gsi_metrics.learned import LearnedMeasures, load_distance  # noqa: E402
from gsi_metrics.scoring import score_profiles  # noqa: E402


def near() -> object:
    """A distance factory: every edit is 0.1 from its source (what LPIPS gives a clean edit)."""
    return lambda source, edited, outside: 0.1


def far() -> object:
    """A distance factory: 0.5, over the reference's 0.3 limit."""
    return lambda source, edited, outside: 0.5


def test_paper_gates_on_ssim_and_lpips_and_reports_one_minus_lpips(split_rows):
    row = split_rows[2]  # a scaling: its edit region leaves most of the image to compare
    plain_gsi, plain_paper = score_profiles(row, row["target_image"], profiles=("gsi", "paper"))
    gsi, paper = score_profiles(
        row, row["target_image"], profiles=("gsi", "paper"), measures=LearnedMeasures(lpips=near())
    )
    assert paper.el == pytest.approx(0.9) and paper.details["el_lpips"] == pytest.approx(0.1)
    assert "locality_gate" not in paper.details and paper.details["el_ssim"] > 0.6
    assert (gsi.ic, gsi.sa, gsi.el, gsi.ac) == (plain_gsi.ic, plain_gsi.sa, plain_gsi.el, plain_gsi.ac)
    assert gsi.details["el_lpips"] is None
    (failed,) = score_profiles(row, row["target_image"], profiles=("paper",), measures=LearnedMeasures(lpips=far()))
    assert failed.details["locality_gate"] == "failed" and failed.ic == 0 and failed.sa == 0  # SSIM alone would pass
    assert "locality_gate" not in plain_paper.details


def test_paper_view_score_of_a_camera_change_is_the_references_with_lpips() -> None:
    """PC in profile paper: SSIM alone without a distance, 0.5 SSIM + 0.5 (1 - LPIPS) with one; gsi unchanged."""
    from tests.generated import operation_rows, png_image

    row = operation_rows("camera_view_change", (0,), config="room")[0]
    output = np.asarray(png_image(row, "source_image"))  # an unchanged view: its SSIM to the target view is < 1
    plain_gsi, plain = score_profiles(row, output, profiles=("gsi", "paper"))
    gsi, learned = score_profiles(row, output, profiles=("gsi", "paper"), measures=LearnedMeasures(lpips=far()))
    ssim = plain.details["view_ssim"]
    assert 0 < ssim < 1 and plain.sa == plain.ic == ssim and plain.details["view_lpips"] is None
    assert learned.sa == learned.ic == pytest.approx(0.5 * ssim + 0.5 * (1 - 0.5))
    assert learned.details["view_lpips"] == 0.5 and learned.details["view_score"] == learned.sa
    assert (gsi.ic, gsi.sa) == (plain_gsi.ic, plain_gsi.sa)


def test_the_distance_comes_from_an_import_path_and_is_recorded(built_split, tmp_path):
    from gsi_bench.cli import main

    assert load_distance("tests.gsi_metrics.test_learned_measures:near")(np.zeros(1), np.zeros(1), np.zeros(1)) == 0.1
    with pytest.raises(ValueError, match="expected 'package.module:factory'"):
        load_distance("lpips")
    with pytest.raises(ValueError, match="cannot be imported"):
        load_distance("tests.gsi_metrics.test_learned_measures:missing")
    out = tmp_path / "results"
    command = ["eval", "--data", str(built_split), "--config", "tabletop", "--editor", "oracle", "--limit", "3",
               "--profile", "both", "--lpips", "tests.gsi_metrics.test_learned_measures:near", "--out", str(out),
               "--quiet"]  # fmt: skip
    assert main(command) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["manifest"]["learned"]["lpips"] == "tests.gsi_metrics.test_learned_measures:near"
    lines = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert all(line["other_profiles"]["paper"]["details"]["el_lpips"] == pytest.approx(0.1) for line in lines)


def _colour_grid(image: np.ndarray) -> np.ndarray:
    """A stand-in encoder: 8 x 8 cells of mean colour (centred), so a re-coloured object changes its descriptor."""
    height, width = image.shape[:2]
    cells = image[: height // 8 * 8, : width // 8 * 8].reshape(8, height // 8, 8, width // 8, 3).mean(axis=(1, 3))
    return cells - 127.5


def test_features_give_ac_one_for_the_same_object_and_less_for_a_recoloured_one(split_rows):
    from gsi_metrics.learned import feature_consistency
    from gsi_metrics.sample import ScoringSample

    view = ScoringSample.from_row(split_rows[2]).view
    image, mask = view.image, view.target_mask
    assert feature_consistency(_colour_grid, image, mask, image, mask) == pytest.approx(1.0)
    recoloured = image.copy()
    recoloured[mask] = 255 - recoloured[mask]
    assert feature_consistency(_colour_grid, image, mask, recoloured, mask) < 0.9


def test_ac_from_a_tiny_image_encoder_through_eval(built_split, tmp_path):
    pytest.importorskip("transformers")
    from gsi_bench.cli import main
    from tests.tiny_models import tiny_dinov2

    encoder = tiny_dinov2(tmp_path / "dinov2")
    out = tmp_path / "results"
    command = ["eval", "--data", str(built_split), "--config", "tabletop", "--editor", "oracle", "--limit", "3",
               "--ac-features", f"local-dir:{encoder}", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(command) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["manifest"]["learned"]["ac_features"] == f"local-dir:{encoder}"
    for line in (out / "samples.jsonl").read_text().splitlines():
        sample = json.loads(line)
        assert sample["ac"] == sample["details"]["ac_features"] and 0 <= sample["ac"] <= 1
        assert 0 <= sample["details"]["ac_weight_free"] <= 1
