from __future__ import annotations

import numpy as np
import pytest

from gsi_builders.instructions import TEMPLATES, phrase
from gsi_builders.operations import OPERATION_PROPOSERS, Rejected, ground_directions, propose_edit
from gsi_builders.simulation import settle
from gsi_builders.tabletop import sample_tabletop_scene
from gsi_datasets.schema import SUBSET_OPERATIONS


def test_every_operation_and_direction_has_at_least_four_phrasings() -> None:
    for key, options in TEMPLATES.items():
        assert len(options) >= 4, key
        assert len(set(options)) == len(options), key
    directions = {op: {d for (o, d) in TEMPLATES if o == op} for op in SUBSET_OPERATIONS["tabletop"]}
    assert directions["camera_relative_move"] == {"left", "right", "forward", "back"}
    assert directions["object_rotate"] == {"clockwise", "counterclockwise"}
    assert directions["object_scale"] == {"0.5", "0.75", "1.5", "2"}


def test_rotation_templates_state_the_viewpoint_and_moves_state_the_frame() -> None:
    for (operation, direction), options in TEMPLATES.items():
        for template in options:
            if operation == "object_rotate":
                assert "above" in template or "top" in template or "looking down" in template.lower(), template
            if operation == "camera_relative_move" and direction in ("forward", "back"):
                assert "camera" in template or "viewer" in template, template


def test_unknown_template_and_operation_errors_are_specific() -> None:
    with pytest.raises(KeyError, match="no instruction templates for operation 'object_rotate' and direction 'up'"):
        phrase("object_rotate", "up", np.random.default_rng(0), object="mug", angle_deg=90)
    scene = sample_tabletop_scene(np.random.default_rng(0))
    with pytest.raises(KeyError, match="Did you mean object_rotate"):
        propose_edit("object_rotat", scene, scene.objects[0], np.random.default_rng(0))
    assert set(SUBSET_OPERATIONS["tabletop"]) <= set(OPERATION_PROPOSERS)


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
