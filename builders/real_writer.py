"""``gsi-bench build real``: candidate edits of real captures, written to a folder for review.

``--source`` names the captures: ``rgbd:<folder>`` (the generic RGB-D folder, :mod:`gsi_datasets.real.rgbd_folder`)
or ``<dataset>:<root>`` for any scan dataset ``scenezoo`` reads (``scannetpp:/data/scannetpp``; every scene of the
root, or ``--scenes``). One frame per ``--frame-stride`` is read; sharp frames with enough possible targets are kept
until ``--num-frames``; each kept frame gives at most one candidate per operation and target
(:mod:`gsi_builders.real_candidates`). The folder::

    <out>/candidates.jsonl     one row per candidate, GSI-Syn's schema, images as paths into frames/
    <out>/frames/<scene>/<frame>/{rgb,depth,instances}.png
    <out>/previews/<sample_id>.jpg   before / after with the projected 3D boxes (the paper's visual check)
    <out>/previews/sheet.png         the first 12 candidates on one sheet
    <out>/report.json          frames read, kept and rejected by rule, candidates per operation, checks failed by rule,
                               the judge gate's decisions, scenes or frames that could not be read (with the reason)
    <out>/gate.jsonl           with --judge: every gate decision and the judge's answer
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from gsi_builders.real_candidates import (
    REAL_OPERATIONS,
    candidate_row,
    frame_candidates,
    frame_images,
    frame_objects,
    turn_look_alike,
)
from gsi_builders.real_gate import apply_rewrite, gate_candidate
from gsi_datasets.real.frames import CaptureError, RGBDFrame, every_nth, frame_rejection
from gsi_datasets.schema import OPERATION_SHORT_IDS

#: Width (px) of each image of a preview.
PREVIEW_WIDTH = 640
#: Candidates on the overview sheet.
SHEET_CANDIDATES = 12


@dataclass
class RealBuildReport:
    """What a real build read, kept and wrote (``report.json``)."""

    source: str
    frames_read: int = 0
    frames_kept: int = 0
    frame_rejections: Counter = field(default_factory=Counter)
    candidates: Counter = field(default_factory=Counter)
    check_rejections: Counter = field(default_factory=Counter)
    unreadable: dict[str, str] = field(default_factory=dict)
    candidates_per_frame: dict[str, int] = field(default_factory=dict)
    gate: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {item.name: dict(getattr(self, item.name)) if isinstance(getattr(self, item.name), dict)
                else getattr(self, item.name) for item in fields(self)}  # fmt: skip


def _captures(source: str, scenes: Sequence[str] | None) -> Iterator[tuple[str, Any]]:
    """``(scene name, reader)`` of every scene of ``source`` (module docstring)."""
    kind, separator, location = source.partition(":")
    if not separator or not location:
        raise ValueError(f"--source {source!r}: expected rgbd:<folder> or <dataset>:<root> (e.g. scannetpp:/data/spp)")
    if kind == "rgbd":
        from gsi_datasets.real.rgbd_folder import RGBDFolder

        yield Path(location).name, RGBDFolder(location)
        return
    from gsi_datasets.real.scans import ScanCapture, scene_ids

    for scene in scenes or scene_ids(kind, location):
        yield scene, ScanCapture(kind, location, scene)


def _write_png(path: Path, image: dict[str, Any]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image["bytes"])
    return str(path)


def build_real_candidates(
    source: str,
    out_dir: str | Path,
    split: str = "test",
    num_frames: int = 211,
    frame_stride: int = 10,
    seed: int = 0,
    operations: Sequence[str] = REAL_OPERATIONS,
    scenes: Sequence[str] | None = None,
    progress: bool = True,
    judge: Any = None,
    rewrite: bool = False,
) -> RealBuildReport:
    """Writes the candidates folder (module docstring) and returns its report. ``judge``: a
    :class:`~gsi_metrics.judge.Judge` that gates the candidates (and rewrites their instructions with ``rewrite``):
    :mod:`gsi_builders.real_gate`.

    Raises:
        ValueError: a malformed ``--source`` or an unknown operation.
        CaptureError: the source cannot be opened at all (a missing folder, an unknown dataset).
    """
    from PIL import Image
    from tqdm.auto import tqdm

    from gsi_datasets.visualize import contact_sheet

    unknown = sorted(set(operations) - set(REAL_OPERATIONS))
    if unknown:
        raise ValueError(f"no real candidates for {unknown}; real operations: {', '.join(REAL_OPERATIONS)}")
    out = Path(out_dir)
    (out / "previews").mkdir(parents=True, exist_ok=True)
    report = RealBuildReport(source)
    sheet_rows: list[dict[str, Any]] = []
    bar = tqdm(total=num_frames, desc="real frames kept", unit="frame", disable=not progress)
    gate_path = out / "gate.jsonl"
    gate_path.unlink(missing_ok=True)
    with open(out / "candidates.jsonl", "w") as lines, open(gate_path, "w") if judge else nullcontext() as gate_lines:
        for scene, capture in _captures(source, scenes):
            if report.frames_kept >= num_frames:
                break
            try:
                for frame in capture.frames(every_nth(capture.frame_ids, frame_stride)):
                    report.frames_read += 1
                    reason = frame_rejection(frame)
                    if reason is not None:
                        report.frame_rejections[reason] += 1
                        continue
                    rows = _frame_rows(scene, frame, capture, split, seed, tuple(operations), report)
                    if rows is None:
                        continue
                    report.frames_kept += 1
                    bar.update(1)
                    image = Image.fromarray(frame.rgb)  # the frame's source image, decoded once for its previews
                    for row in rows:
                        decoded = {**row, "source_image": image}
                        preview = contact_sheet([decoded], columns=1, tile=PREVIEW_WIDTH)
                        if judge is not None:
                            decision = gate_candidate(judge, preview, row, rewrite)
                            gate_lines.write(json.dumps(decision.to_dict()) + "\n")
                            report.gate[decision.status] += 1
                            report.gate["label_disputed"] += decision.label_correct is False
                            report.gate["rewritten"] += decision.rewrite_used
                            if decision.status == "dropped":
                                continue
                            row = apply_rewrite(row, decision)
                            decoded = {**row, "source_image": image}
                            preview = contact_sheet([decoded], columns=1, tile=PREVIEW_WIDTH)
                        report.candidates[row["operation"]] += 1
                        preview.save(out / "previews" / f"{row['sample_id']}.jpg")
                        if len(sheet_rows) < SHEET_CANDIDATES:
                            sheet_rows.append(decoded)
                        lines.write(json.dumps(_with_paths(out, scene, frame.frame_id, row)) + "\n")
                    if report.frames_kept >= num_frames:
                        break
            except CaptureError as error:
                report.unreadable[scene] = str(error)
            report.unreadable.update({f"{scene}/{k}": v for k, v in getattr(capture, "skipped", {}).items()})
    bar.close()
    if sheet_rows:
        contact_sheet(sheet_rows, columns=3).save(out / "previews" / "sheet.png")
    (out / "report.json").write_text(json.dumps(report.to_dict(), indent=1, sort_keys=True))
    return report


def _frame_rows(
    scene: str,
    frame: RGBDFrame,
    capture: Any,
    split: str,
    seed: int,
    operations: tuple[str, ...],
    report: RealBuildReport,
) -> list[dict[str, Any]] | None:
    objects = frame_objects(frame, capture)
    if objects is None:
        report.frame_rejections["no_gravity"] += 1
        return None
    rng = np.random.default_rng([seed, zlib.crc32(f"{scene}/{frame.frame_id}".encode())])
    candidates = frame_candidates(objects, rng, report.check_rejections, operations)
    rows, images = [], frame_images(frame)
    for candidate in candidates:
        short = OPERATION_SHORT_IDS[candidate.operation]
        sample_id = f"real_{split}_{scene}_{frame.frame_id}_{short}_{candidate.target_id}"
        row = candidate_row(candidate, objects, sample_id, split, seed, images)
        if candidate.operation == "object_rotate" and (look_alike := turn_look_alike(row)) is not None:
            report.check_rejections[f"object_rotate/turn_looks_{look_alike}"] += 1
            continue
        rows.append(row)
    report.candidates_per_frame[f"{scene}/{frame.frame_id}"] = len(rows)
    return rows


def _with_paths(out: Path, scene: str, frame_id: str, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its images written once per frame under ``frames/`` and named by their paths (relative)."""
    folder = Path("frames") / scene / frame_id
    written = {}
    for key, name in (("source_image", "rgb"), ("source_depth", "depth"), ("source_instances", "instances")):
        relative = folder / f"{name}.png"
        if not (out / relative).exists():
            _write_png(out / relative, row[key])
        written[key] = {"bytes": None, "path": str(relative)}
    return {**row, **written}


