"""Dataset folders: loading, determinism, resumption after a kill, and argument errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from datasets import load_dataset

from gsi_builders.writer import BuildError, build_split
from gsi_datasets.integrity import read_manifests, verify_dataset
from tests.conftest import SPLIT_SAMPLES, SPLIT_SEED, build_argv


def _table_rows(folder: Path) -> list[dict]:
    shards = sorted((folder / "data" / "tabletop").glob("test-*.parquet"))
    return [row for shard in shards for row in pq.read_table(shard).to_pylist()]


def test_load_dataset_reads_the_folder_offline(built_split: Path) -> None:
    dataset = load_dataset(str(built_split), "tabletop", split="test")
    assert len(dataset) == SPLIT_SAMPLES
    assert dataset.features["operation"].names[0] == "camera_relative_move"
    row = dataset[0]
    assert row["source_image"].size == (512, 512) and row["source_image"].mode == "RGB"
    assert row["source_depth"].mode.startswith("I")  # 16-bit depth decodes as an integer image
    card = (built_split / "README.md").read_text()
    metadata = yaml.safe_load(card.split("---")[1])
    assert metadata["configs"] == [
        {"config_name": "tabletop", "data_files": [{"split": "test", "path": "data/tabletop/test-*.parquet"}]}
    ]
    size = sum(p.stat().st_size for p in (built_split / "data" / "tabletop").glob("test-*.parquet"))
    assert metadata["dataset_info"][0]["splits"] == [{"name": "test", "num_bytes": size, "num_examples": SPLIT_SAMPLES}]
    assert not list(built_split.rglob("*.py")), "a dataset folder must not contain loading scripts"


def test_the_same_seed_gives_identical_rows_in_process_and_in_workers(built_split: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    # One in-process worker instead of two spawned ones, and other shard boundaries: same rows, same bytes.
    build_split(
        "tabletop", "test", SPLIT_SAMPLES, seed=SPLIT_SEED, out_dir=again, workers=1, shard_size=4, progress=False
    )
    assert _table_rows(again) == _table_rows(built_split)


def test_another_seed_gives_other_scenes_and_load_dataset_sees_them(tmp_path: Path) -> None:
    # Same folder name, same size: `datasets` must still not serve one build's cache for the other.
    a = build_split("tabletop", "test", 1, seed=1, out_dir=tmp_path / "a" / "syn", workers=1, progress=False)
    b = build_split("tabletop", "test", 1, seed=2, out_dir=tmp_path / "b" / "syn", workers=1, progress=False)
    assert a.complete and b.complete
    rows_a, rows_b = _table_rows(tmp_path / "a" / "syn"), _table_rows(tmp_path / "b" / "syn")
    assert rows_a[0]["scene"] != rows_b[0]["scene"]
    assert rows_a[0]["source_image"]["bytes"] != rows_b[0]["source_image"]["bytes"]
    loaded = [load_dataset(str(tmp_path / name / "syn"), "tabletop", split="test")[0]["sample_id"] for name in "ab"]
    assert loaded == ["syn-tabletop-test-s1-000000", "syn-tabletop-test-s2-000000"]


def test_splits_are_scene_disjoint() -> None:
    from gsi_builders.generate import sample_seed

    seeds = {split: {sample_seed(0, "tabletop", split, i) for i in range(2000)} for split in ("train", "test")}
    assert not seeds["train"] & seeds["test"]


def _shard_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "data" / "tabletop").iterdir())}


def test_a_killed_build_resumes_byte_identical_to_an_uninterrupted_one(built_split: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    # shard size 5 as `built_split`, so the shards can be compared byte for byte
    command = build_argv(out, SPLIT_SEED, SPLIT_SAMPLES, 5)
    process = subprocess.Popen(command, start_new_session=True)
    manifest_file = out / ".gsi_build" / "tabletop-test.json"
    deadline = time.time() + 120
    # Kill once the manifest records the first shard (both files are replaced atomically, so reading is safe).
    while time.time() < deadline and process.poll() is None:
        if manifest_file.exists() and json.loads(manifest_file.read_text())["shards"]:
            break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    manifest = json.loads(manifest_file.read_text())
    assert list(manifest["shards"]) == ["data/tabletop/test-00000-of-00002.parquet"], "killed at the wrong time"
    assert not manifest["complete"]
    assert "configs" not in (out / "README.md").read_text(), "an incomplete split must not be listed"
    assert [p.path for p in verify_dataset(out)] == [".gsi_build/tabletop-test.json"]

    report = build_split(
        "tabletop", "test", SPLIT_SAMPLES, seed=SPLIT_SEED, out_dir=out, workers=1, shard_size=5, progress=False
    )
    assert report.complete and report.shards_resumed == 1
    assert report.samples_generated_now == SPLIT_SAMPLES - 5
    assert _shard_bytes(out) == _shard_bytes(built_split)
    assert read_manifests(out)[0]["shards"] == read_manifests(built_split)[0]["shards"]
    assert verify_dataset(out) == []


def test_a_corrupt_shard_is_rebuilt(tmp_path: Path) -> None:
    out = tmp_path / "corrupt"
    build_split("tabletop", "test", 2, seed=3, out_dir=out, workers=1, shard_size=1, progress=False)
    shard = out / "data" / "tabletop" / "test-00001-of-00002.parquet"
    reference = shard.read_bytes()
    shard.write_bytes(b"not parquet")
    report = build_split("tabletop", "test", 2, seed=3, out_dir=out, workers=1, shard_size=1, progress=False)
    assert report.shards_resumed == 1 and report.samples_generated_now == 1
    assert pq.read_table(shard).to_pylist() == pq.read_table(pa.BufferReader(reference)).to_pylist()


def test_conflicting_parameters_need_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "conflict"
    build_split("tabletop", "test", 1, seed=0, out_dir=out, workers=1, progress=False)
    with pytest.raises(BuildError, match="other parameters.*--overwrite"):
        build_split("tabletop", "test", 1, seed=1, out_dir=out, workers=1, progress=False)
    report = build_split("tabletop", "test", 1, seed=1, out_dir=out, workers=1, overwrite=True, progress=False)
    assert report.complete and report.shards_resumed == 0
    assert [m["seed"] for m in read_manifests(out)] == [1]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"subset": "kitchen"}, "unknown subset 'kitchen'; available subsets: room, tabletop"),
        ({"num_samples": 0}, "--num-samples must be a positive number of samples, got 0"),
        ({"split": "dev"}, "unknown split 'dev'"),
    ],
)
def test_bad_arguments_fail_before_any_work(tmp_path: Path, kwargs: dict, message: str) -> None:
    arguments = {"subset": "tabletop", "split": "test", "num_samples": 2, "out_dir": tmp_path / "out"}
    arguments.update(kwargs)
    with pytest.raises(BuildError, match=message):
        build_split(**arguments, progress=False)
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(BuildError, match="not writable"):
        build_split("tabletop", "test", 1, out_dir=blocker / "syn", progress=False)


def test_a_build_can_override_the_operation_mix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Camera view changes on tabletops: ``--operations`` replaces the subset's mix and is part of the build's
    identity (a resume with another mix is refused)."""
    import json

    from datasets import load_dataset

    from gsi_bench.cli import main

    out = tmp_path / "pc"
    arguments = ["build", "syn", "--num-samples", "2", "--out", str(out), "--workers", "1", "--quiet"]
    assert main([*arguments, "--operations", "camera_view_change"]) == 0
    rows = load_dataset(str(out), "tabletop", split="test")
    assert [rows.features["operation"].int2str(op) for op in rows["operation"]] == ["camera_view_change"] * 2
    manifest = json.loads(next((out / ".gsi_build").glob("tabletop-test.json")).read_text())
    assert manifest["operation_mix"] == {"camera_view_change": 1.0}
    assert main([*arguments, "--operations", "object_rotate"]) == 2
    assert "other parameters" in capsys.readouterr().err
    assert main([*arguments, "--operations", "object_rotate=0.7", "object_scale=0.7"]) == 2
    assert "must sum to 1" in capsys.readouterr().err


def test_operations_all_means_every_buildable_operation_and_others_fail_clearly() -> None:
    from gsi_bench.cli import _operation_mix
    from gsi_builders.generate import buildable_operations, check_operation_mix
    from gsi_datasets.schema import OPERATIONS

    everything = _operation_mix(["all"])
    assert list(everything) == buildable_operations() and len(everything) >= 6
    assert set(everything) <= set(OPERATIONS) and sum(everything.values()) == pytest.approx(1.0)
    assert len(set(everything.values())) == 1  # equal shares
    check_operation_mix(everything)
    not_built = [operation for operation in OPERATIONS if operation not in everything]
    for operation in not_built:  # a benchmark operation without a generator (yet): named, with what can be built
        with pytest.raises(ValueError, match=f"{operation} .*has no generator yet.*can be built are"):
            check_operation_mix({operation: 1.0})
    with pytest.raises(ValueError, match="unknown operation 'object_rotat'. Did you mean 'object_rotate'"):
        check_operation_mix({"object_rotat": 1.0})
