"""Two builds never mix (the folder lock), stale and foreign files are cleaned, damage is reported by file."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from gsi_bench.cli import main
from gsi_builders.writer import BuildError, OutputLockedError, build_split, output_lock
from gsi_datasets.integrity import (
    LOCK_HOLDER_FILE,
    MANIFEST_DIR,
    DatasetIntegrityError,
    check_dataset,
    read_manifests,
    verify_dataset,
)
from tests.conftest import build_argv

SAMPLES = 2
SEED = 3
SHARD_0 = "data/tabletop/test-00000-of-00002.parquet"
SHARD_1 = "data/tabletop/test-00001-of-00002.parquet"
LOCKED = "is locked by another gsi-bench process"


@pytest.fixture(scope="module")
def small_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-sample tabletop test split (seed 3) in two 1-row shards; tests damage copies of it."""
    out = tmp_path_factory.mktemp("small") / "syn"
    build_split("tabletop", "test", SAMPLES, seed=SEED, out_dir=out, workers=1, shard_size=1, progress=False)
    return out


@pytest.fixture
def folder(small_build: Path, tmp_path: Path) -> Path:
    """A private copy of ``small_build``."""
    return Path(shutil.copytree(small_build, tmp_path / "syn"))


def _build_command(out: Path, seed: int, *extra: str, num_samples: int = SAMPLES) -> list[str]:
    return build_argv(out, seed, num_samples, 1, *extra)


def _build_seeds(folder: Path) -> set[int]:
    """The build seeds of every row of the tabletop test split (sample ids read ``syn-tabletop-test-s<seed>-...``)."""
    ids = [row for shard in sorted(folder.glob("data/tabletop/test-*.parquet")) for row in _sample_ids(shard)]
    return {int(re.search(r"-s(\d+)-", sample_id).group(1)) for sample_id in ids}


def _sample_ids(shard: Path) -> list[str]:
    return pq.read_table(shard, columns=["sample_id"]).column("sample_id").to_pylist()


def _num_rows(folder: Path) -> int:
    return sum(pq.ParquetFile(shard).metadata.num_rows for shard in folder.glob("data/tabletop/test-*.parquet"))


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted((folder / "data").rglob("*")) if p.is_file()
    }


def _assert_one_consistent_build(folder: Path, seeds: set[int], num_samples: int = SAMPLES) -> None:
    assert verify_dataset(folder) == []
    assert _build_seeds(folder) in [{seed} for seed in seeds]
    assert _num_rows(folder) == num_samples


# ------------------------------------------------------------------------------------------------------------
# The lock
# ------------------------------------------------------------------------------------------------------------


def test_a_build_into_a_locked_folder_refuses_naming_the_holder(folder: Path) -> None:
    before = _files(folder)
    with output_lock(folder, {"subset": "tabletop", "split": "test", "seed": 99}):
        holder = json.loads((folder / MANIFEST_DIR / LOCK_HOLDER_FILE).read_text())
        assert holder["pid"] == os.getpid() and holder["task"]["seed"] == 99 and holder["started"]
        plain, overwrite = (
            subprocess.Popen(_build_command(folder, seed, *extra), stderr=subprocess.PIPE, text=True)
            for seed, extra in ((SEED, ()), (SEED + 1, ("--overwrite",)))
        )
        for process in (plain, overwrite):
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 2, stderr
            assert LOCKED in stderr and f"pid {os.getpid()} on host" in stderr and "seed 99" in stderr
            assert "--wait" in stderr, "the message says what to do"
        with pytest.raises(OutputLockedError, match=LOCKED):
            build_split("tabletop", "test", SAMPLES, seed=SEED, out_dir=folder, workers=1, progress=False)
    assert not (folder / MANIFEST_DIR / LOCK_HOLDER_FILE).exists(), "the holder record goes with the lock"
    assert _files(folder) == before, "a refused build touches nothing"


