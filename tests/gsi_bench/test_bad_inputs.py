"""No bad input aborts a run, mis-scores silently, or loses a row: ``eval``, the ``evaluate`` modules and
``validate`` given hostile outputs, damaged rows and datasets, killed runs, shared folders and hostile labels."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import io  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from gsi_bench.cli import main  # noqa: E402
from gsi_bench.editors import Editor, get_editor  # noqa: E402
from gsi_bench.evaluation import (  # noqa: E402
    LOCK_FILE,
    PARTIAL_FILE,
    EvaluationError,
    evaluate_index,
    leaderboard_markdown,
    load_runs,
    run_evaluation,
)
from gsi_metrics.perception import create_backend  # noqa: E402
from gsi_metrics.scoring import score_sample  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]


def _bomb_png() -> bytes:
    """A tiny valid PNG whose header claims 20000 x 20000 pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", 20000, 20000, 1, 0, 0, 0, 0)
    chunk = b"IHDR" + header
    data = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(header))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(data))
        + b"IDAT"
        + data
        + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    )


def _flipped_chunk_length(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[8 + 3] ^= 0x40  # one bit of the IHDR chunk's length
    return bytes(data)


#: Per row of the 9-row test split: what the "zoo" editor returns, and the status it must get.
ZOO = (
    ("bomb file", "too_large"),
    ("flipped-bit file", "unreadable"),
    ("oracle as float CHW in [-1, 1]", "ok"),
    ("oracle with one NaN", "invalid_values"),
    ("oracle as uint16", "ok"),
    ("editor raises", "missing"),
    ("a dict", "unsupported_format"),
    ("oracle as opaque RGBA", "ok"),
    ("a batch of two", "unsupported_format"),
)
#: Rows whose output is the oracle's exact pixels in another form: they must score exactly as the oracle.
SAME_AS_ORACLE = (2, 4, 7)


@dataclass(frozen=True)
class ZooEditor:
    """Returns the bad (or unusually encoded) output of :data:`ZOO` for each row; picklable for workers."""

    folder: Path

    def __call__(self, row: dict[str, Any]) -> Any:
        index = int(row["sample_id"].rsplit("-", 1)[1])
        kind = ZOO[index][0]
        oracle = np.array(row["target_image"])
        if kind == "bomb file":
            path = self.folder / "bomb.png"
            path.write_bytes(_bomb_png())
            return path
        if kind == "flipped-bit file":
            path = self.folder / "flipped.png"
            path.write_bytes(_flipped_chunk_length(row["target_image"]))
            return path
        if kind == "oracle as float CHW in [-1, 1]":
            return np.moveaxis(oracle / 127.5 - 1.0, -1, 0)
        if kind == "oracle with one NaN":
            image = oracle / 255.0
            image[10, 10, 0] = np.nan
            return image
        if kind == "oracle as uint16":
            return oracle.astype(np.uint16) * 257
        if kind == "editor raises":
            raise MemoryError("CUDA out of memory (simulated)")
        if kind == "a dict":
            return {"images": [row["target_image"]]}
        if kind == "oracle as opaque RGBA":
            return np.dstack([oracle, np.full(oracle.shape[:2], 255, np.uint8)])
        return np.stack([oracle, oracle])


def _samples(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


def test_eval_scores_every_bad_output_with_its_status_and_loses_no_row(
    built_split: Path, split_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    summary = run_evaluation(
        built_split, "tabletop", "test", Editor("zoo", ZooEditor(tmp_path)), tmp_path / "r", workers=2, progress=False
    )
    samples = _samples(tmp_path / "r")
    assert [s["sample_id"] for s in samples] == [row["sample_id"] for row in split_rows]
    assert [s["status"] for s in samples] == [status for _, status in ZOO]
    assert summary["num_samples"] == len(ZOO) and sum(summary["status_counts"].values()) == len(ZOO)
    assert "20000x20000" in samples[0]["message"] or "before decoding" in samples[0]["message"]
    assert "NaN" in samples[3]["message"] and "MemoryError: CUDA out of memory" in samples[5]["message"]
    assert "batch of 2" in samples[8]["message"]
    backend = create_backend("classical")
    for index in SAME_AS_ORACLE:  # no silent mis-scaling: the same pixels score the same
        oracle = score_sample(split_rows[index], split_rows[index]["target_image"], backend)
        got = samples[index]
        assert (got["ic"], got["sa"], got["el"], got["ac"]) == (oracle.ic, oracle.sa, oracle.el, oracle.ac)
    assert samples[2]["details"]["input"]["value_range"] == "-1-1"


def test_evaluate_module_returns_a_status_and_reason_per_sample(
    built_split: Path, split_rows: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evaluate
    from datasets import load_dataset

    dataset = load_dataset(str(built_split), "tabletop", split="test")
    editor = ZooEditor(tmp_path)
    predictions = []
    for row in split_rows:
        try:
            predictions.append(editor(row))
        except MemoryError:
            predictions.append(None)
    bench = evaluate.load(str(REPO_ROOT / "gsi_metrics" / "gsi_bench"))
    result = bench.compute(predictions=predictions, references=dataset)
    statuses = [s["status"] for s in result["samples"]]
    assert statuses == [status for _, status in ZOO]
    assert result["num_samples"] == len(ZOO)
    messages = [s["message"] for s in result["samples"]]
    assert "NaN" in messages[3] and "dict with keys ['images']" in messages[6] and "batch of 2" in messages[8]
    sa = evaluate.load(str(REPO_ROOT / "gsi_metrics" / "gsi_spatial_accuracy"))
    assert [s["status"] for s in sa.compute(predictions=predictions, references=dataset)["SA_samples"]] == statuses


def test_a_row_that_cannot_be_decoded_is_bad_reference_and_the_others_are_scored(built_split: Path) -> None:
    import datasets
    import pyarrow.parquet as pq

    from gsi_datasets.schema import FEATURES

    raw = [
        row
        for shard in sorted(built_split.glob("data/tabletop/test-*.parquet"))
        for row in pq.read_table(shard).to_pylist()
    ]
    raw[1]["source_image"]["bytes"] = b"\x89PNG damaged"
    raw[2]["transform"] = None  # a malformed row
    dataset = datasets.Dataset.from_list(raw[:3], features=FEATURES)
    oracle, backend = get_editor("oracle"), create_backend("classical")
    scores = [evaluate_index(dataset, i, oracle, backend, ("gsi", "paper")) for i in range(3)]
    assert [s[0].status for s in scores] == ["ok", "bad_reference", "bad_reference"]
    assert scores[1][0].sample_id == raw[1]["sample_id"] and "could not be read" in scores[1][0].message
    assert "could not be decoded" in scores[2][0].message


def test_a_killed_eval_resumes_without_rescoring_and_matches_an_uninterrupted_run(
    built_split: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "gsi_bench.cli", "eval", "--data", str(built_split), "--editor", "oracle"]
    process = subprocess.Popen([*command, "--out", str(out), "--quiet"], cwd=REPO_ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    partial = out / PARTIAL_FILE
    while time.monotonic() < deadline and process.poll() is None:
        if partial.exists() and len(partial.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(partial.read_text().splitlines())
    assert done_before >= 3 and not (out / "summary.json").exists(), "the run should have been killed mid-way"

    resumed = run_evaluation(built_split, "tabletop", "test", "oracle", out, progress=False)
    assert resumed["manifest"]["resumed_rows"] == done_before
    fresh = run_evaluation(built_split, "tabletop", "test", "oracle", tmp_path / "fresh", progress=False)
    assert fresh["manifest"]["resumed_rows"] == 0
    assert _samples(out) == _samples(tmp_path / "fresh")
    assert resumed["overall"] == fresh["overall"] and not partial.exists()
    # Another key (another editor) never resumes these rows.
    other = run_evaluation(built_split, "tabletop", "test", "identity", out, progress=False, limit=2)
    assert other["manifest"]["resumed_rows"] == 0 and other["overall"]["IC"] == 0.0


def test_two_evals_cannot_share_a_results_folder(built_split: Path, tmp_path: Path) -> None:
    from filelock import FileLock

    out = tmp_path / "r"
    out.mkdir()
    with FileLock(out / LOCK_FILE), pytest.raises(EvaluationError, match="in use by another gsi-bench eval"):
        run_evaluation(built_split, "tabletop", "test", "identity", out, progress=False, limit=1)
    assert not (out / "summary.json").exists()


def test_eval_into_an_unusable_folder_is_one_clear_line(
    built_split: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file.txt").write_text("x")
    args = ["eval", "--data", str(built_split), "--editor", "identity", "--out", str(tmp_path / "file.txt" / "r")]
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "file.txt is a file; choose another --out" in error


HOSTILE_LABELS = (
    "pipe|in|label",
    "line\nbreak\r\nand more",
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "`code` *em* _u_ ![img](x.png)",
)


def test_leaderboard_escapes_hostile_labels(built_split: Path, tmp_path: Path) -> None:
    base = tmp_path / "base"
    run_evaluation(built_split, "tabletop", "test", "identity", base, progress=False, limit=1)
    summary = json.loads((base / "summary.json").read_text())
    folders = []
    for index, label in enumerate(HOSTILE_LABELS):
        folder = tmp_path / f"run{index}"
        folder.mkdir()
        summary["manifest"]["editor"] = label
        (folder / "summary.json").write_text(json.dumps(summary))
        folders.append(folder)
    text = leaderboard_markdown(load_runs(folders))
    assert "<script" not in text and "](javascript:" not in text and "![img]" not in text
    tables: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    tables = [t for t in tables if t]
    assert len(tables) == 2  # headline and per-operation tables: no label broke a table apart
    for lines in tables:  # every row has the header's cells: no label adds or removes one
        cells = {line.count("|") - line.count("\\|") for line in lines}
        assert len(cells) == 1, lines
    assert len(tables[0]) == 2 + len(HOSTILE_LABELS)


def test_history_notes_are_escaped() -> None:
    from gsi_bench.markdown import escape_markdown, table_row

    row = table_row(["2026-12-01", escape_markdown("note | with\nnewline <b>bold</b>")])
    assert row.count("|") - row.count("\\|") == 3 and "\n" not in row and "<b>" not in row


class _FailingBackend:
    """The classical backend, raising on its second perception (a scorer bug in one case)."""

    def __init__(self) -> None:
        self.inner = create_backend("classical")
        self.name, self.calls = self.inner.name, 0

    def config(self) -> dict[str, Any]:
        return self.inner.config()

    def perceive(self, sample: Any, edited: np.ndarray) -> Any:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("simulated perception bug")
        return self.inner.perceive(sample, edited)


def test_validate_records_a_failing_case_and_measures_the_others(split_rows: list[dict[str, Any]]) -> None:
    from gsi_bench.fidelity.report import build_report, markdown
    from gsi_bench.fidelity.suite import validate_row

    backend = _FailingBackend()
    record = validate_row(split_rows[0], backend)
    ((case, message),) = record["errors"].items()
    assert "RuntimeError: simulated perception bug" in message
    unchanged = sum(c["case"] == "identity/source" for c in record["cases"])  # an unchanged image needs no backend
    assert len(record["cases"]) == backend.calls - 1 + unchanged and case not in {c["case"] for c in record["cases"]}
    broken = validate_row({**split_rows[1], "scene": "{not json"}, create_backend("classical"))
    assert broken["cases"] == [] and "could not be prepared" in broken["errors"]["scene"]
    meta = {"data": "a|b", "config": "tabletop", "split": "test", "seed": 0, "num_scenes": 2, "backend": "classical"}
    report = build_report([record, broken], meta)
    assert len(report["counts"]["errors"]) == 2
    assert "simulated perception bug" in markdown(report)


def _damaged_copy(built_split: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the test split and its last shard."""
    import shutil

    copy = tmp_path / "syn"
    shutil.copytree(built_split, copy)
    return copy, sorted(copy.glob("data/tabletop/test-*.parquet"))[-1]


def test_eval_refuses_a_flipped_byte_before_scoring_naming_the_shard(
    built_split: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy, shard = _damaged_copy(built_split, tmp_path)
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    out = tmp_path / "r"
    assert main(["eval", "--data", str(copy), "--editor", "oracle", "--out", str(out), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert shard.name in error and "SHA-256" in error and "gsi-bench build syn" in error
    assert not (out / "samples.jsonl").exists() and not (out / PARTIAL_FILE).exists()  # nothing was scored


def test_eval_refuses_an_edited_card_with_the_fix(
    built_split: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy, _ = _damaged_copy(built_split, tmp_path)
    card = copy / "README.md"
    card.write_text(card.read_text().replace("num_examples: 9", "num_examples: 10"))
    assert main(["eval", "--data", str(copy), "--editor", "oracle", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "README.md" in error and "--rewrite-card" in error
