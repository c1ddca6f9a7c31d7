"""Learned experts plug into scene-free perception through one interface: their proposals start the search, the
image still decides, and a bad expert gets a clear error."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from gsi_metrics.perception import create_backend, perceive
from gsi_metrics.perception.experts import TargetProposal, load_experts, target_proposals
from gsi_metrics.perception.scene_free import SceneFreeComparer
from gsi_metrics.sample import ScoringSample
from tests.generated import operation_rows, png_image
from tests.gsi_metrics.external_backend import ChangeSegmenter


class _Perfect:
    """An expert that knows the edited target's pixels and depth (what a perfect segmenter and depth model give)."""

    def __init__(self, mask: np.ndarray, depth: np.ndarray) -> None:
        self.mask, self.depth = mask, depth

    def segment(self, edited: np.ndarray, category: str) -> list[np.ndarray]:
        return [self.mask]

    def edited_depth(self, edited: np.ndarray) -> np.ndarray:
        return self.depth


def _row_without_scene() -> tuple[dict, ScoringSample]:
    row = operation_rows("camera_relative_move", (0,))[0]
    sample = ScoringSample.from_row(row)
    return row, dataclasses.replace(sample, view=dataclasses.replace(sample.view, scene=None))


def test_proposals_are_the_segments_centroids_at_the_measured_depth() -> None:
    row, sample = _row_without_scene()
    edited = np.array(png_image(row, "target_image"))
    mask = sample.truth.expected_target_mask(sample.view.target_id)
    depth = np.full(mask.shape, 0.8, np.float32)
    (proposal,) = target_proposals(_Perfect(mask, depth), sample.view, edited)
    rows, columns = np.nonzero(mask)
    assert proposal.pixel == pytest.approx((columns.mean(), rows.mean())) and proposal.depth_m == pytest.approx(0.8)
    with pytest.raises(ValueError, match="mask of shape"):
        target_proposals(_Perfect(mask[:10], depth), sample.view, edited)


def test_a_proposal_at_the_target_starts_the_search_there() -> None:
    """A proposal at the edited target's pixel, without depth, becomes a start on the support plane within a few
    centimetres of the truth (with the true depth: within a few centimetres too)."""
    row, sample = _row_without_scene()
    edited = np.array(png_image(row, "target_image"))
    mask = sample.truth.expected_target_mask(sample.view.target_id)
    rows, columns = np.nonzero(mask)
    pixel = (float(columns.mean()), float(rows.mean()))
    truth = sample.truth.translation_m
    target_depth = np.array(Image.open(io.BytesIO(row["target_depth"]["bytes"]))).astype(np.float32) / 1000.0
    for depth in (None, float(np.median(target_depth[rows, columns]))):
        comparer = SceneFreeComparer(sample.view, edited, proposals=[TargetProposal(pixel, depth)])
        (start,) = comparer._proposed_hypotheses()
        translation, _, _ = comparer.to_camera_frame(start)
        assert np.linalg.norm((translation - truth)[[0, 2]]) < 0.04, (depth, translation, truth)


def test_the_backend_loads_experts_by_import_path_and_records_them() -> None:
    row, sample = _row_without_scene()
    path = "tests.gsi_metrics.external_backend:change_segmenter"
    backend = create_backend("classical", experts=path)
    assert backend.config()["experts"] == path
    before = ChangeSegmenter.calls
    target = perceive(backend, sample.view, np.array(png_image(row, "target_image"))).target
    assert ChangeSegmenter.calls == before + 1
    assert target.found and np.linalg.norm(target.translation_m - sample.truth.translation_m) < 0.03


def test_a_bad_experts_path_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="expected 'package.module:factory'"):
        load_experts("no_colon")
    with pytest.raises(ValueError, match="cannot be imported"):
        load_experts("tests.gsi_metrics.external_backend:missing")
    with pytest.raises(ValueError, match="none of edited_depth, segment, features"):
        load_experts("builtins:object")


