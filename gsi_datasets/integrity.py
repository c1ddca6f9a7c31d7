"""Integrity of a GSI-Syn dataset folder: build manifests, shard checksums, and a verifier.

The writer (``gsi_builders.writer``) records every shard's SHA-256, size and row count in the split's build
manifest as it writes the shard; :func:`verify_dataset` checks a folder against those records (and the
dataset card against the manifests) before anyone trusts it, e.g. ``gsi-bench eval`` before scoring. This
module is shared by both sides, so it imports nothing from ``gsi_builders``.

Layout of a dataset folder::

    README.md                                     dataset card; YAML `configs` list every complete split
    data/<subset>/<split>-00000-of-00002.parquet  shards, written with Parquet page checksums
    .gsi_build/<subset>-<split>.json              build manifest: parameters, progress, rejections, and
                                                  per shard {"sha256", "num_rows", "bytes"}
    .gsi_build/build.lock                         held (``filelock``) by the process writing the folder
    .gsi_build/build.lock.json                    who holds it: pid, host, command, start time

A folder downloaded without ``.gsi_build/`` is verified by reading every shard the card lists in full, with
the Parquet page checksums verified, so a truncated file or a changed byte is still caught.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, get_type_hints

import pyarrow.parquet as pq
import yaml

from gsi_datasets.schema import SPLITS, SUBSET_OPERATIONS

MANIFEST_DIR = ".gsi_build"
LOCK_FILE = "build.lock"
LOCK_HOLDER_FILE = "build.lock.json"
CARD_FILE = "README.md"

#: Keys (and value types) every build manifest has; ``shards`` is missing only in manifests written before
#: checksums existed.
MANIFEST_KEYS: dict[str, type] = {
    "subset": str,
    "split": str,
    "seed": int,
    "num_samples": int,
    "shard_size": int,
    "num_shards": int,
    "complete": bool,
}

_CARD_FIX = "run `gsi-bench verify {folder} --rewrite-card` to regenerate README.md from the build manifests"


class ShardRecord(TypedDict):
    """What the build manifest records about one shard when it is written."""

    sha256: str
    num_rows: int
    bytes: int


SHARD_RECORD_KEYS: dict[str, type] = get_type_hints(ShardRecord)


class ManifestError(ValueError):
    """A build manifest cannot be read; the message names the file, ``reason`` says why."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"build manifest {path} {reason}")
        self.path = Path(path)
        self.reason = reason


# ----------------------------------------------------------------------------------------------------------
# Paths, checksums and atomic writes
# ----------------------------------------------------------------------------------------------------------


def manifest_path(folder: str | os.PathLike, subset: str, split: str) -> Path:
    """Path of a split's build manifest."""
    return Path(folder) / MANIFEST_DIR / f"{subset}-{split}.json"


def shard_name(subset: str, split: str, shard: int, num_shards: int) -> str:
    """Path of one shard relative to the dataset folder (the key of its record in the manifest)."""
    return f"data/{subset}/{split}-{shard:05d}-of-{num_shards:05d}.parquet"


def split_data_pattern(subset: str, split: str) -> str:
    """The card's data-file pattern of a split: ``load_dataset`` reads every file that matches it."""
    return f"data/{subset}/{split}-*.parquet"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _readable_mode() -> int:
    # What open() would give a new file; os.umask can only be read by setting it.
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a unique temporary path next to ``path``; moves it over ``path`` when the block succeeds.

    Readers never see a half-written file, concurrent writers never share a temporary name, and the file gets
    the mode ``open()`` would give it (``0o666`` less the umask). The temporary name is hidden and ends in
    ``.tmp``, so no data-file pattern matches it; a killed writer's leftover is removed by the next build.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _readable_mode())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def unwritable_reason(folder: str | os.PathLike) -> str | None:
    """Why ``folder`` could not be created and written (checked without creating anything), or None when it can.

    The nearest existing ancestor decides: it must be a directory that allows writing.
    """
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} does not allow writing"
    return None


def write_text_atomically(path: str | os.PathLike, text: str) -> Path:
    """Writes a text file through :func:`atomic_output`; returns its path."""
    with atomic_output(path) as temporary:
        temporary.write_text(text)
    return Path(path)


# ----------------------------------------------------------------------------------------------------------
# Manifests, card sizes, lock holder
# ----------------------------------------------------------------------------------------------------------