@pytest.mark.parametrize(
    "second_seed,second_extra",
    [(SEED, ()), (SEED + 1, ()), (SEED + 1, ("--overwrite",))],
    ids=["same-seed", "other-seed", "overwrite"],
)
def test_two_builds_started_at_once_leave_one_consistent_build(
    tmp_path: Path, second_seed: int, second_extra: tuple[str, ...]
) -> None:
    out = tmp_path / "syn"
    processes = [
        subprocess.Popen(_build_command(out, seed, *extra), stderr=subprocess.PIPE, text=True)
        for seed, extra in ((SEED, ()), (second_seed, second_extra))
    ]
    results = [(process.wait(timeout=180), process.stderr.read()) for process in processes]
    assert any(code == 0 for code, _ in results), results
    for code, stderr in results:
        # Refused because the other one held the lock, or (when it had already finished) because its build has
        # other parameters; never a traceback.
        assert code == 0 or (code == 2 and (LOCKED in stderr or "other parameters" in stderr)), stderr
        assert "Traceback" not in stderr
    _assert_one_consistent_build(out, {SEED, second_seed})


def test_overwrite_during_a_running_build_refuses_and_wait_queues_behind_it(tmp_path: Path) -> None:
    out = tmp_path / "syn"
    first = subprocess.Popen(_build_command(out, SEED, num_samples=3), start_new_session=True)
    holder = out / MANIFEST_DIR / LOCK_HOLDER_FILE
    deadline = time.time() + 120
    while first.poll() is None and time.time() < deadline:
        if holder.exists() and json.loads(holder.read_text())["pid"] == first.pid:
            break
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGSTOP)  # the build holds the lock, paused mid-build
    try:
        assert first.poll() is None, "the first build ended before it could be paused"
        refused = subprocess.run(
            _build_command(out, SEED + 1, "--overwrite"), capture_output=True, text=True, timeout=120
        )
        assert refused.returncode == 2 and LOCKED in refused.stderr and f"pid {first.pid}" in refused.stderr
        log = tmp_path / "waiting.log"
        with log.open("w") as stderr:
            waiting = subprocess.Popen(_build_command(out, SEED + 1, "--overwrite", "--wait"), stderr=stderr)
        deadline = time.time() + 120
        while "waiting for it to finish" not in log.read_text() and time.time() < deadline:
            time.sleep(0.05)
        assert waiting.poll() is None and f"pid {first.pid}" in log.read_text()
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    assert first.wait(timeout=120) == 0
    assert waiting.wait(timeout=120) == 0, log.read_text()
    # The waiting --overwrite ran after the first build finished and replaced it whole.
    _assert_one_consistent_build(out, {SEED + 1})


# ------------------------------------------------------------------------------------------------------------
# Clean-up, checksums on resume, file modes
# ------------------------------------------------------------------------------------------------------------


def test_stale_temporary_files_and_foreign_shards_are_removed_on_resume(folder: Path, small_build: Path) -> None:
    data = folder / "data" / "tabletop"
    stale = [
        data / ".test-00001-of-00002.parquet.k2x9q.tmp",  # a build killed while writing a shard
        data / "test-00001-of-00002.parquet.tmp",  # the old fixed temporary name
        folder / MANIFEST_DIR / ".tabletop-test.json.a8f3.tmp",
    ]
    for path in stale:
        path.write_bytes(b"partial")
    foreign = data / "test-00000-of-00004.parquet"  # a shard of an earlier build with another shard count
    shutil.copy(data / "test-00001-of-00002.parquet", foreign)
    # A readable shard with the right name and row count but other rows: only its checksum tells.
    shutil.copy(data / "test-00001-of-00002.parquet", data / "test-00000-of-00002.parquet")
    assert {p.path for p in verify_dataset(folder)} == {SHARD_0, "data/tabletop/test-00000-of-00004.parquet"}

    report = build_split(
        "tabletop", "test", SAMPLES, seed=SEED, out_dir=folder, workers=1, shard_size=1, progress=False
    )

    assert report.complete and report.shards_resumed == 1 and report.samples_generated_now == 1
    assert not any(path.exists() for path in [*stale, foreign])
    assert _files(folder) == _files(small_build)
    assert verify_dataset(folder) == []


