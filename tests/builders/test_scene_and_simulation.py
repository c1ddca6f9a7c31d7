"""Scene descriptions round-trip, physics settles, and a stored scene re-renders its images exactly."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gsi_builders.simulation import settle
from gsi_builders.tabletop import sample_tabletop_scene
from gsi_datasets.rendering import StateRenderer, nearer_of
from gsi_datasets.scene import Scene, look_at_rotation


def test_scene_json_round_trip() -> None:
    scene = sample_tabletop_scene(np.random.default_rng(0))
    assert Scene.from_json(scene.to_json()) == scene
    with pytest.raises(ValueError, match="scene format version 99 is not supported"):
        Scene.from_dict({**scene.to_dict(), "version": 99})


VERSION_1_SCENE = Path(__file__).parent.parent / "fixtures" / "scene_v1.json"


def test_version_1_scenes_still_load_and_render_as_before() -> None:
    """A scene stored by gsi-bench 0.1 (one ``table`` field) loads as furniture 1 carrying every object, and renders
    the image that gsi-bench 0.1 rendered (its SHA-256 is recorded in the fixture)."""
    stored = json.loads(VERSION_1_SCENE.read_text())
    scene = Scene.from_dict(stored["scene"])
    assert stored["scene"]["version"] == 1 and scene.version == 2
    (table,) = scene.furniture
    assert table.category == "table" and table.instance_id == 1
    assert all(o.support_id == 1 for o in scene.objects)
    assert table.surface("top").height == pytest.approx(stored["scene"]["table"]["height"])
    assert scene.room.size_xy == (2 * stored["scene"]["room"]["wall_distance"],) * 2
    with StateRenderer([scene]) as renderer:
        view = renderer.render(0)
    assert hashlib.sha256(view.rgb.tobytes()).hexdigest() == stored["rgb_sha256"]
    assert hashlib.sha256(view.instances.tobytes()).hexdigest() == stored["instances_sha256"]


def test_look_at_rotation_is_a_roll_free_rotation() -> None:
    rotation = look_at_rotation(np.array([0.3, -1.0, 1.5]), np.array([0.0, 0.0, 0.75]))
    assert np.allclose(rotation.T @ rotation, np.eye(3)) and np.linalg.det(rotation) == pytest.approx(1.0)
    assert rotation[2, 0] == pytest.approx(0.0)  # the image x axis stays horizontal


def test_settled_tabletop_scenes_rest_on_the_table() -> None:
    for seed in range(4):
        scene = sample_tabletop_scene(np.random.default_rng(seed))
        result = settle(scene, duration_s=2.0)
        assert result.speed_m_s < 0.05
        # Released 2 mm above the table, an object drops and does not wander off.
        assert min(result.displacement_m.values()) < 0.01
        if not result.object_contacts:
            table = scene.furniture[0].instance_id
            assert all(result.supports[o.instance_id] == {table} for o in scene.objects)
            assert all(o.support_id == table for o in scene.objects)


def test_a_stored_scene_re_renders_its_images_exactly(split_rows: list[dict]) -> None:
    row = split_rows[0]
    scenes = json.loads(row["scene"])
    source, target = Scene.from_dict(scenes["source"]), Scene.from_dict(scenes["target"])
    with StateRenderer([source, target]) as renderer:
        for state, image_key, instances_key in (
            (0, "source_image", "source_instances"),
            (1, "target_image", "target_instances"),
        ):
            view = renderer.render(state)
            assert np.array_equal(view.rgb, np.array(row[image_key]))
            assert np.array_equal(view.instances, np.array(row[instances_key]))


def test_a_renderer_draws_into_its_own_buffers_after_another_renderer_came_and_went() -> None:
    """One GL context serves every renderer of a process: each draw binds its own renderer's buffers. (A renderer that
    took its buffers to be still bound after another one drew and was closed read back its previous drawing: a build
    labelled a target's visible fraction from the ids of the object checked before it.)"""
    a = sample_tabletop_scene(np.random.default_rng(1))
    b = sample_tabletop_scene(np.random.default_rng(2))
    first, second = (o.instance_id for o in a.objects[:2])
    with StateRenderer([a]) as fresh:
        expected = {
            "ids": fresh.render_instances(a),
            "alone": fresh.unoccluded_pixels(0, second),
            "jagged": fresh.render_rgb(a, shadows=False, antialias=False, divisor=2),
            "view": fresh.render(0),
        }
    with StateRenderer([a]) as renderer:
        for drawn_last in ("ids", "jagged"):
            renderer.unoccluded_pixels(0, first)
            renderer.render_rgb(a, shadows=False, antialias=False, divisor=2)
            getattr(renderer, "render_instances" if drawn_last == "ids" else "render_rgb")(a)
            with StateRenderer([b]) as other:
                other.render(0)
                other.render_rgb(b, shadows=False, antialias=False)
            assert renderer.unoccluded_pixels(0, second) == expected["alone"] > 0
            assert np.array_equal(renderer.render_instances(a), expected["ids"])
            assert np.array_equal(renderer.render_rgb(a, shadows=False, antialias=False, divisor=2), expected["jagged"])
            view = renderer.render(0)
            assert np.array_equal(view.rgb, expected["view"].rgb)
            assert np.array_equal(view.depth_m, expected["view"].depth_m)


