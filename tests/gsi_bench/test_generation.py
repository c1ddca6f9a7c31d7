"""``gsi-bench generate`` (``gsi_bench.generation``) and the ``python:`` editor: a predictions folder that ``eval``
scores, per-sample failures, resuming after a kill, and the manifest that ``eval`` records."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from gsi_bench.cli import main  # noqa: E402
from gsi_bench.editors import get_editor  # noqa: E402
from gsi_bench.evaluation import run_evaluation  # noqa: E402
from gsi_bench.generation import GENERATION_FILE, GenerationError, read_generation_log, run_generation  # noqa: E402
from gsi_metrics.predictions import INPUT_STATUSES  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[2]
MIRROR = "python:tests.editors_for_tests:mirror"


def _ids(built_split: Path) -> list[str]:
    from datasets import load_dataset

    return list(load_dataset(str(built_split), "tabletop", split="test")["sample_id"])


def test_python_editor_writes_a_folder_that_eval_scores_with_its_manifest(built_split, split_rows, tmp_path):
    out = tmp_path / "mirror"
    manifest = run_generation(built_split, "tabletop", "test", MIRROR, out, progress=False)
    ids = _ids(built_split)
    assert manifest["counts"] == {"ok": len(ids), "failed": 0, "unusable": 0, "not_attempted": 0}
    assert manifest["editor"]["spec"] == MIRROR
    assert manifest["editor"]["callable"] == "tests.editors_for_tests:mirror"
    assert manifest["this_run"]["edited"] == len(ids)
    for row in split_rows:  # each image is the editor's output for its own row
        written = np.asarray(Image.open(out / f"{row['sample_id']}.png"))
        assert np.array_equal(written, np.asarray(ImageOps.mirror(row["source_image"].convert("RGB"))))

    summary = run_evaluation(built_split, "tabletop", "test", f"folder:{out}", tmp_path / "results", progress=False)
    assert summary["manifest"]["generation"]["editor"]["callable"] == "tests.editors_for_tests:mirror"
    assert summary["num_samples"] == len(ids)
    assert sum(summary["status_counts"].values()) == len(ids)
    assert not set(summary["status_counts"]) & set(INPUT_STATUSES)  # every image was found and read


def test_model_editors_see_the_source_and_instruction_only(split_rows):
    """A ``python:`` editor gets the source image and the instruction: the answer never reaches it."""
    seen = {}

    def spy(image, instruction, **options):
        seen.update(image=image, instruction=instruction, options=options)
        return image

    from gsi_bench.editors import as_editor

    editor = as_editor(spy, {"strength": 2})
    assert editor.columns == ("sample_id", "instruction", "source_image")
    editor(split_rows[0])
    assert seen["instruction"] == split_rows[0]["instruction"]
    assert seen["options"] == {"strength": 2}


def test_failures_are_recorded_per_sample_scored_missing_and_retried(built_split, split_rows, tmp_path):
    refused, unusable = split_rows[1]["instruction"], split_rows[4]["instruction"]
    options = {"refuse": refused, "unusable": unusable}
    out = tmp_path / "picky"
    manifest = run_generation(
        built_split, "tabletop", "test", "python:tests.editors_for_tests:picky", out, editor_options=options,
        progress=False,
    )  # fmt: skip
    assert manifest["counts"]["failed"] == 1 and manifest["counts"]["unusable"] == 1
    failures = {f["sample_id"]: f for f in manifest["failures"]}
    assert "refused" in failures[split_rows[1]["sample_id"]]["message"]
    assert "unsupported_format" in failures[split_rows[4]["sample_id"]]["message"]

    results = tmp_path / "results"
    run_evaluation(built_split, "tabletop", "test", f"folder:{out}", results, progress=False)
    lines = {
        json.loads(line)["sample_id"]: json.loads(line) for line in (results / "samples.jsonl").read_text().splitlines()
    }
    failed = lines[split_rows[1]["sample_id"]]
    assert (
        failed["status"] == "missing" and "refused" in failed["message"] and "gsi-bench generate" in failed["message"]
    )
    assert lines[split_rows[0]["sample_id"]]["status"] == "ok"

    flaky_out, marks = tmp_path / "flaky", tmp_path / "marks"
    flaky = ("python:tests.editors_for_tests:flaky", {"marks": str(marks)})
    first = run_generation(
        built_split, "tabletop", "test", *flaky[:1], flaky_out, editor_options=flaky[1], progress=False
    )
    assert first["counts"]["failed"] == len(split_rows)
    second = run_generation(
        built_split, "tabletop", "test", *flaky[:1], flaky_out, editor_options=flaky[1], progress=False
    )
    assert second["counts"]["ok"] == len(split_rows) and second["this_run"]["edited"] == len(split_rows)
    third = run_generation(
        built_split, "tabletop", "test", *flaky[:1], flaky_out, editor_options=flaky[1], progress=False
    )
    assert third["this_run"]["edited"] == 0  # nothing left to do
    assert third["editor"] == second["editor"]


def test_a_folder_of_another_generation_is_refused_unless_overwritten(built_split, tmp_path):
    out = tmp_path / "out"
    run_generation(built_split, "tabletop", "test", MIRROR, out, limit=2, progress=False)
    with pytest.raises(GenerationError, match="different editor"):
        run_generation(built_split, "tabletop", "test", "python:tests.editors_for_tests:as_tensor", out, limit=2,
                       progress=False)  # fmt: skip
    manifest = run_generation(
        built_split, "tabletop", "test", "python:tests.editors_for_tests:as_tensor", out, limit=2, overwrite=True,
        progress=False,
    )  # fmt: skip
    assert manifest["counts"]["ok"] == 2
    notes = next(iter(read_generation_log(out).values()))["notes"]
    assert notes == {"layout": "CHW", "value_range": "0-1"}  # a bfloat16 (1, 3, H, W) tensor, read and written


def test_generate_resumes_after_a_kill_without_redoing_finished_samples(built_split, tmp_path):
    out = tmp_path / "slow"
    command = [
        sys.executable, "-m", "gsi_bench", "generate", "--data", str(built_split), "--config", "tabletop",
        "--editor", MIRROR, "--editor-option", "delay=0.4", "--out", str(out), "--quiet",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPOSITORY, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.png"))) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {path.name: path.stat().st_mtime_ns for path in out.glob("*.png")}
    assert 3 <= len(before) < len(_ids(built_split))
    assert not list(out.glob(".*.tmp"))  # no half-written image left behind under its name

    finished = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    manifest = json.loads((out / GENERATION_FILE).read_text())
    assert manifest["counts"]["ok"] == len(_ids(built_split))
    assert manifest["this_run"]["edited"] == len(_ids(built_split)) - len(before)
    assert all(out.joinpath(name).stat().st_mtime_ns == mtime for name, mtime in before.items())
    attempts = Counter(
        json.loads(line)["sample_id"] for line in (out / "generation_log.0.jsonl").read_text().splitlines()
    )
    assert max(attempts.values()) == 1


def test_editor_options_and_specs_are_checked_before_any_work(tmp_path, capsys):
    with pytest.raises(ValueError, match="takes no options"):
        get_editor("oracle", {"steps": 2})
    with pytest.raises(ImportError, match="cannot be imported"):
        get_editor("python:no_such_module_here:edit")
    with pytest.raises(ImportError, match="has no attribute"):
        get_editor("python:tests.editors_for_tests:no_such_function")
    with pytest.raises(ValueError, match="MODULE:CALLABLE"):
        get_editor("python:tests.editors_for_tests")
    with pytest.raises(ValueError, match="Did you mean base_url"):
        get_editor("api:http", {"base_ur": "http://127.0.0.1:1/v1"})
    with pytest.raises(ValueError, match="needs the server"):
        get_editor("api:http")
    assert main(["generate", "--data", str(tmp_path), "--editor", "geometrc", "--out", str(tmp_path / "o")]) == 2
    assert "Did you mean geometric" in capsys.readouterr().err
    assert main(["generate", "--editor", MIRROR, "--editor-option", "delay", "--out", str(tmp_path / "o")]) == 2
    assert "--editor-option expects KEY=VALUE" in capsys.readouterr().err


def test_eval_splits_rows_between_accelerate_processes(built_split, tmp_path):
    """``accelerate launch -m gsi_bench eval``: each process scores every other row, the main one writes the results,
    and they equal a one-process run's, row for row."""
    launcher = Path(sys.executable).parent / "accelerate"
    if not launcher.exists():
        pytest.skip("accelerate's launcher is not installed")
    evaluate = ["eval", "--data", str(built_split), "--config", "tabletop", "--editor", "oracle", "--limit", "4",
                "--profile", "both", "--quiet"]  # fmt: skip
    command = [
        str(launcher),
        "launch",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--multi_gpu",
        "--num_processes",
        "2",
        "-m",
        "gsi_bench",
        *evaluate,
        "--out",
        str(tmp_path / "two"),
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert main([*evaluate, "--out", str(tmp_path / "one")]) == 0
    two, one = ([json.loads(line) for line in (tmp_path / name / "samples.jsonl").read_text().splitlines()]
                for name in ("two", "one"))  # fmt: skip
    assert [row["sample_id"] for row in two] == [row["sample_id"] for row in one]
    for a, b in zip(two, one, strict=True):
        assert (a["status"], a["ic"]) == (b["status"], b["ic"])
        assert a["sa"] == pytest.approx(b["sa"], abs=1e-9) and a["ac"] == pytest.approx(b["ac"], abs=1e-9)
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["manifest"]["processes"] == 2
    assert not list((tmp_path / "two").glob(".samples.partial*"))


def test_a_folder_in_use_by_another_generation_is_refused(built_split, tmp_path):
    from filelock import FileLock

    from gsi_bench.generation import LOCK_FILE

    out = tmp_path / "busy"
    out.mkdir()
    with FileLock(out / LOCK_FILE), pytest.raises(GenerationError, match="in use by another gsi-bench generate"):
        run_generation(built_split, "tabletop", "test", MIRROR, out, limit=1, progress=False)
    assert run_generation(built_split, "tabletop", "test", MIRROR, out, limit=1, progress=False)["counts"]["ok"] == 1
