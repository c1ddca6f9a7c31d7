"""Writes GSI-Syn splits as a Hugging Face dataset folder: Parquet shards plus a dataset card.

Layout of the output folder (``load_dataset(folder, config)`` reads it offline; it can be pushed to the
Hub unchanged)::

    README.md                              dataset card; YAML `configs` list every complete split
    data/<subset>/<split>-00000-of-00004.parquet
    .gsi_build/<subset>-<split>.json       build manifest: parameters, progress, rejection counts, and the
                                           SHA-256, size and rows of every shard written
    .gsi_build/build.lock(.json)           the folder's build lock, and who holds it

A build holds the folder's lock from start to end, so two builds (or an ``--overwrite``) can never mix
their shards; a second one refuses at once, naming the holder, or waits for it (``wait=True``). Builds
are resumable: shards are written atomically, and on a re-run with the same parameters a shard counts as
done only if the manifest records it and its checksum matches, so a killed build continues where it
stopped without losing or duplicating samples, and ends byte-identical to an uninterrupted one. Under the
lock, a build first removes stale temporary files and every shard file of its split that is not part of
it (another shard count, another seed, a changed file).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shlex
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from gsi_builders.card import write_dataset_card
from gsi_builders.generate import SampleResult, check_operation_mix, generate_sample
from gsi_datasets.integrity import (
    LOCK_FILE,
    LOCK_HOLDER_FILE,
    MANIFEST_DIR,
    ManifestError,
    ShardRecord,
    atomic_output,
    describe_lock_holder,
    manifest_path,
    manifest_paths,
    read_lock_holder,
    read_manifest,
    recorded_shard_problem,
    sha256_file,
    shard_name,
    split_data_pattern,
    unwritable_reason,
    write_text_atomically,
)
from gsi_datasets.schema import FEATURES, SPLITS, SUBSET_OPERATIONS

logger = logging.getLogger(__name__)

#: Bump when a change to the generator changes the data for a given seed.
GENERATOR_VERSION = "2.1.0"


class BuildError(ValueError):
    """A build cannot start or could not finish; the message says why and what to do."""


class OutputLockedError(BuildError):
    """Another process holds the dataset folder's build lock; the message names it."""


#: What defines a split's content: builds (and parts) with equal values write byte-identical shards.
SPLIT_PARAMETERS = ("subset", "split", "seed", "num_samples", "shard_size", "generator_version", "operation_mix")


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
    #: Operation -> share, when the build overrides the subset's operation mix (None: the subset's own).
    operation_mix: dict[str, float] | None = None
    #: Every shard written and intact, by path relative to the dataset folder.
    shards: dict[str, ShardRecord] = field(default_factory=dict)
    samples_generated_now: int = 0
    shards_resumed: int = 0
    rejections: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    complete: bool = False
    #: [index, count] of a part build (``--shard-index I --num-shards N``: the Parquet shards s with s % N == I);
    #: None for the whole split. A part is never ``complete``: ``gsi-bench merge`` joins the parts.
    part: list[int] | None = None

    def parameters(self) -> dict[str, Any]:
        """The fields that must match for a resumed build to continue a previous one."""
        return {k: getattr(self, k) for k in (*SPLIT_PARAMETERS, "part")}

    def owned_shards(self) -> list[int]:
        """The Parquet shards this build writes: all of them, or its part's."""
        if self.part is None:
            return list(range(self.num_shards))
        index, count = self.part
        return list(range(index, self.num_shards, count))


def validate_build_arguments(
    subset: str,
    split: str,
    num_samples: int,
    shard_size: int,
    out_dir: Path,
    operation_mix: dict[str, float] | None = None,
) -> None:
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
    if operation_mix is not None:
        try:
            check_operation_mix(operation_mix)
        except ValueError as error:
            raise BuildError(str(error)) from None
    reason = unwritable_reason(out_dir)
    if reason:
        raise BuildError(f"output folder {out_dir} is not writable ({reason})")


def _generate_one(arguments: tuple[str, str, int, int, dict[str, float] | None]) -> tuple[int, SampleResult]:
    subset, split, seed, index, operation_mix = arguments
    return index, generate_sample(subset, split, seed, index, operation_mix=operation_mix)