def test_the_context_without_anti_aliasing_draws_with_the_other_contexts_textures() -> None:
    """A renderer's second context is made without textures of its own and draws with the first one's (uploading them
    is most of a context's making): its textured drawings are those of a context with its own, and closing the renderer
    frees each context's own textures only, so renderers made after it still draw theirs."""
    scene = sample_tabletop_scene(np.random.default_rng(4))
    other = sample_tabletop_scene(np.random.default_rng(5))
    with StateRenderer([other]) as reference:
        expected_other = reference.render_rgb(other, shadows=False, antialias=False)
    with StateRenderer([scene]) as renderer:
        shared = renderer.render_rgb(scene, shadows=False, antialias=False)
        own = renderer._new_context(multisampled=False, shadows=False)
        lent, renderer._aliased_context = renderer._aliased_context, own
        try:
            assert np.array_equal(renderer.render_rgb(scene, shadows=False, antialias=False), shared)
        finally:
            renderer._aliased_context = lent
            own.free()
        assert len(np.unique(shared.reshape(-1, 3), axis=0)) > 1000  # textured: the table's grain, the labels
    # The closed renderer's textures are gone and their ids free; the next renderer's drawings are its own.
    with StateRenderer([other]) as after:
        assert np.array_equal(after.render_rgb(other, shadows=False, antialias=False), expected_other)


def test_a_renderer_without_shadows_draws_what_one_with_shadows_draws_without_them() -> None:
    """Render-and-compare's renderer is made without a shadow map (half of a context's making): every drawing it can
    make is the one a renderer with shadows makes without them, and it refuses to draw shadows, as does any drawing
    without anti-aliasing (its context has no shadow map either)."""
    scene = sample_tabletop_scene(np.random.default_rng(3))
    drawings = []
    for shadows in (True, False):
        with StateRenderer([scene], shadows=shadows) as renderer:
            drawings.append(
                (
                    renderer.render_rgb(scene, shadows=False),
                    renderer.render_rgb(scene, shadows=False, antialias=False, divisor=2, window=(10, 20, 90, 70)),
                    renderer.render_instances(scene),
                )
            )
            with pytest.raises(ValueError, match="shadows are drawn only with anti-aliasing"):
                renderer.render_rgb(scene, antialias=False)
            if not shadows:
                with pytest.raises(ValueError, match="made with shadows=True"):
                    renderer.render(0)
    for with_shadow_map, without in zip(*drawings, strict=True):
        assert np.array_equal(with_shadow_map, without)
    with StateRenderer([scene]) as renderer:
        assert not np.array_equal(drawings[0][0], renderer.render(0).rgb)  # shadows do show otherwise


