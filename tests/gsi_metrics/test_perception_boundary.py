"""What perception may see, and where backends come from.

Perception backends receive a :class:`SourceView` only (never the edit truth); nothing on the scoring path imports
the generator; and a backend defined outside the package reaches worker processes by its import path.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gsi_bench.evaluation import run_evaluation
from gsi_metrics.perception import backend_spec, create_backend
from gsi_metrics.sample import EditTruth, ScoringSample, SourceView
from tests.gsi_metrics.external_backend import FeaturesOnlyBackend

ROOT = Path(__file__).resolve().parents[2]


def test_the_source_view_holds_no_answer(split_rows: list[dict]) -> None:
    sample = ScoringSample.from_row(split_rows[0])
    view_fields = {f.name for f in dataclasses.fields(SourceView)}
    truth_fields = {f.name for f in dataclasses.fields(EditTruth)}
    assert not view_fields & truth_fields
    assert {"command", "expected_box", "expected_image", "translation_m", "camera_delta"} <= truth_fields
    # The stored scene the view carries is the source scene only (render-and-compare needs it), not the target.
    assert set(sample.view.scene) == {"source"}


def test_the_scoring_path_never_imports_the_generator(built_split: Path, tmp_path: Path) -> None:
    """``gsi-bench eval``, the evaluate modules and perception run without ``gsi_builders``."""
    script = f"""
import sys, json
from gsi_bench.evaluation import run_evaluation
import gsi_metrics
run_evaluation({str(built_split)!r}, "tabletop", "test", "oracle", {str(tmp_path / "out")!r}, limit=2, progress=False)
module = gsi_metrics.load("gsi_bench")
from datasets import load_dataset
rows = load_dataset({str(built_split)!r}, "tabletop", split="test")
module.compute(predictions=[rows[0]["target_image"]], references=[rows[0]])
print(json.dumps(sorted(name for name in sys.modules if name.startswith("gsi_builders"))))
"""
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT, env=_env()
    ).stdout
    assert json.loads(output.strip().splitlines()[-1]) == []


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "HF_HUB_OFFLINE": "1"}


def test_a_backend_defined_outside_the_package_reaches_worker_processes(built_split: Path, tmp_path: Path) -> None:
    backend = FeaturesOnlyBackend()
    assert backend_spec(backend) == "tests.gsi_metrics.external_backend:FeaturesOnlyBackend"
    assert backend_spec(create_backend("classical")) == "classical"
    created = create_backend("tests.gsi_metrics.external_backend:FeaturesOnlyBackend", min_target_inliers=8)
    assert created.config() == {"min_target_inliers": 8}
    serial = run_evaluation(built_split, "tabletop", "test", "oracle", tmp_path / "a", limit=3, progress=False,
                            backend=backend)  # fmt: skip
    parallel = run_evaluation(built_split, "tabletop", "test", "oracle", tmp_path / "b", limit=3, progress=False,
                              backend=backend, workers=2)  # fmt: skip
    assert serial["manifest"]["backend"]["name"] == "features-only"
    assert serial["overall"] == parallel["overall"]
    with pytest.raises(KeyError, match="cannot be imported"):
        create_backend("tests.gsi_metrics.external_backend:Missing")


def test_a_backend_defined_in_main_is_refused_for_workers_with_the_fix() -> None:
    class Local(FeaturesOnlyBackend):
        pass

    Local.__module__ = "__main__"
    with pytest.raises(ValueError, match="defined in __main__.*module:Class"):
        backend_spec(Local())


def test_an_output_identical_to_the_source_is_perceived_as_unchanged_without_asking_the_backend(
    split_rows: list[dict],
) -> None:
    from gsi_metrics.perception import perceive

    class Blind:
        name = "blind"

        def config(self) -> dict:
            return {}

        def perceive(self, view: SourceView, edited):
            raise AssertionError("an unchanged image needs no backend")

    for row in split_rows:
        view = ScoringSample.from_row(row).view
        perception = perceive(Blind(), view, view.image.copy())
        assert perception.camera.found and (perception.camera.delta == np.eye(4)).all()
        assert perception.target.found == view.object_target
        if view.object_target:
            assert (perception.target.translation_m == 0).all() and perception.target.scale_factor == 1.0
            assert (perception.target.mask == view.target_mask).all()
