"""The evaluation runner: run an editor on a dataset split, score every row, write versioned results.

:func:`run_evaluation` writes to its output folder:

- ``samples.jsonl``: one line per dataset row, never fewer, in dataset order: ``SampleScore.to_dict()`` of the
  headline profile plus ``editor`` (the spec) and, when both profiles were scored, ``other_profiles`` =
  ``{"paper": {"status", "ic", "sa", "el", "ac", "message", "details"}}``. An editor that raised is
  recorded as ``missing`` with the exception in ``message``; a row that cannot be read as ``bad_reference``.
- ``summary.json``: :func:`gsi_metrics.scoring.summarize` of the headline profile (``gsi`` for
  ``profile="both"``), ``other_profiles`` (the other profile's summary, for ``both``) and ``manifest``
  (:func:`build_manifest`: package and library versions, profile, perception backend and its configuration
  hash, dataset identity and fingerprint, editor, timing).
- ``prediction_files.json`` (``folder:`` editors): every file of the folder that was not scored, and why
  (:meth:`gsi_bench.editors._FolderEditor.diagnose`).

Nothing about one row stops a run: reading the row, running the editor, reading its output and scoring it
are isolated per row (:func:`evaluate_index`), and the summary is always written. Rows are flushed to
``.samples.partial.jsonl`` as they are scored, under a run key (:data:`STATE_FILE`); a killed run re-run
with the same arguments resumes from it without re-scoring. A lock keeps two runs out of one folder. Under
``accelerate launch`` each process scores every N-th row into its own ``.samples.partial.<process>.jsonl`` and the
main process merges them.

:func:`load_run`, :func:`leaderboard_markdown` and :func:`leaderboard_png` read such folders back for
``gsi-bench leaderboard``.
"""

from __future__ import annotations

import datetime
import faulthandler
import functools
import hashlib
import importlib.metadata
import json
import math
import multiprocessing
import multiprocessing.forkserver
import os
import pickle
import platform
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO, TypeVar

import numpy as np

from gsi_bench import distributed
from gsi_bench.editors import Editor, get_editor, unwrap_prediction
from gsi_bench.markdown import escape_markdown, table
from gsi_datasets.integrity import unwritable_reason, write_text_atomically
from gsi_metrics.learned import LearnedMeasures, LearnedSpecs
from gsi_metrics.operations import PROFILES, get_scorer
from gsi_metrics.perception import PerceptionBackend, backend_spec, config_hash, create_backend
from gsi_metrics.predictions import check_value_range, load_prediction
from gsi_metrics.sample import ScoringSample
from gsi_metrics.scoring import AXES, SampleScore, describe_error, score_profiles, summarize, unscored

#: The profile whose numbers are the headline of a ``profile="both"`` run.
HEADLINE_PROFILE = "gsi"
#: Distributions whose versions every manifest records (None when not installed).
RECORDED_DISTRIBUTIONS = ("numpy", "datasets", "mujoco", "scikit-image", "evaluate", "pillow", "scipy")
#: Version of the layout of ``summary.json`` / ``samples.jsonl``; bump it when a field changes meaning.
RESULTS_SCHEMA_VERSION = 1
SUMMARY_FILE = "summary.json"
SAMPLES_FILE = "samples.jsonl"
PREDICTION_FILES_FILE = "prediction_files.json"
#: Rows scored so far by an unfinished run, one JSON line each (``{"index", "scores"}``).
PARTIAL_FILE = ".samples.partial.jsonl"
#: The run key of the partial rows: a re-run resumes from them only when its key is the same.
STATE_FILE = ".eval_state.json"
LOCK_FILE = ".eval.lock"
#: Columns of the leaderboard tables: the four axes and their mean.
COLUMNS = (*AXES, "Avg")


class EvaluationError(ValueError):
    """An evaluation cannot start: the message says why and what to do."""


# --------------------------------------------------------------------------------------------------------
# Running


@dataclass(frozen=True)
class _WorkerJob:
    """What a worker process needs, pickled once per worker: the backend travels as its name and configuration
    (it may hold unpicklable OpenCV objects) and is re-created in the worker."""

    dataset: Any
    editor: Editor
    backend_name: str
    backend_config: dict[str, Any]
    profiles: tuple[str, ...]
    value_range: str
    learned: LearnedSpecs = LearnedSpecs()


#: The worker process's job, backend and learned measures (set by :func:`_start_worker`).
_WORKER: tuple[_WorkerJob, PerceptionBackend, LearnedMeasures] | None = None


def _start_worker(job: _WorkerJob) -> None:
    """Worker initializer: one thread per worker (:func:`gsi_bench.workers.one_thread_per_worker`).

    Measured on 2 cores (30 oracle rows, profile gsi): 6.5 s in one process (OpenCV keeps about one core busy),
    8.2 s with 2 workers left to OpenCV's own thread pools (oversubscribed), 4.1 s with 2 pinned workers.
    """
    from gsi_bench.workers import one_thread_per_worker

    global _WORKER
    one_thread_per_worker()
    _WORKER = (job, create_backend(job.backend_name, **job.backend_config), job.learned.create())


def edit_row(row: Mapping[str, Any], editor: Editor) -> tuple[Any, str]:
    """The editor's output for ``row``, and an empty message; ``(None, message)`` when the editor raised (the
    editor's failure, not the run's)."""
    try:
        prediction, _ = unwrap_prediction(editor(row))
    except Exception as error:  # noqa: BLE001 (any editor failure is scored, never fatal)
        return None, f"editor {editor.spec!r} raised {describe_error(error)}"
    return prediction, ""


def evaluate_row(
    row: Mapping[str, Any],
    editor: Editor,
    backend: PerceptionBackend,
    profiles: Sequence[str],
    value_range: str = "auto",
    measures: LearnedMeasures | None = None,
    edit: tuple[Any, str] | None = None,
) -> list[SampleScore]:
    """Runs the editor on one row (unless ``edit``, what :func:`edit_row` gave for it, is passed) and scores its output
    in each profile (same order as ``profiles``), with the learned ``measures`` when given (:mod:`gsi_metrics.learned`).

    Never raises for the row's content: an exception of the editor is the editor's failure, not the run's (the
    row is scored as a ``missing`` prediction and the exception replaces the message); everything after is
    isolated by :func:`~gsi_metrics.scoring.score_profiles`.
    """
    prediction, editor_error = edit if edit is not None else edit_row(row, editor)
    scores = score_profiles(row, prediction, backend, profiles, value_range, measures)
    return [replace(score, message=editor_error) for score in scores] if editor_error else scores