def test_one_object_drawn_alone_over_the_rest_is_the_whole_drawing() -> None:
    """Render-and-compare draws the object it moves alone, over the rest of the scene drawn once: put together by
    depth, the two layers are the whole scene's drawing, pixel for pixel, wherever the object goes (in front of a
    neighbour, behind one, away, gone); its layer shows it alone, and nothing elsewhere."""
    scene = sample_tabletop_scene(np.random.default_rng(3))
    with StateRenderer([scene], shadows=False) as renderer:
        for target in scene.objects:
            own = renderer.geom_instances == target.instance_id
            rest = renderer.render_layer(scene, ~own, divisor=2)
            others = [o for o in scene.objects if o is not target]
            x, y, z = target.pose.position
            places = [(x, y), (x + 0.04, y - 0.03)] + [o.pose.position[:2] for o in others]  # into each neighbour
            states = [scene.with_object(replace(target, pose=replace(target.pose, position=(*p, z)))) for p in places]
            for state in [*states, scene.without_object(target.instance_id)]:
                layer = renderer.render_layer(state, own, divisor=2)
                whole = renderer.render_rgb(state, shadows=False, antialias=False, divisor=2)
                assert np.array_equal(nearer_of(layer, rest), whole)
                drawn = layer[1] > 0
                if not state.has_object(target.instance_id):
                    assert not drawn.any()
                    continue
                # Where it shows alone (at the full size, every other pixel): as many pixels, and the same ones.
                alone = renderer.render_instances(replace(state, objects=(state.object(target.instance_id),)))[::2, ::2]
                alone = alone == target.instance_id
                assert np.sum(drawn & alone) / np.sum(drawn | alone) > 0.8
        with pytest.raises(ValueError, match="mask over the model's"):
            renderer.render_layer(scene, own[:-1])


def test_layers_drawn_together_are_each_layer_drawn_alone() -> None:
    """Layers drawn side by side into one buffer and read back together are the layers drawn one by one, up to the
    rasteriser's rounding (which depends on a pixel's place in the buffer): the same pixels drawn, depths within
    1e-6, colours at most 2 levels apart at a few pixels; in order, across shelves and buffers full (whole views at
    half size, four to a buffer, between windows around each object). (A layer drawn alone is checked against the
    whole drawing above.)"""
    scene = sample_tabletop_scene(np.random.default_rng(3))
    with StateRenderer([scene], shadows=False) as renderer:
        ids = renderer.render_instances(scene)[::2, ::2]
        layers = []
        for index, target in enumerate(scene.objects):
            own = renderer.geom_instances == target.instance_id
            rows, columns = np.nonzero(ids == target.instance_id)
            window = (max(columns.min() - 3, 0), max(rows.min() - 3, 0), columns.max() + 4, rows.max() + 4)
            x, y, z = target.pose.position
            moved = replace(target, pose=replace(target.pose, position=(x + 0.01 * index, y, z)), scale=1.1)
            layers += [(scene.with_object(moved), own, window), (scene, ~own, None)]
        together = renderer.render_layers(layers, divisor=2)
        assert len(together) == len(layers) > 5  # more whole views than one buffer holds
        for (state, geoms, window), (rgb, depth) in zip(layers, together, strict=True):
            alone_rgb, alone_depth = renderer.render_layer(state, geoms, divisor=2, window=window)
            difference = np.abs(rgb.astype(int) - alone_rgb).max(axis=2)
            assert difference.max() <= 2 and np.mean(difference > 0) < 0.03
            assert np.array_equal(depth > 0, alone_depth > 0) and np.allclose(depth, alone_depth, rtol=0, atol=1e-6)
        assert renderer.render_layers([], divisor=2) == []


