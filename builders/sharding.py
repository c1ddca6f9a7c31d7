"""Builds spread over many machines: parts of a split built anywhere, joined into one dataset folder.

A split of ``num_samples`` rows is written as Parquet shards of ``shard_size`` rows, and every row depends only on
(subset, split, seed, row index). A *part* (``gsi-bench build syn ... --num-shards N --shard-index I``) builds the
Parquet shards s with s % N == I into its own folder, on any scheduler (a Slurm array, a Kubernetes job): each part
is resumable on its own, like a whole build. :func:`merge_builds` (``gsi-bench merge PART ... --out OUT``) checks
that the parts are of one split and cover it, verifies every shard against its part's manifest, copies the shards,
and writes the split's manifest (rejection counts summed) and the dataset card: the folder equals a single-machine
build with the same seed, shard for shard and byte for byte.

:func:`build_with_ray` (``--engine ray``, optionally ``--address``) runs the N parts as Ray tasks (each in its own
folder under ``OUT/.gsi_parts``, on a filesystem every node sees), and merges them. A worker lost mid-part is retried
by Ray, and the retried part resumes from the shards its folder already holds.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gsi_builders.card import write_dataset_card
from gsi_builders.writer import (
    SPLIT_PARAMETERS,
    BuildError,
    BuildReport,
    _remove_foreign_files,
    _save_manifest,
    _shard_names,
    build_split,
    output_lock,
)
from gsi_datasets.integrity import (
    ManifestError,
    atomic_output,
    manifest_path,
    manifest_paths,
    read_manifest,
    recorded_shard_problem,
)

__all__ = ["PARTS_DIR", "build_with_ray", "merge_builds", "part_folder"]

#: Where ``--engine ray`` builds its parts, inside the output folder.
PARTS_DIR = ".gsi_parts"
#: How often Ray runs a part again after its worker died.
RAY_RETRIES = 3


def part_folder(out_dir: str | Path, subset: str, split: str, index: int, count: int) -> Path:
    """The folder of one part of a ``--engine ray`` build."""
    return Path(out_dir) / PARTS_DIR / f"{subset}-{split}-part-{index}-of-{count}"


def _part_manifests(parts: Sequence[Path]) -> dict[tuple[str, str], list[tuple[Path, dict[str, Any]]]]:
    """Every part's manifests, by (subset, split)."""
    found: dict[tuple[str, str], list[tuple[Path, dict[str, Any]]]] = {}
    for folder in parts:
        paths = manifest_paths(folder)
        if not paths:
            raise BuildError(f"{folder} holds no build (no .gsi_build/*.json): is it a part's --out folder?")
        for path in paths:
            try:
                manifest = read_manifest(path)
            except ManifestError as error:
                raise BuildError(f"cannot merge {folder}: {error}") from None
            found.setdefault((manifest["subset"], manifest["split"]), []).append((folder, manifest))
    return found


def _merged_report(subset: str, split: str, members: list[tuple[Path, dict[str, Any]]]) -> tuple[BuildReport, dict]:
    """The split's report from its parts' manifests, and each shard's source folder.

    Raises:
        BuildError: parts of different builds, a part twice, a missing part or shard, or a damaged shard file.
    """
    first = members[0][1]
    parameters = {key: first.get(key) for key in SPLIT_PARAMETERS}
    for folder, manifest in members[1:]:
        other = {key: manifest.get(key) for key in SPLIT_PARAMETERS}
        if other != parameters:
            changed = {key: (parameters[key], other[key]) for key in SPLIT_PARAMETERS if other[key] != parameters[key]}
            raise BuildError(f"cannot merge {subset}/{split}: {folder} was built with other parameters {changed}")
    report = BuildReport(**parameters, num_shards=first["num_shards"])
    names = _shard_names(report)
    sources: dict[str, Path] = {}
    rejections: Counter[str] = Counter()
    for folder, manifest in members:
        for name, record in manifest.get("shards", {}).items():
            if name in sources:
                raise BuildError(f"cannot merge {subset}/{split}: shard {name} is in both {sources[name]} and {folder}")
            problem = recorded_shard_problem(folder, name, record)
            if problem is not None:
                raise BuildError(
                    f"cannot merge {subset}/{split}: {folder / name}: {problem}; re-run that part's build to repair it"
                )
            sources[name] = folder
            report.shards[name] = record
        rejections.update(manifest.get("rejections", {}))
        report.seconds += manifest.get("seconds", 0.0)
        report.samples_generated_now += manifest.get("samples_generated_now", 0)
    missing = [name for name in names if name not in sources]
    if missing:
        raise BuildError(
            f"cannot merge {subset}/{split}: {len(missing)} of {report.num_shards} shards are in no part "
            f"(first: {missing[0]}); build the missing parts (--num-shards N --shard-index I) and merge again"
        )
    report.shards = dict(sorted(report.shards.items()))
    report.rejections = dict(sorted(rejections.items()))
    report.complete = True
    return report, sources


