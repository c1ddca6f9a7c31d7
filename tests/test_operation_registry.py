"""The operation registry contract: an operation is its definition, one generation class and one scoring class.

A toy operation, "nudge the object 4 cm to the right", is registered here, in this file only,
and goes through generation (a tabletop sample with a settled, rendered, labelled edit) and scoring (both
profiles, the oracle complies, the unchanged image does not) without touching any other file. The metric cards'
formula tables are generated from the scorers and must be up to date.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gsi_builders.generate import generate_sample
from gsi_builders.operations import (
    EditProposal,
    OperationGenerator,
    Rejected,
    ground_directions,
    moved_object,
    register_generator,
    unregister_generator,
)
from gsi_datasets.operations import Command, OperationSpec, register_operation_spec, unregister_operation_spec
from gsi_metrics.operations import (
    Compliance,
    OperationScoring,
    refresh_formula_tables,
    register_scoring,
    relative_quadratic,
    unregister_scoring,
)
from gsi_metrics.scoring import score_profiles

ROOT = Path(__file__).resolve().parents[1]
TOY = "toy_nudge_right"


@dataclass(frozen=True)
class NudgeCommand(Command):
    distance_m: float

    def values(self) -> dict[str, Any]:
        return {"distance_cm": round(self.distance_m * 100)}


class ToyNudge(OperationGenerator):
    name = TOY

    def propose(self, scene, target, rng) -> EditProposal:
        position = np.array(target.pose.position) + 0.04 * ground_directions(scene)["right"]
        from gsi_builders.supports import footprint_is_free, footprint_radius

        if not footprint_is_free(scene, target, position[:2], footprint_radius(target)):
            raise Rejected("toy_blocked")
        return self.proposal(
            scene, target, scene.with_object(moved_object(target, position)), NudgeCommand("right", 0.04), rng
        )


class ToyNudgeScoring(OperationScoring):
    name = TOY

    def spatial_error(self, view, truth, perception) -> tuple[float, float]:
        return float(np.linalg.norm(perception.target.translation_m - truth.translation_m)), 0.04

    def gsi(self, view, truth, perception, edited) -> Compliance:
        """Toy: ``e = |t_pred - t_gt|``, ``m = 4 cm``; IC: e below 2 cm."""
        if not perception.target.found:
            return Compliance(0.0, 0.0)
        error, magnitude = self.spatial_error(view, truth, perception)
        return Compliance(float(error < 0.02), relative_quadratic(error, magnitude))

    paper = gsi


@pytest.fixture
def toy_operation():
    register_operation_spec(
        OperationSpec(
            name=TOY,
            short_id="TN",
            command_type=NudgeCommand,
            change="object_pose",
            label_fields=("target_object", "transform.translation_m"),
            templates={"right": ("Nudge the {object} {distance_cm} cm to the right.",)},
        )
    )
    register_generator(ToyNudge)
    register_scoring(ToyNudgeScoring)
    yield
    unregister_generator(TOY)
    unregister_scoring(TOY)
    unregister_operation_spec(TOY)


def test_a_toy_operation_goes_through_generation_and_scoring(toy_operation) -> None:
    result = generate_sample("tabletop", "test", 3, 0, operation_mix={TOY: 1.0})
    row = result.row
    assert row is not None, result.rejections
    assert row["operation"] == TOY and row["instruction"].startswith("Nudge the ")
    assert row["command"]["distance_m"] == pytest.approx(0.04)
    assert np.linalg.norm(row["transform"]["translation_m"]) == pytest.approx(0.04, abs=0.01)
    oracle = score_profiles(row, row["target_image"]["bytes"])
    identity = score_profiles(row, row["source_image"]["bytes"])
    for profile_score in oracle:
        assert profile_score.status == "ok" and profile_score.ic == 1.0 and profile_score.sa > 0.8
    for profile_score in identity:
        assert profile_score.ic == 0.0 and profile_score.sa == 0.0


def test_unknown_operations_and_subsets_fail_clearly() -> None:
    with pytest.raises(KeyError, match="no generator for operation 'object_rotat'.*Did you mean object_rotate"):
        generate_sample("tabletop", "test", 0, 0, operation_mix={"object_rotat": 1.0})
    with pytest.raises(ValueError, match="unknown subset 'rooms'.*Did you mean 'room'"):
        generate_sample("rooms", "test", 0, 0)
    with pytest.raises(ValueError, match="short id 'XX' is not the paper's 'CM'"):
        register_operation_spec(
            OperationSpec("camera_relative_move", "XX", NudgeCommand, "object_pose", (), {}),
        )


@pytest.mark.parametrize("card", ["gsi_bench", "gsi_instruction_compliance", "gsi_spatial_accuracy"])
def test_metric_cards_formula_tables_are_generated_from_the_scorers(card: str) -> None:
    text = (ROOT / "gsi_metrics" / card / "README.md").read_text()
    assert "formula table: profile gsi" in text and "formula table: profile paper" in text
    assert refresh_formula_tables(text) == text, (
        f"gsi_metrics/{card}/README.md is out of date: run gsi_metrics.operations.refresh_formula_tables on it"
    )


def test_a_qualified_name_takes_the_of_form_of_a_possessive_and_still_parses() -> None:
    from gsi_bench.editors.instruction_parser import parse_instruction
    from gsi_datasets.operations import get_operation
    from gsi_datasets.operations.object_relative_place import PlaceCommand

    spec = get_operation("object_relative_place")
    command = PlaceCommand("left", 0.2)
    names = ["book", "teapot"]
    for seed in range(16):  # every phrasing of "left" comes up
        text, template = spec.phrase(
            command, np.random.default_rng(seed), object="book on the desk", reference="teapot on the shelf"
        )
        assert "desk's" not in text and "shelf's" not in text, text
        if "{reference}'s centre" in template:
            assert "the centre of the teapot on the shelf" in text, text
        parsed = parse_instruction(text, names)
        assert (parsed.object_name, parsed.direction, parsed.reference_name) == ("book", "left", "teapot"), text
    # Plain names keep the possessive.
    for seed in range(16):
        text, template = spec.phrase(command, np.random.default_rng(seed), object="book", reference="teapot")
        assert ("{reference}'s centre" in template) == ("teapot's centre" in text), text
