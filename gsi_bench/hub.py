"""Publishing to the Hugging Face Hub: the dataset and its benchmark registration, the metric Spaces, results.

Every ``gsi-bench push`` is first planned as :class:`RepoUpload` objects, one commit to one repository each,
holding the exact files (path in the repository -> bytes or a local file):

- :func:`dataset_upload`: a verified dataset folder's Parquet shards and build manifests (``.gsi_build/*.json``:
  their SHA-256 records let ``gsi-bench verify`` check a download byte for byte), the card (``configs``, features,
  split sizes, licence, citation, preview) with a contact sheet per split under ``preview/``, and ``eval.yaml``, the
  Hub's benchmark registration (one task per config, split and profile; :func:`task_id`). Build scratch files
  (the lock, its holder file, temporary files) and anything else in the folder are never uploaded.
- :func:`metric_uploads`: one Gradio Space per ``evaluate`` module (``<namespace>/<module>``): the module file,
  its metric card with the Spaces YAML, an ``app.py`` that loads the module by namespace and scores an uploaded
  image against a row of the pushed dataset picked by sample id (:mod:`gsi_bench.space_app`), and a
  ``requirements.txt`` pinning this ``gsi-bench``.
- :func:`results_uploads`: a model repository's ``.eval_results/gsi-bench.yaml`` (the headline ``Avg`` of
  each profile as one entry per task id of ``eval.yaml``; the axes in ``notes``), optionally the legacy
  ``model-index`` in its card, as a pull request by default; and the run records
  (:func:`gsi_bench.evaluation.run_records`) added to a results dataset as new files.

:func:`write_dry_run` writes a plan as folders (``DIR/<datasets|spaces|models>/<owner>/<name>/...``), exactly the
files :func:`push` commits through ``huggingface_hub``. :func:`push` turns every Hub failure into a one-line
:class:`HubError` (offline, not logged in, token rejected, no access, repository missing).
"""

from __future__ import annotations

import datetime
import functools
import io
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

RepoType = Literal["dataset", "model", "space"]

#: Evaluation framework named in ``eval.yaml``. The Hub accepts values from a list it maintains
#: (huggingface.js ``packages/tasks/src/eval.ts``, "add your own to the list"); until ``gsi-bench`` is on it, the
#: Hub may refuse the file: pass another value or ``--no-eval-yaml``.
DEFAULT_EVALUATION_FRAMEWORK = "gsi-bench"
#: ``EVALUATION_FRAMEWORKS`` of huggingface.js ``packages/tasks/src/eval.ts`` when this was written (only used to warn).
HUB_EVALUATION_FRAMEWORKS = frozenset(
    {
        "apex-evals", "archipelago", "claw-eval", "exgentic", "harbor", "inspect-ai", "math-arena", "mdpbench",
        "mteb", "nemo-evaluator", "olmocr-bench", "open-asr-leaderboard", "parsebench", "screenspot-pro",
        "swe-bench", "swe-bench-pro", "video-mme-v2", "wildclawbench", "yc-bench",
    }
)  # fmt: skip
#: Gradio version of the metric Spaces (``sdk_version`` of their README); the ``spaces`` extra installs it.
SPACES_GRADIO_VERSION = "6.31.0"
EVAL_YAML = "eval.yaml"
EVAL_RESULTS_DIR = ".eval_results"
#: The model repository's GSI-Bench results file (entries of every config, split and profile published).
EVAL_RESULTS_FILE = f"{EVAL_RESULTS_DIR}/gsi-bench.yaml"
PREVIEW_DIR = "preview"
RUNS_DIR = "runs"
CARD = "README.md"
#: Rows per contact sheet of the dataset card.
PREVIEW_ROWS = 4
#: What ``push`` prints when there is no token.
NOT_LOGGED_IN = "not logged in to the Hub: run `hf auth login` or set HF_TOKEN"
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
_NAMESPACE = re.compile(r"[A-Za-z0-9][\w.-]*")
#: What a model-index result names its task.
_MODEL_INDEX_TASK = {"type": "image-to-image", "name": "Spatially grounded image editing"}


class HubError(ValueError):
    """A push failed or cannot start; the message is one line saying why and what to do."""


