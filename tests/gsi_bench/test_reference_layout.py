"""A split exported in the reference's folder layout reads back, with boxes in the reference's convention."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from datasets import load_dataset
from PIL import Image

from gsi_bench.cli import main
from gsi_bench.reference_layout import EDIT_KEYS, read_layout
from gsi_metrics import reference_protocol as rp


def test_an_exported_split_reads_back_in_the_reference_layout(
    built_split: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reference"
    assert main(["export", "--data", str(built_split), "--limit", "3", "--out", str(out)]) == 0
    assert "Wrote 3 edits of tabletop/test" in capsys.readouterr().out
    rows = load_dataset(str(built_split), "tabletop", split="test").select(range(3))
    edits = read_layout(out / "mesatask")
    assert [e.img_id for e in edits] == [row["sample_id"] for row in rows] and {e.qid for e in edits} == {"0"}
    for edit, row in zip(edits, rows, strict=True):
        # The reference finds the source image by the part of the output's name before "_edit_".
        assert f"{edit.img_id}_edit_0.png".split("_edit_")[0] == row["sample_id"]
        assert edit.edit == {key: row["reference_format"][key] for key in EDIT_KEYS}
        assert np.array_equal(np.array(Image.open(edit.source_image)), np.array(row["source_image"]))
        assert np.array_equal(np.array(Image.open(edit.target_view)), np.array(row["target_image"]))
        # The reference's box: h is the object's height (z up in our labels), and its own IoU of B0 with itself is 1.
        original = np.array(edit.edit["original_bbox_3d"])
        assert original[4] == pytest.approx(row["target_object"]["box3d_before"]["size"][2])
        assert rp.iou_3d(original, original) == pytest.approx(1.0)
        # Its projection (with the rotation matrix) holds the target's pixels.
        projected = rp.projected_box_2d(
            original, np.array(edit.edit["rotation_matrix"]), np.array(edit.edit["camera_intrinsics"])
        )
        pixels = np.array(row["target_object"]["box2d_before"])
        assert projected[0] <= pixels[0] + 1 and projected[1] <= pixels[1] + 1
        assert projected[2] >= pixels[2] - 1 and projected[3] >= pixels[3] - 1


def test_a_folder_that_is_not_in_the_reference_layout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a folder in the reference's layout"):
        read_layout(tmp_path / "absent")
    (tmp_path / "a_edit_0.json").write_text(json.dumps({"prompt": "Move the cup."}))
    with pytest.raises(ValueError, match="a_edit_0.json is not a reference edit: it has no target"):
        read_layout(tmp_path)
    (tmp_path / "a_edit_0.json").write_text(json.dumps(dict.fromkeys(EDIT_KEYS)))
    with pytest.raises(FileNotFoundError, match="no source image a.png"):
        read_layout(tmp_path)