@contextmanager
def output_lock(out_dir: str | Path, task: dict[str, Any], wait: bool = False) -> Iterator[None]:
    """Holds the exclusive build lock of a dataset folder for the duration of the block.

    The lock (``.gsi_build/build.lock``, a ``filelock`` lock) is released when the block ends, and by the
    operating system when the process dies, even by SIGKILL: a lock never outlives its holder. While
    holding it, the holder's pid, host, command, start time and ``task`` are recorded next to it
    (``build.lock.json``), so a process that finds the folder locked can say by whom.

    Args:
        out_dir: dataset folder (created if needed).
        task: what the holder does (subset, split, seed, ...), recorded for messages.
        wait: wait for the holder to release the lock instead of refusing.

    Raises:
        OutputLockedError: the folder is locked by another process and ``wait`` is false.
    """
    out_dir = Path(out_dir)
    folder = out_dir / MANIFEST_DIR
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = describe_lock_holder(read_lock_holder(out_dir))
        if not wait:
            raise OutputLockedError(
                f"{out_dir} is locked by another gsi-bench process: {holder}. Two builds into one folder would mix "
                "their shards, so this one did not start. Wait for that one to finish, re-run with --wait to start "
                "as soon as it does, or choose another --out. (The lock is released when its process ends, even "
                "if it is killed.)"
            ) from None
        logger.warning("%s is locked by another gsi-bench process: %s; waiting for it to finish", out_dir, holder)
        lock.acquire()
    holder_path = folder / LOCK_HOLDER_FILE
    try:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": shlex.join(sys.argv),
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "task": task,
        }
        write_text_atomically(holder_path, json.dumps(record, indent=2))
        yield
    finally:
        holder_path.unlink(missing_ok=True)
        lock.release()


def _write_shard(rows: list[dict[str, Any]], path: Path) -> ShardRecord:
    """Writes one shard atomically, with Parquet page checksums; returns its manifest record."""
    # Encoding through `datasets` stores the features in the Parquet schema metadata, so readers get
    # Image and ClassLabel columns back.
    table = datasets.Dataset.from_list(rows, features=FEATURES).data.table
    with atomic_output(path) as temporary:
        # Page checksums let a reader without the manifest (a Hub download) detect a changed byte too.
        pq.write_table(table, temporary, write_page_checksum=True)
        record = ShardRecord(sha256=sha256_file(temporary), num_rows=table.num_rows, bytes=temporary.stat().st_size)
    return record


