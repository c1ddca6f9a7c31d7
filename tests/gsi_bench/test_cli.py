from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gsi_bench.cli import main


def test_build_errors_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "syn", "--subset", "kitchen", "--out", str(tmp_path / "x")]) == 2
    error = capsys.readouterr().err
    assert error.strip() == "gsi-bench build: error: unknown subset 'kitchen'; available subsets: room, tabletop"
    assert main(["build", "syn", "--num-samples", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--num-samples must be a positive number" in capsys.readouterr().err


def test_show_writes_a_contact_sheet(built_split: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sheet.png"
    assert (
        main(["show", str(built_split), "--config", "tabletop", "--split", "test", "--num", "4", "--out", str(out)])
        == 0
    )
    sheet = np.array(Image.open(out))
    # Two samples per sheet row, two rows; each sample is a source/target pair with a caption.
    assert sheet.shape[0] > 2 * 320 and sheet.shape[1] > 4 * 320
    assert "Contact sheet of 4 samples" in capsys.readouterr().out
    # The projected boxes are drawn: the sheet contains the "before" box colour.
    assert np.any(np.all(sheet == (40, 220, 80), axis=2))


def test_show_keeps_the_asked_operations_and_names_unknown_ones(
    built_split: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datasets import load_dataset

    from gsi_datasets.schema import operation_name

    operations = [operation_name(v) for v in load_dataset(str(built_split), "tabletop", split="test")["operation"]]
    out = tmp_path / "sheet.png"
    arguments = ["show", str(built_split), "--num", "100", "--columns", "1", "--out", str(out)]
    assert main([*arguments, "--operations", "object_rotate"]) == 0
    rotations = operations.count("object_rotate")
    assert 0 < rotations < len(operations)
    assert f"Contact sheet of {rotations} samples of tabletop/test (object_rotate)" in capsys.readouterr().out
    assert Image.open(out).size[1] > rotations * 320  # one sample per sheet row
    assert main([*arguments, "--operations", "spin"]) == 2
    assert "unknown operation(s) spin; known: " in capsys.readouterr().err
    assert main([*arguments, "--operations", "spatial_remove"]) == 2  # tabletop's default mix has no removal
    assert "no sample of tabletop/test has operation spatial_remove" in capsys.readouterr().err


def test_show_reports_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(tmp_path / "missing"), "--out", str(tmp_path / "s.png")]) == 2
    assert "gsi-bench show: error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--num-scenes", "0"], "num_scenes must be at least 1"),
        (["--data", "does/not/exist"], "does not exist"),
        (["--backend", "nope"], "unknown perception backend 'nope'"),
        (["--config", "attic"], "unknown config 'attic'"),
        (["--backend-option", "oops"], "KEY=VALUE"),
    ],
)
def test_validate_errors_are_one_clear_line(
    arguments: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--out", str(tmp_path / "fidelity"), *arguments]) == 2
    error = capsys.readouterr().err
    assert error.startswith("gsi-bench validate: error:") and message in error
    assert not (tmp_path / "fidelity" / "report.md").exists()