def read_row(dataset: Any, index: int, profiles: Sequence[str]) -> tuple[Mapping[str, Any] | None, list[SampleScore]]:
    """Row ``index`` of ``dataset`` and no scores; a row that ``datasets`` cannot read gives ``(None, its
    bad_reference scores)``."""
    try:
        return dataset[index], []
    except Exception as error:  # noqa: BLE001 (a damaged row is that row's status, not the run's end)
        identity = _row_identity(dataset, index)
        message = (
            f"row {index} of the dataset could not be read ({describe_error(error)}); check the dataset with "
            "`gsi-bench verify DIR`"
        )
        return None, unscored(identity, profiles, "bad_reference", message)


def _row_identity(dataset: Any, index: int) -> Mapping[str, Any]:
    """``sample_id`` and ``operation`` of row ``index``, read without decoding its images (placeholders where even they
    cannot be read)."""
    try:
        return dataset.select_columns(["sample_id", "operation"])[index]
    except Exception:  # noqa: BLE001
        return {"sample_id": f"row {index}", "operation": "?"}


def evaluate_index(
    dataset: Any,
    index: int,
    editor: Editor,
    backend: PerceptionBackend,
    profiles: Sequence[str],
    value_range: str = "auto",
    measures: LearnedMeasures | None = None,
) -> list[SampleScore]:
    """:func:`evaluate_row` of row ``index``; a row that ``datasets`` cannot read is scored ``bad_reference``."""
    row, unreadable = read_row(dataset, index, profiles)
    return unreadable if row is None else evaluate_row(row, editor, backend, profiles, value_range, measures)


def _scored_in_process(
    job: _WorkerJob, backend: PerceptionBackend, measures: LearnedMeasures, indices: Sequence[int]
) -> Iterator[tuple[int, list[SampleScore]]]:
    """``(index, scores)`` of the rows ``indices``, in order, scored here. With experts that batch (the backend's
    ``prefetch_rows()`` above 1) the rows go in groups of that size: every row of a group is read and edited, the
    experts answer for the whole group at once (:func:`_prefetch`), then each row is scored."""
    size = backend.prefetch_rows() if callable(getattr(backend, "prefetch_rows", None)) else 1
    for start in range(0, len(indices), size):
        group = indices[start : start + size]
        read = {index: read_row(job.dataset, index, job.profiles) for index in group}
        edits = {index: edit_row(row, job.editor) for index, (row, _) in read.items() if row is not None}
        if size > 1:
            _prefetch(backend, {index: read[index][0] for index in edits}, edits, job.value_range)
        for index in group:
            row, unreadable = read[index]
            if row is None:
                yield index, unreadable
            else:
                scores = evaluate_row(row, job.editor, backend, job.profiles, job.value_range, measures, edits[index])
                yield index, scores


def _prefetch(backend: Any, rows: Mapping[int, Any], edits: Mapping[int, tuple[Any, str]], value_range: str) -> None:
    """Hands the backend the rows' edited images, decoded as scoring decodes them, before they are scored one by one.
    A row or output that cannot be decoded is left to scoring, which reports it; a failing prefetch only costs time
    (each row then asks the experts itself), so it is a warning, not an error."""
    pairs = []
    for index, row in rows.items():
        try:
            view = ScoringSample.from_row(row).view
        except Exception:  # noqa: BLE001 (scoring gives this row its bad_reference status)
            continue
        height, width = view.image.shape[:2]
        loaded = load_prediction(edits[index][0], (width, height), background=view.image, value_range=value_range)
        if loaded.image is not None and not np.array_equal(loaded.image, view.image):  # an unchanged image: no experts
            pairs.append((view, loaded.image))
    try:
        backend.prefetch(pairs)
    except Exception as error:  # noqa: BLE001
        message = f"the experts' batched answers failed ({describe_error(error)}); each row asks them itself"
        warnings.warn(message, stacklevel=2)


def _evaluate_in_worker(index: int) -> tuple[int, list[SampleScore]]:
    assert _WORKER is not None, "worker started without a job"
    job, backend, measures = _WORKER
    return index, evaluate_index(job.dataset, index, job.editor, backend, job.profiles, job.value_range, measures)


def _scored_rows(
    job: _WorkerJob,
    backend: PerceptionBackend,
    measures: LearnedMeasures,
    indices: Sequence[int],
    workers: int,
    progress: bool,
    done: int,
) -> Iterator[tuple[int, list[SampleScore]]]:
    """``(index, scores)`` of the rows ``indices``, in order, from this process or a pool of ``workers``.

    Workers start from a ``forkserver``, not by ``fork``: the caller may hold threads (OpenCV, Arrow, an EGL
    renderer), and a child forked from a threaded process can deadlock on a lock one of them held (seen in
    the test suite after building a split in-process).
    """
    total = done + len(indices)
    if workers <= 1 or len(indices) <= 1:
        scored = _scored_in_process(job, backend, measures, indices)
        yield from _progress(scored, total, done, progress, job.editor.spec)
        return

    def lost(index: int, message: str) -> tuple[int, list[SampleScore]]:
        return index, unscored(_row_identity(job.dataset, index), job.profiles, "scoring_error", message)

    scored = ordered_in_workers(_evaluate_in_worker, indices, workers, _start_worker, (job,), lost)
    yield from _progress(scored, total, done, progress, job.editor.spec)


_Result = TypeVar("_Result")
#: :func:`ordered_in_workers` gives up when this many items in a row have killed their workers alone.
_MOST_LOST_IN_A_ROW = 3


