from __future__ import annotations

import numpy as np
import pytest

from gsi_builders.operations import GENERATORS, Rejected, get_generator, ground_directions, propose_edit
from gsi_builders.simulation import settle
from gsi_builders.tabletop import sample_tabletop_scene
from gsi_datasets.operations import OPERATION_SPECS, get_operation
from gsi_datasets.operations.object_rotate import RotateCommand
from gsi_datasets.schema import OPERATION_SHORT_IDS, SUBSETS


def _templates() -> dict[tuple[str, str], tuple[str, ...]]:
    get_operation("camera_relative_move")  # discovers every operation
    return {(name, key): options for name, spec in OPERATION_SPECS.items() for key, options in spec.templates.items()}


def test_every_operation_and_direction_has_several_phrasings() -> None:
    templates = _templates()
    for key, options in templates.items():
        assert len(options) >= (3 if key[0] == "camera_view_change" else 4), key
        assert len(set(options)) == len(options), key
    directions = {op: {d for (o, d) in templates if o == op} for op in OPERATION_SPECS}
    assert directions["camera_relative_move"] == {"left", "right", "forward", "back"}
    assert directions["object_rotate"] == {"clockwise", "counterclockwise"}
    assert directions["object_scale"] == {"0.5", "0.75", "1.5", "2"}
    assert directions["camera_view_change"] == {
        "move_forward", "move_back", "move_left", "move_right", "turn_left", "turn_right", "pitch_up", "pitch_down"
    }  # fmt: skip


def test_rotation_templates_state_the_viewpoint_and_moves_state_the_frame() -> None:
    for (operation, direction), options in _templates().items():
        for template in options:
            if operation == "object_rotate":
                assert "above" in template or "top" in template or "looking down" in template.lower(), template
            if operation == "camera_relative_move" and direction in ("forward", "back"):
                assert "camera" in template or "viewer" in template, template
            if operation == "camera_view_change":
                assert "camera" in template or "viewpoint" in template or "view" in template, template
            assert "table" not in template, f"rooms have no table under every object: {template}"


def test_every_subset_operation_is_registered_on_both_sides_with_the_paper_short_id() -> None:
    from gsi_metrics.operations import get_scoring

    for subset in SUBSETS.values():
        for name in subset.operation_mix:
            assert get_operation(name).short_id == OPERATION_SHORT_IDS[name]
            assert get_generator(name).name == name
            assert get_scoring(name).name == name
    assert set(GENERATORS) <= set(OPERATION_SPECS)


def test_unknown_template_and_operation_errors_are_specific() -> None:
    spec = get_operation("object_rotate")
    with pytest.raises(KeyError, match="no instruction templates for object_rotate 'up'"):
        spec.phrase(RotateCommand("up", 90.0), np.random.default_rng(0), object="mug", support="table")
    scene = sample_tabletop_scene(np.random.default_rng(0))
    with pytest.raises(KeyError, match="Did you mean object_rotate"):
        propose_edit("object_rotat", scene, scene.objects[0], np.random.default_rng(0))
    with pytest.raises(KeyError, match="unknown operation 'spatial_remov'"):
        get_operation("spatial_remov")


def test_ground_directions_follow_the_camera() -> None:
    scene = sample_tabletop_scene(np.random.default_rng(3))
    directions = ground_directions(scene)
    rotation = np.array(scene.camera.rotation)
    assert directions["right"] @ rotation[:, 0] > 0.9  # image x axis
    assert directions["forward"] @ rotation[:, 2] > 0  # away from the camera
    for vector in directions.values():
        assert vector[2] == pytest.approx(0.0) and np.linalg.norm(vector) == pytest.approx(1.0)


def test_symmetric_objects_are_never_asked_a_symmetric_rotation() -> None:
    scene = settle(sample_tabletop_scene(np.random.default_rng(5))).scene
    from gsi_datasets.assets import get_category

    rng = np.random.default_rng(0)
    for target in scene.objects:
        category = get_category(target.category)
        for _ in range(10):
            try:
                proposal = propose_edit("object_rotate", scene, target, rng)
            except Rejected as rejection:
                assert rejection.reason == "rotation_symmetric_object" and category.symmetry_order == 0
                break
            assert not category.is_symmetry(proposal.command.angle_deg)