def test_files_are_readable_by_others_as_the_umask_allows(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        build_split("tabletop", "test", 1, seed=SEED, out_dir=tmp_path / "syn", workers=1, progress=False)
    finally:
        os.umask(previous)
    written = [*(tmp_path / "syn" / "data").rglob("*.parquet"), tmp_path / "syn" / "README.md"]
    written += list((tmp_path / "syn" / MANIFEST_DIR).glob("tabletop-*.json"))
    assert len(written) == 3
    assert {path.name: oct(path.stat().st_mode & 0o777) for path in written} == {
        path.name: oct(0o640) for path in written
    }


def test_shards_carry_page_checksums_that_load_dataset_reads(small_build: Path) -> None:
    metadata = pq.ParquetFile(small_build / SHARD_0).metadata
    assert metadata.num_rows == 1
    assert pq.read_table(small_build / SHARD_0, page_checksum_verification=True).num_rows == 1
    assert len(load_dataset(str(small_build), "tabletop", split="test")) == SAMPLES


# ------------------------------------------------------------------------------------------------------------
# Verification: each kind of damage, named by file, by the function and the command
# ------------------------------------------------------------------------------------------------------------


def _flip_a_byte(folder: Path) -> None:
    shard = folder / SHARD_1
    data = bytearray(shard.read_bytes())
    data[len(data) // 3] ^= 0x01
    shard.write_bytes(bytes(data))


def _truncate(folder: Path) -> None:
    shard = folder / SHARD_1
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])


def _delete(folder: Path) -> None:
    (folder / SHARD_1).unlink()


def _add_a_shard(folder: Path) -> None:
    shutil.copy(folder / SHARD_1, folder / "data/tabletop/test-00002-of-00003.parquet")


def _edit_the_card(folder: Path) -> None:
    card = folder / "README.md"
    card.write_text(card.read_text().replace(f"num_examples: {SAMPLES}", f"num_examples: {SAMPLES + 1}"))