def ordered_in_workers(
    function: Callable[[int], _Result],
    indices: Sequence[int],
    workers: int,
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
    lost: Callable[[int, str], _Result],
    preload: Sequence[str] = (),
    item_timeout_s: float | None = None,
) -> Iterator[_Result]:
    """``function`` of each of ``indices``, in order, from ``workers`` processes started from the fork server
    (:func:`worker_context`, with the modules ``preload``), one index per task: items take from milliseconds to
    seconds, and a chunk of slow ones left to one worker at the end of a run keeps the others idle.

    A worker that dies (killed, out of memory, a crash in native code) breaks the pool, and every item in flight fails
    with it. The first item not returned is then run again alone, in a pool of one: if that worker dies too, the item
    gets ``lost(index, message)`` instead of its result; either way the rest go on in a new pool. A rare crash (a
    suite's worker died so twice in many runs) costs a few items done again, and an item that kills every worker that
    takes it costs its own result, not the run. With ``item_timeout_s``, a worker still on one item after that long ends
    itself (Python's ``faulthandler`` watchdog, which runs while the item is stuck in native code, prints every
    thread's stack and exits), and the item is handled as above: a drawing that waits forever on the CPU rasteriser
    (seen once) costs a retry, not a run that never ends.

    Raises:
        BrokenProcessPool: when ``_MOST_LOST_IN_A_ROW`` items in a row kill their workers alone (workers that cannot
            start, or cannot do any item, are not the items' doing).
    """
    timed = function if item_timeout_s is None else functools.partial(_timed, function, item_timeout_s)
    pending, alone, lost_in_a_row = list(indices), False, 0
    while pending:
        batch = pending[:1] if alone else pending
        returned = 0
        pool = ProcessPoolExecutor(
            1 if alone else workers, mp_context=worker_context(*preload), initializer=initializer, initargs=initargs
        )
        try:
            with pool:
                for result in pool.map(timed, batch):
                    returned += 1
                    lost_in_a_row = 0
                    yield result
            pending, alone = pending[len(batch) :], False
        except BrokenProcessPool as error:
            pending = pending[returned:]
            if not alone:
                warnings.warn(f"a worker process died ({error}); item {pending[0]} is run again alone", stacklevel=2)
                alone = True
                continue
            lost_in_a_row += 1
            if lost_in_a_row >= _MOST_LOST_IN_A_ROW:
                raise BrokenProcessPool(
                    f"{lost_in_a_row} items in a row killed their worker processes, each run alone ({error}): the "
                    "workers cannot do any item; see the errors above"
                ) from error
            message = (
                f"the worker process died while handling this item, also run alone ({error}): a crash in native code, "
                "the process killed or out of memory, or the item hung past its time limit"
            )
            warnings.warn(f"item {pending[0]}: {message}; going on without it", stacklevel=2)
            yield lost(pending[0], message)
            pending, alone = pending[1:], False


def _timed(function: Callable[[int], _Result], timeout_s: float, index: int) -> _Result:
    """``function(index)`` in a worker that ends itself, printing every thread's stack, if it takes ``timeout_s``."""
    faulthandler.dump_traceback_later(timeout_s, exit=True)
    try:
        return function(index)
    finally:
        faulthandler.cancel_dump_traceback_later()


def worker_context(*preload: str) -> multiprocessing.context.BaseContext:
    """The ``forkserver`` context that scoring workers start from, its server started now if it is not running: it
    loads the scoring stack (:mod:`gsi_bench.workers`, then the modules ``preload``) once, about 3 s on 2 cores, while
    the caller goes on loading its data. Measured on 2 cores (2 scene-free oracle rows, 2 workers): 4.8 s from the
    call of :func:`run_evaluation` to its end with the server started at the first row, 3.7 and 4.4 s (two runs)
    started up front; 20 rows, 7.3 -> 5.9 s."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["gsi_bench.workers", *preload])
    multiprocessing.forkserver.ensure_running()
    return context


def _progress(items: Iterator[Any], total: int, done: int, enabled: bool, label: str) -> Iterator[Any]:
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return iter(tqdm(items, total=total, initial=done, desc=f"eval {label}", unit="sample"))


def load_eval_dataset(data: str | os.PathLike | Any, config: str, split: str) -> Any:
    """Loads a split with ``datasets.load_dataset``, after checking a local folder's integrity (a loaded
    ``datasets.Dataset`` is used as it is).

    Raises:
        FileNotFoundError: ``data`` is neither an existing folder nor a Hub dataset id that could be loaded.
        gsi_datasets.integrity.DatasetIntegrityError: a damaged shard or card, naming the file and the fix.
        EvaluationError: ``datasets`` could not load the split (with its error and what to do).
    """
    from datasets import Dataset, load_dataset

    from gsi_datasets.integrity import check_dataset

    if isinstance(data, Dataset):
        return data
    path = Path(data)
    if path.exists():
        check_dataset(path, config, split)
        try:
            return load_dataset(str(path), config, split=split)
        except Exception as error:  # noqa: BLE001 (datasets raises many types; each means "cannot load")
            raise EvaluationError(
                f"could not load {config}/{split} from {path} ({type(error).__name__}: {error}); "
                f"run `gsi-bench verify {path}` to find a damaged file"
            ) from error
    text = str(data)
    looks_like_hub_id = text.count("/") == 1 and not text.startswith((".", "/", "~"))
    if looks_like_hub_id:
        try:
            return load_dataset(text, config, split=split)
        except Exception as error:  # noqa: BLE001 (network, auth and not-found errors all mean "not loadable")
            raise FileNotFoundError(
                f"dataset {text!r} is neither a local folder nor a loadable Hub dataset"
                f" ({type(error).__name__}); build it with `gsi-bench build syn --out {text}`"
            ) from error
    raise FileNotFoundError(f"dataset folder {text} does not exist; build it with `gsi-bench build syn --out {text}`")


def load_rows(data: str | os.PathLike | Any, config: str, split: str, limit: int | None = None) -> Any:
    """:func:`load_eval_dataset`, only its first ``limit`` rows when given."""
    full = load_eval_dataset(data, config, split)
    return full.select(range(min(limit, len(full)))) if limit is not None else full


def _check_scorable(dataset: Any, profiles: Sequence[str]) -> None:
    """Fails before any editing if the split holds an operation without a scorer (rather than at row 300)."""
    feature = dataset.features["operation"]
    for operation in dataset.unique("operation"):
        name = feature.int2str(operation) if isinstance(operation, int) else str(operation)
        for profile in profiles:
            try:
                get_scorer(name, profile)
            except KeyError as error:
                raise ValueError(error.args[0]) from None


def _check_writable(out: Path) -> None:
    """Checks, without creating anything, that the results folder can be created and written.

    Raises:
        EvaluationError: ``out`` lies under a file, or under a folder that does not allow writing.
    """
    reason = unwritable_reason(out)
    if reason:
        raise EvaluationError(f"results folder {out} cannot be created or written: {reason}; choose another --out")


def _prepare_output(out: Path) -> None:
    """Creates the results folder and checks that files can be written in it.

    Raises:
        EvaluationError: the folder cannot be created or written.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise EvaluationError(
            f"results folder {out} cannot be written ({error.strerror or error}); choose another --out"
        ) from None