def write_reviewed_split(candidates_dir: str | Path, out_dir: str | Path, split: str = "test") -> tuple[int, dict]:
    """Writes the accepted candidates of a reviewed folder as the ``real`` config's ``split`` of dataset folder
    ``out_dir`` (one Parquet shard, a build manifest, the card regenerated), so that
    ``load_dataset(out_dir, "real", split=split)`` reads them. Returns the number of rows and the disagreements
    left out (sample id -> each reviewer's decision).

    Raises:
        FileNotFoundError: no candidates or no reviews in ``candidates_dir``.
        ValueError: nothing was accepted.
    """
    from gsi_bench.review import merge_reviews, reviewed_rows
    from gsi_builders.writer import (
        GENERATOR_VERSION,
        BuildReport,
        _save_manifest,
        _write_shard,
        output_lock,
        write_dataset_card,
    )
    from gsi_datasets.integrity import manifest_path, shard_name

    merged = merge_reviews(candidates_dir)
    rows = reviewed_rows(candidates_dir, merged)
    if not rows:
        raise ValueError(
            f"{candidates_dir}: no candidate was accepted by every reviewer who saw it "
            f"({len(merged.rejected)} rejected, {len(merged.disagreements)} disagreements)"
        )
    rows = [{**row, "split": split} for row in rows]
    out = Path(out_dir)
    report = BuildReport("real", split, 0, len(rows), len(rows), GENERATOR_VERSION, 1)
    with output_lock(out, {"subset": "real", "split": split, "from_review": str(candidates_dir)}):
        name = shard_name("real", split, 0, 1)
        for stale in out.glob(f"data/real/{split}-*.parquet"):
            stale.unlink()
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        report.shards = {name: _write_shard(rows, out / name)}
        report.samples_generated_now, report.complete = len(rows), True
        _save_manifest(manifest_path(out, "real", split), report)
        write_dataset_card(out)
    return len(rows), merged.disagreements
