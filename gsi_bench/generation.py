"""``gsi-bench generate``: run an editor over a split and write a predictions folder for ``eval --editor folder:``.

:func:`run_generation` writes to its output folder:

- ``<sample_id>.png``: each edited image, lossless, as the editor returned it (a ``diffusers:`` editor has already
  resized it to the source size, and its notes say so); written atomically, so a killed run leaves no half image.
- ``generation_log.<process>.jsonl``: one line per row attempted by that process, appended as the run goes:
  ``{"sample_id", "status", "message", "seconds", "notes"}``. ``status`` is ``ok``, ``failed`` (the editor raised:
  the message says what it said) or ``unusable`` (its output is no image of the prediction contract, or None).
- ``generation.json``: the manifest (:func:`generation_manifest`): the editor's full configuration
  (:meth:`~gsi_bench.editors.Editor.describe`), the dataset's identity, counts per status, the failures, timing,
  processes and library versions. ``gsi-bench eval --editor folder:OUT`` records it in its results, and scores a
  failed row as ``missing`` with the editor's message.

A re-run with the same dataset, editor and options resumes: rows whose image exists are skipped, failed rows are
tried again. Another dataset or editor in the same folder is refused unless ``overwrite``.

Under ``accelerate launch`` (``WORLD_SIZE`` > 1) every process takes every ``num_processes``-th row from its own
index (``accelerate.PartialState``), writes its own images and log, and the main process writes the manifest once
all are done. Seeds are per sample, so the union equals a one-process run.
"""

from __future__ import annotations

import collections
import datetime
import itertools
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from PIL import Image

from gsi_bench import distributed
from gsi_bench.editors import Editor, get_editor, unwrap_prediction
from gsi_datasets.integrity import atomic_output, write_text_atomically
from gsi_metrics.scoring import describe_error

__all__ = ["GENERATION_FILE", "GenerationError", "generation_manifest", "read_generation_log", "run_generation"]

GENERATION_FILE = "generation.json"
LOG_GLOB = "generation_log.*.jsonl"
#: What must match for a re-run to resume (dataset, editor, options).
KEY_FILE = ".generation_key.json"
LOCK_FILE = ".generation.lock"
#: Distributions recorded in generation manifests, besides the scoring ones.
MODEL_DISTRIBUTIONS = ("torch", "diffusers", "transformers", "accelerate", "httpx")
#: Failures listed by name in the manifest (the logs keep all of them).
LISTED_FAILURES = 50


class GenerationError(ValueError):
    """A generation cannot start: the message says why and what to do."""


def _log_path(out: Path, index: int) -> Path:
    return out / f"generation_log.{index}.jsonl"