def _run_key(dataset: Any, config: str, split: str, editor: Editor, backend: PerceptionBackend, **rest: Any) -> dict:
    """What must match for a re-run to resume an interrupted one's rows."""
    return {
        "config": config,
        "split": split,
        "dataset": dataset_fingerprint(dataset),
        "editor": editor.spec,
        "backend": config_hash(backend),
        **rest,
    }


def _partial_file(out: Path, process: int) -> Path:
    """Where one process flushes its scored rows (``.samples.partial.jsonl``, ``.samples.partial.1.jsonl``, ...)."""
    return out / PARTIAL_FILE if process == 0 else out / PARTIAL_FILE.replace(".jsonl", f".{process}.jsonl")


def _partial_files(out: Path) -> list[Path]:
    return sorted(out.glob(PARTIAL_FILE.replace(".jsonl", "*.jsonl")))


def _resumed_rows(out: Path, key: Mapping[str, Any], profiles: Sequence[str]) -> dict[int, list[SampleScore]]:
    """The rows an interrupted run with the same key scored, by any of its processes (a half-written last line is
    ignored)."""
    try:
        if json.loads((out / STATE_FILE).read_text()).get("key") != json.loads(json.dumps(key)):
            return {}
        lines = [line for path in _partial_files(out) for line in path.read_text().splitlines()]
    except (OSError, ValueError):
        return {}
    rows: dict[int, list[SampleScore]] = {}
    for line in lines:
        try:
            entry = json.loads(line)
            scores = [SampleScore(**score) for score in entry["scores"]]
        except (ValueError, KeyError, TypeError):
            continue  # the line a killed run was writing
        if len(scores) == len(profiles):
            rows[int(entry["index"])] = scores
    return rows


def _write_scored(partial: TextIO, index: int, scores: Sequence[SampleScore]) -> None:
    """One line of a partial results file: row ``index`` and its scores (read back by :func:`_resumed_rows`)."""
    entry = {"index": index, "scores": [score.to_dict() for score in scores]}
    partial.write(json.dumps(entry, default=_json_default) + "\n")


def _part_rows(
    folders: Sequence[str | os.PathLike], key: Mapping[str, Any], profiles: Sequence[str]
) -> dict[int, list[SampleScore]]:
    """The rows scored in the results folders of parts (``--shard-index``) of the run ``key`` describes.

    Raises:
        EvaluationError: a folder that holds no part, or a part of another run (dataset, editor, backend, options).
    """
    wanted = json.loads(json.dumps(key))
    rows: dict[int, list[SampleScore]] = {}
    for folder in map(Path, folders):
        try:
            recorded = json.loads((folder / STATE_FILE).read_text())["key"]
        except (OSError, ValueError, KeyError):
            raise EvaluationError(f"{folder} holds no part of an evaluation (gsi-bench eval --shard-index)") from None
        run = {name: value for name, value in recorded.items() if name != "part"}
        if run != wanted:
            differs = sorted(name for name in set(run) | set(wanted) if run.get(name) != wanted.get(name))
            raise EvaluationError(
                f"{folder} is a part of another evaluation (it differs in {differs}); merge the parts of one run, "
                "with the same --data, --config, --split, --editor, --profile and options"
            )
        rows.update(_resumed_rows(folder, recorded, profiles))
    return rows


