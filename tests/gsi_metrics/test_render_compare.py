"""Render-and-compare draws only the pixels a hypothesis changes, and that changes none of its costs."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from gsi_datasets.geometry import geodesic_angle_deg
from gsi_datasets.rendering import StateRenderer
from gsi_datasets.scene import Scene
from gsi_metrics.perception import create_backend, render_compare
from gsi_metrics.perception.classical import ClassicalBackend
from gsi_metrics.perception.render_compare import Hypothesis, RenderComparer, _SceneRenders, photometrically_matched
from gsi_metrics.sample import ScoringSample
from tests.generated import operation_rows, png_image


@pytest.mark.parametrize("divisor", [1, 2])
def test_a_window_of_a_render_is_that_part_of_the_whole_render(split_rows: list[dict], divisor: int) -> None:
    scene = Scene.from_dict(json.loads(split_rows[0]["scene"])["source"])
    with StateRenderer([scene]) as renderer:
        whole = renderer.render_rgb(scene, shadows=False, divisor=divisor).astype(int)
        height, width = whole.shape[:2]
        full_window = renderer.render_rgb(scene, shadows=False, divisor=divisor, window=(0, 0, width, height))
        assert np.array_equal(full_window, whole)
        for left, top, right, bottom in [(0, 0, width // 2, height // 3), (width // 3, height // 4, width, height - 3)]:
            part = renderer.render_rgb(scene, shadows=False, divisor=divisor, window=(left, top, right, bottom))
            assert part.shape == (bottom - top, right - left, 3)
            # A narrowed view shades a few pixels a little differently (a few grey levels at most, or an edge pixel).
            differs = np.abs(part.astype(int) - whole[top:bottom, left:right]).sum(axis=2) > 12
            assert differs.mean() < 0.002
        for bad in [(5, 5, 5, 9), (-1, 0, 4, 4), (0, 0, width + 1, 4)]:
            with pytest.raises(ValueError, match="is not a non-empty part"):
                renderer.render_rgb(scene, shadows=False, divisor=divisor, window=bad)


def test_a_narrowed_view_draws_only_the_geoms_that_reach_it_and_the_same_pixels(
    split_rows: list[dict], room_rows: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without shadows, a window leaves out every geom whose bounding sphere lies outside its view (most of a room's
    furniture, for a window around one object), and draws exactly the pixels it draws with all of them."""
    rng = np.random.default_rng(0)
    left_out = []
    for row in [*split_rows[:2], *room_rows[:2]]:
        scene = Scene.from_dict(json.loads(row["scene"])["source"])
        with StateRenderer([scene]) as renderer:
            for _ in range(6):
                divisor = int(rng.choice([1, 2]))
                width, height = renderer.width // divisor, renderer.height // divisor
                left, top = int(rng.integers(0, width - 16)), int(rng.integers(0, height - 16))
                right = int(rng.integers(left + 8, min(width, left + 96) + 1))
                bottom = int(rng.integers(top + 8, min(height, top + 96) + 1))
                window = (left, top, right, bottom)
                antialias = bool(rng.integers(0, 2))
                drawn = renderer.render_rgb(scene, shadows=False, divisor=divisor, window=window, antialias=antialias)
                culled = renderer._outside_window(window, divisor)
                assert set(culled) <= set(np.flatnonzero(renderer._model.geom_rbound > 0))  # never a plane (the floor)
                left_out.append(len(culled) / renderer._model.ngeom)
                with monkeypatch.context() as patch:
                    patch.setattr(StateRenderer, "_outside_window", lambda self, *args: np.empty(0, np.int64))
                    everything = renderer.render_rgb(
                        scene, shadows=False, divisor=divisor, window=window, antialias=antialias
                    )
                assert np.array_equal(drawn, everything)
    assert np.mean(left_out) > 0.3


