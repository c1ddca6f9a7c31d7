"""Runs the metric fidelity suite: counterfactuals of test rows, perceived once, scored in both profiles.

:func:`validate_row` turns one GSI-Syn row into JSON-ready case records: the truth of each counterfactual
(:mod:`gsi_bench.fidelity.counterfactuals`), what the perception backend recovered and its recovery errors,
and the per-sample IC / SA / EL / AC of every profile. :func:`run_validation` does it for the first
``num_scenes`` rows of a split (or of freshly generated tabletop test scenes), in parallel, and writes the
report (:mod:`gsi_bench.fidelity.report`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gsi_bench.fidelity.counterfactuals import make_counterfactuals
from gsi_datasets.geometry import geodesic_angle_deg, symmetric_geodesic_deg
from gsi_metrics.operations import PROFILES
from gsi_metrics.operations.camera_view_change import camera_centre_shift
from gsi_metrics.perception import PerceptionBackend, backend_spec, create_backend, perceive
from gsi_metrics.predictions import load_prediction
from gsi_metrics.sample import ScoringSample
from gsi_metrics.scoring import describe_error, score_perceived

#: Seed of the generated test scenes when no dataset is given (the README's default split uses seed 0 too).
DEFAULT_SEED = 0


def _recovery_errors(sample: ScoringSample, perception: Any, truth: Any) -> dict[str, float | None]:
    """Recovery errors of the target change (cm, degrees modulo the target's symmetry, %) and the camera motion
    (the moved camera centre's position error, cm, and its rotation error, degrees)."""
    target, camera = perception.target, perception.camera
    errors: dict[str, float | None] = dict.fromkeys(
        ("translation_cm", "rotation_deg", "scale_pct", "camera_translation_cm", "camera_rotation_deg")
    )
    if target.found and not sample.view.removal_asked:  # a removal's target has no pose to recover
        errors["translation_cm"] = 100.0 * float(np.linalg.norm(target.translation_m - truth.translation_m))
        errors["rotation_deg"] = symmetric_geodesic_deg(
            target.rotation, truth.rotation, sample.view.support_normal, sample.view.symmetry_order
        )
        errors["scale_pct"] = 100.0 * abs(target.scale_factor / truth.scale_factor - 1.0)
    if camera.found:
        errors["camera_translation_cm"] = 100.0 * float(
            np.linalg.norm(camera_centre_shift(camera.delta) - camera_centre_shift(truth.camera_delta))
        )
        errors["camera_rotation_deg"] = geodesic_angle_deg(camera.delta[:3, :3], truth.camera_delta[:3, :3])
    return errors


def validate_row(row: Mapping[str, Any], backend: PerceptionBackend) -> dict[str, Any]:
    """Case records of one row: ``{"sample_id", "operation", "cases": [...], "skipped": {case: reason},
    "errors": {case or "scene": message}}``.

    A row or counterfactual that raises is recorded in ``errors`` (the other cases of the row go on); it is
    reported, never silently dropped, and ``gsi-bench validate --strict`` fails on it.
    """
    try:
        sample = ScoringSample.from_row(row)
        counterfactuals = make_counterfactuals(row)
    except Exception as error:  # noqa: BLE001 (one bad scene must not stop the suite)
        return scene_error(row.get("sample_id"), f"the scene could not be prepared: {describe_error(error)}")
    records, errors = [], {}
    for case in counterfactuals.cases:
        try:
            records.append(_case_record(sample, case, backend))
        except Exception as error:  # noqa: BLE001
            errors[case.name] = describe_error(error)
    return {
        "sample_id": sample.sample_id,
        "operation": sample.operation,
        "cases": records,
        "skipped": counterfactuals.skipped,
        "errors": errors,
    }


def scene_error(sample_id: str | None, message: str) -> dict[str, Any]:
    """The record of a scene that produced no case, because of ``message``."""
    return {"sample_id": sample_id, "operation": None, "cases": [], "skipped": {}, "errors": {"scene": message}}


def _case_record(sample: ScoringSample, case: Any, backend: PerceptionBackend) -> dict[str, Any]:
    """Perceives and scores one counterfactual; its record (see :func:`validate_row`)."""
    height, width = sample.view.image.shape[:2]
    loaded = load_prediction(case.image, (width, height), background=sample.view.image)
    if loaded.image is None:
        raise RuntimeError(f"the counterfactual could not be read ({loaded.status}: {loaded.message})")
    edited = loaded.image
    perception = perceive(backend, sample.view, edited)  # kept: the recovery errors need it
    scores = {profile: score_perceived(sample, edited, perception, profile) for profile in PROFILES}
    truth = case.truth
    return {
        "sample_id": sample.sample_id,
        "operation": sample.operation,
        "family": case.family,
        "case": case.name,
        "correct_edit": case.correct_edit,
        "should_comply": truth.should_comply,
        "true_relative_error": truth.relative_error,
        "true_camera_translation_cm": 100.0 * float(np.linalg.norm(camera_centre_shift(truth.camera_delta))),
        "found": perception.target.found,
        "removed": perception.target.removed,
        "method": perception.target.method,
        "evidence": dict(perception.target.evidence),
        "camera_found": perception.camera.found,
        "errors": _recovery_errors(sample, perception, truth),
        "scores": {
            profile: {"status": s.status, "IC": s.ic, "SA": s.sa, "EL": s.el, "AC": s.ac}
            for profile, s in scores.items()
        },
    }


@dataclass(frozen=True)
class _Job:
    """What a worker needs: a dataset (or None: generate test scenes of ``config`` with ``seed`` and
    ``operation_mix``) and the backend."""

    dataset: Any
    config: str
    seed: int
    backend_name: str
    backend_config: dict[str, Any]
    operation_mix: dict[str, float] | None = None


_JOB: tuple[_Job, PerceptionBackend] | None = None


def _set_job(job: _Job) -> None:
    global _JOB
    _JOB = (job, create_backend(job.backend_name, **job.backend_config))


def _start_worker(job: _Job) -> None:
    from gsi_bench.workers import one_thread_per_worker

    one_thread_per_worker()
    _set_job(job)


def _validate_index(index: int) -> dict[str, Any]:
    assert _JOB is not None, "worker started without a job"
    job, backend = _JOB
    try:
        if job.dataset is not None:
            row = job.dataset[index]
        else:
            from gsi_builders.generate import generate_sample

            generated = generate_sample(job.config, "test", job.seed, index, operation_mix=job.operation_mix)
            if generated.row is None:
                return {"sample_id": None, "operation": None, "cases": [], "skipped": {"scene": "no valid sample"}}
            row = generated.row
    except Exception as error:  # noqa: BLE001 (a damaged row is that scene's error, not the suite's end)
        return scene_error(None, f"row {index} could not be read: {describe_error(error)}")
    return validate_row(row, backend)


#: A scene's counterfactuals take seconds to a minute on 2 cores; a worker still on one after this long is stuck.
SCENE_TIMEOUT_S = 15 * 60.0


def validated_rows(
    job: _Job, num_scenes: int, workers: int, progress: bool = True, start: int = 0
) -> Iterator[dict[str, Any]]:
    """:func:`validate_row` of rows ``start .. num_scenes - 1``, in order, in this process or ``workers`` processes
    (:func:`gsi_bench.evaluation.ordered_in_workers`: a worker lost mid-run, or stuck on one scene for
    ``SCENE_TIMEOUT_S``, costs a new pool, and a scene that kills its worker even when run alone is recorded as that
    scene's error)."""
    indices = range(start, num_scenes)
    if workers <= 1:
        _set_job(job)
        results: Iterator[dict[str, Any]] = map(_validate_index, indices)
    else:
        from gsi_bench.evaluation import ordered_in_workers

        def lost(index: int, message: str) -> dict[str, Any]:
            return scene_error(None, f"scene {index}: {message}")

        results = ordered_in_workers(
            _validate_index, indices, workers, _start_worker, (job,), lost, (__name__,), SCENE_TIMEOUT_S
        )
    if progress:
        from tqdm.auto import tqdm

        results = iter(tqdm(results, initial=start, total=num_scenes, desc="validate", unit="scene"))
    yield from results


def run_validation(
    out: str | os.PathLike,
    num_scenes: int = 100,
    config: str = "tabletop",
    data: str | os.PathLike | None = None,
    split: str = "test",
    seed: int = DEFAULT_SEED,
    backend: str = "classical",
    backend_config: Mapping[str, Any] | None = None,
    workers: int = 1,
    progress: bool = True,
    operation_mix: Mapping[str, float] | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Runs the suite and writes ``run.json`` (what was asked), ``scenes.jsonl`` (one line per scene, as it is done:
    its case records and skipped cases), ``report.json``, ``report.md`` and the plots into ``out``.

    Args:
        out: output folder (created).
        num_scenes: how many rows (scenes) to take: the first ones of the split.
        config: dataset config (subset).
        data: a built GSI-Syn folder or Hub id; None generates the tabletop test scenes of ``seed`` in memory
            (the same rows ``gsi-bench build syn --split test --seed SEED`` writes).
        split: the split of ``data``.
        seed: build seed of the generated scenes.
        backend: perception backend name; ``backend_config`` its options.
        workers: processes.
        progress: show a progress bar.
        operation_mix: generated scenes only: operations and their shares instead of the config's mix.
        resume: keep the scenes an earlier run of the same suite (same ``run.json``) wrote into ``out`` and validate
            only the rest (a long run that was stopped goes on where it stopped; a larger ``num_scenes`` extends it).

    Returns:
        The report (as written to ``report.json``).

    Raises:
        ValueError: ``num_scenes`` or ``workers`` below 1, an unknown config, an operation mix with ``data``, an
            unknown operation or one without a generator in it, shares that are not positive or do not sum to 1, or
            ``resume`` into a folder of another suite.
    """
    from gsi_bench.evaluation import load_eval_dataset, worker_context
    from gsi_bench.fidelity.report import build_report, write_report
    from gsi_datasets.schema import SUBSET_OPERATIONS

    if num_scenes < 1:
        raise ValueError(f"num_scenes must be at least 1, got {num_scenes}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if config not in SUBSET_OPERATIONS:
        raise ValueError(f"unknown config {config!r}; known: {sorted(SUBSET_OPERATIONS)}")
    if workers > 1:
        worker_context(__name__)  # the workers' server loads the scoring stack while the data loads
    dataset = None
    if operation_mix is not None:
        if data is not None:
            raise ValueError("an operation mix chooses generated scenes; a built dataset (--data) has its own")
        from gsi_builders.generate import check_operation_mix

        check_operation_mix(operation_mix)
    if data is not None:
        dataset = load_eval_dataset(data, config, split)
        num_scenes = min(num_scenes, len(dataset))
    backend_config = dict(backend_config or {})
    created = create_backend(backend, **backend_config)  # fails early on a bad backend name or option
    # Workers re-create the backend from a name every process can resolve (backend_spec).
    job = _Job(
        dataset,
        config,
        seed,
        backend_spec(created) if workers > 1 else backend,
        created.config(),
        None if operation_mix is None else dict(operation_mix),
    )
    source = {
        "data": str(data) if data is not None else None,
        "config": config,
        "split": split,
        "seed": seed,
        "operation_mix": job.operation_mix,
    }
    suite = {**source, "backend": created.name, **created.config()}
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    rows = _earlier_rows(folder, suite)[:num_scenes] if resume else []
    (folder / "run.json").write_text(json.dumps(suite, indent=2) + "\n")
    with open(folder / "scenes.jsonl", "w") as scenes_file:
        for row in rows:
            scenes_file.write(json.dumps(row) + "\n")
        for row in validated_rows(job, num_scenes, workers, progress, start=len(rows)):
            rows.append(row)
            scenes_file.write(json.dumps(row) + "\n")
            scenes_file.flush()
    report = build_report(rows, {**suite, "num_scenes": num_scenes})
    write_report(report, rows, folder)
    return report


def _earlier_rows(folder: Path, suite: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The scenes an earlier run of ``suite`` wrote into ``folder`` (none when it wrote none; a last line cut off
    when that run was stopped is dropped and done again).

    Raises:
        ValueError: when ``folder`` holds a run of another suite.
    """
    scenes = folder / "scenes.jsonl"
    if not scenes.exists():
        return []
    asked = folder / "run.json"
    earlier = json.loads(asked.read_text()) if asked.exists() else None
    if earlier != json.loads(json.dumps(suite)):
        raise ValueError(
            f"{folder} holds a validation run of another suite ({asked.name}: {earlier}); resume it with the same "
            f"options, or give another --out"
        )
    rows = []
    for line in scenes.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows
