"""OR asks only turns that the image can tell apart from the unturned object, the opposite turn and the double turn."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import json  # noqa: E402

import pytest  # noqa: E402

import gsi_builders.operations.object_rotate as rotate  # noqa: E402
from gsi_builders.generate import generate_sample  # noqa: E402
from gsi_datasets.operations.object_rotate import look_alikes, visible_difference  # noqa: E402
from gsi_datasets.rendering import StateRenderer  # noqa: E402
from gsi_datasets.scene import Scene  # noqa: E402
from tests.generated import operation_rows  # noqa: E402


def test_the_look_alikes_of_a_turn() -> None:
    assert look_alikes(90.0, -90.0) == {"unturned": 0.0, "opposite": 90.0, "doubled": -180.0}
    assert look_alikes(45.0, 45.0) == {"unturned": 0.0, "opposite": -45.0, "doubled": 90.0}
    # A half turn is its own opposite, and twice it is no turn.
    assert look_alikes(180.0, 180.0) == {"unturned": 0.0}


def test_every_asked_turn_differs_visibly_from_each_of_its_look_alikes() -> None:
    for row in operation_rows("object_rotate", (0, 1, 2, 3)):
        source = Scene.from_dict(json.loads(row["scene"])["source"])
        target_id, command = row["target_object"]["instance_id"], row["command"]
        signed = command["angle_deg"] if command["direction"] == "counterclockwise" else -command["angle_deg"]
        target = source.object(target_id)
        alternatives = look_alikes(command["angle_deg"], signed)
        states = [
            rotate.turned(source, target, signed),
            *(rotate.turned(source, target, a) for a in alternatives.values()),
        ]
        with StateRenderer(states) as renderer:
            asked = renderer.render(0)
            shows = asked.instances == target_id
            assert visible_difference(asked.rgb, shows, asked.rgb, shows) == 0.0
            for index, name in enumerate(alternatives, start=1):
                other = renderer.render(index)
                difference = visible_difference(asked.rgb, shows, other.rgb, other.instances == target_id)
                assert difference >= rotate.MIN_VISIBLE_DIFFERENCE, (row["instruction"], name, difference)


def test_a_turn_that_cannot_be_told_apart_is_rejected_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rotate, "MIN_VISIBLE_DIFFERENCE", 1.01)  # no turn is different enough
    result = generate_sample("tabletop", "test", 0, 0, operation_mix={"object_rotate": 1.0})
    assert result.row is None and result.rejections["turn_looks_unturned"] > 0