def test_drawing_without_anti_aliasing_differs_only_along_edges_and_switches_back(split_rows: list[dict]) -> None:
    """The search's cheaper renders (no multisampling) are the same picture but for edge pixels; going back and forth
    between them and the anti-aliased ones (two contexts of one model) leaves every render as drawn alone."""
    scene = Scene.from_dict(json.loads(split_rows[0]["scene"])["source"])
    with StateRenderer([scene]) as fresh:
        alone = fresh.render_rgb(scene, shadows=False)
    with StateRenderer([scene]) as renderer:
        for divisor in (1, 2):
            smooth = renderer.render_rgb(scene, shadows=False, divisor=divisor).astype(int)
            jagged = renderer.render_rgb(scene, shadows=False, divisor=divisor, antialias=False).astype(int)
            assert jagged.shape == smooth.shape
            differs = np.abs(jagged - smooth).sum(axis=2) > 12
            assert 0.0 < differs.mean() < 0.05
            edges = cv2.dilate(cv2.Canny(smooth.astype(np.uint8), 30, 90), np.ones((3, 3), np.uint8)) > 0
            assert differs[~edges].mean() < 0.002
        assert np.array_equal(renderer.render_rgb(scene, shadows=False), alone)
        assert np.array_equal(renderer.render(0).rgb, renderer.render(0).rgb)


def test_a_state_drawn_after_other_scalings_is_drawn_as_alone(split_rows: list[dict]) -> None:
    """A renderer that has drawn other states (render-and-compare's ~30 scalings of the target) draws a state of its
    objects at the scales they were compiled at exactly as one built for that state alone: nothing of the other
    drawings (a scaling, a hidden object) stays behind."""
    scene = Scene.from_dict(json.loads(split_rows[0]["scene"])["source"])
    target = scene.objects[0]
    scaled = [scene.with_object(dataclasses.replace(target, scale=target.scale * s)) for s in (0.5, 0.8, 1.3, 2.0)]
    with StateRenderer([scene]) as alone:
        expected = [alone.render(0), alone.render_rgb(scene, shadows=False, divisor=2, window=(8, 8, 120, 100))]
    with StateRenderer([scene, *scaled]) as shared:
        index = 0
        for _ in range(2):  # after other states were drawn too
            for state in scaled:
                shared.render_rgb(state, shadows=False)
                shared.render_rgb(state.without_object(target.instance_id), shadows=False)
            view = shared.render(index)
            assert np.array_equal(view.rgb, expected[0].rgb)
            assert np.array_equal(view.depth_m, expected[0].depth_m)
            assert np.array_equal(view.instances, expected[0].instances)
            window = shared.render_rgb(scene, shadows=False, divisor=2, window=(8, 8, 120, 100))
            assert np.array_equal(window, expected[1])


def _whole_image_distance(comparer: RenderComparer, state: Scene, exact: bool) -> float:
    """The distance of :meth:`RenderComparer._distance`, from renders of the whole image."""
    change = comparer._predicted_change(state, exact) - comparer.observed_change
    return float(np.minimum(np.abs(change).sum(axis=2), comparer.truncation).mean())


def test_costs_from_the_changed_window_equal_whole_image_costs(split_rows: list[dict]) -> None:
    """Every object's drawn pixels lie in its box's projection, so the window of a hypothesis holds all it changes;
    drawn in it, with the source scene drawn in the same window, the cost is the whole image's, for moves, turns,
    scalings, far moves that leave the image, and the removal, on an unedited and an edited image."""
    rng = np.random.default_rng(0)
    for row in split_rows[:4]:
        sample = ScoringSample.from_row(row)
        for edited in (np.array(row["source_image"]), np.array(row["target_image"])):
            comparer = RenderComparer(sample.view, edited)
            try:
                assert comparer._distance(comparer.view, exact=False) == pytest.approx(
                    _whole_image_distance(comparer, comparer.view, exact=False), rel=1e-6
                )
                scales = len(comparer.scales)
                hypotheses = [
                    Hypothesis(*rng.normal(0.0, 0.1, 2), rng.uniform(0.0, 360.0), int(rng.integers(scales)))
                    for _ in range(4)
                ] + [Hypothesis(2.5, 0.0, 0.0, comparer.identity_index)]
                states = [comparer.state(h) for h in hypotheses]
                states.append(comparer.view.without_object(comparer.target.instance_id))
                for state in states:
                    left, top, right, bottom = comparer._change_window(state)
                    whole_change = np.abs(comparer._predicted_change(state, exact=False)).sum(axis=2)
                    whole_change[top:bottom, left:right] = 0
                    assert not whole_change.any(), "the hypothesis changed pixels outside its window"
                    for exact in (False, True):
                        assert comparer._distance(state, exact) == pytest.approx(
                            _whole_image_distance(comparer, state, exact), abs=1e-3 * comparer.cost_unit
                        )
            finally:
                comparer.close()