DAMAGE: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "flipped-byte": (_flip_a_byte, SHARD_1, "SHA-256 differs from the build manifest"),
    "truncated": (_truncate, SHARD_1, "truncated"),
    "deleted": (_delete, SHARD_1, "missing"),
    "extra-shard": (_add_a_shard, "data/tabletop/test-00002-of-00003.parquet", "not a shard of the build"),
    "edited-card": (_edit_the_card, "README.md", f"num_examples {SAMPLES + 1} where the build manifest records"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_reported_naming_the_file(folder: Path, damage: str, capsys: pytest.CaptureFixture[str]) -> None:
    damage_folder, path, problem = DAMAGE[damage]
    damage_folder(folder)

    problems = verify_dataset(folder, "tabletop", "test")
    assert [p.path for p in problems] == [path]
    assert problem in problems[0].problem
    assert "gsi-bench" in problems[0].fix and str(folder) in problems[0].fix

    with pytest.raises(DatasetIntegrityError) as raised:
        check_dataset(folder, "tabletop", "test")
    assert raised.value.problems == problems and f"{path}: {problems[0].problem}; fix: " in str(raised.value)

    assert main(["verify", str(folder)]) == 1
    assert capsys.readouterr().out == f"{problems[0]}\n"


def test_verify_accepts_a_sound_folder_and_counts_what_it_checked(
    small_build: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify_dataset(small_build) == [] and verify_dataset(small_build, "tabletop", "test") == []
    check_dataset(small_build, "tabletop", "test")
    assert main(["verify", str(small_build), "--config", "tabletop", "--split", "test"]) == 0
    assert capsys.readouterr().out == "OK: 2 shards of 1 splits verified\n"


def test_rewrite_card_repairs_an_edited_card(folder: Path, small_build: Path) -> None:
    _edit_the_card(folder)
    assert main(["verify", str(folder), "--rewrite-card"]) == 0
    assert (folder / "README.md").read_text() == (small_build / "README.md").read_text()


def test_an_interrupted_build_is_reported_with_the_command_that_resumes_it(folder: Path) -> None:
    manifest = folder / MANIFEST_DIR / "tabletop-test.json"
    record = json.loads(manifest.read_text())
    del record["shards"][SHARD_1]  # as a build killed between writing the shard and recording it
    record["complete"] = False
    manifest.write_text(json.dumps(record))
    problems = {p.path: p for p in verify_dataset(folder)}
    assert set(problems) == {f"{MANIFEST_DIR}/tabletop-test.json", SHARD_1, "README.md"}
    assert "incomplete: 1 of 2 shards" in problems[f"{MANIFEST_DIR}/tabletop-test.json"].problem
    assert "--num-samples 2 --seed 3 --shard-size 1" in problems[f"{MANIFEST_DIR}/tabletop-test.json"].fix


@pytest.mark.parametrize("text", ["{", '{"subset": "tabletop"}', "SHARDS"], ids=["not-json", "keys", "record"])
def test_a_damaged_manifest_is_a_problem_and_a_build_replaces_it_only_with_overwrite(folder: Path, text: str) -> None:
    manifest = folder / MANIFEST_DIR / "tabletop-test.json"
    if text == "SHARDS":
        record = json.loads(manifest.read_text())
        record["shards"][SHARD_0]["bytes"] = "many"
        text = json.dumps(record)
    manifest.write_text(text)
    problems = {p.path: p for p in verify_dataset(folder)}
    assert f"{MANIFEST_DIR}/tabletop-test.json" in problems
    assert "--overwrite" in problems[f"{MANIFEST_DIR}/tabletop-test.json"].fix
    with pytest.raises(BuildError, match="build manifest .* Pass --overwrite"):
        build_split("tabletop", "test", SAMPLES, seed=SEED, out_dir=folder, workers=1, shard_size=1, progress=False)
    build_split(
        "tabletop", "test", SAMPLES, seed=SEED, out_dir=folder, workers=1, shard_size=1, overwrite=True, progress=False
    )
    assert verify_dataset(folder) == []


def test_a_folder_without_manifests_is_verified_by_reading_every_shard(folder: Path) -> None:
    shutil.rmtree(folder / MANIFEST_DIR)  # as downloaded from the Hub without .gsi_build/
    assert verify_dataset(folder) == []
    _flip_a_byte(folder)  # caught by the Parquet page checksums
    problems = verify_dataset(folder)
    assert [p.path for p in problems] == [SHARD_1] and "checksum" in problems[0].problem
    _truncate(folder)
    assert [p.path for p in verify_dataset(folder)] == [SHARD_1]
    _delete(folder)
    problems = verify_dataset(folder)
    assert [p.path for p in problems] == ["README.md"] and "shards hold 1 rows" in problems[0].problem


def test_missing_and_foreign_folders_are_problems_and_bad_arguments_exit_2(
    tmp_path: Path, small_build: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [missing] = verify_dataset(tmp_path / "nowhere")
    assert missing.path == "." and "does not exist" in missing.problem
    [empty] = verify_dataset(tmp_path)
    assert "not a dataset folder" in empty.problem
    [unknown] = verify_dataset(small_build, config="room")
    assert "no build of room/*" in unknown.problem and "tabletop/test" in unknown.problem
    assert main(["verify", str(tmp_path / "nowhere")]) == 1
    assert main(["verify", str(small_build), "--split", "dev"]) == 2
    assert "unknown split 'dev'" in capsys.readouterr().err
    assert main(["verify", str(tmp_path), "--rewrite-card"]) == 2
    assert "no build manifests" in capsys.readouterr().err


def test_manifests_are_read_from_the_integrity_module(small_build: Path) -> None:
    [manifest] = read_manifests(small_build)
    assert sorted(manifest["shards"]) == [SHARD_0, SHARD_1]
    assert all(set(record) == {"sha256", "num_rows", "bytes"} for record in manifest["shards"].values())