def task_id(config: str, split: str, profile: str | None = None) -> str:
    """The benchmark task (leaderboard) of a config, split and scoring profile, as ``eval.yaml`` and
    ``.eval_results`` name it: ``tabletop-test`` for the headline profile ``gsi``, ``tabletop-test-paper`` for
    ``paper`` (its numbers are not comparable with ``gsi``'s, so it is a leaderboard of its own)."""
    from gsi_bench.evaluation import HEADLINE_PROFILE

    return f"{config}-{split}" if profile in (None, HEADLINE_PROFILE) else f"{config}-{split}-{profile}"


def hub_endpoint(endpoint: str | None = None) -> str:
    """``endpoint``, else ``HF_ENDPOINT`` as the environment holds it now, else ``huggingface_hub``'s default."""
    from huggingface_hub import constants

    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _check_repo_id(repo_id: str, option: str) -> str:
    if not _REPO_ID.fullmatch(repo_id):
        raise ValueError(f"{option} expects a Hub repository id OWNER/NAME (e.g. my-org/gsi-syn), got {repo_id!r}")
    return repo_id


# --------------------------------------------------------------------------------------------------------
# The plan: one commit to one repository


@dataclass(frozen=True)
class RepoUpload:
    """One commit to one Hub repository.

    Attributes:
        repo_id: ``owner/name``.
        repo_type: ``dataset``, ``model`` or ``space``.
        files: path in the repository -> its content (bytes) or a local file to upload as is.
        commit_message: the commit's title.
        create_pr: open the commit as a pull request instead of committing to ``main``.
        create_repo: create the repository when it is missing (a pull request needs an existing one).
        space_sdk: the SDK of a Space that :func:`push` creates.
        sync_prefixes: files of the repository under these folders that are not in ``files`` are deleted by the
            same commit (a re-pushed dataset must not keep stale shards that its card's patterns would load).
        merges: path -> a function turning the repository's current file there (its text, None when it has
            none) into the one to commit (``README.md`` gains ``model-index`` results, ``.eval_results`` gains
            entries); ``files[path]`` is its output for a repository without that file.
        notes: what to tell the user about this upload (warnings, what a dry run cannot know).
    """

    repo_id: str
    repo_type: RepoType
    files: Mapping[str, bytes | Path]
    commit_message: str
    create_pr: bool = False
    create_repo: bool = True
    space_sdk: str | None = None
    sync_prefixes: tuple[str, ...] = ()
    merges: Mapping[str, Callable[[str | None], bytes]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def folder(self) -> str:
        """The repository's folder in a dry run: ``datasets/owner/name``, ``spaces/...`` or ``models/...``."""
        return f"{self.repo_type}s/{self.repo_id}"

    def size_bytes(self) -> int:
        """Total size of the files."""
        return sum(len(c) if isinstance(c, bytes) else c.stat().st_size for c in self.files.values())

    def describe(self) -> str:
        """What pushing this does, in one line."""
        where = "as a pull request" if self.create_pr else "to main"
        create = "create it if missing, then " if self.create_repo else ""
        sync = (
            f"; delete its files under {', '.join(self.sync_prefixes)} that are not in it" if self.sync_prefixes else ""
        )
        merged = ", ".join(self.merges)
        card = f"; merge {merged} into the current file(s) (here: into empty ones)" if self.merges else ""
        return (
            f"{self.repo_type} {self.repo_id}: {create}commit {len(self.files)} file(s), "
            f"{self.size_bytes() / 1e6:.1f} MB, {where}{sync}{card}"
        )


def write_dry_run(uploads: Sequence[RepoUpload], out: str | os.PathLike) -> list[Path]:
    """Writes the files of each upload under ``out/<repo_type>s/<owner>/<name>/``; returns the paths written.

    Raises:
        ValueError: a repository folder already exists there with files in it (a dry run never mixes with an older
            one: choose an empty folder).
    """
    written = []
    for upload in uploads:
        root = Path(out) / upload.folder
        if root.is_dir() and any(root.iterdir()):
            raise ValueError(f"{root} already holds files: pass an empty --dry-run folder or delete {root}")
        for name, content in upload.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                shutil.copyfile(content, path)
            written.append(path)
    return written


# --------------------------------------------------------------------------------------------------------
# Dataset


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _preview_png(folder: Path, config: str, split: str, rows: int) -> bytes:
    """A contact sheet (:func:`gsi_datasets.visualize.contact_sheet`) of the first ``rows`` rows of a split."""
    from datasets import load_dataset

    from gsi_datasets.visualize import contact_sheet

    dataset = load_dataset(str(folder), config, split=split)
    return _png(contact_sheet(dataset[i] for i in range(min(rows, len(dataset)))))


def eval_yaml(splits: Sequence[tuple[str, str]], evaluation_framework: str = DEFAULT_EVALUATION_FRAMEWORK) -> str:
    """The ``eval.yaml`` registering a dataset as a Hub benchmark: one task per config, split and profile.

    Args:
        splits: ``(config, split)`` pairs of the dataset.
        evaluation_framework: the framework identifier (see :data:`DEFAULT_EVALUATION_FRAMEWORK`).
    """
    from gsi_metrics.operations import PROFILES

    content = {
        "name": "GSI-Bench (GSI-Syn)",
        "description": (
            "GSI-Bench measures generative spatial intelligence: an image editor gets a source image and a spatially "
            "grounded instruction (move an object 20 cm to the left, turn it 90 degrees, make it twice as large, move "
            "the camera) and its edited image is checked against the exact 3D change of a simulated scene. The value "
            "is Avg, the mean of Instruction Compliance, Spatial Accuracy, Edit Locality and Appearance Consistency "
            "(0-100). Tasks <config>-<split> use the gsi scoring profile; <config>-<split>-paper reproduce the "
            "paper's formulas (Zhu et al., CVPR 2026). Score an editor with `gsi-bench eval` and publish the result "
            "with `gsi-bench push results`."
        ),
        "evaluation_framework": evaluation_framework,
        "tasks": [
            {"id": task_id(config, split, profile), "config": config, "split": split}
            for profile in PROFILES
            for config, split in splits
        ],
    }
    return yaml.safe_dump(content, sort_keys=False, width=120)


def dataset_upload(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    preview_rows: int = PREVIEW_ROWS,
    evaluation_framework: str | None = DEFAULT_EVALUATION_FRAMEWORK,
) -> RepoUpload:
    """Plans the upload of a built dataset folder, after verifying it.

    Uploads every shard recorded in the build manifests, the manifests themselves, the card rendered for the
    repository with a contact sheet per split, and ``eval.yaml``.

    Args:
        folder: the dataset folder (written by ``gsi-bench build``).
        repo_id: the dataset repository, ``owner/name``.
        preview_rows: rows per contact sheet.
        evaluation_framework: ``evaluation_framework`` of ``eval.yaml``; None uploads no ``eval.yaml`` (the dataset
            is then not registered as a benchmark).

    Raises:
        ValueError: a malformed ``repo_id``, or ``preview_rows`` below 1.
        FileNotFoundError: the folder holds no build manifests (not written by ``gsi-bench build``).
        gsi_datasets.integrity.DatasetIntegrityError: the folder failed its check, with every problem and its fix.
    """
    from gsi_builders.card import render_card
    from gsi_datasets.integrity import (
        DatasetIntegrityError,
        manifest_path,
        manifest_paths,
        read_manifests,
        verify_dataset,
    )

    _check_repo_id(repo_id, "--repo")
    if preview_rows < 1:
        raise ValueError(f"--preview-rows must be at least 1, got {preview_rows}")
    folder = Path(folder)
    if folder.is_dir() and not manifest_paths(folder):
        raise FileNotFoundError(
            f"{folder} holds no build manifests (.gsi_build/*.json), so its shards cannot be verified before pushing: "
            f"push a folder written by `gsi-bench build syn --out {folder}`"
        )
    problems = verify_dataset(folder)
    if problems:
        raise DatasetIntegrityError(folder, problems)
    files: dict[str, bytes | Path] = {}
    previews: dict[str, str] = {}
    splits = []
    for manifest in read_manifests(folder):
        config, split = manifest["subset"], manifest["split"]
        splits.append((config, split))
        for name in sorted(manifest["shards"]):
            files[name] = folder / name
        manifest_file = manifest_path(folder, config, split)
        files[manifest_file.relative_to(folder).as_posix()] = manifest_file
        preview = f"{PREVIEW_DIR}/{config}-{split}.png"
        files[preview] = _preview_png(folder, config, split, preview_rows)
        previews[f"{config}/{split}"] = preview
    files[CARD] = render_card(folder, repo_id=repo_id, previews=previews).encode()
    notes = []
    if evaluation_framework is not None:
        files[EVAL_YAML] = eval_yaml(splits, evaluation_framework).encode()
        if evaluation_framework not in HUB_EVALUATION_FRAMEWORKS:
            notes.append(
                f"evaluation_framework {evaluation_framework!r} is not in the Hub's list (huggingface.js "
                "packages/tasks/src/eval.ts): the Hub may refuse eval.yaml until it is added there; "
                "--no-eval-yaml pushes without it"
            )
    managed = sorted({name.split("/", 1)[0] + "/" for name in files if "/" in name})
    return RepoUpload(
        repo_id,
        "dataset",
        files,
        commit_message=f"Upload GSI-Syn ({', '.join(f'{c}/{s}' for c, s in splits)}) with gsi-bench",
        sync_prefixes=tuple(managed),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------------------
# Metric Spaces


def _package_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("gsi-bench")
    except importlib.metadata.PackageNotFoundError:
        raise ValueError(
            "gsi-bench is not installed as a distribution, so the Spaces' requirements.txt cannot pin it: "
            "`pip install -e .` first"
        ) from None


def space_app_source(module_id: str, dataset: str, config: str, split: str) -> str:
    """The ``app.py`` of a metric Space: loads the module by its Hub id and serves :func:`space_app.build_demo`."""
    return f'''"""GSI-Bench metric Space {module_id}: scores an edited image against a row of {dataset}.

Written by `gsi-bench push metrics`; the app is gsi_bench.space_app.build_demo ({config}/{split}).
"""

import evaluate

from gsi_bench.space_app import build_demo

module = evaluate.load({json.dumps(module_id)})
demo = build_demo(module, dataset={json.dumps(dataset)}, config={json.dumps(config)}, split={json.dumps(split)})

if __name__ == "__main__":
    demo.launch()
'''


def space_requirements() -> str:
    """The ``requirements.txt`` of a metric Space: this ``gsi-bench`` (module, scoring, app) and ``evaluate``.

    Gradio is not listed: the Space's ``sdk_version`` installs it.
    """
    return f"gsi-bench=={_package_version()}\nevaluate>=0.4\n"


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The YAML header of a card and the rest of its text."""
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    if match is None:
        return {}, text
    return yaml.safe_load(match.group(1)) or {}, text[match.end() :]


def _with_front_matter(metadata: Mapping[str, Any], body: str) -> str:
    header = yaml.safe_dump(dict(metadata), sort_keys=False, width=120, allow_unicode=True)
    return f"---\n{header}---\n{body}"


def space_card(card: str, module_id: str, dataset: str, config: str, split: str) -> str:
    """A metric card with the Spaces YAML this Space needs (``sdk: gradio``, its ``sdk_version``, ``app_file``,
    the ``evaluate`` / ``metric`` tags, the dataset) and a first paragraph saying how to use the Space."""
    metadata, body = _front_matter(card)
    tags = list(metadata.get("tags") or [])
    metadata.update(
        sdk="gradio",
        sdk_version=SPACES_GRADIO_VERSION,
        app_file="app.py",
        tags=tags + [tag for tag in ("evaluate", "metric") if tag not in tags],
        datasets=[dataset],
    )
    usage = (
        f"> **This Space**: pick a sample id of [{dataset}](https://huggingface.co/datasets/{dataset}) "
        f"({config}/{split}), upload your editor's output for it and press Score: IC, SA, EL, AC and the status. "
        f'From Python: `evaluate.load("{module_id}")`.\n\n'
    )
    title = re.search(r"^# .*\n\n?", body, re.MULTILINE)
    at = title.end() if title else 0
    return _with_front_matter(metadata, body[:at] + usage + body[at:])


def metric_uploads(
    namespace: str,
    dataset: str,
    *,
    config: str = "tabletop",
    split: str = "test",
    modules: Sequence[str] | None = None,
) -> list[RepoUpload]:
    """Plans one Gradio Space ``<namespace>/<module>`` per ``evaluate`` module.

    Args:
        namespace: the user or organisation owning the Spaces.
        dataset: the Hub dataset whose rows the apps score against (``owner/name``, pushed with
            ``gsi-bench push dataset``).
        config: its config.
        split: its split.
        modules: module names (default: all of :data:`gsi_metrics.evaluate_cache.MODULE_NAMES`).

    Raises:
        ValueError: a malformed namespace or dataset id, or an unknown module.
    """
    if not _NAMESPACE.fullmatch(namespace):
        raise ValueError(f"--namespace expects a Hub user or organisation name (e.g. my-org), got {namespace!r}")
    _check_repo_id(dataset, "--dataset")
    from gsi_metrics.evaluate_cache import MODULE_NAMES, module_file

    chosen = list(modules or MODULE_NAMES)
    unknown = [name for name in chosen if name not in MODULE_NAMES]
    if unknown:
        raise ValueError(f"unknown metric module(s) {', '.join(unknown)}; choose from: {', '.join(MODULE_NAMES)}")
    requirements = space_requirements().encode()
    uploads = []
    for name in chosen:
        module_id = f"{namespace}/{name}"
        source = module_file(name)
        card = (source.parent / CARD).read_text()
        files: dict[str, bytes | Path] = {
            f"{name}.py": source,
            CARD: space_card(card, module_id, dataset, config, split).encode(),
            "app.py": space_app_source(module_id, dataset, config, split).encode(),
            "requirements.txt": requirements,
        }
        uploads.append(RepoUpload(module_id, "space", files, f"Upload the {name} metric Space", space_sdk="gradio"))
    return uploads


# --------------------------------------------------------------------------------------------------------
# Results


def _dataset_repo_of(manifest: Mapping[str, Any]) -> str:
    """The Hub dataset a run scored, when it was loaded from the Hub (a local folder has no Hub identity)."""
    dataset = manifest.get("dataset", {})
    path = str(dataset.get("path", ""))
    if dataset.get("resolved_path") is None and _REPO_ID.fullmatch(path):
        return path
    raise ValueError(
        f"the run scored the local folder {path}, which has no Hub identity: pass --dataset OWNER/NAME, the dataset "
        f"repository it was pushed to (`gsi-bench push dataset {path} --repo OWNER/NAME`)"
    )


def _utc_stamp(timestamp: str) -> str:
    """``2026-01-02T03:04:05+00:00`` -> ``20260102T030405Z`` (for file names)."""
    moment = datetime.datetime.fromisoformat(timestamp).astimezone(datetime.timezone.utc)  # noqa: UP017 (3.10)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _axes_note(record: Mapping[str, Any]) -> str:
    from gsi_metrics.scoring import AXES

    overall = record["overall"]
    axes = ", ".join(f"{axis} {overall[axis]:.2f}" for axis in AXES if isinstance(overall.get(axis), (int, float)))
    manifest = record["manifest"]
    dataset = manifest.get("dataset", {})
    scored, rows = dataset.get("num_scored"), dataset.get("num_rows")
    partial = f" (partial: {scored} of {rows} rows)" if scored != rows else ""
    return (
        f"GSI-Bench profile {record['profile']}: Avg of {axes} (0-100); {record['num_samples']} samples{partial}; "
        f"editor {manifest.get('editor')}; perception {manifest.get('backend', {}).get('name')}; "
        f"gsi-bench {manifest.get('package', {}).get('version')}"
    )


def eval_result_entry(
    record: Mapping[str, Any], dataset: str, revision: str | None = None, source_url: str | None = None
) -> dict[str, Any]:
    """One ``.eval_results`` entry of a run record: the headline ``Avg`` of its task (:func:`task_id`).

    The Hub shows one value per task and entry, so the four axes go into ``notes`` (and in full, with intervals and
    per operation, into the run record that ``source`` links to).
    """
    entry: dict[str, Any] = {
        "dataset": {"id": dataset, "task_id": task_id(record["config"], record["split"], record["profile"])},
        "value": round(float(record["overall"]["Avg"]), 4),
    }
    if revision:
        entry["dataset"]["revision"] = revision
    entry["date"] = record["manifest"].get("timestamp")
    if source_url:
        entry["source"] = {"url": source_url, "name": "GSI-Bench run record"}
    entry["notes"] = _axes_note(record)
    return entry


def _model_index_results(records: Sequence[Mapping[str, Any]], dataset: str, revision: str | None) -> list[Any]:
    """The runs as ``huggingface_hub.EvalResult`` (the legacy ``model-index``): one metric per axis and Avg."""
    from huggingface_hub import EvalResult

    from gsi_bench.evaluation import COLUMNS

    return [
        EvalResult(
            task_type=_MODEL_INDEX_TASK["type"],
            task_name=_MODEL_INDEX_TASK["name"],
            dataset_type=dataset,
            dataset_name=f"GSI-Syn {record['config']}",
            dataset_config=record["config"],
            dataset_split=record["split"],
            dataset_revision=revision,
            metric_type=f"gsi_bench_{column.lower()}",
            metric_name=f"GSI-Bench {column} ({record['profile']})",
            metric_config=record["profile"],
            metric_value=round(float(record["overall"][column]), 4),
        )
        for record in records
        for column in COLUMNS
        if _is_number(record["overall"].get(column))
    ]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def merge_eval_results(current: str | None, entries: Sequence[Mapping[str, Any]]) -> bytes:
    """``.eval_results/gsi-bench.yaml`` with ``entries`` merged into its ``current`` text: an entry of the same
    dataset and task replaces the old one, every other entry stays.

    Raises:
        HubError: the current file is not a YAML list of entries.
    """
    existing = yaml.safe_load(current) if current else []
    if not isinstance(existing, list) or not all(isinstance(e, dict) for e in existing):
        raise HubError(f"the model's {EVAL_RESULTS_FILE} is not a YAML list of result entries; fix or remove it first")

    def key(entry: Mapping[str, Any]) -> tuple[Any, Any]:
        dataset = entry.get("dataset") or {}
        return dataset.get("id"), dataset.get("task_id")

    new = {key(entry) for entry in entries}
    kept = [entry for entry in existing if key(entry) not in new]
    return yaml.safe_dump([*kept, *entries], sort_keys=False, width=120).encode()


def merge_model_index(card: str | None, model: str, results: Sequence[Any]) -> bytes:
    """A model card with ``results`` in its ``model-index``, replacing earlier results of the same dataset, config,
    split, metric and profile and keeping every other result and the card's text.

    Args:
        card: the model's current ``README.md``; None when it has none.
        model: the model repository id (names the model-index entry of a card without one).
        results: ``huggingface_hub.EvalResult`` objects.
    """
    from huggingface_hub import ModelCard

    model_card = ModelCard(card if card is not None else f"---\n{{}}\n---\n# {model.split('/')[-1]}\n")

    def key(result: Any) -> tuple[Any, ...]:
        return (
            result.dataset_type,
            result.dataset_config,
            result.dataset_split,
            result.metric_type,
            result.metric_config,
        )

    new = {key(result) for result in results}
    kept = [result for result in model_card.data.eval_results or [] if key(result) not in new]
    model_card.data.eval_results = kept + list(results)
    model_card.data.model_name = model_card.data.model_name or model.split("/")[-1]
    return str(model_card).encode()


def results_uploads(
    results: str | os.PathLike,
    model: str,
    *,
    dataset: str | None = None,
    dataset_revision: str | None = None,
    results_dataset: str | None = None,
    create_pr: bool = True,
    model_index: bool = False,
    allow_partial: bool = False,
) -> list[RepoUpload]:
    """Plans publishing a results folder of ``gsi-bench eval``: the model's eval results, and the run records.

    The model repository gets ``.eval_results/gsi-bench.yaml`` with one entry per scored profile
    (:func:`eval_result_entry`), merged into the file it already has (:func:`merge_eval_results`: entries of other
    tasks stay, so publishing another split adds its entries), and with ``model_index`` its card's legacy
    ``model-index``. A results dataset
    gets each :func:`gsi_bench.evaluation.run_record` as a new file
    ``runs/<model>/<config>-<split>-<profile>-<run UTC time>.json`` (publishing the same run again rewrites the
    same bytes, never another run's file).

    Args:
        results: the results folder.
        model: the model repository, ``owner/name``.
        dataset: the Hub dataset the run scored (default: the run's own dataset when it was loaded from the Hub).
        dataset_revision: its revision (a commit hash), recorded with each entry.
        results_dataset: the dataset repository collecting run records for a leaderboard (``owner/name``).
        create_pr: open pull requests (results in an open PR show as community results) instead of committing to
            ``main``; a pull request needs an existing repository, a direct commit creates a missing one.
        model_index: also write the ``model-index`` of the model card.
        allow_partial: publish a run that scored only part of the split (``eval --limit``); refused by default,
            since its numbers would rank it among full runs.

    Raises:
        FileNotFoundError, ValueError: the folder is not a results folder (:func:`gsi_bench.evaluation.load_run`),
            a repository id is malformed, the dataset is unknown, or the run is partial.
    """
    from gsi_bench.evaluation import run_records

    _check_repo_id(model, "--model")
    if results_dataset:
        _check_repo_id(results_dataset, "--results-dataset")
    records = run_records(results, model)
    manifest = records[0]["manifest"]
    dataset = _check_repo_id(dataset, "--dataset") if dataset else _dataset_repo_of(manifest)
    scored, rows = manifest["dataset"]["num_scored"], manifest["dataset"]["num_rows"]
    if scored != rows and not allow_partial:
        raise ValueError(
            f"{results} scored {scored} of the {rows} rows of {records[0]['config']}/{records[0]['split']} "
            "(eval --limit); its numbers are not comparable with full runs: re-run eval without --limit, or pass "
            "--allow-partial to publish it anyway (its notes say it is partial)"
        )
    stamp = _utc_stamp(manifest["timestamp"])
    run_files = {f"{RUNS_DIR}/{model}/{r['config']}-{r['split']}-{r['profile']}-{stamp}.json": r for r in records}
    endpoint = hub_endpoint()
    entries = [
        eval_result_entry(
            record,
            dataset,
            dataset_revision,
            f"{endpoint}/datasets/{results_dataset}/blob/main/{path}" if results_dataset else None,
        )
        for path, record in run_files.items()
        if _is_number(record["overall"].get("Avg"))
    ]
    if not entries:
        raise ValueError(f"{results} has no Avg in any profile (no sample was counted): nothing to publish")
    name = task_id(records[0]["config"], records[0]["split"])
    merges: dict[str, Callable[[str | None], bytes]] = {
        EVAL_RESULTS_FILE: functools.partial(merge_eval_results, entries=entries)
    }
    if model_index:
        merges[CARD] = functools.partial(
            merge_model_index, model=model, results=_model_index_results(records, dataset, dataset_revision)
        )
    files: dict[str, bytes | Path] = {path: merge(None) for path, merge in merges.items()}
    editor = manifest.get("editor")
    uploads = [
        RepoUpload(
            model,
            "model",
            files,
            f"Add GSI-Bench results on {dataset} {name} ({editor})",
            create_pr=create_pr,
            create_repo=not create_pr,
            merges=merges,
        )
    ]
    if results_dataset:
        uploads.append(
            RepoUpload(
                results_dataset,
                "dataset",
                {path: _record_json(record) for path, record in run_files.items()},
                f"Add the GSI-Bench run of {model} on {dataset} {name}",
                create_pr=create_pr,
                create_repo=not create_pr,
            )
        )
    return uploads


def _record_json(record: Mapping[str, Any]) -> bytes:
    """A run record as the results dataset stores it (the record comes from JSON: it needs no conversion)."""
    return (json.dumps(record, indent=2) + "\n").encode()


# --------------------------------------------------------------------------------------------------------
# Pushing


@dataclass(frozen=True)
class PushResult:
    """A pushed commit: its URL, and the pull request's URL when it opened one."""

    repo_id: str
    repo_type: RepoType
    commit_url: str
    pr_url: str | None = None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _is_connection_error(error: BaseException) -> bool:
    """A network failure, in any HTTP client ``huggingface_hub`` uses (httpx, httpx2, requests)."""
    names = {"ConnectError", "ConnectTimeout", "NetworkError", "TransportError", "TimeoutException", "ConnectionError"}
    return isinstance(error, ConnectionError) or any(kind.__name__ in names for kind in type(error).__mro__)


@contextmanager
def _hub_errors(endpoint: str, upload: RepoUpload | None = None, pushed: Sequence[PushResult] = ()) -> Iterator[None]:
    """Turns what ``huggingface_hub`` raises into a one-line :class:`HubError` saying what to do."""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalTokenNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    target = f"{upload.repo_type} {upload.repo_id}" if upload else "the Hub"
    done = f" (already pushed: {', '.join(r.repo_id for r in pushed)})" if pushed else ""
    try:
        yield
    except HubError:
        raise
    except OfflineModeIsEnabled:
        raise HubError(
            f"HF_HUB_OFFLINE=1 is set, so nothing can be pushed: unset it, or use --dry-run DIR{done}"
        ) from None
    except LocalTokenNotFoundError:
        raise HubError(NOT_LOGGED_IN) from None
    except RepositoryNotFoundError:
        hint = (
            "a pull request needs an existing repository: create it, or pass --no-create-pr to commit (and create it)"
            if upload and upload.create_pr
            else "check the id and that your token can see it"
        )
        raise HubError(f"{target} was not found on {endpoint}: {hint}{done}") from None
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status == 401:
            message = "the Hub rejected the token (401 Unauthorized): run `hf auth login` or set a valid HF_TOKEN"
        elif status == 403:
            message = (
                f"no write access to {target} (403 Forbidden): use a token with write access to that namespace"
                + ("" if upload is None or upload.create_pr else ", or open a pull request with --create-pr")
            )
        else:
            server = getattr(error, "server_message", None) or str(error).splitlines()[0]
            message = f"the Hub refused the push to {target} (HTTP {status}): {server}"
        raise HubError(_one_line(message + done)) from None
    except Exception as error:
        if not _is_connection_error(error):
            raise
        raise HubError(
            _one_line(
                f"cannot reach the Hub at {endpoint} ({type(error).__name__}: {error}): check the connection and "
                f"HF_ENDPOINT, or use --dry-run DIR{done}"
            )
        ) from None


def _remote_text(api: Any, upload: RepoUpload, remote_files: Sequence[str], path_in_repo: str) -> str | None:
    """The repository's current file at ``path_in_repo`` (None when it has none)."""
    if path_in_repo not in remote_files:
        return None
    with tempfile.TemporaryDirectory(prefix="gsi-bench-remote-") as folder:
        path = api.hf_hub_download(upload.repo_id, path_in_repo, repo_type=upload.repo_type, cache_dir=folder)
        return Path(path).read_text()


def _push_one(api: Any, upload: RepoUpload, private: bool) -> PushResult:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    if upload.create_repo:
        api.create_repo(
            upload.repo_id, repo_type=upload.repo_type, private=private, exist_ok=True, space_sdk=upload.space_sdk
        )
    files = dict(upload.files)
    deletions = []
    if upload.sync_prefixes or upload.merges:
        remote = api.list_repo_files(upload.repo_id, repo_type=upload.repo_type)
        deletions = [
            CommitOperationDelete(path_in_repo=path)
            for path in remote
            if path.startswith(upload.sync_prefixes) and path not in files
        ]
        for path, merge in upload.merges.items():
            files[path] = merge(_remote_text(api, upload, remote, path))
    additions = [
        CommitOperationAdd(path_in_repo=path, path_or_fileobj=content if isinstance(content, bytes) else str(content))
        for path, content in files.items()
    ]
    info = api.create_commit(
        upload.repo_id,
        operations=[*deletions, *additions],
        commit_message=upload.commit_message,
        repo_type=upload.repo_type,
        create_pr=upload.create_pr,
    )
    return PushResult(upload.repo_id, upload.repo_type, str(info.commit_url), info.pr_url)


def push(
    uploads: Sequence[RepoUpload], *, endpoint: str | None = None, token: str | None = None, private: bool = False
) -> list[PushResult]:
    """Commits each upload to the Hub with ``huggingface_hub`` (``create_repo(exist_ok=True)``, ``create_commit``).

    Args:
        uploads: the plan (:func:`dataset_upload`, :func:`metric_uploads`, :func:`results_uploads`).
        endpoint: the Hub (default: ``HF_ENDPOINT``, else huggingface.co).
        token: an access token (default: ``HF_TOKEN``, else the one ``hf auth login`` stored).
        private: create missing repositories as private.

    Raises:
        HubError: one line: offline, not logged in, token rejected, no access, repository missing, or another
            refusal of the Hub (naming what was already pushed).
    """
    from huggingface_hub import HfApi, get_token

    api = HfApi(endpoint=hub_endpoint(endpoint), token=token)
    if token is None and get_token() is None:
        raise HubError(NOT_LOGGED_IN)
    with _hub_errors(api.endpoint):
        api.whoami()
    pushed: list[PushResult] = []
    for upload in uploads:
        with _hub_errors(api.endpoint, upload, pushed):
            pushed.append(_push_one(api, upload, private))
    return pushed


def pushed_lines(results: Sequence[PushResult]) -> list[str]:
    """One line per pushed commit, for the command line."""
    return [
        f"{r.repo_type} {r.repo_id}: {'opened pull request ' + r.pr_url if r.pr_url else 'committed ' + r.commit_url}"
        for r in results
    ]


def dry_run_lines(uploads: Sequence[RepoUpload], out: str | os.PathLike) -> list[str]:
    """Writes the dry run (:func:`write_dry_run`) and says what a push would do, one line per repository and note."""
    write_dry_run(uploads, out)
    lines = []
    for upload in uploads:
        lines.append(f"would push {upload.describe()} (files in {Path(out) / upload.folder})")
        lines += [f"  note: {note}" for note in upload.notes]
    return lines


__all__ = [
    "DEFAULT_EVALUATION_FRAMEWORK",
    "HubError",
    "PushResult",
    "RepoUpload",
    "dataset_upload",
    "dry_run_lines",
    "eval_result_entry",
    "eval_yaml",
    "hub_endpoint",
    "merge_model_index",
    "metric_uploads",
    "push",
    "pushed_lines",
    "results_uploads",
    "space_app_source",
    "space_card",
    "space_requirements",
    "task_id",
    "write_dry_run",
]
