"""Writes GSI-Syn splits as a Hugging Face dataset folder: Parquet shards plus a dataset card.

Layout of the output folder (``load_dataset(folder, config)`` reads it offline; it can be pushed to the
Hub unchanged)::

    README.md                              dataset card; YAML `configs` list every complete split
    data/<subset>/<split>-00000-of-00004.parquet
    .gsi_build/<subset>-<split>.json       build manifest: parameters, progress, rejection counts

Builds are resumable: shards are written atomically and skipped on a re-run with the same parameters,
so a killed build continues where it stopped without losing or duplicating samples.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from builders.card import MANIFEST_DIR, write_dataset_card
from builders.generate import SampleResult, generate_sample
from gsi_datasets.schema import FEATURES, SPLITS, SUBSET_OPERATIONS

#: Bump when a change to the generator changes the data for a given seed.
GENERATOR_VERSION = "1.0.0"


class BuildError(ValueError):
    """A build cannot start or could not finish; the message says why and what to do."""


@dataclass
class BuildReport:
    """Summary of one :func:`build_split` call (also stored as the split's manifest)."""

    subset: str
    split: str
    seed: int
    num_samples: int
    shard_size: int
    generator_version: str
    num_shards: int
    shards_done: list[int] = field(default_factory=list)
    samples_generated_now: int = 0
    shards_resumed: int = 0
    rejections: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    complete: bool = False

    def parameters(self) -> dict[str, Any]:
        """The fields that must match for a resumed build to continue a previous one."""
        return {
            k: getattr(self, k) for k in ("subset", "split", "seed", "num_samples", "shard_size", "generator_version")
        }


def shard_path(out_dir: Path, subset: str, split: str, shard: int, num_shards: int) -> Path:
    """Path of one Parquet shard inside the dataset folder."""
    return out_dir / "data" / subset / f"{split}-{shard:05d}-of-{num_shards:05d}.parquet"


def manifest_path(out_dir: Path, subset: str, split: str) -> Path:
    """Path of a split's build manifest."""
    return out_dir / MANIFEST_DIR / f"{subset}-{split}.json"


def validate_build_arguments(subset: str, split: str, num_samples: int, shard_size: int, out_dir: Path) -> None:
    """Checks the arguments of a build before any work starts.

    Raises:
        BuildError: with a specific message for each bad argument.
    """
    if subset not in SUBSET_OPERATIONS:
        raise BuildError(f"unknown subset {subset!r}; available subsets: {', '.join(sorted(SUBSET_OPERATIONS))}")
    if split not in SPLITS:
        raise BuildError(f"unknown split {split!r}; use one of: {', '.join(SPLITS)}")
    if num_samples <= 0:
        raise BuildError(f"--num-samples must be a positive number of samples, got {num_samples}")
    if shard_size <= 0:
        raise BuildError(f"--shard-size must be positive, got {shard_size}")
    probe = out_dir
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise BuildError(f"output folder {out_dir} is not writable ({probe} does not allow writing)")


def _generate_one(arguments: tuple[str, str, int, int]) -> tuple[int, SampleResult]:
    subset, split, seed, index = arguments
    return index, generate_sample(subset, split, seed, index)


def _shard_is_complete(path: Path, expected_rows: int) -> bool:
    try:
        return pq.ParquetFile(path).metadata.num_rows == expected_rows
    except Exception:  # noqa: BLE001 - any unreadable file is simply rebuilt
        return False


def _write_shard(rows: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Encoding through `datasets` stores the features in the Parquet schema metadata, so readers get
    # Image and ClassLabel columns back.
    table = datasets.Dataset.from_list(rows, features=FEATURES).data.table
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".parquet.tmp", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        pq.write_table(table, temporary)
        os.replace(temporary, path)  # atomic: a killed build never leaves a half-written shard
    finally:
        temporary.unlink(missing_ok=True)


def _results(tasks: list[tuple[str, str, int, int]], workers: int) -> Iterator[tuple[int, SampleResult]]:
    if workers <= 1:
        yield from map(_generate_one, tasks)
        return
    # "spawn": every worker opens its own headless GL context; a forked one must not inherit the parent's.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap(_generate_one, tasks, chunksize=1)


def build_split(
    subset: str,
    split: str,
    num_samples: int,
    seed: int = 0,
    out_dir: str | Path = "gsi-bench/syn",
    workers: int | None = None,
    shard_size: int = 50,
    overwrite: bool = False,
    progress: bool = True,
) -> BuildReport:
    """Generates ``num_samples`` samples of one subset and split into a dataset folder.

    Args:
        subset: ``"tabletop"``.
        split: ``"train"``, ``"validation"`` or ``"test"`` (scene-disjoint streams).
        num_samples: number of edits to generate.
        seed: build seed; the same seed gives identical rows and pixels.
        out_dir: dataset folder (created if needed).
        workers: worker processes (default: all cores).
        shard_size: samples per Parquet shard (the unit of resumption).
        overwrite: discard an earlier build of this subset and split made with other parameters.
        progress: show a progress bar.

    Raises:
        BuildError: bad arguments, a conflicting earlier build, or samples that could not be generated.
    """
    out_dir = Path(out_dir)
    validate_build_arguments(subset, split, num_samples, shard_size, out_dir)
    num_shards = -(-num_samples // shard_size)
    report = BuildReport(subset, split, seed, num_samples, shard_size, GENERATOR_VERSION, num_shards)
    manifest = manifest_path(out_dir, subset, split)
    previous = json.loads(manifest.read_text()) if manifest.exists() else None
    resumable = previous is not None and {k: previous.get(k) for k in report.parameters()} == report.parameters()
    if previous is not None and not resumable and not overwrite:
        earlier = {k: previous.get(k) for k in ("seed", "num_samples", "shard_size", "generator_version")}
        raise BuildError(
            f"{out_dir} already holds a {subset}/{split} build with other parameters ({earlier}). "
            "Pass --overwrite to replace it, or choose another --out."
        )
    if resumable:
        report.rejections = dict(previous.get("rejections", {}))
    else:
        # Shards without a matching manifest cannot be trusted to belong to this build.
        for old in (out_dir / "data" / subset).glob(f"{split}-*.parquet"):
            old.unlink()
    manifest.parent.mkdir(parents=True, exist_ok=True)

    def shard_rows(shard: int) -> range:
        return range(shard * shard_size, min((shard + 1) * shard_size, num_samples))

    todo = []
    for shard in range(num_shards):
        if _shard_is_complete(shard_path(out_dir, subset, split, shard, num_shards), len(shard_rows(shard))):
            report.shards_done.append(shard)
            report.shards_resumed += 1
        else:
            todo.append(shard)
    _save_manifest(manifest, report)
    write_dataset_card(out_dir)  # an interrupted rebuild must not leave the card listing this split

    started = time.perf_counter()
    tasks = [(subset, split, seed, index) for shard in todo for index in shard_rows(shard)]
    rejections = Counter(report.rejections)
    failed: list[int] = []
    pending: dict[int, dict[str, Any]] = {}
    bar = tqdm(
        total=num_samples,
        initial=num_samples - len(tasks),
        desc=f"{subset}/{split}",
        unit="sample",
        disable=not progress,
    )
    workers = workers or os.cpu_count() or 1
    try:
        for index, result in _results(tasks, min(workers, max(len(tasks), 1))):
            rejections.update(result.rejections)
            bar.update(1)
            if result.row is None:
                failed.append(index)
                continue
            pending[index] = result.row
            report.samples_generated_now += 1
            shard = index // shard_size
            rows = shard_rows(shard)
            if all(i in pending for i in rows):
                _write_shard([pending.pop(i) for i in rows], shard_path(out_dir, subset, split, shard, num_shards))
                report.shards_done.append(shard)
                report.rejections = dict(sorted(rejections.items()))
                _save_manifest(manifest, report)
    finally:
        bar.close()
        report.seconds = time.perf_counter() - started
        report.rejections = dict(sorted(rejections.items()))
        report.shards_done.sort()
        report.complete = len(report.shards_done) == num_shards
        _save_manifest(manifest, report)
    if failed:
        raise BuildError(
            f"{len(failed)} sample(s) could not be generated within the retry budget (indices {failed[:10]}); "
            "their shards were not written. Re-run the same command to retry, or report this as a bug."
        )
    write_dataset_card(out_dir)
    return report


def _save_manifest(path: Path, report: BuildReport) -> None:
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(asdict(report), indent=2, sort_keys=True))
    os.replace(temporary, path)