def merge_builds(
    parts: Sequence[str | Path], out_dir: str | Path, overwrite: bool = False, wait: bool = False
) -> list[BuildReport]:
    """Joins the folders of part builds into one dataset folder; returns each merged split's report.

    Raises:
        BuildError: parts that do not make whole splits (the message names the problem and the fix), or an earlier
            build of the same split with other parameters in ``out_dir`` (and no ``overwrite``).
        OutputLockedError: another process holds ``out_dir``'s lock (and ``wait`` is false).
    """
    out_dir = Path(out_dir)
    folders = [Path(part) for part in parts]
    if out_dir.resolve() in {folder.resolve() for folder in folders}:
        raise BuildError(f"--out {out_dir} is one of the parts; merge into another folder")
    merged = [_merged_report(subset, split, members) for (subset, split), members in _part_manifests(folders).items()]
    with output_lock(out_dir, {"merge": [str(folder) for folder in folders]}, wait=wait):
        for report, sources in merged:
            manifest = manifest_path(out_dir, report.subset, report.split)
            if manifest.exists() and not overwrite:
                try:
                    earlier = {key: read_manifest(manifest).get(key) for key in SPLIT_PARAMETERS}
                except ManifestError:
                    earlier = None
                if earlier != {key: getattr(report, key) for key in SPLIT_PARAMETERS}:
                    raise BuildError(
                        f"{out_dir} already holds a {report.subset}/{report.split} build with other parameters; "
                        "pass --overwrite to replace it, or merge into another folder"
                    )
            _remove_foreign_files(out_dir, report.subset, report.split, keep=set())
            for name, folder in sources.items():
                target = out_dir / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with atomic_output(target) as temporary:
                    shutil.copyfile(folder / name, temporary)
            _save_manifest(manifest, report)
        write_dataset_card(out_dir)
    return [report for report, _ in merged]


def _build_part(arguments: dict[str, Any]) -> dict[str, Any]:
    """One part of a Ray build (run in a Ray worker): its report as a dict."""
    return asdict(build_split(**arguments, workers=1, progress=False, wait=True))


def build_with_ray(
    subset: str,
    split: str,
    num_samples: int,
    num_parts: int,
    out_dir: str | Path,
    seed: int = 0,
    shard_size: int = 50,
    operation_mix: dict[str, float] | None = None,
    address: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> BuildReport:
    """Builds a split as ``num_parts`` Ray tasks (one CPU each) and merges them into ``out_dir``; the parts' folders
    are removed once merged. ``address``: a running cluster's (``ray start --head`` prints it); None starts a local
    instance. Returns the merged split's report.

    Raises:
        ImportError: Ray is not installed (``pip install 'gsi-bench[ray]'``).
        BuildError: a part failed for another reason than a lost worker (its error), or bad arguments.
    """
    try:
        import ray
    except ImportError as error:
        raise ImportError("--engine ray needs Ray: pip install 'gsi-bench[ray]'") from error
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1, max_retries=RAY_RETRIES, retry_exceptions=False)(_build_part)
        folders = [part_folder(out_dir, subset, split, index, num_parts) for index in range(num_parts)]
        pending = [
            task.remote({"subset": subset, "split": split, "num_samples": num_samples, "seed": seed,
                         "out_dir": str(folder), "shard_size": shard_size, "operation_mix": operation_mix,
                         "part": (index, num_parts), "overwrite": overwrite})
            for index, folder in enumerate(folders)
        ]  # fmt: skip
        with tqdm(total=num_parts, desc=f"{subset}/{split} on Ray", unit="part", disable=not progress) as bar:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                try:
                    ray.get(done[0])
                except ray.exceptions.RayTaskError as error:
                    raise BuildError(f"a part of the Ray build failed: {error.cause}") from None
                bar.update(1)
    finally:
        if started_here:
            ray.shutdown()
    (report,) = merge_builds(folders, out_dir, overwrite=overwrite)
    for folder in folders:
        shutil.rmtree(folder)
    if not any((out_dir / PARTS_DIR).iterdir()):
        (out_dir / PARTS_DIR).rmdir()
    return report