@contextmanager
def folder_lock(lock_file: Path, busy: Exception) -> Iterator[None]:
    """Holds ``lock_file`` while the block runs (two runs in one folder would mix their outputs).

    Raises:
        Exception: ``busy``, when another process holds it.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(lock_file)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise busy from None
    try:
        yield
    finally:
        lock.release()


def run_evaluation(
    data: str | os.PathLike,
    config: str,
    split: str,
    editor: str | Editor,
    out_dir: str | os.PathLike,
    profile: str = "gsi",
    editor_options: Mapping[str, Any] | None = None,
    backend: str | PerceptionBackend = "classical",
    limit: int | None = None,
    workers: int = 1,
    progress: bool = True,
    backend_config: Mapping[str, Any] | None = None,
    value_range: str = "auto",
    resume: bool = True,
    judge: str | None = None,
    judge_options: Mapping[str, Any] | None = None,
    lpips: str | None = None,
    ac_features: str | None = None,
    part: tuple[int, int] | None = None,
    merge_parts: Sequence[str | os.PathLike] = (),
) -> dict[str, Any] | None:
    """Runs ``editor`` on every row of a split, scores it and writes ``samples.jsonl`` and ``summary.json``.

    Args:
        data: dataset folder (or Hub id) for ``datasets.load_dataset``; a local folder is verified first
            (:func:`gsi_datasets.integrity.check_dataset`).
        config: dataset config (subset), e.g. ``tabletop``.
        split: split name.
        editor: an editor spec (``identity``, ``oracle``, ``geometric``, ``folder:PATH``, ``python:``, ``diffusers:``,
            ``api:``; see :mod:`gsi_bench.editors`) or an :class:`~gsi_bench.editors.Editor`.
        out_dir: results folder (created; earlier results in it are replaced).
        profile: ``gsi``, ``paper`` or ``both`` (one pass, one perception per row, headline ``gsi``).
        editor_options: the options of an editor given as a spec (``--editor-option``).
        backend: perception backend name (created with ``backend_config``) or instance.
        limit: score only the first ``limit`` rows.
        workers: processes scoring rows in parallel (1 = in this process); the editor must then be picklable.
        progress: show a progress bar.
        backend_config: constructor arguments of a backend given by name.
        value_range: the value range of array predictions (:data:`gsi_metrics.predictions.VALUE_RANGES`).
        resume: continue an interrupted run of the same key in ``out_dir`` instead of starting over.
        judge: a multimodal judge for AC (``openai-compatible:URL`` or ``transformers:MODEL``;
            :mod:`gsi_metrics.judge`), with ``judge_options``; None keeps the weight-free AC.
        lpips: the import path of a factory of a masked learned distance (LPIPS) for profile ``paper``'s locality
            gate and EL (:mod:`gsi_metrics.learned`); None: SSIM alone.
        ac_features: an image encoder's model source (``hf-hub:<id>`` / ``local-dir:<path>``) for AC from image
            features (:mod:`gsi_metrics.learned`); None: the weight-free AC.
        part: (index, count): score only the rows i with i % count == index (one machine's part of a split; with
            ``--num-shards`` / ``--shard-index``), keep them in ``out_dir`` and write no summary (returns None).
        merge_parts: the results folders of such parts: their rows count as scored (they must come from the same
            split, editor, backend, profiles and options), rows no part scored are scored now, and the summary is
            written as if one run had scored them all.

    Under ``accelerate launch`` (``WORLD_SIZE`` > 1) every process scores every N-th row and the main process writes
    the results (the other processes return None).

    Returns:
        The contents of ``summary.json`` (None on the processes other than the main one of a launch).

    Raises:
        ValueError: unknown profile or value range, bad ``limit`` / ``workers``, or an operation without a scorer.
        EvaluationError: the results folder cannot be written or is in use by another run, or the split cannot
            be loaded.
        gsi_datasets.integrity.DatasetIntegrityError: the dataset folder is damaged (names the file and the fix).
        KeyError: unknown editor or backend (with close matches).
        FileNotFoundError: the dataset (or a ``folder:`` editor's folder) does not exist.
    """
    if profile not in (*PROFILES, "both"):
        raise ValueError(f"unknown profile {profile!r}; choose one of {(*PROFILES, 'both')}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of rows, got {limit}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    check_value_range(value_range)
    if part is not None and (part[1] < 1 or not 0 <= part[0] < part[1]):
        raise ValueError(f"--shard-index must be in [0, --num-shards), got {part[0]} of {part[1]}")
    if part is not None and merge_parts:
        raise ValueError("a part (--shard-index) cannot also merge parts (--merge-parts)")
    profiles = (HEADLINE_PROFILE, *(p for p in PROFILES if p != HEADLINE_PROFILE)) if profile == "both" else (profile,)
    if workers > 1:
        worker_context()  # the workers' server loads the scoring stack while this process loads the data
    # fail on a bad spec or option before loading data
    editor = get_editor(editor, editor_options) if isinstance(editor, str) else editor
    if isinstance(backend, str):
        backend = create_backend(backend, **(backend_config or {}))
    # Workers re-create the backend from a name every process can resolve (backend_spec).
    spec = backend_spec(backend) if workers > 1 else backend.name
    learned = LearnedSpecs(judge, dict(judge_options or {}), lpips, ac_features)
    measures = learned.create()  # a bad judge or LPIPS spec fails before any work
    job = _WorkerJob(None, editor, spec, backend.config(), profiles, value_range, learned)
    if workers > 1:
        try:
            pickle.dumps(job)
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            raise ValueError(
                f"--workers {workers} needs an editor that can be pickled, and {editor.spec!r} cannot ({error});"
                " use workers=1 or register the editor as a module-level function"
            ) from None
    out = Path(out_dir)
    _check_writable(out)

    full = load_eval_dataset(data, config, split)
    dataset = full.select(range(min(limit, len(full)))) if limit is not None else full
    _check_scorable(dataset, profiles)
    job = replace(job, dataset=dataset)
    _prepare_output(out)

    processes = distributed.processes()
    busy = EvaluationError(
        f"results folder {out} is in use by another gsi-bench eval; wait for it or choose another --out"
    )
    with folder_lock(out / LOCK_FILE, busy) if processes.is_main else nullcontext():
        key = _run_key(
            dataset, config, split, editor, backend, profiles=list(profiles), value_range=value_range,
            learned=learned.record(),
        )  # fmt: skip
        if part is not None:
            key = {**key, "part": list(part)}
        done = _resumed_rows(out, key, profiles) if resume else {}
        processes.wait_for_everyone()  # every process has read what is done before the main one starts afresh
        if not done and processes.is_main:
            _write_json_atomically(out / STATE_FILE, {"key": key})
            for path in _partial_files(out):
                path.unlink()
        if merge_parts and processes.is_main:
            merged = _part_rows(merge_parts, key, profiles)
            with _partial_file(out, 0).open("a") as partial:
                for index, scores in merged.items():
                    if index not in done and index < len(dataset):
                        _write_scored(partial, index, scores)
        processes.wait_for_everyone()
        if merge_parts:
            done = _resumed_rows(out, key, profiles)
        # Under accelerate launch each process scores every N-th row; the main one merges them at the end.
        rows = range(len(dataset)) if part is None else range(part[0], len(dataset), part[1])
        todo = [i for i in rows[processes.index :: processes.count] if i not in done]
        start = time.perf_counter()
        shown = progress and processes.is_main
        with _partial_file(out, processes.index).open("a") as partial:
            for index, scores in _scored_rows(job, backend, measures, todo, workers, shown, len(done)):
                done[index] = scores
                _write_scored(partial, index, scores)
                partial.flush()
        scored = int(processes.sum(len(todo)))  # waits for every process
        seconds = time.perf_counter() - start
        if not processes.is_main or part is not None:
            return None
        done = _resumed_rows(out, key, profiles)

        ordered = [done[index] for index in range(len(dataset))]
        per_profile = {name: [scores[i] for scores in ordered] for i, name in enumerate(profiles)}
        summary = summarize(per_profile[profiles[0]], profiles[0])
        if len(profiles) > 1:
            summary["other_profiles"] = {p: summarize(per_profile[p], p) for p in profiles[1:]}
        summary["manifest"] = build_manifest(
            data=data,
            config=config,
            split=split,
            full_dataset=full,
            dataset=dataset,
            editor=editor,
            backend=backend,
            profile=profile,
            profiles=profiles,
            limit=limit,
            workers=workers,
            seconds=seconds,
            value_range=value_range,
            resumed_rows=len(dataset) - scored,
            processes=processes.count,
        )
        if learned.record() is not None:
            summary["manifest"]["learned"] = learned.record()
        if measures.judge is not None:
            summary["manifest"]["judge"] = measures.judge.describe()
        experts = _experts_description(backend)
        if experts is not None:
            summary["manifest"]["experts"] = experts
        generation = getattr(editor.fn, "generation_manifest", None)
        if generation is not None:  # the folder was written by `gsi-bench generate`: how its images were made
            summary["manifest"]["generation"] = generation
        diagnose = getattr(editor.fn, "diagnose", None)
        if diagnose is not None:
            # Files of a folder editor that were not scored: listed with their reasons, never ignored silently.
            files = diagnose(dataset.select_columns(["sample_id", "reference_format"]))
            _write_json_atomically(out / PREDICTION_FILES_FILE, files)
            summary["prediction_files"] = _prediction_files_summary(files)
        _write_json_atomically(out / SUMMARY_FILE, summary)
        lines = (json.dumps(_sample_line(scores, profiles, editor.spec), default=_json_default) for scores in ordered)
        write_text_atomically(out / SAMPLES_FILE, "".join(f"{line}\n" for line in lines))
        for path in _partial_files(out):
            path.unlink()
        (out / STATE_FILE).unlink(missing_ok=True)
        return summary


def editor_slug(spec: str) -> str:
    """A folder name for an editor spec (``folder:out/model-a`` -> ``folder-model-a``)."""
    name, _, argument = spec.partition(":")
    return f"{name}-{Path(argument).name}" if argument else name


def evaluate_editor(
    editor: Any,
    dataset: Any,
    out_dir: str | os.PathLike | None = None,
    *,
    config: str | None = None,
    split: str | None = None,
    editor_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Scores any editor on a split, in-process: the Python face of ``gsi-bench eval``.

    ``editor`` is a spec (``"oracle"``, ``"diffusers:..."``), a loaded ``diffusers`` pipeline, or a function
    ``edit(image, instruction)`` returning an image; ``dataset`` a loaded ``datasets.Dataset`` (or a folder or Hub id,
    with ``config`` and ``split``)::

        pipe = DiffusionPipeline.from_pretrained(...)
        results = gsi_bench.evaluate_editor(pipe, load_dataset("gsi-bench/syn", "tabletop", split="test"))

    Args:
        out_dir: results folder (default ``results/<editor>``).
        config, split: default to the dataset's own (``dataset.info.config_name``, ``dataset.split``).
        editor_options: options of the spec's editor, the pipeline's call (:class:`~gsi_bench.editors.diffusion.
            DiffusionOptions`) or the function.
        options: more arguments of :func:`run_evaluation` (``profile``, ``limit``, ``workers``, ...).

    Returns:
        The summary (``summary.json``), as :func:`run_evaluation`.
    """
    from gsi_bench.editors import as_editor

    resolved = as_editor(editor, editor_options)
    info = getattr(dataset, "info", None)
    config = config or getattr(info, "config_name", None) or "tabletop"
    split = split or str(getattr(dataset, "split", None) or "test")
    name, _, argument = resolved.spec.partition(":")
    out = (
        Path(out_dir)
        if out_dir is not None
        else Path("results") / (f"{name}-{Path(argument).name}" if argument else name)
    )
    return run_evaluation(dataset, config, split, resolved, out, **options)


def _experts_description(backend: PerceptionBackend) -> dict[str, Any] | None:
    """What the backend's learned experts are (each model's id, revision and snapshot), when they describe
    themselves; None without experts."""
    spec = backend.config().get("experts")
    if not spec:
        return None
    from gsi_metrics.perception.experts import load_experts

    describe = getattr(load_experts(spec), "describe", None)
    return {"spec": spec, **(describe() if describe is not None else {})}


def _prediction_files_summary(files: Mapping[str, Any], examples: int = 5) -> dict[str, Any]:
    """Counts and a few examples of a folder editor's :meth:`~gsi_bench.editors._FolderEditor.diagnose`."""
    unmatched = [f"{entry['file']}: {entry['reason']}" for entry in files["unmatched"]]
    duplicates = [f"{e['sample_id']}: used {e['used']}, ignored {', '.join(e['ignored'])}" for e in files["duplicates"]]
    return {
        "matched": files["matched"],
        "duplicates": len(duplicates),
        "unmatched": len(unmatched),
        "examples": unmatched[:examples] + duplicates[:examples],
        "details": PREDICTION_FILES_FILE,
    }


def _sample_line(scores: Sequence[SampleScore], profiles: Sequence[str], editor_spec: str) -> dict[str, Any]:
    line = {**scores[0].to_dict(), "editor": editor_spec}
    if len(profiles) > 1:
        line["other_profiles"] = {
            name: {k: v for k, v in score.to_dict().items() if k not in ("sample_id", "operation")}
            for name, score in zip(profiles[1:], scores[1:], strict=True)
        }
    return line


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays in ``details`` become plain JSON numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write_json_atomically(path: Path, content: Mapping[str, Any]) -> None:
    write_text_atomically(path, json.dumps(content, indent=2, default=_json_default, allow_nan=True) + "\n")


# --------------------------------------------------------------------------------------------------------
# Manifest


def _distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def library_versions() -> dict[str, str | None]:
    """Versions of Python, this package and the libraries that change numbers (None = not installed)."""
    import cv2

    versions: dict[str, str | None] = {
        "python": platform.python_version(),
        "gsi-bench": _distribution_version("gsi-bench"),
    }
    versions.update({name: _distribution_version(name) for name in RECORDED_DISTRIBUTIONS})
    versions["opencv"] = cv2.__version__  # one module, several distribution names (headless, contrib, ...)
    return versions


def dataset_source(data: str | os.PathLike | Any) -> str:
    """Where a run's rows came from: the folder or Hub id, or what an in-memory ``datasets.Dataset`` was built from."""
    if isinstance(data, (str, os.PathLike)):
        return str(data)
    files = sorted({Path(f["filename"]).parent.name for f in getattr(data, "cache_files", [])})
    return f"datasets.Dataset ({', '.join(files) or 'in memory'})"


def dataset_fingerprint(dataset: Any) -> dict[str, Any]:
    """Identity of the scored rows: ``datasets``' fingerprint and a SHA-256 of the sample ids in order."""
    ids = "\n".join(dataset["sample_id"])
    return {
        "datasets_fingerprint": getattr(dataset, "_fingerprint", None),
        "sample_ids_sha256": hashlib.sha256(ids.encode()).hexdigest(),
    }


def build_manifest(
    *,
    data: str | os.PathLike,
    config: str,
    split: str,
    full_dataset: Any,
    dataset: Any,
    editor: Editor,
    backend: PerceptionBackend,
    profile: str,
    profiles: Sequence[str],
    limit: int | None,
    workers: int,
    seconds: float,
    value_range: str = "auto",
    resumed_rows: int = 0,
    processes: int = 1,
) -> dict[str, Any]:
    """The configuration and versions behind a run's numbers (the ``manifest`` of ``summary.json``)."""
    num_scored = len(dataset)
    path = Path(data) if isinstance(data, (str, os.PathLike)) else None
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "package": {"name": "gsi-bench", "version": _distribution_version("gsi-bench")},
        "versions": library_versions(),
        "platform": platform.platform(),
        "profile": profile,
        "profiles": list(profiles),
        "backend": {"name": backend.name, "config": backend.config(), "config_hash": config_hash(backend)},
        "dataset": {
            "path": dataset_source(data),
            "resolved_path": str(path.resolve()) if path is not None and path.exists() else None,
            "config": config,
            "split": split,
            "num_rows": len(full_dataset),
            "num_scored": num_scored,
            "limit": limit,
            "fingerprint": dataset_fingerprint(dataset),
        },
        "editor": editor.spec,
        "value_range": value_range,
        "resumed_rows": resumed_rows,
        "workers": workers,
        "processes": processes,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 (3.10)
        "seconds": seconds,
        "samples_per_second": num_scored / seconds if seconds > 0 else None,
        "seconds_per_sample": seconds / num_scored if num_scored else None,
    }