def test_an_object_drawn_at_another_scale_is_the_object_compiled_at_that_scale() -> None:
    """A renderer compiles each object once and draws its other scales by scaling the drawn geoms: what it draws is
    what a renderer compiled at that scale draws (the same ids, colours to the rounding of the vertices), also in a
    narrowed view that only a corner of the grown object reaches into (its bounding spheres scaled too)."""
    scene = sample_tabletop_scene(np.random.default_rng(3))
    for target in scene.objects:
        for factor in (0.6, 2.5):
            scaled = scene.with_object(replace(target, scale=target.scale * factor))
            with StateRenderer([scaled]) as compiled, StateRenderer([scene, scaled]) as drawn:
                ids = compiled.render_instances(scaled)
                assert np.array_equal(drawn.render_instances(scaled), ids)
                # A window at half size around the object's pixel farthest from its centre: the rest of it outside.
                rows, columns = np.nonzero(ids == target.instance_id)
                far = np.argmax(np.hypot(rows - rows.mean(), columns - columns.mean()))
                column, row = columns[far] // 2, rows[far] // 2
                window = (max(column - 4, 0), max(row - 4, 0), min(column + 4, 256), min(row + 4, 256))
                for options in (
                    {},
                    {"antialias": False, "divisor": 2},
                    {"antialias": False, "divisor": 2, "window": window},
                ):
                    expected = compiled.render_rgb(scaled, shadows=False, **options).astype(int)
                    difference = np.abs(drawn.render_rgb(scaled, shadows=False, **options) - expected).max(axis=2)
                    assert np.mean(difference > 8) < 0.002 and difference.max() <= 64


def test_renderer_rejects_states_of_different_scenes() -> None:
    a = sample_tabletop_scene(np.random.default_rng(1))
    b = sample_tabletop_scene(np.random.default_rng(2))
    with pytest.raises(ValueError, match="share the furniture"):
        StateRenderer([a, b])


def test_depth_png_is_millimetres(split_rows: list[dict]) -> None:
    depth = np.array(split_rows[0]["source_depth"])
    # Tabletop cameras stand 0.75-1.15 m from the table: most depths are between 0.3 and 4 m.
    valid = depth[depth > 0]
    assert 300 < np.median(valid) < 4000


def test_scene_edits_for_counterfactuals() -> None:
    from gsi_datasets.geometry import rotation_about_axis
    from gsi_datasets.rendering import asset_of
    from gsi_datasets.scene import changed_object

    scene = sample_tabletop_scene(np.random.default_rng(3))
    delta = np.eye(4)
    delta[:3, :3] = rotation_about_axis(np.array([0.2, 1.0, 0.1]), 1.5)
    delta[:3, 3] = [0.02, -0.01, 0.005]
    np.testing.assert_allclose(
        scene.camera.moved(delta).world_to_camera, delta @ scene.camera.world_to_camera, atol=1e-12
    )
    np.testing.assert_allclose(scene.camera.moved(np.eye(4)).world_to_camera, scene.camera.world_to_camera, atol=1e-12)

    first = scene.objects[0]
    table = scene.support_height(first)
    bottom = first.pose.position[2] - asset_of(first).size[2] / 2.0  # centred box: resting on the table
    changed = changed_object(first, bottom, shift_xy=(0.05, -0.02), yaw_deg=90.0, scale=2.0)
    assert changed.scale == pytest.approx(2.0 * first.scale)
    np.testing.assert_allclose(np.subtract(changed.pose.position[:2], first.pose.position[:2]), [0.05, -0.02])
    # Scaled about its contact point: the bottom stays where it was, the centre rises by half the old height.
    assert changed.pose.position[2] - asset_of(changed).size[2] / 2.0 == pytest.approx(bottom, abs=1e-6)
    assert bottom == pytest.approx(table, abs=0.01)
    turn = changed.pose.rotation @ first.pose.rotation.T
    np.testing.assert_allclose(turn, rotation_about_axis(np.array([0.0, 0.0, 1.0]), 90.0), atol=1e-9)

    without = scene.without_object(first.instance_id)
    assert [o.instance_id for o in without.objects] == [o.instance_id for o in scene.objects[1:]]
    with pytest.raises(KeyError):
        without.without_object(first.instance_id)