def read_generation_log(out: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The last log entry of every sample in a generated folder (every process's log; a cut last line is skipped)."""
    entries: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(out).glob(LOG_GLOB)):
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
                entries[str(entry["sample_id"])] = entry
            except (ValueError, KeyError, TypeError):
                continue
    return entries


def _run_key(dataset: Any, config: str, split: str, editor: Editor) -> dict[str, Any]:
    from gsi_bench.evaluation import dataset_fingerprint

    key = {"config": config, "split": split, "dataset": dataset_fingerprint(dataset), "editor": editor.spec}
    return json.loads(json.dumps({**key, "options": dict(editor.options)}, default=str))


def _check_key(out: Path, key: Mapping[str, Any], overwrite: bool) -> bool:
    """Whether the folder holds another run's outputs that must be cleared (``overwrite``).

    Raises:
        GenerationError: it holds another run's outputs and ``overwrite`` is False.
    """
    try:
        previous = json.loads((out / KEY_FILE).read_text())
    except (OSError, ValueError):
        previous = None
    if previous is None or previous == key:
        return False
    if overwrite:
        return True
    changed = ", ".join(name for name in key if previous.get(name) != key[name]) or "the run key"
    raise GenerationError(
        f"{out} holds outputs of another generation (different {changed}); choose another --out or pass --overwrite"
    )


def _clear(out: Path, sample_ids: Sequence[str]) -> None:
    for sample_id in sample_ids:
        (out / f"{sample_id}.png").unlink(missing_ok=True)
    for path in out.glob(LOG_GLOB):
        path.unlink()
    (out / GENERATION_FILE).unlink(missing_ok=True)


def _outcomes(editor: Editor, rows: Iterator[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], Any, str, float]]:
    """``(row, prediction, error, seconds)`` per row, in order: in batches (``edit_batch``), with ``concurrency``
    rows in flight (threads), or one by one. An editor's exception is that row's ``error``."""

    def one(row: Mapping[str, Any]) -> tuple[Mapping[str, Any], Any, str, float]:
        start = time.perf_counter()
        try:
            return row, editor(row), "", time.perf_counter() - start
        except Exception as error:  # noqa: BLE001 (an editor failure is the sample's status, never the run's)
            return row, None, describe_error(error), time.perf_counter() - start

    if editor.batch_size > 1:
        while batch := list(itertools.islice(rows, editor.batch_size)):
            start = time.perf_counter()
            try:
                predictions = editor.edit_batch(batch)
            except Exception:  # noqa: BLE001 (one bad row must not fail its batch-mates: retry them alone)
                yield from map(one, batch)
            else:
                seconds = (time.perf_counter() - start) / len(batch)
                yield from ((r, p, "", seconds) for r, p in zip(batch, predictions, strict=True))
    elif editor.concurrency > 1:
        with ThreadPoolExecutor(editor.concurrency) as pool:
            pending: collections.deque[Future] = collections.deque()
            for row in rows:  # at most twice the concurrency of rows in memory, results in order
                pending.append(pool.submit(one, row))
                if len(pending) >= 2 * editor.concurrency:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
    else:
        yield from map(one, rows)


def _save(out: Path, sample_id: str, prediction: Any) -> tuple[str, str, dict[str, Any]]:
    """Writes one prediction as ``<sample_id>.png``; returns ``(status, message, notes)``."""
    from gsi_metrics.predictions import read_pixels

    image, notes = unwrap_prediction(prediction)
    loaded = read_pixels(image)
    if loaded.image is None:
        return "unusable", f"{loaded.status}: {loaded.message}", notes
    with atomic_output(out / f"{sample_id}.png") as temporary:
        # Fast zlib level: a third of level 6's time for a quarter more bytes (512 x 512: 15 ms against 49 ms).
        Image.fromarray(loaded.image).save(temporary, format="PNG", compress_level=1)
    return "ok", "", {**notes, **loaded.notes}


def run_generation(
    data: str | os.PathLike | Any,
    config: str,
    split: str,
    editor: str | Editor,
    out_dir: str | os.PathLike,
    *,
    editor_options: Mapping[str, Any] | None = None,
    limit: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any] | None:
    """Runs ``editor`` on the rows of a split and writes a predictions folder (module docstring).

    Args:
        data: dataset folder or Hub id, or a loaded ``datasets.Dataset``.
        config: dataset config (subset).
        split: split name.
        editor: an editor spec (with ``editor_options``) or an :class:`~gsi_bench.editors.Editor`.
        out_dir: the predictions folder.
        editor_options: the editor's options (``--editor-option``), for a spec.
        limit: only the first ``limit`` rows.
        overwrite: replace another generation's outputs in ``out_dir``.
        progress: show a progress bar.

    Returns:
        The manifest (``generation.json``) on the main process; None on the others.

    Raises:
        GenerationError: ``out_dir`` holds another generation's outputs, or cannot be written.
        ValueError, KeyError, ImportError, FileNotFoundError: a bad editor spec or option, or a missing dataset.
    """
    from gsi_bench.evaluation import folder_lock, load_rows

    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of rows, got {limit}")
    editor = get_editor(editor, editor_options) if isinstance(editor, str) else editor
    processes = distributed.processes()
    dataset = load_rows(data, config, split, limit)
    if editor.columns is not None:
        dataset = dataset.select_columns([c for c in editor.columns if c in dataset.column_names])
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GenerationError(f"predictions folder {out} cannot be created ({error.strerror or error})") from None
    busy = GenerationError(f"{out} is in use by another gsi-bench generate; wait for it or choose another --out")
    with folder_lock(out / LOCK_FILE, busy) if processes.is_main else nullcontext():
        return _generate(dataset, config, split, editor, out, data, overwrite, progress, processes)


