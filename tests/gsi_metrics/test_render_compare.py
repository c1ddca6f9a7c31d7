"""Render-and-compare draws only the pixels a hypothesis changes, and that changes none of its costs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gsi_datasets.rendering import StateRenderer
from gsi_datasets.scene import Scene
from gsi_metrics.perception.render_compare import Hypothesis, RenderComparer
from gsi_metrics.sample import ScoringSample


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