def _forget_scene_renders() -> None:
    """Closes the renderer the last comparer kept (:class:`_SceneRenders`), so that the next comparer starts afresh."""
    if _SceneRenders._last is not None:
        _SceneRenders._last.renderer.close()
        _SceneRenders._last = None


def test_comparers_of_one_scene_share_its_renders_and_cost_what_fresh_ones_cost(
    split_rows: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fidelity suite perceives many edits of one scene in turn: their comparers share the scene's renderer and
    its drawings (:class:`_SceneRenders`: a state drawn for one edit is not drawn again for the next), and every cost
    is the one a comparer drawing everything afresh gives, also for edits blurred differently (the drawings are shared
    before the blur each edited image gives them; these two blurs reach as far, so their hypotheses' windows are the
    same); the next scene's comparer closes the renderer."""
    sample = ScoringSample.from_row(split_rows[0])
    edited = np.array(split_rows[0]["target_image"])
    edits = [
        cv2.GaussianBlur(edited, (0, 0), 1.5),
        cv2.GaussianBlur(edited, (0, 0), 1.25),
        np.array(split_rows[0]["source_image"]),
    ]

    def costs(comparer: RenderComparer) -> list[float]:
        hypotheses = [
            Hypothesis(0.0, 0.0, 0.0, comparer.identity_index),
            Hypothesis(0.03, -0.02, 40.0, comparer.identity_index),
            Hypothesis(-0.05, 0.01, 200.0, comparer.identity_index + 2),
        ]
        return [comparer._distance(comparer.state(h), exact) for h in hypotheses for exact in (False, True)]

    fresh = []
    for edit in edits:
        _forget_scene_renders()
        fresh.append(costs(RenderComparer(sample.view, edit)))
    shared = [RenderComparer(sample.view, edit) for edit in edits]
    assert shared[0].renderer is shared[1].renderer is shared[2].renderer
    assert shared[0].blur_sigma != shared[1].blur_sigma and shared[0]._blur_reach() == shared[1]._blur_reach()
    draws = []
    render_rgb = shared[0].renderer.render_rgb
    monkeypatch.setattr(shared[0].renderer, "render_rgb", lambda *a, **k: draws.append(1) or render_rgb(*a, **k))
    shared_costs = []
    for comparer in shared:
        draws.clear()
        shared_costs.append(costs(comparer))
        if comparer is shared[0]:
            assert draws  # the hypotheses were drawn...
        elif comparer is shared[1]:
            assert not draws  # ...once: the same states in the same windows, blurred the other edit's way
    assert shared_costs == fresh
    other = RenderComparer(ScoringSample.from_row(split_rows[1]).view, edits[0])
    assert other.renderer is not shared[0].renderer
    assert shared[0].renderer._context is None  # closed
    other.close()


def test_costs_worked_out_together_are_the_costs_one_by_one(
    split_rows: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search asks for a descent's neighbours, a sweep, a line of shifts at once: their changed objects are drawn
    together (one read-back of the renderer's buffer for many drawings) and their costs are the costs asked one by one
    (to the rasteriser's rounding, a few colour levels at a few pixels), the infinite ones and those already known
    included."""
    for row in split_rows[:3]:
        sample = ScoringSample.from_row(row)
        edited = np.array(row["target_image"])
        _forget_scene_renders()
        comparer = RenderComparer(sample.view, edited)
        base = Hypothesis(0.01, -0.02, 30.0, comparer.identity_index)
        hypotheses = [
            base,
            *(dataclasses.replace(base, dx_m=base.dx_m + 0.01 * k, yaw_deg=10.0 * k) for k in range(1, 7)),
            dataclasses.replace(base, scale_index=comparer.identity_index + 3),
            dataclasses.replace(base, dx_m=9.0),  # beyond the longest shift: infinite, never drawn
            base,
        ]
        one_by_one = [comparer.cost(h) for h in hypotheses]
        _forget_scene_renders()
        comparer = RenderComparer(sample.view, edited)
        comparer.cost(hypotheses[1])  # one known before
        reads: list[int] = []

        def counted(layers: list, *args: object, drawn=comparer.renderer.render_layers, reads=reads) -> list:
            reads.append(len(layers))
            return drawn(layers, *args)

        monkeypatch.setattr(comparer.renderer, "render_layers", counted)
        comparer._costs_ahead(hypotheses)
        assert reads and max(reads) >= 6  # drawn together
        reads.clear()
        together = [comparer.cost(h) for h in hypotheses]
        assert not reads  # every cost was worked out ahead
        assert np.isinf(together[-2]) and np.isinf(one_by_one[-2])
        assert together == pytest.approx(one_by_one, abs=1e-4 * comparer.cost_unit)
        comparer.close()


def test_a_scene_keeps_its_drawings_up_to_a_bound(split_rows: list[dict], monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``_MOST_KEPT_DRAWING_BYTES`` a scene's drawings are dropped and drawn again when asked: the same costs."""
    sample = ScoringSample.from_row(split_rows[0])
    edited = np.array(split_rows[0]["target_image"])
    hypotheses = [Hypothesis(0.01 * k, -0.01 * k, 15.0 * k, 0) for k in range(6)]

    def costs() -> list[float]:
        comparer = RenderComparer(sample.view, edited)
        hypotheses[0] = Hypothesis(0.0, 0.0, 0.0, comparer.identity_index)
        return [comparer._distance(comparer.state(h), exact=False) for h in hypotheses]

    _forget_scene_renders()
    unbounded = costs()
    sizes = [drawing.nbytes for drawing in _SceneRenders._last.drawings.values()]
    bound = max(max(sizes), sum(sizes) // 2)
    assert bound < sum(sizes)
    _forget_scene_renders()
    monkeypatch.setattr(render_compare, "_MOST_KEPT_DRAWING_BYTES", bound)
    assert costs() == unbounded
    assert 0 < sum(d.nbytes for d in _SceneRenders._last.drawings.values()) <= bound


def _pixelwise_photometric_fit(edited: np.ndarray, source: np.ndarray, tolerance: float = 12.0) -> np.ndarray | None:
    """The global gain and offset fit of :func:`photometrically_matched`, pixel by pixel in numpy (None: no dominant
    relation)."""
    gains_offsets = []
    for channel in range(3):
        x, y = source[..., channel].ravel().astype(np.float32), edited[..., channel].ravel().astype(np.float32)
        gain, offset = 1.0, float(np.median(y - x))
        for _ in range(3):
            inliers = np.abs(y - (np.float32(gain) * x + np.float32(offset))) < np.float32(tolerance)
            if inliers.sum() < 0.5 * x.size:
                return None
            gain, offset = np.polyfit(x[inliers].astype(np.float64), y[inliers].astype(np.float64), 1)
        gains_offsets.append((gain, offset))
    return np.stack([(edited[..., c] - o) / max(g, 1e-3) for c, (g, o) in enumerate(gains_offsets)], axis=2)


def test_the_photometric_fit_over_level_histograms_is_the_fit_over_the_pixels() -> None:
    rng = np.random.default_rng(7)
    source = cv2.GaussianBlur(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), (0, 0), 2.0)
    cast = np.clip(source * np.array([1.08, 0.95, 1.0]) + np.array([6.0, -4.0, 3.0]), 0, 255).astype(np.uint8)
    cast[30:60, 40:90] = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)  # the edit: not part of the fit
    for edited in (source.copy(), cast):
        expected = _pixelwise_photometric_fit(edited, source)
        matched = photometrically_matched(edited, source)
        assert matched.dtype == np.float32
        np.testing.assert_allclose(matched, expected, atol=1e-3)
    noise = rng.integers(0, 256, source.shape, dtype=np.uint8)  # no global relation: left alone
    assert _pixelwise_photometric_fit(noise, source) is None
    np.testing.assert_array_equal(photometrically_matched(noise, source), noise.astype(np.float32))
    with pytest.raises(TypeError, match="uint8"):
        photometrically_matched(source.astype(np.float32), source)
    with pytest.raises(ValueError, match="shape"):
        photometrically_matched(source[:50], source)


def test_the_feature_match_starts_the_search_only_where_the_target_may_stand_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The target's SIFT match (a zoomed feature search of the whole edited image when much of it changed) is one
    more start of the search, for a move; a turn or a scaling leaves the target where the search always starts, and
    is recovered without it; a removed target has nothing to match, and is found gone without it."""
    backend = create_backend("classical")
    matched = []
    feature_target = ClassicalBackend._feature_target
    monkeypatch.setattr(
        ClassicalBackend, "_feature_target", lambda self, *args: matched.append(1) or feature_target(self, *args)
    )
    cases = [
        ("object_rotate", "tabletop", 0),
        ("object_scale", "tabletop", 0),
        ("spatial_remove", "room", 0),
        ("camera_relative_move", "tabletop", 1),
    ]
    for operation, config, matches in cases:
        row = operation_rows(operation, (0,), config)[0]
        sample = ScoringSample.from_row(row)
        matched.clear()
        target = backend.perceive(sample.view, np.array(png_image(row, "target_image"))).target
        assert len(matched) == matches, operation
        assert target.method == "render-compare"
        if operation == "spatial_remove":
            assert target.removed and not target.found
            continue
        assert target.found
        assert np.linalg.norm(target.translation_m - sample.truth.translation_m) < 0.01, operation
        assert geodesic_angle_deg(target.rotation, sample.truth.rotation) < 3.0, operation
        assert target.scale_factor == pytest.approx(sample.truth.scale_factor, rel=0.03), operation


def test_a_mirrored_target_is_no_unasked_turn_and_a_real_turn_keeps_its_evidence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Render-and-compare can only explain a target drawn mirrored as a turn; measured against the target unturned that
    turn looks needed (its evidence would fail the move's IC), measured against the mirror image unturned as well it
    does not, and the move complies. A toy car really turned keeps its evidence: its mirror image explains a little of
    the turn (0.58 -> 0.51 for one), not enough to pass for it."""
    from gsi_bench.fidelity.counterfactuals import make_counterfactuals
    from gsi_builders.generate import generate_sample
    from gsi_metrics.operations import SIDE_CHANGE_MIN_EVIDENCE
    from gsi_metrics.perception import perceive
    from gsi_metrics.perception.render_compare import PoseSearch
    from gsi_metrics.predictions import load_prediction
    from gsi_metrics.scoring import score_perceived

    backend = create_backend("classical")

    def turn_evidence(sample: ScoringSample, edited: np.ndarray, mirror_aware: bool) -> float:
        with monkeypatch.context() as patched:
            if not mirror_aware:
                patched.setattr(RenderComparer, "unturned_cost", PoseSearch.unturned_cost)
            return perceive(backend, sample.view, edited).target.evidence["turn"]

    moves = {"object_relative_place": 1 / 3, "receptacle_place": 1 / 3, "camera_relative_move": 1 / 3}
    for index in (9, 50):  # a room placement and a move whose mirrored target was read as turned 149 and 44 degrees
        row = generate_sample("room", "test", 0, index, operation_mix=moves).row
        sample = ScoringSample.from_row(row)
        case = next(c for c in make_counterfactuals(row).cases if c.name == "appearance/mirrored")
        height, width = sample.view.image.shape[:2]
        edited = load_prediction(case.image, (width, height), background=sample.view.image).image
        assert turn_evidence(sample, edited, mirror_aware=False) >= SIDE_CHANGE_MIN_EVIDENCE, index
        assert turn_evidence(sample, edited, mirror_aware=True) < SIDE_CHANGE_MIN_EVIDENCE, index
        assert score_perceived(sample, edited, perceive(backend, sample.view, edited), "gsi").ic == 1.0, index
    for row in operation_rows("object_rotate", (1, 7)):  # a toy car turned 45 degrees either way
        sample = ScoringSample.from_row(row)
        edited = np.array(png_image(row, "target_image"))
        assert turn_evidence(sample, edited, mirror_aware=True) >= SIDE_CHANGE_MIN_EVIDENCE, row["instruction"]