def _generate(
    dataset: Any,
    config: str,
    split: str,
    editor: Editor,
    out: Path,
    data: Any,
    overwrite: bool,
    progress: bool,
    processes: distributed.Processes,
) -> dict[str, Any] | None:
    """:func:`run_generation` once the folder is prepared (and locked by the main process)."""
    sample_ids = [str(s) for s in dataset["sample_id"]]
    key = _run_key(dataset, config, split, editor)
    clear = _check_key(out, key, overwrite)
    processes.wait_for_everyone()
    if processes.is_main:
        if clear:
            _clear(out, sample_ids)
        write_text_atomically(out / KEY_FILE, json.dumps(key, indent=2) + "\n")
    processes.wait_for_everyone()

    mine = range(processes.index, len(dataset), processes.count)
    todo = [i for i in mine if not (out / f"{sample_ids[i]}.png").is_file()]
    start = time.perf_counter()
    rows = (dataset[i] for i in todo)
    outcomes = _outcomes(editor, rows)
    if progress:
        from tqdm.auto import tqdm

        label = f"generate {editor.spec}" + (f" [{processes.index}]" if processes.count > 1 else "")
        outcomes = tqdm(outcomes, total=len(todo), desc=label, unit="sample", position=processes.index)
    with _log_path(out, processes.index).open("a") as log:
        for row, prediction, error, seconds in outcomes:
            sample_id = str(row["sample_id"])
            if error:
                status, message, notes = "failed", error, {}
            else:
                status, message, notes = _save(out, sample_id, prediction)
            entry = {"sample_id": sample_id, "status": status, "message": message, "seconds": seconds, "notes": notes}
            log.write(json.dumps(entry, default=str) + "\n")
            log.flush()
    generated = int(processes.sum(len(todo)))  # waits for every process
    wall = time.perf_counter() - start
    if not processes.is_main:
        return None
    manifest = generation_manifest(
        out, sample_ids, editor, data=data, config=config, split=split, generated=generated, seconds=wall,
        processes=processes.count,
    )  # fmt: skip
    write_text_atomically(out / GENERATION_FILE, json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def generation_manifest(
    out: Path,
    sample_ids: Sequence[str],
    editor: Editor,
    *,
    data: Any,
    config: str,
    split: str,
    generated: int,
    seconds: float,
    processes: int,
) -> dict[str, Any]:
    """The manifest of a predictions folder: editor configuration, dataset, counts, failures, timing, versions.

    The editor's description is taken from the previous manifest when this run edited nothing (a resumed, finished
    run need not load a model to describe it).
    """
    from gsi_bench.evaluation import _distribution_version, dataset_source, library_versions

    log = read_generation_log(out)
    counts = {"ok": 0, "failed": 0, "unusable": 0, "not_attempted": 0}
    failures = []
    for sample_id in sample_ids:
        entry = log.get(sample_id)
        has_image = (out / f"{sample_id}.png").is_file()
        status = "ok" if has_image else (entry or {}).get("status", "not_attempted")
        counts[status] = counts.get(status, 0) + 1
        if status in ("failed", "unusable"):
            failures.append({"sample_id": sample_id, "status": status, "message": entry["message"]})
    previous = {}
    if generated == 0:
        try:
            previous = json.loads((out / GENERATION_FILE).read_text()).get("editor", {})
        except (OSError, ValueError):
            previous = {}
    edit_seconds = [float(log[s]["seconds"]) for s in sample_ids if s in log and log[s]["status"] == "ok"]
    return {
        "editor": previous or editor.describe(),
        "dataset": {"path": dataset_source(data), "config": config,
                    "split": split, "num_rows": len(sample_ids)},
        "counts": counts,
        "failures": failures[:LISTED_FAILURES],
        "failures_listed": min(len(failures), LISTED_FAILURES),
        "processes": processes,
        "this_run": {"edited": generated, "seconds": seconds,
                     "samples_per_second": generated / seconds if generated and seconds > 0 else None},
        "seconds_per_edit": {"mean": sum(edit_seconds) / len(edit_seconds)} if edit_seconds else None,
        "versions": {**library_versions(), **{name: _distribution_version(name) for name in MODEL_DISTRIBUTIONS}},
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
    }  # fmt: skip