# --------------------------------------------------------------------------------------------------------
# Reading results back: leaderboard


@dataclass(frozen=True)
class Run:
    """One results folder, seen in one profile.

    Attributes:
        path: the folder.
        label: the row name in tables (the editor spec, with the folder name if two runs share it).
        summary: the profile's summary (``summarize`` output).
        manifest: the run's manifest.
    """

    path: Path
    label: str
    summary: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def subset(self) -> str:
        """``config/split`` of the scored dataset."""
        dataset = self.manifest.get("dataset", {})
        return f"{dataset.get('config', '?')}/{dataset.get('split', '?')}"


def _read_summary(folder: Path) -> dict[str, Any]:
    """The ``summary.json`` of a results folder.

    Raises:
        FileNotFoundError: the folder or its ``summary.json`` does not exist.
        ValueError: unreadable JSON.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"results folder {folder} does not exist")
    file = folder / SUMMARY_FILE
    if not file.is_file():
        raise FileNotFoundError(f"{folder} has no {SUMMARY_FILE}; write one with `gsi-bench eval ... --out {folder}`")
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{file} is not valid JSON ({error})") from None


def scored_profiles(path: str | os.PathLike) -> list[str]:
    """The profiles a results folder was scored in, headline first."""
    content = _read_summary(Path(path))
    return [str(content.get("profile")), *content.get("other_profiles", {})]


def load_run(path: str | os.PathLike, profile: str | None = HEADLINE_PROFILE) -> Run:
    """Reads a results folder written by :func:`run_evaluation`, in ``profile`` (None: the folder's headline
    profile).

    Raises:
        FileNotFoundError: the folder or its ``summary.json`` does not exist.
        ValueError: unreadable JSON, or the run was not scored in ``profile``.
    """
    folder = Path(path)
    content = _read_summary(folder)
    summaries = {content.get("profile"): content, **content.get("other_profiles", {})}
    profile = content.get("profile") if profile is None else profile
    if profile not in summaries:
        scored = ", ".join(str(p) for p in summaries)
        raise ValueError(
            f"{folder} was scored in profile {scored}, not {profile}; pass --profile {scored.split(',')[0]}"
            " or re-run eval with --profile both"
        )
    manifest = content.get("manifest", {})
    return Run(folder, str(manifest.get("editor", folder.name)), summaries[profile], manifest)


def load_runs(paths: Sequence[str | os.PathLike], profile: str | None = HEADLINE_PROFILE) -> list[Run]:
    """Reads results folders (in ``profile``, None: each folder's headline profile); runs that share an editor
    spec are told apart by their folder names."""
    runs = [load_run(path, profile) for path in paths]
    labels = [run.label for run in runs]
    return [replace(run, label=f"{run.label} ({run.path})") if labels.count(run.label) > 1 else run for run in runs]


#: Version of the layout of :func:`run_record` rows (the results dataset and leaderboard pages read them).
RECORD_SCHEMA_VERSION = 1


def run_record(run: Run, model: str | None = None) -> dict[str, Any]:
    """One leaderboard row of a run in its profile: what ``gsi-bench push results`` appends to a results dataset
    and what leaderboard pages (``gsi-bench leaderboard --html``, the leaderboard Space) read.

    Returns:
        ``{"schema_version", "model", "label", "config", "split", "profile", "num_samples", "overall",
        "per_operation", "status_counts", "manifest"}``; ``model`` is the model repo id when given, else the
        run's label; ``overall`` and ``per_operation`` hold IC / SA / EL / AC / Avg (0-100), their ``_ci95``
        intervals and ``n``, as in ``summary.json``.
    """
    dataset = run.manifest.get("dataset", {})
    return {
        "schema_version": RECORD_SCHEMA_VERSION,
        "model": model or run.label,
        "label": run.label,
        "config": dataset.get("config"),
        "split": dataset.get("split"),
        "profile": run.summary.get("profile"),
        "num_samples": run.summary.get("num_samples"),
        "overall": run.summary.get("overall", {}),
        "per_operation": run.summary.get("per_operation", {}),
        "status_counts": run.summary.get("status_counts", {}),
        "manifest": run.manifest,
    }


def run_records(path: str | os.PathLike, model: str | None = None) -> list[dict[str, Any]]:
    """:func:`run_record` of a results folder in every profile it was scored in (headline profile first).

    Raises:
        FileNotFoundError, ValueError: as :func:`load_run`.
    """
    return [run_record(load_run(path, profile), model) for profile in scored_profiles(path)]


def _cell(axes: Mapping[str, Any], column: str) -> str:
    """``mean [low, high]`` with two decimals (Avg has no interval); ``-`` for no value."""
    value = axes.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    interval = axes.get(f"{column}_ci95")
    if interval is None or any(math.isnan(bound) for bound in interval):
        return f"{value:.2f}"
    return f"{value:.2f} [{interval[0]:.2f}, {interval[1]:.2f}]"


def _grouped(runs: Sequence[Run]) -> dict[str, list[Run]]:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.subset, []).append(run)
    return groups


def _comparability_notes(runs: Sequence[Run]) -> list[str]:
    """Warns when runs in one table were scored on different rows or with different perception."""
    notes = []
    for what, key in (
        ("dataset rows", ("dataset", "fingerprint", "sample_ids_sha256")),
        ("backends", ("backend", "config_hash")),
    ):
        values = set()
        for run in runs:
            value: Any = run.manifest
            for part in key:
                value = value.get(part, {}) if isinstance(value, Mapping) else None
            values.add(json.dumps(value, sort_keys=True))
        if len(values) > 1:
            notes.append(
                f"> Note: these runs were scored on different {what}; their numbers are not directly comparable."
            )
    return notes


def leaderboard_markdown(runs: Sequence[Run]) -> str:
    """Markdown leaderboard: per subset, a headline table (runs x IC / SA / EL / AC / Avg, 0-100 with 95%
    bootstrap intervals) and a per-operation table (run and operation x the same columns)."""
    lines: list[str] = []
    for subset, group in _grouped(runs).items():
        profile = group[0].summary.get("profile", "?")
        backends = sorted({escape_markdown(str(run.manifest.get("backend", {}).get("config_hash"))) for run in group})
        heading = f"{escape_markdown(subset)} (profile {escape_markdown(str(profile))}, backend {', '.join(backends)})"
        lines += [f"## {heading}", ""]
        header = ["Run", "n", *COLUMNS, "not ok"]
        headline = [
            [
                escape_markdown(run.label),
                str(run.summary.get("num_samples", "?")),
                *(_cell(run.summary["overall"], c) for c in COLUMNS),
                _failures(run.summary),
            ]
            for run in group
        ]
        lines += table(header, headline) + [""]
        per_operation = [
            [escape_markdown(run.label), operation, str(axes.get("n", "?"))] + [_cell(axes, c) for c in COLUMNS]
            for run in group
            for operation, axes in run.summary.get("per_operation", {}).items()
        ]
        lines += ["### Per operation", ""] + table(["Run", "Operation", "n", *COLUMNS], per_operation) + [""]
        notes = _comparability_notes(group)
        lines += [*notes, ""] if notes else []
    return "\n".join(lines).rstrip() + "\n"


def _failures(summary: Mapping[str, Any]) -> str:
    """Predictions that scored 0 without being looked at: ``missing 2, unreadable 1`` (or ``0``)."""
    counts = {k: v for k, v in summary.get("status_counts", {}).items() if k != "ok" and v}
    return escape_markdown(", ".join(f"{k} {v}" for k, v in sorted(counts.items()))) or "0"


#: Bar colours of the runs in charts (colour-blind-safe Okabe-Ito palette).
PALETTE = ((0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233), (213, 94, 0), (240, 228, 66))


def leaderboard_png(runs: Sequence[Run], out: str | os.PathLike) -> Path:
    """Bar charts with 95% interval whiskers: one panel per axis (columns) and per subset and scope (rows:
    overall, then each operation); one bar per run, coloured as in the legend. Drawn with Pillow."""
    from PIL import Image, ImageDraw, ImageFont

    panel_w, panel_h, margin, label_w, legend_h = 230, 170, 28, 200, 24 * ((len(runs) + 2) // 3) + 16
    scopes = [
        (subset, scope, group)
        for subset, group in _grouped(runs).items()
        for scope in ["overall", *sorted({op for run in group for op in run.summary.get("per_operation", {})})]
    ]
    width = label_w + len(COLUMNS) * panel_w
    height = legend_h + len(scopes) * panel_h + margin
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13)
    colours = {run.label: PALETTE[i % len(PALETTE)] for i, run in enumerate(runs)}
    for i, run in enumerate(runs):
        x, y = 10 + (i % 3) * (width // 3), 8 + (i // 3) * 24
        draw.rectangle([x, y + 2, x + 14, y + 16], fill=colours[run.label])
        draw.text((x + 20, y + 2), run.label, fill="black", font=font)
    for row, (subset, scope, group) in enumerate(scopes):
        top = legend_h + row * panel_h
        draw.text((8, top + panel_h // 2 - 16), subset, fill="black", font=font)
        draw.text((8, top + panel_h // 2), scope, fill="black", font=font)
        for column, axis in enumerate(COLUMNS):
            left = label_w + column * panel_w
            _draw_panel(draw, font, (left, top, left + panel_w, top + panel_h), axis, group, scope, colours)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def _draw_panel(
    draw: Any,
    font: Any,
    box: tuple[int, int, int, int],
    axis: str,
    runs: Sequence[Run],
    scope: str,
    colours: Mapping[str, tuple[int, int, int]],
) -> None:
    """One bar chart (0-100) of ``axis`` in ``scope`` for ``runs``."""
    left, top, right, bottom = box
    plot_left, plot_top, plot_right, plot_bottom = left + 34, top + 22, right - 10, bottom - 14
    draw.text((left + 34, top + 4), axis, fill="black", font=font)

    def y_of(value: float) -> float:
        return plot_bottom - (plot_bottom - plot_top) * min(max(value, 0.0), 100.0) / 100

    for tick in (0, 50, 100):
        y = y_of(tick)
        draw.line([plot_left, y, plot_right, y], fill=(220, 220, 220))
        draw.text((left + 4, y - 7), str(tick), fill=(90, 90, 90), font=font)
    slot = (plot_right - plot_left) / max(1, len(runs))

    for i, run in enumerate(runs):
        axes = run.summary["overall"] if scope == "overall" else run.summary.get("per_operation", {}).get(scope)
        value = None if axes is None else axes.get(axis)
        if value is None or math.isnan(value):
            continue
        x0, x1 = plot_left + i * slot + slot * 0.15, plot_left + (i + 1) * slot - slot * 0.15
        draw.rectangle([x0, y_of(value), x1, plot_bottom], fill=colours[run.label])
        interval = axes.get(f"{axis}_ci95")
        if interval is not None and not any(math.isnan(b) for b in interval):
            middle = (x0 + x1) / 2
            draw.line([middle, y_of(interval[0]), middle, y_of(interval[1])], fill="black", width=2)
            for bound in interval:
                draw.line([middle - 4, y_of(bound), middle + 4, y_of(bound)], fill="black", width=2)
    draw.line([plot_left, plot_bottom, plot_right, plot_bottom], fill="black")