def manifest_paths(folder: str | os.PathLike) -> list[Path]:
    """The build manifest files of a dataset folder, sorted by name."""
    directory = Path(folder) / MANIFEST_DIR
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.json") if p.name != LOCK_HOLDER_FILE)


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """One build manifest.

    Raises:
        ManifestError: the file is missing, not JSON, or lacks the manifest keys.
    """
    try:
        manifest = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(path, f"cannot be read ({error})") from error
    missing = [key for key in MANIFEST_KEYS if not isinstance(manifest, dict) or key not in manifest]
    if missing:
        raise ManifestError(path, f"lacks the keys {', '.join(missing)}")
    wrong = [key for key, kind in MANIFEST_KEYS.items() if not isinstance(manifest[key], kind)]
    records = manifest.get("shards", {})
    if not isinstance(records, dict) or not all(_is_shard_record(record) for record in records.values()):
        wrong.append("shards")
    if wrong:
        raise ManifestError(path, f"has malformed values for {', '.join(wrong)}")
    return manifest


def _is_shard_record(record: Any) -> bool:
    return isinstance(record, dict) and all(isinstance(record.get(k), t) for k, t in SHARD_RECORD_KEYS.items())


def read_manifests(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """Every build manifest of a dataset folder, sorted by subset and split.

    Raises:
        ManifestError: a manifest cannot be read (``gsi-bench verify`` reports every such file).
    """
    manifests = [read_manifest(path) for path in manifest_paths(folder)]
    return sorted(manifests, key=_split_order)


def _split_order(manifest: dict[str, Any]) -> tuple[str, int]:
    split = manifest["split"]
    return manifest["subset"], SPLITS.index(split) if split in SPLITS else len(SPLITS)


def split_size(manifest: dict[str, Any]) -> dict[str, int]:
    """The card's ``dataset_info`` size of a split: ``num_bytes`` and ``num_examples`` of its recorded shards."""
    records = manifest.get("shards", {}).values()
    return {
        "num_bytes": sum(record["bytes"] for record in records),
        "num_examples": sum(record["num_rows"] for record in records),
    }


def build_command(manifest: dict[str, Any], folder: str | os.PathLike) -> str:
    """The ``gsi-bench build`` command that made (and resumes or regenerates) a manifest's split."""
    return (
        f"gsi-bench build syn --subset {manifest['subset']} --split {manifest['split']} "
        f"--num-samples {manifest['num_samples']} --seed {manifest['seed']} --shard-size {manifest['shard_size']} "
        f"--out {shlex.quote(str(folder))}"
    )


def read_lock_holder(folder: str | os.PathLike) -> dict[str, Any] | None:
    """What the process holding (or last holding) a folder's build lock recorded; None when nothing is."""
    try:
        holder = json.loads((Path(folder) / MANIFEST_DIR / LOCK_HOLDER_FILE).read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def describe_lock_holder(holder: dict[str, Any] | None) -> str:
    """A one-line description of a lock holder record, for messages."""
    if holder is None:
        return "a process that has not recorded itself yet"
    task = ", ".join(f"{key} {value}" for key, value in holder.get("task", {}).items())
    return (
        f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, started {holder.get('started', '?')}"
        f" ({task}): `{holder.get('command', '?')}`"
    )


# ----------------------------------------------------------------------------------------------------------
# The verifier
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntegrityProblem:
    """One thing wrong with a dataset folder.

    Attributes:
        path: the file concerned, relative to the dataset folder (``"."`` for the folder itself).
        problem: what is wrong, specifically.
        fix: what to do, as a command where possible.
    """

    path: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}; fix: {self.fix}"


class DatasetIntegrityError(ValueError):
    """A dataset folder failed :func:`check_dataset`; ``problems`` lists every :class:`IntegrityProblem`."""

    def __init__(self, folder: str | os.PathLike, problems: list[IntegrityProblem]) -> None:
        super().__init__(str(folder), list(problems))
        self.folder = str(folder)
        self.problems: list[IntegrityProblem] = list(problems)

    def __str__(self) -> str:
        lines = [f"dataset folder {self.folder} failed its integrity check ({len(self.problems)} problem(s)):"]
        lines += [f"- {problem}" for problem in self.problems]
        return "\n".join(lines)


@dataclass(frozen=True)
class DatasetAudit:
    """What :func:`audit_dataset` found: the problems, and how much it verified."""

    problems: tuple[IntegrityProblem, ...]
    shards_verified: int
    splits_verified: int


@dataclass
class _Findings:
    folder: Path
    problems: list[IntegrityProblem] = field(default_factory=list)
    shards: int = 0
    splits: int = 0

    def add(self, path: str | Path, problem: str, fix: str) -> None:
        """Records a problem; ``path`` is a Path inside the folder or a name relative to it."""
        name = path.relative_to(self.folder).as_posix() if isinstance(path, Path) else path
        self.problems.append(IntegrityProblem(name, problem, fix))

    @property
    def shown(self) -> str:
        return shlex.quote(str(self.folder))


def audit_dataset(folder: str | os.PathLike, config: str | None = None, split: str | None = None) -> DatasetAudit:
    """Checks a dataset folder and counts what it verified (:func:`verify_dataset` returns only the problems).

    Raises:
        ValueError: ``split`` is not a split name (a damaged folder never raises: it yields problems).
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of: {', '.join(SPLITS)}")
    findings = _Findings(Path(folder))
    if not findings.folder.is_dir():
        state = "is not a folder" if findings.folder.exists() else "does not exist"
        findings.add(
            ".",
            f"the dataset folder {findings.folder} {state}",
            f"check the path, or build a dataset there with `gsi-bench build syn --out {findings.shown}`",
        )
    elif manifest_paths(findings.folder):
        _audit_built_folder(findings, config, split)
    else:
        _audit_downloaded_folder(findings, config, split)
    return DatasetAudit(tuple(findings.problems), findings.shards, findings.splits)


def verify_dataset(
    folder: str | os.PathLike, config: str | None = None, split: str | None = None
) -> list[IntegrityProblem]:
    """Checks a dataset folder (all configs and splits, or only the given ones); ``[]`` when it is sound.

    With build manifests: every recorded shard exists with its recorded size, SHA-256 and row count; no
    unrecorded shard lies where the card's pattern would load it; every build is complete; the card's
    ``configs`` and split sizes agree with the manifests. Without them (a folder downloaded without
    ``.gsi_build/``): every shard the card lists is read in full, with Parquet page checksums verified, and
    the row counts are compared with the card.

    Args:
        folder: the dataset folder.
        config: only this config (subset).
        split: only this split.

    Raises:
        ValueError: ``split`` is not a split name. A damaged or missing file is a problem, never an exception.
    """
    return list(audit_dataset(folder, config, split).problems)


def check_dataset(folder: str | os.PathLike, config: str, split: str) -> None:
    """:func:`verify_dataset` for one config and split.

    Raises:
        DatasetIntegrityError: listing every problem found, each with its file and fix.
    """
    problems = verify_dataset(folder, config, split)
    if problems:
        raise DatasetIntegrityError(folder, problems)


def recorded_shard_problem(folder: str | os.PathLike, name: str, record: ShardRecord) -> str | None:
    """What is wrong with a shard against its manifest record, or None when it is intact.

    Checks existence, size, SHA-256 and (for an intact file) that its Parquet footer has the recorded rows.
    """
    path = Path(folder) / name
    try:
        if not path.is_file():
            return f"missing: the build manifest records this shard (rows: {record['num_rows']}) but there is no file"
        size = path.stat().st_size
        if size != record["bytes"]:
            return (
                f"{size} bytes where the build manifest records {record['bytes']}: the file was truncated or "
                "replaced after it was written"
            )
        if sha256_file(path) != record["sha256"]:
            return "SHA-256 differs from the build manifest: the file changed after it was written"
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as error:  # an unreadable file is a finding, not a crash
        return f"cannot be read ({type(error).__name__}: {error})"
    if rows != record["num_rows"]:
        return f"holds {rows} rows where the build manifest records {record['num_rows']}"
    return None


def _in_scope(subset: str, split: str, config: str | None, only_split: str | None) -> bool:
    return (config is None or subset == config) and (only_split is None or split == only_split)


def _scope_text(config: str | None, split: str | None) -> str:
    return f"{config or '*'}/{split or '*'}"


def _audit_built_folder(findings: _Findings, config: str | None, split: str | None) -> None:
    manifests = []
    for path in manifest_paths(findings.folder):
        try:
            manifests.append(read_manifest(path))
        except ManifestError as error:
            subset, _, name = path.stem.rpartition("-")
            findings.add(
                path,
                f"this build manifest {error.reason}, so its split cannot be verified or resumed",
                f"rebuild the split with `gsi-bench build syn --subset {subset} --split {name} --num-samples N "
                f"--overwrite --out {findings.shown}`",
            )
    selected = [m for m in manifests if _in_scope(m["subset"], m["split"], config, split)]
    if manifests and not selected and (config or split):
        held = ", ".join(f"{m['subset']}/{m['split']}" for m in manifests)
        fix = "choose one of those"
        if config is None or config in SUBSET_OPERATIONS:
            fix += (
                f", or build it with `gsi-bench build syn --subset {config or 'tabletop'} --split {split or 'test'} "
                f"--out {findings.shown}`"
            )
        findings.add(".", f"there is no build of {_scope_text(config, split)} in this folder (it holds {held})", fix)
    for manifest in sorted(selected, key=_split_order):
        _audit_built_split(findings, manifest)
    complete = {(m["subset"], m["split"]): split_size(m) for m in manifests if m.get("complete")}
    _audit_card(findings, complete, config, split)


def _audit_built_split(findings: _Findings, manifest: dict[str, Any]) -> None:
    subset, split, num_shards = manifest["subset"], manifest["split"], manifest["num_shards"]
    here = manifest_path(findings.folder, subset, split)
    command = build_command(manifest, findings.folder)
    findings.splits += 1
    records: dict[str, ShardRecord] | None = manifest.get("shards")
    if records is None:
        findings.add(
            here,
            "records no shard checksums (written by a gsi-bench from before checksums), so its shards cannot be "
            "verified",
            f"re-run `{command}`: it regenerates the shards and records their checksums",
        )
        return
    expected = {shard_name(subset, split, shard, num_shards) for shard in range(num_shards)}
    if not manifest["complete"] or not expected <= records.keys():
        holder = read_lock_holder(findings.folder)
        running = f"; the build lock was last taken by {describe_lock_holder(holder)}" if holder else ""
        findings.add(
            here,
            f"the {subset}/{split} build is incomplete: {len(expected & records.keys())} of {num_shards} shards "
            f"written (it was interrupted, or is still running{running})",
            f"re-run `{command}` to finish it (it resumes where it stopped), or wait for the running build",
        )
    for name, record in sorted(records.items()):
        findings.shards += 1
        problem = recorded_shard_problem(findings.folder, name, record)
        if problem is not None:
            findings.add(
                name,
                problem,
                f"re-run `{command}` to regenerate it (generation is deterministic: the same bytes come back)",
            )
    pattern = split_data_pattern(subset, split)
    for path in sorted(findings.folder.glob(pattern)):
        name = path.relative_to(findings.folder).as_posix()
        if name not in records:
            findings.add(
                name,
                f"not a shard of the build in {here.relative_to(findings.folder).as_posix()}, yet the card's "
                f"pattern `{pattern}` makes load_dataset read it with {subset}/{split} (rows of another build)",
                f"delete it (`rm {shlex.quote(str(path))}`), or re-run `{command}`, which removes files that do "
                "not belong to the build",
            )


def _read_card(findings: _Findings) -> dict[str, Any] | None:
    """The card's YAML header; None (with a problem recorded) when it is missing or unreadable."""
    path = findings.folder / CARD_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        findings.add(
            CARD_FILE,
            "missing: without the card's `configs`, load_dataset cannot find the splits",
            _CARD_FIX.format(folder=findings.shown),
        )
        return None
    except (OSError, UnicodeDecodeError) as error:
        findings.add(CARD_FILE, f"cannot be read ({error})", _CARD_FIX.format(folder=findings.shown))
        return None
    match = re.match(r"---\n(.*?)\n---\n", text, flags=re.DOTALL)
    try:
        metadata = yaml.safe_load(match.group(1)) if match else None
    except yaml.YAMLError as error:
        findings.add(CARD_FILE, f"its YAML header cannot be parsed ({error})", _CARD_FIX.format(folder=findings.shown))
        return None
    if not isinstance(metadata, dict):
        findings.add(
            CARD_FILE,
            "has no YAML header (`---` ... `---`) with `configs`",
            _CARD_FIX.format(folder=findings.shown),
        )
        return None
    return metadata


_SplitKey = tuple[str, str]


def _card_splits(
    findings: _Findings, metadata: dict[str, Any]
) -> tuple[dict[_SplitKey, list[str]], dict[_SplitKey, dict[str, Any]]] | None:
    """The card's data-file patterns and ``dataset_info`` sizes per (config, split); None when malformed."""
    patterns: dict[_SplitKey, list[str]] = {}
    sizes: dict[_SplitKey, dict[str, Any]] = {}
    try:
        for entry in metadata.get("configs") or []:
            for files in entry["data_files"]:
                path = files["path"]
                patterns[entry["config_name"], files["split"]] = [path] if isinstance(path, str) else list(path)
        for info in metadata.get("dataset_info") or []:
            for split in info.get("splits") or []:
                sizes[info["config_name"], split["name"]] = {k: split.get(k) for k in ("num_bytes", "num_examples")}
    except (TypeError, KeyError, AttributeError) as error:
        findings.add(
            CARD_FILE,
            f"its `configs` or `dataset_info` are malformed ({type(error).__name__}: {error})",
            _CARD_FIX.format(folder=findings.shown),
        )
        return None
    return patterns, sizes


def _audit_card(
    findings: _Findings, complete: dict[_SplitKey, dict[str, int]], config: str | None, split: str | None
) -> None:
    metadata = _read_card(findings)
    parsed = _card_splits(findings, metadata) if metadata is not None else None
    if parsed is None:
        return
    patterns, sizes = parsed
    fix = _CARD_FIX.format(folder=findings.shown)
    for key in sorted(set(complete) | set(patterns) | set(sizes)):
        subset, name = key
        if not _in_scope(subset, name, config, split):
            continue
        if key not in complete:
            findings.add(
                CARD_FILE,
                f"lists {subset}/{name}, which has no complete build in this folder (load_dataset would fail on it)",
                fix,
            )
        elif key not in patterns:
            findings.add(CARD_FILE, f"does not list {subset}/{name} in `configs`: load_dataset cannot find it", fix)
        elif patterns[key] != [split_data_pattern(subset, name)]:
            findings.add(
                CARD_FILE,
                f"points {subset}/{name} at {patterns[key]} instead of `{split_data_pattern(subset, name)}`",
                fix,
            )
        elif key not in sizes:
            findings.add(CARD_FILE, f"has no `dataset_info` size for {subset}/{name}", fix)
        elif sizes[key] != complete[key]:
            differences = ", ".join(
                f"{field_name} {sizes[key][field_name]} where the build manifest records {value}"
                for field_name, value in complete[key].items()
                if sizes[key][field_name] != value
            )
            findings.add(
                CARD_FILE,
                f"gives {subset}/{name} {differences} (load_dataset fails on a wrong split size with an obscure error)",
                fix,
            )


def _audit_downloaded_folder(findings: _Findings, config: str | None, split: str | None) -> None:
    if not (findings.folder / CARD_FILE).exists():
        findings.add(
            ".",
            f"not a dataset folder: it has neither a {CARD_FILE} card nor build manifests in {MANIFEST_DIR}/",
            f"check the path, or build a dataset there with `gsi-bench build syn --out {findings.shown}`",
        )
        return
    metadata = _read_card(findings)
    parsed = _card_splits(findings, metadata) if metadata is not None else None
    if parsed is None:
        return
    patterns, sizes = parsed
    selected = {key: value for key, value in patterns.items() if _in_scope(*key, config, split)}
    if not selected:
        listed = ", ".join(f"{subset}/{name}" for subset, name in patterns) or "nothing"
        findings.add(
            CARD_FILE,
            f"lists no split {_scope_text(config, split)} in `configs` (it lists {listed}), and there are no build "
            f"manifests in {MANIFEST_DIR}/",
            "choose a listed config and split, or download or build the dataset again",
        )
    fix = (
        f"this folder has no build manifests ({MANIFEST_DIR}/) to rebuild from: download the dataset again, or "
        f"build it with `gsi-bench build syn --out {findings.shown}`"
    )
    for (subset, name), globs in sorted(selected.items()):
        findings.splits += 1
        files = sorted({path for pattern in globs for path in findings.folder.glob(pattern)})
        if not files:
            findings.add(CARD_FILE, f"lists {subset}/{name} at {globs}, but no file matches", fix)
            continue
        rows, readable = 0, True
        for path in files:
            findings.shards += 1
            try:
                rows += pq.read_table(path, page_checksum_verification=True).num_rows
            except Exception as error:  # an unreadable file is a finding, not a crash
                readable = False
                findings.add(
                    path,
                    f"cannot be read in full ({type(error).__name__}: {error}): the file is truncated or damaged",
                    fix,
                )
        expected = (sizes.get((subset, name)) or {}).get("num_examples")
        if readable and expected is not None and rows != expected:
            findings.add(
                CARD_FILE,
                f"gives {subset}/{name} {expected} examples, but its shards hold {rows} rows (a shard is missing or "
                "extra, or the card was edited)",
                fix,
            )
