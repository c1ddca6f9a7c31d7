"""Builds spread over machines: parts (``--num-shards N --shard-index I``) merged with ``gsi-bench merge``, and
``--engine ray`` on a real local Ray instance, against a single-process build with the same seed, byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gsi_bench.cli import main
from gsi_builders.sharding import PARTS_DIR, merge_builds
from gsi_builders.writer import BuildError, build_split
from gsi_datasets.integrity import MANIFEST_DIR, read_lock_holder

#: 12 samples in 6 Parquet shards of 2: enough shards for a part to be killed between two of them.
SPLIT = {"subset": "tabletop", "split": "test", "num_samples": 12, "shard_size": 2, "seed": 5}
BUILD = ["build", "syn", "--subset", "tabletop", "--split", "test", "--num-samples", "12", "--shard-size", "2",
         "--seed", "5", "--quiet"]  # fmt: skip


def _contents(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of a dataset folder but the build bookkeeping (manifests, lock, parts)."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not {MANIFEST_DIR, PARTS_DIR} & set(path.relative_to(folder).parts)
    }


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The single-machine build's files."""
    out = tmp_path_factory.mktemp("single") / "syn"
    build_split(**SPLIT, out_dir=out, workers=1, progress=False)
    return _contents(out)


@pytest.mark.slow
def test_parts_built_apart_and_merged_equal_a_single_build(single, tmp_path):
    parts = [tmp_path / f"part{index}" for index in range(3)]
    for index, folder in enumerate(parts):
        assert main([*BUILD, "--workers", "1", "--out", str(folder), "--num-shards", "3", "--shard-index",
                     str(index)]) == 0  # fmt: skip
        manifest = json.loads((folder / MANIFEST_DIR / "tabletop-test.json").read_text())
        assert manifest["part"] == [index, 3] and not manifest["complete"]
        owned = [f"data/tabletop/test-0000{shard}-of-00006.parquet" for shard in (index, index + 3)]
        assert sorted(manifest["shards"]) == owned
    with pytest.raises(BuildError, match="2 of 6 shards are in no part"):
        merge_builds(parts[:2], tmp_path / "incomplete")
    assert main(["merge", *map(str, parts), "--out", str(tmp_path / "merged")]) == 0
    assert _contents(tmp_path / "merged") == single  # shards and card, byte for byte
    from datasets import load_dataset

    assert len(load_dataset(str(tmp_path / "merged"), "tabletop", split="test")) == 12


def test_merge_refuses_parts_of_different_builds_and_damaged_shards(tmp_path):
    one = build_split(**{**SPLIT, "num_samples": 4}, out_dir=tmp_path / "a", workers=1, progress=False, part=(0, 2))
    assert one.part == [0, 2]
    build_split(**{**SPLIT, "num_samples": 4, "seed": 6}, out_dir=tmp_path / "b", workers=1, progress=False,
                part=(1, 2))  # fmt: skip
    with pytest.raises(BuildError, match="other parameters .*'seed': \\(5, 6\\)"):
        merge_builds([tmp_path / "a", tmp_path / "b"], tmp_path / "merged")
    shard = next((tmp_path / "a" / "data").rglob("*.parquet"))
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(BuildError, match="re-run that part's build to repair it"):
        merge_builds([tmp_path / "a"], tmp_path / "merged")
    with pytest.raises(BuildError, match="--shard-index must be in"):
        build_split(**SPLIT, out_dir=tmp_path / "c", part=(2, 2))
    with pytest.raises(BuildError, match="more than the split's 6 Parquet shard"):
        build_split(**SPLIT, out_dir=tmp_path / "c", part=(0, 7))
    assert main([*BUILD, "--out", str(tmp_path / "c"), "--num-shards", "2"]) == 2  # no --shard-index


@pytest.mark.slow
def test_ray_build_survives_a_killed_worker_and_equals_a_single_build(single, tmp_path):
    """``--engine ray`` on a local Ray instance (this machine's cores): a part's worker is killed (SIGKILL) after
    its first shard; Ray runs the part again, it resumes from its folder, and the merged dataset equals the single
    build."""
    pytest.importorskip("ray")
    out = tmp_path / "syn"
    command = [sys.executable, "-m", "gsi_bench.cli", *BUILD, "--out", str(out), "--engine", "ray", "--num-shards", "2"]
    build = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    part = out / PARTS_DIR / "tabletop-test-part-0-of-2"
    deadline, killed = time.monotonic() + 600, None
    while killed is None:
        assert build.poll() is None, build.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "part 0 wrote no shard in time"
        manifest = part / MANIFEST_DIR / "tabletop-test.json"
        shards = json.loads(manifest.read_text()).get("shards", {}) if manifest.is_file() else {}
        holder = read_lock_holder(part)
        if len(shards) == 1 and holder is not None:
            killed = holder["pid"]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    _, errors = build.communicate(timeout=600)
    assert build.returncode == 0, errors[-3000:]
    assert _contents(out) == single
    assert not (out / PARTS_DIR).exists()  # the parts' folders are removed once merged