def _remove_foreign_files(out_dir: Path, subset: str, split: str, keep: set[str]) -> None:
    """Deletes stale temporary files and every shard file of the split not in ``keep`` (holding the lock)."""
    for folder in (out_dir / "data" / subset, out_dir / MANIFEST_DIR):
        for temporary in folder.glob("*.tmp"):
            temporary.unlink(missing_ok=True)
    for shard in out_dir.glob(split_data_pattern(subset, split)):
        if shard.relative_to(out_dir).as_posix() not in keep:
            shard.unlink()


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
    wait: bool = False,
    operation_mix: dict[str, float] | None = None,
    part: tuple[int, int] | None = None,
) -> BuildReport:
    """Generates ``num_samples`` samples of one subset and split into a dataset folder.

    Args:
        subset: ``"tabletop"`` or ``"room"`` (``gsi_datasets.schema.SUBSETS``).
        split: ``"train"``, ``"validation"`` or ``"test"`` (scene-disjoint streams).
        num_samples: number of edits to generate.
        seed: build seed; the same seed gives identical rows and pixels.
        out_dir: dataset folder (created if needed).
        workers: worker processes (default: all cores).
        shard_size: samples per Parquet shard (the unit of resumption).
        overwrite: discard an earlier build of this subset and split made with other parameters.
        progress: show a progress bar.
        wait: when another process is building into ``out_dir``, wait for it instead of refusing.
        operation_mix: operation -> share, instead of the subset's mix (e.g. camera view changes on tabletops).
        part: (index, count): build only every count-th Parquet shard from index (a deterministic part of the
            split for one machine of many; :func:`gsi_builders.sharding.merge_builds` joins the parts' folders).

    Raises:
        OutputLockedError: another process holds the folder's build lock (and ``wait`` is false).
        BuildError: bad arguments, a conflicting earlier build, or samples that could not be generated.
    """
    out_dir = Path(out_dir)
    validate_build_arguments(subset, split, num_samples, shard_size, out_dir, operation_mix)
    num_shards = -(-num_samples // shard_size)
    if part is not None:
        index, count = part
        if not 0 <= index < count:
            raise BuildError(f"--shard-index must be in [0, --num-shards), got {index} of {count}")
        if count > num_shards:
            raise BuildError(
                f"--num-shards {count} is more than the split's {num_shards} Parquet shard(s) of --shard-size "
                f"{shard_size}: lower --num-shards or --shard-size"
            )
    report = BuildReport(subset, split, seed, num_samples, shard_size, GENERATOR_VERSION, num_shards, operation_mix,
                         part=list(part) if part is not None else None)  # fmt: skip
    task = {"subset": subset, "split": split, "seed": seed, "num_samples": num_samples, "overwrite": overwrite}
    with output_lock(out_dir, task, wait=wait):
        _resume_or_discard(report, out_dir, overwrite)
        _generate_shards(report, out_dir, workers, progress)
    return report


def rewrite_card(out_dir: str | Path, wait: bool = False) -> Path:
    """Regenerates a dataset folder's ``README.md`` from its build manifests, holding the build lock.

    Raises:
        OutputLockedError: a build is running in the folder (and ``wait`` is false).
        BuildError: the folder has no build manifests to write the card from.
    """
    out_dir = Path(out_dir)
    if not manifest_paths(out_dir):
        raise BuildError(
            f"{out_dir} has no build manifests ({MANIFEST_DIR}/*.json), so its card cannot be regenerated: the card "
            "is written from the manifests of a build made with `gsi-bench build`"
        )
    with output_lock(out_dir, {"rewrite_card": True}, wait=wait):
        return write_dataset_card(out_dir)


def _resume_or_discard(report: BuildReport, out_dir: Path, overwrite: bool) -> None:
    """Keeps the intact shards of an earlier build with the same parameters; removes every other file.

    Raises:
        BuildError: an earlier build with other parameters (or an unreadable manifest) and no ``overwrite``.
    """
    manifest = manifest_path(out_dir, report.subset, report.split)
    try:
        previous = read_manifest(manifest) if manifest.exists() else None
    except ManifestError as error:
        if not overwrite:
            raise BuildError(f"{error}. Pass --overwrite to rebuild the split, or choose another --out.") from error
        previous = None
    resumable = previous is not None and {k: previous.get(k) for k in report.parameters()} == report.parameters()
    if previous is not None and not resumable and not overwrite:
        earlier = {k: previous.get(k) for k in ("seed", "num_samples", "shard_size", "generator_version")}
        raise BuildError(
            f"{out_dir} already holds a {report.subset}/{report.split} build with other parameters ({earlier}). "
            "Pass --overwrite to replace it, or choose another --out."
        )
    if resumable:
        report.rejections = dict(previous.get("rejections", {}))
        names = set(_shard_names(report))
        for name, record in previous.get("shards", {}).items():
            # A shard is done only if this build's manifest records it and the file still has its checksum.
            if name in names and recorded_shard_problem(out_dir, name, record) is None:
                report.shards[name] = record
        report.shards_resumed = len(report.shards)
    _remove_foreign_files(out_dir, report.subset, report.split, keep=set(report.shards))
    _save_manifest(manifest, report)
    write_dataset_card(out_dir)  # an interrupted rebuild must not leave the card listing this split


def _shard_names(report: BuildReport) -> list[str]:
    return [shard_name(report.subset, report.split, shard, report.num_shards) for shard in range(report.num_shards)]


def _generate_shards(report: BuildReport, out_dir: Path, workers: int | None, progress: bool) -> None:
    """Generates and writes the shards ``report`` does not hold yet, recording each in the manifest.

    Raises:
        BuildError: samples that could not be generated within the retry budget.
    """
    subset, split, shard_size, num_samples = report.subset, report.split, report.shard_size, report.num_samples
    manifest = manifest_path(out_dir, subset, split)
    names = _shard_names(report)

    def shard_rows(shard: int) -> range:
        return range(shard * shard_size, min((shard + 1) * shard_size, num_samples))

    started = time.perf_counter()
    owned = report.owned_shards()
    todo = [shard for shard in owned if names[shard] not in report.shards]
    tasks = [(subset, split, report.seed, index, report.operation_mix) for shard in todo for index in shard_rows(shard)]
    rejections = Counter(report.rejections)
    failed: list[int] = []
    pending: dict[int, dict[str, Any]] = {}
    total = sum(len(shard_rows(shard)) for shard in owned)
    bar = tqdm(
        total=total,
        initial=total - len(tasks),
        desc=f"{subset}/{split}" + (f" part {report.part[0]}/{report.part[1]}" if report.part else ""),
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
                # The shard is in place before the manifest records it: a kill in between leaves an
                # unrecorded file, which the next run removes and regenerates.
                report.shards[names[shard]] = _write_shard([pending.pop(i) for i in rows], out_dir / names[shard])
                report.rejections = dict(sorted(rejections.items()))
                _save_manifest(manifest, report)
    finally:
        bar.close()
        report.seconds = time.perf_counter() - started
        report.rejections = dict(sorted(rejections.items()))
        report.shards = dict(sorted(report.shards.items()))
        report.complete = report.part is None and len(report.shards) == report.num_shards
        _save_manifest(manifest, report)
    if failed:
        raise BuildError(
            f"{len(failed)} sample(s) could not be generated within the retry budget (indices {failed[:10]}); "
            "their shards were not written. Re-run the same command to retry, or report this as a bug."
        )
    write_dataset_card(out_dir)


def _save_manifest(path: Path, report: BuildReport) -> None:
    write_text_atomically(path, json.dumps(asdict(report), indent=2, sort_keys=True))