@pytest.fixture(scope="module")
def tiny_experts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Tiny random depth, detection and feature models saved in folders, as an experts mapping."""
    pytest.importorskip("transformers")
    from tests.tiny_models import tiny_depth_anything, tiny_dinov2, tiny_owlvit

    folder = tmp_path_factory.mktemp("experts")
    return {
        "depth": f"local-dir:{tiny_depth_anything(folder / 'depth')}",
        "detector": f"local-dir:{tiny_owlvit(folder / 'detector')}",
        "features": f"local-dir:{tiny_dinov2(folder / 'features')}",
    }


def test_transformers_experts_answer_in_the_interfaces_shapes(tiny_experts: dict[str, str]) -> None:
    from gsi_metrics.perception.transformers_experts import TransformersExperts

    experts = load_experts(tiny_experts)
    assert isinstance(experts, TransformersExperts) and load_experts(dict(tiny_experts)) is experts  # once per process
    edited = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    depth = experts.edited_depth(edited)
    assert depth.shape == (96, 128) and np.isfinite(depth).all() and (depth >= 0).all()
    masks = experts.segment(edited, "coffee_mug")
    assert masks and all(mask.shape == (96, 128) and mask.dtype == bool and mask.any() for mask in masks)
    assert experts.features(edited).shape == (4, 4, 16)  # 56-px input, 14-px patches, 16 channels
    described = experts.describe()
    assert described["depth"] == {"source": "local-dir", "id": tiny_experts["depth"].removeprefix("local-dir:"),
                                  "revision": None}  # fmt: skip
    assert described["dtype"] == "float32" and described["device"] == "cpu"


def test_transformers_experts_run_in_scene_free_eval_and_are_recorded(tiny_experts, built_split, tmp_path):
    """The backend takes the mapping (YAML on the command line), scene-free scoring runs with it, and the results'
    manifest names every model."""
    from gsi_bench.cli import main

    out = tmp_path / "results"
    option = "experts={" + ", ".join(f"{role}: {source}" for role, source in tiny_experts.items()) + "}"
    command = ["eval", "--data", str(built_split), "--config", "tabletop", "--editor", "oracle", "--limit", "2",
               "--perception", "scene-free", "--backend-option", option, "--out", str(out), "--quiet"]  # fmt: skip
    assert main(command) == 0
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["status_counts"].get("scoring_error", 0) == 0
    manifest = summary["manifest"]
    assert manifest["backend"]["config"]["experts"] == tiny_experts
    assert {manifest["experts"][role]["source"] for role in ("depth", "detector", "features")} == {"local-dir"}


def test_bad_model_sources_are_refused() -> None:
    with pytest.raises(ValueError, match="hf-hub:<owner/name>"):
        load_experts({"depth": "depth-anything/small"})
    with pytest.raises(ValueError, match="is not a folder"):
        load_experts({"depth": "local-dir:/no/such/folder"})
    with pytest.raises(ValueError, match="unknown key"):
        load_experts({"normals": "hf-hub:a/b"})


@pytest.fixture(scope="module")
def tiny_segmenter(tmp_path_factory: pytest.TempPathFactory) -> str:
    pytest.importorskip("transformers")
    from tests.tiny_models import tiny_sam

    return f"local-dir:{tiny_sam(tmp_path_factory.mktemp('segmenter') / 'sam')}"


def test_a_segmenter_turns_the_detectors_boxes_into_its_masks(tiny_experts, tiny_segmenter) -> None:
    from gsi_metrics.perception.transformers_experts import MOST_SEGMENTS

    boxes_only = load_experts({"detector": tiny_experts["detector"], "threshold": 0.0})
    segmented = load_experts({"detector": tiny_experts["detector"], "segmenter": tiny_segmenter, "threshold": 0.0})
    edited = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    boxes = boxes_only.segment(edited, "coffee_mug")
    masks = segmented.segment(edited, "coffee_mug")
    assert 0 < len(boxes) <= MOST_SEGMENTS  # threshold 0: every box with pixels in the image, at most the best 8
    assert len(masks) == len(boxes) and segmented.forward_passes["segmenter"] == 1  # all prompts in one pass
    assert all(mask.shape == (96, 128) and mask.dtype == bool and mask.any() for mask in masks)
    assert sum(not np.array_equal(mask, box) for mask, box in zip(masks, boxes, strict=True)) >= len(boxes) // 2
    assert segmented.describe()["segmenter"]["source"] == "local-dir"
    with pytest.raises(ValueError, match="name a detector too"):
        load_experts({"segmenter": tiny_segmenter})


def test_batched_answers_equal_one_at_a_time_in_fewer_forward_passes(tiny_experts, tiny_segmenter) -> None:
    from gsi_metrics.perception.experts import ExpertRequest

    models = {**tiny_experts, "segmenter": tiny_segmenter, "threshold": 0.0}
    one_by_one = load_experts({**models, "batch_size": 1})
    batched = load_experts({**models, "batch_size": 4})
    rng = np.random.default_rng(1)

    def image(shape: tuple[int, int] = (96, 128)) -> np.ndarray:
        return rng.integers(0, 256, (*shape, 3), dtype=np.uint8)

    requests = [ExpertRequest(image(), image(), ("coffee_mug", "bowl")) for _ in range(5)]
    requests.append(ExpertRequest(image((80, 80)), image((80, 80)), ("plate",)))  # another size: its own batches
    batched.prefetch(requests)
    # 5 + 1 edited depths: 2 + 1 passes; 10 + 1 detections: 3 + 1 (each one segmenter pass); 12 images: 3 + 1.
    assert batched.forward_passes == {"depth": 3, "detector": 4, "segmenter": 4, "features": 4}
    for request in requests:
        for picture in (request.source, request.edited):
            np.testing.assert_allclose(batched.features(picture), one_by_one.features(picture), atol=1e-4)
        np.testing.assert_allclose(batched.edited_depth(request.edited), one_by_one.edited_depth(request.edited), 1e-4)
        for category in request.categories:
            batched_masks = batched.segment(request.edited, category)
            single_masks = one_by_one.segment(request.edited, category)
            assert len(batched_masks) == len(single_masks)
            agreement = [np.mean(a == b) for a, b in zip(batched_masks, single_masks, strict=True)]
            assert min(agreement) > 0.99  # a pixel on a mask's edge may flip with the batch's arithmetic
    assert batched.forward_passes == {"depth": 3, "detector": 4, "segmenter": 4, "features": 4}  # all read back
    assert one_by_one.forward_passes["features"] == 12


def test_kept_answers_are_bounded_and_the_least_recently_used_go_first(tiny_experts) -> None:
    """The experts keep 16 answers a batch slot (a depth map is a full-size image): an answer asked for again stays,
    the least recently used one is computed again."""
    experts = load_experts({"features": tiny_experts["features"], "batch_size": 1})
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(17)]
    for picture in images[:16]:
        experts.features(picture)
    experts.features(images[0])  # used again: now the most recent
    experts.features(images[16])  # one more than the bound: images[1] goes
    assert experts.forward_passes["features"] == 17
    experts.features(images[0])
    assert experts.forward_passes["features"] == 17
    experts.features(images[1])
    assert experts.forward_passes["features"] == 18


def test_eval_prefetches_rows_for_batching_experts_with_the_same_scores(tiny_experts, built_split, tmp_path) -> None:
    """In one process, eval hands the experts batch_size rows at a time: the scores are those of one row at a time,
    from fewer forward passes."""
    import json

    from gsi_bench.cli import main

    scores = {}
    for batch_size in (1, 3):
        out = tmp_path / f"batch{batch_size}"
        option = "experts={" + ", ".join(f"{role}: {source}" for role, source in tiny_experts.items())
        option += f", batch_size: {batch_size}" + "}"
        command = ["eval", "--data", str(built_split), "--config", "tabletop", "--editor", "oracle", "--limit", "6",
                   "--perception", "scene-free", "--backend-option", option, "--out", str(out), "--quiet"]  # fmt: skip
        assert main(command) == 0
        lines = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
        scores[batch_size] = [(line["status"], line["ic"], line["sa"], line["el"], line["ac"]) for line in lines]
        experts = load_experts({**tiny_experts, "batch_size": batch_size})
        assert json.loads((out / "summary.json").read_text())["manifest"]["experts"]["batch_size"] == batch_size
        scores[f"passes{batch_size}"] = experts.forward_passes["features"]
    assert scores[1] == scores[3] and len(scores[1]) == 6
    assert scores["passes3"] < scores["passes1"]
